#!/usr/bin/env python3
"""Text-only golden outputs of HF transformers for the tiny fixture checkpoints -> tests/fixtures/goldens/text/.

For tiny-gemma4 (fp32), tiny-gemma4-bf16 and tiny-gemma3, with attn_implementation="eager":
  - prompts given as token ids: lengths 1, 7, 16, 17, 33, 50, 70 (below, at and beyond 1..4 sliding windows
    of 16), ids drawn from the plain-text range [108, 1000) with a fixed generator, each starting with <bos>.
    The prompts are NESTED: each is a prefix of the 70-token one, so one forward over the 70 tokens gives the
    logits / hidden states of every prompt (rows [:L]); each prompt is ALSO run on its own, and the
    last-position logits of those runs are stored (and checked against the long run's rows).
  - logits at every position (after the final softcap where the model has one),
  - hidden_states exactly as HF returns them with output_hidden_states=True,
  - the last decoder layer's output before the final norm (forward hook),
  - 32 greedy tokens per prompt: generate(do_sample=False, max_new_tokens=32) with the checkpoint's
    generation_config (suppress_tokens, eos), and the per-step logits of that generation for the 33-token prompt.
Writes {model}.safetensors (all fp32) and index.json. Deterministic.

    .cache/venv-reference/bin/python scripts/reference/make_text_goldens.py
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import oracle_common as oc  # noqa: E402
import tiny_tokenizer as tt  # noqa: E402

import torch  # noqa: E402

OUT = oc.GOLDENS_DIR / "text"
PROMPT_LENGTHS = (1, 7, 16, 17, 33, 50, 70)
DECODE_LOGITS_PROMPT = 33
MAX_NEW = 32
PROMPT_SEED = 4242
# (golden name, checkpoint, class, compute dtype, full record?)
MODELS = (
    ("tiny-gemma4", "tiny-gemma4", "Gemma4UnifiedForConditionalGeneration", torch.float32, True),
    ("tiny-gemma4-bf16", "tiny-gemma4-bf16", "Gemma4UnifiedForConditionalGeneration", torch.bfloat16, True),
    # The bf16 checkpoint's weights upcast to fp32 and computed in fp32 (from_pretrained(dtype=float32)): the
    # exact reference for an engine that loads bf16 weights but keeps activations in fp32 (fp32 tolerances).
    ("tiny-gemma4-bf16.f32compute", "tiny-gemma4-bf16", "Gemma4UnifiedForConditionalGeneration", torch.float32,
     False),
    ("tiny-gemma3", "tiny-gemma3", "Gemma3ForCausalLM", torch.float32, True),
)


def prompt_ids() -> list[int]:
    g = torch.Generator().manual_seed(PROMPT_SEED)
    lo, hi = tt.TEXT_ID_RANGE
    body = torch.randint(lo, hi, (max(PROMPT_LENGTHS) - 1,), generator=g).tolist()
    return [tt.TOKEN_IDS["bos"]] + body


def load(name: str, cls_name: str, dtype, impl: str = "eager"):
    import transformers

    cls = getattr(transformers, cls_name)
    return cls.from_pretrained(oc.MODELS_DIR / name, dtype=dtype, attn_implementation=impl).eval()


def decoder_layers(model):
    inner = model.model
    return inner.language_model.layers if hasattr(inner, "language_model") else inner.layers


def nmse(a: torch.Tensor, b: torch.Tensor) -> float:
    return float(((a.float() - b.float()) ** 2).sum() / (b.float() ** 2).sum())


def top1(a: torch.Tensor, b: torch.Tensor) -> float:
    return float((a.argmax(-1) == b.argmax(-1)).float().mean())


def margin(logits: torch.Tensor) -> float:
    """Smallest top-1 minus top-2 gap over the rows (a near-tie makes greedy ids fragile)."""
    t = logits.float().topk(2, dim=-1).values
    return float((t[..., 0] - t[..., 1]).min())


def run_model(name: str, cls_name: str, dtype, ids_all: list[int], full: bool) -> tuple[dict, dict]:
    model = load(name, cls_name, dtype)
    gcfg = model.generation_config
    tensors: dict[str, torch.Tensor] = {}
    info: dict = {"class": cls_name, "dtype": str(dtype).replace("torch.", ""), "attn_implementation": "eager"}

    # One forward over the longest prompt.
    last_layer = {}
    layers = decoder_layers(model)
    hook = layers[-1].register_forward_hook(lambda m, a, out: last_layer.__setitem__("h", out))
    ids = torch.tensor([ids_all])
    with torch.no_grad():
        out = model(input_ids=ids, output_hidden_states=True, use_cache=False)
    hook.remove()
    hs = torch.stack([h[0] for h in out.hidden_states])  # [n_layers+1, L, hidden]
    final_norm = model.model.language_model.norm if hasattr(model.model, "language_model") else model.model.norm
    with torch.no_grad():
        renormed = final_norm(last_layer["h"])
    tensors["logits"] = out.logits[0].float()
    if full:
        tensors["hidden_states"] = hs.float()
        tensors["last_layer_output_prenorm"] = last_layer["h"][0].float()
    info["checkpoint"] = name
    info["min_top1_margin_logits"] = margin(out.logits[0])
    # How much the reference itself moves: same checkpoint and dtype with sdpa instead of eager.
    sdpa = load(name, cls_name, dtype, impl="sdpa")
    with torch.no_grad():
        ls = sdpa(input_ids=ids, use_cache=False).logits[0]
    info["reference_spread"] = {"eager_vs_sdpa_nmse": nmse(ls, out.logits[0]), "eager_vs_sdpa_top1": top1(ls, out.logits[0])}
    del sdpa
    info["hidden_states_semantics"] = {
        "count": int(hs.shape[0]),
        "entry_0": "embedding output (input of layer 0): embed_tokens(ids) * sqrt(hidden) in the weight dtype",
        "entry_i (1..n-1)": "output of decoder layer i-1 (after its layer_scalar for Gemma 4)",
        "entry_n (last)": "POST-final-norm: norm(output of the last layer) == last_hidden_state "
        "(transformers' capture_outputs ties hidden_states[-1] to last_hidden_state); the pre-norm output of "
        "the last layer is stored separately as last_layer_output_prenorm",
        "check_last_equals_norm_of_prenorm_max_abs": float((renormed[0] - out.hidden_states[-1][0]).abs().max()),
    }

    # Each prompt on its own: last-position logits, consistency with the long run, greedy generation.
    prompts = []
    last_rows = []
    for L in PROMPT_LENGTHS:
        p = torch.tensor([ids_all[:L]])
        with torch.no_grad():
            o = model(input_ids=p, use_cache=False)
            gen = model.generate(
                p,
                do_sample=False,
                max_new_tokens=MAX_NEW,
                output_logits=True,
                return_dict_in_generate=True,
            )
        last_rows.append(o.logits[0, -1].float())
        dev = (o.logits[0].float() - tensors["logits"][:L]).abs().max().item()
        greedy = gen.sequences[0, L:].tolist()
        step_logits = torch.stack([x[0].float() for x in gen.logits])  # raw logits (before suppress_tokens)
        sup_ids = list(gcfg.suppress_tokens or [])
        masked = step_logits.clone()
        if sup_ids:
            masked[:, sup_ids] = float("-inf")
        # generate()'s first step equals the prompt forward's last row
        first_dev = (step_logits[0] - o.logits[0, -1].float()).abs().max().item()
        eos = gcfg.eos_token_id if isinstance(gcfg.eos_token_id, list) else [gcfg.eos_token_id]
        prompts.append(
            {
                "length": L,
                "greedy_ids": greedy,
                "greedy_len": len(greedy),
                "stopped_on_eos": bool(greedy and greedy[-1] in eos and len(greedy) < MAX_NEW),
                "max_abs_dev_separate_run_vs_long_run_rows": dev,
                "max_abs_dev_generate_first_step_vs_forward_last_row": first_dev,
                "min_top1_margin_greedy_steps": margin(masked),
            }
        )
        if L == DECODE_LOGITS_PROMPT and full:
            tensors[f"decode_logits_p{L}"] = step_logits
    tensors["prompt_last_logits"] = torch.stack(last_rows)

    sup = list(gcfg.suppress_tokens or [])
    info.update(
        {
            "generation": {
                "call": f"generate(input_ids, do_sample=False, max_new_tokens={MAX_NEW}) with the checkpoint's "
                "generation_config (eos / suppress_tokens / pad); greedy argmax after suppress_tokens -> -inf",
                "eos_token_id": gcfg.eos_token_id,
                "suppress_tokens": sup,
            },
            "prompts": prompts,
            "tensors": {k: list(v.shape) for k, v in sorted(tensors.items())},
        }
    )
    # Sanity: the suppressed ids never win and are -inf in the processed scores (raw logits stored here).
    for pinfo in prompts:
        assert not set(pinfo["greedy_ids"]) & set(sup), pinfo
        assert pinfo["max_abs_dev_generate_first_step_vs_forward_last_row"] < 1e-3 or dtype == torch.bfloat16
    return tensors, info


def main() -> None:
    oc.setup_determinism(0)
    OUT.mkdir(parents=True, exist_ok=True)
    ids_all = prompt_ids()
    index = {
        "description": "HF transformers goldens for text-only prompts on the tiny fixture checkpoints. "
        "See tests/fixtures/README.md (Text goldens).",
        "command": ".cache/venv-reference/bin/python scripts/reference/make_text_goldens.py",
        "versions": oc.versions(),
        "prompt": {
            "ids": ids_all,
            "lengths": list(PROMPT_LENGTHS),
            "nested": "prompt of length L = ids[:L]; logits/hidden_states rows [:L] of the stored 70-token run",
            "id_range": list(tt.TEXT_ID_RANGE),
            "seed": PROMPT_SEED,
        },
        "tensor_layout": {
            "logits": "[70, vocab] fp32, after the final softcap (Gemma 4: 30*tanh(x/30); Gemma 3: none), "
            "raw (suppress_tokens NOT applied)",
            "hidden_states": "[n_layers+1, 70, hidden] fp32, exactly model(..., output_hidden_states=True)"
            ".hidden_states",
            "last_layer_output_prenorm": "[70, hidden] output of the last decoder layer, before the final norm",
            "prompt_last_logits": "[7, vocab] last-position logits of each prompt run on its own (same order as "
            "lengths)",
            f"decode_logits_p{DECODE_LOGITS_PROMPT}": f"[{MAX_NEW}, vocab] raw logits of each generate() step for "
            f"the {DECODE_LOGITS_PROMPT}-token prompt (step 0 = prefill's last row; step i predicts greedy_ids[i])",
        },
        "tolerances": {
            "fp32 (tiny-gemma4, tiny-gemma3)": "every logit within 1e-4 relative (NMSE < 1e-8); identical greedy ids",
            "bf16 (tiny-gemma4-bf16)": "NMSE < 1e-4; top-1 agreement >= 99%",
        },
        "models": {},
    }
    results = {}
    for name, ckpt, cls_name, dtype, full in MODELS:
        oc.setup_determinism(0)
        tensors, info = run_model(ckpt, cls_name, dtype, ids_all, full)
        oc.save_safetensors(tensors, OUT / f"{name}.safetensors")
        index["models"][name] = info
        results[name] = tensors
        print(name, {p["length"]: p["greedy_ids"][:6] for p in info["prompts"]})
    # Spread between the bf16 goldens: HF's bf16 arithmetic vs fp32 arithmetic on the same bf16 weights, and vs
    # the fp32 checkpoint. Useful to size bf16 tolerances (see README).
    b16, b32, f32 = (results[k]["logits"] for k in ("tiny-gemma4-bf16", "tiny-gemma4-bf16.f32compute", "tiny-gemma4"))
    index["bf16_spread"] = {
        "bf16_compute_vs_f32compute_nmse": nmse(b16, b32),
        "bf16_compute_vs_f32compute_top1": top1(b16, b32),
        "f32compute_vs_fp32_checkpoint_nmse": nmse(b32, f32),
        "f32compute_vs_fp32_checkpoint_top1": top1(b32, f32),
        "bf16_compute_vs_fp32_checkpoint_nmse": nmse(b16, f32),
        "bf16_compute_vs_fp32_checkpoint_top1": top1(b16, f32),
    }
    oc.dump_json(index, OUT / "index.json")
    for p in sorted(OUT.iterdir()):
        print(f"{p.relative_to(oc.ROOT)}  {p.stat().st_size:>9}  {oc.sha256_file(p)}")

    # The mask probe is a golden too (tests/fixtures/goldens/mask_probe.json, documented in MASK.md).
    import probe_masks

    probe_masks.main()


if __name__ == "__main__":
    main()
