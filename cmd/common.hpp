// cmd/common.hpp: configuration loading shared by every command.
#pragma once

#include <CLI/CLI.hpp>
#include <optional>
#include <string>

#include "cmd/exit_code.hpp"
#include "pipeline/config/config.hpp"

namespace cmd {

/// Options every command takes.
struct CommonOptions {
    std::string config_file;  ///< --config FILE; empty: environment only
};

/// Adds `--config FILE` (into options.config_file) to `command`.
void add_config_option(CLI::App& command, CommonOptions& options);

/// Loads the configuration from the environment and the --config file. On
/// any problem prints every problem to stderr and returns nullopt with
/// `exit_code` set to ExitCode::config. Also sets up logging.
std::optional<pipeline::Config> load_config(const CommonOptions& options, ExitCode& exit_code);

}  // namespace cmd
