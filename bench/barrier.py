"""The barrier benchmark: `python bench/barrier.py` (same as `phasefarm bench --only barrier`)."""

import sys

from phasefarm.benchmarks.suite import main

if __name__ == "__main__":
    sys.exit(main(["--only", "barrier", *sys.argv[1:]]))
