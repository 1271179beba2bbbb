// cmd/main.cpp: the orders-pipeline entry point; wiring only.
#include <CLI/CLI.hpp>
#include <cstdio>

#include "cmd/exit_code.hpp"
#include "cmd/run_command.hpp"

#ifndef ORDERS_PIPELINE_VERSION
#define ORDERS_PIPELINE_VERSION "0.0.0"
#endif

int main(int argc, char** argv) {
    CLI::App app(
        "orders-pipeline: keeps a warehouse table (silver.orders) fresh from a PostgreSQL orders\n"
        "table. Incremental extraction on updated_at, validation with a dead-letter file,\n"
        "enrichment, and an idempotent staging-table MERGE. Run `orders-pipeline run` from\n"
        "cron every 15 minutes; `run --date YYYY-MM-DD` backfills a day.\n"
        "Exit codes: 0 success, 1 run failed, 2 usage, 3 configuration, 4 another run holds\n"
        "the lock, 5 cancelled.",
        "orders-pipeline");
    app.set_version_flag("--version", "orders-pipeline " ORDERS_PIPELINE_VERSION);
    app.require_subcommand(1);

    cmd::RunCommandOptions run_options;
    CLI::App* run = cmd::add_run_command(app, run_options);

    try {
        app.parse(argc, argv);
    } catch (const CLI::ParseError& e) {
        const int code = app.exit(e);  // prints help, version or the error
        return code == 0 ? 0 : cmd::to_int(cmd::ExitCode::usage);
    }
    if (run->parsed()) {
        return cmd::run_run(run_options);
    }
    return cmd::to_int(cmd::ExitCode::usage);
}
