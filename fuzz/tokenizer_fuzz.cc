// Fuzz target for the tokenizer. The first byte picks what the rest is:
//   'S' text encoded with special-token parsing on, 'R' text with invalid UTF-8 replaced,
//   'I' token ids (two bytes each) to decode, 'G' a GGUF file, 'J' a tokenizer.json;
//   anything else: the whole input is text encoded with parsing off.
// Text runs through a small Gemma-like vocabulary built in-process and must round-trip:
// decode(encode(x)) == x with U+2581 read as a space (the one thing normalization loses); the
// streaming decoder must always give exactly what Decode gives. GGUF and JSON inputs go through
// the loaders, and whatever they accept must encode and decode a sample without crashing.
// Seeds: fuzz/corpus/tokenizer/.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "formats/gguf/gguf.h"
#include "tokenizer/tokenizer.h"
#include "tokenizer/tokenizer_test_util.h"
#include "tokenizer/utf8.h"

namespace {

using loom::tokenizer::DecodeOptions;
using loom::tokenizer::EncodeOptions;
using loom::tokenizer::StreamDecoder;
using loom::tokenizer::Tokenizer;

const Tokenizer& Tiny() {
  static const Tokenizer tok = [] {
    auto t = Tokenizer::FromSpec(loom::tokenizer::testing::TinyVocab().spec);
    if (!t.ok()) std::abort();
    return std::move(t).value();
  }();
  return tok;
}

void Check(bool ok) {
  if (!ok) std::abort();
}

// Streaming must equal Decode, with and without special tokens.
void CheckStream(const Tokenizer& tok, const std::vector<int32_t>& ids) {
  for (bool skip : {false, true}) {
    DecodeOptions o;
    o.skip_special = skip;
    auto whole = tok.Decode(ids, o);
    Check(whole.ok());
    StreamDecoder dec(tok, o);
    std::string streamed;
    for (int32_t id : ids) Check(dec.Push(id, &streamed).ok());
    dec.Finish(&streamed);
    Check(streamed == *whole);
  }
}

std::string SpacesForMarks(std::string_view s) {
  std::string out;
  for (size_t i = 0; i < s.size();) {
    if (s.substr(i, 3) == "\xE2\x96\x81") {
      out += ' ';
      i += 3;
    } else {
      out += s[i++];
    }
  }
  return out;
}

void FuzzText(std::string_view text, bool parse_special, bool replace) {
  const Tokenizer& tok = Tiny();
  EncodeOptions o;
  o.parse_special = parse_special;
  if (replace) o.invalid_utf8 = loom::tokenizer::InvalidUtf8::kReplace;
  auto ids = tok.Encode(text, o);
  const bool valid = loom::IsValidUtf8(text);
  if (!valid && !replace) {
    Check(!ids.ok() && ids.status().code() == loom::StatusCode::kInvalidArgument);
    return;
  }
  Check(ids.ok());
  std::string expected;
  loom::tokenizer::AppendUtf8Sanitized(text, &expected);
  auto decoded = tok.Decode(*ids);
  Check(decoded.ok() && *decoded == SpacesForMarks(expected));
  CheckStream(tok, *ids);
}

void FuzzIds(std::string_view bytes) {
  const Tokenizer& tok = Tiny();
  std::vector<int32_t> ids;
  for (size_t i = 0; i + 1 < bytes.size(); i += 2) {
    const int v = static_cast<unsigned char>(bytes[i]) | static_cast<unsigned char>(bytes[i + 1])
                                                             << 8;
    ids.push_back(v % (tok.vocab_size() + 2) - 1);  // includes -1 and vocab_size: invalid
  }
  bool all_valid = true;
  for (int32_t id : ids) all_valid = all_valid && tok.IsValidId(id);
  auto text = tok.Decode(ids);
  Check(text.ok() == all_valid);
  if (all_valid) CheckStream(tok, ids);
}

void FuzzLoaded(const Tokenizer& tok) {
  static const char* kSamples[] = {"hello world", "  <|turn>user\n\n<turn|>\t",
                                   "\xE6\x97\xA5\xE6\x9C\xAC z\xF0\x9F\x98\x80", ""};
  for (const char* sample : kSamples) {
    for (bool parse : {false, true}) {
      EncodeOptions o;
      o.parse_special = parse;
      o.add_special_tokens = parse;
      auto ids = tok.Encode(sample, o);
      Check(ids.ok());
      for (int32_t id : *ids) Check(tok.IsValidId(id));
      CheckStream(tok, *ids);
    }
  }
  std::vector<int32_t> first;
  for (int32_t id = 0; id < tok.vocab_size() && id < 300; ++id) first.push_back(id);
  CheckStream(tok, first);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view in(reinterpret_cast<const char*>(data), size);
  if (in.empty()) {
    FuzzText(in, false, false);
    return 0;
  }
  const char mode = in[0];
  std::string_view rest = in.substr(1);
  switch (mode) {
    case 'S':
      FuzzText(rest, true, false);
      break;
    case 'R':
      FuzzText(rest, false, true);
      break;
    case 'I':
      FuzzIds(rest);
      break;
    case 'G': {
      loom::gguf::ParseOptions options;
      options.require_tensor_data = false;
      auto file = loom::gguf::Parse(
          std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(rest.data()), rest.size()),
          options);
      if (!file.ok()) break;
      auto tok = Tokenizer::FromGguf(*file);
      if (tok.ok()) FuzzLoaded(*tok);
      break;
    }
    case 'J': {
      auto tok = Tokenizer::FromHfJson(rest, "", "tokenizer.json");
      if (tok.ok()) FuzzLoaded(*tok);
      break;
    }
    default:
      FuzzText(in, false, false);
      break;
  }
  return 0;
}
