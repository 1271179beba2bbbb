// pipeline/warehouse/snowflake/snowflake_sql.hpp: Snowflake DDL, staging INSERT and MERGE text from
// checked identifiers.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "pipeline/core/sql_identifier.hpp"
#include "pipeline/core/timestamp.hpp"

namespace pipeline {

/// Identifiers are written unquoted, so Snowflake stores them upper case (spec §2).

/// CREATE SCHEMA IF NOT EXISTS <schema>.
std::string sf_create_schema_sql(const SqlIdentifier& schema);

/// CREATE TABLE IF NOT EXISTS for the 25-column target: money NUMBER(14,2),
/// timestamps TIMESTAMP_TZ(6), PRIMARY KEY (ORDER_ID) (not enforced by
/// Snowflake; the MERGE keeps keys unique), CLUSTER BY (ORDER_DATE, STORE_ID).
std::string sf_create_target_sql(const SqlIdentifier& schema, const SqlIdentifier& table);

/// CREATE TABLE IF NOT EXISTS for the run-record table.
std::string sf_create_run_table_sql(const QualifiedName& run_table);

/// ALTER TABLE ... ADD COLUMN IF NOT EXISTS for the run-table columns later
/// versions added (WAREHOUSE_SECONDS, CREDITS_ESTIMATE), one statement each.
std::vector<std::string> sf_add_run_table_columns_sql(const QualifiedName& run_table);

/// The staging table's name for one run: "OP_STG_<8 hex of the pipeline
/// name>_<run id>" (letters, digits, '_'), so leftovers of this pipeline's
/// crashed runs can be found by prefix.
std::string sf_staging_table_name(std::string_view pipeline, std::string_view run_id);
/// "OP_STG_<8 hex>_", the prefix of every staging table of `pipeline`.
std::string sf_staging_prefix(std::string_view pipeline);

/// CREATE TRANSIENT TABLE (no Fail-safe, no Time Travel) for staging, the target's columns.
std::string sf_create_staging_sql(const SqlIdentifier& schema, std::string_view staging);

/// INSERT INTO staging (25 columns) VALUES (?, ... 25 placeholders), for array bindings.
std::string sf_insert_staging_sql(const SqlIdentifier& schema, std::string_view staging);

/// MERGE staging into the target, newer-wins: matched and target older ->
/// update every column; not matched -> insert. With `prune_from`, the target
/// side is restricted to ORDER_DATE >= that date (the caller only passes it
/// when every staged row's ORDER_DATE is on or after it). With `overwrite`
/// (repair) matched rows are updated whatever their UPDATED_AT.
std::string sf_merge_sql(const SqlIdentifier& schema, const SqlIdentifier& table,
                         std::string_view staging, std::optional<CivilDate> prune_from,
                         bool overwrite = false);

/// MERGE of `records` run records (>= 1) from 17 scalar bindings each, in
/// RunRecord order, the rows joined by UNION ALL: one request for all of them.
std::string sf_upsert_run_records_sql(const QualifiedName& run_table, std::size_t records);

/// SHOW TABLES LIKE '<prefix>%' IN SCHEMA <schema> (`prefix` is letters, digits and '_').
std::string sf_show_staging_sql(const SqlIdentifier& schema, std::string_view prefix);

}  // namespace pipeline
