// pipeline/jobs/values.hpp: declared jobs' values in PostgreSQL's binary format (what a BINARY
// cursor hands out and a binary COPY takes), written out as each consumer needs them. Pure.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "pipeline/core/timestamp.hpp"
#include "pipeline/jobs/column_type.hpp"

namespace pipeline {

/// Each append_* writes one non-NULL value of `type` from its binary bytes and
/// returns false (having written something partial) when the bytes are not
/// a well-formed value of that type.

/// PostgreSQL's text form, as `value::text` prints it in a UTC session with
/// DateStyle ISO ("2026-03-01 10:00:00.5+00", "{1,2}", "\x0a0b", "t"): the DLQ
/// keeps rows so, and rules read them so.
bool append_pg_text(const ColumnType& type, std::string_view bytes, std::string& out);

/// A JSON value: numbers bare (NaN and infinities as strings), booleans,
/// strings (escaped), arrays as JSON arrays, json/jsonb as themselves,
/// bytea as a "\x..." string.
bool append_json_value(const ColumnType& type, std::string_view bytes, std::string& out);

/// What Snowflake reads into the column's staging type (not JSON-escaped):
/// decimal numbers, "YYYY-MM-DD HH:MM:SS.ffffff +00:00" (TIMESTAMP_TZ) or
/// without the offset (TIMESTAMP_NTZ), dates, times, "true"/"false", uuids,
/// JSON text for json/jsonb and arrays (PARSE_JSON in the MERGE), hex for
/// bytea (TO_BINARY in the MERGE).
bool append_snowflake_text(const ColumnType& type, std::string_view bytes, std::string& out);

/// False for a non-NULL value Snowflake's column type cannot hold: a date or
/// timestamp outside years 1-9999 (infinity included), 24:00:00, a numeric
/// NaN or infinity, or one with more integer digits than NUMBER(38,9) holds
/// when the column became NUMBER(38,9). Arrays, json and the rest: true. Pure.
bool snowflake_can_hold(const ColumnType& type, std::string_view bytes);

/// The value of an int2/int4/int8 column; nullopt when malformed.
std::optional<std::int64_t> binary_integer(ValueKind kind, std::string_view bytes);

/// A timestamp/timestamptz value as microseconds since 1970-01-01 UTC;
/// nullopt for malformed bytes and for ±infinity.
std::optional<Timestamp> binary_timestamp(std::string_view bytes);

/// `text` escaped for a JSON string's inside (no quotes added).
void append_json_escaped(std::string_view text, std::string& out);

}  // namespace pipeline
