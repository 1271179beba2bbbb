// pipeline/observe/run_history.hpp: reading run records back for `orders-pipeline runs`.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "pipeline/config/config.hpp"

namespace pipeline {

/// One run record as text, for listing.
struct RunListing {
    std::string run_id;
    std::string mode;
    std::string run_date;
    std::string started_at;   ///< ISO-8601 UTC
    std::string finished_at;  ///< "" while running
    std::string status;
    std::optional<double> duration_seconds;
    std::int64_t rows_extracted = 0;
    std::int64_t rows_written = 0;
    std::int64_t rows_rejected = 0;
    std::int64_t rows_inserted = 0;
    std::int64_t rows_updated = 0;
    std::string error_message;
    std::optional<double> warehouse_seconds;
    std::optional<double> credits_estimate;
    /// Kept in the local run journal, not yet written to the run table
    /// (Snowflake: the warehouse was not woken since).
    bool waiting_locally = false;
};

/// The newest `limit` run records of this pipeline (optionally only those
/// with `status`), newest first. PostgreSQL: from the run table. Snowflake:
/// from the local run journal (the records still waiting to be written and
/// the last 100 written), so that listing runs never wakes the warehouse.
std::vector<RunListing> list_runs(const Config& config, int limit,
                                  const std::optional<std::string>& status);

}  // namespace pipeline
