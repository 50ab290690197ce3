#include "base/mapped_file.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>

namespace loom {
namespace {

// Closes the descriptor on every return path.
struct FdCloser {
  int fd;
  ~FdCloser() {
    if (fd >= 0) ::close(fd);
  }
};

Status ReadAll(int fd, const std::string& path, uint8_t* dst, size_t size) {
  size_t done = 0;
  while (done < size) {
    ssize_t r = ::pread(fd, dst + done, size - done, static_cast<off_t>(done));
    if (r < 0) {
      if (errno == EINTR) continue;
      return IoError("read ", QuoteForMessage(path), " at offset ", done, ": ",
                     std::strerror(errno));
    }
    if (r == 0) {
      return IoError("read ", QuoteForMessage(path), ": file shrank to ", done,
                     " bytes while reading (expected ", size, ")");
    }
    done += static_cast<size_t>(r);
  }
  return Status::Ok();
}

}  // namespace

Result<std::unique_ptr<MappedFile>> MappedFile::Open(const std::string& path, Mode mode) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    int err = errno;
    if (err == ENOENT) return NotFound("no such file: ", QuoteForMessage(path, 4096));
    return IoError("open ", QuoteForMessage(path, 4096), ": ", std::strerror(err));
  }
  FdCloser closer{fd};
  struct stat st;
  if (::fstat(fd, &st) != 0) {
    return IoError("stat ", QuoteForMessage(path, 4096), ": ", std::strerror(errno));
  }
  if (!S_ISREG(st.st_mode)) {
    return InvalidArgument("not a regular file: ", QuoteForMessage(path, 4096));
  }
  std::unique_ptr<MappedFile> f(new MappedFile());
  f->path_ = path;
  f->size_ = static_cast<size_t>(st.st_size);

  const char* env = std::getenv("LOOM_NO_MMAP");
  if (mode == Mode::kAuto && env != nullptr && std::strcmp(env, "1") == 0) mode = Mode::kRead;

  if (f->size_ == 0) {
    static const uint8_t kEmpty = 0;
    f->data_ = &kEmpty;
    return f;
  }
  if (mode != Mode::kRead) {
    void* p = ::mmap(nullptr, f->size_, PROT_READ, MAP_PRIVATE, fd, 0);
    if (p != MAP_FAILED) {
      f->data_ = static_cast<const uint8_t*>(p);
      f->mapped_ = true;
      return f;
    }
    if (mode == Mode::kMmap) {
      return IoError("mmap ", QuoteForMessage(path, 4096), ": ", std::strerror(errno));
    }
  }
  try {
    f->buffer_.resize(f->size_);
  } catch (const std::bad_alloc&) {
    return ResourceExhausted("cannot allocate ", f->size_, " bytes to read ",
                             QuoteForMessage(path, 4096));
  }
  LOOM_RETURN_IF_ERROR(ReadAll(fd, path, f->buffer_.data(), f->size_));
  f->data_ = f->buffer_.data();
  return f;
}

MappedFile::~MappedFile() {
  if (mapped_) ::munmap(const_cast<uint8_t*>(data_), size_);
}

Result<std::string> ReadFileToString(const std::string& path, uint64_t max_bytes) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    int err = errno;
    if (err == ENOENT) return NotFound("no such file: ", QuoteForMessage(path, 4096));
    return IoError("open ", QuoteForMessage(path, 4096), ": ", std::strerror(err));
  }
  FdCloser closer{fd};
  struct stat st;
  if (::fstat(fd, &st) != 0) {
    return IoError("stat ", QuoteForMessage(path, 4096), ": ", std::strerror(errno));
  }
  if (!S_ISREG(st.st_mode)) {
    return InvalidArgument("not a regular file: ", QuoteForMessage(path, 4096));
  }
  uint64_t size = static_cast<uint64_t>(st.st_size);
  if (size > max_bytes) {
    return OutOfRange("file ", QuoteForMessage(path, 4096), " has ", size,
                      " bytes, more than the limit of ", max_bytes);
  }
  std::string out(static_cast<size_t>(size), '\0');
  LOOM_RETURN_IF_ERROR(
      ReadAll(fd, path, reinterpret_cast<uint8_t*>(out.data()), static_cast<size_t>(size)));
  return out;
}

}  // namespace loom
