// pipeline/warehouse/snowflake/snowflake_api.hpp: Snowflake SQL API v2 request bodies and response
// parsing (pure).
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "pipeline/core/timestamp.hpp"
#include "pipeline/orders/order_row.hpp"

namespace pipeline {

/// One bind variable: a Snowflake binding type and one value per row (an
/// array binding runs the INSERT once per element). nullopt is SQL NULL.
struct SnowflakeBinding {
    std::string type;  ///< FIXED, TEXT, BOOLEAN, ...
    std::vector<std::optional<std::string>> values;
    /// Sends values[0] as a plain value instead of an array (array bindings
    /// are only documented for INSERT; other statements bind scalars).
    bool scalar = false;
};

/// A `POST /api/v2/statements` body.
struct StatementRequest {
    std::string statement;
    std::vector<SnowflakeBinding> bindings;  ///< positional: "1", "2", ...
    /// Instead of `bindings`: the "bindings" object already as JSON text
    /// (declared jobs write it straight from their binary values).
    std::string bindings_json;
    int timeout_seconds = 0;  ///< 0: the server's maximum
    std::string database;
    std::string schema;
    std::string warehouse;
    std::string role;  ///< omitted when empty
    std::string query_tag;
};

/// The JSON text of the request (bindings values are JSON strings or null;
/// parameters: QUERY_TAG and TIMEZONE=UTC). Pure.
std::string statement_request_body(const StatementRequest& request);

/// The 25 array bindings of `INSERT INTO stage (...25 columns...) VALUES (?, ...)`
/// for `rows`: integers FIXED, has_promo BOOLEAN, everything else TEXT
/// (decimals as digits, dates YYYY-MM-DD, timestamps `YYYY-MM-DD HH:MM:SS.ffffff +00:00`). Pure.
std::vector<SnowflakeBinding> order_row_bindings(std::span<const OrderRow> rows);

/// "YYYY-MM-DD HH:MM:SS.ffffff +00:00": a TEXT binding value that Snowflake
/// reads unambiguously into TIMESTAMP_TZ. Pure.
std::string snowflake_timestamp(Timestamp ts);

/// Splits `rows` into consecutive chunks whose request body (bindings
/// included) stays under `max_body_bytes`; a chunk holds at least one row. Pure.
std::vector<std::span<const OrderRow>> chunk_by_body_size(std::span<const OrderRow> rows,
                                                          std::size_t max_body_bytes);

/// A result set: column names (as sent, e.g. "number of rows inserted") and rows.
struct ResultSet {
    std::vector<std::string> columns;
    std::vector<std::vector<std::optional<std::string>>> rows;
    int partitions = 1;  ///< partitions 1.. must be fetched with GET ?partition=i
};

/// What one API answer says.
struct StatementOutcome {
    enum class Kind { done, running, failed } kind = Kind::failed;
    int http_status = 0;
    std::string statement_handle;
    std::string code;       ///< Snowflake's code, e.g. "090001", "002003"
    std::string sql_state;  ///< e.g. "42S02"
    std::string message;
    ResultSet result;  ///< for done
};

/// Parses the answer to a POST or a GET of a statement. Unparseable bodies
/// become `failed` with the HTTP status and a message saying so. Pure.
StatementOutcome parse_statement_response(int http_status, std::string_view body);

/// The rows of a `GET ...?partition=N` answer (`{"data": [...]}`); nullopt
/// when the body is not that shape. Pure.
std::optional<std::vector<std::vector<std::optional<std::string>>>> parse_partition_body(
    std::string_view body);

/// How the client reacts to an HTTP status (SQL API reference, §7 of the API notes).
enum class HttpRetry {
    none,            ///< 200, 202 handled by the caller; 4xx that cannot heal
    resubmit,        ///< may have executed: resend with the same requestId and retry=true
    throttled,       ///< 429, 503, 504: back off (honour Retry-After) and resend
    reauthenticate,  ///< 401: mint a new JWT once and resend
};
HttpRetry classify_http_status(int http_status);

/// The index of the first column named `name` (ASCII case-insensitive), if any. Pure.
std::optional<std::size_t> find_column(const ResultSet& result, std::string_view name);

/// The value of the first column named `name` in the first row as an integer
/// (MERGE answers only carry the columns of the clause kinds present). Pure.
std::optional<std::int64_t> count_column(const ResultSet& result, std::string_view name);

}  // namespace pipeline
