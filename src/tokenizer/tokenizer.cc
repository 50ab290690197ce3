#include "tokenizer/tokenizer.h"

#include <algorithm>
#include <cstdio>

#include "base/strings.h"
#include "tokenizer/added_tokens.h"
#include "tokenizer/utf8.h"
#include "tokenizer/vocab.h"

namespace loom::tokenizer {

bool TokenTypeValid(int64_t v) { return v >= 0 && v < static_cast<int64_t>(TokenType::kSentinel); }

const char* TokenTypeName(TokenType t) {
  switch (t) {
    case TokenType::kUndefined:
      return "undefined";
    case TokenType::kNormal:
      return "normal";
    case TokenType::kUnknown:
      return "unknown";
    case TokenType::kControl:
      return "control";
    case TokenType::kUserDefined:
      return "user-defined";
    case TokenType::kUnused:
      return "unused";
    case TokenType::kByte:
      return "byte";
    case TokenType::kSentinel:
      break;
  }
  return "invalid";
}

namespace {

constexpr uint8_t kAdded = 1;
constexpr uint8_t kSpecial = 2;

// HF's ByteFallback decoder takes a token as a byte when it is 6 bytes, "<0x" + 2 + ">", and
// u8::from_str_radix(the 2, 16) accepts them: two hex digits of either case, or '+' and one.
int ParseByteToken(std::string_view s) {
  if (s.size() != 6 || s.substr(0, 3) != "<0x" || s[5] != '>') return -1;
  auto hex = [](char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  };
  const int hi = s[3] == '+' ? 0 : hex(s[3]);
  const int lo = hex(s[4]);
  if (hi < 0 || lo < 0) return -1;
  return hi * 16 + lo;
}

// The spelling byte fallback looks tokens up by, and that GGUF BYTE tokens must have.
bool IsCanonicalByteToken(std::string_view s) {
  if (s.size() != 6 || s.substr(0, 3) != "<0x" || s[5] != '>') return false;
  auto upper_hex = [](char c) { return (c >= '0' && c <= '9') || (c >= 'A' && c <= 'F'); };
  return upper_hex(s[3]) && upper_hex(s[4]);
}

void ReplaceAll(std::string_view in, std::string_view pattern, std::string_view content,
                std::string* out) {
  out->clear();
  size_t pos = 0;
  while (true) {
    size_t hit = in.find(pattern, pos);
    if (hit == std::string_view::npos) break;
    out->append(in.substr(pos, hit - pos));
    out->append(content);
    pos = hit + pattern.size();
  }
  out->append(in.substr(pos));
}

}  // namespace

struct Tokenizer::Impl {
  std::string source;
  Vocab vocab;
  std::unique_ptr<Bpe> bpe;  // points into vocab: Impl never moves once built
  TokenizerSpec::Merges merges_kind = TokenizerSpec::Merges::kExplicit;
  std::vector<TokenType> types;
  std::vector<uint8_t> flags;  // kAdded | kSpecial
  std::vector<int32_t> added_ids;
  AddedTokenMatcher raw_added;         // matched in the raw text
  AddedTokenMatcher normalized_added;  // matched in the normalized text
  std::vector<NormalizerStep> normalizer;
  std::string split_pattern;
  std::string pieces;                   // decoded text of every token, back to back
  std::vector<uint32_t> piece_offsets;  // [n + 1]
  std::vector<int16_t> byte_value;      // [n] -1 or the byte of a <0xHH> token
  std::vector<int32_t> prefix, suffix;
  std::vector<std::pair<std::string, int32_t>> roles;

  void Normalize(std::string_view in, std::string* out) const {
    std::string tmp;
    out->assign(in);
    for (const NormalizerStep& step : normalizer) {
      if (step.kind == NormalizerStep::Kind::kReplace) {
        ReplaceAll(*out, step.pattern, step.content, &tmp);
        out->swap(tmp);
      } else if (!out->empty()) {  // HF's Prepend leaves empty text alone
        out->insert(0, step.content);
      }
    }
  }
};

Result<Tokenizer> Tokenizer::FromSpec(TokenizerSpec spec) {
  auto impl = std::make_shared<Impl>();
  const std::string& what = spec.source.empty() ? (spec.source = "tokenizer") : spec.source;
  if (spec.index.has_value()) {
    impl->vocab = std::move(*spec.index);
  } else {
    LOOM_ASSIGN_OR_RETURN(impl->vocab, Vocab::Build(spec.tokens, what));
  }
  const int32_t n = impl->vocab.size();
  impl->normalizer = spec.normalizer;
  auto in_vocab = [n](int64_t id) { return id >= 0 && id < n; };

  if (!spec.types.empty() && spec.types.size() != static_cast<size_t>(n)) {
    return DataLoss(what, ": ", spec.types.size(), " token types for ", n, " tokens");
  }
  if (spec.bpe.unk_id != -1 && !in_vocab(spec.bpe.unk_id)) {
    return DataLoss(what, ": unknown-token id ", spec.bpe.unk_id, " is outside the vocabulary of ",
                    n, " tokens");
  }
  for (const auto& ids : {spec.prefix, spec.suffix}) {
    for (int32_t id : ids) {
      if (!in_vocab(id)) {
        return DataLoss(what, ": BOS/EOS template id ", id, " is outside the vocabulary of ", n,
                        " tokens");
      }
    }
  }
  for (const auto& [role, id] : spec.roles) {
    if (!in_vocab(id)) {
      return DataLoss(what, ": ", role, " token id ", id, " is outside the vocabulary of ", n,
                      " tokens");
    }
  }
  for (const NormalizerStep& step : spec.normalizer) {
    if (step.kind == NormalizerStep::Kind::kReplace && step.pattern.empty()) {
      return DataLoss(what, ": a Replace normalizer has an empty pattern");
    }
  }
  for (const auto& [pattern, content] : spec.decode_replace) {
    if (pattern.empty()) return DataLoss(what, ": a Replace decoder has an empty pattern");
  }

  MergeRules rules;
  switch (spec.merges_kind) {
    case TokenizerSpec::Merges::kExplicit: {
      LOOM_ASSIGN_OR_RETURN(rules, MergeRules::Explicit(impl->vocab, spec.merges, what));
      break;
    }
    case TokenizerSpec::Merges::kVocabOrder: {
      LOOM_ASSIGN_OR_RETURN(rules, MergeRules::FromVocabOrder(impl->vocab, what));
      break;
    }
    case TokenizerSpec::Merges::kScores: {
      LOOM_ASSIGN_OR_RETURN(rules, MergeRules::FromScores(impl->vocab, spec.scores, what));
      break;
    }
    default:
      return Internal(what, ": unknown merge kind");
  }
  impl->merges_kind = spec.merges_kind;
  impl->bpe = std::make_unique<Bpe>(&impl->vocab, std::move(rules), spec.bpe);

  // Added tokens: a token listed twice keeps its last flags.
  impl->flags.assign(n, 0);
  for (const TokenizerSpec::Added& a : spec.added) {
    if (!in_vocab(a.id)) {
      return DataLoss(what, ": added token id ", a.id, " is outside the vocabulary of ", n,
                      " tokens");
    }
    if (impl->vocab.ByteLen(a.id) == 0) {
      return DataLoss(what, ": added token ", a.id, " is empty");
    }
    impl->flags[a.id] = kAdded | (a.special ? kSpecial : 0);
  }
  std::vector<AddedTokenMatcher::Pattern> raw, normalized;
  std::vector<bool> is_normalized(n, false);
  for (const TokenizerSpec::Added& a : spec.added) is_normalized[a.id] = a.normalized;
  for (int32_t id = 0; id < n; ++id) {
    if (!(impl->flags[id] & kAdded)) continue;
    impl->added_ids.push_back(id);
    const bool special = impl->flags[id] & kSpecial;
    if (is_normalized[id]) {
      std::string text;
      impl->Normalize(impl->vocab.Text(id), &text);
      normalized.push_back({std::move(text), id, special});
    } else {
      raw.push_back({std::string(impl->vocab.Text(id)), id, special});
    }
  }
  impl->raw_added = AddedTokenMatcher(raw);
  impl->normalized_added = AddedTokenMatcher(normalized);

  // Token types: from the file, or inferred the way GGUF converters assign them.
  if (spec.types.empty()) {
    impl->types.assign(n, TokenType::kNormal);
    for (int32_t id = 0; id < n; ++id) {
      if (impl->flags[id] & kSpecial) {
        impl->types[id] = TokenType::kControl;
      } else if (impl->flags[id] & kAdded) {
        impl->types[id] = TokenType::kUserDefined;
      } else if (spec.bpe.byte_fallback && IsCanonicalByteToken(impl->vocab.Text(id))) {
        impl->types[id] = TokenType::kByte;
      }
    }
    if (spec.bpe.unk_id >= 0 && impl->types[spec.bpe.unk_id] == TokenType::kNormal) {
      impl->types[spec.bpe.unk_id] = TokenType::kUnknown;
    }
  } else {
    impl->types = std::move(spec.types);
    for (int32_t id = 0; id < n; ++id) {
      if (impl->types[id] == TokenType::kByte && !IsCanonicalByteToken(impl->vocab.Text(id))) {
        return DataLoss(what, ": byte token ", id, " is spelled ",
                        QuoteForMessage(impl->vocab.Text(id)), ", not <0xHH>");
      }
    }
  }

  // Decoder tables: each token's text after the decoder's replacements, and its byte.
  impl->piece_offsets.resize(n + 1);
  impl->byte_value.assign(n, -1);
  std::string piece, tmp;
  for (int32_t id = 0; id < n; ++id) {
    impl->piece_offsets[id] = static_cast<uint32_t>(impl->pieces.size());
    piece.assign(impl->vocab.Text(id));
    for (const auto& [pattern, content] : spec.decode_replace) {
      ReplaceAll(piece, pattern, content, &tmp);
      piece.swap(tmp);
    }
    if (spec.decode_byte_fallback)
      impl->byte_value[id] = static_cast<int16_t>(ParseByteToken(piece));
    impl->pieces.append(piece);
  }
  impl->piece_offsets[n] = static_cast<uint32_t>(impl->pieces.size());

  impl->source = std::move(spec.source);
  impl->split_pattern = std::move(spec.split_pattern);
  impl->prefix = std::move(spec.prefix);
  impl->suffix = std::move(spec.suffix);
  impl->roles = std::move(spec.roles);
  return Tokenizer(std::move(impl));
}

int32_t Tokenizer::vocab_size() const { return impl_->vocab.size(); }

std::string_view Tokenizer::TokenText(int32_t id) const {
  return IsValidId(id) ? impl_->vocab.Text(id) : std::string_view();
}

TokenType Tokenizer::Type(int32_t id) const {
  return IsValidId(id) ? impl_->types[id] : TokenType::kUndefined;
}

bool Tokenizer::IsAdded(int32_t id) const { return IsValidId(id) && (impl_->flags[id] & kAdded); }

bool Tokenizer::IsSpecial(int32_t id) const {
  return IsValidId(id) && (impl_->flags[id] & kSpecial);
}

std::optional<int32_t> Tokenizer::TokenId(std::string_view text) const {
  const int32_t id = impl_->vocab.Find(text);
  if (id < 0) return std::nullopt;
  return id;
}

std::optional<int32_t> Tokenizer::RoleId(std::string_view role) const {
  for (const auto& [name, id] : impl_->roles) {
    if (name == role) return id;
  }
  return std::nullopt;
}

const std::vector<std::pair<std::string, int32_t>>& Tokenizer::roles() const {
  return impl_->roles;
}
const std::vector<int32_t>& Tokenizer::added_ids() const { return impl_->added_ids; }
std::span<const int32_t> Tokenizer::prefix_ids() const { return impl_->prefix; }
std::span<const int32_t> Tokenizer::suffix_ids() const { return impl_->suffix; }
const std::string& Tokenizer::source() const { return impl_->source; }

std::string Tokenizer::Describe() const {
  int64_t control = 0, user = 0, bytes = 0;
  for (TokenType t : impl_->types) {
    control += t == TokenType::kControl;
    user += t == TokenType::kUserDefined;
    bytes += t == TokenType::kByte;
  }
  const char* merges = "";
  switch (impl_->merges_kind) {
    case TokenizerSpec::Merges::kExplicit:
      merges = "merges from the file";
      break;
    case TokenizerSpec::Merges::kVocabOrder:
      merges = "merges derived from the vocabulary order";
      break;
    default:
      merges = "merges derived from the scores";
      break;
  }
  std::string s = StrCat(impl_->source, ", ", vocab_size(), " tokens (", control, " control, ",
                         user, " user-defined, ", bytes, " byte), ", merges);
  if (impl_->bpe->rules().explicit_count() > 0) {
    s += StrCat(" (", impl_->bpe->rules().explicit_count(), ")");
  }
  return s;
}

int Tokenizer::ByteValue(int32_t id) const { return impl_->byte_value[id]; }

std::string_view Tokenizer::DecodedPiece(int32_t id) const {
  const uint32_t b = impl_->piece_offsets[id], e = impl_->piece_offsets[id + 1];
  return std::string_view(impl_->pieces.data() + b, e - b);
}

void Tokenizer::EncodeNormalized(std::string_view text, std::vector<int32_t>* out) const {
  const Impl& im = *impl_;
  auto bpe_words = [&](std::string_view piece) {
    if (im.split_pattern.empty()) {
      im.bpe->EncodeWord(piece, out);
      return;
    }
    // Split(pattern, MergedWithPrevious): each occurrence ends the piece it belongs to.
    size_t start = 0;
    while (start < piece.size()) {
      size_t hit = piece.find(im.split_pattern, start);
      size_t end = hit == std::string_view::npos ? piece.size() : hit + im.split_pattern.size();
      im.bpe->EncodeWord(piece.substr(start, end - start), out);
      start = end;
    }
  };
  bpe_words(text);
}

void Tokenizer::EncodeText(std::string_view text, bool parse_special,
                           std::vector<int32_t>* out) const {
  const Impl& im = *impl_;
  // Splits `s` on the matches of `matcher` (HF AddedVocabulary::find_matches): a special match
  // that is not to be parsed is skipped but still consumed, so it stays part of the text around.
  auto split = [parse_special, out](const AddedTokenMatcher& matcher, std::string_view s,
                                    auto&& on_text) {
    if (matcher.empty() || (!parse_special && !matcher.has_non_special())) {
      on_text(s);
      return;
    }
    size_t start = 0, pos = 0;
    AddedTokenMatcher::Match m;
    while (matcher.Next(s, pos, &m)) {
      pos = m.end;
      if (m.special && !parse_special) continue;
      if (m.begin > start) on_text(s.substr(start, m.begin - start));
      out->push_back(m.id);
      start = m.end;
    }
    if (start < s.size()) on_text(s.substr(start));
  };
  split(im.raw_added, text, [&](std::string_view piece) {
    if (im.normalizer.empty() && im.normalized_added.empty()) {
      EncodeNormalized(piece, out);
      return;
    }
    std::string normalized;
    im.Normalize(piece, &normalized);
    split(im.normalized_added, normalized,
          [&](std::string_view sub) { EncodeNormalized(sub, out); });
  });
}

Status Tokenizer::Encode(std::string_view text, const EncodeOptions& options,
                         std::vector<int32_t>* out) const {
  if (text.size() > static_cast<size_t>(INT32_MAX)) {
    return OutOfRange("text: ", text.size(), " bytes, more than the limit of ", INT32_MAX);
  }
  std::string sanitized;
  if (size_t bad = FindInvalidUtf8(text); bad != std::string_view::npos) {
    if (options.invalid_utf8 != InvalidUtf8::kReplace) {
      char hex[8];
      std::snprintf(hex, sizeof(hex), "0x%02X", static_cast<unsigned char>(text[bad]));
      return InvalidArgument("text: invalid UTF-8 at byte offset ", bad, " (byte ", hex,
                             "); the tokenizer takes UTF-8 text only");
    }
    AppendUtf8Sanitized(text, &sanitized);
    text = sanitized;
  }
  if (options.add_special_tokens)
    out->insert(out->end(), impl_->prefix.begin(), impl_->prefix.end());
  EncodeText(text, options.parse_special, out);
  if (options.add_special_tokens)
    out->insert(out->end(), impl_->suffix.begin(), impl_->suffix.end());
  return Status::Ok();
}

Result<std::vector<int32_t>> Tokenizer::Encode(std::string_view text,
                                               const EncodeOptions& options) const {
  std::vector<int32_t> ids;
  LOOM_RETURN_IF_ERROR(Encode(text, options, &ids));
  return ids;
}

namespace {

// HF's ByteFallback: a run of byte tokens becomes its bytes when they are valid UTF-8, and one
// U+FFFD per byte otherwise.
void AppendByteRun(std::string_view run, std::string* out) {
  if (IsValidUtf8(run)) {
    out->append(run);
    return;
  }
  for (size_t i = 0; i < run.size(); ++i) out->append(kReplacementChar);
}

}  // namespace

Status Tokenizer::Decode(std::span<const int32_t> ids, const DecodeOptions& options,
                         std::string* out) const {
  for (size_t i = 0; i < ids.size(); ++i) {
    if (!IsValidId(ids[i])) {
      return InvalidArgument("token id ", ids[i], " at position ", i,
                             " is outside the vocabulary of ", vocab_size(), " tokens");
    }
  }
  std::string run;
  for (int32_t id : ids) {
    if (options.skip_special && IsSpecial(id)) continue;
    const int b = ByteValue(id);
    if (b >= 0) {
      run.push_back(static_cast<char>(b));
      continue;
    }
    if (!run.empty()) {
      AppendByteRun(run, out);
      run.clear();
    }
    out->append(DecodedPiece(id));
  }
  AppendByteRun(run, out);
  return Status::Ok();
}

Result<std::string> Tokenizer::Decode(std::span<const int32_t> ids,
                                      const DecodeOptions& options) const {
  std::string text;
  LOOM_RETURN_IF_ERROR(Decode(ids, options, &text));
  return text;
}

StreamDecoder::StreamDecoder(Tokenizer tokenizer, DecodeOptions options)
    : tokenizer_(std::move(tokenizer)), options_(options) {}

void StreamDecoder::FlushRun(std::string* out) {
  AppendByteRun(run_, out);
  run_.clear();
}

Status StreamDecoder::Push(int32_t id, std::string* out) {
  if (!tokenizer_.IsValidId(id)) {
    return InvalidArgument("token id ", id, " is outside the vocabulary of ",
                           tokenizer_.vocab_size(), " tokens");
  }
  if (options_.skip_special && tokenizer_.IsSpecial(id)) return Status::Ok();
  const int b = tokenizer_.ByteValue(id);
  if (b >= 0) {
    run_.push_back(static_cast<char>(b));
    return Status::Ok();
  }
  FlushRun(out);
  out->append(tokenizer_.DecodedPiece(id));
  return Status::Ok();
}

void StreamDecoder::Finish(std::string* out) { FlushRun(out); }

}  // namespace loom::tokenizer
