// Highway building blocks shared by the quantized decode kernels (matvec_q32.cc,
// matvec_qk.cc): a weight sub-block of 32 elements is unpacked to int16 lanes 16 at a time
// (the low and high halves together, which is how every GGUF layout pairs its nibbles), dotted
// with up to kMaxCols activation columns in int32, then scaled in float.
//
// Vectors are capped at 16 int16 lanes (256 bits): a 32-element block then fills whole vectors
// on AVX2 and AVX-512 alike, and on the AVX-512 parts this code targets (Zen 4) 512-bit integer
// ops run as two 256-bit halves anyway.

// Per-target include guard.
#if defined(LOOM_KERNELS_MATVEC_INL_H_) == defined(HWY_TARGET_TOGGLE)
#ifdef LOOM_KERNELS_MATVEC_INL_H_
#undef LOOM_KERNELS_MATVEC_INL_H_
#else
#define LOOM_KERNELS_MATVEC_INL_H_
#endif

#include <hwy/highway.h>

#include <cstdint>

#include "kernels/matvec.h"
#include "tensor/fp16.h"
#include "tensor/quant.h"

HWY_BEFORE_NAMESPACE();
namespace loom::kernels::HWY_NAMESPACE {
namespace mv {

namespace hn = hwy::HWY_NAMESPACE;

// Columns handled per pass over a weight row; more columns loop over the row again (from L1).
constexpr int kMaxCols = 4;

using D16 = hn::CappedTag<int16_t, 16>;
using D32 = hn::RepartitionToWide<D16>;
using DF = hn::Rebind<float, D32>;
using DU8 = hn::Rebind<uint8_t, D16>;
using DI8 = hn::Rebind<int8_t, D16>;
using V16 = hn::Vec<D16>;
using V32 = hn::Vec<D32>;
using VF = hn::Vec<DF>;

// 1 << i for i < 16, to test the i-th bit of a 16-bit word in lane i.
alignas(32) inline constexpr int16_t kLaneBit[16] = {
    1,   2,   4,    8,    16,   32,   64,    128,
    256, 512, 1024, 2048, 4096, 8192, 16384, static_cast<int16_t>(-32768)};

// Activation columns of one pass.
template <int NB>
struct Cols {
  static constexpr int kNB = NB;
  const int16_t* q[NB];
  const float* d[NB];
  const float* s16[NB];
  const float* s32[NB];
};

template <int NB>
HWY_INLINE Cols<NB> MakeCols(const QuantizedActs& qa, int64_t col0) {
  Cols<NB> c;
  for (int b = 0; b < NB; ++b) {
    c.q[b] = qa.q + (col0 + b) * qa.cols;
    c.d[b] = qa.d + (col0 + b) * (qa.cols / 32);
    c.s16[b] = qa.s16 + (col0 + b) * (qa.cols / 16);
    c.s32[b] = qa.s32 + (col0 + b) * (qa.cols / 32);
  }
  return c;
}

// Scale fields (IEEE half): one F16C instruction where the target has it, which matters for
// the 32-element formats (one scale per 18..34 weight bytes).
HWY_INLINE float HalfToFloat(uint16_t h) {
#if (HWY_TARGET == HWY_AVX2 || HWY_TARGET == HWY_AVX3) && !defined(HWY_DISABLE_F16C)
  return _cvtsh_ss(h);
#else
  return tensor::F16ToF32(h);
#endif
}

// Bytes p[0..N) zero-extended to int16.
HWY_INLINE V16 LoadU8(const uint8_t* p) { return hn::PromoteTo(D16(), hn::LoadU(DU8(), p)); }
HWY_INLINE V16 LoadI8(const int8_t* p) { return hn::PromoteTo(D16(), hn::LoadU(DI8(), p)); }
HWY_INLINE V16 Lo4(V16 v) { return hn::And(v, hn::Set(D16(), 15)); }
HWY_INLINE V16 Hi4(V16 v) { return hn::ShiftRight<4>(v); }
// `add` in lanes whose bit of `bits` (lane i <-> bit i0 + i) is set, else 0.
HWY_INLINE V16 BitsToValue(uint32_t bits, int i0, int16_t add) {
  const D16 d;
  const V16 m =
      hn::And(hn::Set(d, static_cast<int16_t>(bits & 0xffff)), hn::LoadU(d, kLaneBit + i0));
  return hn::IfThenElseZero(hn::Ne(m, hn::Zero(d)), hn::Set(d, add));
}

// `add` in lanes whose byte of `bytes` has a bit of `mask` set, else 0.
HWY_INLINE V16 MaskToValue(V16 bytes, int16_t mask, int16_t add) {
  const D16 d;
  const V16 m = hn::And(bytes, hn::Set(d, mask));
  return hn::IfThenElseZero(hn::Ne(m, hn::Zero(d)), hn::Set(d, add));
}

// Lanes [i, i + N) of the IQ4 codebook values of the low (or high) nibbles of qs.
HWY_INLINE V16 LookupIQ4(const uint8_t* qs, size_t i, bool high) {
#if HWY_TARGET == HWY_SCALAR
  const uint8_t b = qs[i];
  return hn::Set(D16(), tensor::kIQ4NLValues[high ? b >> 4 : b & 15]);
#else
  const DU8 du8;
  auto idx = hn::LoadU(du8, qs + i);
  idx = high ? hn::ShiftRight<4>(idx) : hn::And(idx, hn::Set(du8, 15));
  const auto table = hn::LoadU(hn::Full128<int8_t>(), tensor::kIQ4NLValues);
  return hn::PromoteTo(D16(), hn::TableLookupBytes(table, hn::BitCast(DI8(), idx)));
#endif
}

// Dot products of one 32-element weight sub-block (element offset e in the row) with each
// column: unpack(i, lo, hi) yields weights [i, i + N) and [16 + i, 16 + i + N) as int16.
template <int NB, class Unpack>
HWY_INLINE void DotSub(const Unpack& unpack, const Cols<NB>& c, int64_t e, V32* sum) {
  const D16 d16;
  const D32 d32;
  constexpr size_t kN = hn::MaxLanes(D16());
  for (int b = 0; b < NB; ++b) sum[b] = hn::Zero(d32);
  for (size_t i = 0; i < 16; i += kN) {
    V16 lo, hi;
    unpack(i, lo, hi);
    for (int b = 0; b < NB; ++b) {
      V32 unused = hn::Zero(d32);
      sum[b] =
          hn::ReorderWidenMulAccumulate(d32, lo, hn::LoadU(d16, c.q[b] + e + i), sum[b], unused);
      sum[b] = hn::ReorderWidenMulAccumulate(d32, hi, hn::LoadU(d16, c.q[b] + e + 16 + i), sum[b],
                                             unused);
    }
  }
}

// acc[b] += sum * dw * d_x of the sub-block at element e.
template <int NB, class Unpack>
HWY_INLINE void Sub32(const Unpack& unpack, const Cols<NB>& c, int64_t e, float dw, VF* acc) {
  V32 sum[NB];
  DotSub<NB>(unpack, c, e, sum);
  const DF df;
  for (int b = 0; b < NB; ++b) {
    acc[b] = hn::MulAdd(hn::ConvertTo(df, sum[b]), hn::Set(df, dw * c.d[b][e / 32]), acc[b]);
  }
}

// As Sub32 with the scale of column b (weight scale times activation scale) at scales[8 * b].
template <int NB, class Unpack>
HWY_INLINE void Sub32Pre(const Unpack& unpack, const Cols<NB>& c, int64_t e, const float* scales,
                         VF* acc) {
  V32 sum[NB];
  DotSub<NB>(unpack, c, e, sum);
  const DF df;
  for (int b = 0; b < NB; ++b) {
    acc[b] = hn::MulAdd(hn::ConvertTo(df, sum[b]), hn::Set(df, scales[8 * b]), acc[b]);
  }
}

// For the 8 sub-blocks of the super-block at e0 with 8-bit scales sc[8] and mins mn[8]:
// scales[8 * b + j] = d * sc[j] * d_x[j] for each column, and acc[b] -= dmin * mn[j] * s32_x[j]
// (the mins' share, in vector lanes instead of a scalar chain).
template <int NB>
HWY_INLINE void PrepareK8(const Cols<NB>& c, int64_t e0, const uint8_t* sc, const uint8_t* mn,
                          float d, float dmin, float* scales, VF* acc) {
  const DF df;
  const D32 d32;
  const hn::Rebind<uint8_t, D32> du8;
  constexpr size_t kNF = hn::MaxLanes(DF());
  for (size_t k = 0; k < 8; k += kNF) {
    const VF vs =
        hn::Mul(hn::ConvertTo(df, hn::PromoteTo(d32, hn::LoadU(du8, sc + k))), hn::Set(df, d));
    const VF vm =
        hn::Mul(hn::ConvertTo(df, hn::PromoteTo(d32, hn::LoadU(du8, mn + k))), hn::Set(df, -dmin));
    for (int b = 0; b < NB; ++b) {
      hn::StoreU(hn::Mul(vs, hn::LoadU(df, c.d[b] + e0 / 32 + k)), df, scales + 8 * b + k);
      acc[b] = hn::MulAdd(vm, hn::LoadU(df, c.s32[b] + e0 / 32 + k), acc[b]);
    }
  }
}

// As Sub32 with integer sub-scales: sa for weights [0, 16), sb for [16, 32) of the sub-block.
template <int NB, class Unpack>
HWY_INLINE void Sub16x2(const Unpack& unpack, const Cols<NB>& c, int64_t e, int sa, int sb,
                        float dw, VF* acc) {
  const D16 d16;
  const D32 d32;
  const DF df;
  constexpr size_t kN = hn::MaxLanes(D16());
  V32 sum_a[NB], sum_b[NB];
  for (int b = 0; b < NB; ++b) sum_a[b] = sum_b[b] = hn::Zero(d32);
  for (size_t i = 0; i < 16; i += kN) {
    V16 lo, hi;
    unpack(i, lo, hi);
    for (int b = 0; b < NB; ++b) {
      V32 unused = hn::Zero(d32);
      sum_a[b] =
          hn::ReorderWidenMulAccumulate(d32, lo, hn::LoadU(d16, c.q[b] + e + i), sum_a[b], unused);
      sum_b[b] = hn::ReorderWidenMulAccumulate(d32, hi, hn::LoadU(d16, c.q[b] + e + 16 + i),
                                               sum_b[b], unused);
    }
  }
  const V32 va = hn::Set(d32, sa), vb = hn::Set(d32, sb);
  for (int b = 0; b < NB; ++b) {
    const V32 s = hn::Add(hn::Mul(sum_a[b], va), hn::Mul(sum_b[b], vb));
    acc[b] = hn::MulAdd(hn::ConvertTo(df, s), hn::Set(df, dw * c.d[b][e / 32]), acc[b]);
  }
}

// Sum of d_x * quants over the 32 elements at e (for formats with a per-block offset).
template <int NB>
HWY_INLINE float Sum32(const Cols<NB>& c, int b, int64_t e) {
  return c.s32[b][e / 32];
}

// Weight bytes prefetched ahead of the block being read: the hardware prefetcher alone falls
// behind on long rows (measured: 15360-column Q4_K rows 6.6 -> ~10 GB/s on one Zen 4 core).
// Splitting long rows into column tiles instead (to keep the activations in L1) was slower:
// it breaks the weight stream into page-strided pieces.
constexpr int kPrefetchBytes = 2048;

template <class Block>
HWY_INLINE void PrefetchAhead(const Block* blk) {
  const uint8_t* ahead = reinterpret_cast<const uint8_t*>(blk) + kPrefetchBytes;
  for (size_t k = 0; k < sizeof(Block); k += 64) __builtin_prefetch(ahead + k);
}

// y[(col0 + b) * ldy + r] = the reduced accumulators of column b.
HWY_INLINE void StoreSums(const VF* acc, const float* sacc, int64_t nb, float* y, int64_t ldy,
                          int64_t col0, int64_t r) {
  const DF df;
  for (int64_t b = 0; b < nb; ++b) {
    y[(col0 + b) * ldy + r] =
        hn::GetLane(hn::SumOfLanes(df, hn::Add(acc[b], acc[kMaxCols + b]))) + sacc[b];
  }
}

// Calls block_dot(block, cols, element offset, acc, sacc) for every block of rows [r0, r1)
// and columns in passes of up to kMaxCols, and stores the sums. acc has two accumulators per
// column (acc[b], acc[kMaxCols + b]) so that a format can alternate them between sub-blocks.
// (Pairing rows block by block for batch 1, so that the second row finds the activations in
// L1, was measured: faster on 15360-column rows, ~2x slower on 3840-column ones.)
template <class Block, class BlockDot>
HWY_INLINE void ForRows(const Matrix& w, const QuantizedActs& qa, int64_t batch, float* y,
                        int64_t ldy, int64_t r0, int64_t r1, int64_t block_elems,
                        const BlockDot& block_dot) {
  const DF df;
  const int64_t nblocks = w.cols / block_elems;
  const auto row_blocks = [&](int64_t r) {
    return reinterpret_cast<const Block*>(static_cast<const uint8_t*>(w.data) + r * w.row_bytes);
  };
  for (int64_t r = r0; r < r1; ++r) {
    const Block* blocks = row_blocks(r);
    for (int64_t col0 = 0; col0 < batch; col0 += kMaxCols) {
      const int64_t nb = batch - col0 < kMaxCols ? batch - col0 : kMaxCols;
      VF acc[2 * kMaxCols];
      float sacc[kMaxCols] = {};
      for (auto& a : acc) a = hn::Zero(df);
      const auto run = [&](const auto& c) {
        for (int64_t ib = 0; ib < nblocks; ++ib) {
          PrefetchAhead(blocks + ib);
          block_dot(blocks[ib], c, ib * block_elems, acc, sacc);
        }
      };
      switch (nb) {
        case 1:
          run(MakeCols<1>(qa, col0));
          break;
        case 2:
          run(MakeCols<2>(qa, col0));
          break;
        case 3:
          run(MakeCols<3>(qa, col0));
          break;
        default:
          run(MakeCols<4>(qa, col0));
          break;
      }
      StoreSums(acc, sacc, nb, y, ldy, col0, r);
    }
  }
}

}  // namespace mv
}  // namespace loom::kernels::HWY_NAMESPACE
HWY_AFTER_NAMESPACE();

#endif  // per-target include guard
