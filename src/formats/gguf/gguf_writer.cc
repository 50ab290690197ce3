// GGUF writer. The layout matches gguf-py's GGUFWriter byte for byte: header, key-values in
// insertion order, tensor infos, zero padding to the alignment, then each tensor's data padded
// with zeros to the alignment (the last one included).
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <utility>

#include "base/checked_math.h"
#include "base/strings.h"
#include "formats/gguf/gguf.h"

namespace loom::gguf {
namespace {

template <typename T>
void Append(std::vector<uint8_t>* out, T v) {
  const size_t at = out->size();
  out->resize(at + sizeof(T));
  std::memcpy(out->data() + at, &v, sizeof(T));
}

void AppendString(std::vector<uint8_t>* out, std::string_view s) {
  Append<uint64_t>(out, s.size());
  out->insert(out->end(), s.begin(), s.end());
}

void PadTo(std::vector<uint8_t>* out, uint64_t alignment) {
  out->resize(*CheckedAlignUp(out->size(), alignment), 0);
}

template <typename T>
std::vector<uint8_t> EncodeScalar(T v) {
  std::vector<uint8_t> out;
  Append(&out, v);
  return out;
}

template <typename T>
std::vector<uint8_t> EncodeArray(ValueType elem, const std::vector<T>& values) {
  std::vector<uint8_t> out;
  out.reserve(4 + 8 + values.size() * sizeof(T));
  Append<uint32_t>(&out, static_cast<uint32_t>(elem));
  Append<uint64_t>(&out, values.size());
  for (const T& v : values) Append(&out, v);
  return out;
}

}  // namespace

void Writer::Put(std::string key, ValueType type, std::vector<uint8_t> value) {
  for (Entry& e : kv_) {
    if (e.key == key) {
      e.type = type;
      e.value = std::move(value);
      return;
    }
  }
  kv_.push_back(Entry{std::move(key), type, std::move(value)});
}

void Writer::AddUint8(std::string key, uint8_t v) {
  Put(std::move(key), ValueType::kUint8, EncodeScalar(v));
}
void Writer::AddInt8(std::string key, int8_t v) {
  Put(std::move(key), ValueType::kInt8, EncodeScalar(v));
}
void Writer::AddUint16(std::string key, uint16_t v) {
  Put(std::move(key), ValueType::kUint16, EncodeScalar(v));
}
void Writer::AddInt16(std::string key, int16_t v) {
  Put(std::move(key), ValueType::kInt16, EncodeScalar(v));
}
void Writer::AddUint32(std::string key, uint32_t v) {
  Put(std::move(key), ValueType::kUint32, EncodeScalar(v));
}
void Writer::AddInt32(std::string key, int32_t v) {
  Put(std::move(key), ValueType::kInt32, EncodeScalar(v));
}
void Writer::AddUint64(std::string key, uint64_t v) {
  Put(std::move(key), ValueType::kUint64, EncodeScalar(v));
}
void Writer::AddInt64(std::string key, int64_t v) {
  Put(std::move(key), ValueType::kInt64, EncodeScalar(v));
}
void Writer::AddFloat32(std::string key, float v) {
  Put(std::move(key), ValueType::kFloat32, EncodeScalar(v));
}
void Writer::AddFloat64(std::string key, double v) {
  Put(std::move(key), ValueType::kFloat64, EncodeScalar(v));
}
void Writer::AddBool(std::string key, bool v) {
  Put(std::move(key), ValueType::kBool, EncodeScalar<uint8_t>(v ? 1 : 0));
}

void Writer::AddString(std::string key, std::string v) {
  std::vector<uint8_t> out;
  AppendString(&out, v);
  Put(std::move(key), ValueType::kString, std::move(out));
}

void Writer::AddUint32Array(std::string key, const std::vector<uint32_t>& v) {
  Put(std::move(key), ValueType::kArray, EncodeArray(ValueType::kUint32, v));
}
void Writer::AddInt32Array(std::string key, const std::vector<int32_t>& v) {
  Put(std::move(key), ValueType::kArray, EncodeArray(ValueType::kInt32, v));
}
void Writer::AddFloat32Array(std::string key, const std::vector<float>& v) {
  Put(std::move(key), ValueType::kArray, EncodeArray(ValueType::kFloat32, v));
}

void Writer::AddBoolArray(std::string key, const std::vector<bool>& v) {
  std::vector<uint8_t> bytes(v.begin(), v.end());
  Put(std::move(key), ValueType::kArray, EncodeArray(ValueType::kBool, bytes));
}

void Writer::AddStringArray(std::string key, const std::vector<std::string>& v) {
  std::vector<uint8_t> out;
  Append<uint32_t>(&out, static_cast<uint32_t>(ValueType::kString));
  Append<uint64_t>(&out, v.size());
  for (const std::string& s : v) AppendString(&out, s);
  Put(std::move(key), ValueType::kArray, std::move(out));
}

void Writer::AddRaw(std::string key, ValueType type, std::vector<uint8_t> encoded_value) {
  Put(std::move(key), type, std::move(encoded_value));
}

void Writer::SetAlignment(uint32_t alignment) {
  LOOM_CHECK(IsPowerOfTwo(alignment) && alignment <= kMaxAlignment);
  alignment_ = alignment;
  AddUint32("general.alignment", alignment);
}

Status Writer::AddTensor(std::string name, GgmlType type, std::vector<uint64_t> ne,
                         std::span<const uint8_t> data) {
  const std::string quoted = QuoteForMessage(name);
  if (name.empty()) return InvalidArgument("tensor name is empty");
  if (name.size() > kMaxTensorNameBytes) {
    return InvalidArgument("tensor name ", quoted, " is ", name.size(),
                           " bytes, more than the limit of ", kMaxTensorNameBytes);
  }
  if (!IsValidUtf8(name)) return InvalidArgument("tensor name ", quoted, " is not valid UTF-8");
  for (const PendingTensor& t : tensors_) {
    if (t.name == name) return InvalidArgument("duplicate tensor name ", quoted);
  }
  const GgmlTypeInfo* info = GetGgmlTypeInfo(static_cast<uint32_t>(type));
  if (info == nullptr) {
    return InvalidArgument("tensor ", quoted, ": unknown ggml type ", static_cast<uint32_t>(type));
  }
  if (ne.size() > kMaxDims) {
    return InvalidArgument("tensor ", quoted, " has ", ne.size(), " dimensions, more than ",
                           kMaxDims);
  }
  for (size_t j = 0; j < ne.size(); ++j) {
    if (ne[j] > static_cast<uint64_t>(INT64_MAX)) {
      return InvalidArgument("tensor ", quoted, ": ne[", j, "] = ", ne[j],
                             " is more than the int64 maximum");
    }
  }
  auto n_elements = CheckedProduct(ne);
  if (!n_elements || *n_elements > static_cast<uint64_t>(INT64_MAX)) {
    return InvalidArgument("tensor ", quoted, ": element count overflows int64");
  }
  const uint64_t ne0 = ne.empty() ? 1 : ne[0];
  if (ne0 % info->block_size != 0) {
    return InvalidArgument("tensor ", quoted, " of type ", info->name, ": ne[0] = ", ne0,
                           " is not a multiple of the block size ", info->block_size);
  }
  auto n_bytes = CheckedMul(*n_elements / info->block_size, info->type_size);
  if (!n_bytes || *n_bytes != data.size()) {
    return InvalidArgument("tensor ", quoted, " of type ", info->name, " needs ",
                           n_bytes ? StrCat(*n_bytes) : std::string("too many"),
                           " bytes for its shape but ", data.size(), " were given");
  }
  tensors_.push_back(
      PendingTensor{std::move(name), type, std::move(ne), {data.begin(), data.end()}});
  return Status::Ok();
}

std::vector<uint8_t> Writer::Serialize() const {
  std::vector<uint8_t> out;
  Append<uint32_t>(&out, kMagic);
  Append<uint32_t>(&out, version_);
  Append<uint64_t>(&out, tensors_.size());
  Append<uint64_t>(&out, kv_.size());
  for (const Entry& e : kv_) {
    AppendString(&out, e.key);
    Append<uint32_t>(&out, static_cast<uint32_t>(e.type));
    out.insert(out.end(), e.value.begin(), e.value.end());
  }
  uint64_t offset = 0;
  for (const PendingTensor& t : tensors_) {
    AppendString(&out, t.name);
    Append<uint32_t>(&out, static_cast<uint32_t>(t.ne.size()));
    for (uint64_t d : t.ne) Append<uint64_t>(&out, d);
    Append<uint32_t>(&out, static_cast<uint32_t>(t.type));
    Append<uint64_t>(&out, offset);
    offset += *CheckedAlignUp(t.data.size(), alignment_);
  }
  // gguf-py pads the header even when there are no tensors.
  PadTo(&out, alignment_);
  out.reserve(out.size() + offset);
  for (const PendingTensor& t : tensors_) {
    out.insert(out.end(), t.data.begin(), t.data.end());
    PadTo(&out, alignment_);
  }
  return out;
}

Status Writer::WriteFile(const std::string& path) const {
  const std::vector<uint8_t> bytes = Serialize();
  // Write a temporary file and rename it, so a crash or a full disk never leaves a truncated
  // model under the final name.
  const std::string tmp = path + ".tmp";
  std::FILE* f = std::fopen(tmp.c_str(), "wb");
  if (f == nullptr) {
    return IoError("open ", QuoteForMessage(tmp, 4096), " for writing: ", std::strerror(errno));
  }
  const size_t written = std::fwrite(bytes.data(), 1, bytes.size(), f);
  const int write_errno = errno;
  const bool closed = std::fclose(f) == 0;
  if (written != bytes.size() || !closed) {
    std::remove(tmp.c_str());
    return IoError("write ", QuoteForMessage(tmp, 4096), ": wrote ", written, " of ", bytes.size(),
                   " bytes: ", std::strerror(write_errno));
  }
  if (std::rename(tmp.c_str(), path.c_str()) != 0) {
    const int rename_errno = errno;
    std::remove(tmp.c_str());
    return IoError("rename ", QuoteForMessage(tmp, 4096), " to ", QuoteForMessage(path, 4096), ": ",
                   std::strerror(rename_errno));
  }
  return Status::Ok();
}

}  // namespace loom::gguf
