// pipeline/state/run_journal.cpp: the local journal of run records, one flock'd JSON file.
#include "pipeline/state/run_journal.hpp"

#include <fcntl.h>
#include <fmt/format.h>
#include <sys/file.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <nlohmann/json.hpp>

#include "pipeline/core/error.hpp"
#include "pipeline/runtime/logging.hpp"
#include "pipeline/state/atomic_file.hpp"

namespace pipeline {

namespace {

// Delivered records kept for `runs`, `freshness` and `doctor`.
constexpr std::size_t kept_delivered = 100;

/// An exclusive flock held for one read-modify-write of the journal.
class JournalLock {
public:
    explicit JournalLock(const std::filesystem::path& file) {
        fd_ = ::open(file.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
        if (fd_ < 0 || ::flock(fd_, LOCK_EX) != 0) {
            const std::string why = std::strerror(errno);
            if (fd_ >= 0) {
                ::close(fd_);
            }
            throw Error(ErrorKind::io,
                        fmt::format("cannot lock the run journal {}: {}", file.string(), why));
        }
    }
    JournalLock(const JournalLock&) = delete;
    JournalLock& operator=(const JournalLock&) = delete;
    ~JournalLock() { ::close(fd_); }  // releases the flock

private:
    int fd_ = -1;
};

}  // namespace

std::string format_journal(const std::vector<JournalEntry>& entries) {
    std::string out = "{\"version\": 1, \"records\": [";
    for (std::size_t i = 0; i < entries.size(); ++i) {
        std::string record = format_run_record(entries[i].record);
        record.pop_back();  // the closing brace: the flag goes inside
        out += fmt::format("{}\n  {}, \"delivered\": {}}}", i == 0 ? "" : ",", record,
                           entries[i].delivered ? "true" : "false");
    }
    return out + "\n]}\n";
}

std::optional<std::vector<JournalEntry>> parse_journal(std::string_view text, std::string& why) {
    const nlohmann::json doc = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
    if (doc.is_discarded() || !doc.is_object() || !doc.contains("records") ||
        !doc["records"].is_array()) {
        why = "not a JSON object with a \"records\" array";
        return std::nullopt;
    }
    std::vector<JournalEntry> entries;
    for (const auto& r : doc["records"]) {
        auto record = r.is_object() ? parse_run_record(r.dump()) : std::nullopt;
        if (!record) {
            why = "a record is unreadable";
            return std::nullopt;
        }
        const auto delivered = r.find("delivered");
        entries.push_back({std::move(*record), delivered != r.end() && delivered->is_boolean() &&
                                                   delivered->get<bool>()});
    }
    return entries;
}

RunJournal::RunJournal(std::filesystem::path dir, std::string pipeline)
    : dir_(std::move(dir)),
      path_(dir_ / (pipeline + ".runs.json")),
      lock_path_(dir_ / (pipeline + ".runs.lock")) {}

std::vector<JournalEntry> RunJournal::read_locked() const {
    const auto text = read_file_if_exists(path_);
    if (!text) {
        return {};
    }
    std::string why;
    auto entries = parse_journal(*text, why);
    if (entries) {
        return std::move(*entries);
    }
    const UtcParts p = utc_parts(now_utc());
    const std::filesystem::path aside =
        fmt::format("{}.corrupt.{:04d}{:02d}{:02d}_{:02d}{:02d}{:02d}", path_.string(), p.date.year,
                    p.date.month, p.date.day, p.hour, p.minute, p.second);
    std::error_code ec;
    std::filesystem::rename(path_, aside, ec);
    if (ec) {
        throw Error(ErrorKind::io, fmt::format("the run journal {} is unreadable ({}) and cannot "
                                               "be moved aside: {}",
                                               path_.string(), why, ec.message()));
    }
    log_warning(fmt::format("the run journal {} is unreadable ({}); moved to {}; records that "
                            "were waiting in it are not delivered (they are still in that file)",
                            path_.string(), why, aside.string()),
                {{"event", "run_journal_corrupt"}});
    return {};
}

void RunJournal::update(const std::function<void(std::vector<JournalEntry>&)>& change) const {
    ensure_directory(dir_, "checkpoint");
    const JournalLock lock(lock_path_);
    std::vector<JournalEntry> entries = read_locked();
    change(entries);
    std::stable_sort(entries.begin(), entries.end(), [](const auto& a, const auto& b) {
        return a.record.started_at < b.record.started_at;
    });
    // Keep every pending record and the newest delivered ones.
    auto delivered = static_cast<std::size_t>(std::count_if(
        entries.begin(), entries.end(), [](const JournalEntry& e) { return e.delivered; }));
    for (auto it = entries.begin(); it != entries.end() && delivered > kept_delivered;) {
        if (it->delivered) {
            it = entries.erase(it);
            --delivered;
        } else {
            ++it;
        }
    }
    write_file_atomically(path_, format_journal(entries));
}

void RunJournal::put(const RunRecord& record) {
    update([&](std::vector<JournalEntry>& entries) {
        for (JournalEntry& e : entries) {
            if (e.record.run_id == record.run_id) {
                e = {record, false};
                return;
            }
        }
        entries.push_back({record, false});
    });
}

std::vector<RunRecord> RunJournal::pending() const {
    std::vector<RunRecord> out;
    for (const JournalEntry& e : entries()) {
        if (!e.delivered) {
            out.push_back(e.record);
        }
    }
    std::reverse(out.begin(), out.end());
    return out;
}

void RunJournal::mark_delivered(const std::vector<std::string>& run_ids) {
    if (run_ids.empty()) {
        return;
    }
    update([&](std::vector<JournalEntry>& entries) {
        for (JournalEntry& e : entries) {
            e.delivered = e.delivered || std::find(run_ids.begin(), run_ids.end(),
                                                   e.record.run_id) != run_ids.end();
        }
    });
}

std::vector<JournalEntry> RunJournal::entries() const {
    if (!std::filesystem::exists(path_)) {
        return {};
    }
    const JournalLock lock(lock_path_);
    std::vector<JournalEntry> entries = read_locked();
    std::stable_sort(entries.begin(), entries.end(), [](const auto& a, const auto& b) {
        return b.record.started_at < a.record.started_at;
    });
    return entries;
}

std::vector<std::string> RunJournal::close_abandoned(std::string_view own_run_id, Timestamp now) {
    std::vector<std::string> closed;
    if (!std::filesystem::exists(path_)) {
        return closed;
    }
    update([&](std::vector<JournalEntry>& entries) {
        for (JournalEntry& e : entries) {
            RunRecord& r = e.record;
            if (!e.delivered && r.status == RunStatus::running && r.run_id != own_run_id) {
                r.status = RunStatus::failed;
                r.finished_at = now;
                r.error_message =
                    "the run ended without reporting a result (killed, or its machine stopped)";
                closed.push_back(r.run_id);
            }
        }
    });
    return closed;
}

}  // namespace pipeline
