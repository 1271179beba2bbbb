// tests/unit/timestamp_test.cpp: ISO-8601 parsing/formatting and civil-date arithmetic.
#include "pipeline/core/timestamp.hpp"

#include <gtest/gtest.h>

namespace {

using pipeline::OffsetRule;
using pipeline::parse_timestamp;

std::string roundtrip(const char* text, OffsetRule rule = OffsetRule::required) {
    auto ts = parse_timestamp(text, rule);
    return ts ? pipeline::format_timestamp(*ts) : "<invalid>";
}

TEST(TimestampTest, ParsesOffsetsToUtc) {
    EXPECT_EQ(roundtrip("2026-01-01T10:00:00Z"), "2026-01-01T10:00:00.000000Z");
    EXPECT_EQ(roundtrip("2026-01-01 10:00:00.123456+00"), "2026-01-01T10:00:00.123456Z");
    EXPECT_EQ(roundtrip("2026-01-01T05:30:00+05:30"), "2026-01-01T00:00:00.000000Z");
    EXPECT_EQ(roundtrip("2026-01-01T00:00:00-0800"), "2026-01-01T08:00:00.000000Z");
    EXPECT_EQ(roundtrip("2026-01-01T00:00:00.5+01"), "2025-12-31T23:00:00.500000Z");
    EXPECT_EQ(roundtrip("2026-01-01T00:00:00.123456789Z"), "2026-01-01T00:00:00.123456Z");
}

TEST(TimestampTest, OffsetRule) {
    EXPECT_EQ(roundtrip("2026-01-01T10:00:00"), "<invalid>");
    EXPECT_EQ(roundtrip("2026-01-01T10:00:00", OffsetRule::assume_utc),
              "2026-01-01T10:00:00.000000Z");
    EXPECT_EQ(roundtrip("2026-01-01", OffsetRule::assume_utc), "2026-01-01T00:00:00.000000Z");
}

TEST(TimestampTest, RejectsMalformed) {
    for (const char* text : {"", "2026", "2026-13-01T00:00:00Z", "2026-02-29T00:00:00Z",
                             "2026-01-01T24:00:00Z", "2026-01-01T10:00:00+25", "2026-01-01X10:00Z",
                             "2026-01-01T10:00:00Zjunk", "infinity", "2026-01-01T10:00:00.Z"}) {
        EXPECT_EQ(roundtrip(text), "<invalid>") << text;
    }
    EXPECT_EQ(roundtrip("2024-02-29T00:00:00Z"), "2024-02-29T00:00:00.000000Z");
}

TEST(TimestampTest, BeforeEpoch) {
    EXPECT_EQ(roundtrip("1969-12-31T23:59:59.999999Z"), "1969-12-31T23:59:59.999999Z");
    auto parts =
        pipeline::utc_parts(*parse_timestamp("1969-12-31T23:59:59Z", OffsetRule::required));
    EXPECT_EQ(parts.date.year, 1969);
    EXPECT_EQ(parts.hour, 23);
}

TEST(TimestampTest, CivilDaysRoundTrip) {
    for (std::int64_t days = -800000; days <= 3000000; days += 997) {
        EXPECT_EQ(pipeline::days_from_civil(pipeline::civil_from_days(days)), days);
    }
    EXPECT_EQ(pipeline::days_from_civil({1970, 1, 1}), 0);
    EXPECT_EQ(pipeline::days_from_civil({2000, 3, 1}), 11017);
}

TEST(TimestampTest, ParseDateIsStrict) {
    EXPECT_TRUE(pipeline::parse_date("2026-11-22").has_value());
    EXPECT_FALSE(pipeline::parse_date("2026-11-22T00:00").has_value());
    EXPECT_FALSE(pipeline::parse_date("2026-11-31").has_value());
    EXPECT_FALSE(pipeline::parse_date("26-11-22").has_value());
}

}  // namespace
