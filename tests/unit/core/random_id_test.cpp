#include "core/random_id.h"

#include <gtest/gtest.h>

#include <array>
#include <set>
#include <string_view>

namespace iogate::core {
namespace {

constexpr std::string_view kAlphabet(kBase64UrlAlphabet, 64);

TEST(RandomId, HasRequestedLengthAndUsesOnlyTheAlphabet) {
  for (std::size_t length : {0, 1, 7, 20, 1000}) {
    const std::string id = random_id(length);
    ASSERT_EQ(id.size(), length);
    EXPECT_EQ(id.find_first_not_of(kAlphabet), std::string::npos) << id;
  }
}

TEST(RandomId, DoesNotRepeat) {
  std::set<std::string> seen;
  for (int i = 0; i < 1000; ++i) {
    EXPECT_TRUE(seen.insert(random_id(20)).second);
  }
}

TEST(RandomId, DrawsCharactersUniformly) {
  constexpr std::size_t kPerChar = 10'000;
  const std::string id = random_id(64 * kPerChar);
  std::array<std::size_t, 256> counts{};
  for (char c : id) {
    ++counts[static_cast<unsigned char>(c)];
  }
  // The standard deviation of each count is about 99, so 6 sigma never fails by chance.
  for (char c : kAlphabet) {
    const auto count = counts[static_cast<unsigned char>(c)];
    EXPECT_GT(count, kPerChar - 600) << c;
    EXPECT_LT(count, kPerChar + 600) << c;
  }
}

}  // namespace
}  // namespace iogate::core
