// tests/unit/sql_test.cpp: identifiers, COPY text encoding and the generated SQL.
#include <gtest/gtest.h>

#include "pipeline/copy_text.hpp"
#include "pipeline/error.hpp"
#include "pipeline/merge_sql.hpp"
#include "pipeline/sql_identifier.hpp"

namespace {

TEST(SqlIdentifierTest, AcceptsPlainIdentifiers) {
    for (const char* text : {"orders", "_x", "Silver_2", "a"}) {
        EXPECT_TRUE(pipeline::SqlIdentifier::parse(text).has_value()) << text;
    }
}

TEST(SqlIdentifierTest, RejectsInjectionAndOddities) {
    for (const char* text : {"", "orders; DROP TABLE x", "or\"ders", "a b", "1abc", "a.b", "a-b",
                             "o'r", "ørders", "x--"}) {
        EXPECT_FALSE(pipeline::SqlIdentifier::parse(text).has_value()) << text;
    }
    EXPECT_FALSE(pipeline::SqlIdentifier::parse(std::string(64, 'a')).has_value());
    EXPECT_TRUE(pipeline::SqlIdentifier::parse(std::string(63, 'a')).has_value());
}

TEST(SqlIdentifierTest, QualifiedName) {
    auto name = pipeline::QualifiedName::parse("monitoring.pipeline_runs");
    ASSERT_TRUE(name);
    EXPECT_EQ(name->str(), "monitoring.pipeline_runs");
    EXPECT_FALSE(pipeline::QualifiedName::parse("runs"));
    EXPECT_FALSE(pipeline::QualifiedName::parse("a.b.c"));
    EXPECT_FALSE(pipeline::QualifiedName::parse("a;.b"));
}

TEST(CopyTextTest, EscapesOnlyWhatCopyNeeds) {
    std::string out;
    pipeline::append_copy_escaped(out, "a\\b\tc\nd\re\"f'g\x01h ☕");
    EXPECT_EQ(out, "a\\\\b\\tc\\nd\\re\"f'g\x01h ☕");
}

TEST(CopyTextTest, EncodesAFullRow) {
    pipeline::OrderRow row;
    row.order_id = 7;
    row.customer_id = 9;
    row.store_id = "S\t1";
    row.order_amount = 12345;
    row.delivery_fee = 0;
    row.discount_amount = -5;
    row.total_value = 12350;
    row.status = "cancelled";
    row.payment_method = "upi";
    row.order_tier = pipeline::OrderTier::economy;
    row.order_date = {2026, 3, 1};
    row.order_hour = 5;
    row.order_month = "2026-03";
    row.delivery_minutes_tenths = -3;
    row.cancellation_type = pipeline::CancellationType::system;
    row.has_promo = true;
    row.promo_code = "";
    row.created_at = pipeline::Timestamp{1'772'341'200'000'001};
    row.updated_at = row.created_at;
    row.ingested_at = pipeline::Timestamp{0};
    std::string out;
    pipeline::append_copy_row(out, row);
    EXPECT_EQ(out,
              "7\t9\tS\\t1\t\\N\t123.45\t0.00\t-0.05\t123.50\tcancelled\tupi\t\\N\teconomy\t"
              "2026-03-01\t5\t2026-03\t-0.3\tsystem\t\\N\tt\t\t2026-03-01 05:00:00.000001+00\t"
              "2026-03-01 05:00:00.000001+00\t\\N\t\\N\t1970-01-01 00:00:00.000000+00\n");
}

TEST(MergeSqlTest, NewerWinsUpsertUsesCheckedNames) {
    auto schema = *pipeline::SqlIdentifier::parse("silver");
    auto table = *pipeline::SqlIdentifier::parse("orders");
    const std::string sql = pipeline::pg_merge_sql(schema, table);
    EXPECT_NE(sql.find("INSERT INTO silver.orders AS t"), std::string::npos);
    EXPECT_NE(sql.find("ON CONFLICT (order_id) DO UPDATE SET customer_id = EXCLUDED.customer_id"),
              std::string::npos);
    EXPECT_NE(sql.find("WHERE t.updated_at < EXCLUDED.updated_at"), std::string::npos);
    EXPECT_EQ(sql.find("order_id = EXCLUDED.order_id"), std::string::npos);
    EXPECT_NE(sql.find("ingested_at = EXCLUDED.ingested_at"), std::string::npos);
    const std::string ddl = pipeline::pg_create_target_sql(schema, table);
    EXPECT_NE(ddl.find("CREATE TABLE IF NOT EXISTS silver.orders"), std::string::npos);
    EXPECT_NE(ddl.find("order_id bigint PRIMARY KEY"), std::string::npos);
}

TEST(ErrorTest, TransientSqlstates) {
    for (const char* code :
         {"08000", "08006", "08P01", "40001", "40P01", "57P01", "57P02", "57P03", "53300"}) {
        EXPECT_TRUE(pipeline::is_transient_sqlstate(code)) << code;
    }
    for (const char* code : {"", "42P01", "23505", "57014", "53100", "22003", "0800"}) {
        EXPECT_FALSE(pipeline::is_transient_sqlstate(code)) << code;
    }
    pipeline::Error e(pipeline::ErrorKind::source, "lost", "08006", "[FETCH]", "rerun");
    EXPECT_TRUE(e.transient());
    EXPECT_EQ(e.statement_label(), "[FETCH]");
}

}  // namespace
