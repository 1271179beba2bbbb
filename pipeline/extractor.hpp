// pipeline/extractor.hpp: windowed extraction through a server-side cursor (spec §3).
#pragma once

#include <optional>
#include <vector>

#include "pipeline/order_row.hpp"
#include "pipeline/pg_connection.hpp"
#include "pipeline/sql_identifier.hpp"
#include "pipeline/timestamp.hpp"

namespace pipeline {

/// The rows to read. Incremental: `updated_at > lower AND updated_at <= now()`
/// (no lower bound on a first run). Backfill: `[lower, upper)`, a UTC day.
struct WindowRequest {
    enum class Kind { incremental, backfill } kind = Kind::incremental;
    std::optional<Timestamp> lower;  ///< exclusive (incremental) or inclusive (backfill)
    std::optional<Timestamp> upper;  ///< backfill only: exclusive
};

/// A batch of source rows. Owns the libpq result that the rows' views borrow from.
struct SourceBatch {
    PgResult result;
    std::vector<SourceRow> rows;
};

/// Reads one window in `(updated_at, order_id)` order, `batch_size` rows at a
/// time, from a cursor inside one REPEATABLE READ READ ONLY transaction in a
/// UTC session with a statement timeout. Memory is O(batch_size).
class Extractor {
public:
    /// Opens the transaction and the cursor; the upper bound of an
    /// incremental window is the source's `now()` (its clock, not ours).
    Extractor(PgConnection& source, const SqlIdentifier& schema, const SqlIdentifier& table,
              const WindowRequest& window, int batch_size);
    Extractor(const Extractor&) = delete;
    Extractor& operator=(const Extractor&) = delete;
    ~Extractor();

    /// The next batch, or nullopt once the window is exhausted (the
    /// transaction is then closed).
    std::optional<SourceBatch> next_batch();

    /// The window's upper bound: source now() for incremental windows.
    Timestamp until() const noexcept { return until_; }

    /// The SELECT used for the cursor (for logs and --dry-run).
    static std::string select_sql(const SqlIdentifier& schema, const SqlIdentifier& table,
                                  const WindowRequest& window);

private:
    PgConnection& source_;
    int batch_size_;
    Timestamp until_;
    bool open_ = false;
};

/// Session settings for extraction: read-only, UTC, ISO dates, statement timeout.
void prepare_source_session(PgConnection& source, int statement_timeout_seconds);

}  // namespace pipeline
