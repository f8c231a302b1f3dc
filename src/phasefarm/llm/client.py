"""The `LLM` facade every phase calls: retries, repair, limiter, budget, cache, usage events.

    llm = build_llm("offline", time_scale=0.05)
    plan = await llm.structured(messages, PagePlan, task="page_plan")

One call of `structured` / `text` / `image` is, in order: a cache lookup (when enabled), then up
to `RetryPolicy` attempts, each of which checks the budget, waits for the shared limiter, calls
the provider with the key the limiter chose and hands the lease back with the real usage. A
structured answer that fails the schema gets `repair_attempts` more tries that show the model its
answer and the validation error; then `BadOutput`. Every model call emits a "usage" event.
"""

from __future__ import annotations

import asyncio
import functools
import io
import logging
import random
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TypeVar

from PIL import Image, UnidentifiedImageError
from pydantic import BaseModel, ValidationError

from phasefarm import scope
from phasefarm.errors import BadOutput, ProviderError, RateLimited, TransientError, UsageError
from phasefarm.llm.budget import Budget, UsageTotals
from phasefarm.llm.cache import ResponseCache, cache_key
from phasefarm.llm.images import parse_size
from phasefarm.llm.limiter import Limiter, RateLimiter
from phasefarm.llm.pricing import Price, PriceTable
from phasefarm.llm.provider import ChatResult, ImageResult, Message, Provider, Usage
from phasefarm.llm.schema import schema_digest
from phasefarm.llm.tokens import estimate_messages_tokens, estimate_tokens

__all__ = ["LLM", "RetryPolicy"]

M = TypeVar("M", bound=BaseModel)
R = TypeVar("R", ChatResult, ImageResult)

log = logging.getLogger("phasefarm.llm")
_PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
_NO_PHASE = "-"


@dataclass(frozen=True)
class RetryPolicy:
    """How often a call is tried again, and how long to wait in between.

    Rate-limited attempts wait in the limiter (which keeps the key blocked until its
    Retry-After), so they only add a small jitter; transient errors back off exponentially
    with full jitter. Both are bounded by attempts and by `max_elapsed_s`.
    """

    transient_attempts: int = 5
    rate_limited_attempts: int = 30
    backoff_base_s: float = 0.25
    backoff_max_s: float = 8.0
    rate_limited_jitter_s: float = 0.02
    max_elapsed_s: float = 300.0

    def transient_wait(self, failures: int, rng: random.Random) -> float:
        return rng.uniform(0, min(self.backoff_max_s, self.backoff_base_s * 2 ** (failures - 1)))


class LLM:
    """What phases call: one per run, shared by all its phases (on the run's event loop)."""

    def __init__(
        self,
        provider: Provider,
        *,
        limiter: Limiter | None = None,
        budget: Budget | None = None,
        cache: ResponseCache | None = None,
        prices: Mapping[str, Price] | None = None,
        retry: RetryPolicy | None = None,
        repair_attempts: int = 2,
        default_completion_tokens: int = 256,
    ) -> None:
        if repair_attempts < 0:
            raise UsageError("repair_attempts must be >= 0")
        self.provider = provider
        self.limiter: Limiter = limiter or RateLimiter(provider.key_ids, adaptive=False)
        self.budget = budget or Budget()
        self.cache = cache
        self.prices = PriceTable(prices)
        self.retry = retry or RetryPolicy()
        self.repair_attempts = repair_attempts
        self._default_completion = default_completion_tokens
        self._completion_seen: dict[str, int] = {}
        self._unpriced_warned: set[str] = set()
        self._jitter = random.Random()

    def __repr__(self) -> str:
        return f"LLM(provider={self.provider!r}, limiter={self.limiter!r}, budget={self.budget!r})"

    @property
    def model(self) -> str:
        return self.provider.model

    @property
    def usage(self) -> UsageTotals:
        """Run totals so far: calls, tokens, cost, images, cache hits."""
        return self.budget.total

    @property
    def usage_by_phase(self) -> dict[str, UsageTotals]:
        """Totals per phase key ("-" for calls made outside any run)."""
        return self.budget.by_phase

    async def aclose(self) -> None:
        await self.provider.aclose()

    # -- public calls ------------------------------------------------------------------------

    async def structured(self, messages: list[dict[str, str]], schema: type[M], *, task: str) -> M:
        """A validated instance of `schema`, with bounded repair of invalid answers."""
        key = None
        if self.cache is not None:
            key = cache_key(
                kind="chat",
                source=self.provider.cache_identity,
                model=self.model,
                task=task,
                messages=messages,
                schema=schema_digest(schema),
            )
            hit = self.cache.get_text(key)
            if hit is not None:
                try:
                    cached = schema.model_validate_json(hit.text)
                except ValidationError:
                    pass  # the schema changed since: ask the model again
                else:
                    self._account_cached(task)
                    return cached
        conversation: list[Message] = [dict(m) for m in messages]
        last_error = ""
        for attempt in range(1 + self.repair_attempts):
            result = await self._with_retries(
                task, functools.partial(self._chat_once, conversation, schema, task)
            )
            value, error = _validate(schema, result.text)
            if value is not None:
                if key is not None and self.cache is not None:
                    self.cache.put_text(key, value.model_dump_json(), result.usage, result.model)
                return value
            last_error = error
            scope.emit("llm.repair", attempt=attempt + 1, error=error[:500])
            log.info(
                "task %r: answer failed %s (%s), asking for a repair",
                task,
                schema.__name__,
                error[:200],
            )
            conversation = [
                *conversation,
                {"role": "assistant", "content": result.text[:8000]},
                {
                    "role": "user",
                    "content": (
                        f"Your answer does not conform to the {schema.__name__} JSON schema: "
                        f"{error}\nReply again with only the corrected JSON object."
                    ),
                },
            ]
        tries = 1 + self.repair_attempts
        raise BadOutput(
            f"bad output for task {task!r}: the answer failed the {schema.__name__} schema "
            f"{tries} time{'s' if tries > 1 else ''}; last error: {last_error}"
        )

    async def text(self, messages: list[dict[str, str]], *, task: str) -> str:
        """The model's text answer."""
        key = None
        if self.cache is not None:
            key = cache_key(
                kind="chat",
                source=self.provider.cache_identity,
                model=self.model,
                task=task,
                messages=messages,
            )
            hit = self.cache.get_text(key)
            if hit is not None:
                self._account_cached(task)
                return hit.text
        conversation: list[Message] = [dict(m) for m in messages]
        result = await self._with_retries(task, lambda: self._chat_once(conversation, None, task))
        if key is not None and self.cache is not None:
            self.cache.put_text(key, result.text, result.usage, result.model)
        return result.text

    async def image(self, prompt: str, *, task: str = "image", size: str = "1024x768") -> bytes:
        """PNG bytes of a generated image."""
        parse_size(size)
        key = None
        if self.cache is not None:
            key = cache_key(
                kind="image",
                source=self.provider.cache_identity,
                model=self.provider.image_model,
                task=task,
                messages=[{"role": "user", "content": prompt}],
                extra=size,
            )
            hit = self.cache.get_image(key)
            if hit is not None:
                self._account_cached(task)
                return hit
        result = await self._with_retries(task, lambda: self._image_once(prompt, size, task))
        png = _as_png(result.png, task)
        if key is not None and self.cache is not None:
            self.cache.put_image(key, png)
        return png

    # -- one attempt -------------------------------------------------------------------------

    async def _chat_once(
        self, messages: Sequence[Message], schema: type[BaseModel] | None, task: str
    ) -> ChatResult:
        estimate = estimate_messages_tokens(messages) + self._completion_seen.get(
            task, self._default_completion
        )

        async def call(key_id: str) -> ChatResult:
            return await self.provider.chat(messages, schema=schema, task=task, key_id=key_id)

        result = await self._leased(estimate, call)
        seen = self._completion_seen.get(task, 0)
        self._completion_seen[task] = max(seen, result.usage.completion_tokens)
        price = self._price(result.model)
        self._account(task, result.usage, price.cost(result.usage) if price else 0.0)
        return result

    async def _image_once(self, prompt: str, size: str, task: str) -> ImageResult:
        async def call(key_id: str) -> ImageResult:
            return await self.provider.image(prompt, size=size, task=task, key_id=key_id)

        result = await self._leased(estimate_tokens(prompt), call)
        price = self._price(result.model)
        cost = price.cost(result.usage, images=1) if price else 0.0
        self._account(task, result.usage, cost, images=1)
        return result

    async def _leased(self, estimate: int, call: Callable[[str], Awaitable[R]]) -> R:
        """Budget check, limiter lease, the call, and the lease handed back in every case."""
        self.budget.check()
        lease = await self.limiter.acquire(estimate)
        try:
            self.budget.check()  # the cap may have been reached while we waited
        except BaseException:
            await self.limiter.release(lease, used_tokens=0, ok=False)
            raise
        try:
            result = await call(lease.key_id)
        except RateLimited as exc:
            scope.emit("usage", calls=1, failed_calls=1)  # a call made, and failed: counted
            await self.limiter.release(
                lease, used_tokens=0, rate_limited=True, retry_after=exc.retry_after
            )
            raise
        except BaseException as exc:
            if isinstance(exc, Exception):
                scope.emit("usage", calls=1, failed_calls=1)
            await self.limiter.release(lease, ok=False)
            raise
        await self.limiter.release(
            lease, used_tokens=result.usage.total_tokens, limits=result.limits
        )
        return result

    async def _with_retries(self, task: str, attempt: Callable[[], Awaitable[R]]) -> R:
        loop = asyncio.get_running_loop()
        started = loop.time()
        transient = rate_limited = 0
        while True:
            try:
                return await attempt()
            except RateLimited as exc:
                rate_limited += 1
                if rate_limited >= self.retry.rate_limited_attempts:
                    raise
                wait = self._jitter.uniform(0, self.retry.rate_limited_jitter_s)
                error: ProviderError = exc
            except TransientError as exc:
                transient += 1
                if transient >= self.retry.transient_attempts:
                    raise
                wait = self.retry.transient_wait(transient, self._jitter)
                error = exc
            if loop.time() - started + wait > self.retry.max_elapsed_s:
                raise error
            scope.emit(
                "llm.retry",
                task=task,
                reason=type(error).__name__,
                attempt=transient + rate_limited,
                wait_s=round(wait, 3),
            )
            log.info("task %r: %s, retrying in %.2fs", task, error, wait)
            await asyncio.sleep(wait)

    # -- accounting --------------------------------------------------------------------------

    def _price(self, model: str) -> Price | None:
        price = self.prices.get(model)
        if price is None and model not in self._unpriced_warned:
            self._unpriced_warned.add(model)
            log.warning("no price known for model %r: its cost is counted as 0", model)
        return price

    def _account(self, task: str, usage: Usage, cost: float, *, images: int = 0) -> None:
        current = scope.current_scope()
        phase = current.phase if current is not None else _NO_PHASE
        self.budget.add(
            phase,
            prompt_tokens=usage.prompt_tokens,
            completion_tokens=usage.completion_tokens,
            cost=cost,
            images=images,
        )
        scope.emit(
            "usage",
            tokens=usage.total_tokens,
            cost=cost,
            prompt_tokens=usage.prompt_tokens,
            completion_tokens=usage.completion_tokens,
            calls=1,
            images=images,
        )

    def _account_cached(self, task: str) -> None:
        current = scope.current_scope()
        phase = current.phase if current is not None else _NO_PHASE
        self.budget.add(phase, cached=1)
        scope.emit(
            "usage", tokens=0, cost=0.0, prompt_tokens=0, completion_tokens=0, calls=1, cached=1
        )


def _validate(schema: type[M], text: str) -> tuple[M | None, str]:
    """The validated instance, or None and a short error (also tolerates ```json fences)."""
    try:
        return schema.model_validate_json(text), ""
    except ValidationError as exc:
        first = exc
    start, end = text.find("{"), text.rfind("}")
    if 0 <= start < end and (start > 0 or end < len(text.rstrip()) - 1):
        try:
            return schema.model_validate_json(text[start : end + 1]), ""
        except ValidationError:
            pass
    problems = [
        f"{'.'.join(str(p) for p in err['loc']) or '(root)'}: {err['msg']}"
        for err in first.errors(include_url=False)[:8]
    ]
    more = first.error_count() - len(problems)
    return None, "; ".join(problems) + (f"; and {more} more" if more > 0 else "")


def _as_png(data: bytes, task: str) -> bytes:
    if data.startswith(_PNG_MAGIC):
        return data
    try:
        with Image.open(io.BytesIO(data)) as image:
            out = io.BytesIO()
            image.save(out, format="PNG")
            return out.getvalue()
    except (UnidentifiedImageError, OSError, ValueError):
        raise BadOutput(
            f"bad output for task {task!r}: the image is not a readable picture"
        ) from None
