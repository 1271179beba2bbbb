// pipeline/core/sql_identifier.cpp: identifier validation.
#include "pipeline/core/sql_identifier.hpp"

#include <algorithm>

namespace pipeline {

namespace {

bool is_ident_start(char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}

bool is_ident_char(char c) {
    return is_ident_start(c) || (c >= '0' && c <= '9');
}

}  // namespace

std::optional<SqlIdentifier> SqlIdentifier::parse(std::string_view text) {
    constexpr std::size_t max_identifier_bytes = 63;
    if (text.empty() || text.size() > max_identifier_bytes || !is_ident_start(text.front())) {
        return std::nullopt;
    }
    for (char c : text) {
        if (!is_ident_char(c)) {
            return std::nullopt;
        }
    }
    return SqlIdentifier(std::string(text));
}

std::optional<QualifiedName> QualifiedName::parse(std::string_view text) {
    auto dot = text.find('.');
    if (dot == std::string_view::npos) {
        return std::nullopt;
    }
    auto schema = SqlIdentifier::parse(text.substr(0, dot));
    auto table = SqlIdentifier::parse(text.substr(dot + 1));
    if (!schema || !table) {
        return std::nullopt;
    }
    return QualifiedName{*schema, *table};
}

bool valid_pipeline_name(std::string_view name) {
    if (name.empty() || name.size() > 63) {
        return false;
    }
    return std::all_of(name.begin(), name.end(), [](char c) {
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
               c == '_' || c == '-';
    });
}

}  // namespace pipeline
