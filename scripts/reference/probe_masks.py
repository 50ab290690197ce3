#!/usr/bin/env python3
"""Finds out which attention mask the installed transformers actually uses for image/video/audio tokens with
tiny-gemma4, on sliding and full layers, in the paths forward() and generate() take.

Method: a forward pre-hook on every Gemma4UnifiedTextAttention module records the `attention_mask` the layer
receives (for eager: additive float mask, 0 = attend; for sdpa: bool, True = attend). The recorded masks are
compared with candidate rules. Writes tests/fixtures/goldens/mask_probe.json and prints a summary.

    .cache/venv-reference/bin/python scripts/reference/probe_masks.py
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import oracle_common as oc  # noqa: E402
import tiny_tokenizer as tt  # noqa: E402

import torch  # noqa: E402

T = tt.TOKEN_IDS
W = 16  # sliding window of tiny-gemma4


def probe_sequence():
    """bos, text, image block A (20 soft tokens > window), text, image block B (4), text, video frame (3),
    text, audio (5), text. Returns (input_ids[1,L], mm_token_type_ids[1,L], block id per position)."""
    ids, types = [T["bos"], 400, 401, 402], [0, 0, 0, 0]

    def add(n, tok, ty, boundary=True):
        if boundary:
            ids.append(T["boa"] if ty == 3 else T["boi"])
            types.append(0)
        ids.extend([tok] * n)
        types.extend([ty] * n)
        if boundary:
            ids.append(T["eoa"] if ty == 3 else T["eoi"])
            types.append(0)

    add(20, T["image"], 1)
    ids += [410, 411]
    types += [0, 0]
    add(4, T["image"], 1)
    ids += [412]
    types += [0]
    add(3, T["video"], 2)
    ids += [413]
    types += [0]
    add(5, T["audio"], 3)
    ids += [414, 415, 416]
    types += [0, 0, 0]
    return torch.tensor([ids]), torch.tensor([types])


def block_ids(types: torch.Tensor) -> torch.Tensor:
    t = types[0]
    vis = (t == 1) | (t == 2)
    out = torch.full_like(t, -1)
    b = -1
    for i in range(len(t)):
        if vis[i] and (i == 0 or not vis[i - 1]):
            b += 1
        if vis[i]:
            out[i] = b
    return out


def rules(L: int, blk: torch.Tensor, offset: int = 0) -> dict[str, torch.Tensor]:
    """Candidate allowed[q, k] matrices (q = query index in 0..L-1 (+offset), k = key index)."""
    q = torch.arange(L).view(-1, 1) + offset
    k = torch.arange(L + offset).view(1, -1) if offset else torch.arange(L).view(1, -1)
    bq = blk[q.view(-1)].view(-1, 1)
    bk = blk[k.view(-1)].view(1, -1)
    same = (bq == bk) & (bq >= 0)
    causal = k <= q
    win_past = k > q - W  # HF sliding_window_overlay: kv_idx > q_idx - sliding_window (one-sided)
    win_sym = (q - k).abs() < W  # JAX: symmetric
    return {
        "causal": causal,
        "causal_or_block": causal | same,
        "sliding_causal": causal & win_past,
        "sliding_(causal_or_block)_and_window_one_sided": (causal | same) & win_past,
        "sliding_(causal_or_block)_and_window_symmetric": (causal | same) & win_sym,
        "sliding_causal_or_block_unclamped": (causal & win_past) | same,
    }


def to_bool(mask: torch.Tensor | None, q_len: int, kv_len: int) -> torch.Tensor | None:
    if mask is None:
        return None
    m = mask[0, 0] if mask.dim() == 4 else mask
    if m.dtype == torch.bool:
        return m[:q_len, :kv_len].clone()
    return (m[:q_len, :kv_len] == 0).clone()


class Recorder:
    def __init__(self, model):
        self.calls = []
        self.handles = []
        for layer in model.model.language_model.layers:
            attn = layer.self_attn
            self.handles.append(attn.register_forward_pre_hook(self._hook(attn), with_kwargs=True))

    def _hook(self, attn):
        def fn(module, args, kwargs):
            hs = kwargs.get("hidden_states", args[0] if args else None)
            self.calls.append((attn.layer_idx, attn.layer_type, kwargs.get("attention_mask"), hs.shape[1]))

        return fn

    def close(self):
        for h in self.handles:
            h.remove()


def classify(mask_bool: torch.Tensor | None, cands: dict[str, torch.Tensor]) -> list[str]:
    if mask_bool is None:
        return ["None (implicit causal: sdpa is_causal / no mask)"]
    return [name for name, r in cands.items() if r.shape == mask_bool.shape and torch.equal(r, mask_bool)] or [
        "NO CANDIDATE MATCHES"
    ]


def summarize(calls, cands_prefill, L, blk, label):
    """Groups the recorded masks by layer type. Prefill masks (q_len == L) are classified against the candidate
    rules; decode masks (q_len < L) are described by their key length and the allowed keys of the last query."""
    out = {}
    for layer_idx, ltype, mask, q_len in calls:
        if q_len == L:
            key = f"{label}/{ltype}/prefill"
            res = {"matches": classify(to_bool(mask, L, L), cands_prefill),
                   "mask_dtype": None if mask is None else str(mask.dtype)}
        else:
            key = f"{label}/{ltype}/decode"
            if mask is None:
                res = {"kv_len": None, "allowed_keys_of_last_query": "all (mask None)"}
            else:
                mb = to_bool(mask, mask.shape[-2], mask.shape[-1])
                row = mb[-1]
                res = {"kv_len": int(mask.shape[-1]),
                       "allowed_keys_of_last_query": "all" if bool(row.all()) else row.nonzero().view(-1).tolist()}
        out.setdefault(key, {"layers": [], "steps": []})
        out[key]["layers"].append(layer_idx)
        if res not in out[key]["steps"]:
            out[key]["steps"].append(res)
    for v in out.values():
        v["layers"] = sorted(set(v["layers"]))
    return out


def main() -> dict:
    oc.setup_determinism(0)
    from transformers import Gemma4UnifiedForConditionalGeneration

    ids, types = probe_sequence()
    L = ids.shape[1]
    blk = block_ids(types)
    cands = rules(L, blk)
    results = {"sequence": {"input_ids": ids[0].tolist(), "mm_token_type_ids": types[0].tolist(),
                            "vision_block_ids": blk.tolist(), "sliding_window": W}}

    for impl in ("eager", "sdpa"):
        model = Gemma4UnifiedForConditionalGeneration.from_pretrained(
            oc.MODELS_DIR / "tiny-gemma4", attn_implementation=impl, dtype=torch.float32
        ).eval()
        rec = Recorder(model)
        with torch.no_grad():
            # 1. direct forward() with mm_token_type_ids
            rec.calls.clear()
            out_fwd = model(input_ids=ids, mm_token_type_ids=types, use_cache=False)
            results[f"{impl}/forward(mm_token_type_ids)"] = summarize(rec.calls, cands, L, blk, "fwd")
            # 2. direct forward() without mm_token_type_ids
            rec.calls.clear()
            out_fwd_nott = model(input_ids=ids, use_cache=False)
            results[f"{impl}/forward(no mm_token_type_ids)"] = summarize(rec.calls, cands, L, blk, "fwd")
            # 3. generate() with the default dynamic cache
            rec.calls.clear()
            gen = model.generate(ids, mm_token_type_ids=types, do_sample=False, max_new_tokens=3,
                                 output_logits=True, return_dict_in_generate=True)
            results[f"{impl}/generate(dynamic cache)"] = summarize(rec.calls, cands, L, blk, "gen")
            # 4. generate() with a static cache (compileable): uses the model's own create_masks_for_generate
            rec.calls.clear()
            gen_static = model.generate(ids, mm_token_type_ids=types, do_sample=False, max_new_tokens=3,
                                        cache_implementation="static", output_logits=True,
                                        return_dict_in_generate=True)
            # the static cache pads the key axis to max_cache_len: keys beyond the sequence are masked anyway
            static_calls = []
            for li, lt, m, q in rec.calls:
                if m is not None and q == L:
                    assert not bool(to_bool(m, L, m.shape[-1])[:, L:].any())
                    m = m[..., :L]
                static_calls.append((li, lt, m, q))
            results[f"{impl}/generate(static cache)"] = summarize(static_calls, cands, L, blk, "gen")
            # 5. the model's create_masks_for_generate called directly (what a static-cache generate uses)
            emb = torch.empty((1, L, 0))
            direct = Gemma4UnifiedForConditionalGeneration.create_masks_for_generate(
                config=model.config, inputs_embeds=emb, attention_mask=None, cache=None,
                position_ids=torch.arange(L).view(1, -1), mm_token_type_ids=types)
            results[f"{impl}/Gemma4UnifiedForConditionalGeneration.create_masks_for_generate"] = {
                f"direct/{lt}/prefill": {"steps": [{"matches": classify(to_bool(m, L, L), cands)}]}
                for lt, m in sorted(direct.items())
            }
            # 6. forward() given the intended (static-path) masks as a precomputed dict
            rec.calls.clear()
            out_intended = model(input_ids=ids, mm_token_type_ids=types, attention_mask=direct, use_cache=False)
            results[f"{impl}/forward(attention_mask=create_masks_for_generate(...) dict)"] = summarize(
                rec.calls, cands, L, blk, "fwd")
        # 7. the same with oracle_common.use_intended_vision_mask() applied (the path the goldens use)
        oc.use_intended_vision_mask()
        with torch.no_grad():
            rec.calls.clear()
            out_patched = model(input_ids=ids, mm_token_type_ids=types, use_cache=False)
            results[f"{impl}/PATCHED forward(mm_token_type_ids)"] = summarize(rec.calls, cands, L, blk, "fwd")
            rec.calls.clear()
            gen_patched = model.generate(ids, mm_token_type_ids=types, do_sample=False, max_new_tokens=3,
                                         output_logits=True, return_dict_in_generate=True)
            results[f"{impl}/PATCHED generate(dynamic cache)"] = summarize(rec.calls, cands, L, blk, "gen")
            rec.calls.clear()
            out_patched_text = model(input_ids=ids, use_cache=False)
        oc.undo_intended_vision_mask()
        rec.close()
        lf = out_fwd.logits[0]
        results[f"{impl}/logit_diffs"] = {
            "max|forward - forward(no mm types)|": float((lf - out_fwd_nott.logits[0]).abs().max()),
            "max|forward - forward(intended masks)|": float((lf - out_intended.logits[0]).abs().max()),
            "max|forward last - generate(dynamic) first step|": float(
                (lf[-1] - gen.logits[0][0]).abs().max()),
            "max|forward(intended) last - generate(static) first step|": float(
                (out_intended.logits[0, -1] - gen_static.logits[0][0]).abs().max()),
            "max|PATCHED forward - forward(intended masks)|": float(
                (out_patched.logits[0] - out_intended.logits[0]).abs().max()),
            "max|PATCHED forward(no mm types) - forward(no mm types)|": float(
                (out_patched_text.logits[0] - out_fwd_nott.logits[0]).abs().max()),
            "max|PATCHED generate(dynamic) steps - generate(static) steps|": max(
                float((a - b).abs().max()) for a, b in zip(gen_patched.logits, gen_static.logits)),
            "generate dynamic tokens": gen.sequences[0, L:].tolist(),
            "PATCHED generate dynamic tokens": gen_patched.sequences[0, L:].tolist(),
            "generate static tokens": gen_static.sequences[0, L:].tolist(),
        }

    results["versions"] = oc.versions()
    oc.dump_json(results, oc.GOLDENS_DIR / "mask_probe.json")
    return results


def print_summary(results: dict) -> None:
    for path, v in results.items():
        if path in ("sequence", "versions"):
            continue
        print(path)
        if path.endswith("logit_diffs"):
            for k, x in v.items():
                print(f"    {k}: {x}")
            continue
        for key, g in v.items():
            for st in g["steps"]:
                print(f"    {key:32s} {st}")


if __name__ == "__main__":
    print_summary(main())
