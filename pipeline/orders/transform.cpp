// pipeline/orders/transform.cpp: derived columns.
#include "pipeline/orders/transform.hpp"

#include <fmt/format.h>

#include <array>

#include "pipeline/core/unicode.hpp"

namespace pipeline {

namespace {

constexpr Cents premium_from_cents = 200000;  // 2000.00
constexpr Cents standard_from_cents = 50000;  // 500.00
constexpr std::array<std::string_view, 3> system_cancellation_reasons = {
    "payment_failed", "restaurant_closed", "no_rider_available"};

OrderTier tier_of(Cents amount) {
    if (amount >= premium_from_cents) {
        return OrderTier::premium;
    }
    return amount >= standard_from_cents ? OrderTier::standard : OrderTier::economy;
}

CancellationType cancellation_type_of(const std::optional<std::string>& reason) {
    if (reason) {
        const std::string lowered = lower_unicode(*reason);
        for (auto system_reason : system_cancellation_reasons) {
            if (lowered == system_reason) {
                return CancellationType::system;
            }
        }
    }
    return CancellationType::customer;
}

}  // namespace

std::string_view to_string(OrderTier tier) {
    switch (tier) {
        case OrderTier::economy:
            return "economy";
        case OrderTier::standard:
            return "standard";
        case OrderTier::premium:
            return "premium";
    }
    return "economy";
}

std::string_view to_string(CancellationType type) {
    return type == CancellationType::system ? "system" : "customer";
}

std::int64_t delivery_minutes_tenths(Timestamp created, Timestamp delivered) noexcept {
    constexpr std::int64_t micros_per_tenth = micros_per_minute / 10;
    const std::int64_t diff = delivered.micros - created.micros;
    std::int64_t tenths = diff / micros_per_tenth;
    const std::int64_t remainder = diff % micros_per_tenth;  // same sign as diff
    if (remainder * 2 >= micros_per_tenth) {
        ++tenths;
    } else if (remainder * 2 <= -micros_per_tenth) {
        --tenths;
    }
    return tenths;
}

OrderRow transform(ValidOrder order, Timestamp ingested_at) {
    OrderRow row;
    transform_into(std::move(order), ingested_at, row);
    return row;
}

void transform_into(ValidOrder&& order, Timestamp ingested_at, OrderRow& row) {
    row.order_id = order.order_id;
    row.customer_id = order.customer_id;
    row.store_id = std::move(order.store_id);
    row.restaurant_id = std::move(order.restaurant_id);
    row.order_amount = order.order_amount;
    row.delivery_fee = order.delivery_fee;
    row.discount_amount = order.discount_amount;
    row.total_value = order.order_amount + order.delivery_fee - order.discount_amount;
    row.status = order_status_named(order.status).value_or(OrderStatus::placed);  // validated
    if (order.payment_method) {
        row.payment_method =
            payment_method_named(*order.payment_method).value_or(PaymentMethod::unknown);
    }
    row.payment_status = std::move(order.payment_status);
    row.order_tier = tier_of(order.order_amount);
    const UtcParts created = utc_parts(order.created_at);
    row.order_date = created.date;
    row.order_hour = created.hour;
    if (order.delivered_at) {
        row.delivery_minutes_tenths =
            delivery_minutes_tenths(order.created_at, *order.delivered_at);
    }
    if (row.status == OrderStatus::cancelled) {
        row.cancellation_type = cancellation_type_of(order.cancellation_reason);
    }
    row.cancellation_reason = std::move(order.cancellation_reason);
    row.has_promo = order.promo_code.has_value() && !order.promo_code->empty();
    row.promo_code = std::move(order.promo_code);
    row.created_at = order.created_at;
    row.updated_at = order.updated_at;
    row.delivered_at = order.delivered_at;
    row.cancelled_at = order.cancelled_at;
    row.ingested_at = ingested_at;
}

}  // namespace pipeline

#include <unordered_map>

namespace pipeline {

std::size_t keep_newest_per_order(std::vector<OrderRow>& rows) {
    std::unordered_map<std::int64_t, std::size_t> winner;  // order_id -> index in rows
    winner.reserve(rows.size());
    bool duplicates = false;
    for (std::size_t i = 0; i < rows.size(); ++i) {
        auto [it, inserted] = winner.try_emplace(rows[i].order_id, i);
        if (!inserted) {
            duplicates = true;
            if (rows[i].updated_at >= rows[it->second].updated_at) {
                it->second = i;  // newer, or equal and read later
            }
        }
    }
    if (!duplicates) {
        return 0;
    }
    std::size_t kept = 0;
    for (std::size_t i = 0; i < rows.size(); ++i) {
        if (winner[rows[i].order_id] == i) {
            if (kept != i) {
                rows[kept] = std::move(rows[i]);
            }
            ++kept;
        }
    }
    const std::size_t dropped = rows.size() - kept;
    rows.resize(kept);
    return dropped;
}

}  // namespace pipeline
