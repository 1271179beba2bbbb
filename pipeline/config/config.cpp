// pipeline/config/config.cpp: parsing and validation of every configuration value.
#include "pipeline/config/config.hpp"

#include <fmt/format.h>
#include <libpq-fe.h>

#include <algorithm>
#include <array>
#include <charconv>
#include <memory>

#include "pipeline/core/unicode.hpp"
#include "pipeline/state/atomic_file.hpp"

extern char** environ;  // NOLINT: POSIX process environment

namespace pipeline {

namespace {

struct ConninfoDeleter {
    void operator()(PQconninfoOption* options) const noexcept { PQconninfoFree(options); }
};
using ConninfoPtr = std::unique_ptr<PQconninfoOption, ConninfoDeleter>;

// Parses with libpq; the error text is dropped because it may quote the input (and a password).
ConninfoPtr parse_conninfo(const std::string& text) {
    char* error = nullptr;
    ConninfoPtr options(PQconninfoParse(text.c_str(), &error));
    if (error != nullptr) {
        PQfreemem(error);
    }
    return options;
}

// Every key this build understands (without the prefix).
constexpr std::array<std::string_view, 33> known_keys = {"PIPELINE_NAME",
                                                         "SOURCE_DB_URL",
                                                         "SOURCE_SCHEMA",
                                                         "SOURCE_TABLE",
                                                         "DEST_DB_URL",
                                                         "DEST_SCHEMA",
                                                         "DEST_TABLE",
                                                         "BATCH_SIZE",
                                                         "OVERLAP_MINUTES",
                                                         "CHECKPOINT_DIR",
                                                         "DLQ_DIR",
                                                         "LOG_LEVEL",
                                                         "PIPELINE_RUN_TABLE",
                                                         "ENVIRONMENT",
                                                         "START_FROM",
                                                         "ALLOW_PRIMARY_SOURCE",
                                                         "MERGE_LOOKBACK_DAYS",
                                                         "SOURCE_STATEMENT_TIMEOUT_SECONDS",
                                                         "HOLDBACK_MAX_MINUTES",
                                                         "MAX_TRANSACTION_MINUTES",
                                                         "MAX_REJECT_RATIO",
                                                         "HARD_DELETES",
                                                         "JOBS_FILE",
                                                         "RETRY_MAX_ATTEMPTS",
                                                         "RETRY_BASE_DELAY_MS",
                                                         "FAIL_POINT",
                                                         "SNOWFLAKE_PRIVATE_KEY_FILE",
                                                         "SNOWFLAKE_PRIVATE_KEY_PASSPHRASE",
                                                         "SNOWFLAKE_API_URL",
                                                         "SNOWFLAKE_CA_BUNDLE",
                                                         "SNOWFLAKE_SUSPEND_WAREHOUSE",
                                                         "SNOWFLAKE_MAX_REQUEST_BYTES",
                                                         "SNOWFLAKE_STATEMENT_TIMEOUT_SECONDS"};

// Collects values and problems while the Config is assembled.
class Collector {
public:
    Collector(const EnvMap& env, const EnvMap& file) : env_(env), file_(file) {}

    std::optional<std::string> get(std::string_view key) const {
        const std::string name = full(key);
        if (auto it = env_.find(name); it != env_.end()) {
            return it->second;
        }
        if (auto it = file_.find(name); it != file_.end()) {
            return it->second;
        }
        return std::nullopt;
    }

    void problem(std::string_view key, std::string message) {
        problems_.push_back({full(key), std::move(message)});
    }

    std::optional<std::string> required(std::string_view key) {
        auto value = get(key);
        if (!value || trim_ascii(*value).empty()) {
            problem(key, "is required but not set");
            return std::nullopt;
        }
        return value;
    }

    std::string text(std::string_view key, std::string_view fallback) const {
        auto value = get(key);
        return value ? *value : std::string(fallback);
    }

    std::optional<SqlIdentifier> identifier(std::string_view key, std::string_view fallback) {
        const std::string value = text(key, fallback);
        auto ident = SqlIdentifier::parse(value);
        if (!ident) {
            problem(key, fmt::format("'{}' is not a plain SQL identifier (letters, digits and "
                                     "underscores, starting with a letter or underscore, at most "
                                     "63 characters)",
                                     printable(value)));
        }
        return ident;
    }

    std::optional<int> integer(std::string_view key, int fallback, int min, int max) {
        auto value = get(key);
        if (!value) {
            return fallback;
        }
        const std::string_view digits = trim_ascii(*value);
        int parsed = 0;
        auto [ptr, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), parsed);
        if (ec != std::errc{} || ptr != digits.data() + digits.size() || digits.empty()) {
            problem(key, fmt::format("'{}' is not a whole number (allowed: {} to {})",
                                     printable(*value), min, max));
            return std::nullopt;
        }
        if (parsed < min || parsed > max) {
            problem(key, fmt::format("{} is out of range (allowed: {} to {})", parsed, min, max));
            return std::nullopt;
        }
        return parsed;
    }

    std::optional<bool> boolean(std::string_view key, bool fallback = false) {
        auto value = get(key);
        if (!value || trim_ascii(*value).empty()) {
            return fallback;
        }
        const std::string lowered = ascii_lower(trim_ascii(*value));
        if (lowered == "1" || lowered == "true" || lowered == "yes" || lowered == "on") {
            return true;
        }
        if (lowered == "0" || lowered == "false" || lowered == "no" || lowered == "off" ||
            lowered.empty()) {
            return false;
        }
        problem(key, fmt::format("'{}' is not a boolean (true/false)", printable(*value)));
        return std::nullopt;
    }

    // Picks one of `choices` (matched case-insensitively); problem otherwise.
    template <typename Enum, std::size_t N>
    std::optional<Enum> choice(std::string_view key, std::string_view fallback,
                               const std::array<std::pair<std::string_view, Enum>, N>& choices) {
        const std::string value = text(key, fallback);
        const std::string lowered = ascii_lower(trim_ascii(value));
        std::string names;
        for (const auto& [name, e] : choices) {
            if (lowered == ascii_lower(name)) {
                return e;
            }
            names += names.empty() ? "" : ", ";
            names += name;
        }
        problem(key, fmt::format("'{}' is not one of {}", printable(value), names));
        return std::nullopt;
    }

    std::vector<ConfigProblem> take_problems() { return std::move(problems_); }

    // Values of non-secret variables may be echoed, but bounded and on one line.
    static std::string printable(std::string_view value) {
        std::string out;
        for (char c : value.substr(0, 80)) {
            out.push_back(static_cast<unsigned char>(c) < 0x20 ? '?' : c);
        }
        return value.size() > 80 ? out + "..." : out;
    }

private:
    static std::string full(std::string_view key) { return fmt::format("{}{}", env_prefix, key); }

    const EnvMap& env_;
    const EnvMap& file_;
    std::vector<ConfigProblem> problems_;
};

// KEY=VALUE lines; malformed lines become problems named by line number.
EnvMap parse_file(std::string_view text, std::vector<ConfigProblem>& problems) {
    EnvMap values;
    std::size_t line_number = 0;
    while (!text.empty()) {
        ++line_number;
        const std::size_t newline = text.find('\n');
        std::string_view line = trim_ascii(text.substr(0, newline));
        text.remove_prefix(newline == std::string_view::npos ? text.size() : newline + 1);
        if (line.empty() || line.front() == '#') {
            continue;
        }
        if (line.starts_with("export ")) {
            line = trim_ascii(line.substr(7));
        }
        const std::size_t eq = line.find('=');
        if (eq == std::string_view::npos || eq == 0) {
            problems.push_back(
                {fmt::format("config file line {}", line_number), "is not of the form KEY=VALUE"});
            continue;
        }
        const std::string key(trim_ascii(line.substr(0, eq)));
        std::string_view value = trim_ascii(line.substr(eq + 1));
        if (value.size() >= 2 && (value.front() == '"' || value.front() == '\'') &&
            value.back() == value.front()) {
            value = value.substr(1, value.size() - 2);
        }
        if (!key.starts_with(env_prefix)) {
            problems.push_back({fmt::format("config file line {}", line_number),
                                fmt::format("key '{}' does not start with {}",
                                            Collector::printable(key), env_prefix)});
            continue;
        }
        values[key] = std::string(value);
    }
    return values;
}

void check_source_url(Collector& c, const std::string& url, bool allow_primary) {
    if (!parse_conninfo(url)) {
        c.problem("SOURCE_DB_URL",
                  "is not a valid PostgreSQL URL (postgresql://...) or conninfo string");
        return;
    }
    const std::string lowered = ascii_lower(url);
    if (lowered.find("primary") != std::string::npos &&
        lowered.find("replica") == std::string::npos && !allow_primary) {
        c.problem("SOURCE_DB_URL",
                  "looks like a PRIMARY database (it mentions 'primary', not 'replica'); point it "
                  "at a read replica, or set ORDERS_PIPELINE_ALLOW_PRIMARY_SOURCE=true to "
                  "override");
    }
}

std::optional<DestinationKind> check_dest_url(Collector& c, const std::string& url) {
    const std::string lowered = ascii_lower(url);
    if (lowered.starts_with("postgresql://") || lowered.starts_with("postgres://")) {
        if (!parse_conninfo(url)) {
            c.problem("DEST_DB_URL", "is not a valid postgresql:// URL");
            return std::nullopt;
        }
        return DestinationKind::postgres;
    }
    if (lowered.starts_with("snowflake://")) {
        return DestinationKind::snowflake;
    }
    c.problem("DEST_DB_URL", "must start with postgresql:// or snowflake://");
    return std::nullopt;
}

// The SNOWFLAKE_* settings of a snowflake:// destination (pure: the key file
// is read later, before any work, by load_config_files).
std::optional<SnowflakeDestination> snowflake_settings(Collector& c, const std::string& url) {
    std::vector<std::string> url_problems;
    auto target = parse_snowflake_url(url, url_problems);
    for (auto& p : url_problems) {
        c.problem("DEST_DB_URL", std::move(p));
    }
    SnowflakeDestination sf;
    auto key_file = c.required("SNOWFLAKE_PRIVATE_KEY_FILE");
    if (key_file) {
        sf.private_key_file = *key_file;
    }
    if (auto passphrase = c.get("SNOWFLAKE_PRIVATE_KEY_PASSPHRASE")) {
        sf.private_key_passphrase = Secret(*passphrase);
    }
    if (auto api = c.get("SNOWFLAKE_API_URL"); api && !trim_ascii(*api).empty()) {
        sf.api_url = std::string(trim_ascii(*api));
        while (sf.api_url.ends_with('/')) {
            sf.api_url.pop_back();
        }
        if (auto problem = check_snowflake_api_url(sf.api_url)) {
            c.problem("SNOWFLAKE_API_URL", *problem);
        }
    } else if (target) {
        sf.api_url = default_snowflake_api_url(*target);
    }
    if (auto ca = c.get("SNOWFLAKE_CA_BUNDLE"); ca && !trim_ascii(*ca).empty()) {
        sf.ca_bundle = std::string(trim_ascii(*ca));
    }
    auto suspend = c.boolean("SNOWFLAKE_SUSPEND_WAREHOUSE", true);
    auto max_bytes =
        c.integer("SNOWFLAKE_MAX_REQUEST_BYTES", 4 * 1024 * 1024, 64 * 1024, 16 * 1024 * 1024);
    auto timeout = c.integer("SNOWFLAKE_STATEMENT_TIMEOUT_SECONDS", 3600, 10, 86400);
    if (!target || !key_file || !suspend || !max_bytes || !timeout) {
        return std::nullopt;
    }
    sf.target = std::move(*target);
    sf.suspend_warehouse = *suspend;
    sf.max_request_bytes = *max_bytes;
    sf.statement_timeout_seconds = *timeout;
    return sf;
}

}  // namespace

Config config_for_job(const Config& base, const JobTable& job) {
    Config config = base;
    config.pipeline_name = job.name;
    config.source_schema = job.source.schema;
    config.source_table = job.source.table;
    config.destination.schema = job.target.schema;
    config.destination.table = job.target.table;
    config.job = job;
    return config;
}

std::string_view to_string(LogLevel level) {
    switch (level) {
        case LogLevel::debug:
            return "DEBUG";
        case LogLevel::info:
            return "INFO";
        case LogLevel::warning:
            return "WARNING";
        case LogLevel::error:
            return "ERROR";
    }
    return "INFO";
}

std::string_view to_string(Environment environment) {
    switch (environment) {
        case Environment::development:
            return "development";
        case Environment::staging:
            return "staging";
        case Environment::production:
            return "production";
    }
    return "development";
}

ConfigResult parse_config(const EnvMap& env, std::optional<std::string_view> file_text) {
    ConfigResult result;
    std::vector<ConfigProblem> file_problems;
    const EnvMap file = file_text ? parse_file(*file_text, file_problems) : EnvMap{};
    Collector c(env, file);

    for (const EnvMap* source : {&env, &file}) {
        for (const auto& [key, value] : *source) {
            if (!key.starts_with(env_prefix)) {
                continue;
            }
            const std::string_view bare = std::string_view(key).substr(env_prefix.size());
            if (std::find(known_keys.begin(), known_keys.end(), bare) == known_keys.end()) {
                result.warnings.push_back(fmt::format("unknown setting {} is ignored", key));
            }
        }
    }

    Config config;
    config.pipeline_name = c.text("PIPELINE_NAME", "orders");
    if (!valid_pipeline_name(config.pipeline_name)) {
        c.problem("PIPELINE_NAME", fmt::format("'{}' must be 1-63 letters, digits, '_' or '-'",
                                               Collector::printable(config.pipeline_name)));
    }

    auto allow_primary = c.boolean("ALLOW_PRIMARY_SOURCE");
    if (auto url = c.required("SOURCE_DB_URL")) {
        check_source_url(c, *url, allow_primary.value_or(false));
        config.source_url = Secret(*url);
    }
    auto source_schema = c.identifier("SOURCE_SCHEMA", "public");
    auto source_table = c.identifier("SOURCE_TABLE", "orders");

    std::optional<DestinationKind> dest_kind;
    if (auto url = c.required("DEST_DB_URL")) {
        dest_kind = check_dest_url(c, *url);
        config.destination.url = Secret(*url);
        if (dest_kind == DestinationKind::snowflake) {
            config.destination.snowflake = snowflake_settings(c, *url);
        }
    }
    auto dest_schema = c.identifier("DEST_SCHEMA", "silver");
    auto dest_table = c.identifier("DEST_TABLE", "orders");
    const std::string run_table_text = c.text("PIPELINE_RUN_TABLE", "monitoring.pipeline_runs");
    auto run_table = QualifiedName::parse(run_table_text);
    if (!run_table) {
        c.problem("PIPELINE_RUN_TABLE",
                  fmt::format("'{}' is not schema.table made of plain SQL identifiers",
                              Collector::printable(run_table_text)));
    }
    auto lookback = c.integer("MERGE_LOOKBACK_DAYS", 0, 0, 3650);
    auto batch_size = c.integer("BATCH_SIZE", 50000, 1000, 500000);
    auto overlap = c.integer("OVERLAP_MINUTES", 5, 0, 60);
    auto statement_timeout = c.integer("SOURCE_STATEMENT_TIMEOUT_SECONDS", 300, 1, 86400);
    auto holdback_max = c.integer("HOLDBACK_MAX_MINUTES", 1440, 0, 10080);
    auto max_transaction = c.integer("MAX_TRANSACTION_MINUTES", 60, 0, 1440);
    if (auto ratio = c.get("MAX_REJECT_RATIO"); ratio && !trim_ascii(*ratio).empty()) {
        const std::string_view text = trim_ascii(*ratio);
        double value = 0;
        const auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
        if (ec != std::errc{} || ptr != text.data() + text.size() || !(value > 0) || value > 1) {
            c.problem("MAX_REJECT_RATIO",
                      fmt::format("'{}' is not a share above 0 and at most 1 (e.g. 0.5); leave it "
                                  "unset to turn the brake off",
                                  Collector::printable(*ratio)));
        } else {
            config.max_reject_ratio = value;
        }
    }
    auto hard_deletes = c.choice<HardDeletes>(
        "HARD_DELETES", "keep",
        std::array<std::pair<std::string_view, HardDeletes>, 2>{
            {{"keep", HardDeletes::keep}, {"delete", HardDeletes::delete_rows}}});
    if (auto jobs = c.get("JOBS_FILE"); jobs && !trim_ascii(*jobs).empty()) {
        config.jobs_file = std::filesystem::path(std::string(trim_ascii(*jobs)));
    }
    auto retry_attempts = c.integer("RETRY_MAX_ATTEMPTS", 6, 1, 20);
    auto retry_base_ms = c.integer("RETRY_BASE_DELAY_MS", 1000, 1, 60000);
    if (auto text = c.get("FAIL_POINT"); text && !trim_ascii(*text).empty()) {
        std::string why;
        if (auto specs = parse_fail_points(trim_ascii(*text), why)) {
            config.fail_points = std::move(*specs);
        } else {
            c.problem("FAIL_POINT", why);
        }
    }

    config.checkpoint_dir = c.text("CHECKPOINT_DIR", "/data/checkpoints");
    if (config.checkpoint_dir.empty()) {
        c.problem("CHECKPOINT_DIR", "must not be empty");
    }
    config.dlq_dir = c.text("DLQ_DIR", "/data/dlq");
    if (config.dlq_dir.empty()) {
        c.problem("DLQ_DIR", "must not be empty");
    }

    auto level = c.choice<LogLevel>(
        "LOG_LEVEL", "INFO",
        std::array<std::pair<std::string_view, LogLevel>, 4>{{{"DEBUG", LogLevel::debug},
                                                              {"INFO", LogLevel::info},
                                                              {"WARNING", LogLevel::warning},
                                                              {"ERROR", LogLevel::error}}});
    auto environment =
        c.choice<Environment>("ENVIRONMENT", "development",
                              std::array<std::pair<std::string_view, Environment>, 3>{
                                  {{"development", Environment::development},
                                   {"staging", Environment::staging},
                                   {"production", Environment::production}}});

    if (auto start = c.get("START_FROM"); start && !trim_ascii(*start).empty()) {
        config.start_from = parse_timestamp(trim_ascii(*start), OffsetRule::required);
        if (!config.start_from) {
            c.problem("START_FROM",
                      fmt::format("'{}' is not an ISO-8601 timestamp with a UTC offset "
                                  "(e.g. 2026-01-01T00:00:00Z)",
                                  Collector::printable(*start)));
        }
    }

    result.problems = std::move(file_problems);
    for (auto& p : c.take_problems()) {
        result.problems.push_back(std::move(p));
    }
    if (!result.problems.empty()) {
        return result;
    }
    // No problems: every optional above holds a value.
    config.source_schema = *source_schema;
    config.source_table = *source_table;
    config.destination.kind = *dest_kind;
    config.destination.schema = *dest_schema;
    config.destination.table = *dest_table;
    config.destination.run_table = *run_table;
    config.destination.merge_lookback_days = *lookback;
    config.batch_size = *batch_size;
    config.overlap_minutes = *overlap;
    config.source_statement_timeout_seconds = *statement_timeout;
    config.holdback_max_minutes = *holdback_max;
    config.max_transaction_minutes = *max_transaction;
    config.hard_deletes = *hard_deletes;
    config.retry.max_attempts = *retry_attempts;
    config.retry.base_delay = std::chrono::milliseconds(*retry_base_ms);
    config.log_level = *level;
    config.environment = *environment;
    result.config = std::move(config);
    return result;
}

std::vector<ConfigProblem> load_config_files(Config& config) {
    std::vector<ConfigProblem> problems;
    if (!config.destination.snowflake) {
        return problems;
    }
    SnowflakeDestination& sf = *config.destination.snowflake;
    const auto name = [](std::string_view key) {
        return std::string(env_prefix) + std::string(key);
    };
    if (sf.ca_bundle && !read_file_if_exists(*sf.ca_bundle)) {
        problems.push_back({name("SNOWFLAKE_CA_BUNDLE"),
                            fmt::format("{} does not exist", sf.ca_bundle->string())});
    }
    std::optional<std::string> pem;
    try {
        pem = read_file_if_exists(sf.private_key_file);
    } catch (const std::exception& e) {
        problems.push_back({name("SNOWFLAKE_PRIVATE_KEY_FILE"), e.what()});
        return problems;
    }
    if (!pem) {
        problems.push_back({name("SNOWFLAKE_PRIVATE_KEY_FILE"),
                            fmt::format("{} does not exist", sf.private_key_file.string())});
        return problems;
    }
    std::string why;
    sf.private_key = RsaPrivateKey::from_pem(*pem, sf.private_key_passphrase, why);
    if (!sf.private_key) {
        const bool about_passphrase = why.find("passphrase") != std::string::npos;
        problems.push_back({name(about_passphrase ? "SNOWFLAKE_PRIVATE_KEY_PASSPHRASE"
                                                  : "SNOWFLAKE_PRIVATE_KEY_FILE"),
                            fmt::format("{}: {}", sf.private_key_file.string(), why)});
    }
    return problems;
}

EnvMap environment_snapshot() {
    EnvMap env;
    for (char** entry = environ; entry != nullptr && *entry != nullptr; ++entry) {
        const std::string_view text(*entry);
        const std::size_t eq = text.find('=');
        if (eq != std::string_view::npos && text.starts_with(env_prefix)) {
            env.emplace(std::string(text.substr(0, eq)), std::string(text.substr(eq + 1)));
        }
    }
    return env;
}

std::string describe_pg_target(const Secret& url) {
    ConninfoPtr options = parse_conninfo(url.reveal());
    if (!options) {
        return "<unparseable>";
    }
    std::string host = "localhost";
    std::string port = "5432";
    std::string dbname;
    for (PQconninfoOption* o = options.get(); o->keyword != nullptr; ++o) {
        if (o->val == nullptr || *o->val == '\0') {
            continue;
        }
        const std::string_view keyword(o->keyword);
        if (keyword == "host" || (keyword == "hostaddr" && host == "localhost")) {
            host = o->val;
        } else if (keyword == "port") {
            port = o->val;
        } else if (keyword == "dbname") {
            dbname = o->val;
        }
    }
    return fmt::format("{}:{}/{}", host, port, dbname);
}

std::string format_problems(const std::vector<ConfigProblem>& problems) {
    std::string out;
    for (const auto& p : problems) {
        out += fmt::format("  {} {}\n", p.variable, p.message);
    }
    return out;
}

}  // namespace pipeline
