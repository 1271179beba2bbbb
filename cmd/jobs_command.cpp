// cmd/jobs_command.cpp: the declared jobs' commands.
#include "cmd/jobs_command.hpp"

#include <fmt/format.h>

#include <array>
#include <cstdio>
#include <nlohmann/json.hpp>

#include "cmd/run_command.hpp"
#include "cmd/signals.hpp"
#include "pipeline/runtime/logging.hpp"
#include "pipeline/runtime/stop.hpp"

namespace cmd {

namespace {

std::string joined(const std::vector<std::string>& names) {
    std::string out;
    for (const std::string& n : names) {
        out += (out.empty() ? "" : ", ") + n;
    }
    return out;
}

int jobs_list(const pipeline::Config& base, const std::vector<pipeline::JobSpec>& specs,
              bool json) {
    nlohmann::ordered_json all = nlohmann::ordered_json::array();
    for (const pipeline::JobSpec& s : specs) {
        const std::string target =
            s.target ? s.target->str() : base.destination.schema.str() + "." + s.source.table.str();
        if (json) {
            all.push_back({{"job", s.name},
                           {"source", s.source.str()},
                           {"target", target},
                           {"key", s.key},
                           {"cursor", s.cursor},
                           {"rules", s.rules.size()},
                           {"derived", s.derived.size()}});
        } else {
            fmt::print("{:<20} {} -> {}  key ({})  cursor {}{}{}\n", s.name, s.source.str(), target,
                       joined(s.key), s.cursor,
                       s.rules.empty() ? "" : fmt::format("  {} rule(s)", s.rules.size()),
                       s.derived.empty() ? "" : fmt::format("  {} derived", s.derived.size()));
        }
    }
    if (json) {
        fmt::print("{}\n", all.dump());
    }
    return to_int(ExitCode::success);
}

int jobs_check(const pipeline::Config& base, const std::vector<pipeline::JobSpec>& specs,
               bool json) {
    int worst = to_int(ExitCode::success);
    nlohmann::ordered_json all = nlohmann::ordered_json::array();
    for (const pipeline::JobSpec& spec : specs) {
        ExitCode code = ExitCode::success;
        const auto config = plan_job_config(base, spec, code);
        worst = worse_exit_code(worst, to_int(code));
        if (!config) {
            all.push_back({{"job", spec.name}, {"ok", false}});
            continue;
        }
        const pipeline::JobTable& job = *config->job;
        std::vector<std::string> columns;
        for (const auto& c : job.columns) {
            columns.push_back(fmt::format("{} {}", c.name, c.type.pg_type));
        }
        if (json) {
            all.push_back({{"job", job.name},
                           {"ok", true},
                           {"source", job.source.str()},
                           {"target", job.target.str()},
                           {"cursor_kind", pipeline::to_string(job.cursor_kind)},
                           {"columns", columns},
                           {"ignored", job.ignored},
                           {"notes", job.notes}});
            continue;
        }
        fmt::print(
            "OK    {}: {} -> {}, {} column(s), cursor {} ({}), key ({}){}\n", job.name,
            job.source.str(), job.target.str(), job.columns.size(), job.cursor_column().name,
            pipeline::to_string(job.cursor_kind),
            [&] {
                std::vector<std::string> k;
                for (const std::size_t i : job.key) {
                    k.push_back(job.columns[i].name);
                }
                return joined(k);
            }(),
            job.ignored.empty() ? "" : "; not loaded: " + joined(job.ignored));
        for (const std::string& note : job.notes) {
            fmt::print("      note: {}\n", note);
        }
    }
    if (json) {
        fmt::print("{}\n", all.dump());
    }
    return worst;
}

}  // namespace

int worse_exit_code(int a, int b) {
    // Severity order of the exit codes (index = code).
    constexpr std::array<int, 7> rank = {0, 4, 5, 5, 1, 6, 3};
    const auto r = [&](int code) {
        return code >= 0 && code < static_cast<int>(rank.size())
                   ? rank[static_cast<std::size_t>(code)]
                   : 4;
    };
    return r(b) > r(a) ? b : a;
}

void add_jobs_command(CLI::App& app, JobsOptions& options) {
    CLI::App* jobs = app.add_subcommand(
        "jobs", "List the declared jobs, or check them against the live source catalog");
    jobs->require_subcommand(1);
    CLI::App* list = jobs->add_subcommand("list", "The jobs file's jobs (no connection)");
    CLI::App* check = jobs->add_subcommand(
        "check",
        "Check every job against the source catalog: tables, columns, types, keys, cursors, "
        "rules, derived columns and drift since the target was made; every problem at once "
        "(exit 3)");
    for (CLI::App* c : {list, check}) {
        add_config_option(*c, options.common);
        c->add_flag("--json", options.json, "One JSON array on stdout");
    }
    jobs->footer(
        "The jobs file (--jobs FILE or ORDERS_PIPELINE_JOBS_FILE) declares tables to load\n"
        "besides the built-in orders job; see README \"Jobs\". Run one with `run --job NAME`,\n"
        "all with `run --all`; every other command takes --job NAME too.");
}

int run_jobs_command(const CLI::App& app, const JobsOptions& options) {
    CommonOptions common = options.common;
    common.job.clear();
    ExitCode config_exit = ExitCode::success;
    const auto base = load_config(common, config_exit);
    if (!base) {
        return to_int(config_exit);
    }
    const auto specs = load_job_specs(*base, common, config_exit);
    if (!specs) {
        return to_int(config_exit);
    }
    const CLI::App* jobs = app.get_subcommand("jobs");
    if (jobs->got_subcommand("list")) {
        return jobs_list(*base, *specs, options.json);
    }
    return jobs_check(*base, *specs, options.json);
}

int run_all_jobs(const CommonOptions& common_options, const std::string& metrics_file) {
    CommonOptions common = common_options;
    common.job.clear();
    ExitCode config_exit = ExitCode::success;
    const auto base = load_config(common, config_exit);
    if (!base) {
        return to_int(config_exit);
    }
    const auto specs = load_job_specs(*base, common, config_exit);
    if (!specs) {
        return to_int(config_exit);
    }
    install_stop_handlers(to_int(ExitCode::cancelled));
    int worst = to_int(ExitCode::success);
    for (const pipeline::JobSpec& spec : *specs) {
        if (pipeline::stop_requested()) {
            worst = worse_exit_code(worst, to_int(ExitCode::cancelled));
            break;
        }
        ExitCode code = ExitCode::success;
        const auto config = plan_job_config(*base, spec, code);
        int result = to_int(code);
        if (config) {
            // One metrics file per job: <file> with the job's name before the extension.
            std::string metrics = metrics_file;
            if (!metrics.empty()) {
                const auto dot = metrics.rfind('.');
                const auto slash = metrics.rfind('/');
                const bool has_ext =
                    dot != std::string::npos && (slash == std::string::npos || dot > slash);
                metrics = has_ext ? metrics.substr(0, dot) + "." + spec.name + metrics.substr(dot)
                                  : metrics + "." + spec.name;
            }
            result = execute_run(*config, {}, metrics, true);
        }
        pipeline::log_info("job finished",
                           {{"event", "job_finished"}, {"job", spec.name}, {"exit_code", result}});
        fmt::print("job {}: exit {}\n", spec.name, result);
        worst = worse_exit_code(worst, result);
    }
    return worst;
}

}  // namespace cmd
