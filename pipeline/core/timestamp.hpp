// pipeline/core/timestamp.hpp: UTC instants as integer microseconds, ISO-8601 parse/format.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace pipeline {

/// An instant: microseconds since 1970-01-01T00:00:00Z. Exact, no time zone.
struct Timestamp {
    std::int64_t micros = 0;
    auto operator<=>(const Timestamp&) const = default;
};

inline constexpr std::int64_t micros_per_second = 1'000'000;
inline constexpr std::int64_t micros_per_minute = 60 * micros_per_second;
inline constexpr std::int64_t micros_per_day = 86'400 * micros_per_second;

/// A calendar date (proleptic Gregorian).
struct CivilDate {
    int year = 1970;
    int month = 1;
    int day = 1;
    auto operator<=>(const CivilDate&) const = default;
};

/// Parts of an instant in UTC.
struct UtcParts {
    CivilDate date;
    int hour = 0;
    int minute = 0;
    int second = 0;
    int micros = 0;
};

/// Whether text without an offset ("2026-01-01 10:00:00") is accepted (as UTC).
enum class OffsetRule { required, assume_utc };

/// Parses "YYYY-MM-DD[T| ]HH:MM[:SS[.fraction]][offset]", offset being `Z`,
/// `+HH`, `+HHMM`, `+HH:MM` or `+HH:MM:SS` (PostgreSQL's ISO output is
/// accepted). A bare date "YYYY-MM-DD" is midnight. Years 1..9999 only.
/// Fractions beyond microseconds are truncated. nullopt when malformed, or
/// when the offset is missing and `rule` is `required`.
std::optional<Timestamp> parse_timestamp(std::string_view text, OffsetRule rule);

/// Parses "YYYY-MM-DD" strictly.
std::optional<CivilDate> parse_date(std::string_view text);

/// "YYYY-MM-DDTHH:MM:SS.ffffffZ" (always six fraction digits, always UTC).
std::string format_timestamp(Timestamp ts);

/// "YYYY-MM-DD".
std::string format_date(CivilDate date);

/// The UTC calendar parts of `ts`.
UtcParts utc_parts(Timestamp ts) noexcept;

/// Wall-clock now. The one place the clock is read; pure modules never call it.
Timestamp now_utc();

/// Seconds from `from` to `to` (negative when `to` is earlier). Pure.
inline double seconds_between(Timestamp from, Timestamp to) noexcept {
    return static_cast<double>(to.micros - from.micros) / static_cast<double>(micros_per_second);
}

/// Seconds elapsed since `start` on the monotonic clock: stage timings.
inline double seconds_since(std::chrono::steady_clock::time_point start) noexcept {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

/// Midnight UTC at the start of `date`.
Timestamp start_of_day(CivilDate date) noexcept;

/// Days since 1970-01-01 for a civil date (negative before).
std::int64_t days_from_civil(CivilDate date) noexcept;

/// The civil date `days` after 1970-01-01.
CivilDate civil_from_days(std::int64_t days) noexcept;

}  // namespace pipeline
