"""Token and cost accounting per phase and per run, and the cap that stops new calls.

Before every model call (retries and repairs included) its worst case is reserved with
`Budget.reserve`: the most prompt tokens the messages can be, plus the `max_tokens` cap sent
with the call, at the model's prices. A call whose worst case does not fit beside what is used
and what running calls reserved waits for them (`None`); when nothing is running and it still
does not fit, `BudgetExceeded` stops the run. So the total never crosses `max_tokens` /
`max_cost`. After the call, `settle` swaps the reservation for the real usage.
"""

from __future__ import annotations

import functools
import threading
from dataclasses import dataclass

from phasefarm.errors import BudgetExceeded
from phasefarm.options import check_cap

__all__ = ["Budget", "Reservation", "UsageTotals"]


@dataclass(frozen=True)
class UsageTotals:
    """Totals of model calls: a run's, or one phase's."""

    calls: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost: float = 0.0
    images: int = 0
    cached: int = 0  # answers served from the response cache (no tokens, no cost)
    estimated: int = 0  # calls whose answer came without usage: counted from the text

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
        estimated: int = 0,
    ) -> UsageTotals:
        return UsageTotals(
            calls=self.calls + calls,
            prompt_tokens=self.prompt_tokens + prompt_tokens,
            completion_tokens=self.completion_tokens + completion_tokens,
            cost=self.cost + cost,
            images=self.images + images,
            cached=self.cached + cached,
            estimated=self.estimated + estimated,
        )


@dataclass(frozen=True)
class Reservation:
    """The worst case of one call, held from before it starts until it is settled."""

    tokens: int
    cost: float


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
        self._reserved_tokens = 0
        self._reserved_cost = 0.0

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

    @property
    def reserved(self) -> tuple[int, float]:
        """Tokens and cost reserved by calls running now."""
        return self._reserved_tokens, self._reserved_cost

    def reserve(self, tokens: int, cost: float) -> Reservation | None:
        """Hold a call's worst case. None: it fits only once running calls are settled;
        `BudgetExceeded`: it cannot fit, so the call must not start."""
        with self._lock:
            self.check()
            total = self._total
            over: str | None = None
            if self.max_tokens is not None and total.tokens + tokens > self.max_tokens:
                over = (
                    f"budget reached: the next call could use up to {tokens:,} tokens and "
                    f"{total.tokens:,} of max {self.max_tokens:,.0f} are used"
                )
            elif self.max_cost is not None and total.cost + cost > self.max_cost:
                over = (
                    f"budget reached: the next call could cost up to ${cost:,.4f} and "
                    f"${total.cost:,.4f} of max ${self.max_cost:,.4f} is spent"
                )
            if over is not None:
                raise BudgetExceeded(over)
            if (
                self.max_tokens is not None
                and total.tokens + self._reserved_tokens + tokens > self.max_tokens
            ) or (
                self.max_cost is not None
                and total.cost + self._reserved_cost + cost > self.max_cost
            ):
                return None
            self._reserved_tokens += tokens
            self._reserved_cost += cost
            return Reservation(tokens, cost)

    def settle(self, reservation: Reservation) -> None:
        """Give a reservation back (its call's real usage is `add`ed separately)."""
        with self._lock:
            self._reserved_tokens -= reservation.tokens
            self._reserved_cost -= reservation.cost

    def add(
        self,
        phase: str,
        *,
        prompt_tokens: int = 0,
        completion_tokens: int = 0,
        cost: float = 0.0,
        images: int = 0,
        cached: int = 0,
        estimated: int = 0,
    ) -> None:
        add = functools.partial(
            UsageTotals.plus,
            prompt_tokens=prompt_tokens,
            completion_tokens=completion_tokens,
            cost=cost,
            images=images,
            cached=cached,
            estimated=estimated,
        )
        with self._lock:
            self._total = add(self._total)
            self._by_phase[phase] = add(self._by_phase.get(phase, UsageTotals()))
