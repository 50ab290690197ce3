"""The committed tiny checkpoints load through loom's readers, and what loom derives from their
config (parameter count, tensor names and shapes) matches the tensors transformers saved."""
import json
import os
import subprocess

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
TINY = ["tiny-gemma4", "tiny-gemma4-bf16", "tiny-gemma4-assistant", "tiny-gemma3"]


def model_dir(name):
    return subprocess.run([os.path.join(ROOT, "scripts", "models.sh"), name], check=True,
                          capture_output=True, text=True).stdout.strip()


@pytest.mark.parametrize("name", TINY)
def test_tiny_model_inspects_consistently(loom, name):
    r = loom("inspect", model_dir(name), "--json", "--ctx", 64)
    assert r.returncode == 0, r.stderr
    j = json.loads(r.stdout)
    assert j["format"] == "hf-directory"
    assert "config" in j, j.get("config_error")
    # The parameter count computed from the config alone equals the elements actually stored.
    assert j["config_params"]["total"] == j["params"]
    assert j["tokenizer"]["vocab_size"] == j["config"]["vocab_size"] == 1024


def test_tiny_gemma4_keeps_the_12b_structure(loom, shared_dir):
    tiny = json.loads(loom("inspect", model_dir("tiny-gemma4"), "--json").stdout)["config"]
    real = json.loads(loom("inspect", os.path.join(shared_dir, "reference", "gemma-4-12B-it"),
                           "--json").stdout)["config"]
    assert tiny["architecture"] == real["architecture"] == "gemma4_unified"
    assert tiny["vision"] and tiny["audio"]

    def pattern(c):
        return [(l["type"], l["k_eq_v"], l["kv_shared"]) for l in c["layers"]]

    # The same 5:1 rule, ending with a full layer; full layers have twice the head dim and one
    # KV head, as in the 12B.
    assert pattern(tiny) == pattern(real)[: len(tiny["layers"])]
    assert tiny["layers"][-1]["type"] == "full"
    for c in (tiny, real):
        s = [l for l in c["layers"] if l["type"] == "sliding"][0]
        f = [l for l in c["layers"] if l["type"] == "full"][0]
        assert f["head_dim"] == 2 * s["head_dim"] and f["num_kv_heads"] == 1
