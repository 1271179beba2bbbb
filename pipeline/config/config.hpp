// pipeline/config/config.hpp: configuration from ORDERS_PIPELINE_* variables and an optional file
// (spec §2).
#pragma once

#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "pipeline/core/secret.hpp"
#include "pipeline/core/sql_identifier.hpp"
#include "pipeline/core/timestamp.hpp"
#include "pipeline/jobs/job_plan.hpp"
#include "pipeline/runtime/fail_point.hpp"
#include "pipeline/runtime/retry.hpp"
#include "pipeline/warehouse/snowflake/snowflake_auth.hpp"
#include "pipeline/warehouse/snowflake/snowflake_config.hpp"

namespace pipeline {

using EnvMap = std::map<std::string, std::string, std::less<>>;

inline constexpr std::string_view env_prefix = "ORDERS_PIPELINE_";

enum class LogLevel { debug, info, warning, error };
enum class Environment { development, staging, production };
enum class DestinationKind { postgres, snowflake };
/// What `verify --repair` does with warehouse rows whose key the source no longer has.
enum class HardDeletes { keep, delete_rows };

std::string_view to_string(LogLevel level);
std::string_view to_string(Environment environment);

/// A Snowflake destination: the URL's parts, key-pair credentials and the endpoint.
struct SnowflakeDestination {
    SnowflakeTarget target;
    std::filesystem::path private_key_file;
    Secret private_key_passphrase;  ///< empty for an unencrypted key
    std::string api_url;            ///< default https://<account>.snowflakecomputing.com
    std::optional<std::filesystem::path> ca_bundle;  ///< trusted CAs for TLS (proxies, tests)
    bool suspend_warehouse = true;                   ///< suspend at the end if this run resumed it
    int max_request_bytes = 4 * 1024 * 1024;         ///< cap on one SQL API request body
    int statement_timeout_seconds = 3600;
    std::optional<RsaPrivateKey> private_key;  ///< set by load_config_files
};

/// Where rows are loaded.
struct DestinationConfig {
    DestinationKind kind = DestinationKind::postgres;
    Secret url;  ///< may carry a password: never print it
    SqlIdentifier schema;
    SqlIdentifier table;
    QualifiedName run_table;
    int merge_lookback_days = 0;                    ///< 0 = no partition pruning
    std::optional<SnowflakeDestination> snowflake;  ///< set when kind == snowflake
};

/// A complete, valid configuration. Only `parse_config` makes one.
struct Config {
    std::string pipeline_name;  ///< names the checkpoint, DLQ files, lock and run records
    Secret source_url;          ///< may carry a password: never print it
    SqlIdentifier source_schema;
    SqlIdentifier source_table;
    DestinationConfig destination;
    int batch_size = 50000;
    int overlap_minutes = 5;
    int source_statement_timeout_seconds = 300;  ///< spec §3: 5 minutes by default
    /// Commit-aware windows (spec §3): the next window never reaches further
    /// back than this for open transactions (a loud warning past it).
    int holdback_max_minutes = 1440;
    /// Where open transactions' start times cannot be seen (a replica, or a
    /// role without pg_read_all_stats): the longest source transaction assumed.
    int max_transaction_minutes = 60;
    /// The rejection brake: a batch of at least 100 rows whose rejected share
    /// exceeds this stops the run before it is loaded; nullopt: off.
    std::optional<double> max_reject_ratio;
    HardDeletes hard_deletes = HardDeletes::keep;
    /// JOBS_FILE (or --jobs): the declared jobs, YAML.
    std::optional<std::filesystem::path> jobs_file;
    /// Set for a declared job's run (config_for_job): its plan. nullopt: the
    /// built-in orders job.
    std::optional<JobTable> job;
    std::filesystem::path checkpoint_dir;
    std::filesystem::path dlq_dir;
    LogLevel log_level = LogLevel::info;
    Environment environment = Environment::development;
    std::optional<Timestamp> start_from;     ///< lower bound for the very first run
    RetryPolicy retry;                       ///< for transient database faults
    std::vector<FailPointSpec> fail_points;  ///< crash tests only; empty in production
};

/// One thing wrong with the configuration, naming the variable.
struct ConfigProblem {
    std::string variable;  ///< full name, e.g. ORDERS_PIPELINE_BATCH_SIZE
    std::string message;   ///< what is wrong; never contains a secret value
};

/// Either a config, or every problem found (never both).
struct ConfigResult {
    std::optional<Config> config;
    std::vector<ConfigProblem> problems;
    std::vector<std::string> warnings;  ///< e.g. unknown ORDERS_PIPELINE_* keys
};

/// Builds the configuration from the environment and, optionally, the text
/// of a config file holding `KEY=VALUE` lines with the same keys (blank lines,
/// `#` comments, `export ` and single or double quotes allowed). Environment
/// values win over the file. Pure: no I/O, no clock. Every problem is
/// collected, none stops the scan.
ConfigResult parse_config(const EnvMap& env, std::optional<std::string_view> file_text);

/// Reads the files a valid configuration names (the Snowflake private key,
/// which must parse and decrypt, and the CA bundle, which must exist) and
/// keeps the key in `config`. Returns one problem per mistake, named like
/// parse_config's. Called before any work.
std::vector<ConfigProblem> load_config_files(Config& config);

/// The process environment (the only place the environment is read).
EnvMap environment_snapshot();

/// "host:port/dbname" of a PostgreSQL URL or conninfo for logs, without user
/// or password; "<unparseable>" when libpq cannot parse it.
std::string describe_pg_target(const Secret& url);

/// The configuration of a declared job: `base` with the job's name (its
/// checkpoint, lock, DLQ files and run records), source and target. Pure.
Config config_for_job(const Config& base, const JobTable& job);

/// One line per problem, as printed on a configuration error.
std::string format_problems(const std::vector<ConfigProblem>& problems);

}  // namespace pipeline
