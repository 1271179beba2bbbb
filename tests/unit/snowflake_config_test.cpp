// tests/unit/snowflake_config_test.cpp: the snowflake:// URL and the endpoint override rules.
#include "pipeline/snowflake_config.hpp"

#include <gtest/gtest.h>

#include "pipeline/config.hpp"

namespace {

std::string joined(const std::vector<std::string>& problems) {
    std::string out;
    for (const auto& p : problems) {
        out += p + "\n";
    }
    return out;
}

TEST(SnowflakeUrlTest, ParsesEveryPartAndUpperCasesIdentifiers) {
    std::vector<std::string> problems;
    auto target = pipeline::parse_snowflake_url(
        "snowflake://pipeline_user@myorg-myaccount/analytics/silver?warehouse=load_wh&role=loader",
        problems);
    ASSERT_TRUE(target) << joined(problems);
    EXPECT_EQ(target->user, "pipeline_user");
    EXPECT_EQ(target->account, "myorg-myaccount");
    EXPECT_EQ(target->database, "ANALYTICS");
    EXPECT_EQ(target->schema, "SILVER");
    EXPECT_EQ(target->warehouse, "LOAD_WH");
    EXPECT_EQ(target->role, "LOADER");
    EXPECT_EQ(pipeline::default_snowflake_api_url(*target),
              "https://myorg-myaccount.snowflakecomputing.com");
}

TEST(SnowflakeUrlTest, NamesEveryProblemAtOnce) {
    std::vector<std::string> problems;
    EXPECT_FALSE(pipeline::parse_snowflake_url(
        "snowflake://u:hunter2@bad account!/db; drop/?role=r&colour=blue", problems));
    const std::string all = joined(problems);
    EXPECT_NE(all.find("password"), std::string::npos) << all;
    EXPECT_EQ(all.find("hunter2"), std::string::npos) << all;
    EXPECT_NE(all.find("malformed account"), std::string::npos) << all;
    EXPECT_NE(all.find("database"), std::string::npos) << all;
    EXPECT_NE(all.find("schema is missing"), std::string::npos) << all;
    EXPECT_NE(all.find("unknown parameter 'colour'"), std::string::npos) << all;
    EXPECT_NE(all.find("no ?warehouse"), std::string::npos) << all;
}

TEST(SnowflakeUrlTest, RefusesTheFullHostName) {
    std::vector<std::string> problems;
    EXPECT_FALSE(pipeline::parse_snowflake_url(
        "snowflake://u@acct.snowflakecomputing.com/DB/SCH?warehouse=WH", problems));
    EXPECT_NE(joined(problems).find("without .snowflakecomputing.com"), std::string::npos);
}

TEST(SnowflakeUrlTest, ApiUrlOverrideIsHttpsOrLoopbackHttp) {
    EXPECT_FALSE(pipeline::check_snowflake_api_url("https://proxy.internal:8443"));
    EXPECT_FALSE(pipeline::check_snowflake_api_url("http://127.0.0.1:9000"));
    EXPECT_FALSE(pipeline::check_snowflake_api_url("http://localhost:9000/"));
    EXPECT_FALSE(pipeline::check_snowflake_api_url("http://[::1]:9000"));
    EXPECT_TRUE(pipeline::check_snowflake_api_url("http://10.0.0.5:9000"));
    EXPECT_TRUE(pipeline::check_snowflake_api_url("http://localhost.evil.com"));
    EXPECT_TRUE(pipeline::check_snowflake_api_url("ftp://x"));
}

TEST(SnowflakeUrlTest, ConfigNamesSnowflakeProblemsWithTheirVariables) {
    const pipeline::EnvMap env = {
        {"ORDERS_PIPELINE_SOURCE_DB_URL", "postgresql://r@replica/shop"},
        {"ORDERS_PIPELINE_DEST_DB_URL", "snowflake://u@acct/DB/SCH?warehouse=WH"},
        {"ORDERS_PIPELINE_SNOWFLAKE_API_URL", "http://10.1.1.1"},
        {"ORDERS_PIPELINE_SNOWFLAKE_PRIVATE_KEY_PASSPHRASE", "s3cret-pass"}};
    auto result = pipeline::parse_config(env, std::nullopt);
    EXPECT_FALSE(result.config);
    const std::string all = pipeline::format_problems(result.problems);
    EXPECT_NE(all.find("ORDERS_PIPELINE_SNOWFLAKE_PRIVATE_KEY_FILE is required"), std::string::npos)
        << all;
    EXPECT_NE(all.find("ORDERS_PIPELINE_SNOWFLAKE_API_URL plain http://"), std::string::npos)
        << all;
    EXPECT_EQ(all.find("s3cret-pass"), std::string::npos);
}

}  // namespace
