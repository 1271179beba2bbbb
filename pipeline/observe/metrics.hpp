// pipeline/observe/metrics.hpp: the Prometheus text file a batch job leaves behind (node_exporter
// textfile).
#pragma once

#include <filesystem>
#include <optional>
#include <string>
#include <string_view>

#include "pipeline/core/timestamp.hpp"
#include "pipeline/observe/run_record.hpp"

namespace pipeline {

/// What the metrics file says about the last run.
struct RunMetrics {
    std::string pipeline;
    RunMode mode = RunMode::incremental;
    RunStatus status = RunStatus::failed;
    RunCounts counts;
    double duration_seconds = 0;
    Timestamp finished_at;
    std::optional<Timestamp> last_success;         ///< the newest successful run's end
    std::optional<double> checkpoint_lag_seconds;  ///< finished_at - watermark
    /// Commit-aware windows: how far the next window reaches back for open
    /// source transactions, whether the cap cut it short, and the age of the
    /// oldest open transaction (incremental runs).
    std::optional<double> holdback_seconds;
    bool holdback_capped = false;
    std::optional<double> oldest_transaction_seconds;
    /// Snowflake: the run's warehouse time and estimated credits (0 when it
    /// was never woken).
    std::optional<double> warehouse_seconds;
    std::optional<double> credits_estimate;
};

/// Prometheus text exposition format (HELP/TYPE lines, gauges labelled
/// pipeline="..."; the status as orders_pipeline_last_run_status{status=...}
/// 1 for the run's status and 0 for the others). Pure.
std::string format_metrics(const RunMetrics& metrics);

/// The last-success timestamp (seconds) in an earlier file's text, if any. Pure.
std::optional<double> last_success_in(std::string_view previous_text);

/// Writes `metrics` to `path` atomically. When the run did not succeed, the
/// last-success timestamp is carried over from the file being replaced, so
/// "no success in 30 minutes" stays answerable after failures.
void write_metrics_file(const std::filesystem::path& path, RunMetrics metrics);

/// What a verify metrics file says.
struct VerifyMetrics {
    std::string pipeline;
    Timestamp at;
    double seconds = 0;
    bool deep = false;
    std::int64_t missing = 0, stale = 0, extra = 0, different = 0, newer = 0, duplicate = 0,
                 rejected = 0;
};

/// Prometheus text of the last verify: orders_pipeline_verify_differences
/// {category=...}, _rejected, _timestamp_seconds, _duration_seconds. Pure.
std::string format_verify_metrics(const VerifyMetrics& metrics);

}  // namespace pipeline
