// tests/unit/transform_test.cpp: every derived column of spec §5.
#include "pipeline/orders/transform.hpp"

#include <gtest/gtest.h>

#include "tests/unit/row_builder.hpp"

namespace {

using pipeline::SourceColumn;
using pipeline::SourceRow;

std::string month(const pipeline::OrderRow& row) {
    const auto text = pipeline::month_text(row.order_date);
    return std::string(text.data(), text.size());
}

const pipeline::Timestamp ingested{1'800'000'000'000'000};

pipeline::OrderRow transformed(const SourceRow& row) {
    auto result = pipeline::validate(row);
    if (auto* rejection = std::get_if<pipeline::Rejection>(&result)) {
        ADD_FAILURE() << "rejected: " << rejection->message;
        return {};
    }
    return pipeline::transform(std::get<pipeline::ValidOrder>(result), ingested);
}

SourceRow with(std::initializer_list<std::pair<SourceColumn, pipeline::Field>> changes) {
    SourceRow row = test::valid_row();
    for (const auto& [column, value] : changes) {
        row[column] = value;
    }
    return row;
}

TEST(TransformTest, TiersAtTheBoundaries) {
    const std::pair<const char*, pipeline::OrderTier> cases[] = {
        {"499.99", pipeline::OrderTier::economy},
        {"500", pipeline::OrderTier::standard},
        {"1999.99", pipeline::OrderTier::standard},
        {"2000", pipeline::OrderTier::premium},
        {"0", pipeline::OrderTier::economy},
        // Tiers use the stored (rounded) amount.
        {"499.995", pipeline::OrderTier::standard},
        {"1999.994", pipeline::OrderTier::standard},
        {"1999.995", pipeline::OrderTier::premium},
    };
    for (const auto& [amount, tier] : cases) {
        EXPECT_EQ(transformed(with({{SourceColumn::order_amount, amount}})).order_tier, tier)
            << amount;
    }
}

TEST(TransformTest, MoneyIsRoundedHalfAwayFromZeroAndTotalUsesRoundedValues) {
    auto row = transformed(with({{SourceColumn::order_amount, "100.005"},
                                 {SourceColumn::delivery_fee, "0.005"},
                                 {SourceColumn::discount_amount, "-0.005"}}));
    EXPECT_EQ(row.order_amount, 10001);
    EXPECT_EQ(row.delivery_fee, 1);
    EXPECT_EQ(row.discount_amount, -1);
    EXPECT_EQ(row.total_value, 10001 + 1 + 1);
}

TEST(TransformTest, NullFeesBecomeZero) {
    auto row = transformed(with({{SourceColumn::delivery_fee, std::nullopt},
                                 {SourceColumn::discount_amount, std::nullopt}}));
    EXPECT_EQ(row.delivery_fee, 0);
    EXPECT_EQ(row.discount_amount, 0);
    EXPECT_EQ(row.total_value, row.order_amount);
}

TEST(TransformTest, DatePartsAreUtcJustBeforeAndAfterMidnight) {
    // 23:59:59.999999 UTC on Dec 31 written with a +05:30 offset.
    auto before = transformed(with({{SourceColumn::created_at, "2026-01-01T05:29:59.999999+05:30"},
                                    {SourceColumn::updated_at, "2026-01-01T06:00:00+05:30"},
                                    {SourceColumn::delivered_at, std::nullopt}}));
    EXPECT_EQ(pipeline::format_date(before.order_date), "2025-12-31");
    EXPECT_EQ(before.order_hour, 23);
    EXPECT_EQ(month(before), "2025-12");
    // Midnight UTC exactly, written with a -08:00 offset.
    auto after = transformed(with({{SourceColumn::created_at, "2025-12-31T16:00:00-08:00"},
                                   {SourceColumn::updated_at, "2026-01-01T00:30:00Z"},
                                   {SourceColumn::delivered_at, std::nullopt}}));
    EXPECT_EQ(pipeline::format_date(after.order_date), "2026-01-01");
    EXPECT_EQ(after.order_hour, 0);
    EXPECT_EQ(month(after), "2026-01");
}

TEST(TransformTest, OrderMonthPadsTheYear) {
    auto row = transformed(with({{SourceColumn::created_at, "0099-02-03 04:05:06+00"},
                                 {SourceColumn::updated_at, "0099-02-03 04:05:06+00"},
                                 {SourceColumn::delivered_at, std::nullopt}}));
    EXPECT_EQ(month(row), "0099-02");
}

TEST(TransformTest, DeliveryMinutes) {
    auto row = transformed(with({{SourceColumn::delivered_at, "2026-03-01 10:35:00+00"}}));
    EXPECT_EQ(row.delivery_minutes_tenths, 350);
    // 20 min 33 s = 20.55 min -> 20.6 (half away from zero)
    row = transformed(with({{SourceColumn::delivered_at, "2026-03-01 10:20:33+00"}}));
    EXPECT_EQ(row.delivery_minutes_tenths, 206);
    // 20 min 32.999999 s -> 20.5
    row = transformed(with({{SourceColumn::delivered_at, "2026-03-01 10:20:32.999999+00"}}));
    EXPECT_EQ(row.delivery_minutes_tenths, 205);
    // delivered before created: -3 s = -0.05 min -> -0.1
    row = transformed(with({{SourceColumn::delivered_at, "2026-03-01 09:59:57+00"}}));
    EXPECT_EQ(row.delivery_minutes_tenths, -1);
    row = transformed(with({{SourceColumn::delivered_at, std::nullopt}}));
    EXPECT_FALSE(row.delivery_minutes_tenths.has_value());
}

TEST(TransformTest, CancellationTypes) {
    auto system = transformed(with({{SourceColumn::status, "cancelled"},
                                    {SourceColumn::cancellation_reason, "Payment_Failed"}}));
    EXPECT_EQ(system.cancellation_type, pipeline::CancellationType::system);
    for (const char* reason : {"restaurant_closed", "NO_RIDER_AVAILABLE"}) {
        EXPECT_EQ(transformed(with({{SourceColumn::status, "cancelled"},
                                    {SourceColumn::cancellation_reason, reason}}))
                      .cancellation_type,
                  pipeline::CancellationType::system);
    }
    auto customer = transformed(with({{SourceColumn::status, " CANCELLED "},
                                      {SourceColumn::cancellation_reason, "changed_mind"}}));
    EXPECT_EQ(customer.cancellation_type, pipeline::CancellationType::customer);
    auto no_reason = transformed(with(
        {{SourceColumn::status, "cancelled"}, {SourceColumn::cancellation_reason, std::nullopt}}));
    EXPECT_EQ(no_reason.cancellation_type, pipeline::CancellationType::customer);
    auto delivered = transformed(with({{SourceColumn::cancellation_reason, "payment_failed"}}));
    EXPECT_FALSE(delivered.cancellation_type.has_value());
}

TEST(TransformTest, PromoFlag) {
    EXPECT_TRUE(transformed(with({{SourceColumn::promo_code, "X"}})).has_promo);
    EXPECT_FALSE(transformed(with({{SourceColumn::promo_code, ""}})).has_promo);
    EXPECT_FALSE(transformed(with({{SourceColumn::promo_code, std::nullopt}})).has_promo);
}

TEST(TransformTest, CopiesPassThroughColumnsAndIngestedAt) {
    auto row = transformed(with({{SourceColumn::restaurant_id, "r\t\"1\"\\\n"}}));
    EXPECT_EQ(row.restaurant_id, "r\t\"1\"\\\n");
    EXPECT_EQ(row.ingested_at, ingested);
    EXPECT_EQ(row.status, pipeline::OrderStatus::delivered);
    EXPECT_EQ(row.payment_status, "paid");
}

TEST(TransformTest, KeepNewestPerOrder) {
    auto make = [](std::int64_t id, std::int64_t updated, std::string tag) {
        pipeline::OrderRow r;
        r.order_id = id;
        r.updated_at = pipeline::Timestamp{updated};
        r.store_id = std::move(tag);
        return r;
    };
    std::vector<pipeline::OrderRow> rows = {make(1, 10, "a"), make(2, 5, "b"), make(1, 30, "c"),
                                            make(1, 20, "d"), make(2, 5, "e"), make(3, 1, "f")};
    EXPECT_EQ(pipeline::keep_newest_per_order(rows), 3u);
    ASSERT_EQ(rows.size(), 3u);
    EXPECT_EQ(rows[0].store_id, "c");  // newest of id 1
    EXPECT_EQ(rows[1].store_id, "e");  // equal updated_at: read last wins
    EXPECT_EQ(rows[2].store_id, "f");
    std::vector<pipeline::OrderRow> unique = {make(1, 1, "x"), make(2, 1, "y")};
    EXPECT_EQ(pipeline::keep_newest_per_order(unique), 0u);
    EXPECT_EQ(unique.size(), 2u);
}

}  // namespace
