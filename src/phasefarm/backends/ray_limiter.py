"""One rate limiter and one budget for a whole Ray cluster, each held by one actor.

    limiter = shared_limiter("openai-prod", like=llm.limiter)   # SharedLimiter
    lease = await limiter.acquire(500)                          # from any worker
    await limiter.release(lease, used_tokens=480)

The limiter actor is named and detached: every worker of a run, and every run that asks for the
same name (other drivers included), talks to the same `RateLimiter` instance inside it, so the
rpm/tpm budgets per key and the Retry-After blocks are counted once for the whole cluster. The
actor runs the very `RateLimiter` class a single process uses (its logic is not written twice);
`SharedLimiter` is a thin async client with the same `acquire` / `release` (the `Limiter`
protocol). The actor is async, so waiting callers wait inside it, first come first served,
without holding a thread each.

The budget of one run is a `Budget` in an actor of its own (named after the run, not detached):
`SharedBudget` counts locally what its worker spent and adds it to the actor, whose totals are the
run's across every worker; `check()` asks the actor, so a cap reached by one worker stops the
calls of all.
"""

from __future__ import annotations

from typing import Any

import ray

from phasefarm import scope
from phasefarm.errors import BudgetExceeded, UsageError
from phasefarm.llm.budget import Budget, Reservation
from phasefarm.llm.limiter import Lease, LimiterStats, RateLimiter
from phasefarm.llm.provider import ServerLimits

__all__ = [
    "NAMESPACE",
    "BudgetActor",
    "LimiterActor",
    "SharedBudget",
    "SharedLimiter",
    "run_budget",
    "shared_limiter",
]

NAMESPACE = "phasefarm"  # Ray namespace of the named actors: drivers of every job find them
_WAIT_REPORTED_S = 0.001  # the same threshold as RateLimiter's own "limiter.wait" events
# Waiting callers are coroutines inside the actor, each holding one of its concurrency slots.
_MAX_WAITING = 10_000


class LimiterActor:
    """A `RateLimiter` behind Ray: the methods forward to the one instance it holds."""

    def __init__(self, config: dict[str, Any]) -> None:
        self.config = config
        self.limiter = RateLimiter(
            config["key_ids"], rpm=config["rpm"], tpm=config["tpm"], adaptive=config["adaptive"]
        )

    def get_config(self) -> dict[str, Any]:
        return self.config

    async def acquire(self, tokens: int, timeout: float | None) -> Lease:
        return await self.limiter.acquire(tokens, timeout=timeout)

    def set_aside(self, key_id: str) -> bool:
        return self.limiter.set_aside(key_id)

    def usable_keys(self) -> list[str]:
        return self.limiter.usable_keys

    async def release(self, lease: Lease, options: dict[str, Any]) -> None:
        await self.limiter.release(lease, **options)

    async def stats(self) -> LimiterStats:
        return self.limiter.stats


class SharedLimiter:
    """The client side: what an `LLM` on a worker uses as its limiter (`Limiter` protocol)."""

    def __init__(self, actor: Any, name: str) -> None:
        self.actor = actor
        self.name = name

    def __repr__(self) -> str:
        return f"SharedLimiter(name={self.name!r})"

    def __reduce__(self) -> tuple[Any, ...]:
        return (SharedLimiter, (self.actor, self.name))

    @property
    def stats(self) -> LimiterStats:
        """The cluster-wide statistics (a blocking call: not for a running event loop)."""
        stats: LimiterStats = ray.get(self.actor.stats.remote())
        return stats

    @property
    def usable_keys(self) -> list[str]:
        """The keys no run has set aside (a blocking call, made only after a key was refused)."""
        keys: list[str] = ray.get(self.actor.usable_keys.remote())
        return keys

    def set_aside(self, key_id: str) -> bool:
        """Set a refused key aside for every worker and run sharing this limiter."""
        first: bool = ray.get(self.actor.set_aside.remote(key_id))
        return first

    async def acquire(self, tokens: int = 0, *, timeout: float | None = None) -> Lease:
        lease: Lease = await self.actor.acquire.remote(tokens, timeout)
        if lease.waited_s > _WAIT_REPORTED_S:  # the actor has no phase to report it to
            scope.emit("limiter.wait", key=lease.key_id, seconds=round(lease.waited_s, 4))
        return lease

    async def release(
        self,
        lease: Lease,
        *,
        used_tokens: int | None = None,
        rate_limited: bool = False,
        retry_after: float | None = None,
        ok: bool = True,
        limits: ServerLimits | None = None,
    ) -> None:
        options = {
            "used_tokens": used_tokens,
            "rate_limited": rate_limited,
            "retry_after": retry_after,
            "ok": ok,
            "limits": limits,
        }
        await self.actor.release.remote(lease, options)


def limiter_config(limiter: RateLimiter) -> dict[str, Any]:
    """What a `LimiterActor` is built from: the keys (masked ids) and the limits per key."""
    return {
        "key_ids": limiter.key_ids,
        "rpm": limiter.rpm,
        "tpm": limiter.tpm,
        "adaptive": limiter.adaptive,
    }


def shared_limiter(name: str, *, like: RateLimiter) -> SharedLimiter:
    """The cluster's limiter called `name`, created with `like`'s keys and limits if it does
    not exist yet. Refused if it exists with other limits: two runs meaning different limits
    under one name would each believe the other's."""
    config = limiter_config(like)
    actor: Any = (
        ray.remote(LimiterActor)
        .options(
            name=f"limiter:{name}",
            namespace=NAMESPACE,
            lifetime="detached",
            get_if_exists=True,
            max_concurrency=_MAX_WAITING,
            num_cpus=0,
        )
        .remote(config)
    )
    existing: dict[str, Any] = ray.get(actor.get_config.remote())
    if existing != config:
        raise UsageError(
            f"the cluster's rate limiter {name!r} has other limits ({_describe(existing)}) than "
            f"this run's ({_describe(config)}): use another --limiter name, or the same limits"
        )
    return SharedLimiter(actor, name)


def _describe(config: dict[str, Any]) -> str:
    return f"{len(config['key_ids'])} keys, rpm={config['rpm']}, tpm={config['tpm']}"


class BudgetActor:
    """A run's `Budget` behind Ray: the totals of every worker's calls, and the caps."""

    def __init__(self, max_tokens: float | None, max_cost: float | None) -> None:
        self.budget = Budget(max_tokens=max_tokens, max_cost=max_cost)

    def add(self, phase: str, amounts: dict[str, Any]) -> None:
        self.budget.add(phase, **amounts)

    def exceeded(self) -> str | None:
        return self.budget.exceeded()

    def reserve(self, tokens: int, cost: float) -> Reservation | str | None:
        """A reservation, None (fits once running calls settle) or why it can never fit."""
        try:
            return self.budget.reserve(tokens, cost)
        except BudgetExceeded as exc:
            return str(exc)

    def settle(self, reservation: Reservation) -> None:
        self.budget.settle(reservation)

    def by_phase(self) -> dict[str, Any]:
        return self.budget.by_phase


class SharedBudget(Budget):
    """A worker's budget: counts its own calls and adds them to the run's `BudgetActor`
    before the call's answer is used, so a check anywhere after that sees them."""

    def __init__(self, actor: Any, *, max_tokens: float | None, max_cost: float | None) -> None:
        super().__init__(max_tokens=max_tokens, max_cost=max_cost)
        self.actor = actor

    def __reduce__(self) -> tuple[Any, ...]:
        return (_shared_budget, (self.actor, self.max_tokens, self.max_cost))

    def exceeded(self) -> str | None:
        if self.max_tokens is None and self.max_cost is None:
            return None  # no cap: nothing to ask the cluster
        reason: str | None = ray.get(self.actor.exceeded.remote())
        return reason

    def reserve(self, tokens: int, cost: float) -> Reservation | None:
        """Reserved in the run's actor: a call's worst case counts against every worker's."""
        answer: Reservation | str | None = ray.get(self.actor.reserve.remote(tokens, cost))
        if isinstance(answer, str):
            raise BudgetExceeded(answer)
        return answer

    def settle(self, reservation: Reservation) -> None:
        ray.get(self.actor.settle.remote(reservation))

    def add(self, phase: str, **amounts: Any) -> None:
        super().add(phase, **amounts)
        # waited for: a check from another worker right after must see it
        ray.get(self.actor.add.remote(phase, amounts))


def _shared_budget(actor: Any, max_tokens: float | None, max_cost: float | None) -> SharedBudget:
    return SharedBudget(actor, max_tokens=max_tokens, max_cost=max_cost)


def run_budget(run_id: str, like: Budget) -> Any:
    """The actor holding run `run_id`'s budget (created with `like`'s caps if needed)."""
    return (
        ray.remote(BudgetActor)
        .options(
            name=f"budget:{run_id}",
            namespace=NAMESPACE,
            get_if_exists=True,
            num_cpus=0,
        )
        .remote(like.max_tokens, like.max_cost)
    )
