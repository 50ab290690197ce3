// The tokenizer from GGUF metadata (tokenizer.ggml.*), built the way transformers builds it from
// the same file (integrations/gguf/gguf_tokenizer_mapping.py), so both load paths agree:
//
//   tokenizer.ggml.model "llama" on a Gemma architecture (gemma, gemma2, gemma3): GemmaTokenizer
//     - pieces made of spaces (and other whitespace) are stored with real spaces and respelled
//       with U+2581, one per character, as HF's vocabulary spells them;
//     - without tokenizer.ggml.merges, merges are every split of a token into two tokens,
//       ranked by the merged token's position in the file (the scores are not in merge order);
//     - add_bos_token defaults to true.
//   tokenizer.ggml.model "gemma4": GemmaTokenizer with the file's merges, or merges ranked by
//     score; no respelling; no BOS (the chat template writes it; llama.cpp differs here).
//
// In both, CONTROL tokens become special added tokens and USER_DEFINED ones plain added tokens,
// matched whole in the raw text. The normalizer maps ' ' to U+2581 and the decoder maps it back,
// then applies byte fallback. tokenizer.ggml.add_space_prefix is ignored, as transformers
// ignores it for Gemma (Gemma has no dummy prefix).
#include <cmath>
#include <string>
#include <vector>

#include "base/strings.h"
#include "formats/gguf/gguf.h"
#include "tokenizer/tokenizer.h"
#include "tokenizer/utf8.h"

namespace loom::tokenizer {
namespace {

constexpr std::string_view kSpaceMark = "\xE2\x96\x81";  // U+2581 LOWER ONE EIGHTH BLOCK

// Python's str.isspace(), which decides what transformers respells.
bool IsPythonSpace(uint32_t cp) {
  return (cp >= 0x09 && cp <= 0x0D) || (cp >= 0x1C && cp <= 0x20) || cp == 0x85 || cp == 0xA0 ||
         cp == 0x1680 || (cp >= 0x2000 && cp <= 0x200A) || cp == 0x2028 || cp == 0x2029 ||
         cp == 0x202F || cp == 0x205F || cp == 0x3000;
}

uint32_t DecodeCodePoint(std::string_view s, size_t i, size_t len) {
  const auto* p = reinterpret_cast<const unsigned char*>(s.data()) + i;
  if (len == 1) return p[0];
  uint32_t cp = p[0] & (0x7F >> len);
  for (size_t k = 1; k < len; ++k) cp = (cp << 6) | (p[k] & 0x3F);
  return cp;
}

// transformers: "\u2581" * len(t) if " " in t and not t.strip() else t.
bool RespellWhitespace(std::string* token) {
  if (token->find(' ') == std::string::npos) return false;
  size_t cps = 0;
  for (size_t i = 0; i < token->size();) {
    const size_t len = Utf8CharLen(static_cast<unsigned char>((*token)[i]));
    if (i + len > token->size() || !IsPythonSpace(DecodeCodePoint(*token, i, len))) return false;
    i += len;
    ++cps;
  }
  std::string respelled(cps * kSpaceMark.size(), '\0');
  for (size_t k = 0; k < respelled.size(); ++k) respelled[k] = kSpaceMark[k % kSpaceMark.size()];
  *token = std::move(respelled);
  return true;
}

// Reads an optional token id; `*out` stays -1 when the key is absent.
Status GetTokenId(const gguf::File& file, const char* key, int64_t n, int64_t* out) {
  *out = -1;
  int64_t v;
  Status s = file.GetInt(key, &v);
  if (s.code() == StatusCode::kNotFound) return Status::Ok();
  LOOM_RETURN_IF_ERROR(s);
  if (v < 0 || v >= n) {
    return DataLoss(key, ": token id ", v, " is outside the vocabulary of ", n, " tokens");
  }
  *out = v;
  return Status::Ok();
}

Status GetOptionalBool(const gguf::File& file, const char* key, bool* out) {
  Status s = file.GetBool(key, out);
  return s.code() == StatusCode::kNotFound ? Status::Ok() : s;
}

}  // namespace

Result<Tokenizer> Tokenizer::FromGguf(const gguf::File& file) {
  TokenizerSpec spec;
  spec.source = "GGUF";
  std::string model, arch;
  Status s = file.GetString("tokenizer.ggml.model", &model);
  if (s.code() == StatusCode::kNotFound) {
    return NotFound("GGUF: tokenizer.ggml.model is missing; the file carries no tokenizer");
  }
  LOOM_RETURN_IF_ERROR(s);
  if (Status a = file.GetString("general.architecture", &arch);
      !a.ok() && a.code() != StatusCode::kNotFound) {
    return a;
  }
  const bool gemma_spm =
      model == "llama" && (arch == "gemma" || arch == "gemma2" || arch == "gemma3");
  if (!gemma_spm && model != "gemma4") {
    return Unimplemented("GGUF: tokenizer.ggml.model ", QuoteForMessage(model),
                         " with architecture ", QuoteForMessage(arch),
                         " is not supported; loom reads Gemma tokenizers ('llama' on gemma, "
                         "gemma2, gemma3; 'gemma4')");
  }

  // Array sizes are checked against the vocabulary before anything is copied: a hostile file
  // may declare millions of entries.
  const gguf::Value* tokens_value = file.Find("tokenizer.ggml.tokens");
  if (tokens_value == nullptr) return NotFound("GGUF: tokenizer.ggml.tokens is missing");
  if (tokens_value->type != gguf::ValueType::kArray ||
      tokens_value->elem_type != gguf::ValueType::kString) {
    return DataLoss("GGUF: tokenizer.ggml.tokens must be an array of strings");
  }
  const std::vector<std::string_view>& tokens = tokens_value->strings;
  const int64_t n = static_cast<int64_t>(tokens.size());
  if (n == 0) return DataLoss("GGUF: tokenizer.ggml.tokens is empty");
  if (n > kMaxVocabSize) {
    return OutOfRange("GGUF: tokenizer.ggml.tokens has ", n, " entries, more than the limit of ",
                      kMaxVocabSize);
  }
  auto array_count = [&file](const char* key) -> int64_t {
    const gguf::Value* v = file.Find(key);
    return v == nullptr ? -1
                        : static_cast<int64_t>(v->type == gguf::ValueType::kArray ? v->count : 0);
  };
  for (const char* key : {"tokenizer.ggml.token_type", "tokenizer.ggml.scores"}) {
    const int64_t count = array_count(key);
    if (count >= 0 && count != n) {
      return DataLoss("GGUF: ", key, " has ", count, " entries for ", n, " tokens");
    }
  }
  if (array_count("tokenizer.ggml.merges") > kMaxMerges) {
    return OutOfRange("GGUF: tokenizer.ggml.merges has ", array_count("tokenizer.ggml.merges"),
                      " entries, more than the limit of ", kMaxMerges);
  }

  std::vector<int64_t> types;
  if (Status t = file.GetIntArray("tokenizer.ggml.token_type", &types);
      !t.ok() && t.code() != StatusCode::kNotFound) {
    return t;
  }
  std::vector<double> scores;
  if (Status t = file.GetFloatArray("tokenizer.ggml.scores", &scores);
      !t.ok() && t.code() != StatusCode::kNotFound) {
    return t;
  }
  std::vector<std::string_view> merges;
  if (Status t = file.GetStringArray("tokenizer.ggml.merges", &merges);
      !t.ok() && t.code() != StatusCode::kNotFound) {
    return t;
  }

  spec.tokens.reserve(n);
  std::vector<bool> respelled(n, false);
  for (int64_t i = 0; i < n; ++i) {
    if (tokens[i].size() > kMaxTokenBytes) {
      return OutOfRange("GGUF: token ", i, " is ", tokens[i].size(),
                        " bytes long, more than the limit of ", kMaxTokenBytes);
    }
    spec.tokens.emplace_back(tokens[i]);
    if (gemma_spm) respelled[i] = RespellWhitespace(&spec.tokens.back());
  }
  if (!types.empty()) {
    spec.types.resize(n);
    for (int64_t i = 0; i < n; ++i) {
      if (!TokenTypeValid(types[i])) {
        return DataLoss("GGUF: tokenizer.ggml.token_type[", i, "] is ", types[i],
                        ", not a token type (0 to 6)");
      }
      spec.types[i] = static_cast<TokenType>(types[i]);
    }
  }

  if (!merges.empty()) {
    // The merges name tokens by their (respelled) strings, one space between the two.
    LOOM_ASSIGN_OR_RETURN(Vocab index, Vocab::Build(spec.tokens, "GGUF"));
    spec.merges.reserve(merges.size());
    for (size_t i = 0; i < merges.size(); ++i) {
      std::string_view m = merges[i];
      const size_t sp = m.find(' ');
      if (sp == std::string_view::npos || m.find(' ', sp + 1) != std::string_view::npos) {
        return DataLoss("GGUF: tokenizer.ggml.merges[", i, "] ", QuoteForMessage(m),
                        " is not two tokens separated by one space");
      }
      const int32_t a = index.Find(m.substr(0, sp)), b = index.Find(m.substr(sp + 1));
      if (a < 0 || b < 0) {
        return DataLoss("GGUF: tokenizer.ggml.merges[", i, "] ", QuoteForMessage(m),
                        " names a token that is not in the vocabulary");
      }
      spec.merges.emplace_back(a, b);
    }
    spec.merges_kind = TokenizerSpec::Merges::kExplicit;
  } else if (gemma_spm) {
    spec.merges_kind = TokenizerSpec::Merges::kVocabOrder;
  } else {
    if (scores.empty()) {
      return DataLoss(
          "GGUF: neither tokenizer.ggml.merges nor tokenizer.ggml.scores is present; "
          "BPE merges cannot be derived");
    }
    spec.merges_kind = TokenizerSpec::Merges::kScores;
    spec.scores.resize(n);
    for (int64_t i = 0; i < n; ++i) {
      if (std::isnan(scores[i])) return DataLoss("GGUF: tokenizer.ggml.scores[", i, "] is NaN");
      spec.scores[i] = static_cast<float>(scores[i]);
    }
  }

  // Roles. tokenizer.ggml.<name>_token_id, the names llama.cpp writes.
  static constexpr std::pair<const char*, const char*> kRoles[] = {
      {"bos", "tokenizer.ggml.bos_token_id"},     {"eos", "tokenizer.ggml.eos_token_id"},
      {"unk", "tokenizer.ggml.unknown_token_id"}, {"pad", "tokenizer.ggml.padding_token_id"},
      {"mask", "tokenizer.ggml.mask_token_id"},   {"sep", "tokenizer.ggml.seperator_token_id"},
      {"cls", "tokenizer.ggml.cls_token_id"},     {"eot", "tokenizer.ggml.eot_token_id"},
      {"eom", "tokenizer.ggml.eom_token_id"},
  };
  std::vector<bool> special(n, false), added(n, false);
  for (const auto& [role, key] : kRoles) {
    int64_t id;
    LOOM_RETURN_IF_ERROR(GetTokenId(file, key, n, &id));
    if (id < 0) continue;
    spec.roles.emplace_back(role, static_cast<int32_t>(id));
    // transformers registers these as special tokens of the tokenizer.
    if (std::string_view(role) != "sep" && std::string_view(role) != "cls" &&
        std::string_view(role) != "eot" && std::string_view(role) != "eom") {
      special[id] = added[id] = true;
    }
  }
  if (!types.empty()) {
    for (int64_t i = 0; i < n; ++i) {
      if (spec.types[i] == TokenType::kControl) special[i] = added[i] = true;
      // A respelled whitespace piece is no added token: HF looks its original spelling up in
      // the respelled vocabulary and does not find it, so it is reached by merges instead.
      if (spec.types[i] == TokenType::kUserDefined && !respelled[i]) added[i] = true;
    }
  }
  for (int64_t i = 0; i < n; ++i) {
    if (added[i] && !spec.tokens[i].empty()) {
      spec.added.push_back({static_cast<int32_t>(i), static_cast<bool>(special[i]), false});
    }
  }

  int64_t unk = -1;
  LOOM_RETURN_IF_ERROR(GetTokenId(file, "tokenizer.ggml.unknown_token_id", n, &unk));
  spec.bpe.unk_id = static_cast<int32_t>(unk);
  spec.bpe.byte_fallback = true;
  spec.bpe.fuse_unk = true;
  spec.normalizer.push_back({NormalizerStep::Kind::kReplace, " ", std::string(kSpaceMark)});
  spec.split_pattern.assign(1, ' ');
  spec.decode_replace.emplace_back(std::string(kSpaceMark), " ");
  spec.decode_byte_fallback = true;

  bool add_bos = gemma_spm, add_eos = false;
  LOOM_RETURN_IF_ERROR(GetOptionalBool(file, "tokenizer.ggml.add_bos_token", &add_bos));
  LOOM_RETURN_IF_ERROR(GetOptionalBool(file, "tokenizer.ggml.add_eos_token", &add_eos));
  if (model == "gemma4") add_bos = false;  // transformers follows the reference here
  for (const auto& [role, id] : spec.roles) {
    if (role == "bos" && add_bos) spec.prefix.push_back(id);
    if (role == "eos" && add_eos) spec.suffix.push_back(id);
  }
  return FromSpec(std::move(spec));
}

}  // namespace loom::tokenizer
