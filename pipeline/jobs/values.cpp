// pipeline/jobs/values.cpp: PostgreSQL binary formats (send/recv) decoded into text, JSON and
// Snowflake's input forms.
#include "pipeline/jobs/values.hpp"

#include <fmt/format.h>

#include <array>
#include <bit>
#include <charconv>
#include <cstring>
#include <limits>

namespace pipeline {

namespace {

// Microseconds and days between 1970-01-01 and PostgreSQL's epoch, 2000-01-01.
constexpr std::int64_t pg_epoch_micros = 946'684'800'000'000;
constexpr std::int64_t pg_epoch_days = 10'957;

enum class Form { pg_text, json, snowflake };

/// Reads big-endian integers off the front of a byte range.
class Bytes {
public:
    explicit Bytes(std::string_view bytes) : rest_(bytes) {}

    template <class T>
    bool read(T& value) {
        if (rest_.size() < sizeof(T)) {
            return false;
        }
        std::make_unsigned_t<T> v = 0;
        for (std::size_t i = 0; i < sizeof(T); ++i) {
            v = static_cast<std::make_unsigned_t<T>>((v << 8) |
                                                     static_cast<unsigned char>(rest_[i]));
        }
        value = static_cast<T>(v);
        rest_.remove_prefix(sizeof(T));
        return true;
    }
    bool take(std::size_t n, std::string_view& out) {
        if (rest_.size() < n) {
            return false;
        }
        out = rest_.substr(0, n);
        rest_.remove_prefix(n);
        return true;
    }
    bool empty() const noexcept { return rest_.empty(); }
    std::string_view rest() const noexcept { return rest_; }

private:
    std::string_view rest_;
};

template <class T>
bool whole(std::string_view bytes, T& value) {
    Bytes b(bytes);
    return b.read(value) && b.empty();
}

void append_int(std::string& out, std::int64_t value) {
    std::array<char, 24> buffer{};
    const auto r = std::to_chars(buffer.data(), buffer.data() + buffer.size(), value);
    out.append(buffer.data(), r.ptr);
}

void append_padded(std::string& out, std::int64_t value, int width) {
    std::array<char, 24> buffer{};
    const auto r = std::to_chars(buffer.data(), buffer.data() + buffer.size(), value);
    for (auto n = r.ptr - buffer.data(); n < width; ++n) {
        out += '0';
    }
    out.append(buffer.data(), r.ptr);
}

bool append_numeric(std::string_view bytes, std::string& out, bool special_as_string) {
    Bytes b(bytes);
    std::int16_t ndigits = 0;
    std::int16_t weight = 0;
    std::uint16_t sign = 0;
    std::uint16_t dscale = 0;
    if (!b.read(ndigits) || !b.read(weight) || !b.read(sign) || !b.read(dscale) || ndigits < 0) {
        return false;
    }
    const auto special = [&](std::string_view text) {
        if (special_as_string) {
            out += '"';
            out += text;
            out += '"';
        } else {
            out += text;
        }
        return b.empty();
    };
    if (sign == 0xC000) {
        return special("NaN");
    }
    if (sign == 0xD000) {
        return special("Infinity");
    }
    if (sign == 0xF000) {
        return special("-Infinity");
    }
    if (sign != 0x0000 && sign != 0x4000) {
        return false;
    }
    std::array<std::int16_t, 1024> digits{};
    if (static_cast<std::size_t>(ndigits) > digits.size()) {
        return false;
    }
    for (int i = 0; i < ndigits; ++i) {
        if (!b.read(digits[static_cast<std::size_t>(i)]) ||
            digits[static_cast<std::size_t>(i)] < 0 || digits[static_cast<std::size_t>(i)] > 9999) {
            return false;
        }
    }
    if (!b.empty()) {
        return false;
    }
    const auto group = [&](int index) -> int {
        return index >= 0 && index < ndigits ? digits[static_cast<std::size_t>(index)] : 0;
    };
    if (sign == 0x4000 && ndigits > 0) {
        out += '-';
    }
    // Integer part: groups 0..weight.
    if (weight < 0 || ndigits == 0) {
        out += '0';
    } else {
        append_int(out, group(0));
        for (int i = 1; i <= weight; ++i) {
            append_padded(out, group(i), 4);
        }
    }
    if (dscale > 0) {
        out += '.';
        std::string fraction;
        for (int i = weight + 1; static_cast<int>(fraction.size()) < dscale; ++i) {
            append_padded(fraction, group(i), 4);
        }
        out.append(fraction, 0, dscale);
    }
    return true;
}

template <class Float, class Bits>
bool append_float(std::string_view bytes, std::string& out, Form form) {
    Bits bits = 0;
    if (!whole(bytes, bits)) {
        return false;
    }
    const Float value = std::bit_cast<Float>(bits);
    // Not numbers in JSON; Snowflake's FLOAT reads 'NaN', 'inf' and '-inf'.
    const bool infinite = value == std::numeric_limits<Float>::infinity() ||
                          value == -std::numeric_limits<Float>::infinity();
    if (value != value || infinite) {
        const std::string_view text = value != value ? "NaN"
                                      : form == Form::snowflake
                                          ? (value < 0 ? "-inf" : "inf")
                                          : (value < 0 ? "-Infinity" : "Infinity");
        if (form == Form::json) {
            out += '"';
            out += text;
            out += '"';
        } else {
            out += text;
        }
        return true;
    }
    // PostgreSQL prints the shortest digits that read back exactly, in exponent form only
    // when the exponent is below -4 or at least the type's precision (15 digits for a
    // double, 6 for a real): 100000 and 0.0001, but 1e+15 and 1e-05.
    std::array<char, 64> buffer{};
    const auto sci = std::to_chars(buffer.data(), buffer.data() + buffer.size(), value,
                                   std::chars_format::scientific);
    const std::string_view text(buffer.data(), static_cast<std::size_t>(sci.ptr - buffer.data()));
    const auto e = text.find('e');
    int exponent = 0;
    std::from_chars(text.data() + e + (text[e + 1] == '+' ? 2 : 1), text.data() + text.size(),
                    exponent);
    constexpr int precision = sizeof(Float) == 4 ? 6 : 15;
    if (exponent < -4 || exponent >= precision) {
        out += text;
        return true;
    }
    const auto fixed = std::to_chars(buffer.data(), buffer.data() + buffer.size(), value,
                                     std::chars_format::fixed);
    out.append(buffer.data(), fixed.ptr);
    return true;
}

// "YYYY-MM-DD"; returns true for a date before year 1, written as PostgreSQL does: the year
// counted back from 1 BC (year 0 is 1 BC), the caller appending " BC" after the time.
bool append_date_text(std::string& out, std::int64_t days_since_1970) {
    const CivilDate d = civil_from_days(days_since_1970);
    const bool bc = d.year <= 0;
    append_padded(out, bc ? 1 - d.year : d.year, 4);
    out += '-';
    append_padded(out, d.month, 2);
    out += '-';
    append_padded(out, d.day, 2);
    return bc;
}

void append_time_of_day(std::string& out, std::int64_t micros, bool all_six) {
    append_padded(out, micros / 3'600'000'000, 2);
    out += ':';
    append_padded(out, micros / 60'000'000 % 60, 2);
    out += ':';
    append_padded(out, micros / 1'000'000 % 60, 2);
    std::int64_t fraction = micros % 1'000'000;
    if (fraction == 0 && !all_six) {
        return;
    }
    out += '.';
    std::string digits;
    append_padded(digits, fraction, 6);
    if (!all_six) {
        while (!digits.empty() && digits.back() == '0') {
            digits.pop_back();
        }
    }
    out += digits;
}

bool append_timestamp(std::string_view bytes, std::string& out, bool with_zone, Form form) {
    std::int64_t v = 0;
    if (!whole(bytes, v)) {
        return false;
    }
    const bool quote = form == Form::json;
    if (v == std::numeric_limits<std::int64_t>::max() ||
        v == std::numeric_limits<std::int64_t>::min()) {
        out += quote ? "\"" : "";
        out += v > 0 ? "infinity" : "-infinity";
        out += quote ? "\"" : "";
        return true;
    }
    if (v > std::numeric_limits<std::int64_t>::max() - pg_epoch_micros) {
        return false;  // past PostgreSQL's own range (year 294276)
    }
    const std::int64_t micros = v + pg_epoch_micros;
    std::int64_t days = micros / 86'400'000'000;
    std::int64_t of_day = micros % 86'400'000'000;
    if (of_day < 0) {
        of_day += 86'400'000'000;
        --days;
    }
    out += quote ? "\"" : "";
    const bool bc = append_date_text(out, days);
    out += form == Form::json ? 'T' : ' ';
    append_time_of_day(out, of_day, form == Form::snowflake);
    if (with_zone) {
        out += form == Form::pg_text ? "+00" : form == Form::json ? "Z" : " +00:00";
    }
    out += bc ? " BC" : "";
    out += quote ? "\"" : "";
    return true;
}

constexpr std::string_view hex_digits = "0123456789abcdef";

void append_hex(std::string_view bytes, std::string& out) {
    for (const char c : bytes) {
        const auto u = static_cast<unsigned char>(c);
        out += hex_digits[u >> 4];
        out += hex_digits[u & 15];
    }
}

bool append_scalar(const ColumnType& type, std::string_view bytes, std::string& out, Form form);

// One level of a binary array: `dims[level]` elements (or sub-arrays).
bool append_array_level(const ColumnType& element, Bytes& b, const std::int32_t* dims, int ndim,
                        int level, std::string& out, Form form) {
    out += form == Form::pg_text ? '{' : '[';
    for (std::int32_t i = 0; i < dims[level]; ++i) {
        if (i > 0) {
            out += ',';
        }
        if (level + 1 < ndim) {
            if (!append_array_level(element, b, dims, ndim, level + 1, out, form)) {
                return false;
            }
            continue;
        }
        std::int32_t length = 0;
        if (!b.read(length)) {
            return false;
        }
        if (length < 0) {
            out += form == Form::pg_text ? "NULL" : "null";
            continue;
        }
        std::string_view value;
        if (!b.take(static_cast<std::size_t>(length), value)) {
            return false;
        }
        if (form == Form::pg_text) {
            // Array elements are quoted when they could be misread (PostgreSQL quotes
            // empty strings, NULL in any case, and text with braces, commas, quotes,
            // backslashes, white space).
            std::string text;
            if (!append_scalar(element, value, text, Form::pg_text)) {
                return false;
            }
            const bool null_word = text.size() == 4 && (text[0] | 0x20) == 'n' &&
                                   (text[1] | 0x20) == 'u' && (text[2] | 0x20) == 'l' &&
                                   (text[3] | 0x20) == 'l';
            const bool quote = text.empty() || null_word ||
                               text.find_first_of("{},\"\\ \t\n\r\v\f") != std::string::npos;
            if (!quote) {
                out += text;
                continue;
            }
            out += '"';
            for (const char c : text) {
                if (c == '"' || c == '\\') {
                    out += '\\';
                }
                out += c;
            }
            out += '"';
        } else if (!append_scalar(element, value, out, Form::json)) {
            return false;
        }
    }
    out += form == Form::pg_text ? '}' : ']';
    return true;
}

bool append_array(const ColumnType& type, std::string_view bytes, std::string& out, Form form) {
    Bytes b(bytes);
    std::int32_t ndim = 0;
    std::int32_t flags = 0;
    std::uint32_t element_oid = 0;
    if (!b.read(ndim) || !b.read(flags) || !b.read(element_oid) || ndim < 0 || ndim > 6) {
        return false;
    }
    std::array<std::int32_t, 6> dims{};
    for (int d = 0; d < ndim; ++d) {
        std::int32_t lower = 0;
        if (!b.read(dims[static_cast<std::size_t>(d)]) || !b.read(lower) ||
            dims[static_cast<std::size_t>(d)] < 0) {
            return false;
        }
    }
    if (ndim == 0) {
        out += form == Form::pg_text ? "{}" : "[]";
        return b.empty();
    }
    ColumnType element = type;
    element.array = false;
    // JSON (and Snowflake's ARRAY) has no multi-dimensional arrays: nested arrays stand in.
    return append_array_level(element, b, dims.data(), ndim, 0, out, form) && b.empty();
}

bool append_scalar(const ColumnType& type, std::string_view bytes, std::string& out, Form form) {
    const bool json = form == Form::json;
    switch (type.kind) {
        case ValueKind::int2:
        case ValueKind::int4:
        case ValueKind::int8: {
            const auto v = binary_integer(type.kind, bytes);
            if (!v) {
                return false;
            }
            append_int(out, *v);
            return true;
        }
        case ValueKind::numeric:
            return append_numeric(bytes, out, json);
        case ValueKind::float4:
            return append_float<float, std::uint32_t>(bytes, out, form);
        case ValueKind::float8:
            return append_float<double, std::uint64_t>(bytes, out, form);
        case ValueKind::text:
            if (json) {
                out += '"';
                append_json_escaped(bytes, out);
                out += '"';
            } else {
                out += bytes;
            }
            return true;
        case ValueKind::boolean:
            if (bytes.size() != 1) {
                return false;
            }
            out += form == Form::pg_text ? (bytes[0] != 0 ? "t" : "f")
                                         : (bytes[0] != 0 ? "true" : "false");
            return true;
        case ValueKind::date: {
            std::int32_t days = 0;
            if (!whole(bytes, days)) {
                return false;
            }
            out += json ? "\"" : "";
            if (days == std::numeric_limits<std::int32_t>::max() ||
                days == std::numeric_limits<std::int32_t>::min()) {
                out += days > 0 ? "infinity" : "-infinity";
            } else if (append_date_text(out, days + pg_epoch_days)) {
                out += " BC";
            }
            out += json ? "\"" : "";
            return true;
        }
        case ValueKind::time: {
            std::int64_t micros = 0;
            if (!whole(bytes, micros) || micros < 0 || micros > 86'400'000'000) {
                return false;
            }
            out += json ? "\"" : "";
            append_time_of_day(out, micros, form == Form::snowflake);
            out += json ? "\"" : "";
            return true;
        }
        case ValueKind::timestamp:
            return append_timestamp(bytes, out, false, form);
        case ValueKind::timestamptz:
            return append_timestamp(bytes, out, true, form);
        case ValueKind::uuid: {
            if (bytes.size() != 16) {
                return false;
            }
            out += json ? "\"" : "";
            for (std::size_t i = 0; i < 16; ++i) {
                if (i == 4 || i == 6 || i == 8 || i == 10) {
                    out += '-';
                }
                append_hex(bytes.substr(i, 1), out);
            }
            out += json ? "\"" : "";
            return true;
        }
        case ValueKind::json:
            out += bytes;  // json's binary form is its text (and a JSON value)
            return true;
        case ValueKind::jsonb:
            // Version 1, then the text.
            if (bytes.empty() || bytes[0] != 1) {
                return false;
            }
            out += bytes.substr(1);
            return true;
        case ValueKind::bytea:
            if (json) {
                out += "\"\\\\x";
            } else if (form == Form::pg_text) {
                out += "\\x";
            }
            append_hex(bytes, out);
            out += json ? "\"" : "";
            return true;
    }
    return false;
}

bool append_any(const ColumnType& type, std::string_view bytes, std::string& out, Form form) {
    if (type.array) {
        return append_array(type, bytes, out, form == Form::snowflake ? Form::json : form);
    }
    return append_scalar(type, bytes, out, form);
}

}  // namespace

bool append_pg_text(const ColumnType& type, std::string_view bytes, std::string& out) {
    return append_any(type, bytes, out, Form::pg_text);
}

bool append_json_value(const ColumnType& type, std::string_view bytes, std::string& out) {
    return append_any(type, bytes, out, Form::json);
}

bool append_snowflake_text(const ColumnType& type, std::string_view bytes, std::string& out) {
    return append_any(type, bytes, out, Form::snowflake);
}

bool snowflake_can_hold(const ColumnType& type, std::string_view bytes) {
    if (type.array) {
        return true;  // an ARRAY of JSON values: anything goes
    }
    // Years 1 to 9999, in days since 2000-01-01 (PostgreSQL's epoch).
    const std::int64_t first_day = days_from_civil({1, 1, 1}) - pg_epoch_days;
    const std::int64_t end_day = days_from_civil({10000, 1, 1}) - pg_epoch_days;
    switch (type.kind) {
        case ValueKind::date: {
            std::int32_t days = 0;
            return whole(bytes, days) && days >= first_day && days < end_day;
        }
        case ValueKind::timestamp:
        case ValueKind::timestamptz: {
            std::int64_t micros = 0;
            return whole(bytes, micros) && micros >= first_day * 86'400'000'000 &&
                   micros < end_day * 86'400'000'000;
        }
        case ValueKind::time: {
            std::int64_t micros = 0;
            return whole(bytes, micros) && micros < 86'400'000'000;
        }
        case ValueKind::numeric: {
            Bytes b(bytes);
            std::int16_t ndigits = 0;
            std::int16_t weight = 0;
            std::uint16_t sign = 0;
            if (!b.read(ndigits) || !b.read(weight) || !b.read(sign)) {
                return false;
            }
            if (sign != 0x0000 && sign != 0x4000) {
                return false;  // NaN, Infinity, -Infinity
            }
            if (type.sf_type != "NUMBER(38,9)" || ndigits == 0 || weight < 0) {
                return true;
            }
            // NUMBER(38,9) keeps 29 integer digits: the first group's, then 4 per group.
            std::uint16_t dscale = 0;
            std::int16_t first = 0;
            if (!b.read(dscale) || !b.read(first)) {
                return false;
            }
            const int first_digits = first >= 1000 ? 4 : first >= 100 ? 3 : first >= 10 ? 2 : 1;
            return first_digits + 4 * static_cast<int>(weight) <= 29;
        }
        default:
            return true;
    }
}

std::optional<std::int64_t> binary_integer(ValueKind kind, std::string_view bytes) {
    switch (kind) {
        case ValueKind::int2: {
            std::int16_t v = 0;
            return whole(bytes, v) ? std::optional<std::int64_t>(v) : std::nullopt;
        }
        case ValueKind::int4: {
            std::int32_t v = 0;
            return whole(bytes, v) ? std::optional<std::int64_t>(v) : std::nullopt;
        }
        case ValueKind::int8: {
            std::int64_t v = 0;
            return whole(bytes, v) ? std::optional<std::int64_t>(v) : std::nullopt;
        }
        default:
            return std::nullopt;
    }
}

std::optional<Timestamp> binary_timestamp(std::string_view bytes) {
    std::int64_t v = 0;
    if (!whole(bytes, v) || v == std::numeric_limits<std::int64_t>::min() ||
        v > std::numeric_limits<std::int64_t>::max() - pg_epoch_micros) {
        return std::nullopt;  // -infinity, infinity, or beyond what a Timestamp holds
    }
    return Timestamp{v + pg_epoch_micros};
}

void append_json_escaped(std::string_view text, std::string& out) {
    for (const char c : text) {
        const auto u = static_cast<unsigned char>(c);
        switch (c) {
            case '"':
                out += "\\\"";
                break;
            case '\\':
                out += "\\\\";
                break;
            case '\n':
                out += "\\n";
                break;
            case '\r':
                out += "\\r";
                break;
            case '\t':
                out += "\\t";
                break;
            case '\b':
                out += "\\b";
                break;
            case '\f':
                out += "\\f";
                break;
            default:
                if (u < 0x20) {
                    out += "\\u00";
                    out += hex_digits[u >> 4];
                    out += hex_digits[u & 15];
                } else {
                    out += c;
                }
        }
    }
}

}  // namespace pipeline
