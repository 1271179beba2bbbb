// pipeline/batch.hpp: validate + transform + in-batch dedup of one batch, shared by every run form.
#pragma once

#include <chrono>
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
    double validate_seconds = 0;
    double transform_seconds = 0;  ///< transform + in-batch dedup
};

/// Validates every row; hands each rejected one to `reject(row, rejection)`;
/// transforms the valid ones into `valid` (cleared first) and keeps the
/// newest version per order_id. `scratch` holds the validated rows between
/// the two passes (reused across batches). Pure apart from what `reject` does.
template <class Reject>
PreparedBatch prepare_batch(std::span<const SourceRow> rows, Timestamp ingested_at,
                            std::vector<ValidOrder>& scratch, std::vector<OrderRow>& valid,
                            Reject&& reject) {
    using Clock = std::chrono::steady_clock;
    PreparedBatch out;
    const auto t0 = Clock::now();
    scratch.clear();
    scratch.reserve(rows.size());
    for (const SourceRow& row : rows) {
        ValidationResult result = validate(row);
        if (auto* rejection = std::get_if<Rejection>(&result)) {
            reject(row, *rejection);
            ++out.rejected;
            continue;
        }
        scratch.push_back(std::move(std::get<ValidOrder>(result)));
    }
    const auto t1 = Clock::now();
    valid.clear();
    valid.reserve(scratch.size());
    for (const ValidOrder& order : scratch) {
        out.defaulted += order.payment_method_defaulted ? 1 : 0;
        valid.push_back(transform(order, ingested_at));
    }
    out.duplicates = keep_newest_per_order(valid);
    out.validate_seconds = std::chrono::duration<double>(t1 - t0).count();
    out.transform_seconds = std::chrono::duration<double>(Clock::now() - t1).count();
    return out;
}

}  // namespace pipeline
