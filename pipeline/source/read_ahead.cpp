// pipeline/source/read_ahead.cpp: a reader thread and a one-slot hand-off.
#include "pipeline/source/read_ahead.hpp"

#include <algorithm>
#include <chrono>

#include "pipeline/state/dlq.hpp"

namespace pipeline {

ReadAhead::ReadAhead(Extractor& extractor, int batch_size, int fetch_rows, std::string run_id)
    : extractor_(extractor),
      batch_size_(batch_size),
      fetch_rows_(fetch_rows),
      next_fetch_(std::min(fetch_rows, batch_size)),
      run_id_(std::move(run_id)),
      reader_([this](const std::atomic<bool>& cancelled) { return read_one(cancelled); }) {}

std::optional<ReadyBatch> ReadAhead::read_one(const std::atomic<bool>& cancelled) {
    ReadyBatch batch;
    const Timestamp ingested_at = now_utc();
    batch.rows.reserve(static_cast<std::size_t>(batch_size_));
    while (batch.extracted < batch_size_ && !cancelled) {
        const auto t0 = std::chrono::steady_clock::now();
        std::optional<SourceBatch> part = extractor_.next_batch(next_fetch_);
        batch.extract_seconds += seconds_since(t0);
        if (!part) {
            break;
        }
        batch.extracted += static_cast<std::int64_t>(part->rows.size());
        // The source produces the next part while this one is validated.
        const auto left = batch_size_ - static_cast<int>(batch.extracted);
        next_fetch_ = std::min(fetch_rows_, left > 0 ? left : batch_size_);
        extractor_.prefetch(next_fetch_);
        accumulate(
            batch.prepared,
            prepare_rows(part->rows, ingested_at, batch.rows,
                         [&](const SourceRow& row, const Rejection& rejection) {
                             batch.dlq_lines.push_back(
                                 format_dlq_line(row, rejection.message, ingested_at, run_id_));
                             ++batch.rejected_by_code[std::string(to_string(rejection.reason))];
                         }));
    }
    if (batch.extracted == 0) {
        return std::nullopt;
    }
    collapse_duplicates(batch.prepared, batch.rows);
    return batch;
}

}  // namespace pipeline
