#include "io/path.h"

#include <limits.h>
#include <stdlib.h>
#include <sys/stat.h>

#include <memory>

namespace loom {
namespace {

std::string RealPath(const std::string& p) {
  std::unique_ptr<char, decltype(&free)> r(::realpath(p.c_str(), nullptr), &free);
  return r ? std::string(r.get()) : std::string();
}

}  // namespace

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
  std::string joined = PathJoin(dir, name);
  std::string real_dir = RealPath(dir);
  std::string real_file = RealPath(joined);
  if (!real_dir.empty() && !real_file.empty()) {
    std::string prefix = real_dir == "/" ? "/" : real_dir + "/";
    if (real_file.compare(0, prefix.size(), prefix) != 0) {
      return InvalidArgument("file name ", QuoteForMessage(name), " resolves to ",
                             QuoteForMessage(real_file, 4096), ", outside the model directory ",
                             QuoteForMessage(real_dir, 4096));
    }
  }
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
