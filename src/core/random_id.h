#pragma once
// Unpredictable identifiers (session and socket ids are bearer secrets for polling requests).
#include <cstddef>
#include <string>

namespace iogate::core {

inline constexpr char kBase64UrlAlphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

// `length` characters from the base64url alphabet, from a cryptographic random source.
std::string random_id(std::size_t length);

}  // namespace iogate::core
