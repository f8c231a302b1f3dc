"""Token and cost accounting per phase and per run, and the cap that stops new calls.

`Budget.check()` runs before every model call (retries and repairs included): once the run's
tokens or cost reached `max_tokens` / `max_cost` it raises `BudgetExceeded`, so no new call
starts; calls already running finish and are still counted.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

from phasefarm.errors import BudgetExceeded
from phasefarm.options import check_cap

__all__ = ["Budget", "UsageTotals"]


@dataclass(frozen=True)
class UsageTotals:
    """Totals of model calls: a run's, or one phase's."""

    calls: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost: float = 0.0
    images: int = 0
    cached: int = 0  # answers served from the response cache (no tokens, no cost)

    @property
    def tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens

    def plus(
        self,
        *,
        prompt_tokens: int = 0,
        completion_tokens: int = 0,
        cost: float = 0.0,
        images: int = 0,
        cached: int = 0,
        calls: int = 1,
    ) -> UsageTotals:
        return UsageTotals(
            calls=self.calls + calls,
            prompt_tokens=self.prompt_tokens + prompt_tokens,
            completion_tokens=self.completion_tokens + completion_tokens,
            cost=self.cost + cost,
            images=self.images + images,
            cached=self.cached + cached,
        )


class Budget:
    """Run totals, totals per phase, and the optional caps."""

    def __init__(self, *, max_tokens: float | None = None, max_cost: float | None = None) -> None:
        check_cap("max_tokens", max_tokens)
        check_cap("max_cost", max_cost)
        self.max_tokens = max_tokens
        self.max_cost = max_cost
        self._lock = threading.Lock()  # phases may run plain functions in worker threads
        self._total = UsageTotals()
        self._by_phase: dict[str, UsageTotals] = {}

    def __repr__(self) -> str:
        return f"Budget(max_tokens={self.max_tokens}, max_cost={self.max_cost}, used={self._total})"

    @property
    def total(self) -> UsageTotals:
        return self._total

    @property
    def by_phase(self) -> dict[str, UsageTotals]:
        with self._lock:
            return dict(self._by_phase)

    def exceeded(self) -> str | None:
        """Why no new call may start, or None."""
        total = self._total
        if self.max_tokens is not None and total.tokens >= self.max_tokens:
            return f"budget reached: {total.tokens:,} tokens of max {self.max_tokens:,.0f}"
        if self.max_cost is not None and total.cost >= self.max_cost:
            return f"budget reached: ${total.cost:,.4f} of max ${self.max_cost:,.4f}"
        return None

    def check(self) -> None:
        reason = self.exceeded()
        if reason is not None:
            raise BudgetExceeded(reason)

    def add(
        self,
        phase: str,
        *,
        prompt_tokens: int = 0,
        completion_tokens: int = 0,
        cost: float = 0.0,
        images: int = 0,
        cached: int = 0,
    ) -> None:
        with self._lock:
            self._total = self._total.plus(
                prompt_tokens=prompt_tokens,
                completion_tokens=completion_tokens,
                cost=cost,
                images=images,
                cached=cached,
            )
            before = self._by_phase.get(phase, UsageTotals())
            self._by_phase[phase] = before.plus(
                prompt_tokens=prompt_tokens,
                completion_tokens=completion_tokens,
                cost=cost,
                images=images,
                cached=cached,
            )
