#!/usr/bin/env python3
"""MTP drafter goldens -> tests/fixtures/goldens/drafter/ (tiny-gemma4 target + tiny-gemma4-assistant, fp32, eager).

A. One drafting round from given target states, written out step by step exactly as HF's
   SinglePositionMultiTokenCandidateGenerator does it (transformers/generation/candidate_generator.py):
     target prefill on the prompt (use_cache, output_hidden_states, return_shared_kv_states)
     t0  = greedy token of the prefill's last row (suppress_tokens applied, as generate() does)
     h0  = hidden_states[-1][:, -1]  (POST-final-norm last hidden state of the row that produced t0)
     pos = len(prompt + [t0]) - 1 = len(prompt)   -- CONSTANT for all K steps
     K=4 times: x = concat(target.embed_tokens(tok) * sqrt(hidden) , h)   (target's scaled embedding)
                logits, h = drafter(x, position_ids=[[pos]], shared_kv_states=target's last sliding/full KV)
                tok = argmax(logits)  (raw drafter logits: no softcap, no suppress_tokens)
   Stored per prompt: h0, the shared K/V the drafter reads, each step's drafter logits and h_next, draft ids.
B. HF assisted generation generate(assistant_model=drafter, do_sample=False, max_new_tokens=32) with
   num_assistant_tokens=4, traced round by round (draft ids, accepted count, what the drafter read), asserted
   equal to plain greedy generate() (losslessness); round 1 asserted equal to A. Also once with
   num_assistant_tokens=20. NOTE: transformers 5.24.0 has no default K for this generator: the published assistant
   generation_config.json has no num_assistant_tokens, GenerationConfig's default is None, and
   SinglePositionMultiTokenCandidateGenerator does int(None) -> TypeError; generate(num_assistant_tokens=...) does
   not reach it either. K must be set on assistant_model.generation_config.

    .cache/venv-reference/bin/python scripts/reference/make_drafter_goldens.py
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import oracle_common as oc  # noqa: E402

import torch  # noqa: E402

OUT = oc.GOLDENS_DIR / "drafter"
K = 4
MAX_NEW = 32
PROMPT_LENGTHS = (7, 17, 40)  # below the window, just past it, past two windows
TRACE_ROUNDS_WITH_TENSORS = 3  # full tensors for the first rounds of the TRACE_PROMPT run
TRACE_PROMPT = 17


def prompt_ids() -> list[int]:
    import make_text_goldens

    return make_text_goldens.prompt_ids()  # the same nested prompt as the text goldens


def load():
    from transformers import Gemma4UnifiedAssistantForCausalLM, Gemma4UnifiedForConditionalGeneration

    target = Gemma4UnifiedForConditionalGeneration.from_pretrained(
        oc.MODELS_DIR / "tiny-gemma4", dtype=torch.float32, attn_implementation="eager"
    ).eval()
    drafter = Gemma4UnifiedAssistantForCausalLM.from_pretrained(
        oc.MODELS_DIR / "tiny-gemma4-assistant", dtype=torch.float32, attn_implementation="eager"
    ).eval()
    return target, drafter


def suppressed_argmax(logits: torch.Tensor, suppress: list[int]) -> torch.Tensor:
    x = logits.clone()
    if suppress:
        x[..., suppress] = float("-inf")
    return x.argmax(-1)


def draft_round(target, drafter, prompt: list[int]) -> tuple[dict, dict]:
    """Part A: one drafting round after the target's prefill, written out explicitly."""
    ids = torch.tensor([prompt])
    L = len(prompt)
    suppress = list(target.generation_config.suppress_tokens or [])
    with torch.no_grad():
        out = target(input_ids=ids, use_cache=True, output_hidden_states=True, return_shared_kv_states=True)
    t0 = int(suppressed_argmax(out.logits[0, -1], suppress))
    h = out.hidden_states[-1][:, -1:]  # [1, 1, 64], post-norm
    assert torch.equal(h, out.hidden_states[-1][:, -1:])
    cur_len = L + 1  # input_ids after appending t0
    skv = {k: (v[0][:, :, :cur_len], v[1][:, :, :cur_len]) for k, v in out.shared_kv_states.items()}
    pos = torch.tensor([[cur_len - 1]])
    attn = torch.ones((1, cur_len), dtype=torch.long)
    tok = torch.tensor([[t0]])
    embed = target.get_input_embeddings()
    steps_logits, steps_h, drafts, inputs = [], [], [], []
    with torch.no_grad():
        for _ in range(K):
            x = torch.cat([embed(tok), h], dim=-1)
            inputs.append(x[0, 0])
            o = drafter(inputs_embeds=x, attention_mask=attn, position_ids=pos, shared_kv_states=skv, use_cache=False)
            tok = o.logits.argmax(dim=-1)
            h = o.last_hidden_state
            steps_logits.append(o.logits[0, 0])
            steps_h.append(h[0, 0])
            drafts.append(int(tok))
    tensors = {
        "h0": out.hidden_states[-1][0, -1],
        "drafter_inputs": torch.stack(inputs),
        "draft_logits": torch.stack(steps_logits),
        "h_next": torch.stack(steps_h),
        "target_prefill_last_logits": out.logits[0, -1],
    }
    for lt, (k, v) in sorted(skv.items()):
        tensors[f"shared_kv.{lt}.k"] = k[0]
        tensors[f"shared_kv.{lt}.v"] = v[0]
    info = {
        "prompt_length": L,
        "t0": t0,
        "position_id": int(pos),
        "draft_ids": drafts,
        "shared_kv_shapes": {lt: list(k.shape[1:]) for lt, (k, v) in sorted(skv.items())},
    }
    return tensors, info


class Tracer:
    """Records HF's assisted-generation rounds: the drafter calls (per step) and the accepted count per round."""

    def __init__(self, drafter):
        from transformers.generation import candidate_generator as cg

        self.cg = cg
        self.rounds: list[dict] = []
        self._orig_get = cg.SinglePositionMultiTokenCandidateGenerator.get_candidates
        self._orig_upd = cg.SinglePositionMultiTokenCandidateGenerator.update_candidate_strategy
        tracer = self

        def get_candidates(gen, input_ids, model_kwargs, model_outputs, is_first_iteration, n_last_matches, **kw):
            rec = None
            if not is_first_iteration:
                rec = {
                    "input_len": int(input_ids.shape[1]),
                    "last_token": int(input_ids[0, -1]),
                    "n_last_matches": int(n_last_matches),
                    "from_prefill": bool(gen.is_main_model_prefill),
                    "target_rows": int(model_outputs.hidden_states[-1].shape[1]),
                    "shared_kv_len_before_crop": {
                        k: int(v[0].shape[2]) for k, v in sorted(model_outputs.shared_kv_states.items())
                    },
                    "steps": [],
                    "masks": [],
                }
                tracer.rounds.append(rec)
            res = tracer._orig_get(gen, input_ids, model_kwargs, model_outputs, is_first_iteration, n_last_matches, **kw)
            if rec is not None:
                rec["draft_ids"] = res[0][0, input_ids.shape[1]:].tolist()
            return res

        def update(gen, input_ids, scores, num_matches):
            if tracer.rounds and "n_matches" not in tracer.rounds[-1] and tracer.rounds[-1].get("draft_ids"):
                tracer.rounds[-1]["n_matches"] = int(num_matches)
            return tracer._orig_upd(gen, input_ids, scores, num_matches)

        def hook(module, args, kwargs, output):
            if not tracer.rounds:
                return
            skv = kwargs["shared_kv_states"]
            tracer.rounds[-1]["steps"].append(
                {
                    "position_id": int(kwargs["position_ids"][0, 0]),
                    "inputs_embeds": kwargs["inputs_embeds"][0, 0].detach().clone(),
                    "logits": output.logits[0, 0].detach().clone(),
                    "h_next": output.last_hidden_state[0, 0].detach().clone(),
                    "shared_kv_len": {k: int(v[0].shape[2]) for k, v in sorted(skv.items())},
                    "shared_kv": {k: (v[0][0].detach().clone(), v[1][0].detach().clone()) for k, v in skv.items()},
                }
            )

        def mask_hook(module, args, kwargs):
            # which entries of the shared K/V the drafter's query may attend to (True = allowed)
            if not tracer.rounds:
                return
            m = kwargs.get("attention_mask")
            key = f"allowed_kv_{module.layer_type}"
            steps = tracer.rounds[-1]["masks"]
            if m is None:
                allowed = "all (mask None)"
            else:
                row = (m[0, 0, -1] == 0) if m.dtype != torch.bool else m[0, 0, -1]
                idx = row.nonzero().view(-1).tolist()
                n = row.shape[-1]
                allowed = {"kv_len": n, "count": len(idx), "first": idx[0], "last": idx[-1],
                           "contiguous": idx == list(range(idx[0], idx[-1] + 1))}
            if module.layer_idx == 0:
                steps.append({})
            prev = steps[-1].setdefault(key, allowed)
            assert prev == allowed, "layers of one type see different masks"

        cg.SinglePositionMultiTokenCandidateGenerator.get_candidates = get_candidates
        cg.SinglePositionMultiTokenCandidateGenerator.update_candidate_strategy = update
        self.handles = [drafter.register_forward_hook(hook, with_kwargs=True)]
        for layer in drafter.model.layers:
            self.handles.append(layer.self_attn.register_forward_pre_hook(mask_hook, with_kwargs=True))

    def close(self):
        self.cg.SinglePositionMultiTokenCandidateGenerator.get_candidates = self._orig_get
        self.cg.SinglePositionMultiTokenCandidateGenerator.update_candidate_strategy = self._orig_upd
        for h in self.handles:
            h.remove()


def assisted(target, drafter, prompt: list[int], k: int) -> tuple[list[int], list[dict]]:
    drafter.generation_config.num_assistant_tokens = k
    tracer = Tracer(drafter)
    try:
        with torch.no_grad():
            out = target.generate(torch.tensor([prompt]), assistant_model=drafter, do_sample=False,
                                  max_new_tokens=MAX_NEW)
    finally:
        tracer.close()
    return out[0, len(prompt):].tolist(), tracer.rounds


def main() -> None:
    oc.setup_determinism(0)
    OUT.mkdir(parents=True, exist_ok=True)
    ids_all = prompt_ids()
    target, drafter = load()
    tensors: dict[str, torch.Tensor] = {}
    index: dict = {
        "description": "MTP drafter goldens (tiny-gemma4 + tiny-gemma4-assistant, fp32, eager). "
        "See tests/fixtures/README.md (Drafter goldens).",
        "command": ".cache/venv-reference/bin/python scripts/reference/make_drafter_goldens.py",
        "versions": oc.versions(),
        "K": K,
        "K_note": "set via assistant_model.generation_config.num_assistant_tokens (HF 5.24.0 has no working default: "
        "None -> TypeError in SinglePositionMultiTokenCandidateGenerator); constant per round (no schedule update)",
        "prompt_ids": ids_all,
        "prompt_note": "prompt of length L = prompt_ids[:L] (same nested prompt as goldens/text)",
        "single_round": [],
        "assisted": [],
    }

    # A. single drafting rounds
    for L in PROMPT_LENGTHS:
        oc.setup_determinism(0)
        t, info = draft_round(target, drafter, ids_all[:L])
        for k, v in t.items():
            tensors[f"round.p{L}.{k}"] = v.float()
        index["single_round"].append(info)

    # B. HF assisted generation, traced, vs plain greedy
    for L in PROMPT_LENGTHS:
        prompt = ids_all[:L]
        oc.setup_determinism(0)
        with torch.no_grad():
            greedy = target.generate(torch.tensor([prompt]), do_sample=False, max_new_tokens=MAX_NEW)[0, L:].tolist()
        oc.setup_determinism(0)
        out_k, rounds = assisted(target, drafter, prompt, K)
        oc.setup_determinism(0)
        out_default, rounds_default = assisted(target, drafter, prompt, 20)
        assert out_k == greedy, (L, out_k, greedy)
        assert out_default == greedy, (L, out_default, greedy)

        # Round 1 of HF's run is exactly part A.
        a = next(x for x in index["single_round"] if x["prompt_length"] == L)
        r1 = rounds[0]
        assert r1["from_prefill"] and r1["draft_ids"] == a["draft_ids"], (r1, a)
        for i, st in enumerate(r1["steps"]):
            assert st["position_id"] == a["position_id"]
            assert torch.equal(st["logits"], tensors[f"round.p{L}.draft_logits"][i]), (L, i)
            assert torch.equal(st["h_next"], tensors[f"round.p{L}.h_next"][i]), (L, i)

        # What the drafter actually reads: compare every shared K entry of each round with the K of a clean
        # target prefill over the tokens processed so far (input_ids[:-1]); entries matching no clean position
        # are K/V of rejected drafts left in the tensor (see README: HF reads stale entries).
        accepted_seq = prompt + greedy
        for r in rounds:
            if not r["steps"]:
                continue
            processed = accepted_seq[: r["input_len"] - 1]
            with torch.no_grad():
                clean = target(input_ids=torch.tensor([processed]), use_cache=True, return_shared_kv_states=True)
            r["stale_kv_entries_seen"] = {}
            for lt, (kk, _) in sorted(r["steps"][0]["shared_kv"].items()):
                ck = clean.shared_kv_states[lt][0][0]  # [heads, n, d]
                d = (kk.unsqueeze(2) - ck.unsqueeze(1)).abs().amax(dim=(0, 3))  # [entries, clean positions]
                stale = (d.min(dim=1).values > 1e-4).nonzero().view(-1).tolist()
                # mask: which entries the drafter may attend to
                m = r["masks"][0].get(f"allowed_kv_{lt}")
                allowed = range(kk.shape[1]) if not isinstance(m, dict) else range(m["first"], m["last"] + 1)
                r["stale_kv_entries_seen"][lt] = {
                    "entries": int(kk.shape[1]),
                    "stale_entry_indices": stale,
                    "stale_and_attended": [i for i in stale if i in allowed],
                }

        rounds_json = []
        for ri, r in enumerate(rounds):
            rj = {k: v for k, v in r.items() if k not in ("steps", "masks")}
            rj["drafter_mask_step0"] = r["masks"][0] if r["masks"] else None
            assert all(m == r["masks"][0] for m in r["masks"]), "mask changes within a round"
            rj["position_id"] = r["steps"][0]["position_id"] if r["steps"] else None
            rj["shared_kv_len_seen_by_drafter"] = r["steps"][0]["shared_kv_len"] if r["steps"] else None
            rounds_json.append(rj)
            if L == TRACE_PROMPT and ri < TRACE_ROUNDS_WITH_TENSORS:
                tensors[f"trace.p{L}.round{ri}.drafter_inputs"] = torch.stack([s["inputs_embeds"] for s in r["steps"]])
                tensors[f"trace.p{L}.round{ri}.draft_logits"] = torch.stack([s["logits"] for s in r["steps"]])
                tensors[f"trace.p{L}.round{ri}.h_next"] = torch.stack([s["h_next"] for s in r["steps"]])
                for lt, (kk, vv) in sorted(r["steps"][0]["shared_kv"].items()):
                    tensors[f"trace.p{L}.round{ri}.shared_kv.{lt}.k"] = kk
                    tensors[f"trace.p{L}.round{ri}.shared_kv.{lt}.v"] = vv
        index["assisted"].append(
            {
                "prompt_length": L,
                "greedy_ids": greedy,
                "assisted_ids_K4": out_k,
                "assisted_ids_K20": out_default,
                "assisted_equals_greedy": True,
                "rounds_K4": rounds_json,
                "accepted_per_round_K4": [r.get("n_matches") for r in rounds],
                "accepted_per_round_K20": [r.get("n_matches") for r in rounds_default],
                "tensors_for_first_rounds": L == TRACE_PROMPT,
            }
        )
        print(L, "greedy == assisted:", out_k == greedy, "accepted/round K4:", index["assisted"][-1]["accepted_per_round_K4"])

    index["tensors"] = {k: list(v.shape) for k, v in sorted(tensors.items())}
    oc.save_safetensors(tensors, OUT / "drafter.safetensors")
    oc.dump_json(index, OUT / "index.json")
    for p in sorted(OUT.iterdir()):
        print(f"{p.relative_to(oc.ROOT)}  {p.stat().st_size:>9}  {oc.sha256_file(p)}")


if __name__ == "__main__":
    main()
