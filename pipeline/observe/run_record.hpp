// pipeline/observe/run_record.hpp: the row written to PIPELINE_RUN_TABLE for every run (spec §9).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "pipeline/core/timestamp.hpp"

namespace pipeline {

enum class RunMode { incremental, backfill, replay, repair };
enum class RunStatus { running, success, failed, skipped, cancelled };

std::string_view to_string(RunMode mode);
std::string_view to_string(RunStatus status);
std::optional<RunMode> run_mode_named(std::string_view text);
std::optional<RunStatus> run_status_named(std::string_view text);

/// Counters of one run.
struct RunCounts {
    std::int64_t rows_extracted = 0;
    std::int64_t rows_written = 0;   ///< valid rows sent to the MERGE (after in-batch dedup)
    std::int64_t rows_rejected = 0;  ///< rows written to the DLQ
    std::int64_t rows_inserted = 0;  ///< what the MERGE inserted
    std::int64_t rows_updated = 0;   ///< what the MERGE updated
};

/// One run record; upserted by run_id.
struct RunRecord {
    std::string run_id;
    std::string pipeline_name;
    RunMode mode = RunMode::incremental;
    CivilDate run_date;
    Timestamp started_at;
    std::optional<Timestamp> finished_at;
    RunStatus status = RunStatus::running;
    RunCounts counts;
    std::optional<double> duration_seconds;
    std::optional<std::string> error_message;
    std::string environment;
    /// Snowflake: warehouse time this run used (RESUME to the record, or the
    /// statements' own time when it was running already) and its credits.
    std::optional<double> warehouse_seconds;
    std::optional<double> credits_estimate;
};

/// The record as one JSON object (the local run journal's form). Pure.
std::string format_run_record(const RunRecord& record);

/// Parses format_run_record's output; nullopt when a field is missing or of
/// the wrong type. Pure; never throws.
std::optional<RunRecord> parse_run_record(std::string_view json);

}  // namespace pipeline
