// tests/integration/operations_test.cpp: backfill, runs, checkpoint and the metrics file,
// through the real binary against a real PostgreSQL.
#include <fmt/format.h>
#include <fmt/ranges.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <string>

#include "pipeline/core/timestamp.hpp"
#include "pipeline/state/checkpoint.hpp"
#include "pipeline/state/run_lock.hpp"
#include "tests/support/pipeline_fixture.hpp"

namespace {

namespace fs = std::filesystem;
using Json = nlohmann::json;

constexpr std::string_view fingerprint_sql =
    "SELECT md5(string_agg(t::text, E'\\n' ORDER BY order_id)) FROM silver.orders t";

class OperationsTest : public test::PipelineFixture {
protected:
    static std::string day(int days_from_today) {
        const auto today = pipeline::days_from_civil(pipeline::utc_parts(pipeline::now_utc()).date);
        return pipeline::format_date(pipeline::civil_from_days(today + days_from_today));
    }

    // The value of the metric line that starts with `prefix` ("name{labels}").
    static std::string metric(const std::string& text, std::string_view prefix) {
        const auto at = text.find(std::string(prefix) + " ");
        if (at == std::string::npos || (at > 0 && text[at - 1] != '\n')) {
            return "<missing>";
        }
        const auto start = at + prefix.size() + 1;
        return text.substr(start, text.find('\n', start) - start);
    }
};

TEST_F(OperationsTest, BackfillLoadsTheRangeIsIdempotentAndLeavesTheCheckpointAlone) {
    // The seed spans the last 3 days; a 4-day range covers all of it.
    const auto first = run_cli({"backfill", "--from", day(-3), "--to", day(0)});
    ASSERT_EQ(first.exit_code, 0) << first.err;
    EXPECT_NE(first.out.find("4 day(s)"), std::string::npos) << first.out;
    EXPECT_EQ(loaded(), expected());
    EXPECT_FALSE(fs::exists(checkpoint_file())) << "a backfill moved the checkpoint";
    EXPECT_EQ(wh_.scalar("SELECT count(*) FROM monitoring.pipeline_runs WHERE mode = 'backfill' "
                         "AND status = 'success'"),
              "4");
    EXPECT_NE(first.err.find("\"event\":\"backfill_progress\""), std::string::npos);

    const std::string before = wh_.scalar(fingerprint_sql);
    const std::string second_started = wh_.scalar("SELECT now()");
    const auto second = run_cli({"backfill", "--from", day(-3), "--to", day(0)});
    ASSERT_EQ(second.exit_code, 0) << second.err;
    EXPECT_EQ(wh_.scalar(fingerprint_sql), before) << "a repeated backfill changed the table";
    EXPECT_EQ(wh_.scalar(fmt::format("SELECT count(*) || ',' || sum(rows_extracted) || ',' || "
                                     "sum(rows_inserted + rows_updated) FROM "
                                     "monitoring.pipeline_runs WHERE started_at >= '{}'",
                                     second_started)),
              "4,5000,0")
        << "the second backfill re-read every row and changed none";

    const auto bad = run_cli({"backfill", "--from", day(0), "--to", day(-1)});
    EXPECT_EQ(bad.exit_code, 2);
}

TEST_F(OperationsTest, MetricsFileIsWrittenOnSuccessAndOnFailure) {
    const fs::path metrics = dir_.path() / "metrics" / "orders.prom";
    const auto ok = run_cli({"run", "--metrics-file", metrics.string()});
    ASSERT_EQ(ok.exit_code, 0) << ok.err;
    const std::string first = read(metrics);
    const std::string p = "{pipeline=\"orders\"}";
    EXPECT_EQ(metric(first, "orders_pipeline_rows_extracted" + p), "5000") << first;
    EXPECT_EQ(metric(first, "orders_pipeline_rows_rejected" + p), "100");
    EXPECT_EQ(metric(first, "orders_pipeline_rows_written" + p), "4900");
    EXPECT_EQ(metric(first,
                     "orders_pipeline_last_run_status{pipeline=\"orders\",mode=\"incremental\","
                     "status=\"success\"}"),
              "1");
    const std::string last_success =
        metric(first, "orders_pipeline_last_success_timestamp_seconds" + p);
    ASSERT_NE(last_success, "<missing>");
    EXPECT_NE(metric(first, "orders_pipeline_checkpoint_lag_seconds" + p), "<missing>");
    EXPECT_NE(first.find("# TYPE orders_pipeline_rows_extracted gauge"), std::string::npos);

    src_.exec("SELECT freshmart_seed(3000, 100001, now(), 0)");
    const auto failed = run_cli({"run", "--metrics-file", metrics.string()},
                                {{"ORDERS_PIPELINE_FAIL_POINT", "after_stage:2=error"}});
    ASSERT_EQ(failed.exit_code, 1);
    const std::string second = read(metrics);
    EXPECT_EQ(metric(second,
                     "orders_pipeline_last_run_status{pipeline=\"orders\",mode=\"incremental\","
                     "status=\"failed\"}"),
              "1")
        << second;
    EXPECT_EQ(metric(second,
                     "orders_pipeline_last_run_status{pipeline=\"orders\",mode=\"incremental\","
                     "status=\"success\"}"),
              "0");
    EXPECT_EQ(metric(second, "orders_pipeline_last_success_timestamp_seconds" + p), last_success)
        << "the last success must survive a failed run";
    EXPECT_EQ(metric(second, "orders_pipeline_rows_extracted" + p), "1000") << "batch 1 only";
    EXPECT_TRUE(fs::exists(metrics));
    int leftovers = 0;
    for (const auto& entry : fs::directory_iterator(metrics.parent_path())) {
        leftovers += entry.path() != metrics ? 1 : 0;
    }
    EXPECT_EQ(leftovers, 0) << "temporary files left next to the metrics file";
}

TEST_F(OperationsTest, RunsListsRecordsNewestFirstWithFilters) {
    ASSERT_EQ(run_cli({"run"}).exit_code, 0);
    src_.exec("SELECT freshmart_seed(1500, 100001, now(), 0)");
    ASSERT_EQ(run_cli({"run"}, {{"ORDERS_PIPELINE_FAIL_POINT", "after_stage:1=error"}}).exit_code,
              1);
    const auto json = run_cli({"runs", "--json"});
    ASSERT_EQ(json.exit_code, 0) << json.err;
    const Json runs = Json::parse(json.out);
    ASSERT_EQ(runs.size(), 2U);
    EXPECT_EQ(runs[0]["status"], "failed");
    EXPECT_EQ(runs[1]["status"], "success");
    EXPECT_EQ(runs[1]["rows_extracted"], 5000);
    EXPECT_NE(runs[0]["error"].get<std::string>().find("fail point"), std::string::npos) << runs[0];

    const auto table = run_cli({"runs", "--status", "success"});
    ASSERT_EQ(table.exit_code, 0);
    EXPECT_NE(table.out.find("RUN ID"), std::string::npos);
    EXPECT_NE(table.out.find("5000/4900/100"), std::string::npos) << table.out;
    EXPECT_EQ(table.out.find("failed"), std::string::npos);
    EXPECT_EQ(Json::parse(run_cli({"runs", "--limit", "1", "--json"}).out).size(), 1U);
    EXPECT_EQ(run_cli({"runs", "--status", "bogus"}).exit_code, 2);
}

TEST_F(OperationsTest, CheckpointShowSetAndResetWithTheLockAndNothingDeleted) {
    const auto none = run_cli({"checkpoint", "show"});
    ASSERT_EQ(none.exit_code, 0) << none.err;
    EXPECT_NE(none.out.find("none: the next run loads everything"), std::string::npos);

    ASSERT_EQ(run_cli({"run"}).exit_code, 0);
    const auto shown = run_cli({"checkpoint", "show", "--json"});
    ASSERT_EQ(shown.exit_code, 0) << shown.err;
    const Json state = Json::parse(shown.out);
    std::string why;
    const auto file_state = pipeline::parse_checkpoint(read(checkpoint_file()), why);
    ASSERT_TRUE(file_state);
    EXPECT_EQ(state["watermark"], pipeline::format_timestamp(file_state->watermark));
    EXPECT_GE(state["lag_seconds"].get<double>(), 0.0);
    EXPECT_LT(state["lag_seconds"].get<double>(), 600.0);

    EXPECT_EQ(run_cli({"checkpoint", "set", "2026-01-01T00:00:00Z"}).exit_code, 2) << "no --yes";
    EXPECT_EQ(run_cli({"checkpoint", "set", "yesterday", "--yes"}).exit_code, 2);
    const auto set = run_cli({"checkpoint", "set", "2026-01-01T00:00:00Z", "--yes"});
    ASSERT_EQ(set.exit_code, 0) << set.err;
    EXPECT_EQ(pipeline::format_timestamp(
                  pipeline::parse_checkpoint(read(checkpoint_file()), why)->watermark),
              "2026-01-01T00:00:00.000000Z");

    {  // A run in progress (its lock held): set and reset refuse.
        auto holder = wh_.connect();
        holder.exec(fmt::format("SELECT pg_advisory_lock({}, hashtext('orders'))",
                                pipeline::run_lock_class_id),
                    "[lock]");
        EXPECT_EQ(run_cli({"checkpoint", "reset", "--yes"}).exit_code, 4);
        EXPECT_EQ(run_cli({"checkpoint", "set", "2026-02-01T00:00:00Z", "--yes"}).exit_code, 4);
    }
    EXPECT_TRUE(fs::exists(checkpoint_file()));

    const auto reset = run_cli({"checkpoint", "reset", "--yes"});
    ASSERT_EQ(reset.exit_code, 0) << reset.err;
    EXPECT_FALSE(fs::exists(checkpoint_file()));
    int archived = 0;
    for (const auto& entry : fs::directory_iterator(checkpoint_file().parent_path())) {
        if (entry.path().filename().string().starts_with("orders.checkpoint.json.reset.")) {
            ++archived;
            EXPECT_NE(read(entry.path()).find("2026-01-01T00:00:00"), std::string::npos)
                << "content kept";
        }
    }
    EXPECT_EQ(archived, 1);
    // With no checkpoint, the next run loads everything again (newer-wins: no change).
    const std::string before = wh_.scalar(fingerprint_sql);
    const auto rerun = run_cli({"run"});
    ASSERT_EQ(rerun.exit_code, 0) << rerun.err;
    EXPECT_NE(rerun.out.find("extracted 5000"), std::string::npos) << rerun.out;
    EXPECT_EQ(wh_.scalar(fingerprint_sql), before);
}

}  // namespace

namespace {

TEST_F(OperationsTest, DryRunCountsAndPrintsSqlButWritesNothing) {
    const auto dry = run_cli({"run", "--dry-run"});
    ASSERT_EQ(dry.exit_code, 0) << dry.err;
    EXPECT_NE(dry.out.find("extracted 5000, would write 4900, would reject 100"), std::string::npos)
        << dry.out;
    EXPECT_NE(dry.out.find("invalid_status"), std::string::npos);
    EXPECT_NE(dry.out.find("FROM public.orders"), std::string::npos);
    EXPECT_NE(dry.out.find("ON CONFLICT (order_id) DO UPDATE"), std::string::npos);
    EXPECT_EQ(wh_.scalar("SELECT count(*) FROM information_schema.schemata WHERE schema_name IN "
                         "('silver', 'monitoring')"),
              "0")
        << "a dry run created tables";
    EXPECT_FALSE(fs::exists(checkpoint_file()));
    EXPECT_TRUE(!fs::exists(dlq_dir()) || fs::is_empty(dlq_dir()));

    // A corrupt checkpoint is reported, not moved.
    fs::create_directories(checkpoint_file().parent_path());
    { std::ofstream(checkpoint_file()) << "not json"; }
    const auto corrupt = run_cli({"run", "--dry-run"});
    ASSERT_EQ(corrupt.exit_code, 0) << corrupt.err;
    EXPECT_NE(corrupt.out.find("is corrupt"), std::string::npos) << corrupt.out;
    EXPECT_EQ(read(checkpoint_file()), "not json");
    EXPECT_EQ(std::distance(fs::directory_iterator(checkpoint_file().parent_path()),
                            fs::directory_iterator()),
              1);
}

TEST_F(OperationsTest, DlqReplayLoadsFixedRowsOnceAndKeepsEverything) {
    ASSERT_EQ(run_cli({"run"}).exit_code, 0);
    std::vector<fs::path> files;
    for (const auto& entry : fs::directory_iterator(dlq_dir())) {
        files.push_back(entry.path());
    }
    ASSERT_EQ(files.size(), 1U);
    const fs::path file = files.front();
    // Fix the data of two kinds of rejects in the file (as an engineer would after
    // learning what went wrong); the other rows stay invalid.
    std::string fixed_text;
    std::vector<std::string> fixed_ids;
    {
        std::ifstream in(file);
        std::string line;
        while (std::getline(in, line)) {
            Json j = Json::parse(line);
            const std::string error = j["error"];
            if (error.starts_with("invalid_status")) {
                j["row"]["status"] = "placed";
                fixed_ids.push_back(j["row"]["order_id"]);
            } else if (error.starts_with("negative_order_amount")) {
                j["row"]["order_amount"] = "5.50";
                fixed_ids.push_back(j["row"]["order_id"]);
            }
            fixed_text += j.dump() + "\n";
        }
    }
    ASSERT_EQ(fixed_ids.size(), 20U);
    { std::ofstream(file) << fixed_text; }
    // The warehouse already holds a newer version of one of them: it must survive.
    wh_.exec(fmt::format(
        "INSERT INTO silver.orders SELECT {}, customer_id, store_id, restaurant_id, order_amount, "
        "delivery_fee, discount_amount, total_value, 'newer', payment_method, payment_status, "
        "order_tier, order_date, order_hour, order_month, delivery_minutes, cancellation_type, "
        "cancellation_reason, has_promo, promo_code, created_at, now() + interval '1 day', "
        "delivered_at, cancelled_at, ingested_at FROM silver.orders WHERE order_id = 10",
        fixed_ids.front()));

    const auto replay = run_cli({"dlq", "replay", file.string()});
    ASSERT_EQ(replay.exit_code, 0) << replay.err;
    EXPECT_NE(replay.out.find("100 row(s) replayed, 20 loaded (inserted 19, updated 0), 80 still "
                              "rejected"),
              std::string::npos)
        << replay.out;
    EXPECT_FALSE(fs::exists(file));
    EXPECT_EQ(wh_.scalar(fmt::format("SELECT status FROM silver.orders WHERE order_id = {}",
                                     fixed_ids.front())),
              "newer");
    EXPECT_EQ(wh_.scalar(fmt::format("SELECT count(*) FROM silver.orders WHERE order_id IN ({})",
                                     fmt::join(fixed_ids, ","))),
              "20");
    EXPECT_EQ(wh_.scalar("SELECT mode || ',' || status FROM monitoring.pipeline_runs ORDER BY "
                         "started_at DESC LIMIT 1"),
              "replay,success");

    const std::string before = wh_.scalar(fingerprint_sql);
    const auto again = run_cli({"dlq", "replay", file.string()});
    ASSERT_EQ(again.exit_code, 0) << again.err;
    EXPECT_NE(again.out.find("already replayed"), std::string::npos) << again.out;
    EXPECT_EQ(wh_.scalar(fingerprint_sql), before);

    const auto listed = run_cli({"dlq", "list", "--json"});
    ASSERT_EQ(listed.exit_code, 0) << listed.err;
    const Json list = Json::parse(listed.out);
    ASSERT_EQ(list.size(), 2U) << list;
    int pending_rows = -1;
    int replayed_files = 0;
    for (const auto& l : list) {
        if (l["state"] == "pending") {
            pending_rows = l["rows"];
        } else {
            ++replayed_files;
            EXPECT_NE(l["file"].get<std::string>().find(".replayed."), std::string::npos);
            EXPECT_EQ(run_cli({"dlq", "replay", l["file"].get<std::string>()}).exit_code, 0);
        }
    }
    EXPECT_EQ(pending_rows, 80);
    EXPECT_EQ(replayed_files, 1);
    EXPECT_EQ(wh_.scalar(fingerprint_sql), before);
}

TEST_F(OperationsTest, DlqReplayRefusesAFileWithAnUnreadableLine) {
    fs::create_directories(dlq_dir());
    const fs::path file = dlq_dir() / "orders_manual.ndjson";
    const std::string text = "{\"error\":\"x\"}\nnot json\n";
    { std::ofstream(file) << text; }
    const auto replay = run_cli({"dlq", "replay", file.string()});
    EXPECT_EQ(replay.exit_code, 1);
    EXPECT_NE(replay.err.find("line 1 is unreadable"), std::string::npos) << replay.err;
    EXPECT_EQ(read(file), text) << "the file must stay as it was";
    EXPECT_EQ(wh_.scalar("SELECT count(*) FROM information_schema.tables WHERE table_schema = "
                         "'monitoring'"),
              "0");
}

}  // namespace

namespace {

TEST_F(OperationsTest, DoctorPassesOnAHealthySetupAndCatchesMissingIndexAndTable) {
    const auto before_first_run = run_cli({"doctor"});
    EXPECT_EQ(before_first_run.exit_code, 0) << before_first_run.out << before_first_run.err;
    EXPECT_NE(before_first_run.out.find("OK   extraction uses an index on updated_at"),
              std::string::npos)
        << before_first_run.out;
    EXPECT_NE(before_first_run.out.find("WARN checkpoint readable: none yet"), std::string::npos);
    EXPECT_NE(before_first_run.out.find("WARN target table silver.orders: missing; the first run"),
              std::string::npos);

    ASSERT_EQ(run_cli({"run"}).exit_code, 0);
    const auto healthy = run_cli({"doctor", "--json"});
    EXPECT_EQ(healthy.exit_code, 0) << healthy.out;
    std::map<std::string, std::string> level;
    for (const auto& c : Json::parse(healthy.out)) {
        level[c["check"]] = c["level"];
    }
    EXPECT_EQ(level["source reachable, read-only"], "WARN") << "the test source is a primary";
    EXPECT_EQ(level["destination reachable"], "OK");
    EXPECT_EQ(level["target table silver.orders"], "OK");
    EXPECT_EQ(level["run table monitoring.pipeline_runs"], "OK");
    EXPECT_EQ(level["checkpoint readable"], "OK");
    EXPECT_EQ(level["run lock free"], "OK");
    EXPECT_EQ(level["DLQ directory writable"], "WARN") << "100 rows wait for replay";
    EXPECT_EQ(level["consecutive failed runs"], "OK");

    src_.exec("DROP INDEX orders_updated_at_idx");
    wh_.exec("DROP TABLE silver.orders");
    const auto broken = run_cli({"doctor"});
    EXPECT_EQ(broken.exit_code, 1);
    EXPECT_NE(broken.out.find("FAIL extraction uses an index on updated_at: EXPLAIN shows a "
                              "sequential scan of public.orders"),
              std::string::npos)
        << broken.out;
    EXPECT_NE(broken.out.find("FAIL target table silver.orders: missing, although"),
              std::string::npos)
        << broken.out;

    // Rows for the next window (the overlap re-reads none the last run loaded).
    src_.exec("UPDATE orders SET updated_at = now() WHERE order_id % 10 = 1");
    for (int i = 0; i < 3; ++i) {
        run_cli({"run"}, {{"ORDERS_PIPELINE_FAIL_POINT", "after_extract=error"}});
    }
    EXPECT_NE(
        run_cli({"doctor"}).out.find("FAIL consecutive failed runs: 3 since the last success"),
        std::string::npos);
}

}  // namespace
