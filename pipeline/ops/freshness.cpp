// pipeline/ops/freshness.cpp: checkpoint lag and time since the last success against the SLA.
#include "pipeline/ops/freshness.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <utility>

#include "pipeline/core/error.hpp"
#include "pipeline/runtime/pg_connection.hpp"
#include "pipeline/state/checkpoint.hpp"
#include "pipeline/state/run_journal.hpp"

namespace pipeline {

namespace {

std::string minutes(double seconds) {
    return fmt::format("{:.1f} min", seconds / 60);
}

// (started, finished) of the newest successful incremental run.
using RunTimes = std::pair<Timestamp, Timestamp>;

std::optional<RunTimes> last_success_in_table(const Config& config) {
    PgConnection conn(config.destination.url, ErrorKind::destination, "DEST",
                      fmt::format("orders-pipeline {} freshness", config.pipeline_name));
    const std::vector<std::optional<std::string>> params = {config.destination.run_table.str(),
                                                            config.pipeline_name};
    const PgResult exists =
        conn.exec_params("SELECT to_regclass($1) IS NOT NULL", {params.data(), 1}, "[run table]");
    if (exists.value(0, 0) != "t") {
        return std::nullopt;
    }
    const std::string iso = "'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"'";
    const PgResult last = conn.exec_params(
        fmt::format("SELECT to_char(started_at AT TIME ZONE 'UTC', {0}), "
                    "to_char(finished_at AT TIME ZONE 'UTC', {0}) FROM {1} WHERE pipeline_name = "
                    "$1 AND status = 'success' AND mode = 'incremental' AND finished_at IS NOT "
                    "NULL ORDER BY finished_at DESC LIMIT 1",
                    iso, config.destination.run_table.str()),
        {params.data() + 1, 1}, "[last success]");
    if (last.rows() == 0) {
        return std::nullopt;
    }
    const auto started = parse_timestamp(last.value(0, 0), OffsetRule::required);
    const auto finished = parse_timestamp(last.value(0, 1), OffsetRule::required);
    return started && finished ? std::optional(RunTimes{*started, *finished}) : std::nullopt;
}

std::optional<RunTimes> last_success_in_journal(const Config& config) {
    for (const JournalEntry& e :
         RunJournal(config.checkpoint_dir, config.pipeline_name).entries()) {
        if (e.record.status == RunStatus::success && e.record.mode == RunMode::incremental &&
            e.record.finished_at) {
            return RunTimes{e.record.started_at, *e.record.finished_at};  // newest first
        }
    }
    return std::nullopt;
}

}  // namespace

FreshnessReport check_freshness(const Config& config, double max_lag_minutes) {
    FreshnessReport report;
    report.max_lag_seconds = max_lag_minutes * 60;
    {
        PgConnection source(config.source_url, ErrorKind::source, "SOURCE",
                            fmt::format("orders-pipeline {} freshness", config.pipeline_name));
        const PgResult now = source.exec("SELECT now()::text", "[SELECT now()]");
        report.source_now =
            parse_timestamp(now.value(0, 0), OffsetRule::assume_utc).value_or(now_utc());
    }
    const std::optional<RunTimes> success = config.destination.kind == DestinationKind::snowflake
                                                ? last_success_in_journal(config)
                                                : last_success_in_table(config);
    const CheckpointLoad checkpoint =
        CheckpointStore(config.checkpoint_dir, config.pipeline_name).peek();
    if (checkpoint.state) {
        // A successful run that found nothing new leaves the checkpoint where
        // it was (spec §8), yet proves the warehouse current as of its start:
        // the lag counts from the later of the two.
        report.watermark = checkpoint.state->watermark;
        const Timestamp current_as_of =
            success ? std::max(*report.watermark, success->first) : *report.watermark;
        report.checkpoint_lag_seconds = seconds_between(current_as_of, report.source_now);
        if (*report.checkpoint_lag_seconds > report.max_lag_seconds) {
            report.late.push_back(fmt::format(
                "the warehouse is {} behind the source's clock ({} over the {} SLA): the "
                "checkpoint's watermark and the last successful run are that old",
                minutes(*report.checkpoint_lag_seconds),
                minutes(*report.checkpoint_lag_seconds - report.max_lag_seconds),
                minutes(report.max_lag_seconds)));
        }
    } else {
        report.late.push_back(
            checkpoint.warning
                ? fmt::format("the checkpoint is unreadable: {}", *checkpoint.warning)
                : std::string("no checkpoint: the pipeline has not run yet"));
    }
    if (success) {
        report.last_success = success->second;
        report.since_success_seconds = seconds_between(success->second, now_utc());
        if (*report.since_success_seconds > report.max_lag_seconds) {
            report.late.push_back(
                fmt::format("the last successful run ended {} ago ({} over the {} SLA)",
                            minutes(*report.since_success_seconds),
                            minutes(*report.since_success_seconds - report.max_lag_seconds),
                            minutes(report.max_lag_seconds)));
        }
    } else {
        report.late.push_back("no successful incremental run is recorded");
    }
    return report;
}

}  // namespace pipeline
