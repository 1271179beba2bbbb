// pipeline/batch.hpp: validate + transform + in-batch dedup of one batch, shared by every run form.
#pragma once

#include <cstdint>
#include <span>
#include <variant>
#include <vector>

#include "pipeline/order_row.hpp"
#include "pipeline/timestamp.hpp"
#include "pipeline/transform.hpp"
#include "pipeline/validate.hpp"

namespace pipeline {

/// What preparing one batch found.
struct PreparedBatch {
    std::int64_t rejected = 0;
    std::int64_t defaulted = 0;  ///< payment_method stored as 'unknown'
    std::size_t duplicates = 0;  ///< older versions of a key dropped inside the batch
};

/// Validates every row; hands each rejected one to `reject(row, rejection)`;
/// transforms the valid ones into `valid` (cleared first) and keeps the
/// newest version per order_id. Pure apart from what `reject` does.
template <class Reject>
PreparedBatch prepare_batch(std::span<const SourceRow> rows, Timestamp ingested_at,
                            std::vector<OrderRow>& valid, Reject&& reject) {
    PreparedBatch out;
    valid.clear();
    valid.reserve(rows.size());
    for (const SourceRow& row : rows) {
        ValidationResult result = validate(row);
        if (auto* rejection = std::get_if<Rejection>(&result)) {
            reject(row, *rejection);
            ++out.rejected;
            continue;
        }
        auto& order = std::get<ValidOrder>(result);
        out.defaulted += order.payment_method_defaulted ? 1 : 0;
        valid.push_back(transform(order, ingested_at));
    }
    out.duplicates = keep_newest_per_order(valid);
    return out;
}

}  // namespace pipeline
