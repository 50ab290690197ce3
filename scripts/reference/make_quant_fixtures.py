#!/usr/bin/env python3
"""Quantization fixtures for loom's tensor/quant.cc, computed with gguf-py (gguf==0.19.0).

gguf-py's quantizers for BF16, Q4_0, Q4_1, Q5_0, Q5_1 and Q8_0 are bit-exact with ggml's
quantize_row_*_ref; F16 is numpy's round-to-nearest-even cast. Its dequantizers cover every type
loom reads, the K formats and IQ4_NL / IQ4_XS included (it has no quantizer for those, nor any
support for Q8_1 / Q8_K).

Writes tests/fixtures/quant/<TYPE>.bin (TYPE as ggml names it), one file per type:

  header   4 bytes  magic b"LQFX"
           u32      version (1)
           u32      ggml type id
           u32      number of records
  record   u32      flags: bit 0 = the record has an input row (the bytes are gguf's quantization
                    of it); otherwise the bytes are random valid blocks
           u32      n, elements in the row (a multiple of the block size)
           [f32 x n input row, only when flags & 1]
           u8 x row_bytes(n)   the quantized row
           f32 x n  gguf's dequantization of those bytes

All integers and floats are little-endian. Input rows include edge cases (all zeros, a constant
row, one huge outlier, tiny values, negative only) besides Gaussian rows. Random blocks have random
bytes everywhere except the fp16 scale fields, which hold finite halves (zero, subnormal, negative
and large ones included) so the dequantization is finite.

Deterministic: a fixed seed, no timestamps; two runs give byte-identical files.

Usage: python scripts/reference/make_quant_fixtures.py [--out DIR]
"""

import argparse
import struct
from pathlib import Path

import numpy as np
from gguf import quants
from gguf.constants import GGML_QUANT_SIZES, GGMLQuantizationType as T

# Byte offsets of the fp16 scale fields in each block (ggml-common.h layouts).
FP16_FIELDS = {
    T.Q4_0: [0],
    T.Q4_1: [0, 2],
    T.Q5_0: [0],
    T.Q5_1: [0, 2],
    T.Q8_0: [0],
    T.Q2_K: [80, 82],
    T.Q3_K: [108],
    T.Q4_K: [0, 2],
    T.Q5_K: [0, 2],
    T.Q6_K: [208],
    T.IQ4_NL: [0],
    T.IQ4_XS: [0],
}
# Types whose gguf quantizer matches ggml's reference quantizer bit for bit.
GGUF_QUANTIZES = [T.F16, T.BF16, T.Q4_0, T.Q4_1, T.Q5_0, T.Q5_1, T.Q8_0]
TYPES = [T.F32, T.F16, T.BF16, T.Q4_0, T.Q4_1, T.Q5_0, T.Q5_1, T.Q8_0, T.Q2_K, T.Q3_K, T.Q4_K,
         T.Q5_K, T.Q6_K, T.IQ4_NL, T.IQ4_XS]


def input_rows(rng: np.random.Generator, n: int) -> list[np.ndarray]:
    rows = [
        rng.standard_normal(n),
        rng.standard_normal(n) * 0.02,
        np.zeros(n),
        np.full(n, 0.37),
        np.full(n, -1.5),
        rng.uniform(-1, 1, n),
        -np.abs(rng.standard_normal(n)),  # negative only
        rng.standard_normal(n) * 1e-6,  # tiny: scales underflow fp16
        rng.standard_normal(n) * 1e4,
    ]
    outlier = rng.standard_normal(n) * 0.1
    outlier[n // 3] = 300.0
    rows.append(outlier)
    # Values on exact rounding midpoints of the first block's scale hit the tie rules.
    ties = (rng.integers(-16, 16, n) + 0.5) / 8.0
    ties[0] = -2.0
    rows.append(ties)
    return [r.astype(np.float32) for r in rows]


def random_halves(rng: np.random.Generator, count: int) -> np.ndarray:
    h = (rng.standard_normal(count) * 0.05).astype(np.float16)
    special = np.array([0.0, -0.0, 6e-8, -3e-5, 1.0, -2.0, 60000.0, 0.001], dtype=np.float16)
    k = min(count, len(special))
    h[:k] = special[:k]
    rng.shuffle(h)
    return h


def random_blocks(rng: np.random.Generator, qtype: T, n_blocks: int) -> np.ndarray:
    _, type_size = GGML_QUANT_SIZES[qtype]
    raw = rng.integers(0, 256, (n_blocks, type_size), dtype=np.uint8)
    fields = FP16_FIELDS[qtype]
    halves = random_halves(rng, n_blocks * len(fields)).reshape(n_blocks, len(fields))
    for k, off in enumerate(fields):
        raw[:, off:off + 2] = halves[:, k:k + 1].copy().view(np.uint8)
    return raw.reshape(-1)


def record(flags: int, n: int, x: np.ndarray | None, q: np.ndarray, y: np.ndarray) -> bytes:
    out = struct.pack("<II", flags, n)
    if x is not None:
        out += x.astype("<f4").tobytes()
    out += q.astype(np.uint8).tobytes()
    out += y.astype("<f4").tobytes()
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default="tests/fixtures/quant")
    args = ap.parse_args()
    out_dir = Path(args.out)
    out_dir.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(20250505)

    for qtype in TYPES:
        block_size, type_size = GGML_QUANT_SIZES[qtype]
        records = []
        if qtype == T.F32:
            for x in input_rows(rng, 64)[:3]:
                records.append(record(1, 64, x, x.view(np.uint8), x))
        elif qtype in GGUF_QUANTIZES:
            n = 64 if block_size == 1 else 2 * block_size
            for x in input_rows(rng, n):
                q = quants.quantize(x, qtype).reshape(-1).view(np.uint8)
                assert q.size == n // block_size * type_size
                y = quants.dequantize(q, qtype).reshape(-1)
                records.append(record(1, n, x, q, y))
        if qtype in (T.F16, T.BF16):
            # A sample of bit patterns, no NaNs (fp16_test.cc checks every half exhaustively).
            h = rng.integers(0, 65536, 1024, dtype=np.uint32).astype(np.uint16)
            as_f32 = (h.view(np.float16).astype(np.float32) if qtype == T.F16
                      else (h.astype(np.uint32) << 16).view(np.float32))
            h = h[~np.isnan(as_f32)]
            y = quants.dequantize(h.view(np.uint8), qtype).reshape(-1)
            records.append(record(0, h.size, None, h.view(np.uint8), y))
        elif qtype in FP16_FIELDS:
            n_blocks = 8 if block_size == 32 else 3
            for _ in range(3):
                q = random_blocks(rng, qtype, n_blocks)
                y = quants.dequantize(q, qtype).reshape(-1)
                assert np.all(np.isfinite(y))
                records.append(record(0, n_blocks * block_size, None, q, y))
        data = b"LQFX" + struct.pack("<III", 1, int(qtype), len(records)) + b"".join(records)
        (out_dir / f"{qtype.name}.bin").write_bytes(data)
        print(f"quant fixtures: {qtype.name}: {len(records)} records, {len(data)} bytes")


if __name__ == "__main__":
    main()
