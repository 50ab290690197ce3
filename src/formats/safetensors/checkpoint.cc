// Checkpoints: one .safetensors file or the shards of a *.safetensors.index.json (the layout
// Hugging Face writes). The index is untrusted like the shards: its shard names must stay inside
// its directory, and it must agree exactly with what the shards hold (RELIABILITY.md §5.2.19).
#include <algorithm>
#include <map>
#include <utility>

#include "base/strings.h"
#include "formats/json.h"
#include "formats/safetensors/safetensors.h"
#include "io/path.h"

namespace loom::safetensors {
namespace {

constexpr char kSingleName[] = "model.safetensors";
constexpr char kIndexName[] = "model.safetensors.index.json";
// weight_map of a 1T-parameter model is a few MB; the header cap is a generous bound.
constexpr uint64_t kMaxIndexBytes = kMaxHeaderBytes;

using Shards = std::vector<std::unique_ptr<File>>;

Result<Shards> LoadSingle(const std::string& path) {
  LOOM_ASSIGN_OR_RETURN(File f, Open(path));
  Shards shards;
  shards.push_back(std::make_unique<File>(std::move(f)));
  return shards;
}

// Reads weight_map (tensor name -> shard file name) from the parsed index.
Status ReadWeightMap(const json::Json& root, std::map<std::string, std::string>* weight_map) {
  if (!root.is_object()) {
    return DataLoss("index is a JSON ", json::TypeName(root), ", expected an object");
  }
  // "metadata" carries informational fields such as total_size; only its type is checked.
  auto meta = root.find("metadata");
  if (meta != root.end() && !meta->is_object()) {
    return DataLoss("metadata is of type ", json::TypeName(*meta), ", expected an object");
  }
  auto wm = root.find("weight_map");
  if (wm == root.end()) return DataLoss("missing field 'weight_map'");
  if (!wm->is_object()) {
    return DataLoss("weight_map is of type ", json::TypeName(*wm), ", expected an object");
  }
  if (wm->empty()) return DataLoss("weight_map lists no tensors");
  for (auto it = wm->begin(); it != wm->end(); ++it) {
    if (!it->is_string()) {
      return DataLoss("weight_map ", QuoteForMessage(it.key()), " is of type ", json::TypeName(*it),
                      ", expected a shard file name");
    }
    weight_map->emplace(it.key(), it->get<std::string>());
  }
  return Status::Ok();
}

// Loads every shard named by the index and checks that the index and the shards agree: each
// listed tensor is in its shard, and each tensor of a shard is listed for that shard. Together
// these also refuse a tensor present in two shards (one of them cannot be the listed one).
Status LoadIndexedShards(const std::string& index_path, Shards* shards) {
  LOOM_ASSIGN_OR_RETURN(std::string text, ReadFileToString(index_path, kMaxIndexBytes));
  // See File::ParseInto: nlohmann stops at a NUL byte and would ignore the rest of the file.
  if (size_t nul = text.find('\0'); nul != std::string::npos) {
    return DataLoss("index has a NUL byte at offset ", nul, "; JSON text cannot contain one");
  }
  LOOM_ASSIGN_OR_RETURN(json::Json root, json::ParseStrict(text, "index", {}));
  std::map<std::string, std::string> weight_map;
  LOOM_RETURN_IF_ERROR(ReadWeightMap(root, &weight_map));

  std::map<std::string, size_t> shard_ids;  // shard name -> index into *shards
  for (const auto& [tensor, shard] : weight_map) {
    if (shard_ids.count(shard) != 0) continue;
    if (shard_ids.size() == kMaxShards) {
      return OutOfRange("weight_map names more than ", kMaxShards, " distinct shard files");
    }
    shard_ids.emplace(shard, 0);
  }
  const std::string dir = DirName(index_path);
  std::vector<const std::string*> shard_names;
  for (auto& [name, id] : shard_ids) {
    auto joined = JoinInside(dir, name);
    if (!joined.ok()) return joined.status().WithContext("weight_map shard");
    Result<File> f = Open(*joined);
    if (!f.ok()) {
      if (f.status().code() != StatusCode::kNotFound) return f.status();
      return NotFound("shard ", QuoteForMessage(name), " listed in weight_map does not exist (",
                      QuoteForMessage(*joined, 4096), ")");
    }
    id = shards->size();
    shards->push_back(std::make_unique<File>(std::move(f).value()));
    shard_names.push_back(&name);
  }

  for (size_t i = 0; i < shards->size(); ++i) {
    for (const TensorInfo& t : (*shards)[i]->tensors()) {
      auto listed = weight_map.find(t.name);
      if (listed == weight_map.end()) {
        return DataLoss("tensor ", QuoteForMessage(t.name), " of shard ",
                        QuoteForMessage(*shard_names[i]),
                        " is not listed in weight_map (the index must list every tensor)");
      }
      if (listed->second != *shard_names[i]) {
        return DataLoss("tensor ", QuoteForMessage(t.name), " is in shard ",
                        QuoteForMessage(*shard_names[i]), " but weight_map lists it in shard ",
                        QuoteForMessage(listed->second));
      }
    }
  }
  for (const auto& [tensor, shard] : weight_map) {
    if ((*shards)[shard_ids.at(shard)]->Find(tensor) == nullptr) {
      return DataLoss("weight_map lists tensor ", QuoteForMessage(tensor), " in shard ",
                      QuoteForMessage(shard), ", which does not contain it");
    }
  }
  return Status::Ok();
}

}  // namespace

const TensorInfo* Checkpoint::Find(std::string_view name) const {
  auto it = index_.find(name);
  return it == index_.end() ? nullptr : it->second;
}

uint64_t Checkpoint::total_bytes() const {
  uint64_t sum = 0;
  for (const TensorInfo* t : all_) sum += t->end - t->begin;  // each bounded by its file size
  return sum;
}

Result<Checkpoint> OpenCheckpoint(const std::string& path) {
  Shards shards;
  if (IsDirectory(path)) {
    // Same preference as transformers: a single file wins over an index.
    const std::string single = PathJoin(path, kSingleName);
    const std::string index = PathJoin(path, kIndexName);
    if (IsRegularFile(single)) {
      LOOM_ASSIGN_OR_RETURN(shards, LoadSingle(single));
    } else if (IsRegularFile(index)) {
      Status st = LoadIndexedShards(index, &shards);
      if (!st.ok()) return st.WithContext(index);
    } else {
      return NotFound("directory ", QuoteForMessage(path, 4096), " holds neither ", kSingleName,
                      " nor ", kIndexName);
    }
  } else if (EndsWith(path, ".index.json")) {
    Status st = LoadIndexedShards(path, &shards);
    if (!st.ok()) return st.WithContext(path);
  } else {
    LOOM_ASSIGN_OR_RETURN(shards, LoadSingle(path));
  }

  Checkpoint c;
  for (const auto& shard : shards) {
    for (const TensorInfo& t : shard->tensors()) {
      if (!c.index_.emplace(t.name, &t).second) {
        // Unreachable after the index checks; kept so the invariant never rests on them alone.
        return DataLoss(path, ": tensor ", QuoteForMessage(t.name), " appears in two shards");
      }
      c.all_.push_back(&t);
    }
  }
  std::sort(c.all_.begin(), c.all_.end(),
            [](const TensorInfo* a, const TensorInfo* b) { return a->name < b->name; });
  c.shards_ = std::move(shards);
  return c;
}

}  // namespace loom::safetensors
