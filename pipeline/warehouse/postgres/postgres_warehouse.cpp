// pipeline/warehouse/postgres/postgres_warehouse.cpp: per-batch transaction on the PostgreSQL
// warehouse.
#include "pipeline/warehouse/postgres/postgres_warehouse.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <iterator>

#include "pipeline/orders/validate.hpp"
#include "pipeline/runtime/logging.hpp"
#include "pipeline/warehouse/postgres/copy_binary.hpp"
#include "pipeline/warehouse/postgres/copy_text.hpp"
#include "pipeline/warehouse/postgres/merge_sql.hpp"

namespace pipeline {

namespace {

std::optional<std::string> opt_ts(const std::optional<Timestamp>& ts) {
    return ts ? std::optional(format_timestamp(*ts)) : std::nullopt;
}

}  // namespace

PostgresWarehouse::PostgresWarehouse(const DestinationConfig& destination,
                                     std::string application_name, std::optional<JobTable> job)
    : destination_(destination),
      job_(std::move(job)),
      target_(fmt::format("{}.{}", destination.schema.str(), destination.table.str())),
      application_name_(std::move(application_name)) {
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
    if (job_) {
        ensure_job_schema();
        return;
    }
    connection().exec(pg_create_target_sql(destination_.schema, destination_.table),
                      fmt::format("[CREATE TABLE {}]", target_));
    connection().exec(pg_create_run_table_sql(destination_.run_table),
                      fmt::format("[CREATE TABLE {}]", destination_.run_table.str()));
    // Binary COPY (half the server's parsing work) needs the exact types of
    // our DDL; a target created by hand with other types gets text COPY.
    const std::vector<std::optional<std::string>> params = {target_};
    const PgResult columns = connection().exec_params(
        "SELECT a.attname, format_type(a.atttypid, NULL) FROM pg_attribute a "
        "WHERE a.attrelid = $1::regclass AND a.attnum > 0 AND NOT a.attisdropped",
        params, fmt::format("[columns of {}]", target_));
    std::size_t matching = 0;
    for (int r = 0; r < columns.rows(); ++r) {
        for (std::size_t c = 0; c < destination_column_names.size(); ++c) {
            matching += columns.value(r, 0) == destination_column_names[c] &&
                        columns.value(r, 1) == pg_destination_column_types[c];
        }
    }
    copy_format_ =
        matching == destination_column_names.size() ? CopyFormat::binary : CopyFormat::text;
    if (copy_format_ == CopyFormat::text) {
        log_info("the target's column types differ from the tool's DDL; loading with text COPY",
                 {{"event", "copy_format"}, {"format", "text"}, {"table", target_}});
    } else {
        log_debug("loading with binary COPY",
                  {{"event", "copy_format"}, {"format", "binary"}, {"table", target_}});
    }
}

void PostgresWarehouse::drop_stale_staging() {
    // Staging is a TEMP table: PostgreSQL drops it with the session of a
    // crashed run, so there is never anything to clean here.
}

void PostgresWarehouse::order_by_key(std::span<const OrderRow> rows) {
    // In order_id order: the primary-key index then takes its inserts in key
    // order, which measured 14% faster than the extraction order on 1M rows.
    // (Sorting (key, index) pairs: contiguous, unlike comparisons through the rows.)
    copy_order_.clear();
    copy_order_.reserve(rows.size());
    for (std::size_t i = 0; i < rows.size(); ++i) {
        copy_order_.emplace_back(rows[i].order_id, static_cast<std::uint32_t>(i));
    }
    std::sort(copy_order_.begin(), copy_order_.end());
}

void PostgresWarehouse::copy_rows(PgConnection& conn, const std::string& copy_sql,
                                  const std::string& label, std::span<const OrderRow> rows) {
    conn.begin_copy(copy_sql, label);
    constexpr std::size_t flush_bytes = 256 << 10;
    const bool binary = copy_format_ == CopyFormat::binary;
    copy_buffer_.clear();
    if (binary) {
        append_copy_binary_header(copy_buffer_);
    }
    for (const auto& [order_id, i] : copy_order_) {
        if (binary) {
            append_copy_binary_row(copy_buffer_, rows[i]);
        } else {
            append_copy_row(copy_buffer_, rows[i]);
        }
        if (copy_buffer_.size() >= flush_bytes) {
            conn.put_copy_data(copy_buffer_);
            copy_buffer_.clear();
        }
    }
    if (binary) {
        append_copy_binary_trailer(copy_buffer_);
    }
    if (!copy_buffer_.empty()) {
        conn.put_copy_data(copy_buffer_);
    }
    conn.end_copy();
}

bool PostgresWarehouse::target_has_any_key(PgConnection& conn, std::span<const OrderRow> rows) {
    std::string keys = "{";
    for (const OrderRow& row : rows) {
        if (keys.size() > 1) {
            keys += ',';
        }
        keys += std::to_string(row.order_id);
    }
    keys += '}';
    const std::vector<std::optional<std::string>> params = {std::move(keys)};
    const PgResult found = conn.exec_params(
        fmt::format("SELECT EXISTS (SELECT 1 FROM {} WHERE order_id = ANY($1::bigint[]))", target_),
        params, fmt::format("[probe {}]", target_));
    return found.value(0, 0) == "t";
}

std::optional<MergeCounts> PostgresWarehouse::copy_into_target(
    PgConnection& conn, std::span<const OrderRow> rows, const BatchContext& batch,
    std::chrono::steady_clock::time_point started) {
    conn.exec("SAVEPOINT direct_copy", "[SAVEPOINT]");
    try {
        copy_rows(conn, pg_copy_target_sql(destination_.schema, destination_.table, copy_format_),
                  fmt::format("[COPY {}]", target_), rows);
        batch.hit(FailSite::after_stage);
        MergeCounts result;
        result.inserted = static_cast<std::int64_t>(rows.size());
        result.stage_seconds = seconds_since(started);
        const auto committing = std::chrono::steady_clock::now();
        batch.hit(FailSite::after_merge);
        conn.exec("COMMIT", "[COMMIT load]");
        expect_new_keys_ = true;
        result.commit_seconds = seconds_since(committing);
        return result;
    } catch (const Error& e) {
        if (e.sqlstate() != "23505" || !conn.ok()) {
            throw;
        }
        conn.exec("ROLLBACK TO SAVEPOINT direct_copy", "[ROLLBACK TO SAVEPOINT]");
        log_info("a key of the batch is already in the target; merging instead",
                 {{"event", "direct_copy_fallback"},
                  {"batch", batch.number},
                  {"probed", !expect_new_keys_}});
        expect_new_keys_ = false;
        return std::nullopt;
    }
}

MergeCounts PostgresWarehouse::load_batch(std::span<const OrderRow> rows,
                                          const BatchContext& batch) {
    if (job_) {
        throw Error(ErrorKind::internal, "an orders batch sent to a declared job's warehouse");
    }
    PgConnection& conn = connection();
    conn.exec("BEGIN", "[BEGIN load]");
    try {
        if (!staging_ready_) {
            conn.exec(pg_create_staging_sql(destination_.schema, destination_.table),
                      "[CREATE TEMP TABLE staging]");
            staging_ready_ = true;
        }
        order_by_key(rows);
        const auto started = std::chrono::steady_clock::now();
        // Insert-only fast path: when the target holds none of the batch's keys
        // (initial loads, backfills of new days), a MERGE would only insert, so
        // COPY straight into the target. A key already there (the probe is
        // skipped after a direct batch succeeded) or added by a concurrent
        // writer makes the COPY fail (23505); the savepoint then sends the
        // batch down the staging + MERGE path, and the next batch probes again.
        // Skipping the probe after a success saves one index lookup per row on
        // initial loads (measured: about 50 ms per 50,000-row batch).
        if (!batch.overwrite && (expect_new_keys_ || !target_has_any_key(conn, rows))) {
            batch.hit(FailSite::after_probe);
            if (std::optional<MergeCounts> direct = copy_into_target(conn, rows, batch, started)) {
                return *direct;
            }
        }
        copy_rows(conn, pg_copy_staging_sql(copy_format_),
                  fmt::format("[COPY staging for {}]", target_), rows);
        batch.hit(FailSite::after_stage);
        MergeCounts result;
        result.stage_seconds = seconds_since(started);
        const auto merging = std::chrono::steady_clock::now();
        const PgResult counts =
            conn.exec(pg_merge_sql(destination_.schema, destination_.table, batch.overwrite),
                      fmt::format("[MERGE {}]", target_));
        result.inserted = std::stoll(std::string(counts.value(0, 0)));
        result.updated = std::stoll(std::string(counts.value(0, 1)));
        batch.hit(FailSite::after_merge);
        result.merge_seconds = seconds_since(merging);
        const auto committing = std::chrono::steady_clock::now();
        conn.exec("COMMIT", "[COMMIT load]");
        result.commit_seconds = seconds_since(committing);
        return result;
    } catch (...) {
        expect_new_keys_ = false;
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

namespace {

// '{1,2,3}' for a bigint[] / text[] parameter (values are digits or hex: no quoting needed).
template <class T>
std::string array_literal(const std::vector<T>& values) {
    std::string out = "{";
    for (const auto& v : values) {
        if (out.size() > 1) {
            out += ',';
        }
        fmt::format_to(std::back_inserter(out), "{}", v);
    }
    return out + "}";
}

}  // namespace

PgResult PostgresWarehouse::compare_query(const std::string& sql,
                                          std::vector<std::optional<std::string>> params,
                                          const std::string& label) {
    PgResult result = connection().exec_params(sql, params, label);
    ++compare_cost_.statements;
    for (int r = 0; r < result.rows(); ++r) {
        for (int c = 0; c < result.columns(); ++c) {
            compare_cost_.bytes += static_cast<std::int64_t>(result.value(r, c).size());
        }
    }
    return result;
}

std::vector<std::vector<std::optional<std::string>>> PostgresWarehouse::compare_rows(
    const std::string& sql, const std::vector<std::optional<std::string>>& params,
    const std::string& label) {
    const PgResult result = compare_query(sql, params, label);
    std::vector<std::vector<std::optional<std::string>>> rows;
    for (int r = 0; r < result.rows(); ++r) {
        auto& row = rows.emplace_back();
        for (int c = 0; c < result.columns(); ++c) {
            const auto field = result.field(r, c);
            row.emplace_back(field ? std::optional<std::string>(*field) : std::nullopt);
        }
    }
    return rows;
}

std::int64_t PostgresWarehouse::delete_rows(const std::string& sql,
                                            const std::vector<std::optional<std::string>>& params,
                                            const std::string& label) {
    return connection().exec_params(sql, params, label).affected_rows();
}

std::vector<BucketSum> PostgresWarehouse::bucket_sums(const TableShape& shape,
                                                      const CompareScope& scope, bool deep,
                                                      std::int64_t modulus,
                                                      const std::vector<std::int64_t>& within) {
    std::vector<std::optional<std::string>> params;
    for (std::string& p : scope_parameters(scope, Dialect::postgres)) {
        params.emplace_back(std::move(p));
    }
    if (!within.empty()) {
        params.emplace_back(array_literal(within));
    }
    const PgResult result = compare_query(
        bucket_sums_sql(shape, Dialect::postgres, scope, deep, modulus, within.size()),
        std::move(params), fmt::format("[verify buckets {}]", target_));
    std::vector<BucketSum> out;
    for (int r = 0; r < result.rows(); ++r) {
        out.push_back({parse_int64(result.value(r, 0)).value_or(-1),
                       parse_int64(result.value(r, 1)).value_or(0),
                       sum_modulo_2_64(result.value(r, 2))});
    }
    return out;
}

namespace {

std::vector<RowDigest> digests_of(const PgResult& result) {
    std::vector<RowDigest> out;
    for (int r = 0; r < result.rows(); ++r) {
        out.push_back({parse_int64(result.value(r, 0)).value_or(0),
                       parse_int64(result.value(r, 1)).value_or(0),
                       std::string(result.value(r, 2))});
    }
    return out;
}

}  // namespace

std::vector<RowDigest> PostgresWarehouse::leaf_digests(const TableShape& shape,
                                                       const CompareScope& scope, bool deep,
                                                       const std::vector<std::int64_t>& leaves) {
    std::vector<std::optional<std::string>> params;
    for (std::string& p : scope_parameters(scope, Dialect::postgres)) {
        params.emplace_back(std::move(p));
    }
    params.emplace_back(array_literal(leaves));
    return digests_of(
        compare_query(leaf_digests_sql(shape, Dialect::postgres, scope, deep, leaves.size()),
                      std::move(params), fmt::format("[verify rows {}]", target_)));
}

std::vector<RowDigest> PostgresWarehouse::key_digests(const TableShape& shape, bool deep,
                                                      std::span<const std::int64_t> keys) {
    const std::vector<std::int64_t> list(keys.begin(), keys.end());
    return digests_of(compare_query(key_digests_sql(shape, Dialect::postgres, deep, list.size()),
                                    {array_literal(list)},
                                    fmt::format("[verify keys {}]", target_)));
}

std::int64_t PostgresWarehouse::delete_keys(const TableShape& shape,
                                            std::span<const std::int64_t> keys) {
    const std::vector<std::int64_t> list(keys.begin(), keys.end());
    const std::vector<std::optional<std::string>> params = {array_literal(list)};
    return connection()
        .exec_params(delete_keys_sql(shape, Dialect::postgres, list.size()), params,
                     fmt::format("[DELETE {}]", target_))
        .affected_rows();
}

void PostgresWarehouse::upsert_run_records(std::span<const RunRecord> records) {
    for (const RunRecord& r : records) {
        upsert_one(r);
    }
}

void PostgresWarehouse::upsert_one(const RunRecord& r) {
    const auto number = [](const std::optional<double>& value) {
        return value ? std::optional(fmt::format("{:.3f}", *value)) : std::nullopt;
    };
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
        number(r.warehouse_seconds),
        r.credits_estimate ? std::optional(fmt::format("{:.6f}", *r.credits_estimate))
                           : std::nullopt,
    };
    connection().exec_params(pg_upsert_run_record_sql(destination_.run_table), params,
                             fmt::format("[UPSERT {}]", destination_.run_table.str()));
}

}  // namespace pipeline
