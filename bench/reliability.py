"""Reliability report: fault trials against a real OpenAI-compatible server, kill -9 trials.

    .venv/bin/python bench/reliability.py [--trials 5] [--kill-trials 5] [--seed N] [--json]

Also reachable as `phasefarm bench reliability`. See `phasefarm.benchmarks.reliability`.
Exits 1 when a target is missed.
"""

from __future__ import annotations

import sys

from phasefarm.benchmarks.reliability import main

if __name__ == "__main__":
    sys.exit(main())
