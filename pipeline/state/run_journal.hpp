// pipeline/state/run_journal.hpp: run records kept beside the checkpoint until the warehouse
// takes them (spec §9, the quiet-tick journal).
#pragma once

#include <filesystem>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "pipeline/observe/run_record.hpp"

namespace pipeline {

/// A record in the journal: waiting for the run table, or already there.
struct JournalEntry {
    RunRecord record;
    bool delivered = false;
};

/// `<dir>/<pipeline>.runs.json`: the run records of a destination whose run
/// table needs a running warehouse (Snowflake). A run with nothing to load
/// never wakes the warehouse: its record waits here until a run that resumes
/// it anyway writes it, oldest first, and marks it delivered. The last
/// delivered records stay too (100 of them), so `runs`, `freshness` and
/// `doctor` can answer without waking the warehouse.
///
/// Every change is a read-modify-write of the whole file under an exclusive
/// flock of `<dir>/<pipeline>.runs.lock` (a run that finds the run lock held
/// adds its `skipped` record while the other run works) and an atomic
/// replace, so a crash leaves the old or the new file, never a mix. An
/// unreadable file is moved aside to `<file>.corrupt.<UTC time>` (never
/// deleted) with a warning, and the journal starts empty. Errors of the file
/// system throw Error(io).
class RunJournal {
public:
    RunJournal(std::filesystem::path dir, std::string pipeline);

    /// Adds `record`, or replaces the one with its run_id, as not delivered.
    void put(const RunRecord& record);
    /// The records not delivered yet, oldest first.
    std::vector<RunRecord> pending() const;
    /// Marks these run ids delivered (they are in the run table now).
    void mark_delivered(const std::vector<std::string>& run_ids);
    /// Every record, newest first.
    std::vector<JournalEntry> entries() const;
    /// Records of other runs still `running` and not delivered: runs that
    /// ended without a result (killed; whoever calls this holds the run lock).
    /// They become `failed` with a message saying so; returns their run ids.
    std::vector<std::string> close_abandoned(std::string_view own_run_id, Timestamp now);

    const std::filesystem::path& path() const noexcept { return path_; }

private:
    /// Runs `change` on the entries (oldest first) under the lock, then writes them back.
    void update(const std::function<void(std::vector<JournalEntry>&)>& change) const;
    std::vector<JournalEntry> read_locked() const;

    std::filesystem::path dir_;
    std::filesystem::path path_;
    std::filesystem::path lock_path_;
};

/// The journal's file format: {"version": 1, "records": [{...record..., "delivered": b}]}. Pure.
std::string format_journal(const std::vector<JournalEntry>& entries);
/// Parses format_journal's output; nullopt (and `why`) when unreadable. Pure.
std::optional<std::vector<JournalEntry>> parse_journal(std::string_view text, std::string& why);

}  // namespace pipeline
