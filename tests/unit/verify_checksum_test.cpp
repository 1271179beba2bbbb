// tests/unit/verify_checksum_test.cpp: verify's tool-side checksums and the SQL that makes a
// warehouse compute the same ones (the integration tests run that SQL on real servers).
#include <gtest/gtest.h>

#include <algorithm>
#include <limits>

#include "pipeline/orders/transform.hpp"
#include "pipeline/orders/validate.hpp"
#include "pipeline/source/scan.hpp"
#include "pipeline/verify/checksum.hpp"
#include "pipeline/warehouse/compare_sql.hpp"
#include "tests/unit/row_builder.hpp"

namespace {

using pipeline::Dialect;

pipeline::OrderRow order(const pipeline::SourceRow& source) {
    auto result = pipeline::validate(source);
    if (auto* rejection = std::get_if<pipeline::Rejection>(&result)) {
        ADD_FAILURE() << rejection->message;
        return {};
    }
    return pipeline::transform(std::get<pipeline::ValidOrder>(result),
                               pipeline::Timestamp{1'800'000'000'000'000});
}

pipeline::TableShape shape() {
    pipeline::DestinationConfig destination;
    destination.schema = *pipeline::SqlIdentifier::parse("silver");
    destination.table = *pipeline::SqlIdentifier::parse("orders");
    return pipeline::orders_shape(destination);
}

std::size_t count_of(const std::string& text, std::string_view what) {
    std::size_t n = 0;
    for (auto at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) {
        ++n;
    }
    return n;
}

TEST(VerifyChecksumTest, Md5AndItsUpperBitsMatchTheKnownVectors) {
    EXPECT_EQ(pipeline::hex_of(pipeline::md5_of("")), "d41d8cd98f00b204e9800998ecf8427e");
    EXPECT_EQ(pipeline::hex_of(pipeline::md5_of("abc")), "900150983cd24fb0d6963f7d28e17f72");
    EXPECT_EQ(pipeline::upper_64(pipeline::md5_of("abc")), 0x900150983cd24fb0ULL);
}

TEST(VerifyChecksumTest, SumsAreTakenModulo2To64WhateverTheDialectPrints) {
    EXPECT_EQ(pipeline::sum_modulo_2_64("0"), 0U);
    EXPECT_EQ(pipeline::sum_modulo_2_64("-1"), std::numeric_limits<std::uint64_t>::max());
    EXPECT_EQ(pipeline::sum_modulo_2_64("18446744073709551617"), 1U);  // 2^64 + 1
    EXPECT_EQ(pipeline::sum_modulo_2_64("123.000"), 123U);
    // A PostgreSQL sum of signed halves equals a Snowflake sum of unsigned ones.
    const std::uint64_t a = 0xF000000000000000ULL;
    const std::uint64_t b = 0x9000000000000001ULL;
    EXPECT_EQ(pipeline::sum_modulo_2_64("-9223372036854775807"), a + b);  // signed sum
    EXPECT_EQ(pipeline::sum_modulo_2_64("27670116110564327425"), a + b);  // unsigned sum
}

TEST(VerifyChecksumTest, BucketsAreNonNegativeAndNestedForEveryKey) {
    EXPECT_EQ(pipeline::bucket_of(-1, pipeline::coarse_buckets), 255);
    EXPECT_EQ(pipeline::bucket_of(65'537, pipeline::leaf_buckets), 1);
    for (const std::int64_t key :
         {std::int64_t{-70'000}, std::int64_t{-1}, std::int64_t{0}, std::int64_t{255},
          std::int64_t{256}, std::int64_t{9'000'001}, std::numeric_limits<std::int64_t>::min(),
          std::numeric_limits<std::int64_t>::max()}) {
        const std::int64_t leaf = pipeline::bucket_of(key, pipeline::leaf_buckets);
        EXPECT_GE(leaf, 0);
        EXPECT_LT(leaf, pipeline::leaf_buckets);
        EXPECT_EQ(leaf % pipeline::coarse_buckets,
                  pipeline::bucket_of(key, pipeline::coarse_buckets))
            << key;
    }
}

TEST(VerifyChecksumTest, ACoarseBucketIsTheSumOfItsLeaves) {
    pipeline::BucketTable table;
    table.add(5, 10);
    table.add(5 + 256, 20);
    table.add(5 + 65'536, 40);  // same leaf as key 5
    table.add(-251, 80);        // -251 mod 65536 = 65285, in coarse bucket 5
    table.add(6, 1000);
    EXPECT_EQ(table.rows(), 5);
    EXPECT_EQ(table.leaf(5), (std::pair<std::int64_t, std::uint64_t>{2, 50}));
    EXPECT_EQ(table.leaf(261), (std::pair<std::int64_t, std::uint64_t>{1, 20}));
    EXPECT_EQ(table.coarse(5), (std::pair<std::int64_t, std::uint64_t>{4, 150}));
    EXPECT_EQ(table.coarse(6), (std::pair<std::int64_t, std::uint64_t>{1, 1000}));
    EXPECT_EQ(table.coarse(7), (std::pair<std::int64_t, std::uint64_t>{0, 0}));
}

TEST(VerifyChecksumTest, CanonicalTextIsKeyAndMicrosOrEveryColumnWithDeep) {
    pipeline::SourceRow source = test::valid_row();
    source[pipeline::SourceColumn::notes] = std::nullopt;
    source[pipeline::SourceColumn::store_id] = "BLR-\xC3\xA9";  // two bytes, one character
    const pipeline::OrderRow row = order(source);
    std::string text;
    pipeline::append_canonical_text(row, false, text);
    EXPECT_EQ(text, "1001|" + std::to_string(row.updated_at.micros));

    text.clear();
    pipeline::append_canonical_text(row, true, text);
    EXPECT_EQ(
        text.rfind("1001|" + std::to_string(row.updated_at.micros) + "|42|5:BLR-\xC3\xA9|", 0), 0U)
        << text;
    // Every compared column is one field: key, cursor, then the deep columns.
    EXPECT_EQ(count_of(text, "|") + 1, 2 + shape().deep.size()) << text;
    EXPECT_NE(text.find("|N|"), std::string::npos) << "NULL is N: " << text;
}

TEST(VerifyChecksumTest, BucketSqlIsTheSameFunctionInBothDialects) {
    EXPECT_EQ(pipeline::bucket_sql("order_id", Dialect::postgres, "s", 65'536),
              "mod(mod(s.order_id, 65536) + 65536, 65536)");
    EXPECT_EQ(pipeline::bucket_sql("order_id", Dialect::snowflake, "T", 256),
              "MOD(MOD(T.ORDER_ID, 256) + 256, 256)");
}

TEST(VerifyChecksumTest, ChecksumQueriesBindTheirScopeAndBucketsAsParameters) {
    pipeline::CompareScope scope;
    scope.to = pipeline::Timestamp{1'800'000'000'000'000};
    const std::string pg =
        pipeline::bucket_sums_sql(shape(), Dialect::postgres, scope, false, 65'536, 3);
    EXPECT_NE(pg.find("t.updated_at <= $1::timestamptz"), std::string::npos) << pg;
    EXPECT_NE(pg.find("mod(mod(t.order_id, 256) + 256, 256) = ANY($2::bigint[])"),
              std::string::npos)
        << pg;
    EXPECT_NE(pg.find("AS b FROM silver.orders t"), std::string::npos) << pg;
    EXPECT_EQ(pg.find("store_id"), std::string::npos) << "without --deep only key and cursor";

    scope.from = pipeline::Timestamp{1'700'000'000'000'000};
    scope.to_inclusive = false;
    const std::string sf =
        pipeline::bucket_sums_sql(shape(), Dialect::snowflake, scope, true, 65'536, 3);
    EXPECT_EQ(count_of(sf, "?"), 2U + 3U) << sf;
    EXPECT_NE(sf.find("SILVER.ORDERS T"), std::string::npos) << sf;
    EXPECT_NE(sf.find("MD5_NUMBER_UPPER64"), std::string::npos) << sf;
    EXPECT_NE(sf.find("T.STORE_ID"), std::string::npos) << "--deep compares every column";
    EXPECT_EQ(pipeline::scope_parameters(scope, Dialect::snowflake).size(), 2U);

    const std::string leaves =
        pipeline::leaf_digests_sql(shape(), Dialect::snowflake, scope, false, 4);
    EXPECT_EQ(count_of(leaves, "?"), 2U + 4U) << leaves;
    const std::string keys = pipeline::key_digests_sql(shape(), Dialect::postgres, false, 10);
    EXPECT_NE(keys.find("= ANY($1::bigint[])"), std::string::npos) << keys;
}

// verify reads the source with COPY TO STDOUT: its text format, decoded in place.
TEST(VerifyChecksumTest, CopyLinesAreSplitAndUnescapedInPlace) {
    // 17 fields: the escapes PostgreSQL writes (backslash, tab, newline, CR, BS, FF, VT),
    // octal and hex ones it accepts, \N for NULL, an empty string, a field without escapes.
    std::string line =
        "1\t2\tA\\\\B\tx\\ty\tline1\\nline2\t\\N\t\t\\101\\x42\t"
        "c\\rd\\be\\ff\\vg\tq\\.r\t10\t11\t12\t13\t14\t15\tlast\n";
    pipeline::SourceRow row;
    ASSERT_TRUE(pipeline::split_copy_line(line.data(), static_cast<int>(line.size()), row));
    EXPECT_EQ(row.fields[0], "1");
    EXPECT_EQ(row.fields[2], "A\\B");
    EXPECT_EQ(row.fields[3], "x\ty");
    EXPECT_EQ(row.fields[4], "line1\nline2");
    EXPECT_EQ(row.fields[5], std::nullopt);
    EXPECT_EQ(row.fields[6], "");
    EXPECT_EQ(row.fields[7], "AB");
    EXPECT_EQ(row.fields[8], "c\rd\be\ff\vg");
    EXPECT_EQ(row.fields[9], "q.r");
    EXPECT_EQ(row.fields[16], "last");

    std::string short_line = "1\t2\n";
    EXPECT_FALSE(
        pipeline::split_copy_line(short_line.data(), static_cast<int>(short_line.size()), row));
    std::string long_line;
    for (int i = 0; i < 18; ++i) {
        long_line += (i == 0 ? "" : "\t") + std::to_string(i);
    }
    long_line += "\n";
    EXPECT_FALSE(
        pipeline::split_copy_line(long_line.data(), static_cast<int>(long_line.size()), row));
}

}  // namespace
