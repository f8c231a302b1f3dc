"""Scale benchmark: `python bench/scale.py` (same as `phasefarm bench scale`)."""

import sys

from phasefarm.benchmarks.scale import main

if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
