// pipeline/core/decimal.cpp: decimal grammar, comparison and rounding.
#include "pipeline/core/decimal.hpp"

#include <fmt/format.h>

#include <cstdlib>

namespace pipeline {

namespace {

// Exponents are clamped to this magnitude: far beyond any digit count a
// string can have, so ordering and rounding stay exact.
constexpr std::int64_t exponent_clamp = 1'000'000'000'000'000LL;

bool is_ascii_space(char c) {
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}

bool is_digit(char c) {
    return c >= '0' && c <= '9';
}

std::int64_t clamp_add(std::int64_t a, std::int64_t b) {
    const std::int64_t sum = a + b;  // both operands are within +/- 2*clamp: no overflow
    if (sum > exponent_clamp) {
        return exponent_clamp;
    }
    if (sum < -exponent_clamp) {
        return -exponent_clamp;
    }
    return sum;
}

}  // namespace

std::optional<Decimal> parse_decimal(std::string_view text) {
    while (!text.empty() && is_ascii_space(text.front())) {
        text.remove_prefix(1);
    }
    while (!text.empty() && is_ascii_space(text.back())) {
        text.remove_suffix(1);
    }
    std::size_t pos = 0;
    Decimal result;
    if (pos < text.size() && (text[pos] == '+' || text[pos] == '-')) {
        result.negative = text[pos] == '-';
        ++pos;
    }
    const std::size_t integer_start = pos;
    while (pos < text.size() && is_digit(text[pos])) {
        ++pos;
    }
    const std::string_view integer_part = text.substr(integer_start, pos - integer_start);
    std::string_view fraction_part;
    if (pos < text.size() && text[pos] == '.') {
        const std::size_t fraction_start = ++pos;
        while (pos < text.size() && is_digit(text[pos])) {
            ++pos;
        }
        fraction_part = text.substr(fraction_start, pos - fraction_start);
    }
    const auto fraction_digits = static_cast<std::int64_t>(fraction_part.size());
    if (integer_part.empty() && fraction_part.empty()) {
        return std::nullopt;
    }
    std::int64_t exponent = 0;
    if (pos < text.size() && (text[pos] == 'e' || text[pos] == 'E')) {
        ++pos;
        bool exponent_negative = false;
        if (pos < text.size() && (text[pos] == '+' || text[pos] == '-')) {
            exponent_negative = text[pos] == '-';
            ++pos;
        }
        const std::size_t start = pos;
        while (pos < text.size() && is_digit(text[pos])) {
            if (exponent < exponent_clamp) {
                exponent = exponent * 10 + (text[pos] - '0');
            }
            ++pos;
        }
        if (pos == start) {
            return std::nullopt;
        }
        exponent = std::min(exponent, exponent_clamp);
        if (exponent_negative) {
            exponent = -exponent;
        }
    }
    if (pos != text.size()) {
        return std::nullopt;
    }
    // Normalise: strip leading zeros, move trailing zeros into the exponent.
    std::string mantissa;  // all digits, integer part then fraction
    mantissa.reserve(integer_part.size() + fraction_part.size());
    mantissa.append(integer_part).append(fraction_part);
    const std::size_t first = mantissa.find_first_not_of('0');
    if (first == std::string::npos) {
        result.negative = false;  // -0 is zero
        return result;
    }
    const std::size_t last = mantissa.find_last_not_of('0');
    const auto trailing = static_cast<std::int64_t>(mantissa.size() - 1 - last);
    mantissa.erase(last + 1);
    mantissa.erase(0, first);
    result.digits = std::move(mantissa);
    result.exponent = clamp_add(exponent, trailing - fraction_digits);
    return result;
}

int compare(const Decimal& a, const Decimal& b) noexcept {
    if (a.is_zero() && b.is_zero()) {
        return 0;
    }
    const int sign_a = a.is_zero() ? 0 : (a.negative ? -1 : 1);
    const int sign_b = b.is_zero() ? 0 : (b.negative ? -1 : 1);
    if (sign_a != sign_b) {
        return sign_a < sign_b ? -1 : 1;
    }
    // Same non-zero sign: compare magnitudes via the position of the leading digit.
    const auto adjusted_a = static_cast<std::int64_t>(a.digits.size()) + a.exponent;
    const auto adjusted_b = static_cast<std::int64_t>(b.digits.size()) + b.exponent;
    int magnitude = 0;
    if (adjusted_a != adjusted_b) {
        magnitude = adjusted_a < adjusted_b ? -1 : 1;
    } else {
        const int c = a.digits.compare(b.digits);  // no trailing zeros: lexicographic is numeric
        magnitude = c < 0 ? -1 : (c > 0 ? 1 : 0);
    }
    return sign_a > 0 ? magnitude : -magnitude;
}

Decimal decimal_from_int(std::int64_t value) {
    auto parsed = parse_decimal(std::to_string(value));
    return parsed.value_or(Decimal{});  // to_string always yields valid grammar
}

std::optional<std::int64_t> round_to_scale(const Decimal& value, int scale, std::int64_t limit) {
    if (value.is_zero()) {
        return 0;
    }
    // value * 10^scale = digits * 10^shift
    const std::int64_t shift = value.exponent + scale;
    const auto length = static_cast<std::int64_t>(value.digits.size());
    constexpr std::int64_t max_int_digits = 18;    // any 18-digit number fits in int64
    std::int64_t integer_digits = length + shift;  // digits before the decimal point
    if (integer_digits > max_int_digits) {
        return std::nullopt;
    }
    std::int64_t units = 0;
    const std::int64_t kept = std::min(length, std::max<std::int64_t>(integer_digits, 0));
    for (std::int64_t i = 0; i < kept; ++i) {
        units = units * 10 + (value.digits[static_cast<std::size_t>(i)] - '0');
    }
    for (std::int64_t i = kept; i < integer_digits; ++i) {
        units *= 10;  // trailing zeros from a positive shift
    }
    // Half away from zero: the first dropped digit decides.
    if (integer_digits >= 0 && integer_digits < length &&
        value.digits[static_cast<std::size_t>(integer_digits)] >= '5') {
        ++units;
    }
    if (units >= limit) {
        return std::nullopt;
    }
    return value.negative ? -units : units;
}

std::string format_fixed(std::int64_t units, int scale) {
    const bool negative = units < 0;
    // Work on the magnitude as unsigned so INT64_MIN cannot overflow.
    const std::uint64_t magnitude =
        negative ? 0 - static_cast<std::uint64_t>(units) : static_cast<std::uint64_t>(units);
    std::uint64_t divisor = 1;
    for (int i = 0; i < scale; ++i) {
        divisor *= 10;
    }
    if (scale == 0) {
        return fmt::format("{}{}", negative ? "-" : "", magnitude);
    }
    return fmt::format("{}{}.{:0{}}", negative ? "-" : "", magnitude / divisor, magnitude % divisor,
                       scale);
}

}  // namespace pipeline
