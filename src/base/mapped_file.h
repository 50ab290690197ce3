// A read-only view of a whole file: mmap when possible, otherwise read into memory with pread
// (filesystems without mmap, or LOOM_NO_MMAP=1 for testing the fallback).
#ifndef LOOM_BASE_MAPPED_FILE_H_
#define LOOM_BASE_MAPPED_FILE_H_

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "base/status.h"

namespace loom {

class MappedFile {
 public:
  enum class Mode { kAuto, kMmap, kRead };

  // Opens `path` read-only. kAuto tries mmap and falls back to pread.
  static Result<std::unique_ptr<MappedFile>> Open(const std::string& path, Mode mode = Mode::kAuto);
  ~MappedFile();
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;

  std::span<const uint8_t> bytes() const { return {data_, size_}; }
  const uint8_t* data() const { return data_; }
  size_t size() const { return size_; }
  const std::string& path() const { return path_; }
  bool is_mapped() const { return mapped_; }

 private:
  MappedFile() = default;

  std::string path_;
  const uint8_t* data_ = nullptr;
  size_t size_ = 0;
  bool mapped_ = false;
  std::vector<uint8_t> buffer_;  // used by the pread fallback
};

// Reads a whole (small) file, refusing files larger than max_bytes.
Result<std::string> ReadFileToString(const std::string& path, uint64_t max_bytes);

}  // namespace loom

#endif  // LOOM_BASE_MAPPED_FILE_H_
