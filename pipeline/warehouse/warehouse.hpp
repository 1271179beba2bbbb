// pipeline/warehouse/warehouse.hpp: the destination interface, small on purpose (spec §6, §9).
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "pipeline/config/config.hpp"
#include "pipeline/observe/run_record.hpp"
#include "pipeline/orders/order_row.hpp"
#include "pipeline/runtime/fail_point.hpp"
#include "pipeline/runtime/retry.hpp"

namespace pipeline {

/// What one MERGE changed.
struct MergeCounts {
    std::int64_t inserted = 0;
    std::int64_t updated = 0;
    // Where the load's time went (seconds).
    double stage_seconds = 0;   ///< staging: COPY or INSERTs
    double merge_seconds = 0;   ///< the MERGE statement
    double commit_seconds = 0;  ///< COMMIT (0 where the MERGE commits itself)
};

/// The batch being loaded, for logs and the fail points inside its transaction.
struct BatchContext {
    int number = 0;
    const FailPoints* fail_points = nullptr;
    void hit(FailSite site) const {
        if (fail_points != nullptr) {
            fail_points->hit(site, number);
        }
    }
};

/// A destination warehouse. Implementations do only the dialect-specific
/// steps; the run (run.cpp) owns the order of calls.
class Warehouse {
public:
    virtual ~Warehouse() = default;

    /// Called once after the run lock is taken, before any other call
    /// (Snowflake: resume the warehouse if it is suspended).
    virtual void begin_run() {}
    /// Called once on every exit path after the last run record (Snowflake:
    /// drop this run's staging table, suspend the warehouse if begin_run
    /// resumed it). Never throws; problems are logged.
    virtual void end_run() noexcept {}

    /// Idempotent DDL: the target table and the run-record table.
    virtual void ensure_schema() = 0;
    /// Removes staging tables left behind by crashed runs.
    virtual void drop_stale_staging() = 0;
    /// Stages `rows` (unique order_ids) and MERGEs them newer-wins into the
    /// target. **Durable when it returns**: the run may advance the
    /// checkpoint past these rows. Throws Error(destination) on failure, in
    /// which case nothing of this batch is visible. Calls `batch.hit()` for
    /// after_stage and after_merge.
    virtual MergeCounts load_batch(std::span<const OrderRow> rows, const BatchContext& batch) = 0;
    /// Inserts or updates the run record keyed by run_id. Must work even after
    /// a load failure (reconnecting if needed).
    virtual void upsert_run_record(const RunRecord& record) = 0;
};

/// Who is loading: labels sessions and statements, names staging tables.
struct WarehouseSession {
    std::string application_name;  ///< "orders-pipeline <pipeline> <run id>"
    std::string pipeline_name;
    std::string run_id;
    RetryPolicy retry;  ///< for the Snowflake client's own resubmissions
};

/// The statements a run sends to `destination`, in order, for --dry-run
/// (per batch: staging, then the MERGE). No connection is made.
std::vector<std::string> planned_statements(const DestinationConfig& destination,
                                            const std::string& pipeline_name);

/// The backend for `destination.kind`, connected (PostgreSQL) or ready (Snowflake).
std::unique_ptr<Warehouse> make_warehouse(const DestinationConfig& destination,
                                          const WarehouseSession& session);

}  // namespace pipeline
