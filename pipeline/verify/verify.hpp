// pipeline/verify/verify.hpp: `verify` and `verify --repair`: is the warehouse what the source
// says, and make it so (missing, stale, extra, different rows; hard deletes).
#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "pipeline/config/config.hpp"
#include "pipeline/observe/run_record.hpp"
#include "pipeline/warehouse/warehouse.hpp"

namespace pipeline {

struct VerifyOptions {
    std::optional<CivilDate> from;  ///< with `to`: rows with updated_at in these UTC days
    std::optional<CivilDate> to;
    bool deep = false;  ///< also compare every loaded column of rows with equal updated_at
};

/// What verify found. Keys are order_ids, sorted.
/// A declared job's verify lists: its keys as text, one value per key column.
struct JobVerifyKeys {
    std::vector<std::string> columns;  ///< the key's column names
    bool integer = false;              ///< one integer column: values print as numbers
    std::vector<std::vector<std::string>> missing, stale, extra, newer, duplicate;
};

struct VerifyReport {
    CompareScope scope;
    bool deep = false;
    std::vector<std::int64_t> missing;    ///< valid at the source, not in the warehouse
    std::vector<std::int64_t> stale;      ///< the warehouse's updated_at is older
    std::vector<std::int64_t> extra;      ///< in the warehouse, no longer at the source
    std::vector<std::int64_t> different;  ///< equal updated_at, a loaded column differs (deep)
    std::vector<std::int64_t> newer;      ///< the warehouse's updated_at is newer than the source's
    /// Keys the warehouse holds more than once (Snowflake does not enforce its PRIMARY KEY).
    std::vector<std::int64_t> duplicate;
    std::int64_t rejected = 0;        ///< source rows in scope that fail today's rules
    std::int64_t source_rows = 0;     ///< valid source rows read
    std::int64_t warehouse_rows = 0;  ///< warehouse rows in scope
    int buckets_read = 0;             ///< bucket sums the warehouse returned, every level
    std::vector<int> buckets_per_level;
    std::int64_t rows_fetched = 0;  ///< warehouse rows read one by one (differing buckets, lookups)
    CompareCost cost;               ///< statements and bytes of the warehouse's answers
    double seconds = 0;
    Timestamp verified_at;

    /// A declared job's lists instead (its keys as text, one value per key column).
    std::optional<JobVerifyKeys> job;
    std::optional<std::string> scope_label;  ///< for people, when not scope_text(scope)

    std::size_t missing_count() const noexcept {
        return job ? job->missing.size() : missing.size();
    }
    std::size_t stale_count() const noexcept { return job ? job->stale.size() : stale.size(); }
    std::size_t extra_count() const noexcept { return job ? job->extra.size() : extra.size(); }
    std::size_t newer_count() const noexcept { return job ? job->newer.size() : newer.size(); }
    std::size_t different_count() const noexcept { return different.size(); }
    std::size_t duplicate_count() const noexcept {
        return job ? job->duplicate.size() : duplicate.size();
    }
    std::int64_t differences() const noexcept {
        return static_cast<std::int64_t>(missing_count() + stale_count() + extra_count() +
                                         different_count() + newer_count() + duplicate_count());
    }
};

/// Compares the warehouse with the source over the scope (default: updated_at
/// up to the checkpoint's watermark, or everything without one): the
/// warehouse sums the md5 checksums of its rows per bucket of the key; only
/// buckets whose sums differ from the tool's, computed from the validated and
/// transformed source rows, are narrowed down (256 coarse buckets, then the
/// 256 leaf buckets inside each that differs) and read row by row.
/// Source rows that fail today's rules are counted as rejected, never as
/// differences. Read-only: no lock, no record (Snowflake: the warehouse is
/// resumed for the duration if it was suspended, and suspended again). Also
/// writes the summary to `<CHECKPOINT_DIR>/<PIPELINE_NAME>.verify.json` for
/// `doctor` and the metrics. Throws Error like a run.
VerifyReport verify(const Config& config, const VerifyOptions& options);

/// "updated_at <= T" or "updated_at in [F, T)": the scope for people. Pure.
std::string scope_text(const CompareScope& scope);
/// The report's scope for people (scope_label, or scope_text). Pure.
std::string scope_text(const VerifyReport& report);

/// A declared job's verify (verify() hands it over): keys and cursors
/// compared, buckets by the key (its value when it is one integer column,
/// otherwise md5 of its text); --deep is the orders job's only.
VerifyReport verify_job(const Config& config, const VerifyOptions& options);
/// A declared job's repair (repair() hands it over): missing, stale and newer
/// keys re-read from the source by key and loaded over what the target holds.
struct RepairReport;
RepairReport repair_job(const Config& config, const VerifyOptions& options);

/// Writes the summary doctor and the metrics read (`<pipeline>.verify.json`);
/// a failure is logged, not thrown.
void save_verify_summary(const Config& config, const VerifyReport& report) noexcept;

/// What `verify --repair` did.
struct RepairReport {
    VerifyReport before;
    std::string run_id;
    RunCounts counts;          ///< rows re-read from the source and loaded
    std::int64_t deleted = 0;  ///< extra rows deleted (HARD_DELETES=delete)
    VerifyReport after;        ///< the verify that followed
};

/// Verifies, then takes the run lock and re-loads the missing, stale and
/// newer rows (with --deep the different ones too) from the source through
/// validate/transform/staging/MERGE, overwriting whatever the warehouse holds
/// for them; deletes the extra ones when HARD_DELETES=delete (keeps them,
/// reported, otherwise); records the run (mode `repair`); then verifies again.
RepairReport repair(const Config& config, const VerifyOptions& options);

/// The summary of the last verify, as kept in `<pipeline>.verify.json`.
struct LastVerify {
    Timestamp at;
    bool deep = false;
    std::int64_t missing = 0, stale = 0, extra = 0, different = 0, newer = 0, duplicate = 0,
                 rejected = 0;
    std::int64_t differences() const noexcept {
        return missing + stale + extra + different + newer + duplicate;
    }
};

/// The last verify's summary, if one was kept and is readable. Never throws.
std::optional<LastVerify> last_verify(const Config& config) noexcept;

}  // namespace pipeline
