// safetensors: DType table, the single-file parser and the writer. The checks follow the Rust
// reference (safetensors/src/tensor.rs) and ../shared/RELIABILITY.md §5.2 items 14-18; where the
// reference is silent (extra fields in a tensor entry, nesting depth) we are stricter.
#include "formats/safetensors/safetensors.h"

#include <algorithm>
#include <iterator>
#include <new>
#include <set>
#include <tuple>

#include "base/checked_math.h"
#include "base/strings.h"
#include "formats/json.h"

namespace loom::safetensors {
namespace {

struct DTypeEntry {
  DType type;
  const char* name;
  size_t size;
};

constexpr DTypeEntry kDTypes[] = {
    {DType::kF64, "F64", 8},   {DType::kF32, "F32", 4}, {DType::kF16, "F16", 2},
    {DType::kBF16, "BF16", 2}, {DType::kI64, "I64", 8}, {DType::kI32, "I32", 4},
    {DType::kI16, "I16", 2},   {DType::kI8, "I8", 1},   {DType::kU8, "U8", 1},
    {DType::kBool, "BOOL", 1},
};
static_assert(std::size(kDTypes) == static_cast<size_t>(DType::kSentinel),
              "every DType needs a row in kDTypes");

constexpr uint64_t kLengthBytes = 8;

// A valid header nests three deep (root object, tensor object, shape array); anything deeper is
// malformed, so the limit sits far below json::ParseStrict's generic 64 to refuse it early.
constexpr int kMaxHeaderDepth = 4;

const DTypeEntry* FindDType(DType t) {
  auto i = static_cast<size_t>(t);
  return i < std::size(kDTypes) ? &kDTypes[i] : nullptr;
}

std::string SupportedDTypes() {
  std::vector<std::string> names;
  for (const DTypeEntry& e : kDTypes) names.emplace_back(e.name);
  return Join(names, ", ");
}

std::string ShapeString(const std::vector<uint64_t>& shape) {
  std::vector<std::string> dims;
  for (uint64_t d : shape) dims.push_back(StrCat(d));
  return StrCat("[", Join(dims, ", "), "]");
}

uint64_t LoadLe64(const uint8_t* p) {
  uint64_t v = 0;
  for (int i = 7; i >= 0; --i) v = (v << 8) | p[i];
  return v;
}

// Reads a JSON value that must be a non-negative integer. nlohmann keeps non-negative literals
// as unsigned and turns literals beyond 2^64 - 1 into doubles, which are refused here like any
// other float: offsets and dimensions must be exact.
Status ReadU64(const json::Json& v, const std::string& what, uint64_t* out) {
  if (v.is_number_unsigned()) {
    *out = v.get<uint64_t>();
    return Status::Ok();
  }
  if (v.is_number_integer()) {
    int64_t s = v.get<int64_t>();
    if (s >= 0) {  // "-0" parses as a signed zero
      *out = static_cast<uint64_t>(s);
      return Status::Ok();
    }
    return DataLoss(what, " is ", s, ", expected a non-negative integer");
  }
  if (v.is_number_float()) {
    return DataLoss(what, " is the floating-point number ", v.get<double>(),
                    ", expected a non-negative integer");
  }
  return DataLoss(what, " is of type ", json::TypeName(v), ", expected a non-negative integer");
}

Status ParseMetadata(const json::Json& v, std::map<std::string, std::string>* out) {
  if (!v.is_object()) {
    return DataLoss("__metadata__ is of type ", json::TypeName(v),
                    ", expected an object of strings");
  }
  for (auto it = v.begin(); it != v.end(); ++it) {
    if (!it->is_string()) {
      return DataLoss("__metadata__ ", QuoteForMessage(it.key()), " is of type ",
                      json::TypeName(*it), ", expected a string");
    }
    (*out)[it.key()] = it->get<std::string>();
  }
  return Status::Ok();
}

// Fills `t` (whose name is set) from its header entry and checks it on its own: types, dtype,
// dims, begin <= end, and that the byte span matches the shape. Layout checks come later.
Status ParseTensor(const json::Json& entry, TensorInfo* t) {
  const std::string where = StrCat("tensor ", QuoteForMessage(t->name));
  if (!entry.is_object()) {
    return DataLoss(where, ": entry is of type ", json::TypeName(entry),
                    ", expected an object with dtype, shape and data_offsets");
  }
  // Extra fields are refused: a reader that ignores them would accept files another reader
  // interprets differently.
  for (auto it = entry.begin(); it != entry.end(); ++it) {
    if (it.key() != "dtype" && it.key() != "shape" && it.key() != "data_offsets") {
      return DataLoss(where, ": unexpected field ", QuoteForMessage(it.key()),
                      " (allowed: dtype, shape, data_offsets)");
    }
  }
  for (const char* field : {"dtype", "shape", "data_offsets"}) {
    if (!entry.contains(field)) return DataLoss(where, ": missing field '", field, "'");
  }

  const json::Json& dtype = entry["dtype"];
  if (!dtype.is_string()) {
    return DataLoss(where, ": dtype is of type ", json::TypeName(dtype), ", expected a string");
  }
  const std::string& dtype_name = dtype.get_ref<const std::string&>();
  std::optional<DType> parsed_dtype = DTypeFromName(dtype_name);
  if (!parsed_dtype) {
    return Unimplemented(where, ": dtype ", QuoteForMessage(dtype_name),
                         " is not supported (supported: ", SupportedDTypes(), ")");
  }
  t->dtype = *parsed_dtype;

  const json::Json& shape = entry["shape"];
  if (!shape.is_array()) {
    return DataLoss(where, ": shape is of type ", json::TypeName(shape), ", expected an array");
  }
  if (shape.size() > kMaxDims) {
    return OutOfRange(where, ": shape has ", shape.size(), " dimensions, more than the limit of ",
                      kMaxDims);
  }
  t->shape.resize(shape.size());
  for (size_t i = 0; i < shape.size(); ++i) {
    LOOM_RETURN_IF_ERROR(ReadU64(shape[i], StrCat(where, ": shape[", i, "]"), &t->shape[i]));
  }

  const json::Json& offsets = entry["data_offsets"];
  if (!offsets.is_array()) {
    return DataLoss(where, ": data_offsets is of type ", json::TypeName(offsets),
                    ", expected an array [begin, end]");
  }
  if (offsets.size() != 2) {
    return DataLoss(where, ": data_offsets has ", offsets.size(),
                    " entries, expected exactly 2 [begin, end]");
  }
  LOOM_RETURN_IF_ERROR(ReadU64(offsets[0], StrCat(where, ": data_offsets[0]"), &t->begin));
  LOOM_RETURN_IF_ERROR(ReadU64(offsets[1], StrCat(where, ": data_offsets[1]"), &t->end));
  if (t->begin > t->end) {
    return DataLoss(where, ": data_offsets [", t->begin, ", ", t->end, "] begin ", t->begin,
                    " > end ", t->end);
  }

  std::optional<uint64_t> n = CheckedProduct(t->shape);
  if (!n) {
    return DataLoss(where, ": shape ", ShapeString(t->shape),
                    " has more than 2^64 - 1 elements (overflow)");
  }
  t->n_elements = *n;
  const char* dt = DTypeName(t->dtype);
  std::optional<uint64_t> nbytes = CheckedMul(*n, DTypeSize(t->dtype));
  if (!nbytes) {
    return DataLoss(where, ": shape ", ShapeString(t->shape), " of ", dt,
                    " needs more than 2^64 - 1 bytes (overflow)");
  }
  if (t->end - t->begin != *nbytes) {
    return DataLoss(where, ": data_offsets [", t->begin, ", ", t->end, "] span ", t->end - t->begin,
                    " bytes but shape ", ShapeString(t->shape), " of ", dt, " needs ", *nbytes,
                    " bytes");
  }
  return Status::Ok();
}

// Tensors sorted by offset must tile [0, data_size) exactly: a hole or trailing bytes could hide
// a second file (a polyglot), an overlap lets a small file alias one range many times (the DoS
// in safetensors' attacks/README.md).
Status CheckLayout(const std::vector<TensorInfo>& tensors, uint64_t data_size) {
  uint64_t pos = 0;
  const TensorInfo* prev = nullptr;
  for (const TensorInfo& t : tensors) {
    if (t.begin != pos) {
      const char* kind = t.begin > pos ? "hole" : "overlap";
      if (prev == nullptr) {
        return DataLoss("tensor ", QuoteForMessage(t.name), " begins at ", t.begin,
                        " but the data buffer starts at 0 (", kind, ")");
      }
      return DataLoss("tensor ", QuoteForMessage(t.name), " begins at ", t.begin,
                      " but the previous tensor ", QuoteForMessage(prev->name), " ends at ", pos,
                      " (", kind, ")");
    }
    pos = t.end;
    prev = &t;
  }
  if (pos < data_size) {
    return DataLoss("tensors end at ", pos, " but the data buffer has ", data_size,
                    " bytes: ", data_size - pos,
                    " trailing bytes belong to no tensor (polyglot file?)");
  }
  if (pos > data_size) {
    return DataLoss("tensor ", QuoteForMessage(prev->name), " ends at ", pos,
                    " but the data buffer has only ", data_size, " bytes (truncated file?)");
  }
  return Status::Ok();
}

}  // namespace

const char* DTypeName(DType t) {
  const DTypeEntry* e = FindDType(t);
  return e != nullptr ? e->name : "INVALID";
}

size_t DTypeSize(DType t) {
  const DTypeEntry* e = FindDType(t);
  return e != nullptr ? e->size : 0;
}

std::optional<DType> DTypeFromName(std::string_view name) {
  for (const DTypeEntry& e : kDTypes) {
    if (name == e.name) return e.type;
  }
  return std::nullopt;
}

const TensorInfo* File::Find(std::string_view name) const {
  auto it = index_.find(name);
  return it == index_.end() ? nullptr : &tensors_[it->second];
}

Status File::ParseInto(std::span<const uint8_t> bytes, uint64_t file_size, bool with_data,
                       File* out) {
  if (bytes.size() > file_size) {
    return InvalidArgument("given ", bytes.size(), " bytes of a file of only ", file_size,
                           " bytes");
  }
  if (file_size < kLengthBytes) {
    return DataLoss("file has ", file_size,
                    " bytes, fewer than the 8-byte header length (not a safetensors file?)");
  }
  if (bytes.size() < kLengthBytes) {
    return InvalidArgument("given ", bytes.size(), " bytes, fewer than the 8-byte header length");
  }
  const uint64_t n = LoadLe64(bytes.data());
  if (n > kMaxHeaderBytes) {
    return OutOfRange("header length ", n, " is more than the limit of ", kMaxHeaderBytes,
                      " bytes");
  }
  if (n > file_size - kLengthBytes) {
    return DataLoss("header length ", n, " is beyond the end of the file: only ",
                    file_size - kLengthBytes, " bytes follow the length (truncated file?)");
  }
  if (n > bytes.size() - kLengthBytes) {
    return InvalidArgument("given ", bytes.size(), " bytes, but the header needs ",
                           kLengthBytes + n);
  }
  std::string_view header(reinterpret_cast<const char*>(bytes.data() + kLengthBytes),
                          static_cast<size_t>(n));
  if (!IsValidUtf8(header)) return DataLoss("header is not valid UTF-8");
  // nlohmann's lexer takes a NUL byte for the end of the input and ignores what follows, so a
  // header could hide text from this parser that another one reads. JSON text never holds a raw
  // NUL (inside strings it must be escaped), so refuse it.
  if (size_t nul = header.find('\0'); nul != std::string_view::npos) {
    return DataLoss("header has a NUL byte at offset ", nul, "; JSON text cannot contain one");
  }
  // The reference refuses anything but '{' first (no leading whitespace, no other JSON type).
  if (header.empty() || header[0] != '{') {
    return DataLoss("header must be a JSON object starting with '{', but it ",
                    header.empty() ? std::string("is empty")
                                   : StrCat("starts with ", QuoteForMessage(header.substr(0, 1))));
  }
  json::ParseLimits limits;
  limits.max_depth = kMaxHeaderDepth;
  limits.max_bytes = kMaxHeaderBytes;
  LOOM_ASSIGN_OR_RETURN(json::Json root, json::ParseStrict(header, "header", limits));
  if (!root.is_object()) {
    return DataLoss("header is a JSON ", json::TypeName(root), ", expected an object");
  }

  File f;
  f.header_bytes_ = n;
  f.tensors_.reserve(root.size());
  for (auto it = root.begin(); it != root.end(); ++it) {
    if (it.key() == "__metadata__") {
      LOOM_RETURN_IF_ERROR(ParseMetadata(*it, &f.metadata_));
      continue;
    }
    TensorInfo t;
    t.name = it.key();
    LOOM_RETURN_IF_ERROR(ParseTensor(*it, &t));
    f.tensors_.push_back(std::move(t));
  }
  // Names break ties between zero-sized tensors at one offset, so the order is deterministic.
  std::sort(f.tensors_.begin(), f.tensors_.end(), [](const TensorInfo& a, const TensorInfo& b) {
    return std::tie(a.begin, a.end, a.name) < std::tie(b.begin, b.end, b.name);
  });
  const uint64_t data_size = file_size - kLengthBytes - n;
  LOOM_RETURN_IF_ERROR(CheckLayout(f.tensors_, data_size));

  for (size_t i = 0; i < f.tensors_.size(); ++i) {
    TensorInfo& t = f.tensors_[i];
    f.index_.emplace(t.name, i);  // names are unique: ParseStrict refuses duplicate keys
    // CheckLayout proved end <= data_size, so the span lies inside `bytes`.
    if (with_data) t.data = bytes.subspan(kLengthBytes + n + t.begin, t.end - t.begin);
  }
  *out = std::move(f);
  return Status::Ok();
}

Result<File> Parse(std::span<const uint8_t> bytes) {
  File f;
  LOOM_RETURN_IF_ERROR(File::ParseInto(bytes, bytes.size(), /*with_data=*/true, &f));
  return f;
}

Result<File> ParseHeaderOnly(std::span<const uint8_t> bytes, uint64_t file_size) {
  File f;
  LOOM_RETURN_IF_ERROR(File::ParseInto(bytes, file_size, /*with_data=*/false, &f));
  return f;
}

Result<File> Open(const std::string& path) {
  // MappedFile's own errors already name the path.
  LOOM_ASSIGN_OR_RETURN(std::unique_ptr<MappedFile> mapped, MappedFile::Open(path));
  std::shared_ptr<MappedFile> owner(std::move(mapped));
  File f;
  Status st = File::ParseInto(owner->bytes(), owner->size(), /*with_data=*/true, &f);
  if (!st.ok()) return st.WithContext(path);
  f.owner_ = std::move(owner);
  return f;
}

Result<std::vector<uint8_t>> Serialize(const std::vector<TensorToWrite>& tensors,
                                       const std::map<std::string, std::string>& metadata) {
  // ordered_json keeps insertion order; the Rust writer also puts __metadata__ first.
  nlohmann::ordered_json header = nlohmann::ordered_json::object();
  if (!metadata.empty()) {
    nlohmann::ordered_json meta = nlohmann::ordered_json::object();
    for (const auto& [key, value] : metadata) {
      if (!IsValidUtf8(key) || !IsValidUtf8(value)) {
        return InvalidArgument("__metadata__ ", QuoteForMessage(key), ": not valid UTF-8");
      }
      meta[key] = value;
    }
    header["__metadata__"] = std::move(meta);
  }
  uint64_t offset = 0;
  std::set<std::string_view> names;
  for (const TensorToWrite& t : tensors) {
    const std::string where = StrCat("tensor ", QuoteForMessage(t.name));
    if (!IsValidUtf8(t.name)) return InvalidArgument(where, ": name is not valid UTF-8");
    if (t.name == "__metadata__") return InvalidArgument(where, ": name is reserved");
    if (!names.insert(t.name).second) return InvalidArgument(where, ": duplicate name");
    if (FindDType(t.dtype) == nullptr) {
      return InvalidArgument(where, ": invalid dtype ", static_cast<int>(t.dtype));
    }
    if (t.shape.size() > kMaxDims) {
      return InvalidArgument(where, ": shape has ", t.shape.size(),
                             " dimensions, more than the limit of ", kMaxDims);
    }
    std::optional<uint64_t> n = CheckedProduct(t.shape);
    std::optional<uint64_t> nbytes = n ? CheckedMul(*n, DTypeSize(t.dtype)) : std::nullopt;
    if (!nbytes) {
      return InvalidArgument(where, ": shape ", ShapeString(t.shape), " overflows 64 bits");
    }
    if (t.data.size() != *nbytes) {
      return InvalidArgument(where, ": data has ", t.data.size(), " bytes but shape ",
                             ShapeString(t.shape), " of ", DTypeName(t.dtype), " needs ", *nbytes);
    }
    std::optional<uint64_t> end = CheckedAdd(offset, *nbytes);
    if (!end) return InvalidArgument(where, ": data buffer overflows 64 bits");
    nlohmann::ordered_json entry = nlohmann::ordered_json::object();
    entry["dtype"] = DTypeName(t.dtype);
    entry["shape"] = t.shape;
    entry["data_offsets"] = nlohmann::ordered_json::array({offset, *end});
    header[t.name] = std::move(entry);
    offset = *end;
  }
  std::string text = header.dump();  // compact: no spaces
  // Pad with spaces (valid JSON whitespace) so the data buffer starts 8-byte aligned, as the
  // Rust writer does.
  text.append((kLengthBytes - text.size() % kLengthBytes) % kLengthBytes, ' ');
  if (text.size() > kMaxHeaderBytes) {
    return OutOfRange("header would have ", text.size(), " bytes, more than the limit of ",
                      kMaxHeaderBytes);
  }
  std::optional<uint64_t> total = CheckedAdd(kLengthBytes + text.size(), offset);
  if (!total || *total > SIZE_MAX) {
    return ResourceExhausted("file of ", kLengthBytes + text.size(), " + ", offset,
                             " bytes does not fit in memory");
  }
  std::vector<uint8_t> out;
  try {
    out.reserve(static_cast<size_t>(*total));
  } catch (const std::bad_alloc&) {
    return ResourceExhausted("cannot allocate ", *total, " bytes for the file");
  } catch (const std::length_error&) {
    return ResourceExhausted("cannot allocate ", *total, " bytes for the file");
  }
  const uint64_t len = text.size();
  for (int i = 0; i < 8; ++i) out.push_back(static_cast<uint8_t>(len >> (8 * i)));
  out.insert(out.end(), text.begin(), text.end());
  for (const TensorToWrite& t : tensors) out.insert(out.end(), t.data.begin(), t.data.end());
  return out;
}

}  // namespace loom::safetensors
