#!/usr/bin/env bash
# Regenerates every committed fixture under tests/fixtures from the reference implementation
# (HF transformers + torch, pinned in requirements.txt) into a project-local virtualenv, then
# rewrites the manifest. Deterministic: a second run gives byte-identical files.
set -euo pipefail
cd "$(dirname "$0")/../.."
# Debian tools that make the media sources (speech, resampling, the video clip) and the FFmpeg
# libraries torchcodec decodes with.
for p in ffmpeg espeak-ng sox imagemagick; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    echo "fixtures: installing $p" >&2
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$p" >/dev/null
  fi
done
venv=.cache/venv-reference
req=scripts/reference/requirements.txt
stamp=$venv/.requirements.sha256
want=$(sha256sum "$req" | cut -d' ' -f1)
if [ ! -x $venv/bin/python ] || [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  echo "fixtures: installing $req into $venv (torch is large: several minutes)" >&2
  python3 -m venv $venv
  $venv/bin/pip install -q --disable-pip-version-check -r "$req"
  echo "$want" >"$stamp"
fi
py=$venv/bin/python
export PYTHONHASHSEED=0 TOKENIZERS_PARALLELISM=false OMP_NUM_THREADS=1
# Order matters: the goldens read the tiny models, the media goldens read the media sources.
for script in make_tiny_models make_text_goldens make_drafter_goldens make_media \
              make_media_goldens make_tokenizer_goldens make_chat_goldens; do
  echo "fixtures: $script" >&2
  $py scripts/reference/$script.py
done
$py scripts/reference/make_quant_fixtures.py  # gguf-py quantize/dequantize: tests/fixtures/quant
scripts/reference/make_text_corpus.sh  # KJV Genesis 1-30: tests/fixtures/text
scripts/reference/manifest.sh write
