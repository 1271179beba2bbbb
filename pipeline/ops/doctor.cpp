// pipeline/ops/doctor.cpp: the verification checklist, one check per function.
#include "pipeline/ops/doctor.hpp"

#include <fmt/format.h>
#include <unistd.h>

#include <algorithm>
#include <set>

#include "pipeline/core/error.hpp"
#include "pipeline/core/unicode.hpp"
#include "pipeline/orders/order_row.hpp"
#include "pipeline/runtime/pg_connection.hpp"
#include "pipeline/source/extractor.hpp"
#include "pipeline/state/atomic_file.hpp"
#include "pipeline/state/checkpoint.hpp"
#include "pipeline/state/dlq.hpp"
#include "pipeline/state/run_journal.hpp"
#include "pipeline/state/run_lock.hpp"
#include "pipeline/verify/verify.hpp"
#include "pipeline/warehouse/job_sql.hpp"
#include "pipeline/warehouse/snowflake/snowflake_warehouse.hpp"

namespace pipeline {

namespace {

constexpr std::string_view application_name = "orders-pipeline doctor";

// The freshness target: data no older than 20 minutes.
constexpr double stale_lag_seconds = 20 * 60;

const std::vector<std::string_view> run_table_columns = {
    "run_id",           "pipeline_name", "mode",          "run_date",
    "started_at",       "finished_at",   "status",        "rows_extracted",
    "rows_written",     "rows_rejected", "rows_inserted", "rows_updated",
    "duration_seconds", "error_message", "environment"};

DoctorCheck ok(std::string name, std::string detail) {
    return {std::move(name), DoctorCheck::Level::ok, std::move(detail)};
}
DoctorCheck warn(std::string name, std::string detail) {
    return {std::move(name), DoctorCheck::Level::warn, std::move(detail)};
}
DoctorCheck fail(std::string name, std::string detail) {
    return {std::move(name), DoctorCheck::Level::fail, std::move(detail)};
}

// Which commit-aware mode the source allows (spec §3): exact needs every
// session's transaction start, which a primary shows to a role with
// pg_read_all_stats (or a superuser); a replica never shows the primary's.
void check_commit_awareness(const Config& config, PgConnection& source,
                            std::vector<DoctorCheck>& out) {
    const std::string what = "commit-aware extraction";
    try {
        const PgResult facts = source.exec(
            "SELECT pg_is_in_recovery()::text, pg_has_role('pg_read_all_stats', 'USAGE')::text, "
            "current_user",
            "[doctor commit-aware]");
        const bool replica = facts.value(0, 0) == "true";
        const bool sees_all = facts.value(0, 1) == "true";
        const std::string role(facts.value(0, 2));
        const int bound = config.max_transaction_minutes;
        const std::string bounded_cover =
            bound > 0 ? fmt::format(
                            "each window reaches back MAX_TRANSACTION_MINUTES ({} min) for rows "
                            "of transactions that were in progress; a longer transaction that "
                            "stamps rows with its start time can still be missed",
                            bound)
                      : "MAX_TRANSACTION_MINUTES is 0: rows of transactions open across runs "
                        "are only caught within OVERLAP_MINUTES";
        if (replica) {
            const std::string detail =
                "mode replica: the primary's sessions are invisible on a standby; " + bounded_cover;
            out.push_back(bound > 0 ? ok(what, detail) : warn(what, detail));
        } else if (!sees_all) {
            out.push_back(warn(
                what, fmt::format("mode bounded: role {0} cannot see other users' transactions "
                                  "(pg_stat_activity shows them without xact_start); {1}. For "
                                  "exact windows: GRANT pg_read_all_stats TO {0};",
                                  role, bounded_cover)));
        } else {
            out.push_back(ok(
                what, fmt::format("mode exact: role {} sees every session's transaction; rows of "
                                  "transactions open across runs are caught whatever their length "
                                  "(up to HOLDBACK_MAX_MINUTES, {} min)",
                                  role, config.holdback_max_minutes)));
        }
    } catch (const std::exception& e) {
        out.push_back(fail(what, e.what()));
    }
}

// Source: reachable, read-only session, and the cursor's plan uses an index on updated_at.
void check_source(const Config& config, std::vector<DoctorCheck>& out, Timestamp& source_now) {
    std::optional<PgConnection> source;
    try {
        source.emplace(config.source_url, ErrorKind::source, "SOURCE",
                       std::string(application_name));
        prepare_source_session(*source, config.source_statement_timeout_seconds);
        const PgResult facts = source->exec(
            "SELECT current_setting('transaction_read_only'), pg_is_in_recovery()::text, "
            "to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"'), "
            "current_setting('server_version')",
            "[doctor source]");
        source_now = parse_timestamp(facts.value(0, 2), OffsetRule::required).value_or(now_utc());
        const bool read_only = facts.value(0, 0) == "on";
        const bool replica = facts.value(0, 1) == "true";
        const std::string detail = fmt::format(
            "{} (PostgreSQL {}, {}, session read-only: {})", describe_pg_target(config.source_url),
            facts.value(0, 3), replica ? "a replica" : "a primary", read_only ? "yes" : "no");
        if (!read_only) {
            out.push_back(fail("source reachable, read-only", detail));
        } else if (!replica) {
            out.push_back(
                warn("source reachable, read-only", detail + "; extraction should read a replica"));
        } else {
            out.push_back(ok("source reachable, read-only", detail));
        }
    } catch (const std::exception& e) {
        out.push_back(fail("source reachable, read-only", e.what()));
        out.push_back(fail("extraction uses an index on updated_at", "source not reachable"));
        out.push_back(fail("commit-aware extraction", "source not reachable"));
        return;
    }
    check_commit_awareness(config, *source, out);
    try {
        // With sequential scans priced out, the planner picks an index iff a usable one exists.
        const ExtractSpec spec =
            config.job ? ExtractSpec::job(*config.job)
                       : ExtractSpec::orders(config.source_schema, config.source_table);
        WindowRequest window;
        std::vector<std::optional<std::string>> params;
        if (spec.cursor_kind == CursorKind::integer) {
            window.lower_position = 0;
            params = {"0", "1000"};
        } else {
            window.lower = Timestamp{source_now.micros - 15 * micros_per_minute};
            params = {format_timestamp(*window.lower), format_timestamp(source_now)};
        }
        const std::string select = Extractor::select_sql(spec, window);
        source->exec("BEGIN; SET LOCAL enable_seqscan = off", "[doctor plan]");
        const PgResult plan = source->exec_params("EXPLAIN " + select, params, "[EXPLAIN]");
        source->exec("ROLLBACK", "[doctor plan]");
        std::string text;
        for (int r = 0; r < plan.rows(); ++r) {
            text += std::string(plan.value(r, 0)) + "\n";
        }
        const bool indexed = text.find("Index Scan") != std::string::npos ||
                             text.find("Index Only Scan") != std::string::npos ||
                             text.find("Bitmap Index Scan") != std::string::npos;
        const std::string table =
            fmt::format("{}.{}", config.source_schema.str(), config.source_table.str());
        const std::string what = "extraction uses an index on " + spec.cursor;
        if (indexed) {
            out.push_back(ok(what, fmt::format("EXPLAIN shows an index scan of {}", table)));
        } else {
            out.push_back(fail(
                what, fmt::format("EXPLAIN shows a sequential scan of {}: every run sorts the "
                                  "whole table. On the primary: CREATE INDEX CONCURRENTLY ON {} "
                                  "({}, {})",
                                  table, table, spec.cursor, fmt::join(spec.key, ", "))));
        }
    } catch (const std::exception& e) {
        out.push_back(fail("extraction uses an index on the cursor", e.what()));
    }
}

// The columns of schema.table in the PostgreSQL warehouse, lower case; empty if missing.
std::set<std::string> pg_columns(PgConnection& conn, const std::string& schema,
                                 const std::string& table) {
    const std::vector<std::optional<std::string>> params = {schema, table};
    const PgResult r = conn.exec_params(
        "SELECT column_name FROM information_schema.columns WHERE table_schema = $1 AND "
        "table_name = $2",
        params, "[doctor columns]");
    std::set<std::string> columns;
    for (int i = 0; i < r.rows(); ++i) {
        columns.emplace(r.value(i, 0));
    }
    return columns;
}

DoctorCheck table_check(const std::string& what, const std::set<std::string>& present,
                        const std::vector<std::string_view>& expected, bool must_exist) {
    if (present.empty()) {
        return must_exist ? fail(what,
                                 "missing, although this pipeline has a checkpoint (it ran "
                                 "before): was it dropped? The next run recreates it "
                                 "empty; backfill to refill it")
                          : warn(what, "missing; the first run creates it");
    }
    std::vector<std::string> missing;
    for (const auto column : expected) {
        if (!present.contains(std::string(column))) {
            missing.emplace_back(column);
        }
    }
    if (!missing.empty()) {
        return fail(what, fmt::format("lacks column(s) {}", fmt::join(missing, ", ")));
    }
    return ok(what, fmt::format("{} expected columns present", expected.size()));
}

void check_pg_destination(const Config& config, std::vector<DoctorCheck>& out,
                          bool has_checkpoint) {
    const DestinationConfig& d = config.destination;
    std::optional<PgConnection> dest;
    try {
        dest.emplace(d.url, ErrorKind::destination, "DEST", std::string(application_name));
        out.push_back(ok("destination reachable", describe_pg_target(d.url)));
    } catch (const std::exception& e) {
        out.push_back(fail("destination reachable", e.what()));
        return;
    }
    std::vector<std::string> job_columns;
    if (config.job) {
        for (const auto& [name, type] : job_target_columns(*config.job)) {
            job_columns.push_back(name);
        }
        job_columns.emplace_back(loaded_at_column);
    }
    const std::vector<std::string_view> target_columns =
        config.job ? std::vector<std::string_view>(job_columns.begin(), job_columns.end())
                   : std::vector<std::string_view>(destination_column_names.begin(),
                                                   destination_column_names.end());
    out.push_back(table_check(fmt::format("target table {}.{}", d.schema.str(), d.table.str()),
                              pg_columns(*dest, d.schema.str(), d.table.str()), target_columns,
                              has_checkpoint));
    const auto run_columns = pg_columns(*dest, d.run_table.schema.str(), d.run_table.table.str());
    out.push_back(table_check(fmt::format("run table {}", d.run_table.str()), run_columns,
                              run_table_columns, has_checkpoint));
    if (run_columns.empty()) {
        return;
    }
    const std::vector<std::optional<std::string>> params = {config.pipeline_name};
    const PgResult r = dest->exec_params(
        fmt::format("SELECT count(*) FROM {0} WHERE pipeline_name = $1 AND status = 'failed' AND "
                    "started_at > coalesce((SELECT max(started_at) FROM {0} WHERE pipeline_name "
                    "= $1 AND status = 'success'), '-infinity')",
                    d.run_table.str()),
        params, "[doctor failures]");
    const int failures = std::stoi(std::string(r.value(0, 0)));
    const std::string what = "consecutive failed runs";
    const std::string detail = fmt::format("{} since the last success", failures);
    out.push_back(failures == 0  ? ok(what, detail)
                  : failures < 3 ? warn(what, detail + "; see `orders-pipeline runs`")
                                 : fail(what, detail + "; see `orders-pipeline runs`"));
}

void check_snowflake_destination(const Config& config, std::vector<DoctorCheck>& out) {
    const SnowflakeDestination& sf = *config.destination.snowflake;
    try {
        SnowflakeClient client(snowflake_client_options(sf, "orders-pipeline:doctor", config.retry),
                               JwtSource(*sf.private_key, sf.target.account, sf.target.user));
        StatementRequest show;
        show.statement = fmt::format("SHOW WAREHOUSES LIKE '{}'", sf.target.warehouse);
        const ResultSet result = client.execute("SHOW WAREHOUSES", show);
        out.push_back(
            ok("destination reachable", fmt::format("Snowflake {} as {} (key-pair JWT accepted)",
                                                    sf.api_url, ascii_upper(sf.target.user))));
        out.push_back(
            result.rows.empty()
                ? fail("warehouse exists",
                       fmt::format("{} not found or not visible to the role", sf.target.warehouse))
                : ok("warehouse exists", sf.target.warehouse));
    } catch (const std::exception& e) {
        out.push_back(fail("destination reachable", e.what()));
    }
    out.push_back(warn("target and run tables",
                       "not inspected on Snowflake; `run --dry-run` shows the DDL the run sends"));
    // Run records from the local journal: reading the run table would wake the warehouse.
    try {
        const auto entries = RunJournal(config.checkpoint_dir, config.pipeline_name).entries();
        int failures = 0;
        std::size_t waiting = 0;
        bool success_seen = false;
        for (const JournalEntry& e : entries) {  // newest first
            waiting += e.delivered ? 0 : 1;
            success_seen = success_seen || e.record.status == RunStatus::success;
            failures += !success_seen && e.record.status == RunStatus::failed ? 1 : 0;
        }
        const std::string what = "consecutive failed runs";
        const std::string detail = fmt::format(
            "{} since the last success (local run journal; {} record(s) waiting for "
            "the next run that wakes the warehouse)",
            failures, waiting);
        out.push_back(failures == 0  ? ok(what, detail)
                      : failures < 3 ? warn(what, detail + "; see `orders-pipeline runs`")
                                     : fail(what, detail + "; see `orders-pipeline runs`"));
    } catch (const std::exception& e) {
        out.push_back(warn("consecutive failed runs", e.what()));
    }
}

void check_lock(const Config& config, std::vector<DoctorCheck>& out) {
    try {
        std::string holder;
        auto lock = PipelineLock::try_acquire(config, std::string(application_name), holder);
        out.push_back(lock.held() ? ok("run lock free", "no run in progress")
                                  : warn("run lock free", "held by " + holder));
    } catch (const std::exception& e) {
        out.push_back(fail("run lock free", e.what()));
    }
}

void check_dlq(const Config& config, std::vector<DoctorCheck>& out) {
    const std::string what = "DLQ directory writable";
    try {
        ensure_directory(config.dlq_dir, "DLQ");
        const auto probe = config.dlq_dir / fmt::format(".doctor.{}", ::getpid());
        write_file_atomically(probe, "probe\n");
        std::filesystem::remove(probe);
    } catch (const std::exception& e) {
        out.push_back(fail(what, e.what()));
        return;
    }
    std::size_t files = 0;
    std::size_t rows = 0;
    for (const auto& file : list_dlq_files(config.dlq_dir, config.pipeline_name)) {
        files += file.replayed ? 0 : 1;
        rows += file.replayed ? 0 : file.rows;
    }
    const std::string detail = fmt::format("{}; {} row(s) in {} file(s) not replayed",
                                           config.dlq_dir.string(), rows, files);
    out.push_back(rows == 0 ? ok(what, detail)
                            : warn(what, detail + " (`orders-pipeline dlq list`)"));
}

// What the next window waits for, from the checkpoint; WARN past the cap.
DoctorCheck hold_back_check(const Config& config, const CheckpointState& state) {
    const std::string what = "open source transactions";
    if (state.hold_back_unreadable) {
        return warn(what, fmt::format("the checkpoint's hold-back is unreadable ({}); the next run "
                                      "reaches back HOLDBACK_MAX_MINUTES for every transaction",
                                      *state.hold_back_unreadable));
    }
    if (!state.hold_back) {
        return ok(what, "none was open at the last run: no hold-back");
    }
    const HoldBack& hold = *state.hold_back;
    std::vector<std::string> waiting;
    for (const OpenTransaction& t : hold.waiting) {
        waiting.push_back(describe(t));
    }
    const std::string detail =
        fmt::format("the next window reaches back {:.0f} s ({}) for {} transaction(s){}{}",
                    hold_back_seconds(hold, state.watermark), to_string(hold.mode),
                    hold.waiting.size(), waiting.empty() ? "" : ": ", fmt::join(waiting, "; "));
    if (hold.capped) {
        return warn(what, fmt::format("{}; CAPPED at HOLDBACK_MAX_MINUTES ({} min): a transaction "
                                      "older than that can lose rows; end it, then backfill the "
                                      "days it touched",
                                      detail, config.holdback_max_minutes));
    }
    return ok(what, detail);
}

// The last `verify`, from the summary it keeps beside the checkpoint.
void check_last_verify(const Config& config, std::vector<DoctorCheck>& out) {
    const std::string what = "last verify";
    const auto last = last_verify(config);
    if (!last) {
        out.push_back(warn(what,
                           "never run here: schedule `orders-pipeline verify` daily (see "
                           "cron/) to prove the warehouse equals the source"));
        return;
    }
    const double age_hours = seconds_between(last->at, now_utc()) / 3600;
    const std::string detail = fmt::format(
        "{} ({:.0f} h ago, {}): missing {}, stale {}, extra {}, different {}, newer {}, "
        "duplicate {}",
        format_timestamp(last->at), age_hours, last->deep ? "deep" : "keys and updated_at",
        last->missing, last->stale, last->extra, last->different, last->newer, last->duplicate);
    if (last->differences() > 0) {
        out.push_back(warn(what, detail + "; `orders-pipeline verify --repair` re-loads them"));
    } else if (age_hours > 48) {
        out.push_back(warn(what, detail + "; older than two days: is the daily job running?"));
    } else {
        out.push_back(ok(what, detail));
    }
}

}  // namespace

std::string_view to_string(DoctorCheck::Level level) {
    switch (level) {
        case DoctorCheck::Level::ok:
            return "OK";
        case DoctorCheck::Level::warn:
            return "WARN";
        case DoctorCheck::Level::fail:
            return "FAIL";
    }
    return "FAIL";
}

std::vector<DoctorCheck> run_doctor(const Config& config) {
    std::vector<DoctorCheck> out;
    out.push_back(
        ok("configuration valid", fmt::format("pipeline '{}', {} environment", config.pipeline_name,
                                              to_string(config.environment))));
    Timestamp source_now = now_utc();
    check_source(config, out, source_now);
    CheckpointLoad checkpoint;
    try {
        checkpoint = CheckpointStore(config.checkpoint_dir, config.pipeline_name).peek();
    } catch (const std::exception& e) {
        checkpoint.warning = e.what();
    }
    const bool has_checkpoint = checkpoint.state || checkpoint.warning;
    if (config.destination.kind == DestinationKind::snowflake) {
        check_snowflake_destination(config, out);
    } else {
        check_pg_destination(config, out, has_checkpoint);
    }
    const std::string what = "checkpoint readable";
    if (!has_checkpoint) {
        out.push_back(warn(what, "none yet: the next run loads everything"));
    } else if (!checkpoint.state) {
        out.push_back(fail(what, fmt::format("corrupt: {}; the next run moves it aside and "
                                             "reloads everything",
                                             *checkpoint.warning)));
    } else {
        const double lag = seconds_between(checkpoint.state->watermark, source_now);
        const std::string detail = fmt::format("lag {:.0f} s behind the source's clock", lag);
        out.push_back(lag > stale_lag_seconds
                          ? warn(what, detail + " (above the 20-minute freshness target)")
                          : ok(what, detail));
        out.push_back(hold_back_check(config, *checkpoint.state));
    }
    check_lock(config, out);
    check_dlq(config, out);
    check_last_verify(config, out);
    return out;
}

}  // namespace pipeline
