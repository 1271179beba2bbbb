// pipeline/core/decimal.hpp: exact decimal numbers parsed from source text (spec §4, §5).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace pipeline {

/// An exact decimal: (negative ? -1 : 1) * digits * 10^exponent.
///
/// `digits` holds ASCII digits without leading or trailing zeros (trailing
/// zeros move into the exponent), so zero is the empty string and equal values
/// have equal representations. The exponent is saturated far beyond any
/// digit count, which keeps comparisons exact for absurd inputs like "1e99999999999999999999".
struct Decimal {
    bool negative = false;
    std::string digits;
    std::int64_t exponent = 0;

    bool is_zero() const noexcept { return digits.empty(); }
};

/// Parses the spec's number grammar: optional ASCII whitespace around, an
/// optional sign, digits with an optional '.' fraction (at least one digit),
/// an optional exponent. Anything else (empty, "12,50", "1_000", "NaN",
/// "Infinity", non-ASCII digits) is nullopt.
std::optional<Decimal> parse_decimal(std::string_view text);

/// Exact three-way comparison: negative, zero or positive like a - b.
int compare(const Decimal& a, const Decimal& b) noexcept;

/// The Decimal holding the integer `value`.
Decimal decimal_from_int(std::int64_t value);

/// `value` rounded half away from zero to `scale` fraction digits, as an
/// integer count of 10^-scale units; nullopt when the magnitude of that
/// integer would reach `limit`.
std::optional<std::int64_t> round_to_scale(const Decimal& value, int scale, std::int64_t limit);

/// Fixed-point text of `units` * 10^-scale, e.g. (12345, 2) -> "123.45", (-5, 1) -> "-0.5".
std::string format_fixed(std::int64_t units, int scale);

}  // namespace pipeline
