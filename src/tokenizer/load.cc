// Tokenizer::Load: which file a MODEL argument names.
#include <cstring>
#include <string>

#include "base/mapped_file.h"
#include "base/strings.h"
#include "formats/gguf/gguf.h"
#include "io/path.h"
#include "tokenizer/tokenizer.h"

namespace loom::tokenizer {
namespace {

constexpr uint64_t kMaxJsonBytes = 512ull << 20;
constexpr uint64_t kMaxConfigBytes = 16ull << 20;

Result<Tokenizer> LoadHfFiles(const std::string& tokenizer_json_path) {
  // Mapped rather than read: the file is large (Gemma's: 33 MB) and only parsed once.
  LOOM_ASSIGN_OR_RETURN(auto file, MappedFile::Open(tokenizer_json_path));
  if (file->size() > kMaxJsonBytes) {
    return OutOfRange(tokenizer_json_path, ": ", file->size(), " bytes, more than the limit of ",
                      kMaxJsonBytes);
  }
  const std::string_view text(reinterpret_cast<const char*>(file->data()), file->size());
  std::string config;
  const std::string config_path = PathJoin(DirName(tokenizer_json_path), "tokenizer_config.json");
  if (IsRegularFile(config_path)) {
    LOOM_ASSIGN_OR_RETURN(config, ReadFileToString(config_path, kMaxConfigBytes));
  }
  return Tokenizer::FromHfJson(text, config, tokenizer_json_path);
}

}  // namespace

Result<Tokenizer> Tokenizer::Load(const std::string& path) {
  if (IsDirectory(path)) {
    const std::string json_path = PathJoin(path, "tokenizer.json");
    if (!IsRegularFile(json_path)) {
      return NotFound(path, ": no tokenizer.json in this directory");
    }
    return LoadHfFiles(json_path);
  }
  if (!IsRegularFile(path)) return NotFound(path, ": no such file or directory");
  LOOM_ASSIGN_OR_RETURN(auto file, MappedFile::Open(path));
  if (file->size() >= 4 && std::memcmp(file->data(), "GGUF", 4) == 0) {
    file.reset();
    gguf::ParseOptions options;
    options.require_tensor_data = false;  // only the metadata is read
    LOOM_ASSIGN_OR_RETURN(gguf::File gguf, gguf::Open(path, options));
    Result<Tokenizer> tok = FromGguf(gguf);
    if (!tok.ok()) return tok.status().WithContext(path);
    return tok;
  }
  if (EndsWith(path, ".json")) return LoadHfFiles(path);
  return InvalidArgument(path, ": not a GGUF file, a tokenizer.json or a model directory");
}

}  // namespace loom::tokenizer
