// pipeline/warehouse/postgres/postgres_job_load.cpp: a declared job's target on PostgreSQL: its
// DDL, and batches passed through in binary COPY format (the source's bytes, unparsed).
#include <fmt/format.h>

#include <chrono>
#include <cstring>
#include <map>

#include "pipeline/core/error.hpp"
#include "pipeline/runtime/logging.hpp"
#include "pipeline/warehouse/job_sql.hpp"
#include "pipeline/warehouse/postgres/copy_binary.hpp"
#include "pipeline/warehouse/postgres/merge_sql.hpp"
#include "pipeline/warehouse/postgres/postgres_warehouse.hpp"

namespace pipeline {

namespace {

void append_be16(std::string& out, std::uint16_t v) {
    out += static_cast<char>(v >> 8);
    out += static_cast<char>(v & 0xFF);
}

void append_be32(std::string& out, std::uint32_t v) {
    for (int shift = 24; shift >= 0; shift -= 8) {
        out += static_cast<char>((v >> shift) & 0xFF);
    }
}

}  // namespace

void PostgresWarehouse::ensure_job_schema() {
    const JobTable& job = *job_;
    connection().exec(pg_create_run_table_sql(destination_.run_table),
                      fmt::format("[CREATE TABLE {}]", destination_.run_table.str()));
    connection().exec(pg_job_create_target_sql(job), fmt::format("[CREATE TABLE {}]", target_));
    const std::vector<std::optional<std::string>> params = {target_};
    const PgResult existing = connection().exec_params(
        "SELECT a.attname, format_type(a.atttypid, a.atttypmod) FROM pg_attribute a "
        "WHERE a.attrelid = $1::regclass AND a.attnum > 0 AND NOT a.attisdropped",
        params, fmt::format("[columns of {}]", target_));
    std::map<std::string, std::string, std::less<>> have;
    for (int r = 0; r < existing.rows(); ++r) {
        have.emplace(existing.value(r, 0), existing.value(r, 1));
    }
    std::vector<std::string> mismatched;
    for (const auto& [name, type] : job_target_columns(job)) {
        const auto it = have.find(name);
        if (it == have.end()) {
            // Declared after the table was created: the ALTER's lock is taken only now.
            connection().exec(pg_job_add_column_sql(job, name, type),
                              fmt::format("[ALTER TABLE {} ADD COLUMN {}]", target_, name));
            log_info("a declared column was added to the target", {{"event", "target_column_added"},
                                                                   {"table", target_},
                                                                   {"column", name},
                                                                   {"type", type}});
        } else if (it->second != type) {
            mismatched.push_back(
                fmt::format("{} is {} in the target, {} at the source", name, it->second, type));
        }
    }
    if (!mismatched.empty()) {
        std::string list;
        for (const std::string& m : mismatched) {
            list += (list.empty() ? "" : "; ") + m;
        }
        throw Error(ErrorKind::destination,
                    fmt::format("job {}: the target {} does not hold the source's types: {}",
                                job.name, target_, list),
                    {}, {},
                    "ALTER the target's columns to the source's types (or drop the target and "
                    "reset the job's checkpoint to reload it)");
    }
}

void PostgresWarehouse::copy_job_rows(PgConnection& conn, const std::string& copy_sql,
                                      const JobRows& rows) {
    const JobTable& job = *job_;
    conn.begin_copy(copy_sql, fmt::format("[COPY {}]", target_));
    constexpr std::size_t flush_bytes = 256 << 10;
    copy_buffer_.clear();
    append_copy_binary_header(copy_buffer_);
    const std::size_t columns = job.columns.size();
    for (std::size_t i = 0; i < rows.size(); ++i) {
        // A binary cursor's values are exactly what binary COPY takes: pass them through.
        append_be16(copy_buffer_, static_cast<std::uint16_t>(columns));
        for (std::size_t c = 0; c < columns; ++c) {
            const auto field = rows.field(i, c);
            if (!field) {
                append_be32(copy_buffer_, 0xFFFFFFFFU);
                continue;
            }
            append_be32(copy_buffer_, static_cast<std::uint32_t>(field->size()));
            copy_buffer_.append(field->data(), field->size());
        }
        if (copy_buffer_.size() >= flush_bytes) {
            conn.put_copy_data(copy_buffer_);
            copy_buffer_.clear();
        }
    }
    append_copy_binary_trailer(copy_buffer_);
    conn.put_copy_data(copy_buffer_);
    conn.end_copy();
}

MergeCounts PostgresWarehouse::load_job_rows(const JobRows& rows, const BatchContext& batch) {
    if (!job_) {
        throw Error(ErrorKind::internal, "a declared job's batch sent to the orders warehouse");
    }
    const JobTable& job = *job_;
    PgConnection& conn = connection();
    conn.exec("BEGIN", "[BEGIN load]");
    try {
        if (!staging_ready_) {
            conn.exec(pg_job_create_staging_sql(job), "[CREATE TEMP TABLE staging]");
            staging_ready_ = true;
            // An empty target takes the first batch straight in (an initial load).
            expect_new_keys_ =
                job.derived.empty() &&
                conn.exec(fmt::format("SELECT NOT EXISTS (SELECT 1 FROM {})", target_),
                          fmt::format("[probe {}]", target_))
                        .value(0, 0) == "t";
        }
        const auto started = std::chrono::steady_clock::now();
        // Insert-only fast path, as for orders, but without a per-batch probe:
        // taken while the target was empty at the start and every batch so far
        // went straight in (a key already there fails the COPY: 23505, and the
        // batch is merged instead). Derived columns need the MERGE.
        if (!batch.overwrite && expect_new_keys_) {
            batch.hit(FailSite::after_probe);
            conn.exec("SAVEPOINT direct_copy", "[SAVEPOINT]");
            try {
                copy_job_rows(conn, pg_job_copy_sql(job, true), rows);
                batch.hit(FailSite::after_stage);
                MergeCounts result;
                result.inserted = static_cast<std::int64_t>(rows.size());
                result.stage_seconds = seconds_since(started);
                batch.hit(FailSite::after_merge);
                const auto committing = std::chrono::steady_clock::now();
                conn.exec("COMMIT", "[COMMIT load]");
                result.commit_seconds = seconds_since(committing);
                return result;
            } catch (const Error& e) {
                if (e.sqlstate() != "23505" || !conn.ok()) {
                    throw;
                }
                conn.exec("ROLLBACK TO SAVEPOINT direct_copy", "[ROLLBACK TO SAVEPOINT]");
                log_info("a key of the batch is already in the target; merging instead",
                         {{"event", "direct_copy_fallback"}, {"batch", batch.number}});
                expect_new_keys_ = false;
            }
        }
        copy_job_rows(conn, pg_job_copy_sql(job, false), rows);
        batch.hit(FailSite::after_stage);
        MergeCounts result;
        result.stage_seconds = seconds_since(started);
        const auto merging = std::chrono::steady_clock::now();
        const PgResult counts =
            conn.exec(pg_job_merge_sql(job, batch.overwrite), fmt::format("[MERGE {}]", target_));
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

}  // namespace pipeline
