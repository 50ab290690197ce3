"""Shared helpers for the reference-oracle scripts (tiny models, text/drafter goldens, self-check).

Everything here is deterministic: fixed seeds, one thread, deterministic torch algorithms.
Run the scripts with the reference virtualenv, e.g.
    .cache/venv-reference/bin/python scripts/reference/make_tiny_models.py
"""

from __future__ import annotations

import hashlib
import json
import os
import zlib
from pathlib import Path

# Must be set before torch / tokenizers spin up thread pools.
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("RAYON_NUM_THREADS", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("MKL_NUM_THREADS", "1")
os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")

import torch  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
SHARED = ROOT.parent / "shared"
REAL_12B_DIR = SHARED / "reference" / "gemma-4-12B-it"
REAL_ASSISTANT_DIR = SHARED / "reference" / "gemma-4-12B-it-assistant"
FIXTURES = ROOT / "tests" / "fixtures"
MODELS_DIR = FIXTURES / "models"
GOLDENS_DIR = FIXTURES / "goldens"

MODEL_NAMES = ("tiny-gemma4", "tiny-gemma4-bf16", "tiny-gemma4-assistant", "tiny-gemma3")


def setup_determinism(seed: int = 0) -> None:
    torch.manual_seed(seed)
    torch.use_deterministic_algorithms(True)
    torch.set_num_threads(1)
    try:
        torch.set_num_interop_threads(1)
    except RuntimeError:
        pass  # already set in this process


def versions() -> dict:
    import numpy
    import safetensors
    import tokenizers
    import transformers

    return {
        "torch": torch.__version__,
        "transformers": transformers.__version__,
        "tokenizers": tokenizers.__version__,
        "safetensors": safetensors.__version__,
        "numpy": numpy.__version__,
    }


def name_seed(name: str, base: int = 20261127) -> int:
    """Per-tensor seed derived from the tensor's name, so weights do not depend on iteration order."""
    return (base * 1_000_003 + zlib.crc32(name.encode("utf-8"))) & 0x7FFF_FFFF_FFFF_FFFF


def gen_for(name: str, base: int = 20261127) -> torch.Generator:
    g = torch.Generator(device="cpu")
    g.manual_seed(name_seed(name, base))
    return g


def dump_json(obj, path: Path) -> None:
    """Canonical JSON: sorted keys, 2-space indent, trailing newline (same style as the published configs)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(obj, indent=2, sort_keys=True, ensure_ascii=False) + "\n", encoding="utf-8")


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def tree_digest(root: Path) -> dict[str, str]:
    return {str(p.relative_to(root)): sha256_file(p) for p in sorted(root.rglob("*")) if p.is_file()}


def save_safetensors(tensors: dict[str, torch.Tensor], path: Path) -> None:
    from safetensors.torch import save_file

    path.parent.mkdir(parents=True, exist_ok=True)
    ordered = {k: tensors[k].detach().contiguous().clone() for k in sorted(tensors)}
    save_file(ordered, str(path), metadata={"format": "pt"})


def use_intended_vision_mask() -> None:
    """Makes Gemma4UnifiedModel.forward() (and therefore generate() with the default DynamicCache) build the
    intended Gemma 4 vision mask -- sliding layers: (causal OR same vision block) AND window(kv > q - W);
    full layers: causal -- instead of the generic mask it builds in transformers 5.24.0 (block OR on every layer,
    no window clamp). It routes the forward's mask construction to the model file's own
    `create_masks_for_vision_model`, which is what `Gemma4UnifiedForConditionalGeneration.create_masks_for_generate`
    (used by generate() with a static cache) calls. See tests/fixtures/goldens/MASK.md. Idempotent."""
    import transformers.models.gemma4_unified.modeling_gemma4_unified as mu

    if getattr(mu.create_masks_for_generate, "_loom_intended", False):
        return
    generic = mu.create_masks_for_generate

    def patched(config, inputs_embeds, attention_mask, cache, position_ids=None, block_sequence_ids=None, **kw):
        if block_sequence_ids is not None and not kw.get("or_mask_function") and not kw.get("and_mask_function"):
            return mu.create_masks_for_vision_model(
                config=config,
                inputs_embeds=inputs_embeds,
                attention_mask=attention_mask,
                cache=cache,
                position_ids=position_ids,
                block_sequence_ids=block_sequence_ids,
            )
        return generic(config, inputs_embeds, attention_mask, cache, position_ids=position_ids,
                       block_sequence_ids=block_sequence_ids, **kw)

    patched._loom_intended = True
    mu.create_masks_for_generate = patched


def undo_intended_vision_mask() -> None:
    import transformers.models.gemma4_unified.modeling_gemma4_unified as mu

    if getattr(mu.create_masks_for_generate, "_loom_intended", False):
        import transformers.masking_utils as mk

        mu.create_masks_for_generate = mk.create_masks_for_generate
