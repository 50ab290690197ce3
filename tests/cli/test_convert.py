"""`loom convert`: HF fixtures -> GGUF checked with gguf-py (llama.cpp's own name map and type
rules), loom's tokenizer on the GGUF vs tokenizer.json, llama.cpp itself when it is installed
(scripts/llama_cpp.sh), random models, and the errors."""
import json
import os
import struct
import subprocess

import gguf
import numpy as np
import pytest

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
FIXTURES = os.path.join(ROOT, "tests", "fixtures", "models")
GOLDENS = os.path.join(ROOT, "tests", "fixtures", "goldens", "text")
LLAMA_PY = os.path.join(ROOT, ".cache", "venv-llama", "bin", "python")

ARCH = {"tiny-gemma4": "gemma4", "tiny-gemma4-bf16": "gemma4", "tiny-gemma3": "gemma3"}
GGML = {"F32": 0, "F16": 1, "Q8_0": 8}


def read_safetensors(path):
    """{name: np.ndarray} (F32/BF16/F16) without the safetensors package."""
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(n))
        data = f.read()
    out = {}
    for name, t in header.items():
        if name == "__metadata__":
            continue
        b, e = t["data_offsets"]
        raw = np.frombuffer(data[b:e], dtype={"F32": np.float32, "F16": np.float16,
                                              "BF16": np.uint16}[t["dtype"]])
        if t["dtype"] == "BF16":
            raw = (raw.astype(np.uint32) << 16).view(np.float32)
        out[name] = raw.astype(np.float32).reshape(t["shape"])
    return out


def convert(loom, tmp_path, name, typ):
    out = tmp_path / f"{name}-{typ}.gguf"
    r = loom("convert", "-m", os.path.join(FIXTURES, name), "-o", out, "--type", typ)
    assert r.returncode == 0, r.stderr
    assert f"arch {ARCH[name]}" in r.stdout
    assert not os.path.exists(str(out) + ".tmp")
    return out


@pytest.mark.parametrize("name", ["tiny-gemma4", "tiny-gemma4-bf16", "tiny-gemma3"])
@pytest.mark.parametrize("typ", ["F32", "F16", "Q8_0"])
def test_convert_matches_llama_cpp_conventions(loom, tmp_path, name, typ):
    out = convert(loom, tmp_path, name, typ)
    reader = gguf.GGUFReader(str(out))
    arch = ARCH[name]
    assert reader.fields["general.architecture"].contents() == arch
    cfg = json.load(open(os.path.join(FIXTURES, name, "config.json")))
    text = cfg.get("text_config", cfg)
    n_layers = text["num_hidden_layers"]
    assert reader.fields[f"{arch}.block_count"].contents() == n_layers

    # Names: gguf-py's tensor map (what convert_hf_to_gguf.py uses) applied to the checkpoint.
    src = read_safetensors(os.path.join(FIXTURES, name, "model.safetensors"))
    model_arch = {"gemma4": gguf.MODEL_ARCH.GEMMA4, "gemma3": gguf.MODEL_ARCH.GEMMA3}[arch]
    tmap = gguf.get_tensor_name_map(model_arch, n_layers)
    want = {}
    for hf_name, arr in src.items():
        if hf_name.startswith(("model.vision_embedder.", "model.embed_vision.",
                               "model.embed_audio.")):
            continue  # multimodal embedders: mmproj, a later issue
        # convert_hf_to_gguf.py drops "language_model." and names the scalar "*.weight".
        key = hf_name.replace("model.language_model.", "model.")
        key = key + ".weight" if key.endswith("layer_scalar") else key
        gname = tmap.get_name(key, try_suffixes=(".weight",))
        assert gname is not None, hf_name
        want[gname] = arr  # get_name keeps the suffix
    if arch == "gemma4":
        want["rope_freqs.weight"] = None
    tensors = {t.name: t for t in reader.tensors}
    assert set(tensors) == set(want)
    allowed = {gguf.TENSOR_NAMES[t] for t in gguf.MODEL_TENSORS[model_arch]}
    for gname, arr in want.items():
        t = tensors[gname]
        base = gname[: -len(".weight")]
        parts = base.split(".")
        if parts[0] == "blk":
            parts[1] = "{bid}"
        assert ".".join(parts) in allowed, gname  # a tensor llama.cpp's arch declares
        if arr is None:
            continue
        assert list(t.shape) == list(reversed(arr.shape)) or arr.ndim == 0, gname
        # convert_hf_to_gguf.py: 1-D tensors and *_norm.weight stay F32.
        if arr.ndim <= 1 or gname.endswith("_norm.weight"):
            assert t.tensor_type == 0, gname
        else:
            assert t.tensor_type == GGML[typ], gname
        if t.tensor_type == 0:
            got = np.asarray(t.data, dtype=np.float32).reshape(arr.shape)
            shift = 1.0 if arch == "gemma3" and gname.endswith("norm.weight") else 0.0
            np.testing.assert_array_equal(got, arr + np.float32(shift))


@pytest.mark.parametrize("name", ["tiny-gemma4", "tiny-gemma3"])
def test_tokenizer_from_gguf_encodes_like_tokenizer_json(loom, tmp_path, name):
    out = convert(loom, tmp_path, name, "F16")
    hf = os.path.join(FIXTURES, name)
    for text in ["Hello world, this is a test.", "  two  spaces\n\nand\tlines\n",
                 "ünïcödé 日本語 🦙 123", "<|turn>user\nHi<turn|>", "<unused0><bos>x"]:
        for extra in ([], ["--special"]):
            a = loom("tokenize", "-m", hf, "--ids", *extra, text)
            b = loom("tokenize", "-m", out, "--ids", *extra, text)
            assert a.returncode == 0 and b.returncode == 0, a.stderr + b.stderr
            assert a.stdout == b.stdout, (text, extra)


@pytest.mark.parametrize("name", ["tiny-gemma4", "tiny-gemma3"])
def test_llama_cpp_loads_and_matches_the_goldens(loom, tmp_path, name):
    if not os.path.exists(LLAMA_PY):
        pytest.skip("llama.cpp not installed (scripts/llama_cpp.sh)")
    out = convert(loom, tmp_path, name, "F32")
    ids = json.load(open(os.path.join(GOLDENS, "index.json")))["prompt"]["ids"]
    golden = read_safetensors(os.path.join(GOLDENS, f"{name}.safetensors"))["logits"]
    script = (
        "import sys, json, numpy as np, llama_cpp\n"
        "m = llama_cpp.Llama(model_path=sys.argv[1], n_ctx=128, verbose=False, logits_all=True)\n"
        "ids = json.loads(sys.argv[2]); m.eval(ids)\n"
        "np.save(sys.argv[3], np.array(m.scores[:len(ids)], dtype=np.float32))\n")
    npy = tmp_path / "lc.npy"
    r = subprocess.run([LLAMA_PY, "-c", script, str(out), json.dumps(ids), str(npy)],
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr[-2000:]
    got = np.load(npy)
    nmse = float(((got - golden) ** 2).sum() / (golden ** 2).sum())
    # llama.cpp keeps its KV cache in F16: ~1e-6 here; a wrong name, norm or RoPE is >1e-2.
    assert nmse < 1e-4, nmse
    assert (got.argmax(-1) == golden.argmax(-1)).mean() >= 0.95


def test_random_model(loom, tmp_path):
    cfg = os.path.join(FIXTURES, "tiny-gemma4", "config.json")
    a, b = tmp_path / "a.gguf", tmp_path / "b.gguf"
    for out, threads in ((a, 1), (b, 3)):
        r = loom("convert", "--random", "--config", cfg, "-o", out, "--type", "Q8_0", "--seed", 5,
                 "--threads", threads, "--quiet")
        assert r.returncode == 0, r.stderr
    assert a.read_bytes() == b.read_bytes()  # the seed alone decides the bytes
    reader = gguf.GGUFReader(str(a))
    assert reader.fields["general.architecture"].contents() == "gemma4"
    assert len(reader.fields["tokenizer.ggml.tokens"].data) == 1024
    # The synthetic vocabulary encodes any text through byte fallback and decodes it back.
    r = loom("tokenize", "-m", a, "--ids", "Hi é")
    assert r.returncode == 0, r.stderr
    ids = r.stdout.split()
    assert len(ids) == 5  # H, i, the space piece, the two bytes of é
    r = loom("detokenize", "-m", a, *ids)
    assert r.returncode == 0 and r.stdout == "Hi é", r.stderr
    # With a real tokenizer, taken from a GGUF.
    src = convert(loom, tmp_path, "tiny-gemma4", "F16")
    r = loom("convert", "--random", "--config", cfg, "-o", tmp_path / "c.gguf", "--type", "BF16",
             "--tokenizer", src, "--quiet")
    assert r.returncode == 0, r.stderr
    a = loom("tokenize", "-m", tmp_path / "c.gguf", "--ids", "Hello world")
    b = loom("tokenize", "-m", src, "--ids", "Hello world")
    assert a.stdout == b.stdout


@pytest.mark.parametrize("args, message", [
    (["--type", "Q3_K"], "'Q3_K' is not supported"),
    (["--type", "F16", "-m", "/nonexistent/dir"], "is not a directory"),
    (["--type", "F16"], "-m HF_DIR is required"),
    (["--type", "F16", "--random"], "--random needs --config"),
    (["-m", "x"], "--type is required"),
])
def test_bad_inputs(loom, tmp_path, args, message):
    if "-m" not in args and "--random" not in args and "--type" in args and "Q3_K" in args:
        args = args + ["-m", os.path.join(FIXTURES, "tiny-gemma4")]
    r = loom("convert", "-o", tmp_path / "x.gguf", *args)
    assert r.returncode != 0
    assert message in r.stderr, r.stderr
    assert not (tmp_path / "x.gguf").exists()


def test_non_gemma_config(loom, tmp_path):
    d = tmp_path / "llama"
    d.mkdir()
    (d / "config.json").write_text(json.dumps({"model_type": "llama", "hidden_size": 64}))
    r = loom("convert", "-m", d, "-o", tmp_path / "x.gguf", "--type", "F16")
    assert r.returncode == 1
    assert "llama" in r.stderr and "model_type" in r.stderr, r.stderr
    r = loom("convert", "--random", "--config", d / "config.json", "-o", tmp_path / "x.gguf",
             "--type", "Q8_0")
    assert r.returncode == 1
    assert "llama" in r.stderr, r.stderr
    (d / "config.json").unlink()
    r = loom("convert", "-m", d, "-o", tmp_path / "x.gguf", "--type", "F16")
    assert r.returncode == 1 and "config.json" in r.stderr and "not found" in r.stderr, r.stderr
