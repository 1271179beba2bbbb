// pipeline/extractor.cpp: cursor-based extraction.
#include "pipeline/extractor.hpp"

#include <fmt/format.h>

#include "pipeline/logging.hpp"

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

}  // namespace

void prepare_source_session(PgConnection& source, int statement_timeout_seconds) {
    source.exec(fmt::format("SET default_transaction_read_only = on; SET TIME ZONE 'UTC'; "
                            "SET DateStyle = 'ISO, YMD'; SET IntervalStyle = 'iso_8601'; "
                            "SET extra_float_digits = 3; SET statement_timeout = '{}s'",
                            statement_timeout_seconds),
                "[SET source session]");
}

std::string Extractor::select_sql(const SqlIdentifier& schema, const SqlIdentifier& table,
                                  const WindowRequest& window) {
    std::string where;
    if (window.kind == WindowRequest::Kind::backfill) {
        where = "updated_at >= $1::timestamptz AND updated_at < $2::timestamptz";
    } else if (window.lower) {
        where = "updated_at > $1::timestamptz AND updated_at <= $2::timestamptz";
    } else {
        where = "updated_at <= $1::timestamptz";
    }
    return fmt::format("SELECT {} FROM {}.{} WHERE {} ORDER BY updated_at, order_id", column_list(),
                       schema.str(), table.str(), where);
}

Extractor::Extractor(PgConnection& source, const SqlIdentifier& schema, const SqlIdentifier& table,
                     const WindowRequest& window, int batch_size)
    : source_(source), batch_size_(batch_size) {
    source_.exec("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY", "[BEGIN extract]");
    open_ = true;
    const PgResult now = source_.exec("SELECT now()::text", "[SELECT now()]");
    const std::string now_text(now.value(0, 0));
    until_ = parse_timestamp(now_text, OffsetRule::assume_utc).value_or(Timestamp{});

    std::vector<std::optional<std::string>> params;
    if (window.kind == WindowRequest::Kind::backfill) {
        params = {format_timestamp(*window.lower), format_timestamp(*window.upper)};
        until_ = *window.upper;
    } else if (window.lower) {
        params = {format_timestamp(*window.lower), now_text};
    } else {
        params = {now_text};
    }
    const std::string label = fmt::format("[DECLARE CURSOR {}.{}]", schema.str(), table.str());
    source_.exec_params(fmt::format("DECLARE {} NO SCROLL CURSOR FOR {}", cursor_name,
                                    select_sql(schema, table, window)),
                        params, label);
}

Extractor::~Extractor() {
    if (open_ && source_.ok()) {
        try {
            source_.exec("ROLLBACK", "[ROLLBACK extract]");
        } catch (const std::exception& e) {
            log_warning("could not close the extraction transaction", {{"error", e.what()}});
        }
    }
}

std::optional<SourceBatch> Extractor::next_batch() {
    if (!open_) {
        return std::nullopt;
    }
    SourceBatch batch;
    batch.result = source_.exec(fmt::format("FETCH FORWARD {} FROM {}", batch_size_, cursor_name),
                                "[FETCH extract]");
    const int rows = batch.result.rows();
    if (rows == 0) {
        source_.exec("COMMIT", "[COMMIT extract]");
        open_ = false;
        return std::nullopt;
    }
    batch.rows.resize(static_cast<std::size_t>(rows));
    for (int r = 0; r < rows; ++r) {
        auto& row = batch.rows[static_cast<std::size_t>(r)];
        for (std::size_t c = 0; c < source_column_count; ++c) {
            row.fields[c] = batch.result.field(r, static_cast<int>(c));
        }
    }
    return batch;
}

}  // namespace pipeline
