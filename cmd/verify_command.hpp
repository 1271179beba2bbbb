// cmd/verify_command.hpp: `verify [--repair]` and `freshness`: does the warehouse hold what the
// source says, and is it recent enough.
#pragma once

#include <CLI/CLI.hpp>
#include <string>

#include "cmd/common.hpp"

namespace cmd {

struct VerifyCommandOptions {
    CommonOptions common;
    std::string from;  ///< YYYY-MM-DD; with `to`
    std::string to;
    bool deep = false;
    bool json = false;
    bool repair = false;
    std::string metrics_file;
};
void add_verify_command(CLI::App& app, VerifyCommandOptions& options);
int run_verify_command(const VerifyCommandOptions& options);

struct FreshnessOptions {
    CommonOptions common;
    double max_lag_minutes = 20;
    bool json = false;
};
void add_freshness_command(CLI::App& app, FreshnessOptions& options);
int run_freshness_command(const FreshnessOptions& options);

}  // namespace cmd
