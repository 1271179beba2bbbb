// tests/unit/snowflake_api_test.cpp: request bodies, array bindings, chunking, response parsing.
#include "pipeline/warehouse/snowflake/snowflake_api.hpp"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

namespace {

using nlohmann::json;

pipeline::OrderRow sample_row(std::int64_t id) {
    pipeline::OrderRow row;
    row.order_id = id;
    row.customer_id = 77;
    row.store_id = "";
    row.restaurant_id =
        "R \"quoted\" back\\slash\ttab\nnewline \xe6\x97\xa5\xe6\x9c\xac \xf0\x9f\x8e\x89";
    row.order_amount = 123456;  // 1234.56
    row.delivery_fee = 0;
    row.discount_amount = 5;
    row.total_value = 123451;
    row.status = pipeline::OrderStatus::delivered;
    row.payment_method = std::nullopt;
    row.payment_status = "paid";
    row.order_tier = pipeline::OrderTier::standard;
    row.order_date = {2026, 3, 1};
    row.order_hour = 9;
    row.delivery_minutes_tenths = 425;
    row.cancellation_type = std::nullopt;
    row.has_promo = true;
    row.promo_code = "SAVE'10";
    row.created_at =
        *pipeline::parse_timestamp("2026-03-01T09:15:00.5Z", pipeline::OffsetRule::required);
    row.updated_at =
        *pipeline::parse_timestamp("2026-03-01T10:00:00.000001Z", pipeline::OffsetRule::required);
    row.ingested_at = row.updated_at;
    return row;
}

TEST(SnowflakeApiTest, RequestBodyCarriesContextBindingsAndParameters) {
    pipeline::StatementRequest request;
    request.statement = "INSERT INTO T (A, B) VALUES (?, ?)";
    request.bindings = {{"FIXED", {"1", std::nullopt}}, {"TEXT", {"x", "y"}}};
    request.timeout_seconds = 600;
    request.database = "ANALYTICS";
    request.schema = "SILVER";
    request.warehouse = "LOAD_WH";
    request.query_tag = "orders-pipeline:run=r1";
    const auto body = json::parse(pipeline::statement_request_body(request));
    EXPECT_EQ(body["statement"], request.statement);
    EXPECT_EQ(body["timeout"], 600);
    EXPECT_EQ(body["database"], "ANALYTICS");
    EXPECT_EQ(body["warehouse"], "LOAD_WH");
    EXPECT_FALSE(body.contains("role"));
    EXPECT_EQ(body["bindings"]["1"], json({{"type", "FIXED"}, {"value", {"1", nullptr}}}));
    EXPECT_EQ(body["bindings"]["2"]["value"], json({"x", "y"}));
    EXPECT_EQ(body["parameters"]["TIMEZONE"], "UTC");
    EXPECT_EQ(body["parameters"]["QUERY_TAG"], "orders-pipeline:run=r1");
}

TEST(SnowflakeApiTest, EveryColumnIsBoundWithItsTypeAndExactText) {
    const std::vector<pipeline::OrderRow> rows = {sample_row(1), sample_row(2)};
    const auto bindings = pipeline::order_row_bindings(rows);
    ASSERT_EQ(bindings.size(), 25u);
    for (const auto& b : bindings) {
        EXPECT_EQ(b.values.size(), 2u);
    }
    EXPECT_EQ(bindings[0].type, "FIXED");
    EXPECT_EQ(bindings[0].values[1], "2");
    EXPECT_EQ(bindings[2].values[0], "");  // store_id: empty, not NULL
    EXPECT_EQ(bindings[3].values[0], rows[0].restaurant_id);
    EXPECT_EQ(bindings[4].values[0], "1234.56");
    EXPECT_EQ(bindings[6].values[0], "0.05");
    EXPECT_EQ(bindings[9].values[0], std::nullopt);  // payment_method NULL
    EXPECT_EQ(bindings[11].values[0], "standard");
    EXPECT_EQ(bindings[12].values[0], "2026-03-01");
    EXPECT_EQ(bindings[13].type, "FIXED");
    EXPECT_EQ(bindings[15].values[0], "42.5");
    EXPECT_EQ(bindings[16].values[0], std::nullopt);
    EXPECT_EQ(bindings[18].type, "BOOLEAN");
    EXPECT_EQ(bindings[18].values[0], "true");
    EXPECT_EQ(bindings[19].values[0], "SAVE'10");
    EXPECT_EQ(bindings[20].values[0], "2026-03-01 09:15:00.500000 +00:00");
    EXPECT_EQ(bindings[21].values[0], "2026-03-01 10:00:00.000001 +00:00");
    EXPECT_EQ(bindings[22].values[0], std::nullopt);

    // Through the JSON body and back, the hostile text is byte-exact.
    pipeline::StatementRequest request;
    request.bindings = bindings;
    const auto body = json::parse(pipeline::statement_request_body(request));
    EXPECT_EQ(body["bindings"]["4"]["value"][0].get<std::string>(), *rows[0].restaurant_id);
    EXPECT_TRUE(body["bindings"]["10"]["value"][0].is_null());
}

TEST(SnowflakeApiTest, ChunksStayUnderTheBodyCapAndKeepEveryRowInOrder) {
    std::vector<pipeline::OrderRow> rows;
    for (int i = 0; i < 500; ++i) {
        rows.push_back(sample_row(i));
    }
    rows[250].restaurant_id = std::string(20000, 'x');  // one wide row
    constexpr std::size_t cap = 64 * 1024;
    const auto chunks = pipeline::chunk_by_body_size(rows, cap);
    ASSERT_GT(chunks.size(), 2u);
    std::int64_t next = 0;
    for (const auto& chunk : chunks) {
        ASSERT_FALSE(chunk.empty());
        EXPECT_EQ(chunk.front().order_id, next);
        next = chunk.back().order_id + 1;
        pipeline::StatementRequest request;
        request.statement = std::string(1500, 's');  // about the staging INSERT's length
        request.bindings = pipeline::order_row_bindings(chunk);
        EXPECT_LE(pipeline::statement_request_body(request).size(), cap) << chunk.size();
    }
    EXPECT_EQ(next, 500);
}

TEST(SnowflakeApiTest, ParsesAResultSet) {
    const auto outcome = pipeline::parse_statement_response(200, R"({
        "resultSetMetaData": {"numRows": 1, "format": "jsonv2",
            "partitionInfo": [{"rowCount": 1}, {"rowCount": 4}],
            "rowType": [{"name": "number of rows inserted", "type": "fixed"},
                        {"name": "number of rows updated", "type": "fixed"}]},
        "data": [["3", "2"]], "code": "090001", "sqlState": "00000",
        "statementHandle": "01c7-h", "message": "Statement executed successfully."})");
    ASSERT_EQ(outcome.kind, pipeline::StatementOutcome::Kind::done);
    EXPECT_EQ(outcome.statement_handle, "01c7-h");
    EXPECT_EQ(outcome.result.partitions, 2);
    EXPECT_EQ(pipeline::count_column(outcome.result, "number of rows inserted"), 3);
    EXPECT_EQ(pipeline::count_column(outcome.result, "number of rows updated"), 2);
    EXPECT_EQ(pipeline::count_column(outcome.result, "number of rows deleted"), std::nullopt);
}

TEST(SnowflakeApiTest, MergeCountsAreFoundByNameNotPosition) {
    const auto update_only = pipeline::parse_statement_response(
        200, R"({"resultSetMetaData": {"rowType": [{"name": "number of rows updated"}]},
                 "data": [["7"]], "statementHandle": "h"})");
    EXPECT_EQ(pipeline::count_column(update_only.result, "number of rows inserted"), std::nullopt);
    EXPECT_EQ(pipeline::count_column(update_only.result, "number of rows updated"), 7);
}

TEST(SnowflakeApiTest, ParsesRunningAndFailedStatements) {
    const auto running = pipeline::parse_statement_response(
        202, R"({"code":"333334","message":"Asynchronous execution in progress.",
                 "statementHandle":"h-1","statementStatusUrl":"/api/v2/statements/h-1"})");
    EXPECT_EQ(running.kind, pipeline::StatementOutcome::Kind::running);
    EXPECT_EQ(running.statement_handle, "h-1");

    const auto failed = pipeline::parse_statement_response(
        422,
        R"({"code":"002003","sqlState":"42S02","message":"SQL compilation error:\nTable 'X' does not exist.",
                 "statementHandle":"h-2"})");
    EXPECT_EQ(failed.kind, pipeline::StatementOutcome::Kind::failed);
    EXPECT_EQ(failed.code, "002003");
    EXPECT_EQ(failed.message, "SQL compilation error:\nTable 'X' does not exist.");
    EXPECT_EQ(failed.sql_state, "42S02");
    EXPECT_EQ(failed.statement_handle, "h-2");

    const auto garbage = pipeline::parse_statement_response(503, "<html>busy</html>");
    EXPECT_EQ(garbage.kind, pipeline::StatementOutcome::Kind::failed);
    EXPECT_EQ(garbage.http_status, 503);
    EXPECT_NE(garbage.message.find("not a JSON object"), std::string::npos);
}

TEST(SnowflakeApiTest, ParsesPartitions) {
    auto rows = pipeline::parse_partition_body(R"({"data": [["1", null], ["2", "b"]]})");
    ASSERT_TRUE(rows);
    ASSERT_EQ(rows->size(), 2u);
    EXPECT_EQ((*rows)[0][1], std::nullopt);
    EXPECT_EQ((*rows)[1][1], "b");
    EXPECT_FALSE(pipeline::parse_partition_body(R"({"rows": []})"));
    EXPECT_FALSE(pipeline::parse_partition_body(R"({"data": [1]})"));
}

TEST(SnowflakeApiTest, HttpStatusesMapToTheDocumentedReactions) {
    using pipeline::HttpRetry;
    EXPECT_EQ(pipeline::classify_http_status(401), HttpRetry::reauthenticate);
    for (int status : {429, 503, 504}) {
        EXPECT_EQ(pipeline::classify_http_status(status), HttpRetry::throttled) << status;
    }
    for (int status : {500, 502}) {
        EXPECT_EQ(pipeline::classify_http_status(status), HttpRetry::resubmit) << status;
    }
    for (int status : {400, 403, 404, 405, 408, 415, 422}) {
        EXPECT_EQ(pipeline::classify_http_status(status), HttpRetry::none) << status;
    }
}

}  // namespace
