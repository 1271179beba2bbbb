// pipeline/warehouse/postgres/copy_text.hpp: PostgreSQL COPY text-format encoding of destination
// rows.
#pragma once

#include <array>
#include <optional>
#include <string>
#include <string_view>

#include "pipeline/orders/order_row.hpp"

namespace pipeline {

/// Appends `text` escaped for COPY text format: backslash, newline, carriage
/// return and tab become \\, \n, \r, \t; every other byte passes through, so
/// text arrives byte-exact.
void append_copy_escaped(std::string& out, std::string_view text);

/// Appends one row (25 columns in destination order, tab-separated, `\N` for
/// NULL, newline-terminated). Pure.
void append_copy_row(std::string& out, const OrderRow& row);

/// The 25 destination values of a row as text, in destination order (NULL
/// as nullopt): integers and decimals as digits, dates `YYYY-MM-DD`,
/// timestamps `YYYY-MM-DD HH:MM:SS.ffffff+00`, has_promo `true`/`false`.
/// For loaders that bind values instead of streaming COPY text. Pure.
using DestinationTexts = std::array<std::optional<std::string>, destination_column_names.size()>;
DestinationTexts destination_value_texts(const OrderRow& row);

}  // namespace pipeline
