// pipeline/run/run_parts.hpp: what the orders run and a declared job's run share: their windows,
// the rejection brake, the hold-back's log line, the stage timings.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>

#include "pipeline/config/config.hpp"
#include "pipeline/jobs/rules.hpp"
#include "pipeline/orders/batch.hpp"
#include "pipeline/run/run.hpp"
#include "pipeline/source/commit_window.hpp"
#include "pipeline/source/extractor.hpp"
#include "pipeline/state/checkpoint.hpp"
#include "pipeline/state/dlq.hpp"
#include "pipeline/warehouse/warehouse.hpp"

namespace pipeline {

/// A batch or run with more than this share rejected is logged as high_rejection_rate.
inline constexpr double reject_warning_ratio = 0.05;

/// Rows per FETCH inside a batch: bounds the libpq result alive at once.
inline constexpr int fetch_rows = 5'000;

using RejectedByCode = std::map<std::string, std::int64_t, std::less<>>;

/// [start of day, start of next day): the window of a backfill.
WindowRequest backfill_window(CivilDate date);

/// The exclusive lower bound of an incremental window after `watermark`.
Timestamp after_overlap(const Config& config, Timestamp watermark);

HoldBackSettings hold_back_settings(const Config& config);

/// An incremental window after `state` (nullopt: no checkpoint): its lower
/// bound, the held-back part the state asks for, and a sighting for the next.
/// By value for a declared job with an integer cursor.
WindowRequest incremental_window(const Config& config, const std::optional<CheckpointState>& state);

/// What the runs so far must have loaded, for verify: rows with the cursor at or below
/// the result. The watermark (an integer cursor: its position), lowered to just below the
/// part the next window reads back for transactions that were open at the last run (their
/// rows may commit after it: the next run's work, not a difference). `lowered` says whether
/// it was.
struct SettledBound {
    std::int64_t value = 0;  ///< microseconds since the epoch, or an integer cursor's value
    bool lowered = false;
};
SettledBound settled_bound(const Config& config, const CheckpointState& state);

/// The window for this run, from the checkpoint (incremental, logged) or the
/// date (backfill).
WindowRequest plan_window(const Config& config, const RunOptions& options,
                          const CheckpointStore& checkpoints);

/// The rejection brake (MAX_REJECT_RATIO): a batch of at least 100 rows that
/// is mostly rejected stops the run (Error(source) naming the top codes)
/// before it is loaded, its rejected rows kept in the DLQ (closed here).
/// The limits a declared job's rows must fit in the configured warehouse.
TargetLimits target_limits(const Config& config) noexcept;

void check_rejection_brake(const Config& config, std::int64_t extracted, std::int64_t rejected,
                           const RejectedByCode& rejected_by_code, int batch_number,
                           DlqWriter& dlq);

/// Logs what the next window waits for; loudly when the cap cut it short.
void log_hold_back(const Config& config, const Sighting& seen, const HoldBack& hold_back);

/// Where a run's time went, per stage, summed over batches.
struct BatchTimings {
    double extract = 0;
    double validate = 0;
    double transform = 0;
    double stage = 0;
    double merge = 0;
    double commit = 0;
    double wait = 0;  ///< the loader waiting for the reader thread (extraction not overlapped)

    void add(const PreparedBatch& p, const MergeCounts& m) {
        validate += p.validate_seconds;
        transform += p.transform_seconds;
        stage += m.stage_seconds;
        merge += m.merge_seconds;
        commit += m.commit_seconds;
    }
};

}  // namespace pipeline
