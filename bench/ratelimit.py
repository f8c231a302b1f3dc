"""Rate limiter benchmark: `python bench/ratelimit.py` (same as `phasefarm bench ratelimit`)."""

import sys

from phasefarm.benchmarks.ratelimit import main

if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
