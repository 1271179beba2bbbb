// pipeline/jobs/job_dlq.cpp: JSON in and out.
#include "pipeline/jobs/job_dlq.hpp"

#include <nlohmann/json.hpp>

#include "pipeline/jobs/values.hpp"

namespace pipeline {

std::string format_job_dlq_line(const JobTable& job, std::span<const BinaryField> fields,
                                std::string_view error, Timestamp rejected_at,
                                std::string_view run_id) {
    nlohmann::ordered_json line;
    line["error"] = error;
    nlohmann::ordered_json row = nlohmann::ordered_json::object();
    std::string text;
    for (std::size_t c = 0; c < job.columns.size(); ++c) {
        if (c >= fields.size() || !fields[c]) {
            row[job.columns[c].name] = nullptr;
            continue;
        }
        text.clear();
        if (append_pg_text(job.columns[c].type, *fields[c], text)) {
            row[job.columns[c].name] = text;
        } else {
            row[job.columns[c].name] = "<unreadable value>";
        }
    }
    line["row"] = std::move(row);
    line["rejected_at"] = format_timestamp(rejected_at);
    line["run_id"] = run_id;
    line["job"] = job.name;
    return line.dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace) + "\n";
}

std::optional<JobDlqEntry> parse_job_dlq_line(std::string_view line, std::string& why) {
    const auto doc = nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false);
    if (doc.is_discarded() || !doc.is_object()) {
        why = "not a JSON object";
        return std::nullopt;
    }
    const auto error = doc.find("error");
    const auto row = doc.find("row");
    if (error == doc.end() || !error->is_string() || row == doc.end() || !row->is_object()) {
        why = "no \"error\" string or no \"row\" object";
        return std::nullopt;
    }
    JobDlqEntry entry;
    entry.error = error->get<std::string>();
    for (const auto& [name, value] : row->items()) {
        if (value.is_null()) {
            entry.row.emplace(name, std::nullopt);
        } else if (value.is_string()) {
            entry.row.emplace(name, value.get<std::string>());
        } else {
            why = "a value in \"row\" is neither a string nor null";
            return std::nullopt;
        }
    }
    if (const auto run = doc.find("run_id"); run != doc.end() && run->is_string()) {
        entry.run_id = run->get<std::string>();
    }
    return entry;
}

}  // namespace pipeline
