// tests/unit/snowflake_sql_test.cpp: the Snowflake DDL, MERGE and staging names; requestId UUIDs.
#include "pipeline/warehouse/snowflake/snowflake_sql.hpp"

#include <gtest/gtest.h>

#include <set>

#include "pipeline/warehouse/snowflake/http_client.hpp"

namespace {

using pipeline::QualifiedName;
using pipeline::SqlIdentifier;

SqlIdentifier id(const char* text) {
    return *SqlIdentifier::parse(text);
}

TEST(SnowflakeSqlTest, TargetDdlUsesSnowflakeTypesKeyAndClustering) {
    const std::string ddl = pipeline::sf_create_target_sql(id("silver"), id("orders"));
    EXPECT_TRUE(ddl.starts_with("CREATE TABLE IF NOT EXISTS SILVER.ORDERS ("));
    EXPECT_NE(ddl.find("ORDER_AMOUNT NUMBER(14,2) NOT NULL"), std::string::npos);
    EXPECT_NE(ddl.find("TOTAL_VALUE NUMBER(14,2) NOT NULL"), std::string::npos);
    EXPECT_NE(ddl.find("UPDATED_AT TIMESTAMP_TZ(6) NOT NULL"), std::string::npos);
    EXPECT_NE(ddl.find("HAS_PROMO BOOLEAN NOT NULL"), std::string::npos);
    EXPECT_NE(ddl.find("PRIMARY KEY (ORDER_ID)"), std::string::npos);
    EXPECT_TRUE(ddl.ends_with("CLUSTER BY (ORDER_DATE, STORE_ID)"));
    EXPECT_EQ(ddl.find('"'), std::string::npos) << "identifiers must stay unquoted";
}

TEST(SnowflakeSqlTest, StagingIsTransientWithoutTimeTravel) {
    const std::string ddl = pipeline::sf_create_staging_sql(id("silver"), "OP_STG_X");
    EXPECT_TRUE(ddl.starts_with("CREATE TRANSIENT TABLE IF NOT EXISTS SILVER.OP_STG_X ("));
    EXPECT_TRUE(ddl.ends_with("DATA_RETENTION_TIME_IN_DAYS = 0"));
    const std::string insert = pipeline::sf_insert_staging_sql(id("silver"), "OP_STG_X");
    EXPECT_EQ(std::count(insert.begin(), insert.end(), '?'), 25);
}

TEST(SnowflakeSqlTest, MergeIsNewerWinsWithOptionalPruning) {
    const std::string merge = pipeline::sf_merge_sql(id("silver"), id("orders"), "STG", {});
    EXPECT_NE(merge.find("ON t.ORDER_ID = s.ORDER_ID\n"), std::string::npos) << merge;
    EXPECT_NE(merge.find("WHEN MATCHED AND t.UPDATED_AT < s.UPDATED_AT THEN UPDATE SET "
                         "CUSTOMER_ID = s.CUSTOMER_ID"),
              std::string::npos);
    EXPECT_NE(merge.find("WHEN NOT MATCHED THEN INSERT (ORDER_ID, "), std::string::npos);
    EXPECT_EQ(merge.find("ORDER_DATE >="), std::string::npos);
    const std::string pruned =
        pipeline::sf_merge_sql(id("silver"), id("orders"), "STG", pipeline::CivilDate{2026, 11, 1});
    EXPECT_NE(pruned.find("ON t.ORDER_ID = s.ORDER_ID AND t.ORDER_DATE >= DATE '2026-11-01'"),
              std::string::npos)
        << pruned;
}

TEST(SnowflakeSqlTest, StagingNamesArePlainAndPrefixedPerPipeline) {
    const std::string name =
        pipeline::sf_staging_table_name("orders-eu", "20261122T101010Z-ab12cd34");
    EXPECT_TRUE(name.starts_with(pipeline::sf_staging_prefix("orders-eu")));
    EXPECT_TRUE(name.ends_with("_20261122T101010Z_AB12CD34"));
    EXPECT_EQ(name.find_first_not_of("ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_"), std::string::npos);
    EXPECT_NE(pipeline::sf_staging_prefix("orders-eu"), pipeline::sf_staging_prefix("orders_eu"));
    EXPECT_EQ(pipeline::sf_show_staging_sql(id("silver"), "OP_STG_1_"),
              "SHOW TABLES LIKE 'OP_STG_1_%' IN SCHEMA SILVER");
}

TEST(SnowflakeSqlTest, RunRecordMergeBindsSeventeenScalarsPerRecord) {
    const auto run_table = *QualifiedName::parse("monitoring.pipeline_runs");
    const std::string merge = pipeline::sf_upsert_run_records_sql(run_table, 1);
    EXPECT_TRUE(merge.starts_with("MERGE INTO MONITORING.PIPELINE_RUNS t"));
    EXPECT_EQ(std::count(merge.begin(), merge.end(), '?'), 17);
    const std::string three = pipeline::sf_upsert_run_records_sql(run_table, 3);
    EXPECT_EQ(std::count(three.begin(), three.end(), '?'), 3 * 17);
    EXPECT_NE(three.find("UNION ALL SELECT"), std::string::npos);
    const std::string ddl = pipeline::sf_create_run_table_sql(run_table);
    EXPECT_NE(ddl.find("PRIMARY KEY (RUN_ID)"), std::string::npos);
    EXPECT_NE(ddl.find("CREDITS_ESTIMATE FLOAT"), std::string::npos);
    EXPECT_EQ(pipeline::sf_add_run_table_columns_sql(run_table).front(),
              "ALTER TABLE MONITORING.PIPELINE_RUNS ADD COLUMN IF NOT EXISTS WAREHOUSE_SECONDS "
              "FLOAT");
}

TEST(HttpClientTest, RequestIdsAreDistinctVersion4Uuids) {
    std::set<std::string> seen;
    for (int i = 0; i < 200; ++i) {
        const std::string uuid = pipeline::random_uuid();
        ASSERT_EQ(uuid.size(), 36U);
        EXPECT_EQ(uuid[8], '-');
        EXPECT_EQ(uuid[14], '4');
        EXPECT_NE(std::string("89ab").find(uuid[19]), std::string::npos);
        EXPECT_EQ(uuid.find_first_not_of("0123456789abcdef-"), std::string::npos);
        seen.insert(uuid);
    }
    EXPECT_EQ(seen.size(), 200U);
}

}  // namespace
