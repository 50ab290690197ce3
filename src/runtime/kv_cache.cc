#include "runtime/kv_cache.h"

#include <sys/mman.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstring>
#include <string>

#include "base/strings.h"

namespace loom::runtime {
namespace {

using tensor::GgmlType;

constexpr size_t kAlign = 4096;  // each buffer on its own pages

size_t AlignUp(size_t x) { return (x + kAlign - 1) / kAlign * kAlign; }

bool IsKvType(GgmlType t) {
  return t == GgmlType::kF32 || t == GgmlType::kF16 || t == GgmlType::kBF16 || t == GgmlType::kQ8_0;
}

const char* KvTypeName(GgmlType t) {
  switch (t) {
    case GgmlType::kF32:
      return "F32";
    case GgmlType::kF16:
      return "F16";
    case GgmlType::kBF16:
      return "BF16";
    case GgmlType::kQ8_0:
      return "Q8_0";
    default:
      return "unsupported";
  }
}

}  // namespace

Result<tensor::GgmlType> ParseKvType(std::string_view name) {
  std::string up(name);
  for (char& c : up) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  if (up == "F32") return GgmlType::kF32;
  if (up == "F16") return GgmlType::kF16;
  if (up == "BF16") return GgmlType::kBF16;
  if (up == "Q8_0") return GgmlType::kQ8_0;
  return InvalidArgument("KV cache type '", name, "': expected one of f32, f16, bf16, q8_0");
}

KvCache::KvCache(const model::ModelConfig& config, const KvCacheOptions& options)
    : config_(config), options_(options) {}

KvCache::~KvCache() {
  if (region_ != nullptr) munmap(region_, region_bytes_);
}

Result<std::unique_ptr<KvCache>> KvCache::Create(const model::ModelConfig& config,
                                                 const KvCacheOptions& options) {
  if (!IsKvType(options.type)) {
    return InvalidArgument("KV cache type ", static_cast<int>(options.type),
                           ": expected F32, F16, BF16 or Q8_0");
  }
  if (options.max_context < 1 || options.max_context > model::kMaxContext) {
    return InvalidArgument("KV cache max_context ", options.max_context, ": expected 1 .. ",
                           model::kMaxContext);
  }
  if (options.max_batch < 1) {
    return InvalidArgument("KV cache max_batch ", options.max_batch, ": expected >= 1");
  }
  if (config.num_layers < 1 || config.num_layers > model::kMaxLayers ||
      static_cast<int64_t>(config.layer_types.size()) != config.num_layers ||
      static_cast<int64_t>(config.head_dim.size()) != config.num_layers ||
      static_cast<int64_t>(config.num_kv_heads.size()) != config.num_layers ||
      static_cast<int64_t>(config.kv_shared.size()) != config.num_layers) {
    return InvalidArgument("KV cache: config has ", config.num_layers,
                           " layers but per-layer vectors of other lengths (or none)");
  }
  KvCacheOptions o = options;
  // No call can store more positions than the context holds.
  o.max_batch = std::min(o.max_batch, o.max_context);
  std::unique_ptr<KvCache> cache(new KvCache(config, o));
  LOOM_RETURN_IF_ERROR(cache->Reserve());
  return cache;
}

Status KvCache::Reserve() {
  const model::ModelConfig& c = config_;
  sliding_window_ = c.sliding_window;
  layers_.resize(static_cast<size_t>(c.num_layers));
  // First pass: sizes and offsets; second: one mapping, pointers into it.
  std::vector<size_t> offsets(layers_.size() * 4, 0);
  size_t total = 0;
  for (size_t l = 0; l < layers_.size(); ++l) {
    Layer& L = layers_[l];
    L.stores = !c.kv_shared[l];
    if (!L.stores) continue;
    L.kv_heads = c.num_kv_heads[l];
    L.head_dim = c.head_dim[l];
    if (L.kv_heads < 1 || L.kv_heads > model::kMaxHeads || L.head_dim < 1 ||
        L.head_dim > model::kMaxHeadDim) {
      return InvalidArgument("KV cache: layer ", l, " has ", L.kv_heads, " KV heads of dim ",
                             L.head_dim, " (limits ", model::kMaxHeads, ", ", model::kMaxHeadDim,
                             ")");
    }
    if (L.head_dim % tensor::BlockElements(options_.type) != 0) {
      return InvalidArgument("KV cache type ", KvTypeName(options_.type), ": layer ", l,
                             " head_dim ", L.head_dim, " is not a multiple of ",
                             tensor::BlockElements(options_.type));
    }
    L.ring = c.layer_types[l] == model::AttentionType::kSliding && c.sliding_window > 0;
    L.slots = L.ring ? std::min(options_.max_context, c.sliding_window - 1 + options_.max_batch)
                     : options_.max_context;
    L.head_stride = tensor::RowBytes(options_.type, L.head_dim);
    L.slot_stride = L.head_stride * static_cast<size_t>(L.kv_heads);
    const size_t n = static_cast<size_t>(L.slots);
    const size_t sizes[4] = {n * L.slot_stride, n * L.slot_stride, n * sizeof(int32_t),
                             n * sizeof(int32_t)};
    for (int b = 0; b < 4; ++b) {
      offsets[l * 4 + b] = total;
      total += AlignUp(sizes[b]);
    }
  }
  reserved_bytes_ = total;
  if (total == 0) return Status::Ok();
  void* p = mmap(nullptr, total, PROT_READ | PROT_WRITE,
                 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (p == MAP_FAILED) {
    return ResourceExhausted("KV cache: cannot reserve ", total, " bytes of address space for ",
                             options_.max_context, " positions: ", std::strerror(errno));
  }
  region_ = p;
  region_bytes_ = total;
  uint8_t* base = static_cast<uint8_t*>(p);
  for (size_t l = 0; l < layers_.size(); ++l) {
    Layer& L = layers_[l];
    if (!L.stores) continue;
    L.k = base + offsets[l * 4];
    L.v = base + offsets[l * 4 + 1];
    L.pos = reinterpret_cast<int32_t*>(base + offsets[l * 4 + 2]);
    L.block = reinterpret_cast<int32_t*>(base + offsets[l * 4 + 3]);
    // Rings are small and read up to their touched size: mark every slot empty. Full layers
    // expose only slots below their length, and Store marks any gap it leaves.
    if (L.ring) std::fill(L.pos, L.pos + L.slots, -1);
  }
  return Status::Ok();
}

int64_t KvCache::capacity(int layer) const {
  if (layer < 0 || layer >= static_cast<int>(layers_.size())) return 0;
  const Layer& L = layers_[static_cast<size_t>(layer)];
  return L.stores ? L.slots : 0;
}

Status KvCache::Store(int layer, int64_t n, const int32_t* pos, const int32_t* block,
                      const float* k, const float* v) {
  if (layer < 0 || layer >= static_cast<int>(layers_.size())) {
    return InvalidArgument("KV store: layer ", layer, " out of range [0, ", layers_.size(), ")");
  }
  Layer& L = layers_[static_cast<size_t>(layer)];
  if (!L.stores) {
    return FailedPrecondition("KV store: layer ", layer, " is kv_shared and stores nothing");
  }
  if (n < 1 || n > options_.max_batch) {
    return InvalidArgument("KV store: ", n, " tokens in one call, expected 1 .. max_batch (",
                           options_.max_batch, ")");
  }
  for (int64_t i = 0; i < n; ++i) {
    const int64_t p = pos[i];
    if (p >= options_.max_context) {
      return ResourceExhausted("KV cache full: position ", p, " needs more than max_context ",
                               options_.max_context, " positions");
    }
    const int64_t floor = i == 0 ? L.length : static_cast<int64_t>(pos[i - 1]) + 1;
    if (p < floor) {
      return InvalidArgument("KV store: layer ", layer, " token ", i, " at position ", p,
                             ", expected >= ", floor, " (positions increase past the ", L.length,
                             " stored)");
    }
  }
  const int64_t kvw = L.kv_heads * L.head_dim;
  for (int64_t i = 0; i < n; ++i) {
    const int64_t p = pos[i];
    if (!L.ring) {
      // Positions skipped since the previous token are empty slots.
      for (int64_t g = i == 0 ? L.length : pos[i - 1] + 1; g < p; ++g) L.pos[g] = -1;
    }
    const int64_t s = L.ring ? p % L.slots : p;
    uint8_t* kd = L.k + static_cast<size_t>(s) * L.slot_stride;
    uint8_t* vd = L.v + static_cast<size_t>(s) * L.slot_stride;
    if (options_.type == GgmlType::kF32) {
      std::memcpy(kd, k + i * kvw, static_cast<size_t>(kvw) * sizeof(float));
      std::memcpy(vd, v + i * kvw, static_cast<size_t>(kvw) * sizeof(float));
    } else {
      // Q8_0: head_dim is a multiple of 32, so one row of kvw elements is kv_heads head rows.
      tensor::QuantizeRow(options_.type, k + i * kvw, kd, kvw);
      tensor::QuantizeRow(options_.type, v + i * kvw, vd, kvw);
    }
    L.pos[s] = static_cast<int32_t>(p);
    const int32_t b = block != nullptr ? block[i] : -1;
    L.block[s] = b;
    if (b >= 0) L.any_block = true;
    L.high_water = std::max(L.high_water, s + 1);
  }
  L.length = static_cast<int64_t>(pos[n - 1]) + 1;
  length_ = std::max(length_, L.length);
  if (L.ring) intact_from_ = std::max(intact_from_, L.length - L.slots);
  return Status::Ok();
}

kernels::KvView KvCache::View(int layer) const {
  kernels::KvView view;
  view.type = options_.type;
  if (layer < 0 || layer >= static_cast<int>(layers_.size())) return view;
  const Layer& L = layers_[static_cast<size_t>(layer)];
  if (!L.stores) return view;
  view.k = L.k;
  view.v = L.v;
  view.num_slots = L.ring ? L.high_water : L.length;
  view.slot_stride = L.slot_stride;
  view.head_stride = L.head_stride;
  view.pos = L.pos;
  view.block = L.any_block ? L.block : nullptr;
  return view;
}

Status KvCache::Truncate(int64_t new_length) {
  if (new_length < 0 || new_length > length_) {
    return InvalidArgument("KV truncate to ", new_length, ": expected 0 .. length (", length_, ")");
  }
  if (new_length == length_) return Status::Ok();
  // The next query (at new_length) attends to positions > new_length - window; each must still
  // be in every ring.
  const int64_t needed_from = std::max<int64_t>(0, new_length - sliding_window_ + 1);
  bool has_ring = false;
  for (const Layer& L : layers_) has_ring |= L.stores && L.ring;
  if (has_ring && needed_from < intact_from_) {
    return FailedPrecondition("KV truncate from length ", length_, " to ", new_length,
                              ": the sliding ring no longer holds position ", needed_from,
                              " (at most max_batch = ", options_.max_batch,
                              " positions can be rolled back)");
  }
  for (Layer& L : layers_) {
    if (!L.stores || L.length <= new_length) continue;
    if (L.ring) {
      for (int64_t s = 0; s < L.high_water; ++s) {
        if (L.pos[s] >= new_length) L.pos[s] = -1;
      }
    } else {
      std::fill(L.pos + new_length, L.pos + L.length, -1);
    }
    L.length = new_length;
  }
  length_ = new_length;
  return Status::Ok();
}

void KvCache::Clear() {
  for (Layer& L : layers_) {
    if (!L.stores) continue;
    if (L.ring) std::fill(L.pos, L.pos + L.high_water, -1);
    L.length = 0;
    L.any_block = false;
  }
  length_ = 0;
  intact_from_ = 0;
}

uint64_t KvCache::bytes_used() const {
  uint64_t total = 0;
  for (const Layer& L : layers_) {
    if (!L.stores) continue;
    total += static_cast<uint64_t>(L.high_water) * (2 * L.slot_stride + 2 * sizeof(int32_t));
  }
  return total;
}

}  // namespace loom::runtime
