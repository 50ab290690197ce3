// Gemma's tokenizer: SentencePiece-derived BPE, run the way HF `tokenizers` runs the
// tokenizer.json that transformers writes for it, so that loom gives the reference's ids.
//
// Encoding (the order of HF's Tokenizer::encode):
//   1. Added tokens are cut out of the raw text first (control tokens such as <start_of_turn>
//      and user-defined pieces such as "\n\n" or "<table>"), leftmost-longest. Special (control)
//      tokens are only honoured with EncodeOptions::parse_special; otherwise their text stays
//      ordinary text, so a user typing "<|turn>" gets the tokens of those characters.
//   2. The text between them is normalized (Gemma: every ' ' becomes U+2581; no dummy prefix).
//   3. Each piece is one BPE word (bpe.h): characters, byte fallback <0xHH>, ranked merges.
// Decoding maps U+2581 back to ' ', turns runs of <0xHH> tokens into bytes (a run that is not
// valid UTF-8 becomes one U+FFFD per byte, as HF's ByteFallback decoder does) and concatenates.
//
// Invalid UTF-8 input is an InvalidArgument error naming the byte offset, unless
// EncodeOptions::invalid_utf8 is kReplace, which first replaces each maximal ill-formed subpart
// with U+FFFD (Python's errors="replace"). The reference cannot take such input at all (Python
// strings are always valid), so there is no reference behaviour to copy.
//
// Special tokens are data: which ids are control, user-defined or byte tokens, and which carry a
// role (bos, eos, pad, unk, mask, and in tokenizer_config.json boi, eoi, sot, eot, image, audio,
// ...), all come from the files. Nothing is keyed to one model's ids.
//
// A Tokenizer is immutable once built; copies share the tables and may be used from any thread.
#ifndef LOOM_TOKENIZER_TOKENIZER_H_
#define LOOM_TOKENIZER_TOKENIZER_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "base/status.h"
#include "tokenizer/bpe.h"

namespace loom::gguf {
class File;
}  // namespace loom::gguf

namespace loom::tokenizer {

// Token kinds, numbered as GGUF's tokenizer.ggml.token_type (llama.cpp's llama_token_type).
enum class TokenType : uint8_t {
  kUndefined = 0,
  kNormal = 1,
  kUnknown = 2,
  kControl = 3,
  kUserDefined = 4,
  kUnused = 5,
  kByte = 6,
  kSentinel = 7,
};
bool TokenTypeValid(int64_t v);
const char* TokenTypeName(TokenType t);

enum class InvalidUtf8 {
  kError,    // Encode fails with InvalidArgument naming the offset (the default)
  kReplace,  // each maximal ill-formed subpart becomes U+FFFD first
  kSentinel,
};

struct EncodeOptions {
  // Match special (control) token strings in the text. Off for user text; the chat renderer
  // turns it on for the markup it writes itself. User-defined tokens match either way.
  bool parse_special = false;
  // Add the file's BOS/EOS template (tokenizer_config add_bos_token, the post-processor,
  // tokenizer.ggml.add_bos_token). Off by default: Gemma's chat template writes <bos> itself.
  bool add_special_tokens = false;
  InvalidUtf8 invalid_utf8 = InvalidUtf8::kError;
};

struct DecodeOptions {
  bool skip_special = false;  // drop special (control) tokens, like HF skip_special_tokens
};

// One step of the text normalizer, as tokenizer.json spells it.
struct NormalizerStep {
  enum class Kind { kReplace, kPrepend, kSentinel };
  Kind kind = Kind::kReplace;
  std::string pattern;  // kReplace: the literal to replace (non-empty)
  std::string content;  // the replacement, or the prefix for kPrepend
};

// Everything a loader reads from the files; Tokenizer::FromSpec validates it.
struct TokenizerSpec {
  std::string source;               // "GGUF", "tokenizer.json": prefixes messages
  std::vector<std::string> tokens;  // [n] spelling by id, as HF spells it
  // Vocab::Build(tokens) when the loader has built it already (tokenizer.json resolves its merges
  // with it); FromSpec builds it otherwise.
  std::optional<Vocab> index;
  std::vector<TokenType> types;  // [n], or empty to infer from the added tokens

  enum class Merges { kExplicit, kVocabOrder, kScores, kSentinel };
  Merges merges_kind = Merges::kExplicit;
  std::vector<std::pair<int32_t, int32_t>> merges;  // kExplicit, best first
  std::vector<float> scores;                        // kScores: [n]
  BpeOptions bpe;

  struct Added {
    int32_t id;
    bool special;     // control: matched only with parse_special, dropped by skip_special
    bool normalized;  // matched in the normalized text instead of the raw text
  };
  std::vector<Added> added;

  std::vector<NormalizerStep> normalizer;
  std::string split_pattern;  // pre-tokenizer Split(literal, MergedWithPrevious); "" = none

  std::vector<std::pair<std::string, std::string>> decode_replace;  // before byte fallback
  bool decode_byte_fallback = true;

  std::vector<int32_t> prefix;  // add_special_tokens: ids before the text (BOS)
  std::vector<int32_t> suffix;  // and after it (EOS)
  std::vector<std::pair<std::string, int32_t>> roles;  // "bos" -> 2, "eot" -> 106, ...
};

class StreamDecoder;

class Tokenizer {
 public:
  // MODEL: a .gguf file, a tokenizer.json (tokenizer_config.json is read from beside it when
  // present) or an HF model directory holding both.
  static Result<Tokenizer> Load(const std::string& path);
  static Result<Tokenizer> FromGguf(const gguf::File& file);
  // `config_json` may be empty (no tokenizer_config.json). `what` prefixes messages.
  static Result<Tokenizer> FromHfJson(std::string_view tokenizer_json, std::string_view config_json,
                                      std::string_view what);
  static Result<Tokenizer> FromSpec(TokenizerSpec spec);

  // Appends the ids of `text` to `out` (left unchanged on error).
  Status Encode(std::string_view text, const EncodeOptions& options,
                std::vector<int32_t>* out) const;
  Result<std::vector<int32_t>> Encode(std::string_view text,
                                      const EncodeOptions& options = {}) const;
  // Appends the text of `ids` to `out`. An id outside the vocabulary is InvalidArgument.
  Status Decode(std::span<const int32_t> ids, const DecodeOptions& options, std::string* out) const;
  Result<std::string> Decode(std::span<const int32_t> ids, const DecodeOptions& options = {}) const;

  int32_t vocab_size() const;
  bool IsValidId(int64_t id) const { return id >= 0 && id < vocab_size(); }
  // The token as the vocabulary spells it ("▁Hello", "<0x0A>", "<start_of_turn>"); "" for an
  // id outside the vocabulary.
  std::string_view TokenText(int32_t id) const;
  TokenType Type(int32_t id) const;
  // Added tokens are matched whole in text; special ones only with parse_special.
  bool IsAdded(int32_t id) const;
  bool IsSpecial(int32_t id) const;
  std::optional<int32_t> TokenId(std::string_view text) const;
  // The id of a named role ("bos", "eos", "pad", "unk", "mask", "eot", "image", ...).
  std::optional<int32_t> RoleId(std::string_view role) const;
  const std::vector<std::pair<std::string, int32_t>>& roles() const;
  // Every added token id, ascending.
  const std::vector<int32_t>& added_ids() const;
  std::span<const int32_t> prefix_ids() const;
  std::span<const int32_t> suffix_ids() const;
  const std::string& source() const;
  // One line for logs: "GGUF, 262144 tokens (6249 control, 165 user-defined), merges derived
  // from the vocabulary order".
  std::string Describe() const;

 private:
  friend class StreamDecoder;
  struct Impl;
  explicit Tokenizer(std::shared_ptr<const Impl> impl) : impl_(std::move(impl)) {}
  // Bytes of the <0xHH> token `id` as the decoder reads it, or -1.
  int ByteValue(int32_t id) const;
  // The token's text after the decoder's replacements ("▁Hello" -> " Hello").
  std::string_view DecodedPiece(int32_t id) const;
  void EncodeText(std::string_view text, bool parse_special, std::vector<int32_t>* out) const;
  void EncodeNormalized(std::string_view text, std::vector<int32_t>* out) const;

  std::shared_ptr<const Impl> impl_;
};

// Decodes ids one at a time, for streaming output. Text comes out only in whole characters: a
// run of byte-fallback tokens is held until the next other token (or Finish) closes it, because
// the reference decodes a run as a whole (one invalid byte turns the whole run into U+FFFD).
// The concatenation of everything Push and Finish emit always equals Tokenizer::Decode of the
// same ids with the same options.
class StreamDecoder {
 public:
  explicit StreamDecoder(Tokenizer tokenizer, DecodeOptions options = {});

  // Appends the text that `id` completes (often the whole token, sometimes nothing).
  Status Push(int32_t id, std::string* out);
  // Appends whatever is held back and starts over.
  void Finish(std::string* out);
  size_t pending_bytes() const { return run_.size(); }

 private:
  void FlushRun(std::string* out);

  Tokenizer tokenizer_;
  DecodeOptions options_;
  std::string run_;  // bytes of the open byte-fallback run
};

}  // namespace loom::tokenizer

#endif  // LOOM_TOKENIZER_TOKENIZER_H_
