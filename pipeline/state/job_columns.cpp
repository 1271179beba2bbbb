// pipeline/state/job_columns.cpp: a small JSON file, written atomically.
#include "pipeline/state/job_columns.hpp"

#include <algorithm>
#include <nlohmann/json.hpp>

#include "pipeline/runtime/logging.hpp"
#include "pipeline/state/atomic_file.hpp"

namespace pipeline {

namespace {

std::string format_columns(const RecordedColumns& r) {
    nlohmann::ordered_json doc;
    nlohmann::ordered_json columns = nlohmann::ordered_json::array();
    for (const auto& [name, type] : r.columns) {
        columns.push_back({{"name", name}, {"type", type}});
    }
    doc["columns"] = std::move(columns);
    doc["ignored"] = r.ignored;
    if (r.key) {
        doc["key"] = *r.key;
    }
    return doc.dump(2) + "\n";
}

RecordedColumns recorded_of(const JobTable& job, std::vector<std::string> ignored) {
    RecordedColumns r;
    for (const JobColumn& c : job.columns) {
        r.columns.emplace_back(c.name, c.type.pg_type);
    }
    r.key.emplace();
    for (const std::size_t k : job.key) {
        r.key->push_back(job.columns[k].name);
    }
    for (const std::string& name : job.new_ignored) {
        if (std::find(ignored.begin(), ignored.end(), name) == ignored.end()) {
            ignored.push_back(name);
        }
    }
    r.ignored = std::move(ignored);
    return r;
}

}  // namespace

JobColumnsMemory::JobColumnsMemory(const std::filesystem::path& dir, const std::string& job)
    : dir_(dir), path_(dir / (job + ".columns.json")) {}

std::optional<RecordedColumns> JobColumnsMemory::load() const noexcept {
    try {
        const auto text = read_file_if_exists(path_);
        if (!text) {
            return std::nullopt;
        }
        const auto doc = nlohmann::json::parse(*text, nullptr, false);
        if (doc.is_discarded() || !doc.is_object() || !doc.contains("columns") ||
            !doc["columns"].is_array()) {
            throw std::runtime_error("not the expected JSON object");
        }
        RecordedColumns r;
        for (const auto& c : doc["columns"]) {
            if (!c.is_object() || !c.contains("name") || !c["name"].is_string() ||
                !c.contains("type") || !c["type"].is_string()) {
                throw std::runtime_error("a column entry is damaged");
            }
            r.columns.emplace_back(c["name"].get<std::string>(), c["type"].get<std::string>());
        }
        if (doc.contains("key") && doc["key"].is_array()) {
            r.key.emplace();
            for (const auto& name : doc["key"]) {
                if (!name.is_string()) {
                    throw std::runtime_error("the key entry is damaged");
                }
                r.key->push_back(name.get<std::string>());
            }
        }
        if (doc.contains("ignored") && doc["ignored"].is_array()) {
            for (const auto& name : doc["ignored"]) {
                if (name.is_string()) {
                    r.ignored.push_back(name.get<std::string>());
                }
            }
        }
        return r;
    } catch (const std::exception& e) {
        log_warning(
            "the job's remembered columns are unreadable; schema drift is not checked "
            "until the next load rewrites them",
            {{"event", "job_columns_unreadable"}, {"file", path_.string()}, {"error", e.what()}});
        return std::nullopt;
    }
}

std::vector<std::string> JobColumnsMemory::unreported(const JobTable& job) const {
    const auto known = load();
    std::vector<std::string> out;
    for (const std::string& name : job.new_ignored) {
        if (!known ||
            std::find(known->ignored.begin(), known->ignored.end(), name) == known->ignored.end()) {
            out.push_back(name);
        }
    }
    return out;
}

void JobColumnsMemory::remember(const JobTable& job) {
    const auto known = load();
    const RecordedColumns next =
        recorded_of(job, known ? known->ignored : std::vector<std::string>{});
    if (known && known->columns == next.columns && known->ignored == next.ignored &&
        known->key == next.key) {
        return;
    }
    ensure_directory(dir_, "checkpoint");
    write_file_atomically(path_, format_columns(next));
}

}  // namespace pipeline
