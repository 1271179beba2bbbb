// tests/support/test_database.hpp: a fresh database per test on the fixture's cluster.
#pragma once

#include <filesystem>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "pipeline/pg_connection.hpp"

namespace test {

/// "postgresql://postgres@127.0.0.1:PORT" from the env file named by
/// $ORDERS_PIPELINE_TEST_PG_ENV (written by pg_cluster.sh). Throws when it is
/// missing, so an integration test without its server fails, never skips.
std::string cluster_base_url();

/// A database created for one test and dropped (WITH FORCE) afterwards.
class TestDatabase {
public:
    explicit TestDatabase(std::string_view purpose);
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

/// Result of running the orders-pipeline binary.
struct ProcessResult {
    int exit_code = -1;
    std::string out;
    std::string err;
};

/// Runs the built binary with exactly `env` as its environment.
ProcessResult run_binary(const std::vector<std::string>& args,
                         const std::map<std::string, std::string>& env);

}  // namespace test
