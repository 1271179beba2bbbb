// pipeline/warehouse/snowflake/snowflake_sql.cpp: Snowflake SQL text; every identifier is a checked
// SqlIdentifier.
#include "pipeline/warehouse/snowflake/snowflake_sql.hpp"

#include <fmt/format.h>

#include <array>
#include <cstdint>
#include <vector>

#include "pipeline/core/unicode.hpp"
#include "pipeline/orders/order_row.hpp"

namespace pipeline {

namespace {

// Snowflake column types, in destination_column_names order.
constexpr std::array<std::string_view, 25> column_types = {"NUMBER(19,0) NOT NULL",
                                                           "NUMBER(19,0) NOT NULL",
                                                           "VARCHAR NOT NULL",
                                                           "VARCHAR",
                                                           "NUMBER(14,2) NOT NULL",
                                                           "NUMBER(14,2) NOT NULL",
                                                           "NUMBER(14,2) NOT NULL",
                                                           "NUMBER(14,2) NOT NULL",
                                                           "VARCHAR NOT NULL",
                                                           "VARCHAR",
                                                           "VARCHAR",
                                                           "VARCHAR NOT NULL",
                                                           "DATE NOT NULL",
                                                           "NUMBER(2,0) NOT NULL",
                                                           "VARCHAR NOT NULL",
                                                           "NUMBER(12,1)",
                                                           "VARCHAR",
                                                           "VARCHAR",
                                                           "BOOLEAN NOT NULL",
                                                           "VARCHAR",
                                                           "TIMESTAMP_TZ(6) NOT NULL",
                                                           "TIMESTAMP_TZ(6) NOT NULL",
                                                           "TIMESTAMP_TZ(6)",
                                                           "TIMESTAMP_TZ(6)",
                                                           "TIMESTAMP_TZ(6) NOT NULL"};

std::string upper(const SqlIdentifier& id) {
    return ascii_upper(id.str());
}

std::string column(std::size_t i) {
    return ascii_upper(destination_column_names[i]);
}

std::string column_definitions() {
    std::string out;
    for (std::size_t i = 0; i < column_types.size(); ++i) {
        out += fmt::format("{}    {} {}", i == 0 ? "" : ",\n", column(i), column_types[i]);
    }
    return out;
}

std::string column_list(std::string_view prefix = {}) {
    std::string out;
    for (std::size_t i = 0; i < destination_column_names.size(); ++i) {
        out += fmt::format("{}{}{}", i == 0 ? "" : ", ", prefix, column(i));
    }
    return out;
}

// FNV-1a, 32 bits: a short stable tag for the pipeline name in staging names.
std::uint32_t fnv1a(std::string_view text) {
    std::uint32_t hash = 2166136261U;
    for (const char c : text) {
        hash ^= static_cast<unsigned char>(c);
        hash *= 16777619U;
    }
    return hash;
}

}  // namespace

std::string sf_create_schema_sql(const SqlIdentifier& schema) {
    return fmt::format("CREATE SCHEMA IF NOT EXISTS {}", upper(schema));
}

std::string sf_create_target_sql(const SqlIdentifier& schema, const SqlIdentifier& table) {
    return fmt::format(
        "CREATE TABLE IF NOT EXISTS {}.{} (\n{},\n    PRIMARY KEY (ORDER_ID)\n)\n"
        "CLUSTER BY (ORDER_DATE, STORE_ID)",
        upper(schema), upper(table), column_definitions());
}

std::string sf_create_run_table_sql(const QualifiedName& run_table) {
    return fmt::format(
        "CREATE TABLE IF NOT EXISTS {}.{} (\n"
        "    RUN_ID VARCHAR NOT NULL,\n"
        "    PIPELINE_NAME VARCHAR NOT NULL,\n"
        "    MODE VARCHAR NOT NULL,\n"
        "    RUN_DATE DATE NOT NULL,\n"
        "    STARTED_AT TIMESTAMP_TZ(6) NOT NULL,\n"
        "    FINISHED_AT TIMESTAMP_TZ(6),\n"
        "    STATUS VARCHAR NOT NULL,\n"
        "    ROWS_EXTRACTED NUMBER(19,0) NOT NULL,\n"
        "    ROWS_WRITTEN NUMBER(19,0) NOT NULL,\n"
        "    ROWS_REJECTED NUMBER(19,0) NOT NULL,\n"
        "    ROWS_INSERTED NUMBER(19,0) NOT NULL,\n"
        "    ROWS_UPDATED NUMBER(19,0) NOT NULL,\n"
        "    DURATION_SECONDS FLOAT,\n"
        "    ERROR_MESSAGE VARCHAR,\n"
        "    ENVIRONMENT VARCHAR NOT NULL,\n"
        "    WAREHOUSE_SECONDS FLOAT,\n"
        "    CREDITS_ESTIMATE FLOAT,\n"
        "    PRIMARY KEY (RUN_ID)\n"
        ")",
        upper(run_table.schema), upper(run_table.table));
}

std::vector<std::string> sf_add_run_table_columns_sql(const QualifiedName& run_table) {
    return {fmt::format("ALTER TABLE {}.{} ADD COLUMN IF NOT EXISTS WAREHOUSE_SECONDS FLOAT",
                        upper(run_table.schema), upper(run_table.table)),
            fmt::format("ALTER TABLE {}.{} ADD COLUMN IF NOT EXISTS CREDITS_ESTIMATE FLOAT",
                        upper(run_table.schema), upper(run_table.table))};
}

std::string sf_staging_prefix(std::string_view pipeline) {
    return fmt::format("OP_STG_{:08X}_", fnv1a(pipeline));
}

std::string sf_staging_table_name(std::string_view pipeline, std::string_view run_id) {
    std::string name = sf_staging_prefix(pipeline);
    for (const char c : run_id) {
        const bool plain =
            (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
        name += plain ? c : '_';
    }
    return ascii_upper(name);
}

std::string sf_create_staging_sql(const SqlIdentifier& schema, std::string_view staging) {
    return fmt::format(
        "CREATE TRANSIENT TABLE IF NOT EXISTS {}.{} (\n{}\n)\n"
        "DATA_RETENTION_TIME_IN_DAYS = 0",
        upper(schema), staging, column_definitions());
}

std::string sf_insert_staging_sql(const SqlIdentifier& schema, std::string_view staging) {
    std::string placeholders;
    for (std::size_t i = 0; i < destination_column_names.size(); ++i) {
        placeholders += i == 0 ? "?" : ", ?";
    }
    return fmt::format("INSERT INTO {}.{} ({}) VALUES ({})", upper(schema), staging, column_list(),
                       placeholders);
}

std::string sf_merge_sql(const SqlIdentifier& schema, const SqlIdentifier& table,
                         std::string_view staging, std::optional<CivilDate> prune_from,
                         bool overwrite) {
    std::string updates;
    for (std::size_t i = 1; i < destination_column_names.size(); ++i) {
        updates += fmt::format("{}{} = s.{}", i == 1 ? "" : ", ", column(i), column(i));
    }
    const std::string prune =
        prune_from ? fmt::format(" AND t.ORDER_DATE >= DATE '{}'", format_date(*prune_from)) : "";
    return fmt::format(
        "MERGE INTO {0}.{1} t\n"
        "USING {0}.{2} s\n"
        "ON t.ORDER_ID = s.ORDER_ID{3}\n"
        "WHEN MATCHED{7} THEN UPDATE SET {4}\n"
        "WHEN NOT MATCHED THEN INSERT ({5}) VALUES ({6})",
        upper(schema), upper(table), staging, prune, updates, column_list(), column_list("s."),
        overwrite ? "" : " AND t.UPDATED_AT < s.UPDATED_AT");
}

std::string sf_upsert_run_records_sql(const QualifiedName& run_table, std::size_t records) {
    constexpr std::string_view first_row =
        "SELECT CAST(? AS VARCHAR) AS RUN_ID, CAST(? AS VARCHAR) AS PIPELINE_NAME,\n"
        "    CAST(? AS VARCHAR) AS MODE, CAST(? AS DATE) AS RUN_DATE,\n"
        "    CAST(? AS TIMESTAMP_TZ(6)) AS STARTED_AT, CAST(? AS TIMESTAMP_TZ(6)) AS FINISHED_AT,\n"
        "    CAST(? AS VARCHAR) AS STATUS, CAST(? AS NUMBER(19,0)) AS ROWS_EXTRACTED,\n"
        "    CAST(? AS NUMBER(19,0)) AS ROWS_WRITTEN, CAST(? AS NUMBER(19,0)) AS ROWS_REJECTED,\n"
        "    CAST(? AS NUMBER(19,0)) AS ROWS_INSERTED, CAST(? AS NUMBER(19,0)) AS ROWS_UPDATED,\n"
        "    CAST(? AS FLOAT) AS DURATION_SECONDS, CAST(? AS VARCHAR) AS ERROR_MESSAGE,\n"
        "    CAST(? AS VARCHAR) AS ENVIRONMENT, CAST(? AS FLOAT) AS WAREHOUSE_SECONDS,\n"
        "    CAST(? AS FLOAT) AS CREDITS_ESTIMATE";
    // Later rows take their column names from the first (UNION ALL).
    constexpr std::string_view next_row =
        "\n    UNION ALL SELECT CAST(? AS VARCHAR), CAST(? AS VARCHAR), CAST(? AS VARCHAR),\n"
        "    CAST(? AS DATE), CAST(? AS TIMESTAMP_TZ(6)), CAST(? AS TIMESTAMP_TZ(6)),\n"
        "    CAST(? AS VARCHAR), CAST(? AS NUMBER(19,0)), CAST(? AS NUMBER(19,0)),\n"
        "    CAST(? AS NUMBER(19,0)), CAST(? AS NUMBER(19,0)), CAST(? AS NUMBER(19,0)),\n"
        "    CAST(? AS FLOAT), CAST(? AS VARCHAR), CAST(? AS VARCHAR), CAST(? AS FLOAT),\n"
        "    CAST(? AS FLOAT)";
    std::string rows(first_row);
    for (std::size_t i = 1; i < records; ++i) {
        rows += next_row;
    }
    return fmt::format(
        "MERGE INTO {}.{} t\n"
        "USING ({}) s\n"
        "ON t.RUN_ID = s.RUN_ID\n"
        "WHEN MATCHED THEN UPDATE SET FINISHED_AT = s.FINISHED_AT, STATUS = s.STATUS,\n"
        "    ROWS_EXTRACTED = s.ROWS_EXTRACTED, ROWS_WRITTEN = s.ROWS_WRITTEN,\n"
        "    ROWS_REJECTED = s.ROWS_REJECTED, ROWS_INSERTED = s.ROWS_INSERTED,\n"
        "    ROWS_UPDATED = s.ROWS_UPDATED, DURATION_SECONDS = s.DURATION_SECONDS,\n"
        "    ERROR_MESSAGE = s.ERROR_MESSAGE, WAREHOUSE_SECONDS = s.WAREHOUSE_SECONDS,\n"
        "    CREDITS_ESTIMATE = s.CREDITS_ESTIMATE\n"
        "WHEN NOT MATCHED THEN INSERT (RUN_ID, PIPELINE_NAME, MODE, RUN_DATE, STARTED_AT,\n"
        "    FINISHED_AT, STATUS, ROWS_EXTRACTED, ROWS_WRITTEN, ROWS_REJECTED, ROWS_INSERTED,\n"
        "    ROWS_UPDATED, DURATION_SECONDS, ERROR_MESSAGE, ENVIRONMENT, WAREHOUSE_SECONDS,\n"
        "    CREDITS_ESTIMATE)\n"
        "VALUES (s.RUN_ID, s.PIPELINE_NAME, s.MODE, s.RUN_DATE, s.STARTED_AT, s.FINISHED_AT,\n"
        "    s.STATUS, s.ROWS_EXTRACTED, s.ROWS_WRITTEN, s.ROWS_REJECTED, s.ROWS_INSERTED,\n"
        "    s.ROWS_UPDATED, s.DURATION_SECONDS, s.ERROR_MESSAGE, s.ENVIRONMENT,\n"
        "    s.WAREHOUSE_SECONDS, s.CREDITS_ESTIMATE)",
        upper(run_table.schema), upper(run_table.table), rows);
}

std::string sf_show_staging_sql(const SqlIdentifier& schema, std::string_view prefix) {
    // '_' is a LIKE wildcard; the caller re-checks the exact prefix on the names returned.
    return fmt::format("SHOW TABLES LIKE '{}%' IN SCHEMA {}", prefix, upper(schema));
}

}  // namespace pipeline
