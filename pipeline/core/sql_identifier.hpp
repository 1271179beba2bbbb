// pipeline/core/sql_identifier.hpp: SQL identifiers from configuration, checked on construction.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace pipeline {

/// A plain SQL identifier: a letter or underscore, then letters, digits or
/// underscores, at most 63 bytes (PostgreSQL's limit). Anything else
/// (quotes, spaces, semicolons, dots) is refused, so an identifier can be
/// spliced into SQL text without quoting and cannot inject anything.
class SqlIdentifier {
public:
    /// An empty placeholder, only for default-constructed config structs;
    /// parse_config never hands one out.
    SqlIdentifier() = default;
    /// The identifier if `text` is valid, nullopt otherwise.
    static std::optional<SqlIdentifier> parse(std::string_view text);

    const std::string& str() const noexcept { return text_; }
    bool operator==(const SqlIdentifier&) const = default;

private:
    explicit SqlIdentifier(std::string text) : text_(std::move(text)) {}
    std::string text_;
};

/// schema.table, both parts checked identifiers.
struct QualifiedName {
    SqlIdentifier schema;
    SqlIdentifier table;

    /// Parses "schema.table"; nullopt unless both parts are valid identifiers.
    static std::optional<QualifiedName> parse(std::string_view text);
    /// "schema.table", safe to splice into SQL.
    std::string str() const { return schema.str() + "." + table.str(); }
};

/// True for a pipeline (or job) name: 1-63 of [A-Za-z0-9_-]. It names files
/// and locks, never SQL. Pure.
bool valid_pipeline_name(std::string_view name);

}  // namespace pipeline
