"""The jitter benchmark: `python bench/jitter.py` (same as `phasefarm bench --only jitter`)."""

import sys

from phasefarm.benchmarks.suite import main

if __name__ == "__main__":
    sys.exit(main(["--only", "jitter", *sys.argv[1:]]))
