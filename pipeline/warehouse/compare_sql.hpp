// pipeline/warehouse/compare_sql.hpp: the SQL with which a warehouse checksums its own rows for
// `verify`, in both dialects from one description, so that PostgreSQL, Snowflake and the tool
// compute byte-identical row texts. Pure.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "pipeline/core/sql_identifier.hpp"
#include "pipeline/core/timestamp.hpp"

namespace pipeline {

enum class Dialect { postgres, snowflake };

/// How a compared column is written into the canonical row text.
enum class ColumnKind {
    integer,    ///< decimal digits
    decimal,    ///< the column's own scale kept: "12.50"
    text,       ///< "<length in characters>:<text>"
    boolean,    ///< "true" / "false"
    date,       ///< "YYYY-MM-DD"
    timestamp,  ///< microseconds since 1970-01-01 UTC, decimal
    plain,      ///< its text as it is (uuids, times)
    padded,     ///< char(n): like text, trailing spaces not counted (PostgreSQL's rule)
};

struct ComparedColumn {
    std::string name;  ///< as in the PostgreSQL DDL (lower case); Snowflake upper-cases it
    ColumnKind kind = ColumnKind::text;
};

/// What verify compares in one destination table: rows by `key` (one integer
/// column), whether they are as new as the source's (`cursor`, a timestamp),
/// and with --deep every other loaded column.
struct TableShape {
    SqlIdentifier schema;
    SqlIdentifier table;
    ComparedColumn key;
    std::string cursor;
    std::vector<ComparedColumn> deep;
};

/// Which rows are compared: cursor in [from, to] (`to_inclusive`) or [from, to).
struct CompareScope {
    std::optional<Timestamp> from;
    Timestamp to;
    bool to_inclusive = true;
};

/// The canonical row text, field by field joined by '|': the key, the
/// cursor's microseconds, then (deep) every other compared column; SQL NULL is
/// "N" (no encoding above can be "N"). A row's hash is md5 of this text.
///
/// Rows are grouped into buckets by key: at a level with `modulus` buckets, a
/// key's bucket is the key modulo `modulus`, made non-negative. verify has two
/// levels; a leaf bucket b lies in coarse bucket b mod coarse_buckets.
inline constexpr std::int64_t coarse_buckets = 256;
inline constexpr std::int64_t leaf_buckets = 65'536;

/// The bucket of a key at `modulus` buckets, as the SQL below computes it. Pure.
std::int64_t bucket_of(std::int64_t key, std::int64_t modulus) noexcept;

/// The SQL expression of the bucket of `alias`.`key` (an integer column) at `modulus` buckets.
std::string bucket_sql(std::string_view key, Dialect dialect, std::string_view alias,
                       std::int64_t modulus);

/// A SELECT of (bucket, count, sum) over the rows in `scope`, `modulus`
/// buckets; sum = the sum of the upper 64 bits of md5(row text) as signed
/// (PostgreSQL) or unsigned (Snowflake) integers: both are equal modulo 2^64.
/// With `within` > 0, only rows in one of that many coarse buckets.
/// Parameters: the scope's bounds (timestamps as text), then the coarse
/// buckets (PostgreSQL: one bigint[]; Snowflake: one each).
std::string bucket_sums_sql(const TableShape& shape, Dialect dialect, const CompareScope& scope,
                            bool deep, std::int64_t modulus, std::size_t within);

/// A SELECT of (key, cursor microseconds, md5 hex of the row text) of the rows
/// in `scope` whose leaf bucket is one of `leaves` parameters.
std::string leaf_digests_sql(const TableShape& shape, Dialect dialect, const CompareScope& scope,
                             bool deep, std::size_t leaves);

/// The same SELECT for the rows with one of `keys` keys (any cursor value).
/// Parameters: PostgreSQL one bigint[]; Snowflake one per key.
std::string key_digests_sql(const TableShape& shape, Dialect dialect, bool deep, std::size_t keys);

/// DELETE of the rows with one of `keys` keys (same parameters as key_digests_sql).
std::string delete_keys_sql(const TableShape& shape, Dialect dialect, std::size_t keys);

/// The canonical text of `column` of the table aliased `alias` (default t in
/// PostgreSQL, T in Snowflake), as the row texts use it (never NULL: 'N'). Pure.
std::string canonical_sql(const ComparedColumn& column, Dialect dialect,
                          std::string_view alias = {});

/// "t.name" / "T.NAME". Pure.
std::string column_sql(std::string_view name, Dialect dialect);

/// A decimal integer of any length (a SUM), modulo 2^64; negative values wrap. Pure.
std::uint64_t sum_modulo_2_64(std::string_view decimal) noexcept;

/// The parameter values of `scope`'s bounds, in bucket_sums_sql's order
/// (Snowflake: "YYYY-MM-DD HH:MM:SS.ffffff +00:00", PostgreSQL: ISO-8601).
std::vector<std::string> scope_parameters(const CompareScope& scope, Dialect dialect);

}  // namespace pipeline
