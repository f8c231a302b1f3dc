"""The app job's settings and its seed latency profile (DESIGN.md, note 000).

Blueprint 30 seed-s; each phase concept 30, one after another; each file 60 (4 files a phase
in the offline roadmap); the phase's check 10; the review 30. Sequential: 30 + 5 x 30 +
5 x (4 x 60 + 10) + 30 = 1460 seed-s, the note's "~25 min". Fix calls only happen when a file
fails validation (60 each, like writing it).
"""

from __future__ import annotations

from dataclasses import dataclass

from phasefarm.engine.scheduler import MODES
from phasefarm.errors import UsageError
from phasefarm.pipelines.app.schemas import MAX_PHASES

__all__ = ["DEFAULT_PHASES", "MAX_PHASES", "AppSettings", "seed_latency"]

DEFAULT_PHASES = 5
MAX_REVIEW_CYCLES = 5
MAX_FIXES = 5
SEED_LATENCY: dict[str, float] = {
    "blueprint": 30.0,
    "concept": 30.0,
    "implement_file": 60.0,
    "phase_check": 10.0,
    "fix_file": 60.0,
    "review": 30.0,
}


@dataclass(frozen=True)
class AppSettings:
    phases: int = DEFAULT_PHASES
    review_cycles: int = 1
    fixes: int = 2  # fix rounds per phase before it fails
    mode: str = "parallel"
    provider: str = "offline"

    def __post_init__(self) -> None:
        if not 1 <= self.phases <= MAX_PHASES:
            raise UsageError(f"--phases must be between 1 and {MAX_PHASES}, got {self.phases}")
        if not 0 <= self.review_cycles <= MAX_REVIEW_CYCLES:
            raise UsageError(
                f"--review-cycles must be between 0 and {MAX_REVIEW_CYCLES}, "
                f"got {self.review_cycles}"
            )
        if not 0 <= self.fixes <= MAX_FIXES:
            raise UsageError(f"--fixes must be between 0 and {MAX_FIXES}, got {self.fixes}")
        if self.mode not in MODES:
            raise UsageError(f"unknown --mode {self.mode!r}: choose one of {', '.join(MODES)}")


def seed_latency() -> dict[str, float]:
    """Seed-seconds per call of every task (the offline provider's sleep, the plan's estimates)."""
    return dict(SEED_LATENCY)
