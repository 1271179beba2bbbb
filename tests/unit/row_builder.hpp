// tests/unit/row_builder.hpp: a valid source row to start each validation/transform test from.
#pragma once

#include <string>

#include "pipeline/orders/order_row.hpp"

namespace test {

/// A valid delivered order; tests override single fields.
inline pipeline::SourceRow valid_row() {
    using C = pipeline::SourceColumn;
    pipeline::SourceRow row;
    row[C::order_id] = "1001";
    row[C::customer_id] = "42";
    row[C::store_id] = "BLR-001";
    row[C::restaurant_id] = "R7";
    row[C::order_amount] = "250.00";
    row[C::delivery_fee] = "30";
    row[C::discount_amount] = "10.5";
    row[C::status] = "delivered";
    row[C::payment_method] = "upi";
    row[C::payment_status] = "PAID";
    row[C::created_at] = "2026-03-01 10:00:00+00";
    row[C::updated_at] = "2026-03-01 10:40:00+00";
    row[C::delivered_at] = "2026-03-01 10:35:00+00";
    row[C::cancelled_at] = std::nullopt;
    row[C::cancellation_reason] = std::nullopt;
    row[C::promo_code] = "SAVE10";
    row[C::notes] = "ring twice";
    return row;
}

}  // namespace test
