// pipeline/core/unicode.hpp: the spec's text rules (spec §4): Python-style trim and lower-case.
#pragma once

#include <string>
#include <string_view>

namespace pipeline {

/// True for the code points Python's str.isspace() accepts.
bool is_python_space(char32_t cp) noexcept;

/// `text` without leading and trailing Python whitespace. Invalid UTF-8 bytes
/// are treated as non-space characters (never removed).
std::string_view trim_unicode(std::string_view text) noexcept;

/// Python's str.lower() on UTF-8 text: the Unicode simple lower-case mapping
/// plus U+0130 -> "i\u0307". Invalid UTF-8 bytes are copied unchanged.
std::string lower_unicode(std::string_view text);

/// lower_unicode() into `out` (replacing its text, reusing its storage).
void lower_unicode_into(std::string& out, std::string_view text);

/// ASCII-only case mapping (A-Z <-> a-z); other bytes pass through. For
/// identifiers, URL schemes and keywords, not for data.
std::string ascii_lower(std::string_view text);
std::string ascii_upper(std::string_view text);

/// `text` without leading and trailing spaces, tabs and carriage returns.
std::string_view trim_ascii(std::string_view text) noexcept;

}  // namespace pipeline
