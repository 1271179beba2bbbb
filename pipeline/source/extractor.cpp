// pipeline/source/extractor.cpp: cursor-based extraction that survives a lost source session.
#include "pipeline/source/extractor.hpp"

#include <fmt/format.h>

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

ResumeKey key_of(const SourceRow& row) {
    const Field& id = row[SourceColumn::order_id];
    return ResumeKey{std::string(row[SourceColumn::updated_at].value_or("")),
                     id ? std::optional<std::string>(*id) : std::nullopt};
}

bool has_key(const SourceRow& row, const ResumeKey& key) {
    return row[SourceColumn::updated_at].value_or("") == key.updated_at &&
           row[SourceColumn::order_id] == key.order_id;
}

}  // namespace

std::uint64_t row_fingerprint(const SourceRow& row) {
    std::string buffer;
    for (const Field& f : row.fields) {
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
    std::string where;
    int next_param = 2;
    if (window.kind == WindowRequest::Kind::backfill) {
        where = "updated_at >= $1::timestamptz AND updated_at < $2::timestamptz";
        next_param = 3;
    } else if (window.lower) {
        where = "updated_at > $1::timestamptz AND updated_at <= $2::timestamptz";
        next_param = 3;
    } else {
        where = "updated_at <= $1::timestamptz";
    }
    if (resume) {
        // Row-wise "at or after the last key"; NULL order_ids sort last.
        if (resume->order_id) {
            where += fmt::format(
                " AND (updated_at > ${0} OR (updated_at = ${0} AND (order_id >= ${1} OR "
                "order_id IS NULL)))",
                next_param, next_param + 1);
        } else {
            where += fmt::format(
                " AND (updated_at > ${0} OR (updated_at = ${0} AND order_id IS "
                "NULL))",
                next_param);
        }
    }
    // ORDER BY names the table's columns (s.updated_at), not the ::text output
    // columns of the same name: the order must be the types' order, the one the
    // resume predicate and the (updated_at, order_id) index use.
    return fmt::format("SELECT {} FROM {}.{} AS s WHERE {} ORDER BY s.updated_at, s.order_id",
                       column_list(), schema.str(), table.str(), where);
}

Extractor::Extractor(SourceConnector connect, Retrier& retrier, const SqlIdentifier& schema,
                     const SqlIdentifier& table, const WindowRequest& window, int batch_size)
    : connect_(std::move(connect)),
      retrier_(retrier),
      schema_(schema),
      table_(table),
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
    conn_->exec("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY", "[BEGIN extract]");
    open_ = true;
    if (!until_text_) {
        const PgResult now = conn_->exec("SELECT now()::text", "[SELECT now()]");
        until_text_ = std::string(now.value(0, 0));
        until_ = parse_timestamp(*until_text_, OffsetRule::assume_utc).value_or(Timestamp{});
        if (window_.kind == WindowRequest::Kind::backfill) {
            until_ = *window_.upper;
        }
    }
    std::vector<std::optional<std::string>> params;
    if (window_.kind == WindowRequest::Kind::backfill) {
        params = {format_timestamp(*window_.lower), format_timestamp(*window_.upper)};
    } else if (window_.lower) {
        params = {format_timestamp(*window_.lower), *until_text_};
    } else {
        params = {*until_text_};
    }
    if (last_key_) {
        params.emplace_back(last_key_->updated_at);
        if (last_key_->order_id) {
            params.emplace_back(*last_key_->order_id);
        }
    }
    const std::string label = fmt::format("[DECLARE CURSOR {}.{}]", schema_.str(), table_.str());
    conn_->exec_params(fmt::format("DECLARE {} NO SCROLL CURSOR FOR {}", cursor_name,
                                   select_sql(schema_, table_, window_, last_key_)),
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

void Extractor::remember_tail(const std::vector<SourceRow>& rows) {
    // Only the rows sharing the last key can be re-read by a resumed cursor.
    if (!last_key_ || !has_key(rows.back(), *last_key_)) {
        last_key_ = key_of(rows.back());
        last_key_rows_.clear();
    }
    for (auto it = rows.rbegin(); it != rows.rend() && has_key(*it, *last_key_); ++it) {
        ++last_key_rows_[row_fingerprint(*it)];
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
        batch.rows.reserve(static_cast<std::size_t>(rows));
        for (int r = 0; r < rows; ++r) {
            SourceRow row;
            for (std::size_t c = 0; c < source_column_count; ++c) {
                row.fields[c] = batch.result.field(r, static_cast<int>(c));
            }
            if (skip_key_) {
                if (has_key(row, *skip_key_)) {
                    // Handed out before the session was lost? (Counted, so
                    // that identical duplicate rows are each skipped once.)
                    auto seen = skip_counts_.find(row_fingerprint(row));
                    if (seen != skip_counts_.end() && seen->second > 0) {
                        --seen->second;
                        continue;
                    }
                } else {
                    skip_key_.reset();  // past the re-read key: nothing more to skip
                }
            }
            batch.rows.push_back(row);
        }
        if (!batch.rows.empty()) {
            remember_tail(batch.rows);
            return batch;
        }
    }
}

}  // namespace pipeline
