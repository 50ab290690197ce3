// KvCache: the KV cache of one sequence, implementing model::KvStore.
//
// Sliding layers keep a ring of `sliding_window - 1 + max_batch` slots (SPEC §2.5): a position
// p lives in slot p % ring, and a chunk of up to max_batch new tokens overwrites only positions
// that its first query can no longer see. Full layers keep slot p = position p, up to
// max_context slots, in address space reserved up front (mmap with MAP_NORESERVE) whose pages
// fault in as positions are written, so resident memory follows the context actually used and
// views stay valid for the life of the cache. K and V are separate buffers in the layout of
// kernels::KvView; F32, F16, BF16 or Q8_0 elements.
#ifndef LOOM_RUNTIME_KV_CACHE_H_
#define LOOM_RUNTIME_KV_CACHE_H_

#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

#include "base/status.h"
#include "kernels/attention.h"
#include "model/config.h"
#include "model/kv.h"
#include "tensor/quant.h"

namespace loom::runtime {

struct KvCacheOptions {
  tensor::GgmlType type = tensor::GgmlType::kF16;  // F32, F16, BF16 or Q8_0
  int64_t max_context = 4096;                      // positions 0 .. max_context-1
  // The most tokens one Store call may hold (the prefill chunk); also the most positions
  // Truncate may roll back once a sliding ring has wrapped. Capped at max_context.
  int64_t max_batch = 512;
};

// "F32", "F16", "BF16", "Q8_0" (case-insensitive) -> the element type; others are an error.
Result<tensor::GgmlType> ParseKvType(std::string_view name);

class KvCache final : public model::KvStore {
 public:
  // Errors: options out of range (a type other than the four, max_context < 1 or above
  // kMaxContext, max_batch < 1), Q8_0 with a head_dim not a multiple of 32, address space
  // that cannot be reserved.
  static Result<std::unique_ptr<KvCache>> Create(const model::ModelConfig& config,
                                                 const KvCacheOptions& options);
  ~KvCache() override;
  KvCache(const KvCache&) = delete;
  KvCache& operator=(const KvCache&) = delete;

  // model::KvStore. Store errors: `layer` out of range or kv_shared, n < 1 or n > max_batch,
  // a position beyond max_context - 1, positions not increasing or not after the ones already
  // stored in the layer.
  Status Store(int layer, int64_t n, const int32_t* pos, const int32_t* block, const float* k,
               const float* v) override;
  // A kv_shared layer (which stores nothing) gets an empty view.
  kernels::KvView View(int layer) const override;

  // The next position: one past the highest position stored in any layer.
  int64_t length() const { return length_; }
  // Forgets positions >= new_length in every layer (rollback of rejected tokens). Fails when
  // new_length is negative or beyond length(), or when a sliding ring has already overwritten
  // a position that the next query at new_length attends to. The check is exact; it always
  // allows rolling back max_batch positions from the highest length reached so far (the ring
  // keeps window - 1 + max_batch positions), and anything before the ring first wraps.
  Status Truncate(int64_t new_length);
  void Clear();

  // Bytes of K and V (and per-slot position/block ids) in slots written so far: sliding rings
  // up to their size, full layers up to their highest position. Resident memory is about this.
  uint64_t bytes_used() const;
  // Address space reserved for all layers at max_context.
  uint64_t bytes_reserved() const { return reserved_bytes_; }

  const KvCacheOptions& options() const { return options_; }
  // Slots of `layer`: the ring size for sliding layers, max_context for full layers, 0 for
  // kv_shared layers.
  int64_t capacity(int layer) const;

 private:
  struct Layer {
    bool stores = false;  // false for kv_shared layers
    bool ring = false;    // sliding layer
    int64_t slots = 0;    // ring size or max_context
    int64_t kv_heads = 0;
    int64_t head_dim = 0;
    size_t head_stride = 0;
    size_t slot_stride = 0;
    uint8_t* k = nullptr;
    uint8_t* v = nullptr;
    int32_t* pos = nullptr;
    int32_t* block = nullptr;
    int64_t length = 0;      // one past the highest position stored
    int64_t high_water = 0;  // slots ever touched
    bool any_block = false;  // some stored token is in a vision block
  };

  KvCache(const model::ModelConfig& config, const KvCacheOptions& options);
  Status Reserve();

  model::ModelConfig config_;
  KvCacheOptions options_;
  std::vector<Layer> layers_;
  int64_t length_ = 0;
  // Every position in [intact_from_, length_) is present in every ring (sliding layers); a
  // rollback must leave the window of its next query inside this range.
  int64_t intact_from_ = 0;
  int64_t sliding_window_ = 0;
  void* region_ = nullptr;  // one mapping for every buffer
  size_t region_bytes_ = 0;
  uint64_t reserved_bytes_ = 0;
};

}  // namespace loom::runtime

#endif  // LOOM_RUNTIME_KV_CACHE_H_
