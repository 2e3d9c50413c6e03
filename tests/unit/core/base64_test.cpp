#include "core/base64.h"

#include <gtest/gtest.h>

#include <string>

namespace iogate::core {
namespace {

struct Vector {
  std::string_view bytes;
  std::string_view text;
};

// RFC 4648 §10.
constexpr Vector kRfcVectors[] = {
    {"", ""},         {"f", "Zg=="},         {"fo", "Zm8="},        {"foo", "Zm9v"},
    {"foob", "Zm9vYg=="}, {"fooba", "Zm9vYmE="}, {"foobar", "Zm9vYmFy"},
};

TEST(Base64, EncodesRfcVectors) {
  for (const auto& v : kRfcVectors) {
    EXPECT_EQ(base64_encode(v.bytes), v.text) << v.bytes;
  }
}

TEST(Base64, DecodesRfcVectors) {
  for (const auto& v : kRfcVectors) {
    std::string out = "stale";
    ASSERT_TRUE(base64_decode(v.text, out)) << v.text;
    EXPECT_EQ(out, v.bytes);
  }
}

TEST(Base64, AppendKeepsExistingContent) {
  std::string out = "b64:";
  base64_append("foob", out);
  EXPECT_EQ(out, "b64:Zm9vYg==");
}

TEST(Base64, UsesStandardAlphabetNotUrlSafe) {
  EXPECT_EQ(base64_encode("\xfb\xff\xbf"), "+/+/");
  std::string out;
  ASSERT_TRUE(base64_decode("+/+/", out));
  EXPECT_EQ(out, "\xfb\xff\xbf");
  EXPECT_FALSE(base64_decode("-_-_", out));
}

TEST(Base64, RoundTripsEveryByteValueAndLength) {
  std::string all;
  for (int b = 0; b < 256; ++b) {
    all.push_back(static_cast<char>(b));
  }
  for (std::size_t length = 0; length <= all.size(); ++length) {
    const std::string bytes = all.substr(all.size() - length);
    const std::string text = base64_encode(bytes);
    EXPECT_EQ(text.size(), (length + 2) / 3 * 4);
    std::string decoded;
    ASSERT_TRUE(base64_decode(text, decoded)) << text;
    EXPECT_EQ(decoded, bytes);
  }
}

TEST(Base64, RejectsLengthNotMultipleOfFour) {
  std::string out;
  for (std::string_view text : {"Z", "Zg", "Zg=", "Zm9vY", "Zm9vYg=", "Zm9vYg==="}) {
    EXPECT_FALSE(base64_decode(text, out)) << text;
  }
}

TEST(Base64, RejectsCharactersOutsideAlphabet) {
  std::string out;
  using namespace std::string_view_literals;
  // Each has a length that is a multiple of 4, so only the character can make it fail.
  for (std::string_view text : {"Zm9v!A=="sv, "Zm 9"sv, "Zm9v\nYg="sv, " Zm9"sv, "Zm9v\0\0\0\0"sv,
                                "Z\xc3\xa9v"sv, "Zm9-"sv, "Zm9_"sv, "Zm9v\rA=="sv}) {
    EXPECT_FALSE(base64_decode(text, out)) << text;
  }
}

TEST(Base64, RejectsMisplacedPadding) {
  std::string out;
  for (std::string_view text : {"====", "Z===", "=Zg=", "Zg==Zg==", "Zm=v", "Z=9v", "Zg=a",
                                "Zm9v====", "Zm8=Zm8="}) {
    EXPECT_FALSE(base64_decode(text, out)) << text;
  }
}

TEST(Base64, RejectsNonZeroBitsAfterLastByte) {
  std::string out;
  EXPECT_TRUE(base64_decode("Zg==", out));
  EXPECT_FALSE(base64_decode("Zh==", out));
  EXPECT_FALSE(base64_decode("Zv==", out));
  EXPECT_TRUE(base64_decode("Zm8=", out));
  EXPECT_FALSE(base64_decode("Zm9=", out));
}

TEST(Base64, FailureLeavesOutputUntouched) {
  std::string out = "previous";
  EXPECT_FALSE(base64_decode("Zm9vY!==", out));
  EXPECT_EQ(out, "previous");
}

}  // namespace
}  // namespace iogate::core
