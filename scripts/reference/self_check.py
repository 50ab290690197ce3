#!/usr/bin/env python3
"""Proves the tiny fixture checkpoints have the real 12B's structure (and the tiny drafter the real drafter's),
so that a later mismatch cannot hide behind a simplified config. Exits non-zero on any failure.

Checks, for tiny-gemma4 (and -bf16) vs ../shared/reference/gemma-4-12B-it/config.json, and
tiny-gemma4-assistant vs ../shared/reference/gemma-4-12B-it-assistant/config.json:
  1. layer types follow the same rule (every 6th layer full, i.e. 5 sliding : 1 full, last layer full);
  2. every config field that is not a size or a token id is equal (flags, enums, rope, eps, softcap, ...), and
     the structural ratios are equal (GQA group, full/sliding head-dim ratio, MQA on full layers,
     q_proj rows != hidden, rotated pairs > 0, drafter geometry == target geometry);
  3. the tensor NAME SET equals the real checkpoint's: the real one is derived by instantiating the HF model
     with the published config on the meta device and mapping the state_dict keys to checkpoint names with
     transformers' own save-time conversion (revert_weight_conversion), tied weights dropped. Layer indices are
     compared per layer type (each tiny layer has exactly the tensors of a real layer of its type);
  4. every shape has the same rank, the dims fixed by design (6912 = 48*48*3, 640, 1120, 2, 1) are equal, and
     every shape is the same formula of its config (real shapes from the real config, tiny ones from the tiny);
  5. the tiny safetensors load into HF with no missing/unexpected keys (make_tiny_models.py also checks this).

    .cache/venv-reference/bin/python scripts/reference/self_check.py
"""

from __future__ import annotations

import json
import re
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import oracle_common as oc  # noqa: E402

import torch  # noqa: E402

FAILURES: list[str] = []
PASSED: list[str] = []
VERBOSE = "-v" in sys.argv


def check(cond: bool, msg: str, quiet: bool = False) -> None:
    """Records a check; prints failures always, passes unless quiet (field-by-field checks) or with -v."""
    if not cond or VERBOSE or not quiet:
        print(("  ok   " if cond else "  FAIL ") + msg)
    (PASSED if cond else FAILURES).append(msg)


# Fields allowed to differ: sizes, token ids (remapped into the 1,024 vocabulary), dtype, version.
SIZE_KEYS = {
    "hidden_size", "num_hidden_layers", "num_attention_heads", "head_dim", "global_head_dim", "num_key_value_heads",
    "intermediate_size", "sliding_window", "vocab_size", "vocab_size_per_layer_input", "max_position_embeddings",
    "layer_types", "mm_embed_dim", "output_proj_dims", "backbone_hidden_size",
}
TOKEN_KEYS = {
    "pad_token_id", "bos_token_id", "eos_token_id", "boi_token_id", "eoi_token_id", "image_token_id",
    "video_token_id", "boa_token_id", "eoa_token_index", "audio_token_id",
}
FREE_KEYS = {"dtype", "transformers_version"}
# Real token ids -> token strings (SPEC §1.1 / §6; the published tokenizer_config names the same strings).
REAL_TOKEN_STRINGS = {
    0: "<pad>", 1: "<eos>", 2: "<bos>", 106: "<turn|>", 255999: "<|image>", 256000: "<|audio>",
    258880: "<|image|>", 258881: "<|audio|>", 258882: "<image|>", 258883: "<audio|>", 258884: "<|video|>",
}


def layer_rule(n: int) -> list[str]:
    return ["sliding_attention" if (i + 1) % 6 else "full_attention" for i in range(n)]


def compare_fields(real, tiny, path: str, tiny_vocab: dict[str, int]) -> None:
    if isinstance(real, dict) and isinstance(tiny, dict):
        check(set(real) == set(tiny), f"{path or 'config'}: same field set", quiet=True)
        for k in sorted(set(real) & set(tiny)):
            sub = f"{path}.{k}" if path else k
            if k in SIZE_KEYS or k in FREE_KEYS:
                continue
            if k in TOKEN_KEYS:
                rl = real[k] if isinstance(real[k], list) else [real[k]]
                tl = tiny[k] if isinstance(tiny[k], list) else [tiny[k]]
                want = [tiny_vocab[REAL_TOKEN_STRINGS[i]] for i in rl]
                check(want == tl and type(real[k]) is type(tiny[k]),
                      f"{sub}: token ids remapped by string {rl} -> {tl}", quiet=True)
                continue
            compare_fields(real[k], tiny[k], sub, tiny_vocab)
    else:
        check(real == tiny, f"{path} equal ({real!r})", quiet=True)


def meta_model(cls, config_dict: dict):
    from transformers import AutoConfig

    with tempfile.TemporaryDirectory() as td:
        oc.dump_json(config_dict, Path(td) / "config.json")
        cfg = AutoConfig.from_pretrained(td)
    with torch.device("meta"):
        model = cls(cfg)
    return model, cfg


def checkpoint_shapes(model) -> dict[str, tuple[int, ...]]:
    """state_dict keys as the checkpoint names them (transformers' save-time conversion), tied weights dropped."""
    from transformers.core_model_loading import revert_weight_conversion

    sd = model.state_dict()
    tied = set(getattr(model, "_tied_weights_keys", None) or {})
    sd = {k: v for k, v in sd.items() if k not in tied}
    reverted = revert_weight_conversion(model, sd)
    return {k: tuple(v.shape) for k, v in reverted.items()}


def safetensors_shapes(path: Path) -> dict[str, tuple[int, ...]]:
    from safetensors import safe_open

    with safe_open(str(path), "pt") as f:
        return {k: tuple(f.get_slice(k).get_shape()) for k in f.keys()}


def by_layer_type(shapes: dict, layer_types: list[str]) -> dict[str, dict[str, tuple]]:
    """{normalized name: shape} with 'layers.<i>.' replaced by its type; asserts all layers of a type agree."""
    out: dict[str, dict] = {}
    per_layer: dict[int, set] = {}
    for name, shp in shapes.items():
        m = re.search(r"layers\.(\d+)\.", name)
        if m:
            i = int(m.group(1))
            norm = name.replace(m.group(0), f"layers.<{layer_types[i]}>.")
            per_layer.setdefault(i, set()).add(norm)
        else:
            norm = name
        prev = out.setdefault(norm, {}).setdefault("shape", shp)
        assert prev == shp, (name, prev, shp)
    return {k: v["shape"] for k, v in out.items()}, per_layer


def expected_shape(norm: str, c: dict, layer_type: str | None, assistant: bool) -> tuple[int, ...] | None:
    """The formula each tensor shape follows, from the (text) config dict."""
    h, heads, inter = c["hidden_size"], c["num_attention_heads"], c["intermediate_size"]
    full = layer_type == "full_attention"
    hd = c["global_head_dim"] if full else c["head_dim"]
    kvh = c["num_global_key_value_heads"] if (full and c["attention_k_eq_v"]) else c["num_key_value_heads"]
    leaf = norm.split(">.", 1)[-1] if layer_type else norm
    table = {
        "self_attn.q_proj.weight": (heads * hd, h),
        "self_attn.k_proj.weight": (kvh * hd, h),
        "self_attn.v_proj.weight": (kvh * hd, h),
        "self_attn.o_proj.weight": (h, heads * hd),
        "self_attn.q_norm.weight": (hd,),
        "self_attn.k_norm.weight": (hd,),
        "input_layernorm.weight": (h,),
        "post_attention_layernorm.weight": (h,),
        "pre_feedforward_layernorm.weight": (h,),
        "post_feedforward_layernorm.weight": (h,),
        "mlp.gate_proj.weight": (inter, h),
        "mlp.up_proj.weight": (inter, h),
        "mlp.down_proj.weight": (h, inter),
        "layer_scalar": (1,),
    }
    if layer_type:
        return table.get(leaf)
    if norm.endswith("embed_tokens.weight"):
        return (c["vocab_size"], h)
    if norm.endswith("norm.weight") and "vision" not in norm:
        return (h,)
    return None


def expected_nonlayer(name: str, full_cfg: dict) -> tuple[int, ...] | None:
    tc = full_cfg.get("text_config", full_cfg)
    h = tc["hidden_size"]
    vc, ac = full_cfg.get("vision_config"), full_cfg.get("audio_config")
    if vc:
        patch = (vc["patch_size"] * vc["pooling_kernel_size"]) ** 2 * 3
        e = vc["mm_embed_dim"]
        table = {
            "model.vision_embedder.patch_ln1.weight": (patch,),
            "model.vision_embedder.patch_ln1.bias": (patch,),
            "model.vision_embedder.patch_dense.weight": (e, patch),
            "model.vision_embedder.patch_dense.bias": (e,),
            "model.vision_embedder.patch_ln2.weight": (e,),
            "model.vision_embedder.patch_ln2.bias": (e,),
            "model.vision_embedder.pos_embedding": (vc["mm_posemb_size"], 2, e),
            "model.vision_embedder.pos_norm.weight": (e,),
            "model.vision_embedder.pos_norm.bias": (e,),
            "model.embed_vision.embedding_projection.weight": (h, vc["output_proj_dims"]),
            "model.embed_audio.embedding_projection.weight": (h, ac["audio_embed_dim"]),
        }
        if name in table:
            return table[name]
    if "backbone_hidden_size" in full_cfg:
        b = full_cfg["backbone_hidden_size"]
        table = {"pre_projection.weight": (h, 2 * b), "post_projection.weight": (b, h)}
        if name in table:
            return table[name]
    return None


FIXED_DIMS = {6912, 640, 1120, 2, 1}


def compare_tensors(label: str, real_shapes: dict, tiny_shapes: dict, real_cfg: dict, tiny_cfg: dict,
                    assistant: bool) -> None:
    rtc = real_cfg.get("text_config", real_cfg)
    ttc = tiny_cfg.get("text_config", tiny_cfg)
    rnorm, rper = by_layer_type(real_shapes, rtc["layer_types"])
    tnorm, tper = by_layer_type(tiny_shapes, ttc["layer_types"])
    check(set(rnorm) == set(tnorm), f"{label}: tensor name set equal per layer type "
          f"({len(real_shapes)} real / {len(tiny_shapes)} tiny tensors; {len(rnorm)} distinct patterns)")
    for missing in sorted(set(rnorm) - set(tnorm)):
        print("       missing in tiny:", missing)
    for extra in sorted(set(tnorm) - set(rnorm)):
        print("       extra in tiny:  ", extra)
    # every tiny layer has exactly the tensors of any real layer of its type
    real_by_type = {}
    for i, names in rper.items():
        real_by_type.setdefault(rtc["layer_types"][i], set()).add(frozenset(names))
    ok = all(len(v) == 1 for v in real_by_type.values()) and all(
        frozenset(names) in real_by_type[ttc["layer_types"][i]] for i, names in tper.items()
    )
    check(ok and set(tper) == set(range(ttc["num_hidden_layers"])),
          f"{label}: every tiny layer has exactly the tensor set of the real layers of its type")
    n_rank = n_fixed = n_formula = 0
    bad = []
    for norm in sorted(set(rnorm) & set(tnorm)):
        rs, ts = rnorm[norm], tnorm[norm]
        if len(rs) != len(ts):
            bad.append(f"rank {norm} {rs} vs {ts}")
            continue
        n_rank += 1
        for a, b in zip(rs, ts):
            if a in FIXED_DIMS and a != b and not (a == 1 and b == 1):
                bad.append(f"fixed dim {norm} {rs} vs {ts}")
        n_fixed += 1
        m = re.search(r"layers\.<(\w+)>\.", norm)
        lt = m.group(1) if m else None
        if lt:
            er, et = expected_shape(norm, rtc, lt, assistant), expected_shape(norm, ttc, lt, assistant)
        else:
            er = expected_nonlayer(norm, real_cfg) or expected_shape(norm, rtc, None, assistant)
            et = expected_nonlayer(norm, tiny_cfg) or expected_shape(norm, ttc, None, assistant)
        if er is None or et is None or er != rs or et != ts:
            bad.append(f"formula {norm}: real {rs} (formula {er}), tiny {ts} (formula {et})")
        else:
            n_formula += 1
    for b in bad:
        print("       ", b)
    check(not bad, f"{label}: {n_rank} shapes same rank, fixed dims {sorted(FIXED_DIMS)} equal, "
          f"{n_formula} shapes follow the same formula of their config")


def text_structure(label: str, c: dict) -> dict:
    lt = c["layer_types"]
    hd, gd = c["head_dim"], c["global_head_dim"]
    full_rope = c["rope_parameters"]["full_attention"]
    return {
        "layer rule (every 6th full, last full)": lt == layer_rule(len(lt)) and lt[-1] == "full_attention",
        "sliding:full": f"{lt.count('sliding_attention') // max(1, lt.count('full_attention'))}:1",
        "GQA group (sliding)": c["num_attention_heads"] // c["num_key_value_heads"],
        "kv heads on full layers": c["num_global_key_value_heads"],
        "global/sliding head_dim": gd / hd,
        "q_proj rows != hidden (sliding, full)": (c["num_attention_heads"] * hd != c["hidden_size"],
                                                  c["num_attention_heads"] * gd != c["hidden_size"]),
        "rotated pairs on full layers > 0": int(full_rope["partial_rotary_factor"] * gd / 2) > 0,
        "rotated pairs on full layers < head_dim/2": int(full_rope["partial_rotary_factor"] * gd / 2) < gd // 2,
    }


def main() -> int:
    from transformers import AutoConfig, Gemma4UnifiedAssistantForCausalLM, Gemma4UnifiedForConditionalGeneration

    FAILURES.clear()
    PASSED.clear()
    tok = json.loads((oc.MODELS_DIR / "tiny-gemma4" / "tokenizer.json").read_text())
    tiny_vocab = tok["model"]["vocab"]

    real = json.loads((oc.REAL_12B_DIR / "config.json").read_text())
    real_a = json.loads((oc.REAL_ASSISTANT_DIR / "config.json").read_text())

    print("self-check: tiny checkpoints vs the published 12B / 12B assistant structure")
    real_model, real_hf = meta_model(Gemma4UnifiedForConditionalGeneration, real)
    real_shapes = checkpoint_shapes(real_model)
    real_a_model, real_a_hf = meta_model(Gemma4UnifiedAssistantForCausalLM, real_a)
    real_a_shapes = checkpoint_shapes(real_a_model)
    rs = text_structure("real", real["text_config"])

    for name in ("tiny-gemma4", "tiny-gemma4-bf16"):
        print(f"[{name}]")
        d = oc.MODELS_DIR / name
        tiny = json.loads((d / "config.json").read_text())
        n0, f0 = len(PASSED), len(FAILURES)
        compare_fields(real, tiny, "", tiny_vocab)
        check(len(FAILURES) == f0, f"{name}: all {len(PASSED) - n0} non-size config fields equal to the 12B's "
              "(token ids equal after remapping by token string; -v lists them)")
        ts = text_structure("tiny", tiny["text_config"])
        for k in rs:
            check(rs[k] == ts[k], f"structure: {k}: real {rs[k]} / tiny {ts[k]}")
        tiny_hf = AutoConfig.from_pretrained(d)
        check(real_hf.text_config.kv_sharing_modes.count(None) == len(real["text_config"]["layer_types"]) - 2
              and tiny_hf.text_config.kv_sharing_modes.count(None) == len(tiny["text_config"]["layer_types"]) - 2,
              "no cross-layer KV sharing; only the last sliding and last full layers 'store' (drafter reads them)")
        stores = [i for i, m in enumerate(tiny_hf.text_config.kv_sharing_modes) if m == "store"]
        rstores = [i for i, m in enumerate(real_hf.text_config.kv_sharing_modes) if m == "store"]
        n, rn = tiny["text_config"]["num_hidden_layers"], real["text_config"]["num_hidden_layers"]
        check(stores == [n - 2, n - 1] and rstores == [rn - 2, rn - 1],
              f"drafter KV source layers: real {rstores}, tiny {stores}")
        compare_tensors(name, real_shapes, safetensors_shapes(d / "model.safetensors"), real, tiny, False)
        want_dtype = "BF16" if name.endswith("bf16") else "F32"
        from safetensors import safe_open

        with safe_open(str(d / "model.safetensors"), "pt") as f:
            dts = {f.get_slice(k).get_dtype() for k in f.keys()}
        check(dts == {want_dtype}, f"{name}: all tensors {want_dtype}")

    print("[tiny-gemma4-assistant]")
    d = oc.MODELS_DIR / "tiny-gemma4-assistant"
    tiny_a = json.loads((d / "config.json").read_text())
    n0, f0 = len(PASSED), len(FAILURES)
    compare_fields(real_a, tiny_a, "", tiny_vocab)
    check(len(FAILURES) == f0, f"tiny-gemma4-assistant: all {len(PASSED) - n0} non-size config fields equal to the "
          "12B assistant's (-v lists them)")
    tgt = json.loads((oc.MODELS_DIR / "tiny-gemma4" / "config.json").read_text())
    for label, a, t in (("real", real_a, real), ("tiny", tiny_a, tgt)):
        at, tt_ = a["text_config"], t["text_config"]
        same = all(at[k] == tt_[k] for k in ("num_attention_heads", "head_dim", "global_head_dim",
                                               "num_key_value_heads", "num_global_key_value_heads", "sliding_window",
                                               "rope_parameters", "attention_k_eq_v", "rms_norm_eps"))
        check(same and a["backbone_hidden_size"] == tt_["hidden_size"],
              f"{label}: drafter attention geometry == target's, backbone_hidden_size == target hidden")
        check(at["num_kv_shared_layers"] == at["num_hidden_layers"] and at["layer_types"][-1] == "full_attention"
              and at["layer_types"].count("full_attention") == 1,
              f"{label}: drafter layers all KV-shared, {at['layer_types'].count('sliding_attention')} sliding + 1 full")
    compare_tensors("tiny-gemma4-assistant", real_a_shapes, safetensors_shapes(d / "model.safetensors"), real_a,
                    tiny_a, True)

    print("[tiny-gemma3]")
    g3 = json.loads((oc.MODELS_DIR / "tiny-gemma3" / "config.json").read_text())
    check(g3["layer_types"] == layer_rule(g3["num_hidden_layers"]), "gemma3: 5 sliding : 1 full, last full")
    check(g3["query_pre_attn_scalar"] == g3["head_dim"] and g3["num_key_value_heads"] == 1
          and g3["tie_word_embeddings"] and g3["final_logit_softcapping"] is None,
          "gemma3: query_pre_attn_scalar == head_dim, MQA, tied, no softcap (Gemma 3 270M structure)")
    g3_shapes = safetensors_shapes(oc.MODELS_DIR / "tiny-gemma3" / "model.safetensors")
    from transformers import Gemma3ForCausalLM

    m, _ = meta_model(Gemma3ForCausalLM, g3)
    check(checkpoint_shapes(m) == g3_shapes, "gemma3: tensor names/shapes == Gemma3ForCausalLM's checkpoint layout")

    # 5. loads cleanly
    import transformers

    for name, cls in (("tiny-gemma4", "Gemma4UnifiedForConditionalGeneration"),
                      ("tiny-gemma4-bf16", "Gemma4UnifiedForConditionalGeneration"),
                      ("tiny-gemma4-assistant", "Gemma4UnifiedAssistantForCausalLM"),
                      ("tiny-gemma3", "Gemma3ForCausalLM")):
        _, info = getattr(transformers, cls).from_pretrained(oc.MODELS_DIR / name, output_loading_info=True)
        check(not info["missing_keys"] and not info["unexpected_keys"] and not info.get("mismatched_keys"),
              f"{name}: from_pretrained has no missing/unexpected/mismatched keys")

    print(f"self-check: {'PASSED' if not FAILURES else f'FAILED ({len(FAILURES)})'} ({len(PASSED)} checks passed)")
    return 0 if not FAILURES else 1


if __name__ == "__main__":
    sys.exit(main())
