// pipeline/warehouse/postgres/merge_sql.cpp: SQL text; every identifier is a checked SqlIdentifier.
#include "pipeline/warehouse/postgres/merge_sql.hpp"

#include <fmt/format.h>

#include "pipeline/orders/order_row.hpp"

namespace pipeline {

namespace {

std::string joined_columns(std::string_view prefix = {}) {
    std::string out;
    for (std::size_t i = 0; i < destination_column_names.size(); ++i) {
        out += fmt::format("{}{}{}", i == 0 ? "" : ", ", prefix, destination_column_names[i]);
    }
    return out;
}

}  // namespace

std::string pg_create_target_sql(const SqlIdentifier& schema, const SqlIdentifier& table) {
    return fmt::format(
        "CREATE SCHEMA IF NOT EXISTS {0};\n"
        "CREATE TABLE IF NOT EXISTS {0}.{1} (\n"
        "    order_id bigint PRIMARY KEY,\n"
        "    customer_id bigint NOT NULL,\n"
        "    store_id text NOT NULL,\n"
        "    restaurant_id text,\n"
        "    order_amount numeric(14,2) NOT NULL,\n"
        "    delivery_fee numeric(14,2) NOT NULL,\n"
        "    discount_amount numeric(14,2) NOT NULL,\n"
        "    total_value numeric(14,2) NOT NULL,\n"
        "    status text NOT NULL,\n"
        "    payment_method text,\n"
        "    payment_status text,\n"
        "    order_tier text NOT NULL,\n"
        "    order_date date NOT NULL,\n"
        "    order_hour smallint NOT NULL,\n"
        "    order_month text NOT NULL,\n"
        "    delivery_minutes numeric(12,1),\n"
        "    cancellation_type text,\n"
        "    cancellation_reason text,\n"
        "    has_promo boolean NOT NULL,\n"
        "    promo_code text,\n"
        "    created_at timestamptz NOT NULL,\n"
        "    updated_at timestamptz NOT NULL,\n"
        "    delivered_at timestamptz,\n"
        "    cancelled_at timestamptz,\n"
        "    ingested_at timestamptz NOT NULL\n"
        ")",
        schema.str(), table.str());
}

std::string pg_create_run_table_sql(const QualifiedName& run_table) {
    return fmt::format(
        "CREATE SCHEMA IF NOT EXISTS {0};\n"
        "CREATE TABLE IF NOT EXISTS {0}.{1} (\n"
        "    run_id text PRIMARY KEY,\n"
        "    pipeline_name text NOT NULL,\n"
        "    mode text NOT NULL,\n"
        "    run_date date NOT NULL,\n"
        "    started_at timestamptz NOT NULL,\n"
        "    finished_at timestamptz,\n"
        "    status text NOT NULL,\n"
        "    rows_extracted bigint NOT NULL DEFAULT 0,\n"
        "    rows_written bigint NOT NULL DEFAULT 0,\n"
        "    rows_rejected bigint NOT NULL DEFAULT 0,\n"
        "    rows_inserted bigint NOT NULL DEFAULT 0,\n"
        "    rows_updated bigint NOT NULL DEFAULT 0,\n"
        "    duration_seconds double precision,\n"
        "    error_message text,\n"
        "    environment text NOT NULL,\n"
        "    warehouse_seconds double precision,\n"
        "    credits_estimate double precision\n"
        ");\n"
        "ALTER TABLE {0}.{1} ADD COLUMN IF NOT EXISTS warehouse_seconds double precision, "
        "ADD COLUMN IF NOT EXISTS credits_estimate double precision",
        run_table.schema.str(), run_table.table.str());
}

std::string pg_create_staging_sql(const SqlIdentifier& schema, const SqlIdentifier& table) {
    // TEMP: private to this session and gone with it, so a crashed run leaves nothing behind.
    return fmt::format(
        "CREATE TEMP TABLE IF NOT EXISTS {} (LIKE {}.{} INCLUDING DEFAULTS) ON COMMIT DELETE ROWS",
        pg_staging_table, schema.str(), table.str());
}

namespace {

std::string_view copy_options(CopyFormat format) {
    return format == CopyFormat::binary ? " WITH (FORMAT binary)" : "";
}

}  // namespace

std::string pg_copy_staging_sql(CopyFormat format) {
    return fmt::format("COPY pg_temp.{} ({}) FROM STDIN{}", pg_staging_table, joined_columns(),
                       copy_options(format));
}

std::string pg_copy_target_sql(const SqlIdentifier& schema, const SqlIdentifier& table,
                               CopyFormat format) {
    return fmt::format("COPY {}.{} ({}) FROM STDIN{}", schema.str(), table.str(), joined_columns(),
                       copy_options(format));
}

std::string pg_merge_sql(const SqlIdentifier& schema, const SqlIdentifier& table, bool overwrite) {
    std::string updates;
    for (std::size_t i = 1; i < destination_column_names.size(); ++i) {
        updates += fmt::format("{}{} = EXCLUDED.{}", i == 1 ? "" : ", ",
                               destination_column_names[i], destination_column_names[i]);
    }
    // xmax = 0 only for freshly inserted tuples: that splits the counts.
    return fmt::format(
        "WITH merged AS (\n"
        "    INSERT INTO {0}.{1} AS t ({2})\n"
        "    SELECT {2} FROM pg_temp.{3}\n"
        "    ON CONFLICT (order_id) DO UPDATE SET {4}\n"
        "{5}"
        "    RETURNING (t.xmax = 0) AS inserted\n"
        ")\n"
        "SELECT count(*) FILTER (WHERE inserted), count(*) FILTER (WHERE NOT inserted) FROM merged",
        schema.str(), table.str(), joined_columns(), pg_staging_table, updates,
        overwrite ? "" : "    WHERE t.updated_at < EXCLUDED.updated_at\n");
}

std::string pg_upsert_run_record_sql(const QualifiedName& run_table) {
    return fmt::format(
        "INSERT INTO {} (run_id, pipeline_name, mode, run_date, started_at, finished_at, status,\n"
        "    rows_extracted, rows_written, rows_rejected, rows_inserted, rows_updated,\n"
        "    duration_seconds, error_message, environment, warehouse_seconds, credits_estimate)\n"
        "VALUES ($1, $2, $3, $4::date, $5::timestamptz, $6::timestamptz, $7, $8::bigint,\n"
        "    $9::bigint, $10::bigint, $11::bigint, $12::bigint, $13::double precision, $14, $15,\n"
        "    $16::double precision, $17::double precision)\n"
        "ON CONFLICT (run_id) DO UPDATE SET finished_at = EXCLUDED.finished_at,\n"
        "    status = EXCLUDED.status, rows_extracted = EXCLUDED.rows_extracted,\n"
        "    rows_written = EXCLUDED.rows_written, rows_rejected = EXCLUDED.rows_rejected,\n"
        "    rows_inserted = EXCLUDED.rows_inserted, rows_updated = EXCLUDED.rows_updated,\n"
        "    duration_seconds = EXCLUDED.duration_seconds, error_message = "
        "EXCLUDED.error_message,\n"
        "    warehouse_seconds = EXCLUDED.warehouse_seconds,\n"
        "    credits_estimate = EXCLUDED.credits_estimate",
        run_table.str());
}

}  // namespace pipeline
