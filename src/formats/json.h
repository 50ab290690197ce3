// Strict JSON for untrusted files (safetensors headers, config.json, tokenizer files).
//
// nlohmann::json silently keeps the last of two duplicate keys and has no depth limit; model
// files can exploit both (polyglot headers, stack-deep nesting), so ParseStrict rejects them.
#ifndef LOOM_FORMATS_JSON_H_
#define LOOM_FORMATS_JSON_H_

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"

namespace loom::json {

using Json = nlohmann::json;

struct ParseLimits {
  int max_depth = 64;
  uint64_t max_bytes = 100'000'000;
};

// Parses `text` as one JSON document. `what` names the source in messages ("config.json").
// Rejects invalid UTF-8, duplicate object keys, nesting deeper than max_depth and trailing data.
Result<Json> ParseStrict(std::string_view text, std::string_view what, ParseLimits limits = {});

// "integer", "string", "object", ... for messages.
const char* TypeName(const Json& j);

// Typed field access with messages that name the path: "text_config.hidden_size: expected an
// integer, got string". `path` is the dotted path of `obj` itself ("" for the root).
// Each returns NotFound when the key is absent (callers decide whether that is an error).
Status GetInt(const Json& obj, std::string_view path, const char* key, int64_t* out);
Status GetDouble(const Json& obj, std::string_view path, const char* key, double* out);
Status GetBool(const Json& obj, std::string_view path, const char* key, bool* out);
Status GetString(const Json& obj, std::string_view path, const char* key, std::string* out);
Status GetIntArray(const Json& obj, std::string_view path, const char* key,
                   std::vector<int64_t>* out, size_t max_len = 1 << 20);
Status GetStringArray(const Json& obj, std::string_view path, const char* key,
                      std::vector<std::string>* out, size_t max_len = 1 << 20);
// Object member access; NotFound when absent, InvalidArgument when not an object.
Status GetObject(const Json& obj, std::string_view path, const char* key, const Json** out);

// True when `obj` has `key` and its value is not null.
bool Has(const Json& obj, const char* key);

std::string JoinPath(std::string_view path, std::string_view key);

}  // namespace loom::json

#endif  // LOOM_FORMATS_JSON_H_
