// Path helpers for files named by other files (shard names in a safetensors index, a tokenizer
// next to a model): a name from a file must never escape the model directory.
#ifndef LOOM_IO_PATH_H_
#define LOOM_IO_PATH_H_

#include <string>

#include "base/status.h"

namespace loom {

// Joins `dir` and a relative `name` read from an untrusted file. Rejects absolute names, empty
// names, NUL bytes, backslashes and any ".." component. Symlinks already inside `dir` are
// followed (the HF hub cache links every shard to ../../blobs/).
Result<std::string> JoinInside(const std::string& dir, const std::string& name);

bool IsDirectory(const std::string& path);
bool IsRegularFile(const std::string& path);
std::string DirName(const std::string& path);
std::string BaseName(const std::string& path);
std::string PathJoin(const std::string& a, const std::string& b);

}  // namespace loom

#endif  // LOOM_IO_PATH_H_
