// cmd/run_command.hpp: `orders-pipeline run [--date YYYY-MM-DD]`.
#pragma once

#include <CLI/CLI.hpp>
#include <string>

#include "cmd/common.hpp"

namespace cmd {

struct RunCommandOptions {
    CommonOptions common;
    std::string date;  ///< --date YYYY-MM-DD; empty: incremental
};

/// Registers `run` on `app`; returns the subcommand so main can tell it was chosen.
CLI::App* add_run_command(CLI::App& app, RunCommandOptions& options);

/// Executes `run`; returns the process exit code.
int run_run(const RunCommandOptions& options);

}  // namespace cmd
