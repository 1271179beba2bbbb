// tests/unit/jobs_values_test.cpp: declared jobs' values in PostgreSQL's binary format written out
// as PostgreSQL text (DLQ, rules), JSON (Snowflake bindings of arrays/json) and Snowflake's input
// forms; the integration tests compare the same values after real loads.
#include <gtest/gtest.h>

#include <bit>
#include <cstdint>
#include <initializer_list>
#include <limits>
#include <optional>
#include <string>
#include <vector>

#include "pipeline/jobs/values.hpp"

namespace {

using pipeline::ColumnType;
using pipeline::ValueKind;

// Big-endian bytes of an integer, as PostgreSQL's send functions write them.
template <class T>
std::string be(T value) {
    const auto u = static_cast<std::make_unsigned_t<T>>(value);
    std::string out(sizeof(T), '\0');
    for (std::size_t i = 0; i < sizeof(T); ++i) {
        out[sizeof(T) - 1 - i] = static_cast<char>((u >> (8 * i)) & 0xFF);
    }
    return out;
}

// numeric_send: ndigits, weight, sign, dscale, then base-10000 digits.
std::string numeric(std::int16_t weight, std::uint16_t sign, std::uint16_t dscale,
                    std::initializer_list<std::int16_t> digits) {
    std::string out =
        be(static_cast<std::int16_t>(digits.size())) + be(weight) + be(sign) + be(dscale);
    for (const std::int16_t d : digits) {
        out += be(d);
    }
    return out;
}

// array_send of one dimension: ndim, has-null flag, element oid, size, lower bound, elements.
std::string array1(std::uint32_t oid, const std::vector<std::optional<std::string>>& elements) {
    bool nulls = false;
    for (const auto& e : elements) {
        nulls = nulls || !e;
    }
    std::string out = be(std::int32_t{1}) + be(std::int32_t{nulls ? 1 : 0}) + be(oid) +
                      be(static_cast<std::int32_t>(elements.size())) + be(std::int32_t{1});
    for (const auto& e : elements) {
        if (!e) {
            out += be(std::int32_t{-1});
        } else {
            out += be(static_cast<std::int32_t>(e->size())) + *e;
        }
    }
    return out;
}

ColumnType type_of(ValueKind kind, bool array = false) {
    ColumnType t;
    t.kind = kind;
    t.array = array;
    return t;
}

std::string pg_text(const ColumnType& type, const std::string& bytes) {
    std::string out;
    EXPECT_TRUE(pipeline::append_pg_text(type, bytes, out)) << to_string(type.kind);
    return out;
}

std::string json(const ColumnType& type, const std::string& bytes) {
    std::string out;
    EXPECT_TRUE(pipeline::append_json_value(type, bytes, out)) << to_string(type.kind);
    return out;
}

std::string snowflake(const ColumnType& type, const std::string& bytes) {
    std::string out;
    EXPECT_TRUE(pipeline::append_snowflake_text(type, bytes, out)) << to_string(type.kind);
    return out;
}

// 2026-03-01 10:00:00.5 UTC in microseconds since 2000-01-01.
constexpr std::int64_t march_first = 825'674'400'500'000;

TEST(JobValuesTest, IntegersInEveryForm) {
    EXPECT_EQ(pg_text(type_of(ValueKind::int2), be(std::int16_t{-7})), "-7");
    EXPECT_EQ(pg_text(type_of(ValueKind::int4), be(std::int32_t{2'000'000'000})), "2000000000");
    const std::string big = be(std::numeric_limits<std::int64_t>::min());
    EXPECT_EQ(json(type_of(ValueKind::int8), big), "-9223372036854775808");
    EXPECT_EQ(snowflake(type_of(ValueKind::int8), big), "-9223372036854775808");
    EXPECT_EQ(pipeline::binary_integer(ValueKind::int4, be(std::int32_t{42})), 42);
    EXPECT_EQ(pipeline::binary_integer(ValueKind::int8, be(std::int32_t{42})), std::nullopt)
        << "four bytes are not an int8";
    EXPECT_EQ(pipeline::binary_integer(ValueKind::text, "x"), std::nullopt);
}

TEST(JobValuesTest, NumericKeepsItsScaleAndEveryDigit) {
    const ColumnType t = type_of(ValueKind::numeric);
    // 12345.6700 (dscale 4): groups 1|2345|6700, weight 1.
    EXPECT_EQ(pg_text(t, numeric(1, 0x0000, 4, {1, 2345, 6700})), "12345.6700");
    // -0.0005: one group 5 at weight -1.
    EXPECT_EQ(pg_text(t, numeric(-1, 0x4000, 4, {5})), "-0.0005");
    // 0.00000005 (dscale 8): weight -2.
    EXPECT_EQ(pg_text(t, numeric(-2, 0x0000, 8, {5})), "0.00000005");
    // 0.00: no digit groups at all.
    EXPECT_EQ(pg_text(t, numeric(0, 0x0000, 2, {})), "0.00");
    // 100000000: one group at weight 2 (trailing zero groups are not sent).
    EXPECT_EQ(pg_text(t, numeric(2, 0x0000, 0, {1})), "100000000");
    // 38 digits survive: 1234...
    EXPECT_EQ(pg_text(t, numeric(9, 0x0000, 0,
                                 {12, 3456, 7890, 1234, 5678, 9012, 3456, 7890, 1234, 5678})),
              "12345678901234567890123456789012345678");
    EXPECT_EQ(pg_text(t, numeric(0, 0xC000, 0, {})), "NaN");
    EXPECT_EQ(json(t, numeric(0, 0xD000, 0, {})), "\"Infinity\"") << "not a JSON number";
    EXPECT_EQ(json(t, numeric(0, 0x0000, 1, {3, 1000})), "3.1");
    EXPECT_EQ(snowflake(t, numeric(0, 0x4000, 2, {3, 1400})), "-3.14");
}

TEST(JobValuesTest, MalformedBytesAreRefusedNotGuessed) {
    std::string out;
    EXPECT_FALSE(pipeline::append_pg_text(type_of(ValueKind::int4), "abc", out));
    out.clear();
    EXPECT_FALSE(
        pipeline::append_pg_text(type_of(ValueKind::numeric), numeric(0, 0x0000, 0, {10000}), out))
        << "a base-10000 digit above 9999";
    out.clear();
    EXPECT_FALSE(
        pipeline::append_pg_text(type_of(ValueKind::numeric), numeric(0, 0x1234, 0, {1}), out))
        << "an unknown sign";
    out.clear();
    EXPECT_FALSE(pipeline::append_pg_text(type_of(ValueKind::uuid), std::string(15, 'a'), out));
    out.clear();
    EXPECT_FALSE(pipeline::append_pg_text(type_of(ValueKind::jsonb), "{}", out))
        << "jsonb's binary form starts with its version byte";
    out.clear();
    EXPECT_FALSE(pipeline::append_pg_text(type_of(ValueKind::boolean), "", out));
    out.clear();
    EXPECT_FALSE(pipeline::append_pg_text(type_of(ValueKind::time), be(std::int64_t{-1}), out));
    out.clear();
    std::string truncated = array1(23, {be(std::int32_t{1}), be(std::int32_t{2})});
    truncated.pop_back();
    EXPECT_FALSE(pipeline::append_pg_text(type_of(ValueKind::int4, true), truncated, out));
}

TEST(JobValuesTest, FloatsUseTheShortestRoundTripAndNameTheSpecials) {
    const ColumnType f8 = type_of(ValueKind::float8);
    EXPECT_EQ(pg_text(f8, be(std::bit_cast<std::uint64_t>(0.1))), "0.1");
    EXPECT_EQ(pg_text(f8, be(std::bit_cast<std::uint64_t>(-2.5e-300))), "-2.5e-300");
    const std::string nan =
        be(std::bit_cast<std::uint64_t>(std::numeric_limits<double>::quiet_NaN()));
    const std::string inf =
        be(std::bit_cast<std::uint64_t>(-std::numeric_limits<double>::infinity()));
    EXPECT_EQ(pg_text(f8, nan), "NaN");
    EXPECT_EQ(json(f8, nan), "\"NaN\"");
    EXPECT_EQ(pg_text(f8, inf), "-Infinity");
    EXPECT_EQ(snowflake(f8, inf), "-inf") << "what Snowflake's FLOAT reads";
    const ColumnType f4 = type_of(ValueKind::float4);
    EXPECT_EQ(pg_text(f4, be(std::bit_cast<std::uint32_t>(1.5F))), "1.5");
    EXPECT_EQ(pg_text(f4, be(std::bit_cast<std::uint32_t>(0.1F))), "0.1")
        << "a real prints as a real, not as its double widening";
}

TEST(JobValuesTest, FloatsSwitchToExponentsWherePostgresDoes) {
    const ColumnType f8 = type_of(ValueKind::float8);
    const auto d = [&](double v) { return pg_text(f8, be(std::bit_cast<std::uint64_t>(v))); };
    EXPECT_EQ(d(100000.0), "100000");
    EXPECT_EQ(d(0.0001), "0.0001");
    EXPECT_EQ(d(0.00001), "1e-05");
    EXPECT_EQ(d(123456789012345.0), "123456789012345");
    EXPECT_EQ(d(1e15), "1e+15");
    EXPECT_EQ(d(-1.5e20), "-1.5e+20");
    EXPECT_EQ(d(0.0), "0");
    const ColumnType f4 = type_of(ValueKind::float4);
    const auto f = [&](float v) { return pg_text(f4, be(std::bit_cast<std::uint32_t>(v))); };
    EXPECT_EQ(f(100000.0F), "100000");
    EXPECT_EQ(f(1e6F), "1e+06") << "a real's precision is 6 digits";
    EXPECT_EQ(f(0.00025F), "0.00025");
}

TEST(JobValuesTest, DatesBeforeYearOneAreWrittenBcAndTheFarFutureIsRefused) {
    const ColumnType date = type_of(ValueKind::date);
    // 0044-03-15 BC is year -43: days since 2000-01-01.
    const std::int32_t ides = static_cast<std::int32_t>(pipeline::days_from_civil({-43, 3, 15}) -
                                                        pipeline::days_from_civil({2000, 1, 1}));
    EXPECT_EQ(pg_text(date, be(ides)), "0044-03-15 BC");
    const ColumnType tz = type_of(ValueKind::timestamptz);
    const std::int64_t micros = std::int64_t{ides} * 86'400'000'000 + 3'600'000'000;
    EXPECT_EQ(pg_text(tz, be(micros)), "0044-03-15 01:00:00+00 BC");
    std::string out;
    EXPECT_FALSE(
        pipeline::append_pg_text(tz, be(std::numeric_limits<std::int64_t>::max() - 1), out))
        << "beyond what microseconds since 1970 can hold";
    EXPECT_EQ(pipeline::binary_timestamp(be(std::numeric_limits<std::int64_t>::max() - 1)),
              std::nullopt);
}

TEST(JobValuesTest, SnowflakeCannotHoldInfinitiesAncientYearsMidnightOrNaN) {
    const ColumnType tz = type_of(ValueKind::timestamptz);
    EXPECT_TRUE(pipeline::snowflake_can_hold(tz, be(march_first)));
    EXPECT_FALSE(pipeline::snowflake_can_hold(tz, be(std::numeric_limits<std::int64_t>::max())));
    EXPECT_FALSE(pipeline::snowflake_can_hold(tz, be(std::numeric_limits<std::int64_t>::min())));
    const ColumnType date = type_of(ValueKind::date);
    const auto day = [](int y, int m, int dd) {
        return static_cast<std::int32_t>(pipeline::days_from_civil({y, m, dd}) -
                                         pipeline::days_from_civil({2000, 1, 1}));
    };
    EXPECT_TRUE(pipeline::snowflake_can_hold(date, be(day(1, 1, 1))));
    EXPECT_TRUE(pipeline::snowflake_can_hold(date, be(day(9999, 12, 31))));
    EXPECT_FALSE(pipeline::snowflake_can_hold(date, be(day(0, 12, 31))));
    EXPECT_FALSE(pipeline::snowflake_can_hold(date, be(day(10000, 1, 1))));
    const ColumnType time = type_of(ValueKind::time);
    EXPECT_TRUE(pipeline::snowflake_can_hold(time, be(std::int64_t{86'399'999'999})));
    EXPECT_FALSE(pipeline::snowflake_can_hold(time, be(std::int64_t{86'400'000'000})));
    ColumnType n = type_of(ValueKind::numeric);
    n.sf_type = "NUMBER(12,2)";
    EXPECT_TRUE(pipeline::snowflake_can_hold(n, numeric(0, 0x0000, 2, {3, 1400})));
    EXPECT_FALSE(pipeline::snowflake_can_hold(n, numeric(0, 0xC000, 0, {})));
    EXPECT_FALSE(pipeline::snowflake_can_hold(n, numeric(0, 0xD000, 0, {})));
    n.sf_type = "NUMBER(38,9)";  // numeric without a precision: 29 integer digits
    // 29 digits: 9 | 8 groups of 4 (weight 7) -> 1 + 28 = 29.
    EXPECT_TRUE(pipeline::snowflake_can_hold(n, numeric(7, 0x0000, 0, {9, 9999})));
    EXPECT_FALSE(pipeline::snowflake_can_hold(n, numeric(7, 0x0000, 0, {10, 9999})));
    EXPECT_TRUE(pipeline::snowflake_can_hold(type_of(ValueKind::timestamptz, true), "anything"))
        << "arrays travel as JSON";
}

TEST(JobValuesTest, TimesInEachConsumersForm) {
    const ColumnType tz = type_of(ValueKind::timestamptz);
    const ColumnType ntz = type_of(ValueKind::timestamp);
    EXPECT_EQ(pg_text(tz, be(march_first)), "2026-03-01 10:00:00.5+00");
    EXPECT_EQ(json(tz, be(march_first)), "\"2026-03-01T10:00:00.5Z\"");
    EXPECT_EQ(snowflake(tz, be(march_first)), "2026-03-01 10:00:00.500000 +00:00");
    EXPECT_EQ(pg_text(ntz, be(march_first - 500'000)), "2026-03-01 10:00:00");
    EXPECT_EQ(snowflake(ntz, be(march_first)), "2026-03-01 10:00:00.500000");
    // Before PostgreSQL's epoch: 1999-12-31 23:59:59.999999.
    EXPECT_EQ(pg_text(ntz, be(std::int64_t{-1})), "1999-12-31 23:59:59.999999");
    EXPECT_EQ(pg_text(tz, be(std::numeric_limits<std::int64_t>::max())), "infinity");
    EXPECT_EQ(pipeline::binary_timestamp(be(std::numeric_limits<std::int64_t>::max())),
              std::nullopt);
    const auto t = pipeline::binary_timestamp(be(march_first));
    ASSERT_TRUE(t.has_value());
    EXPECT_EQ(pipeline::format_timestamp(*t), "2026-03-01T10:00:00.500000Z");

    const ColumnType date = type_of(ValueKind::date);
    EXPECT_EQ(pg_text(date, be(std::int32_t{9556})), "2026-03-01");
    EXPECT_EQ(json(date, be(std::int32_t{-1})), "\"1999-12-31\"");
    const ColumnType time = type_of(ValueKind::time);
    EXPECT_EQ(pg_text(time, be(std::int64_t{37'230'000'001})), "10:20:30.000001");
    EXPECT_EQ(snowflake(time, be(std::int64_t{37'230'000'000})), "10:20:30.000000");
}

TEST(JobValuesTest, TextUuidBooleanJsonAndBytes) {
    const ColumnType text = type_of(ValueKind::text);
    EXPECT_EQ(pg_text(text, "caf\xc3\xa9 \"a\""), "caf\xc3\xa9 \"a\"");
    EXPECT_EQ(json(text, "a\"b\\c\n\x01"), R"("a\"b\\c\n\u0001")");
    const std::string id("\x12\x34\x56\x78\x9a\xbc\xde\xf0\x01\x23\x45\x67\x89\xab\xcd\xef", 16);
    EXPECT_EQ(pg_text(type_of(ValueKind::uuid), id), "12345678-9abc-def0-0123-456789abcdef");
    EXPECT_EQ(pg_text(type_of(ValueKind::boolean), std::string(1, '\1')), "t");
    EXPECT_EQ(json(type_of(ValueKind::boolean), std::string(1, '\0')), "false");
    EXPECT_EQ(pg_text(type_of(ValueKind::jsonb), "\x01{\"a\": 1}"), "{\"a\": 1}");
    EXPECT_EQ(json(type_of(ValueKind::json), "[1, 2]"), "[1, 2]");
    const ColumnType bytes = type_of(ValueKind::bytea);
    EXPECT_EQ(pg_text(bytes, std::string("\x00\xff\x0a", 3)), "\\x00ff0a");
    EXPECT_EQ(json(bytes, std::string("\x00\xff", 2)), R"("\\x00ff")");
    EXPECT_EQ(snowflake(bytes, std::string("\x00\xff", 2)), "00ff") << "TO_BINARY reads hex";
}

TEST(JobValuesTest, ArraysQuoteLikePostgresAndBecomeJsonArrays) {
    const ColumnType texts = type_of(ValueKind::text, true);
    const std::string value =
        array1(25, {std::string("plain"), std::string("two words"), std::string(""),
                    std::string("null"), std::nullopt, std::string("q\"b\\")});
    EXPECT_EQ(pg_text(texts, value), R"({plain,"two words","","null",NULL,"q\"b\\"})");
    EXPECT_EQ(json(texts, value), R"(["plain","two words","","null",null,"q\"b\\"])");
    EXPECT_EQ(snowflake(texts, value), json(texts, value)) << "PARSE_JSON in the MERGE";

    const ColumnType ints = type_of(ValueKind::int4, true);
    EXPECT_EQ(pg_text(ints, array1(23, {be(std::int32_t{1}), be(std::int32_t{-2})})), "{1,-2}");
    // An empty array has no dimensions.
    const std::string empty = be(std::int32_t{0}) + be(std::int32_t{0}) + be(std::uint32_t{23});
    EXPECT_EQ(pg_text(ints, empty), "{}");
    EXPECT_EQ(json(ints, empty), "[]");
    // Two dimensions, 2x2: nested in both forms.
    std::string square = be(std::int32_t{2}) + be(std::int32_t{0}) + be(std::uint32_t{23}) +
                         be(std::int32_t{2}) + be(std::int32_t{1}) + be(std::int32_t{2}) +
                         be(std::int32_t{1});
    for (const std::int32_t v : {1, 2, 3, 4}) {
        square += be(std::int32_t{4}) + be(v);
    }
    EXPECT_EQ(pg_text(ints, square), "{{1,2},{3,4}}");
    EXPECT_EQ(json(ints, square), "[[1,2],[3,4]]");
}

}  // namespace
