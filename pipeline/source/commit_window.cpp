// pipeline/source/commit_window.cpp: the hold-back of a commit-aware window, worked out from
// what a run saw.
#include "pipeline/source/commit_window.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <charconv>
#include <set>

namespace pipeline {

namespace {

constexpr Xid8 low_mask = 0xFFFF'FFFFULL;

// More xids than this are kept as a range (xid_from lowered to the smallest):
// coarser, still safe, and the checkpoint stays small.
constexpr std::size_t max_listed_xids = 100'000;

std::optional<Xid8> parse_xid8(std::string_view text) {
    Xid8 value = 0;
    const auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (ec != std::errc{} || ptr != text.data() + text.size() || text.empty()) {
        return std::nullopt;
    }
    return value;
}

}  // namespace

Xid8 widen_xid(std::uint32_t xid, Xid8 reference) noexcept {
    const Xid8 candidate = (reference & ~low_mask) | xid;
    // Later than the reference: it belongs to the previous epoch.
    return candidate > reference && candidate >= (Xid8{1} << 32) ? candidate - (Xid8{1} << 32)
                                                                 : candidate;
}

std::optional<SnapshotXids> SnapshotXids::parse(std::string_view text) {
    const std::size_t first = text.find(':');
    const std::size_t second =
        first == std::string_view::npos ? std::string_view::npos : text.find(':', first + 1);
    if (second == std::string_view::npos) {
        return std::nullopt;
    }
    SnapshotXids out;
    const auto xmin = parse_xid8(text.substr(0, first));
    const auto xmax = parse_xid8(text.substr(first + 1, second - first - 1));
    if (!xmin || !xmax || *xmin > *xmax) {
        return std::nullopt;
    }
    out.xmin = *xmin;
    out.xmax = *xmax;
    std::string_view rest = text.substr(second + 1);
    while (!rest.empty()) {
        const std::size_t comma = rest.find(',');
        const auto xid = parse_xid8(rest.substr(0, comma));
        if (!xid) {
            return std::nullopt;
        }
        out.xip.push_back(*xid);
        rest = comma == std::string_view::npos ? std::string_view{} : rest.substr(comma + 1);
    }
    std::sort(out.xip.begin(), out.xip.end());
    return out;
}

std::string_view to_string(HoldBackMode mode) {
    switch (mode) {
        case HoldBackMode::bounded:
            return "bounded";
        case HoldBackMode::replica:
            return "replica";
        case HoldBackMode::exact:
            break;
    }
    return "exact";
}

std::optional<HoldBackMode> hold_back_mode_named(std::string_view text) {
    for (const HoldBackMode mode :
         {HoldBackMode::exact, HoldBackMode::bounded, HoldBackMode::replica}) {
        if (to_string(mode) == text) {
            return mode;
        }
    }
    return std::nullopt;
}

namespace {

HoldBackMode mode_of(const Sighting& s) {
    return s.replica ? HoldBackMode::replica
                     : (s.sees_all_sessions ? HoldBackMode::exact : HoldBackMode::bounded);
}

// The open transactions that may still be in progress at the snapshot. One
// whose xid is below the snapshot's xmax and not in its xip list ended before
// it: this run saw its rows. (xmax is one past the last xid that completed, so
// a running xid at or above it is in no list.)
std::vector<OpenTransaction> waited_for(const Sighting& s) {
    std::vector<OpenTransaction> out;
    for (const OpenTransaction& t : s.open) {
        if (!t.xid || *t.xid >= s.snapshot.xmax ||
            std::binary_search(s.snapshot.xip.begin(), s.snapshot.xip.end(), *t.xid)) {
            out.push_back(t);
        }
    }
    return out;
}

}  // namespace

std::optional<Xid8> xid_scan_start(const Sighting& s) {
    if (mode_of(s) != HoldBackMode::exact) {
        // Hidden or remote sessions: any xid in progress may be theirs.
        return s.oldest_xid_at;
    }
    if (s.open.empty()) {
        return std::nullopt;
    }
    // A transaction's subtransactions get xids after its own; one without an
    // xid at the look gets them after it.
    Xid8 start = s.next_xid_at;
    for (const OpenTransaction& t : s.open) {
        if (t.xid) {
            start = std::min(start, *t.xid);
        }
    }
    return start;
}

namespace {

// What the snapshot could not see: every xid from the look's next xid on
// (assigned after the look), and below it the xids the scan found in
// progress (a transaction in progress at the later snapshot was in progress
// at the scan too). Without a scan (nothing was open at the look, or the
// range was too long), every xid from where a scan would have started.
Unseen unseen_by(const Sighting& s) {
    Unseen out;
    out.xid_from = s.next_xid_at;
    const std::optional<Xid8> start = xid_scan_start(s);
    if (!start) {
        return out;  // nothing of this database was open at the look
    }
    if (!s.in_progress) {
        out.xid_from = std::min(out.xid_from, *start);
        return out;
    }
    const std::set<Xid8> still(s.in_progress->begin(), s.in_progress->end());
    for (const Xid8 xid : s.snapshot.xip) {
        if (xid >= s.scanned_from && xid < out.xid_from && !still.contains(xid)) {
            // Said ended by the scan, yet in progress at the later snapshot: a commit
            // waiting for a synchronous standby, which some releases' pg_xact_status
            // reports as committed. Its subtransactions too: every xid from it on.
            out.xid_from = xid;
        }
    }
    for (const Xid8 xid : still) {
        if (xid < out.xid_from) {
            out.xids.push_back(xid);
        }
    }
    if (out.xids.size() > max_listed_xids) {
        out.xid_from = out.xids.front();
        out.xids.clear();
    }
    return out;
}

}  // namespace

NextWindow plan_next_window(const Sighting& s, const HoldBackSettings& settings) {
    NextWindow next;
    next.unseen = unseen_by(s);
    HoldBack hold;
    hold.mode = mode_of(s);
    hold.waiting = waited_for(s);
    // A transaction that began before `at` and is in progress at the snapshot
    // was open at the look, so its start bounds the stamps it writes.
    bool start_unknown = hold.mode != HoldBackMode::exact;
    std::optional<Timestamp> oldest;
    for (const OpenTransaction& t : hold.waiting) {
        if (t.started) {
            oldest = oldest ? std::min(*oldest, *t.started) : *t.started;
        } else {
            start_unknown = true;
        }
    }
    if (start_unknown && settings.assumed_max_transaction_micros > 0) {
        const Timestamp assumed{s.at.micros - settings.assumed_max_transaction_micros};
        oldest = oldest ? std::min(*oldest, assumed) : assumed;
    }
    if (!oldest || *oldest >= s.at) {
        return next;  // nothing open can write a row stamped before the watermark
    }
    hold.floor = *oldest;
    if (s.at.micros - hold.floor.micros > settings.cap_micros) {
        hold.floor = Timestamp{s.at.micros - settings.cap_micros};
        hold.capped = true;
    }
    next.hold_back = std::move(hold);
    return next;
}

double hold_back_seconds(const std::optional<HoldBack>& hold_back, Timestamp at) noexcept {
    return hold_back ? seconds_between(hold_back->floor, at) : 0.0;
}

double oldest_transaction_seconds(const std::vector<OpenTransaction>& open, Timestamp at) noexcept {
    double oldest = 0;
    for (const OpenTransaction& t : open) {
        if (t.started) {
            oldest = std::max(oldest, seconds_between(*t.started, at));
        }
    }
    return oldest;
}

std::string describe(const OpenTransaction& t) {
    std::string out = t.pid > 0 ? fmt::format("pid {}", t.pid) : std::string("prepared");
    if (t.xid) {
        out += fmt::format(" xid {}", *t.xid);
    }
    if (!t.state.empty() && t.pid > 0) {
        out += " " + t.state;
    }
    out += t.started ? " since " + format_timestamp(*t.started) : " (start not visible)";
    if (!t.application.empty()) {
        out += " (" + t.application + ")";
    }
    return out;
}

}  // namespace pipeline
