// tests/integration/commit_aware_test.cpp: rows of transactions that stay open across runs
// (spec §3 commit-aware windows), on a real PostgreSQL with OVERLAP_MINUTES=0, so that seconds
// stand in for minutes and nothing but the hold-back can save a late row.
#include <fmt/format.h>
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <csignal>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <mutex>
#include <random>
#include <thread>

#include "pipeline/run/run.hpp"
#include "pipeline/state/checkpoint.hpp"
#include "pipeline/verify/verify.hpp"
#include "tests/support/pipeline_fixture.hpp"

namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

constexpr int killed_exit = 128 + SIGKILL;

/// A source session holding a transaction open until commit().
class Writer {
public:
    explicit Writer(const test::TestDatabase& db) : conn_(db.connect()) {
        conn_.exec("SET TIME ZONE 'UTC'; SET client_min_messages = warning; BEGIN", "[BEGIN]");
        started_ = std::string(conn_.exec("SELECT now()::text", "[now]").value(0, 0));
    }
    void exec(const std::string& sql) { conn_.exec(sql, "[writer]"); }
    void commit() { conn_.exec("COMMIT", "[COMMIT]"); }
    int pid() const { return conn_.backend_pid(); }
    /// now() inside the transaction: the stamp its rows get.
    const std::string& started() const { return started_; }

private:
    pipeline::PgConnection conn_;
    std::string started_;
};

class CommitAwareTest : public test::PipelineFixture {
protected:
    void SetUp() override {
        PipelineFixture::SetUp();
        extra_settings_["ORDERS_PIPELINE_OVERLAP_MINUTES"] = "0";
    }

    pipeline::RunSummary run(const std::map<std::string, std::string>& overrides = {}) const {
        return pipeline::run_pipeline(config(overrides), {});
    }

    /// `n` valid order ids from `first_index` on (by id), as "id, id, ...".
    std::string valid_ids(int first_index, int n) const {
        std::string out;
        for (const auto& id :
             src_.rows(fmt::format("SELECT order_id FROM expected_orders ORDER BY order_id "
                                   "OFFSET {} LIMIT {}",
                                   first_index, n))) {
            out += (out.empty() ? "" : ", ") + id;
        }
        return out;
    }

    /// The writer updates `n` valid orders from `first_index` on, stamping its start.
    void mark_delivering(Writer& writer, int first_index, int n) const {
        writer.exec(fmt::format(
            "UPDATE orders SET status = 'delivering', updated_at = now() WHERE order_id IN ({})",
            valid_ids(first_index, n)));
    }

    /// Another session commits a change now, so the next run has rows to load
    /// and moves the checkpoint past whatever is still open.
    void commit_elsewhere() {
        std::this_thread::sleep_for(20ms);  // the open transactions' stamps are now in the past
        src_.exec(fmt::format(
            "UPDATE orders SET status = 'confirmed', updated_at = now() WHERE order_id IN ({})",
            valid_ids(4000 + 3 * touched_++, 3)));
    }

    std::optional<pipeline::CheckpointState> checkpoint() const {
        std::string why;
        return pipeline::parse_checkpoint(read(checkpoint_file()), why);
    }

    /// The pids the checkpoint's hold-back waits for.
    std::set<int> waited_pids() const {
        std::set<int> pids;
        const auto state = checkpoint();
        if (state && state->hold_back) {
            for (const auto& t : state->hold_back->waiting) {
                pids.insert(t.pid);
            }
        }
        return pids;
    }

    int touched_ = 0;
};

// ---------------------------------------------------------------------------
// One writer at a time.

TEST_F(CommitAwareTest, EarlyWriterRowsArriveWithTheFirstRunAfterItCommits) {
    run();
    Writer writer(src_);  // writes at once: holds an xid at the next runs' snapshots
    mark_delivering(writer, 100, 40);
    writer.exec("SELECT freshmart_seed(10, 900001, now(), 0)");

    commit_elsewhere();
    const auto first = run();
    ASSERT_TRUE(first.checkpoint_saved);
    EXPECT_GT(*first.checkpoint_saved,
              *pipeline::parse_timestamp(writer.started(), pipeline::OffsetRule::assume_utc))
        << "the watermark moved past the writer's stamps: only the hold-back can save them";
    EXPECT_GT(first.holdback_seconds, 0.0);
    EXPECT_EQ(waited_pids(), std::set<int>{writer.pid()});
    EXPECT_EQ(checkpoint()->hold_back->mode, pipeline::HoldBackMode::exact);

    commit_elsewhere();
    const auto second = run();  // still open: still waited for
    EXPECT_EQ(waited_pids(), std::set<int>{writer.pid()});
    EXPECT_EQ(second.rows_reread, 0);

    writer.commit();
    const auto after = run();
    EXPECT_GE(after.rows_reread, 50) << "the writer's 50 rows come from the held-back part";
    EXPECT_EQ(loaded(), expected());
    EXPECT_FALSE(checkpoint()->hold_back) << "nothing is open any more";
}

TEST_F(CommitAwareTest, RowsWrittenInSubtransactionsAreCaughtToo) {
    run();
    Writer writer(src_);
    writer.exec("SELECT count(*) FROM orders");
    // Each savepoint's writes carry the subtransaction's own xid, which a
    // snapshot's in-progress list does not name.
    writer.exec(
        fmt::format("SAVEPOINT a; UPDATE orders SET status = 'ready', updated_at = now() "
                    "WHERE order_id IN ({}); RELEASE a",
                    valid_ids(700, 20)));
    writer.exec(
        "SAVEPOINT b; SELECT freshmart_seed(5, 910001, now(), 0); RELEASE b; "
        "SAVEPOINT c; SELECT freshmart_seed(5, 920001, now(), 0); ROLLBACK TO c");
    commit_elsewhere();
    run();
    writer.commit();
    const auto after = run();
    EXPECT_GE(after.rows_reread, 25);
    EXPECT_EQ(loaded(), expected());
    EXPECT_EQ(wh_.scalar("SELECT count(*) FROM silver.orders WHERE order_id > 920000"), "0");
}

TEST_F(CommitAwareTest, LateWriterStampingItsStartTimeIsCaughtOnAPrimary) {
    run();
    Writer writer(src_);
    writer.exec("SELECT count(*) FROM orders");  // reads only: no xid yet
    commit_elsewhere();
    const auto first = run();
    ASSERT_TRUE(first.checkpoint_saved);
    EXPECT_GT(first.holdback_seconds, 0.0);
    const auto state = checkpoint();
    ASSERT_TRUE(state && state->hold_back);
    ASSERT_EQ(state->hold_back->waiting.size(), 1u);
    EXPECT_FALSE(state->hold_back->waiting.front().xid) << "it had written nothing yet";

    // Now it writes, stamping rows with its start: before the watermark.
    writer.exec(
        fmt::format("UPDATE orders SET status = 'ready', updated_at = now() WHERE order_id IN ({})",
                    valid_ids(200, 40)));
    commit_elsewhere();
    run();
    writer.commit();
    const auto after = run();
    EXPECT_GE(after.rows_reread, 40);
    EXPECT_EQ(loaded(), expected());
}

TEST_F(CommitAwareTest, RowsCommittedByOthersArriveWhileALongTransactionIsOpen) {
    run();
    Writer writer(src_);
    writer.exec(fmt::format(
        "UPDATE orders SET order_amount = 777.77, updated_at = now() WHERE order_id IN ({})",
        valid_ids(300, 20)));
    const std::string theirs = valid_ids(3000, 5);
    std::this_thread::sleep_for(20ms);
    src_.exec(
        fmt::format("UPDATE orders SET status = 'cancelled', cancellation_reason = 'changed_mind', "
                    "cancelled_at = now(), updated_at = now() WHERE order_id IN ({})",
                    theirs));
    const auto first = run();
    // The upper bound is still the source's clock: the others' rows are here now.
    EXPECT_EQ(first.counts.rows_written, 5);
    EXPECT_EQ(loaded(fmt::format("order_id IN ({})", theirs)),
              expected(fmt::format("order_id IN ({})", theirs)));
    EXPECT_EQ(wh_.scalar("SELECT count(*) FROM silver.orders WHERE order_amount = 777.77"), "0")
        << "the open transaction's rows cannot be visible yet";
    writer.commit();
    run();
    EXPECT_EQ(loaded(), expected());
}

TEST_F(CommitAwareTest, TransactionsThatCannotWriteTheTableCostNothing) {
    run();
    // An open writer in another database of the cluster: never waited for.
    test::TestDatabase other("other");
    other.exec("CREATE TABLE t (x int)");
    Writer elsewhere(other);
    elsewhere.exec("INSERT INTO t VALUES (1)");
    commit_elsewhere();
    const auto first = run();
    EXPECT_EQ(first.holdback_seconds, 0.0);
    EXPECT_FALSE(checkpoint()->hold_back);
    const auto quiet = run();
    EXPECT_EQ(quiet.counts.rows_extracted, 0) << "a quiet tick stays quiet";

    // An open writer in this database that never touches orders: waited for,
    // and when it commits nothing is re-read.
    src_.exec("CREATE TABLE audit (x int)");
    Writer auditor(src_);
    auditor.exec("INSERT INTO audit VALUES (1)");
    commit_elsewhere();
    const auto second = run();
    EXPECT_GT(second.holdback_seconds, 0.0);
    EXPECT_EQ(waited_pids(), std::set<int>{auditor.pid()});
    const auto still_quiet = run();
    EXPECT_EQ(still_quiet.counts.rows_extracted, 0) << "waiting for it re-reads nothing";
    auditor.commit();
    const auto after = run();
    EXPECT_EQ(after.counts.rows_extracted, 0);
    EXPECT_EQ(after.rows_reread, 0);
    elsewhere.commit();
    EXPECT_EQ(loaded(), expected());
}

TEST_F(CommitAwareTest, VersionOneCheckpointReachesBackOnceWhenUpgraded) {
    run();
    // An older build saved this checkpoint while a writer was open: it knew nothing of it.
    Writer writer(src_);
    mark_delivering(writer, 700, 20);
    std::this_thread::sleep_for(20ms);
    const std::string now = src_.scalar("SELECT now()::text");
    {
        std::ofstream(checkpoint_file()) << fmt::format(
            "{{\"watermark\": \"{0}\", \"saved_at\": \"{0}\", \"pipeline\": \"orders\"}}\n",
            pipeline::format_timestamp(
                *pipeline::parse_timestamp(now, pipeline::OffsetRule::assume_utc)));
    }
    ASSERT_EQ(checkpoint()->version, 1);
    writer.commit();
    const auto upgraded = run();
    EXPECT_GE(upgraded.rows_reread, 20) << "the reach-back of the upgrade read the writer's rows";
    EXPECT_EQ(loaded(), expected());
    EXPECT_EQ(checkpoint()->version, pipeline::checkpoint_version);
}

TEST_F(CommitAwareTest, VerifyStopsBelowWhatTheNextRunStillReadsBack) {
    run();
    Writer writer(src_);
    mark_delivering(writer, 800, 15);
    commit_elsewhere();
    run();
    ASSERT_TRUE(checkpoint()->hold_back);
    writer.commit();  // committed, not loaded yet: the next run's work, not a difference
    const auto before = pipeline::verify(config(), {});
    EXPECT_EQ(before.differences(), 0) << "missing: " << before.missing.size();
    ASSERT_TRUE(before.scope_label);
    EXPECT_NE(before.scope_label->find("below the watermark"), std::string::npos)
        << *before.scope_label;
    run();
    const auto after = pipeline::verify(config(), {});
    EXPECT_EQ(after.differences(), 0);
    EXPECT_FALSE(after.scope_label) << "nothing held back any more: up to the watermark";
    EXPECT_EQ(loaded(), expected());
}

TEST_F(CommitAwareTest, PastTheCapTheRunWarnsLoudlyAndTheRowsAreNotWaitedFor) {
    ASSERT_EQ(run_cli({"run"}).exit_code, 0);
    Writer writer(src_);
    const std::string ids = valid_ids(500, 40);
    writer.exec(fmt::format(
        "UPDATE orders SET order_amount = 777.77, updated_at = now() WHERE order_id IN ({})", ids));
    commit_elsewhere();
    const std::map<std::string, std::string> capped = {
        {"ORDERS_PIPELINE_HOLDBACK_MAX_MINUTES", "0"}};
    const fs::path metrics = dir_.path() / "metrics.prom";
    const auto first = run_cli({"run", "--metrics-file", metrics.string()}, capped);
    ASSERT_EQ(first.exit_code, 0) << first.err;
    EXPECT_NE(first.err.find("\"event\":\"holdback_capped\""), std::string::npos) << first.err;
    EXPECT_NE(first.err.find(fmt::format("pid {}", writer.pid())), std::string::npos)
        << "the warning names the session";
    const std::string prom = read(metrics);
    EXPECT_NE(prom.find("orders_pipeline_holdback_capped{pipeline=\"orders\"} 1"),
              std::string::npos)
        << prom;
    EXPECT_NE(prom.find("orders_pipeline_oldest_transaction_age_seconds{pipeline=\"orders\"}"),
              std::string::npos)
        << prom;
    const auto doctor = run_cli({"doctor"}, capped);
    EXPECT_NE(doctor.out.find("WARN open source transactions"), std::string::npos) << doctor.out;
    EXPECT_NE(doctor.out.find("CAPPED"), std::string::npos) << doctor.out;

    writer.commit();
    ASSERT_EQ(run_cli({"run"}, capped).exit_code, 0);
    // The cap's price: those rows were not waited for (backfill their day to recover them).
    EXPECT_EQ(wh_.scalar("SELECT count(*) FROM silver.orders WHERE order_amount = 777.77"), "0");
    EXPECT_NE(loaded(), expected());
}

TEST_F(CommitAwareTest, RoleWithoutReadAllStatsFallsBackToTheAssumedLongestTransaction) {
    const std::string role = "reader_" + src_.name();
    src_.exec(fmt::format("CREATE ROLE {0} LOGIN; GRANT SELECT ON orders TO {0}", role));
    const std::string base = src_.url().substr(0, src_.url().rfind('/'));
    const std::string as_reader =
        fmt::format("postgresql://{}@{}/{}", role, base.substr(base.find('@') + 1), src_.name());
    const std::map<std::string, std::string> bounded = {
        {"ORDERS_PIPELINE_SOURCE_DB_URL", as_reader},
        {"ORDERS_PIPELINE_MAX_TRANSACTION_MINUTES", "1"}};
    {
        run(bounded);
        Writer writer(src_);  // as postgres: its start is hidden from the reader role
        writer.exec(fmt::format(
            "UPDATE orders SET status = 'ready', updated_at = now() WHERE order_id IN ({})",
            valid_ids(600, 30)));
        commit_elsewhere();
        const auto first = run(bounded);
        const auto state = checkpoint();
        ASSERT_TRUE(state && state->hold_back);
        EXPECT_EQ(state->hold_back->mode, pipeline::HoldBackMode::bounded);
        EXPECT_NEAR(first.holdback_seconds, 60.0, 0.001);
        const auto doctor = run_cli({"doctor"}, bounded);
        EXPECT_NE(doctor.out.find("WARN commit-aware extraction: mode bounded"), std::string::npos)
            << doctor.out;
        EXPECT_NE(doctor.out.find(fmt::format("GRANT pg_read_all_stats TO {};", role)),
                  std::string::npos)
            << doctor.out;
        writer.commit();
        run(bounded);
        EXPECT_EQ(loaded(), expected());
    }
    src_.exec(fmt::format("DROP OWNED BY {0}; DROP ROLE {0}", role));
}

// ---------------------------------------------------------------------------
// A hot standby as the source (the recommended setup): the primary's sessions
// are invisible there, so the floor is the assumed longest transaction.

TEST_F(CommitAwareTest, OnAReplicaTransactionsWithinTheAssumedLengthAreCaught) {
    const test::TestCluster primary;
    const test::TestCluster standby(test::TestCluster::StandbyOf{primary});
    const test::TestDatabase source("rsrc", primary.base_url());
    seed_source(source);
    const auto ids = [&](int offset, int n) {
        std::string out;
        for (const auto& id : source.rows(fmt::format(
                 "SELECT order_id FROM expected_orders ORDER BY order_id OFFSET {} LIMIT {}",
                 offset, n))) {
            out += (out.empty() ? "" : ", ") + id;
        }
        return out;
    };
    int touched = 0;
    const auto commit_elsewhere_and_replay = [&] {
        std::this_thread::sleep_for(20ms);
        source.exec(fmt::format("UPDATE orders SET updated_at = now() WHERE order_id IN ({})",
                                ids(4000 + 3 * touched++, 3)));
        standby.wait_for_replay(primary);
    };
    std::map<std::string, std::string> on_replica = {
        {"ORDERS_PIPELINE_SOURCE_DB_URL", standby.base_url() + "/" + source.name()},
        {"ORDERS_PIPELINE_MAX_TRANSACTION_MINUTES", "1"}};
    standby.wait_for_replay(primary);
    run(on_replica);
    EXPECT_EQ(loaded(), expected_in(source));

    // An early and a late writer on the primary, both shorter than a minute.
    Writer early(source);
    early.exec(fmt::format(
        "UPDATE orders SET order_amount = 777.77, updated_at = now() WHERE order_id IN ({})",
        ids(100, 30)));
    Writer late(source);
    late.exec("SELECT count(*) FROM orders");
    commit_elsewhere_and_replay();
    const auto first = run(on_replica);
    ASSERT_TRUE(first.checkpoint_saved);
    const auto state = checkpoint();
    ASSERT_TRUE(state && state->hold_back);
    EXPECT_EQ(state->hold_back->mode, pipeline::HoldBackMode::replica);
    EXPECT_NEAR(first.holdback_seconds, 60.0, 0.001);
    late.exec(fmt::format(
        "UPDATE orders SET order_amount = 888.88, updated_at = now() WHERE order_id IN ({})",
        ids(200, 20)));
    early.commit();
    late.commit();
    commit_elsewhere_and_replay();
    const auto after = run(on_replica);
    EXPECT_GE(after.rows_reread, 50);
    EXPECT_EQ(loaded(), expected_in(source));

    // A quiet tick stays quiet while a writer of another database is open.
    const test::TestDatabase other("rother", primary.base_url());
    other.exec("CREATE TABLE t (x int)");
    Writer elsewhere(other);
    elsewhere.exec("INSERT INTO t VALUES (1)");
    commit_elsewhere_and_replay();
    run(on_replica);
    standby.wait_for_replay(primary);
    EXPECT_EQ(run(on_replica).counts.rows_extracted, 0);
    elsewhere.commit();

    // What a replica does not cover: a transaction longer than the assumed
    // length (here 0) that stamps rows with its start.
    on_replica["ORDERS_PIPELINE_MAX_TRANSACTION_MINUTES"] = "0";
    Writer too_long(source);
    too_long.exec("SELECT count(*) FROM orders");
    commit_elsewhere_and_replay();
    run(on_replica);
    too_long.exec(fmt::format(
        "UPDATE orders SET order_amount = 999.99, updated_at = now() WHERE order_id IN ({})",
        ids(300, 10)));
    too_long.commit();
    commit_elsewhere_and_replay();
    run(on_replica);
    EXPECT_EQ(wh_.scalar("SELECT count(*) FROM silver.orders WHERE order_amount = 999.99"), "0");
}

// ---------------------------------------------------------------------------
// Many writers, runs ticking: nothing lost.

TEST_F(CommitAwareTest, LiveWritersWhileRunsTickLoseNothing) {
    run();
    constexpr int writers = 4;
    const auto seed = static_cast<unsigned>(std::random_device{}());
    RecordProperty("seed", static_cast<int>(seed));
    // Each writer owns its own valid orders, so every row's stamps only grow.
    std::vector<std::vector<std::string>> owned(writers);
    for (const auto& id : src_.rows("SELECT order_id FROM expected_orders ORDER BY order_id")) {
        owned[std::stoul(id) % writers].push_back(id);
    }
    std::atomic<bool> stop{false};
    std::atomic<int> committed{0};
    std::atomic<int> late_writers{0};
    std::atomic<long long> rows_written{0};
    std::mutex failure_mutex;
    std::string failure;
    std::vector<std::thread> threads;
    for (int w = 0; w < writers; ++w) {
        threads.emplace_back([&, w] {
            try {
                std::mt19937 random(seed + static_cast<unsigned>(w));
                auto conn = src_.connect();
                conn.exec("SET TIME ZONE 'UTC'", "[SET]");
                const auto mine = static_cast<std::size_t>(w);
                long long next_id = 2'000'000 + w * 1'000'000LL;
                while (!stop) {
                    conn.exec("BEGIN", "[BEGIN]");
                    const bool late = random() % 2 == 0;  // reads first, writes at the end
                    const auto pause = std::chrono::milliseconds(random() % 2500);
                    if (late) {
                        conn.exec("SELECT count(*) FROM orders", "[read]");
                        std::this_thread::sleep_for(pause);
                    }
                    std::string ids;
                    const int n = 1 + static_cast<int>(random() % 15);
                    for (int i = 0; i < n; ++i) {
                        ids +=
                            (ids.empty() ? "" : ", ") + owned[mine][random() % owned[mine].size()];
                    }
                    conn.exec(fmt::format("UPDATE orders SET status = 'delivering', order_amount "
                                          "= {}.25, updated_at = now() WHERE order_id IN ({})",
                                          100 + random() % 900, ids),
                              "[update]");
                    const int inserts = static_cast<int>(random() % 4);
                    if (inserts > 0) {
                        // Sometimes inside a savepoint: rows with a subtransaction's xid.
                        const std::string seed_call = fmt::format(
                            "SELECT freshmart_seed({}, {}, now(), 0)", inserts, next_id);
                        conn.exec(random() % 2 == 0 ? seed_call
                                                    : "SAVEPOINT s; " + seed_call + "; RELEASE s",
                                  "[insert]");
                        next_id += inserts;
                    }
                    if (!late) {
                        std::this_thread::sleep_for(pause);
                    }
                    conn.exec("COMMIT", "[COMMIT]");
                    ++committed;
                    late_writers += late ? 1 : 0;
                    rows_written += n + inserts;
                }
            } catch (const std::exception& e) {
                const std::lock_guard lock(failure_mutex);
                failure = e.what();
            }
        });
    }
    int runs = 0;
    long long reread = 0;
    const auto until = std::chrono::steady_clock::now() + 12s;
    while (std::chrono::steady_clock::now() < until) {
        std::this_thread::sleep_for(700ms);
        reread += run().rows_reread;
        ++runs;
    }
    stop = true;
    for (auto& t : threads) {
        t.join();
    }
    ASSERT_EQ(failure, "");
    reread += run().rows_reread;
    ++runs;
    const auto want = expected();
    const auto got = loaded();
    std::vector<std::string> lost;
    std::set_difference(want.begin(), want.end(), got.begin(), got.end(), std::back_inserter(lost));
    std::cout << fmt::format(
                     "live writers: seed {}, {} transactions committed ({} late writers), {} row "
                     "writes, {} runs, {} rows re-read, {} rows checked, {} lost or stale\n",
                     seed, committed.load(), late_writers.load(), rows_written.load(), runs, reread,
                     want.size(), lost.size())
              << std::flush;
    EXPECT_GT(committed.load(), 20);
    EXPECT_GT(reread, 0) << "no transaction straddled a run: the test proved nothing";
    EXPECT_EQ(lost, std::vector<std::string>{});
    EXPECT_EQ(got, want);
}

// ---------------------------------------------------------------------------
// The fail-point walk with a transaction open across the crash.

class CommitAwareFailPointWalk : public CommitAwareTest,
                                 public ::testing::WithParamInterface<std::string> {};

TEST_P(CommitAwareFailPointWalk, CrashNeverLeavesACheckpointThatSkipsAnOpenTransactionsRows) {
    const std::string point = GetParam();
    ASSERT_EQ(run_cli({"run"}).exit_code, 0);
    Writer writer(src_);
    writer.exec(
        "UPDATE orders SET status = 'delivering', updated_at = now() "
        "WHERE order_id % 9 = 1 AND order_id < 2000");
    writer.exec("SELECT freshmart_seed(20, 500001, now(), 0)");
    std::this_thread::sleep_for(20ms);
    // About 2,600 rows (3 batches) for the run that crashes.
    src_.exec(
        "UPDATE orders SET status = 'delivering', updated_at = now() "
        "WHERE order_id % 9 = 0 AND order_id < 100001;"
        "SELECT freshmart_seed(2000, 100001, now(), 0);");

    const auto crashed = run_cli({"run"}, {{"ORDERS_PIPELINE_FAIL_POINT", point + "=kill"}});
    ASSERT_EQ(crashed.exit_code, killed_exit) << crashed.err;
    if (point == "before_final_record") {
        // The checkpoint moved before the kill: it must wait for the writer.
        EXPECT_EQ(waited_pids(), std::set<int>{writer.pid()});
    }
    const auto rerun = run_cli({"run"});
    ASSERT_EQ(rerun.exit_code, 0) << rerun.err;
    EXPECT_EQ(waited_pids(), std::set<int>{writer.pid()});
    writer.commit();
    const auto after = run_cli({"run"});
    ASSERT_EQ(after.exit_code, 0) << after.err;
    EXPECT_EQ(loaded(), expected());
}

INSTANTIATE_TEST_SUITE_P(EveryPoint, CommitAwareFailPointWalk,
                         ::testing::Values("after_extract:2", "after_probe:2", "after_stage:2",
                                           "after_merge:2", "after_commit:2", "before_checkpoint",
                                           "checkpoint_before_rename", "before_final_record"),
                         [](const ::testing::TestParamInfo<std::string>& point) {
                             std::string name = point.param;
                             for (char& c : name) {
                                 c = std::isalnum(static_cast<unsigned char>(c)) ? c : '_';
                             }
                             return name;
                         });

}  // namespace
