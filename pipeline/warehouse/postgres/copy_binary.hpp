// pipeline/warehouse/postgres/copy_binary.hpp: PostgreSQL COPY binary-format encoding of
// destination rows.
#pragma once

#include <string>

#include "pipeline/orders/order_row.hpp"

namespace pipeline {

/// The 19-byte header that opens a binary COPY stream (signature, flags, no extension).
void append_copy_binary_header(std::string& out);

/// Appends one row: 25 fields in destination order, each a big-endian length
/// (-1 for NULL) and the type's binary send form: int8, text, numeric, date
/// (days since 2000-01-01), int2, bool, timestamptz (microseconds since
/// 2000-01-01 UTC). The target's columns must have exactly the types of
/// pg_create_target_sql (binary COPY does not convert). Pure.
void append_copy_binary_row(std::string& out, const OrderRow& row);

/// The two-byte trailer that closes a binary COPY stream.
void append_copy_binary_trailer(std::string& out);

/// Appends the binary numeric form of `units` / 10^`scale` (scale 1..4):
/// digit count, weight, sign, display scale, base-10000 digits. Pure.
void append_numeric_binary(std::string& out, std::int64_t units, int scale);

}  // namespace pipeline
