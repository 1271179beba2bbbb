// pipeline/warehouse/snowflake/snowflake_warehouse.hpp: the Snowflake destination over the SQL API
// v2.
#pragma once

#include <chrono>
#include <optional>
#include <string>

#include "pipeline/state/schema_memory.hpp"
#include "pipeline/warehouse/snowflake/snowflake_client.hpp"
#include "pipeline/warehouse/warehouse.hpp"

namespace pipeline {

/// The client settings for a Snowflake destination: endpoint, session
/// fields, statement and HTTP timeouts, TLS trust and User-Agent.
SnowflakeClientOptions snowflake_client_options(const SnowflakeDestination& sf,
                                                std::string query_tag, const RetryPolicy& retry);

/// Credits per hour of a warehouse `size` as SHOW WAREHOUSES prints it
/// ("X-Small" ... "6X-Large"), by Snowflake's published rates for standard
/// warehouses, times 1.5 for `type` SNOWPARK-OPTIMIZED; nullopt when unknown. Pure.
std::optional<double> credits_per_hour(std::string_view size, std::string_view type);

/// Loads into Snowflake. The SQL API runs each request in its own session,
/// so staging is a TRANSIENT table named after the run (dropped at the end,
/// leftovers of crashed runs dropped at the next start). Per batch: clear
/// staging, array-bound INSERTs in chunks under the request-size cap, then
/// one MERGE (atomic, auto-committed): durable when it returns.
///
/// Cost control: the run only calls begin_run for a batch with rows (see
/// records_wake_warehouse); begin_run resumes the configured warehouse only if
/// it is suspended; end_run suspends it again (when SNOWFLAKE_SUSPEND_WAREHOUSE
/// is on) only if this run resumed it. The DDL and the stale-staging sweep are
/// sent only when the local SchemaMemory does not hold their fingerprint (or
/// after a crash, for the sweep); a statement that fails because an object
/// is gone makes the run send the DDL again and retry once.
class SnowflakeWarehouse final : public Warehouse {
public:
    SnowflakeWarehouse(const DestinationConfig& destination, const WarehouseSession& session,
                       std::optional<JobTable> job = std::nullopt);

    bool records_wake_warehouse() const override { return true; }
    void begin_run() override;
    void end_run() noexcept override;
    void ensure_schema() override;
    void drop_stale_staging() override;
    MergeCounts load_batch(std::span<const OrderRow> rows, const BatchContext& batch) override;
    MergeCounts load_job_rows(const JobRows& rows, const BatchContext& batch) override;
    void upsert_run_records(std::span<const RunRecord> records) override;
    std::optional<WarehouseCost> cost() const override;
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
    Dialect dialect() const override { return Dialect::snowflake; }
    std::vector<std::vector<std::optional<std::string>>> compare_rows(
        const std::string& sql, const std::vector<std::optional<std::string>>& params,
        const std::string& label) override;
    std::int64_t delete_rows(const std::string& sql,
                             const std::vector<std::optional<std::string>>& params,
                             const std::string& label) override;

    /// Requests sent so far (for logs and tests).
    int requests_sent() const noexcept { return client_.requests_sent(); }

private:
    ResultSet run(const std::string& label, std::string statement,
                  std::vector<SnowflakeBinding> bindings = {});
    ResultSet run_request(const std::string& label, StatementRequest request);
    /// The DDL statements (label, text) ensure_schema sends.
    std::vector<std::pair<std::string, std::string>> ddl() const;
    void send_ddl();
    /// Runs `work`; if it fails because an object is gone and the schema was
    /// only remembered, not ensured by this run, sends the DDL and runs it again.
    template <class Work>
    auto recovering_schema(Work&& work);
    MergeCounts load_batch_once(std::span<const OrderRow> rows, const BatchContext& batch);
    MergeCounts load_job_rows_once(const JobRows& rows, const BatchContext& batch);
    /// Clears (or creates) this run's staging table, with `create_sql` the first time.
    void reset_staging(const std::string& create_sql);
    /// Checks an INSERT's "number of rows inserted" against the chunk's rows.
    void expect_inserted(const ResultSet& inserted, std::size_t rows);
    /// Runs a verify statement, counting it and the bytes of its answer.
    ResultSet compare_query(const std::string& label, std::string statement,
                            std::vector<SnowflakeBinding> bindings);

    DestinationConfig destination_;
    std::optional<JobTable> job_;
    std::string pipeline_name_;
    std::string staging_;  ///< this run's staging table (unqualified)
    std::string schema_;   ///< DEST_SCHEMA as Snowflake spells it (upper case)
    std::string target_;   ///< SCHEMA.TABLE, upper case
    std::string staged_;   ///< SCHEMA.<staging_>
    SnowflakeClient client_;
    SchemaMemory memory_;
    std::string fingerprint_;      ///< of the destination and its DDL
    bool schema_sent_ = false;     ///< this run sent the DDL
    bool schema_ensured_ = false;  ///< sent or remembered: the objects exist
    bool staging_created_ = false;
    bool begun_ = false;
    bool resumed_warehouse_ = false;
    std::optional<double> credits_per_hour_;
    std::chrono::steady_clock::time_point resumed_at_;
    std::optional<double> resumed_seconds_;  ///< set once suspended: RESUME to SUSPEND
    double statement_seconds_ = 0;           ///< statements that needed compute
    CompareCost compare_cost_;
};

}  // namespace pipeline
