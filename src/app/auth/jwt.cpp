#include "app/auth/jwt.h"

#include <algorithm>
#include <cstdio>
#include <stdexcept>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <openssl/crypto.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/obj_mac.h>
#include <openssl/objects.h>
#include <openssl/pem.h>

#include "core/base64.h"

namespace iogate::app::auth {

namespace json = boost::json;

namespace {

constexpr std::size_t kEs256PartSize = 32;

std::string base64url_encode(std::string_view bytes) {
  std::string text = core::base64_encode(bytes);
  while (!text.empty() && text.back() == '=') {
    text.pop_back();
  }
  for (char& c : text) {
    c = c == '+' ? '-' : c == '/' ? '_' : c;
  }
  return text;
}

bool base64url_decode(std::string_view text, std::string& out) {
  std::string standard;
  standard.reserve(text.size() + 3);
  for (char c : text) {
    if (c == '+' || c == '/' || c == '=') {
      return false;
    }
    standard.push_back(c == '-' ? '+' : c == '_' ? '/' : c);
  }
  if (standard.size() % 4 == 1) {
    return false;
  }
  while (standard.size() % 4 != 0) {
    standard.push_back('=');
  }
  return core::base64_decode(standard, out);
}

const EVP_MD* digest_of(Algorithm algorithm) {
  switch (algorithm) {
    case Algorithm::hs384: return EVP_sha384();
    case Algorithm::hs512: return EVP_sha512();
    default: return EVP_sha256();
  }
}

bool is_hmac(Algorithm algorithm) {
  return algorithm == Algorithm::hs256 || algorithm == Algorithm::hs384 || algorithm == Algorithm::hs512;
}

// The MAC, or an empty string when OpenSSL refuses (e.g. a key too short for a FIPS provider).
std::string hmac(Algorithm algorithm, std::string_view secret, std::string_view data) {
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int size = 0;
  if (HMAC(digest_of(algorithm), secret.data(), static_cast<int>(secret.size()),
           reinterpret_cast<const unsigned char*>(data.data()), data.size(), out, &size) == nullptr) {
    return {};
  }
  return std::string(reinterpret_cast<const char*>(out), size);
}

// ES256 is ECDSA over P-256 only; other 256-bit curves (secp256k1, brainpoolP256r1) do not fit.
bool is_p256(EVP_PKEY* key) {
  char name[64];
  std::size_t length = 0;
  if (EVP_PKEY_get_group_name(key, name, sizeof(name), &length) != 1) {
    return false;
  }
  return OBJ_sn2nid(name) == NID_X9_62_prime256v1 || EC_curve_nist2nid(name) == NID_X9_62_prime256v1;
}

bool key_fits(Algorithm algorithm, EVP_PKEY* key) {
  int type = EVP_PKEY_get_base_id(key);
  if (algorithm == Algorithm::rs256) {
    return type == EVP_PKEY_RSA;
  }
  if (algorithm == Algorithm::es256) {
    return type == EVP_PKEY_EC && is_p256(key);
  }
  return false;
}

// JWS carries ECDSA signatures as r||s (32 bytes each); OpenSSL wants DER.
std::string es256_raw_to_der(std::string_view raw) {
  ECDSA_SIG* sig = ECDSA_SIG_new();
  BIGNUM* r = BN_bin2bn(reinterpret_cast<const unsigned char*>(raw.data()), kEs256PartSize, nullptr);
  BIGNUM* s = BN_bin2bn(reinterpret_cast<const unsigned char*>(raw.data()) + kEs256PartSize, kEs256PartSize, nullptr);
  ECDSA_SIG_set0(sig, r, s);
  unsigned char* der = nullptr;
  int size = i2d_ECDSA_SIG(sig, &der);
  std::string result = size > 0 ? std::string(reinterpret_cast<const char*>(der), static_cast<std::size_t>(size)) : "";
  OPENSSL_free(der);
  ECDSA_SIG_free(sig);
  return result;
}

std::string es256_der_to_raw(std::string_view der) {
  const auto* cursor = reinterpret_cast<const unsigned char*>(der.data());
  ECDSA_SIG* sig = d2i_ECDSA_SIG(nullptr, &cursor, static_cast<long>(der.size()));
  if (sig == nullptr) {
    return {};
  }
  std::string raw(2 * kEs256PartSize, '\0');
  BN_bn2binpad(ECDSA_SIG_get0_r(sig), reinterpret_cast<unsigned char*>(raw.data()), kEs256PartSize);
  BN_bn2binpad(ECDSA_SIG_get0_s(sig), reinterpret_cast<unsigned char*>(raw.data()) + kEs256PartSize, kEs256PartSize);
  ECDSA_SIG_free(sig);
  return raw;
}

bool verify_with_key(Algorithm algorithm, EVP_PKEY* key, std::string_view data, std::string_view signature) {
  std::string der;
  if (algorithm == Algorithm::es256) {
    if (signature.size() != 2 * kEs256PartSize) {
      return false;
    }
    der = es256_raw_to_der(signature);
    signature = der;
  }
  EVP_MD_CTX* context = EVP_MD_CTX_new();
  bool ok = EVP_DigestVerifyInit(context, nullptr, EVP_sha256(), nullptr, key) == 1 &&
            EVP_DigestVerify(context, reinterpret_cast<const unsigned char*>(signature.data()), signature.size(),
                             reinterpret_cast<const unsigned char*>(data.data()), data.size()) == 1;
  EVP_MD_CTX_free(context);
  return ok;
}

std::optional<json::object> parse_object(std::string_view text) {
  boost::system::error_code ec;
  json::value value = json::parse(text, ec);
  if (ec || !value.is_object()) {
    return std::nullopt;
  }
  return std::move(value.as_object());
}

std::shared_ptr<EVP_PKEY> read_pem(const std::string& path, bool private_key) {
  std::FILE* file = std::fopen(path.c_str(), "r");
  if (file == nullptr) {
    throw std::runtime_error("cannot open key file " + path);
  }
  EVP_PKEY* key = private_key ? PEM_read_PrivateKey(file, nullptr, nullptr, nullptr)
                              : PEM_read_PUBKEY(file, nullptr, nullptr, nullptr);
  std::fclose(file);
  if (key == nullptr) {
    throw std::runtime_error("cannot read a PEM " + std::string(private_key ? "private" : "public") + " key from " +
                             path);
  }
  return std::shared_ptr<EVP_PKEY>(key, EVP_PKEY_free);
}

std::string signing_input(const json::object& claims, Algorithm algorithm) {
  json::object header{{"alg", algorithm_name(algorithm)}, {"typ", "JWT"}};
  return base64url_encode(json::serialize(header)) + "." + base64url_encode(json::serialize(claims));
}

// A NumericDate claim as seconds, or nullopt when absent; sets `bad` when not a number.
std::optional<double> numeric_date(const json::object& claims, std::string_view name, bool& bad) {
  const json::value* value = claims.if_contains(name);
  if (value == nullptr) {
    return std::nullopt;
  }
  if (!value->is_number()) {
    bad = true;
    return std::nullopt;
  }
  return value->to_number<double>();
}

}  // namespace

std::optional<Algorithm> algorithm_from_name(std::string_view name) noexcept {
  if (name == "HS256") return Algorithm::hs256;
  if (name == "HS384") return Algorithm::hs384;
  if (name == "HS512") return Algorithm::hs512;
  if (name == "RS256") return Algorithm::rs256;
  if (name == "ES256") return Algorithm::es256;
  return std::nullopt;
}

std::string_view algorithm_name(Algorithm algorithm) noexcept {
  switch (algorithm) {
    case Algorithm::hs256: return "HS256";
    case Algorithm::hs384: return "HS384";
    case Algorithm::hs512: return "HS512";
    case Algorithm::rs256: return "RS256";
    case Algorithm::es256: return "ES256";
  }
  return "";
}

std::string_view to_string(JwtError error) noexcept {
  switch (error) {
    case JwtError::none: return "valid";
    case JwtError::malformed: return "malformed token";
    case JwtError::algorithm_not_allowed: return "signing algorithm not allowed";
    case JwtError::bad_signature: return "invalid signature";
    case JwtError::expired: return "token expired";
    case JwtError::not_yet_valid: return "token not yet valid";
  }
  return "invalid token";
}

JwtVerifier JwtVerifier::with_secret(std::string secret, std::vector<Algorithm> accepted) {
  JwtVerifier verifier;
  verifier.secret_ = std::move(secret);
  std::erase_if(accepted, [](Algorithm a) { return !is_hmac(a); });
  verifier.accepted_ = std::move(accepted);
  return verifier;
}

JwtVerifier JwtVerifier::with_public_key_file(const std::string& path, std::vector<Algorithm> accepted) {
  JwtVerifier verifier;
  verifier.public_key_ = read_pem(path, false);
  std::erase_if(accepted, [&](Algorithm a) { return is_hmac(a) || !key_fits(a, verifier.public_key_.get()); });
  if (accepted.empty()) {
    throw std::runtime_error("the public key in " + path + " fits none of the configured algorithms");
  }
  verifier.accepted_ = std::move(accepted);
  return verifier;
}

VerifyResult JwtVerifier::verify(std::string_view token, std::chrono::system_clock::time_point now,
                                 std::chrono::seconds leeway) const {
  VerifyResult result;
  std::size_t first_dot = token.find('.');
  std::size_t second_dot = first_dot == std::string_view::npos ? first_dot : token.find('.', first_dot + 1);
  if (second_dot == std::string_view::npos || token.find('.', second_dot + 1) != std::string_view::npos) {
    result.error = JwtError::malformed;
    return result;
  }
  std::string header_text;
  std::string payload_text;
  std::string signature;
  if (!base64url_decode(token.substr(0, first_dot), header_text) ||
      !base64url_decode(token.substr(first_dot + 1, second_dot - first_dot - 1), payload_text) ||
      !base64url_decode(token.substr(second_dot + 1), signature)) {
    result.error = JwtError::malformed;
    return result;
  }
  auto header = parse_object(header_text);
  auto claims = parse_object(payload_text);
  const json::value* alg = header ? header->if_contains("alg") : nullptr;
  if (!header || !claims || alg == nullptr || !alg->is_string()) {
    result.error = JwtError::malformed;
    return result;
  }
  auto algorithm = algorithm_from_name(alg->as_string());
  if (!algorithm || std::find(accepted_.begin(), accepted_.end(), *algorithm) == accepted_.end()) {
    result.error = JwtError::algorithm_not_allowed;
    return result;
  }
  std::string_view signed_part = token.substr(0, second_dot);
  bool valid = false;
  if (is_hmac(*algorithm)) {
    std::string expected = hmac(*algorithm, secret_, signed_part);
    valid = !secret_.empty() && !expected.empty() && expected.size() == signature.size() &&
            CRYPTO_memcmp(expected.data(), signature.data(), expected.size()) == 0;
  } else if (public_key_) {
    valid = verify_with_key(*algorithm, public_key_.get(), signed_part, signature);
  }
  if (!valid) {
    result.error = JwtError::bad_signature;
    return result;
  }
  bool bad_date = false;
  double seconds_now = std::chrono::duration<double>(now.time_since_epoch()).count();
  auto exp = numeric_date(*claims, "exp", bad_date);
  auto nbf = numeric_date(*claims, "nbf", bad_date);
  if (bad_date) {
    result.error = JwtError::malformed;
  } else if (exp && seconds_now >= *exp + static_cast<double>(leeway.count())) {  // RFC 7519 §4.1.4
    result.error = JwtError::expired;
  } else if (nbf && seconds_now + static_cast<double>(leeway.count()) < *nbf) {
    result.error = JwtError::not_yet_valid;
  } else {
    result.claims = std::move(*claims);
  }
  return result;
}

std::string sign_with_secret(const json::object& claims, Algorithm algorithm, std::string_view secret) {
  if (!is_hmac(algorithm)) {
    throw std::invalid_argument("a secret signs HS256, HS384 or HS512 only");
  }
  std::string input = signing_input(claims, algorithm);
  std::string mac = hmac(algorithm, secret, input);
  if (mac.empty()) {
    throw std::runtime_error("signing failed");
  }
  return input + "." + base64url_encode(mac);
}

std::string sign_with_private_key_file(const json::object& claims, Algorithm algorithm, const std::string& path) {
  auto key = read_pem(path, true);
  if (!key_fits(algorithm, key.get())) {
    throw std::invalid_argument("the private key in " + path + " does not fit " + std::string(algorithm_name(algorithm)));
  }
  std::string input = signing_input(claims, algorithm);
  EVP_MD_CTX* context = EVP_MD_CTX_new();
  std::size_t size = 0;
  std::string signature;
  if (EVP_DigestSignInit(context, nullptr, EVP_sha256(), nullptr, key.get()) == 1 &&
      EVP_DigestSign(context, nullptr, &size, reinterpret_cast<const unsigned char*>(input.data()), input.size()) == 1) {
    signature.resize(size);
    if (EVP_DigestSign(context, reinterpret_cast<unsigned char*>(signature.data()), &size,
                       reinterpret_cast<const unsigned char*>(input.data()), input.size()) == 1) {
      signature.resize(size);
    } else {
      signature.clear();
    }
  }
  EVP_MD_CTX_free(context);
  if (signature.empty()) {
    throw std::runtime_error("signing failed");
  }
  if (algorithm == Algorithm::es256) {
    signature = es256_der_to_raw(signature);
    if (signature.empty()) {
      throw std::runtime_error("signing failed");
    }
  }
  return input + "." + base64url_encode(signature);
}

}  // namespace iogate::app::auth
