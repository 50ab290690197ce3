// The tokenizer from an HF tokenizer.json (+ tokenizer_config.json). Only what Gemma's files use
// is accepted: a BPE model (byte fallback, fused <unk>), added tokens without lstrip/rstrip/
// single_word, Replace/Prepend normalizers, a literal Split pre-tokenizer, Replace/ByteFallback/
// Fuse decoders and a TemplateProcessing post-processor. Anything else is Unimplemented with
// the field named, rather than tokenized differently from the reference.
#include <simdjson.h>

#include <map>
#include <string>
#include <vector>

#include "base/strings.h"
#include "formats/json.h"
#include "tokenizer/tokenizer.h"

namespace loom::tokenizer {
namespace {

using json::Json;

constexpr uint64_t kMaxTokenizerJsonBytes = 512ull << 20;
// simdjson's own nesting limit; the SAX handler enforces json::ParseLimits's, far lower.
constexpr size_t kMaxSimdjsonDepth = 1024;

std::string Where(std::string_view what, std::string_view path) { return StrCat(what, ": ", path); }

Status ExpectType(const Json& j, std::string_view what, std::string_view path, bool ok,
                  const char* want) {
  if (ok) return Status::Ok();
  return DataLoss(Where(what, path), ": expected ", want, ", got ", json::TypeName(j));
}

// A string field, or an object with a "content" string (tokenizer_config's AddedToken form).
bool TokenString(const Json& j, std::string* out) {
  if (j.is_string()) {
    *out = j.get<std::string>();
    return true;
  }
  if (j.is_object()) {
    auto it = j.find("content");
    if (it != j.end() && it->is_string()) {
      *out = it->get<std::string>();
      return true;
    }
  }
  return false;
}

// {"String": "x"}: the only pattern kind supported; {"Regex": ...} is not.
Status LiteralPattern(const Json& node, std::string_view what, std::string_view path,
                      std::string* out) {
  auto it = node.find("pattern");
  if (it == node.end() || !it->is_object()) {
    return DataLoss(Where(what, path), ".pattern: expected an object");
  }
  auto s = it->find("String");
  if (s == it->end()) {
    return Unimplemented(Where(what, path),
                         ".pattern: only literal {\"String\": ...} patterns are "
                         "supported");
  }
  LOOM_RETURN_IF_ERROR(
      ExpectType(*s, what, StrCat(path, ".pattern.String"), s->is_string(), "a string"));
  *out = s->get<std::string>();
  return Status::Ok();
}

std::string TypeOf(const Json& node) {
  auto it = node.find("type");
  return it != node.end() && it->is_string() ? it->get<std::string>() : std::string();
}

Status ParseNormalizer(const Json& node, std::string_view what, std::string_view path,
                       std::vector<NormalizerStep>* steps) {
  if (node.is_null()) return Status::Ok();
  LOOM_RETURN_IF_ERROR(ExpectType(node, what, path, node.is_object(), "an object"));
  const std::string type = TypeOf(node);
  if (type == "Sequence") {
    auto it = node.find("normalizers");
    if (it == node.end() || !it->is_array()) {
      return DataLoss(Where(what, path), ".normalizers: expected an array");
    }
    for (size_t i = 0; i < it->size(); ++i) {
      LOOM_RETURN_IF_ERROR(
          ParseNormalizer((*it)[i], what, StrCat(path, ".normalizers[", i, "]"), steps));
    }
    return Status::Ok();
  }
  NormalizerStep step;
  if (type == "Replace") {
    step.kind = NormalizerStep::Kind::kReplace;
    LOOM_RETURN_IF_ERROR(LiteralPattern(node, what, path, &step.pattern));
    LOOM_RETURN_IF_ERROR(json::GetString(node, Where(what, path), "content", &step.content));
  } else if (type == "Prepend") {
    step.kind = NormalizerStep::Kind::kPrepend;
    LOOM_RETURN_IF_ERROR(json::GetString(node, Where(what, path), "prepend", &step.content));
  } else {
    return Unimplemented(Where(what, path), ": normalizer type ", QuoteForMessage(type),
                         " is not supported (Replace, Prepend, Sequence)");
  }
  steps->push_back(std::move(step));
  return Status::Ok();
}

Status ParsePreTokenizer(const Json& node, std::string_view what, std::string_view path,
                         std::string* split) {
  if (node.is_null()) return Status::Ok();
  LOOM_RETURN_IF_ERROR(ExpectType(node, what, path, node.is_object(), "an object"));
  const std::string type = TypeOf(node);
  if (type == "Sequence") {
    auto it = node.find("pretokenizers");
    if (it == node.end() || !it->is_array() || it->size() > 1) {
      return Unimplemented(Where(what, path),
                           ": only a Sequence of one pre-tokenizer is supported");
    }
    if (it->empty()) return Status::Ok();
    return ParsePreTokenizer((*it)[0], what, StrCat(path, ".pretokenizers[0]"), split);
  }
  if (type != "Split") {
    return Unimplemented(Where(what, path), ": pre-tokenizer type ", QuoteForMessage(type),
                         " is not supported (Split)");
  }
  std::string behavior;
  LOOM_RETURN_IF_ERROR(json::GetString(node, Where(what, path), "behavior", &behavior));
  bool invert = false;
  if (json::Has(node, "invert")) {
    LOOM_RETURN_IF_ERROR(json::GetBool(node, Where(what, path), "invert", &invert));
  }
  if (behavior != "MergedWithPrevious" || invert) {
    return Unimplemented(Where(what, path), ": Split behavior ", QuoteForMessage(behavior),
                         invert ? " (inverted)" : "", " is not supported (MergedWithPrevious)");
  }
  LOOM_RETURN_IF_ERROR(LiteralPattern(node, what, path, split));
  if (split->empty()) return DataLoss(Where(what, path), ".pattern: empty");
  return Status::Ok();
}

Status ParseDecoder(const Json& node, std::string_view what, std::string_view path,
                    TokenizerSpec* spec) {
  LOOM_RETURN_IF_ERROR(ExpectType(node, what, path, node.is_object(), "an object"));
  const std::string type = TypeOf(node);
  if (type == "Sequence") {
    auto it = node.find("decoders");
    if (it == node.end() || !it->is_array()) {
      return DataLoss(Where(what, path), ".decoders: expected an array");
    }
    for (size_t i = 0; i < it->size(); ++i) {
      LOOM_RETURN_IF_ERROR(ParseDecoder((*it)[i], what, StrCat(path, ".decoders[", i, "]"), spec));
    }
    return Status::Ok();
  }
  if (type == "Replace") {
    if (spec->decode_byte_fallback) {
      return Unimplemented(Where(what, path),
                           ": a Replace decoder after ByteFallback is not "
                           "supported");
    }
    std::string pattern, content;
    LOOM_RETURN_IF_ERROR(LiteralPattern(node, what, path, &pattern));
    LOOM_RETURN_IF_ERROR(json::GetString(node, Where(what, path), "content", &content));
    spec->decode_replace.emplace_back(std::move(pattern), std::move(content));
    return Status::Ok();
  }
  if (type == "ByteFallback") {
    spec->decode_byte_fallback = true;
    return Status::Ok();
  }
  if (type == "Fuse") return Status::Ok();  // loom always concatenates
  return Unimplemented(Where(what, path), ": decoder type ", QuoteForMessage(type),
                       " is not supported (Replace, ByteFallback, Fuse, Sequence)");
}

Status ParsePostProcessor(const Json& node, std::string_view what, TokenizerSpec* spec) {
  if (node.is_null()) return Status::Ok();
  const std::string path = "post_processor";
  LOOM_RETURN_IF_ERROR(ExpectType(node, what, path, node.is_object(), "an object"));
  const std::string type = TypeOf(node);
  if (type != "TemplateProcessing") {
    return Unimplemented(Where(what, path), ": post-processor type ", QuoteForMessage(type),
                         " is not supported (TemplateProcessing)");
  }
  auto single = node.find("single");
  auto specials = node.find("special_tokens");
  if (single == node.end() || !single->is_array()) {
    return DataLoss(Where(what, path), ".single: expected an array");
  }
  bool after_text = false;
  for (size_t i = 0; i < single->size(); ++i) {
    const Json& item = (*single)[i];
    const std::string ipath = StrCat(path, ".single[", i, "]");
    if (item.contains("Sequence")) {
      after_text = true;
      continue;
    }
    auto st = item.find("SpecialToken");
    if (st == item.end() || !st->is_object()) {
      return DataLoss(Where(what, ipath), ": expected a Sequence or a SpecialToken");
    }
    std::string name;
    LOOM_RETURN_IF_ERROR(json::GetString(*st, Where(what, ipath), "id", &name));
    if (specials == node.end() || !specials->is_object() || !specials->contains(name)) {
      return DataLoss(Where(what, ipath), ": special token ", QuoteForMessage(name),
                      " is not in post_processor.special_tokens");
    }
    std::vector<int64_t> ids;
    LOOM_RETURN_IF_ERROR(json::GetIntArray((*specials)[name], Where(what, path), "ids", &ids));
    for (int64_t id : ids) {
      if (id < 0 || id > INT32_MAX) {
        return DataLoss(Where(what, path), ": special token id ", id, " out of range");
      }
      (after_text ? spec->suffix : spec->prefix).push_back(static_cast<int32_t>(id));
    }
  }
  return Status::Ok();
}

// Builds what FromHfJson reads from SAX-style events (Replay, below): model.vocab (an object)
// and model.merges (an array) go into flat lists, since a DOM of their ~800k small values costs
// more than a second; everything else becomes a nlohmann DOM. It makes json::ParseStrict's
// checks: nesting depth and duplicate keys (model.vocab's are checked by the caller, over the
// listed keys); FromHfJson checks size, UTF-8 and NUL bytes.
class TokenizerJsonSax {
 public:
  struct Merge {
    uint32_t offset;  // into merge_text
    uint32_t len_a;
    uint32_t len_b;  // kString: one "a b" string of len_a bytes
  };
  static constexpr uint32_t kString = ~uint32_t{0};

  explicit TokenizerJsonSax(int max_depth) : max_depth_(max_depth) {}

  Json root;
  bool vocab_streamed = false;
  std::vector<std::string> vocab_keys;
  std::vector<int64_t> vocab_ids;  // kNotInt: the value is not an integer
  static constexpr int64_t kNotInt = INT64_MIN;
  bool merges_streamed = false;
  size_t merge_count = 0;             // every element, good or bad
  size_t first_bad_merge = SIZE_MAX;  // first element of neither accepted form
  std::vector<Merge> merges;          // the elements before first_bad_merge
  std::string merge_text;
  std::string error;  // set when parsing stopped

  bool null() { return Value(Json(nullptr)); }
  bool boolean(bool v) { return Value(Json(v)); }
  bool number_integer(int64_t v) {
    if (Top() == Role::kVocab) return VocabValue(v);
    return Value(Json(v));
  }
  bool number_unsigned(uint64_t v) {
    if (Top() == Role::kVocab) return VocabValue(static_cast<int64_t>(v));
    return Value(Json(v));
  }
  bool number_float(double v) { return Value(Json(v)); }
  bool string(std::string_view v) {
    switch (Top()) {
      case Role::kMerges:
        if (GoodMerge()) {
          merges.push_back({Offset(), static_cast<uint32_t>(v.size()), kString});
          merge_text.append(v);
        }
        ++merge_count;
        return true;
      case Role::kMergePair: {
        Frame& f = stack_.back();
        if (f.count < 2 && GoodMerge()) {
          Merge& m = merges.back();
          if (f.count == 0) {
            m.len_a = static_cast<uint32_t>(v.size());
          } else {
            m.len_b = static_cast<uint32_t>(v.size());
          }
          merge_text.append(v);
        }
        ++f.count;
        return true;
      }
      default:
        return Value(Json(v));
    }
  }

  bool key(std::string_view k) {
    Frame& f = stack_.back();
    if (f.role == Role::kVocab) {
      vocab_keys.emplace_back(k);
      return true;
    }
    if (f.dom->contains(k)) return Fail(StrCat("duplicate key ", QuoteForMessage(k)));
    f.key = k;
    return true;
  }

  // Inside model.merges: one ["a", "b"] element, the common case, without a frame of its own.
  bool in_merges() const { return Top() == Role::kMerges; }
  void MergePair(std::string_view a, std::string_view b) {
    if (GoodMerge()) {
      merges.push_back(
          {Offset(), static_cast<uint32_t>(a.size()), static_cast<uint32_t>(b.size())});
      merge_text.append(a);
      merge_text.append(b);
    }
    ++merge_count;
  }

  bool start_object(size_t) { return Start(/*object=*/true); }
  bool start_array(size_t) { return Start(/*object=*/false); }
  bool end_object() { return End(); }
  bool end_array() { return End(); }

 private:
  enum class Role { kNone, kDom, kVocab, kMerges, kMergePair };
  struct Frame {
    Role role;
    Json* dom;        // kDom: the container being filled
    std::string key;  // kDom object: the key of the value being parsed
    size_t count = 0;
    bool is_model = false;  // the root's "model" object
  };

  Role Top() const { return stack_.empty() ? Role::kNone : stack_.back().role; }
  bool GoodMerge() const { return first_bad_merge == SIZE_MAX; }
  uint32_t Offset() const { return static_cast<uint32_t>(merge_text.size()); }
  bool Fail(std::string message) {
    if (error.empty()) error = std::move(message);
    return false;
  }
  void BadMerge(size_t i) {
    if (first_bad_merge == SIZE_MAX) {
      first_bad_merge = i;
      merges.resize(i);
    }
  }

  bool VocabValue(int64_t id) {
    vocab_ids.push_back(id);
    return true;
  }

  // Where the next value goes in a DOM container (which must be on top).
  Json* Slot() {
    Frame& f = stack_.back();
    if (f.dom->is_object()) return &(*f.dom)[f.key];
    f.dom->push_back(nullptr);
    return &f.dom->back();
  }

  // A completed scalar value.
  bool Value(Json&& v) {
    switch (Top()) {
      case Role::kNone:
        root = std::move(v);
        return true;
      case Role::kDom:
        *Slot() = std::move(v);
        return true;
      case Role::kVocab:
        return VocabValue(kNotInt);
      case Role::kMerges:
        BadMerge(merge_count++);
        return true;
      case Role::kMergePair:
        BadMerge(merge_count - 1);
        ++stack_.back().count;
        return true;
    }
    return true;
  }

  bool Start(bool object) {
    if (static_cast<int>(stack_.size()) >= max_depth_) {
      return Fail(StrCat("JSON nesting deeper than the limit of ", max_depth_));
    }
    Frame next{Role::kDom, nullptr, {}, 0, false};
    switch (Top()) {
      case Role::kNone:
        next.dom = &root;
        break;
      case Role::kDom: {
        Frame& parent = stack_.back();
        if (parent.is_model && parent.key == "vocab" && object) {
          (*parent.dom)["vocab"] = nullptr;  // a placeholder, so a second "vocab" is a duplicate
          vocab_streamed = true;
          next.role = Role::kVocab;
          break;
        }
        if (parent.is_model && parent.key == "merges" && !object) {
          (*parent.dom)["merges"] = nullptr;
          merges_streamed = true;
          next.role = Role::kMerges;
          break;
        }
        next.is_model = stack_.size() == 1 && parent.dom->is_object() && parent.key == "model";
        next.dom = Slot();
        break;
      }
      case Role::kVocab:  // not an integer; parsed (and checked) into a scratch DOM
        vocab_ids.push_back(kNotInt);
        next.dom = &scratch_;
        break;
      case Role::kMerges:
        if (!object) {
          if (GoodMerge()) merges.push_back({Offset(), 0, 0});
          ++merge_count;
          next.role = Role::kMergePair;
          break;
        }
        BadMerge(merge_count++);
        next.dom = &scratch_;
        break;
      case Role::kMergePair:
        BadMerge(merge_count - 1);
        ++stack_.back().count;
        next.dom = &scratch_;
        break;
    }
    if (next.dom != nullptr) *next.dom = object ? Json::object() : Json::array();
    stack_.push_back(std::move(next));
    return true;
  }

  bool End() {
    if (stack_.back().role == Role::kMergePair && stack_.back().count != 2) {
      BadMerge(merge_count - 1);
    }
    stack_.pop_back();
    return true;
  }

  int max_depth_;
  std::vector<Frame> stack_;
  Json scratch_;  // values that are rejected later, parsed only to check them
};

// Replays a simdjson DOM as events for `sax`. simdjson parses (and checks: syntax, UTF-8, trailing
// data) Gemma's 33 MB file about five times faster than nlohmann's lexer, which alone takes
// ~165 ms; simdjson keeps duplicate keys and allows deep nesting, which `sax` rejects.
bool Replay(simdjson::dom::element e, TokenizerJsonSax* sax) {
  switch (e.type()) {
    case simdjson::dom::element_type::OBJECT: {
      if (!sax->start_object(std::size_t(-1))) return false;
      for (simdjson::dom::key_value_pair kv : simdjson::dom::object(e)) {
        if (!sax->key(kv.key) || !Replay(kv.value, sax)) return false;
      }
      return sax->end_object();
    }
    case simdjson::dom::element_type::ARRAY: {
      if (sax->in_merges()) {
        const simdjson::dom::array pair(e);
        std::string_view a, b;
        if (pair.size() == 2 && pair.at(0).get(a) == simdjson::SUCCESS &&
            pair.at(1).get(b) == simdjson::SUCCESS) {
          sax->MergePair(a, b);
          return true;
        }
      }
      if (!sax->start_array(std::size_t(-1))) return false;
      for (simdjson::dom::element v : simdjson::dom::array(e)) {
        if (!Replay(v, sax)) return false;
      }
      return sax->end_array();
    }
    case simdjson::dom::element_type::STRING: {
      return sax->string(e.get_string().value_unsafe());
    }
    case simdjson::dom::element_type::INT64:
      return sax->number_integer(e.get_int64().value_unsafe());
    case simdjson::dom::element_type::UINT64:
      return sax->number_unsigned(e.get_uint64().value_unsafe());
    case simdjson::dom::element_type::DOUBLE:
      return sax->number_float(e.get_double().value_unsafe());
    case simdjson::dom::element_type::BOOL:
      return sax->boolean(e.get_bool().value_unsafe());
    case simdjson::dom::element_type::NULL_VALUE:
      return sax->null();
  }
  return true;
}

}  // namespace

Result<Tokenizer> Tokenizer::FromHfJson(std::string_view tokenizer_json,
                                        std::string_view config_json, std::string_view what) {
  if (tokenizer_json.size() > kMaxTokenizerJsonBytes) {
    return OutOfRange(what, ": JSON has ", tokenizer_json.size(), " bytes, more than the limit of ",
                      kMaxTokenizerJsonBytes);
  }
  // simdjson rejects a raw NUL too, but this names the offset, as json::ParseStrict does.
  if (size_t nul = tokenizer_json.find('\0'); nul != std::string_view::npos) {
    return DataLoss(what, ": JSON contains a NUL byte at offset ", nul);
  }
  TokenizerJsonSax sax(json::ParseLimits{}.max_depth);
  try {
    // simdjson's depth limit bounds its own stack; `sax` stops Replay at json::ParseLimits's.
    simdjson::dom::parser parser;
    if (auto error = parser.allocate(tokenizer_json.size(), kMaxSimdjsonDepth)) {
      return ResourceExhausted(what, ": ", simdjson::error_message(error));
    }
    simdjson::dom::element doc;
    if (auto error = parser.parse(tokenizer_json.data(), tokenizer_json.size()).get(doc)) {
      // simdjson validates UTF-8 (as json::ParseStrict does, before parsing).
      if (error == simdjson::UTF8_ERROR) return DataLoss(what, ": JSON is not valid UTF-8");
      return DataLoss(what, ": invalid JSON: ", simdjson::error_message(error));
    }
    if (!Replay(doc, &sax)) {
      return DataLoss(what, ": ", sax.error.empty() ? "invalid JSON" : sax.error);
    }
  } catch (const std::bad_alloc&) {
    return ResourceExhausted(what, ": out of memory while parsing JSON");
  }
  const Json& root = sax.root;
  if (!root.is_object()) return DataLoss(what, ": expected a JSON object");
  TokenizerSpec spec;
  spec.source = std::string(what);

  const Json* model;
  LOOM_RETURN_IF_ERROR(json::GetObject(root, "", "model", &model).WithContext(std::string(what)));
  const std::string model_type = TypeOf(*model);
  if (!model_type.empty() && model_type != "BPE") {
    return Unimplemented(what, ": model.type ", QuoteForMessage(model_type),
                         " is not supported (BPE)");
  }
  if (!sax.vocab_streamed) {
    const Json* vocab;  // missing, null or not an object: an error
    LOOM_RETURN_IF_ERROR(
        json::GetObject(*model, "model", "vocab", &vocab).WithContext(std::string(what)));
  }
  std::vector<std::string>& keys = sax.vocab_keys;
  const std::vector<int64_t>& values = sax.vocab_ids;
  if (static_cast<int64_t>(keys.size()) > kMaxVocabSize) {
    return OutOfRange(what, ": model.vocab has ", keys.size(), " entries, more than the limit of ",
                      kMaxVocabSize);
  }
  {
    // The duplicate-key check json::ParseStrict makes, which the streamed keys skipped.
    // Open addressing over indices into `keys`; std::unordered_set costs several times more.
    size_t slots = 16;
    while (slots < 2 * keys.size()) slots *= 2;
    std::vector<uint32_t> table(slots, UINT32_MAX);
    const std::hash<std::string_view> hash;
    for (size_t i = 0; i < keys.size(); ++i) {
      for (size_t s = hash(keys[i]) & (slots - 1);; s = (s + 1) & (slots - 1)) {
        if (table[s] == UINT32_MAX) {
          table[s] = static_cast<uint32_t>(i);
          break;
        }
        if (keys[table[s]] == keys[i]) {
          return DataLoss(what, ": duplicate key ", QuoteForMessage(keys[i]));
        }
      }
    }
  }
  // Every id from 0 up must be given exactly once, by the vocabulary or by an added token.
  std::vector<std::string> tokens(keys.size());
  std::vector<bool> have(keys.size(), false);
  for (size_t i = 0; i < keys.size(); ++i) {
    if (values[i] == TokenizerJsonSax::kNotInt) {
      return DataLoss(what, ": model.vocab[", QuoteForMessage(keys[i]), "]: expected an integer");
    }
    const int64_t id = values[i];
    if (id < 0 || id >= static_cast<int64_t>(tokens.size())) {
      return DataLoss(what, ": model.vocab[", QuoteForMessage(keys[i]), "] = ", id,
                      " is outside 0..", tokens.size() - 1, " (ids must be dense)");
    }
    if (have[id]) {
      return DataLoss(what, ": model.vocab gives id ", id, " to both ", QuoteForMessage(tokens[id]),
                      " and ", QuoteForMessage(keys[i]));
    }
    have[id] = true;
    tokens[id] = std::move(keys[i]);
  }
  const size_t model_size = tokens.size();

  if (json::Has(root, "added_tokens")) {
    const Json& added = root["added_tokens"];
    if (!added.is_array()) return DataLoss(what, ": added_tokens: expected an array");
    for (size_t i = 0; i < added.size(); ++i) {
      const Json& a = added[i];
      const std::string path = StrCat("added_tokens[", i, "]");
      const std::string where = Where(what, path);
      int64_t id;
      std::string content;
      bool special = false, normalized = false;
      LOOM_RETURN_IF_ERROR(json::GetInt(a, where, "id", &id));
      LOOM_RETURN_IF_ERROR(json::GetString(a, where, "content", &content));
      if (json::Has(a, "special")) {
        LOOM_RETURN_IF_ERROR(json::GetBool(a, where, "special", &special));
      }
      normalized = !special;  // HF's AddedToken default
      if (json::Has(a, "normalized")) {
        LOOM_RETURN_IF_ERROR(json::GetBool(a, where, "normalized", &normalized));
      }
      for (const char* flag : {"lstrip", "rstrip", "single_word"}) {
        bool on = false;
        if (json::Has(a, flag)) LOOM_RETURN_IF_ERROR(json::GetBool(a, where, flag, &on));
        if (on) {
          return Unimplemented(where, ".", flag, " = true is not supported");
        }
      }
      if (content.empty()) return DataLoss(where, ".content: empty");
      if (id < 0 || id >= kMaxVocabSize) {
        return DataLoss(where, ".id: ", id, " is outside 0..", kMaxVocabSize - 1);
      }
      if (static_cast<size_t>(id) < model_size) {
        if (tokens[id] != content) {
          return DataLoss(where, ": content ", QuoteForMessage(content), " differs from ",
                          QuoteForMessage(tokens[id]), ", the vocabulary's token ", id);
        }
      } else {
        if (static_cast<size_t>(id) >= tokens.size()) {
          tokens.resize(id + 1);
          have.resize(id + 1, false);
        }
        if (have[id] && tokens[id] != content) {
          return DataLoss(where, ": id ", id, " is already ", QuoteForMessage(tokens[id]));
        }
        tokens[id] = content;
        have[id] = true;
      }
      spec.added.push_back({static_cast<int32_t>(id), special, normalized});
    }
  }
  for (size_t id = 0; id < tokens.size(); ++id) {
    if (!have[id]) return DataLoss(what, ": no token has id ", id, " (ids must be dense)");
  }

  // Model options.
  const std::string mpath = Where(what, "model");
  for (const char* key : {"continuing_subword_prefix", "end_of_word_suffix"}) {
    if (json::Has(*model, key) && !(*model)[key].is_string()) {
      return DataLoss(mpath, ".", key, ": expected a string or null");
    }
    if (json::Has(*model, key) && !(*model)[key].get<std::string>().empty()) {
      return Unimplemented(mpath, ".", key, " is not supported");
    }
  }
  if (json::Has(*model, "dropout")) {
    double dropout = 0;
    LOOM_RETURN_IF_ERROR(json::GetDouble(*model, mpath, "dropout", &dropout));
    if (dropout != 0) return Unimplemented(mpath, ".dropout = ", dropout, " is not supported");
  }
  spec.bpe.byte_fallback = false;
  spec.bpe.fuse_unk = false;
  for (auto [key, out] : {std::pair{"byte_fallback", &spec.bpe.byte_fallback},
                          std::pair{"fuse_unk", &spec.bpe.fuse_unk},
                          std::pair{"ignore_merges", &spec.bpe.ignore_merges}}) {
    if (json::Has(*model, key)) LOOM_RETURN_IF_ERROR(json::GetBool(*model, mpath, key, out));
  }
  std::string unk;
  if (json::Has(*model, "unk_token")) {
    LOOM_RETURN_IF_ERROR(json::GetString(*model, mpath, "unk_token", &unk));
  }

  LOOM_ASSIGN_OR_RETURN(Vocab index, Vocab::Build(tokens, what));
  if (!unk.empty()) {
    spec.bpe.unk_id = index.Find(unk);
    if (spec.bpe.unk_id < 0) {
      return DataLoss(mpath, ".unk_token ", QuoteForMessage(unk), " is not in the vocabulary");
    }
  }

  // Merges: "a b" strings (older files) or ["a", "b"] pairs.
  if (!sax.merges_streamed && json::Has(*model, "merges")) {
    return DataLoss(mpath, ".merges: expected an array");
  }
  if (static_cast<int64_t>(sax.merge_count) > kMaxMerges) {
    return OutOfRange(mpath, ".merges has ", sax.merge_count, " entries, more than the limit of ",
                      kMaxMerges);
  }
  spec.merges.reserve(sax.merges.size());
  for (size_t i = 0; i < sax.merges.size(); ++i) {
    const TokenizerJsonSax::Merge& m = sax.merges[i];
    std::string_view a(sax.merge_text.data() + m.offset, m.len_a), b;
    if (m.len_b == TokenizerJsonSax::kString) {
      const std::string_view s = a;
      const size_t sp = s.find(' ');
      if (sp == std::string_view::npos || s.find(' ', sp + 1) != std::string_view::npos) {
        return DataLoss(mpath, ".merges[", i, "] ", QuoteForMessage(s),
                        " is not two tokens separated by one space");
      }
      a = s.substr(0, sp);
      b = s.substr(sp + 1);
    } else {
      b = std::string_view(a.data() + a.size(), m.len_b);
    }
    const int32_t ia = index.Find(a), ib = index.Find(b);
    if (ia < 0 || ib < 0) {
      return DataLoss(mpath, ".merges[", i, "] names ", QuoteForMessage(ia < 0 ? a : b),
                      ", which is not in the vocabulary");
    }
    spec.merges.emplace_back(ia, ib);
  }
  if (sax.first_bad_merge != SIZE_MAX) {
    return DataLoss(mpath, ".merges[", sax.first_bad_merge,
                    "]: expected \"a b\" or [\"a\", \"b\"]");
  }
  spec.merges_kind = TokenizerSpec::Merges::kExplicit;

  if (root.contains("normalizer")) {
    LOOM_RETURN_IF_ERROR(ParseNormalizer(root["normalizer"], what, "normalizer", &spec.normalizer));
  }
  if (root.contains("pre_tokenizer")) {
    LOOM_RETURN_IF_ERROR(
        ParsePreTokenizer(root["pre_tokenizer"], what, "pre_tokenizer", &spec.split_pattern));
  }
  if (!json::Has(root, "decoder")) {
    return Unimplemented(what,
                         ": decoder is missing; a tokenizer without one joins tokens with "
                         "spaces, which loom does not support");
  }
  spec.decode_byte_fallback = false;
  LOOM_RETURN_IF_ERROR(ParseDecoder(root["decoder"], what, "decoder", &spec));
  if (root.contains("post_processor")) {
    LOOM_RETURN_IF_ERROR(ParsePostProcessor(root["post_processor"], what, &spec));
  }
  if (spec.bpe.unk_id >= 0) spec.roles.emplace_back("unk", spec.bpe.unk_id);

  // tokenizer_config.json: named tokens ("bos_token": "<bos>", "eot_token": "<turn|>", ...),
  // extra special tokens and the BOS/EOS flags.
  if (!config_json.empty()) {
    const std::string cwhat = "tokenizer_config.json";
    LOOM_ASSIGN_OR_RETURN(Json config, json::ParseStrict(config_json, cwhat));
    if (!config.is_object()) return DataLoss(cwhat, ": expected a JSON object");
    std::vector<bool> is_added(tokens.size(), false);
    for (const auto& a : spec.added) is_added[a.id] = true;
    auto mark_special = [&](int32_t id) {
      // transformers adds a special token that is not an added token yet; it leaves the flags
      // of one that already is.
      if (!is_added[id]) {
        spec.added.push_back({id, true, false});
        is_added[id] = true;
      }
    };
    auto set_role = [&spec](const std::string& role, int32_t id) {
      for (auto& [name, rid] : spec.roles) {
        if (name == role) {
          rid = id;
          return;
        }
      }
      spec.roles.emplace_back(role, id);
    };
    for (auto it = config.begin(); it != config.end(); ++it) {
      const std::string& key = it.key();
      std::string text;
      if (key.size() > 6 && EndsWith(key, "_token") && TokenString(it.value(), &text)) {
        const int32_t id = index.Find(text);
        if (id < 0) continue;  // names a token this vocabulary lacks: nothing to map
        set_role(key.substr(0, key.size() - 6), id);
        mark_special(id);
      }
    }
    for (const char* key : {"extra_special_tokens", "additional_special_tokens"}) {
      if (!json::Has(config, key)) continue;
      const Json& list = config[key];
      if (!list.is_array() && !list.is_object()) {
        return DataLoss(cwhat, ": ", key, ": expected an array or an object");
      }
      for (auto it = list.begin(); it != list.end(); ++it) {
        std::string text;
        if (!TokenString(it.value(), &text)) continue;
        const int32_t id = index.Find(text);
        if (id < 0) continue;
        if (list.is_object()) set_role(it.key(), id);
        mark_special(id);
      }
    }
    auto bos = std::find_if(spec.roles.begin(), spec.roles.end(),
                            [](const auto& r) { return r.first == "bos"; });
    auto eos = std::find_if(spec.roles.begin(), spec.roles.end(),
                            [](const auto& r) { return r.first == "eos"; });
    for (auto [key, list, role] : {std::tuple{"add_bos_token", &spec.prefix, bos},
                                   std::tuple{"add_eos_token", &spec.suffix, eos}}) {
      if (!json::Has(config, key)) continue;
      bool on = false;
      LOOM_RETURN_IF_ERROR(json::GetBool(config, cwhat, key, &on));
      list->clear();
      if (on && role == spec.roles.end()) {
        return DataLoss(cwhat, ": ", key, " is true but no such token is named");
      }
      if (on) list->push_back(role->second);
    }
  }
  spec.tokens = std::move(tokens);
  spec.index = std::move(index);
  return FromSpec(std::move(spec));
}

}  // namespace loom::tokenizer
