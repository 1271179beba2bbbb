// pipeline/core/timestamp.cpp: civil-date arithmetic and ISO-8601 text.
#include "pipeline/core/timestamp.hpp"

#include <fmt/format.h>

#include <chrono>

namespace pipeline {

namespace {

// Floor division for the negative instants before 1970.
std::int64_t floor_div(std::int64_t a, std::int64_t b) noexcept {
    std::int64_t q = a / b;
    if ((a % b != 0) && ((a < 0) != (b < 0))) {
        --q;
    }
    return q;
}

bool is_leap(int year) noexcept {
    return (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
}

int days_in_month(int year, int month) noexcept {
    static constexpr int lengths[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    return month == 2 && is_leap(year) ? 29 : lengths[month - 1];
}

// Reads exactly `count` ASCII digits at `pos`, advancing it.
[[gnu::always_inline]] inline std::optional<int> read_digits(std::string_view text,
                                                             std::size_t& pos, std::size_t count) {
    if (pos + count > text.size()) {
        return std::nullopt;
    }
    int value = 0;
    for (std::size_t i = 0; i < count; ++i) {
        const char c = text[pos + i];
        if (c < '0' || c > '9') {
            return std::nullopt;
        }
        value = value * 10 + (c - '0');
    }
    pos += count;
    return value;
}

[[gnu::always_inline]] inline bool consume(std::string_view text, std::size_t& pos, char expected) {
    if (pos < text.size() && text[pos] == expected) {
        ++pos;
        return true;
    }
    return false;
}

std::optional<CivilDate> read_date(std::string_view text, std::size_t& pos) {
    auto year = read_digits(text, pos, 4);
    if (!year || !consume(text, pos, '-')) {
        return std::nullopt;
    }
    auto month = read_digits(text, pos, 2);
    if (!month || !consume(text, pos, '-')) {
        return std::nullopt;
    }
    auto day = read_digits(text, pos, 2);
    if (!day || *year < 1 || *month < 1 || *month > 12 || *day < 1 ||
        *day > days_in_month(*year, *month)) {
        return std::nullopt;
    }
    return CivilDate{*year, *month, *day};
}

// Parses the offset at `pos` (to the end of text) into seconds east of UTC.
std::optional<int> read_offset(std::string_view text, std::size_t& pos) {
    if (consume(text, pos, 'Z') || consume(text, pos, 'z')) {
        return 0;
    }
    int sign = 0;
    if (consume(text, pos, '+')) {
        sign = 1;
    } else if (consume(text, pos, '-')) {
        sign = -1;
    } else {
        return std::nullopt;
    }
    auto hours = read_digits(text, pos, 2);
    if (!hours || *hours > 23) {
        return std::nullopt;
    }
    int minutes = 0;
    int seconds = 0;
    if (pos < text.size()) {
        const bool colon = consume(text, pos, ':');
        auto mm = read_digits(text, pos, 2);
        if (!mm || *mm > 59) {
            return std::nullopt;
        }
        minutes = *mm;
        if (colon && consume(text, pos, ':')) {
            auto ss = read_digits(text, pos, 2);
            if (!ss || *ss > 59) {
                return std::nullopt;
            }
            seconds = *ss;
        }
    }
    return sign * (*hours * 3600 + minutes * 60 + seconds);
}

}  // namespace

std::int64_t days_from_civil(CivilDate date) noexcept {
    // Shift the year to start in March so the leap day is the year's last day.
    const std::int64_t y = date.year - (date.month <= 2 ? 1 : 0);
    const std::int64_t era = floor_div(y, 400);
    const std::int64_t year_of_era = y - era * 400;
    const std::int64_t shifted_month = (date.month + 9) % 12;  // March = 0
    const std::int64_t day_of_year = (153 * shifted_month + 2) / 5 + date.day - 1;
    const std::int64_t day_of_era =
        year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    return era * 146097 + day_of_era - 719468;  // 719468 = days from 0000-03-01 to 1970-01-01
}

CivilDate civil_from_days(std::int64_t days) noexcept {
    const std::int64_t z = days + 719468;
    const std::int64_t era = floor_div(z, 146097);
    const std::int64_t day_of_era = z - era * 146097;
    const std::int64_t year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36524 - day_of_era / 146096) / 365;
    const std::int64_t day_of_year =
        day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    const std::int64_t shifted_month = (5 * day_of_year + 2) / 153;
    const auto day = static_cast<int>(day_of_year - (153 * shifted_month + 2) / 5 + 1);
    const auto month = static_cast<int>(shifted_month < 10 ? shifted_month + 3 : shifted_month - 9);
    const auto year = static_cast<int>(year_of_era + era * 400 + (month <= 2 ? 1 : 0));
    return CivilDate{year, month, day};
}

std::optional<Timestamp> parse_timestamp(std::string_view text, OffsetRule rule) {
    std::size_t pos = 0;
    auto date = read_date(text, pos);
    if (!date) {
        return std::nullopt;
    }
    std::int64_t micros = days_from_civil(*date) * micros_per_day;
    if (pos == text.size()) {
        return rule == OffsetRule::required ? std::nullopt : std::optional(Timestamp{micros});
    }
    if (!consume(text, pos, 'T') && !consume(text, pos, 't') && !consume(text, pos, ' ')) {
        return std::nullopt;
    }
    auto hour = read_digits(text, pos, 2);
    if (!hour || *hour > 23 || !consume(text, pos, ':')) {
        return std::nullopt;
    }
    auto minute = read_digits(text, pos, 2);
    if (!minute || *minute > 59) {
        return std::nullopt;
    }
    int second = 0;
    std::int64_t fraction = 0;
    if (consume(text, pos, ':')) {
        auto ss = read_digits(text, pos, 2);
        if (!ss || *ss > 59) {
            return std::nullopt;
        }
        second = *ss;
        if (consume(text, pos, '.') || consume(text, pos, ',')) {
            std::size_t digits = 0;
            while (pos < text.size() && text[pos] >= '0' && text[pos] <= '9') {
                if (digits < 6) {
                    fraction = fraction * 10 + (text[pos] - '0');
                }
                ++digits;
                ++pos;
            }
            if (digits == 0 || digits > 9) {
                return std::nullopt;
            }
            for (std::size_t i = digits; i < 6; ++i) {
                fraction *= 10;
            }
        }
    }
    micros += (*hour * 3600LL + *minute * 60LL + second) * micros_per_second + fraction;
    if (pos == text.size()) {
        return rule == OffsetRule::required ? std::nullopt : std::optional(Timestamp{micros});
    }
    auto offset = read_offset(text, pos);
    if (!offset || pos != text.size()) {
        return std::nullopt;
    }
    micros -= static_cast<std::int64_t>(*offset) * micros_per_second;
    return Timestamp{micros};
}

std::optional<CivilDate> parse_date(std::string_view text) {
    std::size_t pos = 0;
    auto date = read_date(text, pos);
    if (!date || pos != text.size()) {
        return std::nullopt;
    }
    return date;
}

UtcParts utc_parts(Timestamp ts) noexcept {
    const std::int64_t days = floor_div(ts.micros, micros_per_day);
    const std::int64_t in_day = ts.micros - days * micros_per_day;
    const std::int64_t seconds = in_day / micros_per_second;
    UtcParts parts;
    parts.date = civil_from_days(days);
    parts.hour = static_cast<int>(seconds / 3600);
    parts.minute = static_cast<int>((seconds / 60) % 60);
    parts.second = static_cast<int>(seconds % 60);
    parts.micros = static_cast<int>(in_day % micros_per_second);
    return parts;
}

Timestamp now_utc() {
    using namespace std::chrono;
    return Timestamp{duration_cast<microseconds>(system_clock::now().time_since_epoch()).count()};
}

Timestamp start_of_day(CivilDate date) noexcept {
    return Timestamp{days_from_civil(date) * micros_per_day};
}

std::string format_date(CivilDate date) {
    return fmt::format("{:04d}-{:02d}-{:02d}", date.year, date.month, date.day);
}

std::string format_timestamp(Timestamp ts) {
    const UtcParts p = utc_parts(ts);
    return fmt::format("{:04d}-{:02d}-{:02d}T{:02d}:{:02d}:{:02d}.{:06d}Z", p.date.year,
                       p.date.month, p.date.day, p.hour, p.minute, p.second, p.micros);
}

}  // namespace pipeline
