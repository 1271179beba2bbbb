// pipeline/jobs/job_dlq.hpp: a declared job's dead-letter lines: the same NDJSON shape as the
// orders job's, with the job's columns in the source's text form. Pure.
#pragma once

#include <map>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "pipeline/core/timestamp.hpp"
#include "pipeline/jobs/job_plan.hpp"
#include "pipeline/jobs/rules.hpp"

namespace pipeline {

/// {"error", "row" (every carried column: PostgreSQL's text form, NULL as
/// null), "rejected_at", "run_id", "job"} and a newline.
std::string format_job_dlq_line(const JobTable& job, std::span<const BinaryField> fields,
                                std::string_view error, Timestamp rejected_at,
                                std::string_view run_id);

/// One line read back: its row as column -> text (nullopt for null).
struct JobDlqEntry {
    std::string error;
    std::map<std::string, std::optional<std::string>, std::less<>> row;
    std::string run_id;
};

/// Parses a job's DLQ line; nullopt with `why` when it is not one. Pure.
std::optional<JobDlqEntry> parse_job_dlq_line(std::string_view line, std::string& why);

}  // namespace pipeline
