// pipeline/batch.hpp: validate + transform + in-batch dedup of one batch, shared by every run form.
#pragma once

#include <chrono>
#include <cstdint>
#include <span>
#include <utility>
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
/// appends the transformed valid ones to `valid`. One pass (no buffer of
/// validated rows, to keep memory flat); the two stages are timed per row.
/// Pure apart from what `reject` does.
template <class Reject>
PreparedBatch prepare_rows(std::span<const SourceRow> rows, Timestamp ingested_at,
                           std::vector<OrderRow>& valid, Reject&& reject) {
    using Clock = std::chrono::steady_clock;
    PreparedBatch out;
    Clock::duration validating{};
    Clock::duration transforming{};
    for (const SourceRow& row : rows) {
        const auto t0 = Clock::now();
        ValidationResult result = validate(row);
        const auto t1 = Clock::now();
        validating += t1 - t0;
        if (auto* rejection = std::get_if<Rejection>(&result)) {
            reject(row, *rejection);
            ++out.rejected;
            continue;
        }
        auto& order = std::get<ValidOrder>(result);
        out.defaulted += order.payment_method_defaulted ? 1 : 0;
        valid.push_back(transform(std::move(order), ingested_at));
        transforming += Clock::now() - t1;
    }
    out.validate_seconds = std::chrono::duration<double>(validating).count();
    out.transform_seconds = std::chrono::duration<double>(transforming).count();
    return out;
}

/// Adds `more` (a later part of the same batch) to `total`.
inline void accumulate(PreparedBatch& total, const PreparedBatch& more) {
    total.rejected += more.rejected;
    total.defaulted += more.defaulted;
    total.duplicates += more.duplicates;
    total.validate_seconds += more.validate_seconds;
    total.transform_seconds += more.transform_seconds;
}

/// Keeps the newest version per order_id in `valid`, counted and timed as transform work.
inline void collapse_duplicates(PreparedBatch& prepared, std::vector<OrderRow>& valid) {
    const auto t0 = std::chrono::steady_clock::now();
    prepared.duplicates += keep_newest_per_order(valid);
    prepared.transform_seconds +=
        std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

/// prepare_rows into a cleared `valid`, then collapse_duplicates: one whole batch.
template <class Reject>
PreparedBatch prepare_batch(std::span<const SourceRow> rows, Timestamp ingested_at,
                            std::vector<OrderRow>& valid, Reject&& reject) {
    valid.clear();
    valid.reserve(rows.size());
    PreparedBatch out = prepare_rows(rows, ingested_at, valid, std::forward<Reject>(reject));
    collapse_duplicates(out, valid);
    return out;
}

}  // namespace pipeline
