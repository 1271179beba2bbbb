// pipeline/source/catalog.hpp: a source table's columns as the PostgreSQL catalog describes them.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "pipeline/core/sql_identifier.hpp"
#include "pipeline/jobs/column_type.hpp"
#include "pipeline/jobs/job_plan.hpp"
#include "pipeline/jobs/job_spec.hpp"
#include "pipeline/runtime/pg_connection.hpp"

namespace pipeline {

/// A source table (or view, or partitioned parent) and its columns in order.
struct CatalogTable {
    bool exists = false;
    char relkind = 0;  ///< 'r' table, 'p' partitioned, 'v' view, 'm' materialized view, 'f' foreign
    std::vector<CatalogColumn> columns;
    /// Whether an index leads with the cursor column (for doctor and jobs check).
    bool cursor_indexed = false;
};

/// A type by oid and modifier (a result column's), described like a catalog column.
CatalogColumn describe_type(PgConnection& source, unsigned oid, int typmod, std::string name);

/// A declared job's catalog: its table's columns, and the type of each
/// derived column (its declared type, or its expression's over the columns
/// the job carries, enums and domains as the target holds them).
JobCatalog read_job_catalog(PgConnection& source, const JobSpec& spec);

/// Reads `table`'s columns (domains unwrapped, arrays' elements named) and
/// whether an index starts with `cursor`. Throws Error(source) on failure.
CatalogTable read_catalog(PgConnection& source, const QualifiedName& table,
                          const std::string& cursor);

}  // namespace pipeline
