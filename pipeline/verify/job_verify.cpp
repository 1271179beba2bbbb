// pipeline/verify/job_verify.cpp: verify and repair for a declared job: the orders verify's
// bucket bisection over the job's key and cursor, the source read through a binary cursor and
// checked with the job's rules.
#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <future>
#include <map>
#include <set>

#include "pipeline/core/error.hpp"
#include "pipeline/jobs/rules.hpp"
#include "pipeline/jobs/values.hpp"
#include "pipeline/run/job_run.hpp"
#include "pipeline/run/run_parts.hpp"
#include "pipeline/run/started_run.hpp"
#include "pipeline/runtime/logging.hpp"
#include "pipeline/source/extractor.hpp"
#include "pipeline/source/job_lookup.hpp"
#include "pipeline/state/checkpoint.hpp"
#include "pipeline/verify/checksum.hpp"
#include "pipeline/verify/verify.hpp"
#include "pipeline/warehouse/job_compare_sql.hpp"

namespace pipeline {

namespace {

constexpr int fetch_rows = 10'000;
constexpr std::size_t buckets_per_statement = 500;
constexpr std::size_t keys_per_statement = 500;

/// One row as verify compares it: its key (canonical text, and each column's
/// text for lookups), its cursor's canonical text, the md5 of "key|cursor".
struct Digest {
    std::string key_text;
    KeyText key;
    std::string cursor;
    std::string md5;
};

/// Per key at the source: the newest valid digest, and whether its newest
/// version is one the rules reject (then the key is expected absent).
struct SourceKey {
    std::optional<Digest> valid;
    std::optional<std::string> rejected_cursor;
};

// Compares canonical cursor texts: microseconds or integers, both decimal.
int compare_cursor(const std::string& a, const std::string& b) {
    const auto x = parse_int64(a);
    const auto y = parse_int64(b);
    if (x && y) {
        return *x < *y ? -1 : (*x > *y ? 1 : 0);
    }
    return a.compare(b);
}

std::string utf8_length(std::string_view text) {
    std::int64_t n = 0;
    for (const char c : text) {
        n += (static_cast<unsigned char>(c) & 0xC0) != 0x80 ? 1 : 0;
    }
    return std::to_string(n);
}

/// Computes canonical texts from a job's binary values, exactly as
/// job_compare_sql makes a warehouse compute them.
class Canonical {
public:
    explicit Canonical(const JobTable& job)
        : job_(job), integer_key_(job_compare_shape(job).integer_key()) {}

    // The canonical text of column c's value (never NULL here: keys and cursor are checked).
    std::string of(std::size_t c, std::string_view bytes) const {
        const ColumnType& type = job_.columns[c].type;
        std::string text;
        switch (canonical_kind(type)) {
            case ColumnKind::timestamp: {
                const auto ts = binary_timestamp(bytes);
                return ts ? std::to_string(ts->micros) : "N";
            }
            case ColumnKind::integer: {
                const auto v = binary_integer(type.kind, bytes);
                return v ? std::to_string(*v) : "N";
            }
            case ColumnKind::boolean:
                return !bytes.empty() && bytes[0] != 0 ? "true" : "false";
            case ColumnKind::text:
                append_pg_text(type, bytes, text);
                return utf8_length(text) + ":" + text;
            case ColumnKind::padded:
                append_pg_text(type, bytes, text);
                text.erase(text.find_last_not_of(' ') + 1);
                return utf8_length(text) + ":" + text;
            default:
                append_pg_text(type, bytes, text);
                return text;
        }
    }

    Digest digest(std::span<const BinaryField> fields) const {
        Digest d;
        for (std::size_t k = 0; k < job_.key.size(); ++k) {
            const std::size_t c = job_.key[k];
            if (k != 0) {
                d.key_text += '|';
            }
            d.key_text += of(c, *fields[c]);
            std::string raw;
            append_pg_text(job_.columns[c].type, *fields[c], raw);
            d.key.push_back(std::move(raw));
        }
        d.cursor = of(job_.cursor, *fields[job_.cursor]);
        d.md5 = hex_of(md5_of(d.key_text + "|" + d.cursor));
        return d;
    }

    // The leaf bucket (0..65535) of a digest, as job_bucket_sql computes it.
    std::int64_t leaf(const Digest& d) const {
        if (integer_key_) {
            return bucket_of(parse_int64(d.key_text).value_or(0), leaf_buckets);
        }
        const auto hash = md5_of(d.key_text);
        return static_cast<std::int64_t>(hash[0]) << 8 | hash[1];
    }

private:
    const JobTable& job_;
    bool integer_key_;
};

/// The job's source rows in `scope`, through a binary cursor, checked with its rules.
template <class OnValid, class OnRejected>
void scan_source(PgConnection& source, const JobTable& job, TargetLimits limits,
                 const JobScope& scope, OnValid&& on_valid, OnRejected&& on_rejected) {
    const JobCompareShape shape = job_compare_shape(job, true);
    const JobRules rules(job, limits);
    source.exec("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY", "[BEGIN verify]");
    try {
        source.exec_params(
            fmt::format("DECLARE orders_pipeline_verify BINARY NO SCROLL CURSOR FOR SELECT {} "
                        "FROM {} AS s WHERE {}",
                        job_select_list(job), job.source.str(),
                        job_scope_sql(shape, Dialect::postgres, scope, "s")),
            job_scope_parameters(shape, scope, Dialect::postgres),
            fmt::format("[DECLARE CURSOR verify {}]", job.source.str()));
        std::vector<BinaryField> fields(job.columns.size());
        for (;;) {
            const PgResult part =
                source.exec(fmt::format("FETCH FORWARD {} FROM orders_pipeline_verify", fetch_rows),
                            "[FETCH verify]");
            if (part.rows() == 0) {
                break;
            }
            for (int r = 0; r < part.rows(); ++r) {
                for (std::size_t c = 0; c < fields.size(); ++c) {
                    fields[c] = part.field(r, static_cast<int>(c));
                }
                if (rules.check(fields)) {
                    on_rejected(fields);
                } else {
                    on_valid(fields);
                }
            }
        }
        source.exec("COMMIT", "[COMMIT verify]");
    } catch (...) {
        if (source.ok()) {
            source.exec("ROLLBACK", "[ROLLBACK verify]");
        }
        throw;
    }
}

Digest digest_of_row(const std::vector<std::optional<std::string>>& row, std::size_t keys) {
    Digest d;
    for (std::size_t k = 0; k < keys; ++k) {
        d.key.push_back(row[k].value_or(""));
    }
    d.key_text = row[keys].value_or("");
    d.cursor = row[keys + 1].value_or("");
    d.md5 = row[keys + 2].value_or("");
    return d;
}

PgConnection open_source(const Config& config) {
    PgConnection source(config.source_url, ErrorKind::source, "SOURCE",
                        fmt::format("orders-pipeline {} verify", config.pipeline_name));
    prepare_source_session(source, config.source_statement_timeout_seconds);
    return source;
}

class EndRun {
public:
    explicit EndRun(Warehouse& warehouse) : warehouse_(warehouse) {}
    EndRun(const EndRun&) = delete;
    EndRun& operator=(const EndRun&) = delete;
    ~EndRun() { warehouse_.end_run(); }

private:
    Warehouse& warehouse_;
};

// A row found by key whose canonical key text is not one that was asked for: the two
// sides spell the key differently, and every category built on that text would be wrong
// (a row both missing and extra, and repair deleting what it just loaded). Stop instead.
void refuse_unmatched_key(const JobTable& job, bool matched, std::string_view text) {
    if (!matched) {
        throw Error(ErrorKind::internal,
                    fmt::format("verify of job {}: a row looked up by its key came back with the "
                                "key text '{}', which none of the keys asked for has; the source "
                                "and the warehouse spell this key differently, so verify stops "
                                "rather than call it missing or extra",
                                job.name, text),
                    {}, {}, "please report it with the key columns' types (jobs check)");
    }
}

// Key columns whose text the two warehouses print differently cannot be matched by verify.
void refuse_unmatched_key_types(const Config& config, const JobTable& job) {
    if (config.destination.kind != DestinationKind::snowflake) {
        return;
    }
    for (const std::size_t k : job.key) {
        const JobColumn& c = job.columns[k];
        const bool rounded = c.type.kind == ValueKind::numeric && c.type.note.has_value();
        if (c.type.kind == ValueKind::time || rounded) {
            throw Error(ErrorKind::config,
                        fmt::format("verify cannot match job {}'s keys on Snowflake: key column "
                                    "'{}' ({}) becomes {} there, whose text differs from "
                                    "PostgreSQL's ({})",
                                    job.name, c.name, c.type.pg_type, c.type.sf_type,
                                    rounded ? "its scale is padded to 9 digits"
                                            : "fractions of a second are not printed"));
        }
    }
}

// The scope: the checkpoint's watermark (or position), or --from/--to days.
std::pair<JobScope, std::string> plan_job_scope(const Config& config, const JobTable& job,
                                                const VerifyOptions& options,
                                                PgConnection& source) {
    JobScope scope;
    const std::string& cursor = job.cursor_column().name;
    if (options.from && options.to) {
        if (job.cursor_kind == CursorKind::integer) {
            throw Error(ErrorKind::config,
                        fmt::format("job {} has an integer cursor: --from/--to (days) do not "
                                    "apply to it",
                                    job.name));
        }
        scope.from = start_of_day(*options.from).micros;
        scope.to = start_of_day(*options.to).micros + micros_per_day;
        scope.to_inclusive = false;
        return {scope,
                fmt::format("{} in [{}, {})", cursor, format_timestamp(Timestamp{*scope.from}),
                            format_timestamp(Timestamp{scope.to}))};
    }
    const CheckpointLoad checkpoint =
        CheckpointStore(config.checkpoint_dir, config.pipeline_name).peek();
    // Below the part the next run still reads back for transactions open at the last one.
    std::optional<SettledBound> settled;
    if (checkpoint.state &&
        (job.cursor_kind != CursorKind::integer || checkpoint.state->position)) {
        settled = settled_bound(config, *checkpoint.state);
    }
    const auto why = [&](std::string text) {
        if (settled && settled->lowered) {
            text +=
                " (below the checkpoint: the next run still reads back for transactions open "
                "at the last one)";
        }
        return text;
    };
    if (job.cursor_kind == CursorKind::integer) {
        if (settled) {
            scope.to = settled->value;
        } else {
            const PgResult max = source.exec(
                fmt::format("SELECT coalesce(max({}), 0)::text FROM {}", cursor, job.source.str()),
                "[SELECT max cursor]");
            scope.to = parse_int64(max.value(0, 0)).value_or(0);
        }
        return {scope, why(fmt::format("{} <= {}", cursor, scope.to))};
    }
    if (settled) {
        scope.to = settled->value;
    } else {
        const PgResult now = source.exec("SELECT now()::text", "[SELECT now()]");
        scope.to =
            parse_timestamp(now.value(0, 0), OffsetRule::assume_utc).value_or(now_utc()).micros;
    }
    return {scope, why(fmt::format("{} <= {}", cursor, format_timestamp(Timestamp{scope.to})))};
}

// The (rows, sum) per bucket of a warehouse answer.
std::map<std::int64_t, std::pair<std::int64_t, std::uint64_t>> sums_of(
    const std::vector<std::vector<std::optional<std::string>>>& rows) {
    std::map<std::int64_t, std::pair<std::int64_t, std::uint64_t>> out;
    for (const auto& row : rows) {
        if (row.size() >= 3 && row[0]) {
            out[parse_int64(*row[0]).value_or(-1)] = {parse_int64(row[1].value_or("0")).value_or(0),
                                                      sum_modulo_2_64(row[2].value_or("0"))};
        }
    }
    return out;
}

}  // namespace

VerifyReport verify_job(const Config& config, const VerifyOptions& options) {
    const JobTable& job = *config.job;
    if (options.deep) {
        throw Error(ErrorKind::config,
                    fmt::format("--deep compares the orders job's columns; a declared job ({}) "
                                "is verified by key and cursor",
                                job.name));
    }
    refuse_unmatched_key_types(config, job);
    const auto started = std::chrono::steady_clock::now();
    VerifyReport report;
    report.job.emplace();
    for (const std::size_t k : job.key) {
        report.job->columns.push_back(job.columns[k].name);
    }
    report.job->integer = job_compare_shape(job).integer_key();
    PgConnection source = open_source(config);
    const auto planned = plan_job_scope(config, job, options, source);
    const JobScope scope = planned.first;
    const std::string label = planned.second;
    report.scope_label = label;
    const JobCompareShape shape = job_compare_shape(job);
    const Timestamp now = now_utc();
    const WarehouseSession session{fmt::format("orders-pipeline {} verify", config.pipeline_name),
                                   config.pipeline_name, make_run_id(now), config.retry,
                                   config.checkpoint_dir};
    set_log_context(session.run_id, config.pipeline_name,
                    std::string(to_string(config.environment)));
    const std::unique_ptr<Warehouse> warehouse =
        make_warehouse(config.destination, session, config.job);
    warehouse->begin_run();
    const EndRun end_run(*warehouse);
    const Dialect dialect = warehouse->dialect();
    log_info("verify started", {{"event", "verify_started"}, {"scope", label}, {"job", job.name}});

    const auto scope_params = job_scope_parameters(shape, scope, dialect);
    auto level1 = std::async(std::launch::async, [&] {
        return warehouse->compare_rows(
            job_bucket_sums_sql(shape, dialect, scope, coarse_buckets, 0), scope_params,
            "[verify buckets " + job.target.str() + "]");
    });
    const Canonical canonical(job);
    BucketTable mine;
    try {
        scan_source(
            source, job, target_limits(config), scope,
            [&](std::span<const BinaryField> fields) {
                const Digest d = canonical.digest(fields);
                mine.add_in(canonical.leaf(d), upper_64(md5_of(d.key_text + "|" + d.cursor)));
            },
            [&](std::span<const BinaryField>) { ++report.rejected; });
    } catch (...) {
        level1.wait();
        throw;
    }
    report.source_rows = mine.rows();
    const auto theirs1 = sums_of(level1.get());
    for (const auto& [b, v] : theirs1) {
        report.warehouse_rows += v.first;
    }
    std::vector<std::int64_t> suspects;
    for (std::int64_t b = 0; b < coarse_buckets; ++b) {
        const auto it = theirs1.find(b);
        if (mine.coarse(b) !=
            (it == theirs1.end() ? std::pair<std::int64_t, std::uint64_t>{} : it->second)) {
            suspects.push_back(b);
        }
    }
    report.buckets_per_level.push_back(static_cast<int>(theirs1.size()));
    log_info("verify level", {{"event", "verify_level"},
                              {"depth", 1},
                              {"buckets_read", theirs1.size()},
                              {"differing", suspects.size()}});
    std::vector<std::int64_t> leaves;
    if (!suspects.empty()) {
        std::map<std::int64_t, std::pair<std::int64_t, std::uint64_t>> theirs2;
        for (std::size_t i = 0; i < suspects.size(); i += buckets_per_statement) {
            auto params = scope_params;
            const std::size_t n = std::min(buckets_per_statement, suspects.size() - i);
            for (std::size_t j = i; j < i + n; ++j) {
                params.emplace_back(std::to_string(suspects[j]));
            }
            for (auto& [b, v] : sums_of(warehouse->compare_rows(
                     job_bucket_sums_sql(shape, dialect, scope, leaf_buckets, n), params,
                     "[verify buckets " + job.target.str() + "]"))) {
                theirs2[b] = v;
            }
        }
        for (const std::int64_t coarse : suspects) {
            for (std::int64_t b = coarse; b < leaf_buckets; b += coarse_buckets) {
                const auto it = theirs2.find(b);
                if (mine.leaf(b) !=
                    (it == theirs2.end() ? std::pair<std::int64_t, std::uint64_t>{} : it->second)) {
                    leaves.push_back(b);
                }
            }
        }
        report.buckets_per_level.push_back(static_cast<int>(theirs2.size()));
        log_info("verify level", {{"event", "verify_level"},
                                  {"depth", 2},
                                  {"buckets_read", theirs2.size()},
                                  {"differing", leaves.size()}});
    }

    // Row by row, in the differing leaves: the warehouse's digests, then the source's again.
    std::map<std::string, Digest> dst;
    std::map<std::string, SourceKey> src;
    if (!leaves.empty()) {
        for (std::size_t i = 0; i < leaves.size(); i += buckets_per_statement) {
            auto params = scope_params;
            const std::size_t n = std::min(buckets_per_statement, leaves.size() - i);
            for (std::size_t j = i; j < i + n; ++j) {
                params.emplace_back(std::to_string(leaves[j]));
            }
            for (const auto& row :
                 warehouse->compare_rows(job_leaf_rows_sql(shape, dialect, scope, n), params,
                                         "[verify rows " + job.target.str() + "]")) {
                ++report.rows_fetched;
                Digest d = digest_of_row(row, job.key.size());
                // try_emplace leaves `d` alone when the key is there already.
                const auto [at, fresh] = dst.try_emplace(d.key_text, std::move(d));
                if (!fresh) {
                    // More than one row with this key: compared by its newest copy, and
                    // reported (a repair keeps one).
                    report.job->duplicate.push_back(d.key);
                    if (compare_cursor(at->second.cursor, d.cursor) < 0) {
                        at->second = std::move(d);
                    }
                }
            }
        }
        const std::set<std::int64_t> wanted(leaves.begin(), leaves.end());
        scan_source(
            source, job, target_limits(config), scope,
            [&](std::span<const BinaryField> fields) {
                Digest d = canonical.digest(fields);
                if (!wanted.contains(canonical.leaf(d))) {
                    return;
                }
                SourceKey& k = src[d.key_text];
                if (!k.valid || compare_cursor(k.valid->cursor, d.cursor) <= 0) {
                    k.valid = std::move(d);
                }
            },
            [&](std::span<const BinaryField> fields) {
                if (!fields[job.cursor]) {
                    return;
                }
                bool keyed = true;
                for (const std::size_t c : job.key) {
                    keyed = keyed && fields[c].has_value();
                }
                if (!keyed) {
                    return;
                }
                const Digest d = canonical.digest(fields);
                if (!wanted.contains(canonical.leaf(d))) {
                    return;
                }
                SourceKey& k = src[d.key_text];
                if (!k.rejected_cursor || compare_cursor(*k.rejected_cursor, d.cursor) < 0) {
                    k.rejected_cursor = d.cursor;
                }
            });
    }
    const auto rejected_now = [](const SourceKey& k) {
        return k.rejected_cursor &&
               (!k.valid || compare_cursor(*k.rejected_cursor, k.valid->cursor) > 0);
    };
    auto& lists = *report.job;
    std::vector<const Digest*> source_only;
    for (const auto& [key, k] : src) {
        if (rejected_now(k) || !k.valid) {
            continue;
        }
        const auto d = dst.find(key);
        if (d == dst.end()) {
            source_only.push_back(&*k.valid);
        } else if (const int c = compare_cursor(d->second.cursor, k.valid->cursor); c < 0) {
            lists.stale.push_back(k.valid->key);
        } else if (c > 0) {
            lists.newer.push_back(k.valid->key);
        }
    }
    std::vector<const Digest*> warehouse_only;
    for (const auto& [key, d] : dst) {
        const auto s = src.find(key);
        if (s == src.end() || (!s->second.valid && !rejected_now(s->second))) {
            warehouse_only.push_back(&d);
        }
    }
    // Keys on one side only are looked up on the other, whatever their cursor.
    for (std::size_t i = 0; i < source_only.size(); i += keys_per_statement) {
        const std::size_t n = std::min(keys_per_statement, source_only.size() - i);
        std::vector<std::optional<std::string>> params;
        for (std::size_t j = i; j < i + n; ++j) {
            for (const std::string& v : source_only[j]->key) {
                params.emplace_back(v);
            }
        }
        std::map<std::string, Digest> found;
        for (const auto& row : warehouse->compare_rows(job_key_rows_sql(shape, dialect, n), params,
                                                       "[verify keys " + job.target.str() + "]")) {
            ++report.rows_fetched;
            Digest d = digest_of_row(row, job.key.size());
            found[d.key_text] = std::move(d);
        }
        std::set<std::string_view> asked;
        for (std::size_t j = i; j < i + n; ++j) {
            asked.insert(source_only[j]->key_text);
        }
        for (const auto& [text, d] : found) {
            refuse_unmatched_key(job, asked.contains(text), text);
        }
        for (std::size_t j = i; j < i + n; ++j) {
            const Digest& s = *source_only[j];
            const auto f = found.find(s.key_text);
            if (f == found.end()) {
                lists.missing.push_back(s.key);
            } else if (const int c = compare_cursor(f->second.cursor, s.cursor); c < 0) {
                lists.stale.push_back(s.key);
            } else if (c > 0) {
                lists.newer.push_back(s.key);
            }
        }
    }
    if (!warehouse_only.empty()) {
        std::vector<KeyText> keys;
        for (const Digest* d : warehouse_only) {
            keys.push_back(d->key);
        }
        JobRows rows;
        fetch_job_rows_by_key(source, job, keys, rows);
        std::map<std::string, SourceKey> anywhere;
        const JobRules rules(job, target_limits(config));
        std::vector<BinaryField> fields(job.columns.size());
        for (std::size_t i = 0; i < rows.size(); ++i) {
            for (std::size_t c = 0; c < fields.size(); ++c) {
                fields[c] = rows.field(i, c);
            }
            Digest d = canonical.digest(fields);
            SourceKey& k = anywhere[d.key_text];
            if (rules.check(fields)) {
                k.rejected_cursor = d.cursor;
            } else {
                k.valid = std::move(d);
            }
        }
        std::set<std::string_view> asked;
        for (const Digest* d : warehouse_only) {
            asked.insert(d->key_text);
        }
        for (const auto& [text, key] : anywhere) {
            refuse_unmatched_key(job, asked.contains(text), text);
        }
        for (const Digest* d : warehouse_only) {
            const auto a = anywhere.find(d->key_text);
            if (a == anywhere.end()) {
                lists.extra.push_back(d->key);  // deleted at the source
            } else if (!rejected_now(a->second) && a->second.valid &&
                       compare_cursor(a->second.valid->cursor, d->cursor) < 0) {
                lists.newer.push_back(d->key);
            }
            // A newer version beyond the scope is the next run's work, not a difference.
        }
    }
    for (auto* list :
         {&lists.missing, &lists.stale, &lists.extra, &lists.newer, &lists.duplicate}) {
        std::sort(list->begin(), list->end());
        list->erase(std::unique(list->begin(), list->end()), list->end());
    }
    report.cost = warehouse->compare_cost();
    for (const int n : report.buckets_per_level) {
        report.buckets_read += n;
    }
    report.seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
    report.verified_at = now_utc();
    log_info("verify finished", {{"event", "verify_finished"},
                                 {"job", job.name},
                                 {"scope", label},
                                 {"missing", lists.missing.size()},
                                 {"stale", lists.stale.size()},
                                 {"extra", lists.extra.size()},
                                 {"newer", lists.newer.size()},
                                 {"rejected", report.rejected},
                                 {"source_rows", report.source_rows},
                                 {"warehouse_rows", report.warehouse_rows},
                                 {"buckets_read", report.buckets_read},
                                 {"rows_fetched", report.rows_fetched},
                                 {"statements", report.cost.statements},
                                 {"bytes_read", report.cost.bytes},
                                 {"seconds", report.seconds}});
    save_verify_summary(config, report);
    return report;
}

RepairReport repair_job(const Config& config, const VerifyOptions& options) {
    const JobTable& job = *config.job;
    RepairReport out;
    out.before = verify_job(config, options);
    const auto& lists = *out.before.job;
    std::vector<KeyText> reload = lists.missing;
    reload.insert(reload.end(), lists.stale.begin(), lists.stale.end());
    reload.insert(reload.end(), lists.newer.begin(), lists.newer.end());
    // A doubled key loses every copy and gets the source's version once (unless it was
    // deleted at the source: then HARD_DELETES decides, as for any extra key).
    std::vector<KeyText> doubled;
    for (const KeyText& key : lists.duplicate) {
        if (std::find(lists.extra.begin(), lists.extra.end(), key) == lists.extra.end()) {
            doubled.push_back(key);
        }
    }
    reload.insert(reload.end(), doubled.begin(), doubled.end());
    std::sort(reload.begin(), reload.end());
    reload.erase(std::unique(reload.begin(), reload.end()), reload.end());
    const bool deleting = config.hard_deletes == HardDeletes::delete_rows;
    if (reload.empty() && (lists.extra.empty() || !deleting)) {
        out.after = out.before;
        return out;
    }
    const auto steady_start = std::chrono::steady_clock::now();
    const Timestamp started = now_utc();
    out.run_id = make_run_id(started);
    set_log_context(out.run_id, config.pipeline_name, std::string(to_string(config.environment)));
    Retrier retrier(config.retry);
    StartedRun run(
        config, {},
        first_record(config, out.run_id, RunMode::repair, utc_parts(started).date, started),
        run_application_name(config, out.run_id), retrier, steady_start);
    try {
        Warehouse& warehouse = run.started();
        PgConnection source = open_source(config);
        const auto delete_keys = [&](const std::vector<KeyText>& keys, const char* why) {
            const JobCompareShape shape = job_compare_shape(job);
            for (std::size_t i = 0; i < keys.size(); i += keys_per_statement) {
                const std::size_t n = std::min(keys_per_statement, keys.size() - i);
                std::vector<std::optional<std::string>> params;
                for (std::size_t j = i; j < i + n; ++j) {
                    for (const std::string& v : keys[j]) {
                        params.emplace_back(v);
                    }
                }
                out.deleted += retrier.run(why, [&] {
                    return warehouse.delete_rows(job_delete_keys_sql(shape, warehouse.dialect(), n),
                                                 params, "[DELETE " + job.target.str() + "]");
                });
            }
        };
        run.lock().ensure_held();
        delete_keys(doubled, "delete the copies of doubled keys");
        const JobRules rules(job, target_limits(config));
        std::vector<BinaryField> fields(job.columns.size());
        int batch_number = 0;
        for (std::size_t i = 0; i < reload.size(); i += keys_per_statement) {
            const std::vector<KeyText> part(
                reload.begin() + static_cast<std::ptrdiff_t>(i),
                reload.begin() +
                    static_cast<std::ptrdiff_t>(std::min(reload.size(), i + keys_per_statement)));
            JobRows rows;
            fetch_job_rows_by_key(source, job, part, rows);
            std::vector<JobRows::Ref> valid;
            for (std::size_t r = 0; r < rows.size(); ++r) {
                for (std::size_t c = 0; c < fields.size(); ++c) {
                    fields[c] = rows.field(r, c);
                }
                if (!rules.check(fields)) {
                    valid.push_back(rows.refs()[r]);
                }
            }
            out.counts.rows_extracted += static_cast<std::int64_t>(rows.size());
            rows.refs() = std::move(valid);
            keep_newest_per_key(rows, job);
            run.lock().ensure_held();
            const BatchContext context{++batch_number, nullptr, /*overwrite=*/true};
            const MergeCounts merged =
                retrier.run("load a batch", [&] { return warehouse.load_job_rows(rows, context); });
            out.counts.rows_written += static_cast<std::int64_t>(rows.size());
            out.counts.rows_inserted += merged.inserted;
            out.counts.rows_updated += merged.updated;
        }
        if (deleting) {
            delete_keys(lists.extra, "delete rows deleted at the source");
        }
        log_info("repair finished", {{"event", "repair_finished"},
                                     {"job", job.name},
                                     {"rows_reloaded", out.counts.rows_written},
                                     {"rows_inserted", out.counts.rows_inserted},
                                     {"rows_updated", out.counts.rows_updated},
                                     {"rows_deleted", out.deleted},
                                     {"hard_deletes", deleting ? "delete" : "keep"}});
        run.finish(RunStatus::success, out.counts);
    } catch (const Error& e) {
        run.finish(e.kind() == ErrorKind::cancelled ? RunStatus::cancelled : RunStatus::failed,
                   out.counts, e.what());
        throw;
    }
    out.after = verify_job(config, options);
    return out;
}

}  // namespace pipeline
