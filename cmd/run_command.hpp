// cmd/run_command.hpp: `orders-pipeline run [--date YYYY-MM-DD]`.
#pragma once

#include <CLI/CLI.hpp>
#include <string>

#include "cmd/common.hpp"
#include "pipeline/run/run.hpp"

namespace cmd {

struct RunCommandOptions {
    CommonOptions common;
    std::string date;          ///< --date YYYY-MM-DD; empty: incremental
    std::string metrics_file;  ///< --metrics-file PATH; empty: none
    bool dry_run = false;      ///< --dry-run: extract/validate/transform only, write nothing
    bool all = false;          ///< --all: every declared job, one after another
};

/// Runs the pipeline once with `run_options`, writes the metrics file when
/// `metrics_file` is set (success or failure), logs a failure, and returns
/// the exit code. The summary goes to stdout when `print_summary`.
int execute_run(const pipeline::Config& config, pipeline::RunOptions run_options,
                const std::string& metrics_file, bool print_summary,
                pipeline::RunSummary* summary_out = nullptr);

/// Registers `run` on `app`; returns the subcommand so main can tell it was chosen.
CLI::App* add_run_command(CLI::App& app, RunCommandOptions& options);

/// Adds `--metrics-file PATH` to a command.
void add_metrics_option(CLI::App& command, std::string& path);

/// Executes `run`; returns the process exit code.
int run_run(const RunCommandOptions& options);

}  // namespace cmd
