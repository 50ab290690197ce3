// The vocabulary half of `loom convert`: GGUF key-value encoding, tokenizer.json -> the
// tokenizer.ggml.* keys llama.cpp writes for Gemma, the synthetic vocabulary of random models,
// and copying a vocabulary out of another GGUF.
#include <algorithm>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <utility>

#include "base/strings.h"
#include "formats/json.h"
#include "model/gguf_export_internal.h"

namespace loom::model::internal {
namespace {

using gguf::ValueType;
using json::Json;

// llama.cpp's token types (tokenizer::TokenType values).
constexpr int32_t kNormal = 1, kControl = 3, kUserDefined = 4, kUnused = 5, kByte = 6;

constexpr uint64_t kMaxTokenizerJsonBytes = 256ull << 20;

template <typename T>
void Append(std::vector<uint8_t>* out, T v) {
  const size_t at = out->size();
  out->resize(at + sizeof(T));
  std::memcpy(out->data() + at, &v, sizeof(T));
}

void AppendString(std::vector<uint8_t>* out, std::string_view s) {
  Append<uint64_t>(out, s.size());
  out->insert(out->end(), s.begin(), s.end());
}

template <typename T>
std::vector<uint8_t> Scalar(T v) {
  std::vector<uint8_t> out;
  Append(&out, v);
  return out;
}

// The tokens Gemma 4's converter marks USER_DEFINED so llama.cpp renders them for the chat
// parser (conversion/gemma.py, Gemma4Model.set_vocab).
bool IsGemma4Visible(std::string_view t) {
  for (std::string_view v : {"<|channel>", "<channel|>", "<|tool_call>", "<tool_call|>",
                             "<|tool_response>", "<tool_response|>", "<|\"|>"}) {
    if (t == v) return true;
  }
  return false;
}

bool IsByteToken(std::string_view t) {
  auto hex = [](char c) {
    return (c >= '0' && c <= '9') || (c >= 'A' && c <= 'F') || (c >= 'a' && c <= 'f');
  };
  return t.size() == 6 && t.substr(0, 3) == "<0x" && hex(t[3]) && hex(t[4]) && t[5] == '>';
}

Result<std::string> ReadText(const std::string& path, uint64_t limit) {
  std::ifstream f(path, std::ios::binary);
  if (!f) return NotFound(QuoteForMessage(path, 4096), " not found");
  f.seekg(0, std::ios::end);
  const auto size = static_cast<uint64_t>(f.tellg());
  if (size > limit) {
    return OutOfRange(QuoteForMessage(path, 4096), " is ", size, " bytes, more than ", limit);
  }
  f.seekg(0);
  std::string s(size, '\0');
  f.read(s.data(), static_cast<std::streamsize>(size));
  if (!f) return IoError("read ", QuoteForMessage(path, 4096));
  return s;
}

// tokenizer_config.json's "<role>_token": a string or {"content": ...}.
std::string ConfigToken(const Json& cfg, const std::string& key) {
  auto it = cfg.find(key);
  if (it == cfg.end()) return {};
  if (it->is_string()) return it->get<std::string>();
  if (it->is_object()) {
    auto c = it->find("content");
    if (c != it->end() && c->is_string()) return c->get<std::string>();
  }
  return {};
}

}  // namespace

// --- MetaWriter ----------------------------------------------------------------------------

void MetaWriter::Put(std::string_view key, ValueType type, std::vector<uint8_t> value) {
  for (Entry& e : entries_) {
    if (e.key == key) {
      e.type = type;
      e.value = std::move(value);
      return;
    }
  }
  entries_.push_back(Entry{std::string(key), type, std::move(value)});
}

void MetaWriter::AddUint32(std::string_view key, uint32_t v) {
  Put(key, ValueType::kUint32, Scalar(v));
}
void MetaWriter::AddUint64(std::string_view key, uint64_t v) {
  Put(key, ValueType::kUint64, Scalar(v));
}
void MetaWriter::AddFloat32(std::string_view key, float v) {
  Put(key, ValueType::kFloat32, Scalar(v));
}
void MetaWriter::AddBool(std::string_view key, bool v) {
  Put(key, ValueType::kBool, Scalar<uint8_t>(v ? 1 : 0));
}
void MetaWriter::AddString(std::string_view key, std::string_view v) {
  std::vector<uint8_t> out;
  AppendString(&out, v);
  Put(key, ValueType::kString, std::move(out));
}
void MetaWriter::AddInt32Array(std::string_view key, const std::vector<int32_t>& v) {
  std::vector<uint8_t> out;
  Append<uint32_t>(&out, static_cast<uint32_t>(ValueType::kInt32));
  Append<uint64_t>(&out, v.size());
  for (int32_t x : v) Append(&out, x);
  Put(key, ValueType::kArray, std::move(out));
}
void MetaWriter::AddFloat32Array(std::string_view key, const std::vector<float>& v) {
  std::vector<uint8_t> out;
  Append<uint32_t>(&out, static_cast<uint32_t>(ValueType::kFloat32));
  Append<uint64_t>(&out, v.size());
  for (float x : v) Append(&out, x);
  Put(key, ValueType::kArray, std::move(out));
}
void MetaWriter::AddBoolArray(std::string_view key, const std::vector<bool>& v) {
  std::vector<uint8_t> out;
  Append<uint32_t>(&out, static_cast<uint32_t>(ValueType::kBool));
  Append<uint64_t>(&out, v.size());
  for (bool x : v) Append<uint8_t>(&out, x ? 1 : 0);
  Put(key, ValueType::kArray, std::move(out));
}
void MetaWriter::AddStringArray(std::string_view key, const std::vector<std::string>& v) {
  std::vector<uint8_t> out;
  Append<uint32_t>(&out, static_cast<uint32_t>(ValueType::kString));
  Append<uint64_t>(&out, v.size());
  for (const std::string& s : v) AppendString(&out, s);
  Put(key, ValueType::kArray, std::move(out));
}

Status MetaWriter::AddValue(std::string_view key, const gguf::Value& v) {
  std::vector<uint8_t> out;
  if (v.type == ValueType::kString) {
    AppendString(&out, v.str);
  } else if (v.type == ValueType::kArray) {
    Append<uint32_t>(&out, static_cast<uint32_t>(v.elem_type));
    Append<uint64_t>(&out, v.count);
    if (v.elem_type == ValueType::kString) {
      for (std::string_view s : v.strings) AppendString(&out, s);
    } else if (gguf::ValueTypeSize(v.elem_type) != 0) {
      out.insert(out.end(), v.packed.begin(), v.packed.end());
    } else {
      return Unimplemented("key ", QuoteForMessage(key), ": nested arrays are not copied");
    }
  } else {
    const size_t n = gguf::ValueTypeSize(v.type);
    if (n == 0) return InvalidArgument("key ", QuoteForMessage(key), ": unknown value type");
    // Scalars are stored widened; write back the low bytes of the matching field.
    if (v.type == ValueType::kFloat32) {
      Append(&out, static_cast<float>(v.f64));
    } else if (v.type == ValueType::kFloat64) {
      Append(&out, v.f64);
    } else {
      const bool is_signed = v.type == ValueType::kInt8 || v.type == ValueType::kInt16 ||
                             v.type == ValueType::kInt32 || v.type == ValueType::kInt64;
      const uint64_t bits = is_signed ? static_cast<uint64_t>(v.i64) : v.u64;
      for (size_t i = 0; i < n; ++i) out.push_back(static_cast<uint8_t>(bits >> (8 * i)));
    }
  }
  Put(key, v.type, std::move(out));
  return Status::Ok();
}

std::vector<uint8_t> MetaWriter::bytes() const {
  std::vector<uint8_t> out;
  for (const Entry& e : entries_) {
    AppendString(&out, e.key);
    Append<uint32_t>(&out, static_cast<uint32_t>(e.type));
    out.insert(out.end(), e.value.begin(), e.value.end());
  }
  return out;
}

// --- vocabularies ----------------------------------------------------------------------------

Status VocabFromHf(const std::string& path, const ModelConfig& config, Vocab* out) {
  namespace fs = std::filesystem;
  std::error_code ec;
  fs::path dir = path, file = path;
  if (fs::is_directory(path, ec)) {
    file = dir / "tokenizer.json";
  } else {
    dir = fs::path(path).parent_path();
  }
  LOOM_ASSIGN_OR_RETURN(std::string text, ReadText(file.string(), kMaxTokenizerJsonBytes));
  const std::string what = file.string();
  LOOM_ASSIGN_OR_RETURN(Json tok, json::ParseStrict(text, what));
  Json cfg = Json::object();
  if (fs::exists(dir / "tokenizer_config.json", ec)) {
    LOOM_ASSIGN_OR_RETURN(std::string ct,
                          ReadText((dir / "tokenizer_config.json").string(), 64ull << 20));
    LOOM_ASSIGN_OR_RETURN(cfg, json::ParseStrict(ct, "tokenizer_config.json"));
    if (!cfg.is_object()) return DataLoss("tokenizer_config.json: not an object");
  }

  const Json* model = nullptr;
  LOOM_RETURN_IF_ERROR(json::GetObject(tok, "", "model", &model));
  std::string type;
  LOOM_RETURN_IF_ERROR(json::GetString(*model, "model", "type", &type));
  if (type != "BPE") {
    return Unimplemented(what, ": model.type ", QuoteForMessage(type),
                         " is not supported (Gemma tokenizers are BPE)");
  }
  const Json* vocab = nullptr;
  LOOM_RETURN_IF_ERROR(json::GetObject(*model, "model", "vocab", &vocab));
  std::map<int64_t, std::string> by_id;
  for (const auto& [piece, id] : vocab->items()) {
    if (!id.is_number_integer() || id.get<int64_t>() < 0 || id.get<int64_t>() >= kMaxVocab) {
      return DataLoss(what, ": model.vocab[", QuoteForMessage(piece), "] is not an id in [0, ",
                      kMaxVocab, ")");
    }
    by_id[id.get<int64_t>()] = piece;
  }
  std::map<int64_t, bool> added;  // id -> special
  if (auto it = tok.find("added_tokens"); it != tok.end() && it->is_array()) {
    for (const Json& a : *it) {
      if (!a.is_object() || !a.contains("id") || !a["id"].is_number_integer() ||
          !a.contains("content") || !a["content"].is_string()) {
        return DataLoss(what, ": added_tokens entries need an integer id and a string content");
      }
      const int64_t id = a["id"].get<int64_t>();
      if (id < 0 || id >= kMaxVocab) {
        return DataLoss(what, ": added token id ", id, " is outside [0, ", kMaxVocab, ")");
      }
      by_id[id] = a["content"].get<std::string>();
      added[id] = a.value("special", false);
    }
  }
  if (by_id.empty()) return DataLoss(what, ": the vocabulary is empty");

  const bool gemma3 = config.norm_weight == NormWeightMode::kOnePlusW;
  Vocab& v = *out;
  v = Vocab{};
  v.model = gemma3 ? "llama" : "gemma4";
  if (gemma3) v.pre = "default";
  const int64_t n = by_id.rbegin()->first + 1;
  v.tokens.resize(static_cast<size_t>(n));
  v.types.assign(static_cast<size_t>(n), kUnused);
  v.scores.assign(static_cast<size_t>(n), gemma3 ? -10000.0f : -1000.0f);
  std::map<std::string, int64_t, std::less<>> ids;
  for (int64_t i = 0; i < n; ++i) {
    const size_t u = static_cast<size_t>(i);
    auto it = by_id.find(i);
    if (it == by_id.end()) {
      v.tokens[u] = StrCat("[PAD", i, "]");  // llama.cpp's filler for holes
      continue;
    }
    v.tokens[u] = it->second;
    ids.emplace(it->second, i);
    auto a = added.find(i);
    if (IsByteToken(it->second)) {
      v.types[u] = kByte;
    } else if (a != added.end()) {
      v.types[u] = a->second ? kControl : kUserDefined;
    } else {
      v.types[u] = kNormal;
    }
    if (!gemma3 && IsGemma4Visible(it->second)) v.types[u] = kUserDefined;
    // SentencePiece-style scores for llama.cpp's "llama" tokenizer: Gemma's merges follow the
    // vocabulary order, so the earlier piece wins.
    if (gemma3) v.scores[u] = v.types[u] == kNormal ? -static_cast<float>(i) : 0.0f;
  }

  if (auto it = model->find("merges"); it != model->end() && it->is_array()) {
    v.merges.reserve(it->size());
    for (const Json& m : *it) {
      if (m.is_string()) {
        v.merges.push_back(m.get<std::string>());
      } else if (m.is_array() && m.size() == 2 && m[0].is_string() && m[1].is_string()) {
        v.merges.push_back(StrCat(m[0].get<std::string>(), " ", m[1].get<std::string>()));
      } else {
        return DataLoss(what, ": model.merges entries must be \"a b\" or [a, b]");
      }
    }
  }

  // Special ids: tokenizer_config's tokens, else the model config (gguf-py's SpecialVocab).
  auto role = [&](const char* name, int64_t fallback) -> int64_t {
    const std::string t = ConfigToken(cfg, StrCat(name, "_token"));
    if (!t.empty()) {
      auto it = ids.find(t);
      if (it != ids.end()) return it->second;
    }
    return fallback >= 0 && fallback < n ? fallback : -1;
  };
  const int64_t eos0 = config.eos_token_ids.empty() ? -1 : config.eos_token_ids[0];
  v.bos = role("bos", config.bos_token_id);
  v.eos = role("eos", eos0);
  v.unk = role("unk", -1);
  v.pad = role("pad", config.pad_token_id);
  v.mask = role("mask", -1);
  for (int64_t e : config.eos_token_ids) {
    if (e != v.eos && e >= 0 && e < n) {
      v.eot = e;
      break;
    }
  }
  v.add_bos = gemma3 ? cfg.value("add_bos_token", true) : true;
  if (auto it = cfg.find("add_eos_token"); it != cfg.end() && it->is_boolean()) {
    v.add_eos = it->get<bool>() ? 1 : 0;
  }
  if (auto it = cfg.find("chat_template"); it != cfg.end() && it->is_string()) {
    v.chat_template = it->get<std::string>();
  }
  if (fs::exists(dir / "chat_template.jinja", ec)) {
    LOOM_ASSIGN_OR_RETURN(v.chat_template,
                          ReadText((dir / "chat_template.jinja").string(), 16ull << 20));
  }
  return Status::Ok();
}

Vocab SyntheticVocab(const ModelConfig& c) {
  const bool gemma3 = c.norm_weight == NormWeightMode::kOnePlusW;
  const int64_t n = c.vocab_size;
  Vocab v;
  v.model = gemma3 ? "llama" : "gemma4";
  if (gemma3) v.pre = "default";
  v.tokens.assign(static_cast<size_t>(n), std::string());
  v.types.assign(static_cast<size_t>(n), kNormal);
  auto place = [&](int64_t id, std::string text, int32_t type) -> int64_t {
    if (id < 0 || id >= n || !v.tokens[static_cast<size_t>(id)].empty()) return -1;
    v.tokens[static_cast<size_t>(id)] = std::move(text);
    v.types[static_cast<size_t>(id)] = type;
    return id;
  };
  v.pad = place(c.pad_token_id >= 0 ? c.pad_token_id : 0, "<pad>", kControl);
  v.eos = place(c.eos_token_ids.empty() ? 1 : c.eos_token_ids[0], "<eos>", kControl);
  v.bos = place(c.bos_token_id >= 0 ? c.bos_token_id : 2, "<bos>", kControl);
  v.unk = place(3, "<unk>", kControl);
  v.mask = place(4, "<mask>", kControl);
  const std::pair<int64_t, const char*> gemma4_controls[] = {
      {46, "<|tool>"},
      {47, "<tool|>"},
      {48, "<|tool_call>"},
      {49, "<tool_call|>"},
      {50, "<|tool_response>"},
      {51, "<tool_response|>"},
      {52, "<|\"|>"},
      {98, "<|think|>"},
      {100, "<|channel>"},
      {101, "<channel|>"},
      {105, "<|turn>"},
      {106, "<turn|>"},
      {c.boi_token_id, "<|image>"},
      {c.eoi_token_id, "<image|>"},
      {c.image_token_id, "<|image|>"},
      {c.boa_token_id, "<|audio>"},
      {c.eoa_token_id, "<audio|>"},
      {c.audio_token_id, "<|audio|>"},
      {c.video_token_id, "<|video|>"},
  };
  if (gemma3) {
    place(105, "<start_of_turn>", kControl);
    place(106, "<end_of_turn>", kControl);
  } else {
    for (const auto& [id, text] : gemma4_controls) {
      place(id, text, IsGemma4Visible(text) ? kUserDefined : kControl);
    }
  }
  for (size_t i = 0; i < c.eos_token_ids.size(); ++i) {
    const int64_t e = c.eos_token_ids[i];
    if (e >= 0 && e < n && e != v.eos) {
      place(e, StrCat("<eos", i, ">"), kControl);
      if (v.eot < 0) v.eot = e;
    }
  }
  // The control range of Gemma's vocabulary ends at 106; bytes follow when there is room.
  int64_t next = n >= 107 + 256 ? 107 : 0;
  for (int b = 0; b < 256; ++b) {
    while (next < n && !v.tokens[static_cast<size_t>(next)].empty()) ++next;
    if (next >= n) break;
    char hex[8];
    std::snprintf(hex, sizeof(hex), "<0x%02X>", b);
    place(next, hex, kByte);
  }
  // The space piece, so that spaces decode as spaces (a space spelled in bytes would decode to
  // a literal U+2581: the decoder maps U+2581 before it merges bytes).
  while (next < n && !v.tokens[static_cast<size_t>(next)].empty()) ++next;
  place(next, "\xE2\x96\x81", kNormal);
  // llama.cpp's gemma4 tokenizer refuses a vocabulary without merges: one merge ("▁ ▁" ->
  // "▁▁"), so that the file loads there too.
  while (next < n && !v.tokens[static_cast<size_t>(next)].empty()) ++next;
  if (place(next, "\xE2\x96\x81\xE2\x96\x81", kNormal) >= 0) {
    v.merges.push_back("\xE2\x96\x81 \xE2\x96\x81");
  }
  for (int64_t i = 0; i < n; ++i) {
    std::string& t = v.tokens[static_cast<size_t>(i)];
    if (!t.empty()) continue;
    if (i < 107) {
      t = StrCat("<unused", i, ">");
      v.types[static_cast<size_t>(i)] = kControl;
    } else {
      t = StrCat("\xE2\x96\x81w", i);  // "▁wN": a word no text reaches without merges
    }
  }
  v.scores.assign(static_cast<size_t>(n), gemma3 ? 0.0f : -1000.0f);
  v.add_bos = true;
  return v;
}

void AddVocabMetadata(const Vocab& v, MetaWriter* m) {
  m->AddString("tokenizer.ggml.model", v.model);
  if (!v.pre.empty()) m->AddString("tokenizer.ggml.pre", v.pre);
  m->AddStringArray("tokenizer.ggml.tokens", v.tokens);
  m->AddFloat32Array("tokenizer.ggml.scores", v.scores);
  m->AddInt32Array("tokenizer.ggml.token_type", v.types);
  if (!v.merges.empty()) m->AddStringArray("tokenizer.ggml.merges", v.merges);
  const std::pair<const char*, int64_t> ids[] = {
      {"tokenizer.ggml.bos_token_id", v.bos},     {"tokenizer.ggml.eos_token_id", v.eos},
      {"tokenizer.ggml.unknown_token_id", v.unk}, {"tokenizer.ggml.padding_token_id", v.pad},
      {"tokenizer.ggml.mask_token_id", v.mask},   {"tokenizer.ggml.eot_token_id", v.eot},
  };
  for (const auto& [key, id] : ids) {
    if (id >= 0) m->AddUint32(key, static_cast<uint32_t>(id));
  }
  m->AddBool("tokenizer.ggml.add_bos_token", v.add_bos);
  if (v.add_eos >= 0) m->AddBool("tokenizer.ggml.add_eos_token", v.add_eos == 1);
  if (!v.chat_template.empty()) m->AddString("tokenizer.chat_template", v.chat_template);
  m->AddBool("tokenizer.ggml.add_space_prefix", false);
}

Result<uint64_t> CopyGgufVocab(const std::string& path, MetaWriter* meta) {
  LOOM_ASSIGN_OR_RETURN(gguf::File f, gguf::Open(path));
  const gguf::Value* tokens = f.Find("tokenizer.ggml.tokens");
  if (tokens == nullptr || tokens->type != ValueType::kArray) {
    return NotFound(QuoteForMessage(path, 4096), ": no tokenizer.ggml.tokens array");
  }
  for (const gguf::KeyValue& kv : f.metadata()) {
    if (!StartsWith(kv.key, "tokenizer.")) continue;
    LOOM_RETURN_IF_ERROR(meta->AddValue(kv.key, kv.value).WithContext(path));
  }
  return tokens->count;
}

}  // namespace loom::model::internal
