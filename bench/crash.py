"""Crash trials: SIGKILL the website job (or demo) at random moments, resume, compare.

    .venv/bin/python bench/crash.py [--trials 20] [--job website|demo] [--seed N] [--json]

Also reachable as `phasefarm bench crash`. See `phasefarm.benchmarks.crash` for what is measured.
"""

from __future__ import annotations

import sys

from phasefarm.benchmarks.crash import main

if __name__ == "__main__":
    sys.exit(main())
