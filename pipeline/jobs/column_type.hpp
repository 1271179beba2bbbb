// pipeline/jobs/column_type.hpp: what a source column's catalog type becomes in each warehouse, and
// how its values travel (PostgreSQL's binary format). Pure.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <variant>

namespace pipeline {

/// A source column as the catalog describes it (source/catalog.hpp reads it).
struct CatalogColumn {
    std::string name;
    bool not_null = false;
    std::string declared_type;  ///< format_type of the column: "mood", "us_zip", "text[]"
    /// After unwrapping domains: pg_type.typname ("int4", "numeric", "_text", "mood"),
    /// format_type with the typmod ("numeric(12,2)"), typtype ('b' base, 'e' enum,
    /// 'c' composite, 'r' range, 'm' multirange, 'p' pseudo).
    std::string base_name;
    std::string base_formatted;
    char base_typtype = 'b';
    /// For an array (base_name starts with '_'): its element, after domains.
    std::string element_name;
    std::string element_formatted;
    char element_typtype = 0;
    int precision = -1;  ///< numeric(p,s): p; -1 without a typmod
    int scale = -1;
};

/// Which warehouse a job loads into, where that matters to what it accepts (values
/// Snowflake's types cannot hold, words Snowflake reserves).
enum class TargetLimits { postgres, snowflake };

/// True when `name` cannot be an unquoted column name of the source or of the
/// `target` warehouse (the tool does not quote names): PostgreSQL's reserved and
/// type/function-name keywords, and on Snowflake its reserved words. Pure.
bool is_reserved_word(std::string_view name, TargetLimits target);

/// The value kinds the tool carries; one binary decoder each.
enum class ValueKind {
    int2,
    int4,
    int8,
    numeric,
    float4,
    float8,
    text,  ///< text, varchar, char, enums (as their label)
    boolean,
    date,
    time,
    timestamp,
    timestamptz,
    uuid,
    json,
    jsonb,
    bytea,
};

std::string_view to_string(ValueKind kind);

/// A carried column's type: its values' kind (of the elements, for an array)
/// and its type in each warehouse.
struct ColumnType {
    ValueKind kind = ValueKind::text;
    bool array = false;
    std::string pg_type;  ///< the PostgreSQL target's type, and the extraction's cast
    std::string sf_type;  ///< the Snowflake target's type
    /// Snowflake staging type: what the bindings carry (VARIANT, ARRAY and
    /// BINARY travel as text and are converted by the MERGE).
    std::string sf_stage_type;
    bool cast_on_extract = false;     ///< extract as `col::pg_type` (enums, domains)
    std::optional<std::string> note;  ///< something the user should know (rounding)

    bool is_integer() const noexcept {
        return !array &&
               (kind == ValueKind::int2 || kind == ValueKind::int4 || kind == ValueKind::int8);
    }
    bool is_number() const noexcept {
        return !array && (is_integer() || kind == ValueKind::numeric || kind == ValueKind::float4 ||
                          kind == ValueKind::float8);
    }
    bool is_timestamp() const noexcept {
        return !array && (kind == ValueKind::timestamp || kind == ValueKind::timestamptz);
    }
};

/// The type a column becomes, or why the tool cannot carry it. Pure.
std::variant<ColumnType, std::string> map_column_type(const CatalogColumn& column);

/// True for char(n) (bpchar): its values arrive padded with spaces that
/// PostgreSQL does not count (comparisons, length, the cast to text). Pure.
bool is_padded_text(const ColumnType& type) noexcept;

/// True when `type` can be (part of) a key: scalars other than floats,
/// json/jsonb and bytea. Pure.
bool can_be_key(const ColumnType& type) noexcept;

}  // namespace pipeline
