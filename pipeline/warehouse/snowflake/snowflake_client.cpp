// pipeline/warehouse/snowflake/snowflake_client.cpp: the request loop: resubmission, backoff,
// re-authentication, polling.
#include "pipeline/warehouse/snowflake/snowflake_client.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <random>
#include <thread>

#include "pipeline/core/error.hpp"
#include "pipeline/runtime/logging.hpp"

namespace pipeline {

namespace {

using SteadyClock = std::chrono::steady_clock;

// The longest Retry-After honoured; a longer one is treated as this.
constexpr std::chrono::seconds max_retry_after{60};

// 202 polling: 50 ms doubling to 1 s.
constexpr std::chrono::milliseconds first_poll_delay{50};
constexpr std::chrono::milliseconds max_poll_delay{1000};

// Polling may outlast the statement timeout by this much (queueing, clocks).
constexpr std::chrono::seconds poll_grace{60};

std::string shorten(std::string_view text) {
    constexpr std::size_t limit = 300;
    return std::string(text.size() > limit ? text.substr(0, limit) : text);
}

}  // namespace

/// One logical request (a statement POST, a status poll or a partition
/// GET) with the state of its attempts.
struct SnowflakeClient::Exchange {
    std::string_view label;
    std::string request_id;
    std::string path_and_query;       ///< first attempt
    std::string resend_query;         ///< appended on later attempts ("&retry=true" for POSTs)
    std::optional<std::string> body;  ///< set: POST
    int attempts = 0;
    bool reauthenticated = false;
};

SnowflakeClient::SnowflakeClient(SnowflakeClientOptions options, JwtSource jwt)
    : options_(std::move(options)),
      jwt_(std::move(jwt)),
      http_(options_.http),
      random_(std::random_device{}()) {}

HttpHeaders SnowflakeClient::headers(bool with_body) {
    HttpHeaders list;
    list.emplace_back("Authorization",
                      "Bearer " + jwt_.token(now_utc().micros / micros_per_second).reveal());
    list.emplace_back("X-Snowflake-Authorization-Token-Type", "KEYPAIR_JWT");
    list.emplace_back("Accept", "application/json");
    if (with_body) {
        list.emplace_back("Content-Type", "application/json");
        list.emplace_back("Expect", "");  // no 100-continue round trip before large bodies
    }
    return list;
}

HttpResponse SnowflakeClient::exchange(Exchange& ex) {
    for (;;) {
        const bool resend = ex.attempts > 0;
        ++ex.attempts;
        if (resend && ex.body) {
            ++resubmissions_;
        }
        const std::string url =
            options_.api_url + ex.path_and_query + (resend ? ex.resend_query : std::string());
        HttpResult result =
            ex.body ? http_.post(url, headers(true), *ex.body) : http_.get(url, headers(false));
        std::string why;
        std::optional<std::chrono::seconds> retry_after;
        if (result.failure) {
            if (result.failure->kind == TransportFailure::Kind::tls_refused) {
                throw Error(ErrorKind::destination,
                            fmt::format("TLS connection to {} refused: {}", options_.api_url,
                                        result.failure->message),
                            {}, std::string(ex.label),
                            "the server's certificate is not trusted or does not match its "
                            "host name; for a proxy or a private CA set "
                            "ORDERS_PIPELINE_SNOWFLAKE_CA_BUNDLE to its PEM bundle");
            }
            why = result.failure->message;
        } else {
            HttpResponse& response = *result.response;
            switch (classify_http_status(response.status)) {
                case HttpRetry::none:
                    bytes_received_ += static_cast<std::int64_t>(response.body.size());
                    return std::move(response);
                case HttpRetry::reauthenticate:
                    if (ex.reauthenticated) {
                        const StatementOutcome outcome =
                            parse_statement_response(response.status, response.body);
                        throw Error(
                            ErrorKind::destination,
                            fmt::format("Snowflake refused the key-pair JWT for {} (HTTP {}, "
                                        "code {}: {})",
                                        jwt_.identity(), response.status,
                                        outcome.code.empty() ? "-" : outcome.code,
                                        shorten(outcome.message)),
                            {}, std::string(ex.label),
                            "check that the key registered with ALTER USER <user> SET "
                            "RSA_PUBLIC_KEY (DESCRIBE USER shows RSA_PUBLIC_KEY_FP) has this "
                            "fingerprint, that ORDERS_PIPELINE_SNOWFLAKE_PRIVATE_KEY_FILE is its "
                            "private key, and that the URL names the account as "
                            "<orgname>-<accountname> and the right user");
                    }
                    ex.reauthenticated = true;
                    jwt_.invalidate();
                    log_warning("Snowflake answered 401; retrying once with a new JWT",
                                {{"event", "snowflake_reauthenticate"},
                                 {"statement", ex.label},
                                 {"request_id", ex.request_id}});
                    continue;  // the request was not executed: no delay needed
                case HttpRetry::throttled:
                case HttpRetry::resubmit:
                    why = fmt::format("HTTP {}", response.status);
                    retry_after = response.retry_after;
                    break;
            }
        }
        if (ex.attempts >= options_.retry.max_attempts) {
            throw Error(ErrorKind::destination,
                        fmt::format("Snowflake SQL API request failed after {} attempts: {}",
                                    ex.attempts, why),
                        {}, std::string(ex.label),
                        "Snowflake or the network is unavailable; the run can be retried, "
                        "resent statements carried the same requestId so none ran twice");
        }
        std::chrono::milliseconds delay = backoff_delay(options_.retry, ex.attempts, random_());
        if (retry_after) {
            delay =
                std::max<std::chrono::milliseconds>(delay, std::min(*retry_after, max_retry_after));
        }
        log_warning("Snowflake request will be resent", {{"event", "retry"},
                                                         {"operation", ex.label},
                                                         {"attempt", ex.attempts},
                                                         {"delay_ms", delay.count()},
                                                         {"request_id", ex.request_id},
                                                         {"resubmit", ex.body.has_value()},
                                                         {"error", why}});
        std::this_thread::sleep_for(delay);
    }
}

ResultSet SnowflakeClient::execute(std::string_view label, StatementRequest request) {
    request.database = options_.database;
    request.schema = options_.schema;
    request.warehouse = options_.warehouse;
    request.role = options_.role;
    request.timeout_seconds = options_.statement_timeout_seconds;
    request.query_tag = options_.query_tag;

    Exchange ex;
    ex.label = label;
    ex.request_id = random_uuid();
    ex.path_and_query = "/api/v2/statements?requestId=" + ex.request_id;
    ex.resend_query = "&retry=true";
    ex.body = statement_request_body(request);
    const auto started = SteadyClock::now();
    HttpResponse response = exchange(ex);
    ResultSet result = await_result(label, ex.request_id,
                                    parse_statement_response(response.status, response.body));
    log_debug("Snowflake statement done", {{"event", "snowflake_statement"},
                                           {"statement", label},
                                           {"request_id", ex.request_id},
                                           {"attempts", ex.attempts},
                                           {"rows", result.rows.size()},
                                           {"seconds", seconds_since(started)}});
    return result;
}

ResultSet SnowflakeClient::await_result(std::string_view label, const std::string& request_id,
                                        StatementOutcome outcome) {
    const auto deadline =
        SteadyClock::now() + std::chrono::seconds(options_.statement_timeout_seconds) + poll_grace;
    std::chrono::milliseconds delay = first_poll_delay;
    while (outcome.kind == StatementOutcome::Kind::running) {
        if (outcome.statement_handle.empty()) {
            outcome.kind = StatementOutcome::Kind::failed;
            outcome.message = "a 202 answer without a statement handle";
            break;
        }
        if (SteadyClock::now() > deadline) {
            throw Error(
                ErrorKind::destination,
                fmt::format("statement {} still running after the {} s statement "
                            "timeout; statement handle {}",
                            label, options_.statement_timeout_seconds, outcome.statement_handle),
                {}, std::string(label));
        }
        std::this_thread::sleep_for(delay);
        delay = std::min(delay * 2, max_poll_delay);
        Exchange poll;
        poll.label = label;
        poll.request_id = request_id;
        poll.path_and_query =
            "/api/v2/statements/" + outcome.statement_handle + "?requestId=" + request_id;
        const std::string handle = outcome.statement_handle;
        HttpResponse response = exchange(poll);  // 429 (queued) is waited out in exchange()
        outcome = parse_statement_response(response.status, response.body);
        if (outcome.statement_handle.empty()) {
            outcome.statement_handle = handle;
        }
    }
    if (outcome.kind != StatementOutcome::Kind::done) {
        fail(label, outcome);
    }
    if (outcome.result.partitions > 1) {
        fetch_partitions(label, request_id, outcome.statement_handle, outcome.result);
    }
    return std::move(outcome.result);
}

void SnowflakeClient::fetch_partitions(std::string_view label, const std::string& request_id,
                                       const std::string& handle, ResultSet& result) {
    for (int partition = 1; partition < result.partitions; ++partition) {
        Exchange get;
        get.label = label;
        get.request_id = request_id;
        get.path_and_query = fmt::format("/api/v2/statements/{}?requestId={}&partition={}", handle,
                                         request_id, partition);
        HttpResponse response = exchange(get);
        auto rows = response.status == 200 ? parse_partition_body(response.body) : std::nullopt;
        if (!rows) {
            StatementOutcome outcome = parse_statement_response(response.status, response.body);
            outcome.kind = StatementOutcome::Kind::failed;
            if (outcome.statement_handle.empty()) {
                outcome.statement_handle = handle;
            }
            if (outcome.message.empty()) {
                outcome.message = fmt::format("partition {} could not be read", partition);
            }
            fail(label, outcome);
        }
        for (auto& row : *rows) {
            result.rows.push_back(std::move(row));
        }
    }
}

void SnowflakeClient::fail(std::string_view label, const StatementOutcome& outcome) const {
    throw Error(
        ErrorKind::destination,
        fmt::format("Snowflake statement {} failed: HTTP {}, code {}, sqlState {}: {} "
                    "(statement handle {})",
                    label, outcome.http_status, outcome.code.empty() ? "-" : outcome.code,
                    outcome.sql_state.empty() ? "-" : outcome.sql_state, shorten(outcome.message),
                    outcome.statement_handle.empty() ? "-" : outcome.statement_handle),
        outcome.sql_state, std::string(label));
}

}  // namespace pipeline
