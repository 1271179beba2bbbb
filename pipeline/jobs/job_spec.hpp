// pipeline/jobs/job_spec.hpp: the jobs file as written (YAML): one entry per declared job, checked
// for shape and vocabulary. What the source catalog says of it is job_plan.hpp's business. Pure.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "pipeline/core/sql_identifier.hpp"

namespace pipeline {

/// One rule of a column (a failing row goes to the job's DLQ with the rule's code).
struct RuleSpec {
    std::string column;
    bool required = false;                           ///< not NULL
    std::optional<std::string> pattern;              ///< RE2, searched in the value's text
    std::optional<std::vector<std::string>> one_of;  ///< allowed values, as written
    std::optional<std::string> min;                  ///< inclusive bound, a decimal number
    std::optional<std::string> max;                  ///< inclusive bound, a decimal number
    int line = 0;                                    ///< in the jobs file, for messages
};

/// A column the warehouse computes during the MERGE from the loaded ones.
struct DerivedSpec {
    std::string name;
    std::string sql;                  ///< an SQL expression over the job's column names
    std::optional<std::string> type;  ///< a PostgreSQL type name; default: inferred on the source
    int line = 0;
};

/// One declared job.
struct JobSpec {
    std::string name;  ///< names its checkpoint, lock, DLQ files, run records, metrics
    QualifiedName source;
    std::optional<QualifiedName> target;  ///< default DEST_SCHEMA.<source table>
    std::vector<std::string> key;         ///< one or more column names
    std::string cursor;
    std::optional<std::vector<std::string>> columns;  ///< only these (default: every column)
    std::vector<std::string> exclude;
    std::vector<RuleSpec> rules;
    std::vector<DerivedSpec> derived;
    int line = 0;
};

/// One thing wrong with the jobs file: where (e.g. "jobs.customer.key", line 7) and what.
struct JobsProblem {
    std::string where;
    std::string message;
    int line = 0;  ///< 0 when not known

    std::string text() const;  ///< "line 7: jobs.customer.key: ..." for messages
};

/// Either the jobs, or every problem found (never both).
struct JobsFileResult {
    std::vector<JobSpec> jobs;  ///< in file order
    std::vector<JobsProblem> problems;
};

/// Parses a jobs file's text: a top-level `jobs:` mapping of job name to
/// entry (source, target, key, cursor, columns, exclude, rules, derived).
/// Every problem is collected: unknown keys, wrong shapes, names that are not
/// plain identifiers, rules outside the vocabulary (required, pattern,
/// one_of, min, max) or with an invalid pattern, a job named like the
/// built-in job (`reserved_name`). Pure: no I/O.
JobsFileResult parse_jobs_file(std::string_view text, std::string_view reserved_name);

/// True for a plain lower-case SQL identifier (what the catalog holds for
/// unquoted names). Pure.
bool is_plain_column_name(std::string_view name);

}  // namespace pipeline
