// pipeline/jobs/column_type.cpp: the type mapping table (README "Jobs").
#include "pipeline/jobs/column_type.hpp"

#include <fmt/format.h>

#include <algorithm>

namespace pipeline {

namespace {

struct Scalar {
    ValueKind kind;
    std::string pg_type;
    std::string sf_type;
    std::optional<std::string> note;
};

// A scalar type by typname (after domains); nullopt when not carried.
std::optional<Scalar> scalar_of(std::string_view name, std::string_view formatted, char typtype,
                                int precision, int scale) {
    const std::string f(formatted);
    if (typtype == 'e') {
        return Scalar{ValueKind::text, "text", "VARCHAR", std::nullopt};
    }
    if (typtype != 'b') {
        return std::nullopt;
    }
    if (name == "int2") {
        return Scalar{ValueKind::int2, "smallint", "NUMBER(5,0)", std::nullopt};
    }
    if (name == "int4") {
        return Scalar{ValueKind::int4, "integer", "NUMBER(10,0)", std::nullopt};
    }
    if (name == "int8") {
        return Scalar{ValueKind::int8, "bigint", "NUMBER(19,0)", std::nullopt};
    }
    if (name == "numeric") {
        if (precision < 0) {
            return Scalar{ValueKind::numeric, "numeric", "NUMBER(38,9)",
                          "numeric without a precision becomes NUMBER(38,9) on Snowflake: "
                          "digits past the ninth decimal are rounded there"};
        }
        if (precision > 38) {
            return Scalar{ValueKind::numeric, f, "NUMBER(38,9)",
                          fmt::format("{} holds more digits than Snowflake's NUMBER(38): it "
                                      "becomes NUMBER(38,9) there",
                                      f)};
        }
        return Scalar{ValueKind::numeric, f, fmt::format("NUMBER({},{})", precision, scale),
                      std::nullopt};
    }
    if (name == "float4") {
        return Scalar{ValueKind::float4, "real", "FLOAT", std::nullopt};
    }
    if (name == "float8") {
        return Scalar{ValueKind::float8, "double precision", "FLOAT", std::nullopt};
    }
    if (name == "text" || name == "name") {
        return Scalar{ValueKind::text, "text", "VARCHAR", std::nullopt};
    }
    if (name == "varchar" || name == "bpchar") {
        // "character varying(40)" / "character(3)" -> VARCHAR(40) / VARCHAR(3)
        const auto open = f.find('(');
        return Scalar{ValueKind::text, f,
                      open == std::string::npos ? "VARCHAR" : "VARCHAR" + f.substr(open),
                      std::nullopt};
    }
    if (name == "bool") {
        return Scalar{ValueKind::boolean, "boolean", "BOOLEAN", std::nullopt};
    }
    if (name == "date") {
        return Scalar{ValueKind::date, "date", "DATE", std::nullopt};
    }
    if (name == "time") {
        return Scalar{ValueKind::time, f, "TIME(6)", std::nullopt};
    }
    if (name == "timestamp") {
        return Scalar{ValueKind::timestamp, f, "TIMESTAMP_NTZ(6)", std::nullopt};
    }
    if (name == "timestamptz") {
        return Scalar{ValueKind::timestamptz, f, "TIMESTAMP_TZ(6)", std::nullopt};
    }
    if (name == "uuid") {
        return Scalar{ValueKind::uuid, "uuid", "VARCHAR(36)", std::nullopt};
    }
    if (name == "json") {
        return Scalar{ValueKind::json, "json", "VARIANT", std::nullopt};
    }
    if (name == "jsonb") {
        return Scalar{ValueKind::jsonb, "jsonb", "VARIANT", std::nullopt};
    }
    if (name == "bytea") {
        return Scalar{ValueKind::bytea, "bytea", "BINARY", std::nullopt};
    }
    return std::nullopt;
}

// PostgreSQL 15: pg_get_keywords() of categories R (reserved) and T (type or function name).
constexpr std::string_view postgres_reserved[] = {"all",
                                                  "analyse",
                                                  "analyze",
                                                  "and",
                                                  "any",
                                                  "array",
                                                  "as",
                                                  "asc",
                                                  "asymmetric",
                                                  "authorization",
                                                  "binary",
                                                  "both",
                                                  "case",
                                                  "cast",
                                                  "check",
                                                  "collate",
                                                  "collation",
                                                  "column",
                                                  "concurrently",
                                                  "constraint",
                                                  "create",
                                                  "cross",
                                                  "current_catalog",
                                                  "current_date",
                                                  "current_role",
                                                  "current_schema",
                                                  "current_time",
                                                  "current_timestamp",
                                                  "current_user",
                                                  "default",
                                                  "deferrable",
                                                  "desc",
                                                  "distinct",
                                                  "do",
                                                  "else",
                                                  "end",
                                                  "except",
                                                  "false",
                                                  "fetch",
                                                  "for",
                                                  "foreign",
                                                  "freeze",
                                                  "from",
                                                  "full",
                                                  "grant",
                                                  "group",
                                                  "having",
                                                  "ilike",
                                                  "in",
                                                  "initially",
                                                  "inner",
                                                  "intersect",
                                                  "into",
                                                  "is",
                                                  "isnull",
                                                  "join",
                                                  "lateral",
                                                  "leading",
                                                  "left",
                                                  "like",
                                                  "limit",
                                                  "localtime",
                                                  "localtimestamp",
                                                  "natural",
                                                  "not",
                                                  "notnull",
                                                  "null",
                                                  "offset",
                                                  "on",
                                                  "only",
                                                  "or",
                                                  "order",
                                                  "outer",
                                                  "overlaps",
                                                  "placing",
                                                  "primary",
                                                  "references",
                                                  "returning",
                                                  "right",
                                                  "select",
                                                  "session_user",
                                                  "similar",
                                                  "some",
                                                  "symmetric",
                                                  "table",
                                                  "tablesample",
                                                  "then",
                                                  "to",
                                                  "trailing",
                                                  "true",
                                                  "union",
                                                  "unique",
                                                  "user",
                                                  "using",
                                                  "variadic",
                                                  "verbose",
                                                  "when",
                                                  "where",
                                                  "window",
                                                  "with"};

// Snowflake's reserved keywords that limit a column name (its "Reserved & limited keywords"
// page), beyond PostgreSQL's list; the SHOW-only ones (account, database, schema...) are not.
constexpr std::string_view snowflake_reserved[] = {
    "alter",  "between",   "by",        "connect", "current", "delete",  "drop",
    "exists", "following", "increment", "insert",  "minus",   "of",      "qualify",
    "regexp", "revoke",    "rlike",     "row",     "rows",    "sample",  "set",
    "start",  "trigger",   "try_cast",  "update",  "values",  "whenever"};

}  // namespace

bool is_reserved_word(std::string_view name, TargetLimits target) {
    const auto in = [&](const auto& words) {
        return std::find(std::begin(words), std::end(words), name) != std::end(words);
    };
    return in(postgres_reserved) || (target == TargetLimits::snowflake && in(snowflake_reserved));
}

std::string_view to_string(ValueKind kind) {
    switch (kind) {
        case ValueKind::int2:
            return "smallint";
        case ValueKind::int4:
            return "integer";
        case ValueKind::int8:
            return "bigint";
        case ValueKind::numeric:
            return "numeric";
        case ValueKind::float4:
            return "real";
        case ValueKind::float8:
            return "double precision";
        case ValueKind::text:
            return "text";
        case ValueKind::boolean:
            return "boolean";
        case ValueKind::date:
            return "date";
        case ValueKind::time:
            return "time";
        case ValueKind::timestamp:
            return "timestamp";
        case ValueKind::timestamptz:
            return "timestamptz";
        case ValueKind::uuid:
            return "uuid";
        case ValueKind::json:
            return "json";
        case ValueKind::jsonb:
            return "jsonb";
        case ValueKind::bytea:
            return "bytea";
    }
    return "?";
}

std::variant<ColumnType, std::string> map_column_type(const CatalogColumn& column) {
    const auto refuse = [&](std::string_view what) {
        return fmt::format(
            "column '{}' has type {}{}, which the tool cannot carry; leave it out with "
            "exclude: [{}] (or cast it in a view and load the view)",
            column.name, column.declared_type, what, column.name);
    };
    ColumnType out;
    const bool array =
        column.base_name.size() > 1 && column.base_name[0] == '_' && !column.element_name.empty();
    if (array) {
        const auto element = scalar_of(column.element_name, column.element_formatted,
                                       column.element_typtype, -1, -1);
        if (!element || element->kind == ValueKind::json || element->kind == ValueKind::jsonb ||
            element->kind == ValueKind::bytea || element->kind == ValueKind::time) {
            return refuse(" (an array of an element type it cannot carry)");
        }
        out.kind = element->kind;
        out.array = true;
        // Element typmods (varchar(20)[]) are not kept: the target holds the plain element type.
        out.pg_type = (element->kind == ValueKind::text      ? std::string("text")
                       : element->kind == ValueKind::numeric ? std::string("numeric")
                                                             : element->pg_type) +
                      "[]";
        out.sf_type = "ARRAY";
        out.sf_stage_type = "VARCHAR";
    } else {
        const auto scalar = scalar_of(column.base_name, column.base_formatted, column.base_typtype,
                                      column.precision, column.scale);
        if (!scalar) {
            return refuse("");
        }
        out.kind = scalar->kind;
        out.pg_type = scalar->pg_type;
        out.sf_type = scalar->sf_type;
        out.note = scalar->note;
        out.sf_stage_type =
            out.sf_type == "VARIANT" || out.sf_type == "BINARY" ? "VARCHAR" : out.sf_type;
    }
    // Enums, domains and arrays of either are extracted as what the target holds, so that
    // their binary values are the target type's (an enum's label is text's bytes).
    out.cast_on_extract = column.declared_type != out.pg_type;
    return out;
}

bool is_padded_text(const ColumnType& type) noexcept {
    return type.kind == ValueKind::text && !type.array &&
           (type.pg_type == "bpchar" || type.pg_type == "character" ||
            type.pg_type.rfind("character(", 0) == 0);
}

bool can_be_key(const ColumnType& type) noexcept {
    if (type.array) {
        return false;
    }
    switch (type.kind) {
        case ValueKind::float4:
        case ValueKind::float8:
        case ValueKind::json:
        case ValueKind::jsonb:
        case ValueKind::bytea:
            return false;
        default:
            return true;
    }
}

}  // namespace pipeline
