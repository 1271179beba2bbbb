// pipeline/warehouse/snowflake/snowflake_client.hpp: statements over the Snowflake SQL API v2, with
// retries and polling.
#pragma once

#include <chrono>
#include <string>
#include <string_view>

#include "pipeline/runtime/retry.hpp"
#include "pipeline/warehouse/snowflake/http_client.hpp"
#include "pipeline/warehouse/snowflake/snowflake_api.hpp"
#include "pipeline/warehouse/snowflake/snowflake_auth.hpp"

namespace pipeline {

struct SnowflakeClientOptions {
    std::string api_url;  ///< e.g. https://myorg-myaccount.snowflakecomputing.com (no path)
    std::string database;
    std::string schema;
    std::string warehouse;
    std::string role;
    std::string query_tag;
    int statement_timeout_seconds = 3600;  ///< server-side cancel; also bounds polling
    RetryPolicy retry;
    HttpClientOptions http;
};

/// Sends statements to `POST /api/v2/statements` and returns their complete
/// results.
///
/// Every statement gets a fresh requestId; when the same statement must be
/// sent again (transport error, 429, 5xx) it is resent with the same
/// requestId and `retry=true`, so Snowflake returns the earlier execution
/// instead of running it twice. 429/503/504 and transport errors back off
/// exponentially with jitter (honouring Retry-After); a 401 mints a new JWT
/// once; 202 answers are polled until done (bounded by the statement
/// timeout); partitioned results are fetched in full. Failures throw
/// Error(destination) carrying Snowflake's code, sqlState, message and the
/// statement handle, never the token.
class SnowflakeClient {
public:
    SnowflakeClient(SnowflakeClientOptions options, JwtSource jwt);

    /// Runs one statement. `label` names it in logs and errors without values
    /// (e.g. "MERGE SILVER.ORDERS"). `request`'s database, schema,
    /// warehouse, role, timeout and query tag are filled from the options.
    ResultSet execute(std::string_view label, StatementRequest request);

    int connections_opened() const noexcept { return http_.connections_opened(); }
    int requests_sent() const noexcept { return http_.requests_sent(); }
    int resubmissions() const noexcept { return resubmissions_; }
    /// Bytes of the answers received (decoded), for verify's cost line.
    std::int64_t bytes_received() const noexcept { return bytes_received_; }

private:
    struct Exchange;
    HttpResponse exchange(Exchange& exchange);
    HttpHeaders headers(bool with_body);
    ResultSet await_result(std::string_view label, const std::string& request_id,
                           StatementOutcome outcome);
    void fetch_partitions(std::string_view label, const std::string& request_id,
                          const std::string& handle, ResultSet& result);
    [[noreturn]] void fail(std::string_view label, const StatementOutcome& outcome) const;

    SnowflakeClientOptions options_;
    JwtSource jwt_;
    HttpClient http_;
    std::mt19937_64 random_;
    int resubmissions_ = 0;
    std::int64_t bytes_received_ = 0;
};

}  // namespace pipeline
