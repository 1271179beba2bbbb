// pipeline/orders/order_row.hpp: the source row (17 texts) and the destination row (25 typed
// columns).
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "pipeline/core/timestamp.hpp"

namespace pipeline {

/// Source columns in extraction order (spec §3).
enum class SourceColumn : std::size_t {
    order_id,
    customer_id,
    store_id,
    restaurant_id,
    order_amount,
    delivery_fee,
    discount_amount,
    status,
    payment_method,
    payment_status,
    created_at,
    updated_at,
    delivered_at,
    cancelled_at,
    cancellation_reason,
    promo_code,
    notes,
};

inline constexpr std::size_t source_column_count = 17;

/// Names of the source columns, in extraction order.
inline constexpr std::array<std::string_view, source_column_count> source_column_names = {
    "order_id",        "customer_id",  "store_id",
    "restaurant_id",   "order_amount", "delivery_fee",
    "discount_amount", "status",       "payment_method",
    "payment_status",  "created_at",   "updated_at",
    "delivered_at",    "cancelled_at", "cancellation_reason",
    "promo_code",      "notes"};

/// True for the source columns that hold timestamps.
constexpr bool is_timestamp_column(SourceColumn c) {
    return c == SourceColumn::created_at || c == SourceColumn::updated_at ||
           c == SourceColumn::delivered_at || c == SourceColumn::cancelled_at;
}

/// A nullable text field: nullopt is SQL NULL.
using Field = std::optional<std::string_view>;

/// One source row as the source's text. The views borrow from the batch that
/// owns the row (SourceBatch), or from the caller in tests.
struct SourceRow {
    std::array<Field, source_column_count> fields;

    const Field& operator[](SourceColumn c) const { return fields[static_cast<std::size_t>(c)]; }
    Field& operator[](SourceColumn c) { return fields[static_cast<std::size_t>(c)]; }
};

/// Destination column names, in order (spec §5): 25 columns.
inline constexpr std::array<std::string_view, 25> destination_column_names = {
    "order_id",         "customer_id",       "store_id",
    "restaurant_id",    "order_amount",      "delivery_fee",
    "discount_amount",  "total_value",       "status",
    "payment_method",   "payment_status",    "order_tier",
    "order_date",       "order_hour",        "order_month",
    "delivery_minutes", "cancellation_type", "cancellation_reason",
    "has_promo",        "promo_code",        "created_at",
    "updated_at",       "delivered_at",      "cancelled_at",
    "ingested_at"};

enum class OrderTier : std::uint8_t { economy, standard, premium };
enum class CancellationType : std::uint8_t { customer, system };

/// The spec's order statuses (§4 rule 7), spelled as order_status_names.
enum class OrderStatus : std::uint8_t {
    placed,
    confirmed,
    preparing,
    ready,
    picked_up,
    delivering,
    delivered,
    cancelled,
};
inline constexpr std::array<std::string_view, 8> order_status_names = {
    "placed",    "confirmed",  "preparing", "ready",
    "picked_up", "delivering", "delivered", "cancelled"};

/// Recognised payment methods, spelled as payment_method_names; any other
/// text is stored as `unknown`.
enum class PaymentMethod : std::uint8_t { upi, card, netbanking, wallet, cod, emi, unknown };
inline constexpr std::array<std::string_view, 7> payment_method_names = {
    "upi", "card", "netbanking", "wallet", "cod", "emi", "unknown"};

/// The enumerator spelled `text` in `names` (the enum's names in order), if any. Pure.
template <class Enum, std::size_t N>
constexpr std::optional<Enum> enum_named(const std::array<std::string_view, N>& names,
                                         std::string_view text) {
    for (std::size_t i = 0; i < N; ++i) {
        if (names[i] == text) {
            return static_cast<Enum>(i);
        }
    }
    return std::nullopt;
}
inline std::optional<OrderStatus> order_status_named(std::string_view text) {
    return enum_named<OrderStatus>(order_status_names, text);
}
inline std::optional<PaymentMethod> payment_method_named(std::string_view text) {
    return enum_named<PaymentMethod>(payment_method_names, text);
}

std::string_view to_string(OrderTier tier);
std::string_view to_string(CancellationType type);
inline std::string_view to_string(OrderStatus status) {
    return order_status_names[static_cast<std::size_t>(status)];
}
inline std::string_view to_string(PaymentMethod method) {
    return payment_method_names[static_cast<std::size_t>(method)];
}

/// order_month: "YYYY-MM" of a date (years 0..9999). Pure.
inline std::array<char, 7> month_text(CivilDate date) {
    std::array<char, 7> out{'0', '0', '0', '0', '-', '0', '0'};
    int year = date.year;
    for (int i = 3; i >= 0; --i, year /= 10) {
        out[static_cast<std::size_t>(i)] = static_cast<char>('0' + year % 10);
    }
    out[5] = static_cast<char>('0' + date.month / 10);
    out[6] = static_cast<char>('0' + date.month % 10);
    return out;
}

/// Money: exact count of cents (numeric(14,2) at the destination).
using Cents = std::int64_t;

/// Money columns hold numeric(14,2): magnitudes below 10^12 units = 10^14 cents.
inline constexpr Cents max_money_cents_exclusive = 100'000'000'000'000LL;

/// One destination row, fully typed (spec §5). Kept small (two batches of
/// these are the bulk of a run's memory): enums for the closed sets, and
/// order_month derived from order_date when encoded (month_text).
struct OrderRow {
    std::int64_t order_id = 0;
    std::int64_t customer_id = 0;
    std::string store_id;
    std::optional<std::string> restaurant_id;
    Cents order_amount = 0;
    Cents delivery_fee = 0;
    Cents discount_amount = 0;
    Cents total_value = 0;
    OrderStatus status = OrderStatus::placed;
    std::optional<PaymentMethod> payment_method;
    std::optional<std::string> payment_status;
    OrderTier order_tier = OrderTier::economy;
    CivilDate order_date;
    int order_hour = 0;
    std::optional<std::int64_t> delivery_minutes_tenths;  ///< minutes * 10, rounded
    std::optional<CancellationType> cancellation_type;
    std::optional<std::string> cancellation_reason;
    bool has_promo = false;
    std::optional<std::string> promo_code;
    Timestamp created_at;
    Timestamp updated_at;
    std::optional<Timestamp> delivered_at;
    std::optional<Timestamp> cancelled_at;
    Timestamp ingested_at;
};

}  // namespace pipeline
