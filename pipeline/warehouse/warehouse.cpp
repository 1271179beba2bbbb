// pipeline/warehouse/warehouse.cpp: the choice of backend.
#include "pipeline/warehouse/warehouse.hpp"

#include "pipeline/core/error.hpp"
#include "pipeline/warehouse/job_sql.hpp"
#include "pipeline/warehouse/postgres/merge_sql.hpp"
#include "pipeline/warehouse/postgres/postgres_warehouse.hpp"
#include "pipeline/warehouse/snowflake/snowflake_sql.hpp"
#include "pipeline/warehouse/snowflake/snowflake_warehouse.hpp"

namespace pipeline {

std::vector<std::string> planned_statements(const DestinationConfig& d,
                                            const std::string& pipeline_name,
                                            const std::optional<JobTable>& job) {
    if (job && d.kind == DestinationKind::snowflake) {
        const std::string staging = sf_staging_table_name(pipeline_name, "<run id>");
        return {sf_job_create_target_sql(*job), sf_create_run_table_sql(d.run_table),
                sf_job_create_staging_sql(*job, staging),
                sf_job_insert_staging_sql(*job, staging) + "  -- array bindings, chunked",
                sf_job_merge_sql(*job, staging, false)};
    }
    if (job) {
        return {pg_job_create_target_sql(*job), pg_create_run_table_sql(d.run_table),
                pg_job_create_staging_sql(*job), pg_job_copy_sql(*job, false),
                pg_job_merge_sql(*job, false)};
    }
    if (d.kind == DestinationKind::snowflake) {
        const std::string staging = sf_staging_table_name(pipeline_name, "<run id>");
        return {sf_create_schema_sql(d.schema),
                sf_create_target_sql(d.schema, d.table),
                sf_create_run_table_sql(d.run_table),
                sf_create_staging_sql(d.schema, staging),
                sf_insert_staging_sql(d.schema, staging) + "  -- array bindings, chunked",
                sf_merge_sql(d.schema, d.table, staging, std::nullopt)};
    }
    return {pg_create_target_sql(d.schema, d.table), pg_create_run_table_sql(d.run_table),
            pg_create_staging_sql(d.schema, d.table), pg_copy_staging_sql(CopyFormat::binary),
            pg_merge_sql(d.schema, d.table)};
}

std::unique_ptr<Warehouse> make_warehouse(const DestinationConfig& destination,
                                          const WarehouseSession& session,
                                          const std::optional<JobTable>& job) {
    switch (destination.kind) {
        case DestinationKind::postgres:
            return std::make_unique<PostgresWarehouse>(destination, session.application_name, job);
        case DestinationKind::snowflake:
            return std::make_unique<SnowflakeWarehouse>(destination, session, job);
    }
    throw Error(ErrorKind::internal, "unknown destination kind");
}

}  // namespace pipeline
