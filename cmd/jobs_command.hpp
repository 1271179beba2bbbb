// cmd/jobs_command.hpp: `jobs list`, `jobs check`, and `run --all`.
#pragma once

#include <CLI/CLI.hpp>
#include <string>

#include "cmd/common.hpp"

namespace cmd {

struct JobsOptions {
    CommonOptions common;
    bool json = false;
};

/// Registers `jobs list` and `jobs check` on `app`.
void add_jobs_command(CLI::App& app, JobsOptions& options);
int run_jobs_command(const CLI::App& app, const JobsOptions& options);

/// `run --all`: every declared job, one after another, each with its own
/// lock, checkpoint, DLQ and run record; a failing job does not stop the
/// others (a signal does). Returns the worst exit code.
int run_all_jobs(const CommonOptions& common, const std::string& metrics_file);

/// Of two exit codes, the one that says more is wrong: 0 < 4 (skipped) <
/// 6 < 1 (failed) < 3 (configuration) < 5 (cancelled, which also stops).
int worse_exit_code(int a, int b);

}  // namespace cmd
