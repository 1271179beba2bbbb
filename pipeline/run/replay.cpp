// pipeline/run/replay.cpp: `dlq replay`: rows of DLQ files through today's rules and the
// normal MERGE path.
#include <fmt/format.h>

#include <chrono>

#include "pipeline/core/error.hpp"
#include "pipeline/orders/batch.hpp"
#include "pipeline/run/run.hpp"
#include "pipeline/run/started_run.hpp"
#include "pipeline/runtime/logging.hpp"
#include "pipeline/state/atomic_file.hpp"
#include "pipeline/state/dlq.hpp"

namespace pipeline {

ReplaySummary replay_dlq(const Config& config, const std::vector<std::filesystem::path>& files) {
    const auto steady_start = std::chrono::steady_clock::now();
    const Timestamp started = now_utc();
    ReplaySummary out;
    out.run_id = make_run_id(started);
    set_log_context(out.run_id, config.pipeline_name, std::string(to_string(config.environment)));

    // Read and check every file first: a file with a bad line is refused before anything loads.
    struct Input {
        std::filesystem::path path;
        std::vector<DlqEntry> entries;
    };
    std::vector<Input> inputs;
    for (const auto& path : files) {
        const std::string name = path.filename().string();
        if (name.find(".replayed.") != std::string::npos) {
            out.already_replayed.push_back(path);
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
                out.already_replayed.push_back(path);
                continue;
            }
            throw Error(ErrorKind::io, fmt::format("DLQ file {} does not exist", path.string()));
        }
        Input input{path, {}};
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
            auto entry = parse_dlq_line(line, why);
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
        for (const Input& input : inputs) {
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
        // Loaded and durable: mark each file done by renaming it (never deleting it).
        for (const Input& input : inputs) {
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
