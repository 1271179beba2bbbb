// tests/support/pipeline_fixture.cpp: the shared integration-test fixture.
#include "tests/support/pipeline_fixture.hpp"

#include <fmt/format.h>

#include <fstream>
#include <nlohmann/json.hpp>

#include "pipeline/runtime/logging.hpp"

namespace test {

namespace {

// The 24 compared columns (all but ingested_at), as text.
constexpr std::string_view compared_columns =
    "order_id, customer_id, store_id, restaurant_id, order_amount, delivery_fee, "
    "discount_amount, total_value, status, payment_method, payment_status, order_tier, "
    "order_date, order_hour, order_month, delivery_minutes, cancellation_type, "
    "cancellation_reason, has_promo, promo_code, created_at, updated_at, delivered_at, "
    "cancelled_at";

}  // namespace

void PipelineFixture::SetUpTestSuite() {
    pipeline::init_logging(pipeline::LogLevel::warning);
}

void PipelineFixture::SetUp() {
    seed_source(src_);
}

void PipelineFixture::seed_source(const TestDatabase& db) {
    db.exec(support_file("freshmart_seed.sql"));
    db.exec(support_file("expected_orders.sql"));
    // 5,000 orders over the last 3 days: 5 batches of 1,000, 100 invalid rows.
    db.exec("SELECT freshmart_seed(5000, 1, now() - interval '1 minute', 3)");
}

std::map<std::string, std::string> PipelineFixture::settings(
    const std::map<std::string, std::string>& overrides) const {
    std::map<std::string, std::string> env = {
        {"ORDERS_PIPELINE_SOURCE_DB_URL", src_.url()},
        {"ORDERS_PIPELINE_DEST_DB_URL", wh_.url()},
        {"ORDERS_PIPELINE_BATCH_SIZE", "1000"},
        {"ORDERS_PIPELINE_CHECKPOINT_DIR", (dir_.path() / "checkpoints").string()},
        {"ORDERS_PIPELINE_DLQ_DIR", dlq_dir().string()},
        {"ORDERS_PIPELINE_RETRY_BASE_DELAY_MS", "20"},
    };
    for (const auto& [k, v] : extra_settings_) {
        env[k] = v;
    }
    for (const auto& [k, v] : overrides) {
        env[k] = v;
    }
    return env;
}

pipeline::Config PipelineFixture::config(
    const std::map<std::string, std::string>& overrides) const {
    const auto values = settings(overrides);
    const pipeline::EnvMap env(values.begin(), values.end());
    auto result = pipeline::parse_config(env, std::nullopt);
    EXPECT_TRUE(result.config) << pipeline::format_problems(result.problems);
    return *result.config;
}

std::map<std::string, std::string> PipelineFixture::process_env(
    const std::map<std::string, std::string>& overrides) const {
    auto env = settings(overrides);
    env["ASAN_OPTIONS"] = "detect_leaks=0";
    return env;
}

ProcessResult PipelineFixture::run_cli(const std::vector<std::string>& args,
                                       const std::map<std::string, std::string>& overrides) const {
    return run_binary(args, process_env(overrides));
}

std::vector<std::string> PipelineFixture::loaded(std::string_view where) const {
    return loaded_in(wh_, where);
}

std::vector<std::string> PipelineFixture::loaded_in(const TestDatabase& warehouse,
                                                    std::string_view where) {
    return warehouse.rows(fmt::format("SELECT {} FROM silver.orders WHERE {} ORDER BY order_id",
                                      compared_columns, where));
}

std::vector<std::string> PipelineFixture::expected(std::string_view where) const {
    return expected_in(src_, where);
}

std::vector<std::string> PipelineFixture::expected_in(const TestDatabase& source,
                                                      std::string_view where) {
    return source.rows(fmt::format("SELECT {} FROM expected_orders WHERE {} ORDER BY order_id",
                                   compared_columns, where));
}

std::filesystem::path PipelineFixture::checkpoint_file() const {
    return dir_.path() / "checkpoints" / "orders.checkpoint.json";
}

std::filesystem::path PipelineFixture::dlq_dir() const {
    return dir_.path() / "dlq";
}

std::string PipelineFixture::read(const std::filesystem::path& path) {
    std::ifstream in(path, std::ios::binary);
    return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

std::multiset<std::string> PipelineFixture::dlq_entries(const std::filesystem::path& file) {
    std::multiset<std::string> entries;
    std::ifstream in(file);
    for (std::string line; std::getline(in, line);) {
        auto doc = nlohmann::json::parse(line);
        const auto& id = doc["row"]["order_id"];
        const std::string error = doc["error"];
        entries.insert(fmt::format("{}|{}", id.is_null() ? "<null>" : id.get<std::string>(),
                                   error.substr(0, error.find(':'))));
    }
    return entries;
}

std::multiset<std::string> PipelineFixture::expected_rejections(std::string_view where) const {
    auto rows =
        src_.rows(fmt::format("SELECT order_id, code FROM expected_rejections WHERE {}", where));
    return {rows.begin(), rows.end()};
}

std::string PipelineFixture::run_record(const std::string& run_id, std::string_view columns) const {
    auto rows = wh_.rows(fmt::format("SELECT {} FROM monitoring.pipeline_runs WHERE run_id = '{}'",
                                     columns, run_id));
    return rows.empty() ? "<no record>" : rows.front();
}

}  // namespace test
