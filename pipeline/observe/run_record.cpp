// pipeline/observe/run_record.cpp: wire names of run modes and statuses, and the JSON form.
#include "pipeline/observe/run_record.hpp"

#include <array>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <type_traits>

namespace pipeline {

namespace {

constexpr std::array<RunMode, 4> all_modes = {RunMode::incremental, RunMode::backfill,
                                              RunMode::replay, RunMode::repair};
constexpr std::array<RunStatus, 5> all_statuses = {RunStatus::running, RunStatus::success,
                                                   RunStatus::failed, RunStatus::skipped,
                                                   RunStatus::cancelled};

using Json = nlohmann::json;

template <class T>
std::optional<T> field(const Json& j, const char* key) {
    auto it = j.find(key);
    if (it == j.end() || it->is_null()) {
        return std::nullopt;
    }
    if constexpr (std::is_same_v<T, std::string>) {
        return it->is_string() ? std::optional(it->get<std::string>()) : std::nullopt;
    } else if constexpr (std::is_same_v<T, double>) {
        return it->is_number() ? std::optional(it->get<double>()) : std::nullopt;
    } else {
        return it->is_number_integer() ? std::optional(it->get<T>()) : std::nullopt;
    }
}

}  // namespace

std::string_view to_string(RunMode mode) {
    switch (mode) {
        case RunMode::backfill:
            return "backfill";
        case RunMode::replay:
            return "replay";
        case RunMode::repair:
            return "repair";
        case RunMode::incremental:
            break;
    }
    return "incremental";
}

std::string_view to_string(RunStatus status) {
    switch (status) {
        case RunStatus::running:
            return "running";
        case RunStatus::success:
            return "success";
        case RunStatus::failed:
            return "failed";
        case RunStatus::skipped:
            return "skipped";
        case RunStatus::cancelled:
            return "cancelled";
    }
    return "failed";
}

std::optional<RunMode> run_mode_named(std::string_view text) {
    for (const RunMode m : all_modes) {
        if (to_string(m) == text) {
            return m;
        }
    }
    return std::nullopt;
}

std::optional<RunStatus> run_status_named(std::string_view text) {
    for (const RunStatus s : all_statuses) {
        if (to_string(s) == text) {
            return s;
        }
    }
    return std::nullopt;
}

std::string format_run_record(const RunRecord& r) {
    nlohmann::ordered_json j;
    const auto optional = [](const auto& value) {
        return value ? nlohmann::ordered_json(*value) : nlohmann::ordered_json(nullptr);
    };
    j["run_id"] = r.run_id;
    j["pipeline_name"] = r.pipeline_name;
    j["mode"] = to_string(r.mode);
    j["run_date"] = format_date(r.run_date);
    j["started_at"] = format_timestamp(r.started_at);
    j["finished_at"] =
        r.finished_at ? nlohmann::ordered_json(format_timestamp(*r.finished_at)) : nullptr;
    j["status"] = to_string(r.status);
    j["rows_extracted"] = r.counts.rows_extracted;
    j["rows_written"] = r.counts.rows_written;
    j["rows_rejected"] = r.counts.rows_rejected;
    j["rows_inserted"] = r.counts.rows_inserted;
    j["rows_updated"] = r.counts.rows_updated;
    j["duration_seconds"] = optional(r.duration_seconds);
    j["error_message"] = optional(r.error_message);
    j["environment"] = r.environment;
    j["warehouse_seconds"] = optional(r.warehouse_seconds);
    j["credits_estimate"] = optional(r.credits_estimate);
    return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

std::optional<RunRecord> parse_run_record(std::string_view text) {
    const Json j = Json::parse(text, nullptr, /*allow_exceptions=*/false);
    if (j.is_discarded() || !j.is_object()) {
        return std::nullopt;
    }
    RunRecord r;
    const auto id = field<std::string>(j, "run_id");
    const auto mode = run_mode_named(field<std::string>(j, "mode").value_or(""));
    const auto status = run_status_named(field<std::string>(j, "status").value_or(""));
    const auto date = parse_date(field<std::string>(j, "run_date").value_or(""));
    const auto started =
        parse_timestamp(field<std::string>(j, "started_at").value_or(""), OffsetRule::required);
    if (!id || !mode || !status || !date || !started) {
        return std::nullopt;
    }
    r.run_id = *id;
    r.pipeline_name = field<std::string>(j, "pipeline_name").value_or("");
    r.mode = *mode;
    r.status = *status;
    r.run_date = *date;
    r.started_at = *started;
    if (const auto finished = field<std::string>(j, "finished_at")) {
        r.finished_at = parse_timestamp(*finished, OffsetRule::required);
    }
    r.counts.rows_extracted = field<std::int64_t>(j, "rows_extracted").value_or(0);
    r.counts.rows_written = field<std::int64_t>(j, "rows_written").value_or(0);
    r.counts.rows_rejected = field<std::int64_t>(j, "rows_rejected").value_or(0);
    r.counts.rows_inserted = field<std::int64_t>(j, "rows_inserted").value_or(0);
    r.counts.rows_updated = field<std::int64_t>(j, "rows_updated").value_or(0);
    r.duration_seconds = field<double>(j, "duration_seconds");
    r.error_message = field<std::string>(j, "error_message");
    r.environment = field<std::string>(j, "environment").value_or("");
    r.warehouse_seconds = field<double>(j, "warehouse_seconds");
    r.credits_estimate = field<double>(j, "credits_estimate");
    return r;
}

}  // namespace pipeline
