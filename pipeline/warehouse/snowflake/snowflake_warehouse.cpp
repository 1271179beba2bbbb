// pipeline/warehouse/snowflake/snowflake_warehouse.cpp: staging, MERGE, run records and warehouse
// resume/suspend.
#include "pipeline/warehouse/snowflake/snowflake_warehouse.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <chrono>

#include "pipeline/core/error.hpp"
#include "pipeline/core/unicode.hpp"
#include "pipeline/orders/validate.hpp"
#include "pipeline/runtime/logging.hpp"
#include "pipeline/warehouse/job_sql.hpp"
#include "pipeline/warehouse/snowflake/job_bindings.hpp"
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

// Statements that run on the warehouse (and resume it if AUTO_RESUME is on);
// SHOW, CREATE, ALTER and DROP are metadata-only.
bool needs_compute(std::string_view statement) {
    for (const std::string_view verb : {"INSERT", "MERGE", "DELETE", "UPDATE", "SELECT", "COPY"}) {
        if (statement.starts_with(verb)) {
            return true;
        }
    }
    return false;
}

// "Object 'X' does not exist or not authorized" (002003): a table or schema is gone.
bool object_missing(const Error& e) {
    return e.sqlstate() == "02000" || e.sqlstate() == "42S02" ||
           std::string_view(e.what()).find("002003") != std::string_view::npos;
}

}  // namespace

std::optional<double> credits_per_hour(std::string_view size, std::string_view type) {
    // Snowflake's published credits per hour of a standard warehouse.
    static constexpr std::array<std::pair<std::string_view, double>, 10> rates = {{
        {"X-SMALL", 1},
        {"SMALL", 2},
        {"MEDIUM", 4},
        {"LARGE", 8},
        {"X-LARGE", 16},
        {"2X-LARGE", 32},
        {"3X-LARGE", 64},
        {"4X-LARGE", 128},
        {"5X-LARGE", 256},
        {"6X-LARGE", 512},
    }};
    std::string key = ascii_upper(size);
    if (key == "XSMALL") {
        key = "X-SMALL";
    } else if (key == "XLARGE") {
        key = "X-LARGE";
    }
    for (const auto& [name, rate] : rates) {
        if (key == name) {
            return ascii_upper(type) == "SNOWPARK-OPTIMIZED" ? rate * 1.5 : rate;
        }
    }
    return std::nullopt;
}

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
                                       const WarehouseSession& session, std::optional<JobTable> job)
    : destination_(destination),
      job_(std::move(job)),
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
                    settings_of(destination).target.user)),
      memory_(session.state_dir, session.pipeline_name) {
    const SnowflakeTarget& t = destination.snowflake->target;
    std::string all =
        fmt::format("{}/{}:{}", ascii_upper(t.account), t.database, staging_.substr(0, 16));
    for (const auto& [label, statement] : ddl()) {
        all += "\n" + statement;
    }
    fingerprint_ = fingerprint_of(all);
}

ResultSet SnowflakeWarehouse::run(const std::string& label, std::string statement,
                                  std::vector<SnowflakeBinding> bindings) {
    StatementRequest request;
    request.statement = std::move(statement);
    request.bindings = std::move(bindings);
    return run_request(label, std::move(request));
}

ResultSet SnowflakeWarehouse::run_request(const std::string& label, StatementRequest request) {
    const bool compute = needs_compute(request.statement);
    const auto started = std::chrono::steady_clock::now();
    ResultSet result = client_.execute(label, std::move(request));
    if (compute) {
        statement_seconds_ += seconds_since(started);
    }
    return result;
}

void SnowflakeWarehouse::begin_run() {
    const std::string& warehouse = destination_.snowflake->target.warehouse;
    const ResultSet shown =
        run("SHOW WAREHOUSES", fmt::format("SHOW WAREHOUSES LIKE '{}'", warehouse));
    begun_ = true;
    const auto name_column = find_column(shown, "name");
    const auto state_column = find_column(shown, "state");
    const auto size_column = find_column(shown, "size");
    const auto type_column = find_column(shown, "type");
    const auto cell = [](const std::vector<std::optional<std::string>>& row,
                         const std::optional<std::size_t>& column) {
        return column && *column < row.size() ? row[*column].value_or("") : std::string();
    };
    std::optional<std::string> state;
    if (name_column && state_column) {
        for (const auto& row : shown.rows) {
            if (cell(row, name_column) == warehouse) {
                state = cell(row, state_column);
                credits_per_hour_ =
                    credits_per_hour(cell(row, size_column), cell(row, type_column));
                if (!credits_per_hour_) {
                    log_warning("warehouse size unknown: runs record no credits_estimate",
                                {{"event", "warehouse_size_unknown"},
                                 {"warehouse", warehouse},
                                 {"size", cell(row, size_column)}});
                }
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
    resumed_at_ = std::chrono::steady_clock::now();
    run("ALTER WAREHOUSE RESUME", fmt::format("ALTER WAREHOUSE {} RESUME IF SUSPENDED", warehouse));
    resumed_warehouse_ = true;
    log_info("warehouse resumed", {{"event", "warehouse_resumed"},
                                   {"warehouse", warehouse},
                                   {"resume_seconds", seconds_since(resumed_at_)}});
}

void SnowflakeWarehouse::end_run() noexcept {
    const SnowflakeDestination& sf = *destination_.snowflake;
    try {
        if (staging_created_) {
            run("DROP staging", "DROP TABLE IF EXISTS " + staged_);
            staging_created_ = false;
            if (schema_ensured_) {
                memory_.remember(fingerprint_);
            }
        }
    } catch (const std::exception& e) {
        log_warning(
            staging_created_
                ? "could not drop this run's staging table; the next run that loads drops it"
                : "could not remember the destination DDL; the next run that loads sends "
                  "it again",
            {{"event", staging_created_ ? "staging_drop_failed" : "schema_memory_failed"},
             {"table", staging_},
             {"error", e.what()}});
    }
    if (!resumed_warehouse_) {
        return;
    }
    if (!sf.suspend_warehouse) {
        resumed_seconds_ = seconds_since(resumed_at_);  // its AUTO_SUSPEND bills the rest
        log_info("warehouse left running (ORDERS_PIPELINE_SNOWFLAKE_SUSPEND_WAREHOUSE=false)",
                 {{"event", "warehouse_left_running"}, {"warehouse", sf.target.warehouse}});
        resumed_warehouse_ = false;
        return;
    }
    try {
        run("ALTER WAREHOUSE SUSPEND",
            fmt::format("ALTER WAREHOUSE {} SUSPEND", sf.target.warehouse));
        resumed_seconds_ = seconds_since(resumed_at_);
        log_info("warehouse suspended", {{"event", "warehouse_suspended"},
                                         {"warehouse", sf.target.warehouse},
                                         {"warehouse_seconds", *resumed_seconds_},
                                         {"requests", client_.requests_sent()}});
    } catch (const std::exception& e) {
        // "Invalid state. Warehouse 'X' cannot be suspended." = already suspended (auto-suspend).
        if (std::string_view(e.what()).find("cannot be suspended") != std::string_view::npos) {
            resumed_seconds_ = seconds_since(resumed_at_);
            log_info("warehouse was already suspended",
                     {{"event", "warehouse_suspended"}, {"warehouse", sf.target.warehouse}});
        } else {
            resumed_seconds_ = seconds_since(resumed_at_);
            log_warning("could not suspend the warehouse; its AUTO_SUSPEND will",
                        {{"event", "warehouse_suspend_failed"},
                         {"warehouse", sf.target.warehouse},
                         {"error", e.what()}});
        }
    }
    resumed_warehouse_ = false;
}

std::vector<std::pair<std::string, std::string>> SnowflakeWarehouse::ddl() const {
    std::vector<std::pair<std::string, std::string>> out = {
        {"CREATE SCHEMA", sf_create_schema_sql(destination_.schema)},
        {"CREATE TABLE " + target_,
         job_ ? sf_job_create_target_sql(*job_)
              : sf_create_target_sql(destination_.schema, destination_.table)}};
    if (job_) {
        // Columns declared after the table was created (metadata only on Snowflake).
        for (std::string& alter : sf_job_add_columns_sql(*job_)) {
            out.emplace_back("ALTER TABLE " + target_, std::move(alter));
        }
    }
    if (!(destination_.run_table.schema == destination_.schema)) {
        out.emplace_back("CREATE SCHEMA", sf_create_schema_sql(destination_.run_table.schema));
    }
    const std::string run_table = ascii_upper(destination_.run_table.str());
    out.emplace_back("CREATE TABLE " + run_table, sf_create_run_table_sql(destination_.run_table));
    for (std::string& alter : sf_add_run_table_columns_sql(destination_.run_table)) {
        out.emplace_back("ALTER TABLE " + run_table, std::move(alter));
    }
    return out;
}

void SnowflakeWarehouse::send_ddl() {
    for (const auto& [label, statement] : ddl()) {
        run(label, statement);
    }
    schema_sent_ = true;
}

void SnowflakeWarehouse::ensure_schema() {
    if (memory_.remembers(fingerprint_)) {
        log_debug("destination DDL remembered; not sent again",
                  {{"event", "schema_remembered"}, {"file", memory_.path().string()}});
    } else {
        send_ddl();
    }
    schema_ensured_ = true;
}

void SnowflakeWarehouse::drop_stale_staging() {
    if (!schema_sent_) {
        // Remembered: no run died holding a staging table since (the memory is set
        // aside while one exists).
        return;
    }
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
    if (schema_sent_) {
        memory_.remember(fingerprint_);
    }
}

template <class Work>
auto SnowflakeWarehouse::recovering_schema(Work&& work) {
    try {
        return work();
    } catch (const Error& e) {
        if (schema_sent_ || !object_missing(e)) {
            throw;
        }
        log_warning(
            "a destination object is gone although its DDL was remembered; creating it "
            "again",
            {{"event", "schema_recreated"}, {"error", e.what()}});
        memory_.forget();
        send_ddl();
        memory_.remember(fingerprint_);
        if (staging_created_) {
            // Gone with its schema, or still holding the rows staged before the failure:
            // either way the retry must start from an empty staging table, or a batch
            // staged twice would be inserted twice.
            run("DROP " + staged_, fmt::format("DROP TABLE IF EXISTS {}", staged_));
            staging_created_ = false;
        }
        return work();
    }
}

MergeCounts SnowflakeWarehouse::load_batch(std::span<const OrderRow> rows,
                                           const BatchContext& batch) {
    if (job_) {
        throw Error(ErrorKind::internal, "an orders batch sent to a declared job's warehouse");
    }
    return recovering_schema([&] { return load_batch_once(rows, batch); });
}

void SnowflakeWarehouse::reset_staging(const std::string& create_sql) {
    if (staging_created_) {
        run("DELETE " + staged_, fmt::format("DELETE FROM {}", staged_));
    } else {
        // Not remembered while this staging table exists: a run that dies before dropping it
        // leaves the next run that wakes the warehouse to send the DDL and sweep it.
        memory_.forget();
        run("CREATE TRANSIENT TABLE " + staged_, create_sql);
        staging_created_ = true;
    }
}

void SnowflakeWarehouse::expect_inserted(const ResultSet& inserted, std::size_t rows) {
    const auto n = count_column(inserted, "number of rows inserted");
    if (!n || *n != static_cast<std::int64_t>(rows)) {
        throw Error(ErrorKind::destination,
                    fmt::format("staging INSERT reported {} rows for a chunk of {}",
                                n ? std::to_string(*n) : "no count", rows),
                    {}, "INSERT " + staged_);
    }
}

MergeCounts SnowflakeWarehouse::load_batch_once(std::span<const OrderRow> rows,
                                                const BatchContext& batch) {
    const SnowflakeDestination& sf = *destination_.snowflake;
    MergeCounts counts;
    if (rows.empty()) {
        batch.hit(FailSite::after_stage);
        batch.hit(FailSite::after_merge);
        return counts;
    }
    const auto t0 = std::chrono::steady_clock::now();
    reset_staging(sf_create_staging_sql(destination_.schema, staging_));
    const std::string insert = sf_insert_staging_sql(destination_.schema, staging_);
    const auto chunks = chunk_by_body_size(rows, static_cast<std::size_t>(sf.max_request_bytes));
    for (const auto& chunk : chunks) {
        expect_inserted(run("INSERT " + staged_, insert, order_row_bindings(chunk)), chunk.size());
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
        run("MERGE " + target_, sf_merge_sql(destination_.schema, destination_.table, staging_,
                                             prune_from, batch.overwrite));
    counts.inserted = count_column(merged, "number of rows inserted").value_or(0);
    counts.updated = count_column(merged, "number of rows updated").value_or(0);
    counts.merge_seconds = seconds_since(t1);
    batch.hit(FailSite::after_merge);
    return counts;
}

MergeCounts SnowflakeWarehouse::load_job_rows(const JobRows& rows, const BatchContext& batch) {
    if (!job_) {
        throw Error(ErrorKind::internal, "a declared job's batch sent to the orders warehouse");
    }
    return recovering_schema([&] { return load_job_rows_once(rows, batch); });
}

MergeCounts SnowflakeWarehouse::load_job_rows_once(const JobRows& rows, const BatchContext& batch) {
    const JobTable& job = *job_;
    MergeCounts counts;
    if (rows.empty()) {
        batch.hit(FailSite::after_stage);
        batch.hit(FailSite::after_merge);
        return counts;
    }
    const auto t0 = std::chrono::steady_clock::now();
    reset_staging(sf_job_create_staging_sql(job, staging_));
    const std::string insert = sf_job_insert_staging_sql(job, staging_);
    // Bindings are written straight from the binary values, one request per
    // chunk under the body cap (the statement and envelope take the rest).
    const std::size_t cap =
        static_cast<std::size_t>(destination_.snowflake->max_request_bytes) - insert.size() - 4096;
    JobBindings bindings(job);
    std::vector<std::optional<std::string_view>> fields(job.columns.size());
    const auto send = [&] {
        StatementRequest request;
        request.statement = insert;
        request.bindings_json = bindings.json();
        expect_inserted(run_request("INSERT " + staged_, std::move(request)), bindings.rows());
        bindings.clear();
    };
    for (std::size_t i = 0; i < rows.size(); ++i) {
        for (std::size_t c = 0; c < fields.size(); ++c) {
            fields[c] = rows.field(i, c);
        }
        bindings.add_row(fields);
        if (bindings.bytes() >= cap) {
            send();
        }
    }
    if (bindings.rows() > 0) {
        send();
    }
    batch.hit(FailSite::after_stage);
    counts.stage_seconds = seconds_since(t0);
    const auto t1 = std::chrono::steady_clock::now();
    const ResultSet merged =
        run("MERGE " + target_, sf_job_merge_sql(job, staging_, batch.overwrite));
    counts.inserted = count_column(merged, "number of rows inserted").value_or(0);
    counts.updated = count_column(merged, "number of rows updated").value_or(0);
    counts.merge_seconds = seconds_since(t1);
    batch.hit(FailSite::after_merge);
    return counts;
}

void SnowflakeWarehouse::upsert_run_records(std::span<const RunRecord> records) {
    // Up to this many records per MERGE (17 bindings each).
    constexpr std::size_t per_statement = 50;
    const auto text = [](std::optional<std::string> value) {
        return SnowflakeBinding{"TEXT", {std::move(value)}, true};
    };
    const auto ts = [&](const std::optional<Timestamp>& value) {
        return text(value ? std::optional(snowflake_timestamp(*value)) : std::nullopt);
    };
    const auto number = [&](std::int64_t value) {
        return SnowflakeBinding{"FIXED", {std::to_string(value)}, true};
    };
    const auto real = [&](const std::optional<double>& value, int digits) {
        return text(value ? std::optional(fmt::format("{:.{}f}", *value, digits)) : std::nullopt);
    };
    for (std::size_t first = 0; first < records.size(); first += per_statement) {
        const auto chunk = records.subspan(first, std::min(per_statement, records.size() - first));
        std::vector<SnowflakeBinding> bindings;
        for (const RunRecord& r : chunk) {
            for (SnowflakeBinding& b : std::vector<SnowflakeBinding>{
                     text(r.run_id), text(r.pipeline_name), text(std::string(to_string(r.mode))),
                     text(format_date(r.run_date)), ts(r.started_at), ts(r.finished_at),
                     text(std::string(to_string(r.status))), number(r.counts.rows_extracted),
                     number(r.counts.rows_written), number(r.counts.rows_rejected),
                     number(r.counts.rows_inserted), number(r.counts.rows_updated),
                     real(r.duration_seconds, 3), text(r.error_message), text(r.environment),
                     real(r.warehouse_seconds, 3), real(r.credits_estimate, 6)}) {
                bindings.push_back(std::move(b));
            }
        }
        recovering_schema([&] {
            return run("MERGE " + ascii_upper(destination_.run_table.str()),
                       sf_upsert_run_records_sql(destination_.run_table, chunk.size()), bindings);
        });
    }
}

namespace {

SnowflakeBinding text_binding(std::string value) {
    return SnowflakeBinding{"TEXT", {std::move(value)}, true};
}

SnowflakeBinding fixed_binding(std::int64_t value) {
    return SnowflakeBinding{"FIXED", {std::to_string(value)}, true};
}

// Snowflake binds no arrays outside INSERT: key lists go out in statements of this many.
constexpr std::size_t keys_per_statement = 1000;

std::vector<RowDigest> digests_of(const ResultSet& result) {
    std::vector<RowDigest> out;
    for (const auto& row : result.rows) {
        if (row.size() >= 3) {
            out.push_back({parse_int64(row[0].value_or("")).value_or(0),
                           parse_int64(row[1].value_or("")).value_or(0), row[2].value_or("")});
        }
    }
    return out;
}

}  // namespace

ResultSet SnowflakeWarehouse::compare_query(const std::string& label, std::string statement,
                                            std::vector<SnowflakeBinding> bindings) {
    const std::int64_t before = client_.bytes_received();
    ResultSet result = run(label, std::move(statement), std::move(bindings));
    ++compare_cost_.statements;
    compare_cost_.bytes += client_.bytes_received() - before;
    return result;
}

std::vector<std::vector<std::optional<std::string>>> SnowflakeWarehouse::compare_rows(
    const std::string& sql, const std::vector<std::optional<std::string>>& params,
    const std::string& label) {
    std::vector<SnowflakeBinding> bindings;
    for (const auto& p : params) {
        bindings.push_back(SnowflakeBinding{"TEXT", {p}, true});
    }
    return compare_query(label, sql, std::move(bindings)).rows;
}

std::int64_t SnowflakeWarehouse::delete_rows(const std::string& sql,
                                             const std::vector<std::optional<std::string>>& params,
                                             const std::string& label) {
    std::vector<SnowflakeBinding> bindings;
    for (const auto& p : params) {
        bindings.push_back(SnowflakeBinding{"TEXT", {p}, true});
    }
    const ResultSet result = run(label, sql, std::move(bindings));
    return count_column(result, "number of rows deleted").value_or(0);
}

std::vector<BucketSum> SnowflakeWarehouse::bucket_sums(const TableShape& shape,
                                                       const CompareScope& scope, bool deep,
                                                       std::int64_t modulus,
                                                       const std::vector<std::int64_t>& within) {
    std::vector<SnowflakeBinding> bindings;
    for (std::string& p : scope_parameters(scope, Dialect::snowflake)) {
        bindings.push_back(text_binding(std::move(p)));
    }
    for (const std::int64_t bucket : within) {
        bindings.push_back(fixed_binding(bucket));
    }
    const ResultSet result = compare_query(
        "SELECT verify buckets " + target_,
        bucket_sums_sql(shape, Dialect::snowflake, scope, deep, modulus, within.size()),
        std::move(bindings));
    std::vector<BucketSum> out;
    for (const auto& row : result.rows) {
        if (row.size() >= 3) {
            out.push_back({parse_int64(row[0].value_or("")).value_or(-1),
                           parse_int64(row[1].value_or("")).value_or(0),
                           sum_modulo_2_64(row[2].value_or(""))});
        }
    }
    return out;
}

std::vector<RowDigest> SnowflakeWarehouse::leaf_digests(const TableShape& shape,
                                                        const CompareScope& scope, bool deep,
                                                        const std::vector<std::int64_t>& leaves) {
    std::vector<SnowflakeBinding> bindings;
    for (std::string& p : scope_parameters(scope, Dialect::snowflake)) {
        bindings.push_back(text_binding(std::move(p)));
    }
    for (const std::int64_t leaf : leaves) {
        bindings.push_back(fixed_binding(leaf));
    }
    return digests_of(
        compare_query("SELECT verify rows " + target_,
                      leaf_digests_sql(shape, Dialect::snowflake, scope, deep, leaves.size()),
                      std::move(bindings)));
}

std::vector<RowDigest> SnowflakeWarehouse::key_digests(const TableShape& shape, bool deep,
                                                       std::span<const std::int64_t> keys) {
    std::vector<RowDigest> out;
    for (std::size_t first = 0; first < keys.size(); first += keys_per_statement) {
        const auto chunk = keys.subspan(first, std::min(keys_per_statement, keys.size() - first));
        std::vector<SnowflakeBinding> bindings;
        for (const std::int64_t key : chunk) {
            bindings.push_back(fixed_binding(key));
        }
        for (RowDigest& d : digests_of(
                 compare_query("SELECT verify keys " + target_,
                               key_digests_sql(shape, Dialect::snowflake, deep, chunk.size()),
                               std::move(bindings)))) {
            out.push_back(std::move(d));
        }
    }
    return out;
}

std::int64_t SnowflakeWarehouse::delete_keys(const TableShape& shape,
                                             std::span<const std::int64_t> keys) {
    std::int64_t deleted = 0;
    for (std::size_t first = 0; first < keys.size(); first += keys_per_statement) {
        const auto chunk = keys.subspan(first, std::min(keys_per_statement, keys.size() - first));
        std::vector<SnowflakeBinding> bindings;
        for (const std::int64_t key : chunk) {
            bindings.push_back(fixed_binding(key));
        }
        const ResultSet result =
            run("DELETE " + target_, delete_keys_sql(shape, Dialect::snowflake, chunk.size()),
                std::move(bindings));
        deleted += count_column(result, "number of rows deleted").value_or(0);
    }
    return deleted;
}

std::optional<WarehouseCost> SnowflakeWarehouse::cost() const {
    WarehouseCost out;
    if (!begun_) {
        out.credits = 0;  // never woken: a quiet tick costs nothing
        return out;
    }
    if (resumed_warehouse_ || resumed_seconds_) {
        // Billed per second from the resume, at least 60 s.
        out.seconds = resumed_seconds_.value_or(seconds_since(resumed_at_));
        if (credits_per_hour_) {
            out.credits = *credits_per_hour_ * std::max(out.seconds, 60.0) / 3600;
        }
    } else {
        // Running already (someone else's resume): this run's share is its statements' time.
        out.seconds = statement_seconds_;
        if (credits_per_hour_) {
            out.credits = *credits_per_hour_ * out.seconds / 3600;
        }
    }
    return out;
}

}  // namespace pipeline
