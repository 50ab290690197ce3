// Pieces of `loom convert` shared by gguf_export.cc and gguf_export_vocab.cc; not public API.
#ifndef LOOM_MODEL_GGUF_EXPORT_INTERNAL_H_
#define LOOM_MODEL_GGUF_EXPORT_INTERNAL_H_

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"
#include "formats/gguf/gguf.h"
#include "model/config.h"

namespace loom::model::internal {

// GGUF key-values, encoded as they appear in the file (the streaming writer places them).
// Adding a key twice replaces the first value in place, as gguf-py does.
class MetaWriter {
 public:
  void AddUint32(std::string_view key, uint32_t v);
  void AddUint64(std::string_view key, uint64_t v);
  void AddFloat32(std::string_view key, float v);
  void AddBool(std::string_view key, bool v);
  void AddString(std::string_view key, std::string_view v);
  void AddInt32Array(std::string_view key, const std::vector<int32_t>& v);
  void AddFloat32Array(std::string_view key, const std::vector<float>& v);
  void AddBoolArray(std::string_view key, const std::vector<bool>& v);
  void AddStringArray(std::string_view key, const std::vector<std::string>& v);
  // A value read from another GGUF file, re-encoded (scalars, strings, arrays of them).
  Status AddValue(std::string_view key, const gguf::Value& v);

  uint64_t count() const { return entries_.size(); }
  // key, type and value of every entry, in insertion order.
  std::vector<uint8_t> bytes() const;

 private:
  struct Entry {
    std::string key;
    gguf::ValueType type;
    std::vector<uint8_t> value;
  };
  void Put(std::string_view key, gguf::ValueType type, std::vector<uint8_t> value);
  std::vector<Entry> entries_;
};

// A vocabulary as llama.cpp stores it.
struct Vocab {
  std::string model;  // "gemma4" or "llama"
  std::string pre;    // tokenizer.ggml.pre; empty: not written
  std::vector<std::string> tokens;
  std::vector<float> scores;
  std::vector<int32_t> types;       // tokenizer::TokenType values
  std::vector<std::string> merges;  // "a b"; empty: not written
  int64_t bos = -1, eos = -1, eot = -1, unk = -1, pad = -1, mask = -1;
  bool add_bos = false;
  int add_eos = -1;  // -1: not written
  std::string chat_template;
};

// From tokenizer.json in `path` (a directory, or the tokenizer.json file itself) plus
// tokenizer_config.json and chat_template.jinja beside it; the config decides the family.
Status VocabFromHf(const std::string& path, const ModelConfig& config, Vocab* out);
// The synthetic vocabulary of ExportRandomGguf (see gguf_export.h).
Vocab SyntheticVocab(const ModelConfig& config);
void AddVocabMetadata(const Vocab& vocab, MetaWriter* meta);
// Copies every tokenizer.* key of the GGUF file at `path`; returns the token count.
Result<uint64_t> CopyGgufVocab(const std::string& path, MetaWriter* meta);

}  // namespace loom::model::internal

#endif  // LOOM_MODEL_GGUF_EXPORT_INTERNAL_H_
