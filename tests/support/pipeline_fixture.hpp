// tests/support/pipeline_fixture.hpp: a seeded source, an empty warehouse and the oracle.
#pragma once

#include <gtest/gtest.h>

#include <filesystem>
#include <map>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "pipeline/config/config.hpp"
#include "tests/support/test_database.hpp"

namespace test {

/// Each test gets a source database seeded with 5,000 FreshMart orders (100
/// of them invalid) over the last 3 days, an empty warehouse database, a temp
/// directory for checkpoints and DLQ files, and the SQL oracle
/// (expected_orders.sql) to compare the warehouse with.
class PipelineFixture : public ::testing::Test {
protected:
    static void SetUpTestSuite();
    void SetUp() override;

    /// ORDERS_PIPELINE_* settings of this test: batches of 1,000 rows, fast retries.
    std::map<std::string, std::string> settings(
        const std::map<std::string, std::string>& overrides = {}) const;
    /// The parsed configuration of settings(overrides).
    pipeline::Config config(const std::map<std::string, std::string>& overrides = {}) const;
    /// The whole environment of a binary run: settings(overrides) plus ASan options.
    std::map<std::string, std::string> process_env(
        const std::map<std::string, std::string>& overrides = {}) const;
    /// Runs the binary with process_env(overrides) as its whole environment.
    ProcessResult run_cli(const std::vector<std::string>& args,
                          const std::map<std::string, std::string>& overrides = {}) const;

    /// The warehouse rows (24 columns, all but ingested_at), by order_id.
    std::vector<std::string> loaded(std::string_view where = "true") const;
    /// The same rows from another warehouse database.
    static std::vector<std::string> loaded_in(const TestDatabase& warehouse,
                                              std::string_view where = "true");
    /// What the spec says the warehouse must hold for the current source.
    std::vector<std::string> expected(std::string_view where = "true") const;
    /// The same, for another source database seeded with seed_source().
    static std::vector<std::string> expected_in(const TestDatabase& source,
                                                std::string_view where = "true");
    /// Creates the FreshMart schema and oracle in `db` and seeds 5,000 orders.
    static void seed_source(const TestDatabase& db);

    std::filesystem::path checkpoint_file() const;
    std::filesystem::path dlq_dir() const;
    static std::string read(const std::filesystem::path& path);

    /// (order_id or "<null>", code) of every line of one DLQ file.
    static std::multiset<std::string> dlq_entries(const std::filesystem::path& file);
    /// What the DLQ must hold for the current source.
    std::multiset<std::string> expected_rejections(std::string_view where = "true") const;
    /// The given columns of a run record, '|'-joined, or "<no record>".
    std::string run_record(const std::string& run_id, std::string_view columns) const;

    TestDatabase src_{"src"};
    TestDatabase wh_{"wh"};
    TempDir dir_;
    std::map<std::string, std::string> extra_settings_;  ///< applied by settings()
};

}  // namespace test
