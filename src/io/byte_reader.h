// ByteReader: a cursor over untrusted bytes. Every read checks the bytes that remain first, so a
// length read from a file can never move the cursor past the end or trigger a huge allocation.
#ifndef LOOM_IO_BYTE_READER_H_
#define LOOM_IO_BYTE_READER_H_

#include <cstdint>
#include <cstring>
#include <span>
#include <string>
#include <string_view>
#include <type_traits>

#include "base/status.h"

namespace loom {

class ByteReader {
 public:
  explicit ByteReader(std::span<const uint8_t> bytes) : bytes_(bytes) {}

  uint64_t offset() const { return pos_; }
  uint64_t size() const { return bytes_.size(); }
  uint64_t remaining() const { return bytes_.size() - pos_; }
  const uint8_t* current() const { return bytes_.data() + pos_; }

  // Reads a little-endian trivially-copyable value. `what` names the field for the message.
  template <typename T>
  Status Read(T* out, std::string_view what) {
    static_assert(std::is_trivially_copyable_v<T>);
    if (remaining() < sizeof(T)) return Truncated(what, sizeof(T));
    std::memcpy(out, bytes_.data() + pos_, sizeof(T));
    pos_ += sizeof(T);
    return Status::Ok();
  }

  // Returns a view of the next n bytes and advances past them.
  Status ReadBytes(uint64_t n, std::string_view* out, std::string_view what) {
    if (n > remaining()) return Truncated(what, n);
    *out = std::string_view(reinterpret_cast<const char*>(bytes_.data() + pos_),
                            static_cast<size_t>(n));
    pos_ += n;
    return Status::Ok();
  }

  Status Skip(uint64_t n, std::string_view what) {
    if (n > remaining()) return Truncated(what, n);
    pos_ += n;
    return Status::Ok();
  }

  Status Seek(uint64_t pos, std::string_view what) {
    if (pos > size()) {
      return DataLoss(what, ": offset ", pos, " is beyond the end of the data (", size(),
                      " bytes)");
    }
    pos_ = pos;
    return Status::Ok();
  }

 private:
  Status Truncated(std::string_view what, uint64_t need) const {
    return DataLoss(what, ": need ", need, " bytes at offset ", pos_, " but only ", remaining(),
                    " remain (truncated file?)");
  }

  std::span<const uint8_t> bytes_;
  uint64_t pos_ = 0;
};

}  // namespace loom

#endif  // LOOM_IO_BYTE_READER_H_
