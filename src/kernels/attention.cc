// Tiled online-softmax ("flash") attention over a KV cache; the contract is in attention.h.
//
// - A work item is (KV head, query tile, slot range). Every query head that shares the KV head
//   goes through the item together (a "row" = one query x one head of the group), so each K/V row
//   is read from memory and converted to f32 once for all of them: 16 rows per K row on MQA
//   decode, 2 on the 2:1 sliding layers.
// - Keys are gathered into tiles of candidate slots, ones that a conservative position/block
//   range test says some query of the item may see. Empty ring slots, keys outside the window
//   and the causal future of a prefill tile cost an int compare, not a K/V load; the exact mask
//   is applied per (query, key) inside a tile.
// - Online softmax per row: running max m and sum l, the unnormalised output accumulated in f32
//   (in place in `out` when the item covers all slots).
// - When there are fewer items than about two per thread (decode), each item's slots are split
//   into ranges with equal candidate counts, and the partial (m, l, acc) are merged at the end.
#include "kernels/attention.h"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstring>
#include <limits>
#include <vector>

#include "base/status.h"
#include "tensor/fp16.h"

#ifndef LOOM_KERNELS_ATTENTION_SHARED_
#define LOOM_KERNELS_ATTENTION_SHARED_
namespace loom::kernels::attn {

// Fully unrolls the loops over register-blocked arrays of vectors so they stay in registers
// (GCC -O2 otherwise keeps them on the stack).
#define LOOM_UNROLL _Pragma("GCC unroll 16")

constexpr float kNegInf = -std::numeric_limits<float>::infinity();

// What every work item of one call reads.
struct Job {
  const AttentionParams* p;
  const float* q;
  const int32_t* q_pos;
  const int32_t* q_block;
  const KvView* kv;
  int group;   // query heads per KV head
  int tile;    // keys per tile, a multiple of 4
  int q_tile;  // queries per work item
};

inline bool Visible(const AttentionParams& p, int64_t q_pos, int32_t q_block, int32_t k_pos,
                    int32_t k_block) {
  if (k_pos < 0) return false;
  const bool same_block = p.bidirectional_blocks && q_block >= 0 && q_block == k_block;
  if (!(k_pos <= q_pos || same_block)) return false;
  return p.window == 0 || k_pos > q_pos - p.window;
}

// A superset of the keys that queries [qa, qb) see: from their position and block ranges.
struct Candidates {
  int64_t lo = 0;  // keys before this position are outside every query's window
  int64_t hi = 0;  // keys after this position are in every query's future
  bool blocks = false;
  int32_t block_lo = 0, block_hi = -1;

  bool operator()(int32_t pos, int32_t block) const {
    if (pos < 0 || pos < lo) return false;
    return pos <= hi || (blocks && block >= block_lo && block <= block_hi);
  }
};

inline Candidates MakeCandidates(const Job& job, int64_t qa, int64_t qb) {
  int64_t min_pos = std::numeric_limits<int64_t>::max();
  int64_t max_pos = std::numeric_limits<int64_t>::min();
  Candidates c;
  c.block_lo = std::numeric_limits<int32_t>::max();
  c.block_hi = -1;
  for (int64_t i = qa; i < qb; ++i) {
    min_pos = std::min<int64_t>(min_pos, job.q_pos[i]);
    max_pos = std::max<int64_t>(max_pos, job.q_pos[i]);
    if (job.q_block && job.q_block[i] >= 0) {
      c.block_lo = std::min(c.block_lo, job.q_block[i]);
      c.block_hi = std::max(c.block_hi, job.q_block[i]);
    }
  }
  c.blocks = job.p->bidirectional_blocks && job.kv->block && c.block_lo <= c.block_hi;
  c.lo = job.p->window > 0 ? min_pos - job.p->window + 1 : 0;
  c.hi = max_pos;
  return c;
}

}  // namespace loom::kernels::attn
#endif  // LOOM_KERNELS_ATTENTION_SHARED_

#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "kernels/attention.cc"
#include <hwy/cache_control.h>
#include <hwy/foreach_target.h>  // IWYU pragma: keep
#include <hwy/highway.h>
// (after highway.h: per-target code)
#include <hwy/contrib/math/math-inl.h>

HWY_BEFORE_NAMESPACE();
namespace loom::kernels::HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;
using attn::kNegInf;
using DF = hn::ScalableTag<float>;
using VF = hn::Vec<DF>;

// Rows per register block: 4x4 vectors of accumulators need the 32 registers of AVX-512.
constexpr int kRowBlock = HWY_MAX_BYTES >= 64 ? 4 : 2;

// Per-thread buffers; they only grow, so steady-state calls allocate nothing.
struct Scratch {
  std::vector<float> k, v;  // the tile's K and V rows as f32: tile x head_dim
  std::vector<float> s;     // scores, then probabilities: rows x padded tile
  std::vector<float> m, l, alpha;
  std::vector<uint8_t> vis;     // q_tile x tile: the exact mask
  std::vector<uint8_t> q_live;  // q_tile: the query sees a key of this tile
  std::vector<int64_t> slots;   // the tile's slots
  std::vector<int> live_rows;   // rows that see a key of this tile
  std::vector<const float*> krow, vrow, qrow, prow, live_q;
  std::vector<float*> acc, live_acc;
};

template <class T>
void Grow(std::vector<T>& v, size_t n) {
  if (v.size() < n) v.resize(n);
}

Scratch& ThreadScratch() {
  static thread_local Scratch scratch;
  return scratch;
}

// One stored K/V head row of n elements to f32 (Q8_0: d * q in float, as ggml dequantizes).
void RowToF32(tensor::GgmlType type, const uint8_t* HWY_RESTRICT src, float* HWY_RESTRICT dst,
              size_t n) {
  const DF df;
  const size_t N = hn::Lanes(df);
  size_t i = 0;
  switch (type) {
    case tensor::GgmlType::kF16: {
      const hn::Rebind<hwy::float16_t, DF> dh;
      const auto* h = reinterpret_cast<const hwy::float16_t*>(src);
      for (; i + N <= n; i += N) hn::StoreU(hn::PromoteTo(df, hn::LoadU(dh, h + i)), df, dst + i);
      for (; i < n; ++i) {
        uint16_t bits;
        std::memcpy(&bits, src + 2 * i, 2);
        dst[i] = tensor::F16ToF32(bits);
      }
      return;
    }
    case tensor::GgmlType::kBF16: {
      const hn::Rebind<hwy::bfloat16_t, DF> db;
      const auto* b = reinterpret_cast<const hwy::bfloat16_t*>(src);
      for (; i + N <= n; i += N) hn::StoreU(hn::PromoteTo(df, hn::LoadU(db, b + i)), df, dst + i);
      for (; i < n; ++i) {
        uint16_t bits;
        std::memcpy(&bits, src + 2 * i, 2);
        dst[i] = tensor::BF16ToF32(bits);
      }
      return;
    }
    case tensor::GgmlType::kQ8_0: {
      // At most 32 lanes, so a block is a whole number of vectors.
      const hn::CappedTag<float, tensor::kQK> dq;
      const hn::RebindToSigned<decltype(dq)> di;
      const hn::Rebind<int8_t, decltype(dq)> d8;
      const size_t NQ = hn::Lanes(dq);
      for (size_t b = 0; b < n / tensor::kQK; ++b) {
        const uint8_t* blk = src + b * sizeof(tensor::BlockQ8_0);
        uint16_t d_bits;
        std::memcpy(&d_bits, blk, 2);
        const auto vd = hn::Set(dq, tensor::F16ToF32(d_bits));
        const auto* qs = reinterpret_cast<const int8_t*>(blk + 2);
        float* out = dst + b * tensor::kQK;
        for (size_t j = 0; j < static_cast<size_t>(tensor::kQK); j += NQ) {
          const auto vi = hn::PromoteTo(di, hn::LoadU(d8, qs + j));
          hn::StoreU(hn::Mul(hn::ConvertTo(dq, vi), vd), dq, out + j);
        }
      }
      return;
    }
    default:
      LOOM_CHECK(false);
  }
}

void PrefetchRow(const uint8_t* p, size_t bytes) {
  for (size_t off = 0; off < bytes; off += 64) hwy::Prefetch(p + off);
}

// out[r * ostride + k] = a[r] . b[k] for kR rows and kK keys: kR*kK independent FMA chains, each
// loaded vector used kK or kR times.
template <int kR, int kK>
HWY_INLINE void DotTile(const float* const* a, const float* const* b, size_t n, float* out,
                        size_t ostride) {
  const DF df;
  const size_t N = hn::Lanes(df);
  VF acc[kR][kK];
  LOOM_UNROLL
  for (int r = 0; r < kR; ++r) {
    LOOM_UNROLL
    for (int k = 0; k < kK; ++k) acc[r][k] = hn::Zero(df);
  }
  size_t i = 0;
  for (; i + N <= n; i += N) {
    VF vb[kK];
    LOOM_UNROLL
    for (int k = 0; k < kK; ++k) vb[k] = hn::LoadU(df, b[k] + i);
    LOOM_UNROLL
    for (int r = 0; r < kR; ++r) {
      const VF va = hn::LoadU(df, a[r] + i);
      LOOM_UNROLL
      for (int k = 0; k < kK; ++k) acc[r][k] = hn::MulAdd(va, vb[k], acc[r][k]);
    }
  }
  LOOM_UNROLL
  for (int r = 0; r < kR; ++r) {
    LOOM_UNROLL
    for (int k = 0; k < kK; ++k) {
      float sum = hn::GetLane(hn::SumOfLanes(df, acc[r][k]));
      for (size_t j = i; j < n; ++j) sum += a[r][j] * b[k][j];
      out[r * ostride + k] = sum;
    }
  }
}

template <int kR>
void DotRows(const float* const* a, const float* const* b, int n, size_t d, float* out,
             size_t ostride) {
  int t = 0;
  for (; t + 4 <= n; t += 4) DotTile<kR, 4>(a, b + t, d, out + t, ostride);
  for (; t < n; ++t) DotTile<kR, 1>(a, b + t, d, out + t, ostride);
}

// acc[r][:] = alpha[r] * acc[r][:] + sum_t p[r][t] * v[t][:] for kR rows; the output chunk stays
// in registers across the tile's keys.
template <int kR>
void AccumulateRows(float* const* acc, const float* alpha, const float* const* p,
                    const float* const* v, int n, size_t d) {
  const DF df;
  const size_t N = hn::Lanes(df);
  VF va[kR];
  LOOM_UNROLL
  for (int r = 0; r < kR; ++r) va[r] = hn::Set(df, alpha[r]);
  size_t j = 0;
  for (; j + 4 * N <= d; j += 4 * N) {
    VF a[kR][4];
    LOOM_UNROLL
    for (int r = 0; r < kR; ++r) {
      LOOM_UNROLL
      for (int c = 0; c < 4; ++c) a[r][c] = hn::Mul(hn::LoadU(df, acc[r] + j + c * N), va[r]);
    }
    for (int t = 0; t < n; ++t) {
      VF vv[4];
      LOOM_UNROLL
      for (int c = 0; c < 4; ++c) vv[c] = hn::LoadU(df, v[t] + j + c * N);
      LOOM_UNROLL
      for (int r = 0; r < kR; ++r) {
        const VF pr = hn::Set(df, p[r][t]);
        LOOM_UNROLL
        for (int c = 0; c < 4; ++c) a[r][c] = hn::MulAdd(pr, vv[c], a[r][c]);
      }
    }
    LOOM_UNROLL
    for (int r = 0; r < kR; ++r) {
      LOOM_UNROLL
      for (int c = 0; c < 4; ++c) hn::StoreU(a[r][c], df, acc[r] + j + c * N);
    }
  }
  for (; j + N <= d; j += N) {
    VF a[kR];
    LOOM_UNROLL
    for (int r = 0; r < kR; ++r) a[r] = hn::Mul(hn::LoadU(df, acc[r] + j), va[r]);
    for (int t = 0; t < n; ++t) {
      const VF vv = hn::LoadU(df, v[t] + j);
      LOOM_UNROLL
      for (int r = 0; r < kR; ++r) a[r] = hn::MulAdd(hn::Set(df, p[r][t]), vv, a[r]);
    }
    LOOM_UNROLL
    for (int r = 0; r < kR; ++r) hn::StoreU(a[r], df, acc[r] + j);
  }
  for (; j < d; ++j) {
    LOOM_UNROLL
    for (int r = 0; r < kR; ++r) {
      float a = acc[r][j] * alpha[r];
      for (int t = 0; t < n; ++t) a += p[r][t] * v[t][j];
      acc[r][j] = a;
    }
  }
}

// Online-softmax step of one row over a tile of `sp` scores (masked ones -inf, sp a multiple of
// the vector size): turns them into probabilities relative to the new running max. False when
// the row sees no key of the tile (then nothing changes).
bool SoftmaxStep(float* s, size_t sp, float& m, float& l, float& alpha) {
  const DF df;
  const size_t N = hn::Lanes(df);
  VF vmax = hn::Set(df, kNegInf);
  for (size_t t = 0; t < sp; t += N) vmax = hn::Max(vmax, hn::LoadU(df, s + t));
  const float tile_max = hn::GetLane(hn::MaxOfLanes(df, vmax));
  if (tile_max == kNegInf) return false;
  const float m_new = std::max(m, tile_max);
  alpha = std::exp(m - m_new);  // 0 on the first tile the row sees (m = -inf)
  const VF vm = hn::Set(df, m_new);
  // Clamped below Exp's cutoff (-104), so masked keys give exactly 0 without computing exp(-inf).
  const VF lo = hn::Set(df, -105.0f);
  VF sum = hn::Zero(df);
  for (size_t t = 0; t < sp; t += N) {
    const VF e = hn::Exp(df, hn::Max(hn::Sub(hn::LoadU(df, s + t), vm), lo));
    hn::StoreU(e, df, s + t);
    sum = hn::Add(sum, e);
  }
  l = l * alpha + hn::GetLane(hn::SumOfLanes(df, sum));
  m = m_new;
  return true;
}

// Attention of KV head g for queries [qa, qb) over slots [sa, sb). Leaves row r's (query
// qa + r / group, head g * group + r % group) unnormalised output in acc[r] and its running max
// and sum in m[r], l[r].
void RunItem(const attn::Job& job, int g, int64_t qa, int64_t qb, int64_t sa, int64_t sb,
             float* const* acc, float* m, float* l, Scratch& sc) {
  const AttentionParams& p = *job.p;
  const KvView& kv = *job.kv;
  const size_t d = static_cast<size_t>(p.head_dim);
  const int group = job.group;
  const int tile = job.tile;
  const int nq = static_cast<int>(qb - qa);
  const int rows = nq * group;
  const DF df;
  const size_t N = hn::Lanes(df);
  const size_t sp = (static_cast<size_t>(tile) + N - 1) / N * N;
  const bool is_f32 = kv.type == tensor::GgmlType::kF32;
  const size_t row_bytes = kv.type == tensor::GgmlType::kQ8_0
                               ? d / tensor::kQK * sizeof(tensor::BlockQ8_0)
                               : d * (is_f32 ? 4 : 2);

  if (!is_f32) {
    Grow(sc.k, static_cast<size_t>(tile) * d);
    Grow(sc.v, static_cast<size_t>(tile) * d);
  }
  Grow(sc.s, static_cast<size_t>(rows) * sp);
  Grow(sc.alpha, static_cast<size_t>(rows));
  Grow(sc.vis, static_cast<size_t>(nq) * tile);
  Grow(sc.q_live, static_cast<size_t>(nq));
  Grow(sc.slots, static_cast<size_t>(tile));
  Grow(sc.live_rows, static_cast<size_t>(rows));
  Grow(sc.krow, static_cast<size_t>(tile));
  Grow(sc.vrow, static_cast<size_t>(tile));
  Grow(sc.qrow, static_cast<size_t>(rows));
  Grow(sc.prow, static_cast<size_t>(rows));
  Grow(sc.live_q, static_cast<size_t>(rows));
  Grow(sc.live_acc, static_cast<size_t>(rows));

  for (int r = 0; r < rows; ++r) {
    const int64_t head = static_cast<int64_t>(g) * group + r % group;
    sc.qrow[r] = job.q + ((qa + r / group) * p.num_q_heads + head) * static_cast<int64_t>(d);
    m[r] = kNegInf;
    l[r] = 0.0f;
    std::memset(acc[r], 0, d * sizeof(float));
  }

  const attn::Candidates cand = attn::MakeCandidates(job, qa, qb);
  const auto* kbase = static_cast<const uint8_t*>(kv.k) + static_cast<size_t>(g) * kv.head_stride;
  const auto* vbase = static_cast<const uint8_t*>(kv.v) + static_cast<size_t>(g) * kv.head_stride;
  int64_t s = sa;
  while (s < sb) {
    int n = 0;
    for (; s < sb && n < tile; ++s) {
      if (cand(kv.pos[s], kv.block ? kv.block[s] : -1)) sc.slots[n++] = s;
    }
    if (n == 0) break;

    // Exact mask of the tile.
    bool any = false;
    for (int i = 0; i < nq; ++i) {
      const int64_t qpos = job.q_pos[qa + i];
      const int32_t qblock = job.q_block ? job.q_block[qa + i] : -1;
      uint8_t* vis = sc.vis.data() + static_cast<size_t>(i) * tile;
      uint8_t live = 0;
      for (int t = 0; t < n; ++t) {
        const int64_t slot = sc.slots[t];
        vis[t] = attn::Visible(p, qpos, qblock, kv.pos[slot], kv.block ? kv.block[slot] : -1);
        live |= vis[t];
      }
      sc.q_live[i] = live;
      any |= live != 0;
    }
    if (!any) continue;

    // K now (prefetched during the previous tile's PV); V is prefetched to arrive during QK.
    for (int t = 0; t < n; ++t) {
      const size_t off = static_cast<size_t>(sc.slots[t]) * kv.slot_stride;
      PrefetchRow(vbase + off, row_bytes);
      if (is_f32) {
        sc.krow[t] = reinterpret_cast<const float*>(kbase + off);
      } else {
        float* kd = sc.k.data() + static_cast<size_t>(t) * d;
        RowToF32(kv.type, kbase + off, kd, d);
        sc.krow[t] = kd;
      }
    }

    // Scores of the rows whose query sees something here.
    int num_live = 0;
    for (int r = 0; r < rows; ++r) {
      if (sc.q_live[r / group]) sc.live_rows[num_live++] = r;
    }
    for (int i = 0; i < num_live; ++i) sc.live_q[i] = sc.qrow[sc.live_rows[i]];
    float* scores = sc.s.data();
    int i = 0;
    if (kRowBlock == 4) {
      for (; i + 4 <= num_live; i += 4) {
        DotRows<4>(sc.live_q.data() + i, sc.krow.data(), n, d, scores + i * sp, sp);
      }
    }
    for (; i + 2 <= num_live; i += 2) {
      DotRows<2>(sc.live_q.data() + i, sc.krow.data(), n, d, scores + i * sp, sp);
    }
    if (i < num_live) DotRows<1>(sc.live_q.data() + i, sc.krow.data(), n, d, scores + i * sp, sp);

    // Mask, softmax step; rows left with no visible key drop out of this tile.
    int num_active = 0;
    for (i = 0; i < num_live; ++i) {
      const int r = sc.live_rows[i];
      float* sr = scores + i * sp;
      const uint8_t* vis = sc.vis.data() + static_cast<size_t>(r / group) * tile;
      for (int t = 0; t < n; ++t) sr[t] = vis[t] ? sr[t] * p.scale : kNegInf;
      for (size_t t = n; t < sp; ++t) sr[t] = kNegInf;
      float alpha;
      if (!SoftmaxStep(sr, sp, m[r], l[r], alpha)) continue;
      sc.alpha[num_active] = alpha;
      sc.prow[num_active] = sr;
      sc.live_acc[num_active] = acc[r];
      ++num_active;
    }

    // The next slots' K (a guess: the slots that follow, which holds for a cache filled in
    // order and for most of a ring), then this tile's V.
    for (int64_t t = s; t < std::min(sb, s + tile); ++t) {
      PrefetchRow(kbase + static_cast<size_t>(t) * kv.slot_stride, row_bytes);
    }
    for (int t = 0; t < n; ++t) {
      const size_t off = static_cast<size_t>(sc.slots[t]) * kv.slot_stride;
      if (is_f32) {
        sc.vrow[t] = reinterpret_cast<const float*>(vbase + off);
      } else {
        float* vd = sc.v.data() + static_cast<size_t>(t) * d;
        RowToF32(kv.type, vbase + off, vd, d);
        sc.vrow[t] = vd;
      }
    }
    i = 0;
    if (kRowBlock == 4) {
      for (; i + 4 <= num_active; i += 4) {
        AccumulateRows<4>(sc.live_acc.data() + i, sc.alpha.data() + i, sc.prow.data() + i,
                          sc.vrow.data(), n, d);
      }
    }
    for (; i + 2 <= num_active; i += 2) {
      AccumulateRows<2>(sc.live_acc.data() + i, sc.alpha.data() + i, sc.prow.data() + i,
                        sc.vrow.data(), n, d);
    }
    if (i < num_active) {
      AccumulateRows<1>(sc.live_acc.data() + i, sc.alpha.data() + i, sc.prow.data() + i,
                        sc.vrow.data(), n, d);
    }
  }
}

void AttentionT(const AttentionParams& p, const float* q, int64_t num_queries, const int32_t* q_pos,
                const int32_t* q_block, const KvView& kv, float* out, ThreadPool* pool) {
  LOOM_CHECK(p.num_q_heads > 0 && p.num_kv_heads > 0 && p.num_q_heads % p.num_kv_heads == 0);
  LOOM_CHECK(p.head_dim > 0 && p.window >= 0);
  LOOM_CHECK(kv.type == tensor::GgmlType::kF32 || kv.type == tensor::GgmlType::kF16 ||
             kv.type == tensor::GgmlType::kBF16 || kv.type == tensor::GgmlType::kQ8_0);
  LOOM_CHECK(kv.type != tensor::GgmlType::kQ8_0 || p.head_dim % tensor::kQK == 0);
  if (num_queries <= 0) return;
  const size_t d = static_cast<size_t>(p.head_dim);

  attn::Job job;
  job.p = &p;
  job.q = q;
  job.q_pos = q_pos;
  job.q_block = q_block;
  job.kv = &kv;
  job.group = p.num_q_heads / p.num_kv_heads;
  // About 32 KiB of f32 K (and V) per tile: stays in L1/L2 while every row of the item uses it.
  job.tile = std::clamp(8192 / p.head_dim, 16, 64) & ~3;
  // About 32 rows per item: enough reuse of each converted K/V tile, accumulators in L2.
  job.q_tile = static_cast<int>(std::min<int64_t>(std::max(1, 32 / job.group), num_queries));
  const int64_t num_q_tiles = (num_queries + job.q_tile - 1) / job.q_tile;
  const int64_t base_items = num_q_tiles * p.num_kv_heads;
  const int threads = pool ? pool->num_threads() : 1;

  // Decode: split the slots when there are too few items to keep every thread busy.
  int64_t splits = 1;
  static thread_local std::vector<int64_t> bounds;
  if (threads > 1 && base_items < 2 * threads) {
    const attn::Candidates all = attn::MakeCandidates(job, 0, num_queries);
    int64_t count = 0;
    for (int64_t s = 0; s < kv.num_slots; ++s) {
      count += all(kv.pos[s], kv.block ? kv.block[s] : -1);
    }
    constexpr int64_t kMinSlotsPerSplit = 256;
    splits = std::min((2 * threads + base_items - 1) / base_items,
                      std::max<int64_t>(1, count / kMinSlotsPerSplit));
    if (splits > 1) {
      // Equal candidate counts per range, so a mostly empty cache still splits evenly.
      bounds.assign(static_cast<size_t>(splits) + 1, kv.num_slots);
      bounds[0] = 0;
      int64_t seen = 0, next = 1;
      for (int64_t s = 0; s < kv.num_slots && next < splits; ++s) {
        if (!all(kv.pos[s], kv.block ? kv.block[s] : -1)) continue;
        if (seen == next * count / splits) bounds[static_cast<size_t>(next++)] = s;
        ++seen;
      }
    }
  }
  if (splits == 1) bounds.assign({0, kv.num_slots});

  const int max_rows = job.q_tile * job.group;
  const int64_t items = base_items * splits;
  static thread_local std::vector<float> part_acc, part_ml;
  if (splits > 1) {
    Grow(part_acc, static_cast<size_t>(items) * max_rows * d);
    Grow(part_ml, static_cast<size_t>(items) * max_rows * 2);
  }
  float* const pacc = part_acc.data();
  float* const pml = part_ml.data();
  const int64_t* const bnd = bounds.data();

  // Item i: the longest (latest) query tiles first, so causal prefill balances.
  const auto run = [&](int64_t item) {
    const int64_t split = item % splits;
    const int g = static_cast<int>((item / splits) % p.num_kv_heads);
    const int64_t qt = num_q_tiles - 1 - item / splits / p.num_kv_heads;
    const int64_t qa = qt * job.q_tile;
    const int64_t qb = std::min(num_queries, qa + job.q_tile);
    const int rows = static_cast<int>(qb - qa) * job.group;
    Scratch& sc = ThreadScratch();
    Grow(sc.acc, static_cast<size_t>(rows));
    Grow(sc.m, static_cast<size_t>(rows));
    Grow(sc.l, static_cast<size_t>(rows));
    float* m = sc.m.data();
    float* l = sc.l.data();
    for (int r = 0; r < rows; ++r) {
      if (splits > 1) {
        sc.acc[r] = pacc + (static_cast<size_t>(item) * max_rows + r) * d;
      } else {
        const int64_t head = static_cast<int64_t>(g) * job.group + r % job.group;
        sc.acc[r] = out + ((qa + r / job.group) * p.num_q_heads + head) * static_cast<int64_t>(d);
      }
    }
    if (splits > 1) {
      m = pml + static_cast<size_t>(item) * max_rows * 2;
      l = m + max_rows;
    }
    RunItem(job, g, qa, qb, bnd[split], bnd[split + 1], sc.acc.data(), m, l, sc);
    if (splits > 1) return;
    for (int r = 0; r < rows; ++r) {
      const float inv = l[r] > 0.0f ? 1.0f / l[r] : 0.0f;
      float* a = sc.acc[r];
      for (size_t j = 0; j < d; ++j) a[j] *= inv;
    }
  };

  // As in MatMul: tiny attention (short contexts, small heads) is not worth a hand-off.
  const bool tiny =
      kv.num_slots * static_cast<int64_t>(d) * num_queries * p.num_q_heads < (int64_t{1} << 16);
  if (pool == nullptr || threads == 1 || items == 1 || tiny) {
    for (int64_t i = 0; i < items; ++i) run(i);
  } else {
    std::atomic<int64_t> next{0};
    pool->ParallelFor(static_cast<size_t>(threads), [&](size_t, size_t, int) {
      for (int64_t i = next.fetch_add(1); i < items; i = next.fetch_add(1)) run(i);
    });
  }
  if (splits == 1) return;

  // Merge the splits of each (query tile, KV head): rescale to the common max.
  for (int64_t base = 0; base < base_items; ++base) {
    const int g = static_cast<int>(base % p.num_kv_heads);
    const int64_t qa = (num_q_tiles - 1 - base / p.num_kv_heads) * job.q_tile;
    const int64_t qb = std::min(num_queries, qa + job.q_tile);
    const int rows = static_cast<int>(qb - qa) * job.group;
    for (int r = 0; r < rows; ++r) {
      const int64_t head = static_cast<int64_t>(g) * job.group + r % job.group;
      float* o = out + ((qa + r / job.group) * p.num_q_heads + head) * static_cast<int64_t>(d);
      float max_m = kNegInf;
      for (int64_t sp = 0; sp < splits; ++sp) {
        max_m = std::max(max_m, pml[static_cast<size_t>(base * splits + sp) * max_rows * 2 + r]);
      }
      std::memset(o, 0, d * sizeof(float));
      if (max_m == kNegInf) continue;
      float sum = 0.0f;
      for (int64_t sp = 0; sp < splits; ++sp) {
        const float* ml = pml + static_cast<size_t>(base * splits + sp) * max_rows * 2;
        sum += ml[max_rows + r] * std::exp(ml[r] - max_m);
      }
      for (int64_t sp = 0; sp < splits; ++sp) {
        const size_t item = static_cast<size_t>(base * splits + sp);
        const float* ml = pml + item * max_rows * 2;
        const float w = std::exp(ml[r] - max_m) / sum;
        if (w == 0.0f) continue;
        const float* a = pacc + (item * max_rows + r) * d;
        for (size_t j = 0; j < d; ++j) o[j] += w * a[j];
      }
    }
  }
}

}  // namespace loom::kernels::HWY_NAMESPACE
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
namespace loom::kernels {

HWY_EXPORT(AttentionT);

void Attention(const AttentionParams& p, const float* q, int64_t num_queries, const int32_t* q_pos,
               const int32_t* q_block, const KvView& kv, float* out, ThreadPool* pool) {
  HWY_DYNAMIC_DISPATCH(AttentionT)(p, q, num_queries, q_pos, q_block, kv, out, pool);
}

}  // namespace loom::kernels
#endif  // HWY_ONCE
