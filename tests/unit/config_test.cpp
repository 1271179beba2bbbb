// tests/unit/config_test.cpp: defaults, every error message, all errors at once, secrets.
#include "pipeline/config/config.hpp"

#include <gtest/gtest.h>

#include <algorithm>

namespace {

using pipeline::EnvMap;
using pipeline::parse_config;

EnvMap minimal() {
    return {{"ORDERS_PIPELINE_SOURCE_DB_URL", "postgresql://reader:s3cret@replica-1:5432/shop"},
            {"ORDERS_PIPELINE_DEST_DB_URL", "postgresql://loader:hunter2@wh:5432/warehouse"}};
}

std::string problem_for(const pipeline::ConfigResult& result, std::string_view variable) {
    for (const auto& p : result.problems) {
        if (p.variable == variable) {
            return p.message;
        }
    }
    return "<no problem>";
}

TEST(ConfigTest, DefaultsFromTheSpec) {
    auto result = parse_config(minimal(), std::nullopt);
    ASSERT_TRUE(result.config) << pipeline::format_problems(result.problems);
    const auto& c = *result.config;
    EXPECT_EQ(c.source_schema.str(), "public");
    EXPECT_EQ(c.source_table.str(), "orders");
    EXPECT_EQ(c.destination.schema.str(), "silver");
    EXPECT_EQ(c.destination.table.str(), "orders");
    EXPECT_EQ(c.destination.run_table.str(), "monitoring.pipeline_runs");
    EXPECT_EQ(c.destination.kind, pipeline::DestinationKind::postgres);
    EXPECT_EQ(c.batch_size, 50000);
    EXPECT_EQ(c.overlap_minutes, 5);
    EXPECT_EQ(c.checkpoint_dir, "/data/checkpoints");
    EXPECT_EQ(c.dlq_dir, "/data/dlq");
    EXPECT_EQ(c.log_level, pipeline::LogLevel::info);
    EXPECT_EQ(c.environment, pipeline::Environment::development);
    EXPECT_EQ(c.source_statement_timeout_seconds, 300);
    EXPECT_FALSE(c.start_from.has_value());
}

TEST(ConfigTest, MissingRequiredVariables) {
    auto result = parse_config({}, std::nullopt);
    EXPECT_FALSE(result.config);
    EXPECT_EQ(problem_for(result, "ORDERS_PIPELINE_SOURCE_DB_URL"), "is required but not set");
    EXPECT_EQ(problem_for(result, "ORDERS_PIPELINE_DEST_DB_URL"), "is required but not set");
}

TEST(ConfigTest, ReportsEveryProblemAtOnce) {
    EnvMap env = {{"ORDERS_PIPELINE_SOURCE_DB_URL", "postgresql://u:pw@primary.db/x"},
                  {"ORDERS_PIPELINE_DEST_DB_URL", "mysql://x"},
                  {"ORDERS_PIPELINE_SOURCE_SCHEMA", "public\""},
                  {"ORDERS_PIPELINE_SOURCE_TABLE", "orders; DROP TABLE x"},
                  {"ORDERS_PIPELINE_DEST_SCHEMA", "1silver"},
                  {"ORDERS_PIPELINE_DEST_TABLE", "a b"},
                  {"ORDERS_PIPELINE_BATCH_SIZE", "999"},
                  {"ORDERS_PIPELINE_OVERLAP_MINUTES", "61"},
                  {"ORDERS_PIPELINE_LOG_LEVEL", "verbose"},
                  {"ORDERS_PIPELINE_PIPELINE_RUN_TABLE", "runs"},
                  {"ORDERS_PIPELINE_ENVIRONMENT", "prod"},
                  {"ORDERS_PIPELINE_START_FROM", "2026-01-01T00:00:00"},
                  {"ORDERS_PIPELINE_PIPELINE_NAME", "a/b"}};
    auto result = parse_config(env, std::nullopt);
    EXPECT_FALSE(result.config);
    EXPECT_EQ(result.problems.size(), 13u) << pipeline::format_problems(result.problems);
    EXPECT_NE(problem_for(result, "ORDERS_PIPELINE_SOURCE_DB_URL").find("PRIMARY"),
              std::string::npos);
    EXPECT_EQ(problem_for(result, "ORDERS_PIPELINE_DEST_DB_URL"),
              "must start with postgresql:// or snowflake://");
    EXPECT_NE(
        problem_for(result, "ORDERS_PIPELINE_SOURCE_TABLE").find("not a plain SQL identifier"),
        std::string::npos);
    EXPECT_EQ(problem_for(result, "ORDERS_PIPELINE_BATCH_SIZE"),
              "999 is out of range (allowed: 1000 to 500000)");
    EXPECT_EQ(problem_for(result, "ORDERS_PIPELINE_OVERLAP_MINUTES"),
              "61 is out of range (allowed: 0 to 60)");
    EXPECT_EQ(problem_for(result, "ORDERS_PIPELINE_LOG_LEVEL"),
              "'verbose' is not one of DEBUG, INFO, WARNING, ERROR");
    EXPECT_EQ(problem_for(result, "ORDERS_PIPELINE_ENVIRONMENT"),
              "'prod' is not one of development, staging, production");
    EXPECT_NE(problem_for(result, "ORDERS_PIPELINE_START_FROM").find("UTC offset"),
              std::string::npos);
    EXPECT_NE(problem_for(result, "ORDERS_PIPELINE_PIPELINE_RUN_TABLE").find("schema.table"),
              std::string::npos);
}

TEST(ConfigTest, RangeEdgesAreInclusive) {
    EnvMap env = minimal();
    env["ORDERS_PIPELINE_BATCH_SIZE"] = "1000";
    env["ORDERS_PIPELINE_OVERLAP_MINUTES"] = "0";
    EXPECT_TRUE(parse_config(env, std::nullopt).config);
    env["ORDERS_PIPELINE_BATCH_SIZE"] = "500000";
    env["ORDERS_PIPELINE_OVERLAP_MINUTES"] = "60";
    EXPECT_TRUE(parse_config(env, std::nullopt).config);
    env["ORDERS_PIPELINE_BATCH_SIZE"] = "500001";
    EXPECT_FALSE(parse_config(env, std::nullopt).config);
    env["ORDERS_PIPELINE_BATCH_SIZE"] = "12x";
    EXPECT_EQ(problem_for(parse_config(env, std::nullopt), "ORDERS_PIPELINE_BATCH_SIZE"),
              "'12x' is not a whole number (allowed: 1000 to 500000)");
}

TEST(ConfigTest, PrimaryGuard) {
    EnvMap env = minimal();
    env["ORDERS_PIPELINE_SOURCE_DB_URL"] = "postgresql://u@PRIMARY-db/x";
    EXPECT_FALSE(parse_config(env, std::nullopt).config);
    env["ORDERS_PIPELINE_SOURCE_DB_URL"] = "postgresql://u@primary-db-replica/x";
    EXPECT_TRUE(parse_config(env, std::nullopt).config);
    env["ORDERS_PIPELINE_SOURCE_DB_URL"] = "postgresql://u@primary-db/x";
    env["ORDERS_PIPELINE_ALLOW_PRIMARY_SOURCE"] = "true";
    EXPECT_TRUE(parse_config(env, std::nullopt).config);
}

TEST(ConfigTest, PasswordsNeverAppearInProblems) {
    EnvMap env = {
        {"ORDERS_PIPELINE_SOURCE_DB_URL", "host=replica password=s3cretpw port=notaport x"},
        {"ORDERS_PIPELINE_DEST_DB_URL", "postgresql://u:hunter2pw@wh:99999999/db?bogus=1"},
        {"ORDERS_PIPELINE_BATCH_SIZE", "0"}};
    auto result = parse_config(env, std::nullopt);
    ASSERT_FALSE(result.problems.empty());
    const std::string text = pipeline::format_problems(result.problems);
    EXPECT_EQ(text.find("s3cretpw"), std::string::npos) << text;
    EXPECT_EQ(text.find("hunter2pw"), std::string::npos) << text;
}

TEST(ConfigTest, DescribeTargetOmitsCredentials) {
    const std::string text =
        pipeline::describe_pg_target(pipeline::Secret("postgresql://u:hunter2pw@wh:6543/db"));
    EXPECT_EQ(text, "wh:6543/db");
    EXPECT_EQ(fmt::format("{}", pipeline::Secret("hunter2pw")), "***");
}

TEST(ConfigTest, FileAddsAndEnvironmentWins) {
    const std::string file =
        "# comment\n"
        "export ORDERS_PIPELINE_BATCH_SIZE=2000\n"
        "ORDERS_PIPELINE_OVERLAP_MINUTES = \"7\"\n"
        "\n"
        "ORDERS_PIPELINE_DEST_TABLE='orders_v2'\n";
    EnvMap env = minimal();
    env["ORDERS_PIPELINE_BATCH_SIZE"] = "3000";
    auto result = parse_config(env, file);
    ASSERT_TRUE(result.config) << pipeline::format_problems(result.problems);
    EXPECT_EQ(result.config->batch_size, 3000);
    EXPECT_EQ(result.config->overlap_minutes, 7);
    EXPECT_EQ(result.config->destination.table.str(), "orders_v2");
}

TEST(ConfigTest, FileProblemsAreNamedByLine) {
    auto result = parse_config(minimal(),
                               std::string("ORDERS_PIPELINE_BATCH_SIZE=2000\nnonsense\nOTHER=1\n"));
    EXPECT_FALSE(result.config);
    EXPECT_EQ(problem_for(result, "config file line 2"), "is not of the form KEY=VALUE");
    EXPECT_NE(problem_for(result, "config file line 3").find("does not start with"),
              std::string::npos);
}

TEST(ConfigTest, UnknownKeysAreWarnings) {
    EnvMap env = minimal();
    env["ORDERS_PIPELINE_BATCHSIZE"] = "10";
    auto result = parse_config(env, std::nullopt);
    ASSERT_TRUE(result.config);
    ASSERT_EQ(result.warnings.size(), 1u);
    EXPECT_NE(result.warnings[0].find("ORDERS_PIPELINE_BATCHSIZE"), std::string::npos);
}

TEST(ConfigTest, StartFromNeedsOffset) {
    EnvMap env = minimal();
    env["ORDERS_PIPELINE_START_FROM"] = "2026-01-01T00:00:00+05:30";
    auto result = parse_config(env, std::nullopt);
    ASSERT_TRUE(result.config);
    EXPECT_EQ(pipeline::format_timestamp(*result.config->start_from),
              "2025-12-31T18:30:00.000000Z");
}

}  // namespace

namespace {

TEST(ConfigTest, RetryAndFailPointSettings) {
    auto defaults = parse_config(minimal(), std::nullopt);
    ASSERT_TRUE(defaults.config);
    EXPECT_EQ(defaults.config->retry.max_attempts, 6);
    EXPECT_EQ(defaults.config->retry.base_delay.count(), 1000);
    EXPECT_TRUE(defaults.config->fail_points.empty());

    auto env = minimal();
    env["ORDERS_PIPELINE_RETRY_MAX_ATTEMPTS"] = "0";
    env["ORDERS_PIPELINE_RETRY_BASE_DELAY_MS"] = "fast";
    env["ORDERS_PIPELINE_FAIL_POINT"] = "after_lunch=kill";
    auto bad = parse_config(env, std::nullopt);
    EXPECT_FALSE(bad.config);
    EXPECT_EQ(bad.problems.size(), 3u);
    EXPECT_NE(problem_for(bad, "ORDERS_PIPELINE_FAIL_POINT").find("after_lunch"),
              std::string::npos);

    env["ORDERS_PIPELINE_RETRY_MAX_ATTEMPTS"] = "3";
    env["ORDERS_PIPELINE_RETRY_BASE_DELAY_MS"] = "50";
    env["ORDERS_PIPELINE_FAIL_POINT"] = "after_commit:3=kill";
    auto good = parse_config(env, std::nullopt);
    ASSERT_TRUE(good.config) << pipeline::format_problems(good.problems);
    EXPECT_EQ(good.config->retry.max_attempts, 3);
    EXPECT_EQ(good.config->retry.base_delay.count(), 50);
    ASSERT_EQ(good.config->fail_points.size(), 1u);
    EXPECT_EQ(good.config->fail_points[0].batch, 3);
}

}  // namespace
