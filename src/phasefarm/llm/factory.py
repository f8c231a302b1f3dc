"""`build_llm`: the one place that turns CLI options into a wired `LLM`."""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping

from phasefarm.errors import UsageError
from phasefarm.llm.budget import Budget
from phasefarm.llm.cache import ResponseCache
from phasefarm.llm.client import LLM, RetryPolicy
from phasefarm.llm.limiter import RateLimiter
from phasefarm.llm.offline import OfflineProvider, Responder
from phasefarm.llm.pricing import Price, PriceTable
from phasefarm.llm.provider import Provider

__all__ = ["PROVIDERS", "build_llm"]

PROVIDERS = ("offline", "openai")


def build_llm(
    provider: str = "offline",
    *,
    model: str | None = None,
    time_scale: float = 0.05,
    seed: int = 0,
    latency: dict[str, float] | None = None,
    responders: dict[str, Responder] | None = None,
    max_tokens: float | None = None,
    max_cost: float | None = None,
    cache_dir: str | None = None,
    api_keys: list[str] | None = None,
    base_url: str | None = None,
    rpm: int | None = None,
    tpm: int | None = None,
    image_model: str | None = None,
    prices: Mapping[str, Price] | None = None,
    retry: RetryPolicy | None = None,
    repair_attempts: int = 2,
    timeout: float = 120.0,
    call_time_limit: float | None = None,
) -> LLM:
    """An `LLM` for one run: provider, shared limiter, budget and optional cache.

    `provider="offline"` (default) is deterministic and needs no network: `seed`, `time_scale`,
    `latency` (seed-seconds per task; 1.0 by default, 5.0 for images) and `responders` (content
    per task) apply to it. `provider="openai"` talks to any OpenAI-compatible server:
    `api_keys` default to `OPENAI_API_KEY` (comma separated), `base_url` to `OPENAI_BASE_URL`,
    `model` to `OPENAI_MODEL` or gpt-4o-mini. `rpm`/`tpm` are the limits per key; without them
    the OpenAI provider adapts its concurrency to the 429s it meets. `image_model="none"` draws
    images offline. `call_time_limit` bounds one call, its retries and limiter waits included
    (`RetryPolicy.max_elapsed_s`). A cost cap needs the model's price: refused up front without.
    """
    chosen: Provider
    if provider == "offline":
        chosen = OfflineProvider(
            seed=seed,
            time_scale=time_scale,
            latency=latency,
            responders=responders,
            model=model or "offline",
        )
    elif provider == "openai":
        from phasefarm.llm.openai_provider import OpenAIProvider, keys_from_env

        keys = list(api_keys) if api_keys is not None else keys_from_env()
        chosen = OpenAIProvider(
            keys,
            model=model,
            image_model=image_model,
            base_url=base_url or os.environ.get("OPENAI_BASE_URL") or None,
            timeout=timeout,
        )
    else:
        raise UsageError(f"unknown provider {provider!r}: choose one of {', '.join(PROVIDERS)}")
    prices_known = PriceTable(prices)
    if max_cost is not None and prices_known.get(chosen.model) is None:
        raise UsageError(
            f"--max-cost needs the price of model {chosen.model!r}, which is not known: "
            "use --max-tokens, or pass its prices (build_llm(prices=...))"
        )
    if call_time_limit is not None:
        retry = dataclasses.replace(retry or RetryPolicy(), max_elapsed_s=call_time_limit)
    known = rpm is not None or tpm is not None
    limiter = RateLimiter(
        chosen.key_ids,
        rpm=rpm,
        tpm=tpm,
        # Offline there is no server to push back: unknown limits mean no limit at all.
        adaptive=not known and provider != "offline",
    )
    return LLM(
        chosen,
        limiter=limiter,
        budget=Budget(max_tokens=max_tokens, max_cost=max_cost),
        cache=ResponseCache(cache_dir) if cache_dir else None,
        prices=prices,
        retry=retry,
        repair_attempts=repair_attempts,
    )
