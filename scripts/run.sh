#!/usr/bin/env bash
# Set everything up and run the main job on the embedded defaults: the website job, offline
# provider, SQLite checkpoints in .phasefarm/. Extra arguments go to `phasefarm website`.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ ! -x .venv/bin/python ]; then
  python3 -m venv .venv
fi
.venv/bin/python -m pip install --quiet --upgrade pip
.venv/bin/python -m pip install --quiet -e .
.venv/bin/phasefarm plan website
.venv/bin/phasefarm website "A neighbourhood bakery in Lisbon that sells sourdough and pastel de nata" \
  --out site --force "$@"
echo "open site/index.html in a browser (or: python3 -m http.server -d site)"
