#include "core/random_id.h"

#include <openssl/rand.h>

#include <algorithm>
#include <climits>
#include <stdexcept>

namespace iogate::core {

std::string random_id(std::size_t length) {
  std::string id(length, '\0');
  auto* bytes = reinterpret_cast<unsigned char*>(id.data());
  for (std::size_t filled = 0; filled < length;) {
    const std::size_t chunk = std::min<std::size_t>(length - filled, INT_MAX);
    // A predictable id would be a guessable session secret, so there is no weaker fallback.
    if (RAND_bytes(bytes + filled, static_cast<int>(chunk)) != 1) {
      throw std::runtime_error("random_id: RAND_bytes failed");
    }
    filled += chunk;
  }
  // 64 divides 256, so taking the low six bits keeps every character equally likely.
  for (char& c : id) {
    c = kBase64UrlAlphabet[static_cast<unsigned char>(c) & 63];
  }
  return id;
}

}  // namespace iogate::core
