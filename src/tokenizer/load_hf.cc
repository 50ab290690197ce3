// The tokenizer from an HF tokenizer.json (+ tokenizer_config.json). Only what Gemma's files use
// is accepted: a BPE model (byte fallback, fused <unk>), added tokens without lstrip/rstrip/
// single_word, Replace/Prepend normalizers, a literal Split pre-tokenizer, Replace/ByteFallback/
// Fuse decoders and a TemplateProcessing post-processor. Anything else is Unimplemented with
// the field named, rather than tokenized differently from the reference.
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

}  // namespace

Result<Tokenizer> Tokenizer::FromHfJson(std::string_view tokenizer_json,
                                        std::string_view config_json, std::string_view what) {
  json::ParseLimits limits;
  limits.max_bytes = kMaxTokenizerJsonBytes;
  LOOM_ASSIGN_OR_RETURN(Json root, json::ParseStrict(tokenizer_json, what, limits));
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
  const Json* vocab;
  LOOM_RETURN_IF_ERROR(
      json::GetObject(*model, "model", "vocab", &vocab).WithContext(std::string(what)));
  if (static_cast<int64_t>(vocab->size()) > kMaxVocabSize) {
    return OutOfRange(what, ": model.vocab has ", vocab->size(),
                      " entries, more than the limit of ", kMaxVocabSize);
  }

  // Every id from 0 up must be given exactly once, by the vocabulary or by an added token.
  std::vector<std::string> tokens(vocab->size());
  std::vector<bool> have(vocab->size(), false);
  for (auto it = vocab->begin(); it != vocab->end(); ++it) {
    if (!it.value().is_number_integer()) {
      return DataLoss(what, ": model.vocab[", QuoteForMessage(it.key()), "]: expected an integer");
    }
    const int64_t id = it.value().get<int64_t>();
    if (id < 0 || id >= static_cast<int64_t>(tokens.size())) {
      return DataLoss(what, ": model.vocab[", QuoteForMessage(it.key()), "] = ", id,
                      " is outside 0..", tokens.size() - 1, " (ids must be dense)");
    }
    if (have[id]) {
      return DataLoss(what, ": model.vocab gives id ", id, " to both ", QuoteForMessage(tokens[id]),
                      " and ", QuoteForMessage(it.key()));
    }
    have[id] = true;
    tokens[id] = it.key();
  }
  const size_t model_size = tokens.size();

  if (json::Has(root, "added_tokens")) {
    const Json& added = root["added_tokens"];
    if (!added.is_array()) return DataLoss(what, ": added_tokens: expected an array");
    for (size_t i = 0; i < added.size(); ++i) {
      const Json& a = added[i];
      const std::string path = StrCat("added_tokens[", i, "]");
      int64_t id;
      std::string content;
      bool special = false, normalized = false;
      LOOM_RETURN_IF_ERROR(json::GetInt(a, Where(what, path), "id", &id));
      LOOM_RETURN_IF_ERROR(json::GetString(a, Where(what, path), "content", &content));
      if (json::Has(a, "special")) {
        LOOM_RETURN_IF_ERROR(json::GetBool(a, Where(what, path), "special", &special));
      }
      normalized = !special;  // HF's AddedToken default
      if (json::Has(a, "normalized")) {
        LOOM_RETURN_IF_ERROR(json::GetBool(a, Where(what, path), "normalized", &normalized));
      }
      for (const char* flag : {"lstrip", "rstrip", "single_word"}) {
        bool on = false;
        if (json::Has(a, flag))
          LOOM_RETURN_IF_ERROR(json::GetBool(a, Where(what, path), flag, &on));
        if (on) {
          return Unimplemented(Where(what, path), ".", flag, " = true is not supported");
        }
      }
      if (content.empty()) return DataLoss(Where(what, path), ".content: empty");
      if (id < 0 || id >= kMaxVocabSize) {
        return DataLoss(Where(what, path), ".id: ", id, " is outside 0..", kMaxVocabSize - 1);
      }
      if (static_cast<size_t>(id) < model_size) {
        if (tokens[id] != content) {
          return DataLoss(Where(what, path), ": content ", QuoteForMessage(content),
                          " differs from ", QuoteForMessage(tokens[id]),
                          ", the vocabulary's token ", id);
        }
      } else {
        if (static_cast<size_t>(id) >= tokens.size()) {
          tokens.resize(id + 1);
          have.resize(id + 1, false);
        }
        if (have[id] && tokens[id] != content) {
          return DataLoss(Where(what, path), ": id ", id, " is already ",
                          QuoteForMessage(tokens[id]));
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
  if (json::Has(*model, "merges")) {
    const Json& merges = (*model)["merges"];
    if (!merges.is_array()) return DataLoss(mpath, ".merges: expected an array");
    if (static_cast<int64_t>(merges.size()) > kMaxMerges) {
      return OutOfRange(mpath, ".merges has ", merges.size(), " entries, more than the limit of ",
                        kMaxMerges);
    }
    spec.merges.reserve(merges.size());
    for (size_t i = 0; i < merges.size(); ++i) {
      const Json& m = merges[i];
      std::string a, b;
      if (m.is_string()) {
        const std::string& s = m.get_ref<const std::string&>();
        const size_t sp = s.find(' ');
        if (sp == std::string::npos || s.find(' ', sp + 1) != std::string::npos) {
          return DataLoss(mpath, ".merges[", i, "] ", QuoteForMessage(s),
                          " is not two tokens separated by one space");
        }
        a = s.substr(0, sp);
        b = s.substr(sp + 1);
      } else if (m.is_array() && m.size() == 2 && m[0].is_string() && m[1].is_string()) {
        a = m[0].get<std::string>();
        b = m[1].get<std::string>();
      } else {
        return DataLoss(mpath, ".merges[", i, "]: expected \"a b\" or [\"a\", \"b\"]");
      }
      const int32_t ia = index.Find(a), ib = index.Find(b);
      if (ia < 0 || ib < 0) {
        return DataLoss(mpath, ".merges[", i, "] names ", QuoteForMessage(ia < 0 ? a : b),
                        ", which is not in the vocabulary");
      }
      spec.merges.emplace_back(ia, ib);
    }
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
  return FromSpec(std::move(spec));
}

}  // namespace loom::tokenizer
