// pipeline/postgres_warehouse.cpp: per-batch transaction on the PostgreSQL warehouse.
#include "pipeline/postgres_warehouse.hpp"

#include <fmt/format.h>

#include <chrono>

#include "pipeline/copy_text.hpp"
#include "pipeline/logging.hpp"
#include "pipeline/merge_sql.hpp"

namespace pipeline {

namespace {

std::optional<std::string> opt_ts(const std::optional<Timestamp>& ts) {
    return ts ? std::optional(format_timestamp(*ts)) : std::nullopt;
}

}  // namespace

PostgresWarehouse::PostgresWarehouse(const DestinationConfig& destination,
                                     std::string application_name)
    : destination_(destination), application_name_(std::move(application_name)) {
    connection();
}

PgConnection& PostgresWarehouse::connection() {
    if (!conn_ || !conn_->ok()) {
        staging_ready_ = false;  // TEMP tables die with their session
        conn_.reset();
        conn_.emplace(destination_.url, ErrorKind::destination, "DEST", application_name_);
        conn_->exec(
            "SET TIME ZONE 'UTC'; SET DateStyle = 'ISO, YMD'; "
            "SET client_min_messages = warning",
            "[SET dest session]");
    }
    return *conn_;
}

void PostgresWarehouse::ensure_schema() {
    const std::string target =
        fmt::format("{}.{}", destination_.schema.str(), destination_.table.str());
    connection().exec(pg_create_target_sql(destination_.schema, destination_.table),
                      fmt::format("[CREATE TABLE {}]", target));
    connection().exec(pg_create_run_table_sql(destination_.run_table),
                      fmt::format("[CREATE TABLE {}]", destination_.run_table.str()));
}

void PostgresWarehouse::drop_stale_staging() {
    // Staging is a TEMP table: PostgreSQL drops it with the session of a
    // crashed run, so there is never anything to clean here.
}

MergeCounts PostgresWarehouse::load_batch(std::span<const OrderRow> rows,
                                          const BatchContext& batch) {
    PgConnection& conn = connection();
    const std::string target =
        fmt::format("{}.{}", destination_.schema.str(), destination_.table.str());
    conn.exec("BEGIN", "[BEGIN load]");
    try {
        if (!staging_ready_) {
            conn.exec(pg_create_staging_sql(destination_.schema, destination_.table),
                      "[CREATE TEMP TABLE staging]");
            staging_ready_ = true;
        }
        const auto t0 = std::chrono::steady_clock::now();
        conn.begin_copy(pg_copy_staging_sql(), fmt::format("[COPY staging for {}]", target));
        constexpr std::size_t flush_bytes = 1 << 20;
        copy_buffer_.clear();
        for (const OrderRow& row : rows) {
            append_copy_row(copy_buffer_, row);
            if (copy_buffer_.size() >= flush_bytes) {
                conn.put_copy_data(copy_buffer_);
                copy_buffer_.clear();
            }
        }
        if (!copy_buffer_.empty()) {
            conn.put_copy_data(copy_buffer_);
        }
        conn.end_copy();
        batch.hit(FailSite::after_stage);
        const auto t1 = std::chrono::steady_clock::now();
        const PgResult counts = conn.exec(pg_merge_sql(destination_.schema, destination_.table),
                                          fmt::format("[MERGE {}]", target));
        MergeCounts result;
        result.inserted = std::stoll(std::string(counts.value(0, 0)));
        result.updated = std::stoll(std::string(counts.value(0, 1)));
        batch.hit(FailSite::after_merge);
        const auto t2 = std::chrono::steady_clock::now();
        conn.exec("COMMIT", "[COMMIT load]");
        const auto t3 = std::chrono::steady_clock::now();
        result.stage_seconds = std::chrono::duration<double>(t1 - t0).count();
        result.merge_seconds = std::chrono::duration<double>(t2 - t1).count();
        result.commit_seconds = std::chrono::duration<double>(t3 - t2).count();
        return result;
    } catch (...) {
        if (conn.ok()) {
            try {
                conn.exec("ROLLBACK", "[ROLLBACK load]");
            } catch (const std::exception& e) {
                log_warning("rollback after a failed load failed", {{"error", e.what()}});
            }
        }
        throw;
    }
}

void PostgresWarehouse::upsert_run_record(const RunRecord& r) {
    const std::vector<std::optional<std::string>> params = {
        r.run_id,
        r.pipeline_name,
        std::string(to_string(r.mode)),
        format_date(r.run_date),
        format_timestamp(r.started_at),
        opt_ts(r.finished_at),
        std::string(to_string(r.status)),
        std::to_string(r.counts.rows_extracted),
        std::to_string(r.counts.rows_written),
        std::to_string(r.counts.rows_rejected),
        std::to_string(r.counts.rows_inserted),
        std::to_string(r.counts.rows_updated),
        r.duration_seconds ? std::optional(fmt::format("{:.3f}", *r.duration_seconds))
                           : std::nullopt,
        r.error_message,
        r.environment,
    };
    connection().exec_params(pg_upsert_run_record_sql(destination_.run_table), params,
                             fmt::format("[UPSERT {}]", destination_.run_table.str()));
}

}  // namespace pipeline
