// tests/integration/pipeline_test.cpp: runs against a real PostgreSQL (source and warehouse DBs).
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>

#include "pipeline/config/config.hpp"
#include "pipeline/core/error.hpp"
#include "pipeline/run/run.hpp"
#include "pipeline/runtime/logging.hpp"
#include "pipeline/state/run_lock.hpp"
#include "pipeline/warehouse/postgres/copy_binary.hpp"
#include "pipeline/warehouse/postgres/copy_text.hpp"
#include "pipeline/warehouse/postgres/merge_sql.hpp"
#include "tests/support/pipeline_fixture.hpp"

namespace {

namespace fs = std::filesystem;

class PipelineTest : public test::PipelineFixture {
protected:
    pipeline::RunSummary run(std::optional<std::string> date = std::nullopt) const {
        pipeline::RunOptions options;
        if (date) {
            options.backfill_date = pipeline::parse_date(*date);
        }
        return pipeline::run_pipeline(config(), options);
    }

    /// A valid order read in batch 2 (rows 1,001-2,000 in extraction order).
    std::string valid_id_in_batch_two() const {
        return src_.scalar(
            "SELECT o.order_id FROM (SELECT order_id, row_number() OVER (ORDER BY updated_at, "
            "order_id) AS rn FROM orders) o JOIN expected_orders e USING (order_id) "
            "WHERE o.rn BETWEEN 1400 AND 1600 ORDER BY o.rn LIMIT 1");
    }

    /// Puts an old (2000-01-01) version of order `id` into silver.orders.
    void insert_older_version(const std::string& id) const {
        wh_.exec(fmt::format(
            "INSERT INTO silver.orders VALUES ({}, 1, 'x', NULL, 1, 0, 0, 1, 'placed', NULL, "
            "NULL, 'economy', '2000-01-01', 0, '2000-01', NULL, NULL, NULL, false, NULL, "
            "'2000-01-01Z', '2000-01-01Z', NULL, NULL, now())",
            id));
    }
};

TEST_F(PipelineTest, InitialLoadMatchesTheSpecColumnByColumn) {
    const auto summary = run();
    EXPECT_EQ(summary.counts.rows_extracted, 5000);
    EXPECT_EQ(summary.counts.rows_rejected, 100);
    EXPECT_EQ(summary.counts.rows_written, 4900);
    EXPECT_EQ(summary.counts.rows_inserted, 4900);
    EXPECT_EQ(summary.counts.rows_updated, 0);
    const auto want = expected();
    ASSERT_EQ(want.size(), 4900u);
    EXPECT_EQ(loaded(), want);
    // Hostile text arrived byte-exact (the oracle passes it through untouched).
    EXPECT_GT(std::stoi(wh_.scalar("SELECT count(*) FROM silver.orders WHERE restaurant_id LIKE "
                                   "E'%\\n%' AND store_id <> '' ")),
              0);
}

TEST_F(PipelineTest, DlqHoldsExactlyTheInvalidRowsWithTheirCodes) {
    const auto summary = run();
    ASSERT_TRUE(summary.dlq_file);
    EXPECT_EQ(summary.dlq_file->parent_path(), dir_.path() / "dlq");
    EXPECT_NE(summary.dlq_file->filename().string().find(summary.run_id), std::string::npos);
    const auto got = dlq_entries(*summary.dlq_file);
    EXPECT_EQ(got.size(), 100u);
    EXPECT_EQ(got, expected_rejections());
}

TEST_F(PipelineTest, SecondRunWithoutChangesWritesNothing) {
    run();
    const std::string fingerprint_sql =
        "SELECT md5(string_agg(t::text, E'\\n' ORDER BY order_id)) FROM silver.orders t";
    const std::string before = wh_.scalar(fingerprint_sql);
    const auto second = run();
    EXPECT_EQ(second.counts.rows_inserted, 0);
    EXPECT_EQ(second.counts.rows_updated, 0);
    EXPECT_EQ(wh_.scalar(fingerprint_sql), before) << "table changed (ingested_at included)";
}

TEST_F(PipelineTest, UpdatesLandAndNewRowsAreInserted) {
    run();
    src_.exec(
        "UPDATE orders SET status = 'cancelled', cancellation_reason = 'payment_failed', "
        "cancelled_at = now(), updated_at = now() WHERE order_id IN (10, 20, 30);"
        "SELECT freshmart_seed(200, 100001, now(), 0);");
    const auto second = run();
    EXPECT_EQ(second.counts.rows_updated, 3);
    EXPECT_EQ(second.counts.rows_inserted, 196);  // 200 new rows, 4 of them invalid
    EXPECT_EQ(loaded(), expected());
    EXPECT_EQ(wh_.scalar("SELECT cancellation_type FROM silver.orders WHERE order_id = 20"),
              "system");
}

TEST_F(PipelineTest, OlderVersionNeverOverwritesNewer) {
    run();
    // The warehouse holds a newer version of order 40 than the source has.
    wh_.exec(
        "UPDATE silver.orders SET updated_at = updated_at + interval '1 day', "
        "status = 'newer' WHERE order_id = 40");
    // The source gains an older duplicate of order 41, read after the current one.
    src_.exec(
        "INSERT INTO orders SELECT order_id, customer_id, store_id, restaurant_id, "
        "order_amount, delivery_fee, discount_amount, 'placed', payment_method, "
        "payment_status, created_at, updated_at - interval '1 second', delivered_at, "
        "cancelled_at, cancellation_reason, promo_code, notes FROM orders WHERE order_id = 41");
    const std::string day40 =
        src_.scalar("SELECT (updated_at AT TIME ZONE 'UTC')::date FROM orders WHERE order_id = 40");
    const std::string day41 = src_.scalar(
        "SELECT (max(updated_at) AT TIME ZONE 'UTC')::date FROM orders WHERE order_id = 41");
    run(day40);
    run(day41);
    EXPECT_EQ(wh_.scalar("SELECT status FROM silver.orders WHERE order_id = 40"), "newer");
    EXPECT_EQ(wh_.rows("SELECT status FROM silver.orders WHERE order_id = 41"),
              src_.rows("SELECT status FROM expected_orders WHERE order_id = 41 "
                        "ORDER BY updated_at DESC LIMIT 1"));
}

TEST_F(PipelineTest, LateCommitInsideTheOverlapIsNotMissed) {
    const auto first = run();
    ASSERT_TRUE(first.checkpoint_saved);
    const std::string watermark = pipeline::format_timestamp(*first.checkpoint_saved);
    // Committed after the first run, but stamped before its watermark: a
    // transaction that started earlier and committed late.
    src_.exec(fmt::format(
        "SELECT freshmart_seed(1, 900001, '{0}'::timestamptz - interval '2 minutes', 0);"
        "SELECT freshmart_seed(1, 900002, '{0}'::timestamptz - interval '10 minutes', 0);",
        watermark));
    run();
    EXPECT_EQ(wh_.scalar("SELECT count(*) FROM silver.orders WHERE order_id = 900001"), "1");
    // Outside the 5-minute overlap the row is beyond the window: the overlap is what saved 900001.
    EXPECT_EQ(wh_.scalar("SELECT count(*) FROM silver.orders WHERE order_id = 900002"), "0");
}

TEST_F(PipelineTest, BackfillReprocessesExactlyOneDayAndLeavesTheCheckpoint) {
    run();
    const std::string day =
        src_.scalar("SELECT (min(updated_at) AT TIME ZONE 'UTC')::date + 1 FROM orders");
    const std::string before = read(checkpoint_file());
    struct stat st_before {};
    ASSERT_EQ(::stat(checkpoint_file().c_str(), &st_before), 0);
    wh_.exec("TRUNCATE silver.orders");

    const auto summary = run(day);
    EXPECT_EQ(summary.mode, pipeline::RunMode::backfill);
    const std::string in_day =
        fmt::format("updated_at >= '{0}'::date AND updated_at < '{0}'::date + 1", day);
    const auto want = expected(in_day);
    ASSERT_GT(want.size(), 100u);
    EXPECT_EQ(loaded(), want);
    ASSERT_TRUE(summary.dlq_file);
    EXPECT_EQ(dlq_entries(*summary.dlq_file), expected_rejections(in_day));

    struct stat st_after {};
    ASSERT_EQ(::stat(checkpoint_file().c_str(), &st_after), 0);
    EXPECT_EQ(read(checkpoint_file()), before);
    EXPECT_EQ(st_after.st_ino, st_before.st_ino);
    EXPECT_EQ(st_after.st_mtim.tv_nsec, st_before.st_mtim.tv_nsec);
    EXPECT_EQ(run_record(summary.run_id, "mode, run_date, status"),
              fmt::format("backfill|{}|success", day));
}

TEST_F(PipelineTest, RunRecordOfASuccessfulRun) {
    const auto summary = run();
    const std::string today = pipeline::format_date(pipeline::utc_parts(pipeline::now_utc()).date);
    EXPECT_EQ(
        run_record(summary.run_id,
                   "pipeline_name, mode, run_date, status, rows_extracted, rows_written, "
                   "rows_rejected, rows_inserted, rows_updated, error_message, environment, "
                   "finished_at >= started_at, duration_seconds > 0"),
        fmt::format("orders|incremental|{}|success|5000|4900|100|4900|0|<null>|development|t|t",
                    today));
}

TEST_F(PipelineTest, FailedLoadIsRecordedAndTheCheckpointDoesNotMove) {
    run();
    const std::string checkpoint_before = read(checkpoint_file());
    src_.exec("SELECT freshmart_seed(3000, 200001, now(), 0)");
    // The warehouse connection dies whenever order 202500 (a later batch) is
    // loaded: a fault that retries cannot heal. Three attempts, then failure.
    extra_settings_["ORDERS_PIPELINE_RETRY_MAX_ATTEMPTS"] = "3";
    wh_.exec(
        "CREATE FUNCTION kill_loader() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
        "PERFORM pg_terminate_backend(pg_backend_pid()); RETURN NEW; END $$;"
        "CREATE TRIGGER kill_loader BEFORE INSERT ON silver.orders FOR EACH ROW "
        "WHEN (NEW.order_id = 202500) EXECUTE FUNCTION kill_loader();");
    std::string run_id;
    try {
        run();
        FAIL() << "the run succeeded although its destination connection was killed";
    } catch (const pipeline::Error& e) {
        EXPECT_EQ(e.kind(), pipeline::ErrorKind::destination);
        EXPECT_TRUE(e.transient()) << e.what();
    }
    EXPECT_EQ(read(checkpoint_file()), checkpoint_before);
    const auto failed = wh_.rows(
        "SELECT status, rows_extracted > 0, error_message LIKE '%[DEST %', finished_at IS NOT NULL "
        "FROM monitoring.pipeline_runs ORDER BY started_at DESC LIMIT 1");
    ASSERT_EQ(failed.size(), 1u);
    EXPECT_EQ(failed.front(), "failed|t|t|t");
    // Batches committed before the failure are fine to keep: the rerun is idempotent.
    wh_.exec("DROP TRIGGER kill_loader ON silver.orders");
    run();
    EXPECT_EQ(loaded(), expected());
}

TEST_F(PipelineTest, SecondRunIsSkippedWhileTheLockIsHeld) {
    run();
    const std::string fingerprint_sql =
        "SELECT md5(string_agg(t::text, E'\\n' ORDER BY order_id)) FROM silver.orders t";
    const std::string before = wh_.scalar(fingerprint_sql);
    src_.exec("SELECT freshmart_seed(10, 300001, now(), 0)");
    auto holder = wh_.connect();
    holder.exec(
        fmt::format("SELECT pg_advisory_lock({}, hashtext('orders'))", pipeline::run_lock_class_id),
        "[lock]");
    const std::string checkpoint_before = read(checkpoint_file());
    try {
        run();
        FAIL() << "a run went ahead while another held the lock";
    } catch (const pipeline::Error& e) {
        EXPECT_EQ(e.kind(), pipeline::ErrorKind::lock_held);
        EXPECT_NE(std::string(e.what()).find("pid"), std::string::npos) << e.what();
    }
    EXPECT_EQ(wh_.scalar(fingerprint_sql), before);
    EXPECT_EQ(read(checkpoint_file()), checkpoint_before);
    EXPECT_EQ(wh_.scalar("SELECT count(*) FROM monitoring.pipeline_runs WHERE status = 'skipped'"),
              "1");
}

TEST_F(PipelineTest, CorruptCheckpointIsArchivedAndTheRunLoadsEverything) {
    fs::create_directories(checkpoint_file().parent_path());
    std::ofstream(checkpoint_file()) << "{\"watermark\": \"not a time\"}";
    const auto summary = run();
    EXPECT_EQ(summary.counts.rows_extracted, 5000);
    int archived = 0;
    for (const auto& entry : fs::directory_iterator(checkpoint_file().parent_path())) {
        archived += entry.path().filename().string().starts_with("orders.checkpoint.json.corrupt.");
    }
    EXPECT_EQ(archived, 1);
    EXPECT_EQ(loaded(), expected());
}

TEST_F(PipelineTest, EmptyWindowLeavesTheCheckpointUnchanged) {
    src_.exec("TRUNCATE orders");
    const auto summary = run();
    EXPECT_EQ(summary.counts.rows_extracted, 0);
    EXPECT_FALSE(summary.checkpoint_saved);
    EXPECT_FALSE(fs::exists(checkpoint_file()));
}

TEST_F(PipelineTest, StartFromBoundsTheFirstRun) {
    const std::string start = src_.scalar(
        "SELECT to_char(max(updated_at) - interval '6 hours', "
        "'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"') FROM orders");
    pipeline::RunOptions options;
    const auto summary =
        pipeline::run_pipeline(config({{"ORDERS_PIPELINE_START_FROM", start}}), options);
    const std::string window = fmt::format("updated_at > '{}'::timestamptz", start);
    EXPECT_EQ(summary.counts.rows_extracted,
              std::stoll(src_.scalar(fmt::format("SELECT count(*) FROM orders WHERE {}", window))));
    EXPECT_EQ(loaded(), expected(window));
}

TEST_F(PipelineTest, InsertOnlyFastPathFallsBackToMergeWhenAKeyAppears) {
    // Batch 2's probe finds none of its keys in the empty target; while the run pauses,
    // another writer adds an older version of one of them. The direct COPY then hits the
    // primary key, and the batch must go through staging + MERGE (newer-wins) instead.
    const std::string id = valid_id_in_batch_two();
    ASSERT_FALSE(id.empty());
    test::ChildProcess run({"run"},
                           process_env({{"ORDERS_PIPELINE_FAIL_POINT", "after_probe:2=sleep:2000"},
                                        {"ORDERS_PIPELINE_LOG_LEVEL", "DEBUG"}}));
    ASSERT_TRUE(run.wait_for_err("\"point\":\"after_probe:2\"", std::chrono::seconds(30)));
    insert_older_version(id);
    const auto& result = run.wait();
    ASSERT_EQ(result.exit_code, 0) << result.err;
    EXPECT_NE(result.err.find("\"event\":\"direct_copy_fallback\""), std::string::npos);
    EXPECT_EQ(loaded(), expected());
}

TEST_F(PipelineTest, DirectCopyWithoutProbeFallsBackWhenTheTargetHasAKey) {
    // Batch 1 is probed and goes straight into the target; batch 2 then skips
    // the probe, but one of its keys is already there (an older version): its
    // COPY fails on the primary key and the batch is merged (newer wins).
    const std::string id = valid_id_in_batch_two();
    ASSERT_FALSE(id.empty());
    const auto silver = *pipeline::SqlIdentifier::parse("silver");
    const auto orders = *pipeline::SqlIdentifier::parse("orders");
    wh_.exec(pipeline::pg_create_target_sql(silver, orders));
    insert_older_version(id);
    const auto result = run_cli({"run"});
    ASSERT_EQ(result.exit_code, 0) << result.err;
    EXPECT_NE(result.err.find("\"event\":\"direct_copy_fallback\",\"batch\":2,\"probed\":false"),
              std::string::npos)
        << result.err;
    EXPECT_EQ(loaded(), expected());
}

// Rows at the edges of every binary encoding: signs, zero, the numeric(14,2)
// maximum, dates and instants before PostgreSQL's 2000-01-01 epoch, text that
// text COPY must escape, and NULLs.
std::vector<pipeline::OrderRow> edge_rows() {
    std::vector<pipeline::OrderRow> rows;
    pipeline::OrderRow a;
    a.order_id = 1;
    a.customer_id = 9'007'199'254'740'993;
    a.store_id = "S\t1\\n ☕";
    a.restaurant_id = "";
    a.order_amount = 99'999'999'999'999;
    a.delivery_fee = 5;
    a.discount_amount = -12'345;
    a.total_value = 0;
    a.status = pipeline::OrderStatus::delivered;
    a.payment_method = pipeline::PaymentMethod::card;
    a.payment_status = "paid\n";
    a.order_tier = pipeline::OrderTier::premium;
    a.order_date = {1969, 12, 31};
    a.order_hour = 23;
    a.delivery_minutes_tenths = -3;
    a.cancellation_type = pipeline::CancellationType::system;
    a.cancellation_reason = "payment_failed";
    a.has_promo = true;
    a.promo_code = "X\r";
    a.created_at = pipeline::Timestamp{-1};
    a.updated_at = pipeline::Timestamp{946'684'799'999'999};
    a.delivered_at = pipeline::Timestamp{946'684'800'000'000};
    a.cancelled_at = pipeline::Timestamp{4'102'444'800'123'456};
    a.ingested_at = pipeline::Timestamp{1'772'341'200'000'001};
    rows.push_back(a);
    pipeline::OrderRow b;  // mostly zeros and NULLs
    b.order_id = -5;
    b.store_id = "s";
    b.delivery_minutes_tenths = 123'456'789'012;
    rows.push_back(b);
    pipeline::OrderRow c = a;
    c.order_id = 2;
    c.order_amount = 10'000'00;
    c.delivery_fee = 1;
    c.discount_amount = -99'999'999'999'999;
    c.delivery_minutes_tenths = 100'000;
    c.order_date = {2000, 1, 1};
    rows.push_back(c);
    return rows;
}

TEST_F(PipelineTest, BinaryCopyStoresExactlyWhatTextCopyStores) {
    auto table = *pipeline::SqlIdentifier::parse("orders");
    std::vector<std::string> loaded_by;
    for (const auto format : {pipeline::CopyFormat::text, pipeline::CopyFormat::binary}) {
        const std::string name = format == pipeline::CopyFormat::text ? "by_text" : "by_binary";
        auto schema = *pipeline::SqlIdentifier::parse(name);
        wh_.exec(pipeline::pg_create_target_sql(schema, table));
        std::string data;
        if (format == pipeline::CopyFormat::binary) {
            pipeline::append_copy_binary_header(data);
        }
        for (const auto& row : edge_rows()) {
            if (format == pipeline::CopyFormat::binary) {
                pipeline::append_copy_binary_row(data, row);
            } else {
                pipeline::append_copy_row(data, row);
            }
        }
        if (format == pipeline::CopyFormat::binary) {
            pipeline::append_copy_binary_trailer(data);
        }
        pipeline::PgConnection conn = wh_.connect();
        conn.begin_copy(pipeline::pg_copy_target_sql(schema, table, format), "[COPY test]");
        conn.put_copy_data(data);
        EXPECT_EQ(conn.end_copy(), 3);
    }
    const auto text_rows = wh_.rows("SELECT * FROM by_text.orders ORDER BY order_id");
    ASSERT_EQ(text_rows.size(), 3U);
    EXPECT_EQ(wh_.rows("SELECT * FROM by_binary.orders ORDER BY order_id"), text_rows);
    EXPECT_EQ(wh_.scalar("SELECT count(*) FROM by_binary.orders b JOIN by_text.orders t "
                         "USING (order_id) WHERE b.store_id = t.store_id AND "
                         "b.order_amount = t.order_amount AND b.created_at = t.created_at AND "
                         "b.delivery_minutes = t.delivery_minutes AND b.order_date = t.order_date"),
              "3");
}

TEST_F(PipelineTest, HandMadeTargetWithOtherTypesLoadsThroughTextCopy) {
    // A target created before the first run with looser types than ours:
    // binary COPY would be refused, so the load must use text COPY.
    wh_.exec(
        "CREATE SCHEMA silver; CREATE TABLE silver.orders (order_id bigint PRIMARY KEY, "
        "customer_id bigint, store_id text, restaurant_id text, order_amount numeric, "
        "delivery_fee numeric, discount_amount numeric, total_value numeric, status text, "
        "payment_method text, payment_status text, order_tier text, order_date date, "
        "order_hour integer, order_month text, delivery_minutes numeric, cancellation_type text, "
        "cancellation_reason text, has_promo boolean, promo_code text, created_at timestamptz, "
        "updated_at timestamptz, delivered_at timestamptz, cancelled_at timestamptz, "
        "ingested_at timestamptz)");
    const auto result = run_cli({"run"});
    ASSERT_EQ(result.exit_code, 0) << result.err;
    EXPECT_NE(result.err.find("\"event\":\"copy_format\",\"format\":\"text\""), std::string::npos);
    EXPECT_EQ(loaded(), expected());
}

TEST_F(PipelineTest, TargetWithOurTypesLoadsThroughBinaryCopy) {
    const auto result = run_cli({"run"}, {{"ORDERS_PIPELINE_LOG_LEVEL", "DEBUG"}});
    ASSERT_EQ(result.exit_code, 0) << result.err;
    EXPECT_NE(result.err.find("\"event\":\"copy_format\",\"format\":\"binary\""),
              std::string::npos);
    EXPECT_EQ(loaded(), expected());
}

}  // namespace
