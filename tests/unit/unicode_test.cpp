// tests/unit/unicode_test.cpp: Python's isspace()/strip()/lower() semantics on UTF-8.
#include "pipeline/core/unicode.hpp"

#include <gtest/gtest.h>

namespace {

TEST(UnicodeTest, WhitespaceSetMatchesPython) {
    for (char32_t cp : std::initializer_list<char32_t>{
             0x09, 0x0A, 0x0B,   0x0C,   0x0D,   0x1C,   0x1D,   0x1E,   0x1F,   0x20,
             0x85, 0xA0, 0x1680, 0x2000, 0x200A, 0x2028, 0x2029, 0x202F, 0x205F, 0x3000}) {
        EXPECT_TRUE(pipeline::is_python_space(cp)) << std::hex << static_cast<unsigned>(cp);
    }
    for (char32_t cp :
         std::initializer_list<char32_t>{0x08, 0x1B, 0x21, 0x84, 0x200B, 0x180E, 0xFEFF, 0x2060}) {
        EXPECT_FALSE(pipeline::is_python_space(cp)) << std::hex << static_cast<unsigned>(cp);
    }
}

TEST(UnicodeTest, TrimsUnicodeWhitespaceOnly) {
    EXPECT_EQ(pipeline::trim_unicode("\xe3\x80\x80 a b\xc2\x85\x1f"), "a b");
    EXPECT_EQ(pipeline::trim_unicode("\xe2\x80\x8bx"), "\xe2\x80\x8bx");
    EXPECT_EQ(pipeline::trim_unicode("   "), "");
    EXPECT_EQ(pipeline::trim_unicode(""), "");
    // A stray continuation byte is not whitespace and stops trimming.
    EXPECT_EQ(pipeline::trim_unicode(" \x80 "), "\x80");
}

TEST(UnicodeTest, LowerCasesLikePython) {
    EXPECT_EQ(pipeline::lower_unicode("DELIVERED"), "delivered");
    EXPECT_EQ(pipeline::lower_unicode("ÀÉÎÕÜ"), "àéîõü");
    EXPECT_EQ(pipeline::lower_unicode("ΣΑΣ"), "σασ");  // Python has no final-sigma rule in lower()
    EXPECT_EQ(pipeline::lower_unicode("\xc4\xb0"), "i\xcc\x87");     // U+0130 -> i + U+0307
    EXPECT_EQ(pipeline::lower_unicode("\xe2\x84\xaa"), "k");         // KELVIN SIGN
    EXPECT_EQ(pipeline::lower_unicode("\xe2\x84\xab"), "\xc3\xa5");  // ANGSTROM SIGN -> å
    EXPECT_EQ(pipeline::lower_unicode("ǅ"), "ǆ");
    EXPECT_EQ(pipeline::lower_unicode("Ꭰ"), "ꭰ");  // Cherokee maps far away
    EXPECT_EQ(pipeline::lower_unicode("𐐀"), "𐐨");    // Deseret, 4-byte UTF-8
    EXPECT_EQ(pipeline::lower_unicode("ß"), "ß");
    EXPECT_EQ(pipeline::lower_unicode("東京"), "東京");
}

TEST(UnicodeTest, InvalidBytesPassThrough) {
    const std::string junk(
        "A\xff"
        "B\xc0\xaf",
        5);
    EXPECT_EQ(pipeline::lower_unicode(junk), std::string("a\xff"
                                                         "b\xc0\xaf",
                                                         5));
}

}  // namespace
