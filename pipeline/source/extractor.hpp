// pipeline/source/extractor.hpp: windowed extraction through a server-side cursor (spec §3).
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <unordered_map>
#include <vector>

#include "pipeline/core/sql_identifier.hpp"
#include "pipeline/core/timestamp.hpp"
#include "pipeline/jobs/job_plan.hpp"
#include "pipeline/orders/order_row.hpp"
#include "pipeline/runtime/pg_connection.hpp"
#include "pipeline/runtime/retry.hpp"
#include "pipeline/source/commit_window.hpp"

namespace pipeline {

/// What to read: which table and columns, in which order. The orders job
/// reads its 17 columns as text (ExtractSpec::orders); a declared job reads
/// its columns in binary, with its cursor and key as text after them (for
/// resuming), ordered by (cursor, key...).
struct ExtractSpec {
    SqlIdentifier schema;
    SqlIdentifier table;
    std::string select_list;  ///< the data columns, over alias s
    std::size_t data_columns = 0;
    std::string cursor;  ///< a column of the table
    CursorKind cursor_kind = CursorKind::timestamptz;
    std::vector<std::string> key;       ///< columns of the table
    bool binary = false;                ///< a BINARY cursor (values in PostgreSQL's binary format)
    int cursor_text_column = 0;         ///< result column of the cursor (for resuming)
    std::vector<int> key_text_columns;  ///< result columns of the key
    /// With `binary`: the types of the cursor and key columns, whose values
    /// the resume machinery turns into text itself.
    std::optional<ColumnType> cursor_type;
    std::vector<ColumnType> key_types;

    /// The orders job (spec §3): 17 columns as text, (updated_at, order_id).
    static ExtractSpec orders(const SqlIdentifier& schema, const SqlIdentifier& table);
    /// A declared job: its columns in binary (its cursor and key among them).
    static ExtractSpec job(const JobTable& job);
    /// Columns before the held-back marker.
    int selected_columns() const noexcept;
};

/// The rows to read. Incremental: `updated_at > lower AND updated_at <= now()`
/// (no lower bound on a first run), plus the held-back part when there is
/// one. Backfill: `[lower, upper)`, a UTC day. An integer cursor reads
/// `cursor > lower_position AND cursor <= max(cursor)` (in the snapshot).
struct WindowRequest {
    enum class Kind { incremental, backfill } kind = Kind::incremental;
    std::optional<Timestamp> lower;  ///< exclusive (incremental) or inclusive (backfill)
    std::optional<Timestamp> upper;  ///< backfill only: exclusive
    std::optional<std::int64_t> lower_position;  ///< integer cursors: exclusive
    /// Incremental with a lower bound only: read [held_back.from, now]
    /// instead, rows up to held_back.plain_after only when the last run's
    /// snapshot could not see their writer (see HeldBackPart).
    std::optional<HeldBackPart> held_back;
    /// Incremental only: look at the source's open transactions before the
    /// snapshot (Extractor::sighting), for the next window's hold-back.
    bool sight = false;
};

/// A batch of source rows. Owns the libpq result that the rows' views borrow
/// from. `kept` lists the result's rows handed out (a resumed cursor skips
/// some); the orders job also gets them as SourceRows.
struct SourceBatch {
    PgResult result;
    std::vector<SourceRow> rows;
    std::vector<int> kept;
};

/// Where a resumed cursor starts: the (cursor, key) of the last row handed
/// out, as the source's text (the key is nullopt when one of its columns is NULL).
struct ResumeKey {
    std::string updated_at;
    std::optional<std::vector<std::string>> key;
    bool operator==(const ResumeKey&) const = default;
};

/// Opens a new source session, ready for extraction (see prepare_source_session).
using SourceConnector = std::function<PgConnection()>;

/// Reads one window in `(updated_at, order_id)` order, `batch_size` rows at a
/// time, from a cursor inside a REPEATABLE READ READ ONLY transaction in a
/// UTC session with a statement timeout. Memory is O(batch_size).
///
/// A transient failure (lost session, server restart) is retried through
/// `retrier`: a new session reopens the cursor just after the last row handed
/// out, with the same upper bound. Rows that share the last row's
/// (updated_at, order_id) are re-read and skipped by content, so no row is
/// handed out twice and none is missed.
class Extractor {
public:
    /// Opens the session, the transaction and the cursor; the upper bound of
    /// an incremental window is the source's `now()` (its clock, not ours).
    Extractor(SourceConnector connect, Retrier& retrier, ExtractSpec spec,
              const WindowRequest& window, int batch_size);
    /// The orders job's extraction.
    Extractor(SourceConnector connect, Retrier& retrier, const SqlIdentifier& schema,
              const SqlIdentifier& table, const WindowRequest& window, int batch_size);
    Extractor(const Extractor&) = delete;
    Extractor& operator=(const Extractor&) = delete;
    ~Extractor();

    /// The next batch of at most `max_rows` rows (default: the batch size),
    /// or nullopt once the window is exhausted (the transaction is then closed).
    std::optional<SourceBatch> next_batch(int max_rows = 0);

    /// Sends the FETCH of the next next_batch() call now, so that the source
    /// produces those rows while the caller works on the current ones. The
    /// next call must ask for the same `max_rows`. Does nothing once the
    /// window is exhausted or the session is lost (the next call reopens).
    void prefetch(int max_rows);

    /// The window's upper bound: source now() for incremental windows.
    Timestamp until() const noexcept { return until_; }
    /// An integer cursor's upper bound: its largest value in the snapshot
    /// (nullopt when the window holds no row).
    std::optional<std::int64_t> until_position() const noexcept { return until_position_; }
    /// The source's clock just after until_position() was read (after the snapshot).
    Timestamp until_position_at() const noexcept { return until_position_at_; }
    /// What the first open saw of the source's transactions (window.sight).
    const std::optional<Sighting>& sighting() const noexcept { return sighting_; }
    /// Rows handed out from the filtered part of the window (updated_at <= plain_after).
    std::int64_t rows_reread() const noexcept { return rows_reread_; }
    /// How many times the cursor was reopened after a transient failure.
    int resumes() const noexcept { return resumes_; }
    /// The source session's backend pid (0 when not connected).
    int backend_pid() const noexcept { return conn_ ? conn_->backend_pid() : 0; }

    /// The SELECT used for the cursor (for logs and --dry-run). Parameters:
    /// backfill $1 lower, $2 upper; incremental $1 lower, $2 until (only $1
    /// until without a lower bound); with a held-back part $1 its
    /// plain_after, $2 until, $3 its from, $4 xid_from, $5 the xids
    /// (bigint[]) and $6 the snapshot's xmax that row xmins are widened
    /// against; then the resume key. With `resume`, it
    /// starts at that key (inclusive; duplicates are skipped). A held-back
    /// window selects an 18th column: true for a row of the held-back part.
    static std::string select_sql(const ExtractSpec& spec, const WindowRequest& window,
                                  const std::optional<ResumeKey>& resume = std::nullopt);
    /// The orders job's SELECT.
    static std::string select_sql(const SqlIdentifier& schema, const SqlIdentifier& table,
                                  const WindowRequest& window,
                                  const std::optional<ResumeKey>& resume = std::nullopt);

private:
    void open();
    /// Before the first snapshot: the source's clock, its open transactions
    /// and which xids of the range the next run may wait for are in progress
    /// (subtransactions included).
    Sighting sight_open_transactions();
    std::optional<SourceBatch> fetch(int max_rows);
    void remember_tail(const SourceBatch& batch);
    ResumeKey key_of(const PgResult& result, int row) const;
    /// The text of a resume column (a binary value turned into PostgreSQL's text form).
    std::string resume_text(const PgResult& result, int row, int column,
                            const ColumnType* type) const;
    bool has_key(const PgResult& result, int row, const ResumeKey& key) const;
    std::uint64_t fingerprint(const PgResult& result, int row) const;

    SourceConnector connect_;
    Retrier& retrier_;
    ExtractSpec spec_;
    WindowRequest window_;
    int batch_size_;
    std::optional<PgConnection> conn_;
    std::optional<std::string> until_text_;   ///< fixed by the first open: the source's now()
    std::optional<std::string> until_bound_;  ///< the upper bound's parameter (NULL: none)
    Timestamp until_;
    std::optional<std::int64_t> until_position_;
    Timestamp until_position_at_;
    std::optional<Sighting> sighting_;
    std::int64_t rows_reread_ = 0;
    bool open_ = false;
    bool done_ = false;
    int prefetched_rows_ = 0;  ///< rows of the FETCH in flight (0: none)
    int resumes_ = 0;
    std::optional<ResumeKey> last_key_;
    /// Rows handed out with last_key_: fingerprint -> how many.
    std::unordered_map<std::uint64_t, int> last_key_rows_;
    /// After a resume: rows with skip_key_ that were already handed out.
    std::optional<ResumeKey> skip_key_;
    std::unordered_map<std::uint64_t, int> skip_counts_;
};

/// Session settings for extraction: read-only, UTC, ISO dates, statement timeout.
void prepare_source_session(PgConnection& source, int statement_timeout_seconds);

/// A 64-bit fingerprint of a row's fields (NULL distinct from ""). Pure.
std::uint64_t row_fingerprint(std::span<const std::optional<std::string_view>> fields);

}  // namespace pipeline
