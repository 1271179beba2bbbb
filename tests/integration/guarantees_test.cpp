// tests/integration/guarantees_test.cpp: crashes, concurrent runs, signals, transient faults,
// hostile text and secrets, each against the real binary and a real PostgreSQL.
#include <fmt/format.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <csignal>
#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>

#include "pipeline/run/run.hpp"
#include "pipeline/source/extractor.hpp"
#include "pipeline/state/checkpoint.hpp"
#include "pipeline/state/run_lock.hpp"
#include "tests/support/pipeline_fixture.hpp"

namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

constexpr int killed_exit = 128 + SIGKILL;

// Changes that give the next incremental window about 2,600 rows (3 batches):
// updates of existing orders and new orders, some of them invalid.
constexpr std::string_view source_changes =
    "UPDATE orders SET status = 'delivering', updated_at = now() "
    "WHERE order_id % 9 = 0 AND order_id < {0};"
    "SELECT freshmart_seed(2000, {0}, now(), 0);";

class GuaranteesTest : public test::PipelineFixture {
protected:
    void change_source() {
        src_.exec(fmt::format(source_changes, next_new_id_));
        next_new_id_ += 100000;
    }

    std::string last_run_status() const {
        return wh_.scalar(
            "SELECT status FROM monitoring.pipeline_runs ORDER BY started_at DESC LIMIT 1");
    }

    // Every valid source version at or below the checkpoint's watermark must
    // be in the warehouse (at that version or newer): the checkpoint never
    // runs ahead of loaded data. Returns the order_ids that break it.
    std::vector<std::string> rows_behind_checkpoint() const {
        std::string why;
        auto state = pipeline::parse_checkpoint(read(checkpoint_file()), why);
        if (!state) {
            return {};  // no checkpoint: nothing is claimed
        }
        const std::string epoch_us = "(extract(epoch FROM updated_at) * 1000000)::bigint";
        std::map<std::string, long long> in_warehouse;
        for (const auto& row :
             wh_.rows(fmt::format("SELECT order_id, {} FROM silver.orders", epoch_us))) {
            const auto bar = row.find('|');
            in_warehouse[row.substr(0, bar)] = std::stoll(row.substr(bar + 1));
        }
        std::vector<std::string> behind;
        for (const auto& row : src_.rows(fmt::format(
                 "SELECT order_id, {} FROM expected_orders WHERE updated_at <= '{}'::timestamptz",
                 epoch_us, pipeline::format_timestamp(state->watermark)))) {
            const auto bar = row.find('|');
            auto it = in_warehouse.find(row.substr(0, bar));
            if (it == in_warehouse.end() || it->second < std::stoll(row.substr(bar + 1))) {
                behind.push_back(row.substr(0, bar));
            }
        }
        return behind;
    }

    // The distinct (order_id, code) pairs over every DLQ file of the test.
    std::set<std::string> all_dlq_entries() const {
        std::set<std::string> all;
        if (fs::exists(dlq_dir())) {
            for (const auto& file : fs::directory_iterator(dlq_dir())) {
                auto entries = dlq_entries(file.path());
                all.insert(entries.begin(), entries.end());
            }
        }
        return all;
    }

    std::set<std::string> distinct_expected_rejections(std::string_view where) const {
        auto all = expected_rejections(where);
        return {all.begin(), all.end()};
    }

    // The elements of `a` that are not in `b`.
    static std::vector<std::string> difference(const std::set<std::string>& a,
                                               const std::set<std::string>& b) {
        std::vector<std::string> out;
        std::set_difference(a.begin(), a.end(), b.begin(), b.end(), std::back_inserter(out));
        return out;
    }

    // The first non-empty run id in a process's log lines.
    static std::string run_id_in(const std::string& log) {
        constexpr std::string_view key = "\"run_id\":\"";
        for (auto at = log.find(key); at != std::string::npos; at = log.find(key, at + 1)) {
            const auto start = at + key.size();
            const auto end = log.find('"', start);
            if (end != std::string::npos && end > start) {
                return log.substr(start, end - start);
            }
        }
        return {};
    }

    static int count_of(const std::string& text, std::string_view needle) {
        int count = 0;
        for (auto at = text.find(needle); at != std::string::npos;
             at = text.find(needle, at + needle.size())) {
            ++count;
        }
        return count;
    }

    // Sum of one count over the batch_loaded log lines.
    static long long sum_of_batches(const std::string& log, const std::string& field) {
        long long sum = 0;
        std::istringstream lines(log);
        for (std::string line; std::getline(lines, line);) {
            if (line.find("\"event\":\"batch_loaded\"") != std::string::npos) {
                sum += nlohmann::json::parse(line)[field].get<long long>();
            }
        }
        return sum;
    }

    // Ends every session of this pipeline's runs on database `db`; returns how many.
    static int terminate_sessions(const test::TestDatabase& db) {
        return std::stoi(db.scalar(fmt::format(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE datname = '{}' "
            "AND application_name LIKE 'orders-pipeline orders %'",
            db.name())));
    }

    long long next_new_id_ = 100001;
};

// ---------------------------------------------------------------------------
// 1. Fail points: crash anywhere, rerun, and the warehouse is exact.

struct FailCase {
    std::string point;
    std::string action;
    bool source_changes_before_rerun;
};

void PrintTo(const FailCase& c, std::ostream* out) {
    *out << c.point << "=" << c.action << (c.source_changes_before_rerun ? " +changes" : "");
}

std::string case_name(const ::testing::TestParamInfo<FailCase>& info) {
    std::string name = info.param.point + "_" + info.param.action +
                       (info.param.source_changes_before_rerun ? "_then_changes" : "");
    for (char& c : name) {
        c = std::isalnum(static_cast<unsigned char>(c)) ? c : '_';
    }
    return name;
}

std::vector<FailCase> fail_cases() {
    const std::vector<std::string> points = {"after_extract:2",
                                             "after_probe:2",
                                             "after_stage:2",
                                             "after_merge:2",
                                             "after_commit:2",
                                             "before_checkpoint",
                                             "checkpoint_before_rename",
                                             "before_final_record"};
    std::vector<FailCase> cases;
    for (const auto& point : points) {
        cases.push_back({point, "kill", false});
        cases.push_back({point, "kill", true});
        cases.push_back({point, "error", true});
    }
    return cases;
}

class FailPointWalk : public GuaranteesTest, public ::testing::WithParamInterface<FailCase> {};

TEST_P(FailPointWalk, CrashThenRerunLeavesExactlyTheExpectedTable) {
    const FailCase& c = GetParam();
    ASSERT_EQ(run_cli({"run"}).exit_code, 0);
    // Rows the incremental windows can see: all rows of the first run, then
    // those stamped after its watermark minus the overlap (some invalid rows
    // are stamped hours in the past: no window ever holds them).
    std::string why;
    const auto first = pipeline::parse_checkpoint(read(checkpoint_file()), why);
    ASSERT_TRUE(first) << why;
    const std::string visible =
        fmt::format("order_id < 100001 OR updated_at > '{}'::timestamptz - interval '5 minutes'",
                    pipeline::format_timestamp(first->watermark));
    change_source();
    const std::string checkpoint_before = read(checkpoint_file());

    const auto crashed =
        run_cli({"run"}, {{"ORDERS_PIPELINE_FAIL_POINT", fmt::format("{}={}", c.point, c.action)}});
    ASSERT_EQ(crashed.exit_code, c.action == "kill" ? killed_exit : 1) << crashed.err;
    const std::string point_name = c.point.substr(0, c.point.find(':'));
    EXPECT_NE(crashed.err.find(c.action == "kill" ? "\"event\":\"fail_point\""
                                                  : "fail point " + c.point + " reached"),
              std::string::npos)
        << "the fail point did not fire: " << crashed.err;
    EXPECT_NE(last_run_status(), "success") << "the crashed run is recorded as a success";
    EXPECT_EQ(rows_behind_checkpoint(), std::vector<std::string>{})
        << "the checkpoint moved past rows that are not in the warehouse";
    if (point_name != "before_final_record") {
        EXPECT_EQ(read(checkpoint_file()), checkpoint_before) << "checkpoint moved before the end";
    }

    if (c.source_changes_before_rerun) {
        change_source();
    }
    const auto rerun = run_cli({"run"});
    ASSERT_EQ(rerun.exit_code, 0) << rerun.err;
    EXPECT_EQ(last_run_status(), "success");
    EXPECT_EQ(loaded(), expected());
    EXPECT_EQ(rows_behind_checkpoint(), std::vector<std::string>{});
    for (const auto& entry : fs::directory_iterator(checkpoint_file().parent_path())) {
        EXPECT_EQ(entry.path().filename(), checkpoint_file().filename()) << "left behind";
    }
    // No rejected row is lost: each is in some DLQ file (a crashed run's
    // file may repeat rows that the rerun rejects again).
    EXPECT_EQ(difference(distinct_expected_rejections(visible), all_dlq_entries()),
              std::vector<std::string>{})
        << "rejected rows missing from every DLQ file";
}

INSTANTIATE_TEST_SUITE_P(EveryPoint, FailPointWalk, ::testing::ValuesIn(fail_cases()), case_name);

// ---------------------------------------------------------------------------
// 2. One run at a time, across processes.

TEST_F(GuaranteesTest, SecondConcurrentProcessIsSkippedAndNamesTheHolder) {
    test::ChildProcess first(
        {"run"}, process_env({{"ORDERS_PIPELINE_FAIL_POINT", "after_commit:1=sleep:3000"}}));
    ASSERT_TRUE(first.wait_for_err("\"point\":\"after_commit:1\"", 60s))
        << "the first run never reached batch 1";

    const auto second = run_cli({"run"});
    EXPECT_EQ(second.exit_code, 4) << second.err;
    const auto& first_result = first.wait();
    ASSERT_EQ(first_result.exit_code, 0) << first_result.err;
    const std::string holder_run_id = run_id_in(first_result.err);
    ASSERT_FALSE(holder_run_id.empty());
    EXPECT_NE(second.err.find(holder_run_id), std::string::npos)
        << "the skipped run does not name the holder: " << second.err;
    EXPECT_EQ(run_record(run_id_in(second.err), "status, rows_extracted"), "skipped|0");
    EXPECT_EQ(run_record(holder_run_id, "status"), "success");
    EXPECT_EQ(loaded(), expected());
}

// ---------------------------------------------------------------------------
// 3. Graceful stop.

TEST_F(GuaranteesTest, SigtermFinishesTheBatchInFlightAndRecordsCancelled) {
    test::ChildProcess run(
        {"run"}, process_env({{"ORDERS_PIPELINE_FAIL_POINT", "after_stage:2=sleep:1500"}}));
    ASSERT_TRUE(run.wait_for_err("\"point\":\"after_stage:2\"", 60s));
    run.signal(SIGTERM);  // batch 2 is staged, its transaction open
    const auto& result = run.wait();
    EXPECT_EQ(result.exit_code, 5) << result.err;
    EXPECT_EQ(count_of(result.err, "\"event\":\"batch_loaded\""), 2)
        << "the batch in flight was not finished, or the run went on: " << result.err;
    EXPECT_EQ(std::stoll(wh_.scalar("SELECT count(*) FROM silver.orders")),
              sum_of_batches(result.err, "rows_inserted"));
    EXPECT_EQ(run_record(run_id_in(result.err), "status"), "cancelled");
    EXPECT_FALSE(fs::exists(checkpoint_file())) << "a cancelled run moved the checkpoint";

    ASSERT_EQ(run_cli({"run"}).exit_code, 0);
    EXPECT_EQ(loaded(), expected());
}

TEST_F(GuaranteesTest, SecondSignalStopsAtOnceWithoutDamage) {
    test::ChildProcess run(
        {"run"}, process_env({{"ORDERS_PIPELINE_FAIL_POINT", "after_stage:2=sleep:20000"}}));
    ASSERT_TRUE(run.wait_for_err("\"point\":\"after_stage:2\"", 60s));
    const auto signalled = std::chrono::steady_clock::now();
    run.signal(SIGTERM);
    ASSERT_TRUE(run.wait_for_err("\"event\":\"stop_requested\"", 10s));
    run.signal(SIGINT);
    const auto& result = run.wait();
    EXPECT_LT(std::chrono::steady_clock::now() - signalled, 10s) << "did not stop at once";
    EXPECT_EQ(result.exit_code, 5) << result.err;
    EXPECT_NE(result.err.find("\"event\":\"stop_now\""), std::string::npos);
    // Batch 1 committed; batch 2's open transaction died with the process.
    EXPECT_EQ(count_of(result.err, "\"event\":\"batch_loaded\""), 1);
    EXPECT_EQ(std::stoll(wh_.scalar("SELECT count(*) FROM silver.orders")),
              sum_of_batches(result.err, "rows_inserted"));
    EXPECT_NE(run_record(run_id_in(result.err), "status"), "success");
    EXPECT_FALSE(fs::exists(checkpoint_file()));

    ASSERT_EQ(run_cli({"run"}).exit_code, 0);
    EXPECT_EQ(loaded(), expected());
}

// ---------------------------------------------------------------------------
// 4. Transient faults.

TEST_F(GuaranteesTest, KilledSourceSessionIsResumedWithoutLossOrDuplicates) {
    // Many rows share an updated_at, so the resumed cursor starts inside a tie.
    src_.exec("UPDATE orders SET updated_at = date_trunc('hour', updated_at)");
    test::ChildProcess run(
        {"run"}, process_env({{"ORDERS_PIPELINE_FAIL_POINT", "after_commit:2=sleep:1000"}}));
    ASSERT_TRUE(run.wait_for_err("\"point\":\"after_commit:2\"", 60s));
    EXPECT_EQ(terminate_sessions(src_), 1);
    const auto& result = run.wait();
    ASSERT_EQ(result.exit_code, 0) << result.err;
    EXPECT_NE(result.err.find("\"event\":\"extract_resumed\""), std::string::npos) << result.err;
    EXPECT_EQ(loaded(), expected());
    // Exactly once into the DLQ as well: the resumed cursor skipped what it had read.
    fs::path dlq;
    for (const auto& file : fs::directory_iterator(dlq_dir())) {
        dlq = file.path();
    }
    EXPECT_EQ(dlq_entries(dlq), expected_rejections());
    EXPECT_EQ(run_record(run_id_in(result.err), "status, rows_extracted"), "success|5000");
}

TEST_F(GuaranteesTest, KilledDestinationSessionsAreRetriedAndTheLockRetaken) {
    test::ChildProcess run(
        {"run"}, process_env({{"ORDERS_PIPELINE_FAIL_POINT", "after_commit:2=sleep:1000"}}));
    ASSERT_TRUE(run.wait_for_err("\"point\":\"after_commit:2\"", 60s));
    EXPECT_EQ(terminate_sessions(wh_), 2);  // the loader's and the lock's
    const auto& result = run.wait();
    ASSERT_EQ(result.exit_code, 0) << result.err;
    EXPECT_NE(result.err.find("\"event\":\"retry\""), std::string::npos) << result.err;
    EXPECT_NE(result.err.find("\"event\":\"lock_reacquired\""), std::string::npos) << result.err;
    EXPECT_EQ(loaded(), expected());
    EXPECT_EQ(run_record(run_id_in(result.err), "status"), "success");
}

TEST_F(GuaranteesTest, SourceServerRestartMidRunIsRiddenOut) {
    test::TestCluster source_cluster;
    test::TestDatabase source("restart_src", source_cluster.base_url());
    seed_source(source);
    test::ChildProcess run({"run"},
                           process_env({{"ORDERS_PIPELINE_SOURCE_DB_URL", source.url()},
                                        {"ORDERS_PIPELINE_FAIL_POINT", "after_commit:2=sleep:500"},
                                        {"ORDERS_PIPELINE_RETRY_MAX_ATTEMPTS", "10"},
                                        {"ORDERS_PIPELINE_RETRY_BASE_DELAY_MS", "100"}}));
    ASSERT_TRUE(run.wait_for_err("\"point\":\"after_commit:2\"", 60s));
    source_cluster.restart();
    const auto& result = run.wait();
    ASSERT_EQ(result.exit_code, 0) << result.err;
    EXPECT_NE(result.err.find("\"event\":\"extract_resumed\""), std::string::npos) << result.err;
    EXPECT_EQ(loaded(), expected_in(source));
}

TEST_F(GuaranteesTest, PermanentErrorsFailFastWithTheServersMessage) {
    const auto started = std::chrono::steady_clock::now();
    const auto result = run_cli({"run"}, {{"ORDERS_PIPELINE_SOURCE_TABLE", "no_such_table"},
                                          {"ORDERS_PIPELINE_RETRY_BASE_DELAY_MS", "5000"}});
    EXPECT_EQ(result.exit_code, 1);
    EXPECT_LT(std::chrono::steady_clock::now() - started, 5s) << "a permanent error was retried";
    EXPECT_EQ(result.err.find("\"event\":\"retry\""), std::string::npos);
    EXPECT_NE(result.err.find("42P01"), std::string::npos) << result.err;
    EXPECT_NE(result.err.find("no_such_table"), std::string::npos) << result.err;
}

// The extractor itself, resumed after every possible batch boundary of a
// window made of ties, NULL ids and identical duplicate rows.
TEST_F(GuaranteesTest, ExtractorResumeHandsOutEveryRowExactlyOnce) {
    src_.exec(
        "TRUNCATE orders;"
        "INSERT INTO orders (order_id, updated_at, notes) SELECT "
        "CASE WHEN g % 5 = 0 THEN NULL ELSE g % 7 END, "
        "'2026-01-01 00:00:00+00'::timestamptz + (g / 20) * interval '1 second', "
        "'n' || (g % 3) FROM generate_series(1, 60) g;");
    auto all = src_.rows(
        "SELECT order_id, customer_id, store_id, restaurant_id, order_amount, delivery_fee, "
        "discount_amount, status, payment_method, payment_status, created_at, updated_at, "
        "delivered_at, cancelled_at, cancellation_reason, promo_code, notes FROM orders");
    const std::multiset<std::string> want(all.begin(), all.end());
    const auto cfg = config();
    pipeline::Retrier retrier(cfg.retry);
    const pipeline::SourceConnector connect = [&] {
        pipeline::PgConnection conn(cfg.source_url, pipeline::ErrorKind::source, "SOURCE",
                                    "orders-pipeline orders extractor-test");
        pipeline::prepare_source_session(conn, 60);
        return conn;
    };
    // With prefetching (as runs use it), the kill lands while the next FETCH is in flight.
    for (int run = 0; run < 16; ++run) {
        const int kill_after = run % 8 + 1;
        const bool prefetching = run >= 8;
        pipeline::WindowRequest window;
        pipeline::Extractor extractor(connect, retrier, cfg.source_schema, cfg.source_table, window,
                                      7);
        std::multiset<std::string> got;
        int batches = 0;
        while (auto batch = extractor.next_batch()) {
            if (prefetching) {
                extractor.prefetch(7);
            }
            for (const auto& row : batch->rows) {
                std::string line;
                for (std::size_t i = 0; i < row.fields.size(); ++i) {
                    line += (i > 0 ? "|" : "");
                    line += row.fields[i] ? std::string(*row.fields[i]) : "<null>";
                }
                got.insert(line);
            }
            if (++batches == kill_after) {
                src_.exec(fmt::format("SELECT pg_terminate_backend({})", extractor.backend_pid()));
            }
        }
        EXPECT_EQ(extractor.resumes(), 1)
            << "kill after batch " << kill_after << (prefetching ? " (prefetching)" : "");
        EXPECT_EQ(got, want) << "kill after batch " << kill_after
                             << (prefetching ? " (prefetching)" : "");
    }
}

// ---------------------------------------------------------------------------
// 5. Hostile input and secrets.

TEST_F(GuaranteesTest, HostileTextArrivesByteExactInTheWarehouseAndTheDlq) {
    const std::string hostile =
        "q'uote \"dq\" back\\slash \\N tab\there nl\nhere cr\rhere ctl\x01\x1f\x7f "
        "\xc3\xa9 \xe6\x97\xa5\xe6\x9c\xac \xf0\x9f\x8e\x89 \xe2\x80\xae end";
    src_.exec(
        "TRUNCATE orders; SELECT freshmart_seed(1, 700001, now(), 0);"
        "SELECT freshmart_seed(1, 700002, now(), 0);");
    {
        auto conn = src_.connect();
        const std::vector<std::optional<std::string>> params = {hostile};
        conn.exec_params(
            "UPDATE orders SET restaurant_id = $1, promo_code = $1, notes = $1 "
            "WHERE order_id = 700001",
            params, "[hostile valid]");
        conn.exec_params(
            "UPDATE orders SET restaurant_id = $1, notes = $1, order_amount = -5 "
            "WHERE order_id = 700002",
            params, "[hostile invalid]");
    }
    const auto summary = pipeline::run_pipeline(config(), {});
    ASSERT_EQ(summary.counts.rows_written, 1);
    ASSERT_EQ(summary.counts.rows_rejected, 1);
    auto conn = wh_.connect();
    const pipeline::PgResult stored = conn.exec(
        "SELECT restaurant_id, promo_code FROM silver.orders WHERE order_id = 700001", "[read]");
    EXPECT_EQ(stored.value(0, 0), hostile);
    EXPECT_EQ(stored.value(0, 1), hostile);
    ASSERT_TRUE(summary.dlq_file);
    const auto line = nlohmann::json::parse(read(*summary.dlq_file));
    EXPECT_EQ(line["row"]["notes"].get<std::string>(), hostile);
    EXPECT_EQ(line["row"]["restaurant_id"].get<std::string>(), hostile);
}

TEST_F(GuaranteesTest, NoPasswordInLogsErrorsRunRecordsOrFiles) {
    const std::string canary = "Canary-Pa55w0rd-9f2e";
    auto with_password = [&](std::string url) {
        const std::string user = "://postgres@";
        return url.replace(url.find(user), user.size(), "://postgres:" + canary + "@");
    };
    const std::map<std::string, std::string> secret = {
        {"ORDERS_PIPELINE_SOURCE_DB_URL", with_password(src_.url())},
        {"ORDERS_PIPELINE_DEST_DB_URL", with_password(wh_.url())},
        {"ORDERS_PIPELINE_LOG_LEVEL", "DEBUG"}};
    auto merged = [&](std::map<std::string, std::string> more) {
        more.insert(secret.begin(), secret.end());
        return more;
    };
    std::vector<test::ProcessResult> results;
    auto expect_exit = [&](const test::ProcessResult& r, int code, std::string_view path) {
        EXPECT_EQ(r.exit_code, code) << path << ": " << r.err;
        results.push_back(r);
    };
    expect_exit(run_cli({"run"}, merged({})), 0, "success");
    change_source();
    expect_exit(run_cli({"run"}, merged({{"ORDERS_PIPELINE_FAIL_POINT", "after_merge:2=error"}})),
                1, "failed batch");
    expect_exit(run_cli({"run"}, merged({{"ORDERS_PIPELINE_FAIL_POINT", "after_commit:1=kill"}})),
                killed_exit, "killed");
    expect_exit(run_cli({"run"}, merged({{"ORDERS_PIPELINE_SOURCE_TABLE", "missing"}})), 1,
                "SQL error");
    expect_exit(
        run_cli({"run"}, merged({{"ORDERS_PIPELINE_SOURCE_DB_URL",
                                  "postgresql://postgres:" + canary + "@127.0.0.1:1/nowhere"},
                                 {"ORDERS_PIPELINE_RETRY_MAX_ATTEMPTS", "2"}})),
        1, "unreachable source");
    expect_exit(run_cli({"run"}, merged({{"ORDERS_PIPELINE_BATCH_SIZE", "1"}})), 3, "config");
    expect_exit(
        run_cli({"run"}, merged({{"ORDERS_PIPELINE_DEST_DB_URL",
                                  "snowflake://loader:" + canary + "@acct/DB/SCH?warehouse=WH"},
                                 {"ORDERS_PIPELINE_SNOWFLAKE_PRIVATE_KEY_FILE", "/nonexistent.p8"},
                                 {"ORDERS_PIPELINE_SNOWFLAKE_PRIVATE_KEY_PASSPHRASE", canary}})),
        3, "snowflake config");
    expect_exit(run_cli({"run", "--date", "2026-01-01"}, merged({})), 0, "backfill");
    {
        auto holder = wh_.connect();
        holder.exec(fmt::format("SELECT pg_advisory_lock({}, hashtext('orders'))",
                                pipeline::run_lock_class_id),
                    "[lock]");
        expect_exit(run_cli({"run"}, merged({})), 4, "lock held");
    }
    {
        test::ChildProcess run(
            {"run"},
            process_env(merged({{"ORDERS_PIPELINE_FAIL_POINT", "after_stage:1=sleep:1000"}})));
        ASSERT_TRUE(run.wait_for_err("\"point\":\"after_stage:1\"", 60s));
        run.signal(SIGTERM);
        expect_exit(run.wait(), 5, "cancelled");
    }
    for (const auto& r : results) {
        EXPECT_EQ(r.out.find(canary), std::string::npos) << r.out;
        EXPECT_EQ(r.err.find(canary), std::string::npos) << r.err;
        EXPECT_FALSE(r.err.empty());
    }
    const std::string records =
        wh_.scalar("SELECT string_agg(t::text, E'\\n') FROM monitoring.pipeline_runs t");
    EXPECT_GE(std::stoi(wh_.scalar("SELECT count(DISTINCT status) FROM monitoring.pipeline_runs")),
              5)
        << records;
    EXPECT_EQ(records.find(canary), std::string::npos) << records;
    for (const auto& entry : fs::recursive_directory_iterator(dir_.path())) {
        if (entry.is_regular_file()) {
            EXPECT_EQ(read(entry.path()).find(canary), std::string::npos) << entry.path();
        }
    }
}

}  // namespace
