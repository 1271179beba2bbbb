// pipeline/run/job_run.cpp: one run of a declared job: the orders run's sequence (lock, window,
// batches, checkpoint, record) over a binary cursor, the job's rules and a pass-through load.
#include "pipeline/run/job_run.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <cstring>

#include "pipeline/core/error.hpp"
#include "pipeline/jobs/job_dlq.hpp"
#include "pipeline/jobs/rules.hpp"
#include "pipeline/run/run_parts.hpp"
#include "pipeline/run/started_run.hpp"
#include "pipeline/runtime/fail_point.hpp"
#include "pipeline/runtime/logging.hpp"
#include "pipeline/runtime/stop.hpp"
#include "pipeline/source/read_ahead.hpp"
#include "pipeline/state/job_columns.hpp"

namespace pipeline {

namespace {

using SteadyClock = std::chrono::steady_clock;

/// Positions kept in an integer job's checkpoint: enough to cover the
/// hold-back cap at one run a minute.
constexpr std::size_t max_position_marks = 1500;

// True when row a's key sorts before row b's (bytes; equal keys are adjacent after sorting).
bool key_less(const JobRows& rows, const JobTable& job, JobRows::Ref a, JobRows::Ref b) {
    for (const std::size_t k : job.key) {
        const auto x = rows.field(a, k);
        const auto y = rows.field(b, k);
        const std::string_view xs = x.value_or(std::string_view());
        const std::string_view ys = y.value_or(std::string_view());
        if (xs.size() != ys.size()) {
            return xs.size() < ys.size();
        }
        if (const int c = xs.compare(ys); c != 0) {
            return c < 0;
        }
    }
    return false;
}

bool key_equal(const JobRows& rows, const JobTable& job, JobRows::Ref a, JobRows::Ref b) {
    return !key_less(rows, job, a, b) && !key_less(rows, job, b, a);
}

}  // namespace

std::int64_t keep_newest_per_key(JobRows& rows, const JobTable& job) {
    std::vector<JobRows::Ref>& refs = rows.refs();
    std::size_t kept = 0;
    if (job.key.size() == 1) {
        // One key column: its bytes read once per row, then sorted with the row's position
        // (the later of equal keys is the newer version).
        struct Entry {
            std::string_view key;
            std::uint32_t at;
        };
        std::vector<Entry> entries;
        entries.reserve(refs.size());
        for (std::size_t i = 0; i < refs.size(); ++i) {
            entries.push_back({rows.field(refs[i], job.key[0]).value_or(std::string_view()),
                               static_cast<std::uint32_t>(i)});
        }
        std::sort(entries.begin(), entries.end(), [](const Entry& a, const Entry& b) {
            if (a.key.size() != b.key.size()) {
                return a.key.size() < b.key.size();
            }
            const int c = a.key.compare(b.key);
            return c != 0 ? c < 0 : a.at < b.at;
        });
        std::vector<JobRows::Ref> sorted;
        sorted.reserve(entries.size());
        for (std::size_t i = 0; i < entries.size(); ++i) {
            if (i + 1 < entries.size() && entries[i + 1].key == entries[i].key) {
                continue;  // a later version of the same key follows
            }
            sorted.push_back(refs[entries[i].at]);
        }
        kept = sorted.size();
        const auto collapsed = static_cast<std::int64_t>(refs.size() - kept);
        refs = std::move(sorted);
        return collapsed;
    }
    std::stable_sort(refs.begin(), refs.end(),
                     [&](JobRows::Ref a, JobRows::Ref b) { return key_less(rows, job, a, b); });
    for (std::size_t i = 0; i < refs.size(); ++i) {
        if (i + 1 < refs.size() && key_equal(rows, job, refs[i], refs[i + 1])) {
            continue;  // a later version of the same key follows
        }
        refs[kept++] = refs[i];
    }
    const auto collapsed = static_cast<std::int64_t>(refs.size() - kept);
    refs.resize(kept);
    return collapsed;
}

namespace {

/// Reads and checks one batch on the reader thread.
class JobBatchReader {
public:
    JobBatchReader(Extractor& extractor, const JobTable& job, TargetLimits limits, int batch_size,
                   std::string run_id)
        : extractor_(extractor),
          job_(job),
          rules_(job, limits),
          batch_size_(batch_size),
          next_fetch_(std::min(fetch_rows, batch_size)),
          run_id_(std::move(run_id)),
          fields_(job.columns.size()) {
        if (rules_.empty()) {
            checked_ = job.key;
            checked_.push_back(job.cursor);
        } else {
            for (std::size_t c = 0; c < job.columns.size(); ++c) {
                checked_.push_back(c);
            }
        }
    }

    std::optional<JobReadyBatch> read(const std::atomic<bool>& cancelled) {
        JobReadyBatch batch;
        const Timestamp now = now_utc();
        while (batch.extracted < batch_size_ && !cancelled) {
            const auto t0 = SteadyClock::now();
            std::optional<SourceBatch> part = extractor_.next_batch(next_fetch_);
            batch.extract_seconds += seconds_since(t0);
            if (!part) {
                break;
            }
            batch.extracted += static_cast<std::int64_t>(part->kept.size());
            const auto left = batch_size_ - static_cast<int>(batch.extracted);
            next_fetch_ = std::min(fetch_rows, left > 0 ? left : batch_size_);
            extractor_.prefetch(next_fetch_);
            const auto t1 = SteadyClock::now();
            const std::vector<int> kept = std::move(part->kept);
            const std::uint32_t number = batch.rows.add_part(std::move(part->result));
            for (const int r : kept) {
                const JobRows::Ref ref{number, r};
                // Without rules only the key and the cursor are checked: read just those.
                for (const std::size_t c : checked_) {
                    fields_[c] = batch.rows.field(ref, c);
                }
                if (auto rejection = rules_.check(fields_)) {
                    for (std::size_t c = 0; c < fields_.size(); ++c) {
                        fields_[c] = batch.rows.field(ref, c);  // the whole row, for the DLQ
                    }
                    batch.dlq_lines.push_back(
                        format_job_dlq_line(job_, fields_, rejection->message, now, run_id_));
                    ++batch.rejected_by_code[rejection->code];
                    ++batch.rejected;
                } else {
                    batch.rows.add(ref);
                }
            }
            batch.validate_seconds += seconds_since(t1);
        }
        if (batch.extracted == 0) {
            return std::nullopt;
        }
        const auto t2 = SteadyClock::now();
        batch.duplicates = keep_newest_per_key(batch.rows, job_);
        batch.validate_seconds += seconds_since(t2);
        return batch;
    }

private:
    Extractor& extractor_;
    const JobTable& job_;
    JobRules rules_;
    int batch_size_;
    int next_fetch_;
    std::string run_id_;
    std::vector<BinaryField> fields_;
    std::vector<std::size_t> checked_;  ///< the columns the checks read
};

// The integer position to save after a window, and the recent positions by time: each
// marked with the clock after the snapshot it was read in (`read_at`), so that a value
// allocated after a mark's time lies above its position.
CheckpointState integer_state(const Config& config, const CheckpointStore& checkpoints,
                              std::int64_t position, Timestamp read_at) {
    CheckpointState state;
    state.position = position;
    if (const CheckpointLoad previous = checkpoints.peek(); previous.state) {
        state.positions = previous.state->positions;
    }
    state.positions.push_back({read_at, position});
    // Older than the cap (plus a day) no floor can reach; keep the list bounded too.
    const std::int64_t horizon =
        read_at.micros - (config.holdback_max_minutes + 1440) * micros_per_minute;
    std::erase_if(state.positions, [&](const PositionMark& m) { return m.at.micros < horizon; });
    if (state.positions.size() > max_position_marks) {
        state.positions.erase(
            state.positions.begin(),
            state.positions.end() - static_cast<std::ptrdiff_t>(max_position_marks));
    }
    return state;
}

// --date picks a day; an integer cursor has none.
void refuse_integer_backfill(const JobTable& job, const RunOptions& options) {
    if (options.backfill_date && job.cursor_kind == CursorKind::integer) {
        throw Error(ErrorKind::config,
                    fmt::format("job {} has an integer cursor ({}): it has no days to backfill",
                                job.name, job.cursor_column().name),
                    {}, {},
                    "to reload it, `checkpoint reset --job " + job.name +
                        " --yes` and run it again (newer-wins makes that safe)");
    }
}

}  // namespace

RunSummary run_declared_job(const Config& config, const RunOptions& options) {
    const JobTable& job = *config.job;
    const auto steady_start = SteadyClock::now();
    const Timestamp started = now_utc();
    RunSummary summary;
    summary.run_id = make_run_id(started);
    summary.job = job.name;
    summary.mode = options.backfill_date ? RunMode::backfill : RunMode::incremental;
    set_log_context(summary.run_id, config.pipeline_name,
                    std::string(to_string(config.environment)));
    refuse_integer_backfill(job, options);
    const std::string application_name = run_application_name(config, summary.run_id);
    const RunRecord record =
        first_record(config, summary.run_id, summary.mode,
                     options.backfill_date.value_or(utc_parts(started).date), started);
    log_info("run started",
             {{"event", "run_started"},
              {"job", job.name},
              {"mode", to_string(summary.mode)},
              {"run_date", format_date(record.run_date)},
              {"source", describe_pg_target(config.source_url) + " " + job.source.str()},
              {"destination", describe_destination(config.destination)},
              {"batch_size", config.batch_size}});

    Retrier retrier(config.retry);
    const FailPoints fail_points(config.fail_points);
    if (fail_points.armed()) {
        log_warning(
            "fail points are armed (ORDERS_PIPELINE_FAIL_POINT); this run may be "
            "killed on purpose",
            {{"event", "fail_points_armed"}});
    }
    StartedRun started_run(config, options.on_finished, record, application_name, retrier,
                           steady_start);
    PipelineLock& lock = started_run.lock();
    RunCounts counts;
    try {
        // Drift against the target's columns was checked when the job was planned;
        // new source columns that are not declared are reported once.
        JobColumnsMemory columns(config.checkpoint_dir, job.name);
        if (const auto fresh = columns.unreported(job); !fresh.empty()) {
            LogFields names = LogFields::array();
            for (const std::string& name : fresh) {
                names.push_back(name);
            }
            log_warning(fmt::format("new column(s) at {} are not loaded (not declared): to load "
                                    "them, list them under the job's columns:, or delete "
                                    "{}.columns.json in CHECKPOINT_DIR to take every source "
                                    "column",
                                    job.source.str(), job.name),
                        {{"event", "source_columns_ignored"}, {"columns", std::move(names)}});
            columns.remember(job);
        }
        bool columns_remembered = false;

        const CheckpointStore checkpoints(config.checkpoint_dir, config.pipeline_name);
        const WindowRequest window = plan_window(config, options, checkpoints);
        summary.window_from = window.lower;
        summary.window_from_position = window.lower_position;

        const SourceConnector connect_source = source_connector(config, application_name);
        Retrier extract_retrier(config.retry);
        Extractor extractor(connect_source, extract_retrier, ExtractSpec::job(job), window,
                            config.batch_size);
        summary.window_until = extractor.until();
        summary.window_until_position = extractor.until_position();
        LogFields opened = {{"event", "window_opened"}, {"cursor", job.cursor_column().name}};
        if (job.cursor_kind == CursorKind::integer) {
            opened["from"] = window.lower_position ? LogFields(*window.lower_position) : nullptr;
            opened["until"] =
                summary.window_until_position ? LogFields(*summary.window_until_position) : nullptr;
            opened["bounds"] = "(from, until]";
            if (window.held_back && window.held_back->from_position) {
                opened["held_back_from"] = *window.held_back->from_position;
            }
        } else {
            opened["from"] = window.lower ? format_timestamp(*window.lower) : "-infinity";
            opened["until"] = format_timestamp(summary.window_until);
            opened["bounds"] =
                window.kind == WindowRequest::Kind::backfill ? "[from, until)" : "(from, until]";
            if (window.held_back) {
                opened["held_back_from"] = format_timestamp(window.held_back->from);
            }
        }
        log_info("window opened", opened);

        DlqWriter dlq(config.dlq_dir, config.pipeline_name, summary.run_id);
        BatchTimings timings;
        int batch_number = 0;
        JobBatchReader batches(extractor, job, target_limits(config), config.batch_size,
                               summary.run_id);
        BatchReader<JobReadyBatch> reader(
            [&](const std::atomic<bool>& cancelled) { return batches.read(cancelled); });
        for (;;) {
            if (stop_requested()) {
                throw Error(ErrorKind::cancelled,
                            fmt::format("stopped by a signal after {} batch(es); every started "
                                        "batch was committed and the checkpoint was not moved",
                                        batch_number),
                            {}, {},
                            "rerun to load the rest of the window; nothing is lost or "
                            "doubled");
            }
            const auto t0 = SteadyClock::now();
            std::optional<JobReadyBatch> batch = reader.next();
            timings.wait += seconds_since(t0);
            if (!batch) {
                break;
            }
            ++batch_number;
            timings.extract += batch->extract_seconds;
            timings.validate += batch->validate_seconds;
            fail_points.hit(FailSite::after_extract, batch_number);
            for (std::string& line : batch->dlq_lines) {
                dlq.append(std::move(line));
            }
            dlq.flush();
            check_rejection_brake(config, batch->extracted, batch->rejected,
                                  batch->rejected_by_code, batch_number, dlq);

            retrier.run("check the run lock", [&] { lock.ensure_held(); });
            const BatchContext context{batch_number, &fail_points};
            MergeCounts merged;
            if (!batch->rows.empty() || started_run.is_started()) {
                Warehouse& warehouse = started_run.started();
                if (!columns_remembered) {
                    columns.remember(job);  // what the target is now made of
                    columns_remembered = true;
                }
                merged = retrier.run("load a batch",
                                     [&] { return warehouse.load_job_rows(batch->rows, context); });
            } else {
                // Nothing to load and the warehouse asleep (Snowflake): leave it so.
                context.hit(FailSite::after_stage);
                context.hit(FailSite::after_merge);
            }
            timings.stage += merged.stage_seconds;
            timings.merge += merged.merge_seconds;
            timings.commit += merged.commit_seconds;
            fail_points.hit(FailSite::after_commit, batch_number);

            counts.rows_extracted += batch->extracted;
            counts.rows_rejected += batch->rejected;
            counts.rows_written += static_cast<std::int64_t>(batch->rows.size());
            counts.rows_inserted += merged.inserted;
            counts.rows_updated += merged.updated;
            log_info("batch loaded", {{"event", "batch_loaded"},
                                      {"batch", batch_number},
                                      {"rows_extracted", batch->extracted},
                                      {"rows_written", batch->rows.size()},
                                      {"rows_rejected", batch->rejected},
                                      {"rows_inserted", merged.inserted},
                                      {"rows_updated", merged.updated},
                                      {"duplicates_collapsed", batch->duplicates}});
            if (static_cast<double>(batch->rejected) >
                reject_warning_ratio * static_cast<double>(batch->extracted)) {
                log_warning("more than 5% of the batch was rejected; see the DLQ file",
                            {{"event", "high_rejection_rate"},
                             {"scope", "batch"},
                             {"batch", batch_number},
                             {"rows_rejected", batch->rejected},
                             {"rows_extracted", batch->extracted},
                             {"dlq_file", dlq.path().string()}});
            }
        }
        dlq.close();
        if (counts.rows_rejected > 0) {
            summary.dlq_file = dlq.path();
        }
        fail_points.hit(FailSite::before_checkpoint);
        if (summary.mode == RunMode::incremental) {
            const Sighting& seen = *extractor.sighting();
            const NextWindow next = plan_next_window(seen, hold_back_settings(config));
            summary.holdback_seconds = hold_back_seconds(next.hold_back, seen.at);
            summary.holdback_capped = next.hold_back && next.hold_back->capped;
            summary.oldest_transaction_seconds = oldest_transaction_seconds(seen.open, seen.at);
            if (next.hold_back) {
                log_hold_back(config, seen, *next.hold_back);
            }
            if (counts.rows_extracted > 0) {
                retrier.run("check the run lock", [&] { lock.ensure_held(); });
                CheckpointState state;
                if (job.cursor_kind == CursorKind::integer) {
                    state = integer_state(config, checkpoints,
                                          summary.window_until_position.value_or(0),
                                          extractor.until_position_at());
                    summary.position_saved = state.position;
                }
                state.watermark = seen.at;
                state.saved_at = now_utc();
                state.unseen = next.unseen;
                state.hold_back = next.hold_back;
                checkpoints.save_state(
                    std::move(state), [&] { fail_points.hit(FailSite::checkpoint_before_rename); });
                summary.checkpoint_saved = seen.at;
                LogFields saved = {{"event", "checkpoint_saved"},
                                   {"watermark", format_timestamp(seen.at)},
                                   {"holdback_seconds", summary.holdback_seconds},
                                   {"file", checkpoints.path().string()}};
                if (summary.position_saved) {
                    saved["position"] = *summary.position_saved;
                }
                log_info("checkpoint advanced", saved);
            } else {
                log_info("no rows in the window; checkpoint unchanged",
                         {{"event", "checkpoint_unchanged"}});
            }
        }
        summary.rows_reread = extractor.rows_reread();
        summary.counts = counts;
        summary.duration_seconds = started_run.elapsed();
        fail_points.hit(FailSite::before_final_record);
        started_run.finish(RunStatus::success, counts);
        LogFields finished = {{"event", "run_finished"},
                              {"status", "success"},
                              {"job", job.name},
                              {"rows_extracted", counts.rows_extracted},
                              {"rows_written", counts.rows_written},
                              {"rows_rejected", counts.rows_rejected},
                              {"rows_inserted", counts.rows_inserted},
                              {"rows_updated", counts.rows_updated},
                              {"batches", batch_number},
                              {"duration_seconds", summary.duration_seconds},
                              {"extract_seconds", timings.extract},
                              {"extract_wait_seconds", timings.wait},
                              {"validate_seconds", timings.validate},
                              {"stage_seconds", timings.stage},
                              {"merge_seconds", timings.merge},
                              {"commit_seconds", timings.commit},
                              {"retries", retrier.retries() + extract_retrier.retries()},
                              {"source_resumes", extractor.resumes()},
                              {"rows_reread", summary.rows_reread},
                              {"holdback_seconds", summary.holdback_seconds},
                              {"holdback_capped", summary.holdback_capped},
                              {"dlq_file", summary.dlq_file ? summary.dlq_file->string() : ""}};
        if (const auto spent = started_run.cost()) {
            finished["warehouse_seconds"] = spent->seconds;
            finished["credits_estimate"] = spent->credits ? LogFields(*spent->credits) : nullptr;
            finished["warehouse_woken"] = started_run.is_started();
        }
        log_info("run finished", finished);
        return summary;
    } catch (const Error& e) {
        started_run.finish(
            e.kind() == ErrorKind::cancelled ? RunStatus::cancelled : RunStatus::failed, counts,
            e.what());
        throw;
    } catch (const std::exception& e) {
        started_run.finish(RunStatus::failed, counts, e.what());
        throw;
    }
}

DryRunSummary dry_run_declared_job(const Config& config, const RunOptions& options) {
    const JobTable& job = *config.job;
    refuse_integer_backfill(job, options);
    DryRunSummary out;
    out.job = job.name;
    out.backfill = options.backfill_date.has_value();
    WindowRequest window;
    if (options.backfill_date) {
        window = backfill_window(*options.backfill_date);
    } else {
        // peek, not load: load moves a corrupt checkpoint aside, and a dry run writes nothing.
        const CheckpointStore store(config.checkpoint_dir, config.pipeline_name);
        const CheckpointLoad peeked = store.peek();
        if (peeked.warning) {
            out.checkpoint_note = fmt::format(
                "checkpoint {} is corrupt ({}); a run would move it aside and start as if "
                "none existed",
                store.path().string(), *peeked.warning);
        }
        window = incremental_window(config, peeked.state);
        window.sight = false;  // nothing is saved
    }
    const ExtractSpec spec = ExtractSpec::job(job);
    out.window_from = window.lower;
    out.window_from_position = window.lower_position;
    out.extract_sql = Extractor::select_sql(spec, window);
    out.load_sql = planned_statements(config.destination, config.pipeline_name, job);

    Retrier retrier(config.retry);
    const SourceConnector connect_source = source_connector(config, "orders-pipeline dry-run");
    Extractor extractor(connect_source, retrier, spec, window, config.batch_size);
    out.window_until = extractor.until();
    out.window_until_position = extractor.until_position();
    JobBatchReader batches(extractor, job, target_limits(config), config.batch_size, "dry-run");
    const std::atomic<bool> never{false};
    RejectedByCode by_code;
    while (std::optional<JobReadyBatch> batch = batches.read(never)) {
        ++out.batches;
        out.counts.rows_extracted += batch->extracted;
        out.counts.rows_rejected += batch->rejected;
        out.counts.rows_written += static_cast<std::int64_t>(batch->rows.size());
        for (const auto& [code, n] : batch->rejected_by_code) {
            by_code[code] += n;
        }
    }
    out.rejected_by_code.assign(by_code.begin(), by_code.end());
    return out;
}

}  // namespace pipeline
