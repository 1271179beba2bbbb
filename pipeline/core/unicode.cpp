// pipeline/core/unicode.cpp: UTF-8 decoding, whitespace set and lower-case table lookup.
#include "pipeline/core/unicode.hpp"

#include <algorithm>
#include <array>
#include <cstdint>
#include <optional>

namespace pipeline {

namespace {

// A-Z -> a-z; every other byte unchanged.
void lower_ascii_in_place(std::string& text) {
    for (char& c : text) {
        c = c >= 'A' && c <= 'Z' ? static_cast<char>(c + ('a' - 'A')) : c;
    }
}

struct LowerRun {
    char32_t first;
    std::uint32_t count;
    std::uint32_t stride;
    std::int32_t delta;
};

constexpr LowerRun lower_runs[] = {
#include "pipeline/core/unicode_lower_table.inc"
};

struct Decoded {
    char32_t cp;
    std::size_t length;
};

// Decodes one well-formed UTF-8 sequence at the start of `s`; nullopt for a
// malformed, overlong, surrogate or truncated sequence.
std::optional<Decoded> decode_utf8(std::string_view s) noexcept {
    const auto b0 = static_cast<unsigned char>(s[0]);
    if (b0 < 0x80) {
        return Decoded{b0, 1};
    }
    std::size_t length = 0;
    char32_t cp = 0;
    char32_t min_cp = 0;
    if ((b0 & 0xE0) == 0xC0) {
        length = 2;
        cp = b0 & 0x1Fu;
        min_cp = 0x80;
    } else if ((b0 & 0xF0) == 0xE0) {
        length = 3;
        cp = b0 & 0x0Fu;
        min_cp = 0x800;
    } else if ((b0 & 0xF8) == 0xF0) {
        length = 4;
        cp = b0 & 0x07u;
        min_cp = 0x10000;
    } else {
        return std::nullopt;
    }
    if (s.size() < length) {
        return std::nullopt;
    }
    for (std::size_t i = 1; i < length; ++i) {
        const auto b = static_cast<unsigned char>(s[i]);
        if ((b & 0xC0) != 0x80) {
            return std::nullopt;
        }
        cp = (cp << 6) | (b & 0x3Fu);
    }
    if (cp < min_cp || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) {
        return std::nullopt;
    }
    return Decoded{cp, length};
}

void append_utf8(std::string& out, char32_t cp) {
    if (cp < 0x80) {
        out.push_back(static_cast<char>(cp));
    } else if (cp < 0x800) {
        out.push_back(static_cast<char>(0xC0 | (cp >> 6)));
        out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
    } else if (cp < 0x10000) {
        out.push_back(static_cast<char>(0xE0 | (cp >> 12)));
        out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
        out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
    } else {
        out.push_back(static_cast<char>(0xF0 | (cp >> 18)));
        out.push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
        out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
        out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
    }
}

char32_t simple_lower(char32_t cp) noexcept {
    // Last run whose first code point is <= cp.
    auto it =
        std::upper_bound(std::begin(lower_runs), std::end(lower_runs), cp,
                         [](char32_t value, const LowerRun& run) { return value < run.first; });
    if (it == std::begin(lower_runs)) {
        return cp;
    }
    const LowerRun& run = *(it - 1);
    const char32_t offset = cp - run.first;
    if (offset % run.stride != 0 || offset / run.stride >= run.count) {
        return cp;
    }
    return static_cast<char32_t>(static_cast<std::int64_t>(cp) + run.delta);
}

// Start of the code point that ends at `end` (exclusive), or end-1 when the
// bytes before `end` are not a well-formed sequence.
std::size_t previous_start(std::string_view text, std::size_t end) noexcept {
    std::size_t start = end - 1;
    while (start > 0 && end - start < 4 &&
           (static_cast<unsigned char>(text[start]) & 0xC0) == 0x80) {
        --start;
    }
    auto decoded = decode_utf8(text.substr(start, end - start));
    if (decoded && start + decoded->length == end) {
        return start;
    }
    return end - 1;
}

}  // namespace

bool is_python_space(char32_t cp) noexcept {
    if (cp <= 0x20) {
        return cp == 0x20 || (cp >= 0x09 && cp <= 0x0D) || (cp >= 0x1C && cp <= 0x1F);
    }
    if (cp < 0x85) {
        return false;
    }
    return cp == 0x85 || cp == 0xA0 || cp == 0x1680 || (cp >= 0x2000 && cp <= 0x200A) ||
           cp == 0x2028 || cp == 0x2029 || cp == 0x202F || cp == 0x205F || cp == 0x3000;
}

std::string_view trim_unicode(std::string_view text) noexcept {
    // Fast path: both ends are ASCII and not spaces (the common case).
    const auto is_ascii_word = [](char c) {
        const auto b = static_cast<unsigned char>(c);
        return b < 0x80 && !is_python_space(b);
    };
    if (text.empty() || (is_ascii_word(text.front()) && is_ascii_word(text.back()))) {
        return text;
    }
    std::size_t begin = 0;
    while (begin < text.size()) {
        auto decoded = decode_utf8(text.substr(begin));
        if (!decoded || !is_python_space(decoded->cp)) {
            break;
        }
        begin += decoded->length;
    }
    std::size_t end = text.size();
    while (end > begin) {
        const std::size_t start = previous_start(text, end);
        auto decoded = decode_utf8(text.substr(start, end - start));
        if (!decoded || decoded->length != end - start || !is_python_space(decoded->cp)) {
            break;
        }
        end = start;
    }
    return text.substr(begin, end - begin);
}

void lower_unicode_into(std::string& out, std::string_view text) {
    // Fast path: ASCII only (the common case), lowered in place after one copy.
    bool ascii = true;
    for (const char c : text) {
        ascii = ascii && static_cast<unsigned char>(c) < 0x80;
    }
    out.assign(text);
    if (ascii) {
        lower_ascii_in_place(out);
        return;
    }
    out.clear();
    std::size_t i = 0;
    while (i < text.size()) {
        const auto byte = static_cast<unsigned char>(text[i]);
        if (byte < 0x80) {
            out.push_back(byte >= 'A' && byte <= 'Z' ? static_cast<char>(byte + 32)
                                                     : static_cast<char>(byte));
            ++i;
            continue;
        }
        auto decoded = decode_utf8(text.substr(i));
        if (!decoded) {
            out.push_back(text[i]);
            ++i;
            continue;
        }
        if (decoded->cp == 0x0130) {
            // The one unconditional special casing: LATIN CAPITAL LETTER I WITH DOT ABOVE.
            out.push_back('i');
            append_utf8(out, 0x0307);
        } else {
            append_utf8(out, simple_lower(decoded->cp));
        }
        i += decoded->length;
    }
}

std::string lower_unicode(std::string_view text) {
    std::string out;
    lower_unicode_into(out, text);
    return out;
}

std::string ascii_lower(std::string_view text) {
    std::string out(text);
    lower_ascii_in_place(out);
    return out;
}

std::string ascii_upper(std::string_view text) {
    std::string out(text);
    for (char& c : out) {
        c = c >= 'a' && c <= 'z' ? static_cast<char>(c - ('a' - 'A')) : c;
    }
    return out;
}

std::string_view trim_ascii(std::string_view text) noexcept {
    while (!text.empty() && (text.front() == ' ' || text.front() == '\t' || text.front() == '\r')) {
        text.remove_prefix(1);
    }
    while (!text.empty() && (text.back() == ' ' || text.back() == '\t' || text.back() == '\r')) {
        text.remove_suffix(1);
    }
    return text;
}

}  // namespace pipeline
