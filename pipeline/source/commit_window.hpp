// pipeline/source/commit_window.hpp: commit-aware windows: what a run saw of the source's open
// transactions, and how far the next window reaches back for them (spec §3, §8). Pure.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "pipeline/core/timestamp.hpp"

namespace pipeline {

/// A 64-bit transaction id, PostgreSQL's xid8: (epoch << 32) | 32-bit xid.
using Xid8 = std::uint64_t;

/// The xid8 whose low 32 bits are `xid` and which is at most 2^32 - 1 older
/// than `reference` (a snapshot's xmax): the id a row's 32-bit `xmin` stands
/// for, as long as the row was written less than 2^32 transactions ago. Pure.
Xid8 widen_xid(std::uint32_t xid, Xid8 reference) noexcept;

/// A pg_snapshot: every xid below `xmin` had ended, every xid from `xmax` on
/// had not started, and `xip` lists the top-level xids in between that were
/// in progress. On a hot standby `xip` is always empty (PostgreSQL keeps the
/// primary's running xids elsewhere): only xmin and xmax tell anything there.
struct SnapshotXids {
    Xid8 xmin = 0;
    Xid8 xmax = 0;
    std::vector<Xid8> xip;

    /// Parses pg_snapshot's text form "xmin:xmax:xip,xip,...". Pure.
    static std::optional<SnapshotXids> parse(std::string_view text);
};

/// A session of the source database with an open transaction.
struct OpenTransaction {
    int pid = 0;                       ///< 0 for a prepared (two-phase) transaction
    std::optional<Xid8> xid;           ///< its top-level xid, once it has written something
    std::optional<Timestamp> started;  ///< xact_start; nullopt when unknown
    std::string state;                 ///< pg_stat_activity.state, or "prepared"
    std::string application;           ///< application_name (prepared: the gid)

    bool operator==(const OpenTransaction&) const = default;
};

/// What a run saw of the source's transactions before its snapshot: the look
/// at pg_stat_activity (`at`, the source's clock then, becomes the next
/// watermark), then which xids of a range were in progress (subtransactions
/// included: a snapshot's xip list names only top-level xids, and on a hot
/// standby none at all); and the snapshot itself, taken after both. A
/// transaction the snapshot could not see was in progress at the scan or has
/// an xid from the look's xmax on, so the scan needs nothing from the snapshot.
struct Sighting {
    Timestamp at;
    /// The look's snapshot xmax (one past the last completed xid): every xid from here on
    /// was unassigned or still running at the look, and counts as unseen.
    Xid8 next_xid_at = 0;
    Xid8 oldest_xid_at = 0;         ///< the look's snapshot xmin: every older xid had ended
    bool replica = false;           ///< pg_is_in_recovery(): the primary's sessions are invisible
    bool sees_all_sessions = true;  ///< false: the role may not see some sessions' transactions
    std::vector<OpenTransaction> open;  ///< this database's, other than orders-pipeline's own
    /// The xids in [scanned_from, next_xid_at) in progress after the look and
    /// before the snapshot (pg_xact_status); nullopt when the range was too long to scan.
    Xid8 scanned_from = 0;
    std::optional<std::vector<Xid8>> in_progress;
    SnapshotXids snapshot;  ///< the run's snapshot (its xip tells which looked-at writers ended)
};

/// Ranges longer than this are not scanned xid by xid (about a second of
/// pg_xact_status calls): the hold-back then takes every xid of the range.
inline constexpr Xid8 max_scanned_xids = 5'000'000;

/// Where the scan for in-progress xids must start after the look at the open
/// transactions: the lowest xid below next_xid_at that a transaction still in
/// progress at the snapshot can hold, subtransactions included; nullopt when
/// nothing was open (then nothing is scanned). Pure.
std::optional<Xid8> xid_scan_start(const Sighting& sighting);

/// How the hold-back was worked out.
enum class HoldBackMode {
    exact,    ///< primary, every session visible: from the open transactions' start times
    bounded,  ///< primary, some sessions hidden from the role: assumed longest transaction
    replica,  ///< hot standby: the primary's sessions are invisible: assumed longest transaction
};
std::string_view to_string(HoldBackMode mode);
std::optional<HoldBackMode> hold_back_mode_named(std::string_view text);

/// The transactions a run's snapshot could not see: every xid from
/// `xid_from` on, and `xids` below it (in progress at the snapshot,
/// subtransactions included). Rows they write that the next window's
/// timestamps alone would skip are read by it through the row's `xmin`.
struct Unseen {
    Xid8 xid_from = 0;
    std::vector<Xid8> xids;  ///< sorted, all below xid_from

    bool operator==(const Unseen&) const = default;
};

/// How far the next window reaches back for transactions still open at this
/// run's snapshot: to `floor`, the oldest `updated_at` they can stamp.
struct HoldBack {
    HoldBackMode mode = HoldBackMode::exact;
    Timestamp floor;      ///< inclusive, before the overlap is subtracted
    bool capped = false;  ///< floor raised to the cap: older transactions may lose rows
    std::vector<OpenTransaction> waiting;  ///< the transactions waited for (for people)

    bool operator==(const HoldBack&) const = default;
};

/// What the next window needs after a run; kept in the checkpoint (version 2).
struct NextWindow {
    Unseen unseen;
    std::optional<HoldBack> hold_back;  ///< nullopt: nothing open can stamp older rows
};

/// The limits of a hold-back.
struct HoldBackSettings {
    std::int64_t cap_micros = 24LL * 3600 * 1'000'000;  ///< the floor is never older than at - cap
    /// Where start times cannot be seen (a replica, hidden sessions, prepared
    /// transactions): the longest transaction assumed; 0 assumes none is open.
    std::int64_t assumed_max_transaction_micros = 3600LL * 1'000'000;
};

/// The next window's needs after a run that saw `sighting`. Pure.
NextWindow plan_next_window(const Sighting& sighting, const HoldBackSettings& settings);

/// Seconds from the floor to `at`: how far the next window reaches back (0 without a hold-back).
double hold_back_seconds(const std::optional<HoldBack>& hold_back, Timestamp at) noexcept;

/// The age at `at` of the oldest open transaction whose start is known (0 if none). Pure.
double oldest_transaction_seconds(const std::vector<OpenTransaction>& open, Timestamp at) noexcept;

/// The filtered part of an incremental window: rows with `updated_at` in
/// [from, plain_after] are read only when written by a transaction the last
/// run's snapshot could not see (`unseen`); rows above plain_after always.
/// `from` is the hold-back's floor (or the watermark) minus the overlap, and
/// plain_after the watermark: so the overlap re-reads no row the last run loaded.
struct HeldBackPart {
    Timestamp from;
    Timestamp plain_after;
    Unseen unseen;
    /// An integer cursor's window (append-only tables): the same part by
    /// value; `from`/`plain_after` are then unused.
    std::optional<std::int64_t> from_position = std::nullopt;
    std::optional<std::int64_t> plain_after_position = std::nullopt;
};

/// One line per waiting transaction for logs and `checkpoint show`, e.g.
/// "pid 4242 xid 123456 idle in transaction since 2026-...Z (psql)". Pure.
std::string describe(const OpenTransaction& transaction);

}  // namespace pipeline
