// tests/support/test_database.hpp: a fresh database per test on the fixture's cluster.
#pragma once

#include <chrono>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "pipeline/runtime/pg_connection.hpp"

namespace test {

/// "postgresql://postgres@127.0.0.1:PORT" from the env file named by
/// $ORDERS_PIPELINE_TEST_PG_ENV (written by pg_cluster.sh). Throws when it is
/// missing, so an integration test without its server fails, never skips.
std::string cluster_base_url();

/// A database created for one test and dropped (WITH FORCE) afterwards.
class TestDatabase {
public:
    explicit TestDatabase(std::string_view purpose);
    /// On another cluster, e.g. a TestCluster's.
    TestDatabase(std::string_view purpose, std::string base_url);
    TestDatabase(const TestDatabase&) = delete;
    TestDatabase& operator=(const TestDatabase&) = delete;
    ~TestDatabase();

    const std::string& url() const noexcept { return url_; }
    const std::string& name() const noexcept { return name_; }
    pipeline::PgConnection connect() const;
    /// Runs SQL (several statements allowed) on a short-lived connection.
    void exec(std::string_view sql) const;
    /// The first column of the first row, as text ("" for NULL or no row).
    std::string scalar(std::string_view sql) const;
    /// Every row as its columns joined by '|' (NULL as "<null>").
    std::vector<std::string> rows(std::string_view sql) const;

private:
    std::string base_;
    std::string name_;
    std::string url_;
};

/// The text of tests/support/<name>.
std::string support_file(std::string_view name);

/// A private temporary directory, removed on destruction.
class TempDir {
public:
    TempDir();
    TempDir(const TempDir&) = delete;
    TempDir& operator=(const TempDir&) = delete;
    ~TempDir();
    const std::filesystem::path& path() const noexcept { return path_; }

private:
    std::filesystem::path path_;
};

/// A private PostgreSQL cluster (pg_cluster.sh) for tests that must restart
/// their server; destroyed with the object.
class TestCluster {
public:
    TestCluster();
    /// A hot standby of `primary` (pg_basebackup, streaming replication).
    struct StandbyOf {
        const TestCluster& primary;
    };
    explicit TestCluster(StandbyOf standby);
    TestCluster(const TestCluster&) = delete;
    TestCluster& operator=(const TestCluster&) = delete;
    ~TestCluster();
    /// "postgresql://postgres@127.0.0.1:PORT"
    const std::string& base_url() const noexcept { return base_url_; }
    /// pg_ctl restart -m fast: every session is terminated, the port stays.
    void restart() const;
    /// A standby: waits (up to 30 s) until it has replayed everything
    /// `primary` has written so far; throws otherwise.
    void wait_for_replay(const TestCluster& primary) const;

private:
    void script(std::string_view command, std::string_view argument = {}) const;
    TempDir dir_;
    std::string base_url_;
};

/// Result of running the orders-pipeline binary.
struct ProcessResult {
    int exit_code = -1;
    std::string out;
    std::string err;
};

/// The built binary running in the background, its output going to files.
/// The destructor kills it (SIGKILL) if it was not waited for.
class ChildProcess {
public:
    /// Starts `program` (default: the orders-pipeline binary) with `args`
    /// and exactly `env` as its environment.
    ChildProcess(const std::vector<std::string>& args,
                 const std::map<std::string, std::string>& env, std::string program = {});
    ChildProcess(const ChildProcess&) = delete;
    ChildProcess& operator=(const ChildProcess&) = delete;
    ~ChildProcess();

    void signal(int signal_number) const;
    /// Waits for the exit; exit_code is 128 + N when killed by signal N.
    const ProcessResult& wait();
    /// Waits until the standard error so far contains `text`; false on timeout.
    bool wait_for_err(std::string_view text, std::chrono::milliseconds timeout) const;
    int pid() const noexcept { return pid_; }

private:
    TempDir io_;
    std::filesystem::path out_path_;
    std::filesystem::path err_path_;
    int pid_ = 0;
    std::optional<ProcessResult> result_;
};

/// Runs the built binary with exactly `env` as its environment.
ProcessResult run_binary(const std::vector<std::string>& args,
                         const std::map<std::string, std::string>& env);

}  // namespace test
