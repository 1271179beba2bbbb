// pipeline/warehouse/snowflake/snowflake_warehouse.cpp: staging, MERGE, run records and warehouse
// resume/suspend.
#include "pipeline/warehouse/snowflake/snowflake_warehouse.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <chrono>

#include "pipeline/core/error.hpp"
#include "pipeline/core/unicode.hpp"
#include "pipeline/runtime/logging.hpp"
#include "pipeline/warehouse/snowflake/snowflake_sql.hpp"

namespace pipeline {

namespace {

const SnowflakeDestination& settings_of(const DestinationConfig& destination) {
    if (!destination.snowflake || !destination.snowflake->private_key) {
        throw Error(ErrorKind::internal,
                    "snowflake destination without its settings or private key");
    }
    return *destination.snowflake;
}

bool plain_name(std::string_view name) {
    return !name.empty() && std::all_of(name.begin(), name.end(), [](char c) {
        return (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
    });
}

}  // namespace

SnowflakeClientOptions snowflake_client_options(const SnowflakeDestination& sf,
                                                std::string query_tag, const RetryPolicy& retry) {
    SnowflakeClientOptions options;
    options.api_url = sf.api_url;
    options.database = sf.target.database;
    options.schema = sf.target.schema;
    options.warehouse = sf.target.warehouse;
    options.role = sf.target.role;
    options.query_tag = std::move(query_tag);
    options.statement_timeout_seconds = sf.statement_timeout_seconds;
    options.retry = retry;
    options.http.user_agent = "orders-pipeline/" ORDERS_PIPELINE_VERSION;
    options.http.ca_bundle = sf.ca_bundle;
    options.http.total_timeout =
        std::chrono::seconds(std::min(sf.statement_timeout_seconds, 120) + 30);
    return options;
}

SnowflakeWarehouse::SnowflakeWarehouse(const DestinationConfig& destination,
                                       const WarehouseSession& session)
    : destination_(destination),
      pipeline_name_(session.pipeline_name),
      staging_(sf_staging_table_name(session.pipeline_name, session.run_id)),
      schema_(ascii_upper(destination.schema.str())),
      target_(schema_ + "." + ascii_upper(destination.table.str())),
      staged_(schema_ + "." + staging_),
      client_(
          snowflake_client_options(settings_of(destination),
                                   fmt::format("orders-pipeline:pipeline={}:run={}",
                                               session.pipeline_name, session.run_id),
                                   session.retry),
          JwtSource(*settings_of(destination).private_key, settings_of(destination).target.account,
                    settings_of(destination).target.user)) {}

ResultSet SnowflakeWarehouse::run(const std::string& label, std::string statement,
                                  std::vector<SnowflakeBinding> bindings) {
    StatementRequest request;
    request.statement = std::move(statement);
    request.bindings = std::move(bindings);
    return client_.execute(label, std::move(request));
}

void SnowflakeWarehouse::begin_run() {
    const std::string& warehouse = destination_.snowflake->target.warehouse;
    const ResultSet shown =
        run("SHOW WAREHOUSES", fmt::format("SHOW WAREHOUSES LIKE '{}'", warehouse));
    const auto name_column = find_column(shown, "name");
    const auto state_column = find_column(shown, "state");
    std::optional<std::string> state;
    if (name_column && state_column) {
        for (const auto& row : shown.rows) {
            if (row.size() > std::max(*name_column, *state_column) && row[*name_column] &&
                *row[*name_column] == warehouse) {
                state = row[*state_column].value_or("");
            }
        }
    }
    if (!state) {
        throw Error(ErrorKind::destination,
                    fmt::format("warehouse {} does not exist or the role cannot see it", warehouse),
                    {}, "SHOW WAREHOUSES",
                    "check ?warehouse= in ORDERS_PIPELINE_DEST_DB_URL and GRANT USAGE, OPERATE "
                    "ON WAREHOUSE to the pipeline's role");
    }
    if (*state != "SUSPENDED") {
        log_info("warehouse already running; it will be left as it is",
                 {{"event", "warehouse_running"}, {"warehouse", warehouse}, {"state", *state}});
        return;
    }
    const auto started = std::chrono::steady_clock::now();
    run("ALTER WAREHOUSE RESUME", fmt::format("ALTER WAREHOUSE {} RESUME IF SUSPENDED", warehouse));
    resumed_warehouse_ = true;
    log_info("warehouse resumed", {{"event", "warehouse_resumed"},
                                   {"warehouse", warehouse},
                                   {"resume_seconds", seconds_since(started)}});
}

void SnowflakeWarehouse::end_run() noexcept {
    const SnowflakeDestination& sf = *destination_.snowflake;
    try {
        if (staging_created_) {
            run("DROP staging", "DROP TABLE IF EXISTS " + staged_);
            staging_created_ = false;
        }
    } catch (const std::exception& e) {
        log_warning("could not drop this run's staging table; the next run drops it",
                    {{"event", "staging_drop_failed"}, {"table", staging_}, {"error", e.what()}});
    }
    if (!resumed_warehouse_) {
        return;
    }
    if (!sf.suspend_warehouse) {
        log_info("warehouse left running (ORDERS_PIPELINE_SNOWFLAKE_SUSPEND_WAREHOUSE=false)",
                 {{"event", "warehouse_left_running"}, {"warehouse", sf.target.warehouse}});
        return;
    }
    try {
        run("ALTER WAREHOUSE SUSPEND",
            fmt::format("ALTER WAREHOUSE {} SUSPEND", sf.target.warehouse));
        log_info("warehouse suspended",
                 {{"event", "warehouse_suspended"}, {"warehouse", sf.target.warehouse}});
    } catch (const std::exception& e) {
        // "Invalid state. Warehouse 'X' cannot be suspended." = already suspended (auto-suspend).
        if (std::string_view(e.what()).find("cannot be suspended") != std::string_view::npos) {
            log_info("warehouse was already suspended",
                     {{"event", "warehouse_suspended"}, {"warehouse", sf.target.warehouse}});
        } else {
            log_warning("could not suspend the warehouse; its AUTO_SUSPEND will",
                        {{"event", "warehouse_suspend_failed"},
                         {"warehouse", sf.target.warehouse},
                         {"error", e.what()}});
        }
    }
    resumed_warehouse_ = false;
}

void SnowflakeWarehouse::ensure_schema() {
    run("CREATE SCHEMA", sf_create_schema_sql(destination_.schema));
    run("CREATE TABLE " + target_, sf_create_target_sql(destination_.schema, destination_.table));
    if (!(destination_.run_table.schema == destination_.schema)) {
        run("CREATE SCHEMA", sf_create_schema_sql(destination_.run_table.schema));
    }
    run("CREATE TABLE " + ascii_upper(destination_.run_table.str()),
        sf_create_run_table_sql(destination_.run_table));
}

void SnowflakeWarehouse::drop_stale_staging() {
    const std::string prefix = sf_staging_prefix(pipeline_name_);
    const ResultSet shown = run("SHOW TABLES", sf_show_staging_sql(destination_.schema, prefix));
    const auto name_column = find_column(shown, "name");
    if (!name_column) {
        return;
    }
    for (const auto& row : shown.rows) {
        if (row.size() <= *name_column || !row[*name_column]) {
            continue;
        }
        const std::string& name = *row[*name_column];
        if (!name.starts_with(prefix) || name == staging_ || !plain_name(name)) {
            continue;
        }
        run("DROP stale staging", fmt::format("DROP TABLE IF EXISTS {}.{}", schema_, name));
        log_info("dropped a staging table left by a crashed run",
                 {{"event", "stale_staging_dropped"}, {"table", schema_ + "." + name}});
    }
}

MergeCounts SnowflakeWarehouse::load_batch(std::span<const OrderRow> rows,
                                           const BatchContext& batch) {
    const SnowflakeDestination& sf = *destination_.snowflake;
    MergeCounts counts;
    if (rows.empty()) {
        batch.hit(FailSite::after_stage);
        batch.hit(FailSite::after_merge);
        return counts;
    }
    const auto t0 = std::chrono::steady_clock::now();
    if (staging_created_) {
        run("DELETE " + staged_, fmt::format("DELETE FROM {}", staged_));
    } else {
        run("CREATE TRANSIENT TABLE " + staged_,
            sf_create_staging_sql(destination_.schema, staging_));
        staging_created_ = true;
    }
    const std::string insert = sf_insert_staging_sql(destination_.schema, staging_);
    const auto chunks = chunk_by_body_size(rows, static_cast<std::size_t>(sf.max_request_bytes));
    for (const auto& chunk : chunks) {
        const ResultSet inserted = run("INSERT " + staged_, insert, order_row_bindings(chunk));
        const auto n = count_column(inserted, "number of rows inserted");
        if (!n || *n != static_cast<std::int64_t>(chunk.size())) {
            throw Error(ErrorKind::destination,
                        fmt::format("staging INSERT reported {} rows for a chunk of {}",
                                    n ? std::to_string(*n) : "no count", chunk.size()),
                        {}, "INSERT " + staged_);
        }
    }
    batch.hit(FailSite::after_stage);

    std::optional<CivilDate> prune_from;
    if (destination_.merge_lookback_days > 0) {
        const std::int64_t today = days_from_civil(utc_parts(now_utc()).date);
        const CivilDate cutoff = civil_from_days(today - destination_.merge_lookback_days);
        const auto oldest = std::min_element(
            rows.begin(), rows.end(),
            [](const OrderRow& a, const OrderRow& b) { return a.order_date < b.order_date; });
        if (oldest->order_date >= cutoff) {
            prune_from = cutoff;
            log_debug("MERGE restricted to recent order dates", {{"event", "merge_pruned"},
                                                                 {"batch", batch.number},
                                                                 {"cutoff", format_date(cutoff)}});
        } else {
            log_info("batch holds orders older than the MERGE lookback; merging without pruning",
                     {{"event", "merge_pruning_skipped"},
                      {"batch", batch.number},
                      {"oldest_order_date", format_date(oldest->order_date)},
                      {"cutoff", format_date(cutoff)}});
        }
    }
    counts.stage_seconds = seconds_since(t0);
    const auto t1 = std::chrono::steady_clock::now();
    const ResultSet merged =
        run("MERGE " + target_,
            sf_merge_sql(destination_.schema, destination_.table, staging_, prune_from));
    counts.inserted = count_column(merged, "number of rows inserted").value_or(0);
    counts.updated = count_column(merged, "number of rows updated").value_or(0);
    counts.merge_seconds = seconds_since(t1);
    batch.hit(FailSite::after_merge);
    return counts;
}

void SnowflakeWarehouse::upsert_run_record(const RunRecord& r) {
    const auto text = [](std::optional<std::string> value) {
        return SnowflakeBinding{"TEXT", {std::move(value)}, true};
    };
    const auto ts = [&](const std::optional<Timestamp>& value) {
        return text(value ? std::optional(snowflake_timestamp(*value)) : std::nullopt);
    };
    const auto number = [&](std::int64_t value) {
        return SnowflakeBinding{"FIXED", {std::to_string(value)}, true};
    };
    std::vector<SnowflakeBinding> bindings = {
        text(r.run_id),
        text(r.pipeline_name),
        text(std::string(to_string(r.mode))),
        text(format_date(r.run_date)),
        ts(r.started_at),
        ts(r.finished_at),
        text(std::string(to_string(r.status))),
        number(r.counts.rows_extracted),
        number(r.counts.rows_written),
        number(r.counts.rows_rejected),
        number(r.counts.rows_inserted),
        number(r.counts.rows_updated),
        text(r.duration_seconds ? std::optional(fmt::format("{:.3f}", *r.duration_seconds))
                                : std::nullopt),
        text(r.error_message),
        text(r.environment),
    };
    run("MERGE " + ascii_upper(destination_.run_table.str()),
        sf_upsert_run_record_sql(destination_.run_table), std::move(bindings));
}

}  // namespace pipeline
