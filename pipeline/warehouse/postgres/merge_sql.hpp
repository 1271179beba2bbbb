// pipeline/warehouse/postgres/merge_sql.hpp: DDL, staging and MERGE SQL built from checked
// identifiers (spec §6).
#pragma once

#include <array>
#include <string>
#include <string_view>

#include "pipeline/core/sql_identifier.hpp"
#include "pipeline/orders/order_row.hpp"

namespace pipeline {

/// The name of the PostgreSQL staging table (a session-local TEMP table).
inline constexpr std::string_view pg_staging_table = "orders_pipeline_stage";

/// CREATE SCHEMA/TABLE IF NOT EXISTS for the 25-column target (primary key order_id).
std::string pg_create_target_sql(const SqlIdentifier& schema, const SqlIdentifier& table);

/// CREATE SCHEMA/TABLE IF NOT EXISTS for the run-record table, and the
/// columns later versions added (ALTER TABLE ... ADD COLUMN IF NOT EXISTS).
std::string pg_create_run_table_sql(const QualifiedName& run_table);

/// CREATE TEMP TABLE IF NOT EXISTS for staging, shaped like the target, emptied at each commit.
std::string pg_create_staging_sql(const SqlIdentifier& schema, const SqlIdentifier& table);

/// The wire format of a COPY: binary when the target has exactly the types
/// of pg_create_target_sql, text (converted by the server) otherwise.
enum class CopyFormat { text, binary };

/// The type of each destination column in pg_create_target_sql, as
/// PostgreSQL's `format_type` without modifiers prints it, in destination order.
inline constexpr std::array<std::string_view, destination_column_names.size()>
    pg_destination_column_types = {"bigint",
                                   "bigint",
                                   "text",
                                   "text",
                                   "numeric",
                                   "numeric",
                                   "numeric",
                                   "numeric",
                                   "text",
                                   "text",
                                   "text",
                                   "text",
                                   "date",
                                   "smallint",
                                   "text",
                                   "numeric",
                                   "text",
                                   "text",
                                   "boolean",
                                   "text",
                                   "timestamp with time zone",
                                   "timestamp with time zone",
                                   "timestamp with time zone",
                                   "timestamp with time zone",
                                   "timestamp with time zone"};

/// COPY staging (all 25 columns, in order) FROM STDIN.
std::string pg_copy_staging_sql(CopyFormat format);

/// COPY the target (all 25 columns, in order) FROM STDIN: the insert-only fast path.
std::string pg_copy_target_sql(const SqlIdentifier& schema, const SqlIdentifier& table,
                               CopyFormat format);

/// INSERT ... ON CONFLICT (order_id) DO UPDATE ... WHERE target older than
/// staging (with `overwrite`, whatever the target holds: repair); returns one
/// row: (inserted, updated).
std::string pg_merge_sql(const SqlIdentifier& schema, const SqlIdentifier& table,
                         bool overwrite = false);

/// Upsert of one run record with 17 parameters in RunRecord order.
std::string pg_upsert_run_record_sql(const QualifiedName& run_table);

}  // namespace pipeline
