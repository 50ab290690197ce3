"""`loom tokenize`, `loom detokenize` and `loom bench tokenizer` end to end on the real Gemma 3
270M GGUF (and on the HF tokenizer.json of the goldens when it has been generated)."""
import json
import os
import subprocess

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
FIXTURES = os.path.join(ROOT, "tests", "fixtures", "tokenizer")
HF_DIR = os.path.join(ROOT, ".cache", "fixtures", "gemma3-270m-tokenizer")


def run_stdin(args, data):
    """Runs loom with `data` (bytes) on standard input."""
    return subprocess.run([os.environ["LOOM_BIN"], *map(str, args)], input=data,
                          capture_output=True, timeout=120)


def golden_lines(n):
    with open(os.path.join(FIXTURES, "corpus.jsonl"), encoding="utf-8") as f:
        texts = [json.loads(line) for line in f.read().split("\n") if line]
    with open(os.path.join(FIXTURES, "gemma3_ids.jsonl"), encoding="utf-8") as f:
        recs = [json.loads(line) for line in f.read().split("\n") if line]
    return list(zip(texts, recs))[:n]


def test_ids(loom, gemma3_gguf):
    r = loom("tokenize", "-m", gemma3_gguf, "--ids", "Hello world")
    assert r.returncode == 0, r.stderr
    assert r.stdout == "9259 1902\n"


def test_default_output_is_id_and_piece(loom, gemma3_gguf):
    r = loom("tokenize", "-m", gemma3_gguf, "Hello world\n")
    assert r.returncode == 0, r.stderr
    assert r.stdout.splitlines() == ['9259\t"Hello"', '1902\t"▁world"', '107\t"\\n"']


def test_pieces(loom, gemma3_gguf):
    r = loom("tokenize", "-m", gemma3_gguf, "--pieces", "a  b")
    assert r.returncode == 0, r.stderr
    assert r.stdout == '"a" "▁▁" "b"\n'


def test_special_parsing_is_off_by_default(loom, gemma3_gguf):
    text = "<start_of_turn>user"
    off = loom("tokenize", "-m", gemma3_gguf, "--ids", text)
    on = loom("tokenize", "-m", gemma3_gguf, "--ids", "--special", text)
    assert off.returncode == 0 and on.returncode == 0, off.stderr + on.stderr
    assert on.stdout == "105 2364\n"
    assert "105" not in off.stdout.split()


def test_bos(loom, gemma3_gguf):
    r = loom("tokenize", "-m", gemma3_gguf, "--ids", "--bos", "Hello")
    assert r.returncode == 0, r.stderr
    assert r.stdout == "2 9259\n"


def test_stdin_is_read_as_is(gemma3_gguf):
    r = run_stdin(["tokenize", "-m", gemma3_gguf, "--ids", "-"], "Hello world\n".encode())
    assert r.returncode == 0, r.stderr
    assert r.stdout == b"9259 1902 107\n"


def test_invalid_utf8_is_an_error(gemma3_gguf):
    r = run_stdin(["tokenize", "-m", gemma3_gguf, "-"], b"ab\xff")
    assert r.returncode == 1
    assert b"invalid UTF-8 at byte offset 2" in r.stderr


@pytest.mark.parametrize("text", ["Hello world", "  leading and trailing  ", "日本語のテキスト",
                                  "emoji 😀 and \U000F0000", "tabs\tand\n\nnewlines\n",
                                  "<start_of_turn>user\n<end_of_turn>"])
def test_round_trip(loom, gemma3_gguf, text):
    ids = loom("tokenize", "-m", gemma3_gguf, "--ids", text)
    assert ids.returncode == 0, ids.stderr
    r = loom("detokenize", "-m", gemma3_gguf, *ids.stdout.split())
    assert r.returncode == 0, r.stderr
    assert r.stdout == text


def test_detokenize_forms(loom, gemma3_gguf):
    assert loom("detokenize", "-m", gemma3_gguf, "9259,1902").stdout == "Hello world"
    assert loom("detokenize", "-m", gemma3_gguf, "9259", "1902").stdout == "Hello world"
    assert loom("detokenize", "-m", gemma3_gguf, "2", "9259").stdout == "<bos>Hello"
    assert loom("detokenize", "-m", gemma3_gguf, "--skip-special", "2,9259").stdout == "Hello"
    # U+F0000 has no token: byte fallback <0xF3><0xB0><0x80><0x80>, and <0x00> is id 238.
    r = run_stdin(["detokenize", "-m", gemma3_gguf, "-"], b"481 414\n366,366\n")
    assert r.returncode == 0, r.stderr
    assert r.stdout == "\U000F0000".encode()


def test_detokenize_errors(loom, gemma3_gguf):
    r = loom("detokenize", "-m", gemma3_gguf, "262144")
    assert r.returncode == 1
    assert "outside the vocabulary of 262144" in r.stderr
    r = loom("detokenize", "-m", gemma3_gguf, "12x")
    assert r.returncode == 2
    assert "'12x' is not a token id" in r.stderr


def test_usage_errors(loom, gemma3_gguf, tmp_path):
    assert loom("tokenize", "hello").returncode == 2
    assert loom("tokenize", "-m", gemma3_gguf).returncode == 2
    assert loom("tokenize", "-m", gemma3_gguf, "--ids", "--pieces", "x").returncode == 2
    r = loom("tokenize", "-m", str(tmp_path / "missing.gguf"), "x")
    assert r.returncode == 1
    assert "no such file" in r.stderr


def test_matches_goldens(loom, gemma3_gguf):
    # The CLI parses no special tokens: it must give the reference's split_special_tokens ids.
    for text, rec in golden_lines(100):
        expected = rec["ids_split_special"] if rec["ids_split_special"] is not None else rec["ids"]
        r = run_stdin(["tokenize", "-m", gemma3_gguf, "--ids", "-"], text.encode())
        assert r.returncode == 0, r.stderr
        assert [int(x) for x in r.stdout.split()] == expected, repr(text)


def test_tokenizer_json_and_model_dir(loom, gemma3_gguf):
    if not os.path.exists(os.path.join(HF_DIR, "tokenizer.json")):
        pytest.skip("the goldens' tokenizer.json has not been generated (make fixtures)")
    for model in (HF_DIR, os.path.join(HF_DIR, "tokenizer.json")):
        r = loom("tokenize", "-m", model, "--ids", "Hello world <start_of_turn>")
        g = loom("tokenize", "-m", gemma3_gguf, "--ids", "Hello world <start_of_turn>")
        assert r.returncode == 0, r.stderr
        assert r.stdout == g.stdout


def test_bench_tokenizer(loom, gemma3_gguf, tmp_path):
    text = tmp_path / "text.txt"
    text.write_text("\n".join(t for t, _ in golden_lines(300)), encoding="utf-8")
    r = loom("bench", "tokenizer", "-m", gemma3_gguf, text, "--json", "--seconds", 0)
    assert r.returncode == 0, r.stderr
    j = json.loads(r.stdout)
    assert j["threads"] == 1
    assert j["tokens"] > 0 and j["bytes"] == text.stat().st_size
    assert j["encode_mb_s"] > 0 and j["encode_lines_mb_s"] > 0 and j["decode_mb_s"] > 0
    assert j["load_ms"] > 0
    r = loom("bench", "tokenizer", "-m", gemma3_gguf, text, "--seconds", 0)
    assert r.returncode == 0, r.stderr
    assert "encode (lines):" in r.stdout and "decode:" in r.stdout


def test_bench_usage(loom):
    assert loom("bench").returncode == 2
    r = loom("bench", "nonsense")
    assert r.returncode == 2
    assert "unknown mode 'nonsense'" in r.stderr
    assert loom("bench", "--help").returncode == 0
