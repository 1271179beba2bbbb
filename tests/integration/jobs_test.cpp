// tests/integration/jobs_test.cpp: declared jobs end to end: tables of other shapes (a composite
// key with a trigger-set cursor, an append-only table with an integer cursor, a partitioned table
// with rules) loaded into PostgreSQL and into the Snowflake emulator and compared with the source
// value by value; rules, the DLQ and replay; run --all with a failing job; schema drift; an
// integer cursor with a transaction open across a run; a crash at every fail point.
#include <fmt/format.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "tests/support/snowflake_fixture.hpp"

namespace {

namespace fs = std::filesystem;
using Json = nlohmann::json;

// Three tables of shapes the orders job does not have.
constexpr std::string_view job_tables = R"sql(
CREATE TYPE stock_mood AS ENUM ('calm', 'busy', 'closed');
CREATE DOMAIN postal AS text CHECK (VALUE ~ '^[0-9]{5}$');
CREATE TABLE store_stock (
    store_id int NOT NULL,
    sku text NOT NULL,
    qty int,
    price numeric(10,2),
    tags text[],
    mood stock_mood,
    zip postal,
    attrs jsonb,
    photo bytea,
    uid uuid,
    opens time,
    since date,
    score double precision,
    active boolean,
    note varchar(40),
    code char(3),
    search tsvector,
    last_update timestamptz NOT NULL DEFAULT CURRENT_TIMESTAMP,
    PRIMARY KEY (store_id, sku));
CREATE FUNCTION touch_stock() RETURNS trigger LANGUAGE plpgsql AS
    $$ BEGIN NEW.last_update := CURRENT_TIMESTAMP; RETURN NEW; END $$;
CREATE TRIGGER store_stock_touch BEFORE INSERT OR UPDATE ON store_stock
    FOR EACH ROW EXECUTE FUNCTION touch_stock();
CREATE INDEX ON store_stock (last_update);
INSERT INTO store_stock (store_id, sku, qty, price, tags, mood, zip, attrs, photo, uid, opens,
                         since, score, active, note, code, search)
SELECT s, 'SKU-' || k,
       CASE WHEN k % 17 = 0 THEN NULL ELSE (s * k) % 97 END,
       round((k * 1.37)::numeric, 2),
       CASE WHEN k % 11 = 0 THEN NULL
            ELSE ARRAY['t' || k, 'with "quote", comma', NULL, 'é ☕']::text[] END,
       (ARRAY['calm', 'busy', 'closed'])[1 + k % 3]::stock_mood,
       lpad((k * 7)::text, 5, '0'),
       jsonb_build_object('k', k, 'nested', jsonb_build_object('a', ARRAY[1, 2]), 's', 'x"y'),
       decode(lpad(to_hex(k * 255), 6, '0'), 'hex'),
       md5(s || '-' || k)::uuid,
       time '08:00' + (k || ' minutes')::interval + interval '0.25 seconds',
       date '2024-02-28' + k,
       CASE WHEN k % 13 = 0 THEN 'Infinity'::float8 ELSE k / 7.0 END,
       k % 2 = 0,
       'note ' || k || E' with \\ backslash and\ttab',
       'C' || lpad((k % 100)::text, 2, '0'),
       to_tsvector('simple', 'stock ' || k)
FROM generate_series(1, 4) s, generate_series(1, 60) k;

CREATE TABLE events (id bigserial PRIMARY KEY, kind text NOT NULL, payload json, at timestamp);
INSERT INTO events (kind, payload, at)
SELECT 'kind' || (i % 5), json_build_object('i', i, 'list', json_build_array(i, 'x')),
       timestamp '2026-01-01 00:00' + (i || ' minutes')::interval
FROM generate_series(1, 300) i;

CREATE TABLE payments (
    payment_id bigint NOT NULL, paid_on date NOT NULL, amount numeric(12,2), status text,
    email text, updated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (payment_id, paid_on)) PARTITION BY RANGE (paid_on);
CREATE TABLE payments_2025 PARTITION OF payments FOR VALUES FROM ('2025-01-01') TO ('2026-01-01');
CREATE TABLE payments_2026 PARTITION OF payments FOR VALUES FROM ('2026-01-01') TO ('2027-01-01');
CREATE INDEX ON payments (updated_at);
INSERT INTO payments (payment_id, paid_on, amount, status, email, updated_at)
SELECT i, date '2025-06-01' + (i % 400),
       CASE WHEN i % 101 = 0 THEN -5 ELSE (i % 500) * 3.5 END,
       CASE WHEN i % 97 = 0 THEN 'lost' ELSE (ARRAY['paid', 'refunded', 'pending'])[1 + i % 3] END,
       CASE WHEN i % 89 = 0 THEN 'nobody' ELSE 'p' || i || '@shop.example' END,
       now() - ((3000 - i) || ' seconds')::interval
FROM generate_series(1, 3000) i;
)sql";

constexpr std::string_view jobs_yaml = R"yaml(
jobs:
  stock:
    source: public.store_stock
    key: [store_id, sku]
    cursor: last_update
    exclude: [search]
    derived:
      label: "sku || '@' || store_id"
      worth: {sql: "qty * price", type: "numeric(14,2)"}
  events:
    source: public.events
    target: raw.events
    key: id
    cursor: id
  payments:
    source: public.payments
    key: payment_id
    cursor: updated_at
    rules:
      amount: {required: true, min: 0, max: 100000}
      status: {one_of: [paid, refunded, pending]}
      email: {pattern: '^[^@]+@[^@]+$'}
)yaml";

// The payments the rules reject: negative amounts, unknown statuses, bad emails.
constexpr std::string_view payments_valid =
    "amount >= 0 AND status IN ('paid', 'refunded', 'pending') AND email ~ '^[^@]+@[^@]+$'";

class JobsTest : public test::SnowflakeTest {
protected:
    void SetUp() override {
        SnowflakeTest::SetUp();
        src_.exec(job_tables);
        jobs_file_ = dir_.path() / "jobs.yaml";
        write_jobs(jobs_yaml);
        extra_settings_["ORDERS_PIPELINE_JOBS_FILE"] = jobs_file_.string();
    }

    void write_jobs(std::string_view text) const { std::ofstream(jobs_file_) << text; }

    // Each table's rows, source side, as the target must hold them (PostgreSQL target).
    std::vector<std::string> source_stock() const {
        return src_.rows(
            "SELECT store_id, sku, qty, price, tags::text, mood::text, zip::text, attrs::text, "
            "encode(photo, 'hex'), uid::text, opens::text, since::text, score::text, "
            "active::text, note, code, last_update::text, sku || '@' || store_id, "
            "(qty * price)::numeric(14,2) FROM store_stock ORDER BY store_id, sku");
    }
    static std::vector<std::string> target_stock(const test::TestDatabase& db,
                                                 std::string_view table) {
        return db.rows(
            fmt::format("SELECT store_id, sku, qty, price, tags::text, mood, zip, attrs::text, "
                        "encode(photo, 'hex'), uid::text, opens::text, since::text, score::text, "
                        "active::text, note, code, last_update::text, label, worth FROM {} "
                        "ORDER BY store_id, sku",
                        table));
    }
    std::vector<std::string> source_events() const {
        return src_.rows("SELECT id, kind, payload::text, at::text FROM events ORDER BY id");
    }
    std::vector<std::string> source_payments() const {
        return src_.rows(
            fmt::format("SELECT payment_id, paid_on::text, amount, status, email, updated_at::text "
                        "FROM payments WHERE {} ORDER BY payment_id",
                        payments_valid));
    }
    static std::vector<std::string> target_payments(const test::TestDatabase& db,
                                                    std::string_view table) {
        return db.rows(
            fmt::format("SELECT payment_id, paid_on::text, amount, status, email, updated_at::text "
                        "FROM {} ORDER BY payment_id",
                        table));
    }

    // Source changes: updates through the trigger, new rows, a new event, a fixed payment.
    void change_sources() const {
        src_.exec(
            "UPDATE store_stock SET qty = coalesce(qty, 0) + 1, tags = ARRAY['changed'] "
            "WHERE sku IN ('SKU-3', 'SKU-44');"
            "INSERT INTO store_stock (store_id, sku, qty) VALUES (9, 'SKU-new', 1);"
            "INSERT INTO events (kind) VALUES ('late'), ('later');"
            "UPDATE payments SET amount = 12.5, updated_at = now() WHERE payment_id = 7;");
    }

    fs::path jobs_file_;
};

TEST_F(JobsTest, EveryShapeLoadsIntoPostgresValueByValue) {
    const auto check = run_cli({"jobs", "check"});
    ASSERT_EQ(check.exit_code, 0) << check.err;
    EXPECT_NE(check.out.find("not loaded: search"), std::string::npos) << check.out;
    EXPECT_NE(check.out.find("cursor id (integer)"), std::string::npos) << check.out;

    const auto first = run_cli({"run", "--all"});
    ASSERT_EQ(first.exit_code, 0) << first.err;
    EXPECT_EQ(target_stock(wh_, "silver.store_stock"), source_stock());
    EXPECT_EQ(wh_.rows("SELECT id, kind, payload::text, at::text FROM raw.events ORDER BY id"),
              source_events());
    EXPECT_EQ(target_payments(wh_, "silver.payments"), source_payments());
    EXPECT_EQ(wh_.scalar("SELECT format_type(atttypid, atttypmod) FROM pg_attribute WHERE "
                         "attrelid = 'silver.store_stock'::regclass AND attname = 'mood'"),
              "text")
        << "an enum arrives as its label";
    EXPECT_EQ(wh_.scalar("SELECT count(*) FROM pg_attribute WHERE attrelid = "
                         "'silver.store_stock'::regclass AND attname = 'search'"),
              "0")
        << "the excluded column is not in the target";

    change_sources();
    const auto second = run_cli({"run", "--all"});
    ASSERT_EQ(second.exit_code, 0) << second.err;
    EXPECT_EQ(target_stock(wh_, "silver.store_stock"), source_stock());
    EXPECT_EQ(wh_.rows("SELECT id, kind, payload::text, at::text FROM raw.events ORDER BY id"),
              source_events());
    EXPECT_EQ(target_payments(wh_, "silver.payments"), source_payments());
    // Each job has its own checkpoint, run records and (payments) DLQ file.
    for (const std::string job : {"stock", "events", "payments"}) {
        EXPECT_TRUE(fs::exists(dir_.path() / "checkpoints" / (job + ".checkpoint.json"))) << job;
        EXPECT_EQ(wh_.scalar(fmt::format("SELECT count(*) FROM monitoring.pipeline_runs WHERE "
                                         "pipeline_name = '{}' AND status = 'success'",
                                         job)),
                  "2")
            << job;
    }
    EXPECT_EQ(
        wh_.scalar("SELECT rows_extracted FROM monitoring.pipeline_runs WHERE pipeline_name = "
                   "'events' ORDER BY started_at DESC LIMIT 1"),
        "2")
        << "the integer cursor's second window holds only the two new events";
    const auto quiet = run_cli({"run", "--job", "stock"});
    EXPECT_EQ(quiet.exit_code, 0) << quiet.err;
    EXPECT_NE(quiet.out.find("extracted 0"), std::string::npos) << quiet.out;
}

TEST_F(JobsTest, EveryShapeLoadsIntoSnowflakeValueByValueAndAQuietTickSendsNothing) {
    const test::SnowflakeEmulator emulator(sf_);
    auto sf = emulator.settings();
    const auto first = run_cli({"run", "--all"}, sf);
    ASSERT_EQ(first.exit_code, 0) << first.err;
    change_sources();
    const auto second = run_cli({"run", "--all"}, sf);
    ASSERT_EQ(second.exit_code, 0) << second.err;
    // Arrays and json become VARIANT/ARRAY (jsonb in the emulator), bytea BINARY, uuid VARCHAR.
    EXPECT_EQ(sf_.rows("SELECT store_id, sku, qty, price, tags::text, mood, zip, attrs::text, "
                       "encode(photo, 'hex'), uid, opens::text, since::text, score::text, "
                       "active::text, note, code, last_update::text, label, worth "
                       "FROM silver.store_stock ORDER BY store_id, sku"),
              src_.rows("SELECT store_id, sku, qty, price, to_jsonb(tags)::text, mood::text, "
                        "zip::text, attrs::text, encode(photo, 'hex'), uid::text, opens::text, "
                        "since::text, score::text, active::text, note, code, last_update::text, "
                        "sku || '@' || store_id, (qty * price)::numeric(14,2) FROM store_stock "
                        "ORDER BY store_id, sku"));
    EXPECT_EQ(sf_.rows("SELECT id, kind, payload::text, at::text FROM raw.events ORDER BY id"),
              src_.rows("SELECT id, kind, payload::jsonb::text, at::text FROM events ORDER BY id"));
    EXPECT_EQ(target_payments(sf_, "silver.payments"), source_payments());

    // Nothing changed: no job sends a request.
    const std::size_t before = emulator.log().size();
    const auto quiet = run_cli({"run", "--all"}, sf);
    ASSERT_EQ(quiet.exit_code, 0) << quiet.err;
    const auto log = emulator.log();
    int requests = 0;
    for (std::size_t i = before; i < log.size(); ++i) {
        requests += log[i].value("event", "") == "request" ? 1 : 0;
    }
    EXPECT_EQ(requests, 0) << "a quiet tick of three jobs must not reach Snowflake";
}

TEST_F(JobsTest, RulesSendRowsToTheJobsDlqAndReplayLoadsThemOnceFixed) {
    ASSERT_EQ(run_cli({"run", "--job", "payments"}).exit_code, 0);
    const std::string rejected =
        src_.scalar(fmt::format("SELECT count(*) FROM payments WHERE NOT ({})", payments_valid));
    std::vector<fs::path> files;
    std::string text;
    for (const auto& f : fs::directory_iterator(dlq_dir())) {
        files.push_back(f.path());
        text += read(f.path());
    }
    ASSERT_EQ(files.size(), 1u);
    EXPECT_EQ(files[0].filename().string().rfind("payments_", 0), 0u) << files[0];
    std::istringstream lines(text);
    std::map<std::string, int> codes;
    int n = 0;
    for (std::string line; std::getline(lines, line);) {
        const Json j = Json::parse(line);
        ++n;
        ++codes[j["error"].get<std::string>().substr(0, j["error"].get<std::string>().find(':'))];
        EXPECT_TRUE(j["row"].contains("payment_id")) << line;
        EXPECT_EQ(j["job"], "payments");
    }
    EXPECT_EQ(std::to_string(n), rejected);
    EXPECT_GT(codes["amount_min"], 0);
    EXPECT_GT(codes["status_one_of"], 0);
    EXPECT_GT(codes["email_pattern"], 0);

    // Fix the source; replay reads the rows' current versions and loads them.
    src_.exec("UPDATE payments SET amount = 1, status = 'paid', email = 'fixed@shop.example'");
    const auto replay = run_cli({"dlq", "replay", "--job", "payments", files[0].string()});
    ASSERT_EQ(replay.exit_code, 0) << replay.err;
    EXPECT_EQ(wh_.scalar("SELECT count(*) FROM silver.payments WHERE email = 'fixed@shop.example'"),
              rejected);
    EXPECT_TRUE(fs::exists(files[0].string() + ".replayed." +
                           replay.out.substr(7, replay.out.find(' ', 7) - 7)))
        << replay.out;
}

TEST_F(JobsTest, DryRunOfAJobCountsItsWindowAndWritesNothing) {
    const auto dry = run_cli({"run", "--job", "payments", "--dry-run"});
    ASSERT_EQ(dry.exit_code, 0) << dry.err;
    const std::string rejected =
        src_.scalar(fmt::format("SELECT count(*) FROM payments WHERE NOT ({})", payments_valid));
    EXPECT_NE(dry.out.find("dry run (incremental, job payments)"), std::string::npos) << dry.out;
    EXPECT_NE(dry.out.find(fmt::format("extracted 3000, would write {}, would reject {}",
                                       3000 - std::stoi(rejected), rejected)),
              std::string::npos)
        << dry.out;
    EXPECT_NE(dry.out.find("email_pattern"), std::string::npos) << dry.out;
    EXPECT_NE(dry.out.find("FROM public.payments"), std::string::npos) << dry.out;
    EXPECT_NE(dry.out.find("ON CONFLICT (payment_id)"), std::string::npos) << dry.out;
    EXPECT_FALSE(fs::exists(dir_.path() / "checkpoints" / "payments.checkpoint.json"));
    EXPECT_TRUE(!fs::exists(dlq_dir()) || fs::is_empty(dlq_dir()));
    EXPECT_EQ(wh_.scalar("SELECT count(*) FROM pg_class WHERE relname = 'payments'"), "0");

    // An integer cursor's window is shown by value.
    ASSERT_EQ(run_cli({"run", "--job", "events"}).exit_code, 0);
    src_.exec("INSERT INTO events (kind) VALUES ('new')");
    const auto events = run_cli({"run", "--job", "events", "--dry-run"});
    ASSERT_EQ(events.exit_code, 0) << events.err;
    EXPECT_NE(events.out.find("window      300 .. 301 (from, until]"), std::string::npos)
        << events.out;
    EXPECT_NE(events.out.find("extracted 1, would write 1"), std::string::npos) << events.out;
    const auto backfill = run_cli({"run", "--job", "events", "--dry-run", "--date", "2026-01-01"});
    EXPECT_EQ(backfill.exit_code, 3) << "an integer cursor has no days\n" << backfill.out;
    EXPECT_NE(backfill.err.find("no days to backfill"), std::string::npos) << backfill.err;
    const auto range =
        run_cli({"backfill", "--job", "events", "--from", "2026-01-01", "--to", "2026-01-02"});
    EXPECT_EQ(range.exit_code, 3) << range.out;
    EXPECT_NE(range.err.find("no days to backfill"), std::string::npos) << range.err;
}

TEST_F(JobsTest, RunAllKeepsGoingPastAFailingJobAndExitsWithTheWorst) {
    // The events target exists with another type for `kind`: that job fails, the others load.
    wh_.exec(
        "CREATE SCHEMA raw; CREATE TABLE raw.events (id bigint PRIMARY KEY, kind integer, "
        "payload json, at timestamp, _loaded_at timestamptz NOT NULL DEFAULT now())");
    const auto all = run_cli({"run", "--all"});
    EXPECT_EQ(all.exit_code, 1) << all.out << all.err;
    EXPECT_NE(all.out.find("job events: exit 1"), std::string::npos) << all.out;
    EXPECT_NE(all.err.find("kind is integer in the target, text at the source"), std::string::npos)
        << all.err;
    EXPECT_EQ(target_stock(wh_, "silver.store_stock"), source_stock());
    EXPECT_EQ(target_payments(wh_, "silver.payments"), source_payments());
    EXPECT_EQ(wh_.scalar("SELECT status FROM monitoring.pipeline_runs WHERE pipeline_name = "
                         "'events'"),
              "failed");
}

TEST_F(JobsTest, BadJobsFilesNameEveryProblemAtOnce) {
    write_jobs(R"yaml(
jobs:
  broken:
    source: public.store_stock
    key: [store_id, sku]
    cursor: sku
    rules:
      qty: {min: 0, pattern: '['}
      nothere: {required: true}
  orders:
    source: public.orders
    key: order_id
    cursor: updated_at
  typed:
    source: public.store_stock
    key: [store_id, sku]
    cursor: last_update
  missing:
    source: public.no_such_table
    key: id
    cursor: id
    colour: red
)yaml");
    const auto parsed = run_cli({"jobs", "check"});
    EXPECT_EQ(parsed.exit_code, 3);
    // File-level problems first, all of them.
    for (const std::string_view expected :
         {"jobs.broken.rules.qty.pattern: is not a valid RE2 pattern",
          "jobs.orders: 'orders' is the built-in orders job's name",
          "jobs.missing.colour: is not a job setting"}) {
        EXPECT_NE(parsed.err.find(expected), std::string::npos) << expected << "\n" << parsed.err;
    }
    write_jobs(R"yaml(
jobs:
  broken:
    source: public.store_stock
    key: [store_id, sku]
    cursor: sku
    rules:
      qty: {min: 0}
      nothere: {required: true}
  typed:
    source: public.store_stock
    key: [store_id, sku]
    cursor: last_update
  missing:
    source: public.no_such_table
    key: id
    cursor: id
)yaml");
    const auto planned = run_cli({"jobs", "check"});
    EXPECT_EQ(planned.exit_code, 3);
    for (const std::string_view expected :
         {"column 'sku' (text) cannot be the cursor",
          "jobs.broken.rules.nothere: column 'nothere' is not in public.store_stock",
          "column 'search' has type tsvector, which the tool cannot carry; leave it out with "
          "exclude: [search]",
          "table public.no_such_table does not exist"}) {
        EXPECT_NE(planned.err.find(expected), std::string::npos) << expected << "\n" << planned.err;
    }
    EXPECT_EQ(run_cli({"run", "--job", "typed"}).exit_code, 3) << "no work done";
    EXPECT_EQ(wh_.scalar("SELECT count(*) FROM pg_tables WHERE schemaname = 'silver'"), "0");
}

TEST_F(JobsTest, SchemaDriftIsCaughtBeforeAnythingLoads) {
    ASSERT_EQ(run_cli({"run", "--job", "stock"}).exit_code, 0);
    // A new source column, not declared: ignored, logged once.
    src_.exec(
        "ALTER TABLE store_stock ADD COLUMN colour text DEFAULT 'red';"
        "UPDATE store_stock SET qty = 5 WHERE sku = 'SKU-1'");
    const auto added = run_cli({"run", "--job", "stock"});
    ASSERT_EQ(added.exit_code, 0) << added.err;
    EXPECT_NE(added.err.find("\"event\":\"source_columns_ignored\""), std::string::npos)
        << added.err;
    EXPECT_EQ(target_stock(wh_, "silver.store_stock"), source_stock());
    const auto again = run_cli({"run", "--job", "stock"});
    EXPECT_EQ(again.err.find("source_columns_ignored"), std::string::npos) << "logged once";
    // Accepting it: forget the remembered columns; the target gets the column, and the rows
    // loaded from then on carry it.
    fs::remove(dir_.path() / "checkpoints" / "stock.columns.json");
    src_.exec("UPDATE store_stock SET colour = 'blue' WHERE sku = 'SKU-2'");
    const auto accepted = run_cli({"run", "--job", "stock"});
    ASSERT_EQ(accepted.exit_code, 0) << accepted.err;
    EXPECT_EQ(wh_.rows("SELECT store_id, colour FROM silver.store_stock WHERE sku = 'SKU-2' "
                       "ORDER BY store_id"),
              src_.rows("SELECT store_id, colour FROM store_stock WHERE sku = 'SKU-2' "
                        "ORDER BY store_id"));
    EXPECT_EQ(wh_.scalar("SELECT count(*) FROM silver.store_stock WHERE colour IS NULL"),
              wh_.scalar("SELECT count(*) - 4 FROM silver.store_stock"))
        << "rows not changed since keep NULL until they change";
    // A loaded column changes type: the job stops before loading, saying which and how.
    src_.exec(
        "ALTER TABLE store_stock ALTER COLUMN qty TYPE bigint;"
        "UPDATE store_stock SET qty = 6 WHERE sku = 'SKU-1'");
    const auto retyped = run_cli({"run", "--job", "stock"});
    EXPECT_EQ(retyped.exit_code, 3);
    EXPECT_NE(retyped.err.find("column 'qty' changed type at the source: integer when the target "
                               "was made, bigint now"),
              std::string::npos)
        << retyped.err;
    EXPECT_EQ(wh_.scalar("SELECT qty FROM silver.store_stock WHERE store_id = 1 AND sku = 'SKU-1'"),
              "5");
    // A loaded column disappears: the same.
    src_.exec(
        "ALTER TABLE store_stock ALTER COLUMN qty TYPE integer; "
        "ALTER TABLE store_stock DROP COLUMN note");
    const auto dropped = run_cli({"run", "--job", "stock"});
    EXPECT_EQ(dropped.exit_code, 3);
    EXPECT_NE(dropped.err.find("column 'note' (character varying(40)) that the target was made "
                               "with is no longer carried"),
              std::string::npos)
        << dropped.err;
}

TEST_F(JobsTest, IntegerCursorLoadsTheRowsOfATransactionOpenDuringARun) {
    ASSERT_EQ(run_cli({"run", "--job", "events"}).exit_code, 0);
    // An early writer takes id 301 and stays open while later ids commit and a run passes.
    auto writer = src_.connect();
    writer.exec("BEGIN", "[test]");
    writer.exec("INSERT INTO events (kind) VALUES ('slow')", "[test]");
    src_.exec("INSERT INTO events (kind) SELECT 'fast' FROM generate_series(1, 5)");
    ASSERT_EQ(run_cli({"run", "--job", "events"}).exit_code, 0);
    EXPECT_EQ(wh_.scalar("SELECT count(*) FROM raw.events WHERE kind = 'fast'"), "5");
    writer.exec("COMMIT", "[test]");
    const auto after = run_cli({"run", "--job", "events"});
    ASSERT_EQ(after.exit_code, 0) << after.err;
    EXPECT_EQ(wh_.rows("SELECT id, kind, payload::text, at::text FROM raw.events ORDER BY id"),
              source_events())
        << "the slow transaction's row, below the position already loaded, arrived";
}

// verify of declared jobs: a composite key (buckets by md5 of the key) and an integer key.
TEST_F(JobsTest, VerifyFindsEveryCategoryOfADeclaredJobAndRepairFixesIt) {
    ASSERT_EQ(run_cli({"run", "--all"}).exit_code, 0);
    const auto clean = run_cli({"verify", "--job", "stock", "--json"});
    ASSERT_EQ(clean.exit_code, 0) << clean.out << clean.err;
    EXPECT_EQ(Json::parse(clean.out)["differences"], 0);
    EXPECT_EQ(Json::parse(clean.out)["source_rows"], 240);

    wh_.exec(
        "DELETE FROM silver.store_stock WHERE store_id = 2 AND sku = 'SKU-7';"
        "UPDATE silver.store_stock SET last_update = last_update - interval '1 hour' "
        "WHERE store_id = 3 AND sku = 'SKU-8';"
        "INSERT INTO silver.store_stock (store_id, sku, last_update) "
        "VALUES (99, 'SKU-gone', now() - interval '1 day');"
        "UPDATE silver.store_stock SET last_update = last_update + interval '1 second' "
        "WHERE store_id = 4 AND sku = 'SKU-9'");
    const auto found = run_cli({"verify", "--job", "stock", "--json"});
    EXPECT_EQ(found.exit_code, 6) << found.err;
    const Json j = Json::parse(found.out);
    EXPECT_EQ(j["job_key"], Json({"store_id", "sku"}));
    EXPECT_EQ(j["missing"], Json::parse(R"([["2", "SKU-7"]])"));
    EXPECT_EQ(j["stale"], Json::parse(R"([["3", "SKU-8"]])"));
    EXPECT_EQ(j["extra"], Json::parse(R"([["99", "SKU-gone"]])"));
    EXPECT_EQ(j["newer"], Json::parse(R"([["4", "SKU-9"]])"));

    const auto repaired = run_cli({"verify", "--job", "stock", "--repair", "--json"},
                                  {{"ORDERS_PIPELINE_HARD_DELETES", "delete"}});
    EXPECT_EQ(repaired.exit_code, 0) << repaired.out << repaired.err;
    EXPECT_EQ(target_stock(wh_, "silver.store_stock"), source_stock());

    // An integer key: payments, with the rows the rules reject counted, not reported.
    wh_.exec("DELETE FROM silver.payments WHERE payment_id IN (5, 6)");
    const auto ints = run_cli({"verify", "--job", "payments", "--json"});
    EXPECT_EQ(ints.exit_code, 6) << ints.err;
    EXPECT_EQ(Json::parse(ints.out)["missing"], Json::parse("[5, 6]"));
    EXPECT_EQ(Json::parse(ints.out)["rejected_count"].get<int>(),
              std::stoi(src_.scalar(
                  fmt::format("SELECT count(*) FROM payments WHERE NOT ({})", payments_valid))));
}

TEST_F(JobsTest, VerifyAndRepairADeclaredJobOnSnowflake) {
    const test::SnowflakeEmulator emulator(sf_);
    auto sf = emulator.settings();
    ASSERT_EQ(run_cli({"run", "--job", "stock"}, sf).exit_code, 0);
    const auto clean = run_cli({"verify", "--job", "stock", "--json"}, sf);
    ASSERT_EQ(clean.exit_code, 0) << clean.out << clean.err;
    EXPECT_EQ(Json::parse(clean.out)["statements"], 1) << "a clean verify: one SELECT";
    // Tampered in the warehouse: found exactly, then repaired back to the source's 240 rows.
    const auto find_and_repair = [&](const std::string& tamper, const char* category,
                                     const char* keys) {
        sf_.exec(tamper);
        const auto found = run_cli({"verify", "--job", "stock", "--json"}, sf);
        EXPECT_EQ(found.exit_code, 6) << found.err;
        EXPECT_EQ(Json::parse(found.out)[category], Json::parse(keys));
        const auto repaired = run_cli({"verify", "--job", "stock", "--repair"}, sf);
        EXPECT_EQ(repaired.exit_code, 0) << repaired.out << repaired.err;
        EXPECT_EQ(sf_.scalar("SELECT count(*) FROM silver.store_stock"), "240");
    };
    find_and_repair("DELETE FROM silver.store_stock WHERE store_id = 1 AND sku = 'SKU-5'",
                    "missing", R"([["1", "SKU-5"]])");
    // Snowflake does not enforce the key: a doubled one is found, and repair keeps one copy.
    find_and_repair(
        "INSERT INTO silver.store_stock SELECT * FROM silver.store_stock "
        "WHERE store_id = 2 AND sku = 'SKU-7'",
        "duplicate", R"([["2", "SKU-7"]])");
}

// Keys whose text is not plain: char(n) (padded), an enum; values Snowflake cannot hold.
constexpr std::string_view odd_keys_sql = R"sql(
CREATE TABLE regions (
    code char(4) NOT NULL, mood stock_mood NOT NULL, opens time NOT NULL, label text,
    valid_until timestamptz, updated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (code, mood));
INSERT INTO regions (code, mood, opens, label, valid_until)
SELECT 'R' || k, (ARRAY['calm', 'busy', 'closed'])[1 + k % 3]::stock_mood,
       time '06:00' + (k || ' minutes')::interval + interval '0.5 seconds', 'region ' || k,
       CASE WHEN k = 7 THEN 'infinity'::timestamptz ELSE now() + interval '1 year' END
FROM generate_series(1, 40) k;
)sql";

constexpr std::string_view odd_keys_yaml = R"yaml(
jobs:
  regions:
    source: public.regions
    key: [code, mood]
    cursor: updated_at
    rules:
      label: {pattern: '^region'}
  by_time:
    source: public.regions
    target: silver.regions_by_time
    key: opens
    cursor: updated_at
)yaml";

TEST_F(JobsTest, PaddedAndEnumKeysVerifyRepairAndReplayOnBothWarehouses) {
    src_.exec(odd_keys_sql);
    write_jobs(odd_keys_yaml);
    const auto source_regions = [&] {
        return src_.rows(
            "SELECT code, mood::text, opens::text, label FROM regions ORDER BY code, mood");
    };
    const auto target_regions = [](const test::TestDatabase& db) {
        return db.rows(
            "SELECT code, mood, opens::text, label FROM silver.regions ORDER BY code, mood");
    };
    ASSERT_EQ(run_cli({"run", "--job", "regions"}).exit_code, 0);
    EXPECT_EQ(target_regions(wh_), source_regions());
    const auto clean = run_cli({"verify", "--job", "regions", "--json"});
    ASSERT_EQ(clean.exit_code, 0) << clean.out << clean.err;

    // One row gone from the warehouse, one deleted at the source: exactly those two.
    wh_.exec("DELETE FROM silver.regions WHERE code = 'R3'");
    src_.exec("DELETE FROM regions WHERE code = 'R5'");
    const auto found = run_cli({"verify", "--job", "regions", "--json"});
    EXPECT_EQ(found.exit_code, 6) << found.err;
    const Json j = Json::parse(found.out);
    EXPECT_EQ(j["missing"], Json::parse(R"([["R3  ", "calm"]])")) << found.out;
    EXPECT_EQ(j["extra"].size(), 1u) << found.out;
    const auto repaired = run_cli({"verify", "--job", "regions", "--repair", "--json"},
                                  {{"ORDERS_PIPELINE_HARD_DELETES", "delete"}});
    EXPECT_EQ(repaired.exit_code, 0) << repaired.out << repaired.err;
    EXPECT_EQ(target_regions(wh_), source_regions()) << "repair deleted only the deleted row";

    // A rejected row with an enum key: replay looks it up by key and loads it once fixed.
    src_.exec("UPDATE regions SET label = 'oops', updated_at = now() WHERE code = 'R9'");
    ASSERT_EQ(run_cli({"run", "--job", "regions"}).exit_code, 0);
    std::string dlq_file;
    for (const auto& f : fs::directory_iterator(dlq_dir())) {
        dlq_file = f.path().string();
    }
    ASSERT_FALSE(dlq_file.empty());
    src_.exec("UPDATE regions SET label = 'region 9 again' WHERE code = 'R9'");
    const auto replay = run_cli({"dlq", "replay", "--job", "regions", dlq_file});
    ASSERT_EQ(replay.exit_code, 0) << replay.err;
    EXPECT_EQ(target_regions(wh_), source_regions());

    // Snowflake: the padded key verifies clean there too; 'infinity' cannot be held, so that
    // row goes to the DLQ and the run goes on; a time key cannot be matched and is refused.
    const test::SnowflakeEmulator emulator(sf_);
    auto sf = emulator.settings();
    sf["ORDERS_PIPELINE_CHECKPOINT_DIR"] = (dir_.path() / "sf-checkpoints").string();
    sf["ORDERS_PIPELINE_DLQ_DIR"] = (dir_.path() / "sf-dlq").string();
    const auto loaded = run_cli({"run", "--job", "regions"}, sf);
    ASSERT_EQ(loaded.exit_code, 0) << loaded.err;
    EXPECT_NE(loaded.out.find("rejected 1"), std::string::npos) << loaded.out;
    std::string rejected;
    for (const auto& f : fs::directory_iterator(dir_.path() / "sf-dlq")) {
        rejected += read(f.path());
    }
    EXPECT_NE(rejected.find("valid_until_unrepresentable"), std::string::npos) << rejected;
    EXPECT_EQ(sf_.scalar("SELECT count(*) FROM silver.regions"),
              src_.scalar("SELECT count(*) - 1 FROM regions"));
    const auto sf_clean = run_cli({"verify", "--job", "regions", "--json"}, sf);
    EXPECT_EQ(sf_clean.exit_code, 0) << sf_clean.out << sf_clean.err;
    const auto by_time = run_cli({"verify", "--job", "by_time"}, sf);
    EXPECT_EQ(by_time.exit_code, 3);
    EXPECT_NE(by_time.err.find("key column 'opens' (time without time zone)"), std::string::npos)
        << by_time.err;
}

// ---- a crash at every fail point, on a declared job ----------------------------------------

class JobFailPointWalk : public JobsTest, public ::testing::WithParamInterface<std::string> {};

TEST_P(JobFailPointWalk, CrashThenRerunLeavesExactlyTheSourcesTable) {
    // Batch 2 of the initial load (3 batches) crashes; the rerun merges into what batch 1 left.
    const std::string site = GetParam();
    const std::string point = site + (site.starts_with("after_") ? ":2" : "") + "=kill";
    const auto crashed =
        run_cli({"run", "--job", "payments"}, {{"ORDERS_PIPELINE_FAIL_POINT", point}});
    EXPECT_NE(crashed.exit_code, 0) << point;
    ASSERT_EQ(run_cli({"run", "--job", "payments"}).exit_code, 0);
    EXPECT_EQ(target_payments(wh_, "silver.payments"), source_payments()) << point;
    // Then an incremental window crashes at the same point (the probe site only exists on
    // the insert-only path of an initial load).
    if (site != "after_probe") {
        src_.exec(
            "UPDATE payments SET amount = amount + 1, updated_at = now() "
            "WHERE payment_id % 3 = 0");
        const std::string again = site + (site.starts_with("after_") ? ":1" : "") + "=kill";
        EXPECT_NE(run_cli({"run", "--job", "payments"}, {{"ORDERS_PIPELINE_FAIL_POINT", again}})
                      .exit_code,
                  0)
            << again;
        const auto rerun = run_cli({"run", "--job", "payments"});
        ASSERT_EQ(rerun.exit_code, 0) << rerun.err;
        EXPECT_EQ(target_payments(wh_, "silver.payments"), source_payments()) << again;
    }
    EXPECT_EQ(wh_.scalar("SELECT count(*) FROM monitoring.pipeline_runs WHERE pipeline_name = "
                         "'payments' AND status = 'success'"),
              site == "after_probe" ? "1" : "2")
        << "a crashed run is never recorded as a success";
}

INSTANTIATE_TEST_SUITE_P(EveryPoint, JobFailPointWalk,
                         ::testing::Values("after_extract", "after_probe", "after_stage",
                                           "after_merge", "after_commit", "before_checkpoint",
                                           "checkpoint_before_rename", "before_final_record"),
                         [](const ::testing::TestParamInfo<std::string>& point) {
                             std::string name;
                             for (const char c : point.param) {
                                 name += std::isalnum(static_cast<unsigned char>(c)) != 0 ? c : '_';
                             }
                             return name;
                         });

}  // namespace
