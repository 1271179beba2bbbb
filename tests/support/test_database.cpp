// tests/support/test_database.cpp: databases, temp dirs and subprocesses for integration tests.
#include "tests/support/test_database.hpp"

#include <fcntl.h>
#include <fmt/format.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <fstream>
#include <random>
#include <sstream>
#include <stdexcept>
#include <thread>

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

std::string base_url_from_env_file(const std::filesystem::path& env_file) {
    std::istringstream lines(read_text(env_file));
    for (std::string line; std::getline(lines, line);) {
        if (line.starts_with("PG_URL=")) {
            std::string url = line.substr(7);
            return url.substr(0, url.rfind('/'));
        }
    }
    throw std::runtime_error("no PG_URL in " + env_file.string());
}

}  // namespace

std::string cluster_base_url() {
    const char* env_file = std::getenv("ORDERS_PIPELINE_TEST_PG_ENV");  // NOLINT: test harness
    if (env_file == nullptr) {
        throw std::runtime_error(
            "ORDERS_PIPELINE_TEST_PG_ENV is not set: run integration tests through ctest, which "
            "starts the PostgreSQL fixture");
    }
    return base_url_from_env_file(env_file);
}

TestDatabase::TestDatabase(std::string_view purpose) : TestDatabase(purpose, cluster_base_url()) {}

TestDatabase::TestDatabase(std::string_view purpose, std::string base_url)
    : base_(std::move(base_url)), name_(fmt::format("op_{}_{}", purpose, unique_suffix())) {
    pipeline::PgConnection admin(pipeline::Secret(base_ + "/postgres"),
                                 pipeline::ErrorKind::internal, "TEST", "test-admin");
    admin.exec(fmt::format("CREATE DATABASE {}", name_), "[CREATE DATABASE]");
    url_ = fmt::format("{}/{}", base_, name_);
}

TestDatabase::~TestDatabase() {
    try {
        pipeline::PgConnection admin(pipeline::Secret(base_ + "/postgres"),
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

TestCluster::TestCluster() {
    script("start");
    base_url_ = base_url_from_env_file(dir_.path() / "env");
}

TestCluster::TestCluster(StandbyOf standby) {
    script("standby", standby.primary.dir_.path().string());
    base_url_ = base_url_from_env_file(dir_.path() / "env");
}

void TestCluster::wait_for_replay(const TestCluster& primary) const {
    pipeline::PgConnection on_primary(pipeline::Secret(primary.base_url_ + "/postgres"),
                                      pipeline::ErrorKind::internal, "TEST", "test-replay");
    const std::string target(
        on_primary.exec("SELECT pg_current_wal_insert_lsn()::text", "[lsn]").value(0, 0));
    pipeline::PgConnection on_standby(pipeline::Secret(base_url_ + "/postgres"),
                                      pipeline::ErrorKind::internal, "TEST", "test-replay");
    const std::vector<std::optional<std::string>> params = {target};
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
    while (
        on_standby.exec_params("SELECT pg_last_wal_replay_lsn() >= $1::pg_lsn", params, "[replay]")
            .value(0, 0) != "t") {
        if (std::chrono::steady_clock::now() > deadline) {
            throw std::runtime_error("the standby did not replay up to " + target + " in 30 s");
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
}

TestCluster::~TestCluster() {
    try {
        script("destroy");
    } catch (const std::exception& e) {
        fmt::print(stderr, "warning: {}\n", e.what());
    }
}

void TestCluster::restart() const {
    script("restart");
}

void TestCluster::script(std::string_view command, std::string_view argument) const {
    const std::string line =
        fmt::format("bash '{}/pg_cluster.sh' {} '{}' '{}' >'{}/script.log' 2>&1",
                    ORDERS_PIPELINE_TEST_SUPPORT_DIR, command, dir_.path().string(), argument,
                    dir_.path().string());
    if (std::system(line.c_str()) != 0) {  // NOLINT: test harness
        throw std::runtime_error(fmt::format("pg_cluster.sh {} failed: {}", command,
                                             read_text(dir_.path() / "script.log")));
    }
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

ChildProcess::ChildProcess(const std::vector<std::string>& args,
                           const std::map<std::string, std::string>& env, std::string program)
    : out_path_(io_.path() / "out"), err_path_(io_.path() / "err") {
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_addopen(&actions, 1, out_path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC,
                                     0600);
    posix_spawn_file_actions_addopen(&actions, 2, err_path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC,
                                     0600);
    std::vector<std::string> argv_storage = {program.empty() ? ORDERS_PIPELINE_BINARY : program};
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
    const int rc = posix_spawn(&pid_, argv[0], &actions, nullptr, argv.data(), envp.data());
    posix_spawn_file_actions_destroy(&actions);
    if (rc != 0) {
        throw std::runtime_error("posix_spawn failed");
    }
}

ChildProcess::~ChildProcess() {
    if (!result_) {
        ::kill(pid_, SIGKILL);
        int status = 0;
        ::waitpid(pid_, &status, 0);
    }
}

void ChildProcess::signal(int signal_number) const {
    if (!result_) {
        ::kill(pid_, signal_number);
    }
}

const ProcessResult& ChildProcess::wait() {
    if (!result_) {
        int status = 0;
        ::waitpid(pid_, &status, 0);
        ProcessResult result;
        result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
        result.out = read_text(out_path_);
        result.err = read_text(err_path_);
        result_ = std::move(result);
    }
    return *result_;
}

bool ChildProcess::wait_for_err(std::string_view text, std::chrono::milliseconds timeout) const {
    const auto until = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < until) {
        if (read_text(err_path_).find(text) != std::string::npos) {
            return true;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    return false;
}

ProcessResult run_binary(const std::vector<std::string>& args,
                         const std::map<std::string, std::string>& env) {
    ChildProcess child(args, env);
    return child.wait();
}

}  // namespace test
