"""Checks of numeric options shared by the CLI, the jobs and the library (one place, so a
`nan` or a negative value is refused the same way everywhere)."""

from __future__ import annotations

import math

from phasefarm.errors import UsageError

__all__ = ["check_cap", "check_non_negative"]


def check_cap(name: str, value: float | None) -> None:
    """A budget cap: None (no cap) or a finite number above 0."""
    if value is not None and not (math.isfinite(value) and value > 0):
        raise UsageError(f"{name} must be positive, got {value}")


def check_non_negative(name: str, value: float, *, most: float = math.inf) -> None:
    """A time scale, latency...: a finite number from 0 up to `most`."""
    if not (math.isfinite(value) and 0 <= value <= most):
        if math.isinf(most):
            raise UsageError(f"{name} must be >= 0, got {value}")
        raise UsageError(f"{name} must be between 0 and {most:g}, got {value}")
