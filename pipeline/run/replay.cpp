// pipeline/run/replay.cpp: `dlq replay`: rows of DLQ files through today's rules and the
// normal MERGE path.
#include <fmt/format.h>

#include <chrono>

#include "pipeline/core/error.hpp"
#include "pipeline/jobs/job_dlq.hpp"
#include "pipeline/jobs/rules.hpp"
#include "pipeline/orders/batch.hpp"
#include "pipeline/run/job_run.hpp"
#include "pipeline/run/run.hpp"
#include "pipeline/run/started_run.hpp"
#include "pipeline/runtime/logging.hpp"
#include "pipeline/source/job_lookup.hpp"
#include "pipeline/state/atomic_file.hpp"
#include "pipeline/state/dlq.hpp"

namespace pipeline {

namespace {

template <class Entry>
struct Input {
    std::filesystem::path path;
    std::vector<Entry> entries;
};

// Reads and checks every file first: a file with a bad line is refused before anything loads.
// Files already replayed (renamed, or whose replayed copy exists) are listed in `skipped`.
template <class Entry, class Parse>
std::vector<Input<Entry>> read_dlq_files(const std::vector<std::filesystem::path>& files,
                                         Parse&& parse,
                                         std::vector<std::filesystem::path>& skipped) {
    std::vector<Input<Entry>> inputs;
    for (const auto& path : files) {
        const std::string name = path.filename().string();
        if (name.find(".replayed.") != std::string::npos) {
            skipped.push_back(path);
            continue;
        }
        auto text = read_file_if_exists(path);
        if (!text) {
            bool replayed_copy = false;
            std::error_code ec;
            for (const auto& entry : std::filesystem::directory_iterator(
                     path.has_parent_path() ? path.parent_path() : ".", ec)) {
                replayed_copy = replayed_copy ||
                                entry.path().filename().string().starts_with(name + ".replayed.");
            }
            if (replayed_copy) {
                skipped.push_back(path);
                continue;
            }
            throw Error(ErrorKind::io, fmt::format("DLQ file {} does not exist", path.string()));
        }
        Input<Entry> input{path, {}};
        std::size_t line_number = 0;
        for (std::size_t at = 0; at < text->size();) {
            std::size_t end = text->find('\n', at);
            if (end == std::string::npos) {
                end = text->size();
            }
            const std::string_view line(text->data() + at, end - at);
            at = end + 1;
            ++line_number;
            if (line.empty()) {
                continue;
            }
            std::string why;
            auto entry = parse(line, why);
            if (!entry) {
                throw Error(ErrorKind::io,
                            fmt::format("DLQ file {} line {} is unreadable ({}); nothing was "
                                        "replayed and the file is unchanged",
                                        path.string(), line_number, why));
            }
            input.entries.push_back(std::move(*entry));
        }
        inputs.push_back(std::move(input));
    }
    return inputs;
}

// Loaded and durable: marks each file done by renaming it (never deleting it).
template <class Entry>
void mark_replayed(const std::vector<Input<Entry>>& inputs, ReplaySummary& out) {
    for (const Input<Entry>& input : inputs) {
        std::filesystem::path done = input.path;
        done += ".replayed." + out.run_id;
        std::error_code ec;
        std::filesystem::rename(input.path, done, ec);
        if (ec) {
            throw Error(ErrorKind::io,
                        fmt::format("replayed {} but cannot rename it to {}: {}",
                                    input.path.string(), done.string(), ec.message()));
        }
        out.replayed.push_back(done);
    }
}

// A declared job's replay: the rows' keys are looked up at the source again
// (their current version, in binary), checked with today's rules and loaded
// newer-wins; a key the source no longer has is counted, not loaded.
ReplaySummary replay_job_dlq(const Config& config, const std::vector<std::filesystem::path>& files,
                             std::chrono::steady_clock::time_point steady_start, Timestamp started,
                             ReplaySummary out) {
    const JobTable& job = *config.job;
    const auto inputs = read_dlq_files<JobDlqEntry>(
        files,
        [](std::string_view line, std::string& why) { return parse_job_dlq_line(line, why); },
        out.already_replayed);
    if (inputs.empty()) {
        return out;
    }
    std::vector<KeyText> keys;
    for (const auto& input : inputs) {
        for (const JobDlqEntry& e : input.entries) {
            KeyText key;
            for (const std::size_t k : job.key) {
                const auto it = e.row.find(job.columns[k].name);
                if (it == e.row.end() || !it->second) {
                    break;  // a row rejected for a NULL key cannot be looked up: it stays out
                }
                key.push_back(*it->second);
            }
            ++out.counts.rows_extracted;
            if (key.size() == job.key.size()) {
                keys.push_back(std::move(key));
            }
        }
    }
    const RunRecord record =
        first_record(config, out.run_id, RunMode::replay, utc_parts(started).date, started);
    log_info("replay started", {{"event", "replay_started"},
                                {"files", inputs.size()},
                                {"job", job.name},
                                {"keys", keys.size()}});
    Retrier retrier(config.retry);
    StartedRun started_run(config, {}, record, run_application_name(config, out.run_id), retrier,
                           steady_start);
    RunCounts& counts = out.counts;
    try {
        PgConnection source = source_connector(config, run_application_name(config, out.run_id))();
        DlqWriter dlq(config.dlq_dir, config.pipeline_name, out.run_id);
        const JobRules rules(job, target_limits(config));
        std::vector<BinaryField> fields(job.columns.size());
        const Timestamp now = now_utc();
        int batch_number = 0;
        for (std::size_t first = 0; first < keys.size();
             first += static_cast<std::size_t>(config.batch_size)) {
            const std::vector<KeyText> part(
                keys.begin() + static_cast<std::ptrdiff_t>(first),
                keys.begin() +
                    static_cast<std::ptrdiff_t>(std::min(
                        keys.size(), first + static_cast<std::size_t>(config.batch_size))));
            JobRows found;
            fetch_job_rows_by_key(source, job, part, found);
            std::vector<JobRows::Ref> kept;
            for (std::size_t i = 0; i < found.size(); ++i) {
                for (std::size_t c = 0; c < fields.size(); ++c) {
                    fields[c] = found.field(i, c);
                }
                if (auto rejection = rules.check(fields)) {
                    dlq.append(
                        format_job_dlq_line(job, fields, rejection->message, now, out.run_id));
                    ++counts.rows_rejected;
                } else {
                    kept.push_back(found.refs()[i]);
                }
            }
            found.refs() = std::move(kept);
            keep_newest_per_key(found, job);
            dlq.flush();
            started_run.lock().ensure_held();
            Warehouse& warehouse = started_run.started();
            ++batch_number;
            const MergeCounts merged = retrier.run("load a batch", [&] {
                return warehouse.load_job_rows(found, BatchContext{batch_number});
            });
            counts.rows_written += static_cast<std::int64_t>(found.size());
            counts.rows_inserted += merged.inserted;
            counts.rows_updated += merged.updated;
        }
        dlq.close();
        if (counts.rows_rejected > 0) {
            out.dlq_file = dlq.path();
        }
        mark_replayed(inputs, out);
        started_run.finish(RunStatus::success, counts);
        log_info("replay finished", {{"event", "replay_finished"},
                                     {"job", job.name},
                                     {"rows_replayed", counts.rows_extracted},
                                     {"rows_written", counts.rows_written},
                                     {"rows_rejected", counts.rows_rejected},
                                     {"rows_inserted", counts.rows_inserted},
                                     {"rows_updated", counts.rows_updated}});
        return out;
    } catch (const std::exception& e) {
        started_run.finish(RunStatus::failed, counts, e.what());
        throw;
    }
}

}  // namespace

ReplaySummary replay_dlq(const Config& config, const std::vector<std::filesystem::path>& files) {
    const auto steady_start = std::chrono::steady_clock::now();
    const Timestamp started = now_utc();
    ReplaySummary out;
    out.run_id = make_run_id(started);
    set_log_context(out.run_id, config.pipeline_name, std::string(to_string(config.environment)));
    if (config.job) {
        return replay_job_dlq(config, files, steady_start, started, std::move(out));
    }
    const auto inputs = read_dlq_files<DlqEntry>(
        files, [](std::string_view line, std::string& why) { return parse_dlq_line(line, why); },
        out.already_replayed);
    if (inputs.empty()) {
        return out;
    }

    const RunRecord record =
        first_record(config, out.run_id, RunMode::replay, utc_parts(started).date, started);
    log_info("replay started", {{"event", "replay_started"}, {"files", inputs.size()}});
    Retrier retrier(config.retry);
    StartedRun started_run(config, {}, record, run_application_name(config, out.run_id), retrier,
                           steady_start);
    RunCounts counts;
    try {
        DlqWriter dlq(config.dlq_dir, config.pipeline_name, out.run_id);
        std::vector<OrderRow> valid;
        std::vector<SourceRow> rows;
        int batch_number = 0;
        for (const auto& input : inputs) {
            for (std::size_t first = 0; first < input.entries.size();
                 first += static_cast<std::size_t>(config.batch_size)) {
                const std::size_t last = std::min(
                    input.entries.size(), first + static_cast<std::size_t>(config.batch_size));
                rows.clear();
                for (std::size_t i = first; i < last; ++i) {
                    SourceRow row;
                    for (std::size_t c = 0; c < row.fields.size(); ++c) {
                        const auto& value = input.entries[i].row[c];
                        row.fields[c] = value ? Field(*value) : std::nullopt;
                    }
                    rows.push_back(row);
                }
                const Timestamp ingested_at = now_utc();
                const PreparedBatch prepared = prepare_batch(
                    rows, ingested_at, valid, [&](const SourceRow& row, const Rejection& r) {
                        dlq.append(format_dlq_line(row, r.message, ingested_at, out.run_id));
                    });
                dlq.flush();
                ++batch_number;
                started_run.lock().ensure_held();
                Warehouse& warehouse = started_run.started();
                const MergeCounts merged = retrier.run("load a batch", [&] {
                    return warehouse.load_batch(valid, BatchContext{batch_number});
                });
                counts.rows_extracted += static_cast<std::int64_t>(rows.size());
                counts.rows_rejected += prepared.rejected;
                counts.rows_written += static_cast<std::int64_t>(valid.size());
                counts.rows_inserted += merged.inserted;
                counts.rows_updated += merged.updated;
            }
        }
        dlq.close();
        if (counts.rows_rejected > 0) {
            out.dlq_file = dlq.path();
        }
        mark_replayed(inputs, out);
        out.counts = counts;
        started_run.finish(RunStatus::success, counts);
        log_info("replay finished", {{"event", "replay_finished"},
                                     {"rows_replayed", counts.rows_extracted},
                                     {"rows_written", counts.rows_written},
                                     {"rows_rejected", counts.rows_rejected},
                                     {"rows_inserted", counts.rows_inserted},
                                     {"rows_updated", counts.rows_updated}});
        return out;
    } catch (const std::exception& e) {
        started_run.finish(RunStatus::failed, counts, e.what());
        throw;
    }
}

}  // namespace pipeline
