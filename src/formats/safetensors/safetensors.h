// safetensors reader: single files and sharded checkpoints (model.safetensors.index.json).
// A pure parser with the checks of ../shared/RELIABILITY.md §5.2: header size cap, UTF-8,
// strict JSON (no duplicate keys), data offsets contiguous without holes or overlaps,
// size = elements x width with overflow checks, no trailing bytes, shard names inside the
// model directory. Tensor data are zero-copy views into the mapped file.
#ifndef LOOM_FORMATS_SAFETENSORS_SAFETENSORS_H_
#define LOOM_FORMATS_SAFETENSORS_SAFETENSORS_H_

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

namespace loom::safetensors {

// Same cap as the reference Rust implementation (MAX_HEADER_SIZE).
inline constexpr uint64_t kMaxHeaderBytes = 100'000'000;
inline constexpr size_t kMaxDims = 8;
inline constexpr size_t kMaxShards = 4096;

enum class DType {
  kF64,
  kF32,
  kF16,
  kBF16,
  kI64,
  kI32,
  kI16,
  kI8,
  kU8,
  kBool,
  kSentinel,
};

const char* DTypeName(DType t);  // "F32", "BF16", ... as in the header
size_t DTypeSize(DType t);       // bytes per element
std::optional<DType> DTypeFromName(std::string_view name);

struct TensorInfo {
  std::string name;
  DType dtype = DType::kF32;
  std::vector<uint64_t> shape;  // PyTorch order: shape[0] is the outermost dimension
  uint64_t n_elements = 0;
  uint64_t begin = 0;  // data_offsets, relative to the byte after the header
  uint64_t end = 0;
  std::span<const uint8_t> data;  // empty when parsed without data
};

// One parsed .safetensors file.
class File {
 public:
  const std::vector<TensorInfo>& tensors() const { return tensors_; }  // sorted by offset
  const TensorInfo* Find(std::string_view name) const;
  const std::map<std::string, std::string>& metadata() const { return metadata_; }
  // Length of the JSON header (the N of the 8-byte prefix), padding included.
  uint64_t header_bytes() const { return header_bytes_; }
  // File offset of the data buffer: TensorInfo::begin/end are relative to it.
  uint64_t data_offset() const { return 8 + header_bytes_; }

 private:
  friend Result<File> Parse(std::span<const uint8_t> bytes);
  friend Result<File> ParseHeaderOnly(std::span<const uint8_t> bytes, uint64_t file_size);
  friend Result<File> Open(const std::string& path);
  // The shared body of the three above. `bytes` holds at least the length and the header of a
  // file of `file_size` bytes; with `with_data`, all of it, and tensors get their data spans.
  static Status ParseInto(std::span<const uint8_t> bytes, uint64_t file_size, bool with_data,
                          File* out);

  std::shared_ptr<MappedFile> owner_;
  std::vector<TensorInfo> tensors_;
  std::map<std::string, size_t, std::less<>> index_;
  std::map<std::string, std::string> metadata_;
  uint64_t header_bytes_ = 0;
};

// Parses a whole file held in `bytes` (which must outlive the File).
Result<File> Parse(std::span<const uint8_t> bytes);
// Parses the 8-byte length and the JSON header from the first bytes of a file of `file_size`
// bytes; checks offsets against the file size without touching tensor data.
Result<File> ParseHeaderOnly(std::span<const uint8_t> bytes, uint64_t file_size);
// Maps and parses `path`; errors are prefixed with the path.
Result<File> Open(const std::string& path);

// A checkpoint: one file, or the shards listed in an index file. Tensor names are unique
// across shards.
class Checkpoint {
 public:
  const std::vector<const TensorInfo*>& tensors() const { return all_; }  // by name
  const TensorInfo* Find(std::string_view name) const;
  size_t num_shards() const { return shards_.size(); }
  uint64_t total_bytes() const;  // sum of tensor data bytes

 private:
  friend Result<Checkpoint> OpenCheckpoint(const std::string& path);
  std::vector<std::unique_ptr<File>> shards_;
  std::vector<const TensorInfo*> all_;
  std::map<std::string, const TensorInfo*, std::less<>> index_;
};

// `path` is a .safetensors file, a *.safetensors.index.json file, or a directory holding either
// model.safetensors or model.safetensors.index.json. Validates the index: weight_map entries
// must name shards inside the directory, every listed tensor must exist in its shard, no tensor
// may appear in two shards.
Result<Checkpoint> OpenCheckpoint(const std::string& path);

// Writes a safetensors file (tests, fixtures and `loom convert`). Tensors are laid out in the
// given order; `metadata` becomes __metadata__.
struct TensorToWrite {
  std::string name;
  DType dtype;
  std::vector<uint64_t> shape;
  std::span<const uint8_t> data;
};
Result<std::vector<uint8_t>> Serialize(const std::vector<TensorToWrite>& tensors,
                                       const std::map<std::string, std::string>& metadata = {});

}  // namespace loom::safetensors

#endif  // LOOM_FORMATS_SAFETENSORS_SAFETENSORS_H_
