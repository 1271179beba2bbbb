// pipeline/warehouse/job_compare_sql.cpp: checksum queries over a declared job's key and cursor.
#include "pipeline/warehouse/job_compare_sql.hpp"

#include <fmt/format.h>

#include "pipeline/core/unicode.hpp"
#include "pipeline/warehouse/snowflake/snowflake_api.hpp"

namespace pipeline {

namespace {

std::string alias_of(Dialect dialect, std::string_view alias) {
    return alias.empty() ? (dialect == Dialect::snowflake ? "T" : "t") : std::string(alias);
}

std::string name_of(Dialect dialect, std::string_view alias, std::string_view column) {
    return alias_of(dialect, alias) + "." +
           (dialect == Dialect::snowflake ? ascii_upper(column) : std::string(column));
}

std::string table_of(const JobCompareShape& shape, Dialect dialect) {
    return dialect == Dialect::snowflake ? ascii_upper(shape.table.str()) : shape.table.str();
}

std::string cursor_cast(const JobCompareShape& shape, Dialect dialect, int param) {
    const bool integer = shape.cursor.kind == ColumnKind::integer;
    if (dialect == Dialect::postgres) {
        return fmt::format("${}::{}", param, integer ? "bigint" : "timestamptz");
    }
    return integer ? "CAST(? AS NUMBER(38,0))" : "CAST(? AS TIMESTAMP_TZ(6))";
}

// "keytext || '|' || cursortext": what each row's md5 is taken of.
std::string row_text_sql(const JobCompareShape& shape, Dialect dialect) {
    return job_key_text_sql(shape, dialect) + " || '|' || " + canonical_sql(shape.cursor, dialect);
}

// "(k1, k2) IN ((...), ...)" with typed parameters numbered from `first`.
std::string keys_in(const JobCompareShape& shape, Dialect dialect, std::size_t keys, int first) {
    std::string columns;
    for (std::size_t k = 0; k < shape.keys.size(); ++k) {
        columns += (k == 0 ? "" : ", ") + name_of(dialect, {}, shape.keys[k].name);
    }
    std::string tuples;
    int param = first;
    for (std::size_t i = 0; i < keys; ++i) {
        tuples += i == 0 ? "(" : ", (";
        for (std::size_t k = 0; k < shape.keys.size(); ++k) {
            tuples += k == 0 ? "" : ", ";
            tuples += dialect == Dialect::postgres
                          ? fmt::format("${}::{}", param++, shape.key_pg_types[k])
                          : fmt::format("CAST(? AS {})", shape.key_sf_types[k]);
        }
        tuples += ")";
    }
    return fmt::format("({}) IN ({})", columns, tuples);
}

}  // namespace

ColumnKind canonical_kind(const ColumnType& type) {
    switch (type.kind) {
        case ValueKind::int2:
        case ValueKind::int4:
        case ValueKind::int8:
            return ColumnKind::integer;
        case ValueKind::numeric:
            return ColumnKind::decimal;
        case ValueKind::boolean:
            return ColumnKind::boolean;
        case ValueKind::date:
            return ColumnKind::date;
        case ValueKind::timestamp:
        case ValueKind::timestamptz:
            return ColumnKind::timestamp;
        case ValueKind::uuid:
        case ValueKind::time:
            return ColumnKind::plain;
        default:
            return is_padded_text(type) ? ColumnKind::padded : ColumnKind::text;
    }
}

JobCompareShape job_compare_shape(const JobTable& job, bool source) {
    JobCompareShape shape;
    shape.table = source ? job.source : job.target;
    for (const std::size_t k : job.key) {
        const JobColumn& c = job.columns[k];
        shape.keys.push_back({c.name, canonical_kind(c.type)});
        shape.key_pg_types.push_back(c.type.pg_type);
        shape.key_sf_types.push_back(c.type.sf_type);
    }
    shape.cursor = {job.cursor_column().name, job.cursor_kind == CursorKind::integer
                                                  ? ColumnKind::integer
                                                  : ColumnKind::timestamp};
    return shape;
}

std::string job_key_text_sql(const JobCompareShape& shape, Dialect dialect,
                             std::string_view alias) {
    std::string out;
    for (std::size_t k = 0; k < shape.keys.size(); ++k) {
        out += (k == 0 ? "" : " || '|' || ") + canonical_sql(shape.keys[k], dialect, alias);
    }
    return out;
}

std::string job_bucket_sql(const JobCompareShape& shape, Dialect dialect, std::int64_t modulus,
                           std::string_view alias) {
    if (shape.integer_key()) {
        return bucket_sql(shape.keys[0].name, dialect, alias_of(dialect, alias), modulus);
    }
    // The key text's md5: its first two bytes as a number 0..65535, then the level's modulus.
    const std::string key = job_key_text_sql(shape, dialect, alias);
    return dialect == Dialect::postgres
               ? fmt::format("mod(('x' || substr(md5({}), 1, 4))::bit(16)::int, {})", key, modulus)
               : fmt::format("MOD(TO_NUMBER(SUBSTR(MD5({}), 1, 4), 'XXXX'), {})", key, modulus);
}

std::string job_scope_sql(const JobCompareShape& shape, Dialect dialect, const JobScope& scope,
                          std::string_view alias) {
    const std::string cursor = name_of(dialect, alias, shape.cursor.name);
    const std::string_view upper = scope.to_inclusive ? "<=" : "<";
    if (scope.from) {
        return fmt::format("{0} >= {1} AND {0} {2} {3}", cursor, cursor_cast(shape, dialect, 1),
                           upper, cursor_cast(shape, dialect, 2));
    }
    return fmt::format("{} {} {}", cursor, upper, cursor_cast(shape, dialect, 1));
}

std::vector<std::optional<std::string>> job_scope_parameters(const JobCompareShape& shape,
                                                             const JobScope& scope,
                                                             Dialect dialect) {
    const auto text = [&](std::int64_t value) {
        if (shape.cursor.kind == ColumnKind::integer) {
            return std::to_string(value);
        }
        return dialect == Dialect::snowflake ? snowflake_timestamp(Timestamp{value})
                                             : format_timestamp(Timestamp{value});
    };
    std::vector<std::optional<std::string>> out;
    if (scope.from) {
        out.emplace_back(text(*scope.from));
    }
    out.emplace_back(text(scope.to));
    return out;
}

std::string job_bucket_sums_sql(const JobCompareShape& shape, Dialect dialect,
                                const JobScope& scope, std::int64_t modulus, std::size_t within) {
    const int next = scope.from ? 3 : 2;
    std::string where = job_scope_sql(shape, dialect, scope);
    if (within > 0) {
        std::string list;
        for (std::size_t i = 0; i < within; ++i) {
            list +=
                (i == 0 ? "" : ", ") + (dialect == Dialect::postgres
                                            ? fmt::format("${}::bigint", next + static_cast<int>(i))
                                            : std::string("CAST(? AS NUMBER(38,0))"));
        }
        where +=
            fmt::format(" AND {} IN ({})", job_bucket_sql(shape, dialect, coarse_buckets), list);
    }
    if (dialect == Dialect::postgres) {
        return fmt::format(
            "SELECT r.b, count(*), sum(('x' || md5(r.txt))::bit(64)::bigint) FROM (SELECT {} AS b, "
            "{} AS txt FROM {} t WHERE {}) r GROUP BY 1",
            job_bucket_sql(shape, dialect, modulus), row_text_sql(shape, dialect),
            table_of(shape, dialect), where);
    }
    return fmt::format(
        "SELECT R.B, COUNT(*), SUM(MD5_NUMBER_UPPER64(R.TXT)) FROM (SELECT {} AS B, {} AS TXT "
        "FROM {} T WHERE {}) R GROUP BY 1",
        job_bucket_sql(shape, dialect, modulus), row_text_sql(shape, dialect),
        table_of(shape, dialect), where);
}

namespace {

// (key columns' text..., the key's canonical text, cursor text, md5 of the row text).
std::string digest_columns(const JobCompareShape& shape, Dialect dialect) {
    std::string out;
    for (const ComparedColumn& k : shape.keys) {
        out += dialect == Dialect::postgres
                   ? fmt::format("{}::text, ", name_of(dialect, {}, k.name))
                   : fmt::format("CAST({} AS VARCHAR), ", name_of(dialect, {}, k.name));
    }
    out += job_key_text_sql(shape, dialect) + ", ";
    out += canonical_sql(shape.cursor, dialect) + ", ";
    out += (dialect == Dialect::postgres ? "md5(" : "MD5(") + row_text_sql(shape, dialect) + ")";
    return out;
}

}  // namespace

std::string job_leaf_rows_sql(const JobCompareShape& shape, Dialect dialect, const JobScope& scope,
                              std::size_t leaves) {
    const int next = scope.from ? 3 : 2;
    std::string list;
    for (std::size_t i = 0; i < leaves; ++i) {
        list += (i == 0 ? "" : ", ") + (dialect == Dialect::postgres
                                            ? fmt::format("${}::bigint", next + static_cast<int>(i))
                                            : std::string("CAST(? AS NUMBER(38,0))"));
    }
    return fmt::format("SELECT {} FROM {} {} WHERE {} AND {} IN ({})",
                       digest_columns(shape, dialect), table_of(shape, dialect),
                       alias_of(dialect, {}), job_scope_sql(shape, dialect, scope),
                       job_bucket_sql(shape, dialect, leaf_buckets), list);
}

std::string job_key_rows_sql(const JobCompareShape& shape, Dialect dialect, std::size_t keys) {
    return fmt::format("SELECT {} FROM {} {} WHERE {}", digest_columns(shape, dialect),
                       table_of(shape, dialect), alias_of(dialect, {}),
                       keys_in(shape, dialect, keys, 1));
}

std::string job_delete_keys_sql(const JobCompareShape& shape, Dialect dialect, std::size_t keys) {
    return fmt::format("DELETE FROM {} {} WHERE {}", table_of(shape, dialect),
                       alias_of(dialect, {}), keys_in(shape, dialect, keys, 1));
}

}  // namespace pipeline
