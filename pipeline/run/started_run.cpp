// pipeline/run/started_run.cpp: the warehouse, the lock and the run record of one run.
#include "pipeline/run/started_run.hpp"

#include <fmt/format.h>

#include <random>

#include "pipeline/core/error.hpp"
#include "pipeline/runtime/logging.hpp"
#include "pipeline/runtime/pg_connection.hpp"

namespace pipeline {

std::string make_run_id(Timestamp started) {
    std::random_device device;
    const UtcParts p = utc_parts(started);
    return fmt::format("{:04d}{:02d}{:02d}T{:02d}{:02d}{:02d}Z-{:08x}", p.date.year, p.date.month,
                       p.date.day, p.hour, p.minute, p.second, device());
}

std::string run_application_name(const Config& config, const std::string& run_id) {
    return fmt::format("orders-pipeline {} {}", config.pipeline_name, run_id);
}

RunRecord first_record(const Config& config, const std::string& run_id, RunMode mode,
                       CivilDate run_date, Timestamp started) {
    RunRecord record;
    record.run_id = run_id;
    record.pipeline_name = config.pipeline_name;
    record.mode = mode;
    record.run_date = run_date;
    record.started_at = started;
    record.environment = to_string(config.environment);
    return record;
}

SourceConnector source_connector(const Config& config, std::string application_name) {
    return [&config, name = std::move(application_name)] {
        PgConnection source(config.source_url, ErrorKind::source, "SOURCE", name);
        prepare_source_session(source, config.source_statement_timeout_seconds);
        return source;
    };
}

std::string describe_destination(const DestinationConfig& destination) {
    if (destination.snowflake) {
        const SnowflakeTarget& t = destination.snowflake->target;
        return fmt::format("snowflake {}/{}/{} (warehouse {})", t.account, t.database, t.schema,
                           t.warehouse);
    }
    return describe_pg_target(destination.url);
}

StartedRun::StartedRun(const Config& config, std::function<void(const RunRecord&)> on_finished,
                       RunRecord record, const std::string& application_name, Retrier& retrier,
                       std::chrono::steady_clock::time_point steady_start)
    : config_(config),
      retrier_(retrier),
      on_finished_(std::move(on_finished)),
      record_(std::move(record)),
      started_at_(steady_start) {
    const WarehouseSession session{application_name, config.pipeline_name, record_.run_id,
                                   config.retry, config.checkpoint_dir};
    warehouse_ = retrier.run("connect to the destination", [&] {
        return make_warehouse(config.destination, session, config.job);
    });
    if (warehouse_->records_wake_warehouse()) {
        journal_.emplace(config.checkpoint_dir, config.pipeline_name);
    }
    std::string holder;
    lock_ = retrier.run("take the run lock", [&] {
        return PipelineLock::try_acquire(config, application_name, holder);
    });
    if (!lock_.held()) {
        RunRecord skipped = record_;
        skipped.status = RunStatus::skipped;
        skipped.finished_at = now_utc();
        skipped.duration_seconds = seconds_since(steady_start);
        skipped.error_message = "another run holds the lock: " + holder;
        try {
            if (journal_) {
                journal_->put(skipped);  // delivered by a run that wakes the warehouse anyway
            } else {
                retrier.run("write the run record",
                            [&] { warehouse_->upsert_run_record(skipped); });
            }
        } catch (const std::exception& e) {
            log_warning("could not write the skipped run record",
                        {{"event", "run_record_failed"}, {"error", e.what()}});
        }
        finished_ = true;
        if (on_finished_) {
            on_finished_(skipped);
        }
        throw Error(
            ErrorKind::lock_held,
            fmt::format("another run of pipeline '{}' is in progress ({}); nothing was done",
                        config.pipeline_name, holder));
    }
    log_debug("run lock acquired", {{"event", "lock_acquired"}});
    if (journal_) {
        // We hold the lock: a `running` record of another run is one that died.
        const auto abandoned = journal_->close_abandoned(record_.run_id, now_utc());
        if (!abandoned.empty()) {
            log_warning("earlier runs ended without a result; recorded as failed",
                        {{"event", "abandoned_runs"}, {"run_ids", abandoned}});
        }
        journal_->put(record_);
    } else {
        try {
            started();
        } catch (const std::exception& e) {
            // E.g. a target that cannot hold the rows: recorded as failed, when the run
            // table allows it.
            finish(RunStatus::failed, record_.counts, e.what());
            throw;
        }
        retrier.run("write the run record", [&] { warehouse_->upsert_run_record(record_); });
    }
}

StartedRun::~StartedRun() {
    if (!finished_) {
        finish(RunStatus::failed, record_.counts, "the run ended without reporting a result");
    }
}

Warehouse& StartedRun::started() {
    if (!started_) {
        retrier_.run("start the warehouse", [&] { warehouse_->begin_run(); });
        started_ = true;  // from here end_run has something to end
        retrier_.run("create the destination tables", [&] { warehouse_->ensure_schema(); });
        retrier_.run("drop stale staging tables", [&] { warehouse_->drop_stale_staging(); });
    }
    return *warehouse_;
}

std::optional<WarehouseCost> StartedRun::cost() const {
    return warehouse_->cost();
}

double StartedRun::elapsed() const {
    return seconds_since(started_at_);
}

void StartedRun::finish(RunStatus status, const RunCounts& counts,
                        std::optional<std::string> error) noexcept {
    if (finished_) {
        return;
    }
    finished_ = true;
    record_.status = status;
    record_.counts = counts;
    record_.finished_at = now_utc();
    record_.duration_seconds = seconds_since(started_at_);
    record_.error_message = std::move(error);
    if (const auto spent = warehouse_->cost()) {
        record_.warehouse_seconds = spent->seconds;
        record_.credits_estimate = spent->credits;
    }
    write_final_record();
    if (started_) {
        warehouse_->end_run();
    }
    if (on_finished_) {
        on_finished_(record_);
    }
}

void StartedRun::write_final_record() noexcept {
    try {
        if (!journal_) {
            retrier_.run("write the run record", [&] { warehouse_->upsert_run_record(record_); });
            return;
        }
        journal_->put(record_);
        if (!started_) {
            log_info("the warehouse was not woken; the run record waits in the local journal",
                     {{"event", "run_record_journaled"}, {"journal", journal_->path().string()}});
            return;
        }
        // The warehouse runs anyway: every waiting record goes in one statement.
        const std::vector<RunRecord> records = journal_->pending();
        retrier_.run("write the run records", [&] { warehouse_->upsert_run_records(records); });
        std::vector<std::string> ids;
        for (const RunRecord& r : records) {
            ids.push_back(r.run_id);
        }
        journal_->mark_delivered(ids);
        if (records.size() > 1) {
            log_info("run records that waited in the local journal were written",
                     {{"event", "run_records_delivered"}, {"records", records.size()}});
        }
    } catch (const std::exception& e) {
        log_error(journal_ ? "could not write the run record; it waits in the local journal"
                           : "could not write the run record",
                  {{"event", "run_record_failed"},
                   {"status", to_string(record_.status)},
                   {"error", e.what()}});
    }
}

}  // namespace pipeline
