// tests/integration/verify_test.cpp: verify, verify --repair, freshness and the rejection brake,
// on a real PostgreSQL warehouse and on the Snowflake emulator.
#include <fmt/format.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <iostream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "pipeline/core/timestamp.hpp"
#include "tests/support/snowflake_fixture.hpp"

namespace {

namespace fs = std::filesystem;
using Json = nlohmann::json;

std::vector<long long> ids(const Json& list) {
    return list.get<std::vector<long long>>();
}

/// The order_ids of each category after load_and_tamper.
struct Tampered {
    std::vector<long long> missing, stale, extra, different, newer;
};

class VerifyTest : public test::SnowflakeTest {
protected:
    Json verify_json(const std::vector<std::string>& extra_args = {},
                     const std::map<std::string, std::string>& overrides = {},
                     int* exit_code = nullptr) {
        std::vector<std::string> args = {"verify", "--json"};
        args.insert(args.end(), extra_args.begin(), extra_args.end());
        const auto result = run_cli(args, overrides);
        if (exit_code != nullptr) {
            *exit_code = result.exit_code;
        }
        EXPECT_TRUE(result.exit_code == 0 || result.exit_code == 6) << result.err;
        return Json::parse(result.out);
    }

    /// Loads, deletes the extra key at the source after it was loaded, tampers the rest.
    Tampered load_and_tamper(const std::map<std::string, std::string>& overrides,
                             const test::TestDatabase& warehouse) {
        EXPECT_EQ(run_cli({"run"}, overrides).exit_code, 0);
        src_.exec(
            "INSERT INTO orders SELECT 9000001, customer_id, store_id, restaurant_id, "
            "order_amount, delivery_fee, discount_amount, status, payment_method, payment_status, "
            "created_at, updated_at, delivered_at, cancelled_at, cancellation_reason, promo_code, "
            "notes FROM orders WHERE order_id = 52");
        src_.exec("UPDATE orders SET updated_at = now() WHERE order_id = 9000001");
        EXPECT_EQ(run_cli({"run"}, overrides).exit_code, 0);
        src_.exec("DELETE FROM orders WHERE order_id = 9000001");
        const auto valid = src_.rows("SELECT order_id FROM expected_orders ORDER BY order_id");
        const auto id = [&](std::size_t i) { return std::stoll(valid.at(i)); };
        Tampered t{{id(10), id(11)}, {id(20)}, {9'000'001}, {id(30)}, {id(40)}};
        warehouse.exec(
            fmt::format("DELETE FROM silver.orders WHERE order_id IN ({}, {})", id(10), id(11)));
        warehouse.exec(
            fmt::format("UPDATE silver.orders SET updated_at = updated_at - interval "
                        "'1 hour' WHERE order_id = {}",
                        id(20)));
        warehouse.exec(fmt::format(
            "UPDATE silver.orders SET store_id = 'TAMPERED' WHERE order_id = {}", id(30)));
        warehouse.exec(
            fmt::format("UPDATE silver.orders SET updated_at = updated_at + interval "
                        "'1 second' WHERE order_id = {}",
                        id(40)));
        return t;
    }

    static void expect_found(const Json& report, const Tampered& t, bool deep) {
        EXPECT_EQ(ids(report["missing"]), t.missing);
        EXPECT_EQ(ids(report["stale"]), t.stale);
        EXPECT_EQ(ids(report["extra"]), t.extra);
        EXPECT_EQ(ids(report["newer"]), t.newer);
        EXPECT_EQ(ids(report["different"]), deep ? t.different : std::vector<long long>{});
        EXPECT_EQ(report["missing_count"], t.missing.size());
        EXPECT_EQ(report["rejected_count"], 100) << "invalid source rows are expected absent";
    }
};

TEST_F(VerifyTest, CleanWarehouseHasNoDifferenceAndReadsOnlyBucketSums) {
    ASSERT_EQ(run_cli({"run"}).exit_code, 0);
    int code = -1;
    const Json report = verify_json({}, {}, &code);
    EXPECT_EQ(code, 0);
    EXPECT_EQ(report["differences"], 0);
    EXPECT_EQ(report["source_rows"], 4900);
    EXPECT_EQ(report["warehouse_rows"], 4900);
    EXPECT_EQ(report["rows_fetched"], 0) << "a clean verify reads no row one by one";
    EXPECT_EQ(report["statements"], 1);
    EXPECT_LE(report["buckets_read"].get<int>(), 256);
    const Json deep = verify_json({"--deep"}, {}, &code);
    EXPECT_EQ(code, 0);
    EXPECT_EQ(deep["differences"], 0) << "the warehouse's canonical row text is the tool's";
}

TEST_F(VerifyTest, EveryCategoryIsFoundExactlyAndRepairedOnPostgres) {
    const Tampered t = load_and_tamper({}, wh_);
    int code = -1;
    expect_found(verify_json({}, {}, &code), t, false);
    EXPECT_EQ(code, 6);
    expect_found(verify_json({"--deep"}, {}, &code), t, true);

    // Repair with the default HARD_DELETES=keep: the extra row stays, reported.
    const auto kept = run_cli({"verify", "--deep", "--repair", "--json"});
    EXPECT_EQ(kept.exit_code, 6) << kept.err;
    const Json after_keep = Json::parse(kept.out);
    EXPECT_EQ(ids(after_keep["extra"]), t.extra);
    EXPECT_EQ(after_keep["missing_count"], 0);
    EXPECT_EQ(after_keep["stale_count"], 0);
    EXPECT_EQ(after_keep["different_count"], 0);
    EXPECT_EQ(after_keep["newer_count"], 0);
    EXPECT_EQ(after_keep["repair"]["rows_reloaded"], 5);
    EXPECT_EQ(after_keep["repair"]["rows_deleted"], 0);
    const std::string run_id = after_keep["repair"]["run_id"];
    EXPECT_EQ(run_record(run_id, "mode, status"), "repair|success");

    const auto deleted = run_cli({"verify", "--deep", "--repair", "--json"},
                                 {{"ORDERS_PIPELINE_HARD_DELETES", "delete"}});
    EXPECT_EQ(deleted.exit_code, 0) << deleted.err;
    EXPECT_EQ(Json::parse(deleted.out)["repair"]["rows_deleted"], 1);
    EXPECT_EQ(verify_json({"--deep"}, {}, &code)["differences"], 0);
    EXPECT_EQ(code, 0);
    EXPECT_EQ(loaded(), expected());
}

TEST_F(VerifyTest, SourceRowWithoutUpdatedAtIsInvalidNotDeleted) {
    ASSERT_EQ(run_cli({"run"}).exit_code, 0);
    const std::string id = src_.scalar("SELECT min(order_id) FROM expected_orders");
    src_.exec("UPDATE orders SET updated_at = NULL WHERE order_id = " + id);
    const std::map<std::string, std::string> deleting = {
        {"ORDERS_PIPELINE_HARD_DELETES", "delete"}};
    int code = -1;
    const Json report = verify_json({"--repair"}, deleting, &code);
    EXPECT_EQ(code, 0) << report.dump();
    EXPECT_EQ(report["extra_count"], 0) << "an invalid source row is expected absent, not deleted";
    EXPECT_EQ(wh_.scalar("SELECT count(*) FROM silver.orders WHERE order_id = " + id), "1")
        << "HARD_DELETES=delete must not remove it";
}

TEST_F(VerifyTest, BisectionReadsOnlyTheBucketsOnTheDifferencesPath) {
    ASSERT_EQ(run_cli({"run"}).exit_code, 0);
    const std::string one = src_.scalar("SELECT order_id FROM expected_orders LIMIT 1");
    wh_.exec("DELETE FROM silver.orders WHERE order_id = " + one);
    const auto result = run_cli({"verify", "--json"});
    EXPECT_EQ(result.exit_code, 6);
    const Json report = Json::parse(result.out);
    EXPECT_EQ(ids(report["missing"]), std::vector<long long>{std::stoll(one)});
    // Level 1: the 256 coarse buckets; level 2: the (at most 256) leaf buckets inside the one
    // that differs; then only the rows of the one leaf bucket that differs.
    std::vector<int> read;
    std::istringstream lines(result.err);
    for (std::string line; std::getline(lines, line);) {
        if (line.find("\"event\":\"verify_level\"") != std::string::npos) {
            const Json j = Json::parse(line);
            read.push_back(j["buckets_read"].get<int>());
            EXPECT_EQ(j["differing"], 1) << line;
        }
    }
    ASSERT_EQ(read.size(), 2u);
    EXPECT_LE(read[0], 256);
    EXPECT_LE(read[1], 256);
    EXPECT_LT(read[1], 40) << "5,000 rows fill few leaf buckets inside one coarse bucket";
    EXPECT_LE(report["rows_fetched"].get<int>(), 3) << "the rows of one leaf bucket";
    EXPECT_EQ(report["buckets_read"], read[0] + read[1]);
}

TEST_F(VerifyTest, FromToLimitsTheComparisonToThoseDays) {
    ASSERT_EQ(run_cli({"run"}).exit_code, 0);
    const std::string day =
        src_.scalar("SELECT (min(updated_at) AT TIME ZONE 'UTC')::date + 1 FROM expected_orders");
    const std::string inside = src_.scalar(fmt::format(
        "SELECT order_id FROM expected_orders WHERE updated_at >= '{0}'::date AND updated_at < "
        "'{0}'::date + 1 LIMIT 1",
        day));
    const std::string outside = src_.scalar(fmt::format(
        "SELECT order_id FROM expected_orders WHERE updated_at < '{0}'::date LIMIT 1", day));
    wh_.exec(fmt::format("DELETE FROM silver.orders WHERE order_id IN ({}, {})", inside, outside));
    int code = -1;
    const Json within = verify_json({"--from", day, "--to", day}, {}, &code);
    EXPECT_EQ(code, 6);
    EXPECT_EQ(ids(within["missing"]), std::vector<long long>{std::stoll(inside)});
    EXPECT_EQ(within["source_rows"].get<int>(),
              std::stoi(src_.scalar(fmt::format("SELECT count(*) FROM expected_orders WHERE "
                                                "updated_at >= '{0}'::date AND updated_at < "
                                                "'{0}'::date + 1",
                                                day))));
    EXPECT_EQ(ids(verify_json()["missing"]).size(), 2u);
    EXPECT_EQ(run_cli({"verify", "--from", day}).exit_code, 2) << "--from needs --to";
}

TEST_F(VerifyTest, FreshnessBothWays) {
    EXPECT_EQ(run_cli({"freshness"}).exit_code, 6) << "never ran: late";
    ASSERT_EQ(run_cli({"run"}).exit_code, 0);
    const auto fresh = run_cli({"freshness", "--json"});
    EXPECT_EQ(fresh.exit_code, 0) << fresh.out << fresh.err;
    EXPECT_TRUE(Json::parse(fresh.out)["fresh"].get<bool>());
    // A quiet run (nothing new) keeps the checkpoint, and the warehouse is still fresh.
    ASSERT_EQ(run_cli({"run"}).exit_code, 0);
    EXPECT_EQ(run_cli({"freshness"}).exit_code, 0);
    // The last success long ago and the checkpoint an hour back: late, and by how much.
    wh_.exec(
        "UPDATE monitoring.pipeline_runs SET started_at = started_at - interval '2 hours', "
        "finished_at = finished_at - interval '2 hours'");
    ASSERT_EQ(run_cli({"checkpoint", "set",
                       pipeline::format_timestamp(
                           pipeline::Timestamp{pipeline::now_utc().micros - 3600LL * 1'000'000}),
                       "--yes"})
                  .exit_code,
              0);
    const auto late = run_cli({"freshness"});
    EXPECT_EQ(late.exit_code, 6);
    EXPECT_NE(late.out.find("LATE (SLA 20 min)"), std::string::npos) << late.out;
    EXPECT_NE(late.out.find("behind the source's clock"), std::string::npos) << late.out;
    EXPECT_NE(late.out.find("the last successful run ended 120."), std::string::npos) << late.out;
    EXPECT_EQ(run_cli({"freshness", "--max-lag", "300"}).exit_code, 0);
}

TEST_F(VerifyTest, RejectionBrakeStopsAMostlyRejectedBatchBothWays) {
    ASSERT_EQ(run_cli({"run"}).exit_code, 0);
    const std::string checkpoint_before = read(checkpoint_file());
    // A broken upstream deploy: 600 of the next 1,000 changes carry an unknown status.
    src_.exec(
        "UPDATE orders SET status = 'lost_in_space', updated_at = now() WHERE order_id IN "
        "(SELECT order_id FROM orders ORDER BY order_id LIMIT 600);"
        "UPDATE orders SET updated_at = now() WHERE order_id IN "
        "(SELECT order_id FROM orders ORDER BY order_id OFFSET 600 LIMIT 400)");
    const std::map<std::string, std::string> brake = {{"ORDERS_PIPELINE_MAX_REJECT_RATIO", "0.5"}};
    const auto stopped = run_cli({"run"}, brake);
    EXPECT_EQ(stopped.exit_code, 1) << stopped.err;
    EXPECT_NE(stopped.err.find("rejection brake"), std::string::npos) << stopped.err;
    EXPECT_EQ(read(checkpoint_file()), checkpoint_before) << "the checkpoint moved";
    const std::string run_id =
        wh_.scalar("SELECT run_id FROM monitoring.pipeline_runs ORDER BY started_at DESC LIMIT 1");
    EXPECT_EQ(run_record(run_id, "status"), "failed");
    EXPECT_NE(run_record(run_id, "error_message").find("invalid_status"), std::string::npos)
        << "the record names the top error code";
    std::size_t in_dlq = 0;
    for (const auto& file : fs::directory_iterator(dlq_dir())) {
        if (file.path().string().find(run_id) != std::string::npos) {
            in_dlq = dlq_entries(file.path()).size();
        }
    }
    EXPECT_GE(in_dlq, 600u) << "the batch's rejected rows are kept for diagnosis";
    EXPECT_EQ(wh_.scalar("SELECT count(*) FROM silver.orders WHERE status = 'lost_in_space'"), "0");

    // Off (the default), or a ratio the batch stays under: the run loads what is valid.
    const auto loads = run_cli({"run"}, {{"ORDERS_PIPELINE_MAX_REJECT_RATIO", "0.9"}});
    EXPECT_EQ(loads.exit_code, 0) << loads.err;
    EXPECT_NE(read(checkpoint_file()), checkpoint_before);
    // The valid changes arrived (the rows that became invalid keep their older version).
    const std::string last_broken = src_.scalar(
        "SELECT max(order_id) FROM (SELECT order_id FROM orders ORDER BY order_id "
        "LIMIT 600) b");
    EXPECT_EQ(loaded("order_id > " + last_broken), expected("order_id > " + last_broken));
    EXPECT_EQ(run_cli({"run"}, {{"ORDERS_PIPELINE_MAX_REJECT_RATIO", "1.5"}}).exit_code, 3);
}

// ---- Snowflake ----------------------------------------------------------------

TEST_F(VerifyTest, SnowflakeEveryCategoryIsFoundAndRepairedAndACleanVerifyIsCheap) {
    const test::SnowflakeEmulator emulator(sf_);
    const auto sf = sf_env(emulator);
    const Tampered t = load_and_tamper(sf, sf_);
    int code = -1;
    expect_found(verify_json({}, sf, &code), t, false);
    EXPECT_EQ(code, 6);
    expect_found(verify_json({"--deep"}, sf, &code), t, true);

    const auto kept = run_cli({"verify", "--deep", "--repair", "--json"}, sf);
    EXPECT_EQ(kept.exit_code, 6) << kept.err;
    EXPECT_EQ(ids(Json::parse(kept.out)["extra"]), t.extra);
    auto deleting = sf;
    deleting["ORDERS_PIPELINE_HARD_DELETES"] = "delete";
    const auto deleted = run_cli({"verify", "--deep", "--repair", "--json"}, deleting);
    EXPECT_EQ(deleted.exit_code, 0) << deleted.err;
    EXPECT_EQ(Json::parse(deleted.out)["repair"]["rows_deleted"], 1);
    EXPECT_EQ(sf_loaded(), expected());

    // A clean verify: one statement of bucket sums, nothing read row by row.
    const std::size_t before = emulator.log().size();
    const Json clean = verify_json({}, sf, &code);
    EXPECT_EQ(code, 0);
    EXPECT_EQ(clean["statements"], 1);
    EXPECT_EQ(clean["rows_fetched"], 0);
    const auto log = emulator.log();
    int selects = 0;
    for (std::size_t i = before; i < log.size(); ++i) {
        selects += log[i].value("statement", "").starts_with("SELECT") ? 1 : 0;
    }
    EXPECT_EQ(selects, 1);
    std::cout << fmt::format("snowflake clean verify: {} statement(s), {} bytes read, {} buckets\n",
                             clean["statements"].get<int>(), clean["bytes_read"].get<long long>(),
                             clean["buckets_read"].get<int>())
              << std::flush;
}

TEST_F(VerifyTest, SnowflakeKeyHeldTwiceIsFoundAndRepairKeepsOne) {
    // Snowflake does not enforce a PRIMARY KEY: a hand-made INSERT can double a key.
    const test::SnowflakeEmulator emulator(sf_);
    const auto sf = sf_env(emulator);
    ASSERT_EQ(run_cli({"run"}, sf).exit_code, 0);
    const std::string id = src_.scalar("SELECT min(order_id) FROM expected_orders");
    sf_.exec("INSERT INTO silver.orders SELECT * FROM silver.orders WHERE order_id = " + id);
    int code = -1;
    const Json found = verify_json({}, sf, &code);
    EXPECT_EQ(code, 6);
    EXPECT_EQ(ids(found["duplicate"]), std::vector<long long>{std::stoll(id)});
    EXPECT_EQ(found["duplicate_count"], 1);
    EXPECT_EQ(found["differences"], 1) << found.dump();
    const auto repaired = run_cli({"verify", "--repair", "--json"}, sf);
    EXPECT_EQ(repaired.exit_code, 0) << repaired.err;
    EXPECT_EQ(sf_.scalar("SELECT count(*) FROM silver.orders WHERE order_id = " + id), "1");
    EXPECT_EQ(sf_loaded(), expected());
}

}  // namespace
