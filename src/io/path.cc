#include "io/path.h"

#include <sys/stat.h>

namespace loom {
Result<std::string> JoinInside(const std::string& dir, const std::string& name) {
  if (name.empty()) return InvalidArgument("file name is empty");
  if (name.size() > 4096) {
    return InvalidArgument("file name has ", name.size(), " bytes, more than the limit of 4096");
  }
  if (name.find('\0') != std::string::npos) {
    return InvalidArgument("file name ", QuoteForMessage(name), " contains a NUL byte");
  }
  if (name[0] == '/') {
    return InvalidArgument("file name ", QuoteForMessage(name),
                           " is absolute; only names relative to the model directory are allowed");
  }
  if (name.find('\\') != std::string::npos) {
    return InvalidArgument("file name ", QuoteForMessage(name), " contains a backslash");
  }
  size_t start = 0;
  while (start <= name.size()) {
    size_t end = name.find('/', start);
    if (end == std::string::npos) end = name.size();
    std::string part = name.substr(start, end - start);
    if (part == "..") {
      return InvalidArgument("file name ", QuoteForMessage(name),
                             " contains '..'; it must stay inside the model directory");
    }
    start = end + 1;
  }
  // Symlinks are followed on purpose: the Hugging Face hub cache stores every shard as a link
  // to ../../blobs/<hash>. A link inside the model directory was put there by whoever made the
  // directory and is trusted like the directory itself; names read from files are not.
  std::string joined = PathJoin(dir, name);
  return joined;
}

bool IsDirectory(const std::string& path) {
  struct stat st;
  return ::stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

bool IsRegularFile(const std::string& path) {
  struct stat st;
  return ::stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode);
}

std::string DirName(const std::string& path) {
  size_t slash = path.find_last_of('/');
  if (slash == std::string::npos) return ".";
  if (slash == 0) return "/";
  return path.substr(0, slash);
}

std::string BaseName(const std::string& path) {
  size_t slash = path.find_last_of('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}

std::string PathJoin(const std::string& a, const std::string& b) {
  if (a.empty()) return b;
  if (a.back() == '/') return a + b;
  return a + "/" + b;
}

}  // namespace loom
