"""The peers benchmark: `python bench/peers.py` (same as `phasefarm bench --only peers`)."""

import sys

from phasefarm.benchmarks.suite import main

if __name__ == "__main__":
    sys.exit(main(["--only", "peers", *sys.argv[1:]]))
