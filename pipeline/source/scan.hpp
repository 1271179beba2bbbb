// pipeline/source/scan.hpp: a read-only pass over source rows in no particular order (verify,
// repair): one `COPY (SELECT ...) TO STDOUT`, decoded in place into batches.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "pipeline/core/sql_identifier.hpp"
#include "pipeline/orders/order_row.hpp"
#include "pipeline/runtime/pg_connection.hpp"

namespace pipeline {

/// The orders job's 17 source columns as text, for a SELECT list (spec §3).
std::string source_column_list();

/// Splits one line of text-format COPY output (`length` bytes, ending in
/// '\n') into `row`'s fields, decoding backslash escapes in place; `\N` is
/// NULL. The fields then point into `line`. False when the line does not
/// hold exactly source_column_count fields. Pure.
bool split_copy_line(char* line, int length, SourceRow& row);

/// Rows decoded from COPY lines; the rows' fields point into `lines`.
struct ScanBatch {
    std::vector<CopyLine> lines;
    std::vector<SourceRow> rows;
};

/// Rows of `SELECT <17 columns> FROM schema.table AS s WHERE <where>`,
/// `batch_rows` at a time. `where` is SQL text: its values must be quoted
/// (quote_literal), since COPY takes no parameters. COPY streams: the source
/// produces the next rows while the caller works, without the per-FETCH
/// result sets of a cursor (about a third less CPU on both ends). It is one
/// statement, bound by the session's statement timeout. A failure throws
/// Error(source); there is no resume (a verify is simply run again), and a
/// scan given up midway leaves `source` unusable.
class SourceScan {
public:
    SourceScan(PgConnection& source, const SqlIdentifier& schema, const SqlIdentifier& table,
               const std::string& where, std::size_t batch_rows);
    SourceScan(const SourceScan&) = delete;
    SourceScan& operator=(const SourceScan&) = delete;
    ~SourceScan() = default;

    /// The next rows (nullopt when done).
    std::optional<ScanBatch> next();

private:
    PgConnection& source_;
    std::size_t batch_rows_;
    bool done_ = false;
};

}  // namespace pipeline
