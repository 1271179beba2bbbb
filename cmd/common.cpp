// cmd/common.cpp: configuration loading and its error report.
#include "cmd/common.hpp"

#include <fmt/format.h>

#include <cstdio>

#include "pipeline/core/error.hpp"
#include "pipeline/runtime/logging.hpp"
#include "pipeline/state/atomic_file.hpp"

namespace cmd {

void add_config_option(CLI::App& command, CommonOptions& options) {
    command.add_option("--config", options.config_file,
                       "File of ORDERS_PIPELINE_*=value lines; the environment wins over it");
}

std::optional<pipeline::Config> load_config(const CommonOptions& options, ExitCode& exit_code) {
    std::optional<std::string> file_text;
    if (!options.config_file.empty()) {
        try {
            file_text = pipeline::read_file_if_exists(options.config_file);
        } catch (const pipeline::Error& e) {
            fmt::print(stderr, "configuration error:\n  --config {}\n", e.what());
            exit_code = ExitCode::config;
            return std::nullopt;
        }
        if (!file_text) {
            fmt::print(stderr, "configuration error:\n  --config {}: no such file\n",
                       options.config_file);
            exit_code = ExitCode::config;
            return std::nullopt;
        }
    }
    pipeline::ConfigResult result =
        pipeline::parse_config(pipeline::environment_snapshot(), file_text);
    if (result.config) {
        result.problems = pipeline::load_config_files(*result.config);
    }
    if (!result.problems.empty()) {
        fmt::print(stderr, "configuration error ({} problem{}); nothing was done:\n{}",
                   result.problems.size(), result.problems.size() == 1 ? "" : "s",
                   pipeline::format_problems(result.problems));
        exit_code = ExitCode::config;
        return std::nullopt;
    }
    pipeline::init_logging(result.config->log_level);
    for (const auto& warning : result.warnings) {
        pipeline::log_warning(warning, {{"event", "config_warning"}});
    }
    return std::move(result.config);
}

}  // namespace cmd
