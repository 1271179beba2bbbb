// pipeline/warehouse/snowflake/http_client.hpp: one kept-alive HTTPS connection on libcurl, for the
// Snowflake SQL API.
#pragma once

#include <chrono>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace pipeline {

struct HttpClientOptions {
    std::string user_agent;                          ///< "<application>/<version>"
    std::optional<std::filesystem::path> ca_bundle;  ///< PEM file of trusted CAs (CURLOPT_CAINFO)
    std::chrono::seconds connect_timeout{15};
    std::chrono::seconds total_timeout{120};  ///< per request, connect included
};

/// An HTTP answer (any status).
struct HttpResponse {
    int status = 0;
    std::string body;                                 ///< decoded (gzip is accepted and unpacked)
    std::optional<std::chrono::seconds> retry_after;  ///< from a Retry-After header in seconds
};

/// Why no HTTP answer arrived.
struct TransportFailure {
    enum class Kind {
        not_sent,     ///< name resolution or connect failed: the server saw nothing
        maybe_sent,   ///< the request may have reached the server (reset, timeout, empty reply)
        tls_refused,  ///< certificate or TLS setup refused: retrying cannot help
    } kind = Kind::maybe_sent;
    std::string message;  ///< libcurl's explanation, naming the host but no header values
};

/// Exactly one of response / failure is set.
struct HttpResult {
    std::optional<HttpResponse> response;
    std::optional<TransportFailure> failure;
};

/// A header to send, e.g. {"Authorization", "Bearer ..."}; values are not logged.
using HttpHeaders = std::vector<std::pair<std::string, std::string>>;

/// One libcurl easy handle for the whole run, so the TLS connection is
/// reused (keep-alive). TLS peer and host verification are always on.
/// Not thread-safe; one request at a time.
class HttpClient {
public:
    explicit HttpClient(HttpClientOptions options);
    ~HttpClient();
    HttpClient(const HttpClient&) = delete;
    HttpClient& operator=(const HttpClient&) = delete;

    HttpResult post(const std::string& url, const HttpHeaders& headers, std::string_view body);
    HttpResult get(const std::string& url, const HttpHeaders& headers);

    /// Connections opened so far (1 when keep-alive held for the whole run).
    int connections_opened() const noexcept { return connections_opened_; }
    int requests_sent() const noexcept { return requests_sent_; }

private:
    HttpResult perform(const std::string& url, const HttpHeaders& headers,
                       std::optional<std::string_view> post_body);

    struct Handle;
    std::unique_ptr<Handle> handle_;
    HttpClientOptions options_;
    int connections_opened_ = 0;
    int requests_sent_ = 0;
};

/// A random (version 4) UUID in lower-case text form, for requestId.
std::string random_uuid();

}  // namespace pipeline
