// pipeline/run/started_run.hpp: what every run form holds from start to end: the warehouse,
// the run lock, the run record (spec §1, §9).
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "pipeline/config/config.hpp"
#include "pipeline/observe/run_record.hpp"
#include "pipeline/runtime/retry.hpp"
#include "pipeline/source/extractor.hpp"
#include "pipeline/state/run_journal.hpp"
#include "pipeline/state/run_lock.hpp"
#include "pipeline/warehouse/warehouse.hpp"

namespace pipeline {

/// A new run id: "<UTC yyyymmddThhmmssZ>-<8 hex>"; sortable by start time.
std::string make_run_id(Timestamp started);

/// "orders-pipeline <pipeline> <run id>": how a run's sessions name themselves.
std::string run_application_name(const Config& config, const std::string& run_id);

/// The record a run writes first (status `running`).
RunRecord first_record(const Config& config, const std::string& run_id, RunMode mode,
                       CivilDate run_date, Timestamp started);

/// Opens source sessions ready for extraction, labelled `application_name`.
SourceConnector source_connector(const Config& config, std::string application_name);

/// "host:port/db" of a PostgreSQL warehouse, "snowflake ACCOUNT/DB/SCHEMA (warehouse WH)".
std::string describe_destination(const DestinationConfig& destination);

/// Everything a run holds from start to end, taken in this order and released
/// in reverse: the warehouse, the run lock, and the run record (`failed`
/// unless finished otherwise).
///
/// The constructor connects, takes the lock (or records `skipped` and throws
/// Error(lock_held)) and records the run as `running`. Where writing a record
/// needs a running warehouse (Snowflake), the warehouse is only started by
/// started(), which the run calls for the first batch with rows: a run with
/// nothing to load never wakes it, and its records wait in the local
/// RunJournal until a run that starts the warehouse anyway writes them,
/// together with its own final record. Elsewhere (PostgreSQL) the
/// constructor starts the warehouse and every record is written directly.
class StartedRun {
public:
    StartedRun(const Config& config, std::function<void(const RunRecord&)> on_finished,
               RunRecord record, const std::string& application_name, Retrier& retrier,
               std::chrono::steady_clock::time_point started);
    StartedRun(const StartedRun&) = delete;
    StartedRun& operator=(const StartedRun&) = delete;
    ~StartedRun();

    /// The warehouse, started (begin_run, schema ensured, stale staging
    /// dropped) on the first call. Throws what starting throws.
    Warehouse& started();
    bool is_started() const noexcept { return started_; }
    /// The warehouse whether started or not (for calls that need no compute).
    Warehouse& warehouse() noexcept { return *warehouse_; }
    PipelineLock& lock() noexcept { return lock_; }

    /// Records the final state (never throws: a failure to record is logged
    /// and the record kept in the journal when there is one), then ends the
    /// warehouse's part (Warehouse::end_run: staging dropped, suspended when
    /// this run resumed it). Idempotent.
    void finish(RunStatus status, const RunCounts& counts,
                std::optional<std::string> error = std::nullopt) noexcept;

    double elapsed() const;
    /// The run's warehouse cost so far (Snowflake: resumed-to-now or the
    /// statements' time; 0 when the warehouse was never woken).
    std::optional<WarehouseCost> cost() const;

private:
    void write_final_record() noexcept;

    const Config& config_;
    Retrier& retrier_;
    std::function<void(const RunRecord&)> on_finished_;
    RunRecord record_;
    std::chrono::steady_clock::time_point started_at_;
    std::unique_ptr<Warehouse> warehouse_;
    PipelineLock lock_;
    std::optional<RunJournal> journal_;  ///< set where records need a running warehouse
    bool started_ = false;
    bool finished_ = false;
};

}  // namespace pipeline
