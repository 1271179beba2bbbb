// tests/unit/jobs_plan_test.cpp: the jobs file (shape, vocabulary, every problem at once), the
// type mapping, a job resolved against a catalog (problems, drift, new columns), its rules, its
// DLQ lines and the SQL made from it. No server: catalogs are written here as the source's
// catalog would answer.
#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <vector>

#include "pipeline/jobs/column_type.hpp"
#include "pipeline/jobs/job_dlq.hpp"
#include "pipeline/jobs/job_plan.hpp"
#include "pipeline/jobs/job_spec.hpp"
#include "pipeline/jobs/rules.hpp"
#include "pipeline/warehouse/job_sql.hpp"

namespace {

using pipeline::CatalogColumn;
using pipeline::ColumnType;
using pipeline::JobsProblem;
using pipeline::ValueKind;

CatalogColumn base(std::string name, std::string type, bool not_null = false) {
    CatalogColumn c;
    c.name = std::move(name);
    c.not_null = not_null;
    c.declared_type = type;
    c.base_formatted = type;
    static const std::vector<std::pair<std::string, std::string>> typnames = {
        {"integer", "int4"},
        {"bigint", "int8"},
        {"smallint", "int2"},
        {"text", "text"},
        {"boolean", "bool"},
        {"date", "date"},
        {"double precision", "float8"},
        {"jsonb", "jsonb"},
        {"bytea", "bytea"},
        {"uuid", "uuid"},
        {"point", "point"},
        {"timestamp with time zone", "timestamptz"},
        {"timestamp without time zone", "timestamp"},
    };
    c.base_name = type.rfind("numeric", 0) == 0 ? "numeric" : type;
    for (const auto& [formatted, typname] : typnames) {
        if (formatted == type) {
            c.base_name = typname;
        }
    }
    return c;
}

CatalogColumn numeric(std::string name, int precision, int scale) {
    CatalogColumn c = base(std::move(name), precision < 0 ? "numeric"
                                                          : "numeric(" + std::to_string(precision) +
                                                                "," + std::to_string(scale) + ")");
    c.precision = precision;
    c.scale = scale;
    return c;
}

std::string problems_text(const std::vector<JobsProblem>& problems) {
    std::string out;
    for (const JobsProblem& p : problems) {
        out += p.text() + "\n";
    }
    return out;
}

bool mentions(const std::vector<JobsProblem>& problems, std::string_view where,
              std::string_view words) {
    return std::any_of(problems.begin(), problems.end(), [&](const JobsProblem& p) {
        return p.where == where && p.message.find(words) != std::string::npos;
    });
}

ColumnType mapped(const CatalogColumn& c) {
    auto result = pipeline::map_column_type(c);
    if (auto* why = std::get_if<std::string>(&result)) {
        ADD_FAILURE() << *why;
        return {};
    }
    return std::get<ColumnType>(result);
}

// ---- the jobs file ----

constexpr std::string_view good_file = R"yaml(
jobs:
  customers:
    source: public.customers
    target: silver.customers
    key: customer_id
    cursor: updated_at
    exclude: [password_hash]
    rules:
      email: {required: true, pattern: '^[^@]+@[^@]+$'}
      tier: {one_of: [gold, silver]}
      credit: {min: 0, max: 1e6}
    derived:
      email_domain: "split_part(email, '@', 2)"
      score: {sql: "credit * 2", type: "numeric(14,2)"}
  events:
    source: public.events
    key: [tenant, event_id]
    cursor: event_id
)yaml";

TEST(JobsFileTest, ReadsEverySettingOfEveryJobInFileOrder) {
    const auto result = pipeline::parse_jobs_file(good_file, "orders");
    ASSERT_TRUE(result.problems.empty()) << problems_text(result.problems);
    ASSERT_EQ(result.jobs.size(), 2U);
    const auto& customers = result.jobs[0];
    EXPECT_EQ(customers.name, "customers");
    EXPECT_EQ(customers.source.str(), "public.customers");
    ASSERT_TRUE(customers.target.has_value());
    EXPECT_EQ(customers.target->str(), "silver.customers");
    EXPECT_EQ(customers.key, std::vector<std::string>{"customer_id"});
    EXPECT_EQ(customers.cursor, "updated_at");
    EXPECT_EQ(customers.exclude, std::vector<std::string>{"password_hash"});
    ASSERT_EQ(customers.rules.size(), 3U);
    EXPECT_TRUE(customers.rules[0].required);
    EXPECT_EQ(customers.rules[0].pattern, "^[^@]+@[^@]+$");
    EXPECT_EQ(customers.rules[1].one_of, (std::vector<std::string>{"gold", "silver"}));
    EXPECT_EQ(customers.rules[2].min, "0");
    EXPECT_EQ(customers.rules[2].max, "1e6");
    ASSERT_EQ(customers.derived.size(), 2U);
    EXPECT_EQ(customers.derived[0].sql, "split_part(email, '@', 2)");
    EXPECT_FALSE(customers.derived[0].type.has_value());
    EXPECT_EQ(customers.derived[1].type, "numeric(14,2)");
    EXPECT_EQ(result.jobs[1].name, "events");
    EXPECT_EQ(result.jobs[1].key, (std::vector<std::string>{"tenant", "event_id"}));
    EXPECT_FALSE(result.jobs[1].target.has_value());
}

TEST(JobsFileTest, NamesEveryProblemAtOnceWithItsLine) {
    constexpr std::string_view bad = R"yaml(
jobs:
  orders:
    source: public.orders
    key: order_id
    cursor: updated_at
  bad name!:
    source: public.x
    key: id
    cursor: ts
  shop:
    source: nodot
    key: [id, "Id"]
    cursor: ts
    exclude: [id, ts]
    colour: blue
    rules:
      id: {pattern: '(', between: 3}
      amount: {min: 10, max: 1}
      flag: {required: maybe}
    derived:
      d1: "1; DROP TABLE x"
      d2: {sql: "1", type: "int'"}
  empty: {}
)yaml";
    const auto result = pipeline::parse_jobs_file(bad, "orders");
    EXPECT_TRUE(result.jobs.empty()) << "no job is handed out when any problem is found";
    const auto& p = result.problems;
    EXPECT_TRUE(mentions(p, "jobs.orders", "built-in orders job")) << problems_text(p);
    EXPECT_TRUE(mentions(p, "jobs.bad name!", "a job name is")) << problems_text(p);
    EXPECT_TRUE(mentions(p, "jobs.shop.source", "")) << problems_text(p);
    EXPECT_TRUE(mentions(p, "jobs.shop.exclude", "'id' is a key column")) << problems_text(p);
    EXPECT_TRUE(mentions(p, "jobs.shop.exclude", "'ts' is the cursor")) << problems_text(p);
    EXPECT_TRUE(mentions(p, "jobs.shop.colour", "is not a job setting")) << problems_text(p);
    EXPECT_TRUE(mentions(p, "jobs.shop.rules.id.pattern", "not a valid RE2 pattern"))
        << problems_text(p);
    EXPECT_TRUE(mentions(p, "jobs.shop.rules.id.between", "is not a rule")) << problems_text(p);
    EXPECT_TRUE(mentions(p, "jobs.shop.rules.amount", "min is greater than max"))
        << problems_text(p);
    EXPECT_TRUE(mentions(p, "jobs.shop.rules.flag.required", "true or false")) << problems_text(p);
    EXPECT_TRUE(mentions(p, "jobs.shop.derived.d1", "';' is not allowed")) << problems_text(p);
    EXPECT_TRUE(mentions(p, "jobs.shop.derived.d2.type", "not a type name")) << problems_text(p);
    EXPECT_TRUE(mentions(p, "jobs.empty.source", "is required")) << problems_text(p);
    EXPECT_TRUE(mentions(p, "jobs.empty.key", "is required")) << problems_text(p);
    EXPECT_TRUE(mentions(p, "jobs.empty.cursor", "is required")) << problems_text(p);
    // The uppercase key column is named, and lines point into the file.
    EXPECT_NE(problems_text(p).find("Id"), std::string::npos) << problems_text(p);
    const auto colour = std::find_if(
        p.begin(), p.end(), [](const JobsProblem& x) { return x.where == "jobs.shop.colour"; });
    ASSERT_NE(colour, p.end());
    EXPECT_EQ(colour->line, 16);
    EXPECT_EQ(colour->text().rfind("line 16: jobs.shop.colour: ", 0), 0U) << colour->text();
}

TEST(JobsFileTest, AJobOrASettingGivenTwiceIsAProblem) {
    const auto r = pipeline::parse_jobs_file(R"yaml(
jobs:
  a:
    source: public.a
    key: id
    key: other
    cursor: ts
  a:
    source: public.b
    key: id
    cursor: ts
)yaml",
                                             "orders");
    EXPECT_TRUE(r.jobs.empty());
    EXPECT_TRUE(mentions(r.problems, "jobs.a", "is given twice")) << problems_text(r.problems);
    EXPECT_TRUE(mentions(r.problems, "jobs.a.key", "is given twice")) << problems_text(r.problems);
}

TEST(JobsFileTest, NotYamlOrNoJobsMappingIsOneClearProblem) {
    auto r = pipeline::parse_jobs_file("jobs: [unclosed", "orders");
    ASSERT_EQ(r.problems.size(), 1U);
    EXPECT_NE(r.problems[0].message.find("not valid YAML"), std::string::npos);
    r = pipeline::parse_jobs_file("tables:\n  a: 1\n", "orders");
    ASSERT_EQ(r.problems.size(), 1U);
    EXPECT_NE(r.problems[0].message.find("top-level 'jobs:'"), std::string::npos);
    EXPECT_TRUE(pipeline::is_plain_column_name("customer_id2"));
    EXPECT_FALSE(pipeline::is_plain_column_name("CustomerId"));
    EXPECT_FALSE(pipeline::is_plain_column_name("2nd"));
    EXPECT_FALSE(pipeline::is_plain_column_name("a-b"));
}

// ---- the type mapping ----

TEST(ColumnTypeTest, EveryCarriedTypeHasItsTargetTypes) {
    struct Case {
        CatalogColumn column;
        std::string pg;
        std::string sf;
        std::string stage;
    };
    const std::vector<Case> cases = {
        {base("a", "smallint"), "smallint", "NUMBER(5,0)", "NUMBER(5,0)"},
        {base("a", "bigint"), "bigint", "NUMBER(19,0)", "NUMBER(19,0)"},
        {numeric("a", 12, 2), "numeric(12,2)", "NUMBER(12,2)", "NUMBER(12,2)"},
        {numeric("a", -1, -1), "numeric", "NUMBER(38,9)", "NUMBER(38,9)"},
        {base("a", "double precision"), "double precision", "FLOAT", "FLOAT"},
        {base("a", "text"), "text", "VARCHAR", "VARCHAR"},
        {base("a", "boolean"), "boolean", "BOOLEAN", "BOOLEAN"},
        {base("a", "timestamp with time zone"), "timestamp with time zone", "TIMESTAMP_TZ(6)",
         "TIMESTAMP_TZ(6)"},
        {base("a", "timestamp without time zone"), "timestamp without time zone",
         "TIMESTAMP_NTZ(6)", "TIMESTAMP_NTZ(6)"},
        {base("a", "uuid"), "uuid", "VARCHAR(36)", "VARCHAR(36)"},
        {base("a", "jsonb"), "jsonb", "VARIANT", "VARCHAR"},
        {base("a", "bytea"), "bytea", "BINARY", "VARCHAR"},
    };
    for (const Case& c : cases) {
        const ColumnType t = mapped(c.column);
        EXPECT_EQ(t.pg_type, c.pg) << c.column.declared_type;
        EXPECT_EQ(t.sf_type, c.sf) << c.column.declared_type;
        EXPECT_EQ(t.sf_stage_type, c.stage) << c.column.declared_type;
        EXPECT_FALSE(t.cast_on_extract) << c.column.declared_type;
    }
    EXPECT_TRUE(mapped(numeric("a", -1, -1)).note.has_value()) << "rounding on Snowflake is said";
    CatalogColumn varchar = base("a", "character varying(40)");
    varchar.base_name = "varchar";
    EXPECT_EQ(mapped(varchar).sf_type, "VARCHAR(40)");
}

TEST(ColumnTypeTest, EnumsDomainsAndArraysAreCastToWhatTheTargetHolds) {
    CatalogColumn mood = base("mood", "mood");
    mood.base_name = "mood";
    mood.base_typtype = 'e';
    const ColumnType m = mapped(mood);
    EXPECT_EQ(m.kind, ValueKind::text);
    EXPECT_EQ(m.pg_type, "text");
    EXPECT_TRUE(m.cast_on_extract);

    CatalogColumn zip = base("zip", "us_zip");  // a domain over text
    zip.base_name = "text";
    zip.base_formatted = "text";
    EXPECT_EQ(mapped(zip).pg_type, "text");
    EXPECT_TRUE(mapped(zip).cast_on_extract);

    CatalogColumn tags = base("tags", "character varying(20)[]");
    tags.base_name = "_varchar";
    tags.element_name = "varchar";
    tags.element_formatted = "character varying(20)";
    tags.element_typtype = 'b';
    const ColumnType t = mapped(tags);
    EXPECT_TRUE(t.array);
    EXPECT_EQ(t.pg_type, "text[]");
    EXPECT_EQ(t.sf_type, "ARRAY");
    EXPECT_FALSE(pipeline::can_be_key(t));

    CatalogColumn point = base("p", "point");
    const auto refused = pipeline::map_column_type(point);
    ASSERT_TRUE(std::holds_alternative<std::string>(refused));
    EXPECT_NE(std::get<std::string>(refused).find("exclude: [p]"), std::string::npos)
        << std::get<std::string>(refused);

    EXPECT_FALSE(pipeline::can_be_key(mapped(base("f", "double precision"))));
    EXPECT_TRUE(pipeline::can_be_key(mapped(base("u", "uuid"))));
}

// ---- a job against its catalog ----

pipeline::JobCatalog customers_catalog() {
    pipeline::JobCatalog catalog;
    catalog.exists = true;
    catalog.cursor_indexed = true;
    catalog.columns = {base("customer_id", "bigint", true),
                       base("email", "text"),
                       base("tier", "text"),
                       numeric("credit", 12, 2),
                       base("password_hash", "bytea"),
                       base("updated_at", "timestamp with time zone", true)};
    CatalogColumn domain = base("email_domain", "text");
    catalog.derived_types.emplace("email_domain", domain);
    catalog.derived_types.emplace("score", numeric("score", 14, 2));
    return catalog;
}

pipeline::JobSpec first_job(std::string_view file) {
    auto parsed = pipeline::parse_jobs_file(file, "orders");
    EXPECT_TRUE(parsed.problems.empty()) << problems_text(parsed.problems);
    return parsed.jobs.empty() ? pipeline::JobSpec{} : parsed.jobs.front();
}

constexpr auto pg = pipeline::TargetLimits::postgres;

const pipeline::SqlIdentifier& silver() {
    static const auto id = *pipeline::SqlIdentifier::parse("silver");
    return id;
}

TEST(JobPlanTest, ResolvesColumnsKeyCursorRulesAndDerived) {
    const auto result = pipeline::plan_job(first_job(good_file), customers_catalog(), silver(), pg);
    ASSERT_TRUE(result.table.has_value()) << problems_text(result.problems);
    const auto& job = *result.table;
    std::vector<std::string> names;
    for (const auto& c : job.columns) {
        names.push_back(c.name);
    }
    EXPECT_EQ(names,
              (std::vector<std::string>{"customer_id", "email", "tier", "credit", "updated_at"}));
    EXPECT_EQ(job.ignored, std::vector<std::string>{"password_hash"});
    ASSERT_EQ(job.key.size(), 1U);
    EXPECT_EQ(job.columns[job.key[0]].name, "customer_id");
    EXPECT_EQ(job.cursor_column().name, "updated_at");
    EXPECT_EQ(job.cursor_kind, pipeline::CursorKind::timestamptz);
    ASSERT_EQ(job.derived.size(), 2U);
    EXPECT_EQ(job.derived[1].type.pg_type, "numeric(14,2)");
    EXPECT_EQ(job.target.str(), "silver.customers");
    EXPECT_EQ(pipeline::job_select_list(job),
              "s.customer_id, s.email, s.tier, s.credit, s.updated_at");
}

TEST(JobPlanTest, NamesEveryCatalogProblemInOnePass) {
    constexpr std::string_view file = R"yaml(
jobs:
  customers:
    source: public.customers
    key: [customer_id, credit_f]
    cursor: email
    exclude: [nothere]
    rules:
      email: {min: 1}
      password_hash: {pattern: x}
      ghost: {required: true}
    derived:
      tier: "upper(tier)"
      broken: "nosuchfn(1)"
)yaml";
    auto catalog = customers_catalog();
    catalog.columns.push_back(base("credit_f", "double precision"));
    catalog.columns.push_back(base("spot", "point"));
    catalog.cursor_indexed = false;
    catalog.derived_errors.emplace("broken", "function nosuchfn(integer) does not exist");
    const auto result = pipeline::plan_job(first_job(file), catalog, silver(), pg);
    EXPECT_FALSE(result.table.has_value());
    const auto& p = result.problems;
    EXPECT_TRUE(mentions(p, "jobs.customers.key", "'credit_f' (double precision) cannot be a key"))
        << problems_text(p);
    EXPECT_TRUE(mentions(p, "jobs.customers.cursor", "cannot be the cursor")) << problems_text(p);
    EXPECT_TRUE(mentions(p, "jobs.customers.exclude", "'nothere' is not in public.customers"))
        << problems_text(p);
    EXPECT_TRUE(mentions(p, "jobs.customers.source", "exclude: [spot]")) << problems_text(p);
    EXPECT_TRUE(mentions(p, "jobs.customers.rules.email", "min/max need a number column"))
        << problems_text(p);
    EXPECT_TRUE(mentions(p, "jobs.customers.rules.password_hash", "pattern/one_of need a scalar"))
        << problems_text(p);
    EXPECT_TRUE(mentions(p, "jobs.customers.rules.ghost", "'ghost' is not in public.customers"))
        << problems_text(p);
    EXPECT_TRUE(mentions(p, "jobs.customers.derived.tier", "needs a new name")) << problems_text(p);
    EXPECT_TRUE(mentions(p, "jobs.customers.derived.broken", "nosuchfn")) << problems_text(p);

    catalog.exists = false;
    const auto gone = pipeline::plan_job(first_job(file), catalog, silver(), pg);
    ASSERT_EQ(gone.problems.size(), 1U);
    EXPECT_NE(gone.problems[0].message.find("does not exist"), std::string::npos);
}

TEST(JobPlanTest, DriftAgainstTheRememberedColumnsIsAProblemAndNewColumnsWaitToBeDeclared) {
    constexpr std::string_view file = R"yaml(
jobs:
  customers:
    source: public.customers
    key: customer_id
    cursor: updated_at
)yaml";
    auto catalog = customers_catalog();
    catalog.recorded = std::vector<std::pair<std::string, std::string>>{
        {"customer_id", "bigint"},  {"email", "text"},
        {"tier", "text"},           {"credit", "numeric(12,2)"},
        {"password_hash", "bytea"}, {"updated_at", "timestamp with time zone"}};
    // Unchanged: plans; a new source column is ignored until declared.
    catalog.columns.push_back(base("nickname", "text"));
    auto plan = pipeline::plan_job(first_job(file), catalog, silver(), pg);
    ASSERT_TRUE(plan.table.has_value()) << problems_text(plan.problems);
    EXPECT_EQ(plan.table->new_ignored, std::vector<std::string>{"nickname"});
    EXPECT_FALSE(plan.table->column_index("nickname").has_value());

    // A type change and a dropped column are both named.
    catalog.columns[3] = numeric("credit", 14, 4);
    catalog.columns.erase(catalog.columns.begin() + 2);  // tier
    plan = pipeline::plan_job(first_job(file), catalog, silver(), pg);
    EXPECT_FALSE(plan.table.has_value());
    EXPECT_TRUE(mentions(plan.problems, "jobs.customers.source",
                         "'credit' changed type at the source: numeric(12,2)"))
        << problems_text(plan.problems);
    EXPECT_TRUE(mentions(plan.problems, "jobs.customers.source", "'tier' (text)"))
        << problems_text(plan.problems);
}

TEST(JobPlanTest, ReservedWordsNullableCursorsAndAChangedKey) {
    constexpr std::string_view file = R"yaml(
jobs:
  customers:
    source: public.customers
    key: customer_id
    cursor: updated_at
)yaml";
    auto catalog = customers_catalog();
    catalog.columns.push_back(base("start", "text"));
    // "start" is fine for PostgreSQL, reserved on Snowflake.
    auto plan = pipeline::plan_job(first_job(file), catalog, silver(), pg);
    ASSERT_TRUE(plan.table.has_value()) << problems_text(plan.problems);
    plan =
        pipeline::plan_job(first_job(file), catalog, silver(), pipeline::TargetLimits::snowflake);
    EXPECT_TRUE(mentions(plan.problems, "jobs.customers.source",
                         "column 'start' is a reserved word in Snowflake SQL"))
        << problems_text(plan.problems);
    catalog.columns.back() = base("order", "text");
    plan = pipeline::plan_job(first_job(file), catalog, silver(), pg);
    EXPECT_TRUE(mentions(plan.problems, "jobs.customers.source",
                         "column 'order' is a reserved word in PostgreSQL SQL"))
        << problems_text(plan.problems);
    catalog.columns.pop_back();

    catalog.columns.back().not_null = false;  // updated_at
    plan = pipeline::plan_job(first_job(file), catalog, silver(), pg);
    ASSERT_TRUE(plan.table.has_value()) << problems_text(plan.problems);
    EXPECT_TRUE(std::any_of(plan.table->notes.begin(), plan.table->notes.end(),
                            [](const std::string& n) { return n.find("allows NULL") != n.npos; }));

    catalog.recorded_key = std::vector<std::string>{"email"};
    plan = pipeline::plan_job(first_job(file), catalog, silver(), pg);
    EXPECT_TRUE(mentions(plan.problems, "jobs.customers.key",
                         "the target was made keyed by (email), the job now says (customer_id)"))
        << problems_text(plan.problems);
}

TEST(JobPlanTest, IntegerAndPlainTimestampCursors) {
    constexpr std::string_view file = R"yaml(
jobs:
  events:
    source: public.events
    key: [tenant, event_id]
    cursor: event_id
)yaml";
    pipeline::JobCatalog catalog;
    catalog.exists = true;
    catalog.cursor_indexed = true;
    catalog.columns = {base("tenant", "text", true), base("event_id", "bigint", true),
                       base("seen", "timestamp without time zone")};
    auto plan = pipeline::plan_job(first_job(file), catalog, silver(), pg);
    ASSERT_TRUE(plan.table.has_value()) << problems_text(plan.problems);
    EXPECT_EQ(plan.table->cursor_kind, pipeline::CursorKind::integer);
    EXPECT_EQ(plan.table->target.str(), "silver.events") << "DEST_SCHEMA.<source table>";

    auto spec = first_job(file);
    spec.cursor = "seen";
    plan = pipeline::plan_job(spec, catalog, silver(), pg);
    ASSERT_TRUE(plan.table.has_value()) << problems_text(plan.problems);
    EXPECT_EQ(plan.table->cursor_kind, pipeline::CursorKind::timestamp);
    EXPECT_TRUE(std::any_of(plan.table->notes.begin(), plan.table->notes.end(),
                            [](const std::string& n) { return n.find("read as UTC") != n.npos; }));
}

// ---- rules and DLQ lines ----

std::string be64(std::int64_t v) {
    std::string out(8, '\0');
    for (int i = 0; i < 8; ++i) {
        out[static_cast<std::size_t>(7 - i)] =
            static_cast<char>((static_cast<std::uint64_t>(v) >> (8 * i)) & 0xFF);
    }
    return out;
}

// numeric 2 digits of scale: value/100 as PostgreSQL's numeric_send writes it (|value| < 1e8).
std::string numeric2(std::int64_t cents) {
    const bool negative = cents < 0;
    const std::int64_t a = negative ? -cents : cents;
    const auto group = [](std::int64_t g) {
        std::string s(2, '\0');
        s[0] = static_cast<char>((g >> 8) & 0xFF);
        s[1] = static_cast<char>(g & 0xFF);
        return s;
    };
    // integer part (< 10000) and fraction (cents*100 as one group)
    return group(2) + group(0) + group(negative ? 0x4000 : 0) + group(2) + group(a / 100) +
           group(a % 100 * 100);
}

TEST(JobRulesTest, FirstFailingRuleNamesTheCodeAndTheKey) {
    const auto plan = pipeline::plan_job(first_job(good_file), customers_catalog(), silver(), pg);
    ASSERT_TRUE(plan.table.has_value()) << problems_text(plan.problems);
    const auto& job = *plan.table;
    const pipeline::JobRules rules(job, pipeline::TargetLimits::postgres);
    EXPECT_FALSE(rules.empty());
    const std::string id = be64(42);
    const std::string ts = be64(0);
    const std::string credit = numeric2(1250);
    using F = pipeline::BinaryField;
    // customer_id, email, tier, credit, updated_at
    std::vector<F> row = {id, std::string_view("a@b.c"), std::string_view("gold"), credit, ts};
    EXPECT_FALSE(rules.check(row).has_value());

    auto bad = row;
    bad[1] = std::string_view("no-at-sign");
    auto r = rules.check(bad);
    ASSERT_TRUE(r.has_value());
    EXPECT_EQ(r->code, "email_pattern");
    EXPECT_NE(r->message.find("customer_id=42"), std::string::npos) << r->message;

    bad = row;
    bad[1] = std::nullopt;
    ASSERT_TRUE(rules.check(bad).has_value());
    EXPECT_EQ(rules.check(bad)->code, "email_required");

    bad = row;
    bad[2] = std::string_view("bronze");
    ASSERT_TRUE(rules.check(bad).has_value());
    EXPECT_EQ(rules.check(bad)->code, "tier_one_of");

    bad = row;
    const std::string negative = numeric2(-1);
    bad[3] = negative;
    ASSERT_TRUE(rules.check(bad).has_value());
    EXPECT_EQ(rules.check(bad)->code, "credit_min");
    EXPECT_NE(rules.check(bad)->message.find("-0.01 is below the minimum 0"), std::string::npos)
        << rules.check(bad)->message;

    bad = row;
    bad[3] = std::nullopt;  // not required: NULL passes min/max
    EXPECT_FALSE(rules.check(bad).has_value());

    // For Snowflake, a value its types cannot hold is rejected too (here: credit NaN).
    const pipeline::JobRules snowflake(job, pipeline::TargetLimits::snowflake);
    EXPECT_FALSE(snowflake.check(row).has_value());
    bad = row;
    const std::string nan("\0\0\0\0\xC0\0\0\0", 8);
    bad[3] = nan;
    ASSERT_TRUE(rules.check(bad).has_value());
    EXPECT_EQ(rules.check(bad)->code, "credit_min") << "PostgreSQL holds NaN; the bound refuses it";
    ASSERT_TRUE(snowflake.check(bad).has_value());
    EXPECT_EQ(snowflake.check(bad)->code, "credit_unrepresentable");

    bad = row;
    bad[0] = std::nullopt;
    ASSERT_TRUE(rules.check(bad).has_value());
    EXPECT_EQ(rules.check(bad)->code, "missing_key");
    bad = row;
    bad[4] = std::nullopt;
    ASSERT_TRUE(rules.check(bad).has_value());
    EXPECT_EQ(rules.check(bad)->code, "missing_cursor");
}

TEST(JobDlqTest, LinesCarryTheRowAsTextAndReadBack) {
    const auto plan = pipeline::plan_job(first_job(good_file), customers_catalog(), silver(), pg);
    ASSERT_TRUE(plan.table.has_value());
    const std::string id = be64(7);
    const std::string ts = be64(825'674'400'500'000);
    const std::string credit = numeric2(99);
    const std::vector<pipeline::BinaryField> row = {id, std::string_view("x\"y"), std::nullopt,
                                                    credit, ts};
    const std::string line = pipeline::format_job_dlq_line(*plan.table, row, "email_pattern: ...",
                                                           pipeline::Timestamp{0}, "run-1");
    ASSERT_FALSE(line.empty());
    EXPECT_EQ(line.back(), '\n');
    EXPECT_EQ(std::count(line.begin(), line.end(), '\n'), 1) << "one line per row";
    std::string why;
    const auto entry = pipeline::parse_job_dlq_line(line, why);
    ASSERT_TRUE(entry.has_value()) << why;
    EXPECT_EQ(entry->error, "email_pattern: ...");
    EXPECT_EQ(entry->run_id, "run-1");
    EXPECT_EQ(entry->row.at("customer_id"), "7");
    EXPECT_EQ(entry->row.at("email"), "x\"y");
    EXPECT_EQ(entry->row.at("tier"), std::nullopt);
    EXPECT_EQ(entry->row.at("credit"), "0.99");
    EXPECT_EQ(entry->row.at("updated_at"), "2026-03-01 10:00:00.5+00");

    EXPECT_FALSE(pipeline::parse_job_dlq_line("not json", why).has_value());
    EXPECT_FALSE(pipeline::parse_job_dlq_line(R"({"error":"x","row":{"a":1}})", why).has_value());
    EXPECT_NE(why.find("neither a string nor null"), std::string::npos) << why;
}

// ---- SQL made from a plan ----

TEST(JobSqlTest, MergesAreNewerWinsByTheKeyAndComputeDerivedColumns) {
    constexpr std::string_view file = R"yaml(
jobs:
  events:
    source: public.events
    target: silver.events
    key: [tenant, event_id]
    cursor: seen
    derived:
      tenant_upper: "upper(tenant)"
)yaml";
    pipeline::JobCatalog catalog;
    catalog.exists = true;
    catalog.cursor_indexed = true;
    catalog.columns = {base("tenant", "text", true), base("event_id", "bigint", true),
                       base("payload", "jsonb"), base("seen", "timestamp with time zone", true)};
    catalog.derived_types.emplace("tenant_upper", base("tenant_upper", "text"));
    const auto plan = pipeline::plan_job(first_job(file), catalog, silver(), pg);
    ASSERT_TRUE(plan.table.has_value()) << problems_text(plan.problems);
    const auto& job = *plan.table;

    const std::string create = pipeline::pg_job_create_target_sql(job);
    EXPECT_NE(create.find("PRIMARY KEY (tenant, event_id)"), std::string::npos) << create;
    EXPECT_NE(create.find("_loaded_at"), std::string::npos) << create;
    EXPECT_NE(create.find("tenant_upper text"), std::string::npos) << create;

    const std::string merge = pipeline::pg_job_merge_sql(job, false);
    EXPECT_NE(merge.find("ON CONFLICT (tenant, event_id)"), std::string::npos) << merge;
    EXPECT_NE(merge.find("upper(tenant)"), std::string::npos) << merge;
    EXPECT_NE(merge.find("seen <"), std::string::npos) << "newer wins:\n" << merge;
    const std::string overwrite = pipeline::pg_job_merge_sql(job, true);
    EXPECT_EQ(overwrite.find("seen <"), std::string::npos) << "replay overwrites:\n" << overwrite;

    const std::string sf = pipeline::sf_job_merge_sql(job, "silver.events_stage_x", false);
    EXPECT_NE(sf.find("PARSE_JSON"), std::string::npos) << "jsonb staged as text:\n" << sf;
    EXPECT_NE(sf.find("silver.events_stage_x"), std::string::npos) << sf;
    const std::string sf_create = pipeline::sf_job_create_target_sql(job);
    EXPECT_NE(sf_create.find("VARIANT"), std::string::npos) << sf_create;
    EXPECT_NE(sf_create.find("TIMESTAMP_TZ(6)"), std::string::npos) << sf_create;
    const std::string insert = pipeline::sf_job_insert_staging_sql(job, "silver.events_stage_x");
    EXPECT_EQ(std::count(insert.begin(), insert.end(), '?'), 4) << insert;
}

}  // namespace
