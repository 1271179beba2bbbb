// tests/support/snowflake_emulator.cpp: TLS material, the emulator process and its log.
#include "tests/support/snowflake_emulator.hpp"

#include <fmt/format.h>

#include <fstream>
#include <stdexcept>
#include <thread>

namespace test {

const TestTls& test_tls() {
    static const TempDir dir;
    static const TestTls tls = [] {
        const auto script =
            std::filesystem::path(ORDERS_PIPELINE_TEST_SUPPORT_DIR) / "make_test_ca.sh";
        ChildProcess make({script.string(), dir.path().string()}, {{"PATH", "/usr/bin:/bin"}},
                          "/bin/bash");
        if (make.wait().exit_code != 0) {
            throw std::runtime_error("make_test_ca.sh failed: " + make.wait().err);
        }
        return TestTls{dir.path() / "ca.pem", dir.path() / "other-ca.pem",
                       dir.path() / "server.pem", dir.path() / "server.key",
                       dir.path() / "unregistered_key.p8"};
    }();
    return tls;
}

std::filesystem::path registered_private_key() {
    return std::filesystem::path(ORDERS_PIPELINE_UNIT_DATA_DIR) / "test_rsa_key.p8";
}

std::filesystem::path registered_public_key() {
    return std::filesystem::path(ORDERS_PIPELINE_UNIT_DATA_DIR) / "test_rsa_key.pub";
}

SnowflakeEmulator::SnowflakeEmulator(const TestDatabase& warehouse_db, Options options) {
    const TestTls& tls = test_tls();
    const auto port_file = dir_.path() / "port";
    process_ = std::make_unique<ChildProcess>(
        std::vector<std::string>{"--cert",
                                 tls.server_cert.string(),
                                 "--key",
                                 tls.server_key.string(),
                                 "--public-key",
                                 registered_public_key().string(),
                                 "--account",
                                 "myorg-myaccount",
                                 "--user",
                                 "pipeline_user",
                                 "--database",
                                 "ANALYTICS",
                                 "--role",
                                 "LOADER",
                                 "--pg-url",
                                 warehouse_db.url(),
                                 "--log",
                                 (dir_.path() / "log.ndjson").string(),
                                 "--port-file",
                                 port_file.string(),
                                 "--faults",
                                 (dir_.path() / "faults.ndjson").string(),
                                 "--warehouse",
                                 "LOAD_WH=" + options.warehouse_state,
                                 "--partition-rows",
                                 std::to_string(options.partition_rows)},
        std::map<std::string, std::string>{}, ORDERS_PIPELINE_EMULATOR);
    for (int i = 0; i < 500 && !std::filesystem::exists(port_file); ++i) {
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    std::ifstream in(port_file);
    int port = 0;
    if (!(in >> port)) {
        throw std::runtime_error("the Snowflake emulator did not start: " + process_->wait().err);
    }
    api_url_ = fmt::format("https://127.0.0.1:{}", port);
}

SnowflakeEmulator::~SnowflakeEmulator() = default;  // ChildProcess kills it

std::map<std::string, std::string> SnowflakeEmulator::settings() const {
    return {
        {"ORDERS_PIPELINE_DEST_DB_URL",
         "snowflake://pipeline_user@myorg-myaccount/analytics/"
         "silver?warehouse=load_wh&role=loader"},
        {"ORDERS_PIPELINE_SNOWFLAKE_PRIVATE_KEY_FILE", registered_private_key().string()},
        {"ORDERS_PIPELINE_SNOWFLAKE_API_URL", api_url_},
        {"ORDERS_PIPELINE_SNOWFLAKE_CA_BUNDLE", test_tls().ca.string()},
    };
}

void SnowflakeEmulator::inject(const std::vector<nlohmann::json>& faults) const {
    const auto tmp = dir_.path() / "faults.tmp";
    {
        std::ofstream out(tmp);
        for (const auto& f : faults) {
            out << f.dump() << '\n';
        }
    }
    std::filesystem::rename(tmp, dir_.path() / "faults.ndjson");
}

std::vector<nlohmann::json> SnowflakeEmulator::log() const {
    std::vector<nlohmann::json> lines;
    std::ifstream in(dir_.path() / "log.ndjson");
    std::string line;
    while (std::getline(in, line)) {
        lines.push_back(nlohmann::json::parse(line));
    }
    return lines;
}

}  // namespace test
