// pipeline/run/run.cpp: the orchestration of one run, and nothing else.
#include "pipeline/run/run.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <map>
#include <random>
#include <vector>

#include "pipeline/core/error.hpp"
#include "pipeline/orders/batch.hpp"
#include "pipeline/orders/transform.hpp"
#include "pipeline/orders/validate.hpp"
#include "pipeline/run/job_run.hpp"
#include "pipeline/run/run_parts.hpp"
#include "pipeline/run/started_run.hpp"
#include "pipeline/runtime/fail_point.hpp"
#include "pipeline/runtime/logging.hpp"
#include "pipeline/runtime/pg_connection.hpp"
#include "pipeline/runtime/retry.hpp"
#include "pipeline/runtime/stop.hpp"
#include "pipeline/source/commit_window.hpp"
#include "pipeline/source/extractor.hpp"
#include "pipeline/source/read_ahead.hpp"
#include "pipeline/state/atomic_file.hpp"
#include "pipeline/state/checkpoint.hpp"
#include "pipeline/state/dlq.hpp"
#include "pipeline/state/run_lock.hpp"
#include "pipeline/warehouse/warehouse.hpp"

namespace pipeline {

namespace {

using SteadyClock = std::chrono::steady_clock;

}  // namespace

RunSummary run_pipeline(const Config& config, const RunOptions& options) {
    if (config.job) {
        return run_declared_job(config, options);
    }
    const auto steady_start = SteadyClock::now();
    const Timestamp started = now_utc();
    RunSummary summary;
    summary.run_id = make_run_id(started);
    summary.mode = options.backfill_date ? RunMode::backfill : RunMode::incremental;
    set_log_context(summary.run_id, config.pipeline_name,
                    std::string(to_string(config.environment)));
    const std::string application_name = run_application_name(config, summary.run_id);
    const RunRecord record =
        first_record(config, summary.run_id, summary.mode,
                     options.backfill_date.value_or(utc_parts(started).date), started);

    log_info("run started", {{"event", "run_started"},
                             {"mode", to_string(summary.mode)},
                             {"run_date", format_date(record.run_date)},
                             {"source", describe_pg_target(config.source_url)},
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
        const CheckpointStore checkpoints(config.checkpoint_dir, config.pipeline_name);
        const WindowRequest window = plan_window(config, options, checkpoints);
        summary.window_from = window.lower;

        const SourceConnector connect_source = source_connector(config, application_name);
        // The extractor runs on the reader thread (ReadAhead) with its own Retrier.
        Retrier extract_retrier(config.retry);
        Extractor extractor(connect_source, extract_retrier, config.source_schema,
                            config.source_table, window, config.batch_size);
        summary.window_until = extractor.until();
        LogFields opened = {
            {"event", "window_opened"},
            {"from", window.lower ? format_timestamp(*window.lower) : "-infinity"},
            {"until", format_timestamp(summary.window_until)},
            {"bounds",
             window.kind == WindowRequest::Kind::backfill ? "[from, until)" : "(from, until]"}};
        if (window.held_back) {
            // Rows the last snapshot could not see, from the overlap and the hold-back.
            opened["held_back_from"] = format_timestamp(window.held_back->from);
            opened["holdback_seconds"] =
                std::max(0.0, seconds_between(window.held_back->from, *window.lower));
        }
        log_info("window opened", opened);

        DlqWriter dlq(config.dlq_dir, config.pipeline_name, summary.run_id);
        BatchTimings timings;
        int batch_number = 0;
        ReadAhead reader(extractor, config.batch_size, std::min(config.batch_size, fetch_rows),
                         summary.run_id);
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
            std::optional<ReadyBatch> batch = reader.next();
            timings.wait += seconds_since(t0);
            if (!batch) {
                break;
            }
            ++batch_number;
            timings.extract += batch->extract_seconds;
            fail_points.hit(FailSite::after_extract, batch_number);
            for (std::string& line : batch->dlq_lines) {
                dlq.append(std::move(line));
            }
            dlq.flush();
            check_rejection_brake(config, batch->extracted, batch->prepared.rejected,
                                  batch->rejected_by_code, batch_number, dlq);
            const std::vector<OrderRow>& valid = batch->rows;
            const PreparedBatch& prepared = batch->prepared;
            const std::int64_t rejected = prepared.rejected;
            const std::int64_t defaulted = prepared.defaulted;
            const std::size_t duplicates = prepared.duplicates;

            retrier.run("check the run lock", [&] { lock.ensure_held(); });
            const BatchContext context{batch_number, &fail_points};
            MergeCounts merged;
            if (!valid.empty() || started_run.is_started()) {
                Warehouse& warehouse = started_run.started();
                merged = retrier.run("load a batch",
                                     [&] { return warehouse.load_batch(valid, context); });
            } else {
                // Nothing to load and the warehouse asleep (Snowflake): leave it so.
                context.hit(FailSite::after_stage);
                context.hit(FailSite::after_merge);
            }
            timings.add(prepared, merged);
            fail_points.hit(FailSite::after_commit, batch_number);

            const std::int64_t extracted = batch->extracted;
            counts.rows_extracted += extracted;
            counts.rows_rejected += rejected;
            counts.rows_written += static_cast<std::int64_t>(valid.size());
            counts.rows_inserted += merged.inserted;
            counts.rows_updated += merged.updated;
            log_info("batch loaded", {{"event", "batch_loaded"},
                                      {"batch", batch_number},
                                      {"rows_extracted", extracted},
                                      {"rows_written", valid.size()},
                                      {"rows_rejected", rejected},
                                      {"rows_inserted", merged.inserted},
                                      {"rows_updated", merged.updated},
                                      {"duplicates_collapsed", duplicates}});
            if (defaulted > 0) {
                log_warning("payment_method not recognised; stored as 'unknown'",
                            {{"event", "payment_method_defaulted"},
                             {"batch", batch_number},
                             {"rows", defaulted}});
            }
            if (static_cast<double>(rejected) >
                reject_warning_ratio * static_cast<double>(extracted)) {
                log_warning("more than 5% of the batch was rejected; see the DLQ file",
                            {{"event", "high_rejection_rate"},
                             {"scope", "batch"},
                             {"batch", batch_number},
                             {"rows_rejected", rejected},
                             {"rows_extracted", extracted},
                             {"dlq_file", dlq.path().string()}});
            }
        }
        // The DLQ must be durable before the checkpoint can move past its rows.
        dlq.close();
        if (counts.rows_rejected > 0) {
            summary.dlq_file = dlq.path();
        }
        if (static_cast<double>(counts.rows_rejected) >
            reject_warning_ratio * static_cast<double>(counts.rows_extracted)) {
            log_warning("more than 5% of the run was rejected; see the DLQ file",
                        {{"event", "high_rejection_rate"},
                         {"scope", "run"},
                         {"rows_rejected", counts.rows_rejected},
                         {"rows_extracted", counts.rows_extracted},
                         {"dlq_file", dlq.path().string()}});
        }
        fail_points.hit(FailSite::before_checkpoint);
        if (summary.mode == RunMode::incremental) {
            // The next window: from the source's clock when this run looked at
            // its open transactions (just before the snapshot), reaching back
            // for those that were still open.
            const Sighting& seen = *extractor.sighting();
            const NextWindow next = plan_next_window(seen, hold_back_settings(config));
            summary.holdback_seconds = hold_back_seconds(next.hold_back, seen.at);
            summary.holdback_capped = next.hold_back && next.hold_back->capped;
            summary.oldest_transaction_seconds = oldest_transaction_seconds(seen.open, seen.at);
            if (next.hold_back) {
                log_hold_back(config, seen, *next.hold_back);
            }
            if (counts.rows_extracted > 0) {
                // Never move the checkpoint without holding the lock.
                retrier.run("check the run lock", [&] { lock.ensure_held(); });
                checkpoints.save(seen.at, now_utc(), next,
                                 [&] { fail_points.hit(FailSite::checkpoint_before_rename); });
                summary.checkpoint_saved = seen.at;
                log_info("checkpoint advanced", {{"event", "checkpoint_saved"},
                                                 {"watermark", format_timestamp(seen.at)},
                                                 {"holdback_seconds", summary.holdback_seconds},
                                                 {"file", checkpoints.path().string()}});
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
                              {"transform_seconds", timings.transform},
                              {"stage_seconds", timings.stage},
                              {"merge_seconds", timings.merge},
                              {"commit_seconds", timings.commit},
                              {"retries", retrier.retries() + extract_retrier.retries()},
                              {"source_resumes", extractor.resumes()},
                              {"rows_reread", summary.rows_reread},
                              {"holdback_seconds", summary.holdback_seconds},
                              {"holdback_capped", summary.holdback_capped},
                              {"oldest_transaction_seconds", summary.oldest_transaction_seconds},
                              {"dlq_file", summary.dlq_file ? summary.dlq_file->string() : ""}};
        if (const auto spent = started_run.cost()) {
            // After end_run: from RESUME to SUSPEND when this run resumed it.
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

DryRunSummary dry_run_pipeline(const Config& config, const RunOptions& options) {
    if (config.job) {
        return dry_run_declared_job(config, options);
    }
    DryRunSummary out;
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
    out.window_from = window.lower;
    out.extract_sql = Extractor::select_sql(config.source_schema, config.source_table, window);
    out.load_sql = planned_statements(config.destination, config.pipeline_name);

    Retrier retrier(config.retry);
    const SourceConnector connect_source = source_connector(config, "orders-pipeline dry-run");
    Extractor extractor(connect_source, retrier, config.source_schema, config.source_table, window,
                        config.batch_size);
    out.window_until = extractor.until();
    std::map<std::string, std::int64_t, std::less<>> by_code;
    std::vector<OrderRow> valid;
    while (auto batch = extractor.next_batch()) {
        ++out.batches;
        const PreparedBatch prepared =
            prepare_batch(batch->rows, now_utc(), valid, [&](const SourceRow&, const Rejection& r) {
                ++by_code[std::string(to_string(r.reason))];
            });
        out.counts.rows_extracted += static_cast<std::int64_t>(batch->rows.size());
        out.counts.rows_rejected += prepared.rejected;
        out.counts.rows_written += static_cast<std::int64_t>(valid.size());
    }
    out.rejected_by_code.assign(by_code.begin(), by_code.end());
    return out;
}

}  // namespace pipeline
