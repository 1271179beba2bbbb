// pipeline/run.hpp: one run of the pipeline, the linear sequence of spec §1.
#pragma once

#include <filesystem>
#include <functional>
#include <optional>
#include <string>

#include "pipeline/config.hpp"
#include "pipeline/run_record.hpp"
#include "pipeline/timestamp.hpp"

namespace pipeline {

/// What the command line asks for.
struct RunOptions {
    std::optional<CivilDate> backfill_date;  ///< set: backfill that UTC day; unset: incremental
    /// Called with the final run record (success, failed, cancelled or
    /// skipped) whenever one is written; for metrics. Must not throw.
    std::function<void(const RunRecord&)> on_finished;
};

/// The outcome of a successful run (failures are thrown as Error).
struct RunSummary {
    std::string run_id;
    RunMode mode = RunMode::incremental;
    RunCounts counts;
    double duration_seconds = 0;
    std::optional<Timestamp> window_from;  ///< exclusive for incremental, inclusive for backfill
    Timestamp window_until;                ///< inclusive for incremental, exclusive for backfill
    std::optional<Timestamp> checkpoint_saved;      ///< the new watermark, when it moved
    std::optional<std::filesystem::path> dlq_file;  ///< set when rows were rejected
};

/// Runs the pipeline once: lock, checkpoint, extract, validate, transform,
/// load batch by batch, advance the checkpoint, record the run.
///
/// Throws Error: `lock_held` when another run holds the lock (after writing a
/// `skipped` run record), otherwise the failure that ended the run (after
/// writing a `failed` run record when the destination allows it). The
/// checkpoint only moves after every batch is durably loaded.
RunSummary run_pipeline(const Config& config, const RunOptions& options);

/// A new run id: "<UTC yyyymmddThhmmssZ>-<8 hex>"; sortable by start time.
std::string make_run_id(Timestamp started);

}  // namespace pipeline
