"""`loom run`, `loom bench -m` and `loom perplexity` end to end on the real Gemma 3 270M GGUF and
the tiny fixture checkpoints, and their errors on bad input."""
import json
import math
import os

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
TINY_G4 = os.path.join(ROOT, "tests", "fixtures", "models", "tiny-gemma4")
TEXT = os.path.join(ROOT, "tests", "fixtures", "text", "kjv-genesis-1-30.txt")


def test_run_greedy_is_on_topic_and_deterministic(loom, gemma3_gguf):
    args = ("run", "-m", gemma3_gguf, "-p", "Paris is the capital of", "-n", "8", "--temp", "0",
            "-t", "2")
    r = loom(*args)
    assert r.returncode == 0, r.stderr
    assert "France" in r.stdout
    assert "tok/s" in r.stderr
    assert loom(*args).stdout == r.stdout


def test_run_sampling_same_seed_same_text(loom, gemma3_gguf):
    args = ("run", "-m", gemma3_gguf, "-p", "Once upon a time", "-n", "16", "--temp", "0.9",
            "--top-k", "40", "--top-p", "0.95", "-t", "1")
    a = loom(*args, "--seed", "7")
    b = loom(*args, "--seed", "7")
    assert a.returncode == 0, a.stderr
    assert a.stdout == b.stdout


def test_run_stop_string(loom, gemma3_gguf):
    r = loom("run", "-m", gemma3_gguf, "-p", "Paris is the capital of", "-n", "16", "--temp",
             "0", "--stop", "France")
    assert r.returncode == 0, r.stderr
    assert "France" not in r.stdout


def test_run_hf_directory(loom):
    r = loom("run", "-m", TINY_G4, "-p", "hello", "-n", "4", "--temp", "0", "-v")
    assert r.returncode == 0, r.stderr
    assert "gemma4_unified" in r.stderr


@pytest.mark.parametrize("args, needle", [
    (("-p", ""), "prompt is empty"),
    (("-p", "one two three four five six", "--ctx", "4"), "max_context 4"),
    (("-p", "hi", "--temp", "-1"), "--temp"),
    (("-p", "hi", "--top-p", "0"), "--top-p"),
    (("-p", "hi", "--cache-type", "q9"), "q9"),
])
def test_run_rejects_bad_input(loom, gemma3_gguf, args, needle):
    r = loom("run", "-m", gemma3_gguf, *args)
    assert r.returncode != 0
    assert needle in r.stderr


def test_run_rejects_other_architecture(loom, tmp_path):
    gguf = pytest.importorskip("gguf")
    import numpy as np
    path = str(tmp_path / "llama.gguf")
    w = gguf.GGUFWriter(path, "llama")
    w.add_block_count(1)
    w.add_tensor("token_embd.weight", np.zeros((8, 32), dtype=np.float32))
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    r = loom("run", "-m", path, "-p", "hi")
    assert r.returncode != 0
    assert "llama" in r.stderr


def test_bench_model_json(loom, gemma3_gguf):
    r = loom("bench", "-m", gemma3_gguf, "-p", "32", "-n", "4", "--reps", "1", "-t", "2",
             "--json")
    assert r.returncode == 0, r.stderr
    j = json.loads(r.stdout)
    assert j["prompt_tokens"] == 32 and j["gen_tokens"] == 4
    assert j["prefill_tok_s"] > 0 and j["decode_tok_s"] > 0 and j["peak_rss_mib"] > 0


def test_perplexity_json(loom, gemma3_gguf):
    r = loom("perplexity", "-m", gemma3_gguf, "-f", TEXT, "--ctx", "128", "--chunks", "2",
             "--json", "-t", "2")
    assert r.returncode == 0, r.stderr
    j = json.loads(r.stdout)
    assert j["chunks"] == 2 and j["scored_tokens"] == 2 * 63
    # A real model on English prose: far better than chance (262144), far from perfect.
    assert 1.5 < j["ppl"] < 200 and math.isfinite(j["ppl"])


def test_perplexity_text_too_short(loom, gemma3_gguf, tmp_path):
    p = tmp_path / "short.txt"
    p.write_text("In the beginning.")
    r = loom("perplexity", "-m", gemma3_gguf, "-f", str(p), "--ctx", "512")
    assert r.returncode != 0
    assert "fewer than one window" in r.stderr
