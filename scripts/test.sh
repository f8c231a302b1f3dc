#!/usr/bin/env bash
# Set everything up and run the whole test suite, with the linters. Fails on any failure and
# on "no tests collected". Browser tests need Debian's chromium at /usr/bin/chromium
# (.ci/run installs it; elsewhere: apt-get install chromium).
set -euo pipefail
cd "$(dirname "$0")/.."
if [ ! -x .venv/bin/python ]; then
  python3 -m venv .venv
fi
.venv/bin/python -m pip install --quiet --upgrade pip
# .ci/run adds the ray extra (PHASEFARM_EXTRAS=dev,ray); without it the Ray tests skip
.venv/bin/python -m pip install --quiet -e ".[${PHASEFARM_EXTRAS:-dev}]"
.venv/bin/ruff check .
.venv/bin/ruff format --check .
.venv/bin/mypy
set +e
.venv/bin/python -m pytest "$@"
code=$?
set -e
if [ "$code" -eq 5 ]; then
  echo "no tests collected: failing" >&2
  exit 1
fi
exit "$code"
