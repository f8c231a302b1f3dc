"""Engine overhead benchmark: `python bench/overhead.py` (same as `phasefarm bench overhead`)."""

import sys

from phasefarm.benchmarks.overhead import main

if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
