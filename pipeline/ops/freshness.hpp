// pipeline/ops/freshness.hpp: `orders-pipeline freshness`: is the warehouse within the SLA, for
// monitoring systems that run a command rather than scrape metrics.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "pipeline/config/config.hpp"
#include "pipeline/core/timestamp.hpp"

namespace pipeline {

struct FreshnessReport {
    double max_lag_seconds = 20 * 60;
    Timestamp source_now;                ///< the source's clock
    std::optional<Timestamp> watermark;  ///< none: no checkpoint yet
    std::optional<double> checkpoint_lag_seconds;
    std::optional<Timestamp> last_success;  ///< the newest successful incremental run's end
    std::optional<double> since_success_seconds;
    std::vector<std::string> late;  ///< what is late and by how much; empty: fresh

    bool fresh() const noexcept { return late.empty(); }
};

/// Compares the checkpoint's lag behind the source's clock and the time since
/// the last successful incremental run (PostgreSQL: the run table;
/// Snowflake: the local run journal, so the warehouse is not woken) with
/// `max_lag_minutes`. Throws Error when the source cannot be read.
FreshnessReport check_freshness(const Config& config, double max_lag_minutes);

}  // namespace pipeline
