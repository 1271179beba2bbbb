// pipeline/source/catalog.cpp: one catalog query per table.
#include "pipeline/source/catalog.hpp"

#include <fmt/format.h>

#include <algorithm>

#include "pipeline/core/error.hpp"
#include "pipeline/orders/validate.hpp"

namespace pipeline {

CatalogTable read_catalog(PgConnection& source, const QualifiedName& table,
                          const std::string& cursor) {
    CatalogTable out;
    const std::vector<std::optional<std::string>> name = {table.str()};
    const std::string label = fmt::format("[catalog of {}]", table.str());
    const PgResult rel = source.exec_params(
        "SELECT c.relkind::text FROM pg_class c WHERE c.oid = to_regclass($1)", name, label);
    if (rel.rows() == 0) {
        return out;
    }
    out.exists = true;
    out.relkind = rel.value(0, 0).empty() ? '?' : rel.value(0, 0)[0];
    // Domains are unwrapped (recursively) to their base type; an array's element too (one level).
    const PgResult columns = source.exec_params(
        "WITH RECURSIVE cols AS ("
        " SELECT a.attnum, a.attname::text AS name, a.attnotnull AS not_null,"
        "  format_type(a.atttypid, a.atttypmod) AS declared, a.atttypid AS typ,"
        "  a.atttypmod AS typmod, 0 AS depth"
        " FROM pg_attribute a WHERE a.attrelid = to_regclass($1) AND a.attnum > 0"
        "  AND NOT a.attisdropped"
        " UNION ALL"
        " SELECT c.attnum, c.name, c.not_null, c.declared, t.typbasetype, t.typtypmod,"
        "  c.depth + 1 FROM cols c JOIN pg_type t ON t.oid = c.typ WHERE t.typtype = 'd')"
        " SELECT DISTINCT ON (c.attnum) c.name, c.not_null::text, c.declared, t.typname::text,"
        "  format_type(c.typ, c.typmod), t.typtype::text, coalesce(eb.typname::text, ''),"
        "  coalesce(format_type(eb.oid, NULL), ''), coalesce(eb.typtype::text, ''),"
        "  CASE WHEN t.typname = 'numeric' AND c.typmod >= 4"
        "   THEN ((c.typmod - 4) >> 16) & 65535 ELSE -1 END::text,"
        "  CASE WHEN t.typname = 'numeric' AND c.typmod >= 4"
        "   THEN (c.typmod - 4) & 65535 ELSE -1 END::text"
        " FROM cols c JOIN pg_type t ON t.oid = c.typ"
        " LEFT JOIN pg_type e ON e.oid = t.typelem AND t.typcategory = 'A'"
        " LEFT JOIN pg_type eb ON eb.oid = CASE WHEN e.typtype = 'd' THEN e.typbasetype"
        "  ELSE e.oid END"
        " ORDER BY c.attnum, c.depth DESC",
        name, label);
    for (int r = 0; r < columns.rows(); ++r) {
        CatalogColumn c;
        c.name = columns.value(r, 0);
        c.not_null = columns.value(r, 1) == "true";
        c.declared_type = columns.value(r, 2);
        c.base_name = columns.value(r, 3);
        c.base_formatted = columns.value(r, 4);
        c.base_typtype = columns.value(r, 5).empty() ? 'b' : columns.value(r, 5)[0];
        c.element_name = columns.value(r, 6);
        c.element_formatted = columns.value(r, 7);
        c.element_typtype = columns.value(r, 8).empty() ? '\0' : columns.value(r, 8)[0];
        c.precision = static_cast<int>(parse_int64(columns.value(r, 9)).value_or(-1));
        c.scale = static_cast<int>(parse_int64(columns.value(r, 10)).value_or(-1));
        out.columns.push_back(std::move(c));
    }
    const std::vector<std::optional<std::string>> lookup = {table.str(), cursor};
    const PgResult indexed = source.exec_params(
        "SELECT EXISTS (SELECT 1 FROM pg_index i JOIN pg_attribute a ON a.attrelid = i.indrelid"
        " AND a.attnum = i.indkey[0] WHERE i.indrelid = to_regclass($1) AND a.attname = $2)::text",
        lookup, label);
    out.cursor_indexed = indexed.value(0, 0) == "true";
    return out;
}

CatalogColumn describe_type(PgConnection& source, unsigned oid, int typmod, std::string name) {
    const std::vector<std::optional<std::string>> params = {std::to_string(oid),
                                                            std::to_string(typmod)};
    const PgResult t = source.exec_params(
        "WITH RECURSIVE ty AS ("
        " SELECT $1::oid AS typ, $2::int AS typmod, 0 AS depth"
        " UNION ALL SELECT t.typbasetype, t.typtypmod, ty.depth + 1 FROM ty"
        "  JOIN pg_type t ON t.oid = ty.typ WHERE t.typtype = 'd')"
        " SELECT format_type($1::oid, $2::int), t.typname::text, format_type(ty.typ, ty.typmod),"
        "  t.typtype::text, coalesce(eb.typname::text, ''), coalesce(format_type(eb.oid, NULL), "
        "''),"
        "  coalesce(eb.typtype::text, ''),"
        "  CASE WHEN t.typname = 'numeric' AND ty.typmod >= 4"
        "   THEN ((ty.typmod - 4) >> 16) & 65535 ELSE -1 END::text,"
        "  CASE WHEN t.typname = 'numeric' AND ty.typmod >= 4"
        "   THEN (ty.typmod - 4) & 65535 ELSE -1 END::text"
        " FROM ty JOIN pg_type t ON t.oid = ty.typ"
        " LEFT JOIN pg_type e ON e.oid = t.typelem AND t.typcategory = 'A'"
        " LEFT JOIN pg_type eb ON eb.oid = CASE WHEN e.typtype = 'd' THEN e.typbasetype"
        "  ELSE e.oid END"
        " ORDER BY ty.depth DESC LIMIT 1",
        params, "[describe type]");
    CatalogColumn c;
    c.name = std::move(name);
    if (t.rows() == 0) {
        return c;
    }
    c.declared_type = t.value(0, 0);
    c.base_name = t.value(0, 1);
    c.base_formatted = t.value(0, 2);
    c.base_typtype = t.value(0, 3).empty() ? 'b' : t.value(0, 3)[0];
    c.element_name = t.value(0, 4);
    c.element_formatted = t.value(0, 5);
    c.element_typtype = t.value(0, 6).empty() ? '\0' : t.value(0, 6)[0];
    c.precision = static_cast<int>(parse_int64(t.value(0, 7)).value_or(-1));
    c.scale = static_cast<int>(parse_int64(t.value(0, 8)).value_or(-1));
    return c;
}

JobCatalog read_job_catalog(PgConnection& source, const JobSpec& spec) {
    JobCatalog out;
    const CatalogTable table = read_catalog(source, spec.source, spec.cursor);
    out.exists = table.exists;
    out.columns = table.columns;
    out.cursor_indexed = table.cursor_indexed;
    if (!table.exists || spec.derived.empty()) {
        return out;
    }
    // The columns a derived expression sees: the carried ones, typed as the target holds them.
    std::string carried;
    for (const CatalogColumn& c : table.columns) {
        const bool listed =
            !spec.columns ||
            std::find(spec.columns->begin(), spec.columns->end(), c.name) != spec.columns->end() ||
            c.name == spec.cursor ||
            std::find(spec.key.begin(), spec.key.end(), c.name) != spec.key.end();
        const bool excluded =
            std::find(spec.exclude.begin(), spec.exclude.end(), c.name) != spec.exclude.end();
        const auto mapped = map_column_type(c);
        if (!listed || excluded || !is_plain_column_name(c.name) ||
            !std::holds_alternative<ColumnType>(mapped)) {
            continue;
        }
        const ColumnType& type = std::get<ColumnType>(mapped);
        carried += carried.empty() ? "" : ", ";
        carried += type.cast_on_extract ? fmt::format("t.{0}::{1} AS {0}", c.name, type.pg_type)
                                        : "t." + c.name;
    }
    // One transaction, a savepoint per expression: a bad one does not spoil the others.
    source.exec("BEGIN READ ONLY", "[BEGIN derived types]");
    for (const DerivedSpec& d : spec.derived) {
        if (d.type && !is_type_name(*d.type)) {
            continue;  // plan_job names it
        }
        const std::string sql =
            d.type ? fmt::format("SELECT CAST(NULL AS {})", *d.type)
                   : fmt::format("SELECT ({}) FROM (SELECT {} FROM {} AS t) AS s LIMIT 0", d.sql,
                                 carried.empty() ? "1" : carried, spec.source.str());
        try {
            source.exec("SAVEPOINT derived_type", "[SAVEPOINT]");
            const PgResult typed = source.exec(sql, fmt::format("[type of {}]", d.name));
            source.exec("RELEASE SAVEPOINT derived_type", "[RELEASE SAVEPOINT]");
            out.derived_types.emplace(d.name, describe_type(source, typed.column_type(0),
                                                            typed.column_typmod(0), d.name));
        } catch (const Error& e) {
            if (!source.ok()) {
                throw;
            }
            source.exec("ROLLBACK TO SAVEPOINT derived_type", "[ROLLBACK TO SAVEPOINT]");
            out.derived_errors.emplace(d.name, e.what());
        }
    }
    source.exec("ROLLBACK", "[ROLLBACK derived types]");
    return out;
}

}  // namespace pipeline
