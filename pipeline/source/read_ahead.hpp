// pipeline/source/read_ahead.hpp: extraction and preparation of batch N+1 while batch N loads.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <exception>
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

/// Runs the extractor on its own thread, one batch ahead of the caller: while
/// the caller loads batch N, batch N+1 is fetched and prepared. At most one
/// finished batch waits (a queue of one), and the next is started only once
/// the caller has taken it, so memory stays flat at two batches. Each batch is `batch_size` source
/// rows, fetched `fetch_rows` at a time so that only one fetch's libpq result is alive at once; the
/// next fetch is sent before the current one is validated (Extractor::prefetch).
///
/// The extractor (and its Retrier) belong to the reader thread until next()
/// returns nullopt or the ReadAhead is destroyed; the destructor stops the
/// thread after its current fetch and joins it.
class ReadAhead {
public:
    ReadAhead(Extractor& extractor, int batch_size, int fetch_rows, std::string run_id);
    ReadAhead(const ReadAhead&) = delete;
    ReadAhead& operator=(const ReadAhead&) = delete;
    ~ReadAhead();

    /// The next batch; nullopt once the window is exhausted. Rethrows the
    /// reader's error (after the batches read before it were handed out).
    std::optional<ReadyBatch> next();

private:
    void read_all();
    std::optional<ReadyBatch> read_one();

    Extractor& extractor_;
    int batch_size_;
    int fetch_rows_;
    int next_fetch_;  ///< rows of the next FETCH (already in flight after the first)
    std::string run_id_;
    std::mutex mutex_;
    std::condition_variable changed_;
    std::optional<ReadyBatch> slot_;
    bool finished_ = false;  ///< the reader has ended (window exhausted or error_ set)
    std::exception_ptr error_;
    std::atomic<bool> cancelled_{false};
    std::thread thread_;  ///< last: started once every other member exists
};

}  // namespace pipeline
