// pipeline/source/extractor.cpp: cursor-based extraction that survives a lost source session.
#include "pipeline/source/extractor.hpp"

#include <fmt/format.h>

#include <array>
#include <nlohmann/json.hpp>

#include "pipeline/jobs/values.hpp"
#include "pipeline/orders/validate.hpp"
#include "pipeline/runtime/logging.hpp"

namespace pipeline {

namespace {

constexpr std::string_view cursor_name = "orders_pipeline_extract";

std::string column_list() {
    std::string out;
    for (std::size_t i = 0; i < source_column_count; ++i) {
        // Every column travels as the source's text; validation parses it.
        out += fmt::format("{}{}::text", i == 0 ? "" : ", ", source_column_names[i]);
    }
    return out;
}

std::string_view bound_type(CursorKind kind) {
    return kind == CursorKind::integer ? "bigint" : "timestamptz";
}

}  // namespace

ExtractSpec ExtractSpec::orders(const SqlIdentifier& schema, const SqlIdentifier& table) {
    ExtractSpec spec;
    spec.schema = schema;
    spec.table = table;
    spec.select_list = column_list();
    spec.data_columns = source_column_count;
    spec.cursor = "updated_at";
    spec.key = {"order_id"};
    spec.cursor_text_column = static_cast<int>(SourceColumn::updated_at);
    spec.key_text_columns = {static_cast<int>(SourceColumn::order_id)};
    return spec;
}

ExtractSpec ExtractSpec::job(const JobTable& job) {
    ExtractSpec spec;
    spec.schema = job.source.schema;
    spec.table = job.source.table;
    spec.data_columns = job.columns.size();
    spec.cursor = job.cursor_column().name;
    spec.cursor_kind = job.cursor_kind;
    spec.binary = true;
    spec.select_list = job_select_list(job);
    // The cursor and key are among the binary columns; resuming turns them into text.
    spec.cursor_text_column = static_cast<int>(job.cursor);
    spec.cursor_type = job.cursor_column().type;
    for (const std::size_t k : job.key) {
        spec.key.push_back(job.columns[k].name);
        spec.key_text_columns.push_back(static_cast<int>(k));
        spec.key_types.push_back(job.columns[k].type);
    }
    return spec;
}

int ExtractSpec::selected_columns() const noexcept {
    return static_cast<int>(data_columns);
}

std::uint64_t row_fingerprint(std::span<const std::optional<std::string_view>> fields) {
    std::string buffer;
    for (const auto& f : fields) {
        if (f) {
            buffer += fmt::format("{}:", f->size());
            buffer += *f;
        } else {
            buffer += 'N';
        }
    }
    return std::hash<std::string>{}(buffer);
}

void prepare_source_session(PgConnection& source, int statement_timeout_seconds) {
    source.exec(fmt::format("SET default_transaction_read_only = on; SET TIME ZONE 'UTC'; "
                            "SET DateStyle = 'ISO, YMD'; SET IntervalStyle = 'iso_8601'; "
                            "SET extra_float_digits = 3; SET statement_timeout = '{}s'",
                            statement_timeout_seconds),
                "[SET source session]");
}

std::string Extractor::select_sql(const SqlIdentifier& schema, const SqlIdentifier& table,
                                  const WindowRequest& window,
                                  const std::optional<ResumeKey>& resume) {
    return select_sql(ExtractSpec::orders(schema, table), window, resume);
}

std::string Extractor::select_sql(const ExtractSpec& spec, const WindowRequest& window,
                                  const std::optional<ResumeKey>& resume) {
    const std::string& c = spec.cursor;
    const std::string_view type = bound_type(spec.cursor_kind);
    std::string where;
    std::string marker;
    int next_param = 2;
    if (window.kind == WindowRequest::Kind::backfill) {
        if (spec.cursor_kind == CursorKind::integer) {
            throw Error(ErrorKind::internal, "an integer cursor has no days to backfill");
        }
        where = fmt::format("{0} >= $1::timestamptz AND {0} < $2::timestamptz", c);
        next_param = 3;
    } else if ((window.lower || window.lower_position) && window.held_back) {
        // The row's 32-bit xmin as the 64-bit id it stands for ($6: the
        // snapshot's xmax; an xmin above its low half is of the epoch before).
        const std::string x8 =
            "((($6::bigint >> 32) << 32) + s.xmin::text::bigint - CASE WHEN s.xmin::text::bigint > "
            "($6::bigint & 4294967295) THEN 4294967296 ELSE 0 END)";
        // $1 is the plain part's bound here (the watermark): rows at or
        // below it are read only when the last snapshot could not see them.
        where = fmt::format(
            "{1} >= $3::{2} AND {1} <= $2::{2} AND "
            "({1} > $1::{2} OR {0} >= $4::bigint OR {0} = ANY($5::bigint[]))",
            x8, c, type);
        marker = fmt::format(", s.{} <= $1::{}", c, type);
        next_param = 7;
    } else if (window.lower || window.lower_position) {
        where = fmt::format("{0} > $1::{1} AND {0} <= $2::{1}", c, type);
        next_param = 3;
    } else {
        where = fmt::format("{} <= $1::{}", c, type);
    }
    if (resume) {
        // Row-wise "at or after the last key"; NULL key columns sort last.
        std::string any_null;
        for (std::size_t k = 0; k < spec.key.size(); ++k) {
            any_null += fmt::format("{}{} IS NULL", k == 0 ? "" : " OR ", spec.key[k]);
        }
        if (resume->key && spec.key.size() == 1) {
            where += fmt::format(" AND ({0} > ${1} OR ({0} = ${1} AND ({2} >= ${3} OR {4})))", c,
                                 next_param, spec.key[0], next_param + 1, any_null);
        } else if (resume->key) {
            std::string names;
            std::string params;
            for (std::size_t k = 0; k < spec.key.size(); ++k) {
                names += (k == 0 ? "" : ", ") + spec.key[k];
                params +=
                    fmt::format("{}${}", k == 0 ? "" : ", ", next_param + 1 + static_cast<int>(k));
            }
            where += fmt::format(" AND ({0} > ${1} OR ({0} = ${1} AND (({2}) >= ({3}) OR {4})))", c,
                                 next_param, names, params, any_null);
        } else if (spec.key.size() == 1) {
            where +=
                fmt::format(" AND ({0} > ${1} OR ({0} = ${1} AND {2}))", c, next_param, any_null);
        } else {
            where +=
                fmt::format(" AND ({0} > ${1} OR ({0} = ${1} AND ({2})))", c, next_param, any_null);
        }
    }
    // ORDER BY names the table's columns (s.updated_at), not the ::text output
    // columns of the same name: the order must be the types' order, the one the
    // resume predicate and the (updated_at, order_id) index use.
    std::string order = "s." + c;
    for (const std::string& k : spec.key) {
        order += ", s." + k;
    }
    return fmt::format("SELECT {}{} FROM {}.{} AS s WHERE {} ORDER BY {}", spec.select_list, marker,
                       spec.schema.str(), spec.table.str(), where, order);
}

Extractor::Extractor(SourceConnector connect, Retrier& retrier, const SqlIdentifier& schema,
                     const SqlIdentifier& table, const WindowRequest& window, int batch_size)
    : Extractor(std::move(connect), retrier, ExtractSpec::orders(schema, table), window,
                batch_size) {}

Extractor::Extractor(SourceConnector connect, Retrier& retrier, ExtractSpec spec,
                     const WindowRequest& window, int batch_size)
    : connect_(std::move(connect)),
      retrier_(retrier),
      spec_(std::move(spec)),
      window_(window),
      batch_size_(batch_size) {
    retrier_.run("open the source cursor", [&] {
        try {
            open();
        } catch (const Error&) {
            conn_.reset();
            throw;
        }
    });
}

Sighting Extractor::sight_open_transactions() {
    // pg_stat_activity is read before the snapshot, in its own statement: a
    // transaction open at the snapshot that began before this look is in it.
    // The statement's own snapshot (taken first) gives its xmax (every xid from
    // there on was unassigned or running) and the oldest running xid. Sessions of orders-pipeline
    // itself only ever read; autovacuum and WAL senders write no rows of a table.
    const PgResult seen = conn_->exec(
        "SELECT now()::text, pg_is_in_recovery()::text, "
        "pg_snapshot_xmax(pg_current_snapshot())::text, "
        "pg_snapshot_xmin(pg_current_snapshot())::text, "
        "coalesce((SELECT json_agg(json_build_array("
        "a.pid, a.backend_xid::text, a.xact_start, a.state, a.application_name, "
        "pg_has_role('pg_read_all_stats', 'USAGE') OR pg_has_role(a.usesysid, 'USAGE'))) "
        "FROM pg_stat_activity a WHERE a.datname = current_database() "
        "AND a.pid <> pg_backend_pid() "
        "AND coalesce(a.backend_type, '') NOT IN ('autovacuum worker', 'walsender') "
        "AND coalesce(a.application_name, '') NOT LIKE 'orders-pipeline %'), '[]'), "
        "coalesce((SELECT json_agg(json_build_array(p.transaction::text, p.gid)) "
        "FROM pg_prepared_xacts p WHERE p.database = current_database()), '[]')",
        "[sight open transactions]");
    Sighting s;
    s.at = parse_timestamp(seen.value(0, 0), OffsetRule::assume_utc).value_or(Timestamp{});
    s.replica = seen.value(0, 1) == "true";
    s.next_xid_at = std::stoull(std::string(seen.value(0, 2)));    // an xid8 already
    s.oldest_xid_at = std::stoull(std::string(seen.value(0, 3)));  // likewise
    // The sessions' 32-bit xids lie within 2^31 of the look's next xid, either side.
    const Xid8 around = s.next_xid_at + (Xid8{1} << 31);
    if (!s.replica) {  // a standby's own sessions only ever read
        for (const auto& a : nlohmann::json::parse(seen.value(0, 4))) {
            // Not visible to this role (NULL: a session without a user, shown as hidden).
            if (!a[5].is_boolean() || !a[5].get<bool>()) {
                s.sees_all_sessions = false;
                continue;
            }
            // track_activities off shows state 'disabled' and no start: it may be open.
            const bool untracked = a[3].is_string() && a[3].get<std::string>() == "disabled";
            if (a[2].is_null() && !a[1].is_string() && !untracked) {
                continue;  // no transaction open
            }
            OpenTransaction open;
            open.pid = a[0].get<int>();
            if (a[1].is_string()) {
                open.xid = widen_xid(
                    static_cast<std::uint32_t>(std::stoull(a[1].get<std::string>())), around);
            }
            // No start (track_activities off): bounded like a hidden one.
            if (a[2].is_string()) {
                open.started = parse_timestamp(a[2].get<std::string>(), OffsetRule::assume_utc);
            }
            open.state = a[3].is_string() ? a[3].get<std::string>() : "";
            open.application = a[4].is_string() ? a[4].get<std::string>() : "";
            s.open.push_back(std::move(open));
        }
        for (const auto& p : nlohmann::json::parse(seen.value(0, 5))) {
            OpenTransaction prepared;
            prepared.xid =
                widen_xid(static_cast<std::uint32_t>(std::stoull(p[0].get<std::string>())), around);
            prepared.state = "prepared";
            prepared.application = p[1].get<std::string>();
            s.open.push_back(std::move(prepared));
        }
    }
    // Still before the snapshot: which xids below the look's next xid are in
    // progress. pg_xact_status says "in progress" for a subtransaction until
    // its top-level transaction ends. A transaction in progress at the
    // snapshot (taken next) is in progress now, or got its xid after the look.
    s.scanned_from = s.next_xid_at;
    s.in_progress.emplace();
    const std::optional<Xid8> start = xid_scan_start(s);
    if (!start || *start >= s.next_xid_at) {
        return s;
    }
    if (s.next_xid_at - *start > max_scanned_xids) {
        s.in_progress.reset();  // the hold-back takes the whole range instead
        return s;
    }
    s.scanned_from = *start;
    const std::vector<std::optional<std::string>> range = {std::to_string(*start),
                                                           std::to_string(s.next_xid_at)};
    const PgResult running = conn_->exec_params(
        "SELECT x::text FROM generate_series($1::bigint, $2::bigint - 1) AS x "
        "WHERE pg_xact_status(x::text::xid8) = 'in progress'",
        range, "[xids in progress]");
    for (int r = 0; r < running.rows(); ++r) {
        s.in_progress->push_back(std::stoull(std::string(running.value(r, 0))));
    }
    return s;
}

void Extractor::open() {
    open_ = false;
    if (!conn_ || !conn_->ok()) {
        conn_.reset();
        conn_.emplace(connect_());
    } else {
        // The session survived (e.g. a replica conflict, 40001) but its
        // transaction is aborted: end it before starting the next one.
        conn_->exec("ROLLBACK", "[ROLLBACK extract]");
    }
    // Until the first open has succeeded in full, every attempt sights afresh:
    // a sighting is kept only together with the snapshot that followed it.
    const bool first = !until_text_;
    std::optional<Sighting> sighted;
    if (first && window_.sight) {
        sighted = sight_open_transactions();
    }
    conn_->exec("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY", "[BEGIN extract]");
    open_ = true;
    // The transaction's first statement takes its snapshot.
    const PgResult now =
        conn_->exec("SELECT now()::text, pg_current_snapshot()::text", "[SELECT now()]");
    const auto snapshot = SnapshotXids::parse(now.value(0, 1));
    if (!snapshot) {
        throw Error(ErrorKind::source,
                    fmt::format("the source's snapshot '{}' is unreadable", now.value(0, 1)));
    }
    if (first) {
        const std::string now_text(now.value(0, 0));
        std::optional<std::string> bound_text = now_text;
        if (spec_.cursor_kind == CursorKind::integer) {
            // An integer window ends at the largest value this snapshot sees (NULL: no row),
            // marked with the clock after the snapshot: every value allocated after that
            // time lies above it.
            const PgResult max =
                conn_->exec(fmt::format("SELECT max({})::text, clock_timestamp()::text FROM {}.{}",
                                        spec_.cursor, spec_.schema.str(), spec_.table.str()),
                            "[SELECT max cursor]");
            bound_text =
                max.field(0, 0) ? std::optional<std::string>(max.value(0, 0)) : std::nullopt;
            until_position_ = bound_text ? parse_int64(*bound_text) : std::nullopt;
            until_position_at_ =
                parse_timestamp(max.value(0, 1), OffsetRule::assume_utc).value_or(Timestamp{});
        }
        if (sighted) {
            sighted->snapshot = *snapshot;
            sighting_ = std::move(sighted);
        }
        until_text_ = now_text;
        until_ = window_.kind == WindowRequest::Kind::backfill
                     ? *window_.upper
                     : parse_timestamp(now_text, OffsetRule::assume_utc).value_or(Timestamp{});
        until_bound_ = std::move(bound_text);
    }
    const bool integer = spec_.cursor_kind == CursorKind::integer;
    const auto bound = [&](Timestamp ts, std::optional<std::int64_t> position) {
        return integer ? std::optional<std::string>(position ? std::to_string(*position)
                                                             : std::string("0"))
                       : std::optional<std::string>(format_timestamp(ts));
    };
    std::vector<std::optional<std::string>> params;
    if (window_.kind == WindowRequest::Kind::backfill) {
        params = {format_timestamp(*window_.lower), format_timestamp(*window_.upper)};
    } else if ((window_.lower || window_.lower_position) && window_.held_back) {
        const HeldBackPart& part = *window_.held_back;
        std::string xids = "{";
        for (const Xid8 xid : part.unseen.xids) {
            xids += (xids.size() > 1 ? "," : "") + std::to_string(xid);
        }
        xids += "}";
        params = {bound(part.plain_after, part.plain_after_position),
                  until_bound_,
                  bound(part.from, part.from_position),
                  std::to_string(part.unseen.xid_from),
                  std::move(xids),
                  std::to_string(snapshot->xmax)};
    } else if (window_.lower || window_.lower_position) {
        params = {bound(window_.lower.value_or(Timestamp{}), window_.lower_position), until_bound_};
    } else {
        params = {until_bound_};
    }
    if (last_key_) {
        params.emplace_back(last_key_->updated_at);
        if (last_key_->key) {
            for (const std::string& k : *last_key_->key) {
                params.emplace_back(k);
            }
        }
    }
    const std::string label =
        fmt::format("[DECLARE CURSOR {}.{}]", spec_.schema.str(), spec_.table.str());
    conn_->exec_params(
        fmt::format("DECLARE {} {}NO SCROLL CURSOR FOR {}", cursor_name,
                    spec_.binary ? "BINARY " : "", select_sql(spec_, window_, last_key_)),
        params, label);
    skip_key_ = last_key_;
    skip_counts_ = last_key_rows_;
}

Extractor::~Extractor() {
    if (open_ && conn_ && conn_->ok()) {
        try {
            if (prefetched_rows_ > 0) {
                conn_->receive("[FETCH extract]");  // the connection must be idle to roll back
            }
            conn_->exec("ROLLBACK", "[ROLLBACK extract]");
        } catch (const std::exception& e) {
            log_warning("could not close the extraction transaction", {{"error", e.what()}});
        }
    }
}

std::optional<SourceBatch> Extractor::next_batch(int max_rows) {
    if (done_) {
        return std::nullopt;
    }
    return retrier_.run("fetch from the source", [&]() -> std::optional<SourceBatch> {
        try {
            if (!open_) {
                ++resumes_;
                open();
                log_warning("source session reopened; the window resumes after the last row read",
                            {{"event", "extract_resumed"},
                             {"resume_updated_at", last_key_ ? last_key_->updated_at : ""}});
            }
            return fetch(max_rows > 0 ? max_rows : batch_size_);
        } catch (const Error&) {
            open_ = false;  // the cursor died with its transaction: reopen on retry
            prefetched_rows_ = 0;
            if (conn_ && !conn_->ok()) {
                conn_.reset();
            }
            throw;
        }
    });
}

std::string Extractor::resume_text(const PgResult& result, int row, int column,
                                   const ColumnType* type) const {
    if (type == nullptr) {
        return std::string(result.value(row, column));
    }
    std::string text;
    append_pg_text(*type, result.value(row, column), text);
    return text;
}

ResumeKey Extractor::key_of(const PgResult& result, int row) const {
    const ColumnType* cursor_type = spec_.binary ? &*spec_.cursor_type : nullptr;
    ResumeKey key{resume_text(result, row, spec_.cursor_text_column, cursor_type), std::nullopt};
    std::vector<std::string> values;
    for (std::size_t k = 0; k < spec_.key_text_columns.size(); ++k) {
        const int c = spec_.key_text_columns[k];
        if (result.is_null(row, c)) {
            return key;
        }
        values.push_back(resume_text(result, row, c, spec_.binary ? &spec_.key_types[k] : nullptr));
    }
    key.key = std::move(values);
    return key;
}

bool Extractor::has_key(const PgResult& result, int row, const ResumeKey& key) const {
    const ColumnType* cursor_type = spec_.binary ? &*spec_.cursor_type : nullptr;
    if (result.is_null(row, spec_.cursor_text_column) ||
        resume_text(result, row, spec_.cursor_text_column, cursor_type) != key.updated_at) {
        return false;
    }
    bool any_null = false;
    for (std::size_t k = 0; k < spec_.key_text_columns.size(); ++k) {
        const int c = spec_.key_text_columns[k];
        if (result.is_null(row, c)) {
            any_null = true;
        } else if (key.key &&
                   resume_text(result, row, c, spec_.binary ? &spec_.key_types[k] : nullptr) !=
                       (*key.key)[k]) {
            return false;
        }
    }
    return any_null == !key.key.has_value();
}

std::uint64_t Extractor::fingerprint(const PgResult& result, int row) const {
    std::array<std::optional<std::string_view>, 64> small{};
    std::vector<std::optional<std::string_view>> fields;
    const auto n = spec_.data_columns;
    if (n > small.size()) {
        fields.resize(n);
    }
    auto* out = n > small.size() ? fields.data() : small.data();
    for (std::size_t c = 0; c < n; ++c) {
        out[c] = result.field(row, static_cast<int>(c));
    }
    return row_fingerprint({out, n});
}

void Extractor::remember_tail(const SourceBatch& batch) {
    // Only the rows sharing the last key can be re-read by a resumed cursor.
    const PgResult& result = batch.result;
    const int last = batch.kept.back();
    if (!last_key_ || !has_key(result, last, *last_key_)) {
        last_key_ = key_of(result, last);
        last_key_rows_.clear();
    }
    for (auto it = batch.kept.rbegin(); it != batch.kept.rend() && has_key(result, *it, *last_key_);
         ++it) {
        ++last_key_rows_[fingerprint(result, *it)];
    }
}

void Extractor::prefetch(int max_rows) {
    if (done_ || !open_ || prefetched_rows_ > 0 || !conn_ || !conn_->ok()) {
        return;
    }
    try {
        conn_->send(fmt::format("FETCH FORWARD {} FROM {}", max_rows, cursor_name),
                    "[FETCH extract]");
        prefetched_rows_ = max_rows;
    } catch (const Error&) {
        open_ = false;  // the next call reopens the session and resumes
        conn_.reset();
    }
}

std::optional<SourceBatch> Extractor::fetch(int max_rows) {
    for (;;) {
        SourceBatch batch;
        if (prefetched_rows_ > 0) {
            if (prefetched_rows_ != max_rows) {
                throw Error(ErrorKind::internal,
                            fmt::format("extractor: {} rows prefetched, {} asked for",
                                        prefetched_rows_, max_rows));
            }
            prefetched_rows_ = 0;
            batch.result = conn_->receive("[FETCH extract]");
        } else {
            batch.result = conn_->exec(
                fmt::format("FETCH FORWARD {} FROM {}", max_rows, cursor_name), "[FETCH extract]");
        }
        const int rows = batch.result.rows();
        if (rows == 0) {
            conn_->exec("COMMIT", "[COMMIT extract]");
            open_ = false;
            done_ = true;
            return std::nullopt;
        }
        const bool orders = !spec_.binary && spec_.data_columns == source_column_count;
        batch.kept.reserve(static_cast<std::size_t>(rows));
        const int marker = spec_.selected_columns();
        const bool marked = batch.result.columns() > marker;
        for (int r = 0; r < rows; ++r) {
            if (skip_key_) {
                if (has_key(batch.result, r, *skip_key_)) {
                    // Handed out before the session was lost? (Counted, so
                    // that identical duplicate rows are each skipped once.)
                    auto seen = skip_counts_.find(fingerprint(batch.result, r));
                    if (seen != skip_counts_.end() && seen->second > 0) {
                        --seen->second;
                        continue;
                    }
                } else {
                    skip_key_.reset();  // past the re-read key: nothing more to skip
                }
            }
            batch.kept.push_back(r);
            if (marked && (batch.result.value(r, marker) == "t" ||
                           batch.result.value(r, marker) == std::string_view("\x01", 1))) {
                ++rows_reread_;
            }
        }
        if (orders) {
            batch.rows.reserve(batch.kept.size());
            for (const int r : batch.kept) {
                SourceRow& row = batch.rows.emplace_back();
                for (std::size_t c = 0; c < source_column_count; ++c) {
                    row.fields[c] = batch.result.field(r, static_cast<int>(c));
                }
            }
        }
        if (!batch.kept.empty()) {
            remember_tail(batch);
            return batch;
        }
    }
}

}  // namespace pipeline
