// pipeline/orders/batch.hpp: validate + transform + in-batch dedup of one batch, shared by every
// run form.
#pragma once

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <span>
#include <utility>
#include <variant>
#include <vector>

#include "pipeline/core/timestamp.hpp"
#include "pipeline/orders/order_row.hpp"
#include "pipeline/orders/transform.hpp"
#include "pipeline/orders/validate.hpp"

namespace pipeline {

/// What preparing one batch found.
struct PreparedBatch {
    std::int64_t rejected = 0;
    std::int64_t defaulted = 0;  ///< payment_method stored as 'unknown'
    std::size_t duplicates = 0;  ///< older versions of a key dropped inside the batch
    double validate_seconds = 0;
    double transform_seconds = 0;  ///< transform + in-batch dedup
};

/// Validates every row; hands each rejected one to `reject(row, rejection)`
/// (in row order); appends the transformed valid ones to `valid`. Works in
/// blocks of 256 rows (validate the block, then transform it) so that the two
/// stages are timed with four clock reads per block instead of per row, and
/// memory stays at one block of validated rows. Pure apart from what
/// `reject` does.
template <class Reject>
PreparedBatch prepare_rows(std::span<const SourceRow> rows, Timestamp ingested_at,
                           std::vector<OrderRow>& valid, Reject&& reject) {
    using Clock = std::chrono::steady_clock;
    constexpr std::size_t block = 256;
    PreparedBatch out;
    Clock::duration validating{};
    Clock::duration transforming{};
    std::vector<ValidOrder> orders(std::min(block, rows.size()));
    std::vector<std::pair<std::size_t, Rejection>> rejections;
    for (std::size_t first = 0; first < rows.size(); first += block) {
        const std::size_t last = std::min(rows.size(), first + block);
        const auto t0 = Clock::now();
        std::size_t accepted = 0;
        for (std::size_t i = first; i < last; ++i) {
            if (std::optional<Rejection> rejection = validate_into(rows[i], orders[accepted])) {
                rejections.emplace_back(i, std::move(*rejection));
            } else {
                ++accepted;
            }
        }
        const auto t1 = Clock::now();
        for (std::size_t k = 0; k < accepted; ++k) {
            out.defaulted += orders[k].payment_method_defaulted ? 1 : 0;
            transform_into(std::move(orders[k]), ingested_at, valid.emplace_back());
        }
        const auto t2 = Clock::now();
        validating += t1 - t0;
        transforming += t2 - t1;
        for (auto& [index, rejection] : rejections) {
            reject(rows[index], rejection);
        }
        out.rejected += static_cast<std::int64_t>(rejections.size());
        rejections.clear();
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
    prepared.transform_seconds += seconds_since(t0);
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
