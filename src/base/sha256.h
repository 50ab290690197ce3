// SHA-256 (FIPS 180-4): the fixtures and goldens record hashes of images, audio, id sequences
// and whole files; tests compare against them.
#ifndef LOOM_BASE_SHA256_H_
#define LOOM_BASE_SHA256_H_

#include <cstdint>
#include <span>
#include <string>
#include <string_view>

namespace loom {

// Lowercase hex digest of `data`.
std::string Sha256Hex(std::span<const uint8_t> data);
std::string Sha256Hex(std::string_view data);

}  // namespace loom

#endif  // LOOM_BASE_SHA256_H_
