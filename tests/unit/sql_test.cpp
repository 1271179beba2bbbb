// tests/unit/sql_test.cpp: identifiers, COPY text encoding and the generated SQL.
#include <gtest/gtest.h>

#include "pipeline/core/error.hpp"
#include "pipeline/core/sql_identifier.hpp"
#include "pipeline/warehouse/postgres/copy_binary.hpp"
#include "pipeline/warehouse/postgres/copy_text.hpp"
#include "pipeline/warehouse/postgres/merge_sql.hpp"

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
    row.status = pipeline::OrderStatus::cancelled;
    row.payment_method = pipeline::PaymentMethod::upi;
    row.order_tier = pipeline::OrderTier::economy;
    row.order_date = {2026, 3, 1};
    row.order_hour = 5;
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

// Big-endian 16-bit words, as the binary numeric form is written.
std::string words(std::initializer_list<int> values) {
    std::string out;
    for (int v : values) {
        out.push_back(static_cast<char>((v >> 8) & 0xFF));
        out.push_back(static_cast<char>(v & 0xFF));
    }
    return out;
}

std::string numeric(std::int64_t units, int scale) {
    std::string out;
    pipeline::append_numeric_binary(out, units, scale);
    return out;
}

TEST(CopyBinaryTest, NumericDigitsWeightSignAndScale) {
    // (ndigits, weight, sign, dscale, base-10000 digits...)
    EXPECT_EQ(numeric(0, 2), words({0, -1, 0, 2}));
    EXPECT_EQ(numeric(5, 2), words({1, -1, 0, 2, 500}));                     // 0.05
    EXPECT_EQ(numeric(-5, 2), words({1, -1, 0x4000, 2, 500}));               // -0.05
    EXPECT_EQ(numeric(12345, 2), words({2, 0, 0, 2, 123, 4500}));            // 123.45
    EXPECT_EQ(numeric(1000000, 2), words({2, 1, 0, 2, 1, 0}));               // 10000.00
    EXPECT_EQ(numeric(123456789, 2), words({3, 1, 0, 2, 123, 4567, 8900}));  // 1234567.89
    EXPECT_EQ(numeric(99'999'999'999'999, 2),
              words({4, 2, 0, 2, 9999, 9999, 9999, 9900}));      // 999999999999.99
    EXPECT_EQ(numeric(-3, 1), words({1, -1, 0x4000, 1, 3000}));  // -0.3
    EXPECT_EQ(numeric(100000, 1), words({2, 1, 0, 1, 1, 0}));    // 10000.0
}

TEST(CopyBinaryTest, StreamFraming) {
    std::string out;
    pipeline::append_copy_binary_header(out);
    EXPECT_EQ(out, std::string("PGCOPY\n\377\r\n\0\0\0\0\0\0\0\0\0", 19));
    out.clear();
    pipeline::append_copy_binary_trailer(out);
    EXPECT_EQ(out, words({-1}));
}

TEST(CopyBinaryTest, EncodesAFullRow) {
    pipeline::OrderRow row;
    row.order_id = 7;
    row.customer_id = -2;
    row.store_id = "S\t1";
    row.order_amount = 12345;
    row.order_date = {1999, 12, 31};
    row.order_hour = 23;
    row.has_promo = true;
    row.created_at = pipeline::Timestamp{946'684'800'000'001};  // 2000-01-01T00:00:00.000001Z
    row.updated_at = pipeline::Timestamp{0};                    // 1970-01-01
    row.ingested_at = row.created_at;
    std::string out;
    pipeline::append_copy_binary_row(out, row);
    std::size_t at = 0;
    auto take = [&](std::size_t n) {
        std::string part = out.substr(at, n);
        at += n;
        return part;
    };
    auto length = [&] {
        const std::string b = take(4);
        return (static_cast<unsigned char>(b[0]) << 24) | (static_cast<unsigned char>(b[1]) << 16) |
               (static_cast<unsigned char>(b[2]) << 8) | static_cast<unsigned char>(b[3]);
    };
    EXPECT_EQ(take(2), words({25}));
    EXPECT_EQ(length(), 8U);
    EXPECT_EQ(take(8), words({0, 0, 0, 7}));
    EXPECT_EQ(length(), 8U);
    EXPECT_EQ(take(8), words({-1, -1, -1, -2}));
    EXPECT_EQ(length(), 3U);
    EXPECT_EQ(take(3), "S\t1");
    EXPECT_EQ(length(), 0xFFFFFFFFU);  // restaurant_id NULL
    EXPECT_EQ(length(), 12U);
    EXPECT_EQ(take(12), words({2, 0, 0, 2, 123, 4500}));
    for (int money = 0; money < 3; ++money) {  // 0.00 x3 (delivery, discount, total)
        EXPECT_EQ(length(), 8U);
        EXPECT_EQ(take(8), words({0, -1, 0, 2}));
    }
    EXPECT_EQ(length(), 6U);
    EXPECT_EQ(take(6), "placed");      // status
    EXPECT_EQ(length(), 0xFFFFFFFFU);  // payment_method
    EXPECT_EQ(length(), 0xFFFFFFFFU);  // payment_status
    EXPECT_EQ(length(), 7U);
    EXPECT_EQ(take(7), "economy");
    EXPECT_EQ(length(), 4U);
    EXPECT_EQ(take(4), words({-1, -1}));  // 1999-12-31: day -1 of PostgreSQL's epoch
    EXPECT_EQ(length(), 2U);
    EXPECT_EQ(take(2), words({23}));
    EXPECT_EQ(length(), 7U);
    EXPECT_EQ(take(7), "1999-12");
    EXPECT_EQ(length(), 0xFFFFFFFFU);  // delivery_minutes
    EXPECT_EQ(length(), 0xFFFFFFFFU);  // cancellation_type
    EXPECT_EQ(length(), 0xFFFFFFFFU);  // cancellation_reason
    EXPECT_EQ(length(), 1U);
    EXPECT_EQ(take(1), "\1");
    EXPECT_EQ(length(), 0xFFFFFFFFU);  // promo_code
    EXPECT_EQ(length(), 8U);
    EXPECT_EQ(take(8), words({0, 0, 0, 1}));  // one microsecond after 2000-01-01
    EXPECT_EQ(length(), 8U);
    // 1970-01-01 is 946,684,800,000,000 us before PostgreSQL's epoch.
    EXPECT_EQ(take(8), words({0xFFFC, 0xA2FE, 0xC4C8, 0x2000}));
    EXPECT_EQ(length(), 0xFFFFFFFFU);  // delivered_at
    EXPECT_EQ(length(), 0xFFFFFFFFU);  // cancelled_at
    EXPECT_EQ(length(), 8U);
    EXPECT_EQ(take(8), words({0, 0, 0, 1}));  // ingested_at
    EXPECT_EQ(at, out.size());
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
