// tests/unit/snowflake_config_test.cpp: the snowflake:// URL and the endpoint override rules.
#include "pipeline/warehouse/snowflake/snowflake_config.hpp"

#include <gtest/gtest.h>

#include "pipeline/config/config.hpp"

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

pipeline::EnvMap snowflake_env(const std::string& key_file) {
    return {{"ORDERS_PIPELINE_SOURCE_DB_URL", "postgresql://r@replica/shop"},
            {"ORDERS_PIPELINE_DEST_DB_URL",
             "snowflake://pipeline_user@myorg-acct/analytics/silver?warehouse=load_wh"},
            {"ORDERS_PIPELINE_SNOWFLAKE_PRIVATE_KEY_FILE", key_file}};
}

std::string data(const char* name) {
    return std::string(ORDERS_PIPELINE_UNIT_DATA_DIR) + "/" + name;
}

TEST(SnowflakeUrlTest, ValidSnowflakeConfigLoadsItsKeyAndDefaults) {
    auto result = pipeline::parse_config(snowflake_env(data("test_rsa_key.p8")), std::nullopt);
    ASSERT_TRUE(result.config) << pipeline::format_problems(result.problems);
    EXPECT_EQ(result.config->destination.kind, pipeline::DestinationKind::snowflake);
    const auto& sf = *result.config->destination.snowflake;
    EXPECT_EQ(sf.api_url, "https://myorg-acct.snowflakecomputing.com");
    EXPECT_TRUE(sf.suspend_warehouse);
    EXPECT_EQ(sf.max_request_bytes, 4 * 1024 * 1024);
    EXPECT_EQ(sf.statement_timeout_seconds, 3600);
    EXPECT_FALSE(sf.private_key);  // parse_config does no I/O
    EXPECT_TRUE(pipeline::load_config_files(*result.config).empty());
    ASSERT_TRUE(result.config->destination.snowflake->private_key);
    EXPECT_EQ(result.config->destination.snowflake->private_key->public_key_fingerprint(),
              "SHA256:vYasnFgJp3AZQ3AerDxsgCvJrrdH7J247SjAHdd9yoE=");
}

TEST(SnowflakeUrlTest, KeyFileMistakesAreNamedBeforeAnyWork) {
    const auto problem_of = [](pipeline::EnvMap env) {
        auto result = pipeline::parse_config(env, std::nullopt);
        EXPECT_TRUE(result.config) << pipeline::format_problems(result.problems);
        return result.config
                   ? pipeline::format_problems(pipeline::load_config_files(*result.config))
                   : std::string();
    };
    EXPECT_NE(problem_of(snowflake_env("/nonexistent/key.p8"))
                  .find("ORDERS_PIPELINE_SNOWFLAKE_PRIVATE_KEY_FILE /nonexistent/key.p8 does not "
                        "exist"),
              std::string::npos);
    auto encrypted = snowflake_env(data("test_rsa_key_encrypted.p8"));
    EXPECT_NE(problem_of(encrypted).find("ORDERS_PIPELINE_SNOWFLAKE_PRIVATE_KEY_PASSPHRASE"),
              std::string::npos);
    encrypted["ORDERS_PIPELINE_SNOWFLAKE_PRIVATE_KEY_PASSPHRASE"] = "wrong-horse";
    const std::string wrong = problem_of(encrypted);
    EXPECT_NE(wrong.find("ORDERS_PIPELINE_SNOWFLAKE_PRIVATE_KEY_PASSPHRASE"), std::string::npos)
        << wrong;
    EXPECT_EQ(wrong.find("wrong-horse"), std::string::npos);
    encrypted["ORDERS_PIPELINE_SNOWFLAKE_PRIVATE_KEY_PASSPHRASE"] = "correct-horse";
    EXPECT_EQ(problem_of(encrypted), "");
    EXPECT_NE(problem_of(snowflake_env(data("test_rsa_key.pub")))
                  .find("ORDERS_PIPELINE_SNOWFLAKE_PRIVATE_KEY_FILE"),
              std::string::npos);
    auto bundle = snowflake_env(data("test_rsa_key.p8"));
    bundle["ORDERS_PIPELINE_SNOWFLAKE_CA_BUNDLE"] = "/nonexistent/ca.pem";
    EXPECT_NE(problem_of(bundle).find("ORDERS_PIPELINE_SNOWFLAKE_CA_BUNDLE"), std::string::npos);
}

TEST(SnowflakeUrlTest, SnowflakeSettingsAreRangeChecked) {
    auto env = snowflake_env(data("test_rsa_key.p8"));
    env["ORDERS_PIPELINE_SNOWFLAKE_SUSPEND_WAREHOUSE"] = "maybe";
    env["ORDERS_PIPELINE_SNOWFLAKE_MAX_REQUEST_BYTES"] = "1000";
    env["ORDERS_PIPELINE_SNOWFLAKE_STATEMENT_TIMEOUT_SECONDS"] = "0";
    auto result = pipeline::parse_config(env, std::nullopt);
    EXPECT_FALSE(result.config);
    EXPECT_EQ(result.problems.size(), 3U) << pipeline::format_problems(result.problems);
}

}  // namespace
