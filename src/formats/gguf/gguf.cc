// GGUF reader. The checks follow ggml/src/gguf.cpp (../shared/RELIABILITY.md §3 "What gguf.cpp
// now checks", §5.1 items 1-7): every length is checked against the bytes that remain before
// anything is sized from it, every size is computed with overflow checks, and tensor data must
// be laid out exactly as ggml lays it out (contiguous, in order, each tensor padded to the
// alignment).
//
// Decisions where ggml leaves room:
//  - n_dims == 0 is accepted as a scalar (all ne = 1), as gguf.cpp accepts it; ggml's own
//    writer never produces it.
//  - With no tensors the data section starts right after the header (no padding), as in
//    gguf.cpp; with tensors it starts at the header end rounded up to the alignment.
//  - Only keys and tensor names are checked for UTF-8; string values are not, because real
//    vocabularies carry byte-level tokens and ggml does not check them either.
//  - Bool values other than 0 and 1 read as true, as in gguf.cpp.
//  - Nested arrays (which gguf.cpp rejects but gguf-py writes) are accepted up to
//    kMaxArrayNesting levels and kMaxNestedArrays arrays per file.
#include "formats/gguf/gguf.h"

#include <algorithm>
#include <bit>
#include <cstring>
#include <new>
#include <stdexcept>
#include <utility>

#include "base/checked_math.h"
#include "base/strings.h"
#include "io/byte_reader.h"

namespace loom::gguf {

static_assert(std::endian::native == std::endian::little,
              "GGUF v3 files are little-endian; values are memcpy'd into host integers");

namespace {

// magic, version, n_tensors, n_kv.
constexpr uint64_t kHeaderBytes = 4 + 4 + 8 + 8;
// The smallest possible entries, used to bound n_kv and n_tensors by the bytes that remain:
// key length + 1-byte key + type + 1-byte value, and name length + 1-byte name + n_dims (0) +
// type + offset.
constexpr uint64_t kMinKvBytes = 8 + 1 + 4 + 1;
constexpr uint64_t kMinTensorInfoBytes = 8 + 1 + 4 + 4 + 8;
// An element of an array of arrays is at least its element type and count.
constexpr uint64_t kMinNestedArrayBytes = 4 + 8;
// A string element is at least its length.
constexpr uint64_t kMinStringBytes = 8;
// A Value is ~130 bytes, an empty nested array 12 file bytes: cap them per file so a file full
// of empty arrays cannot make the parser allocate ten times its size. No known model file uses
// nested arrays at all.
constexpr uint64_t kMaxNestedArrays = 1 << 20;
// Vectors are reserved up to this many entries from the header counts, the rest grows as
// entries actually parse: a header that lies about its counts costs nothing.
constexpr uint64_t kMaxReserve = 1 << 16;

constexpr std::string_view kAlignmentKey = "general.alignment";

bool IsUnsignedType(ValueType t) {
  return t == ValueType::kUint8 || t == ValueType::kUint16 || t == ValueType::kUint32 ||
         t == ValueType::kUint64;
}
bool IsSignedType(ValueType t) {
  return t == ValueType::kInt8 || t == ValueType::kInt16 || t == ValueType::kInt32 ||
         t == ValueType::kInt64;
}
bool IsIntegerType(ValueType t) { return IsUnsignedType(t) || IsSignedType(t); }
bool IsFloatType(ValueType t) { return t == ValueType::kFloat32 || t == ValueType::kFloat64; }

template <typename T>
T Load(const uint8_t* p) {
  T v;
  std::memcpy(&v, p, sizeof(T));
  return v;
}

// Widens one fixed-size element at p into the scalar fields of v.
void DecodeScalar(ValueType t, const uint8_t* p, Value* v) {
  switch (t) {
    case ValueType::kUint8:
      v->u64 = Load<uint8_t>(p);
      break;
    case ValueType::kInt8:
      v->i64 = Load<int8_t>(p);
      break;
    case ValueType::kUint16:
      v->u64 = Load<uint16_t>(p);
      break;
    case ValueType::kInt16:
      v->i64 = Load<int16_t>(p);
      break;
    case ValueType::kUint32:
      v->u64 = Load<uint32_t>(p);
      break;
    case ValueType::kInt32:
      v->i64 = Load<int32_t>(p);
      break;
    case ValueType::kFloat32:
      v->f64 = Load<float>(p);
      break;
    case ValueType::kBool:
      v->u64 = Load<uint8_t>(p) != 0 ? 1 : 0;
      break;
    case ValueType::kUint64:
      v->u64 = Load<uint64_t>(p);
      break;
    case ValueType::kInt64:
      v->i64 = Load<int64_t>(p);
      break;
    case ValueType::kFloat64:
      v->f64 = Load<double>(p);
      break;
    default:
      break;
  }
}

std::string DescribeType(const Value& v) {
  if (v.type == ValueType::kArray) return StrCat("array of ", ValueTypeName(v.elem_type));
  return ValueTypeName(v.type);
}

std::string FormatShape(const TensorInfo& t) {
  std::string s = "[";
  for (uint32_t j = 0; j < t.n_dims; ++j) s += StrCat(j ? ", " : "", t.ne[j]);
  return s + "]";
}

// ggml type ids that were once valid and have been removed; named so the error can say which.
const char* RemovedGgmlTypeName(uint32_t id) {
  switch (id) {
    case 4:
      return "Q4_2";
    case 5:
      return "Q4_3";
    case 31:
      return "Q4_0_4_4";
    case 32:
      return "Q4_0_4_8";
    case 33:
      return "Q4_0_8_8";
    case 36:
      return "IQ4_NL_4_4";
    case 37:
      return "IQ4_NL_4_8";
    case 38:
      return "IQ4_NL_8_8";
    default:
      return nullptr;
  }
}

// Everything the parser produces; moved into a File once the whole file checks out.
struct Parsed {
  uint32_t version = 0;
  uint64_t alignment = kDefaultAlignment;
  uint64_t data_offset = 0;
  std::vector<KeyValue> kv;
  std::vector<TensorInfo> tensors;
  std::map<std::string_view, size_t> kv_index;
  std::map<std::string_view, size_t> tensor_index;
};

class Parser {
 public:
  Parser(std::span<const uint8_t> bytes, const ParseOptions& options)
      : bytes_(bytes), options_(options), r_(bytes) {}

  Status Run(Parsed* out) {
    out_ = out;
    uint64_t n_tensors = 0, n_kv = 0;
    LOOM_RETURN_IF_ERROR(ReadHeader(&n_tensors, &n_kv));
    out_->kv.reserve(std::min(n_kv, kMaxReserve));
    for (uint64_t i = 0; i < n_kv; ++i) LOOM_RETURN_IF_ERROR(ReadKeyValue(i));
    LOOM_RETURN_IF_ERROR(ReadAlignment());
    out_->tensors.reserve(std::min(n_tensors, kMaxReserve));
    for (uint64_t i = 0; i < n_tensors; ++i) LOOM_RETURN_IF_ERROR(ReadTensorInfo(i));
    LOOM_RETURN_IF_ERROR(CheckLayout());
    if (options_.require_tensor_data) LOOM_RETURN_IF_ERROR(CheckTensorDataInBuffer());
    return Status::Ok();
  }

 private:
  Status ReadHeader(uint64_t* n_tensors, uint64_t* n_kv) {
    if (bytes_.empty()) return DataLoss("file is empty (0 bytes), not a GGUF file");
    if (bytes_.size() >= 4) {
      uint32_t magic = Load<uint32_t>(bytes_.data());
      if (magic != kMagic) {
        std::string_view shown(reinterpret_cast<const char*>(bytes_.data()), 4);
        return DataLoss("bad magic ", QuoteForMessage(shown), ", expected 'GGUF': not a GGUF file");
      }
    }
    if (bytes_.size() < kHeaderBytes) {
      return DataLoss("file is ", bytes_.size(), " bytes, shorter than the ", kHeaderBytes,
                      "-byte GGUF header (truncated file?)");
    }
    uint32_t magic = 0;
    LOOM_RETURN_IF_ERROR(r_.Read(&magic, "magic"));
    uint32_t version = 0;
    LOOM_RETURN_IF_ERROR(r_.Read(&version, "version"));
    if (version == 0) return DataLoss("GGUF version 0 is invalid");
    // A v2/v3 file written on a big-endian machine reads as 0x02000000 / 0x03000000 here
    // (gguf.cpp uses the same test).
    if ((version & 0xFFFF) == 0) {
      return Unimplemented("GGUF version ", version, " (0x", std::hex, version, std::dec,
                           ") is implausibly large: the file is probably big-endian (byte "
                           "order swapped), which loom does not support");
    }
    if (version == 1) {
      return Unimplemented("GGUF version 1 is no longer supported (supported: ", kMinVersion,
                           " to ", kMaxVersion, "); re-convert the model");
    }
    if (version > kMaxVersion) {
      return Unimplemented("GGUF version ", version, " is newer than the newest supported version ",
                           kMaxVersion);
    }
    out_->version = version;
    LOOM_RETURN_IF_ERROR(r_.Read(n_tensors, "tensor count"));
    LOOM_RETURN_IF_ERROR(r_.Read(n_kv, "key-value count"));
    const uint64_t remain = r_.remaining();
    if (*n_kv > remain / kMinKvBytes) {
      return DataLoss("key-value count ", *n_kv, " cannot fit in the ", remain,
                      " bytes after the header (each entry needs at least ", kMinKvBytes,
                      " bytes)");
    }
    if (*n_tensors > remain / kMinTensorInfoBytes) {
      return DataLoss("tensor count ", *n_tensors, " cannot fit in the ", remain,
                      " bytes after the header (each tensor info needs at least ",
                      kMinTensorInfoBytes, " bytes)");
    }
    // Both bounds hold, so neither product overflows.
    if (*n_kv * kMinKvBytes + *n_tensors * kMinTensorInfoBytes > remain) {
      return DataLoss("key-value count ", *n_kv, " and tensor count ", *n_tensors,
                      " cannot fit in the ", remain, " bytes after the header");
    }
    return Status::Ok();
  }

  // A u64 length then that many bytes. `what` names the string ("key", "name", ...).
  Status ReadString(std::string_view what, uint64_t max_len, std::string_view* out) {
    uint64_t len = 0;
    LOOM_RETURN_IF_ERROR(r_.Read(&len, "string length"));
    if (len > max_len) {
      return OutOfRange(what, " length ", len, " is more than the limit of ", max_len, " bytes");
    }
    if (len > r_.remaining()) {
      return DataLoss(what, " length ", len, " is more than the ", r_.remaining(),
                      " bytes that remain (truncated file?)");
    }
    return r_.ReadBytes(len, out, what);
  }

  Status ReadKeyValue(uint64_t i) {
    std::string_view key;
    Status s = ReadString("key", kMaxStringBytes, &key);
    if (!s.ok()) return s.WithContext(StrCat("key #", i));
    if (key.empty()) return DataLoss("key #", i, " is empty");
    if (!IsValidUtf8(key)) {
      return DataLoss("key #", i, " ", QuoteForMessage(key), " is not valid UTF-8");
    }
    auto [it, inserted] = out_->kv_index.emplace(key, out_->kv.size());
    if (!inserted) {
      return DataLoss("duplicate key ", QuoteForMessage(key), " (entries #", it->second, " and #",
                      i, ")");
    }
    KeyValue& kv = out_->kv.emplace_back();
    kv.key = key;
    uint32_t type = 0;
    s = r_.Read(&type, "value type");
    if (s.ok()) s = ReadValue(type, &kv.value);
    if (!s.ok()) return s.WithContext(StrCat("key ", QuoteForMessage(key)));
    return Status::Ok();
  }

  Status ReadValue(uint32_t type_id, Value* out) {
    if (type_id >= static_cast<uint32_t>(ValueType::kSentinel)) {
      return DataLoss("value type ", type_id, " is not a GGUF value type (valid: 0 to ",
                      static_cast<uint32_t>(ValueType::kSentinel) - 1, ")");
    }
    const auto type = static_cast<ValueType>(type_id);
    out->type = type;
    if (type == ValueType::kString) return ReadString("string", kMaxStringBytes, &out->str);
    if (type == ValueType::kArray) return ReadArray(1, out);
    std::string_view raw;
    LOOM_RETURN_IF_ERROR(r_.ReadBytes(ValueTypeSize(type), &raw, ValueTypeName(type)));
    DecodeScalar(type, reinterpret_cast<const uint8_t*>(raw.data()), out);
    return Status::Ok();
  }

  // Element type, count, elements. depth is 1 for the array that is the value of a key.
  Status ReadArray(int depth, Value* out) {
    if (depth > kMaxArrayNesting) {
      return OutOfRange("arrays are nested deeper than the limit of ", kMaxArrayNesting);
    }
    out->type = ValueType::kArray;
    uint32_t elem_id = 0;
    LOOM_RETURN_IF_ERROR(r_.Read(&elem_id, "array element type"));
    if (elem_id >= static_cast<uint32_t>(ValueType::kSentinel)) {
      return DataLoss("array element type ", elem_id, " is not a GGUF value type (valid: 0 to ",
                      static_cast<uint32_t>(ValueType::kSentinel) - 1, ")");
    }
    const auto elem = static_cast<ValueType>(elem_id);
    uint64_t count = 0;
    LOOM_RETURN_IF_ERROR(r_.Read(&count, "array length"));
    if (count > kMaxArrayElements) {
      return OutOfRange("array length ", count, " is more than the limit of ", kMaxArrayElements,
                        " elements");
    }
    const uint64_t elem_size = ValueTypeSize(elem);
    const uint64_t min_elem = elem_size != 0               ? elem_size
                              : elem == ValueType::kString ? kMinStringBytes
                                                           : kMinNestedArrayBytes;
    // count <= 2^30 and min_elem <= 12: no overflow.
    if (count * min_elem > r_.remaining()) {
      return DataLoss("array of ", count, " ", ValueTypeName(elem), " elements needs at least ",
                      count * min_elem, " bytes but only ", r_.remaining(),
                      " remain (truncated file?)");
    }
    out->elem_type = elem;
    out->count = count;
    if (elem_size != 0) {
      std::string_view raw;
      LOOM_RETURN_IF_ERROR(r_.ReadBytes(count * elem_size, &raw, "array data"));
      out->packed = {reinterpret_cast<const uint8_t*>(raw.data()), raw.size()};
      return Status::Ok();
    }
    if (elem == ValueType::kString) {
      out->strings.resize(count);
      for (uint64_t j = 0; j < count; ++j) {
        Status s = ReadString("string", kMaxStringBytes, &out->strings[j]);
        if (!s.ok()) return s.WithContext(StrCat("element ", j));
      }
      return Status::Ok();
    }
    nested_arrays_ += count;
    if (nested_arrays_ > kMaxNestedArrays) {
      return OutOfRange("more than ", kMaxNestedArrays, " nested arrays in the file");
    }
    out->arrays.resize(count);
    for (uint64_t j = 0; j < count; ++j) {
      // The elements of an array of arrays are arrays without their own type tag.
      Status s = ReadArray(depth + 1, &out->arrays[j]);
      if (!s.ok()) return s.WithContext(StrCat("element ", j));
    }
    return Status::Ok();
  }

  Status ReadAlignment() {
    auto it = out_->kv_index.find(kAlignmentKey);
    if (it == out_->kv_index.end()) return Status::Ok();
    const Value& v = out_->kv[it->second].value;
    if (v.type != ValueType::kUint32) {
      return DataLoss("key '", kAlignmentKey, "' must be of type uint32 but is ", DescribeType(v));
    }
    if (!IsPowerOfTwo(v.u64)) {
      return DataLoss("key '", kAlignmentKey, "' is ", v.u64,
                      " but the alignment must be a non-zero power of two");
    }
    if (v.u64 > kMaxAlignment) {
      return OutOfRange("key '", kAlignmentKey, "' is ", v.u64, ", more than the limit of ",
                        kMaxAlignment);
    }
    out_->alignment = v.u64;
    return Status::Ok();
  }

  Status ReadTensorInfo(uint64_t i) {
    TensorInfo t;
    Status s = ReadString("name", kMaxTensorNameBytes, &t.name);
    if (!s.ok()) return s.WithContext(StrCat("tensor #", i));
    if (t.name.empty()) return DataLoss("tensor #", i, " has an empty name");
    if (!IsValidUtf8(t.name)) {
      return DataLoss("tensor #", i, " name ", QuoteForMessage(t.name), " is not valid UTF-8");
    }
    auto [it, inserted] = out_->tensor_index.emplace(t.name, out_->tensors.size());
    if (!inserted) {
      return DataLoss("duplicate tensor name ", QuoteForMessage(t.name), " (tensors #", it->second,
                      " and #", i, ")");
    }
    s = ReadShapeAndType(&t);
    if (!s.ok()) return s.WithContext(StrCat("tensor ", QuoteForMessage(t.name)));
    out_->tensors.push_back(t);
    return Status::Ok();
  }

  Status ReadShapeAndType(TensorInfo* t) {
    LOOM_RETURN_IF_ERROR(r_.Read(&t->n_dims, "n_dims"));
    if (t->n_dims > kMaxDims) {
      return OutOfRange("n_dims ", t->n_dims, " is more than the limit of ", kMaxDims);
    }
    for (uint32_t j = 0; j < t->n_dims; ++j) {
      LOOM_RETURN_IF_ERROR(r_.Read(&t->ne[j], "dimension"));
      // ggml keeps dimensions as int64_t: larger values are negative there.
      if (t->ne[j] > static_cast<uint64_t>(INT64_MAX)) {
        return DataLoss("dimension ", j, " is ", t->ne[j], " (", static_cast<int64_t>(t->ne[j]),
                        " as int64), more than the int64 maximum");
      }
    }
    auto n_elements = CheckedProduct(t->ne);
    if (!n_elements || *n_elements > static_cast<uint64_t>(INT64_MAX)) {
      return DataLoss("shape ", FormatShape(*t),
                      " has more elements than fit in int64 (the element count overflows)");
    }
    t->n_elements = *n_elements;
    uint32_t type_id = 0;
    LOOM_RETURN_IF_ERROR(r_.Read(&type_id, "ggml type"));
    const GgmlTypeInfo* info = GetGgmlTypeInfo(type_id);
    if (info == nullptr) {
      if (const char* removed = RemovedGgmlTypeName(type_id)) {
        return Unimplemented("ggml type ", type_id, " (", removed,
                             ") has been removed from ggml; re-convert the model");
      }
      return Unimplemented("unknown ggml type ", type_id,
                           " (newer than this loom, or a corrupt file)");
    }
    t->type = info->type;
    if (t->ne[0] % info->block_size != 0) {
      return DataLoss("type ", info->name, " needs rows that are a multiple of its block size ",
                      info->block_size, " but ne[0] is ", t->ne[0]);
    }
    auto n_bytes = CheckedMul(t->n_elements / info->block_size, info->type_size);
    if (!n_bytes) {
      return DataLoss("shape ", FormatShape(*t), " of type ", info->name,
                      " has a size in bytes that overflows uint64");
    }
    t->n_bytes = *n_bytes;
    LOOM_RETURN_IF_ERROR(r_.Read(&t->offset, "data offset"));
    return Status::Ok();
  }

  // Offsets must be exactly where ggml would put each tensor: the running sum of the previous
  // tensors' sizes, each padded to the alignment. This rules out overlaps, holes, reordering
  // and misalignment in one comparison.
  Status CheckLayout() {
    const uint64_t header_end = r_.offset();
    if (out_->tensors.empty()) {
      out_->data_offset = header_end;
      return Status::Ok();
    }
    // header_end <= 2^64 - 1 is a file size and alignment <= 2^16: this cannot fail in practice.
    auto data_offset = CheckedAlignUp(header_end, out_->alignment);
    if (!data_offset) return DataLoss("data section offset overflows");
    out_->data_offset = *data_offset;
    const uint64_t align = out_->alignment;
    uint64_t expected = 0;
    for (const TensorInfo& t : out_->tensors) {
      const std::string quoted = QuoteForMessage(t.name);
      if (t.offset % align != 0) {
        return DataLoss("tensor ", quoted, " has data offset ", t.offset,
                        ", not a multiple of the alignment ", align);
      }
      if (t.offset != expected) {
        return DataLoss("tensor ", quoted, " has data offset ", t.offset, " but ", expected,
                        " was expected (",
                        t.offset < expected ? "it overlaps" : "it leaves a hole after",
                        " the previous tensor): tensor data must be contiguous and in order");
      }
      auto padded = CheckedAlignUp(t.n_bytes, align);
      auto next = padded ? CheckedAdd(expected, *padded) : std::nullopt;
      if (!next) {
        return DataLoss("tensor ", quoted, ": data offset ", t.offset, " + size ", t.n_bytes,
                        " overflows uint64");
      }
      expected = *next;
    }
    return Status::Ok();
  }

  Status CheckTensorDataInBuffer() {
    const uint64_t size = bytes_.size();
    if (out_->data_offset > size) {
      return DataLoss("tensor data section starts at ", out_->data_offset,
                      ", beyond the file size ", size, " (truncated download?)");
    }
    for (const TensorInfo& t : out_->tensors) {
      auto begin = CheckedAdd(out_->data_offset, t.offset);
      auto end = begin ? CheckedAdd(*begin, t.n_bytes) : std::nullopt;
      if (!end) {
        return DataLoss("tensor ", QuoteForMessage(t.name), " data range (data section ",
                        out_->data_offset, " + offset ", t.offset, " + ", t.n_bytes,
                        " bytes) overflows uint64");
      }
      if (*end > size) {
        return DataLoss("tensor ", QuoteForMessage(t.name), " data [", *begin, ", ", *end,
                        ") extends beyond the file size ", size, " (truncated download?)");
      }
    }
    return Status::Ok();
  }

  std::span<const uint8_t> bytes_;
  const ParseOptions& options_;
  ByteReader r_;
  Parsed* out_ = nullptr;
  uint64_t nested_arrays_ = 0;
};

}  // namespace

const char* ValueTypeName(ValueType t) {
  switch (t) {
    case ValueType::kUint8:
      return "uint8";
    case ValueType::kInt8:
      return "int8";
    case ValueType::kUint16:
      return "uint16";
    case ValueType::kInt16:
      return "int16";
    case ValueType::kUint32:
      return "uint32";
    case ValueType::kInt32:
      return "int32";
    case ValueType::kFloat32:
      return "float32";
    case ValueType::kBool:
      return "bool";
    case ValueType::kString:
      return "string";
    case ValueType::kArray:
      return "array";
    case ValueType::kUint64:
      return "uint64";
    case ValueType::kInt64:
      return "int64";
    case ValueType::kFloat64:
      return "float64";
    default:
      return "invalid";
  }
}

size_t ValueTypeSize(ValueType t) {
  switch (t) {
    case ValueType::kUint8:
    case ValueType::kInt8:
    case ValueType::kBool:
      return 1;
    case ValueType::kUint16:
    case ValueType::kInt16:
      return 2;
    case ValueType::kUint32:
    case ValueType::kInt32:
    case ValueType::kFloat32:
      return 4;
    case ValueType::kUint64:
    case ValueType::kInt64:
    case ValueType::kFloat64:
      return 8;
    default:
      return 0;
  }
}

int64_t Value::IntAt(uint64_t i) const {
  if (type != ValueType::kArray || i >= count) return 0;
  if (!IsIntegerType(elem_type) && elem_type != ValueType::kBool) return 0;
  const size_t size = ValueTypeSize(elem_type);
  if (packed.size() < (i + 1) * size) return 0;
  Value v;
  DecodeScalar(elem_type, packed.data() + i * size, &v);
  // uint64 elements above INT64_MAX wrap here; GetIntArray reports them instead.
  return IsSignedType(elem_type) ? v.i64 : static_cast<int64_t>(v.u64);
}

double Value::FloatAt(uint64_t i) const {
  if (type != ValueType::kArray || i >= count) return 0.0;
  const size_t size = ValueTypeSize(elem_type);
  if (size == 0 || packed.size() < (i + 1) * size) return 0.0;
  Value v;
  DecodeScalar(elem_type, packed.data() + i * size, &v);
  if (IsFloatType(elem_type)) return v.f64;
  if (IsSignedType(elem_type)) return static_cast<double>(v.i64);
  return static_cast<double>(v.u64);
}

const Value* File::Find(std::string_view key) const {
  auto it = kv_index_.find(key);
  return it == kv_index_.end() ? nullptr : &kv_[it->second].value;
}

const TensorInfo* File::FindTensor(std::string_view name) const {
  auto it = tensor_index_.find(name);
  return it == tensor_index_.end() ? nullptr : &tensors_[it->second];
}

std::span<const uint8_t> File::TensorData(const TensorInfo& t) const {
  auto begin = CheckedAdd(data_offset_, t.offset);
  auto end = begin ? CheckedAdd(*begin, t.n_bytes) : std::nullopt;
  if (!end || *end > bytes_.size()) return {};
  return bytes_.subspan(*begin, t.n_bytes);
}

namespace {

Status KeyNotFound(std::string_view key) {
  return NotFound("key ", QuoteForMessage(key), " not found");
}

Status WrongType(std::string_view key, std::string_view expected, const Value& v) {
  return InvalidArgument("key ", QuoteForMessage(key), " must be ", expected, " but is ",
                         DescribeType(v));
}

}  // namespace

Status File::GetString(std::string_view key, std::string* out) const {
  const Value* v = Find(key);
  if (v == nullptr) return KeyNotFound(key);
  if (v->type != ValueType::kString) return WrongType(key, "of type string", *v);
  out->assign(v->str);
  return Status::Ok();
}

Status File::GetUint(std::string_view key, uint64_t* out) const {
  const Value* v = Find(key);
  if (v == nullptr) return KeyNotFound(key);
  if (IsUnsignedType(v->type)) {
    *out = v->u64;
  } else if (IsSignedType(v->type)) {
    if (v->i64 < 0) {
      return OutOfRange("key ", QuoteForMessage(key), " is ", v->i64, " but must be non-negative");
    }
    *out = static_cast<uint64_t>(v->i64);
  } else {
    return WrongType(key, "of an integer type", *v);
  }
  return Status::Ok();
}

Status File::GetInt(std::string_view key, int64_t* out) const {
  const Value* v = Find(key);
  if (v == nullptr) return KeyNotFound(key);
  if (IsSignedType(v->type)) {
    *out = v->i64;
  } else if (IsUnsignedType(v->type)) {
    if (v->u64 > static_cast<uint64_t>(INT64_MAX)) {
      return OutOfRange("key ", QuoteForMessage(key), " is ", v->u64,
                        ", more than the int64 maximum");
    }
    *out = static_cast<int64_t>(v->u64);
  } else {
    return WrongType(key, "of an integer type", *v);
  }
  return Status::Ok();
}

Status File::GetFloat(std::string_view key, double* out) const {
  const Value* v = Find(key);
  if (v == nullptr) return KeyNotFound(key);
  if (!IsFloatType(v->type)) return WrongType(key, "of type float32 or float64", *v);
  *out = v->f64;
  return Status::Ok();
}

Status File::GetBool(std::string_view key, bool* out) const {
  const Value* v = Find(key);
  if (v == nullptr) return KeyNotFound(key);
  if (v->type != ValueType::kBool) return WrongType(key, "of type bool", *v);
  *out = v->u64 != 0;
  return Status::Ok();
}

Status File::GetIntArray(std::string_view key, std::vector<int64_t>* out) const {
  const Value* v = Find(key);
  if (v == nullptr) return KeyNotFound(key);
  if (v->type != ValueType::kArray ||
      !(IsIntegerType(v->elem_type) || v->elem_type == ValueType::kBool)) {
    return WrongType(key, "an array of integers", *v);
  }
  out->resize(v->count);
  for (uint64_t i = 0; i < v->count; ++i) {
    if (v->elem_type == ValueType::kUint64 &&
        Load<uint64_t>(v->packed.data() + i * 8) > static_cast<uint64_t>(INT64_MAX)) {
      return OutOfRange("key ", QuoteForMessage(key), " element ", i, " is ",
                        Load<uint64_t>(v->packed.data() + i * 8), ", more than the int64 maximum");
    }
    (*out)[i] = v->IntAt(i);
  }
  return Status::Ok();
}

Status File::GetFloatArray(std::string_view key, std::vector<double>* out) const {
  const Value* v = Find(key);
  if (v == nullptr) return KeyNotFound(key);
  if (v->type != ValueType::kArray || !(IsIntegerType(v->elem_type) || IsFloatType(v->elem_type))) {
    return WrongType(key, "an array of numbers", *v);
  }
  out->resize(v->count);
  for (uint64_t i = 0; i < v->count; ++i) (*out)[i] = v->FloatAt(i);
  return Status::Ok();
}

Status File::GetStringArray(std::string_view key, std::vector<std::string_view>* out) const {
  const Value* v = Find(key);
  if (v == nullptr) return KeyNotFound(key);
  if (v->type != ValueType::kArray || v->elem_type != ValueType::kString) {
    return WrongType(key, "an array of strings", *v);
  }
  *out = v->strings;
  return Status::Ok();
}

Result<File> Parse(std::span<const uint8_t> bytes, const ParseOptions& options) {
  try {
    Parsed parsed;
    Parser parser(bytes, options);
    LOOM_RETURN_IF_ERROR(parser.Run(&parsed));
    File file;
    file.bytes_ = bytes;
    file.version_ = parsed.version;
    file.alignment_ = parsed.alignment;
    file.data_offset_ = parsed.data_offset;
    file.kv_ = std::move(parsed.kv);
    file.tensors_ = std::move(parsed.tensors);
    file.kv_index_ = std::move(parsed.kv_index);
    file.tensor_index_ = std::move(parsed.tensor_index);
    return file;
  } catch (const std::bad_alloc&) {
    return ResourceExhausted("out of memory while parsing a GGUF file of ", bytes.size(), " bytes");
  } catch (const std::length_error&) {
    return ResourceExhausted("out of memory (length_error) while parsing a GGUF file of ",
                             bytes.size(), " bytes");
  }
}

Result<File> Open(const std::string& path, const ParseOptions& options) {
  // MappedFile's own errors already name the path.
  LOOM_ASSIGN_OR_RETURN(std::unique_ptr<MappedFile> mapped, MappedFile::Open(path));
  std::shared_ptr<MappedFile> owner = std::move(mapped);
  Result<File> file = Parse(owner->bytes(), options);
  if (!file.ok()) return file.status().WithContext(path);
  file->owner_ = std::move(owner);
  return file;
}

}  // namespace loom::gguf
