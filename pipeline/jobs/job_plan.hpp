// pipeline/jobs/job_plan.hpp: a declared job resolved against the source catalog: the columns it
// carries with their types, its key and cursor, checked rules and derived columns. Pure.
#pragma once

#include <cstddef>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "pipeline/core/sql_identifier.hpp"
#include "pipeline/jobs/column_type.hpp"
#include "pipeline/jobs/job_spec.hpp"

namespace pipeline {

/// What the cursor column is: timestamps (windows by the source's clock) or an
/// integer that only grows (append-only tables: windows by value).
enum class CursorKind { timestamptz, timestamp, integer };
std::string_view to_string(CursorKind kind);

struct JobColumn {
    std::string name;
    ColumnType type;
    bool not_null = false;  ///< NOT NULL at the source
};

struct JobDerived {
    std::string name;
    std::string sql;
    ColumnType type;
};

/// The tool's own column in a declared job's target: when the row was loaded.
inline constexpr std::string_view loaded_at_column = "_loaded_at";

/// A declared job, ready to run.
struct JobTable {
    std::string name;
    QualifiedName source;
    QualifiedName target;
    std::vector<JobColumn> columns;  ///< carried, in the source's order
    std::vector<std::size_t> key;    ///< indexes into columns
    std::size_t cursor = 0;          ///< index into columns
    CursorKind cursor_kind = CursorKind::timestamptz;
    std::vector<RuleSpec> rules;  ///< each names a carried column
    std::vector<JobDerived> derived;
    std::vector<std::string> ignored;  ///< source columns not carried (not declared, or excluded)
    /// Of those, the ones that appeared at the source after the target was
    /// made (not declared: ignored, and logged once).
    std::vector<std::string> new_ignored;
    std::vector<std::string> notes;  ///< for `jobs check` (type rounding, a cursor without index)

    const JobColumn& cursor_column() const { return columns[cursor]; }
    /// Index of a carried column by name, or nullopt.
    std::optional<std::size_t> column_index(std::string_view column) const;
};

/// Either the job, or every problem found.
struct JobPlanResult {
    std::optional<JobTable> table;
    std::vector<JobsProblem> problems;
};

/// The source catalog's answer for one job: its columns, and for each derived
/// column the type of its expression (or why the source could not type it).
struct JobCatalog {
    bool exists = false;
    std::vector<CatalogColumn> columns;
    bool cursor_indexed = false;
    std::map<std::string, CatalogColumn, std::less<>> derived_types;
    std::map<std::string, std::string, std::less<>> derived_errors;
    /// The columns (name, PostgreSQL type) the target was made with, as
    /// remembered by the first run (state/job_columns.hpp); nullopt before it.
    std::optional<std::vector<std::pair<std::string, std::string>>> recorded;
    /// The key the target was made with (its primary key on PostgreSQL, the MERGE's ON on
    /// Snowflake), as remembered; nullopt before the first load or in older files.
    std::optional<std::vector<std::string>> recorded_key;
};

/// Resolves `spec` against its catalog. `default_schema` is DEST_SCHEMA (the
/// target's schema when the job names none). Problems name the job, the
/// setting and the column: a missing table or column, a type the tool cannot
/// carry (suggesting exclude), a key or cursor of an unsuitable type, a rule
/// that does not fit its column's type, a derived column named like a
/// carried one; and schema drift against `catalog.recorded`: a column the
/// target was made with that is gone, no longer carried, or of another type
/// now. A source column that is new since then is carried only when the job
/// lists it under `columns:` (the target gets it); otherwise it is ignored
/// (new_ignored). A carried column named like a reserved word
/// (is_reserved_word) is a problem too; a nullable cursor is a note (its NULL
/// rows are never in a window). Pure.
JobPlanResult plan_job(const JobSpec& spec, const JobCatalog& catalog,
                       const SqlIdentifier& default_schema, TargetLimits target);

/// The column list of the SELECT that extracts `job` (alias s; enums and
/// domains cast to what the target holds). Pure.
std::string job_select_list(const JobTable& job);

/// True when `type` (a derived column's declared type) is plain enough to
/// splice into SQL: letters, digits, spaces, '_', ',', '(', ')', '[', ']'. Pure.
bool is_type_name(std::string_view type);

}  // namespace pipeline
