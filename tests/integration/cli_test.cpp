// tests/integration/cli_test.cpp: the binary's exit codes and output, as cron sees them.
#include <fmt/format.h>
#include <gtest/gtest.h>

#include "tests/support/test_database.hpp"

namespace {

class CliTest : public ::testing::Test {
protected:
    std::map<std::string, std::string> env() const {
        return {{"ORDERS_PIPELINE_SOURCE_DB_URL", src_.url()},
                {"ORDERS_PIPELINE_DEST_DB_URL", wh_.url()},
                {"ORDERS_PIPELINE_BATCH_SIZE", "1000"},
                {"ORDERS_PIPELINE_CHECKPOINT_DIR", (dir_.path() / "cp").string()},
                {"ORDERS_PIPELINE_DLQ_DIR", (dir_.path() / "dlq").string()},
                {"ORDERS_PIPELINE_RETRY_BASE_DELAY_MS", "20"},
                {"ORDERS_PIPELINE_RETRY_MAX_ATTEMPTS", "3"},
                {"ASAN_OPTIONS", "detect_leaks=0"}};
    }

    test::TestDatabase src_{"clisrc"};
    test::TestDatabase wh_{"cliwh"};
    test::TempDir dir_;
};

TEST_F(CliTest, ConfigErrorsAreAllReportedWithTheirOwnExitCode) {
    auto e = env();
    e["ORDERS_PIPELINE_SOURCE_DB_URL"] = "postgresql://reader:topsecretpw@primary-db/shop";
    e["ORDERS_PIPELINE_BATCH_SIZE"] = "10";
    e["ORDERS_PIPELINE_DEST_TABLE"] = "orders; DROP TABLE x";
    e.erase("ORDERS_PIPELINE_DEST_DB_URL");
    auto result = test::run_binary({"run"}, e);
    EXPECT_EQ(result.exit_code, 3) << result.err;
    EXPECT_NE(result.err.find("4 problems"), std::string::npos) << result.err;
    for (const char* variable : {"ORDERS_PIPELINE_SOURCE_DB_URL", "ORDERS_PIPELINE_BATCH_SIZE",
                                 "ORDERS_PIPELINE_DEST_TABLE", "ORDERS_PIPELINE_DEST_DB_URL"}) {
        EXPECT_NE(result.err.find(variable), std::string::npos) << variable;
    }
    EXPECT_EQ(result.err.find("topsecretpw"), std::string::npos);
    EXPECT_EQ(result.out.find("topsecretpw"), std::string::npos);
    // Nothing was touched: no connection was made, so no schema exists.
    EXPECT_EQ(wh_.scalar("SELECT count(*) FROM pg_namespace WHERE nspname = 'silver'"), "0");
}

TEST_F(CliTest, BadDateIsAUsageError) {
    EXPECT_EQ(test::run_binary({"run", "--date", "2026-02-30"}, env()).exit_code, 2);
    EXPECT_EQ(test::run_binary({"run", "--bogus"}, env()).exit_code, 2);
    EXPECT_EQ(test::run_binary({}, env()).exit_code, 2);
}

TEST_F(CliTest, HelpAndVersionExitZero) {
    auto help = test::run_binary({"run", "--help"}, {});
    EXPECT_EQ(help.exit_code, 0);
    EXPECT_NE(help.out.find("--date"), std::string::npos);
    auto version = test::run_binary({"--version"}, {});
    EXPECT_EQ(version.exit_code, 0);
    EXPECT_NE(version.out.find("orders-pipeline"), std::string::npos);
}

TEST_F(CliTest, SuccessfulRunLogsJsonLinesAndPrintsASummary) {
    src_.exec(test::support_file("freshmart_seed.sql"));
    src_.exec("SELECT freshmart_seed(1500, 1, now() - interval '1 minute', 2)");
    auto e = env();
    e["ORDERS_PIPELINE_DEST_DB_URL"] =
        fmt::format("{}?password=neverlogthis", wh_.url());  // trust auth ignores it
    auto result = test::run_binary({"run"}, e);
    ASSERT_EQ(result.exit_code, 0) << result.err;
    EXPECT_NE(result.out.find("rows        extracted 1500, written 1470, rejected 30"),
              std::string::npos)
        << result.out;
    std::size_t lines = 0;
    std::istringstream err(result.err);
    for (std::string line; std::getline(err, line); ++lines) {
        ASSERT_TRUE(line.starts_with("{\"ts\":")) << line;
        EXPECT_NE(line.find("\"run_id\":\""), std::string::npos) << line;
    }
    EXPECT_GT(lines, 3u);
    EXPECT_EQ(result.err.find("neverlogthis"), std::string::npos);
    EXPECT_EQ(result.out.find("neverlogthis"), std::string::npos);
    EXPECT_EQ(wh_.scalar("SELECT count(*) FROM monitoring.pipeline_runs WHERE error_message LIKE "
                         "'%neverlogthis%'"),
              "0");
}

TEST_F(CliTest, LockHeldExitsWithItsOwnCode) {
    src_.exec(test::support_file("freshmart_seed.sql"));
    auto holder = wh_.connect();
    holder.exec("SELECT pg_advisory_lock(20304, hashtext('orders'))", "[lock]");
    auto result = test::run_binary({"run"}, env());
    EXPECT_EQ(result.exit_code, 4) << result.err;
    EXPECT_NE(result.err.find("another run of pipeline 'orders' is in progress"), std::string::npos)
        << result.err;
}

TEST_F(CliTest, UnreachableSourceFailsWithExitOne) {
    auto e = env();
    e["ORDERS_PIPELINE_SOURCE_DB_URL"] = "postgresql://reader:pw123secret@127.0.0.1:1/shop";
    auto result = test::run_binary({"run"}, e);
    EXPECT_EQ(result.exit_code, 1);
    EXPECT_NE(result.err.find("cannot connect"), std::string::npos) << result.err;
    // A refused connection (08001) is transient: retried twice, then the run fails.
    EXPECT_NE(result.err.find("\"attempt\":2,\"max_attempts\":3"), std::string::npos) << result.err;
    EXPECT_EQ(result.err.find("pw123secret"), std::string::npos);
    EXPECT_EQ(wh_.scalar("SELECT status FROM monitoring.pipeline_runs"), "failed");
}

}  // namespace
