// pipeline/warehouse/snowflake/snowflake_warehouse.hpp: the Snowflake destination over the SQL API
// v2.
#pragma once

#include <string>

#include "pipeline/warehouse/snowflake/snowflake_client.hpp"
#include "pipeline/warehouse/warehouse.hpp"

namespace pipeline {

/// The client settings for a Snowflake destination: endpoint, session
/// fields, statement and HTTP timeouts, TLS trust and User-Agent.
SnowflakeClientOptions snowflake_client_options(const SnowflakeDestination& sf,
                                                std::string query_tag, const RetryPolicy& retry);

/// Loads into Snowflake. The SQL API runs each request in its own session,
/// so staging is a TRANSIENT table named after the run (dropped at the end,
/// leftovers of crashed runs dropped at the next start). Per batch: clear
/// staging, array-bound INSERTs in chunks under the request-size cap, then
/// one MERGE (atomic, auto-committed): durable when it returns.
///
/// Cost control: begin_run resumes the configured warehouse only if it is
/// suspended; end_run suspends it again (when SNOWFLAKE_SUSPEND_WAREHOUSE is
/// on) only if this run resumed it.
class SnowflakeWarehouse final : public Warehouse {
public:
    SnowflakeWarehouse(const DestinationConfig& destination, const WarehouseSession& session);

    void begin_run() override;
    void end_run() noexcept override;
    void ensure_schema() override;
    void drop_stale_staging() override;
    MergeCounts load_batch(std::span<const OrderRow> rows, const BatchContext& batch) override;
    void upsert_run_record(const RunRecord& record) override;

private:
    ResultSet run(const std::string& label, std::string statement,
                  std::vector<SnowflakeBinding> bindings = {});

    DestinationConfig destination_;
    std::string pipeline_name_;
    std::string staging_;  ///< this run's staging table (unqualified)
    std::string schema_;   ///< DEST_SCHEMA as Snowflake spells it (upper case)
    std::string target_;   ///< SCHEMA.TABLE, upper case
    std::string staged_;   ///< SCHEMA.<staging_>
    SnowflakeClient client_;
    bool staging_created_ = false;
    bool resumed_warehouse_ = false;
};

}  // namespace pipeline
