// pipeline/warehouse/job_sql.hpp: a declared job's DDL, staging and newer-wins MERGE in both
// dialects, from its plan. Identifiers are checked names; derived columns are the jobs file's SQL.
// Pure.
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "pipeline/jobs/job_plan.hpp"

namespace pipeline {

// ---- PostgreSQL ----

/// CREATE SCHEMA/TABLE IF NOT EXISTS for the target: the carried columns
/// (key and cursor NOT NULL), the derived ones, `_loaded_at`, PRIMARY KEY (key).
std::string pg_job_create_target_sql(const JobTable& job);
/// The target's columns with their PostgreSQL types (carried, then derived).
std::vector<std::pair<std::string, std::string>> job_target_columns(const JobTable& job);
/// ALTER TABLE ... ADD COLUMN IF NOT EXISTS: a column declared after the table was created
/// (run only for a column the target lacks: the ALTER takes a strong lock).
std::string pg_job_add_column_sql(const JobTable& job, std::string_view column,
                                  std::string_view type);
/// A session-private staging table of the carried columns (dropped at COMMIT's end: its rows).
std::string pg_job_create_staging_sql(const JobTable& job);
std::string pg_job_staging_name(const JobTable& job);
/// COPY of the carried columns, binary, into the staging table or the target.
std::string pg_job_copy_sql(const JobTable& job, bool into_target);
/// INSERT ... SELECT (derived computed) ... ON CONFLICT (key) DO UPDATE
/// WHERE the target's cursor is older (or always, `overwrite`); returns
/// (inserted, updated).
std::string pg_job_merge_sql(const JobTable& job, bool overwrite);

// ---- Snowflake ----

std::string sf_job_create_target_sql(const JobTable& job);
/// ALTER TABLE ... ADD COLUMN IF NOT EXISTS for each carried and derived column.
std::vector<std::string> sf_job_add_columns_sql(const JobTable& job);
std::string sf_job_create_staging_sql(const JobTable& job, std::string_view staging);
/// INSERT INTO staging (columns) VALUES (?, ...): bound column by column.
std::string sf_job_insert_staging_sql(const JobTable& job, std::string_view staging);
/// MERGE from staging (JSON parsed, hex decoded, derived computed) into the
/// target by key, newer cursor wins (or always, `overwrite`).
std::string sf_job_merge_sql(const JobTable& job, std::string_view staging, bool overwrite);
/// The Snowflake binding type of a carried column's staged values.
std::string_view sf_job_binding_type(const ColumnType& type);

}  // namespace pipeline
