// pipeline/warehouse/snowflake/snowflake_config.cpp: snowflake:// URL parsing.
#include "pipeline/warehouse/snowflake/snowflake_config.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>

#include "pipeline/core/sql_identifier.hpp"
#include "pipeline/core/unicode.hpp"

namespace pipeline {

namespace {

constexpr std::string_view scheme = "snowflake://";

bool account_char(char c) {
    return std::isalnum(static_cast<unsigned char>(c)) != 0 || c == '-' || c == '_' || c == '.';
}

// A plain identifier, reported under `what` when it is not one.
std::string identifier(std::string_view text, std::string_view what,
                       std::vector<std::string>& problems) {
    if (text.empty()) {
        problems.push_back(fmt::format("the {} is missing", what));
        return {};
    }
    if (!SqlIdentifier::parse(text)) {
        problems.push_back(fmt::format(
            "the {} '{}' is not a plain identifier (letters, digits, '_', not starting with a "
            "digit)",
            what, text));
        return {};
    }
    return ascii_upper(text);
}

}  // namespace

std::optional<SnowflakeTarget> parse_snowflake_url(std::string_view url,
                                                   std::vector<std::string>& problems) {
    const std::size_t before = problems.size();
    if (ascii_lower(url.substr(0, std::min(url.size(), scheme.size()))) != scheme) {
        problems.emplace_back("must start with snowflake://");
        return std::nullopt;
    }
    std::string_view rest = url.substr(scheme.size());
    std::string_view query;
    if (const auto q = rest.find('?'); q != std::string_view::npos) {
        query = rest.substr(q + 1);
        rest = rest.substr(0, q);
    }
    SnowflakeTarget target;
    const auto at = rest.find('@');
    if (at == std::string_view::npos) {
        problems.emplace_back(
            "has no USER@ before the account (snowflake://USER@ACCOUNT/DB/SCHEMA)");
        return std::nullopt;
    }
    const std::string_view user = rest.substr(0, at);
    if (user.find(':') != std::string_view::npos) {
        problems.emplace_back(
            "carries a password; Snowflake destinations authenticate with a key pair only "
            "(ORDERS_PIPELINE_SNOWFLAKE_PRIVATE_KEY_FILE)");
    } else if (user.empty()) {
        problems.emplace_back("has an empty user");
    } else {
        target.user = std::string(user);
    }
    rest = rest.substr(at + 1);
    const auto slash = rest.find('/');
    const std::string_view account = rest.substr(0, slash);
    if (account.empty() || !std::all_of(account.begin(), account.end(), account_char) ||
        account.front() == '.' || account.back() == '.' ||
        account.find("snowflakecomputing") != std::string_view::npos) {
        problems.push_back(fmt::format(
            "has a malformed account '{}' (expected the account identifier, e.g. "
            "myorg-myaccount or xy12345.us-east-2.aws, without .snowflakecomputing.com)",
            account));
    } else {
        target.account = std::string(account);
    }
    std::string_view path =
        slash == std::string_view::npos ? std::string_view{} : rest.substr(slash + 1);
    const auto path_slash = path.find('/');
    target.database = identifier(path.substr(0, path_slash), "database", problems);
    target.schema = identifier(
        path_slash == std::string_view::npos ? std::string_view{} : path.substr(path_slash + 1),
        "schema", problems);

    bool warehouse_given = false;
    while (!query.empty()) {
        const auto amp = query.find('&');
        const std::string_view pair = query.substr(0, amp);
        query = amp == std::string_view::npos ? std::string_view{} : query.substr(amp + 1);
        const auto eq = pair.find('=');
        const std::string_view key = pair.substr(0, eq);
        const std::string_view value =
            eq == std::string_view::npos ? std::string_view{} : pair.substr(eq + 1);
        if (key == "warehouse") {
            warehouse_given = true;
            target.warehouse = identifier(value, "warehouse", problems);
        } else if (key == "role") {
            target.role = identifier(value, "role", problems);
        } else {
            problems.push_back(
                fmt::format("has an unknown parameter '{}' (known: warehouse, role)", key));
        }
    }
    if (!warehouse_given) {
        problems.emplace_back("has no ?warehouse=WH (the warehouse the loads run on)");
    }
    if (problems.size() != before) {
        return std::nullopt;
    }
    return target;
}

std::string default_snowflake_api_url(const SnowflakeTarget& target) {
    return fmt::format("https://{}.snowflakecomputing.com", ascii_lower(target.account));
}

std::optional<std::string> check_snowflake_api_url(std::string_view url) {
    if (url.starts_with("https://") && url.size() > 8) {
        return std::nullopt;
    }
    if (url.starts_with("http://")) {
        std::string_view host = url.substr(7);
        host = host.substr(0, host.find('/'));
        if (host.starts_with("[::1]")) {
            return std::nullopt;
        }
        host = host.substr(0, host.find(':'));
        if (host == "127.0.0.1" || host == "localhost") {
            return std::nullopt;
        }
        return "plain http:// is accepted only for a loopback host (127.0.0.1, ::1, "
               "localhost); use https://";
    }
    return "must start with https://";
}

}  // namespace pipeline
