#include "core/utf8.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <string>

namespace iogate::core {
namespace {

constexpr auto npos = std::string_view::npos;

// Reference validator written differently from the implementation: decode, then check the
// code point against RFC 3629 (minimal length, no surrogates, at most U+10FFFF).
bool reference_valid(std::string_view text) {
  std::size_t i = 0;
  while (i < text.size()) {
    const auto lead = static_cast<unsigned char>(text[i]);
    std::size_t length = 0;
    std::uint32_t cp = 0;
    if (lead < 0x80) {
      length = 1;
      cp = lead;
    } else if ((lead & 0xE0) == 0xC0) {
      length = 2;
      cp = lead & 0x1F;
    } else if ((lead & 0xF0) == 0xE0) {
      length = 3;
      cp = lead & 0x0F;
    } else if ((lead & 0xF8) == 0xF0) {
      length = 4;
      cp = lead & 0x07;
    } else {
      return false;
    }
    if (text.size() - i < length) {
      return false;
    }
    for (std::size_t k = 1; k < length; ++k) {
      const auto byte = static_cast<unsigned char>(text[i + k]);
      if ((byte & 0xC0) != 0x80) {
        return false;
      }
      cp = (cp << 6) | (byte & 0x3F);
    }
    const std::size_t minimal = cp < 0x80 ? 1 : cp < 0x800 ? 2 : cp < 0x10000 ? 3 : 4;
    if (length != minimal || (cp >= 0xD800 && cp <= 0xDFFF) || cp > 0x10FFFF) {
      return false;
    }
    i += length;
  }
  return true;
}

std::string bytes(std::initializer_list<unsigned> values) {
  std::string s;
  for (unsigned v : values) {
    s.push_back(static_cast<char>(v));
  }
  return s;
}

TEST(Utf8, AcceptsWellFormedText) {
  for (std::string_view text :
       {"", "a", "hello, world", "h\xc3\xa9llo", "\xe2\x82\xac", "\xf0\x9f\x98\x80",
        "\xc2\x80", "\xdf\xbf", "\xe0\xa0\x80", "\xed\x9f\xbf", "\xee\x80\x80", "\xef\xbf\xbf",
        "\xf0\x90\x80\x80", "\xf4\x8f\xbf\xbf", "0123456789abcdef\xe2\x82\xac" "0123456789"}) {
    EXPECT_TRUE(is_valid_utf8(text)) << text;
  }
  using namespace std::string_view_literals;
  EXPECT_TRUE(is_valid_utf8("nul\0inside"sv));
}

TEST(Utf8, RejectsOverlongEncodings) {
  for (const auto& text : {bytes({0xC0, 0x80}), bytes({0xC1, 0xBF}), bytes({0xE0, 0x80, 0x80}),
                           bytes({0xE0, 0x9F, 0xBF}), bytes({0xF0, 0x80, 0x80, 0x80}),
                           bytes({0xF0, 0x8F, 0xBF, 0xBF})}) {
    EXPECT_FALSE(is_valid_utf8(text));
  }
}

TEST(Utf8, RejectsSurrogates) {
  for (const auto& text : {bytes({0xED, 0xA0, 0x80}), bytes({0xED, 0xAF, 0xBF}),
                           bytes({0xED, 0xB0, 0x80}), bytes({0xED, 0xBF, 0xBF}),
                           bytes({0xED, 0xA0, 0xBD, 0xED, 0xB8, 0x80})}) {
    EXPECT_FALSE(is_valid_utf8(text));
  }
}

TEST(Utf8, RejectsCodePointsAboveMaximum) {
  for (const auto& text : {bytes({0xF4, 0x90, 0x80, 0x80}), bytes({0xF5, 0x80, 0x80, 0x80}),
                           bytes({0xF7, 0xBF, 0xBF, 0xBF}), bytes({0xF8, 0x88, 0x80, 0x80, 0x80}),
                           bytes({0xFE}), bytes({0xFF})}) {
    EXPECT_FALSE(is_valid_utf8(text));
  }
}

TEST(Utf8, RejectsTruncatedAndStrayBytes) {
  for (const auto& text : {bytes({0x80}), bytes({0xBF}), bytes({0xC3}), bytes({0xE2, 0x82}),
                           bytes({0xF0, 0x9F, 0x98}), bytes({0xE2, 0x82, 0x41}),
                           bytes({0xC3, 0xC3, 0xA9}), bytes({0x41, 0xA9, 0x41})}) {
    EXPECT_FALSE(is_valid_utf8(text));
  }
}

TEST(Utf8, FindsAnInvalidByteAtEveryPositionOfLongAsciiText) {
  const std::string ascii(40, 'x');
  ASSERT_TRUE(is_valid_utf8(ascii));
  for (std::size_t i = 0; i < ascii.size(); ++i) {
    std::string text = ascii;
    text[i] = static_cast<char>(0x80);
    EXPECT_FALSE(is_valid_utf8(text)) << i;
    text[i] = static_cast<char>(0xFF);
    EXPECT_FALSE(is_valid_utf8(text)) << i;
  }
}

TEST(Utf8, AgreesWithReferenceOnEveryTwoAndThreeByteSequence) {
  for (unsigned a = 0x80; a <= 0xFF; ++a) {
    for (unsigned b = 0; b <= 0xFF; ++b) {
      const std::string two = bytes({a, b});
      ASSERT_EQ(is_valid_utf8(two), reference_valid(two)) << a << ' ' << b;
      for (unsigned c = 0; c <= 0xFF; c += a >= 0xE0 && a <= 0xEF ? 1 : 0x3F) {
        const std::string three = bytes({a, b, c});
        ASSERT_EQ(is_valid_utf8(three), reference_valid(three)) << a << ' ' << b << ' ' << c;
      }
    }
  }
}

TEST(Utf8, AgreesWithReferenceOnFourByteSequences) {
  for (unsigned a = 0xF0; a <= 0xF8; ++a) {
    for (unsigned b = 0; b <= 0xFF; ++b) {
      for (unsigned c : {0x00u, 0x7Fu, 0x80u, 0xBFu, 0xC0u}) {
        for (unsigned d : {0x41u, 0x80u, 0x9Fu, 0xBFu, 0xC0u}) {
          // Surrounded by ASCII so the 8-byte path hands over to the sequence check mid-text.
          const std::string text = "abcdefgh" + bytes({a, b, c, d}) + "ijklmnop";
          ASSERT_EQ(is_valid_utf8(text), reference_valid(text)) << a << ' ' << b << ' ' << c << ' ' << d;
        }
      }
    }
  }
}

// "héllo€😀": h é l l o € are one UTF-16 unit each, 😀 is a surrogate pair; 13 bytes.
const std::string kMixed = "h\xc3\xa9llo\xe2\x82\xac\xf0\x9f\x98\x80";

TEST(Utf16Length, CountsUnits) {
  EXPECT_EQ(utf16_length(""), 0u);
  EXPECT_EQ(utf16_length("hello"), 5u);
  EXPECT_EQ(utf16_length(std::string(1000, 'a')), 1000u);
  ASSERT_EQ(kMixed.size(), 13u);
  EXPECT_EQ(utf16_length(kMixed), 8u);
  EXPECT_EQ(utf16_length("0123456789" + kMixed + "0123456789"), 28u);
}

TEST(Utf16Length, CountsEachInvalidByteAsOneUnit) {
  EXPECT_EQ(utf16_length(bytes({0xFF})), 1u);
  EXPECT_EQ(utf16_length(bytes({0xE2, 0x82})), 2u);
  EXPECT_EQ(utf16_length(bytes({0x61, 0xF0, 0x9F, 0x98})), 4u);
  EXPECT_EQ(utf16_length(bytes({0xED, 0xA0, 0x80})), 3u);
  EXPECT_EQ(utf16_length(bytes({0xC0, 0x80, 0xF0, 0x9F, 0x98, 0x80})), 4u);
}

TEST(Utf8PrefixForUtf16Units, FindsByteBoundaries) {
  EXPECT_EQ(utf8_prefix_for_utf16_units(kMixed, 0), 0u);
  EXPECT_EQ(utf8_prefix_for_utf16_units(kMixed, 1), 1u);
  EXPECT_EQ(utf8_prefix_for_utf16_units(kMixed, 2), 3u);
  EXPECT_EQ(utf8_prefix_for_utf16_units(kMixed, 5), 6u);
  EXPECT_EQ(utf8_prefix_for_utf16_units(kMixed, 6), 9u);
  EXPECT_EQ(utf8_prefix_for_utf16_units(kMixed, 8), 13u);
}

TEST(Utf8PrefixForUtf16Units, RejectsBoundaryInsideSurrogatePair) {
  EXPECT_EQ(utf8_prefix_for_utf16_units(kMixed, 7), npos);
  EXPECT_EQ(utf8_prefix_for_utf16_units("\xf0\x9f\x98\x80", 1), npos);
}

TEST(Utf8PrefixForUtf16Units, RejectsTextTooShort) {
  EXPECT_EQ(utf8_prefix_for_utf16_units("", 0), 0u);
  EXPECT_EQ(utf8_prefix_for_utf16_units("", 1), npos);
  EXPECT_EQ(utf8_prefix_for_utf16_units(kMixed, 9), npos);
  EXPECT_EQ(utf8_prefix_for_utf16_units("abc", 4), npos);
}

TEST(Utf8PrefixForUtf16Units, StopsInsideLongAsciiRuns) {
  const std::string text = std::string(20, 'a') + kMixed;
  for (std::size_t units = 0; units <= 21; ++units) {
    EXPECT_EQ(utf8_prefix_for_utf16_units(text, units), units) << units;
  }
  EXPECT_EQ(utf8_prefix_for_utf16_units(text, 22), 23u);
  EXPECT_EQ(utf8_prefix_for_utf16_units(text, 26), 29u);
  EXPECT_EQ(utf8_prefix_for_utf16_units(text, 27), npos);
  EXPECT_EQ(utf8_prefix_for_utf16_units(text, 28), text.size());
}

TEST(Utf8PrefixForUtf16Units, CountsInvalidBytesLikeUtf16Length) {
  const std::string text = bytes({0x61, 0xE2, 0x82, 0x62});
  ASSERT_EQ(utf16_length(text), 4u);
  EXPECT_EQ(utf8_prefix_for_utf16_units(text, 2), 2u);
  EXPECT_EQ(utf8_prefix_for_utf16_units(text, 3), 3u);
  EXPECT_EQ(utf8_prefix_for_utf16_units(text, 4), 4u);
}

TEST(Utf8PrefixForUtf16Units, AgreesWithUtf16LengthOfThePrefix) {
  const std::string text = "ab" + kMixed + "\xff" + kMixed + std::string(9, 'z') + kMixed;
  const std::size_t total = utf16_length(text);
  for (std::size_t units = 0; units <= total + 1; ++units) {
    const std::size_t prefix = utf8_prefix_for_utf16_units(text, units);
    if (prefix != npos) {
      EXPECT_EQ(utf16_length(std::string_view(text).substr(0, prefix)), units) << units;
    }
  }
}

}  // namespace
}  // namespace iogate::core
