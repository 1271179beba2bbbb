// pipeline/run/job_run.hpp: one run of a declared job (run_pipeline hands it over).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "pipeline/config/config.hpp"
#include "pipeline/run/run.hpp"
#include "pipeline/run/run_parts.hpp"
#include "pipeline/source/job_rows.hpp"

namespace pipeline {

/// One batch of a declared job, ready to load: its valid rows (newest per
/// key, in key order), the DLQ lines of the others, counts and timings.
struct JobReadyBatch {
    JobRows rows;
    std::vector<std::string> dlq_lines;
    RejectedByCode rejected_by_code;
    std::int64_t extracted = 0;
    std::int64_t rejected = 0;
    std::int64_t duplicates = 0;
    double extract_seconds = 0;
    double validate_seconds = 0;  ///< rules and the newest-per-key collapse
};

/// Keeps the last row (in the rows' order: the newest cursor, as extracted)
/// of each key, and leaves them in key order (the target's index takes them
/// in order). Returns how many were dropped.
std::int64_t keep_newest_per_key(JobRows& rows, const JobTable& job);

/// run_pipeline for `config.job` (set): the same guarantees (lock, commit-
/// aware window, DLQ before checkpoint, newer-wins MERGE by the job's key),
/// rows carried in PostgreSQL's binary format from cursor to warehouse.
RunSummary run_declared_job(const Config& config, const RunOptions& options);

/// dry_run_pipeline for `config.job` (set): the window, the rules' verdicts
/// and the SQL; nothing written, only the source contacted.
DryRunSummary dry_run_declared_job(const Config& config, const RunOptions& options);

}  // namespace pipeline
