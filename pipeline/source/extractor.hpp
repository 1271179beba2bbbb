// pipeline/source/extractor.hpp: windowed extraction through a server-side cursor (spec §3).
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "pipeline/core/sql_identifier.hpp"
#include "pipeline/core/timestamp.hpp"
#include "pipeline/orders/order_row.hpp"
#include "pipeline/runtime/pg_connection.hpp"
#include "pipeline/runtime/retry.hpp"
#include "pipeline/source/commit_window.hpp"

namespace pipeline {

/// The rows to read. Incremental: `updated_at > lower AND updated_at <= now()`
/// (no lower bound on a first run), plus the held-back part when there is
/// one. Backfill: `[lower, upper)`, a UTC day.
struct WindowRequest {
    enum class Kind { incremental, backfill } kind = Kind::incremental;
    std::optional<Timestamp> lower;  ///< exclusive (incremental) or inclusive (backfill)
    std::optional<Timestamp> upper;  ///< backfill only: exclusive
    /// Incremental with a lower bound only: read [held_back.from, now]
    /// instead, rows up to held_back.plain_after only when the last run's
    /// snapshot could not see their writer (see HeldBackPart).
    std::optional<HeldBackPart> held_back;
    /// Incremental only: look at the source's open transactions before the
    /// snapshot (Extractor::sighting), for the next window's hold-back.
    bool sight = false;
};

/// A batch of source rows. Owns the libpq result that the rows' views borrow from.
struct SourceBatch {
    PgResult result;
    std::vector<SourceRow> rows;
};

/// Where a resumed cursor starts: the (updated_at, order_id) of the last row
/// handed out, as the source's text (order_id may be NULL).
struct ResumeKey {
    std::string updated_at;
    std::optional<std::string> order_id;
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
    static std::string select_sql(const SqlIdentifier& schema, const SqlIdentifier& table,
                                  const WindowRequest& window,
                                  const std::optional<ResumeKey>& resume = std::nullopt);

private:
    void open();
    /// Before the first snapshot: the source's clock and open transactions.
    void sight_open_transactions();
    /// After it: the snapshot, and which xids of the range the next run may
    /// wait for were in progress (subtransactions included).
    void complete_sighting(const SnapshotXids& snapshot);
    std::optional<SourceBatch> fetch(int max_rows);
    void remember_tail(const std::vector<SourceRow>& rows);

    SourceConnector connect_;
    Retrier& retrier_;
    SqlIdentifier schema_;
    SqlIdentifier table_;
    WindowRequest window_;
    int batch_size_;
    std::optional<PgConnection> conn_;
    std::optional<std::string> until_text_;  ///< fixed by the first open
    Timestamp until_;
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

/// A 64-bit fingerprint of a row's 17 fields (NULL distinct from ""). Pure.
std::uint64_t row_fingerprint(const SourceRow& row);

}  // namespace pipeline
