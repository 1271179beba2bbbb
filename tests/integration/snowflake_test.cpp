// tests/integration/snowflake_test.cpp: the Snowflake destination against the SQL API emulator.
//
// The emulator (tests/emulator) speaks HTTPS with a throwaway CA, verifies
// the JWT, runs the statements on its own PostgreSQL database and logs every
// request; these tests compare what lands there with what the PostgreSQL
// destination loads from the same source.
#include <fmt/format.h>
#include <fmt/ranges.h>
#include <gtest/gtest.h>

#include <map>
#include <set>
#include <string>

#include "pipeline/core/unicode.hpp"
#include "pipeline/warehouse/snowflake/snowflake_sql.hpp"
#include "tests/support/snowflake_fixture.hpp"

namespace {

using Json = nlohmann::json;
using test::sf_pipeline;
using test::SnowflakeTest;
using test::source_changes;

TEST_F(SnowflakeTest, InitialAndIncrementalRunsMatchThePostgresDestination) {
    const test::SnowflakeEmulator emulator(sf_);
    // A small request cap so that each 1,000-row batch goes out in several INSERTs.
    const std::map<std::string, std::string> small_requests = {
        {"ORDERS_PIPELINE_SNOWFLAKE_MAX_REQUEST_BYTES", "65536"}};
    for (int round = 0; round < 2; ++round) {
        if (round == 1) {
            src_.exec(source_changes);
        }
        const auto pg = run_cli({"run"});
        ASSERT_EQ(pg.exit_code, 0) << pg.err;
        const auto sf = run_sf(emulator, small_requests);
        ASSERT_EQ(sf.exit_code, 0) << sf.err;
        EXPECT_EQ(sf_loaded(), loaded()) << "round " << round;
        EXPECT_EQ(sf_loaded(), expected()) << "round " << round;
        // Neither the key nor a token reaches the output.
        EXPECT_EQ(sf.err.find("eyJ"), std::string::npos);
        EXPECT_EQ(sf.err.find("PRIVATE KEY"), std::string::npos);
    }
    EXPECT_EQ(sf_.scalar("SELECT count(*) - count(DISTINCT order_id) FROM silver.orders"), "0");
    EXPECT_EQ(sf_staging_tables(), "0") << "staging is dropped at the end of each run";
    EXPECT_EQ(sf_.rows("SELECT status, rows_inserted > 0, rows_updated > 0 FROM "
                       "monitoring.pipeline_runs ORDER BY started_at"),
              (std::vector<std::string>{"success|t|f", "success|t|t"}));
    // The MERGE counts reach the run record: the same figures as PostgreSQL's.
    EXPECT_EQ(sf_.rows("SELECT rows_extracted, rows_written, rows_rejected, rows_inserted, "
                       "rows_updated FROM monitoring.pipeline_runs ORDER BY started_at"),
              wh_.rows("SELECT rows_extracted, rows_written, rows_rejected, rows_inserted, "
                       "rows_updated FROM monitoring.pipeline_runs ORDER BY started_at"));

    const auto log = emulator.log();
    EXPECT_TRUE(executed_twice(log).empty());
    EXPECT_EQ(count(log, "event", "connection"), 2) << "one kept-alive connection per run";
    EXPECT_EQ(count(log, "event", "auth_rejected"), 0);
    int inserts = 0;
    int merges = 0;
    for (const auto& line : log) {
        const std::string statement = line.value("statement", "");
        inserts += statement.starts_with("INSERT INTO") ? 1 : 0;
        merges += statement.starts_with("MERGE INTO SILVER.ORDERS") ? 1 : 0;
        if (statement.starts_with("INSERT INTO")) {
            EXPECT_LE(line.value("body_bytes", 0), 65536) << "a request above the cap";
        }
    }
    EXPECT_GT(merges, 0);
    EXPECT_GE(inserts, 4 * merges) << "batches were not split into several requests";
    EXPECT_EQ(warehouse_actions(log),
              (std::vector<std::string>{"resume", "suspend", "resume", "suspend"}));
}

struct FaultCase {
    std::string name;
    Json fault;
    bool expect_resubmission;
    long min_wait_ms = 0;  ///< between the faulted answer and the resend (Retry-After)
};

void PrintTo(const FaultCase& fault_case, std::ostream* out) {
    *out << fault_case.name;
}

class SnowflakeFaultTest : public SnowflakeTest, public ::testing::WithParamInterface<FaultCase> {};

TEST_P(SnowflakeFaultTest, EndsInTheSameTableWithNoStatementRunTwice) {
    const test::SnowflakeEmulator emulator(sf_);
    ASSERT_EQ(run_sf(emulator).exit_code, 0);
    src_.exec(source_changes);
    emulator.inject({GetParam().fault});
    const auto sf = run_sf(emulator);
    ASSERT_EQ(sf.exit_code, 0) << sf.err;
    EXPECT_EQ(sf_loaded(), expected());
    EXPECT_EQ(sf_.scalar("SELECT count(*) - count(DISTINCT order_id) FROM silver.orders"), "0");

    const auto log = emulator.log();
    EXPECT_TRUE(executed_twice(log).empty());
    int faulted = 0;
    std::set<std::string> faulted_ids;
    for (const auto& line : log) {
        if (line.contains("fault")) {
            ++faulted;
            faulted_ids.insert(line.value("request_id", ""));
        }
    }
    EXPECT_GE(faulted, 1) << "the fault never fired";
    if (GetParam().expect_resubmission) {
        int resubmitted = 0;
        for (const auto& line : log) {
            if (line.value("retry", false) && faulted_ids.contains(line.value("request_id", ""))) {
                ++resubmitted;
            }
        }
        EXPECT_GE(resubmitted, 1) << "the same requestId was not resent with retry=true";
        for (std::size_t i = 0; i < log.size(); ++i) {
            if (!log[i].contains("fault")) {
                continue;
            }
            for (std::size_t j = i + 1; j < log.size(); ++j) {
                if (log[j].value("request_id", "") == log[i].value("request_id", "")) {
                    EXPECT_GE(log[j].value("ms", 0L) - log[i].value("ms", 0L),
                              GetParam().min_wait_ms)
                        << "resent before the server's Retry-After";
                    break;
                }
            }
        }
    } else {
        EXPECT_GE(count(log, "status", 202), 1) << "no 202 was polled";
    }
}

INSTANTIATE_TEST_SUITE_P(
    Faults, SnowflakeFaultTest,
    ::testing::Values(
        FaultCase{"TooManyRequestsWithRetryAfter",
                  {{"match", "INSERT INTO"},
                   {"kind", "status"},
                   {"status", 429},
                   {"retry_after", 1},
                   {"count", 2}},
                  true,
                  1000},
        FaultCase{"ServiceUnavailable",
                  {{"match", "MERGE INTO SILVER.ORDERS"},
                   {"kind", "status"},
                   {"status", 503},
                   {"count", 2}},
                  true},
        FaultCase{"SlowStatementAnswered202",
                  {{"match", "MERGE INTO SILVER.ORDERS"}, {"kind", "slow"}, {"seconds", 1.5}},
                  false},
        FaultCase{"ConnectionDroppedAfterInsertRan",
                  {{"match", "INSERT INTO"}, {"kind", "drop_after_execute"}},
                  true},
        FaultCase{"ConnectionDroppedAfterMergeRan",
                  {{"match", "MERGE INTO SILVER.ORDERS"}, {"kind", "drop_after_execute"}},
                  true}),
    [](const auto& case_info) { return case_info.param.name; });

TEST_F(SnowflakeTest, UntrustedCertificateIsRefused) {
    const test::SnowflakeEmulator emulator(sf_);
    for (const auto& bundle : {test::test_tls().other_ca.string(), std::string()}) {
        const auto sf = run_sf(emulator, {{"ORDERS_PIPELINE_SNOWFLAKE_CA_BUNDLE", bundle}});
        EXPECT_EQ(sf.exit_code, 1) << "bundle '" << bundle << "'";
        EXPECT_NE(sf.err.find("TLS connection to https://127.0.0.1"), std::string::npos) << sf.err;
        EXPECT_NE(sf.err.find("SNOWFLAKE_CA_BUNDLE"), std::string::npos) << sf.err;
    }
    EXPECT_EQ(count(emulator.log(), "event", "request"), 0) << "a request got through";
}

TEST_F(SnowflakeTest, WrongKeyFailsWithAnAuthenticationErrorThatSaysWhatToCheck) {
    const test::SnowflakeEmulator emulator(sf_);
    const auto sf = run_sf(emulator, {{"ORDERS_PIPELINE_SNOWFLAKE_PRIVATE_KEY_FILE",
                                       test::test_tls().unregistered_key.string()}});
    EXPECT_EQ(sf.exit_code, 1);
    EXPECT_NE(sf.err.find("Snowflake refused the key-pair JWT for MYORG-MYACCOUNT.PIPELINE_USER"),
              std::string::npos)
        << sf.err;
    EXPECT_NE(sf.err.find("RSA_PUBLIC_KEY"), std::string::npos);
    EXPECT_NE(sf.err.find("390144"), std::string::npos);
    const auto log = emulator.log();
    EXPECT_EQ(count(log, "event", "auth_rejected"), 2) << "one new JWT, then give up";
    EXPECT_EQ(count(log, "executed", true), 0);
    EXPECT_EQ(sf_.scalar("SELECT count(*) FROM pg_tables WHERE schemaname = 'silver'"), "0");
}

TEST_F(SnowflakeTest, WarehouseIsSuspendedAgainOnFailureOnlyIfThisRunResumedIt) {
    {  // Suspended at the start, the run fails in batch 2: resumed, then suspended again.
        const test::SnowflakeEmulator emulator(sf_);
        const auto sf = run_sf(emulator, {{"ORDERS_PIPELINE_FAIL_POINT", "after_stage:2=error"}});
        EXPECT_EQ(sf.exit_code, 1) << sf.err;
        EXPECT_NE(sf.err.find("\"event\":\"warehouse_resumed\""), std::string::npos);
        EXPECT_NE(sf.err.find("\"resume_seconds\""), std::string::npos);
        EXPECT_EQ(warehouse_actions(emulator.log()),
                  (std::vector<std::string>{"resume", "suspend"}));
        EXPECT_EQ(sf_.scalar("SELECT status FROM monitoring.pipeline_runs"), "failed");
        EXPECT_EQ(sf_staging_tables(), "0");
    }
    {  // Running at the start: left alone.
        const test::SnowflakeEmulator emulator(sf_, {.warehouse_state = "STARTED"});
        const auto sf = run_sf(emulator);
        EXPECT_EQ(sf.exit_code, 0) << sf.err;
        EXPECT_TRUE(warehouse_actions(emulator.log()).empty());
    }
    {  // Suspended, but suspending is switched off (and rows to load: a run with none
       // would not wake it at all).
        src_.exec(source_changes);
        const test::SnowflakeEmulator emulator(sf_);
        const auto sf =
            run_sf(emulator, {{"ORDERS_PIPELINE_SNOWFLAKE_SUSPEND_WAREHOUSE", "false"}});
        EXPECT_EQ(sf.exit_code, 0) << sf.err;
        EXPECT_EQ(warehouse_actions(emulator.log()), (std::vector<std::string>{"resume"}));
    }
    EXPECT_EQ(sf_loaded(), expected());
}

TEST_F(SnowflakeTest, StagingLeftByCrashedRunsIsDroppedReadingEveryResultPartition) {
    const test::SnowflakeEmulator emulator(sf_, {.partition_rows = 1});
    const auto crashed = run_sf(emulator, {{"ORDERS_PIPELINE_FAIL_POINT", "after_stage:2=kill"}});
    ASSERT_EQ(crashed.exit_code, 128 + 9) << crashed.err;
    ASSERT_EQ(sf_staging_tables(), "1");
    // Two more leftovers of this pipeline, and one of another pipeline that must stay.
    const std::string prefix = pipeline::sf_staging_prefix(sf_pipeline);
    const std::string other = pipeline::sf_staging_prefix("another_pipeline");
    sf_.exec(
        fmt::format("CREATE TABLE silver.{0}a (x int); CREATE TABLE silver.{0}b (x int);"
                    "CREATE TABLE silver.{1}c (x int)",
                    prefix, other));
    const auto rerun = run_sf(emulator);
    ASSERT_EQ(rerun.exit_code, 0) << rerun.err;
    EXPECT_EQ(sf_.scalar(fmt::format("SELECT string_agg(tablename, ',') FROM pg_tables WHERE "
                                     "schemaname = 'silver' AND tablename LIKE 'op_stg_%'")),
              pipeline::ascii_lower(other) + "c");
    EXPECT_EQ(sf_loaded(), expected());
    int partition_gets = 0;
    for (const auto& line : emulator.log()) {
        partition_gets += line.value("query", "").find("partition=") != std::string::npos ? 1 : 0;
    }
    EXPECT_GE(partition_gets, 2) << "the SHOW TABLES result was not read past its first partition";
}

TEST_F(SnowflakeTest, SecondRunIsSkippedWhileTheFirstHoldsTheLock) {
    const test::SnowflakeEmulator emulator(sf_, {.warehouse_state = "STARTED"});
    // Run A pauses inside batch 1 holding the lock (an flock beside the checkpoint).
    test::ChildProcess a({"run"}, process_env(sf_env(emulator, {{"ORDERS_PIPELINE_FAIL_POINT",
                                                                 "after_stage:1=sleep:4000"}})));
    ASSERT_TRUE(a.wait_for_err("\"event\":\"fail_point\"", std::chrono::seconds(30)));
    const auto b = run_sf(emulator);
    const auto& a_result = a.wait();
    EXPECT_EQ(a_result.exit_code, 0) << a_result.err;
    EXPECT_EQ(b.exit_code, 4) << b.err;
    const auto at = a_result.err.find("\"run_id\":\"");
    ASSERT_NE(at, std::string::npos);
    const std::string a_run_id = a_result.err.substr(at + 10, 25);
    EXPECT_NE(b.err.find("orders-pipeline orders_sf " + a_run_id), std::string::npos)
        << "B names A's run: " << b.err;
    EXPECT_EQ(sf_.rows("SELECT status FROM monitoring.pipeline_runs ORDER BY status"),
              (std::vector<std::string>{"skipped", "success"}));
    EXPECT_EQ(sf_loaded(), expected());
    EXPECT_TRUE(executed_twice(emulator.log()).empty());
}

TEST_F(SnowflakeTest, MergePruningNeverDoublesARow) {
    const test::SnowflakeEmulator emulator(sf_, {.warehouse_state = "STARTED"});
    // The source spans 3 days: with a 1-day lookback, batches holding older orders must
    // merge without pruning, or their updates would be inserted a second time.
    const std::map<std::string, std::string> lookback = {
        {"ORDERS_PIPELINE_MERGE_LOOKBACK_DAYS", "1"}, {"ORDERS_PIPELINE_LOG_LEVEL", "DEBUG"}};
    const auto first = run_sf(emulator, lookback);
    ASSERT_EQ(first.exit_code, 0) << first.err;
    src_.exec(source_changes);
    const auto second = run_sf(emulator, lookback);
    ASSERT_EQ(second.exit_code, 0) << second.err;
    EXPECT_EQ(sf_.scalar("SELECT count(*) - count(DISTINCT order_id) FROM silver.orders"), "0");
    EXPECT_EQ(sf_loaded(), expected());
    const std::string logs = first.err + second.err;
    EXPECT_NE(logs.find("\"event\":\"merge_pruned\""), std::string::npos);
    EXPECT_NE(logs.find("\"event\":\"merge_pruning_skipped\""), std::string::npos);
}

TEST_F(SnowflakeTest, DoctorChecksTheKeyAndTheWarehouseWithoutResumingIt) {
    const test::SnowflakeEmulator emulator(sf_);
    const auto healthy = run_cli({"doctor"}, sf_env(emulator));
    EXPECT_EQ(healthy.exit_code, 0) << healthy.out << healthy.err;
    EXPECT_NE(healthy.out.find("OK   destination reachable: Snowflake https://127.0.0.1"),
              std::string::npos)
        << healthy.out;
    EXPECT_NE(healthy.out.find("OK   warehouse exists: LOAD_WH"), std::string::npos);

    auto missing = sf_env(emulator);
    missing["ORDERS_PIPELINE_DEST_DB_URL"] =
        "snowflake://pipeline_user@myorg-myaccount/analytics/silver?warehouse=other_wh&role=loader";
    const auto broken = run_cli({"doctor"}, missing);
    EXPECT_EQ(broken.exit_code, 1);
    EXPECT_NE(broken.out.find("FAIL warehouse exists: OTHER_WH not found"), std::string::npos)
        << broken.out;
    EXPECT_TRUE(warehouse_actions(emulator.log()).empty()) << "doctor must not resume it";
}

TEST_F(SnowflakeTest, EncryptedKeyWorksAndNoKeyMaterialReachesOutputOrRecords) {
    const test::SnowflakeEmulator emulator(sf_, {.warehouse_state = "STARTED"});
    const std::string passphrase = "correct-horse";
    const auto key_file =
        std::filesystem::path(ORDERS_PIPELINE_UNIT_DATA_DIR) / "test_rsa_key_encrypted.p8";
    const auto sf =
        run_sf(emulator, {{"ORDERS_PIPELINE_SNOWFLAKE_PRIVATE_KEY_FILE", key_file.string()},
                          {"ORDERS_PIPELINE_SNOWFLAKE_PRIVATE_KEY_PASSPHRASE", passphrase},
                          {"ORDERS_PIPELINE_FAIL_POINT", "after_merge:3=error"}});
    EXPECT_EQ(sf.exit_code, 1) << sf.err;
    const auto wrong = run_sf(
        emulator, {{"ORDERS_PIPELINE_SNOWFLAKE_PRIVATE_KEY_FILE", key_file.string()},
                   {"ORDERS_PIPELINE_SNOWFLAKE_PRIVATE_KEY_PASSPHRASE", passphrase + "-not"}});
    EXPECT_EQ(wrong.exit_code, 3) << wrong.err;
    EXPECT_NE(wrong.err.find("ORDERS_PIPELINE_SNOWFLAKE_PRIVATE_KEY_PASSPHRASE"), std::string::npos)
        << wrong.err;
    // The key's body, the passphrase and any JWT stay out of every output and record.
    const std::string pem = read(key_file);
    const std::string key_line = pem.substr(pem.find('\n') + 1, 40);
    const std::string records =
        fmt::format("{}", fmt::join(sf_.rows("SELECT * FROM monitoring.pipeline_runs"), "\n"));
    EXPECT_NE(records.find("failed"), std::string::npos);
    for (const std::string& text : {sf.out, sf.err, wrong.out, wrong.err, records}) {
        EXPECT_EQ(text.find(passphrase), std::string::npos);
        EXPECT_EQ(text.find(key_line), std::string::npos);
        EXPECT_EQ(text.find("eyJ"), std::string::npos);
    }
}

}  // namespace
