// GGUF (v2/v3) reader and writer. A pure parser: no model knowledge, no allocation sized by the
// file beyond what the file's own bytes can back, every length checked against the bytes that
// remain (../shared/RELIABILITY.md §3, §5.1).
//
// The reader is zero-copy: strings, arrays and tensor data are views into the parsed bytes, so
// a File must not outlive them (Open() keeps its own mapping alive).
#ifndef LOOM_FORMATS_GGUF_GGUF_H_
#define LOOM_FORMATS_GGUF_GGUF_H_

#include <array>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "base/mapped_file.h"
#include "base/status.h"
#include "formats/gguf/ggml_types.h"

namespace loom::gguf {

inline constexpr uint32_t kMagic = 0x46554747;  // "GGUF" read as a little-endian uint32
inline constexpr uint32_t kMinVersion = 2;      // v1 (32-bit counts) is no longer produced
inline constexpr uint32_t kMaxVersion = 3;
inline constexpr uint64_t kDefaultAlignment = 32;
// Limits. Strings and arrays as in ggml PR #19856; alignment capped as proposed in PR #24997.
inline constexpr uint64_t kMaxStringBytes = 1ull << 30;
inline constexpr uint64_t kMaxArrayElements = 1ull << 30;
inline constexpr uint64_t kMaxAlignment = 1ull << 16;
inline constexpr size_t kMaxTensorNameBytes = 63;  // ggml's GGML_MAX_NAME is 64 with the NUL
inline constexpr uint32_t kMaxDims = 4;
inline constexpr int kMaxArrayNesting = 8;

enum class ValueType : uint32_t {
  kUint8 = 0,
  kInt8 = 1,
  kUint16 = 2,
  kInt16 = 3,
  kUint32 = 4,
  kInt32 = 5,
  kFloat32 = 6,
  kBool = 7,
  kString = 8,
  kArray = 9,
  kUint64 = 10,
  kInt64 = 11,
  kFloat64 = 12,
  kSentinel = 13,
};

const char* ValueTypeName(ValueType t);
// Bytes of one element of a fixed-size type; 0 for kString, kArray and invalid types.
size_t ValueTypeSize(ValueType t);

// One metadata value. Scalars are stored widened; arrays of fixed-size elements keep their
// packed little-endian bytes (a 262,144-entry score table is not copied).
struct Value {
  ValueType type = ValueType::kSentinel;

  // Scalars: the field matching the type family holds the value.
  uint64_t u64 = 0;      // kUint8/16/32/64 and kBool (0 or 1)
  int64_t i64 = 0;       // kInt8/16/32/64
  double f64 = 0.0;      // kFloat32/64
  std::string_view str;  // kString

  // Arrays (type == kArray).
  ValueType elem_type = ValueType::kSentinel;
  uint64_t count = 0;
  std::span<const uint8_t> packed;        // fixed-size elements, count * ValueTypeSize(elem)
  std::vector<std::string_view> strings;  // elem_type == kString
  std::vector<Value> arrays;              // elem_type == kArray (nested arrays)

  // Element i of a packed numeric array, converted; i < count is the caller's duty.
  int64_t IntAt(uint64_t i) const;   // integer and bool element types
  double FloatAt(uint64_t i) const;  // any numeric element type
};

struct KeyValue {
  std::string_view key;
  Value value;
};

struct TensorInfo {
  std::string_view name;
  uint32_t n_dims = 0;  // 0 to kMaxDims; 0 is a scalar (gguf.cpp accepts it too)
  std::array<uint64_t, kMaxDims> ne = {1, 1, 1, 1};  // ggml order: ne[0] is the row length
  GgmlType type = GgmlType::kF32;
  uint64_t offset = 0;  // relative to the start of the data section
  uint64_t n_elements = 0;
  uint64_t n_bytes = 0;
};

struct ParseOptions {
  // When true, every tensor's bytes must lie inside the parsed buffer. Set false to read only
  // the header of a file whose data is elsewhere (or to fuzz the header parser alone).
  bool require_tensor_data = true;
};

class File {
 public:
  uint32_t version() const { return version_; }
  uint64_t alignment() const { return alignment_; }
  // Absolute offset of the tensor data section in the parsed bytes: the end of the header
  // rounded up to the alignment, or the end of the header itself when there are no tensors.
  uint64_t data_offset() const { return data_offset_; }
  uint64_t file_size() const { return bytes_.size(); }

  const std::vector<KeyValue>& metadata() const { return kv_; }
  const std::vector<TensorInfo>& tensors() const { return tensors_; }

  const Value* Find(std::string_view key) const;
  const TensorInfo* FindTensor(std::string_view name) const;
  // The bytes of one tensor. Empty when the data was not part of the parsed buffer.
  std::span<const uint8_t> TensorData(const TensorInfo& t) const;

  // Type-checked getters. NotFound when the key is absent; InvalidArgument
  // "key 'gemma3.block_count' must be of type uint32 but is string" on a type mismatch.
  // GetUint/GetInt accept every integer type whose value fits; GetFloat accepts f32/f64.
  Status GetString(std::string_view key, std::string* out) const;
  Status GetUint(std::string_view key, uint64_t* out) const;
  Status GetInt(std::string_view key, int64_t* out) const;
  Status GetFloat(std::string_view key, double* out) const;
  Status GetBool(std::string_view key, bool* out) const;
  // Arrays: element type must be an integer (or bool) / numeric / string type.
  Status GetIntArray(std::string_view key, std::vector<int64_t>* out) const;
  Status GetFloatArray(std::string_view key, std::vector<double>* out) const;
  Status GetStringArray(std::string_view key, std::vector<std::string_view>* out) const;

 private:
  friend Result<File> Parse(std::span<const uint8_t> bytes, const ParseOptions& options);
  friend Result<File> Open(const std::string& path, const ParseOptions& options);

  std::shared_ptr<MappedFile> owner_;  // set by Open(); keeps the views valid
  std::span<const uint8_t> bytes_;
  uint32_t version_ = 0;
  uint64_t alignment_ = kDefaultAlignment;
  uint64_t data_offset_ = 0;
  std::vector<KeyValue> kv_;
  std::vector<TensorInfo> tensors_;
  std::map<std::string_view, size_t> kv_index_;
  std::map<std::string_view, size_t> tensor_index_;
};

// Parses a whole GGUF file held in `bytes` (which must outlive the File).
Result<File> Parse(std::span<const uint8_t> bytes, const ParseOptions& options = {});
// Maps `path` and parses it; errors are prefixed with the path.
Result<File> Open(const std::string& path, const ParseOptions& options = {});

// Builds a GGUF file in memory. Used by `loom convert/quantize`, by tests (the corruption
// catalogue starts from valid files) and by fuzz seed generation.
class Writer {
 public:
  explicit Writer(uint32_t version = 3) : version_(version) {}

  void AddUint8(std::string key, uint8_t v);
  void AddInt8(std::string key, int8_t v);
  void AddUint16(std::string key, uint16_t v);
  void AddInt16(std::string key, int16_t v);
  void AddUint32(std::string key, uint32_t v);
  void AddInt32(std::string key, int32_t v);
  void AddUint64(std::string key, uint64_t v);
  void AddInt64(std::string key, int64_t v);
  void AddFloat32(std::string key, float v);
  void AddFloat64(std::string key, double v);
  void AddBool(std::string key, bool v);
  void AddString(std::string key, std::string v);
  void AddUint32Array(std::string key, const std::vector<uint32_t>& v);
  void AddInt32Array(std::string key, const std::vector<int32_t>& v);
  void AddFloat32Array(std::string key, const std::vector<float>& v);
  void AddBoolArray(std::string key, const std::vector<bool>& v);
  void AddStringArray(std::string key, const std::vector<std::string>& v);
  // A metadata entry given as its already-encoded value bytes (type tag excluded); lets tests
  // write nested arrays and deliberately odd values.
  //
  // Keys are written verbatim (an empty or non-UTF-8 key makes a file the reader rejects, which
  // the corruption tests rely on). Adding a key that is already present replaces its type and
  // value in place, keeping its position, as gguf-py does.
  void AddRaw(std::string key, ValueType type, std::vector<uint8_t> encoded_value);

  // Sets general.alignment (written as uint32) and the padding used for tensor data. `alignment`
  // must be a power of two <= kMaxAlignment (checked: a bad value is a programmer error). Writing
  // general.alignment with AddUint32/AddRaw instead changes only the key, not the padding.
  void SetAlignment(uint32_t alignment);

  // Adds a tensor; `ne` in ggml order. Fails when data.size() != the size the type and shape
  // imply, when the shape is invalid for the type's block size, or the name repeats.
  Status AddTensor(std::string name, GgmlType type, std::vector<uint64_t> ne,
                   std::span<const uint8_t> data);

  std::vector<uint8_t> Serialize() const;
  Status WriteFile(const std::string& path) const;

 private:
  struct Entry {
    std::string key;
    ValueType type;
    std::vector<uint8_t> value;  // encoded value bytes
  };
  struct PendingTensor {
    std::string name;
    GgmlType type;
    std::vector<uint64_t> ne;
    std::vector<uint8_t> data;
  };
  // Appends or replaces (in place) one metadata entry.
  void Put(std::string key, ValueType type, std::vector<uint8_t> value);

  uint32_t version_;
  uint32_t alignment_ = kDefaultAlignment;
  std::vector<Entry> kv_;
  std::vector<PendingTensor> tensors_;
};

}  // namespace loom::gguf

#endif  // LOOM_FORMATS_GGUF_GGUF_H_
