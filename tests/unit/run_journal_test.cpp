// tests/unit/run_journal_test.cpp: run records as JSON, the local run journal, warehouse credits.
#include "pipeline/state/run_journal.hpp"

#include <fmt/format.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <random>

#include "pipeline/warehouse/snowflake/snowflake_warehouse.hpp"

namespace {

namespace fs = std::filesystem;
using pipeline::RunRecord;
using pipeline::RunStatus;

const pipeline::Timestamp t0{1'790'000'000'000'000};

RunRecord record(const std::string& id, std::int64_t offset_seconds, RunStatus status) {
    RunRecord r;
    r.run_id = id;
    r.pipeline_name = "orders";
    r.mode = pipeline::RunMode::incremental;
    r.run_date = pipeline::utc_parts(t0).date;
    r.started_at = pipeline::Timestamp{t0.micros + offset_seconds * 1'000'000};
    r.status = status;
    r.environment = "production";
    return r;
}

class RunJournalTest : public ::testing::Test {
protected:
    void SetUp() override {
        dir_ = fs::temp_directory_path() /
               ("op-journal-test-" + std::to_string(std::random_device{}()));
    }
    void TearDown() override { fs::remove_all(dir_); }
    fs::path dir_;
};

TEST(RunRecordTest, JsonRoundTripKeepsEveryField) {
    RunRecord r = record("20261206T000000Z-0000000a", 0, RunStatus::failed);
    r.mode = pipeline::RunMode::repair;
    r.finished_at = pipeline::Timestamp{t0.micros + 5'000'000};
    r.counts = {10, 8, 2, 5, 3};
    r.duration_seconds = 5.25;
    r.error_message = "it said \"no\"\nand left";
    r.warehouse_seconds = 61.5;
    r.credits_estimate = 0.017083;
    const auto back = pipeline::parse_run_record(pipeline::format_run_record(r));
    ASSERT_TRUE(back);
    EXPECT_EQ(pipeline::format_run_record(*back), pipeline::format_run_record(r));
    EXPECT_EQ(back->mode, pipeline::RunMode::repair);
    EXPECT_EQ(back->counts.rows_updated, 3);
    EXPECT_EQ(back->error_message, r.error_message);
    EXPECT_DOUBLE_EQ(*back->credits_estimate, 0.017083);
    EXPECT_FALSE(pipeline::parse_run_record(R"({"run_id": "x"})"));
    EXPECT_FALSE(pipeline::parse_run_record("not json"));
}

TEST_F(RunJournalTest, PendingRecordsAreDeliveredOldestFirstAndKept) {
    pipeline::RunJournal journal(dir_, "orders");
    EXPECT_TRUE(journal.pending().empty());
    journal.put(record("b", 20, RunStatus::success));
    journal.put(record("a", 10, RunStatus::skipped));
    journal.put(record("c", 30, RunStatus::running));
    journal.put(record("c", 30, RunStatus::success));  // replaces, by run_id
    const auto pending = journal.pending();
    ASSERT_EQ(pending.size(), 3u);
    EXPECT_EQ(pending[0].run_id, "a");
    EXPECT_EQ(pending[2].run_id, "c");
    EXPECT_EQ(pending[2].status, RunStatus::success);
    journal.mark_delivered({"a", "b"});
    ASSERT_EQ(journal.pending().size(), 1u);
    const auto entries = journal.entries();  // newest first, delivered ones kept
    ASSERT_EQ(entries.size(), 3u);
    EXPECT_EQ(entries[0].record.run_id, "c");
    EXPECT_FALSE(entries[0].delivered);
    EXPECT_TRUE(entries[2].delivered);
}

TEST_F(RunJournalTest, RunningRecordsOfOtherRunsAreClosedAsFailed) {
    pipeline::RunJournal journal(dir_, "orders");
    journal.put(record("dead", 10, RunStatus::running));
    journal.put(record("me", 20, RunStatus::running));
    EXPECT_EQ(journal.close_abandoned("me", t0), std::vector<std::string>{"dead"});
    const auto pending = journal.pending();
    ASSERT_EQ(pending.size(), 2u);
    EXPECT_EQ(pending[0].status, RunStatus::failed);
    EXPECT_NE(pending[0].error_message->find("without reporting a result"), std::string::npos);
    EXPECT_EQ(pending[1].status, RunStatus::running);
    EXPECT_TRUE(journal.close_abandoned("me", t0).empty());
}

TEST_F(RunJournalTest, OnlyTheLastHundredDeliveredRecordsAreKept) {
    pipeline::RunJournal journal(dir_, "orders");
    std::vector<std::string> ids;
    for (int i = 0; i < 130; ++i) {
        ids.push_back(fmt::format("r{:03d}", i));
        journal.put(record(ids.back(), i, RunStatus::success));
    }
    journal.put(record("waiting", -5, RunStatus::skipped));
    journal.mark_delivered(ids);
    const auto entries = journal.entries();
    EXPECT_EQ(entries.size(), 101u) << "100 delivered and the pending one";
    EXPECT_EQ(entries.front().record.run_id, "r129");
    EXPECT_EQ(entries.back().record.run_id, "waiting");
}

TEST_F(RunJournalTest, UnreadableJournalIsMovedAsideNotDeleted) {
    fs::create_directories(dir_);
    std::ofstream(dir_ / "orders.runs.json") << "{ not json";
    pipeline::RunJournal journal(dir_, "orders");
    journal.put(record("new", 0, RunStatus::success));
    EXPECT_EQ(journal.pending().size(), 1u);
    int aside = 0;
    for (const auto& entry : fs::directory_iterator(dir_)) {
        aside += entry.path().filename().string().starts_with("orders.runs.json.corrupt.") ? 1 : 0;
    }
    EXPECT_EQ(aside, 1);
}

TEST(CreditsTest, PublishedRatesBySizeAndType) {
    EXPECT_EQ(pipeline::credits_per_hour("X-Small", "STANDARD"), 1.0);
    EXPECT_EQ(pipeline::credits_per_hour("XSMALL", "STANDARD"), 1.0);
    EXPECT_EQ(pipeline::credits_per_hour("Medium", "STANDARD"), 4.0);
    EXPECT_EQ(pipeline::credits_per_hour("6X-Large", "STANDARD"), 512.0);
    EXPECT_EQ(pipeline::credits_per_hour("Large", "SNOWPARK-OPTIMIZED"), 12.0);
    EXPECT_FALSE(pipeline::credits_per_hour("Gigantic", "STANDARD"));
}

}  // namespace
