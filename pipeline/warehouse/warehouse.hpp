// pipeline/warehouse/warehouse.hpp: the destination interface, small on purpose (spec §6, §9).
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "pipeline/config/config.hpp"
#include "pipeline/jobs/job_plan.hpp"
#include "pipeline/observe/run_record.hpp"
#include "pipeline/orders/order_row.hpp"
#include "pipeline/runtime/fail_point.hpp"
#include "pipeline/runtime/retry.hpp"
#include "pipeline/source/job_rows.hpp"
#include "pipeline/warehouse/compare_sql.hpp"

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

/// What a run has cost in warehouse time (Snowflake).
struct WarehouseCost {
    /// From this run's RESUME, or the statements' own time when the
    /// warehouse was already running; 0 when it was never woken.
    double seconds = 0;
    /// Estimated credits: the size's credits per hour for `seconds` (at least
    /// 60 s when this run resumed it); nullopt when the size is unknown.
    std::optional<double> credits;
};

/// One verify bucket as the warehouse computed it (see compare_sql.hpp).
struct BucketSum {
    std::int64_t bucket = 0;  ///< the key modulo the level's bucket count
    std::int64_t rows = 0;
    std::uint64_t sum = 0;  ///< of the rows' upper 64 md5 bits, modulo 2^64
};

/// One row as verify compares it.
struct RowDigest {
    std::int64_t key = 0;
    std::int64_t cursor_micros = 0;
    std::string md5;  ///< hex md5 of the canonical row text
};

/// What verify's reading of the warehouse cost.
struct CompareCost {
    int statements = 0;
    std::int64_t bytes = 0;  ///< result bytes received
};

/// The batch being loaded, for logs and the fail points inside its transaction.
struct BatchContext {
    int number = 0;
    const FailPoints* fail_points = nullptr;
    /// repair: update matched rows even when the target's cursor is not older.
    bool overwrite = false;
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

    /// True where writing a run record needs a running warehouse (Snowflake).
    /// Such a warehouse is only started for a batch with rows; a run with
    /// nothing to load keeps its record in the local journal instead.
    virtual bool records_wake_warehouse() const { return false; }

    /// Called once before the first call that needs the warehouse (Snowflake:
    /// resume it if it is suspended).
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
    /// The same for a declared job's rows (binary values, unique keys), into
    /// the job's target; only on a warehouse made for that job.
    virtual MergeCounts load_job_rows(const JobRows& rows, const BatchContext& batch) = 0;
    /// Inserts or updates run records keyed by run_id, oldest first, in as
    /// few statements as the destination allows. Must work even after a load
    /// failure (reconnecting if needed).
    virtual void upsert_run_records(std::span<const RunRecord> records) = 0;
    void upsert_run_record(const RunRecord& record) { upsert_run_records({&record, 1}); }

    /// What this run has cost in warehouse time so far; nullopt where the
    /// destination bills no warehouse time (PostgreSQL).
    virtual std::optional<WarehouseCost> cost() const { return std::nullopt; }

    // verify (read-only, inside the warehouse: only differences travel).

    /// Per bucket of `modulus` (compare_sql.hpp), the rows in `scope` and their
    /// hash sum; only rows in one of the coarse buckets `within` when given.
    virtual std::vector<BucketSum> bucket_sums(const TableShape& shape, const CompareScope& scope,
                                               bool deep, std::int64_t modulus,
                                               const std::vector<std::int64_t>& within) = 0;
    /// The rows in `scope` whose leaf bucket is one of `leaves`.
    virtual std::vector<RowDigest> leaf_digests(const TableShape& shape, const CompareScope& scope,
                                                bool deep,
                                                const std::vector<std::int64_t>& leaves) = 0;
    /// The rows with these keys, whatever their cursor.
    virtual std::vector<RowDigest> key_digests(const TableShape& shape, bool deep,
                                               std::span<const std::int64_t> keys) = 0;
    /// repair: deletes the rows with these keys; returns how many went.
    virtual std::int64_t delete_keys(const TableShape& shape,
                                     std::span<const std::int64_t> keys) = 0;
    /// Statements and bytes the calls above took so far.
    virtual CompareCost compare_cost() const = 0;

    // verify of a declared job (queries from job_compare_sql.hpp).

    /// The dialect the queries below are written in.
    virtual Dialect dialect() const = 0;
    /// Runs one read-only verify query with text parameters ($n / ?), counted
    /// in compare_cost(); its rows as text (nullopt: NULL).
    virtual std::vector<std::vector<std::optional<std::string>>> compare_rows(
        const std::string& sql, const std::vector<std::optional<std::string>>& params,
        const std::string& label) = 0;
    /// Runs one DELETE with text parameters; returns the rows deleted.
    virtual std::int64_t delete_rows(const std::string& sql,
                                     const std::vector<std::optional<std::string>>& params,
                                     const std::string& label) = 0;
};

/// Who is loading: labels sessions and statements, names staging tables.
struct WarehouseSession {
    std::string application_name;  ///< "orders-pipeline <pipeline> <run id>"
    std::string pipeline_name;
    std::string run_id;
    RetryPolicy retry;                ///< for the Snowflake client's own resubmissions
    std::filesystem::path state_dir;  ///< CHECKPOINT_DIR: local memory of what was ensured
};

/// The statements a run sends to `destination`, in order, for --dry-run
/// (per batch: staging, then the MERGE). No connection is made.
std::vector<std::string> planned_statements(const DestinationConfig& destination,
                                            const std::string& pipeline_name,
                                            const std::optional<JobTable>& job = std::nullopt);

/// The backend for `destination.kind`, connected (PostgreSQL) or ready
/// (Snowflake). With `job`, its DDL and loads are the declared job's (whose
/// target is destination.schema/table); without, the orders job's.
std::unique_ptr<Warehouse> make_warehouse(const DestinationConfig& destination,
                                          const WarehouseSession& session,
                                          const std::optional<JobTable>& job = std::nullopt);

}  // namespace pipeline
