// tests/unit/validate_test.cpp: every rule of spec §4, its precedence and the normalisation.
#include "pipeline/orders/validate.hpp"

#include <gtest/gtest.h>

#include "pipeline/orders/transform.hpp"
#include "pipeline/warehouse/postgres/copy_text.hpp"
#include "tests/unit/row_builder.hpp"

namespace {

using pipeline::RejectReason;
using pipeline::SourceColumn;
using pipeline::SourceRow;

RejectReason reason_of(const SourceRow& row) {
    auto result = pipeline::validate(row);
    auto* rejection = std::get_if<pipeline::Rejection>(&result);
    if (rejection == nullptr) {
        ADD_FAILURE() << "row was accepted";
        return RejectReason::fee_out_of_range;
    }
    return rejection->reason;
}

pipeline::ValidOrder accepted(const SourceRow& row) {
    auto result = pipeline::validate(row);
    if (auto* rejection = std::get_if<pipeline::Rejection>(&result)) {
        ADD_FAILURE() << "rejected: " << rejection->message;
        return {};
    }
    return std::get<pipeline::ValidOrder>(result);
}

SourceRow with(SourceColumn column, pipeline::Field value) {
    SourceRow row = test::valid_row();
    row[column] = value;
    return row;
}

TEST(ValidateTest, AcceptsAValidRow) {
    auto v = accepted(test::valid_row());
    EXPECT_EQ(v.order_id, 1001);
    EXPECT_EQ(v.order_amount, 25000);
    EXPECT_EQ(v.delivery_fee, 3000);
    EXPECT_EQ(v.discount_amount, 1050);
}

TEST(ValidateTest, MissingOrderId) {
    for (pipeline::Field value : {pipeline::Field{}, pipeline::Field{""}, pipeline::Field{"0"},
                                  pipeline::Field{"  "}, pipeline::Field{"abc"}}) {
        EXPECT_EQ(reason_of(with(SourceColumn::order_id, value)), RejectReason::missing_order_id)
            << value.value_or("NULL");
    }
}

TEST(ValidateTest, MissingCustomerId) {
    for (pipeline::Field value : {pipeline::Field{}, pipeline::Field{""}, pipeline::Field{"0"}}) {
        EXPECT_EQ(reason_of(with(SourceColumn::customer_id, value)),
                  RejectReason::missing_customer_id);
    }
}

TEST(ValidateTest, NullOrderAmount) {
    EXPECT_EQ(reason_of(with(SourceColumn::order_amount, std::nullopt)),
              RejectReason::null_order_amount);
}

TEST(ValidateTest, NonNumericOrderAmount) {
    for (const char* text : {"", "abc", "12,50", "1_000", "NaN", "Infinity", "-Infinity", "inf",
                             "\xd9\xa1\xd9\xa2", "1e", ".", "+", "1.2.3", "0x10", "1 2"}) {
        EXPECT_EQ(reason_of(with(SourceColumn::order_amount, text)),
                  RejectReason::non_numeric_order_amount)
            << text;
    }
}

TEST(ValidateTest, NegativeOrderAmount) {
    EXPECT_EQ(reason_of(with(SourceColumn::order_amount, "-0.01")),
              RejectReason::negative_order_amount);
    EXPECT_EQ(reason_of(with(SourceColumn::order_amount, "-1e-30")),
              RejectReason::negative_order_amount);
}

TEST(ValidateTest, ZeroAndNegativeZeroAreValid) {
    EXPECT_EQ(accepted(with(SourceColumn::order_amount, "0")).order_amount, 0);
    EXPECT_EQ(accepted(with(SourceColumn::order_amount, "-0.000")).order_amount, 0);
}

TEST(ValidateTest, SuspiciouslyLargeAmountIsExact) {
    EXPECT_EQ(accepted(with(SourceColumn::order_amount, "500000")).order_amount, 50000000);
    EXPECT_EQ(accepted(with(SourceColumn::order_amount, "5e5")).order_amount, 50000000);
    EXPECT_EQ(reason_of(with(SourceColumn::order_amount, "500000.0000001")),
              RejectReason::suspiciously_large_amount);
    EXPECT_EQ(reason_of(with(SourceColumn::order_amount, "1e400")),
              RejectReason::suspiciously_large_amount);
}

TEST(ValidateTest, AmountGrammarAcceptsSpecForms) {
    EXPECT_EQ(accepted(with(SourceColumn::order_amount, " .5 ")).order_amount, 50);
    EXPECT_EQ(accepted(with(SourceColumn::order_amount, "5.")).order_amount, 500);
    EXPECT_EQ(accepted(with(SourceColumn::order_amount, "+1.5E2")).order_amount, 15000);
    EXPECT_EQ(accepted(with(SourceColumn::order_amount, "\t12.345\n")).order_amount, 1235);
}

TEST(ValidateTest, InvalidStatus) {
    for (pipeline::Field value : {pipeline::Field{}, pipeline::Field{""},
                                  pipeline::Field{"shipped"}, pipeline::Field{"deliver ed"}}) {
        EXPECT_EQ(reason_of(with(SourceColumn::status, value)), RejectReason::invalid_status);
    }
}

TEST(ValidateTest, StatusIsTrimmedAndLowerCasedTheUnicodeWay) {
    EXPECT_EQ(accepted(with(SourceColumn::status, "  DELIVERED\t")).status, "delivered");
    // U+00A0 and U+3000 are whitespace; KELVIN SIGN lower-cases to ASCII 'k'.
    EXPECT_EQ(accepted(with(SourceColumn::status, "\xc2\xa0Picked_Up\xe3\x80\x80")).status,
              "picked_up");
    EXPECT_EQ(accepted(with(SourceColumn::status,
                            "PIC\xe2\x84\xaa"
                            "ED_UP"))
                  .status,
              "picked_up");
    // U+200B (zero width space) is not whitespace for Python.
    EXPECT_EQ(reason_of(with(SourceColumn::status,
                             "\xe2\x80\x8b"
                             "placed")),
              RejectReason::invalid_status);
}

TEST(ValidateTest, MissingTimestamp) {
    EXPECT_EQ(reason_of(with(SourceColumn::created_at, std::nullopt)),
              RejectReason::missing_timestamp);
    EXPECT_EQ(reason_of(with(SourceColumn::updated_at, std::nullopt)),
              RejectReason::missing_timestamp);
    EXPECT_EQ(reason_of(with(SourceColumn::updated_at, "yesterday")),
              RejectReason::missing_timestamp);
}

TEST(ValidateTest, UpdatedBeforeCreated) {
    auto result =
        pipeline::validate(with(SourceColumn::updated_at, "2026-03-01 09:59:59.999999+00"));
    auto* rejection = std::get_if<pipeline::Rejection>(&result);
    ASSERT_NE(rejection, nullptr);
    EXPECT_EQ(rejection->reason, RejectReason::updated_before_created);
    EXPECT_TRUE(rejection->message.starts_with("updated_at before created_at: order 1001"))
        << rejection->message;
    // Equal is fine.
    accepted(with(SourceColumn::updated_at, "2026-03-01 10:00:00+00"));
}

TEST(ValidateTest, NonNumericFee) {
    EXPECT_EQ(reason_of(with(SourceColumn::delivery_fee, "NaN")), RejectReason::non_numeric_fee);
    EXPECT_EQ(reason_of(with(SourceColumn::discount_amount, "ten")), RejectReason::non_numeric_fee);
    auto v = accepted(with(SourceColumn::delivery_fee, std::nullopt));
    EXPECT_EQ(v.delivery_fee, 0);
}

TEST(ValidateTest, FeeOutsideStorableRange) {
    EXPECT_EQ(reason_of(with(SourceColumn::delivery_fee, "1e12")), RejectReason::fee_out_of_range);
    EXPECT_EQ(reason_of(with(SourceColumn::discount_amount, "-999999999999.995")),
              RejectReason::fee_out_of_range);
    EXPECT_EQ(accepted(with(SourceColumn::delivery_fee, "999999999.99")).delivery_fee, 99999999999);
}

TEST(ValidateTest, FirstFailingRuleWins) {
    // A row breaking every rule reports rule 1, then each later rule as earlier ones are fixed.
    using C = SourceColumn;
    SourceRow row = test::valid_row();
    row[C::order_id] = std::nullopt;
    row[C::customer_id] = "0";
    row[C::order_amount] = std::nullopt;
    row[C::status] = "bogus";
    row[C::created_at] = std::nullopt;
    row[C::delivery_fee] = "x";
    EXPECT_EQ(reason_of(row), RejectReason::missing_order_id);
    row[C::order_id] = "5";
    EXPECT_EQ(reason_of(row), RejectReason::missing_customer_id);
    row[C::customer_id] = "6";
    EXPECT_EQ(reason_of(row), RejectReason::null_order_amount);
    row[C::order_amount] = "NaN";
    EXPECT_EQ(reason_of(row), RejectReason::non_numeric_order_amount);
    row[C::order_amount] = "-1";
    EXPECT_EQ(reason_of(row), RejectReason::negative_order_amount);
    row[C::order_amount] = "600000";
    EXPECT_EQ(reason_of(row), RejectReason::suspiciously_large_amount);
    row[C::order_amount] = "10";
    EXPECT_EQ(reason_of(row), RejectReason::invalid_status);
    row[C::status] = "placed";
    EXPECT_EQ(reason_of(row), RejectReason::missing_timestamp);
    row[C::created_at] = "2026-03-02 00:00:00+00";
    EXPECT_EQ(reason_of(row), RejectReason::updated_before_created);
    row[C::created_at] = "2026-03-01 00:00:00+00";
    EXPECT_EQ(reason_of(row), RejectReason::non_numeric_fee);
    row[C::delivery_fee] = "1";
    accepted(row);
}

TEST(ValidateTest, MessageStartsWithCodeAndNamesOrder) {
    auto result = pipeline::validate(with(SourceColumn::order_amount, "-3"));
    const auto& rejection = std::get<pipeline::Rejection>(result);
    EXPECT_TRUE(rejection.message.starts_with("negative_order_amount: order 1001"))
        << rejection.message;
}

TEST(ValidateTest, PaymentMethodNormalisation) {
    auto v = accepted(with(SourceColumn::payment_method, "  NetBanking "));
    EXPECT_EQ(v.payment_method, "netbanking");
    EXPECT_FALSE(v.payment_method_defaulted);
    v = accepted(with(SourceColumn::payment_method, "paypal"));
    EXPECT_EQ(v.payment_method, "unknown");
    EXPECT_TRUE(v.payment_method_defaulted);
    v = accepted(with(SourceColumn::payment_method, std::nullopt));
    EXPECT_FALSE(v.payment_method.has_value());
    EXPECT_FALSE(v.payment_method_defaulted);
}

TEST(ValidateTest, PaymentStatusLowerCasedEmptyBecomesNull) {
    EXPECT_EQ(accepted(with(SourceColumn::payment_status, "ÉCHOUÉ")).payment_status, "échoué");
    EXPECT_FALSE(accepted(with(SourceColumn::payment_status, "")).payment_status.has_value());
    EXPECT_FALSE(
        accepted(with(SourceColumn::payment_status, std::nullopt)).payment_status.has_value());
}

TEST(ValidateTest, StoreIdNullBecomesEmpty) {
    EXPECT_EQ(accepted(with(SourceColumn::store_id, std::nullopt)).store_id, "");
}

TEST(ValidateTest, HostileBytesNeverThrow) {
    const std::string junk("\xff\xfe\x00\x80\xc0\xaf \xed\xa0\x80", 11);
    for (std::size_t c = 0; c < pipeline::source_column_count; ++c) {
        SourceRow row = test::valid_row();
        row.fields[c] = std::string_view(junk);
        EXPECT_NO_THROW(pipeline::validate(row));
    }
}

TEST(ValidateTest, ReusedValidOrderGivesWhatAFreshValidateGives) {
    // validate_into resets only what the rules set conditionally: a row full
    // of values, then rows of NULLs, a rejection and defaults must each come
    // out exactly as validate() makes them from scratch.
    using C = SourceColumn;
    SourceRow full = test::valid_row();
    full[C::status] = " Cancelled ";
    full[C::payment_method] = "bitcoin";  // defaulted to 'unknown'
    full[C::cancelled_at] = "2026-03-01 10:20:00+00";
    full[C::cancellation_reason] = "payment_failed";
    SourceRow sparse = test::valid_row();
    for (C c : {C::restaurant_id, C::delivery_fee, C::discount_amount, C::payment_method,
                C::payment_status, C::delivered_at, C::cancelled_at, C::cancellation_reason,
                C::promo_code, C::store_id}) {
        sparse[c] = std::nullopt;
    }
    const SourceRow rejected = with(SourceColumn::status, "lost");
    pipeline::ValidOrder reused;
    for (const SourceRow& row : {full, sparse, rejected, full, rejected, sparse, full}) {
        const auto fresh = pipeline::validate(row);
        const std::optional<pipeline::Rejection> rejection = pipeline::validate_into(row, reused);
        ASSERT_EQ(rejection.has_value(), std::holds_alternative<pipeline::Rejection>(fresh));
        if (rejection) {
            EXPECT_EQ(rejection->message, std::get<pipeline::Rejection>(fresh).message);
            continue;
        }
        const auto& want = std::get<pipeline::ValidOrder>(fresh);
        EXPECT_EQ(reused.payment_method_defaulted, want.payment_method_defaulted);
        const pipeline::Timestamp at{1'772'341'200'000'000};
        EXPECT_EQ(pipeline::destination_value_texts(pipeline::transform(reused, at)),
                  pipeline::destination_value_texts(pipeline::transform(want, at)));
    }
}

}  // namespace
