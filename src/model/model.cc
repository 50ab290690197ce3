// Model::Load: picks the format from the path and wraps the bound weights in a Decoder.
#include "model/model.h"

#include <memory>
#include <string>
#include <utility>

#include "base/strings.h"
#include "io/path.h"
#include "model/decoder.h"
#include "model/weights.h"

namespace loom::model {

namespace {

class LoadedModel final : public Model {
 public:
  explicit LoadedModel(LoadedWeights w)
      : owner_(std::move(w.owner)),
        format_(std::move(w.format)),
        text_bytes_(w.text_bytes),
        type_count_(std::move(w.type_count)),
        media_(std::move(w.media)),
        decoder_(w.config, std::move(w.weights)) {}

  const ModelConfig& config() const override { return decoder_.config(); }

  std::string Describe() const override {
    const ModelConfig& c = decoder_.config();
    std::string types;
    for (const auto& [name, count] : type_count_) {
      types += StrCat(types.empty() ? "" : ", ", name, " x", count);
    }
    return StrCat(c.architecture, " (", format_, "): ", c.num_layers, " layers (",
                  c.num_layers_of(AttentionType::kSliding), " sliding, ",
                  c.num_layers_of(AttentionType::kFull), " full), hidden ", c.hidden_size,
                  ", vocab ", c.vocab_size, "; text weights ", HumanBytes(text_bytes_), " (", types,
                  ")",
                  media_ == nullptr                             ? ""
                  : media_->has_vision() && media_->has_audio() ? "; vision + audio embedders"
                  : media_->has_vision()                        ? "; vision embedder"
                                                                : "; audio embedder");
  }

  const MediaEmbedder* media() const override { return media_.get(); }

  Status Forward(const Batch& batch, KvStore* kv, ThreadPool* pool, ForwardOutput* out) override {
    return decoder_.Forward(batch, kv, pool, out);
  }

 private:
  std::shared_ptr<const void> owner_;  // the mapping the decoder's matrices point into
  std::string format_;
  uint64_t text_bytes_;
  std::map<std::string, uint64_t> type_count_;
  std::unique_ptr<MediaEmbedder> media_;
  Decoder decoder_;
};

}  // namespace

Result<std::unique_ptr<Model>> Model::Load(const std::string& path, const LoadOptions& options) {
  // The readers map files through MappedFile, which honours LOOM_NO_MMAP=1; the option has no
  // separate path into the format readers yet.
  LoadedWeights w;
  if (EndsWith(path, ".gguf")) {
    LOOM_ASSIGN_OR_RETURN(w, LoadGgufWeights(path));
  } else if (IsDirectory(path) || EndsWith(path, ".safetensors") ||
             EndsWith(path, ".safetensors.index.json")) {
    LOOM_ASSIGN_OR_RETURN(w, LoadHfWeights(path));
  } else if (!IsRegularFile(path)) {
    return NotFound(path, ": no such file or directory");
  } else {
    return InvalidArgument(path, ": not a model (expected a .gguf file, an HF model directory,",
                           " or a .safetensors file with config.json beside it)");
  }
  LOOM_RETURN_IF_ERROR(CheckDecoderWeights(w.config, w.weights).WithContext(path));
  if (!options.mmproj.empty()) {
    if (w.media != nullptr) {
      return InvalidArgument("--mmproj ", options.mmproj, ": ", path,
                             " already has its media embedders");
    }
    LOOM_ASSIGN_OR_RETURN(w.media, LoadMmproj(options.mmproj, w.config));
  }
  return std::unique_ptr<Model>(std::make_unique<LoadedModel>(std::move(w)));
}

}  // namespace loom::model
