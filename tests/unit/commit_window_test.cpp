// tests/unit/commit_window_test.cpp: the hold-back of commit-aware windows, and its checkpoint
// form.
#include "pipeline/source/commit_window.hpp"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <random>

#include "pipeline/config/config.hpp"
#include "pipeline/core/error.hpp"
#include "pipeline/run/run_parts.hpp"
#include "pipeline/state/checkpoint.hpp"

namespace {

using pipeline::HoldBack;
using pipeline::HoldBackMode;
using pipeline::OpenTransaction;
using pipeline::Sighting;
using pipeline::Timestamp;
using pipeline::Xid8;

constexpr Xid8 epoch = Xid8{1} << 32;
constexpr std::int64_t second = 1'000'000;
const Timestamp at{1'790'000'000'000'000};

Timestamp seconds_before(std::int64_t seconds) {
    return Timestamp{at.micros - seconds * second};
}

OpenTransaction session(int pid, std::optional<Xid8> xid, std::int64_t age_seconds) {
    return {pid, xid, seconds_before(age_seconds), "idle in transaction", "app"};
}

// A primary: at the look xids from 1008 on are unassigned and 1000 is the
// oldest running; the scan after it (from 1000) finds top-level xids 1000 and
// 1003 and their subtransactions 1001 and 1005 in progress; the snapshot
// after that (xmax 1010) has 1000 and 1003 in progress.
Sighting primary() {
    Sighting s;
    s.at = at;
    s.next_xid_at = 1008;
    s.oldest_xid_at = 1000;
    s.scanned_from = 1000;
    s.in_progress = std::vector<Xid8>{1000, 1001, 1003, 1005};
    s.snapshot = {1000, 1010, {1000, 1003}};
    return s;
}

const pipeline::HoldBackSettings settings{24LL * 3600 * second, 3600LL * second};

std::optional<pipeline::HoldBack> plan(const Sighting& s, const pipeline::HoldBackSettings& with) {
    return pipeline::plan_next_window(s, with).hold_back;
}
pipeline::Unseen unseen_of(const Sighting& s) {
    return pipeline::plan_next_window(s, settings).unseen;
}

TEST(CommitWindowTest, WidenXidTakesTheEpochOfTheReferenceOrTheOneBefore) {
    EXPECT_EQ(pipeline::widen_xid(5, 10), 5u);
    EXPECT_EQ(pipeline::widen_xid(5, 3 * epoch + 10), 3 * epoch + 5);
    // An xid above the reference's low half belongs to the previous epoch.
    EXPECT_EQ(pipeline::widen_xid(0xFFFF'FFF0U, 3 * epoch + 10), 2 * epoch + 0xFFFF'FFF0U);
    EXPECT_EQ(pipeline::widen_xid(10, 3 * epoch + 10), 3 * epoch + 10);
    // Epoch 0 has no epoch before it.
    EXPECT_EQ(pipeline::widen_xid(0xFFFF'FFF0U, 10), 0xFFFF'FFF0U);
}

TEST(CommitWindowTest, SnapshotTextParses) {
    const auto s = pipeline::SnapshotXids::parse("4294967300:4294967310:4294967305,4294967301");
    ASSERT_TRUE(s);
    EXPECT_EQ(s->xmin, 4294967300u);
    EXPECT_EQ(s->xmax, 4294967310u);
    EXPECT_EQ(s->xip, (std::vector<Xid8>{4294967301, 4294967305}));
    const auto empty = pipeline::SnapshotXids::parse("761:761:");
    ASSERT_TRUE(empty);
    EXPECT_TRUE(empty->xip.empty());
    for (const char* bad : {"", "1:2", "2:1:", "a:2:", "1:2:x", "1:2:3,,4"}) {
        EXPECT_FALSE(pipeline::SnapshotXids::parse(bad)) << bad;
    }
}

TEST(CommitWindowTest, NothingOpenMeansNoHoldBack) {
    Sighting s = primary();  // xids in progress, but of sessions in other databases
    EXPECT_FALSE(plan(s, settings));
    EXPECT_FALSE(pipeline::xid_scan_start(s)) << "nothing to scan for";
    // Unseen: whatever began after the look (its xids come after it), not the others.
    EXPECT_EQ(unseen_of(s), (pipeline::Unseen{1008, {}}));
}

TEST(CommitWindowTest, EarlyWriterHoldsBackToItsStartWithItsSubtransactions) {
    Sighting s = primary();
    s.open = {session(11, 1000, 300), session(12, std::nullopt, 0)};
    const auto h = plan(s, settings);
    ASSERT_TRUE(h);
    EXPECT_EQ(h->mode, HoldBackMode::exact);
    EXPECT_EQ(h->floor, seconds_before(300));
    EXPECT_FALSE(h->capped);
    EXPECT_EQ(unseen_of(s).xid_from, 1008u);  // assigned after the look
    // Every xid in progress at the scan, subtransactions included (whoever's they are).
    EXPECT_EQ(unseen_of(s).xids, (std::vector<Xid8>{1000, 1001, 1003, 1005}));
    EXPECT_EQ(h->waiting.size(), 2u);
    EXPECT_EQ(pipeline::xid_scan_start(s), 1000u);
    EXPECT_DOUBLE_EQ(pipeline::hold_back_seconds(h, at), 300.0);
    EXPECT_DOUBLE_EQ(pipeline::oldest_transaction_seconds(s.open, at), 300.0);
}

TEST(CommitWindowTest, LateWriterWithoutXidHoldsBackToItsStart) {
    Sighting s = primary();
    s.open = {session(12, std::nullopt, 42)};
    const auto h = plan(s, settings);
    ASSERT_TRUE(h);
    EXPECT_EQ(h->floor, seconds_before(42));
    EXPECT_EQ(unseen_of(s).xid_from, 1008u);  // its xid, when it gets one, comes after the look
    // Nothing below the look's next xid can be its: nothing to scan.
    EXPECT_EQ(pipeline::xid_scan_start(s), 1008u);
}

TEST(CommitWindowTest, WriterThatEndedBeforeTheSnapshotIsNotWaitedFor) {
    Sighting s = primary();
    s.open = {session(13, 1002, 600)};  // not in xip: committed before the snapshot
    EXPECT_FALSE(plan(s, settings));
}

TEST(CommitWindowTest, TransactionEndingBetweenScanAndSnapshotStaysListed) {
    Sighting s = primary();
    s.open = {session(11, 1003, 30)};
    s.snapshot.xip = {1000};  // 1003 committed after the scan, before the snapshot
    EXPECT_FALSE(plan(s, settings)) << "the snapshot saw its rows: nothing to wait for";
    // Listed all the same (its rows are read again once: harmless under newer-wins).
    EXPECT_EQ(unseen_of(s).xids, (std::vector<Xid8>{1000, 1001, 1003, 1005}));
}

TEST(CommitWindowTest, WriterHoldingTheNewestXidIsWaitedFor) {
    // A quiet database: the open writer holds the newest xid, and the snapshot's xmax (one
    // past the last completed xid) is that xid itself, so no xip list names it.
    Sighting s;
    s.at = at;
    s.next_xid_at = 740;
    s.oldest_xid_at = 740;
    s.open = {session(11, 740, 7200)};
    s.scanned_from = 740;
    s.in_progress = std::vector<Xid8>{};
    s.snapshot = {740, 740, {}};
    const auto h = plan(s, settings);
    ASSERT_TRUE(h) << "its rows, stamped two hours back, would be skipped";
    EXPECT_EQ(h->floor, seconds_before(7200));
    EXPECT_EQ(unseen_of(s).xid_from, 740u);
}

TEST(CommitWindowTest, CommitWaitingForASynchronousStandbyCountsAsInProgress) {
    // The scan (an older PostgreSQL) called 1003 committed, but the later snapshot still
    // has it in progress: its rows and its subtransactions' are unseen.
    Sighting s = primary();
    s.open = {session(11, 1003, 30)};
    s.in_progress = std::vector<Xid8>{1000, 1001};
    EXPECT_EQ(unseen_of(s), (pipeline::Unseen{1003, {1000, 1001}}));
}

TEST(CommitWindowTest, ListedXidsNeedNothingFromTheSnapshot) {
    // On a standby the snapshot names no xid in progress, and one may commit
    // between the scan and the snapshot: what the scan found is what counts.
    Sighting s = primary();
    s.replica = true;
    s.snapshot = {1000, 1010, {}};
    EXPECT_EQ(unseen_of(s), (pipeline::Unseen{1008, {1000, 1001, 1003, 1005}}));
}

TEST(CommitWindowTest, RangeTooLongToScanTakesEveryXidFromItsStart) {
    Sighting s = primary();
    s.open = {session(11, 1003, 30)};
    s.in_progress.reset();
    const auto h = plan(s, settings);
    ASSERT_TRUE(h);
    EXPECT_EQ(unseen_of(s).xid_from, 1003u);
    EXPECT_TRUE(unseen_of(s).xids.empty());
}

TEST(CommitWindowTest, HiddenSessionsBoundTheHoldBackByTheAssumedLongestTransaction) {
    Sighting s = primary();
    s.sees_all_sessions = false;
    const auto h = plan(s, settings);
    ASSERT_TRUE(h);
    EXPECT_EQ(h->mode, HoldBackMode::bounded);
    EXPECT_EQ(h->floor, seconds_before(3600));
    EXPECT_EQ(pipeline::xid_scan_start(s), 1000u) << "any running xid may be a hidden one's";
    // A visible older one still counts.
    s.open = {session(11, 1000, 7200)};
    EXPECT_EQ(plan(s, settings)->floor, seconds_before(7200));
    // Assuming no transaction outlives a run gives no hold-back at all.
    s.open.clear();
    EXPECT_FALSE(plan(s, {settings.cap_micros, 0}));
}

TEST(CommitWindowTest, ReplicaScansFromTheOldestRunningXidAndBoundsTheFloor) {
    Sighting s;
    s.at = at;
    s.replica = true;
    s.next_xid_at = 1010;
    s.oldest_xid_at = 990;
    s.snapshot = {990, 1012, {}};  // a standby's snapshot names no xid in progress
    EXPECT_EQ(pipeline::xid_scan_start(s), 990u);
    s.scanned_from = 990;
    s.in_progress = std::vector<Xid8>{990, 1002};
    const auto h = plan(s, settings);
    ASSERT_TRUE(h);
    EXPECT_EQ(h->mode, HoldBackMode::replica);
    EXPECT_EQ(h->floor, seconds_before(3600));
    EXPECT_EQ(unseen_of(s).xid_from, 1010u);
    EXPECT_EQ(unseen_of(s).xids, (std::vector<Xid8>{990, 1002}));
    s.in_progress.reset();
    EXPECT_EQ(unseen_of(s).xid_from, 990u);
}

TEST(CommitWindowTest, PreparedTransactionIsBoundedLikeAnUnseenStart) {
    Sighting s = primary();
    OpenTransaction prepared;
    prepared.xid = 1003;
    prepared.state = "prepared";
    s.open = {prepared};
    const auto h = plan(s, settings);
    ASSERT_TRUE(h);
    EXPECT_EQ(h->mode, HoldBackMode::exact);
    EXPECT_EQ(h->floor, seconds_before(3600));
}

TEST(CommitWindowTest, CapRaisesTheFloorAndSaysSo) {
    Sighting s = primary();
    s.open = {session(11, 1000, 3 * 86400)};
    const auto h = plan(s, settings);
    ASSERT_TRUE(h);
    EXPECT_TRUE(h->capped);
    EXPECT_EQ(h->floor, seconds_before(86400));
    const auto none = plan(s, {0, settings.assumed_max_transaction_micros});
    ASSERT_TRUE(none);
    EXPECT_TRUE(none->capped);
    EXPECT_EQ(none->floor, at);
}

TEST(CommitWindowTest, DescribeNamesPidXidStateAndStart) {
    EXPECT_EQ(pipeline::describe(session(4242, 123456, 0)),
              "pid 4242 xid 123456 idle in transaction since " + pipeline::format_timestamp(at) +
                  " (app)");
    OpenTransaction hidden;
    hidden.pid = 7;
    EXPECT_EQ(pipeline::describe(hidden), "pid 7 (start not visible)");
}

// ---- checkpoint version 2 ---------------------------------------------------

pipeline::NextWindow sample_next_window() {
    Sighting s = primary();
    s.open = {session(11, 1000, 300)};
    return pipeline::plan_next_window(s, settings);
}

TEST(CommitWindowTest, CheckpointKeepsTheHoldBack) {
    pipeline::CheckpointState state{at, at, "orders"};
    const auto next = sample_next_window();
    state.unseen = next.unseen;
    state.hold_back = next.hold_back;
    const std::string text = pipeline::format_checkpoint(state);
    EXPECT_NE(text.find("\"version\":2"), std::string::npos) << text;
    std::string why;
    const auto back = pipeline::parse_checkpoint(text, why);
    ASSERT_TRUE(back) << why;
    EXPECT_EQ(back->version, 2);
    ASSERT_TRUE(back->hold_back);
    EXPECT_EQ(*back->hold_back, *state.hold_back);
    ASSERT_TRUE(back->unseen);
    EXPECT_EQ(*back->unseen, *state.unseen);
    EXPECT_FALSE(back->hold_back_unreadable);
}

TEST(CommitWindowTest, VersionOneCheckpointReadsWithoutHoldBack) {
    std::string why;
    const auto state = pipeline::parse_checkpoint(
        R"({"watermark": "2026-11-22T04:55:49.920429Z", "saved_at": "2026-11-22T04:55:50Z",
            "pipeline": "orders"})",
        why);
    ASSERT_TRUE(state) << why;
    EXPECT_EQ(state->version, 1);
    EXPECT_FALSE(state->hold_back);
    EXPECT_FALSE(state->hold_back_unreadable);
}

TEST(CommitWindowTest, UnreadableHoldBackIsNotACorruptCheckpoint) {
    std::string why;
    const auto state = pipeline::parse_checkpoint(
        R"({"version": 2, "watermark": "2026-11-22T04:55:49Z", "unseen": {"xid_from": "many",
            "xids": []}, "hold_back": {"mode": "exact", "floor": "2026-11-22T04:00:00Z"}})",
        why);
    ASSERT_TRUE(state) << why;
    EXPECT_FALSE(state->hold_back);
    EXPECT_FALSE(state->unseen);
    ASSERT_TRUE(state->hold_back_unreadable);
}

TEST(CommitWindowTest, NewerCheckpointVersionIsRefusedAndLeftAlone) {
    std::random_device rd;
    const auto dir =
        std::filesystem::temp_directory_path() / ("op-commit-window-" + std::to_string(rd()));
    std::filesystem::create_directories(dir);
    const std::string text = R"({"version": 3, "watermark": "2026-11-22T04:55:49Z"})";
    std::ofstream(dir / "orders.checkpoint.json") << text;
    const pipeline::CheckpointStore store(dir, "orders");
    try {
        store.load(at);
        ADD_FAILURE() << "a version 3 checkpoint was accepted";
    } catch (const pipeline::Error& e) {
        EXPECT_EQ(e.kind(), pipeline::ErrorKind::io);
        EXPECT_NE(std::string(e.what()).find("version 3"), std::string::npos) << e.what();
    }
    std::ifstream in(dir / "orders.checkpoint.json");
    EXPECT_EQ(std::string(std::istreambuf_iterator<char>(in), {}), text);
    std::filesystem::remove_all(dir);
}

// ---------------------------------------------------------------------------
// The next window and verify's bound, from a checkpoint.

pipeline::Config config_with(std::optional<pipeline::CursorKind> job_cursor) {
    pipeline::Config config;
    config.overlap_minutes = 1;
    if (job_cursor) {
        config.job.emplace();
        config.job->cursor_kind = *job_cursor;
    }
    return config;
}

// Position 101 read just after the last snapshot; earlier runs marked 10 and 50.
pipeline::CheckpointState integer_state() {
    pipeline::CheckpointState state;
    state.watermark = at;  // the last look
    state.position = 101;
    state.positions = {
        {seconds_before(180), 10}, {seconds_before(60), 50}, {Timestamp{at.micros + 100'000}, 101}};
    state.unseen = pipeline::Unseen{1008, {}};
    return state;
}

TEST(CommitWindowTest, IntegerWindowReachesBackToTheMarkBeforeTheLastLook) {
    // Nothing was open at the look, but a transaction that began after it may have taken
    // a value below 101 and committed after the snapshot: back to the mark before the look.
    const auto window =
        pipeline::incremental_window(config_with(pipeline::CursorKind::integer), integer_state());
    EXPECT_EQ(window.lower_position, 101);
    ASSERT_TRUE(window.held_back);
    EXPECT_EQ(window.held_back->from_position, 50);
    EXPECT_EQ(window.held_back->plain_after_position, 101);
    EXPECT_EQ(window.held_back->unseen, (pipeline::Unseen{1008, {}}));
}

TEST(CommitWindowTest, IntegerWindowReachesBackToTheMarkBeforeTheFloor) {
    pipeline::CheckpointState state = integer_state();
    HoldBack hold;
    hold.floor = seconds_before(120);
    state.hold_back = hold;
    const pipeline::Config config = config_with(pipeline::CursorKind::integer);
    const auto window = pipeline::incremental_window(config, state);
    ASSERT_TRUE(window.held_back);
    EXPECT_EQ(window.held_back->from_position, 10);
    // verify compares only what no later window reads back.
    const auto settled = pipeline::settled_bound(config, state);
    EXPECT_TRUE(settled.lowered);
    EXPECT_EQ(settled.value, 9);
}

// A timestamp cursor's checkpoint: version 2 with what its snapshot could not see, or
// version 1 (an older build's, which knew nothing of open transactions).
pipeline::CheckpointState timestamp_state(int version, std::optional<std::int64_t> floor_age) {
    pipeline::CheckpointState state;
    state.watermark = at;
    state.version = version;
    if (version >= 2) {
        state.unseen = pipeline::Unseen{1008, {}};
    }
    if (floor_age) {
        HoldBack hold;
        hold.floor = seconds_before(*floor_age);
        state.hold_back = hold;
    }
    return state;
}

TEST(CommitWindowTest, VerifyBoundIsTheWatermarkUnlessSomethingIsHeldBack) {
    const pipeline::Config config = config_with(std::nullopt);
    const auto plain = pipeline::settled_bound(config, timestamp_state(2, std::nullopt));
    EXPECT_FALSE(plain.lowered);
    EXPECT_EQ(plain.value, at.micros);
    const auto held = pipeline::settled_bound(config, timestamp_state(2, 300));
    EXPECT_TRUE(held.lowered);
    // The held-back part starts at floor - overlap, inclusive.
    EXPECT_EQ(held.value, seconds_before(300 + 60).micros - 1);
    // A version 1 file reaches back the cap once, and verify stays below that.
    const auto upgraded = pipeline::settled_bound(config, timestamp_state(1, std::nullopt));
    EXPECT_TRUE(upgraded.lowered);
    EXPECT_LT(upgraded.value, seconds_before(86'400).micros);
}

}  // namespace
