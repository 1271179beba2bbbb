// cmd/ops_commands.hpp: `backfill`, `runs` and `checkpoint`.
#pragma once

#include <CLI/CLI.hpp>
#include <string>
#include <vector>

#include "cmd/common.hpp"

namespace cmd {

struct BackfillOptions {
    CommonOptions common;
    std::string from;
    std::string to;
    std::string metrics_file;
};
void add_backfill_command(CLI::App& app, BackfillOptions& options);
int run_backfill(const BackfillOptions& options);

struct RunsOptions {
    CommonOptions common;
    int limit = 20;
    std::string status;
    bool json = false;
};
void add_runs_command(CLI::App& app, RunsOptions& options);
int run_runs(const RunsOptions& options);

struct CheckpointOptions {
    CommonOptions common;
    std::string timestamp;
    bool yes = false;
    bool json = false;
    CLI::App* show = nullptr;
    CLI::App* set = nullptr;
    CLI::App* reset = nullptr;
};
void add_checkpoint_command(CLI::App& app, CheckpointOptions& options);
int run_checkpoint(const CheckpointOptions& options);

struct DlqOptions {
    CommonOptions common;
    bool json = false;
    std::vector<std::string> files;
    CLI::App* list = nullptr;
    CLI::App* replay = nullptr;
};
void add_dlq_command(CLI::App& app, DlqOptions& options);
int run_dlq(const DlqOptions& options);

struct DoctorOptions {
    CommonOptions common;
    bool json = false;
};
void add_doctor_command(CLI::App& app, DoctorOptions& options);
int run_doctor_command(const DoctorOptions& options);

}  // namespace cmd
