// pipeline/source/read_ahead.hpp: extraction and preparation of batch N+1 while batch N loads.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <exception>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "pipeline/orders/batch.hpp"
#include "pipeline/orders/order_row.hpp"
#include "pipeline/source/extractor.hpp"

namespace pipeline {

/// One batch ready to load: extracted, validated, transformed, newest version per key.
struct ReadyBatch {
    std::vector<OrderRow> rows;
    std::vector<std::string> dlq_lines;  ///< one formatted DLQ line per rejected row
    std::map<std::string, std::int64_t, std::less<>> rejected_by_code;  ///< DLQ code -> rows
    std::int64_t extracted = 0;
    PreparedBatch prepared;  ///< counts and validate/transform seconds
    double extract_seconds = 0;
};

/// Runs `produce` on its own thread, one batch ahead of the caller: while
/// the caller works on batch N, batch N+1 is produced. At most one finished
/// batch waits (a queue of one), and the next is started only once the
/// caller has taken it, so memory stays flat at two batches. `produce`
/// returns nullopt at the end and should stop early once `cancelled` is set;
/// whatever it uses belongs to the reader thread until next() returns
/// nullopt or the reader is destroyed (the destructor joins the thread).
template <class Batch>
class BatchReader {
public:
    using Produce = std::function<std::optional<Batch>(const std::atomic<bool>& cancelled)>;

    explicit BatchReader(Produce produce)
        : produce_(std::move(produce)), thread_([this] { read_all(); }) {}
    BatchReader(const BatchReader&) = delete;
    BatchReader& operator=(const BatchReader&) = delete;
    ~BatchReader() {
        cancelled_ = true;
        {
            const std::lock_guard lock(mutex_);
            changed_.notify_all();
        }
        thread_.join();
    }

    /// The next batch; nullopt once `produce` has ended. Rethrows its error
    /// (after the batches produced before it were handed out).
    std::optional<Batch> next() {
        std::unique_lock lock(mutex_);
        changed_.wait(lock, [&] { return slot_.has_value() || finished_; });
        if (slot_) {
            std::optional<Batch> batch = std::move(slot_);
            slot_.reset();
            changed_.notify_all();
            return batch;
        }
        if (error_) {
            std::rethrow_exception(error_);
        }
        return std::nullopt;
    }

private:
    void read_all() {
        try {
            while (!cancelled_) {
                {
                    // Build batch N+1 only once batch N has left the slot: the
                    // caller then holds N and we build N+1, never a third.
                    std::unique_lock lock(mutex_);
                    changed_.wait(lock, [&] { return !slot_ || cancelled_; });
                    if (cancelled_) {
                        break;
                    }
                }
                std::optional<Batch> batch = produce_(cancelled_);
                const std::lock_guard lock(mutex_);
                if (!batch || cancelled_) {
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

    Produce produce_;
    std::mutex mutex_;
    std::condition_variable changed_;
    std::optional<Batch> slot_;
    bool finished_ = false;  ///< the producer has ended (exhausted or error_ set)
    std::exception_ptr error_;
    std::atomic<bool> cancelled_{false};
    std::thread thread_;  ///< last: started once every other member exists
};

/// The orders job's reader: extracts, validates and transforms batch N+1 while
/// batch N loads. Each batch is `batch_size` source rows, fetched `fetch_rows`
/// at a time so that only one fetch's libpq result is alive at once; the next
/// fetch is sent before the current one is validated (Extractor::prefetch).
/// The extractor (and its Retrier) belong to the reader thread until next()
/// returns nullopt or the ReadAhead is destroyed.
class ReadAhead {
public:
    ReadAhead(Extractor& extractor, int batch_size, int fetch_rows, std::string run_id);

    /// The next batch; nullopt once the window is exhausted. Rethrows the
    /// reader's error (after the batches read before it were handed out).
    std::optional<ReadyBatch> next() { return reader_.next(); }

private:
    std::optional<ReadyBatch> read_one(const std::atomic<bool>& cancelled);

    Extractor& extractor_;
    int batch_size_;
    int fetch_rows_;
    int next_fetch_;  ///< rows of the next FETCH (already in flight after the first)
    std::string run_id_;
    BatchReader<ReadyBatch> reader_;  ///< last: its thread starts at construction
};

}  // namespace pipeline
