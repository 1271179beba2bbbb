// pipeline/warehouse/postgres/postgres_warehouse.hpp: the PostgreSQL destination: COPY into
// staging, then upsert.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "pipeline/runtime/pg_connection.hpp"
#include "pipeline/warehouse/postgres/merge_sql.hpp"
#include "pipeline/warehouse/warehouse.hpp"

namespace pipeline {

/// Loads into a PostgreSQL warehouse. Each batch is one transaction: COPY
/// into a session-local TEMP staging table, then one
/// `INSERT ... ON CONFLICT DO UPDATE ... WHERE target.updated_at < new.updated_at`
/// (PostgreSQL's MERGE with counts), then COMMIT. The MERGE lookback setting
/// has no effect here: the conflict check is a primary-key index probe, not a
/// scan.
class PostgresWarehouse final : public Warehouse {
public:
    /// With `job`, the target and the loads are that declared job's (see
    /// postgres_job_load.cpp).
    PostgresWarehouse(const DestinationConfig& destination, std::string application_name,
                      std::optional<JobTable> job = std::nullopt);

    void ensure_schema() override;
    void drop_stale_staging() override;
    MergeCounts load_batch(std::span<const OrderRow> rows, const BatchContext& batch) override;
    MergeCounts load_job_rows(const JobRows& rows, const BatchContext& batch) override;
    void upsert_run_records(std::span<const RunRecord> records) override;
    std::vector<BucketSum> bucket_sums(const TableShape& shape, const CompareScope& scope,
                                       bool deep, std::int64_t modulus,
                                       const std::vector<std::int64_t>& within) override;
    std::vector<RowDigest> leaf_digests(const TableShape& shape, const CompareScope& scope,
                                        bool deep,
                                        const std::vector<std::int64_t>& leaves) override;
    std::vector<RowDigest> key_digests(const TableShape& shape, bool deep,
                                       std::span<const std::int64_t> keys) override;
    std::int64_t delete_keys(const TableShape& shape, std::span<const std::int64_t> keys) override;
    CompareCost compare_cost() const override { return compare_cost_; }
    Dialect dialect() const override { return Dialect::postgres; }
    std::vector<std::vector<std::optional<std::string>>> compare_rows(
        const std::string& sql, const std::vector<std::optional<std::string>>& params,
        const std::string& label) override;
    std::int64_t delete_rows(const std::string& sql,
                             const std::vector<std::optional<std::string>>& params,
                             const std::string& label) override;

private:
    /// Runs a verify query, counting it and the bytes of its result.
    PgResult compare_query(const std::string& sql, std::vector<std::optional<std::string>> params,
                           const std::string& label);
    PgConnection& connection();
    void upsert_one(const RunRecord& record);
    /// Fills copy_order_ with the batch's (order_id, index) pairs, sorted.
    void order_by_key(std::span<const OrderRow> rows);
    /// COPY `rows` (25 columns, in copy_format_) with `copy_sql`, in copy_order_.
    void copy_rows(PgConnection& conn, const std::string& copy_sql, const std::string& label,
                   std::span<const OrderRow> rows);
    /// True when the target already holds one of the batch's order_ids.
    bool target_has_any_key(PgConnection& conn, std::span<const OrderRow> rows);
    /// The insert-only fast path: COPY into the target under a savepoint and
    /// commit. nullopt, back at the savepoint, when a key of the batch is
    /// already there (the caller then merges).
    std::optional<MergeCounts> copy_into_target(PgConnection& conn, std::span<const OrderRow> rows,
                                                const BatchContext& batch,
                                                std::chrono::steady_clock::time_point started);

    /// A declared job's target: created from the plan, columns declared later
    /// added, a column of another type refused.
    void ensure_job_schema();
    /// COPY a job's rows (binary) with `copy_sql`.
    void copy_job_rows(PgConnection& conn, const std::string& copy_sql, const JobRows& rows);

    DestinationConfig destination_;
    std::optional<JobTable> job_;
    std::string target_;  ///< "schema.table"
    std::string application_name_;
    std::optional<PgConnection> conn_;
    bool staging_ready_ = false;
    /// The last batch went straight into the target: try the next one without a probe.
    bool expect_new_keys_ = false;
    CopyFormat copy_format_ = CopyFormat::text;  ///< set by ensure_schema
    std::string copy_buffer_;
    std::vector<std::pair<std::int64_t, std::uint32_t>> copy_order_;  ///< (order_id, row)
    CompareCost compare_cost_;
};

}  // namespace pipeline
