// pipeline/run/run.hpp: one run of the pipeline, the linear sequence of spec §1.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "pipeline/config/config.hpp"
#include "pipeline/core/timestamp.hpp"
#include "pipeline/observe/run_record.hpp"

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
    std::string job;  ///< a declared job's name; empty for the orders job
    RunMode mode = RunMode::incremental;
    RunCounts counts;
    double duration_seconds = 0;
    std::optional<Timestamp> window_from;  ///< exclusive for incremental, inclusive for backfill
    Timestamp window_until;                ///< inclusive for incremental, exclusive for backfill
    std::optional<Timestamp> checkpoint_saved;  ///< the new watermark, when it moved
    /// A declared job with an integer cursor: its window by value, and the position saved.
    std::optional<std::int64_t> window_from_position;
    std::optional<std::int64_t> window_until_position;
    std::optional<std::int64_t> position_saved;
    std::optional<std::filesystem::path> dlq_file;  ///< set when rows were rejected
    /// Commit-aware windows (incremental runs): rows of the held-back part,
    /// how far the next window reaches back (0: not at all) and whether the
    /// cap cut it short, and the age of the oldest open source transaction.
    std::int64_t rows_reread = 0;
    double holdback_seconds = 0;
    bool holdback_capped = false;
    double oldest_transaction_seconds = 0;
};

/// Runs the pipeline once: lock, checkpoint, extract, validate, transform,
/// load batch by batch, advance the checkpoint, record the run.
///
/// Throws Error: `lock_held` when another run holds the lock (after writing a
/// `skipped` run record), otherwise the failure that ended the run (after
/// writing a `failed` run record when the destination allows it). The
/// checkpoint only moves after every batch is durably loaded.
RunSummary run_pipeline(const Config& config, const RunOptions& options);

/// What `run --dry-run` found: the window, the counts a run would have, and
/// the SQL it would send. Nothing was written anywhere.
struct DryRunSummary {
    std::optional<Timestamp> window_from;
    Timestamp window_until;
    std::string job;  ///< a declared job's name; empty for the orders job
    /// A declared job with an integer cursor: its window by value.
    std::optional<std::int64_t> window_from_position;
    std::optional<std::int64_t> window_until_position;
    bool backfill = false;
    std::optional<std::string> checkpoint_note;  ///< e.g. a corrupt checkpoint a run would move
    int batches = 0;
    RunCounts counts;  ///< extracted, written (valid after dedup) and rejected
    std::vector<std::pair<std::string, std::int64_t>> rejected_by_code;
    std::string extract_sql;
    std::vector<std::string> load_sql;
};

/// Extracts, validates and transforms the window a run would load, and
/// writes nothing: no checkpoint, DLQ, run record, table or lock. Only the
/// source is contacted.
DryRunSummary dry_run_pipeline(const Config& config, const RunOptions& options);

/// What `dlq replay` did.
struct ReplaySummary {
    std::string run_id;
    RunCounts counts;                             ///< extracted = lines replayed
    std::vector<std::filesystem::path> replayed;  ///< the files' new names (…replayed.<run id>)
    std::vector<std::filesystem::path> already_replayed;  ///< skipped: nothing to do
    std::optional<std::filesystem::path> dlq_file;        ///< rows that still fail
};

/// Re-validates the rows stored in DLQ files with today's rules and loads
/// those that pass through the normal staging + MERGE path (newer-wins, so a
/// newer source version is never overwritten); rows that still fail go to a
/// new DLQ file. Each file is renamed to `<file>.replayed.<run id>` once its
/// rows are loaded; never deleted. A file already renamed so (or whose
/// original name is gone but a replayed copy exists) is skipped. A file with
/// an unreadable line is refused before anything is loaded (Error io).
/// Takes the run lock and writes a run record with mode `replay`.
ReplaySummary replay_dlq(const Config& config, const std::vector<std::filesystem::path>& files);

}  // namespace pipeline
