#pragma once
// JSON Web Tokens (RFC 7519, compact JWS): verification with an explicit list of accepted
// algorithms, and signing for `iogate token`. Signatures are OpenSSL's (HMAC, RSA PKCS#1 v1.5,
// ECDSA P-256); only the JOSE framing around them is ours.
//
// Example:
//   auto verifier = JwtVerifier::with_secret("s3cret", {Algorithm::hs256});
//   auto result = verifier.verify(token, std::chrono::system_clock::now());
//   if (!result) log(to_string(result.error));
#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <boost/json/object.hpp>

typedef struct evp_pkey_st EVP_PKEY;

namespace iogate::app::auth {

enum class Algorithm { hs256, hs384, hs512, rs256, es256 };

std::optional<Algorithm> algorithm_from_name(std::string_view name) noexcept;
std::string_view algorithm_name(Algorithm algorithm) noexcept;

enum class JwtError {
  none,
  malformed,                // not three base64url parts of JSON objects
  algorithm_not_allowed,    // "none", or an algorithm the configuration does not accept
  bad_signature,
  expired,
  not_yet_valid,
};
std::string_view to_string(JwtError error) noexcept;

struct VerifyResult {
  boost::json::object claims;
  JwtError error = JwtError::none;
  explicit operator bool() const noexcept { return error == JwtError::none; }
};

class JwtVerifier {
 public:
  // HS256/384/512 with a shared secret.
  static JwtVerifier with_secret(std::string secret, std::vector<Algorithm> accepted);
  // RS256 or ES256 with a PEM public key. Throws std::runtime_error if it cannot be read.
  static JwtVerifier with_public_key_file(const std::string& path, std::vector<Algorithm> accepted);

  // Checks the signature, then `exp` and `nbf` (numeric dates) with `leeway`.
  VerifyResult verify(std::string_view token, std::chrono::system_clock::time_point now,
                      std::chrono::seconds leeway = std::chrono::seconds(5)) const;

 private:
  JwtVerifier() = default;
  std::string secret_;
  std::shared_ptr<EVP_PKEY> public_key_;
  std::vector<Algorithm> accepted_;
};

// Signs claims with a secret (HS*) or a PEM private key file (RS256/ES256).
std::string sign_with_secret(const boost::json::object& claims, Algorithm algorithm, std::string_view secret);
std::string sign_with_private_key_file(const boost::json::object& claims, Algorithm algorithm, const std::string& path);

}  // namespace iogate::app::auth
