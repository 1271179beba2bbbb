// pipeline/warehouse/job_compare_sql.hpp: verify's queries for a declared job's target, in both
// dialects: a row is compared by its key and cursor. Pure.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "pipeline/jobs/job_plan.hpp"
#include "pipeline/warehouse/compare_sql.hpp"

namespace pipeline {

/// A job's table as verify compares it.
struct JobCompareShape {
    QualifiedName table;
    std::vector<ComparedColumn> keys;
    std::vector<std::string> key_pg_types;  ///< for typed key parameters
    std::vector<std::string> key_sf_types;
    ComparedColumn cursor;  ///< timestamp or integer
    /// One integer key: buckets by its value; otherwise by md5 of the key's text.
    bool integer_key() const noexcept {
        return keys.size() == 1 && keys[0].kind == ColumnKind::integer;
    }
};

/// The shape of `job`'s target (or, with `source`, of its source table).
JobCompareShape job_compare_shape(const JobTable& job, bool source = false);

/// The canonical kind of a job column's values in row texts.
ColumnKind canonical_kind(const ColumnType& type);

/// Which rows: cursor <= `to` (inclusive) or in [from, to); bounds are
/// microseconds since 1970 (timestamp cursors) or values (integer cursors).
struct JobScope {
    std::optional<std::int64_t> from;
    std::int64_t to = 0;
    bool to_inclusive = true;
};

/// The key's canonical text (each key column's, '|'-joined) over `alias`
/// (default t / T).
std::string job_key_text_sql(const JobCompareShape& shape, Dialect dialect,
                             std::string_view alias = {});
/// The bucket of the row at `modulus` (256 or 65536) buckets, over `alias`.
std::string job_bucket_sql(const JobCompareShape& shape, Dialect dialect, std::int64_t modulus,
                           std::string_view alias = {});

/// (bucket, count, sum of the upper 64 md5 bits of "keytext|cursor") at
/// `modulus` buckets; with `within` > 0 only rows in those coarse buckets.
/// Parameters: the scope (1 or 2), then the coarse buckets.
std::string job_bucket_sums_sql(const JobCompareShape& shape, Dialect dialect,
                                const JobScope& scope, std::int64_t modulus, std::size_t within);
/// (key columns as text..., the key's canonical text, cursor text, md5 hex) of the rows in `scope`
/// whose leaf bucket is one of `leaves` parameters (after the scope's).
std::string job_leaf_rows_sql(const JobCompareShape& shape, Dialect dialect, const JobScope& scope,
                              std::size_t leaves);
/// The same for the rows with one of `keys` keys (parameters: each key's
/// columns in order), any cursor.
std::string job_key_rows_sql(const JobCompareShape& shape, Dialect dialect, std::size_t keys);
/// DELETE of the rows with one of `keys` keys (same parameters).
std::string job_delete_keys_sql(const JobCompareShape& shape, Dialect dialect, std::size_t keys);
/// The scope as a condition over `alias` (default t / T), its parameters numbered from 1.
std::string job_scope_sql(const JobCompareShape& shape, Dialect dialect, const JobScope& scope,
                          std::string_view alias = {});
/// The scope's parameter values, in order.
std::vector<std::optional<std::string>> job_scope_parameters(const JobCompareShape& shape,
                                                             const JobScope& scope,
                                                             Dialect dialect);

}  // namespace pipeline
