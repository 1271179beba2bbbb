// cmd/verify_command.cpp: verify, verify --repair and freshness: reports and exit codes.
#include "cmd/verify_command.hpp"

#include <fmt/format.h>

#include <cstdio>
#include <nlohmann/json.hpp>

#include "cmd/run_command.hpp"
#include "cmd/signals.hpp"
#include "pipeline/core/error.hpp"
#include "pipeline/observe/metrics.hpp"
#include "pipeline/ops/freshness.hpp"
#include "pipeline/orders/validate.hpp"
#include "pipeline/runtime/logging.hpp"
#include "pipeline/state/atomic_file.hpp"
#include "pipeline/verify/verify.hpp"

namespace cmd {

namespace {

using Json = nlohmann::ordered_json;

// Lists in JSON are complete up to this many ids per category.
constexpr std::size_t listed_ids = 10'000;

int failed(const std::exception& e, std::string_view command) {
    const auto* error = dynamic_cast<const pipeline::Error*>(&e);
    fmt::print(stderr, "{} failed: {}\n", command, e.what());
    if (error != nullptr && !error->hint().empty()) {
        fmt::print(stderr, "hint: {}\n", error->hint());
    }
    return to_int(error != nullptr ? exit_code_for(error->kind()) : ExitCode::run_failed);
}

// A declared job's key as JSON: its value (a number for one integer column), or an array.
Json key_json(const pipeline::JobVerifyKeys& job, const std::vector<std::string>& key) {
    if (key.size() == 1) {
        if (job.integer) {
            if (const auto n = pipeline::parse_int64(key[0])) {
                return *n;
            }
        }
        return key[0];
    }
    return key;
}

std::string key_text(const std::vector<std::string>& key) {
    std::string out;
    for (const std::string& v : key) {
        out += (out.empty() ? "" : ", ") + v;
    }
    return key.size() == 1 ? out : "(" + out + ")";
}

Json report_json(const pipeline::VerifyReport& r) {
    Json j;
    const auto list = [](const std::vector<std::int64_t>& ids) {
        Json out = Json::array();
        for (std::size_t i = 0; i < ids.size() && i < listed_ids; ++i) {
            out.push_back(ids[i]);
        }
        return out;
    };
    const auto keys = [&](const std::vector<std::vector<std::string>>& ks) {
        Json out = Json::array();
        for (std::size_t i = 0; i < ks.size() && i < listed_ids; ++i) {
            out.push_back(key_json(*r.job, ks[i]));
        }
        return out;
    };
    if (r.job) {
        j["job_key"] = r.job->columns;
        j["missing"] = keys(r.job->missing);
        j["stale"] = keys(r.job->stale);
        j["extra"] = keys(r.job->extra);
        j["different"] = Json::array();
        j["newer"] = keys(r.job->newer);
    } else {
        j["missing"] = list(r.missing);
        j["stale"] = list(r.stale);
        j["extra"] = list(r.extra);
        j["different"] = list(r.different);
        j["newer"] = list(r.newer);
    }
    j["duplicate"] = r.job ? keys(r.job->duplicate) : list(r.duplicate);
    j["missing_count"] = r.missing_count();
    j["stale_count"] = r.stale_count();
    j["extra_count"] = r.extra_count();
    j["different_count"] = r.different_count();
    j["newer_count"] = r.newer_count();
    j["duplicate_count"] = r.duplicate_count();
    j["rejected_count"] = r.rejected;
    j["differences"] = r.differences();
    j["lists_complete"] =
        std::max({r.missing_count(), r.stale_count(), r.extra_count(), r.different_count(),
                  r.newer_count(), r.duplicate_count()}) <= listed_ids;
    j["deep"] = r.deep;
    j["scope"] = pipeline::scope_text(r);
    j["source_rows"] = r.source_rows;
    j["warehouse_rows"] = r.warehouse_rows;
    j["buckets_read"] = r.buckets_read;
    j["rows_fetched"] = r.rows_fetched;
    j["statements"] = r.cost.statements;
    j["bytes_read"] = r.cost.bytes;
    j["seconds"] = r.seconds;
    return j;
}

void print_report(const pipeline::VerifyReport& r, std::string_view title) {
    const auto examples = [](const std::vector<std::int64_t>& ids) {
        std::string out;
        for (std::size_t i = 0; i < ids.size() && i < 5; ++i) {
            out += fmt::format("{}{}", i == 0 ? " (e.g. " : ", ", ids[i]);
        }
        return ids.empty() ? out : out + (ids.size() > 5 ? ", ...)" : ")");
    };
    const auto key_examples = [](const std::vector<std::vector<std::string>>& keys) {
        std::string out;
        for (std::size_t i = 0; i < keys.size() && i < 5; ++i) {
            out += (i == 0 ? " (e.g. " : "; ") + key_text(keys[i]);
        }
        return keys.empty() ? out : out + (keys.size() > 5 ? "; ...)" : ")");
    };
    const bool job = r.job.has_value();
    fmt::print("{} {} ({})\n", title, pipeline::scope_text(r),
               r.deep ? "deep" : (job ? "keys and cursor" : "keys and updated_at"));
    fmt::print("  source      {} valid rows, {} rejected (expected absent)\n", r.source_rows,
               r.rejected);
    fmt::print("  warehouse   {} rows\n", r.warehouse_rows);
    fmt::print("  missing     {}{}\n", r.missing_count(),
               job ? key_examples(r.job->missing) : examples(r.missing));
    fmt::print("  stale       {}{}\n", r.stale_count(),
               job ? key_examples(r.job->stale) : examples(r.stale));
    fmt::print("  extra       {}{}\n", r.extra_count(),
               job ? key_examples(r.job->extra) : examples(r.extra));
    if (r.deep) {
        fmt::print("  different   {}{}\n", r.different.size(), examples(r.different));
    } else if (!job) {
        fmt::print("  different   - (compare every column with --deep)\n");
    }
    fmt::print("  newer       {}{}\n", r.newer_count(),
               job ? key_examples(r.job->newer) : examples(r.newer));
    if (r.duplicate_count() > 0) {
        fmt::print("  duplicate   {}{}\n", r.duplicate_count(),
                   job ? key_examples(r.job->duplicate) : examples(r.duplicate));
    }
    fmt::print(
        "  cost        {} bucket sums, {} rows read one by one, {} statements, {:.1f} KiB "
        "from the warehouse, {:.2f} s\n",
        r.buckets_read, r.rows_fetched, r.cost.statements, static_cast<double>(r.cost.bytes) / 1024,
        r.seconds);
}

void write_verify_metrics(const std::string& path, const pipeline::Config& config,
                          const pipeline::VerifyReport& r) {
    if (path.empty()) {
        return;
    }
    pipeline::VerifyMetrics m;
    m.pipeline = config.pipeline_name;
    m.at = r.verified_at;
    m.seconds = r.seconds;
    m.deep = r.deep;
    m.missing = static_cast<std::int64_t>(r.missing_count());
    m.stale = static_cast<std::int64_t>(r.stale_count());
    m.extra = static_cast<std::int64_t>(r.extra_count());
    m.different = static_cast<std::int64_t>(r.different_count());
    m.newer = static_cast<std::int64_t>(r.newer_count());
    m.duplicate = static_cast<std::int64_t>(r.duplicate_count());
    m.rejected = r.rejected;
    try {
        const std::filesystem::path file(path);
        if (file.has_parent_path()) {
            pipeline::ensure_directory(file.parent_path(), "metrics");
        }
        pipeline::write_file_atomically(file, pipeline::format_verify_metrics(m));
    } catch (const std::exception& e) {
        pipeline::log_error("could not write the metrics file",
                            {{"event", "metrics_failed"}, {"file", path}, {"error", e.what()}});
    }
}

}  // namespace

void add_verify_command(CLI::App& app, VerifyCommandOptions& options) {
    CLI::App* cmd = app.add_subcommand(
        "verify", "Prove the warehouse holds what the source says (and --repair it)");
    cmd->add_option("--from", options.from,
                    "First UTC day (YYYY-MM-DD) of rows by updated_at; with --to");
    cmd->add_option("--to", options.to, "Last UTC day (included); with --from");
    cmd->add_flag("--deep", options.deep,
                  "Also compare every loaded column of rows with equal updated_at");
    cmd->add_flag("--json", options.json, "One JSON object on stdout instead of a summary");
    cmd->add_flag("--repair", options.repair,
                  "Re-load missing, stale and newer rows (--deep: also different ones) from the "
                  "source; delete extra rows when ORDERS_PIPELINE_HARD_DELETES=delete; then "
                  "verify again");
    add_config_option(*cmd, options.common);
    add_metrics_option(*cmd, options.metrics_file);
    cmd->footer(
        "Compares the warehouse with the source over rows with updated_at up to the\n"
        "checkpoint's watermark (or in --from..--to). The warehouse sums md5 checksums of its\n"
        "rows per bucket (order_id mod 256) inside the database; the tool computes the same\n"
        "from the validated, transformed source rows; only buckets that differ are narrowed\n"
        "down (mod 65536) and read row by row, so a verify that finds nothing never\n"
        "downloads the table.\n"
        "Categories: missing (valid at the source, not in the warehouse), stale (the\n"
        "warehouse's updated_at is older), extra (deleted at the source), different (equal\n"
        "updated_at, a column differs; --deep only), newer (the warehouse's updated_at is\n"
        "newer than the source's), duplicate (a key the warehouse holds more than once;\n"
        "--repair keeps one). Source rows that fail today's rules count as rejected,\n"
        "never as differences. --repair takes the run lock and records a `repair` run.\n"
        "Exit codes: 0 no difference (after a repair: none left), 6 differences, 1 failure,\n"
        "3 configuration, 4 (--repair) another run holds the lock.");
}

int run_verify_command(const VerifyCommandOptions& options) {
    pipeline::VerifyOptions verify_options;
    verify_options.deep = options.deep;
    if (!options.from.empty() || !options.to.empty()) {
        verify_options.from = pipeline::parse_date(options.from);
        verify_options.to = pipeline::parse_date(options.to);
        if (!verify_options.from || !verify_options.to) {
            fmt::print(stderr, "error: --from and --to go together, as dates YYYY-MM-DD\n");
            return to_int(ExitCode::usage);
        }
        if (*verify_options.to < *verify_options.from) {
            fmt::print(stderr, "error: --to {} is before --from {}\n", options.to, options.from);
            return to_int(ExitCode::usage);
        }
    }
    ExitCode config_exit = ExitCode::success;
    auto config = load_config(options.common, config_exit);
    if (!config) {
        return to_int(config_exit);
    }
    try {
        if (!options.repair) {
            const pipeline::VerifyReport r = pipeline::verify(*config, verify_options);
            write_verify_metrics(options.metrics_file, *config, r);
            if (options.json) {
                fmt::print("{}\n", report_json(r).dump(2));
            } else {
                print_report(r, "verify");
            }
            return to_int(r.differences() == 0 ? ExitCode::success : ExitCode::differences);
        }
        install_stop_handlers(to_int(ExitCode::cancelled));
        const pipeline::RepairReport r = pipeline::repair(*config, verify_options);
        write_verify_metrics(options.metrics_file, *config, r.after);
        if (options.json) {
            Json j = report_json(r.after);
            j["before"] = report_json(r.before);
            j["repair"] = {
                {"run_id", r.run_id.empty() ? Json(nullptr) : Json(r.run_id)},
                {"rows_reloaded", r.counts.rows_written},
                {"rows_inserted", r.counts.rows_inserted},
                {"rows_updated", r.counts.rows_updated},
                {"rows_deleted", r.deleted},
                {"hard_deletes",
                 config->hard_deletes == pipeline::HardDeletes::delete_rows ? "delete" : "keep"}};
            fmt::print("{}\n", j.dump(2));
        } else {
            print_report(r.before, "verify");
            if (r.run_id.empty()) {
                fmt::print("repair      nothing to re-load{}\n",
                           r.before.extra.empty() ? ""
                                                  : " (extra rows kept: "
                                                    "ORDERS_PIPELINE_HARD_DELETES=keep)");
            } else {
                fmt::print(
                    "repair {}: {} row(s) re-loaded (inserted {}, updated {}), {} "
                    "deleted{}\n",
                    r.run_id, r.counts.rows_written, r.counts.rows_inserted, r.counts.rows_updated,
                    r.deleted,
                    config->hard_deletes == pipeline::HardDeletes::keep && !r.before.extra.empty()
                        ? " (extra rows kept: ORDERS_PIPELINE_HARD_DELETES=keep)"
                        : "");
            }
            print_report(r.after, "after repair:");
        }
        return to_int(r.after.differences() == 0 ? ExitCode::success : ExitCode::differences);
    } catch (const std::exception& e) {
        return failed(e, options.repair ? "verify --repair" : "verify");
    }
}

void add_freshness_command(CLI::App& app, FreshnessOptions& options) {
    CLI::App* cmd = app.add_subcommand(
        "freshness", "Exit 0 when the warehouse is within the freshness SLA, 6 when it is late");
    cmd->add_option("--max-lag", options.max_lag_minutes,
                    "The SLA in minutes (default 20, the product's promise)")
        ->check(CLI::Range(0.0, 100000.0));
    cmd->add_flag("--json", options.json, "One JSON object instead of text");
    add_config_option(*cmd, options.common);
    cmd->footer(
        "Late when the checkpoint's watermark is more than --max-lag behind the source's clock,\n"
        "or the last successful incremental run ended more than --max-lag ago (PostgreSQL: the\n"
        "run table; Snowflake: the local run journal, so the warehouse is not woken).\n"
        "Exit codes: 0 fresh, 6 late (what and by how much on stdout), 1 cannot tell, 3 config.");
}

int run_freshness_command(const FreshnessOptions& options) {
    ExitCode config_exit = ExitCode::success;
    auto config = load_config(options.common, config_exit, JobNeeds::names);
    if (!config) {
        return to_int(config_exit);
    }
    try {
        const pipeline::FreshnessReport r =
            pipeline::check_freshness(*config, options.max_lag_minutes);
        if (options.json) {
            Json j;
            j["fresh"] = r.fresh();
            j["max_lag_seconds"] = r.max_lag_seconds;
            j["source_now"] = pipeline::format_timestamp(r.source_now);
            j["watermark"] =
                r.watermark ? Json(pipeline::format_timestamp(*r.watermark)) : Json(nullptr);
            j["checkpoint_lag_seconds"] =
                r.checkpoint_lag_seconds ? Json(*r.checkpoint_lag_seconds) : Json(nullptr);
            j["last_success"] =
                r.last_success ? Json(pipeline::format_timestamp(*r.last_success)) : Json(nullptr);
            j["since_success_seconds"] =
                r.since_success_seconds ? Json(*r.since_success_seconds) : Json(nullptr);
            j["late"] = r.late;
            fmt::print("{}\n", j.dump(2));
        } else if (r.fresh()) {
            fmt::print(
                "fresh: checkpoint {:.0f} s behind the source, last success {:.0f} s ago "
                "(SLA {:.0f} min)\n",
                r.checkpoint_lag_seconds.value_or(0), r.since_success_seconds.value_or(0),
                r.max_lag_seconds / 60);
        } else {
            fmt::print("LATE (SLA {:.0f} min):\n", r.max_lag_seconds / 60);
            for (const std::string& what : r.late) {
                fmt::print("  {}\n", what);
            }
        }
        return to_int(r.fresh() ? ExitCode::success : ExitCode::differences);
    } catch (const std::exception& e) {
        return failed(e, "freshness");
    }
}

}  // namespace cmd
