// cmd/run_command.cpp: the run command: config, run_pipeline, summary, exit code.
#include "cmd/run_command.hpp"

#include <fmt/format.h>

#include <cstdio>

#include "cmd/signals.hpp"
#include "pipeline/error.hpp"
#include "pipeline/logging.hpp"
#include "pipeline/run.hpp"

namespace cmd {

CLI::App* add_run_command(CLI::App& app, RunCommandOptions& options) {
    CLI::App* run = app.add_subcommand(
        "run", "Run the pipeline once: incremental, or a backfill of one day with --date");
    run->footer(
        "Without --date: the incremental run cron starts every 15 minutes. It reads the\n"
        "checkpoint, extracts source rows with updated_at in (watermark - overlap, source now()],\n"
        "validates them (invalid rows go to the DLQ file), transforms them, MERGEs them into the\n"
        "destination batch by batch, then advances the checkpoint to the source's now().\n"
        "With --date D: backfills the UTC day D through the same path; the checkpoint is\n"
        "neither read nor moved.\n"
        "Configuration comes from ORDERS_PIPELINE_* variables (see README). The destination is\n"
        "postgresql://... or snowflake://USER@ACCOUNT/DATABASE/SCHEMA?warehouse=WH&role=R with\n"
        "a key pair (ORDERS_PIPELINE_SNOWFLAKE_PRIVATE_KEY_FILE).\n"
        "Exit codes: 0 success, 1 run failed, 2 usage, 3 configuration, 4 another run holds\n"
        "the lock, 5 cancelled.");
    run->add_option("--date", options.date,
                    "Backfill this UTC day (YYYY-MM-DD) instead of the incremental window");
    run->add_option("--config", options.common.config_file,
                    "File of ORDERS_PIPELINE_*=value lines; the environment wins over it");
    return run;
}

int run_run(const RunCommandOptions& options) {
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
    install_stop_handlers(to_int(ExitCode::cancelled));
    try {
        const pipeline::RunSummary s = pipeline::run_pipeline(*config, run_options);
        const double rate = s.duration_seconds > 0
                                ? static_cast<double>(s.counts.rows_extracted) / s.duration_seconds
                                : 0.0;
        fmt::print("run {} succeeded ({})\n", s.run_id, pipeline::to_string(s.mode));
        fmt::print("  window      {} .. {}\n",
                   s.window_from ? pipeline::format_timestamp(*s.window_from) : "(beginning)",
                   pipeline::format_timestamp(s.window_until));
        fmt::print("  rows        extracted {}, written {}, rejected {}, inserted {}, updated {}\n",
                   s.counts.rows_extracted, s.counts.rows_written, s.counts.rows_rejected,
                   s.counts.rows_inserted, s.counts.rows_updated);
        fmt::print("  duration    {:.2f} s ({:.0f} rows/s)\n", s.duration_seconds, rate);
        if (s.checkpoint_saved) {
            fmt::print("  checkpoint  {}\n", pipeline::format_timestamp(*s.checkpoint_saved));
        } else {
            fmt::print("  checkpoint  unchanged\n");
        }
        if (s.dlq_file) {
            fmt::print("  dlq         {}\n", s.dlq_file->string());
        }
        return to_int(ExitCode::success);
    } catch (const pipeline::Error& e) {
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
        return to_int(exit_code_for(e.kind()));
    } catch (const std::exception& e) {
        pipeline::log_error("run failed",
                            {{"event", "run_failed"}, {"kind", "internal"}, {"error", e.what()}});
        return to_int(ExitCode::run_failed);
    }
}

}  // namespace cmd
