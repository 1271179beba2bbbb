// pipeline/orders/transform.hpp: enrichment of a valid row into the destination shape (spec §5).
#pragma once

#include "pipeline/orders/order_row.hpp"
#include "pipeline/orders/validate.hpp"

namespace pipeline {

/// Builds the 25-column destination row. Pure: `ingested_at` is passed in.
/// Money arithmetic is exact on the rounded cents; delivery minutes are
/// rounded half away from zero to one decimal.
OrderRow transform(ValidOrder order, Timestamp ingested_at);

/// transform() into `row`, which must be freshly default-constructed (e.g.
/// `rows.emplace_back()`): the row is built in place, its strings moved from
/// `order`.
void transform_into(ValidOrder&& order, Timestamp ingested_at, OrderRow& row);

/// (delivered - created) in tenths of a minute, rounded half away from zero.
std::int64_t delivery_minutes_tenths(Timestamp created, Timestamp delivered) noexcept;

}  // namespace pipeline

#include <vector>

namespace pipeline {

/// Reduces a batch to one row per order_id: the newest `updated_at` wins, and
/// on equal `updated_at` the row read last. Keeps the survivors' read order.
/// Returns how many rows were dropped.
std::size_t keep_newest_per_order(std::vector<OrderRow>& rows);

}  // namespace pipeline
