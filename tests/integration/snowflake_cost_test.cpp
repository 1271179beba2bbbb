// tests/integration/snowflake_cost_test.cpp: what a run costs on Snowflake (issue: a quiet
// tick costs nothing, a busy tick one short resume), against the SQL API emulator, which
// logs every request, whether it needed a running warehouse, and every resume.
#include <fmt/format.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <string>

#include "tests/support/snowflake_fixture.hpp"

namespace {

namespace fs = std::filesystem;
using test::Json;
using test::SnowflakeTest;

// 2,000 updates and 2,000 new orders: the 4,000-row tick of the README's cost model.
constexpr std::string_view tick_changes =
    "UPDATE orders SET status = 'delivered', updated_at = now() WHERE order_id IN "
    "(SELECT order_id FROM orders ORDER BY order_id LIMIT 2000);"
    "SELECT freshmart_seed(2000, 300000, now(), 0);";

class SnowflakeCostTest : public SnowflakeTest {
protected:
    /// The emulator's log lines written since `from` (a size of an earlier log()).
    static std::vector<Json> since(const test::SnowflakeEmulator& emulator, std::size_t from) {
        const auto all = emulator.log();
        return {all.begin() + static_cast<std::ptrdiff_t>(std::min(from, all.size())), all.end()};
    }
    static int requests(const std::vector<Json>& lines) { return count(lines, "event", "request"); }
    static int compute_statements(const std::vector<Json>& lines) {
        return count(lines, "compute", true);
    }
    /// run_id -> number of rows with it in the emulator's run table.
    std::map<std::string, int> recorded_runs() const {
        std::map<std::string, int> runs;
        for (const auto& id : sf_.rows("SELECT run_id FROM monitoring.pipeline_runs")) {
            ++runs[id];
        }
        return runs;
    }
    static std::string run_id_of(const test::ProcessResult& result) {
        const auto at = result.err.find("\"run_id\":\"");
        return at == std::string::npos ? "" : result.err.substr(at + 10, 25);
    }
    fs::path journal() const {
        return dir_.path() / "checkpoints" / (std::string(test::sf_pipeline) + ".runs.json");
    }
    /// `runs --json` of the Snowflake pipeline.
    Json listed_runs(const test::SnowflakeEmulator& emulator) {
        const auto listed = run_cli({"runs", "--json"}, sf_env(emulator));
        EXPECT_EQ(listed.exit_code, 0) << listed.err;
        return Json::parse(listed.out);
    }
};

TEST_F(SnowflakeCostTest, QuietTickNeverWakesTheWarehouseAndItsRecordArrivesWithTheNextLoad) {
    const test::SnowflakeEmulator emulator(sf_);
    const auto first = run_sf(emulator);
    ASSERT_EQ(first.exit_code, 0) << first.err;

    // Nothing changed at the source: no request at all, the warehouse stays suspended.
    const std::size_t before_quiet = emulator.log().size();
    const auto quiet = run_sf(emulator);
    ASSERT_EQ(quiet.exit_code, 0) << quiet.err;
    const auto quiet_log = since(emulator, before_quiet);
    EXPECT_EQ(requests(quiet_log), 0) << quiet_log.size();
    EXPECT_EQ(compute_statements(quiet_log), 0);
    EXPECT_TRUE(warehouse_actions(quiet_log).empty()) << "no resume, no auto-resume";
    EXPECT_NE(quiet.err.find("\"event\":\"run_record_journaled\""), std::string::npos);
    EXPECT_NE(quiet.err.find("\"warehouse_woken\":false"), std::string::npos) << quiet.err;
    const std::string quiet_id = run_id_of(quiet);
    EXPECT_FALSE(recorded_runs().contains(quiet_id)) << "written although nothing was woken";
    bool listed_waiting = false;
    for (const auto& run : listed_runs(emulator)) {
        listed_waiting = listed_waiting || (run["run_id"] == quiet_id && run["waiting_locally"] &&
                                            run["status"] == "success");
    }
    EXPECT_TRUE(listed_waiting) << "`runs` shows the record waiting locally";

    // A 4,000-row tick in one batch: the requests the README's cost model counts.
    src_.exec(tick_changes);
    const std::size_t before_busy = emulator.log().size();
    const auto busy = run_sf(emulator, {{"ORDERS_PIPELINE_BATCH_SIZE", "50000"}});
    ASSERT_EQ(busy.exit_code, 0) << busy.err;
    const auto busy_log = since(emulator, before_busy);
    std::vector<std::string> statements;
    for (const auto& line : busy_log) {
        if (line.value("event", "") == "request") {
            statements.push_back(line.value("statement", "").substr(0, 22));
        }
    }
    // SHOW WAREHOUSES, RESUME, CREATE staging, one INSERT, MERGE, MERGE of the run records
    // (this run's and the quiet tick's), DROP staging, SUSPEND.
    EXPECT_EQ(requests(busy_log), 8) << fmt::format("{}", fmt::join(statements, " | "));
    EXPECT_EQ(warehouse_actions(busy_log), (std::vector<std::string>{"resume", "suspend"}));
    EXPECT_EQ(sf_loaded(), expected());

    const auto runs = recorded_runs();
    EXPECT_EQ(runs.size(), 3u);
    for (const auto& [id, n] : runs) {
        EXPECT_EQ(n, 1) << id << " written more than once";
    }
    EXPECT_TRUE(runs.contains(quiet_id)) << "the quiet tick's record did not arrive";
    // What each run cost: the quiet tick nothing; a busy one at least the 60-second minimum of
    // an X-Small (1 credit per hour).
    EXPECT_EQ(sf_.scalar(fmt::format("SELECT warehouse_seconds::text || ':' || "
                                     "credits_estimate::text FROM monitoring.pipeline_runs "
                                     "WHERE run_id = '{}'",
                                     quiet_id)),
              "0:0");
    const auto busy_cost = sf_.rows(
        fmt::format("SELECT warehouse_seconds > 0, round(credits_estimate::numeric, 6) FROM "
                    "monitoring.pipeline_runs WHERE run_id = '{}'",
                    run_id_of(busy)));
    EXPECT_EQ(busy_cost, (std::vector<std::string>{"t|0.016667"}));
    EXPECT_NE(busy.err.find("\"credits_estimate\":0.01666"), std::string::npos) << busy.err;
    for (const auto& run : listed_runs(emulator)) {
        EXPECT_FALSE(run["waiting_locally"].get<bool>()) << run.dump();
    }
}

TEST_F(SnowflakeCostTest, WaitingRecordsArriveExactlyOnceAlsoWhenTheLoadingRunIsKilled) {
    const test::SnowflakeEmulator emulator(sf_);
    ASSERT_EQ(run_sf(emulator).exit_code, 0);
    const auto quiet = run_sf(emulator);
    ASSERT_EQ(quiet.exit_code, 0) << quiet.err;

    src_.exec(test::source_changes);
    const auto killed = run_sf(emulator, {{"ORDERS_PIPELINE_FAIL_POINT", "after_commit:1=kill"}});
    ASSERT_EQ(killed.exit_code, 128 + 9) << killed.err;
    EXPECT_FALSE(recorded_runs().contains(run_id_of(quiet))) << "delivered before the end";

    const auto rerun = run_sf(emulator);
    ASSERT_EQ(rerun.exit_code, 0) << rerun.err;
    EXPECT_EQ(sf_loaded(), expected());
    auto runs = recorded_runs();
    EXPECT_EQ(runs.size(), 4u);
    for (const auto& [id, n] : runs) {
        EXPECT_EQ(n, 1) << id;
    }
    EXPECT_EQ(
        sf_.scalar(fmt::format("SELECT status FROM monitoring.pipeline_runs WHERE run_id = '{}'",
                               run_id_of(killed))),
        "failed")
        << "the killed run is recorded as failed, not running";

    // Killed between the MERGE of the records and the journal's update: the same records go
    // out again with the next loading run, and are still there exactly once.
    const auto quiet_again = run_sf(emulator);
    ASSERT_EQ(quiet_again.exit_code, 0);
    src_.exec("UPDATE orders SET updated_at = now() WHERE order_id = 8");
    const std::string before_delivery = read(journal());
    ASSERT_EQ(run_sf(emulator).exit_code, 0);
    ASSERT_TRUE(recorded_runs().contains(run_id_of(quiet_again)));
    std::ofstream(journal(), std::ios::trunc) << before_delivery;
    src_.exec("UPDATE orders SET updated_at = now() WHERE order_id = 9");
    ASSERT_EQ(run_sf(emulator).exit_code, 0);
    runs = recorded_runs();
    EXPECT_EQ(runs.size(), 7u);
    for (const auto& [id, n] : runs) {
        EXPECT_EQ(n, 1) << id;
    }
}

TEST_F(SnowflakeCostTest, AllRejectedWindowWritesTheDlqWithoutWakingTheWarehouse) {
    const test::SnowflakeEmulator emulator(sf_);
    ASSERT_EQ(run_sf(emulator).exit_code, 0);
    src_.exec(
        "UPDATE orders SET order_amount = -5, updated_at = now() WHERE order_id IN "
        "(SELECT order_id FROM orders ORDER BY order_id LIMIT 30)");
    const std::size_t before = emulator.log().size();
    const auto rejected = run_sf(emulator);
    ASSERT_EQ(rejected.exit_code, 0) << rejected.err;
    const auto lines = since(emulator, before);
    EXPECT_EQ(requests(lines), 0);
    EXPECT_TRUE(warehouse_actions(lines).empty());
    EXPECT_NE(rejected.out.find("rejected 30"), std::string::npos) << rejected.out;
    EXPECT_NE(rejected.out.find("dlq "), std::string::npos) << "the DLQ file is written";
    EXPECT_EQ(rejected.out.find("checkpoint  unchanged"), std::string::npos)
        << "an all-rejected window still advances the checkpoint";
    EXPECT_FALSE(recorded_runs().contains(run_id_of(rejected)));
}

TEST_F(SnowflakeCostTest, RememberedSchemaIsNotResentAndRecreatedWhenDropped) {
    const test::SnowflakeEmulator emulator(sf_, {.warehouse_state = "STARTED"});
    ASSERT_EQ(run_sf(emulator).exit_code, 0);
    src_.exec(test::source_changes);
    std::size_t before = emulator.log().size();
    const auto second = run_sf(emulator);
    ASSERT_EQ(second.exit_code, 0) << second.err;
    int ddl = 0;
    for (const auto& line : since(emulator, before)) {
        const std::string statement = line.value("statement", "");
        ddl += statement.starts_with("CREATE SCHEMA") || statement.starts_with("CREATE TABLE") ||
                       statement.starts_with("SHOW TABLES")
                   ? 1
                   : 0;
    }
    EXPECT_EQ(ddl, 0) << "the remembered DDL and the staging sweep were sent again";

    // Someone drops the schema: the next tick recreates it and loads its window.
    sf_.exec("DROP SCHEMA silver CASCADE");
    src_.exec("UPDATE orders SET status = 'ready', updated_at = now() WHERE order_id % 11 = 0");
    before = emulator.log().size();
    const auto third = run_sf(emulator);
    ASSERT_EQ(third.exit_code, 0) << third.err;
    EXPECT_NE(third.err.find("\"event\":\"schema_recreated\""), std::string::npos) << third.err;
    // The recreated table holds that window: the rows changed since the drop.
    EXPECT_EQ(sf_loaded(), expected("order_id % 11 = 0"));

    // Only the target is dropped: this run's staging table survives the failed MERGE, and
    // the retry must not stage the batch a second time (every row would be inserted twice).
    sf_.exec("DROP TABLE silver.orders");
    src_.exec("UPDATE orders SET status = 'ready', updated_at = now() WHERE order_id % 13 = 0");
    const auto fourth = run_sf(emulator);
    ASSERT_EQ(fourth.exit_code, 0) << fourth.err;
    EXPECT_NE(fourth.err.find("\"event\":\"schema_recreated\""), std::string::npos) << fourth.err;
    EXPECT_EQ(sf_.scalar("SELECT count(*) - count(DISTINCT order_id) FROM silver.orders"), "0");
    EXPECT_EQ(sf_loaded(), expected("order_id % 13 = 0"));
}

TEST_F(SnowflakeCostTest, StagingOfAKilledRunIsDroppedAlsoAfterAQuietTick) {
    const test::SnowflakeEmulator emulator(sf_, {.warehouse_state = "STARTED"});
    ASSERT_EQ(run_sf(emulator).exit_code, 0);  // the DDL is remembered from here on
    src_.exec(test::source_changes);
    // Killed after its checkpoint, before its end: its staging table stays behind.
    const auto killed =
        run_sf(emulator, {{"ORDERS_PIPELINE_FAIL_POINT", "before_final_record=kill"}});
    ASSERT_EQ(killed.exit_code, 128 + 9) << killed.err;
    ASSERT_EQ(sf_staging_tables(), "1");
    // A quiet tick closes the killed run's record but wakes nothing, so it sweeps nothing.
    const auto quiet = run_sf(emulator);
    ASSERT_EQ(quiet.exit_code, 0) << quiet.err;
    ASSERT_EQ(sf_staging_tables(), "1");
    // The next run that loads does.
    src_.exec("UPDATE orders SET status = 'ready', updated_at = now() WHERE order_id % 17 = 0");
    const auto loading = run_sf(emulator);
    ASSERT_EQ(loading.exit_code, 0) << loading.err;
    EXPECT_EQ(sf_staging_tables(), "0") << loading.err;
    EXPECT_EQ(sf_loaded(), expected());
}

TEST_F(SnowflakeCostTest, RunningWarehouseIsBilledForTheStatementsOnly) {
    const test::SnowflakeEmulator emulator(sf_, {.warehouse_state = "STARTED"});
    const auto run = run_sf(emulator);
    ASSERT_EQ(run.exit_code, 0) << run.err;
    EXPECT_TRUE(warehouse_actions(emulator.log()).empty());
    // Its own statements' time, without the 60-second minimum of a resume.
    EXPECT_EQ(sf_.scalar(fmt::format("SELECT warehouse_seconds > 0 AND warehouse_seconds < 60 AND "
                                     "abs(credits_estimate - warehouse_seconds / 3600) < 1e-6 FROM "
                                     "monitoring.pipeline_runs WHERE run_id = '{}'",
                                     run_id_of(run))),
              "t");
}

}  // namespace
