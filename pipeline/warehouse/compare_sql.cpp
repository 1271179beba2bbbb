// pipeline/warehouse/compare_sql.cpp: canonical row texts and checksum queries in both dialects.
#include "pipeline/warehouse/compare_sql.hpp"

#include <fmt/format.h>

#include "pipeline/core/unicode.hpp"
#include "pipeline/warehouse/snowflake/snowflake_api.hpp"

namespace pipeline {

namespace {

std::string name_in(Dialect dialect, std::string_view name) {
    return dialect == Dialect::snowflake ? ascii_upper(name) : std::string(name);
}

std::string table_of(const TableShape& shape, Dialect dialect) {
    return fmt::format("{}.{}", name_in(dialect, shape.schema.str()),
                       name_in(dialect, shape.table.str()));
}

// One column's canonical text (never NULL: SQL NULL is 'N').
std::string encode(const ComparedColumn& column, Dialect dialect, std::string_view alias = {}) {
    const std::string c = (alias.empty() ? std::string(dialect == Dialect::snowflake ? "T" : "t")
                                         : std::string(alias)) +
                          "." + name_in(dialect, column.name);
    if (dialect == Dialect::postgres) {
        switch (column.kind) {
            case ColumnKind::integer:
            case ColumnKind::decimal:
            case ColumnKind::boolean:
            case ColumnKind::plain:
                return fmt::format("coalesce({}::text, 'N')", c);
            case ColumnKind::text:
            case ColumnKind::padded:  // length(char(n)) and its text cast drop the padding
                return fmt::format("coalesce(length({0})::text || ':' || {0}, 'N')", c);
            case ColumnKind::date:
                return fmt::format("coalesce(to_char({}, 'YYYY-MM-DD'), 'N')", c);
            case ColumnKind::timestamp:
                return fmt::format(
                    "coalesce(((extract(epoch FROM {}) * 1000000)::bigint)::text, 'N')", c);
        }
    }
    switch (column.kind) {
        case ColumnKind::integer:
        case ColumnKind::decimal:
        case ColumnKind::boolean:
        case ColumnKind::plain:
            return fmt::format("COALESCE(CAST({} AS VARCHAR), 'N')", c);
        case ColumnKind::text:
            return fmt::format("COALESCE(CAST(LENGTH({0}) AS VARCHAR) || ':' || {0}, 'N')", c);
        case ColumnKind::padded:  // VARCHAR(n) keeps the padding char(n) arrived with
            return fmt::format(
                "COALESCE(CAST(LENGTH(RTRIM({0})) AS VARCHAR) || ':' || RTRIM({0}), 'N')", c);
        case ColumnKind::date:
            return fmt::format("COALESCE(TO_CHAR({}, 'YYYY-MM-DD'), 'N')", c);
        case ColumnKind::timestamp:
            return fmt::format("COALESCE(CAST(DATE_PART(EPOCH_MICROSECOND, {}) AS VARCHAR), 'N')",
                               c);
    }
    return c;
}

std::string key_text(const TableShape& shape, Dialect dialect) {
    return encode(shape.key, dialect);
}

std::string cursor_text(const TableShape& shape, Dialect dialect) {
    return encode({shape.cursor, ColumnKind::timestamp}, dialect);
}

std::string row_text(const TableShape& shape, Dialect dialect, bool deep) {
    std::string text = key_text(shape, dialect) + " || '|' || " + cursor_text(shape, dialect);
    if (deep) {
        for (const ComparedColumn& column : shape.deep) {
            text += " || '|' || " + encode(column, dialect);
        }
    }
    return text;
}

// The scope as a WHERE clause on the table aliased t; parameters numbered from 1.
std::string scope_sql(const TableShape& shape, Dialect dialect, const CompareScope& scope) {
    const std::string cursor =
        (dialect == Dialect::snowflake ? "T." : "t.") + name_in(dialect, shape.cursor);
    const auto param = [&](int n) {
        return dialect == Dialect::postgres ? fmt::format("${}::timestamptz", n)
                                            : std::string("CAST(? AS TIMESTAMP_TZ(6))");
    };
    const std::string_view upper = scope.to_inclusive ? "<=" : "<";
    if (scope.from) {
        return fmt::format("{0} >= {1} AND {0} {2} {3}", cursor, param(1), upper, param(2));
    }
    return fmt::format("{} {} {}", cursor, upper, param(1));
}

int scope_parameter_count(const CompareScope& scope) {
    return scope.from ? 2 : 1;
}

// "= ANY($n::type[])" (PostgreSQL) or "IN (?, ?, ...)" (Snowflake).
std::string one_of(Dialect dialect, int param, std::string_view pg_type, std::size_t count) {
    if (dialect == Dialect::postgres) {
        return fmt::format("= ANY(${}::{}[])", param, pg_type);
    }
    std::string list;
    for (std::size_t i = 0; i < count; ++i) {
        list += i == 0 ? "?" : ", ?";
    }
    return fmt::format("IN ({})", list);
}

// The rows of the scope as (k: the key, c: the cursor's microseconds, txt: the row text,
// b: the key's bucket at `modulus`), aliased r; `and_where` narrows the scope.
std::string rows_subquery(const TableShape& shape, Dialect dialect, const CompareScope& scope,
                          bool deep, std::int64_t modulus, std::string_view and_where = {}) {
    const std::string_view t = dialect == Dialect::snowflake ? "T" : "t";
    return fmt::format(
        fmt::runtime(
            dialect == Dialect::postgres
                ? "(SELECT {}.{} AS k, {} AS c, {} AS txt, {} AS b FROM {} t WHERE {}{}) r"
                : "(SELECT {}.{} AS K, {} AS C, {} AS TXT, {} AS B FROM {} T WHERE {}{}) R"),
        t, name_in(dialect, shape.key.name), cursor_text(shape, dialect),
        row_text(shape, dialect, deep), bucket_sql(shape.key.name, dialect, t, modulus),
        table_of(shape, dialect), scope_sql(shape, dialect, scope), and_where);
}

}  // namespace

std::string bucket_sql(std::string_view key, Dialect dialect, std::string_view alias,
                       std::int64_t modulus) {
    // MOD keeps the dividend's sign in both dialects: shift negative keys up.
    return fmt::format(
        fmt::runtime(dialect == Dialect::postgres ? "mod(mod({0}.{1}, {2}) + {2}, {2})"
                                                  : "MOD(MOD({0}.{1}, {2}) + {2}, {2})"),
        alias, name_in(dialect, key), modulus);
}

std::int64_t bucket_of(std::int64_t key, std::int64_t modulus) noexcept {
    return ((key % modulus) + modulus) % modulus;
}

std::string bucket_sums_sql(const TableShape& shape, Dialect dialect, const CompareScope& scope,
                            bool deep, std::int64_t modulus, std::size_t within) {
    const int next = scope_parameter_count(scope) + 1;
    const std::string_view t = dialect == Dialect::snowflake ? "T" : "t";
    const std::string rows = rows_subquery(
        shape, dialect, scope, deep, modulus,
        within == 0
            ? std::string()
            : fmt::format(" AND {} {}", bucket_sql(shape.key.name, dialect, t, coarse_buckets),
                          one_of(dialect, next, "bigint", within)));
    if (dialect == Dialect::postgres) {
        return fmt::format(
            "SELECT r.b, count(*), sum(('x' || md5(r.txt))::bit(64)::bigint) FROM {} GROUP BY 1",
            rows);
    }
    return fmt::format("SELECT R.B, COUNT(*), SUM(MD5_NUMBER_UPPER64(R.TXT)) FROM {} GROUP BY 1",
                       rows);
}

std::string leaf_digests_sql(const TableShape& shape, Dialect dialect, const CompareScope& scope,
                             bool deep, std::size_t leaves) {
    const int next = scope_parameter_count(scope) + 1;
    if (dialect == Dialect::postgres) {
        return fmt::format("SELECT r.k, r.c, md5(r.txt) FROM {} WHERE r.b {}",
                           rows_subquery(shape, dialect, scope, deep, leaf_buckets),
                           one_of(dialect, next, "bigint", leaves));
    }
    return fmt::format("SELECT R.K, R.C, MD5(R.TXT) FROM {} WHERE R.B {}",
                       rows_subquery(shape, dialect, scope, deep, leaf_buckets),
                       one_of(dialect, next, "bigint", leaves));
}

std::string key_digests_sql(const TableShape& shape, Dialect dialect, bool deep, std::size_t keys) {
    const std::string alias = dialect == Dialect::snowflake ? "T" : "t";
    return fmt::format("SELECT {}, {}, {} FROM {} {} WHERE {}.{} {}", key_text(shape, dialect),
                       cursor_text(shape, dialect),
                       dialect == Dialect::snowflake
                           ? "MD5(" + row_text(shape, dialect, deep) + ")"
                           : "md5(" + row_text(shape, dialect, deep) + ")",
                       table_of(shape, dialect), alias, alias, name_in(dialect, shape.key.name),
                       one_of(dialect, 1, "bigint", keys));
}

std::string delete_keys_sql(const TableShape& shape, Dialect dialect, std::size_t keys) {
    return fmt::format("DELETE FROM {} WHERE {} {}", table_of(shape, dialect),
                       name_in(dialect, shape.key.name), one_of(dialect, 1, "bigint", keys));
}

std::string canonical_sql(const ComparedColumn& column, Dialect dialect, std::string_view alias) {
    return encode(column, dialect, alias);
}

std::string column_sql(std::string_view name, Dialect dialect) {
    return (dialect == Dialect::snowflake ? "T." : "t.") + name_in(dialect, name);
}

std::uint64_t sum_modulo_2_64(std::string_view decimal) noexcept {
    std::uint64_t value = 0;
    bool negative = false;
    for (const char c : decimal) {
        if (c == '-') {
            negative = true;
        } else if (c >= '0' && c <= '9') {
            value = value * 10 + static_cast<std::uint64_t>(c - '0');  // wraps: modulo 2^64
        } else if (c == '.') {
            break;  // a SUM of integers may print ".0" in some dialects
        }
    }
    return negative ? ~value + 1 : value;
}

std::vector<std::string> scope_parameters(const CompareScope& scope, Dialect dialect) {
    const auto text = [&](Timestamp ts) {
        return dialect == Dialect::snowflake ? snowflake_timestamp(ts) : format_timestamp(ts);
    };
    std::vector<std::string> out;
    if (scope.from) {
        out.push_back(text(*scope.from));
    }
    out.push_back(text(scope.to));
    return out;
}

}  // namespace pipeline
