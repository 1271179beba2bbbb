// tests/unit/decimal_test.cpp: the number grammar, exact comparison and rounding.
#include "pipeline/core/decimal.hpp"

#include <gtest/gtest.h>

namespace {

using pipeline::parse_decimal;

std::int64_t cents(const char* text) {
    auto d = parse_decimal(text);
    EXPECT_TRUE(d.has_value()) << text;
    auto c = pipeline::round_to_scale(*d, 2, std::int64_t{1} << 62);
    EXPECT_TRUE(c.has_value()) << text;
    return c.value_or(-999);
}

TEST(DecimalTest, GrammarAccepts) {
    for (const char* text : {"0", "5", ".5", "5.", "+5", "-5", "1e3", "1E-3", "1.5e+2", " 7 ",
                             "\t\n\r\v\f8\f", "000123.4500", "-0"}) {
        EXPECT_TRUE(parse_decimal(text).has_value()) << text;
    }
}

TEST(DecimalTest, GrammarRejects) {
    for (const char* text : {"",
                             " ",
                             ".",
                             "+",
                             "-",
                             "e5",
                             "1e",
                             "1e+",
                             "12,50",
                             "1_000",
                             "NaN",
                             "nan",
                             "Infinity",
                             "inf",
                             "0x1F",
                             "1..2",
                             "--1",
                             "1 000",
                             "\xef\xbc\x91",
                             "\xc2\xa0"
                             "1"}) {
        EXPECT_FALSE(parse_decimal(text).has_value()) << text;
    }
}

TEST(DecimalTest, RoundsHalfAwayFromZero) {
    EXPECT_EQ(cents("0.005"), 1);
    EXPECT_EQ(cents("0.00499999"), 0);
    EXPECT_EQ(cents("-0.005"), -1);
    EXPECT_EQ(cents("-0.004"), 0);
    EXPECT_EQ(cents("12.345"), 1235);
    EXPECT_EQ(cents("2.675"), 268);  // exact decimal, not binary float
    EXPECT_EQ(cents("1e2"), 10000);
    EXPECT_EQ(cents("15e-3"), 2);
    EXPECT_EQ(cents("1e-400"), 0);
    EXPECT_EQ(cents("99.995"), 10000);
}

TEST(DecimalTest, RoundingRespectsLimit) {
    auto big = parse_decimal("1e30");
    EXPECT_FALSE(pipeline::round_to_scale(*big, 2, 100).has_value());
    auto near = parse_decimal("0.995");
    EXPECT_FALSE(pipeline::round_to_scale(*near, 2, 100).has_value());  // rounds to 100 cents
    EXPECT_EQ(pipeline::round_to_scale(*near, 2, 101), 100);
}

TEST(DecimalTest, ComparesExactly) {
    auto cmp = [](const char* a, const char* b) {
        return pipeline::compare(*parse_decimal(a), *parse_decimal(b));
    };
    EXPECT_EQ(cmp("500000", "5e5"), 0);
    EXPECT_GT(cmp("500000.0000000001", "500000"), 0);
    EXPECT_LT(cmp("499999.99999999999", "500000"), 0);
    EXPECT_EQ(cmp("-0", "0"), 0);
    EXPECT_LT(cmp("-1", "0"), 0);
    EXPECT_LT(cmp("-2", "-1"), 0);
    EXPECT_GT(cmp("1e99999999999999999999", "1e300"), 0);
    EXPECT_LT(cmp("1e-99999999999999999999", "1e-300"), 0);
}

TEST(DecimalTest, FormatsFixedPoint) {
    EXPECT_EQ(pipeline::format_fixed(12345, 2), "123.45");
    EXPECT_EQ(pipeline::format_fixed(-5, 2), "-0.05");
    EXPECT_EQ(pipeline::format_fixed(-5, 1), "-0.5");
    EXPECT_EQ(pipeline::format_fixed(0, 2), "0.00");
    EXPECT_EQ(pipeline::format_fixed(7, 0), "7");
    EXPECT_EQ(pipeline::format_fixed(INT64_MIN, 2), "-92233720368547758.08");
}

}  // namespace
