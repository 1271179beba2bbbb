// cmd/common.hpp: configuration loading shared by every command.
#pragma once

#include <CLI/CLI.hpp>
#include <optional>
#include <string>
#include <vector>

#include "cmd/exit_code.hpp"
#include "pipeline/config/config.hpp"
#include "pipeline/jobs/job_spec.hpp"

namespace cmd {

/// Options every command takes.
struct CommonOptions {
    std::string config_file;  ///< --config FILE; empty: environment only
    std::string jobs_file;    ///< --jobs FILE; empty: ORDERS_PIPELINE_JOBS_FILE
    std::string job;          ///< --job NAME; empty: the built-in orders job
};

/// Adds `--config FILE`, `--jobs FILE` and `--job NAME` to `command`.
void add_config_option(CLI::App& command, CommonOptions& options);

/// How much of a declared job (--job) a command needs.
enum class JobNeeds {
    names,  ///< its name, source and target (files, records): no source connection
    plan,   ///< its columns and types from the live source catalog
};

/// Loads the configuration from the environment and the --config file and,
/// with --job, turns it into that declared job's (pipeline::config_for_job).
/// On any problem prints every problem to stderr and returns nullopt with
/// `exit_code` set to ExitCode::config. Also sets up logging.
std::optional<pipeline::Config> load_config(const CommonOptions& options, ExitCode& exit_code,
                                            JobNeeds needs = JobNeeds::plan);

/// The jobs file of `config` (with --jobs winning), parsed; problems printed
/// and nullopt (exit_code set) when it is missing or wrong.
std::optional<std::vector<pipeline::JobSpec>> load_job_specs(const pipeline::Config& config,
                                                             const CommonOptions& options,
                                                             ExitCode& exit_code);

/// `spec` planned against the live source catalog (with the columns its
/// target was made with); problems printed, nullopt and exit_code set to
/// config (or run_failed when the source cannot be reached).
std::optional<pipeline::Config> plan_job_config(const pipeline::Config& base,
                                                const pipeline::JobSpec& spec, ExitCode& exit_code);

}  // namespace cmd
