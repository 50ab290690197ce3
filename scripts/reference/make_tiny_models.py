#!/usr/bin/env python3
"""Writes the tiny random-weight fixture checkpoints under tests/fixtures/models/:

  tiny-gemma4            gemma4_unified, fp32   (derived from the published 12B config, sizes shrunk only)
  tiny-gemma4-bf16       the same weights rounded to bf16
  tiny-gemma4-assistant  gemma4_unified_assistant (MTP drafter) attached to tiny-gemma4
  tiny-gemma3            Gemma3ForCausalLM (gemma3_text), fp32

each with config.json, generation_config.json, model.safetensors, tokenizer.json, tokenizer_config.json.
Then it runs self_check.py. Deterministic: running it twice gives byte-identical files.

    .cache/venv-reference/bin/python scripts/reference/make_tiny_models.py
"""

from __future__ import annotations

import copy
import json
import math
import re
import shutil
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import oracle_common as oc  # noqa: E402
import tiny_tokenizer as tt  # noqa: E402

import torch  # noqa: E402

T = tt.TOKEN_IDS

# ---------------------------------------------------------------------------------------------------------------
# Sizes. Everything not listed here is copied from the published config unchanged.
TINY = {
    "hidden_size": 64,
    "num_hidden_layers": 12,
    "num_attention_heads": 4,
    "head_dim": 32,  # sliding layers
    "global_head_dim": 64,  # full layers (2x, like 256 -> 512)
    "num_key_value_heads": 2,  # sliding: GQA 2:1 (real 16:8)
    "num_global_key_value_heads": 1,  # full: MQA (real 1)
    "intermediate_size": 96,
    "sliding_window": 16,
    "vocab_size": tt.VOCAB_SIZE,
    "max_position_embeddings": 4096,
}
TINY_ASSISTANT = {
    "hidden_size": 32,
    "num_hidden_layers": 4,
    "intermediate_size": 64,
}


def layer_types(n: int) -> list[str]:
    # The published rule (config default and the 12B's list): every 6th layer is full, the last layer is full.
    return ["sliding_attention" if (i + 1) % 6 else "full_attention" for i in range(n)]


def load_json(p: Path) -> dict:
    return json.loads(p.read_text())


def gemma4_config(dtype: str) -> dict:
    real = load_json(oc.REAL_12B_DIR / "config.json")
    c = copy.deepcopy(real)
    tc = c["text_config"]
    for k, v in TINY.items():
        assert k in tc, k
        tc[k] = v
    tc["layer_types"] = layer_types(TINY["num_hidden_layers"])
    tc["vocab_size_per_layer_input"] = tt.VOCAB_SIZE  # unused (hidden_size_per_layer_input == 0), kept consistent
    tc["pad_token_id"], tc["eos_token_id"], tc["bos_token_id"] = T["pad"], T["eos"], T["bos"]
    vc = c["vision_config"]
    vc["mm_embed_dim"] = TINY["hidden_size"]
    vc["output_proj_dims"] = TINY["hidden_size"]
    # mm_posemb_size 1120, patch 16, pooling 3 (48-px patch), num_soft_tokens 280: kept
    # audio_config: audio_embed_dim 640 (== samples per token): kept
    c["boi_token_id"], c["eoi_token_id"], c["image_token_id"] = T["boi"], T["eoi"], T["image"]
    c["boa_token_id"], c["eoa_token_index"], c["audio_token_id"] = T["boa"], T["eoa"], T["audio"]
    c["video_token_id"] = T["video"]
    c["eos_token_id"] = [T["eos"], T["eot"]]
    c["dtype"] = dtype
    c["transformers_version"] = oc.versions()["transformers"]
    return c


def gemma4_generation_config() -> dict:
    real = load_json(oc.REAL_12B_DIR / "generation_config.json")
    g = copy.deepcopy(real)
    g["bos_token_id"], g["pad_token_id"] = T["bos"], T["pad"]
    g["eos_token_id"] = [T["eos"], T["eot"], T["tool_response"]]  # real: [1, 106, 50]
    g["suppress_tokens"] = [T["eoa"], T["eoi"]]  # real: [258883 <audio|>, 258882 <image|>]
    g["transformers_version"] = oc.versions()["transformers"]
    return g


def assistant_config() -> dict:
    real = load_json(oc.REAL_ASSISTANT_DIR / "config.json")
    c = copy.deepcopy(real)
    tc = c["text_config"]
    # Attention geometry must match the target's layers the drafter reads (it has no K/V projections).
    for k in ("num_attention_heads", "head_dim", "global_head_dim", "num_key_value_heads",
              "num_global_key_value_heads", "sliding_window", "vocab_size", "max_position_embeddings"):
        tc[k] = TINY[k]
    for k, v in TINY_ASSISTANT.items():
        tc[k] = v
    tc["layer_types"] = ["sliding_attention"] * 3 + ["full_attention"]
    tc["num_kv_shared_layers"] = TINY_ASSISTANT["num_hidden_layers"]
    tc["pad_token_id"], tc["eos_token_id"], tc["bos_token_id"] = T["pad"], T["eos"], T["bos"]
    tc["dtype"] = "float32"
    c["backbone_hidden_size"] = TINY["hidden_size"]
    c["boi_token_id"], c["eoi_token_id"], c["image_token_id"] = T["boi"], T["eoi"], T["image"]
    c["boa_token_id"], c["eoa_token_index"], c["audio_token_id"] = T["boa"], T["eoa"], T["audio"]
    c["dtype"] = "float32"
    c["transformers_version"] = oc.versions()["transformers"]
    # use_ordered_embeddings stays false (12B), so num_centroids / centroid_intermediate_top_k are unused.
    return c


def assistant_generation_config() -> dict:
    real = load_json(oc.REAL_ASSISTANT_DIR / "generation_config.json")
    g = copy.deepcopy(real)
    g["bos_token_id"], g["pad_token_id"], g["eos_token_id"] = T["bos"], T["pad"], T["eos"]
    g["suppress_tokens"] = [T["eoa"], T["eoi"]]
    g["transformers_version"] = oc.versions()["transformers"]
    return g


def gemma3_config() -> dict:
    # Gemma 3 (the 270M's structure): 5 sliding : 1 full, GQA/MQA, 1+w norms, query_pre_attn_scalar scaling.
    return {
        "architectures": ["Gemma3ForCausalLM"],
        "attention_bias": False,
        "attention_dropout": 0.0,
        "attn_logit_softcapping": None,
        "bos_token_id": T["bos"],
        "dtype": "float32",
        "eos_token_id": [T["eos"], T["eot"]],
        "final_logit_softcapping": None,
        "head_dim": 32,
        "hidden_activation": "gelu_pytorch_tanh",
        "hidden_size": 64,
        "initializer_range": 0.02,
        "intermediate_size": 128,
        "layer_types": layer_types(12),
        "max_position_embeddings": 4096,
        "model_type": "gemma3_text",
        "num_attention_heads": 4,
        "num_hidden_layers": 12,
        "num_key_value_heads": 1,
        "pad_token_id": T["pad"],
        "query_pre_attn_scalar": 32,
        "rms_norm_eps": 1e-06,
        "rope_parameters": {
            "full_attention": {"rope_theta": 1000000.0, "rope_type": "default"},
            "sliding_attention": {"rope_theta": 10000.0, "rope_type": "default"},
        },
        "sliding_window": 16,
        "tie_word_embeddings": True,
        "transformers_version": oc.versions()["transformers"],
        "use_bidirectional_attention": False,
        "use_cache": True,
        "vocab_size": tt.VOCAB_SIZE,
    }


def gemma3_generation_config() -> dict:
    return {
        "bos_token_id": T["bos"],
        "do_sample": True,
        "eos_token_id": [T["eos"], T["eot"]],
        "pad_token_id": T["pad"],
        "top_k": 64,
        "top_p": 0.95,
        "transformers_version": oc.versions()["transformers"],
    }


# ---------------------------------------------------------------------------------------------------------------
# Weights: every tensor drawn from its own generator seeded by its checkpoint name.

def _normal(name, shape, std, mean=0.0):
    return torch.randn(shape, generator=oc.gen_for(name), dtype=torch.float32) * std + mean


def _uniform(name, shape, lo, hi):
    return torch.rand(shape, generator=oc.gen_for(name), dtype=torch.float32) * (hi - lo) + lo


# Per-family scales, chosen by a one-off parameter sweep (not part of the pipeline; see tests/fixtures/README.md
# "Weights") for:
#  - non-degenerate greedy output: with N(0,1) embeddings and unit norms the tied head of a random model just
#    copies the last input token; a smaller embedding and larger post-norms keep the residual from being
#    dominated by the current token's own embedding;
#  - final |logits| up to ~25, so Gemma 4's softcap at 30 changes them visibly;
#  - limited chaos: with unit q/k-norm weights (attention scaling 1.0, head_dim 32/64) the attention is so sharp
#    that bf16 rounding differences grow ~3x per layer (HF bf16 vs fp32 compute: NMSE 0.1 at the logits); q/k
#    norm weights ~0.35 bring that to ~4e-4 (the bf16 accumulation floor of 12 layers is ~2e-4).
GEMMA4_PROFILE = {
    "embed_std": 0.2,
    "post_norm_scale": 1.5,
    "final_norm_scale": 5.0,
    "qk_norm_scale": 0.35,
    "layer_scalar_range": (0.5, 1.5),
    "one_plus_w": False,
}
GEMMA3_PROFILE = {"embed_std": 0.25, "post_norm_scale": 3.0, "final_norm_scale": 4.0, "one_plus_w": True}


def init_tensor(name: str, shape: tuple[int, ...], profile: dict) -> torch.Tensor:
    """Non-trivial random values by role, so a wrong norm convention, scale or mask changes outputs visibly."""
    leaf = name.rsplit(".", 1)[-1]
    if name.endswith("layer_scalar"):
        lo, hi = profile.get("layer_scalar_range", (0.5, 1.5))
        return _uniform(name, shape, lo, hi)
    if name.endswith("embed_tokens.weight"):
        return _normal(name, shape, profile["embed_std"])
    if name.endswith("pos_embedding"):
        return _normal(name, shape, 0.5)
    is_norm = any(s in name for s in ("norm", "_ln1", "_ln2", "layernorm"))
    if is_norm and leaf == "weight" and len(shape) == 1:
        # Effective scale (10% spread): the profile's for the sandwich post-norms and the final norm, 1 elsewhere.
        if name.endswith(("post_attention_layernorm.weight", "post_feedforward_layernorm.weight")):
            scale = profile["post_norm_scale"]
        elif re.search(r"(^|\.)model\.(language_model\.)?norm\.weight$", name):
            scale = profile["final_norm_scale"]
        elif name.endswith(("q_norm.weight", "k_norm.weight")):
            scale = profile.get("qk_norm_scale", 1.0)
        else:
            scale = 1.0
        # Gemma 4 multiplies by w (stored near the scale); Gemma 3 multiplies by 1+w (stored near scale-1).
        return _normal(name, shape, 0.1 * scale, mean=scale - 1.0 if profile["one_plus_w"] else scale)
    if leaf == "bias":
        return _normal(name, shape, 0.1)
    if leaf == "weight" and len(shape) == 2:
        fan_in = shape[1]
        return _normal(name, shape, profile.get("proj_gain", 1.0) / math.sqrt(fan_in))
    raise ValueError(f"no init rule for {name} {shape}")


# The published checkpoint names differ from the module paths for the vision embedder
# (transformers conversion_mapping.py, "gemma4_unified"). Reverse of that mapping, applied on save.
GEMMA4_MODULE_TO_CHECKPOINT = [
    (r"^model\.embed_vision\.multimodal_embedder\.embedding_projection\.", "model.embed_vision.embedding_projection."),
    (r"^model\.embed_vision\.(patch_ln1|patch_dense|patch_ln2|pos_embedding|pos_norm)", r"model.vision_embedder.\1"),
]


def to_checkpoint_name(name: str, rules) -> str:
    for pat, rep in rules:
        new = re.sub(pat, rep, name)
        if new != name:
            return new
    return name


def build_state(model, rules, profile: dict) -> dict[str, torch.Tensor]:
    """Assigns values to every persistent parameter/buffer and returns {checkpoint_name: tensor} (ties excluded)."""
    sd = model.state_dict()
    tied = set(getattr(model, "_tied_weights_keys", None) or {})
    out = {}
    with torch.no_grad():
        for mname, t in sd.items():
            if mname in tied:
                continue
            cname = to_checkpoint_name(mname, rules)
            out[cname] = init_tensor(cname, tuple(t.shape), profile)
    return out


# ---------------------------------------------------------------------------------------------------------------

def write_model_dir(name: str, config: dict, gen_config: dict, state: dict[str, torch.Tensor], tokenizer_json: str):
    d = oc.MODELS_DIR / name
    if d.exists():
        shutil.rmtree(d)
    d.mkdir(parents=True)
    oc.dump_json(config, d / "config.json")
    oc.dump_json(gen_config, d / "generation_config.json")
    oc.save_safetensors(state, d / "model.safetensors")
    (d / "tokenizer.json").write_text(tokenizer_json, encoding="utf-8")
    oc.dump_json(tt.tokenizer_config(), d / "tokenizer_config.json")
    return d


def verify_roundtrip(model_dir: Path, cls, state: dict[str, torch.Tensor], rules, dtype) -> None:
    """Loads the written checkpoint with from_pretrained: no missing/unexpected keys, identical values,
    and save_pretrained writes the same tensor names."""
    m, info = cls.from_pretrained(model_dir, dtype=dtype, output_loading_info=True)
    assert not info["missing_keys"] and not info["unexpected_keys"], info
    assert not info.get("mismatched_keys"), info
    msd = m.state_dict()
    for mname, t in msd.items():
        cname = to_checkpoint_name(mname, rules)
        if cname in state:
            assert torch.equal(t, state[cname].to(t.dtype)), mname
    with tempfile.TemporaryDirectory() as td:
        m.save_pretrained(td)
        from safetensors import safe_open

        with safe_open(str(Path(td) / "model.safetensors"), "pt") as f:
            saved = set(f.keys())
    assert saved == set(state), (sorted(saved ^ set(state)))[:10]


def main() -> None:
    oc.setup_determinism(0)
    from transformers import (
        AutoConfig,
        Gemma3ForCausalLM,
        Gemma4UnifiedAssistantForCausalLM,
        Gemma4UnifiedForConditionalGeneration,
    )

    tok_json = tt.build_tokenizer_json()

    # --- tiny-gemma4 (fp32) ------------------------------------------------------------------------------------
    cfg = gemma4_config("float32")
    with tempfile.TemporaryDirectory() as td:
        oc.dump_json(cfg, Path(td) / "config.json")
        hf_cfg = AutoConfig.from_pretrained(td)
    torch.manual_seed(0)
    model = Gemma4UnifiedForConditionalGeneration(hf_cfg)
    state = build_state(model, GEMMA4_MODULE_TO_CHECKPOINT, GEMMA4_PROFILE)
    d = write_model_dir("tiny-gemma4", cfg, gemma4_generation_config(), state, tok_json)
    verify_roundtrip(d, Gemma4UnifiedForConditionalGeneration, state, GEMMA4_MODULE_TO_CHECKPOINT, torch.float32)

    # --- tiny-gemma4-bf16 ------------------------------------------------------------------------------------------
    state_bf16 = {k: v.to(torch.bfloat16) for k, v in state.items()}
    d = write_model_dir("tiny-gemma4-bf16", gemma4_config("bfloat16"), gemma4_generation_config(), state_bf16, tok_json)
    verify_roundtrip(d, Gemma4UnifiedForConditionalGeneration, state_bf16, GEMMA4_MODULE_TO_CHECKPOINT, torch.bfloat16)

    # --- tiny-gemma4-assistant ----------------------------------------------------------------------------------------
    acfg = assistant_config()
    with tempfile.TemporaryDirectory() as td:
        oc.dump_json(acfg, Path(td) / "config.json")
        hf_acfg = AutoConfig.from_pretrained(td)
    torch.manual_seed(0)
    amodel = Gemma4UnifiedAssistantForCausalLM(hf_acfg)
    astate = build_state(amodel, [], GEMMA4_PROFILE)
    d = write_model_dir("tiny-gemma4-assistant", acfg, assistant_generation_config(), astate, tok_json)
    verify_roundtrip(d, Gemma4UnifiedAssistantForCausalLM, astate, [], torch.float32)

    # --- tiny-gemma3 ---------------------------------------------------------------------------------------------------
    g3cfg = gemma3_config()
    with tempfile.TemporaryDirectory() as td:
        oc.dump_json(g3cfg, Path(td) / "config.json")
        hf_g3cfg = AutoConfig.from_pretrained(td)
    torch.manual_seed(0)
    g3 = Gemma3ForCausalLM(hf_g3cfg)
    g3state = build_state(g3, [], GEMMA3_PROFILE)
    d = write_model_dir("tiny-gemma3", g3cfg, gemma3_generation_config(), g3state, tok_json)
    verify_roundtrip(d, Gemma3ForCausalLM, g3state, [], torch.float32)

    for name in oc.MODEL_NAMES:
        for p in sorted((oc.MODELS_DIR / name).iterdir()):
            print(f"{p.relative_to(oc.ROOT)}  {p.stat().st_size:>9}  {oc.sha256_file(p)}")

    import self_check

    rc = self_check.main()
    if rc:
        sys.exit(rc)


if __name__ == "__main__":
    main()
