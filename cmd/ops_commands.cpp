// cmd/ops_commands.cpp: backfill, runs and checkpoint: the on-call engineer's commands.
#include "cmd/ops_commands.hpp"

#include <fmt/format.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <nlohmann/json.hpp>

#include "cmd/run_command.hpp"
#include "cmd/signals.hpp"
#include "pipeline/core/error.hpp"
#include "pipeline/observe/run_history.hpp"
#include "pipeline/ops/doctor.hpp"
#include "pipeline/orders/validate.hpp"
#include "pipeline/run/run.hpp"
#include "pipeline/runtime/logging.hpp"
#include "pipeline/runtime/pg_connection.hpp"
#include "pipeline/runtime/stop.hpp"
#include "pipeline/state/atomic_file.hpp"
#include "pipeline/state/checkpoint.hpp"
#include "pipeline/state/dlq.hpp"
#include "pipeline/state/run_lock.hpp"

namespace cmd {

namespace {

using Json = nlohmann::ordered_json;

std::string human_seconds(double seconds) {
    const auto s = static_cast<long long>(seconds + 0.5);
    if (s < 120) {
        return fmt::format("{}s", s);
    }
    if (s < 7200) {
        return fmt::format("{}m{:02d}s", s / 60, s % 60);
    }
    return fmt::format("{}h{:02d}m", s / 3600, (s % 3600) / 60);
}

// Reports a failure of a command other than run: one line on stderr, exit code.
int command_failed(const std::exception& e, std::string_view command) {
    const auto* error = dynamic_cast<const pipeline::Error*>(&e);
    fmt::print(stderr, "{} failed: {}\n", command, e.what());
    if (error != nullptr && !error->hint().empty()) {
        fmt::print(stderr, "hint: {}\n", error->hint());
    }
    return to_int(error != nullptr ? exit_code_for(error->kind()) : ExitCode::run_failed);
}

// The source database's clock (the clock windows are cut by).
pipeline::Timestamp source_now(const pipeline::Config& config) {
    pipeline::PgConnection source(config.source_url, pipeline::ErrorKind::source, "SOURCE",
                                  "orders-pipeline checkpoint");
    const auto result =
        source.exec("SELECT to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"')",
                    "[SELECT now()]");
    auto now = pipeline::parse_timestamp(result.value(0, 0), pipeline::OffsetRule::required);
    if (!now) {
        throw pipeline::Error(pipeline::ErrorKind::source, "the source's clock is unreadable");
    }
    return *now;
}

// Takes the pipeline's run lock for a command that changes state; nullopt
// (after printing who holds it) when a run is in progress.
std::optional<pipeline::PipelineLock> lock_for(const pipeline::Config& config,
                                               std::string_view command) {
    std::string holder;
    auto lock = pipeline::PipelineLock::try_acquire(
        config, fmt::format("orders-pipeline {} {}", config.pipeline_name, command), holder);
    if (!lock.held()) {
        fmt::print(stderr, "{}: another run of pipeline '{}' is in progress ({}); nothing done\n",
                   command, config.pipeline_name, holder);
        return std::nullopt;
    }
    return lock;
}

}  // namespace

// ---- backfill ---------------------------------------------------------------

void add_backfill_command(CLI::App& app, BackfillOptions& options) {
    CLI::App* cmd = app.add_subcommand(
        "backfill", "Reprocess the rows updated on a range of UTC days, one day at a time");
    cmd->footer(
        "Each day D from --from to --to (both included) is one run of `run --date D`: rows\n"
        "with updated_at in [D, D+1) go through the normal validate/transform/staging+MERGE\n"
        "path (newer-wins, so it is safe next to live data and idempotent). The incremental\n"
        "checkpoint is neither read nor moved. Each day takes the run lock and writes its own\n"
        "run record (mode backfill). It stops at the first failed day and exits with that\n"
        "day's code; rerun with --from set to that day. On a terminal it shows progress.");
    cmd->add_option("--from", options.from, "First UTC day, YYYY-MM-DD")->required();
    cmd->add_option("--to", options.to, "Last UTC day, YYYY-MM-DD (included)")->required();
    add_config_option(*cmd, options.common);
    add_metrics_option(*cmd, options.metrics_file);
}

int run_backfill(const BackfillOptions& options) {
    const auto from = pipeline::parse_date(options.from);
    const auto to = pipeline::parse_date(options.to);
    if (!from || !to) {
        fmt::print(stderr, "error: --from and --to must be dates of the form YYYY-MM-DD\n");
        return to_int(ExitCode::usage);
    }
    const std::int64_t first = pipeline::days_from_civil(*from);
    const std::int64_t last = pipeline::days_from_civil(*to);
    if (last < first) {
        fmt::print(stderr, "error: --to {} is before --from {}\n", options.to, options.from);
        return to_int(ExitCode::usage);
    }
    ExitCode config_exit = ExitCode::success;
    auto config = load_config(options.common, config_exit);
    if (!config) {
        return to_int(config_exit);
    }
    if (config->job && config->job->cursor_kind == pipeline::CursorKind::integer) {
        fmt::print(stderr,
                   "error: job {} has an integer cursor ({}): it has no days to backfill; to "
                   "reload it, `checkpoint reset --job {} --yes` and run it again (newer-wins "
                   "makes that safe)\n",
                   config->job->name, config->job->cursor_column().name, config->job->name);
        return to_int(ExitCode::config);
    }
    install_stop_handlers(to_int(ExitCode::cancelled));
    const bool terminal = ::isatty(STDERR_FILENO) == 1;
    const auto started = std::chrono::steady_clock::now();
    const std::int64_t days = last - first + 1;
    std::int64_t rows = 0;
    for (std::int64_t day = first; day <= last; ++day) {
        if (pipeline::stop_requested()) {
            return to_int(ExitCode::cancelled);
        }
        pipeline::RunOptions run_options;
        run_options.backfill_date = pipeline::civil_from_days(day);
        pipeline::RunSummary summary;
        const int code = execute_run(*config, run_options, options.metrics_file, false, &summary);
        const std::string date = pipeline::format_date(*run_options.backfill_date);
        if (code != to_int(ExitCode::success)) {
            fmt::print(stderr, "backfill stopped at {} (day {} of {}); rerun with --from {}\n",
                       date, day - first + 1, days, date);
            return code;
        }
        rows += summary.counts.rows_extracted;
        const std::int64_t done = day - first + 1;
        const double elapsed = pipeline::seconds_since(started);
        const double rate = elapsed > 0 ? static_cast<double>(rows) / elapsed : 0;
        const double eta = elapsed / static_cast<double>(done) * static_cast<double>(days - done);
        pipeline::log_info("backfill day done", {{"event", "backfill_progress"},
                                                 {"date", date},
                                                 {"days_done", done},
                                                 {"days", days},
                                                 {"rows_extracted", rows},
                                                 {"rows_per_second", rate},
                                                 {"eta_seconds", eta}});
        if (terminal) {
            fmt::print(stderr, "\r[{}/{}] {}  rows {}  {:.0f} rows/s  ETA {}   ", done, days, date,
                       rows, rate, human_seconds(eta));
            std::fflush(stderr);
        }
    }
    if (terminal) {
        fmt::print(stderr, "\n");
    }
    fmt::print("backfill {} .. {} succeeded: {} day(s), {} rows extracted\n", options.from,
               options.to, days, rows);
    return to_int(ExitCode::success);
}

// ---- runs -------------------------------------------------------------------

void add_runs_command(CLI::App& app, RunsOptions& options) {
    CLI::App* cmd =
        app.add_subcommand("runs", "List recent run records of this pipeline, newest first");
    cmd->add_option("--limit", options.limit, "How many (default 20)")->check(CLI::Range(1, 10000));
    cmd->add_option("--status", options.status,
                    "Only runs with this status: running, success, failed, skipped, cancelled")
        ->check(CLI::IsMember({"running", "success", "failed", "skipped", "cancelled"}));
    cmd->add_flag("--json", options.json, "One JSON array instead of a table");
    add_config_option(*cmd, options.common);
    cmd->footer(
        "PostgreSQL warehouses: read from the run table. Snowflake: read from the local run\n"
        "journal beside the checkpoint (the last 100 runs, and records still waiting to be\n"
        "written because no run has woken the warehouse since), so it never wakes it.");
}

int run_runs(const RunsOptions& options) {
    ExitCode config_exit = ExitCode::success;
    auto config = load_config(options.common, config_exit, JobNeeds::names);
    if (!config) {
        return to_int(config_exit);
    }
    std::vector<pipeline::RunListing> runs;
    try {
        runs = pipeline::list_runs(
            *config, options.limit,
            options.status.empty() ? std::nullopt : std::optional(options.status));
    } catch (const std::exception& e) {
        return command_failed(e, "runs");
    }
    if (options.json) {
        Json all = Json::array();
        for (const auto& r : runs) {
            all.push_back(
                {{"run_id", r.run_id},
                 {"mode", r.mode},
                 {"run_date", r.run_date},
                 {"started_at", r.started_at},
                 {"finished_at", r.finished_at.empty() ? Json(nullptr) : Json(r.finished_at)},
                 {"status", r.status},
                 {"duration_seconds",
                  r.duration_seconds ? Json(*r.duration_seconds) : Json(nullptr)},
                 {"rows_extracted", r.rows_extracted},
                 {"rows_written", r.rows_written},
                 {"rows_rejected", r.rows_rejected},
                 {"rows_inserted", r.rows_inserted},
                 {"rows_updated", r.rows_updated},
                 {"error", r.error_message.empty() ? Json(nullptr) : Json(r.error_message)},
                 {"warehouse_seconds",
                  r.warehouse_seconds ? Json(*r.warehouse_seconds) : Json(nullptr)},
                 {"credits_estimate",
                  r.credits_estimate ? Json(*r.credits_estimate) : Json(nullptr)},
                 {"waiting_locally", r.waiting_locally}});
        }
        fmt::print("{}\n", all.dump(2, ' ', false, Json::error_handler_t::replace));
        return to_int(ExitCode::success);
    }
    fmt::print("{:<26} {:<20} {:>9} {:<9} {:>27}  {}\n", "RUN ID", "STARTED (UTC)", "DURATION",
               "STATUS", "EXTRACTED/WRITTEN/REJECTED", "ERROR");
    for (const auto& r : runs) {
        std::string error = r.error_message.substr(0, r.error_message.find('\n'));
        if (error.size() > 80) {
            error = error.substr(0, 77) + "...";
        }
        fmt::print("{:<26} {:<20} {:>9} {:<9} {:>27}  {}{}\n", r.run_id, r.started_at,
                   r.duration_seconds ? fmt::format("{:.1f}s", *r.duration_seconds) : "-", r.status,
                   fmt::format("{}/{}/{}", r.rows_extracted, r.rows_written, r.rows_rejected),
                   r.waiting_locally ? "(waiting in the local journal) " : "", error);
    }
    if (runs.empty()) {
        fmt::print("(no runs recorded for pipeline '{}')\n", config->pipeline_name);
    }
    return to_int(ExitCode::success);
}

// ---- checkpoint -------------------------------------------------------------

void add_checkpoint_command(CLI::App& app, CheckpointOptions& options) {
    CLI::App* cmd =
        app.add_subcommand("checkpoint", "Show, set or reset the incremental checkpoint");
    cmd->require_subcommand(1);
    CLI::App* show = cmd->add_subcommand(
        "show", "Print the watermark, when it was saved, and its lag behind the source's clock");
    show->add_flag("--json", options.json, "One JSON object instead of text");
    add_config_option(*show, options.common);
    CLI::App* set = cmd->add_subcommand(
        "set", "Set the watermark: the next run loads rows updated after it (minus the overlap)");
    set->add_option("timestamp", options.timestamp,
                    "ISO-8601 with offset, e.g. 2026-11-20T00:00:00Z")
        ->required();
    set->add_flag("--yes", options.yes, "Really change it (required)");
    add_config_option(*set, options.common);
    CLI::App* reset = cmd->add_subcommand(
        "reset", "Move the checkpoint aside: the next run loads everything (or from START_FROM)");
    reset->add_flag("--yes", options.yes, "Really reset it (required)");
    add_config_option(*reset, options.common);
    cmd->footer(
        "set and reset take the run lock (they refuse while a run is in progress) and never\n"
        "delete anything: reset renames the file to <file>.reset.<UTC time>.");
    options.show = show;
    options.set = set;
    options.reset = reset;
}

int run_checkpoint(const CheckpointOptions& options) {
    if ((options.set->parsed() || options.reset->parsed()) && !options.yes) {
        fmt::print(stderr, "error: add --yes to change the checkpoint\n");
        return to_int(ExitCode::usage);
    }
    ExitCode config_exit = ExitCode::success;
    // Only `set` needs a declared job's plan (an integer cursor takes a position).
    auto config = load_config(options.common, config_exit,
                              options.set->parsed() ? JobNeeds::plan : JobNeeds::names);
    if (!config) {
        return to_int(config_exit);
    }
    const bool integer_cursor =
        config->job && config->job->cursor_kind == pipeline::CursorKind::integer;
    std::optional<pipeline::Timestamp> new_watermark;
    std::optional<std::int64_t> new_position;
    if (options.set->parsed() && integer_cursor) {
        new_position = pipeline::parse_int64(options.timestamp);
        if (!new_position) {
            fmt::print(stderr,
                       "error: job {} has an integer cursor: give a whole number, not '{}'\n",
                       config->pipeline_name, options.timestamp);
            return to_int(ExitCode::usage);
        }
    } else if (options.set->parsed()) {
        new_watermark =
            pipeline::parse_timestamp(options.timestamp, pipeline::OffsetRule::required);
        if (!new_watermark) {
            fmt::print(stderr,
                       "error: '{}' is not an ISO-8601 timestamp with an offset "
                       "(e.g. 2026-11-20T00:00:00Z)\n",
                       options.timestamp);
            return to_int(ExitCode::usage);
        }
    }
    const pipeline::CheckpointStore store(config->checkpoint_dir, config->pipeline_name);
    try {
        if (options.show->parsed()) {
            const pipeline::CheckpointLoad peeked = store.peek();
            if (peeked.warning) {
                fmt::print(stderr, "checkpoint {} is corrupt: {}\n", store.path().string(),
                           *peeked.warning);
                return to_int(ExitCode::run_failed);
            }
            const std::optional<pipeline::CheckpointState>& state = peeked.state;
            const pipeline::Timestamp now = source_now(*config);
            // Meaningful only with a state (a plain double: GCC 12 misreads an optional here).
            const double lag = state ? pipeline::seconds_between(state->watermark, now) : 0.0;
            const auto* hold = state && state->hold_back ? &*state->hold_back : nullptr;
            if (options.json) {
                Json j = {
                    {"pipeline", config->pipeline_name},
                    {"file", store.path().string()},
                    {"version", state ? Json(state->version) : Json(nullptr)},
                    {"watermark",
                     state ? Json(pipeline::format_timestamp(state->watermark)) : Json(nullptr)},
                    {"saved_at",
                     state ? Json(pipeline::format_timestamp(state->saved_at)) : Json(nullptr)},
                    {"source_now", pipeline::format_timestamp(now)},
                    {"lag_seconds", state ? Json(lag) : Json(nullptr)},
                    {"position", state && state->position ? Json(*state->position) : Json(nullptr)},
                    {"hold_back", nullptr}};
                if (hold != nullptr) {
                    Json waiting = Json::array();
                    for (const auto& w : hold->waiting) {
                        waiting.push_back(pipeline::describe(w));
                    }
                    j["hold_back"] = {
                        {"mode", pipeline::to_string(hold->mode)},
                        {"floor", pipeline::format_timestamp(hold->floor)},
                        {"seconds", pipeline::hold_back_seconds(*hold, state->watermark)},
                        {"capped", hold->capped},
                        {"waiting", std::move(waiting)}};
                }
                if (state && state->unseen) {
                    j["unseen"] = {{"xid_from", state->unseen->xid_from},
                                   {"xids", state->unseen->xids}};
                }
                if (state && state->hold_back_unreadable) {
                    j["hold_back_unreadable"] = *state->hold_back_unreadable;
                }
                fmt::print("{}\n", j.dump(2));
            } else if (!state) {
                fmt::print(
                    "pipeline    {}\nfile        {} (none: the next run loads everything{})\n",
                    config->pipeline_name, store.path().string(),
                    config->start_from ? " from START_FROM" : "");
            } else {
                fmt::print(
                    "pipeline    {}\nfile        {} (version {})\nwatermark   {}\nsaved at    "
                    "{}\nsource now  {}\nlag         {} ({:.0f} s)\n",
                    config->pipeline_name, store.path().string(), state->version,
                    pipeline::format_timestamp(state->watermark),
                    pipeline::format_timestamp(state->saved_at), pipeline::format_timestamp(now),
                    human_seconds(lag), lag);
                if (state->position) {
                    fmt::print("position    {} (the integer cursor's last value loaded)\n",
                               *state->position);
                }
                if (state->hold_back_unreadable) {
                    fmt::print(
                        "hold-back   unreadable ({}): the next run reaches back {} min for "
                        "every transaction\n",
                        *state->hold_back_unreadable, config->holdback_max_minutes);
                } else if (hold == nullptr) {
                    fmt::print(
                        "hold-back   none: no source transaction was open at the last run\n");
                } else {
                    const double seconds = pipeline::hold_back_seconds(*hold, state->watermark);
                    fmt::print(
                        "hold-back   {} ({:.0f} s, {}{}): the next window also reads rows from "
                        "{} on\n            of {} transaction(s) open at the last run:\n",
                        human_seconds(seconds), seconds, pipeline::to_string(hold->mode),
                        hold->capped ? ", CAPPED by HOLDBACK_MAX_MINUTES" : "",
                        pipeline::format_timestamp(hold->floor), hold->waiting.size());
                    for (const auto& w : hold->waiting) {
                        fmt::print("              {}\n", pipeline::describe(w));
                    }
                }
            }
            return to_int(ExitCode::success);
        }
        auto lock = lock_for(*config, "checkpoint");
        if (!lock) {
            return to_int(ExitCode::lock_held);
        }
        if (new_position) {
            pipeline::CheckpointState state;
            state.watermark = source_now(*config);
            state.saved_at = pipeline::now_utc();
            state.position = *new_position;
            store.save_state(state);
            fmt::print("checkpoint of '{}' set to position {} ({})\n", config->pipeline_name,
                       *new_position, store.path().string());
            pipeline::log_info("checkpoint set by hand",
                               {{"event", "checkpoint_set"}, {"position", *new_position}});
        } else if (new_watermark) {
            store.save(*new_watermark, pipeline::now_utc());
            fmt::print("checkpoint of '{}' set to {} ({})\n", config->pipeline_name,
                       pipeline::format_timestamp(*new_watermark), store.path().string());
            pipeline::log_info("checkpoint set by hand",
                               {{"event", "checkpoint_set"},
                                {"watermark", pipeline::format_timestamp(*new_watermark)}});
        } else {
            const auto moved = store.reset(pipeline::now_utc());
            if (moved) {
                fmt::print("checkpoint of '{}' reset; the old file is {}\n", config->pipeline_name,
                           moved->string());
                pipeline::log_info("checkpoint reset by hand",
                                   {{"event", "checkpoint_reset"}, {"moved_to", moved->string()}});
            } else {
                fmt::print("pipeline '{}' has no checkpoint; nothing to reset\n",
                           config->pipeline_name);
            }
        }
        return to_int(ExitCode::success);
    } catch (const std::exception& e) {
        return command_failed(e, "checkpoint");
    }
}

// ---- dlq ----------------------------------------------------------------------

void add_dlq_command(CLI::App& app, DlqOptions& options) {
    CLI::App* cmd = app.add_subcommand("dlq", "List dead-letter files, or replay them");
    cmd->require_subcommand(1);
    CLI::App* list = cmd->add_subcommand(
        "list", "The pipeline's DLQ files in DLQ_DIR: rows, and whether they were replayed");
    list->add_flag("--json", options.json, "One JSON array instead of a table");
    add_config_option(*list, options.common);
    CLI::App* replay = cmd->add_subcommand(
        "replay", "Re-validate the rows of DLQ files with today's rules and load those that pass");
    replay->add_option("files", options.files, "DLQ files (.ndjson)")->required();
    add_config_option(*replay, options.common);
    replay->footer(
        "Rows that pass go through the normal staging + MERGE path; newer-wins means a row the\n"
        "source has updated since is never overwritten by its older DLQ copy. Rows that still\n"
        "fail go to a new DLQ file. Each replayed file is renamed to <file>.replayed.<run id>\n"
        "(never deleted); replaying it again changes nothing. A file with an unreadable line is\n"
        "refused before anything is loaded. Takes the run lock; writes a run record (mode\n"
        "replay).");
    options.list = list;
    options.replay = replay;
}

int run_dlq(const DlqOptions& options) {
    ExitCode config_exit = ExitCode::success;
    auto config = load_config(options.common, config_exit,
                              options.list->parsed() ? JobNeeds::names : JobNeeds::plan);
    if (!config) {
        return to_int(config_exit);
    }
    try {
        if (options.list->parsed()) {
            const auto listed = pipeline::list_dlq_files(config->dlq_dir, config->pipeline_name);
            std::size_t pending_rows = 0;
            for (const auto& l : listed) {
                pending_rows += l.replayed ? 0 : l.rows;
            }
            if (options.json) {
                Json all = Json::array();
                for (const auto& l : listed) {
                    all.push_back({{"file", l.path.string()},
                                   {"rows", l.rows},
                                   {"state", l.replayed ? "replayed" : "pending"}});
                }
                fmt::print("{}\n", all.dump(2));
            } else {
                fmt::print("{:<9} {:>8}  {}\n", "STATE", "ROWS", "FILE");
                for (const auto& l : listed) {
                    fmt::print("{:<9} {:>8}  {}\n", l.replayed ? "replayed" : "pending", l.rows,
                               l.path.string());
                }
                fmt::print("{} row(s) waiting for replay in {}\n", pending_rows,
                           config->dlq_dir.string());
            }
            return to_int(ExitCode::success);
        }
        install_stop_handlers(to_int(ExitCode::cancelled));
        std::vector<std::filesystem::path> files(options.files.begin(), options.files.end());
        const pipeline::ReplaySummary r = pipeline::replay_dlq(*config, files);
        for (const auto& skipped : r.already_replayed) {
            fmt::print("{}: already replayed; nothing to do\n", skipped.string());
        }
        if (!r.replayed.empty()) {
            fmt::print(
                "replay {} succeeded: {} row(s) replayed, {} loaded (inserted {}, updated "
                "{}), {} still rejected\n",
                r.run_id, r.counts.rows_extracted, r.counts.rows_written, r.counts.rows_inserted,
                r.counts.rows_updated, r.counts.rows_rejected);
            for (const auto& done : r.replayed) {
                fmt::print("  done        {}\n", done.string());
            }
            if (r.dlq_file) {
                fmt::print("  still bad   {}\n", r.dlq_file->string());
            }
        }
        return to_int(ExitCode::success);
    } catch (const std::exception& e) {
        return command_failed(e, "dlq");
    }
}

// ---- doctor -------------------------------------------------------------------

void add_doctor_command(CLI::App& app, DoctorOptions& options) {
    CLI::App* cmd = app.add_subcommand(
        "doctor",
        "Check configuration, source, destination, checkpoint, lock and DLQ; a line each");
    cmd->add_flag("--json", options.json, "One JSON array instead of lines");
    add_config_option(*cmd, options.common);
    cmd->footer(
        "Each check prints OK, WARN or FAIL with what it saw. Exit 0 when nothing FAILs, 1\n"
        "otherwise (3 for an invalid configuration). It only reads: the run lock is taken and\n"
        "released at once, and a probe file is written to and removed from the DLQ directory.");
}

int run_doctor_command(const DoctorOptions& options) {
    ExitCode config_exit = ExitCode::success;
    auto config = load_config(options.common, config_exit);
    if (!config) {
        fmt::print("FAIL configuration valid: see the problems above\n");
        return to_int(config_exit);
    }
    const auto checks = pipeline::run_doctor(*config);
    bool failed = false;
    Json all = Json::array();
    for (const auto& c : checks) {
        failed = failed || c.level == pipeline::DoctorCheck::Level::fail;
        if (options.json) {
            all.push_back(
                {{"check", c.name}, {"level", pipeline::to_string(c.level)}, {"detail", c.detail}});
        } else {
            fmt::print("{:<4} {}: {}\n", pipeline::to_string(c.level), c.name, c.detail);
        }
    }
    if (options.json) {
        fmt::print("{}\n", all.dump(2, ' ', false, Json::error_handler_t::replace));
    }
    return to_int(failed ? ExitCode::run_failed : ExitCode::success);
}

}  // namespace cmd
