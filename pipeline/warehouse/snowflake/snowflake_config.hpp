// pipeline/warehouse/snowflake/snowflake_config.hpp: the snowflake:// destination URL and the API
// endpoint rules.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace pipeline {

/// What `snowflake://USER@ACCOUNT/DATABASE/SCHEMA?warehouse=WH&role=ROLE` names.
/// Database, schema, warehouse and role are upper-cased (Snowflake's
/// canonical spelling of unquoted identifiers, which the SQL API's request
/// fields must match).
struct SnowflakeTarget {
    std::string user;
    std::string account;  ///< as written, e.g. "myorg-myaccount" or "xy12345.us-east-2.aws"
    std::string database;
    std::string schema;
    std::string warehouse;
    std::string role;  ///< empty: the user's default role
};

/// Parses the URL; nullopt with one message per problem (never echoing a
/// password). Pure.
std::optional<SnowflakeTarget> parse_snowflake_url(std::string_view url,
                                                   std::vector<std::string>& problems);

/// "https://<account>.snowflakecomputing.com", the default API endpoint.
std::string default_snowflake_api_url(const SnowflakeTarget& target);

/// Checks an API endpoint override: https://, or http:// only for a loopback
/// host (127.0.0.1, ::1, localhost). Returns the problem, or nullopt. Pure.
std::optional<std::string> check_snowflake_api_url(std::string_view url);

}  // namespace pipeline
