// pipeline/read_ahead.cpp: a reader thread and a one-slot hand-off.
#include "pipeline/read_ahead.hpp"

#include <chrono>

#include "pipeline/dlq.hpp"

namespace pipeline {

ReadAhead::ReadAhead(Extractor& extractor, int batch_size, int fetch_rows, std::string run_id)
    : extractor_(extractor),
      batch_size_(batch_size),
      fetch_rows_(fetch_rows),
      run_id_(std::move(run_id)),
      thread_([this] { read_all(); }) {}

ReadAhead::~ReadAhead() {
    cancelled_ = true;
    {
        const std::lock_guard lock(mutex_);
        changed_.notify_all();
    }
    thread_.join();
}

std::optional<ReadyBatch> ReadAhead::next() {
    std::unique_lock lock(mutex_);
    changed_.wait(lock, [&] { return slot_.has_value() || finished_; });
    if (slot_) {
        std::optional<ReadyBatch> batch = std::move(slot_);
        slot_.reset();
        changed_.notify_all();
        return batch;
    }
    if (error_) {
        std::rethrow_exception(error_);
    }
    return std::nullopt;
}

void ReadAhead::read_all() {
    try {
        while (!cancelled_) {
            std::optional<ReadyBatch> batch = read_one();
            std::unique_lock lock(mutex_);
            if (!batch) {
                break;
            }
            changed_.wait(lock, [&] { return !slot_ || cancelled_; });
            if (cancelled_) {
                break;
            }
            slot_ = std::move(batch);
            changed_.notify_all();
        }
    } catch (...) {
        const std::lock_guard lock(mutex_);
        error_ = std::current_exception();
    }
    const std::lock_guard lock(mutex_);
    finished_ = true;
    changed_.notify_all();
}

std::optional<ReadyBatch> ReadAhead::read_one() {
    using Clock = std::chrono::steady_clock;
    ReadyBatch batch;
    const Timestamp ingested_at = now_utc();
    batch.rows.reserve(static_cast<std::size_t>(batch_size_));
    while (batch.extracted < batch_size_ && !cancelled_) {
        const auto t0 = Clock::now();
        const int want = std::min(fetch_rows_, batch_size_ - static_cast<int>(batch.extracted));
        std::optional<SourceBatch> part = extractor_.next_batch(want);
        batch.extract_seconds += std::chrono::duration<double>(Clock::now() - t0).count();
        if (!part) {
            break;
        }
        batch.extracted += static_cast<std::int64_t>(part->rows.size());
        accumulate(batch.prepared,
                   prepare_rows(part->rows, ingested_at, batch.rows,
                                [&](const SourceRow& row, const Rejection& rejection) {
                                    batch.dlq_lines.push_back(format_dlq_line(
                                        row, rejection.message, ingested_at, run_id_));
                                }));
    }
    if (batch.extracted == 0) {
        return std::nullopt;
    }
    collapse_duplicates(batch.prepared, batch.rows);
    return batch;
}

}  // namespace pipeline
