#!/usr/bin/env bash
# Builds the Infinity embedding server (michaelfeil/infinity) in a virtual environment of its own,
# for the engine tests (tests/integration/test_engine_*.py) and bench/throughput.py --engine.
# Its dependency pins clash with the gateway's, so it never shares .venv. Idempotent: a stamp file
# marks a finished install; a half-built venv (no stamp) is rebuilt from scratch.
set -euo pipefail
DIR="${1:-var/engines/infinity}"
PYTHON="${PYTHON:-python3.11}"
STAMP="$DIR/.installed"
if [ -f "$STAMP" ]; then exit 0; fi
echo "engines: building Infinity 0.0.78 in $DIR (a few minutes, once)" >&2
rm -rf "$DIR"
mkdir -p "$(dirname "$DIR")"
"$PYTHON" -m venv "$DIR"
"$DIR/bin/python" -m pip install --quiet --upgrade pip >&2
# torch first, pinned exactly (the gateway's version), so nothing pulls a CUDA build.
"$DIR/bin/python" -m pip install --progress-bar off torch==2.13.0 >&2
"$DIR/bin/python" -m pip install --progress-bar off "infinity-emb[server,torch]==0.0.78" >&2
"$DIR/bin/infinity_emb" --help >/dev/null
touch "$STAMP"
echo "engines: Infinity ready in $DIR" >&2
