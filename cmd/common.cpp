// cmd/common.cpp: configuration loading and its error report.
#include "cmd/common.hpp"

#include <fmt/format.h>

#include <cstdio>

#include "pipeline/core/error.hpp"
#include "pipeline/runtime/logging.hpp"
#include "pipeline/runtime/pg_connection.hpp"
#include "pipeline/source/catalog.hpp"
#include "pipeline/source/extractor.hpp"
#include "pipeline/state/atomic_file.hpp"
#include "pipeline/state/job_columns.hpp"

namespace cmd {

void add_config_option(CLI::App& command, CommonOptions& options) {
    command.add_option("--config", options.config_file,
                       "File of ORDERS_PIPELINE_*=value lines; the environment wins over it");
    command.add_option("--jobs", options.jobs_file,
                       "The declared jobs file (YAML; default ORDERS_PIPELINE_JOBS_FILE)");
    command.add_option("--job", options.job,
                       "Work on this declared job instead of the built-in orders job");
}

namespace {

void print_jobs_problems(const std::vector<pipeline::JobsProblem>& problems,
                         const std::string& file) {
    fmt::print(stderr,
               "configuration error in the jobs file {} ({} problem{}); nothing was done:\n", file,
               problems.size(), problems.size() == 1 ? "" : "s");
    for (const auto& p : problems) {
        fmt::print(stderr, "  {}\n", p.text());
    }
}

// A job's configuration from its spec alone: names right, no plan (no source contact).
pipeline::Config named_job_config(const pipeline::Config& base, const pipeline::JobSpec& spec) {
    pipeline::JobTable shell;
    shell.name = spec.name;
    shell.source = spec.source;
    shell.target =
        spec.target.value_or(pipeline::QualifiedName{base.destination.schema, spec.source.table});
    pipeline::Config config = pipeline::config_for_job(base, shell);
    config.job.reset();  // no plan: commands given this config only use names
    return config;
}

}  // namespace

std::optional<std::vector<pipeline::JobSpec>> load_job_specs(const pipeline::Config& config,
                                                             const CommonOptions& options,
                                                             ExitCode& exit_code) {
    const std::string file = !options.jobs_file.empty()
                                 ? options.jobs_file
                                 : (config.jobs_file ? config.jobs_file->string() : "");
    if (file.empty()) {
        fmt::print(stderr,
                   "configuration error:\n  no jobs file: give --jobs FILE or set "
                   "ORDERS_PIPELINE_JOBS_FILE\n");
        exit_code = ExitCode::config;
        return std::nullopt;
    }
    std::optional<std::string> text;
    try {
        text = pipeline::read_file_if_exists(file);
    } catch (const pipeline::Error& e) {
        fmt::print(stderr, "configuration error:\n  jobs file {}: {}\n", file, e.what());
        exit_code = ExitCode::config;
        return std::nullopt;
    }
    if (!text) {
        fmt::print(stderr, "configuration error:\n  jobs file {}: no such file\n", file);
        exit_code = ExitCode::config;
        return std::nullopt;
    }
    pipeline::JobsFileResult parsed = pipeline::parse_jobs_file(*text, config.pipeline_name);
    if (!parsed.problems.empty()) {
        print_jobs_problems(parsed.problems, "the jobs file " + file);
        exit_code = ExitCode::config;
        return std::nullopt;
    }
    return std::move(parsed.jobs);
}

std::optional<pipeline::Config> plan_job_config(const pipeline::Config& base,
                                                const pipeline::JobSpec& spec,
                                                ExitCode& exit_code) {
    pipeline::JobCatalog catalog;
    try {
        pipeline::PgConnection source(base.source_url, pipeline::ErrorKind::source, "SOURCE",
                                      fmt::format("orders-pipeline {} plan", spec.name));
        pipeline::prepare_source_session(source, base.source_statement_timeout_seconds);
        catalog = pipeline::read_job_catalog(source, spec);
    } catch (const pipeline::Error& e) {
        fmt::print(stderr, "job {}: cannot read the source catalog: {}\n", spec.name, e.what());
        exit_code = ExitCode::run_failed;
        return std::nullopt;
    }
    if (const auto recorded = pipeline::JobColumnsMemory(base.checkpoint_dir, spec.name).load()) {
        catalog.recorded = recorded->columns;
        catalog.recorded_key = recorded->key;
    }
    pipeline::JobPlanResult plan =
        pipeline::plan_job(spec, catalog, base.destination.schema,
                           base.destination.kind == pipeline::DestinationKind::snowflake
                               ? pipeline::TargetLimits::snowflake
                               : pipeline::TargetLimits::postgres);
    if (!plan.table) {
        print_jobs_problems(plan.problems,
                            fmt::format("job {} (against the source catalog)", spec.name));
        exit_code = ExitCode::config;
        return std::nullopt;
    }
    return pipeline::config_for_job(base, *plan.table);
}

std::optional<pipeline::Config> load_config(const CommonOptions& options, ExitCode& exit_code,
                                            JobNeeds needs) {
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
    if (options.job.empty()) {
        return std::move(result.config);
    }
    const auto specs = load_job_specs(*result.config, options, exit_code);
    if (!specs) {
        return std::nullopt;
    }
    for (const pipeline::JobSpec& spec : *specs) {
        if (spec.name == options.job) {
            return needs == JobNeeds::names ? named_job_config(*result.config, spec)
                                            : plan_job_config(*result.config, spec, exit_code);
        }
    }
    std::string names;
    for (const pipeline::JobSpec& spec : *specs) {
        names += (names.empty() ? "" : ", ") + spec.name;
    }
    fmt::print(stderr,
               "configuration error:\n  --job {}: no such job in the jobs file (jobs: {})\n",
               options.job, names);
    exit_code = ExitCode::config;
    return std::nullopt;
}

}  // namespace cmd
