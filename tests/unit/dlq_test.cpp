// tests/unit/dlq_test.cpp: the DLQ line format and the writer's file handling.
#include "pipeline/state/dlq.hpp"

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

namespace {

TEST(DlqReaderTest, ReadsBackWhatTheWriterWrites) {
    pipeline::SourceRow row;
    const std::string notes = "tab\there \"quoted\" back\\slash \xe6\x97\xa5 nl\n";
    row[pipeline::SourceColumn::order_id] = "17";
    row[pipeline::SourceColumn::notes] = notes;
    row[pipeline::SourceColumn::updated_at] = "2026-03-01 10:00:00+00";
    const auto at =
        *pipeline::parse_timestamp("2026-03-02T00:00:00Z", pipeline::OffsetRule::required);
    const std::string line = pipeline::format_dlq_line(row, "missing_customer_id: NULL", at, "r1");
    std::string why;
    auto entry = pipeline::parse_dlq_line(line, why);
    ASSERT_TRUE(entry) << why;
    EXPECT_EQ(entry->error, "missing_customer_id: NULL");
    EXPECT_EQ(entry->run_id, "r1");
    EXPECT_EQ(entry->rejected_at.micros, at.micros);
    EXPECT_EQ(entry->row[0], "17");
    EXPECT_EQ(entry->row[static_cast<std::size_t>(pipeline::SourceColumn::notes)], notes);
    EXPECT_EQ(entry->row[static_cast<std::size_t>(pipeline::SourceColumn::updated_at)],
              "2026-03-01T10:00:00.000000Z");
    EXPECT_FALSE(entry->row[1]);
}

TEST(DlqReaderTest, NamesWhatIsWrong) {
    const std::vector<std::pair<std::string, std::string>> cases = {
        {"", "not a JSON object"},
        {"[1]", "not a JSON object"},
        {R"({"error":1})", "\"error\""},
        {R"({"error":"e","rejected_at":"yesterday","run_id":"r","row":{}})", "rejected_at"},
        {R"({"error":"e","rejected_at":"2026-01-01T00:00:00Z","run_id":"r","row":{}})", "order_id"},
        {R"({"error":"e","rejected_at":"2026-01-01T00:00:00Z","run_id":"r","row":[]})", "\"row\""},
    };
    for (const auto& [line, expected] : cases) {
        std::string why;
        EXPECT_FALSE(pipeline::parse_dlq_line(line, why)) << line;
        EXPECT_NE(why.find(expected), std::string::npos) << line << " -> " << why;
    }
}

}  // namespace
