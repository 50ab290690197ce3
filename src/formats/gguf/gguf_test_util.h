// Helpers shared by the GGUF tests: a byte builder for hand-made files and a locator that finds
// the byte offsets of fields in a valid file so tests can patch exactly one of them.
#ifndef LOOM_FORMATS_GGUF_GGUF_TEST_UTIL_H_
#define LOOM_FORMATS_GGUF_GGUF_TEST_UTIL_H_

#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

#include "formats/gguf/gguf.h"

namespace loom::gguf::testing {

// Little-endian byte builder.
class Bytes {
 public:
  Bytes& U8(uint8_t v) { return Put(v); }
  Bytes& U32(uint32_t v) { return Put(v); }
  Bytes& U64(uint64_t v) { return Put(v); }
  Bytes& I32(int32_t v) { return Put(v); }
  Bytes& Str(std::string_view s) {
    U64(s.size());
    b_.insert(b_.end(), s.begin(), s.end());
    return *this;
  }
  Bytes& Append(const std::vector<uint8_t>& v) {
    b_.insert(b_.end(), v.begin(), v.end());
    return *this;
  }
  Bytes& Zeros(size_t n) {
    b_.resize(b_.size() + n, 0);
    return *this;
  }
  // magic, version, n_tensors, n_kv.
  Bytes& Header(uint64_t n_tensors, uint64_t n_kv, uint32_t version = 3) {
    return U32(kMagic).U32(version).U64(n_tensors).U64(n_kv);
  }
  // Pads with zeros to a multiple of `alignment`.
  Bytes& Pad(size_t alignment) {
    b_.resize((b_.size() + alignment - 1) / alignment * alignment, 0);
    return *this;
  }
  const std::vector<uint8_t>& get() const { return b_; }
  std::vector<uint8_t> take() { return std::move(b_); }

 private:
  template <typename T>
  Bytes& Put(T v) {
    const size_t at = b_.size();
    b_.resize(at + sizeof(T));
    std::memcpy(b_.data() + at, &v, sizeof(T));
    return *this;
  }
  std::vector<uint8_t> b_;
};

template <typename T>
void PatchAt(std::vector<uint8_t>* bytes, size_t offset, T v) {
  ASSERT_LE(offset + sizeof(T), bytes->size());
  std::memcpy(bytes->data() + offset, &v, sizeof(T));
}

// Byte offsets of one key-value entry in a parsed buffer.
struct KeyLayout {
  size_t length;  // u64 key length
  size_t key;     // key bytes
  size_t type;    // u32 value type
  size_t value;   // encoded value
};

// Byte offsets of one tensor info.
struct TensorLayout {
  size_t name_length;
  size_t name;
  size_t n_dims;
  size_t ne;  // ne[0]; ne[j] is at ne + 8 * j
  size_t type;
  size_t offset;
};

// Parses `bytes` (which must be valid) and returns where the fields of `key` / `name` are. The
// reader is zero-copy, so the views it returns point into `bytes`.
inline KeyLayout LocateKey(const std::vector<uint8_t>& bytes, std::string_view key) {
  auto file = Parse(bytes);
  EXPECT_TRUE(file.ok()) << file.status().ToString();
  if (!file.ok()) return {};
  for (const KeyValue& kv : file->metadata()) {
    if (kv.key != key) continue;
    const size_t at = reinterpret_cast<const uint8_t*>(kv.key.data()) - bytes.data();
    return {at - 8, at, at + kv.key.size(), at + kv.key.size() + 4};
  }
  ADD_FAILURE() << "no key " << key;
  return {};
}

inline TensorLayout LocateTensor(const std::vector<uint8_t>& bytes, std::string_view name) {
  auto file = Parse(bytes);
  EXPECT_TRUE(file.ok()) << file.status().ToString();
  if (!file.ok()) return {};
  const TensorInfo* t = file->FindTensor(name);
  EXPECT_NE(t, nullptr) << name;
  if (t == nullptr) return {};
  const size_t at = reinterpret_cast<const uint8_t*>(t->name.data()) - bytes.data();
  const size_t n_dims = at + t->name.size();
  const size_t type = n_dims + 4 + 8 * t->n_dims;
  return {at - 8, at, n_dims, n_dims + 4, type, type + 4};
}

inline std::vector<uint8_t> Filled(size_t n, uint8_t seed) {
  std::vector<uint8_t> v(n);
  for (size_t i = 0; i < n; ++i) v[i] = static_cast<uint8_t>(seed + i * 7);
  return v;
}

}  // namespace loom::gguf::testing

#endif  // LOOM_FORMATS_GGUF_GGUF_TEST_UTIL_H_
