// tests/unit/metrics_test.cpp: the Prometheus text of a run, and reading last-success back.
#include "pipeline/observe/metrics.hpp"

#include <gtest/gtest.h>

namespace {

pipeline::RunMetrics sample() {
    pipeline::RunMetrics m;
    m.pipeline = "orders";
    m.status = pipeline::RunStatus::failed;
    m.counts.rows_extracted = 1200;
    m.counts.rows_rejected = 3;
    m.duration_seconds = 2.5;
    m.finished_at = pipeline::Timestamp{1'795'000'000'000'000};
    m.checkpoint_lag_seconds = 95.0;
    return m;
}

TEST(MetricsTest, OneGaugePerFactAndOneStatusLineEach) {
    const std::string text = pipeline::format_metrics(sample());
    EXPECT_NE(text.find("# TYPE orders_pipeline_rows_extracted gauge\n"
                        "orders_pipeline_rows_extracted{pipeline=\"orders\"} 1200\n"),
              std::string::npos)
        << text;
    EXPECT_NE(text.find("orders_pipeline_last_run_status{pipeline=\"orders\",mode=\"incremental\","
                        "status=\"failed\"} 1\n"),
              std::string::npos);
    EXPECT_NE(text.find("status=\"success\"} 0\n"), std::string::npos);
    EXPECT_NE(text.find("orders_pipeline_checkpoint_lag_seconds{pipeline=\"orders\"} 95\n"),
              std::string::npos);
    EXPECT_EQ(text.find("last_success_timestamp"), std::string::npos) << "none known yet";
    EXPECT_EQ(text.back(), '\n');
}

TEST(MetricsTest, LastSuccessIsReadBackFromAnEarlierFile) {
    auto m = sample();
    m.last_success = pipeline::Timestamp{1'794'999'000'000'000};
    const std::string text = pipeline::format_metrics(m);
    const auto value = pipeline::last_success_in(text);
    ASSERT_TRUE(value);
    EXPECT_DOUBLE_EQ(*value, 1'794'999'000.0);
    EXPECT_FALSE(pipeline::last_success_in("garbage\n# HELP x\n"));
    EXPECT_FALSE(pipeline::last_success_in(""));
}

TEST(MetricsTest, LabelValuesAreEscaped) {
    auto m = sample();
    m.pipeline = "a\"b\\c";
    EXPECT_NE(pipeline::format_metrics(m).find("pipeline=\"a\\\"b\\\\c\""), std::string::npos);
}

}  // namespace
