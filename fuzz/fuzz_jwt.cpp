// JWT verification of untrusted tokens (the `auth` of a Socket.IO CONNECT).
// Input: the token text. It goes through a static HS256 verifier and a static ES256 verifier
// (key generated once, on the first call). Then, when the input has exactly three parts, the
// first two are re-signed with the HS256 secret, so the code after the signature check (JSON,
// dates) is reached too. Invariants: a result carries claims only when it is valid, and a
// correctly HS256-signed token is never a bad signature.
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <string_view>

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/pem.h>

#include <unistd.h>

#include "app/auth/jwt.h"
#include "core/base64.h"

namespace {

using iogate::app::auth::Algorithm;
using iogate::app::auth::JwtError;
using iogate::app::auth::JwtVerifier;
using iogate::app::auth::VerifyResult;

constexpr std::string_view kSecret = "fuzz-secret";
// A fixed clock, so the seeds' exp/nbf give the same answer on every run.
const std::chrono::system_clock::time_point kNow{std::chrono::seconds(1'700'000'000)};

void check(bool condition) {
  if (!condition) {
    std::abort();
  }
}

void check_result(const VerifyResult& result) {
  check(static_cast<bool>(result) == (result.error == JwtError::none));
  check(result.claims.empty() || result.error == JwtError::none);
}

const JwtVerifier& hs256_verifier() {
  static const JwtVerifier verifier = JwtVerifier::with_secret(std::string(kSecret), {Algorithm::hs256});
  return verifier;
}

const JwtVerifier& es256_verifier() {
  static const JwtVerifier verifier = [] {
    EVP_PKEY* key = EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256");
    check(key != nullptr);
    const std::string path =
        (std::filesystem::temp_directory_path() / ("iogate_fuzz_jwt_" + std::to_string(::getpid()) + ".pem")).string();
    std::FILE* file = std::fopen(path.c_str(), "w");
    check(file != nullptr);
    check(PEM_write_PUBKEY(file, key) == 1);
    std::fclose(file);
    EVP_PKEY_free(key);
    JwtVerifier result = JwtVerifier::with_public_key_file(path, {Algorithm::es256});
    std::remove(path.c_str());
    return result;
  }();
  return verifier;
}

std::string base64url(std::string_view bytes) {
  std::string text = iogate::core::base64_encode(bytes);
  while (!text.empty() && text.back() == '=') {
    text.pop_back();
  }
  for (char& c : text) {
    c = c == '+' ? '-' : c == '/' ? '_' : c;
  }
  return text;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view token(reinterpret_cast<const char*>(data), size);
  check_result(hs256_verifier().verify(token, kNow));
  check_result(es256_verifier().verify(token, kNow));
  check_result(hs256_verifier().verify(token, kNow, std::chrono::seconds(0)));

  const std::size_t first = token.find('.');
  const std::size_t second = first == std::string_view::npos ? first : token.find('.', first + 1);
  if (second == std::string_view::npos || token.find('.', second + 1) != std::string_view::npos) {
    return 0;
  }
  const std::string_view input = token.substr(0, second);
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int mac_size = 0;
  check(HMAC(EVP_sha256(), kSecret.data(), static_cast<int>(kSecret.size()),
             reinterpret_cast<const unsigned char*>(input.data()), input.size(), mac, &mac_size) != nullptr);
  const std::string resigned =
      std::string(input) + "." + base64url(std::string_view(reinterpret_cast<const char*>(mac), mac_size));
  const VerifyResult result = hs256_verifier().verify(resigned, kNow);
  check_result(result);
  check(result.error != JwtError::bad_signature);
  return 0;
}
