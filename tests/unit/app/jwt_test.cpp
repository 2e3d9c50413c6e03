#include "app/auth/jwt.h"

#include <gtest/gtest.h>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <optional>
#include <ostream>
#include <stdexcept>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <boost/json/serialize.hpp>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/pem.h>

#include <unistd.h>

namespace iogate::app::auth {

// Readable gtest output for errors (found by ADL, so outside the unnamed namespace).
void PrintTo(JwtError error, std::ostream* os) { *os << to_string(error); }

namespace {

namespace json = boost::json;
using std::chrono::seconds;
using std::chrono::system_clock;

// A fixed "now" so the date checks do not depend on the clock.
const system_clock::time_point kNow = system_clock::time_point(seconds(1'700'000'000));
constexpr std::int64_t kNowSeconds = 1'700'000'000;

// --- independent JOSE helpers, so the tests do not trust the code under test ------------------

std::string b64url(std::string_view bytes) {
  std::string text(4 * ((bytes.size() + 2) / 3) + 1, '\0');
  int size = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(text.data()),
                             reinterpret_cast<const unsigned char*>(bytes.data()), static_cast<int>(bytes.size()));
  text.resize(static_cast<std::size_t>(size));
  while (!text.empty() && text.back() == '=') {
    text.pop_back();
  }
  for (char& c : text) {
    c = c == '+' ? '-' : c == '/' ? '_' : c;
  }
  return text;
}

std::string raw_hmac(const EVP_MD* md, std::string_view key, std::string_view data) {
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int size = 0;
  HMAC(md, key.data(), static_cast<int>(key.size()), reinterpret_cast<const unsigned char*>(data.data()), data.size(),
       out, &size);
  return std::string(reinterpret_cast<const char*>(out), size);
}

// header.payload.HMAC-SHA256(key) for arbitrary header and payload text.
std::string hs256_token(std::string_view header, std::string_view payload, std::string_view key) {
  std::string input = b64url(header) + "." + b64url(payload);
  return input + "." + b64url(raw_hmac(EVP_sha256(), key, input));
}

std::string token_part(const std::string& token, int index) {
  std::size_t begin = 0;
  for (int i = 0; i < index; ++i) {
    begin = token.find('.', begin) + 1;
  }
  std::size_t end = token.find('.', begin);
  return token.substr(begin, end == std::string::npos ? std::string::npos : end - begin);
}

// --- keys generated at test time, written to temporary PEM files ------------------------------

class TempKey {
 public:
  // `spec` is "RSA" or an EC curve name.
  explicit TempKey(const std::string& spec) {
    EVP_PKEY* key = spec == "RSA" ? EVP_PKEY_Q_keygen(nullptr, nullptr, "RSA", static_cast<std::size_t>(2048))
                                  : EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", spec.c_str());
    if (key == nullptr) {
      throw std::runtime_error("key generation failed for " + spec);
    }
    static int counter = 0;
    std::string stem = (std::filesystem::temp_directory_path() /
                        ("iogate_jwt_test_" + std::to_string(::getpid()) + "_" + std::to_string(counter++)))
                           .string();
    public_path_ = stem + "_pub.pem";
    private_path_ = stem + "_key.pem";
    std::FILE* file = std::fopen(public_path_.c_str(), "w");
    bool ok = file != nullptr && PEM_write_PUBKEY(file, key) == 1;
    if (file != nullptr) {
      std::fclose(file);
    }
    file = std::fopen(private_path_.c_str(), "w");
    ok = ok && file != nullptr && PEM_write_PrivateKey(file, key, nullptr, nullptr, 0, nullptr, nullptr) == 1;
    if (file != nullptr) {
      std::fclose(file);
    }
    EVP_PKEY_free(key);
    if (!ok) {
      throw std::runtime_error("cannot write the PEM files for " + spec);
    }
  }
  ~TempKey() {
    std::error_code ec;
    std::filesystem::remove(public_path_, ec);
    std::filesystem::remove(private_path_, ec);
  }
  TempKey(const TempKey&) = delete;
  TempKey& operator=(const TempKey&) = delete;

  const std::string& public_path() const { return public_path_; }
  const std::string& private_path() const { return private_path_; }
  std::string public_pem() const {
    std::FILE* file = std::fopen(public_path_.c_str(), "r");
    std::string text;
    char buffer[512];
    std::size_t n = 0;
    while (file != nullptr && (n = std::fread(buffer, 1, sizeof(buffer), file)) > 0) {
      text.append(buffer, n);
    }
    if (file != nullptr) {
      std::fclose(file);
    }
    return text;
  }

 private:
  std::string public_path_;
  std::string private_path_;
};

// RSA 2048 generation takes a while: one key of each kind per test process, made on first use.
const TempKey& rsa_key() {
  static const TempKey key("RSA");
  return key;
}
const TempKey& ec_key() {
  static const TempKey key("P-256");
  return key;
}

json::object sample_claims() { return {{"sub", "alice"}, {"room", "lobby"}, {"admin", false}}; }

// --- HMAC ---------------------------------------------------------------------------------------

TEST(Jwt, HmacRoundTripsForEveryHsAlgorithm) {
  for (Algorithm algorithm : {Algorithm::hs256, Algorithm::hs384, Algorithm::hs512}) {
    SCOPED_TRACE(std::string(algorithm_name(algorithm)));
    json::object claims = sample_claims();
    claims["exp"] = kNowSeconds + 60;
    std::string token = sign_with_secret(claims, algorithm, "s3cret");
    auto verifier = JwtVerifier::with_secret("s3cret", {algorithm});
    VerifyResult result = verifier.verify(token, kNow);
    ASSERT_TRUE(result) << to_string(result.error);
    EXPECT_EQ(result.error, JwtError::none);
    EXPECT_EQ(result.claims, claims);
    // The header names the algorithm, with "typ" after it.
    EXPECT_EQ(token_part(token, 0),
              b64url(R"({"alg":")" + std::string(algorithm_name(algorithm)) + R"(","typ":"JWT"})"));
  }
}

TEST(Jwt, HmacSignatureLengthsMatchTheDigest) {
  auto signature_bytes = [](Algorithm algorithm) {
    std::string part = token_part(sign_with_secret(sample_claims(), algorithm, "k"), 2);
    return part.size() * 3 / 4;  // unpadded base64url
  };
  EXPECT_EQ(signature_bytes(Algorithm::hs256), 32u);
  EXPECT_EQ(signature_bytes(Algorithm::hs384), 48u);
  EXPECT_EQ(signature_bytes(Algorithm::hs512), 64u);
}

constexpr std::string_view kJwtIoToken =
    "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9."
    "eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkpvaG4gRG9lIiwiaWF0IjoxNTE2MjM5MDIyfQ."
    "SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c";

TEST(Jwt, VerifiesTheJwtIoKnownVector) {
  auto verifier = JwtVerifier::with_secret("your-256-bit-secret", {Algorithm::hs256});
  VerifyResult result = verifier.verify(kJwtIoToken, kNow);
  ASSERT_TRUE(result) << to_string(result.error);
  json::object expected{{"sub", "1234567890"}, {"name", "John Doe"}, {"iat", 1516239022}};
  EXPECT_EQ(result.claims, expected);

  // Our independent helper agrees with the published signature.
  EXPECT_EQ(hs256_token(R"({"alg":"HS256","typ":"JWT"})",
                        R"({"sub":"1234567890","name":"John Doe","iat":1516239022})", "your-256-bit-secret"),
            kJwtIoToken);

  // Any other secret, or a changed payload, fails.
  EXPECT_EQ(JwtVerifier::with_secret("your-256-bit-secreT", {Algorithm::hs256}).verify(kJwtIoToken, kNow).error,
            JwtError::bad_signature);
  std::string tampered(kJwtIoToken);
  std::string payload = token_part(tampered, 1);
  tampered.replace(tampered.find(payload), payload.size(),
                   b64url(R"({"sub":"1234567890","name":"John Doe","iat":1516239023})"));
  EXPECT_EQ(verifier.verify(tampered, kNow).error, JwtError::bad_signature);
}

TEST(Jwt, SignerReproducesTheJwtIoKnownVector) {
  // Our header is {"alg":"HS256","typ":"JWT"} and boost::json keeps insertion order, so the
  // signer's output for the same claims is byte-for-byte the published token.
  json::object claims{{"sub", "1234567890"}, {"name", "John Doe"}, {"iat", 1516239022}};
  EXPECT_EQ(sign_with_secret(claims, Algorithm::hs256, "your-256-bit-secret"), kJwtIoToken);
}

TEST(Jwt, WrongSecretIsABadSignature) {
  std::string token = sign_with_secret(sample_claims(), Algorithm::hs256, "right");
  VerifyResult result = JwtVerifier::with_secret("wrong", {Algorithm::hs256}).verify(token, kNow);
  EXPECT_EQ(result.error, JwtError::bad_signature);
  EXPECT_FALSE(result);
  EXPECT_TRUE(result.claims.empty());
}

TEST(Jwt, TamperedSignatureIsABadSignature) {
  std::string token = sign_with_secret(sample_claims(), Algorithm::hs256, "k");
  auto verifier = JwtVerifier::with_secret("k", {Algorithm::hs256});
  std::string flipped = token;
  flipped[flipped.size() - 2] = flipped[flipped.size() - 2] == 'A' ? 'B' : 'A';
  EXPECT_EQ(verifier.verify(flipped, kNow).error, JwtError::bad_signature);
  // Signature cut short, and signature missing.
  EXPECT_EQ(verifier.verify(token.substr(0, token.size() - 3), kNow).error, JwtError::bad_signature);
  EXPECT_EQ(verifier.verify(token.substr(0, token.rfind('.') + 1), kNow).error, JwtError::bad_signature);
}

TEST(Jwt, EmptySecretNeverVerifies) {
  std::string token = sign_with_secret(sample_claims(), Algorithm::hs256, "");
  EXPECT_EQ(JwtVerifier::with_secret("", {Algorithm::hs256}).verify(token, kNow).error, JwtError::bad_signature);
}

TEST(Jwt, SecretVerifierAcceptsOnlyTheConfiguredHsAlgorithms) {
  auto only_256 = JwtVerifier::with_secret("k", {Algorithm::hs256});
  EXPECT_TRUE(only_256.verify(sign_with_secret(sample_claims(), Algorithm::hs256, "k"), kNow));
  VerifyResult hs512 = only_256.verify(sign_with_secret(sample_claims(), Algorithm::hs512, "k"), kNow);
  EXPECT_EQ(hs512.error, JwtError::algorithm_not_allowed);
  EXPECT_TRUE(hs512.claims.empty());
  EXPECT_EQ(only_256.verify(sign_with_secret(sample_claims(), Algorithm::hs384, "k"), kNow).error,
            JwtError::algorithm_not_allowed);

  auto both = JwtVerifier::with_secret("k", {Algorithm::hs384, Algorithm::hs512});
  EXPECT_TRUE(both.verify(sign_with_secret(sample_claims(), Algorithm::hs512, "k"), kNow));
  EXPECT_TRUE(both.verify(sign_with_secret(sample_claims(), Algorithm::hs384, "k"), kNow));
  EXPECT_EQ(both.verify(sign_with_secret(sample_claims(), Algorithm::hs256, "k"), kNow).error,
            JwtError::algorithm_not_allowed);
}

TEST(Jwt, SecretVerifierIgnoresPublicKeyAlgorithms) {
  // RS256 in a secret verifier's list is dropped: an RS256 header never selects the HMAC path.
  auto verifier = JwtVerifier::with_secret("k", {Algorithm::hs256, Algorithm::rs256, Algorithm::es256});
  std::string input = b64url(R"({"alg":"RS256"})") + "." + b64url(R"({"sub":"x"})");
  EXPECT_EQ(verifier.verify(input + "." + b64url(raw_hmac(EVP_sha256(), "k", input)), kNow).error,
            JwtError::algorithm_not_allowed);
  EXPECT_EQ(verifier.verify(sign_with_private_key_file(sample_claims(), Algorithm::rs256, rsa_key().private_path()),
                            kNow)
                .error,
            JwtError::algorithm_not_allowed);
}

TEST(Jwt, HeaderAlgorithmMatchingIsExact) {
  auto verifier = JwtVerifier::with_secret("k", {Algorithm::hs256});
  for (std::string_view alg : {"hs256", "HS256 ", "HS 256", "HS2560", ""}) {
    SCOPED_TRACE(std::string(alg));
    std::string header = R"({"alg":")" + std::string(alg) + R"("})";
    EXPECT_EQ(verifier.verify(hs256_token(header, "{}", "k"), kNow).error, JwtError::algorithm_not_allowed);
  }
  EXPECT_TRUE(verifier.verify(hs256_token(R"({"alg":"HS256"})", "{}", "k"), kNow));
}

// --- "none" and algorithm confusion -------------------------------------------------------------

TEST(Jwt, AlgNoneIsNeverAllowed) {
  auto secret_verifier = JwtVerifier::with_secret("k", {Algorithm::hs256, Algorithm::hs384, Algorithm::hs512});
  auto key_verifier = JwtVerifier::with_public_key_file(rsa_key().public_path(), {Algorithm::rs256});
  for (std::string_view alg : {"none", "None", "NONE", "nOnE"}) {
    SCOPED_TRACE(std::string(alg));
    std::string token = b64url(R"({"alg":")" + std::string(alg) + R"("})") + "." +
                        b64url(R"({"sub":"admin","admin":true})") + ".";
    VerifyResult result = secret_verifier.verify(token, kNow);
    EXPECT_EQ(result.error, JwtError::algorithm_not_allowed);
    EXPECT_TRUE(result.claims.empty());
    EXPECT_EQ(key_verifier.verify(token, kNow).error, JwtError::algorithm_not_allowed);
  }
  // With "typ" as well, as the classic exploit sends it.
  std::string token = b64url(R"({"alg":"none","typ":"JWT"})") + "." + b64url(R"({"sub":"admin"})") + ".";
  EXPECT_EQ(secret_verifier.verify(token, kNow).error, JwtError::algorithm_not_allowed);
}

TEST(Jwt, HmacWithThePublicKeyAsSecretIsRejectedByAKeyVerifier) {
  // The RS/HS confusion attack: sign HS256 with the (public) RSA key's PEM text as the HMAC key.
  std::string pem = rsa_key().public_pem();
  ASSERT_NE(pem.find("BEGIN PUBLIC KEY"), std::string::npos);
  auto verifier = JwtVerifier::with_public_key_file(rsa_key().public_path(), {Algorithm::rs256});
  for (const std::string& key : {pem, pem.substr(0, pem.size() - 1)}) {  // with and without the final newline
    std::string token = sign_with_secret({{"sub", "admin"}, {"admin", true}}, Algorithm::hs256, key);
    VerifyResult result = verifier.verify(token, kNow);
    EXPECT_EQ(result.error, JwtError::algorithm_not_allowed);
    EXPECT_FALSE(result);
    EXPECT_TRUE(result.claims.empty());
  }
  // Listing HS256 next to RS256 for a key verifier does not open the door either.
  auto mixed = JwtVerifier::with_public_key_file(rsa_key().public_path(), {Algorithm::hs256, Algorithm::rs256});
  EXPECT_EQ(mixed.verify(sign_with_secret({{"sub", "admin"}}, Algorithm::hs256, pem), kNow).error,
            JwtError::algorithm_not_allowed);
  // And an empty HMAC key, which a verifier holding no secret might fall back to.
  EXPECT_EQ(mixed.verify(sign_with_secret({{"sub", "admin"}}, Algorithm::hs256, ""), kNow).error,
            JwtError::algorithm_not_allowed);
}

// --- RS256 / ES256 ------------------------------------------------------------------------------

TEST(Jwt, Rs256RoundTrips) {
  json::object claims = sample_claims();
  claims["exp"] = kNowSeconds + 3600;
  std::string token = sign_with_private_key_file(claims, Algorithm::rs256, rsa_key().private_path());
  EXPECT_EQ(token_part(token, 0), b64url(R"({"alg":"RS256","typ":"JWT"})"));
  auto verifier = JwtVerifier::with_public_key_file(rsa_key().public_path(), {Algorithm::rs256});
  VerifyResult result = verifier.verify(token, kNow);
  ASSERT_TRUE(result) << to_string(result.error);
  EXPECT_EQ(result.claims, claims);
  // PKCS#1 v1.5 is deterministic, and a 2048-bit modulus gives a 256-byte signature.
  EXPECT_EQ(sign_with_private_key_file(claims, Algorithm::rs256, rsa_key().private_path()), token);
  EXPECT_EQ(token_part(token, 2).size(), b64url(std::string(256, 'x')).size());

  std::string flipped = token;
  std::size_t middle = token.rfind('.') + 10;
  flipped[middle] = flipped[middle] == 'A' ? 'B' : 'A';
  EXPECT_EQ(verifier.verify(flipped, kNow).error, JwtError::bad_signature);
}

TEST(Jwt, Rs256FromAnotherKeyIsABadSignature) {
  TempKey other("RSA");
  std::string token = sign_with_private_key_file(sample_claims(), Algorithm::rs256, other.private_path());
  auto verifier = JwtVerifier::with_public_key_file(rsa_key().public_path(), {Algorithm::rs256});
  EXPECT_EQ(verifier.verify(token, kNow).error, JwtError::bad_signature);
}

TEST(Jwt, Es256RoundTrips) {
  json::object claims = sample_claims();
  claims["nbf"] = kNowSeconds - 10;
  std::string token = sign_with_private_key_file(claims, Algorithm::es256, ec_key().private_path());
  EXPECT_EQ(token_part(token, 0), b64url(R"({"alg":"ES256","typ":"JWT"})"));
  // JWS ECDSA signatures are raw r||s, 64 bytes: 86 base64url characters.
  EXPECT_EQ(token_part(token, 2).size(), 86u);
  auto verifier = JwtVerifier::with_public_key_file(ec_key().public_path(), {Algorithm::es256});
  for (int i = 0; i < 20; ++i) {  // ECDSA is randomized; r or s with leading zero bytes must still round trip
    std::string again = sign_with_private_key_file(claims, Algorithm::es256, ec_key().private_path());
    VerifyResult result = verifier.verify(again, kNow);
    ASSERT_TRUE(result) << to_string(result.error);
    EXPECT_EQ(result.claims, claims);
  }
  std::string flipped = token;
  std::size_t middle = token.rfind('.') + 10;
  flipped[middle] = flipped[middle] == 'A' ? 'B' : 'A';
  EXPECT_EQ(verifier.verify(flipped, kNow).error, JwtError::bad_signature);
}

TEST(Jwt, Es256SignatureOfWrongLengthIsABadSignature) {
  std::string token = sign_with_private_key_file(sample_claims(), Algorithm::es256, ec_key().private_path());
  auto verifier = JwtVerifier::with_public_key_file(ec_key().public_path(), {Algorithm::es256});
  std::string input = token.substr(0, token.rfind('.'));
  std::string valid_raw;
  {
    // Decode the valid 64-byte signature with OpenSSL (restoring padding and the standard alphabet).
    std::string part = token_part(token, 2);
    for (char& c : part) {
      c = c == '-' ? '+' : c == '_' ? '/' : c;
    }
    while (part.size() % 4 != 0) {
      part.push_back('=');
    }
    std::string decoded(part.size(), '\0');
    int size = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(decoded.data()),
                               reinterpret_cast<const unsigned char*>(part.data()), static_cast<int>(part.size()));
    ASSERT_GT(size, 0);
    valid_raw = decoded.substr(0, 64);  // EVP_DecodeBlock counts padding as zero bytes
  }
  ASSERT_TRUE(verifier.verify(input + "." + b64url(valid_raw), kNow));
  for (std::string signature : {valid_raw.substr(0, 63), valid_raw + '\0', std::string("\0", 1) + valid_raw,
                                valid_raw.substr(0, 32), std::string(), std::string(64, '\0'),
                                std::string(128, 'x')}) {
    SCOPED_TRACE(signature.size());
    VerifyResult result = verifier.verify(input + "." + b64url(signature), kNow);
    EXPECT_EQ(result.error, JwtError::bad_signature);
    EXPECT_TRUE(result.claims.empty());
  }
}

TEST(Jwt, Es256DerSignatureIsRejected) {
  // A DER-encoded ECDSA signature (what OpenSSL produces) is not the JWS format.
  std::string input = b64url(R"({"alg":"ES256","typ":"JWT"})") + "." + b64url(R"({"sub":"x"})");
  std::unique_ptr<std::FILE, int (*)(std::FILE*)> file(std::fopen(ec_key().private_path().c_str(), "r"), std::fclose);
  ASSERT_NE(file, nullptr);
  std::unique_ptr<EVP_PKEY, void (*)(EVP_PKEY*)> key(PEM_read_PrivateKey(file.get(), nullptr, nullptr, nullptr),
                                                     EVP_PKEY_free);
  ASSERT_NE(key, nullptr);
  std::unique_ptr<EVP_MD_CTX, void (*)(EVP_MD_CTX*)> context(EVP_MD_CTX_new(), EVP_MD_CTX_free);
  std::size_t size = 0;
  ASSERT_EQ(EVP_DigestSignInit(context.get(), nullptr, EVP_sha256(), nullptr, key.get()), 1);
  ASSERT_EQ(EVP_DigestSign(context.get(), nullptr, &size, reinterpret_cast<const unsigned char*>(input.data()),
                           input.size()),
            1);
  std::string der(size, '\0');
  ASSERT_EQ(EVP_DigestSign(context.get(), reinterpret_cast<unsigned char*>(der.data()), &size,
                           reinterpret_cast<const unsigned char*>(input.data()), input.size()),
            1);
  der.resize(size);
  auto verifier = JwtVerifier::with_public_key_file(ec_key().public_path(), {Algorithm::es256});
  EXPECT_EQ(verifier.verify(input + "." + b64url(der), kNow).error, JwtError::bad_signature);
}

TEST(Jwt, KeyVerifierKeepsOnlyTheAlgorithmsItsKeyFits) {
  auto rsa = JwtVerifier::with_public_key_file(rsa_key().public_path(), {Algorithm::rs256, Algorithm::es256});
  EXPECT_TRUE(rsa.verify(sign_with_private_key_file(sample_claims(), Algorithm::rs256, rsa_key().private_path()), kNow));
  EXPECT_EQ(rsa.verify(sign_with_private_key_file(sample_claims(), Algorithm::es256, ec_key().private_path()), kNow)
                .error,
            JwtError::algorithm_not_allowed);

  auto ec = JwtVerifier::with_public_key_file(ec_key().public_path(), {Algorithm::rs256, Algorithm::es256});
  EXPECT_TRUE(ec.verify(sign_with_private_key_file(sample_claims(), Algorithm::es256, ec_key().private_path()), kNow));
  EXPECT_EQ(ec.verify(sign_with_private_key_file(sample_claims(), Algorithm::rs256, rsa_key().private_path()), kNow)
                .error,
            JwtError::algorithm_not_allowed);
}

TEST(Jwt, KeyVerifierWhoseKeyFitsNoConfiguredAlgorithmThrows) {
  EXPECT_THROW(JwtVerifier::with_public_key_file(ec_key().public_path(), {Algorithm::rs256}), std::runtime_error);
  EXPECT_THROW(JwtVerifier::with_public_key_file(rsa_key().public_path(), {Algorithm::es256}), std::runtime_error);
  EXPECT_THROW(JwtVerifier::with_public_key_file(rsa_key().public_path(), {Algorithm::hs256, Algorithm::hs512}),
               std::runtime_error);
  EXPECT_THROW(JwtVerifier::with_public_key_file(rsa_key().public_path(), {}), std::runtime_error);
}

TEST(Jwt, Es256NeedsTheP256Curve) {
  // Other 256-bit curves are not ES256 (RFC 7518 §3.4): secp256k1 is ES256K.
  TempKey k1("secp256k1");
  EXPECT_THROW(JwtVerifier::with_public_key_file(k1.public_path(), {Algorithm::es256}), std::runtime_error);
  EXPECT_THROW(sign_with_private_key_file(sample_claims(), Algorithm::es256, k1.private_path()), std::invalid_argument);
  TempKey p384("P-384");
  EXPECT_THROW(JwtVerifier::with_public_key_file(p384.public_path(), {Algorithm::es256}), std::runtime_error);
}

TEST(Jwt, UnreadableKeyFilesThrow) {
  std::string missing = (std::filesystem::temp_directory_path() / "iogate_jwt_test_no_such_file.pem").string();
  EXPECT_THROW(JwtVerifier::with_public_key_file(missing, {Algorithm::rs256}), std::runtime_error);
  EXPECT_THROW(sign_with_private_key_file(sample_claims(), Algorithm::rs256, missing), std::runtime_error);
  // A private key file is not a public key file, and the other way round.
  EXPECT_THROW(JwtVerifier::with_public_key_file(rsa_key().private_path(), {Algorithm::rs256}), std::runtime_error);
  EXPECT_THROW(sign_with_private_key_file(sample_claims(), Algorithm::rs256, rsa_key().public_path()),
               std::runtime_error);
}

TEST(Jwt, SignersRejectMismatchedAlgorithms) {
  EXPECT_THROW(sign_with_secret(sample_claims(), Algorithm::rs256, "k"), std::invalid_argument);
  EXPECT_THROW(sign_with_secret(sample_claims(), Algorithm::es256, "k"), std::invalid_argument);
  EXPECT_THROW(sign_with_private_key_file(sample_claims(), Algorithm::es256, rsa_key().private_path()),
               std::invalid_argument);
  EXPECT_THROW(sign_with_private_key_file(sample_claims(), Algorithm::rs256, ec_key().private_path()),
               std::invalid_argument);
  EXPECT_THROW(sign_with_private_key_file(sample_claims(), Algorithm::hs256, rsa_key().private_path()),
               std::invalid_argument);
}

// --- dates --------------------------------------------------------------------------------------

class JwtDates : public ::testing::Test {
 protected:
  VerifyResult verify_claims(const json::object& claims, seconds leeway = seconds(5)) const {
    return verifier_.verify(sign_with_secret(claims, Algorithm::hs256, "k"), kNow, leeway);
  }
  JwtVerifier verifier_ = JwtVerifier::with_secret("k", {Algorithm::hs256});
};

TEST_F(JwtDates, ExpiredBeyondLeeway) {
  VerifyResult result = verify_claims({{"sub", "x"}, {"exp", kNowSeconds - 6}});
  EXPECT_EQ(result.error, JwtError::expired);
  EXPECT_TRUE(result.claims.empty());
  EXPECT_EQ(verify_claims({{"exp", kNowSeconds - 3600}}).error, JwtError::expired);
  EXPECT_EQ(verify_claims({{"exp", 0}}).error, JwtError::expired);
  EXPECT_EQ(verify_claims({{"exp", -1}}).error, JwtError::expired);
  EXPECT_EQ(verify_claims({{"exp", kNowSeconds - 1}}, seconds(0)).error, JwtError::expired);
}

TEST_F(JwtDates, ExpiryIsExclusive) {
  // RFC 7519 §4.1.4: the token is valid only *before* exp (plus leeway).
  EXPECT_EQ(verify_claims({{"exp", kNowSeconds}}, seconds(0)).error, JwtError::expired);
  EXPECT_EQ(verify_claims({{"exp", kNowSeconds - 5}}, seconds(5)).error, JwtError::expired);
  EXPECT_TRUE(verify_claims({{"exp", kNowSeconds + 1}}, seconds(0)));
}

TEST_F(JwtDates, ExpiredWithinLeewayIsValid) {
  VerifyResult result = verify_claims({{"sub", "x"}, {"exp", kNowSeconds - 4}});
  ASSERT_TRUE(result) << to_string(result.error);
  EXPECT_EQ(result.claims.at("sub").as_string(), "x");
  EXPECT_TRUE(verify_claims({{"exp", kNowSeconds - 50}}, seconds(60)));
  EXPECT_TRUE(verify_claims({{"exp", kNowSeconds + 60}}));
  EXPECT_TRUE(verify_claims({{"exp", static_cast<double>(kNowSeconds) + 0.5}}, seconds(0)));  // fractional dates
}

TEST_F(JwtDates, NotYetValid) {
  VerifyResult result = verify_claims({{"nbf", kNowSeconds + 6}});
  EXPECT_EQ(result.error, JwtError::not_yet_valid);
  EXPECT_TRUE(result.claims.empty());
  EXPECT_EQ(verify_claims({{"nbf", kNowSeconds + 1}}, seconds(0)).error, JwtError::not_yet_valid);
  EXPECT_TRUE(verify_claims({{"nbf", kNowSeconds + 4}}));       // within leeway
  EXPECT_TRUE(verify_claims({{"nbf", kNowSeconds}}, seconds(0)));  // nbf is inclusive
  EXPECT_TRUE(verify_claims({{"nbf", kNowSeconds - 100}, {"exp", kNowSeconds + 100}}));
}

TEST_F(JwtDates, NonNumericDatesAreMalformed) {
  for (const json::object& claims : {json::object{{"exp", std::to_string(kNowSeconds + 60)}},
                                     json::object{{"exp", nullptr}}, json::object{{"exp", true}},
                                     json::object{{"exp", json::array{kNowSeconds + 60}}},
                                     json::object{{"nbf", "0"}}, json::object{{"nbf", json::object{}}}}) {
    SCOPED_TRACE(json::serialize(claims));
    VerifyResult result = verify_claims(claims);
    EXPECT_EQ(result.error, JwtError::malformed);
    EXPECT_TRUE(result.claims.empty());
  }
}

TEST_F(JwtDates, SignatureIsCheckedBeforeDates) {
  std::string token = sign_with_secret({{"exp", kNowSeconds - 3600}}, Algorithm::hs256, "other");
  EXPECT_EQ(verifier_.verify(token, kNow).error, JwtError::bad_signature);
}

TEST_F(JwtDates, LargeAndUnsignedDates) {
  EXPECT_TRUE(verify_claims({{"exp", std::uint64_t{18'000'000'000'000'000'000u}}}));
  EXPECT_TRUE(verify_claims({{"exp", 1e300}}));
  EXPECT_EQ(verify_claims({{"nbf", 1e300}}).error, JwtError::not_yet_valid);
  EXPECT_EQ(verify_claims({{"exp", -1e300}}).error, JwtError::expired);
}

// --- malformed tokens ---------------------------------------------------------------------------

TEST(Jwt, GarbageTokensAreMalformed) {
  auto verifier = JwtVerifier::with_secret("k", {Algorithm::hs256});
  std::string good = sign_with_secret(sample_claims(), Algorithm::hs256, "k");
  ASSERT_TRUE(verifier.verify(good, kNow));
  std::string header = token_part(good, 0);
  std::string payload = token_part(good, 1);
  std::string signature = token_part(good, 2);
  std::string mac_input = header + "." + payload;

  std::vector<std::string> tokens = {
      "",
      ".",
      "..",
      "...",
      "abc",
      header + "." + payload,                                  // 2 parts
      good + "." + signature,                                  // 4 parts
      good + ".",                                              // 4 parts, the last empty
      "." + good,                                              // 4 parts, the first empty
      "." + payload + "." + signature,                         // empty header
      header + ".." + signature,                               // empty payload
      header + "." + payload + "=." + signature,               // '=' padding
      header + "." + payload + "." + signature + "=",          // '=' padding on the signature
      header + "=." + payload + "." + signature,               // '=' padding on the header
      header + "." + payload + "." + signature.substr(0, 42) + "+" + signature.substr(43),  // standard alphabet
      header + "." + payload + "." + signature.substr(0, 42) + "/" + signature.substr(43),
      header + "." + payload + "." + signature.substr(0, 42) + "*" + signature.substr(43),  // not base64 at all
      header + "." + payload + " ." + signature,               // whitespace
      header + "." + payload + "." + signature + "\n",
      " " + good,
      header + "." + payload + "A." + signature,               // length 4n+1 cannot be base64
      header + "." + payload + "." + signature.substr(0, signature.size() - 1) + "B",  // non-zero trailing bits
      std::string("\0", 1) + good,
  };
  auto add = [&](std::string_view header_text, std::string_view payload_text) {
    tokens.push_back(hs256_token(header_text, payload_text, "k"));  // correctly signed, still malformed
  };
  add("[]", R"({"sub":"x"})");                        // header an array
  add(R"("HS256")", R"({"sub":"x"})");                // header a string
  add("null", R"({"sub":"x"})");
  add("", R"({"sub":"x"})");
  add(R"({"alg":"HS256"})", "[]");                    // payload an array
  add(R"({"alg":"HS256"})", "123");                   // payload a number
  add(R"({"alg":"HS256"})", R"("claims")");
  add(R"({"alg":"HS256"})", "");
  add(R"({"alg":"HS256"})", "{");                     // not JSON
  add(R"({"alg":"HS256"})", R"({"sub":"x"} trailing)");
  add(R"({"alg":"HS256"})", R"({"sub":"x",})");       // trailing comma
  add(R"({"alg":"HS256")", R"({"sub":"x"})");
  add(R"({"typ":"JWT"})", R"({"sub":"x"})");          // no alg
  add(R"({"alg":256})", R"({"sub":"x"})");            // alg not a string
  add(R"({"alg":null})", R"({"sub":"x"})");
  add(R"({"alg":["HS256"]})", R"({"sub":"x"})");
  std::string deep = "1";
  for (int i = 0; i < 100; ++i) {
    deep = R"({"a":)" + deep + "}";
  }
  add(R"({"alg":"HS256"})", deep);  // nested deeper than the parser allows

  for (std::size_t i = 0; i < tokens.size(); ++i) {
    SCOPED_TRACE("token #" + std::to_string(i) + ": " + tokens[i]);
    VerifyResult result = verifier.verify(tokens[i], kNow);
    EXPECT_EQ(result.error, JwtError::malformed);
    EXPECT_FALSE(result);
    EXPECT_TRUE(result.claims.empty());
  }
}

TEST(Jwt, IndependentlyBuiltTokensVerify) {
  // Hand-built tokens with unusual but valid JSON still verify, and extra header fields are ignored.
  auto verifier = JwtVerifier::with_secret("k", {Algorithm::hs256});
  VerifyResult result =
      verifier.verify(hs256_token(R"( {"typ":"JWT", "kid":"1", "alg" : "HS256"} )", R"({"a":[1,{"b":null}]})", "k"),
                      kNow);
  ASSERT_TRUE(result) << to_string(result.error);
  EXPECT_EQ(json::serialize(result.claims), R"({"a":[1,{"b":null}]})");
  EXPECT_TRUE(verifier.verify(hs256_token(R"({"alg":"HS256"})", "{}", "k"), kNow));
}

// --- names --------------------------------------------------------------------------------------

TEST(Jwt, AlgorithmNamesRoundTrip) {
  for (Algorithm algorithm : {Algorithm::hs256, Algorithm::hs384, Algorithm::hs512, Algorithm::rs256,
                              Algorithm::es256}) {
    EXPECT_EQ(algorithm_from_name(algorithm_name(algorithm)), algorithm);
  }
  for (std::string_view name : {"none", "hs256", "PS256", "ES384", ""}) {
    EXPECT_FALSE(algorithm_from_name(name).has_value()) << name;
  }
  EXPECT_EQ(to_string(JwtError::none), "valid");
  EXPECT_EQ(to_string(JwtError::expired), "token expired");
  EXPECT_NE(to_string(JwtError::algorithm_not_allowed), to_string(JwtError::bad_signature));
}

}  // namespace
}  // namespace iogate::app::auth
