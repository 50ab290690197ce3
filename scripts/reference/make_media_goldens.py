#!/usr/bin/env python3
"""Media goldens for loom: image / audio / video processor outputs and tiny-model outputs.

Reads  tests/fixtures/media/*            (made by make_media.py)
       tests/fixtures/models/tiny-gemma4 (made by make_tiny_models.py; only for the model part and
                                          the tokenizer used to expand prompts)
       ../shared/reference/gemma-4-12B-it/processor_config.json (processor settings, used verbatim)
Writes tests/fixtures/goldens/{image,audio,video}/

Run with the reference virtualenv:
    .cache/venv-reference/bin/python scripts/reference/make_media_goldens.py [--skip-model]

The reference environment must have torchvision (image/video processors import it), torchcodec
(transformers' default decoder for image/video files and, when installed, for audio files) and soxr
(transformers' soundfile audio backend).  See tests/fixtures/MEDIA.md for what is stored and how
loom should compare against it.
"""
from __future__ import annotations

import argparse
import hashlib
import io
import json
import math
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import oracle_common as oc  # noqa: E402  (sets thread env vars before torch is imported)

import numpy as np  # noqa: E402
import torch  # noqa: E402
from PIL import Image  # noqa: E402
from torchvision.transforms.v2.functional import InterpolationMode  # noqa: E402

BICUBIC = InterpolationMode.BICUBIC

ROOT = oc.ROOT
MEDIA = ROOT / "tests" / "fixtures" / "media"
GOLD = ROOT / "tests" / "fixtures" / "goldens"
TINY = ROOT / "tests" / "fixtures" / "models" / "tiny-gemma4"
PROC_CFG = oc.REAL_12B_DIR / "processor_config.json"

IMAGES = [
    "tiny.png", "square.jpg", "wide.png", "tall.jpg", "rgba.png", "gray.png",
    "exif_rot6.jpg", "strip.png", "exact70.png",
]
BUDGETS = (70, 280)
# Full resized uint8 image stored (as PNG) for every image at budget 70; at budget 280 only for these
# (the others store the first 48-row band + a SHA-256 of the whole image) to keep the fixtures small.
FULL_280 = {"tiny.png", "gray.png", "strip.png", "exact70.png"}
AUDIOS = ["speech_16k.wav", "speech_22k.wav", "stereo_44k.wav", "mono_8k.wav", "short_300.wav"]
VIDEO = "testsrc_96x64_10fps.mp4"
VIDEO_MODEL_FRAMES = 4  # num_frames override for the model-output video case (default 32 is too long)

PROMPT_IMAGE = "<bos><|turn>user\nWhat is in <|image|>?<turn|>\n<|turn>model\n"
PROMPT_AUDIO = "<bos><|turn>user\nListen: <|audio|> Transcribe.<turn|>\n<|turn>model\n"
PROMPT_VIDEO = "<bos><|turn>user\n<|video|>What happens?<turn|>\n<|turn>model\n"
N_GREEDY = 16


# ----------------------------------------------------------------------------------------------
# helpers
# ----------------------------------------------------------------------------------------------

def dump_json(obj, path: Path) -> None:
    """Like oracle_common.dump_json (sorted keys, indent 2, trailing newline) but with arrays of scalars
    kept on one line, so token-id lists stay compact."""
    import re

    text = json.dumps(obj, indent=2, sort_keys=True, ensure_ascii=False)

    def collapse(m: re.Match) -> str:
        inner = m.group(1)
        items = [x.strip() for x in inner.split(",")]
        return "[" + ", ".join(items) + "]"

    # innermost arrays whose items are numbers / null / true / false only
    text = re.sub(r"\[\s*((?:-?[0-9.eE+-]+|null|true|false)(?:\s*,\s*(?:-?[0-9.eE+-]+|null|true|false))*)\s*\]", collapse, text)
    # arrays of such one-line arrays (e.g. positions [[x, y], ...])
    text = re.sub(r"\[\s*((?:\[[^\[\]\n]*\])(?:\s*,\s*\[[^\[\]\n]*\])*)\s*\]",
                  lambda m: "[" + ", ".join(x.strip() for x in re.findall(r"\[[^\[\]\n]*\]", m.group(1))) + "]", text)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text + "\n", encoding="utf-8")


def sha(b: bytes) -> str:
    return hashlib.sha256(b).hexdigest()


def t_sha(t: torch.Tensor | np.ndarray) -> str:
    a = t.detach().cpu().contiguous().numpy() if isinstance(t, torch.Tensor) else np.ascontiguousarray(t)
    if a.dtype.byteorder == ">":
        a = a.astype(a.dtype.newbyteorder("<"))
    return sha(a.tobytes())


def png_bytes(hwc_u8: np.ndarray) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(hwc_u8), "RGB").save(buf, format="PNG", compress_level=9, optimize=False)
    return buf.getvalue()


def write(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)


def nmse(a: torch.Tensor, b: torch.Tensor) -> float:
    a = a.double()
    b = b.double()
    return float(((a - b) ** 2).sum() / (b**2).sum().clamp_min(1e-300))


def load_proc_cfg() -> dict:
    return json.loads(PROC_CFG.read_text())


def strip_type(d: dict, key: str) -> dict:
    return {k: v for k, v in d.items() if k != key}


def make_image_processor(cfg):
    from transformers.models.gemma4_unified.image_processing_gemma4_unified import Gemma4UnifiedImageProcessor

    return Gemma4UnifiedImageProcessor(**strip_type(cfg["image_processor"], "image_processor_type"))


def make_video_processor(cfg):
    from transformers.models.gemma4_unified.video_processing_gemma4_unified import Gemma4UnifiedVideoProcessor

    return Gemma4UnifiedVideoProcessor(**strip_type(cfg["video_processor"], "video_processor_type"))


def make_feature_extractor(cfg):
    from transformers.models.gemma4_unified.feature_extraction_gemma4_unified import (
        Gemma4UnifiedAudioFeatureExtractor,
    )

    return Gemma4UnifiedAudioFeatureExtractor(**strip_type(cfg["feature_extractor"], "feature_extractor_type"))


def make_processor(cfg):
    from transformers import AutoTokenizer
    from transformers.models.gemma4_unified.processing_gemma4_unified import Gemma4UnifiedProcessor

    tok = AutoTokenizer.from_pretrained(str(TINY))
    return Gemma4UnifiedProcessor(
        feature_extractor=make_feature_extractor(cfg),
        image_processor=make_image_processor(cfg),
        tokenizer=tok,
        video_processor=make_video_processor(cfg),
        image_seq_length=cfg["image_seq_length"],
        audio_seq_length=cfg["audio_seq_length"],
        audio_ms_per_token=cfg["audio_ms_per_token"],
    )


def seq_record(proc, out) -> dict:
    ids = out["input_ids"][0].tolist()
    return {
        "input_ids": ids,
        "mm_token_type_ids": out["mm_token_type_ids"][0].tolist(),
        "text": proc.tokenizer.decode(ids, skip_special_tokens=False),
        "length": len(ids),
    }


# ---- independent re-implementation of torch's CPU uint8 bicubic antialias resize ---------------
# (used only as a self-check: it must reproduce the processor's resize bit for bit)

def _cubic_aa(x: float, a: float = -0.5) -> float:
    x = abs(x)
    if x < 1.0:
        return ((a + 2.0) * x - (a + 3.0)) * x * x + 1.0
    if x < 2.0:
        return (((x - 5.0) * x + 8.0) * x - 4.0) * a
    return 0.0


def _int16_weights(in_size: int, out_size: int):
    scale = in_size / out_size
    support = 2.0 * (scale if scale >= 1.0 else 1.0)
    invscale = 1.0 / scale if scale >= 1.0 else 1.0
    bounds, ws = [], []
    for i in range(out_size):
        center = scale * (i + 0.5)
        xmin = max(int(center - support + 0.5), 0)
        xmax = min(int(center + support + 0.5), in_size)
        w = [_cubic_aa((j + xmin - center + 0.5) * invscale) for j in range(xmax - xmin)]
        tot = sum(w)
        w = [v / tot if tot != 0.0 else 0.0 for v in w]
        bounds.append((xmin, xmax - xmin))
        ws.append(w)
    wmax = max(max(w) for w in ws)
    prec = 0
    while prec < 22 and int(0.5 + wmax * (1 << (prec + 1))) < (1 << 15):
        prec += 1
    wi = [[int(v * (1 << prec) + (0.5 if v >= 0 else -0.5)) for v in w] for w in ws]
    return bounds, wi, prec


def _resize_axis(a: np.ndarray, axis: int, out_size: int) -> np.ndarray:
    if a.shape[axis] == out_size:
        return a
    bounds, wi, prec = _int16_weights(a.shape[axis], out_size)
    x = np.moveaxis(a.astype(np.int64), axis, 0)
    out = np.empty((out_size,) + x.shape[1:], dtype=np.int64)
    for i, ((xmin, n), w) in enumerate(zip(bounds, wi)):
        acc = np.full(x.shape[1:], 1 << (prec - 1), dtype=np.int64)
        for j in range(n):
            acc += x[xmin + j] * w[j]
        out[i] = np.clip(acc >> prec, 0, 255)
    return np.moveaxis(out.astype(np.uint8), 0, axis)


def reference_resize_chw(img: np.ndarray, oh: int, ow: int) -> np.ndarray:
    return _resize_axis(_resize_axis(img, 2, ow), 1, oh)  # horizontal pass first, then vertical


def patchify_hwc(img_chw_f32: torch.Tensor, m: int = 48) -> torch.Tensor:
    """[3,H,W] -> [(H/m)*(W/m), m*m*3], raster order over blocks, (y, x, c) inside a block."""
    c, h, w = img_chw_f32.shape
    x = img_chw_f32.reshape(c, h // m, m, w // m, m).permute(1, 3, 2, 4, 0)
    return x.reshape((h // m) * (w // m), m * m * c)


# ----------------------------------------------------------------------------------------------
# image goldens
# ----------------------------------------------------------------------------------------------

def image_goldens(proc, out_dir: Path) -> dict:
    from transformers.image_utils import load_image_as_tensor
    from transformers.models.gemma4_unified.image_processing_gemma4_unified import (
        get_aspect_ratio_preserving_size,
    )

    ip = proc.image_processor
    index = {"images": {}}
    for name in IMAGES:
        stem = name.rsplit(".", 1)[0]
        path = MEDIA / name
        src = path.read_bytes()
        pil = Image.open(path)
        decoded = load_image_as_tensor(str(path))  # [3,H,W] uint8: what the processor decodes for a path
        rec = {
            "file": f"media/{name}",
            "sha256": sha(src),
            "format": pil.format,
            "pil_mode": pil.mode,
            "stored_size_wh": list(pil.size),
            "exif_orientation": pil.getexif().get(0x0112),
            "decoded_hw": [int(decoded.shape[1]), int(decoded.shape[2])],
            "decoded_rgb_sha256": t_sha(decoded.permute(1, 2, 0)),
            "budgets": {},
        }
        tensors: dict[str, torch.Tensor] = {}
        if name.endswith(".jpg") or pil.mode != "RGB":
            fn = f"{stem}.decoded.png"
            write(out_dir / fn, png_bytes(decoded.permute(1, 2, 0).numpy()))
            rec["decoded_png"] = fn
        for budget in BUDGETS:
            th, tw = get_aspect_ratio_preserving_size(
                height=rec["decoded_hw"][0], width=rec["decoded_hw"][1], patch_size=16,
                max_patches=budget * 9, pooling_kernel_size=3,
            )
            out = proc(text=[PROMPT_IMAGE], images=[[str(path)]], images_kwargs={"max_soft_tokens": budget},
                       return_tensors="pt")
            n = int((out["input_ids"][0] == proc.image_token_id).sum())
            pv_all = out["pixel_values"][0]
            pos_all = out["image_position_ids"][0]
            assert pv_all.shape == (budget, 6912), pv_all.shape
            pv = pv_all[:n].contiguous()
            pos = pos_all[:n].contiguous()
            assert torch.all(pv_all[n:] == 0) and torch.all(pos_all[n:] == -1)
            assert n == (th // 48) * (tw // 48)
            # resized uint8 exactly as the processor does it (its own method), then check the float order
            resized = ip.aspect_ratio_preserving_resize(decoded, patch_size=16, max_patches=budget * 9,
                                                        pooling_kernel_size=3, resample=BICUBIC)
            assert resized.dtype == torch.uint8 and tuple(resized.shape[1:]) == (th, tw)
            rescaled = resized * ip.rescale_factor  # uint8 tensor * python float -> float32 (x * f32(1/255))
            assert torch.equal(patchify_hwc(rescaled), pv), "pixel_values != patchify(resize_u8 * (1/255))"
            assert torch.equal(pv, patchify_hwc(resized.float() * np.float32(1.0 / 255.0)))
            ref = reference_resize_chw(decoded.numpy(), th, tw)
            ref_ok = bool(np.array_equal(ref, resized.numpy()))
            assert ref_ok, f"independent resize re-implementation differs for {name} @ {budget}"
            exp_pos = torch.tensor([[c, r] for r in range(th // 48) for c in range(tw // 48)], dtype=torch.long)
            assert torch.equal(pos, exp_pos)
            hwc = resized.permute(1, 2, 0).contiguous().numpy()
            b = {
                "target_hw": [th, tw],
                "grid_hw": [th // 48, tw // 48],
                "num_soft_tokens": n,
                "resize_skipped": bool(th == decoded.shape[1] and tw == decoded.shape[2]),
                "resized_u8_hwc_sha256": sha(hwc.tobytes()),
                "pixel_values_f32_sha256": t_sha(pv),
                "pixel_values_rows_saved": [0, n - 1],
                "positions_xy": pos.tolist(),
                "independent_resize_reimplementation_matches": ref_ok,
                "sequence": seq_record(proc, out),
            }
            if budget == 70 or name in FULL_280:
                fn = f"{stem}.b{budget}.resized.png"
                write(out_dir / fn, png_bytes(hwc))
                b["resized_png"] = fn
            else:
                fn = f"{stem}.b{budget}.band0.png"
                write(out_dir / fn, png_bytes(hwc[:48]))
                b["resized_band_png"] = fn
                b["resized_band_rows"] = [0, 48]
            tensors[f"b{budget}.pixel_values_rows"] = pv[[0, n - 1]].clone()
            tensors[f"b{budget}.positions_xy"] = pos.clone()
            rec["budgets"][str(budget)] = b
        # A PIL.Image object handed to the processor takes another route: RGBA is composited on white
        # and the EXIF orientation is NOT applied.  Record it for the two files where that matters.
        if name in ("rgba.png", "exif_rot6.jpg"):
            out = proc(text=[PROMPT_IMAGE], images=[[Image.open(path)]], images_kwargs={"max_soft_tokens": 70},
                       return_tensors="pt")
            n = int((out["input_ids"][0] == proc.image_token_id).sum())
            pil_rgb = ip.process_image(Image.open(path), do_convert_rgb=True)
            hwc = pil_rgb.permute(1, 2, 0).contiguous().numpy()
            alt = {
                "what": "processor(images=[PIL.Image.open(file)]) instead of a path: "
                        "convert_to_rgb composites alpha on white (PIL alpha_composite), no EXIF transpose",
                "decoded_hw": [int(pil_rgb.shape[1]), int(pil_rgb.shape[2])],
                "decoded_rgb_sha256": sha(hwc.tobytes()),
                "b70_num_soft_tokens": n,
                "b70_pixel_values_f32_sha256": t_sha(out["pixel_values"][0][:n]),
                "differs_from_path_input": sha(hwc.tobytes()) != rec["decoded_rgb_sha256"],
            }
            fn = f"{stem}.pil_object.decoded.png"
            write(out_dir / fn, png_bytes(hwc))
            alt["decoded_png"] = fn
            rec["pil_object_input"] = alt
        oc.save_safetensors(tensors, out_dir / f"{stem}.safetensors")
        rec["tensors"] = f"{stem}.safetensors"
        index["images"][name] = rec
        print(f"image {name}: " + ", ".join(f"b{k}={v['target_hw']}/{v['num_soft_tokens']}" for k, v in rec["budgets"].items()),
              flush=True)
    return index


# ----------------------------------------------------------------------------------------------
# audio goldens
# ----------------------------------------------------------------------------------------------

def audio_goldens(proc, out_dir: Path) -> dict:
    import soundfile as sf
    from transformers.audio_utils import load_audio

    fe = proc.feature_extractor
    index = {"primary_backend": "torchcodec", "audios": {}}
    for name in AUDIOS:
        stem = name.rsplit(".", 1)[0]
        path = MEDIA / name
        info = sf.info(str(path))
        raw, _ = sf.read(str(path), dtype="int16", always_2d=True)
        wav_tc = load_audio(str(path), sampling_rate=16000, backend="torchcodec")
        wav_sf = load_audio(str(path), sampling_rate=16000, backend="soundfile")
        wav_auto = load_audio(str(path), sampling_rate=16000)
        assert np.array_equal(wav_auto, wav_tc), "backend='auto' should resolve to torchcodec here"
        feats = fe(wav_tc, return_tensors="pt")
        frames = feats["input_features"][0]
        mask = feats["input_features_mask"][0]
        n = int(mask.sum())
        assert n == math.ceil(len(wav_tc) / 640) and frames.shape == (n, 640)
        padded = np.zeros(n * 640, dtype=np.float32)
        padded[: len(wav_tc)] = wav_tc
        assert np.array_equal(frames.numpy().reshape(-1), padded)
        out = proc(text=[PROMPT_AUDIO], audio=[str(path)], return_tensors="pt")
        assert torch.equal(out["input_features"][0], frames)
        n_sf = math.ceil(len(wav_sf) / 640)
        same_len = len(wav_sf) == len(wav_tc)
        rec = {
            "file": f"media/{name}",
            "sha256": sha(path.read_bytes()),
            "src_rate": info.samplerate,
            "src_channels": info.channels,
            "src_frames": info.frames,
            "src_int16_sha256": sha(raw.astype("<i2").tobytes()),
            "torchcodec": {"num_samples": int(len(wav_tc)), "samples_f32_sha256": t_sha(wav_tc), "num_frames": n},
            "soundfile_soxr": {"num_samples": int(len(wav_sf)), "samples_f32_sha256": t_sha(wav_sf), "num_frames": n_sf},
            "backends_identical": bool(same_len and np.array_equal(wav_sf, wav_tc)),
            "frames_f32_sha256": t_sha(frames),
            "num_frames": n,
            "sequence": seq_record(proc, out),
        }
        if same_len:
            d = wav_sf.astype(np.float64) - wav_tc.astype(np.float64)
            rec["backend_diff"] = {
                "max_abs": float(np.abs(d).max()),
                "nmse_tc_vs_sf": float((d**2).sum() / max((wav_sf.astype(np.float64) ** 2).sum(), 1e-300)),
            }
        tensors = {"samples_torchcodec": torch.from_numpy(wav_tc.copy()), "frames": frames.clone(),
                   "samples_soundfile_soxr": torch.from_numpy(wav_sf.copy())}
        if rec["backends_identical"]:
            del tensors["samples_soundfile_soxr"]
        oc.save_safetensors(tensors, out_dir / f"{stem}.safetensors")
        rec["tensors"] = f"{stem}.safetensors"
        index["audios"][name] = rec
        print(f"audio {name}: {info.samplerate} Hz x{info.channels} -> tc {len(wav_tc)} / sf {len(wav_sf)} samples, N={n}",
              flush=True)
    return index


# ----------------------------------------------------------------------------------------------
# video goldens
# ----------------------------------------------------------------------------------------------

def video_goldens(proc, out_dir: Path) -> dict:
    from torchcodec.decoders import VideoDecoder
    from transformers.video_utils import default_sample_indices_fn

    vp = proc.video_processor
    path = MEDIA / VIDEO
    dec = VideoDecoder(str(path), seek_mode="exact", num_ffmpeg_threads=0, device="cpu")
    md = dec.metadata
    index = {
        "file": f"media/{VIDEO}",
        "sha256": sha(path.read_bytes()),
        "metadata": {"num_frames": md.num_frames, "average_fps": md.average_fps, "duration_seconds": md.duration_seconds,
                     "width": md.width, "height": md.height, "pixel_format": md.pixel_format, "codec": md.codec},
        "cases": {},
    }
    tensors: dict[str, torch.Tensor] = {}
    for case, nf in (("default", None), (f"num_frames_{VIDEO_MODEL_FRAMES}", VIDEO_MODEL_FRAMES)):
        kw = {} if nf is None else {"num_frames": nf}
        vout = vp(videos=str(path), return_metadata=True, return_tensors="pt", **kw)
        meta = vout["video_metadata"][0]
        idx = [int(i) for i in meta.frames_indices]
        nf_eff = len(idx)
        expect = (np.arange(nf_eff, dtype=int) * md.num_frames // nf_eff).tolist()
        assert idx == expect, (idx, expect)
        assert idx == default_sample_indices_fn(meta, num_frames=nf_eff).tolist()
        stamps = [f"{int(s // 60):02d}:{int(s % 60):02d}" for s in meta.timestamps]
        frames = dec.get_frames_at(indices=idx).data.contiguous()  # [F,3,H,W] uint8 (torchcodec, swscale rgb24)
        pv_all = vout["pixel_values_videos"]
        pos_all = vout["video_position_ids"]
        n = int(vout["num_soft_tokens_per_video"][0])
        per_frame = []
        for f in range(nf_eff):
            resized = vp.aspect_ratio_preserving_resize(frames[f:f + 1], patch_size=16, max_patches=70 * 9,
                                                        pooling_kernel_size=3, resample=BICUBIC)[0]
            pv = pv_all[f, :n]
            # video: fused rescale+normalize -> (x - 0) / 255.0 (a true division, unlike images' x * f32(1/255))
            assert torch.equal(pv, patchify_hwc(resized.float() / 255.0))
            assert torch.all(pv_all[f, n:] == 0) and torch.all(pos_all[f, n:] == -1)
            ref = reference_resize_chw(frames[f].numpy(), resized.shape[1], resized.shape[2])
            assert np.array_equal(ref, resized.numpy())
            hwc = resized.permute(1, 2, 0).contiguous().numpy()
            per_frame.append({
                "index": idx[f],
                "timestamp": stamps[f],
                "timestamp_seconds": float(meta.timestamps[f]),
                "decoded_rgb_sha256": t_sha(frames[f].permute(1, 2, 0)),
                "resized_hw": [int(resized.shape[1]), int(resized.shape[2])],
                "num_soft_tokens": n,
                "resized_u8_hwc_sha256": sha(hwc.tobytes()),
                "pixel_values_f32_sha256": t_sha(pv),
            })
            if case == "default" and f == 0:
                write(out_dir / "frame0.b70.resized.png", png_bytes(hwc))
                tensors["frame0.pixel_values_rows"] = pv[[0, n - 1]].clone()
                tensors["positions_xy"] = pos_all[f, :n].clone()
        text_prompt = PROMPT_VIDEO
        pout = proc(text=[text_prompt], videos=[str(path)], videos_kwargs=kw, return_tensors="pt")
        assert torch.equal(pout["pixel_values_videos"], pv_all)
        tensors[f"{case}.decoded_frames_nhwc_u8"] = frames.permute(0, 2, 3, 1).contiguous()
        index["cases"][case] = {
            "num_frames_kwarg": nf,
            "sampled_indices": idx,
            "timestamps": stamps,
            "fps_used": float(meta.fps),
            "frames": per_frame,
            "sequence": seq_record(proc, pout),
        }
        print(f"video {case}: {nf_eff} frames idx={idx[:6]}... tokens/frame={n} seq={pout['input_ids'].shape[1]}", flush=True)
    oc.save_safetensors(tensors, out_dir / "video.safetensors")
    index["tensors"] = "video.safetensors"
    index["frame0_resized_png"] = "frame0.b70.resized.png"
    return index


# ----------------------------------------------------------------------------------------------
# model goldens
# ----------------------------------------------------------------------------------------------

def expected_masks(mm_types: torch.Tensor, window: int) -> tuple[torch.Tensor, torch.Tensor]:
    """SPEC §2.6 written out directly: full = causal; sliding = (causal OR same vision block) AND kv > q - W."""
    t = mm_types.shape[-1]
    q = torch.arange(t)[:, None]
    k = torch.arange(t)[None, :]
    is_vis = (mm_types == 1) | (mm_types == 2)
    blk = torch.full((t,), -1, dtype=torch.long)
    cur = -1
    for i in range(t):
        if is_vis[i] and (i == 0 or not is_vis[i - 1]):
            cur += 1
        if is_vis[i]:
            blk[i] = cur
    same = (blk[:, None] == blk[None, :]) & (blk[:, None] >= 0)
    causal = k <= q
    return causal, (causal | same) & (k > q - window)


def _bool_mask(m: torch.Tensor) -> torch.Tensor:
    m = m[0, 0] if m.dim() == 4 else m
    return m if m.dtype == torch.bool else (m == 0)


def model_goldens(proc, out_dir_by_kind: dict[str, Path]) -> dict:
    from transformers import GenerationConfig
    from transformers.models.gemma4_unified.modeling_gemma4_unified import Gemma4UnifiedForConditionalGeneration

    model_sha = oc.sha256_file(TINY / "model.safetensors")
    config_sha = oc.sha256_file(TINY / "config.json")
    model = Gemma4UnifiedForConditionalGeneration.from_pretrained(str(TINY), dtype=torch.float32,
                                                                   attn_implementation="eager")
    model.eval()
    tcfg = model.config.get_text_config()
    gen_cfg = GenerationConfig.from_pretrained(str(TINY))
    lm = model.model.language_model
    cases = {
        "image": dict(text=[PROMPT_IMAGE], images=[[str(MEDIA / "tiny.png")]], images_kwargs={"max_soft_tokens": 70}),
        "audio": dict(text=[PROMPT_AUDIO], audio=[str(MEDIA / "speech_16k.wav")]),
        "video": dict(text=[PROMPT_VIDEO], videos=[str(MEDIA / VIDEO)],
                      videos_kwargs={"num_frames": VIDEO_MODEL_FRAMES}),
    }
    descr = {
        "image": "media/tiny.png at max_soft_tokens=70",
        "audio": "media/speech_16k.wav (16 kHz mono: no resampling)",
        "video": f"media/{VIDEO}, num_frames={VIDEO_MODEL_FRAMES}, max_soft_tokens=70 per frame",
    }
    result = {}
    for kind, kw in cases.items():
        inputs = proc(return_tensors="pt", **kw)
        ids = inputs["input_ids"]
        mm = inputs["mm_token_type_ids"]
        T = ids.shape[1]
        fwd_kwargs = {k: v for k, v in inputs.items() if k not in ("attention_mask",)}
        # --- masks through the generate() path (Gemma4UnifiedForConditionalGeneration.create_masks_for_generate)
        with torch.no_grad():
            dummy = torch.zeros(1, T, tcfg.hidden_size)
            masks = model.create_masks_for_generate(
                config=model.config, inputs_embeds=dummy, attention_mask=inputs["attention_mask"], cache=None,
                position_ids=torch.arange(T)[None], mm_token_type_ids=mm)
        full_m, slide_m = _bool_mask(masks["full_attention"]), _bool_mask(masks["sliding_attention"])
        exp_full, exp_slide = expected_masks(mm[0], tcfg.sliding_window)
        assert torch.equal(full_m, exp_full), "generate-path full mask != causal"
        assert torch.equal(slide_m, exp_slide), "generate-path sliding mask != SPEC §2.6"
        # --- hooks
        cap: dict[str, torch.Tensor] = {}
        hooks = []
        hooks.append(lm.layers[0].register_forward_pre_hook(
            lambda m, a, k: cap.__setitem__("inputs_embeds", (a[0] if a else k["hidden_states"]).detach().clone()),
            with_kwargs=True))
        for i, layer in enumerate(lm.layers):
            hooks.append(layer.register_forward_hook(
                lambda m, a, o, i=i: cap.__setitem__(f"layer{i}", (o[0] if isinstance(o, tuple) else o).detach().clone())))
        hooks.append(lm.norm.register_forward_hook(lambda m, a, o: cap.__setitem__("final_norm", o.detach().clone())))
        if kind in ("image", "video"):
            ev = model.model.embed_vision
            for nm in ("patch_dense", "patch_ln2", "pos_norm"):
                hooks.append(getattr(ev, nm).register_forward_hook(
                    lambda m, a, o, nm=nm: cap.__setitem__(f"vision.{nm}", o.detach().clone())))
        with torch.no_grad():
            out = model(**fwd_kwargs, attention_mask=masks, use_cache=False)
        for h in hooks:
            h.remove()
        logits = out.logits[0]
        emb = cap["inputs_embeds"][0]
        soft_id = {"image": model.config.image_token_id, "audio": model.config.audio_token_id,
                   "video": model.config.video_token_id}[kind]
        soft_mask = ids[0] == soft_id
        tensors = {
            "input_ids": ids[0].clone(),
            "mm_token_type_ids": mm[0].clone(),
            "logits": logits.clone(),
            "inputs_embeds": emb.clone(),
            "mm_embeddings": emb[soft_mask].clone(),
            "hidden_states": torch.stack([cap[f"layer{i}"][0] for i in range(len(lm.layers))]).clone(),
            "final_norm": cap["final_norm"][0].clone(),
            "mask_sliding_u8": slide_m.to(torch.uint8),
        }
        if kind in ("image", "video"):
            keep = (fwd_kwargs.get("image_position_ids", fwd_kwargs.get("video_position_ids")) != -1).all(-1)
            for nm in ("patch_dense", "patch_ln2", "pos_norm"):
                tensors[f"vision.{nm}"] = cap[f"vision.{nm}"][keep].clone()
        # soft tokens must equal the embedder output (not scaled by sqrt(d))
        with torch.no_grad():
            if kind == "image":
                feats = torch.cat(model.model.get_image_features(inputs["pixel_values"], inputs["image_position_ids"],
                                                                 return_dict=True).pooler_output)
            elif kind == "video":
                feats = torch.cat(model.model.get_video_features(inputs["pixel_values_videos"], inputs["video_position_ids"],
                                                                 num_frames_per_video=inputs["num_frames_per_video"],
                                                                 return_dict=True).pooler_output)
            else:
                feats = model.model.get_audio_features(inputs["input_features"], inputs["input_features_mask"],
                                                       return_dict=True).pooler_output[inputs["input_features_mask"]]
        assert torch.equal(feats, tensors["mm_embeddings"])
        gkw = dict(generation_config=gen_cfg, do_sample=False, max_new_tokens=N_GREEDY,
                   output_logits=True, return_dict_in_generate=True, top_k=None, top_p=None, temperature=None)
        sup = list(gen_cfg.suppress_tokens or [])
        eos_ids = set(gen_cfg.eos_token_id if isinstance(gen_cfg.eos_token_id, list) else [gen_cfg.eos_token_id])
        # --- the installed default paths (direct forward() with attention_mask=None, and generate() with the
        #     default DynamicCache): they build `causal OR block` on every layer (see MASK.md) -- recorded only.
        oc.undo_intended_vision_mask()
        with torch.no_grad():
            out_direct = model(**fwd_kwargs, use_cache=False)
            g_def = model.generate(**inputs, **gkw)
        direct_nmse = nmse(out_direct.logits[0], logits)
        default_new = g_def.sequences[0, T:].tolist()
        # --- greedy with the intended mask, three ways that must agree:
        #  (a) generate() after oracle_common.use_intended_vision_mask() (DynamicCache),
        #  (b) generate(cache_implementation="static") (calls create_masks_for_generate itself),
        #  (c) a cache-free loop: full forward with the explicit mask dict each step (+ suppress_tokens).
        oc.use_intended_vision_mask()
        with torch.no_grad():
            g = model.generate(**inputs, **gkw)
            g_static = model.generate(**inputs, **gkw, cache_implementation="static")
        oc.undo_intended_vision_mask()
        new = g.sequences[0, T:].tolist()
        assert g_static.sequences[0, T:].tolist() == new, (g_static.sequences[0, T:].tolist(), new)
        seq = ids.clone()
        loop_new = []
        step_kwargs = {k: v for k, v in fwd_kwargs.items() if k not in ("input_ids", "mm_token_type_ids")}
        for _ in range(N_GREEDY):
            L = seq.shape[1]
            mm_l = torch.cat([mm, torch.zeros(1, L - T, dtype=mm.dtype)], dim=1)
            with torch.no_grad():
                m_l = model.create_masks_for_generate(
                    config=model.config, inputs_embeds=torch.zeros(1, L, tcfg.hidden_size),
                    attention_mask=torch.ones(1, L, dtype=torch.long), cache=None,
                    position_ids=torch.arange(L)[None], mm_token_type_ids=mm_l)
                lg = model(input_ids=seq, mm_token_type_ids=mm_l, attention_mask=m_l, use_cache=False,
                           **step_kwargs).logits[0, -1].clone()
            lg[sup] = -float("inf")
            nxt = int(lg.argmax())
            loop_new.append(nxt)
            seq = torch.cat([seq, torch.tensor([[nxt]])], dim=1)
            if nxt in eos_ids:
                break
        assert loop_new == new, (loop_new, new)
        prefill_logits = g.logits[0][0]
        gen_vs_fwd = nmse(prefill_logits, logits[-1])
        assert gen_vs_fwd < 1e-10, gen_vs_fwd
        tensors["greedy_step_logits"] = torch.stack([x[0] for x in g.logits]).clone()
        od = out_dir_by_kind[kind]
        oc.save_safetensors(tensors, od / "model_tiny_fp32.safetensors")
        result[kind] = {
            "what": descr[kind],
            "prompt": kw["text"][0],
            "processor_kwargs": {k: v for k, v in kw.items() if k.endswith("_kwargs")},
            "seq_len": T,
            "num_soft_tokens": int(soft_mask.sum()),
            "soft_token_id": soft_id,
            "greedy_new_tokens": new,
            "greedy_text": proc.tokenizer.decode(new, skip_special_tokens=False),
            "suppress_tokens": sup,
            "eos_token_ids": sorted(eos_ids),
            "mask_path": "intended (SPEC 2.6): forward(attention_mask=Gemma4UnifiedForConditionalGeneration."
                         "create_masks_for_generate(..., mm_token_type_ids)) -> sliding: (causal OR same vision "
                         "block) AND kv > q - W; full: causal. Verified equal to the SPEC formula.",
            "greedy_checked_three_ways": ["generate()+oracle_common.use_intended_vision_mask()",
                                          "generate(cache_implementation='static')",
                                          "cache-free loop with create_masks_for_generate dict"],
            "generate_prefill_vs_forward_logits_nmse": gen_vs_fwd,
            "installed_default_path": {
                "what": "forward(attention_mask=None) / generate() with DynamicCache, unpatched transformers 5.24.0: "
                        "causal OR block on all layers, block not clamped by the window (NOT the intended mask)",
                "logits_nmse_vs_intended": direct_nmse,
                "greedy_new_tokens": default_new,
            },
            "tensors": f"{kind}/model_tiny_fp32.safetensors",
        }
        print(f"model {kind}: T={T} soft={int(soft_mask.sum())} greedy={new} direct-forward NMSE={direct_nmse:.3e}",
              flush=True)
    if oc.sha256_file(TINY / "model.safetensors") != model_sha or oc.sha256_file(TINY / "config.json") != config_sha:
        raise RuntimeError("tests/fixtures/models/tiny-gemma4 changed while the goldens were being made; rerun")
    for r in result.values():
        r["tiny_model_sha256"] = model_sha
        r["tiny_config_sha256"] = config_sha
    return result


# ----------------------------------------------------------------------------------------------

def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--skip-model", action="store_true")
    ap.add_argument("--out", type=Path, default=GOLD)
    args = ap.parse_args()
    oc.setup_determinism(0)
    import soxr
    import torchcodec
    import torchvision
    import transformers

    cfg = load_proc_cfg()
    proc = make_processor(cfg)
    dirs = {k: args.out / k for k in ("image", "audio", "video")}
    for d in dirs.values():
        d.mkdir(parents=True, exist_ok=True)
    env = {
        **oc.versions(),
        "torchvision": torchvision.__version__,
        "torchcodec": torchcodec.__version__,
        "soxr": soxr.__version__,
        "libsoxr": getattr(soxr, "__libsoxr_version__", None),
        "pillow": __import__("PIL").__version__,
        "cpu_capability": torch.backends.cpu.get_cpu_capability(),
        "processor_config_sha256": oc.sha256_file(PROC_CFG),
        "tiny_tokenizer_sha256": oc.sha256_file(TINY / "tokenizer.json"),
    }
    from torchcodec._core import get_ffmpeg_library_versions

    env["torchcodec_ffmpeg"] = {k: (".".join(map(str, v)) if isinstance(v, (list, tuple)) else v)
                                for k, v in get_ffmpeg_library_versions().items()}
    img = image_goldens(proc, dirs["image"])
    aud = audio_goldens(proc, dirs["audio"])
    vid = video_goldens(proc, dirs["video"])
    models = {} if args.skip_model else model_goldens(proc, dirs)
    for kind, idx in (("image", img), ("audio", aud), ("video", vid)):
        idx["env"] = env
        if kind in models:
            idx["model_tiny_fp32"] = models[kind]
        dump_json(idx, dirs[kind] / "index.json")
    total = sum(p.stat().st_size for d in dirs.values() for p in d.rglob("*") if p.is_file())
    print(f"wrote goldens: {total / 1e6:.2f} MB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
