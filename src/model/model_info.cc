#include "model/model_info.h"

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <map>

#include "base/mapped_file.h"
#include "formats/gguf/gguf.h"
#include "formats/json.h"
#include "formats/safetensors/safetensors.h"
#include "io/path.h"
#include "model/weight_plan.h"

namespace loom::model {
namespace {

// tokenizer.json of a 262k vocabulary is ~32 MB; allow headroom, refuse absurd files.
constexpr uint64_t kMaxTokenizerJsonBytes = 256ull << 20;
constexpr uint64_t kMaxSmallJsonBytes = 16ull << 20;

void AddDtype(std::map<std::string, DtypeSummary>* m, const std::string& dtype, uint64_t elements,
              uint64_t bytes) {
  DtypeSummary& s = (*m)[dtype];
  s.dtype = dtype;
  s.tensors += 1;
  s.elements += elements;
  s.bytes += bytes;
}

std::vector<DtypeSummary> SortedByBytes(const std::map<std::string, DtypeSummary>& m) {
  std::vector<DtypeSummary> out;
  for (const auto& [k, v] : m) out.push_back(v);
  std::sort(out.begin(), out.end(),
            [](const DtypeSummary& a, const DtypeSummary& b) { return a.bytes > b.bytes; });
  return out;
}

void FillPlanFromConfig(ModelInfo* info) {
  if (!info->config) return;
  info->config_params = CountParams(*info->config);
  std::vector<WeightSpec> weights = ExpectedWeights(*info->config);
  info->bytes_bf16 = 0;
  for (const auto& w : weights) info->bytes_bf16 += w.elements() * 2;
  info->bytes_q8_0 = WeightBytesAs(weights, gguf::GgmlType::kQ8_0);
  info->bytes_q4_k = WeightBytesAs(weights, gguf::GgmlType::kQ4_K);
}

// Keeps a config that reads and validates; otherwise records why, since inspect still reports
// what it can about the file.
void AdoptConfig(Result<ModelConfig> config, ModelInfo* info) {
  Status st = config.ok() ? config->Validate() : config.status();
  if (st.ok()) {
    info->config = std::move(config).value();
  } else {
    info->config_error = st.ToString();
  }
}

std::string TokenAt(const std::vector<std::string_view>& tokens, int64_t id) {
  if (id < 0 || static_cast<uint64_t>(id) >= tokens.size()) return "";
  return std::string(tokens[static_cast<size_t>(id)]);
}

void GgufTokenizer(const gguf::File& f, TokenizerInfo* t) {
  std::string model;
  if (!f.GetString("tokenizer.ggml.model", &model).ok()) return;
  t->present = true;
  t->source = "gguf metadata";
  t->model = model;
  std::vector<std::string_view> tokens;
  if (f.GetStringArray("tokenizer.ggml.tokens", &tokens).ok()) t->vocab_size = tokens.size();
  if (const gguf::Value* m = f.Find("tokenizer.ggml.merges");
      m && m->type == gguf::ValueType::kArray) {
    t->merges = m->count;
  }
  uint64_t id;
  if (f.GetUint("tokenizer.ggml.bos_token_id", &id).ok()) t->bos_id = static_cast<int64_t>(id);
  if (f.GetUint("tokenizer.ggml.eos_token_id", &id).ok()) t->eos_id = static_cast<int64_t>(id);
  if (f.GetUint("tokenizer.ggml.padding_token_id", &id).ok()) t->pad_id = static_cast<int64_t>(id);
  if (f.GetUint("tokenizer.ggml.unknown_token_id", &id).ok()) t->unk_id = static_cast<int64_t>(id);
  t->bos = TokenAt(tokens, t->bos_id);
  t->eos = TokenAt(tokens, t->eos_id);
  t->pad = TokenAt(tokens, t->pad_id);
  t->unk = TokenAt(tokens, t->unk_id);
  bool b;
  if (f.GetBool("tokenizer.ggml.add_bos_token", &b).ok()) t->add_bos = b;
  t->has_chat_template = f.Find("tokenizer.chat_template") != nullptr;
}

Status InspectGguf(const std::string& path, ModelInfo* info) {
  LOOM_ASSIGN_OR_RETURN(gguf::File f, gguf::Open(path));
  info->format = "gguf";
  info->format_detail = StrCat("GGUF v", f.version(), ", ", f.metadata().size(),
                               " metadata keys, alignment ", f.alignment());
  info->file_bytes = f.file_size();
  std::string name;
  info->name = f.GetString("general.name", &name).ok() ? name : BaseName(path);
  std::map<std::string, DtypeSummary> by;
  for (const auto& t : f.tensors()) {
    AddDtype(&by, gguf::GetGgmlTypeInfo(t.type).name, t.n_elements, t.n_bytes);
    info->weight_bytes += t.n_bytes;
    info->params_in_tensors += t.n_elements;
  }
  info->tensor_count = f.tensors().size();
  info->has_weights = info->tensor_count > 0;
  info->by_dtype = SortedByBytes(by);
  AdoptConfig(ConfigFromGguf(f), info);
  GgufTokenizer(f, &info->tokenizer);
  return Status::Ok();
}

void HfTokenizer(const std::string& dir, TokenizerInfo* t) {
  const std::string cfg_path = PathJoin(dir, "tokenizer_config.json");
  const std::string tok_path = PathJoin(dir, "tokenizer.json");
  if (IsRegularFile(tok_path)) {
    auto text = ReadFileToString(tok_path, kMaxTokenizerJsonBytes);
    if (text.ok()) {
      auto j = json::ParseStrict(*text, "tokenizer.json", {64, kMaxTokenizerJsonBytes});
      if (j.ok() && j->is_object()) {
        t->present = true;
        t->source = "tokenizer.json";
        const json::Json* model;
        if (json::GetObject(*j, "", "model", &model).ok()) {
          std::string type;
          if (json::GetString(*model, "model", "type", &type).ok()) t->model = type;
          if (model->contains("vocab") &&
              ((*model)["vocab"].is_object() || (*model)["vocab"].is_array())) {
            t->vocab_size = (*model)["vocab"].size();
          }
          if (model->contains("merges") && (*model)["merges"].is_array()) {
            t->merges = (*model)["merges"].size();
          }
        }
      }
    }
  }
  if (IsRegularFile(cfg_path)) {
    auto text = ReadFileToString(cfg_path, kMaxSmallJsonBytes);
    if (!text.ok()) return;
    auto j = json::ParseStrict(*text, "tokenizer_config.json");
    if (!j.ok() || !j->is_object()) return;
    if (!t->present) {
      t->present = true;
      t->source = "tokenizer_config.json (no tokenizer.json)";
    }
    std::string s;
    if (json::GetString(*j, "", "bos_token", &s).ok()) t->bos = s;
    if (json::GetString(*j, "", "eos_token", &s).ok()) t->eos = s;
    if (json::GetString(*j, "", "pad_token", &s).ok()) t->pad = s;
    if (json::GetString(*j, "", "unk_token", &s).ok()) t->unk = s;
    bool b;
    if (json::GetBool(*j, "", "add_bos_token", &b).ok()) t->add_bos = b;
    if (json::Has(*j, "chat_template")) t->has_chat_template = true;
  }
  if (IsRegularFile(PathJoin(dir, "chat_template.jinja"))) t->has_chat_template = true;
}

Status InspectSafetensorsDir(const std::string& dir, const std::string& weights_path,
                             ModelInfo* info) {
  const std::string config_path = PathJoin(dir, "config.json");
  if (IsRegularFile(config_path)) {
    AdoptConfig(LoadHfConfig(config_path), info);
  } else {
    info->config_error = "no config.json next to the weights";
  }
  if (!weights_path.empty()) {
    LOOM_ASSIGN_OR_RETURN(safetensors::Checkpoint ckpt, safetensors::OpenCheckpoint(weights_path));
    std::map<std::string, DtypeSummary> by;
    for (const safetensors::TensorInfo* t : ckpt.tensors()) {
      uint64_t bytes = t->end - t->begin;
      AddDtype(&by, safetensors::DTypeName(t->dtype), t->n_elements, bytes);
      info->weight_bytes += bytes;
      info->params_in_tensors += t->n_elements;
    }
    info->tensor_count = ckpt.tensors().size();
    info->has_weights = true;
    info->by_dtype = SortedByBytes(by);
    info->format_detail = StrCat("safetensors, ", ckpt.num_shards(), " shard(s)");
  }
  HfTokenizer(dir, &info->tokenizer);
  return Status::Ok();
}

bool StartsWithGgufMagic(const std::string& path) {
  FILE* f = std::fopen(path.c_str(), "rb");
  if (f == nullptr) return false;
  char magic[4] = {};
  size_t n = std::fread(magic, 1, sizeof(magic), f);
  std::fclose(f);
  return n == 4 && std::memcmp(magic, "GGUF", 4) == 0;
}

}  // namespace

std::optional<CacheType> CacheTypeFromName(const std::string& name) {
  static const CacheType kTypes[] = {
      {"f32", 4, 1}, {"f16", 2, 1}, {"bf16", 2, 1}, {"q8_0", 34, 32}};
  for (const auto& t : kTypes) {
    if (name == t.name) return t;
  }
  return std::nullopt;
}

Result<ModelInfo> InspectModel(const std::string& path) {
  ModelInfo info;
  info.path = path;
  if (IsDirectory(path)) {
    info.name = BaseName(path.back() == '/' ? path.substr(0, path.size() - 1) : path);
    std::string weights;
    if (IsRegularFile(PathJoin(path, "model.safetensors.index.json")) ||
        IsRegularFile(PathJoin(path, "model.safetensors"))) {
      weights = path;
      info.format = "hf-directory";
    } else if (IsRegularFile(PathJoin(path, "config.json"))) {
      info.format = "hf-config";
      info.format_detail = "config.json only (no weights): sizes computed from the config";
    } else {
      return NotFound("directory ", QuoteForMessage(path, 4096),
                      " holds neither config.json nor model.safetensors[.index.json]");
    }
    LOOM_RETURN_IF_ERROR(InspectSafetensorsDir(path, weights, &info));
    if (!info.has_weights && !info.config) {
      return InvalidArgument("cannot read the config of ", QuoteForMessage(path, 4096), ": ",
                             info.config_error);
    }
  } else if (EndsWith(path, ".gguf") || StartsWithGgufMagic(path)) {
    // By magic as well as by name: Ollama's blob store keeps GGUF files as sha256-<hash>.
    LOOM_RETURN_IF_ERROR(InspectGguf(path, &info));
  } else if (EndsWith(path, ".safetensors") || EndsWith(path, ".safetensors.index.json")) {
    info.format = "safetensors";
    info.name = BaseName(DirName(path));
    LOOM_RETURN_IF_ERROR(InspectSafetensorsDir(DirName(path), path, &info));
  } else {
    if (!IsRegularFile(path))
      return NotFound("no such file or directory: ", QuoteForMessage(path, 4096));
    return InvalidArgument("cannot tell the format of ", QuoteForMessage(path, 4096),
                           ": expected a .gguf or .safetensors file or an HF model directory");
  }
  FillPlanFromConfig(&info);
  return info;
}

}  // namespace loom::model
