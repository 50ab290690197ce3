#!/usr/bin/env python3
"""Writes fuzz/corpus/gguf/gguf_py_reference.gguf with gguf-py (pip package `gguf`).

The same content is written by loom's gguf::Writer in GgufWriterTest.MatchesGgufPyByteForByte,
which compares the two byte for byte; the file is also a fuzz seed. Rerun after changing either.
"""
import sys

import numpy as np
import gguf
from gguf import GGUFValueType as T

out = sys.argv[1] if len(sys.argv) > 1 else "fuzz/corpus/gguf/gguf_py_reference.gguf"
w = gguf.GGUFWriter(out, arch="test")  # writes general.architecture first
w.add_custom_alignment(64)
w.add_uint8("test.u8", 200)
w.add_int8("test.i8", -5)
w.add_uint16("test.u16", 65000)
w.add_int16("test.i16", -32000)
w.add_uint32("test.u32", 4000000000)
w.add_int32("test.i32", -2000000000)
w.add_float32("test.f32", 1.5)
w.add_uint64("test.u64", 2**64 - 1)
w.add_int64("test.i64", -(2**63))
w.add_float64("test.f64", -0.25)
w.add_bool("test.bool", True)
w.add_string("test.str", "h\u00e9llo")
w.add_key_value("test.u32s", [1, 2, 3], T.ARRAY, sub_type=T.UINT32)
w.add_key_value("test.i32s", [-1, 0, 7], T.ARRAY, sub_type=T.INT32)
w.add_key_value("test.f32s", [0.5, -2.0], T.ARRAY, sub_type=T.FLOAT32)
w.add_key_value("test.bools", [True, False, True], T.ARRAY, sub_type=T.BOOL)
w.add_key_value("test.strs", ["a", "bc", ""], T.ARRAY, sub_type=T.STRING)
w.add_array("test.nested", [[1, 2], [3]])  # array of arrays of int32

f32 = (np.arange(16, dtype=np.float32) - 3.0).reshape(2, 8)  # ggml ne = [8, 2]
w.add_tensor("a.weight", f32)
q8 = np.array([(i * 7 + 1) % 256 for i in range(2 * 34)], dtype=np.uint8).reshape(2, 34)
w.add_tensor("b.weight", q8, raw_dtype=gguf.GGMLQuantizationType.Q8_0)  # ne = [32, 2]
i8 = np.arange(5, dtype=np.int8)
w.add_tensor("c.bias", i8)

w.write_header_to_file()
w.write_kv_data_to_file()
w.write_tensors_to_file()
w.close()
