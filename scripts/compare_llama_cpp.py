#!/usr/bin/env python3
"""loom and llama.cpp side by side, in one run, on the same GGUF and the same machine.

  scripts/compare_llama_cpp.py perplexity -m MODEL.gguf -f TEXT [--ctx 512] [-t 2]
  scripts/compare_llama_cpp.py speed -m MODEL.gguf [-p 512] [-n 128] [-t 2] [--reps 3]

Run it with the llama.cpp venv's python (scripts/llama_cpp.sh prints it); LOOM_BIN or --loom
names the loom binary (default build/tools/loom/loom).

perplexity: llama.cpp's perplexity tool's method, computed through llama-cpp-python's logits:
the text is tokenized with BOS, cut into non-overlapping windows of --ctx tokens (the tail that
does not fill a window is dropped), each window is evaluated from an empty cache with its first
token replaced by BOS, and the negative log-likelihood of the second half of each window is
averaged. loom perplexity does the same; both numbers are printed with their difference.

speed: prefill of a -p token prompt and greedy decode of -n tokens, best of --reps, for
llama.cpp (llama-cpp-python, same thread count) and for `loom bench`.
"""
import argparse
import json
import math
import os
import subprocess
import sys
import time

import numpy as np


def loom_bin(args):
    return args.loom or os.environ.get("LOOM_BIN") or os.path.join(
        os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "build", "tools", "loom",
        "loom")


def llama(args, n_ctx, logits_all):
    from llama_cpp import Llama
    return Llama(model_path=args.model, n_ctx=n_ctx, n_batch=n_ctx, n_ubatch=n_ctx,
                 n_threads=args.threads, n_threads_batch=args.threads, logits_all=logits_all,
                 verbose=False)


def log_softmax_at(row, tok):
    row = row.astype(np.float64)
    m = row.max()
    return row[tok] - m - math.log(np.exp(row - m).sum())


def llama_perplexity(args):
    text = open(args.file, encoding="utf-8").read()
    llm = llama(args, args.ctx, True)
    tokens = llm.tokenize(text.encode("utf-8"), add_bos=True, special=False)
    n_ctx = args.ctx
    chunks = len(tokens) // n_ctx
    nll, count = 0.0, 0
    t0 = time.time()
    for c in range(chunks):
        window = list(tokens[c * n_ctx:(c + 1) * n_ctx])
        window[0] = llm.token_bos()
        llm.reset()
        llm.eval(window)
        scores = np.array(llm.scores[:n_ctx])
        for j in range(n_ctx // 2, n_ctx - 1):
            nll -= log_softmax_at(scores[j], tokens[c * n_ctx + j + 1])
            count += 1
    return {"tokens": len(tokens), "chunks": chunks, "ppl": math.exp(nll / count),
            "seconds": time.time() - t0}


def cmd_perplexity(args):
    ref = llama_perplexity(args)
    r = subprocess.run([loom_bin(args), "perplexity", "-m", args.model, "-f", args.file, "--ctx",
                        str(args.ctx), "-t", str(args.threads), "--json"],
                       capture_output=True, text=True)
    if r.returncode != 0:
        sys.exit(f"loom perplexity failed: {r.stderr}")
    ours = json.loads(r.stdout)
    diff = 100.0 * (ours["ppl"] - ref["ppl"]) / ref["ppl"]
    print(json.dumps({"llama_cpp": ref, "loom": ours, "difference_percent": diff}, indent=2))


def cmd_speed(args):
    llm = llama(args, args.prompt + args.gen + 16, False)
    rng = np.random.default_rng(0)
    prompt = [llm.token_bos()] + [int(t) for t in rng.integers(1000, 20000, args.prompt - 1)]
    best_p, best_d = 1e9, 1e9
    for _ in range(args.reps):
        llm.reset()
        t0 = time.perf_counter()
        llm.eval(prompt)
        t1 = time.perf_counter()
        tok = int(np.argmax(llm.scores[llm.n_tokens - 1]))
        for _ in range(args.gen):
            llm.eval([tok])
            tok = int(np.argmax(llm.scores[llm.n_tokens - 1]))
        t2 = time.perf_counter()
        best_p, best_d = min(best_p, t1 - t0), min(best_d, t2 - t1)
    ref = {"prefill_tok_s": args.prompt / best_p, "decode_tok_s": args.gen / best_d}
    r = subprocess.run([loom_bin(args), "bench", "-m", args.model, "-p", str(args.prompt), "-n",
                        str(args.gen), "-t", str(args.threads), "--reps", str(args.reps),
                        "--json"], capture_output=True, text=True)
    if r.returncode != 0:
        sys.exit(f"loom bench failed: {r.stderr}")
    ours = json.loads(r.stdout)
    print(json.dumps({"threads": args.threads, "prompt": args.prompt, "gen": args.gen,
                      "llama_cpp": ref, "loom": ours}, indent=2))


def main():
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("mode", choices=["perplexity", "speed"])
    p.add_argument("-m", "--model", required=True)
    p.add_argument("-f", "--file")
    p.add_argument("--ctx", type=int, default=512)
    p.add_argument("-t", "--threads", type=int, default=2)
    p.add_argument("-p", "--prompt", type=int, default=512)
    p.add_argument("-n", "--gen", type=int, default=128)
    p.add_argument("--reps", type=int, default=3)
    p.add_argument("--loom")
    args = p.parse_args()
    if args.mode == "perplexity":
        if not args.file:
            p.error("perplexity needs -f TEXT")
        cmd_perplexity(args)
    else:
        cmd_speed(args)


if __name__ == "__main__":
    main()
