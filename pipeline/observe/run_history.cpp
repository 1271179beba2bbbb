// pipeline/observe/run_history.cpp: SELECT from the run-record table.
#include "pipeline/observe/run_history.hpp"

#include <fmt/format.h>

#include "pipeline/core/error.hpp"
#include "pipeline/orders/validate.hpp"
#include "pipeline/runtime/pg_connection.hpp"
#include "pipeline/state/run_journal.hpp"

namespace pipeline {

namespace {

std::string iso_seconds(Timestamp ts) {
    const UtcParts p = utc_parts(ts);
    return fmt::format("{:04d}-{:02d}-{:02d}T{:02d}:{:02d}:{:02d}Z", p.date.year, p.date.month,
                       p.date.day, p.hour, p.minute, p.second);
}

std::vector<RunListing> journal_runs(const Config& config, int limit,
                                     const std::optional<std::string>& status) {
    std::vector<RunListing> runs;
    for (const JournalEntry& e :
         RunJournal(config.checkpoint_dir, config.pipeline_name).entries()) {
        const RunRecord& r = e.record;
        if ((status && *status != to_string(r.status)) ||
            runs.size() >= static_cast<std::size_t>(limit)) {
            continue;
        }
        RunListing run;
        run.run_id = r.run_id;
        run.mode = to_string(r.mode);
        run.run_date = format_date(r.run_date);
        run.started_at = iso_seconds(r.started_at);
        run.finished_at = r.finished_at ? iso_seconds(*r.finished_at) : "";
        run.status = to_string(r.status);
        run.duration_seconds = r.duration_seconds;
        run.rows_extracted = r.counts.rows_extracted;
        run.rows_written = r.counts.rows_written;
        run.rows_rejected = r.counts.rows_rejected;
        run.rows_inserted = r.counts.rows_inserted;
        run.rows_updated = r.counts.rows_updated;
        run.error_message = r.error_message.value_or("");
        run.warehouse_seconds = r.warehouse_seconds;
        run.credits_estimate = r.credits_estimate;
        run.waiting_locally = !e.delivered;
        runs.push_back(std::move(run));
    }
    return runs;
}

}  // namespace

std::vector<RunListing> list_runs(const Config& config, int limit,
                                  const std::optional<std::string>& status) {
    if (config.destination.kind == DestinationKind::snowflake) {
        return journal_runs(config, limit, status);
    }
    PgConnection conn(config.destination.url, ErrorKind::destination, "DEST",
                      "orders-pipeline runs");
    const std::string iso = "'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'";
    const std::string sql = fmt::format(
        "SELECT run_id, mode, run_date::text, to_char(started_at AT TIME ZONE 'UTC', {0}), "
        "coalesce(to_char(finished_at AT TIME ZONE 'UTC', {0}), ''), status, "
        "duration_seconds::text, rows_extracted, rows_written, rows_rejected, rows_inserted, "
        "rows_updated, coalesce(error_message, '') FROM {1} "
        "WHERE pipeline_name = $1 AND ($2::text IS NULL OR status = $2) "
        "ORDER BY started_at DESC, run_id DESC LIMIT $3",
        iso, config.destination.run_table.str());
    const std::vector<std::optional<std::string>> params = {config.pipeline_name, status,
                                                            std::to_string(limit)};
    const PgResult result = conn.exec_params(sql, params, "[SELECT runs]");
    std::vector<RunListing> runs;
    for (int r = 0; r < result.rows(); ++r) {
        RunListing run;
        run.run_id = result.value(r, 0);
        run.mode = result.value(r, 1);
        run.run_date = result.value(r, 2);
        run.started_at = result.value(r, 3);
        run.finished_at = result.value(r, 4);
        run.status = result.value(r, 5);
        if (!result.is_null(r, 6)) {
            run.duration_seconds = std::stod(std::string(result.value(r, 6)));
        }
        run.rows_extracted = parse_int64(result.value(r, 7)).value_or(0);
        run.rows_written = parse_int64(result.value(r, 8)).value_or(0);
        run.rows_rejected = parse_int64(result.value(r, 9)).value_or(0);
        run.rows_inserted = parse_int64(result.value(r, 10)).value_or(0);
        run.rows_updated = parse_int64(result.value(r, 11)).value_or(0);
        run.error_message = result.value(r, 12);
        runs.push_back(std::move(run));
    }
    return runs;
}

}  // namespace pipeline
