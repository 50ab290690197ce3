"""`loom run` with --image/--audio/--video on the tiny Gemma 4 Unified checkpoint and on its GGUF +
mmproj conversion (`loom convert --mmproj`), and the errors for bad media. Exactness against the
reference is checked in tests/multimodal (gtest); this checks the command line."""
import os
import re
import shutil

import gguf
import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
FIX = os.path.join(ROOT, "tests", "fixtures")
TINY_G4 = os.path.join(FIX, "models", "tiny-gemma4")
TINY_G3 = os.path.join(FIX, "models", "tiny-gemma3")
IMAGE = os.path.join(FIX, "media", "tiny.png")
AUDIO = os.path.join(FIX, "media", "speech_16k.wav")
VIDEO = os.path.join(FIX, "media", "testsrc_96x64_10fps.mp4")


def prompt_ids(stderr):
    m = re.search(r"prompt ids \(\d+\): ([0-9 ]+)", stderr)
    assert m, stderr
    return [int(x) for x in m.group(1).split()]


def run_media(loom, model, *extra):
    return loom("run", "-m", model, "-n", "8", "--temp", "0", "-t", "2", "-v", *extra)


def test_image_audio_video_in_command_line_order(loom):
    r = run_media(loom, TINY_G4, "--video", VIDEO, "--video-frames", "4", "--image", IMAGE,
                  "--image-tokens", "70", "--audio", AUDIO, "-p", "Describe.")
    assert r.returncode == 0, r.stderr
    ids = prompt_ids(r.stderr)
    # Without placeholders the media go first, in command-line order: 4 video frames of 60
    # soft tokens (1006) each, then the image (60 x 1002), then 33 audio frames (1003).
    runs = []
    for t in ids:
        if runs and runs[-1][0] == t:
            runs[-1][1] += 1
        else:
            runs.append([t, 1])
    soft = [(t, n) for t, n in runs if t in (1002, 1003, 1006)]
    assert soft == [(1006, 60)] * 4 + [(1002, 60), (1003, 33)], soft
    assert "media: 3 items, 333 soft tokens" in r.stderr


def test_placeholders_place_media(loom):
    r = run_media(loom, TINY_G4, "--image", IMAGE, "--image-tokens", "70", "-p",
                  "Before <|image|> after")
    assert r.returncode == 0, r.stderr
    ids = prompt_ids(r.stderr)
    first = ids.index(1000)  # <|image>
    assert ids[first + 1:first + 61] == [1002] * 60 and ids[first + 61] == 1004
    assert first > 1, "text before the placeholder comes first"


def test_gguf_with_mmproj_matches_hf(loom, tmp_path):
    model, mmproj = tmp_path / "tiny.gguf", tmp_path / "tiny-mmproj.gguf"
    r = loom("convert", "-m", TINY_G4, "-o", model, "--type", "F32", "--mmproj", mmproj,
             "--quiet")
    assert r.returncode == 0, r.stderr
    reader = gguf.GGUFReader(str(mmproj))
    assert reader.fields["general.architecture"].contents() == "clip"
    assert reader.fields["clip.vision.projector_type"].contents() == "gemma4uv"
    assert reader.fields["clip.audio.projector_type"].contents() == "gemma4ua"
    shapes = {t.name: [int(x) for x in t.shape] for t in reader.tensors}
    assert shapes["v.patch_embd.weight"] == [48, 48, 3, 64]
    assert shapes["v.position_embd.weight"] == [64, 1120, 2]
    assert shapes["mm.input_projection.weight"] == [64, 64]
    assert shapes["mm.a.input_projection.weight"] == [640, 64]
    args = ("--image", IMAGE, "--image-tokens", "70", "--audio", AUDIO, "-p", "What is this?")
    hf = run_media(loom, TINY_G4, *args)
    gg = run_media(loom, model, "--mmproj", mmproj, *args)
    assert hf.returncode == 0, hf.stderr
    assert gg.returncode == 0, gg.stderr
    assert prompt_ids(gg.stderr) == prompt_ids(hf.stderr)
    assert gg.stdout == hf.stdout
    # Without the mmproj the GGUF model has no embedders.
    bare = run_media(loom, model, *args)
    assert bare.returncode != 0
    assert "--mmproj" in bare.stderr


def test_bad_media(loom, tmp_path):
    corrupt = tmp_path / "corrupt.png"
    data = open(IMAGE, "rb").read()
    corrupt.write_bytes(data[: len(data) // 2])
    text = tmp_path / "notes.txt"
    text.write_text("not an image")
    header_only = tmp_path / "empty.wav"
    header_only.write_bytes(open(AUDIO, "rb").read()[:44])
    cases = [
        (TINY_G4, ("--image", str(tmp_path / "missing.png")), "missing.png"),
        (TINY_G4, ("--image", corrupt), "PNG"),
        (TINY_G4, ("--image", text), "image"),
        (TINY_G4, ("--audio", header_only), "audio"),
        (TINY_G4, ("--image", IMAGE, "--image-tokens", "100"), "--image-tokens"),
        (TINY_G4, ("--video", VIDEO, "--video-frames", "46"), "frames"),
        (TINY_G4, ("--image", IMAGE, "-p", "<|image|> and <|image|>"), "placeholders"),
        (TINY_G4, ("--audio", AUDIO, "-p", "<|image|>"), "placeholders"),
        (TINY_G3, ("--image", IMAGE), "image input is not supported"),
    ]
    for model, args, needle in cases:
        if "-p" not in args:
            args = args + ("-p", "hi")
        r = run_media(loom, model, *args)
        assert r.returncode != 0, (args, r.stdout)
        assert needle in r.stderr, (args, r.stderr)
        assert "Assertion" not in r.stderr and "Sanitizer" not in r.stderr
