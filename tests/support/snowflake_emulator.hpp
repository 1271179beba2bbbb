// tests/support/snowflake_emulator.hpp: runs tests/emulator/snowflake_emulator for one test.
#pragma once

#include <filesystem>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "tests/support/test_database.hpp"

namespace test {

/// The TLS material of make_test_ca.sh, made once per test process.
struct TestTls {
    std::filesystem::path ca;        ///< the emulator's CA
    std::filesystem::path other_ca;  ///< a CA that did not sign the emulator's certificate
    std::filesystem::path server_cert;
    std::filesystem::path server_key;
    std::filesystem::path unregistered_key;  ///< a PKCS#8 key the emulator does not know
};
const TestTls& test_tls();

/// The committed test key pair registered with the emulator (tests/unit/data).
std::filesystem::path registered_private_key();
std::filesystem::path registered_public_key();

/// An emulator process serving `warehouse_db` on a free loopback port with
/// account MYORG-MYACCOUNT, user PIPELINE_USER, database ANALYTICS, role
/// LOADER and warehouse LOAD_WH; stopped with the object.
class SnowflakeEmulator {
public:
    struct Options {
        std::string warehouse_state = "SUSPENDED";  ///< LOAD_WH at start
        std::size_t partition_rows = 1000;
    };
    SnowflakeEmulator(const TestDatabase& warehouse_db, Options options);
    explicit SnowflakeEmulator(const TestDatabase& warehouse_db)
        : SnowflakeEmulator(warehouse_db, Options{}) {}
    ~SnowflakeEmulator();
    SnowflakeEmulator(const SnowflakeEmulator&) = delete;
    SnowflakeEmulator& operator=(const SnowflakeEmulator&) = delete;

    /// "https://127.0.0.1:PORT"
    const std::string& api_url() const noexcept { return api_url_; }
    /// ORDERS_PIPELINE_* settings that point a run at this emulator.
    std::map<std::string, std::string> settings() const;
    /// Queues faults (JSON lines, see the emulator's header comment).
    void inject(const std::vector<nlohmann::json>& faults) const;
    /// Every log line so far.
    std::vector<nlohmann::json> log() const;

private:
    TempDir dir_;
    std::unique_ptr<ChildProcess> process_;
    std::string api_url_;
};

}  // namespace test
