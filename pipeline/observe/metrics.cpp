// pipeline/observe/metrics.cpp: Prometheus text format, written atomically.
#include "pipeline/observe/metrics.hpp"

#include <fmt/format.h>

#include <array>
#include <charconv>

#include "pipeline/state/atomic_file.hpp"

namespace pipeline {

namespace {

constexpr std::string_view last_success_metric = "orders_pipeline_last_success_timestamp_seconds";

double epoch_seconds(Timestamp ts) {
    return static_cast<double>(ts.micros) / 1e6;
}

// Label values escape backslash, double quote and newline.
std::string label(std::string_view value) {
    std::string out;
    for (const char c : value) {
        if (c == '\\' || c == '"') {
            out += '\\';
            out += c;
        } else if (c == '\n') {
            out += "\\n";
        } else {
            out += c;
        }
    }
    return out;
}

}  // namespace

std::string format_metrics(const RunMetrics& m) {
    const std::string p = fmt::format("pipeline=\"{}\"", label(m.pipeline));
    std::string out;
    const auto gauge = [&](std::string_view name, std::string_view help, double value) {
        out +=
            fmt::format("# HELP {0} {1}\n# TYPE {0} gauge\n{0}{{{2}}} {3}\n", name, help, p, value);
    };
    gauge("orders_pipeline_rows_extracted", "Rows extracted by the last run.",
          static_cast<double>(m.counts.rows_extracted));
    gauge("orders_pipeline_rows_written", "Valid rows the last run sent to the MERGE.",
          static_cast<double>(m.counts.rows_written));
    gauge("orders_pipeline_rows_rejected", "Rows the last run wrote to the DLQ.",
          static_cast<double>(m.counts.rows_rejected));
    gauge("orders_pipeline_rows_inserted", "Rows the last run's MERGEs inserted.",
          static_cast<double>(m.counts.rows_inserted));
    gauge("orders_pipeline_rows_updated", "Rows the last run's MERGEs updated.",
          static_cast<double>(m.counts.rows_updated));
    gauge("orders_pipeline_last_run_duration_seconds", "Wall time of the last run.",
          m.duration_seconds);
    gauge("orders_pipeline_last_run_timestamp_seconds", "When the last run ended (Unix time).",
          epoch_seconds(m.finished_at));
    out +=
        "# HELP orders_pipeline_last_run_status 1 for the last run's status, 0 otherwise.\n"
        "# TYPE orders_pipeline_last_run_status gauge\n";
    constexpr std::array<RunStatus, 4> statuses = {RunStatus::success, RunStatus::failed,
                                                   RunStatus::skipped, RunStatus::cancelled};
    for (const RunStatus s : statuses) {
        out += fmt::format("orders_pipeline_last_run_status{{{},mode=\"{}\",status=\"{}\"}} {}\n",
                           p, to_string(m.mode), to_string(s), s == m.status ? 1 : 0);
    }
    if (m.last_success) {
        gauge(last_success_metric, "When the last successful run ended (Unix time).",
              epoch_seconds(*m.last_success));
    }
    if (m.checkpoint_lag_seconds) {
        gauge("orders_pipeline_checkpoint_lag_seconds",
              "How far the checkpoint's watermark is behind the end of the last run.",
              *m.checkpoint_lag_seconds);
    }
    if (m.holdback_seconds) {
        gauge("orders_pipeline_holdback_seconds",
              "How far the next window reaches back for source transactions still open.",
              *m.holdback_seconds);
        gauge("orders_pipeline_holdback_capped",
              "1 when an open source transaction is older than HOLDBACK_MAX_MINUTES.",
              m.holdback_capped ? 1 : 0);
    }
    if (m.warehouse_seconds) {
        gauge("orders_pipeline_warehouse_seconds",
              "Warehouse time the last run used (Snowflake; 0 when it was not woken).",
              *m.warehouse_seconds);
    }
    if (m.credits_estimate) {
        gauge("orders_pipeline_credits_estimate",
              "Estimated Snowflake credits of the last run (60 s minimum per resume).",
              *m.credits_estimate);
    }
    if (m.oldest_transaction_seconds) {
        gauge("orders_pipeline_oldest_transaction_age_seconds",
              "Age of the oldest open source transaction the last run saw.",
              *m.oldest_transaction_seconds);
    }
    return out;
}

std::string format_verify_metrics(const VerifyMetrics& m) {
    const std::string p = fmt::format("pipeline=\"{}\"", label(m.pipeline));
    std::string out =
        "# HELP orders_pipeline_verify_differences Rows the last verify found different, by "
        "category.\n# TYPE orders_pipeline_verify_differences gauge\n";
    for (const auto& [category, n] :
         std::array<std::pair<std::string_view, std::int64_t>, 6>{{{"missing", m.missing},
                                                                   {"stale", m.stale},
                                                                   {"extra", m.extra},
                                                                   {"different", m.different},
                                                                   {"newer", m.newer},
                                                                   {"duplicate", m.duplicate}}}) {
        out += fmt::format("orders_pipeline_verify_differences{{{},category=\"{}\"}} {}\n", p,
                           category, n);
    }
    const auto gauge = [&](std::string_view name, std::string_view help, double value) {
        out +=
            fmt::format("# HELP {0} {1}\n# TYPE {0} gauge\n{0}{{{2}}} {3}\n", name, help, p, value);
    };
    gauge("orders_pipeline_verify_rejected", "Source rows the last verify found invalid.",
          static_cast<double>(m.rejected));
    gauge("orders_pipeline_verify_deep", "1 when the last verify compared every column.",
          m.deep ? 1 : 0);
    gauge("orders_pipeline_verify_timestamp_seconds", "When the last verify ended (Unix time).",
          epoch_seconds(m.at));
    gauge("orders_pipeline_verify_duration_seconds", "Wall time of the last verify.", m.seconds);
    return out;
}

std::optional<double> last_success_in(std::string_view text) {
    for (std::size_t start = 0; start < text.size();) {
        std::size_t end = text.find('\n', start);
        if (end == std::string_view::npos) {
            end = text.size();
        }
        const std::string_view line = text.substr(start, end - start);
        start = end + 1;
        if (!line.starts_with(last_success_metric) || line.size() <= last_success_metric.size() ||
            line[last_success_metric.size()] != '{') {
            continue;
        }
        const std::size_t space = line.rfind(' ');
        double value = 0;
        const auto [ptr, ec] =
            std::from_chars(line.data() + space + 1, line.data() + line.size(), value);
        if (space != std::string_view::npos && ec == std::errc() &&
            ptr == line.data() + line.size()) {
            return value;
        }
    }
    return std::nullopt;
}

void write_metrics_file(const std::filesystem::path& path, RunMetrics metrics) {
    if (metrics.status == RunStatus::success) {
        metrics.last_success = metrics.finished_at;
    } else if (!metrics.last_success) {
        std::optional<std::string> previous;
        try {
            previous = read_file_if_exists(path);
        } catch (const std::exception&) {
            previous.reset();  // unreadable: the new file simply lacks the old value
        }
        if (auto seconds = previous ? last_success_in(*previous) : std::nullopt) {
            metrics.last_success =
                Timestamp{static_cast<std::int64_t>(*seconds * 1e6 + (*seconds >= 0 ? 0.5 : -0.5))};
        }
    }
    if (path.has_parent_path()) {
        ensure_directory(path.parent_path(), "metrics");
    }
    write_file_atomically(path, format_metrics(metrics));
}

}  // namespace pipeline
