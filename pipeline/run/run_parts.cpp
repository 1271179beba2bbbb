// pipeline/run/run_parts.cpp: windows, the brake and the hold-back's log line.
#include "pipeline/run/run_parts.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <limits>
#include <vector>

#include "pipeline/core/error.hpp"
#include "pipeline/runtime/logging.hpp"

namespace pipeline {

// The window for this run, from the checkpoint (incremental) or the date (backfill).
// [start of day, start of next day): the window of a backfill.
WindowRequest backfill_window(CivilDate date) {
    WindowRequest window;
    window.kind = WindowRequest::Kind::backfill;
    window.lower = start_of_day(date);
    window.upper = Timestamp{window.lower->micros + micros_per_day};
    return window;
}

// The exclusive lower bound of an incremental window after `watermark`.
Timestamp after_overlap(const Config& config, Timestamp watermark) {
    return Timestamp{watermark.micros - config.overlap_minutes * micros_per_minute};
}

HoldBackSettings hold_back_settings(const Config& config) {
    return {config.holdback_max_minutes * micros_per_minute,
            config.max_transaction_minutes * micros_per_minute};
}

namespace {

// An integer cursor's window (append-only tables): above the last position
// loaded, plus the rows transactions the last snapshot could not see may
// still add below it: by value, from the last position marked at or before
// the hold-back's floor time, or without one the last look (a transaction
// that began after a mark's time gets values above its position; one that
// began after the look may have taken a value below the last position).
WindowRequest integer_window(const Config& config, const std::optional<CheckpointState>& state) {
    WindowRequest window;
    window.sight = true;
    if (!state || !state->position) {
        return window;  // everything up to the largest value
    }
    window.lower_position = *state->position;
    if (state->hold_back_unreadable || state->unseen) {
        std::optional<Timestamp> floor;
        if (state->hold_back_unreadable) {
            floor = Timestamp{state->watermark.micros -
                              config.holdback_max_minutes * micros_per_minute};
        } else if (state->hold_back) {
            floor = state->hold_back->floor;
        }
        if (!floor || floor->micros > state->watermark.micros) {
            floor = state->watermark;  // the look before the last snapshot
        }
        // The last position marked at or before the floor; none: from the start.
        std::optional<std::int64_t> known;
        for (const PositionMark& m : state->positions) {
            if (m.at.micros <= floor->micros) {
                known = m.position;
            }
        }
        const std::int64_t from = known.value_or(std::numeric_limits<std::int64_t>::min());
        HeldBackPart part;
        part.unseen = state->unseen.value_or(Unseen{});
        part.from_position = std::min(from, *state->position);
        part.plain_after_position = *state->position;
        window.held_back = part;
    }
    return window;
}

}  // namespace

// An incremental window after `state` (nullopt: no checkpoint): its lower
// bound, the held-back part the state asks for, and a sighting for the next.
WindowRequest incremental_window(const Config& config,
                                 const std::optional<CheckpointState>& state) {
    if (config.job && config.job->cursor_kind == CursorKind::integer) {
        return integer_window(config, state);
    }
    WindowRequest window;
    window.sight = true;
    if (!state) {
        window.lower = config.start_from;  // no overlap: the operator chose this bound
        return window;
    }
    window.lower = after_overlap(config, state->watermark);
    if (state->hold_back_unreadable || state->version < 2) {
        // Safe default: reach back as far as the cap allows, for every transaction (also
        // once after an upgrade: a version 1 file says nothing of what was open).
        window.held_back = HeldBackPart{
            after_overlap(config, Timestamp{state->watermark.micros -
                                            config.holdback_max_minutes * micros_per_minute}),
            state->watermark, Unseen{}};
    } else if (state->unseen) {
        // The overlap and the hold-back read only rows the last snapshot could not see.
        const Timestamp floor = state->hold_back
                                    ? std::min(state->hold_back->floor, state->watermark)
                                    : state->watermark;
        window.held_back =
            HeldBackPart{after_overlap(config, floor), state->watermark, *state->unseen};
    }
    return window;
}

SettledBound settled_bound(const Config& config, const CheckpointState& state) {
    const bool integer = config.job && config.job->cursor_kind == CursorKind::integer;
    const std::int64_t top = integer ? state.position.value_or(0) : state.watermark.micros;
    if (!state.hold_back && !state.hold_back_unreadable && state.version >= 2) {
        return {top, false};
    }
    const WindowRequest window = incremental_window(config, state);
    if (!window.held_back) {
        return {top, false};
    }
    const std::int64_t from =
        integer ? window.held_back->from_position.value_or(top) : window.held_back->from.micros;
    if (from > top) {
        return {top, false};
    }
    // The held-back part starts at `from` inclusive; one below it is settled.
    return {from == std::numeric_limits<std::int64_t>::min() ? from : from - 1, true};
}

WindowRequest plan_window(const Config& config, const RunOptions& options,
                          const CheckpointStore& checkpoints) {
    if (options.backfill_date) {
        return backfill_window(*options.backfill_date);
    }
    CheckpointLoad loaded = checkpoints.load(now_utc());
    if (loaded.warning) {
        log_warning(*loaded.warning, {{"event", "checkpoint_corrupt"}});
    }
    if (loaded.state) {
        const CheckpointState& state = *loaded.state;
        log_info("checkpoint loaded",
                 {{"event", "checkpoint_loaded"},
                  {"watermark", format_timestamp(state.watermark)},
                  {"version", state.version},
                  {"overlap_minutes", config.overlap_minutes},
                  {"holdback_seconds", hold_back_seconds(state.hold_back, state.watermark)}});
        if (state.hold_back_unreadable) {
            log_warning(fmt::format("the checkpoint's hold-back is unreadable ({}); this window "
                                    "reaches back ORDERS_PIPELINE_HOLDBACK_MAX_MINUTES for "
                                    "every transaction",
                                    *state.hold_back_unreadable),
                        {{"event", "checkpoint_hold_back_unreadable"}});
        } else if (state.version < 2) {
            log_info(
                "a version 1 checkpoint (before commit-aware windows): this window reaches "
                "back ORDERS_PIPELINE_HOLDBACK_MAX_MINUTES once for transactions open "
                "across the upgrade; the next checkpoint is version 2",
                {{"event", "checkpoint_upgraded"}});
        }
    } else if (config.start_from) {
        log_info("no checkpoint; starting from ORDERS_PIPELINE_START_FROM",
                 {{"event", "checkpoint_missing"},
                  {"start_from", format_timestamp(*config.start_from)}});
    } else {
        log_info("no checkpoint; this run loads everything up to the source's clock",
                 {{"event", "checkpoint_missing"}});
    }
    return incremental_window(config, loaded.state);
}

TargetLimits target_limits(const Config& config) noexcept {
    return config.destination.kind == DestinationKind::snowflake ? TargetLimits::snowflake
                                                                 : TargetLimits::postgres;
}

// The rejection brake (MAX_REJECT_RATIO): a batch of at least 100 rows that is
// mostly rejected stops the run before it is loaded, its rejected rows kept in
// the DLQ: a broken upstream deploy then fails loudly instead of quietly
// diverting most orders into dead-letter files.
void check_rejection_brake(const Config& config, std::int64_t extracted, std::int64_t rejected,
                           const RejectedByCode& rejected_by_code, int batch_number,
                           DlqWriter& dlq) {
    constexpr std::int64_t min_rows = 100;
    if (!config.max_reject_ratio || extracted < min_rows ||
        static_cast<double>(rejected) <=
            *config.max_reject_ratio * static_cast<double>(extracted)) {
        return;
    }
    dlq.close();  // durable, for diagnosis
    std::vector<std::pair<std::string, std::int64_t>> codes(rejected_by_code.begin(),
                                                            rejected_by_code.end());
    std::sort(codes.begin(), codes.end(),
              [](const auto& a, const auto& b) { return a.second > b.second; });
    std::string top;
    for (std::size_t i = 0; i < codes.size() && i < 3; ++i) {
        top += fmt::format("{}{} {}", i == 0 ? "" : ", ", codes[i].first, codes[i].second);
    }
    throw Error(
        ErrorKind::source,
        fmt::format("rejection brake: {} of {} rows of batch {} ({:.0f}%) failed validation, "
                    "above ORDERS_PIPELINE_MAX_REJECT_RATIO={}; top codes: {}; nothing of this "
                    "batch was loaded and the checkpoint did not move; its rejected rows are in {}",
                    rejected, extracted, batch_number,
                    100.0 * static_cast<double>(rejected) / static_cast<double>(extracted),
                    *config.max_reject_ratio, top, dlq.path().string()),
        {}, {},
        "look at the DLQ file (codes above): fix the upstream data or the rules and rerun, or "
        "raise/unset ORDERS_PIPELINE_MAX_REJECT_RATIO to load the valid rows anyway");
}

// Logs what the next window waits for; loudly when the cap cut it short.
void log_hold_back(const Config& config, const Sighting& seen, const HoldBack& hold_back) {
    LogFields waiting = LogFields::array();
    for (const OpenTransaction& t : hold_back.waiting) {
        if (waiting.size() == 10) {
            break;
        }
        waiting.push_back(describe(t));
    }
    LogFields fields = {
        {"event", hold_back.capped ? "holdback_capped" : "holdback"},
        {"mode", to_string(hold_back.mode)},
        {"holdback_seconds", hold_back_seconds(hold_back, seen.at)},
        {"oldest_transaction_seconds", oldest_transaction_seconds(seen.open, seen.at)},
        {"transactions", hold_back.waiting.size()},
        {"waiting", std::move(waiting)}};
    if (hold_back.capped) {
        log_warning(fmt::format("an open source transaction is older than "
                                "ORDERS_PIPELINE_HOLDBACK_MAX_MINUTES ({} min): rows it writes "
                                "with an updated_at older than that can be missed; end it, or "
                                "backfill its days after it commits",
                                config.holdback_max_minutes),
                    fields);
    } else {
        log_info("the next window reaches back for transactions still open", fields);
    }
}

}  // namespace pipeline
