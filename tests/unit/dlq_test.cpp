// tests/unit/dlq_test.cpp: the DLQ line format and the writer's file handling.
#include "pipeline/dlq.hpp"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <random>

#include "tests/unit/row_builder.hpp"

namespace {

namespace fs = std::filesystem;
using pipeline::SourceColumn;

TEST(DlqTest, LineHasEveryColumnNullsAndIsoTimestamps) {
    pipeline::SourceRow row = test::valid_row();
    row[SourceColumn::notes] = std::nullopt;
    row[SourceColumn::created_at] = "2026-03-01 10:00:00.5+00";
    const std::string hostile = "q\"uo'te \\ tab\t nl\n ctl\x01 ☕ 東京";
    row[SourceColumn::cancellation_reason] = std::string_view(hostile);
    const std::string line = pipeline::format_dlq_line(row, "negative_order_amount: order 1001 ...",
                                                       pipeline::Timestamp{0}, "run-1");
    ASSERT_EQ(line.back(), '\n');
    EXPECT_EQ(line.find('\n'), line.size() - 1) << "one line per row";
    auto doc = nlohmann::json::parse(line);
    EXPECT_EQ(doc["error"], "negative_order_amount: order 1001 ...");
    EXPECT_EQ(doc["run_id"], "run-1");
    EXPECT_EQ(doc["rejected_at"], "1970-01-01T00:00:00.000000Z");
    ASSERT_EQ(doc["row"].size(), 17u);
    EXPECT_TRUE(doc["row"]["notes"].is_null());
    EXPECT_TRUE(doc["row"]["cancelled_at"].is_null());
    EXPECT_EQ(doc["row"]["order_id"], "1001");
    EXPECT_EQ(doc["row"]["order_amount"], "250.00");
    EXPECT_EQ(doc["row"]["created_at"], "2026-03-01T10:00:00.500000Z");
    EXPECT_EQ(doc["row"]["cancellation_reason"], hostile);
    EXPECT_EQ(line.find("\"error\""), 1u) << "error comes first";
}

TEST(DlqTest, UnparseableTimestampKeepsItsText) {
    pipeline::SourceRow row = test::valid_row();
    row[SourceColumn::updated_at] = "yesterday";
    auto doc = nlohmann::json::parse(
        pipeline::format_dlq_line(row, "missing_timestamp: x", pipeline::Timestamp{0}, "r"));
    EXPECT_EQ(doc["row"]["updated_at"], "yesterday");
}

TEST(DlqTest, InvalidUtf8StillGivesValidJson) {
    pipeline::SourceRow row = test::valid_row();
    row[SourceColumn::notes] = std::string_view("bad \xff byte", 10);
    EXPECT_NO_THROW(
        nlohmann::json::parse(pipeline::format_dlq_line(row, "x: y", pipeline::Timestamp{0}, "r")));
}

TEST(DlqTest, WriterCreatesFileOnlyWhenNeeded) {
    std::random_device rd;
    const fs::path dir = fs::temp_directory_path() / ("op-dlq-test-" + std::to_string(rd()));
    {
        pipeline::DlqWriter empty(dir, "orders", "run-empty");
        empty.close();
        EXPECT_FALSE(fs::exists(empty.path()));
    }
    pipeline::DlqWriter writer(dir, "orders", "run-1");
    EXPECT_EQ(writer.path(), dir / "orders_run-1.ndjson");
    writer.append("{\"a\":1}\n");
    writer.flush();
    writer.append("{\"a\":2}\n");
    writer.close();
    writer.close();  // idempotent
    std::ifstream in(writer.path());
    std::string content((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    EXPECT_EQ(content, "{\"a\":1}\n{\"a\":2}\n");
    EXPECT_EQ(writer.lines_written(), 2u);
    fs::remove_all(dir);
}

}  // namespace
