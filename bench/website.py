"""Website job benchmark: `python bench/website.py` (same as `phasefarm bench website`)."""

import sys

from phasefarm.benchmarks.website import main

if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
