// pipeline/warehouse/snowflake/http_client.cpp: libcurl easy interface, one handle reused for every
// request.
#include "pipeline/warehouse/snowflake/http_client.hpp"

#include <curl/curl.h>
#include <fmt/format.h>
#include <openssl/rand.h>

#include <algorithm>
#include <array>
#include <charconv>
#include <cstring>
#include <mutex>

#include "pipeline/core/error.hpp"
#include "pipeline/core/unicode.hpp"

namespace pipeline {

namespace {

void global_init_once() {
    static std::once_flag once;
    std::call_once(once, [] {
        if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
            throw Error(ErrorKind::internal, "libcurl could not be initialised");
        }
    });
}

struct SlistDeleter {
    void operator()(curl_slist* list) const noexcept { curl_slist_free_all(list); }
};
using Slist = std::unique_ptr<curl_slist, SlistDeleter>;

std::size_t on_body(char* data, std::size_t size, std::size_t count, void* user) {
    static_cast<std::string*>(user)->append(data, size * count);
    return size * count;
}

// Picks "Retry-After: <seconds>" out of the response headers.
std::size_t on_header(char* data, std::size_t size, std::size_t count, void* user) {
    std::string_view line(data, size * count);
    while (!line.empty() && (line.back() == '\n' || line.back() == '\r')) {
        line.remove_suffix(1);
    }
    constexpr std::string_view name = "retry-after:";
    if (line.size() > name.size() && ascii_lower(line.substr(0, name.size())) == name) {
        std::string_view value = trim_ascii(line.substr(name.size()));
        long long seconds = 0;
        const auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), seconds);
        if (ec == std::errc() && end == value.data() + value.size() && seconds >= 0) {
            *static_cast<std::optional<std::chrono::seconds>*>(user) =
                std::chrono::seconds(seconds);
        }
    }
    return size * count;
}

// The POST body is handed to libcurl through a read callback whose seek
// callback refuses to rewind. libcurl silently resends a request once when a
// kept-alive connection turns out dead before any answer byte arrived; for
// a statement that may already have run, that resend would carry no
// retry=true and could execute it twice. Refusing the rewind turns it into
// CURLE_SEND_FAIL_REWIND, and SnowflakeClient resends with retry=true itself.
struct BodyReader {
    std::string_view body;
    std::size_t offset = 0;
};

std::size_t on_read(char* buffer, std::size_t size, std::size_t count, void* user) {
    auto* reader = static_cast<BodyReader*>(user);
    const std::size_t n = std::min(size * count, reader->body.size() - reader->offset);
    std::memcpy(buffer, reader->body.data() + reader->offset, n);
    reader->offset += n;
    return n;
}

int refuse_seek(void* /*user*/, curl_off_t /*offset*/, int /*origin*/) {
    return CURL_SEEKFUNC_FAIL;
}

TransportFailure::Kind failure_kind(CURLcode code) {
    switch (code) {
        case CURLE_COULDNT_RESOLVE_HOST:
        case CURLE_COULDNT_RESOLVE_PROXY:
        case CURLE_COULDNT_CONNECT:
            return TransportFailure::Kind::not_sent;
        case CURLE_PEER_FAILED_VERIFICATION:
        case CURLE_SSL_CACERT_BADFILE:
        case CURLE_SSL_CERTPROBLEM:
        case CURLE_SSL_CIPHER:
        case CURLE_SSL_ENGINE_NOTFOUND:
        case CURLE_SSL_ISSUER_ERROR:
        case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
        case CURLE_UNSUPPORTED_PROTOCOL:
            return TransportFailure::Kind::tls_refused;
        default:
            return TransportFailure::Kind::maybe_sent;
    }
}

}  // namespace

struct HttpClient::Handle {
    CURL* curl = nullptr;
    ~Handle() {
        if (curl != nullptr) {
            curl_easy_cleanup(curl);
        }
    }
};

HttpClient::HttpClient(HttpClientOptions options)
    : handle_(std::make_unique<Handle>()), options_(std::move(options)) {
    global_init_once();
    handle_->curl = curl_easy_init();
    if (handle_->curl == nullptr) {
        throw Error(ErrorKind::internal, "libcurl could not create a handle");
    }
}

HttpClient::~HttpClient() = default;

HttpResult HttpClient::post(const std::string& url, const HttpHeaders& headers,
                            std::string_view body) {
    return perform(url, headers, body);
}

HttpResult HttpClient::get(const std::string& url, const HttpHeaders& headers) {
    return perform(url, headers, std::nullopt);
}

HttpResult HttpClient::perform(const std::string& url, const HttpHeaders& headers,
                               std::optional<std::string_view> post_body) {
    CURL* curl = handle_->curl;
    // Options set on every request: curl_easy_reset would drop the connection cache.
    Slist header_list;
    for (const auto& [name, value] : headers) {
        const std::string line = value.empty() ? name + ":" : name + ": " + value;
        curl_slist* next = curl_slist_append(header_list.get(), line.c_str());
        if (next == nullptr) {
            throw Error(ErrorKind::internal, "out of memory building HTTP headers");
        }
        (void)header_list.release();
        header_list.reset(next);
    }
    std::array<char, CURL_ERROR_SIZE> error_buffer{};
    HttpResponse response;
    curl_easy_setopt(curl, CURLOPT_URL, url.c_str());
    curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "https,http");
    curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(curl, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(curl, CURLOPT_SSL_VERIFYPEER, 1L);
    curl_easy_setopt(curl, CURLOPT_SSL_VERIFYHOST, 2L);
    if (options_.ca_bundle) {
        curl_easy_setopt(curl, CURLOPT_CAINFO, options_.ca_bundle->c_str());
    }
    curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT_MS,
                     static_cast<long>(options_.connect_timeout.count() * 1000));
    curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS,
                     static_cast<long>(options_.total_timeout.count() * 1000));
    curl_easy_setopt(curl, CURLOPT_TCP_KEEPALIVE, 1L);
    curl_easy_setopt(curl, CURLOPT_USERAGENT, options_.user_agent.c_str());
    curl_easy_setopt(curl, CURLOPT_ACCEPT_ENCODING, "");  // advertise and decode gzip
    curl_easy_setopt(curl, CURLOPT_HTTPHEADER, header_list.get());
    curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, error_buffer.data());
    curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, &on_body);
    curl_easy_setopt(curl, CURLOPT_WRITEDATA, &response.body);
    curl_easy_setopt(curl, CURLOPT_HEADERFUNCTION, &on_header);
    curl_easy_setopt(curl, CURLOPT_HEADERDATA, &response.retry_after);
    BodyReader reader{post_body.value_or(std::string_view()), 0};
    if (post_body) {
        curl_easy_setopt(curl, CURLOPT_POST, 1L);
        curl_easy_setopt(curl, CURLOPT_POSTFIELDS, nullptr);
        curl_easy_setopt(curl, CURLOPT_READFUNCTION, &on_read);
        curl_easy_setopt(curl, CURLOPT_READDATA, &reader);
        curl_easy_setopt(curl, CURLOPT_SEEKFUNCTION, &refuse_seek);
        curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE_LARGE,
                         static_cast<curl_off_t>(post_body->size()));
    } else {
        curl_easy_setopt(curl, CURLOPT_HTTPGET, 1L);
    }

    ++requests_sent_;
    const CURLcode code = curl_easy_perform(curl);
    long new_connections = 0;
    curl_easy_getinfo(curl, CURLINFO_NUM_CONNECTS, &new_connections);
    connections_opened_ += static_cast<int>(new_connections);
    curl_easy_setopt(curl, CURLOPT_HTTPHEADER, nullptr);
    curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, nullptr);
    curl_easy_setopt(curl, CURLOPT_READDATA, nullptr);

    HttpResult result;
    if (code != CURLE_OK) {
        const std::string detail =
            error_buffer[0] != '\0' ? std::string(error_buffer.data()) : curl_easy_strerror(code);
        result.failure = TransportFailure{failure_kind(code), detail};
        return result;
    }
    long status = 0;
    curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
    response.status = static_cast<int>(status);
    result.response = std::move(response);
    return result;
}

std::string random_uuid() {
    std::array<unsigned char, 16> bytes{};
    if (RAND_bytes(bytes.data(), static_cast<int>(bytes.size())) != 1) {
        throw Error(ErrorKind::internal, "the system random generator failed");
    }
    bytes[6] = static_cast<unsigned char>((bytes[6] & 0x0f) | 0x40);  // version 4
    bytes[8] = static_cast<unsigned char>((bytes[8] & 0x3f) | 0x80);  // RFC 4122 variant
    std::string text;
    text.reserve(36);
    for (std::size_t i = 0; i < bytes.size(); ++i) {
        if (i == 4 || i == 6 || i == 8 || i == 10) {
            text += '-';
        }
        text += fmt::format("{:02x}", bytes[i]);
    }
    return text;
}

}  // namespace pipeline
