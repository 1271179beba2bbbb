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
};

/// The newest `limit` run records of this pipeline (optionally only those
/// with `status`), newest first. PostgreSQL warehouses only for now; throws
/// Error(destination) naming the table to query by hand on Snowflake.
std::vector<RunListing> list_runs(const Config& config, int limit,
                                  const std::optional<std::string>& status);

}  // namespace pipeline
