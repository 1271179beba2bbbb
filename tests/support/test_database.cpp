// tests/support/test_database.cpp: databases, temp dirs and subprocesses for integration tests.
#include "tests/support/test_database.hpp"

#include <fcntl.h>
#include <fmt/format.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <fstream>
#include <random>
#include <sstream>
#include <stdexcept>

namespace test {

namespace {

std::string read_text(const std::filesystem::path& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) {
        throw std::runtime_error("cannot read " + path.string());
    }
    std::ostringstream out;
    out << in.rdbuf();
    return out.str();
}

std::string unique_suffix() {
    static std::atomic<int> counter{0};
    return fmt::format("{}_{}", ::getpid(), counter++);
}

}  // namespace

std::string cluster_base_url() {
    const char* env_file = std::getenv("ORDERS_PIPELINE_TEST_PG_ENV");  // NOLINT: test harness
    if (env_file == nullptr) {
        throw std::runtime_error(
            "ORDERS_PIPELINE_TEST_PG_ENV is not set: run integration tests through ctest, which "
            "starts the PostgreSQL fixture");
    }
    std::istringstream lines(read_text(env_file));
    for (std::string line; std::getline(lines, line);) {
        if (line.starts_with("PG_URL=")) {
            std::string url = line.substr(7);
            return url.substr(0, url.rfind('/'));
        }
    }
    throw std::runtime_error(std::string("no PG_URL in ") + env_file);
}

TestDatabase::TestDatabase(std::string_view purpose)
    : name_(fmt::format("op_{}_{}", purpose, unique_suffix())) {
    const std::string base = cluster_base_url();
    pipeline::PgConnection admin(pipeline::Secret(base + "/postgres"),
                                 pipeline::ErrorKind::internal, "TEST", "test-admin");
    admin.exec(fmt::format("CREATE DATABASE {}", name_), "[CREATE DATABASE]");
    url_ = fmt::format("{}/{}", base, name_);
}

TestDatabase::~TestDatabase() {
    try {
        pipeline::PgConnection admin(pipeline::Secret(cluster_base_url() + "/postgres"),
                                     pipeline::ErrorKind::internal, "TEST", "test-admin");
        admin.exec(fmt::format("DROP DATABASE IF EXISTS {} WITH (FORCE)", name_),
                   "[DROP DATABASE]");
    } catch (const std::exception& e) {
        fmt::print(stderr, "warning: could not drop test database {}: {}\n", name_, e.what());
    }
}

pipeline::PgConnection TestDatabase::connect() const {
    return pipeline::PgConnection(pipeline::Secret(url_), pipeline::ErrorKind::internal, "TEST",
                                  "test");
}

void TestDatabase::exec(std::string_view sql) const {
    auto conn = connect();
    conn.exec("SET TIME ZONE 'UTC'; SET client_min_messages = warning", "[SET]");
    conn.exec(sql, "[test sql]");
}

std::string TestDatabase::scalar(std::string_view sql) const {
    auto all = rows(sql);
    if (all.empty() || all.front() == "<null>") {
        return "";
    }
    return all.front().substr(0, all.front().find('|'));
}

std::vector<std::string> TestDatabase::rows(std::string_view sql) const {
    auto conn = connect();
    conn.exec("SET TIME ZONE 'UTC'", "[SET]");
    const pipeline::PgResult result = conn.exec(sql, "[test query]");
    std::vector<std::string> out;
    for (int r = 0; r < result.rows(); ++r) {
        std::string line;
        for (int c = 0; c < result.columns(); ++c) {
            if (c > 0) {
                line += '|';
            }
            line += result.is_null(r, c) ? std::string("<null>") : std::string(result.value(r, c));
        }
        out.push_back(std::move(line));
    }
    return out;
}

std::string support_file(std::string_view name) {
    return read_text(std::filesystem::path(ORDERS_PIPELINE_TEST_SUPPORT_DIR) / name);
}

TempDir::TempDir() {
    std::random_device rd;
    path_ = std::filesystem::temp_directory_path() / fmt::format("op-test-{:08x}", rd());
    std::filesystem::create_directories(path_);
}

TempDir::~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
}

ProcessResult run_binary(const std::vector<std::string>& args,
                         const std::map<std::string, std::string>& env) {
    TempDir io;
    const std::string out_path = (io.path() / "out").string();
    const std::string err_path = (io.path() / "err").string();
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_addopen(&actions, 1, out_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC,
                                     0600);
    posix_spawn_file_actions_addopen(&actions, 2, err_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC,
                                     0600);
    std::vector<std::string> argv_storage = {ORDERS_PIPELINE_BINARY};
    argv_storage.insert(argv_storage.end(), args.begin(), args.end());
    std::vector<char*> argv;
    for (auto& a : argv_storage) {
        argv.push_back(a.data());
    }
    argv.push_back(nullptr);
    std::vector<std::string> env_storage;
    for (const auto& [k, v] : env) {
        env_storage.push_back(k + "=" + v);
    }
    std::vector<char*> envp;
    for (auto& e : env_storage) {
        envp.push_back(e.data());
    }
    envp.push_back(nullptr);
    pid_t pid = 0;
    const int rc = posix_spawn(&pid, argv[0], &actions, nullptr, argv.data(), envp.data());
    posix_spawn_file_actions_destroy(&actions);
    if (rc != 0) {
        throw std::runtime_error("posix_spawn failed");
    }
    int status = 0;
    ::waitpid(pid, &status, 0);
    ProcessResult result;
    result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    result.out = read_text(out_path);
    result.err = read_text(err_path);
    return result;
}

}  // namespace test
