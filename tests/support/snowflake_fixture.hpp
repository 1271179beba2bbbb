// tests/support/snowflake_fixture.hpp: runs of the binary into the Snowflake emulator and
// readers of the emulator's log, shared by the Snowflake integration tests.
#pragma once

#include <fmt/format.h>
#include <gtest/gtest.h>

#include <map>
#include <string>
#include <vector>

#include "tests/support/pipeline_fixture.hpp"
#include "tests/support/snowflake_emulator.hpp"

namespace test {

using Json = nlohmann::json;

inline constexpr std::string_view sf_pipeline = "orders_sf";

// About 2,600 changed rows for the next window: updates and new orders, some invalid.
inline constexpr std::string_view source_changes =
    "UPDATE orders SET status = 'delivering', updated_at = now() WHERE order_id % 9 = 0;"
    "SELECT freshmart_seed(2000, 200000, now(), 0);";

class SnowflakeTest : public PipelineFixture {
protected:
    /// Settings of a run into `emulator` (its own pipeline name, so its
    /// checkpoint is separate from the PostgreSQL runs').
    std::map<std::string, std::string> sf_env(const SnowflakeEmulator& emulator,
                                              std::map<std::string, std::string> overrides = {}) {
        auto env = emulator.settings();
        env["ORDERS_PIPELINE_PIPELINE_NAME"] = std::string(sf_pipeline);
        for (auto& [k, v] : overrides) {
            env[k] = v;
        }
        return env;
    }

    ProcessResult run_sf(const SnowflakeEmulator& emulator,
                         std::map<std::string, std::string> overrides = {}) {
        return run_cli({"run"}, sf_env(emulator, std::move(overrides)));
    }

    std::vector<std::string> sf_loaded() const { return loaded_in(sf_); }

    std::string sf_staging_tables() const {
        return sf_.scalar(
            "SELECT count(*) FROM pg_tables WHERE schemaname = 'silver' AND tablename LIKE "
            "'op_stg_%'");
    }

    /// request_ids executed more than once, according to the emulator.
    static std::vector<std::string> executed_twice(const std::vector<Json>& log) {
        std::map<std::string, int> executions;
        for (const auto& line : log) {
            if (line.value("event", "") == "request" && line.value("executed", false)) {
                ++executions[line.value("request_id", "")];
            }
        }
        std::vector<std::string> twice;
        for (const auto& [id, n] : executions) {
            if (n > 1 || id.empty()) {
                twice.push_back(id.empty() ? "<no requestId>" : id);
            }
        }
        return twice;
    }

    static int count(const std::vector<Json>& log, std::string_view key, const Json& value) {
        int n = 0;
        for (const auto& line : log) {
            n += line.contains(key) && line[std::string(key)] == value ? 1 : 0;
        }
        return n;
    }

    static std::vector<std::string> warehouse_actions(const std::vector<Json>& log) {
        std::vector<std::string> actions;
        for (const auto& line : log) {
            if (line.value("event", "") == "warehouse") {
                actions.push_back(line.value("action", ""));
            }
        }
        return actions;
    }

    TestDatabase sf_{"sf"};
};

}  // namespace test
