// loom tokenize -m MODEL [--ids|--pieces] [--special] [--bos] TEXT|-
// loom detokenize -m MODEL [--skip-special] IDS...|-
//
// MODEL is a .gguf file, a tokenizer.json or an HF model directory. TEXT "-" reads standard
// input as is (a trailing newline is part of the text). Special-token strings in TEXT are plain
// text unless --special is given, as for any user text.
#include <cstdio>
#include <iostream>
#include <iterator>
#include <string>
#include <vector>

#include "base/strings.h"
#include "formats/json.h"
#include "tokenizer/tokenizer.h"
#include "tools/loom/flags.h"

namespace loom::tools {
namespace {

constexpr char kTokenizeUsage[] =
    "usage: loom tokenize -m MODEL [--ids|--pieces] [--special] [--bos] TEXT|-\n"
    "  MODEL      a .gguf file, a tokenizer.json or an HF model directory\n"
    "  TEXT       the text to tokenize; - reads standard input (all of it, newlines included)\n"
    "  --ids      print only the ids, on one line\n"
    "  --pieces   print only the pieces (JSON strings), on one line\n"
    "  --special  parse special-token strings such as <start_of_turn> (off: plain text)\n"
    "  --bos      add the model's BOS/EOS template (add_bos_token)\n"
    "default output: one token per line, id and piece separated by a tab\n";

constexpr char kDetokenizeUsage[] =
    "usage: loom detokenize -m MODEL [--skip-special] IDS...|-\n"
    "  IDS             token ids, as separate arguments or separated by commas or spaces;\n"
    "                  - reads them from standard input\n"
    "  --skip-special  leave out special (control) tokens\n"
    "the text is written exactly, with no newline added\n";

std::string ReadStdin() {
  std::cin >> std::noskipws;
  return {std::istreambuf_iterator<char>(std::cin), std::istreambuf_iterator<char>()};
}

// A piece as a JSON string, so spaces, newlines and control bytes stay visible.
std::string Quoted(std::string_view piece) { return json::Json(std::string(piece)).dump(); }

}  // namespace

int TokenizeMain(int argc, char** argv) {
  FlagParser flags("tokenize", kTokenizeUsage);
  std::string model;
  bool ids_only = false, pieces_only = false, special = false, bos = false;
  flags.AddString("-m", &model);
  flags.AddString("--model", &model);
  flags.AddBool("--ids", &ids_only);
  flags.AddBool("--pieces", &pieces_only);
  flags.AddBool("--special", &special);
  flags.AddBool("--bos", &bos);
  std::vector<std::string> positional;
  if (int rc = flags.Parse(argc, argv, &positional); rc >= 0) return rc;
  if (model.empty()) {
    std::fprintf(stderr, "loom tokenize: -m MODEL is required\n%s", kTokenizeUsage);
    return 2;
  }
  if (positional.size() != 1) {
    std::fprintf(stderr, "loom tokenize: expected one TEXT (or -), got %zu\n%s", positional.size(),
                 kTokenizeUsage);
    return 2;
  }
  if (ids_only && pieces_only) {
    std::fprintf(stderr, "loom tokenize: --ids and --pieces exclude each other\n");
    return 2;
  }
  auto tok = tokenizer::Tokenizer::Load(model);
  if (!tok.ok()) {
    std::fprintf(stderr, "loom tokenize: %s\n", tok.status().ToString().c_str());
    return 1;
  }
  const std::string text = positional[0] == "-" ? ReadStdin() : positional[0];
  tokenizer::EncodeOptions options;
  options.parse_special = special;
  options.add_special_tokens = bos;
  auto ids = tok->Encode(text, options);
  if (!ids.ok()) {
    std::fprintf(stderr, "loom tokenize: %s\n", ids.status().ToString().c_str());
    return 1;
  }
  std::string out;
  for (size_t i = 0; i < ids->size(); ++i) {
    const int32_t id = (*ids)[i];
    if (ids_only) {
      out += StrCat(i ? " " : "", id);
    } else if (pieces_only) {
      out += StrCat(i ? " " : "", Quoted(tok->TokenText(id)));
    } else {
      out += StrCat(id, "\t", Quoted(tok->TokenText(id)), "\n");
    }
  }
  if (ids_only || pieces_only) out += "\n";
  std::fwrite(out.data(), 1, out.size(), stdout);
  return 0;
}

int DetokenizeMain(int argc, char** argv) {
  FlagParser flags("detokenize", kDetokenizeUsage);
  std::string model;
  bool skip_special = false;
  flags.AddString("-m", &model);
  flags.AddString("--model", &model);
  flags.AddBool("--skip-special", &skip_special);
  std::vector<std::string> positional;
  if (int rc = flags.Parse(argc, argv, &positional); rc >= 0) return rc;
  if (model.empty()) {
    std::fprintf(stderr, "loom detokenize: -m MODEL is required\n%s", kDetokenizeUsage);
    return 2;
  }
  std::string all;
  for (const std::string& p : positional) all += (p == "-" ? ReadStdin() : p) + " ";
  std::vector<int32_t> ids;
  std::string word;
  for (char c : all) {
    if (c == ',' || c == ' ' || c == '\n' || c == '\t' || c == '\r') {
      if (word.empty()) continue;
      const bool digits =
          word.size() <= 10 && word.find_first_not_of("0123456789") == std::string::npos;
      const long long v = digits ? std::stoll(word) : -1;
      if (!digits || v > INT32_MAX) {
        std::fprintf(stderr, "loom detokenize: '%s' is not a token id (0 to %d)\n", word.c_str(),
                     INT32_MAX);
        return 2;
      }
      ids.push_back(static_cast<int32_t>(v));
      word.clear();
    } else {
      word += c;
    }
  }
  auto tok = tokenizer::Tokenizer::Load(model);
  if (!tok.ok()) {
    std::fprintf(stderr, "loom detokenize: %s\n", tok.status().ToString().c_str());
    return 1;
  }
  tokenizer::DecodeOptions options;
  options.skip_special = skip_special;
  auto text = tok->Decode(ids, options);
  if (!text.ok()) {
    std::fprintf(stderr, "loom detokenize: %s\n", text.status().ToString().c_str());
    return 1;
  }
  std::fwrite(text->data(), 1, text->size(), stdout);
  return 0;
}

}  // namespace loom::tools
