"""`loom inspect` end to end: the published 12B metadata, the real Gemma 3 270M GGUF, errors."""
import json
import os

import gguf
import pytest


def test_12b_config_only_plan(loom, shared_dir):
    d = os.path.join(shared_dir, "reference", "gemma-4-12B-it")
    r = loom("inspect", d, "--ctx", 262144)
    assert r.returncode == 0, r.stderr
    out = r.stdout
    assert "11.96B (11959730224, from the config)" in out
    assert "48 layers (40 sliding, 8 full)" in out
    assert "320.00 MiB" in out  # 40 sliding layers x 1024 positions x 8 x 256 x 2 (K,V) x 2 B
    assert "4.00 GiB" in out    # 8 full layers x 262144 x (512 K + 512 V) x 2 B


def test_12b_json(loom, shared_dir):
    d = os.path.join(shared_dir, "reference", "gemma-4-12B-it")
    r = loom("inspect", d, "--json")
    assert r.returncode == 0, r.stderr
    j = json.loads(r.stdout)
    assert j["format"] == "hf-config"
    assert j["config_params"]["total"] == 11959730224
    assert j["config_params"]["embedding"] == 262144 * 3840
    plan = j["memory_plan"]
    assert plan["ctx"] == 262144  # default: the model's maximum context
    assert plan["kv_sliding_bytes"] == 40 * 1024 * 8 * 256 * 2 * 2
    assert plan["kv_full_bytes"] == 8 * 262144 * 2 * 512 * 2
    # Weight sizes: BF16 is 2 bytes per parameter; Q8_0 is 34/32 bytes for matrices and F32 for
    # norms; Q4_K 144/256 (the 640-wide audio projection cannot use 256-blocks: Q8_0).
    assert j["weights_as"]["bf16"] == 2 * 11959730224
    assert 0.52 < j["weights_as"]["q8_0"] / j["weights_as"]["bf16"] < 0.54
    assert 0.28 < j["weights_as"]["q4_k"] / j["weights_as"]["bf16"] < 0.29
    layers = j["config"]["layers"]
    assert [i for i, l in enumerate(layers) if l["type"] == "full"] == list(range(5, 48, 6))
    assert all(l["head_dim"] == 512 and l["num_kv_heads"] == 1 and l["k_eq_v"]
               for l in layers if l["type"] == "full")
    assert all(l["head_dim"] == 256 and l["num_kv_heads"] == 8 and not l["k_eq_v"]
               for l in layers if l["type"] == "sliding")
    assert j["tokenizer"]["has_chat_template"] is True


def test_12b_q8_cache(loom, shared_dir):
    d = os.path.join(shared_dir, "reference", "gemma-4-12B-it")
    r = loom("inspect", d, "--ctx", 4096, "--cache-type", "q8_0", "--json")
    assert r.returncode == 0, r.stderr
    plan = json.loads(r.stdout)["memory_plan"]
    assert plan["kv_full_bytes"] == 8 * 4096 * 2 * 512 * 34 // 32


def test_assistant_config(loom, shared_dir):
    d = os.path.join(shared_dir, "reference", "gemma-4-12B-it-assistant")
    r = loom("inspect", d, "--json")
    assert r.returncode == 0, r.stderr
    j = json.loads(r.stdout)
    assert j["config"]["is_drafter"] is True
    assert j["config"]["num_layers"] == 4
    # The drafter reads the target's KV: it stores none of its own.
    assert j["memory_plan"]["kv_sliding_bytes"] == 0
    assert j["memory_plan"]["kv_full_bytes"] == 0
    assert 0.40e9 < j["config_params"]["total"] < 0.44e9


def test_gemma3_gguf_matches_gguf_py(loom, gemma3_gguf):
    r = loom("inspect", gemma3_gguf, "--json")
    assert r.returncode == 0, r.stderr
    j = json.loads(r.stdout)
    reader = gguf.GGUFReader(gemma3_gguf)
    assert j["format"] == "gguf"
    assert j["tensor_count"] == len(reader.tensors)
    assert j["params"] == sum(int(t.n_elements) for t in reader.tensors)
    assert j["weight_bytes"] == sum(int(t.n_bytes) for t in reader.tensors)
    by = {d["dtype"]: d["tensors"] for d in j["dtypes"]}
    want = {}
    for t in reader.tensors:
        want[t.tensor_type.name] = want.get(t.tensor_type.name, 0) + 1
    assert by == want
    c = j["config"]
    assert c["architecture"] == "gemma3"
    assert c["hidden_size"] == 640 and c["num_layers"] == 18 and c["num_heads"] == 4
    assert c["vocab_size"] == 262144
    tok = j["tokenizer"]
    assert tok["vocab_size"] == 262144 and tok["bos_id"] == 2 and tok["eos_id"] == 1
    assert tok["bos"] == "<bos>" and tok["eos"] == "<eos>"


def test_gguf_recognized_by_magic(loom, gemma3_gguf, tmp_path):
    # Ollama's blob store names GGUF files sha256-<hash>, without an extension.
    blob = tmp_path / "sha256-0123abcd"
    blob.symlink_to(gemma3_gguf)
    r = loom("inspect", blob, "--json")
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["format"] == "gguf"
    other = tmp_path / "notes.txt"
    other.write_text("hello")
    r = loom("inspect", other)
    assert r.returncode == 1 and "cannot tell the format" in r.stderr


def test_gemma3_gguf_text(loom, gemma3_gguf):
    r = loom("inspect", gemma3_gguf, "--ctx", 2048)
    assert r.returncode == 0, r.stderr
    assert "Gemma 3 270m" in r.stdout
    assert "memory plan at 2048 tokens of context" in r.stdout


@pytest.mark.parametrize("args,needle", [
    ([], "expected one PATH"),
    (["--ctx", "abc", "x"], "--ctx: 'abc' is not a non-negative integer"),
    (["--ctx", "-5", "x"], "--ctx: '-5' is not a non-negative integer"),
    (["--ctx", "0", "x"], "--ctx: value 0 is outside the range [1, 16777216]"),
    (["--ctx", "99999999999", "x"], "outside the range"),
    (["--cache-type", "q3", "x"], "--cache-type: unknown value 'q3'"),
    (["--frobnicate", "x"], "unknown flag '--frobnicate'"),
])
def test_bad_flags(loom, args, needle):
    r = loom("inspect", *args)
    assert r.returncode == 2
    assert needle in r.stderr


def test_missing_and_corrupt_files(loom, tmp_path):
    r = loom("inspect", tmp_path / "nope.gguf")
    assert r.returncode == 1 and "no such file" in r.stderr
    bad = tmp_path / "bad.gguf"
    bad.write_bytes(b"GGUF\x03\x00\x00\x00" + b"\xff" * 16)
    r = loom("inspect", bad)
    assert r.returncode == 1 and "DataLoss" in r.stderr
    st = tmp_path / "bad.safetensors"
    st.write_bytes(b"\x10\x00\x00\x00\x00\x00\x00\x00{\"a\":1,\"a\":2}   ")
    r = loom("inspect", st)
    assert r.returncode == 1 and "duplicate key" in r.stderr
    (tmp_path / "empty").mkdir()
    r = loom("inspect", tmp_path / "empty")
    assert r.returncode == 1 and "neither config.json" in r.stderr
