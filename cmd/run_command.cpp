// cmd/run_command.cpp: the run command: config, run_pipeline, summary, exit code.
#include "cmd/run_command.hpp"

#include <fmt/format.h>

#include <chrono>
#include <cstdio>

#include "cmd/jobs_command.hpp"
#include "cmd/signals.hpp"
#include "pipeline/core/error.hpp"
#include "pipeline/observe/metrics.hpp"
#include "pipeline/run/run.hpp"
#include "pipeline/runtime/logging.hpp"
#include "pipeline/state/checkpoint.hpp"

namespace cmd {

CLI::App* add_run_command(CLI::App& app, RunCommandOptions& options) {
    CLI::App* run = app.add_subcommand(
        "run", "Run the pipeline once: incremental, or a backfill of one day with --date");
    run->footer(
        "Without --date: the incremental run cron starts every 15 minutes. It reads the\n"
        "checkpoint, extracts source rows with updated_at in (watermark - overlap, source now()]\n"
        "(plus what source transactions still open at the last run wrote further back),\n"
        "validates them (invalid rows go to the DLQ file), transforms them, MERGEs them into the\n"
        "destination batch by batch, then advances the checkpoint to the source's clock and\n"
        "records which source transactions are still open.\n"
        "With --date D: backfills the UTC day D through the same path; the checkpoint is\n"
        "neither read nor moved.\n"
        "Configuration comes from ORDERS_PIPELINE_* variables (see README). The destination is\n"
        "postgresql://... or snowflake://USER@ACCOUNT/DATABASE/SCHEMA?warehouse=WH&role=R with\n"
        "a key pair (ORDERS_PIPELINE_SNOWFLAKE_PRIVATE_KEY_FILE).\n"
        "Exit codes: 0 success, 1 run failed, 2 usage, 3 configuration, 4 another run holds\n"
        "the lock, 5 cancelled.");
    run->add_option("--date", options.date,
                    "Backfill this UTC day (YYYY-MM-DD) instead of the incremental window");
    add_config_option(*run, options.common);
    add_metrics_option(*run, options.metrics_file);
    run->add_flag("--all", options.all,
                  "Run every job of the jobs file, one after another (each its own lock, "
                  "checkpoint, DLQ and record; one failing does not stop the others; the exit "
                  "code is the worst)");
    run->add_flag("--dry-run", options.dry_run,
                  "Extract, validate and transform the window; print the counts and the SQL a "
                  "run would send; write nothing (no checkpoint, DLQ, run record or table)");
    return run;
}

void add_metrics_option(CLI::App& command, std::string& path) {
    command.add_option("--metrics-file", path,
                       "Write Prometheus metrics of the run to this file (atomically, also on "
                       "failure), e.g. for node_exporter's textfile collector");
}

namespace {

// "from .. until": timestamps, or an integer cursor's values.
std::string window_text(const std::optional<pipeline::Timestamp>& from, pipeline::Timestamp until,
                        const std::optional<std::int64_t>& from_position,
                        const std::optional<std::int64_t>& until_position) {
    if (until_position) {
        return fmt::format("{} .. {}",
                           from_position ? std::to_string(*from_position) : "(beginning)",
                           *until_position);
    }
    return fmt::format("{} .. {}", from ? pipeline::format_timestamp(*from) : "(beginning)",
                       pipeline::format_timestamp(until));
}

void print_summary(const pipeline::RunSummary& s) {
    const double rate = s.duration_seconds > 0
                            ? static_cast<double>(s.counts.rows_extracted) / s.duration_seconds
                            : 0.0;
    fmt::print("run {} succeeded ({}{})\n", s.run_id, pipeline::to_string(s.mode),
               s.job.empty() ? "" : ", job " + s.job);
    fmt::print("  window      {}\n", window_text(s.window_from, s.window_until,
                                                 s.window_from_position, s.window_until_position));
    fmt::print("  rows        extracted {}, written {}, rejected {}, inserted {}, updated {}\n",
               s.counts.rows_extracted, s.counts.rows_written, s.counts.rows_rejected,
               s.counts.rows_inserted, s.counts.rows_updated);
    fmt::print("  duration    {:.2f} s ({:.0f} rows/s)\n", s.duration_seconds, rate);
    if (s.position_saved) {
        fmt::print("  checkpoint  position {}\n", *s.position_saved);
    } else if (s.checkpoint_saved) {
        fmt::print("  checkpoint  {}\n", pipeline::format_timestamp(*s.checkpoint_saved));
    } else {
        fmt::print("  checkpoint  unchanged\n");
    }
    if (s.rows_reread > 0 || s.holdback_seconds > 0) {
        fmt::print(
            "  hold-back   {} row(s) re-read for transactions that were open; next window "
            "reaches back {:.0f} s{}\n",
            s.rows_reread, s.holdback_seconds,
            s.holdback_capped ? " (CAPPED: see the holdback_capped log line)" : "");
    }
    if (s.dlq_file) {
        fmt::print("  dlq         {}\n", s.dlq_file->string());
    }
}

void log_failure(const pipeline::Error& e) {
    pipeline::LogFields fields = {
        {"event", "run_failed"}, {"kind", pipeline::to_string(e.kind())}, {"error", e.what()}};
    if (!e.sqlstate().empty()) {
        fields["sqlstate"] = e.sqlstate();
    }
    if (!e.hint().empty()) {
        fields["hint"] = e.hint();
    }
    // Where it was raised, relative to the source tree, for bug reports.
    const std::string_view file = e.location().file;
    const std::size_t tree = file.rfind("pipeline/");
    fields["raised_at"] = fmt::format(
        "{}:{}", tree == std::string_view::npos ? file : file.substr(tree), e.location().line);
    const char* what = e.kind() == pipeline::ErrorKind::lock_held   ? "run skipped"
                       : e.kind() == pipeline::ErrorKind::cancelled ? "run cancelled"
                                                                    : "run failed";
    pipeline::log_error(what, fields);
}

// Metrics of the run that just ended: from its final run record when one was
// written, otherwise (it failed before recording) a bare `failed`.
void write_metrics(const std::string& path, const pipeline::Config& config,
                   const pipeline::RunOptions& options,
                   const std::optional<pipeline::RunRecord>& record,
                   const std::optional<pipeline::RunSummary>& summary,
                   std::chrono::steady_clock::time_point started) {
    if (path.empty()) {
        return;
    }
    pipeline::RunMetrics m;
    m.pipeline = config.pipeline_name;
    m.mode = options.backfill_date ? pipeline::RunMode::backfill : pipeline::RunMode::incremental;
    m.finished_at = pipeline::now_utc();
    m.duration_seconds = pipeline::seconds_since(started);
    if (record) {
        m.status = record->status;
        m.counts = record->counts;
        m.warehouse_seconds = record->warehouse_seconds;
        m.credits_estimate = record->credits_estimate;
    }
    try {
        const auto peeked =
            pipeline::CheckpointStore(config.checkpoint_dir, config.pipeline_name).peek();
        if (peeked.state) {
            m.checkpoint_lag_seconds =
                pipeline::seconds_between(peeked.state->watermark, m.finished_at);
        }
        if (summary && summary->mode == pipeline::RunMode::incremental) {
            m.holdback_seconds = summary->holdback_seconds;
            m.holdback_capped = summary->holdback_capped;
            m.oldest_transaction_seconds = summary->oldest_transaction_seconds;
        } else if (peeked.state) {
            // Not finished, or a backfill (which leaves the checkpoint alone): the hold-back
            // the next run applies is the saved one.
            const auto& hold = peeked.state->hold_back;
            m.holdback_seconds = pipeline::hold_back_seconds(hold, peeked.state->watermark);
            m.holdback_capped = hold && hold->capped;
        }
        pipeline::write_metrics_file(path, m);
    } catch (const std::exception& e) {
        pipeline::log_error("could not write the metrics file",
                            {{"event", "metrics_failed"}, {"file", path}, {"error", e.what()}});
    }
}

}  // namespace

int execute_run(const pipeline::Config& config, pipeline::RunOptions run_options,
                const std::string& metrics_file, bool print, pipeline::RunSummary* summary_out) {
    const auto started = std::chrono::steady_clock::now();
    std::optional<pipeline::RunRecord> final_record;
    std::optional<pipeline::RunSummary> summary;
    run_options.on_finished = [&](const pipeline::RunRecord& r) { final_record = r; };
    int code = to_int(ExitCode::success);
    try {
        summary = pipeline::run_pipeline(config, run_options);
        if (print) {
            print_summary(*summary);
        }
        if (summary_out != nullptr) {
            *summary_out = *summary;
        }
    } catch (const pipeline::Error& e) {
        log_failure(e);
        code = to_int(exit_code_for(e.kind()));
    } catch (const std::exception& e) {
        pipeline::log_error("run failed",
                            {{"event", "run_failed"}, {"kind", "internal"}, {"error", e.what()}});
        code = to_int(ExitCode::run_failed);
    }
    write_metrics(metrics_file, config, run_options, final_record, summary, started);
    return code;
}

namespace {

int run_dry(const pipeline::Config& config, const pipeline::RunOptions& run_options) {
    try {
        const pipeline::DryRunSummary d = pipeline::dry_run_pipeline(config, run_options);
        fmt::print("dry run ({}{}): nothing was written\n", d.backfill ? "backfill" : "incremental",
                   d.job.empty() ? "" : ", job " + d.job);
        if (d.checkpoint_note) {
            fmt::print("  note        {}\n", *d.checkpoint_note);
        }
        fmt::print("  window      {} {}\n",
                   window_text(d.window_from, d.window_until, d.window_from_position,
                               d.window_until_position),
                   d.backfill ? "[from, until)" : "(from, until]");
        fmt::print("  batches     {} of at most {} rows\n", d.batches, config.batch_size);
        fmt::print("  rows        extracted {}, would write {}, would reject {}\n",
                   d.counts.rows_extracted, d.counts.rows_written, d.counts.rows_rejected);
        for (const auto& [code, n] : d.rejected_by_code) {
            fmt::print("    {:<28} {}\n", code, n);
        }
        fmt::print("\n-- extraction (source, server-side cursor)\n{};\n", d.extract_sql);
        fmt::print("\n-- loading (destination; staging and MERGE once per batch)\n");
        for (const auto& sql : d.load_sql) {
            fmt::print("{};\n\n", sql);
        }
        return to_int(ExitCode::success);
    } catch (const pipeline::Error& e) {
        log_failure(e);
        return to_int(exit_code_for(e.kind()));
    }
}

}  // namespace

int run_run(const RunCommandOptions& options) {
    if (options.all) {
        if (!options.common.job.empty() || !options.date.empty() || options.dry_run) {
            fmt::print(stderr,
                       "error: --all runs every job incrementally; it takes neither "
                       "--job, --date nor --dry-run\n");
            return to_int(ExitCode::usage);
        }
        return run_all_jobs(options.common, options.metrics_file);
    }
    pipeline::RunOptions run_options;
    if (!options.date.empty()) {
        run_options.backfill_date = pipeline::parse_date(options.date);
        if (!run_options.backfill_date) {
            fmt::print(stderr, "error: --date '{}' is not a date of the form YYYY-MM-DD\n",
                       options.date);
            return to_int(ExitCode::usage);
        }
    }
    ExitCode config_exit = ExitCode::success;
    auto config = load_config(options.common, config_exit);
    if (!config) {
        return to_int(config_exit);
    }
    if (options.dry_run) {
        return run_dry(*config, run_options);
    }
    install_stop_handlers(to_int(ExitCode::cancelled));
    return execute_run(*config, run_options, options.metrics_file, true);
}

}  // namespace cmd
