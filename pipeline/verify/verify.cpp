// pipeline/verify/verify.cpp: bucket checksums on both sides, bisection of the differing ones,
// row-by-row comparison of what is left, and the repair through the normal load path.
#include "pipeline/verify/verify.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <future>
#include <limits>
#include <map>
#include <nlohmann/json.hpp>
#include <set>

#include "pipeline/core/error.hpp"
#include "pipeline/orders/batch.hpp"
#include "pipeline/orders/validate.hpp"
#include "pipeline/run/run_parts.hpp"
#include "pipeline/run/started_run.hpp"
#include "pipeline/runtime/logging.hpp"
#include "pipeline/source/scan.hpp"
#include "pipeline/state/atomic_file.hpp"
#include "pipeline/state/checkpoint.hpp"
#include "pipeline/verify/checksum.hpp"

namespace pipeline {

namespace {

constexpr std::size_t batch_rows = 10'000;
// Buckets and keys per warehouse statement (Snowflake binds each one).
constexpr std::size_t buckets_per_statement = 500;
constexpr std::size_t keys_per_statement = 5'000;

/// What one source key looks like in the rows read for it.
struct SourceKey {
    std::optional<RowDigest> newest_valid;
    std::optional<std::int64_t> newest_rejected_micros;
    std::optional<OrderRow> row;  ///< the newest valid version (repair loads it)
};

// The scope on the source table (alias s), values quoted (a COPY takes no parameters).
std::string source_scope(const CompareScope& scope) {
    const auto at = [](Timestamp ts) {
        return quote_literal(format_timestamp(ts)) + "::timestamptz";
    };
    if (scope.from) {
        return fmt::format("s.updated_at >= {} AND s.updated_at < {}", at(*scope.from),
                           at(scope.to));
    }
    return "s.updated_at <= " + at(scope.to);
}

PgConnection open_source(const Config& config) {
    PgConnection source(config.source_url, ErrorKind::source, "SOURCE",
                        fmt::format("orders-pipeline {} verify", config.pipeline_name));
    prepare_source_session(source, config.source_statement_timeout_seconds);
    return source;
}

CompareScope plan_scope(const Config& config, const VerifyOptions& options, PgConnection& source,
                        std::optional<std::string>& label) {
    CompareScope scope;
    if (options.from && options.to) {
        scope.from = start_of_day(*options.from);
        scope.to = Timestamp{start_of_day(*options.to).micros + micros_per_day};
        scope.to_inclusive = false;
        return scope;
    }
    const CheckpointLoad checkpoint =
        CheckpointStore(config.checkpoint_dir, config.pipeline_name).peek();
    if (checkpoint.state) {
        const SettledBound settled = settled_bound(config, *checkpoint.state);
        scope.to = Timestamp{settled.value};
        if (settled.lowered) {
            label = fmt::format(
                "{} (below the watermark {}: the next run still reads back "
                "for transactions open at the last one)",
                scope_text(scope), format_timestamp(checkpoint.state->watermark));
        }
    } else {
        const PgResult now = source.exec("SELECT now()::text", "[SELECT now()]");
        scope.to = parse_timestamp(now.value(0, 0), OffsetRule::assume_utc).value_or(now_utc());
    }
    return scope;
}

/// One pass over the source rows matching `where`: every valid row (newest
/// per key within a fetch) goes to `on_valid`, every rejected one to `on_rejected`.
template <class OnValid, class OnRejected>
void read_source(PgConnection& source, const Config& config, const std::string& where,
                 OnValid&& on_valid, OnRejected&& on_rejected) {
    SourceScan scan(source, config.source_schema, config.source_table, where, batch_rows);
    std::vector<OrderRow> valid;
    const Timestamp ingested_at = now_utc();
    while (auto batch = scan.next()) {
        valid.clear();
        prepare_rows(batch->rows, ingested_at, valid,
                     [&](const SourceRow& row, const Rejection&) { on_rejected(row); });
        for (const OrderRow& row : valid) {
            on_valid(row);
        }
    }
}

RowDigest digest_of(const OrderRow& row, bool deep, std::string& text) {
    text.clear();
    append_canonical_text(row, deep, text);
    return {row.order_id, row.updated_at.micros, hex_of(md5_of(text))};
}

// Keeps, per key, the newest valid version and the newest rejected stamp.
void note_valid(std::map<std::int64_t, SourceKey>& keys, const OrderRow& row, bool deep,
                std::string& text) {
    SourceKey& k = keys[row.order_id];
    if (!k.newest_valid || k.newest_valid->cursor_micros <= row.updated_at.micros) {
        k.newest_valid = digest_of(row, deep, text);
        k.row = row;
    }
}

void note_rejected(std::map<std::int64_t, SourceKey>& keys, const SourceRow& row) {
    const auto id = row[SourceColumn::order_id];
    const auto stamp = row[SourceColumn::updated_at];
    const auto key = id ? parse_int64(*id) : std::nullopt;
    const auto at = stamp ? parse_timestamp(*stamp, OffsetRule::assume_utc) : std::nullopt;
    if (!key) {
        return;
    }
    // A version without a readable updated_at cannot be ordered: it counts as the newest, so
    // the key is invalid at the source now (expected absent), not deleted there.
    const std::int64_t micros = at ? at->micros : std::numeric_limits<std::int64_t>::max();
    SourceKey& k = keys[*key];
    k.newest_rejected_micros = std::max(k.newest_rejected_micros.value_or(micros), micros);
}

// A key whose newest version at the source is invalid is not compared at all.
bool rejected_now(const SourceKey& k) {
    return k.newest_rejected_micros &&
           (!k.newest_valid || *k.newest_rejected_micros > k.newest_valid->cursor_micros);
}

// "ANY('{1,2,3}'::bigint[])": integers need no quoting inside the literal.
std::string any_of_keys(std::span<const std::int64_t> keys) {
    std::string out = "ANY('{";
    for (std::size_t i = 0; i < keys.size(); ++i) {
        if (i != 0) {
            out += ',';
        }
        out += std::to_string(keys[i]);
    }
    return out + "}'::bigint[])";
}

std::map<std::int64_t, std::pair<std::int64_t, std::uint64_t>> by_bucket(
    const std::vector<BucketSum>& sums) {
    std::map<std::int64_t, std::pair<std::int64_t, std::uint64_t>> out;
    for (const BucketSum& b : sums) {
        out[b.bucket] = {b.rows, b.sum};
    }
    return out;
}

/// The coarse buckets whose (rows, sum) differ between the two sides.
std::vector<std::int64_t> differing_coarse(const std::vector<BucketSum>& warehouse,
                                           const BucketTable& source) {
    const auto theirs = by_bucket(warehouse);
    std::vector<std::int64_t> out;
    for (std::int64_t b = 0; b < coarse_buckets; ++b) {
        const auto it = theirs.find(b);
        if (source.coarse(b) !=
            (it == theirs.end() ? std::pair<std::int64_t, std::uint64_t>{} : it->second)) {
            out.push_back(b);
        }
    }
    return out;
}

/// The leaf buckets, inside the coarse buckets `suspects`, whose sums differ.
std::vector<std::int64_t> differing_leaves(const std::vector<BucketSum>& warehouse,
                                           const BucketTable& source,
                                           const std::vector<std::int64_t>& suspects) {
    const auto theirs = by_bucket(warehouse);
    std::vector<std::int64_t> out;
    for (const std::int64_t coarse : suspects) {
        for (std::int64_t b = coarse; b < leaf_buckets; b += coarse_buckets) {
            const auto it = theirs.find(b);
            if (source.leaf(b) !=
                (it == theirs.end() ? std::pair<std::int64_t, std::uint64_t>{} : it->second)) {
                out.push_back(b);
            }
        }
    }
    std::sort(out.begin(), out.end());
    return out;
}

/// Calls Warehouse::end_run on the way out (Snowflake: suspend it if resumed).
class EndRun {
public:
    explicit EndRun(Warehouse& warehouse) : warehouse_(warehouse) {}
    EndRun(const EndRun&) = delete;
    EndRun& operator=(const EndRun&) = delete;
    ~EndRun() { warehouse_.end_run(); }

private:
    Warehouse& warehouse_;
};

}  // namespace

std::string scope_text(const CompareScope& scope) {
    return scope.from ? fmt::format("updated_at in [{}, {})", format_timestamp(*scope.from),
                                    format_timestamp(scope.to))
                      : fmt::format("updated_at <= {}", format_timestamp(scope.to));
}

void save_verify_summary(const Config& config, const VerifyReport& r) noexcept {
    nlohmann::ordered_json j;
    j["at"] = format_timestamp(r.verified_at);
    j["deep"] = r.deep;
    j["scope"] = scope_text(r);
    j["missing"] = r.missing_count();
    j["stale"] = r.stale_count();
    j["extra"] = r.extra_count();
    j["different"] = r.different_count();
    j["newer"] = r.newer_count();
    j["duplicate"] = r.duplicate_count();
    j["rejected"] = r.rejected;
    try {
        ensure_directory(config.checkpoint_dir, "checkpoint");
        write_file_atomically(config.checkpoint_dir / (config.pipeline_name + ".verify.json"),
                              j.dump() + "\n");
    } catch (const std::exception& e) {
        log_warning("could not keep the verify summary for doctor",
                    {{"event", "verify_summary_failed"}, {"error", e.what()}});
    }
}

std::string scope_text(const VerifyReport& report) {
    return report.scope_label ? *report.scope_label : scope_text(report.scope);
}

VerifyReport verify(const Config& config, const VerifyOptions& options) {
    if (config.job) {
        return verify_job(config, options);
    }
    const auto started = std::chrono::steady_clock::now();
    VerifyReport report;
    report.deep = options.deep;
    PgConnection source = open_source(config);
    report.scope = plan_scope(config, options, source, report.scope_label);
    const TableShape shape = orders_shape(config.destination);
    const Timestamp now = now_utc();
    const WarehouseSession session{fmt::format("orders-pipeline {} verify", config.pipeline_name),
                                   config.pipeline_name, make_run_id(now), config.retry,
                                   config.checkpoint_dir};
    set_log_context(session.run_id, config.pipeline_name,
                    std::string(to_string(config.environment)));
    const std::unique_ptr<Warehouse> warehouse = make_warehouse(config.destination, session);
    warehouse->begin_run();  // Snowflake: its SELECTs need a running warehouse
    const EndRun end_run(*warehouse);
    log_info(
        "verify started",
        {{"event", "verify_started"}, {"scope", scope_text(report.scope)}, {"deep", options.deep}});

    // Level 1 (256 buckets) in the warehouse while the source is read here.
    auto level1 = std::async(std::launch::async, [&] {
        return warehouse->bucket_sums(shape, report.scope, options.deep, coarse_buckets, {});
    });
    BucketTable mine;
    std::string text;
    const std::string where = source_scope(report.scope);
    try {
        read_source(
            source, config, where,
            [&](const OrderRow& row) {
                text.clear();
                append_canonical_text(row, options.deep, text);
                mine.add(row.order_id, upper_64(md5_of(text)));
            },
            [&](const SourceRow&) { ++report.rejected; });
    } catch (...) {
        level1.wait();
        throw;
    }
    report.source_rows = mine.rows();
    const std::vector<BucketSum> theirs1 = level1.get();
    for (const BucketSum& b : theirs1) {
        report.warehouse_rows += b.rows;
    }
    const std::vector<std::int64_t> suspects = differing_coarse(theirs1, mine);
    report.buckets_per_level.push_back(static_cast<int>(theirs1.size()));
    log_info("verify level", {{"event", "verify_level"},
                              {"depth", 1},
                              {"buckets_read", theirs1.size()},
                              {"differing", suspects.size()}});
    std::vector<std::int64_t> leaves;
    if (!suspects.empty()) {
        std::vector<BucketSum> theirs2;
        for (std::size_t i = 0; i < suspects.size(); i += buckets_per_statement) {
            const std::vector<std::int64_t> part(
                suspects.begin() + static_cast<std::ptrdiff_t>(i),
                suspects.begin() + static_cast<std::ptrdiff_t>(
                                       std::min(suspects.size(), i + buckets_per_statement)));
            for (BucketSum& b :
                 warehouse->bucket_sums(shape, report.scope, options.deep, leaf_buckets, part)) {
                theirs2.push_back(std::move(b));
            }
        }
        leaves = differing_leaves(theirs2, mine, suspects);
        report.buckets_per_level.push_back(static_cast<int>(theirs2.size()));
        log_info("verify level", {{"event", "verify_level"},
                                  {"depth", 2},
                                  {"buckets_read", theirs2.size()},
                                  {"differing", leaves.size()}});
    }

    std::map<std::int64_t, SourceKey> src;
    std::map<std::int64_t, RowDigest> dst;
    if (!leaves.empty()) {
        for (std::size_t i = 0; i < leaves.size(); i += buckets_per_statement) {
            const std::vector<std::int64_t> part(
                leaves.begin() + static_cast<std::ptrdiff_t>(i),
                leaves.begin() + static_cast<std::ptrdiff_t>(
                                     std::min(leaves.size(), i + buckets_per_statement)));
            for (RowDigest& d : warehouse->leaf_digests(shape, report.scope, options.deep, part)) {
                ++report.rows_fetched;
                // try_emplace leaves `d` alone when the key is there already.
                const auto [at, fresh] = dst.try_emplace(d.key, std::move(d));
                if (!fresh) {
                    // More than one row with this key: compared by its newest copy, and
                    // reported (a repair keeps one).
                    report.duplicate.push_back(d.key);
                    if (at->second.cursor_micros < d.cursor_micros) {
                        at->second = std::move(d);
                    }
                }
            }
        }
        read_source(
            source, config,
            fmt::format("{} AND {} = {}", where,
                        bucket_sql(shape.key.name, Dialect::postgres, "s", leaf_buckets),
                        any_of_keys(leaves)),
            [&](const OrderRow& row) { note_valid(src, row, options.deep, text); },
            [&](const SourceRow& row) { note_rejected(src, row); });
    }

    // Row by row. Keys seen on one side only are looked up on the other.
    std::vector<std::int64_t> source_only;
    for (const auto& [key, k] : src) {
        if (rejected_now(k) || !k.newest_valid) {
            continue;
        }
        const auto d = dst.find(key);
        if (d == dst.end()) {
            source_only.push_back(key);
        } else if (d->second.cursor_micros < k.newest_valid->cursor_micros) {
            report.stale.push_back(key);
        } else if (d->second.cursor_micros > k.newest_valid->cursor_micros) {
            report.newer.push_back(key);
        } else if (options.deep && d->second.md5 != k.newest_valid->md5) {
            report.different.push_back(key);
        }
    }
    std::vector<std::int64_t> warehouse_only;
    for (const auto& [key, d] : dst) {
        const auto s = src.find(key);
        if (s == src.end() || (!s->second.newest_valid && !rejected_now(s->second))) {
            warehouse_only.push_back(key);
        }
    }
    for (std::size_t i = 0; i < source_only.size(); i += keys_per_statement) {
        const auto part =
            std::span(source_only).subspan(i, std::min(keys_per_statement, source_only.size() - i));
        std::map<std::int64_t, RowDigest> found;
        for (RowDigest& d : warehouse->key_digests(shape, options.deep, part)) {
            ++report.rows_fetched;
            found[d.key] = std::move(d);
        }
        for (const std::int64_t key : part) {
            const auto f = found.find(key);
            const std::int64_t theirs = src[key].newest_valid->cursor_micros;
            if (f == found.end()) {
                report.missing.push_back(key);
            } else if (f->second.cursor_micros < theirs) {
                report.stale.push_back(key);
            } else if (f->second.cursor_micros > theirs) {
                report.newer.push_back(key);
            }
        }
    }
    if (!warehouse_only.empty()) {
        // The source's every version of these keys, whatever their updated_at.
        std::map<std::int64_t, SourceKey> anywhere;
        for (std::size_t i = 0; i < warehouse_only.size(); i += keys_per_statement) {
            const auto part =
                std::span(warehouse_only)
                    .subspan(i, std::min(keys_per_statement, warehouse_only.size() - i));
            read_source(
                source, config, "s.order_id = " + any_of_keys(part),
                [&](const OrderRow& row) { note_valid(anywhere, row, options.deep, text); },
                [&](const SourceRow& row) { note_rejected(anywhere, row); });
        }
        for (const std::int64_t key : warehouse_only) {
            const auto a = anywhere.find(key);
            if (a == anywhere.end()) {
                report.extra.push_back(key);  // deleted at the source
                continue;
            }
            if (rejected_now(a->second) || !a->second.newest_valid) {
                continue;  // invalid at the source now: expected absent, not reported
            }
            const std::int64_t at = a->second.newest_valid->cursor_micros;
            const bool after_scope = report.scope.to_inclusive ? at > report.scope.to.micros
                                                               : at >= report.scope.to.micros;
            if (!after_scope && dst[key].cursor_micros > at) {
                report.newer.push_back(key);  // the source went back in time
            }
            // A newer version beyond the scope is the next run's work, not a difference.
        }
    }
    for (auto* list : {&report.missing, &report.stale, &report.extra, &report.different,
                       &report.newer, &report.duplicate}) {
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
                                 {"scope", scope_text(report.scope)},
                                 {"deep", options.deep},
                                 {"missing", report.missing.size()},
                                 {"stale", report.stale.size()},
                                 {"extra", report.extra.size()},
                                 {"different", report.different.size()},
                                 {"newer", report.newer.size()},
                                 {"duplicate", report.duplicate.size()},
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

RepairReport repair(const Config& config, const VerifyOptions& options) {
    if (config.job) {
        return repair_job(config, options);
    }
    RepairReport out;
    out.before = verify(config, options);
    std::vector<std::int64_t> reload = out.before.missing;
    reload.insert(reload.end(), out.before.stale.begin(), out.before.stale.end());
    reload.insert(reload.end(), out.before.newer.begin(), out.before.newer.end());
    reload.insert(reload.end(), out.before.duplicate.begin(), out.before.duplicate.end());
    if (options.deep) {
        reload.insert(reload.end(), out.before.different.begin(), out.before.different.end());
    }
    std::sort(reload.begin(), reload.end());
    reload.erase(std::unique(reload.begin(), reload.end()), reload.end());
    const std::set<std::int64_t> doubled(out.before.duplicate.begin(), out.before.duplicate.end());
    const bool deleting = config.hard_deletes == HardDeletes::delete_rows;
    if (reload.empty() && (out.before.extra.empty() || !deleting)) {
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
        const TableShape shape = orders_shape(config.destination);
        std::vector<OrderRow> valid;
        int batch_number = 0;
        for (std::size_t i = 0; i < reload.size(); i += keys_per_statement) {
            const auto part =
                std::span(reload).subspan(i, std::min(keys_per_statement, reload.size() - i));
            std::map<std::int64_t, SourceKey> keys;
            std::string text;
            read_source(
                source, config, "s.order_id = " + any_of_keys(part),
                [&](const OrderRow& row) { note_valid(keys, row, options.deep, text); },
                [&](const SourceRow& row) { note_rejected(keys, row); });
            valid.clear();
            std::vector<std::int64_t> to_single;
            for (auto& [key, k] : keys) {
                if (k.row && !rejected_now(k)) {
                    valid.push_back(std::move(*k.row));
                    if (doubled.contains(key)) {
                        to_single.push_back(key);
                    }
                }
                ++out.counts.rows_extracted;
            }
            run.lock().ensure_held();
            if (!to_single.empty()) {
                // Every copy goes; the load below inserts the source's version once.
                out.deleted += retrier.run("delete the copies of doubled keys",
                                           [&] { return warehouse.delete_keys(shape, to_single); });
            }
            const BatchContext context{++batch_number, nullptr, /*overwrite=*/true};
            const MergeCounts merged =
                retrier.run("load a batch", [&] { return warehouse.load_batch(valid, context); });
            out.counts.rows_written += static_cast<std::int64_t>(valid.size());
            out.counts.rows_inserted += merged.inserted;
            out.counts.rows_updated += merged.updated;
        }
        if (deleting && !out.before.extra.empty()) {
            for (std::size_t i = 0; i < out.before.extra.size(); i += keys_per_statement) {
                const auto part =
                    std::span(out.before.extra)
                        .subspan(i, std::min(keys_per_statement, out.before.extra.size() - i));
                out.deleted += retrier.run("delete rows deleted at the source",
                                           [&] { return warehouse.delete_keys(shape, part); });
            }
        }
        log_info("repair finished", {{"event", "repair_finished"},
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
    out.after = verify(config, options);
    return out;
}

std::optional<LastVerify> last_verify(const Config& config) noexcept {
    try {
        const auto text =
            read_file_if_exists(config.checkpoint_dir / (config.pipeline_name + ".verify.json"));
        if (!text) {
            return std::nullopt;
        }
        const auto j = nlohmann::json::parse(*text, nullptr, /*allow_exceptions=*/false);
        if (!j.is_object() || !j.contains("at") || !j["at"].is_string()) {
            return std::nullopt;
        }
        const auto at = parse_timestamp(j["at"].get<std::string>(), OffsetRule::required);
        if (!at) {
            return std::nullopt;
        }
        LastVerify v;
        v.at = *at;
        const auto count = [&](const char* key) {
            const auto it = j.find(key);
            return it != j.end() && it->is_number_integer() ? it->get<std::int64_t>() : 0;
        };
        v.deep = j.contains("deep") && j["deep"].is_boolean() && j["deep"].get<bool>();
        v.missing = count("missing");
        v.stale = count("stale");
        v.extra = count("extra");
        v.different = count("different");
        v.newer = count("newer");
        v.duplicate = count("duplicate");
        v.rejected = count("rejected");
        return v;
    } catch (const std::exception&) {
        return std::nullopt;
    }
}

}  // namespace pipeline
