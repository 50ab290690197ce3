"""`loom bench roofline` and `loom bench kernels`: they run, print well-formed JSON with
positive figures, and reject bad flags with a message naming the flag. (Speeds are never
asserted: this only checks the tools work.)"""
import json


def test_roofline_json(loom):
    r = loom("bench", "roofline", "-t", "2", "--mib", "16", "--seconds", "0", "--json")
    assert r.returncode == 0, r.stderr
    j = json.loads(r.stdout)
    assert j["threads"] == 2
    assert j["read_gb_s"] > 0 and j["fma_gflop_s"] > 0
    assert j["target"]


def test_kernels_json_attention_and_ops(loom):
    r = loom("bench", "kernels", "-t", "1", "--only", "attention,ops", "--mib", "16",
             "--seconds", "0", "--json", timeout=300)
    assert r.returncode == 0, r.stderr
    j = json.loads(r.stdout)
    kernels = {x["kernel"] for x in j["results"]}
    assert kernels == {"attention", "argmax", "rmsnorm", "geglu"}
    for x in j["results"]:
        assert x["ms"] > 0 and x["gb_s"] > 0 and x["pct_bandwidth"] > 0


def test_kernels_decode_one_format_table(loom):
    r = loom("bench", "kernels", "-t", "2", "--only", "decode", "--formats", "q4_0",
             "--mib", "16", "--seconds", "0", timeout=600)
    assert r.returncode == 0, r.stderr
    lines = [l for l in r.stdout.splitlines() if l.startswith("decode")]
    assert len(lines) == 8  # the 8 matrix shapes of the 12B, output layer included
    assert all(" Q4_0 " in l for l in lines)


def test_kernels_rejects_bad_flags(loom):
    r = loom("bench", "kernels", "--formats", "q4_k,q9_9")
    assert r.returncode == 2
    assert "--formats" in r.stderr and "q9_9" in r.stderr
    r = loom("bench", "kernels", "--only", "decode,everything")
    assert r.returncode == 2
    assert "--only" in r.stderr and "everything" in r.stderr
    r = loom("bench", "kernels", "--target", "NOPE")
    assert r.returncode == 2
    assert "--target" in r.stderr and "NOPE" in r.stderr
    r = loom("bench", "kernels", "--seconds", "abc")
    assert r.returncode == 2 and "--seconds" in r.stderr
