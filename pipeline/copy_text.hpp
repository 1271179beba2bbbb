// pipeline/copy_text.hpp: PostgreSQL COPY text-format encoding of destination rows.
#pragma once

#include <string>
#include <string_view>

#include "pipeline/order_row.hpp"

namespace pipeline {

/// Appends `text` escaped for COPY text format: backslash, newline, carriage
/// return and tab become \\, \n, \r, \t; every other byte passes through, so
/// text arrives byte-exact.
void append_copy_escaped(std::string& out, std::string_view text);

/// Appends one row (25 columns in destination order, tab-separated, `\N` for
/// NULL, newline-terminated). Pure.
void append_copy_row(std::string& out, const OrderRow& row);

}  // namespace pipeline
