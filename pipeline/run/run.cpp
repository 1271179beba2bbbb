// pipeline/run/run.cpp: the orchestration of one run, and nothing else.
#include "pipeline/run/run.hpp"

#include <fmt/format.h>

#include <chrono>
#include <map>
#include <random>
#include <vector>

#include "pipeline/core/error.hpp"
#include "pipeline/orders/batch.hpp"
#include "pipeline/orders/transform.hpp"
#include "pipeline/orders/validate.hpp"
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

constexpr double reject_warning_ratio = 0.05;

/// Rows per FETCH inside a batch: bounds the libpq result alive at once.
constexpr int fetch_rows = 5'000;

/// Writes the run record at start (`running`) and at the end. If the run ends
/// without finish() (an exception escaped), the destructor records `failed`.
class RunRecorder {
public:
    RunRecorder(Warehouse& warehouse, Retrier& retrier, RunRecord record,
                SteadyClock::time_point started, std::function<void(const RunRecord&)> on_finished)
        : warehouse_(warehouse),
          retrier_(retrier),
          record_(std::move(record)),
          started_(started),
          on_finished_(std::move(on_finished)) {
        retrier_.run("write the run record", [&] { warehouse_.upsert_run_record(record_); });
    }
    RunRecorder(const RunRecorder&) = delete;
    RunRecorder& operator=(const RunRecorder&) = delete;
    ~RunRecorder() {
        if (!finished_) {
            finish(RunStatus::failed, record_.counts, "the run ended without reporting a result");
        }
    }

    /// Records the final state; never throws (a failure to record is logged).
    void finish(RunStatus status, const RunCounts& counts,
                std::optional<std::string> error = std::nullopt) noexcept {
        finished_ = true;
        record_.status = status;
        record_.counts = counts;
        record_.finished_at = now_utc();
        record_.duration_seconds = seconds_since(started_);
        record_.error_message = std::move(error);
        try {
            retrier_.run("write the run record", [&] { warehouse_.upsert_run_record(record_); });
        } catch (const std::exception& e) {
            log_error("could not write the run record", {{"event", "run_record_failed"},
                                                         {"status", to_string(status)},
                                                         {"error", e.what()}});
        }
        if (on_finished_) {
            on_finished_(record_);
        }
    }

    double elapsed() const { return seconds_since(started_); }

private:
    Warehouse& warehouse_;
    Retrier& retrier_;
    RunRecord record_;
    SteadyClock::time_point started_;
    std::function<void(const RunRecord&)> on_finished_;
    bool finished_ = false;
};

// The window for this run, from the checkpoint (incremental) or the date (backfill).
// [start of day, start of next day): the window of a backfill.
WindowRequest backfill_window(CivilDate date) {
    WindowRequest window;
    window.kind = WindowRequest::Kind::backfill;
    window.lower = start_of_day(date);
    window.upper = Timestamp{window.lower->micros + micros_per_day};
    return window;
}

// The exclusive lower bound of an incremental window after `watermark`.
Timestamp after_overlap(const Config& config, Timestamp watermark) {
    return Timestamp{watermark.micros - config.overlap_minutes * micros_per_minute};
}

HoldBackSettings hold_back_settings(const Config& config) {
    return {config.holdback_max_minutes * micros_per_minute,
            config.max_transaction_minutes * micros_per_minute};
}

// An incremental window after `state` (nullopt: no checkpoint): its lower
// bound, the held-back part the state asks for, and a sighting for the next.
WindowRequest incremental_window(const Config& config,
                                 const std::optional<CheckpointState>& state) {
    WindowRequest window;
    window.sight = true;
    if (!state) {
        window.lower = config.start_from;  // no overlap: the operator chose this bound
        return window;
    }
    window.lower = after_overlap(config, state->watermark);
    if (state->hold_back) {
        const HoldBack& h = *state->hold_back;
        window.held_back = HeldBackPart{after_overlap(config, h.floor), h.xid_from, h.xids};
    } else if (state->hold_back_unreadable) {
        // Safe default: reach back as far as the cap allows, for every transaction.
        window.held_back = HeldBackPart{
            after_overlap(config, Timestamp{state->watermark.micros -
                                            config.holdback_max_minutes * micros_per_minute}),
            0,
            {}};
    }
    if (window.held_back && window.held_back->from > *window.lower) {
        window.held_back.reset();
    }
    return window;
}

WindowRequest plan_window(const Config& config, const RunOptions& options,
                          const CheckpointStore& checkpoints) {
    if (options.backfill_date) {
        return backfill_window(*options.backfill_date);
    }
    CheckpointLoad loaded = checkpoints.load(now_utc());
    if (loaded.warning) {
        log_warning(*loaded.warning, {{"event", "checkpoint_corrupt"}});
    }
    if (loaded.state) {
        const CheckpointState& state = *loaded.state;
        log_info("checkpoint loaded",
                 {{"event", "checkpoint_loaded"},
                  {"watermark", format_timestamp(state.watermark)},
                  {"version", state.version},
                  {"overlap_minutes", config.overlap_minutes},
                  {"holdback_seconds", hold_back_seconds(state.hold_back, state.watermark)}});
        if (state.hold_back_unreadable) {
            log_warning(fmt::format("the checkpoint's hold-back is unreadable ({}); this window "
                                    "reaches back ORDERS_PIPELINE_HOLDBACK_MAX_MINUTES for "
                                    "every transaction",
                                    *state.hold_back_unreadable),
                        {{"event", "checkpoint_hold_back_unreadable"}});
        }
    } else if (config.start_from) {
        log_info("no checkpoint; starting from ORDERS_PIPELINE_START_FROM",
                 {{"event", "checkpoint_missing"},
                  {"start_from", format_timestamp(*config.start_from)}});
    } else {
        log_info("no checkpoint; this run loads everything up to the source's clock",
                 {{"event", "checkpoint_missing"}});
    }
    return incremental_window(config, loaded.state);
}

// Logs what the next window waits for; loudly when the cap cut it short.
void log_hold_back(const Config& config, const Sighting& seen, const HoldBack& hold_back) {
    LogFields waiting = LogFields::array();
    for (const OpenTransaction& t : hold_back.waiting) {
        if (waiting.size() == 10) {
            break;
        }
        waiting.push_back(describe(t));
    }
    LogFields fields = {
        {"event", hold_back.capped ? "holdback_capped" : "holdback"},
        {"mode", to_string(hold_back.mode)},
        {"holdback_seconds", hold_back_seconds(hold_back, seen.at)},
        {"oldest_transaction_seconds", oldest_transaction_seconds(seen.open, seen.at)},
        {"transactions", hold_back.waiting.size()},
        {"waiting", std::move(waiting)}};
    if (hold_back.capped) {
        log_warning(fmt::format("an open source transaction is older than "
                                "ORDERS_PIPELINE_HOLDBACK_MAX_MINUTES ({} min): rows it writes "
                                "with an updated_at older than that can be missed; end it, or "
                                "backfill its days after it commits",
                                config.holdback_max_minutes),
                    fields);
    } else {
        log_info("the next window reaches back for transactions still open", fields);
    }
}

// "orders-pipeline <pipeline> <run id>": how a run's sessions name themselves.
std::string run_application_name(const Config& config, const std::string& run_id) {
    return fmt::format("orders-pipeline {} {}", config.pipeline_name, run_id);
}

// The record a run writes first (status `running`).
RunRecord first_record(const Config& config, const std::string& run_id, RunMode mode,
                       CivilDate run_date, Timestamp started) {
    RunRecord record;
    record.run_id = run_id;
    record.pipeline_name = config.pipeline_name;
    record.mode = mode;
    record.run_date = run_date;
    record.started_at = started;
    record.environment = to_string(config.environment);
    return record;
}

// Opens source sessions ready for extraction, labelled `application_name`.
SourceConnector source_connector(const Config& config, std::string application_name) {
    return [&config, name = std::move(application_name)] {
        PgConnection source(config.source_url, ErrorKind::source, "SOURCE", name);
        prepare_source_session(source, config.source_statement_timeout_seconds);
        return source;
    };
}

// "host:port/db" of a PostgreSQL warehouse, "snowflake ACCOUNT/DB/SCHEMA (warehouse WH)" otherwise.
std::string describe_destination(const DestinationConfig& destination) {
    if (destination.snowflake) {
        const SnowflakeTarget& t = destination.snowflake->target;
        return fmt::format("snowflake {}/{}/{} (warehouse {})", t.account, t.database, t.schema,
                           t.warehouse);
    }
    return describe_pg_target(destination.url);
}

/// Calls Warehouse::end_run on every way out of the run.
class EndRunGuard {
public:
    explicit EndRunGuard(Warehouse& warehouse) : warehouse_(warehouse) {}
    EndRunGuard(const EndRunGuard&) = delete;
    EndRunGuard& operator=(const EndRunGuard&) = delete;
    ~EndRunGuard() { warehouse_.end_run(); }

private:
    Warehouse& warehouse_;
};

/// Everything a run holds from start to end, in the order it is taken and
/// (reversed) released: the warehouse, the run lock, end_run on the way out,
/// and the run record (`failed` unless finished otherwise). The constructor
/// connects, takes the lock (or records `skipped` and throws lock_held),
/// starts the warehouse, ensures the schema and drops stale staging.
class StartedRun {
public:
    StartedRun(const Config& config, const std::function<void(const RunRecord&)>& on_finished,
               RunRecord record, const std::string& application_name, Retrier& retrier,
               SteadyClock::time_point started) {
        const WarehouseSession session{application_name, config.pipeline_name, record.run_id,
                                       config.retry};
        warehouse_ = retrier.run("connect to the destination",
                                 [&] { return make_warehouse(config.destination, session); });
        std::string holder;
        lock_ = retrier.run("take the run lock", [&] {
            return PipelineLock::try_acquire(config, application_name, holder);
        });
        if (!lock_.held()) {
            record.status = RunStatus::skipped;
            record.finished_at = now_utc();
            record.duration_seconds = seconds_since(started);
            record.error_message = "another run holds the lock: " + holder;
            try {
                retrier.run("write the run record", [&] { warehouse_->upsert_run_record(record); });
            } catch (const std::exception& e) {
                log_warning("could not write the skipped run record", {{"error", e.what()}});
            }
            if (on_finished) {
                on_finished(record);
            }
            throw Error(
                ErrorKind::lock_held,
                fmt::format("another run of pipeline '{}' is in progress ({}); nothing was done",
                            config.pipeline_name, holder));
        }
        log_debug("run lock acquired", {{"event", "lock_acquired"}});
        end_.emplace(*warehouse_);
        retrier.run("start the warehouse", [&] { warehouse_->begin_run(); });
        retrier.run("create the destination tables", [&] { warehouse_->ensure_schema(); });
        retrier.run("drop stale staging tables", [&] { warehouse_->drop_stale_staging(); });
        recorder_.emplace(*warehouse_, retrier, std::move(record), started, on_finished);
    }

    Warehouse& warehouse() { return *warehouse_; }
    PipelineLock& lock() { return lock_; }
    RunRecorder& recorder() { return *recorder_; }

private:
    std::unique_ptr<Warehouse> warehouse_;
    PipelineLock lock_;
    std::optional<EndRunGuard> end_;
    std::optional<RunRecorder> recorder_;
};

/// Where a run's time went, per stage, summed over batches.
struct BatchTimings {
    double extract = 0;
    double validate = 0;
    double transform = 0;
    double stage = 0;
    double merge = 0;
    double commit = 0;
    double wait = 0;  ///< the loader waiting for the reader thread (extraction not overlapped)

    void add(const PreparedBatch& p, const MergeCounts& m) {
        validate += p.validate_seconds;
        transform += p.transform_seconds;
        stage += m.stage_seconds;
        merge += m.merge_seconds;
        commit += m.commit_seconds;
    }
};

}  // namespace

std::string make_run_id(Timestamp started) {
    std::random_device device;
    const UtcParts p = utc_parts(started);
    return fmt::format("{:04d}{:02d}{:02d}T{:02d}{:02d}{:02d}Z-{:08x}", p.date.year, p.date.month,
                       p.date.day, p.hour, p.minute, p.second, device());
}

RunSummary run_pipeline(const Config& config, const RunOptions& options) {
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
    Warehouse* const warehouse = &started_run.warehouse();
    PipelineLock& lock = started_run.lock();
    RunRecorder& recorder = started_run.recorder();
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
            // Rows of the transactions the last run waited for, from further back.
            opened["held_back_from"] = format_timestamp(window.held_back->from);
            opened["holdback_seconds"] = seconds_between(window.held_back->from, *window.lower);
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
            const std::vector<OrderRow>& valid = batch->rows;
            const PreparedBatch& prepared = batch->prepared;
            const std::int64_t rejected = prepared.rejected;
            const std::int64_t defaulted = prepared.defaulted;
            const std::size_t duplicates = prepared.duplicates;

            retrier.run("check the run lock", [&] { lock.ensure_held(); });
            const BatchContext context{batch_number, &fail_points};
            const MergeCounts merged =
                retrier.run("load a batch", [&] { return warehouse->load_batch(valid, context); });
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
            const std::optional<HoldBack> next = plan_hold_back(seen, hold_back_settings(config));
            summary.holdback_seconds = hold_back_seconds(next, seen.at);
            summary.holdback_capped = next && next->capped;
            summary.oldest_transaction_seconds = oldest_transaction_seconds(seen.open, seen.at);
            if (next) {
                log_hold_back(config, seen, *next);
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
        summary.duration_seconds = recorder.elapsed();
        fail_points.hit(FailSite::before_final_record);
        recorder.finish(RunStatus::success, counts);
        log_info("run finished",
                 {{"event", "run_finished"},
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
                  {"dlq_file", summary.dlq_file ? summary.dlq_file->string() : ""}});
        return summary;
    } catch (const Error& e) {
        recorder.finish(e.kind() == ErrorKind::cancelled ? RunStatus::cancelled : RunStatus::failed,
                        counts, e.what());
        throw;
    } catch (const std::exception& e) {
        recorder.finish(RunStatus::failed, counts, e.what());
        throw;
    }
}

DryRunSummary dry_run_pipeline(const Config& config, const RunOptions& options) {
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

ReplaySummary replay_dlq(const Config& config, const std::vector<std::filesystem::path>& files) {
    const auto steady_start = SteadyClock::now();
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
                const MergeCounts merged = retrier.run("load a batch", [&] {
                    return started_run.warehouse().load_batch(valid, BatchContext{batch_number});
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
        started_run.recorder().finish(RunStatus::success, counts);
        log_info("replay finished", {{"event", "replay_finished"},
                                     {"rows_replayed", counts.rows_extracted},
                                     {"rows_written", counts.rows_written},
                                     {"rows_rejected", counts.rows_rejected},
                                     {"rows_inserted", counts.rows_inserted},
                                     {"rows_updated", counts.rows_updated}});
        return out;
    } catch (const std::exception& e) {
        started_run.recorder().finish(RunStatus::failed, counts, e.what());
        throw;
    }
}

}  // namespace pipeline
