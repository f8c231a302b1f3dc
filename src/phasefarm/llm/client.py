"""The `LLM` facade every phase calls: retries, repair, limiter, budget, cache, usage events.

    llm = build_llm("offline", time_scale=0.05)
    plan = await llm.structured(messages, PagePlan, task="page_plan")

One call of `structured` / `text` / `image` is, in order: a cache lookup (when enabled), then up
to `RetryPolicy` attempts within the call's time limit, each of which reserves the call's worst
case in the budget (its most prompt tokens plus the `max_tokens` cap it sends), waits for the
shared limiter, calls the provider with the key the limiter chose (a key the server refuses
with 401/403 is set aside for the run and the call moves to another), and hands the lease and
the reservation back with the real usage. An answer cut at the cap is asked once more with
twice the room; a structured answer that fails the schema gets `repair_attempts` more tries
that show the model (a bounded excerpt of) its answer and the validation error; then
`BadOutput`. Every model call emits a "usage" event.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import random
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import TypeVar

from pydantic import BaseModel, ValidationError

from phasefarm import scope
from phasefarm.errors import (
    BadOutput,
    FatalError,
    ImagesUnavailable,
    KeyRejected,
    RateLimited,
    TransientError,
    UsageError,
)
from phasefarm.llm.answers import (
    MAX_ANSWER_CHARS,
    MAX_ANSWER_TOKENS,
    REPAIR_ECHO_CHARS,
    excerpt,
    validate_answer,
)
from phasefarm.llm.budget import Budget, Reservation, UsageTotals
from phasefarm.llm.cache import ResponseCache, cache_key
from phasefarm.llm.images import checked_png, draw_png, parse_size
from phasefarm.llm.limiter import Lease, Limiter, RateLimiter
from phasefarm.llm.pricing import Price, PriceTable
from phasefarm.llm.provider import ChatResult, ImageResult, Message, Provider, Usage
from phasefarm.llm.retry import LoopEvent, RetryPolicy, with_retries
from phasefarm.llm.schema import answer_token_cap, schema_digest
from phasefarm.llm.tokens import (
    estimate_messages_tokens,
    estimate_tokens,
    max_prompt_tokens,
    max_text_tokens,
)

__all__ = ["LLM", "RetryPolicy"]

SETTLE_POLL_S = 0.25  # a call waiting for budget room looks again this often

M = TypeVar("M", bound=BaseModel)
R = TypeVar("R", ChatResult, ImageResult)

log = logging.getLogger("phasefarm.llm")
_NO_PHASE = "-"


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
        max_answer_chars: int = MAX_ANSWER_CHARS,
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
        self.max_answer_chars = max_answer_chars
        self._default_completion = default_completion_tokens
        self._completion_seen: dict[str, int] = {}
        self._unpriced_warned: set[str] = set()
        self._jitter = random.Random()
        self._settled = LoopEvent()
        # What a run's summary should say about how its answers were made (images drawn
        # offline, usage counted from text...), each said once.
        self.notes: list[str] = []
        self.images_offline = provider.image_model == "none"
        if self.images_offline:
            self._note("images drawn offline (--image-model none); text steps use the model")

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

    def _note(self, text: str) -> None:
        if text not in self.notes:
            self.notes.append(text)
            log.warning("%s", text)

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
            result = await self._complete(conversation, schema, task)
            value, error = validate_answer(schema, result.text, self.max_answer_chars)
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
                {"role": "assistant", "content": excerpt(result.text, REPAIR_ECHO_CHARS)},
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
        result = await self._complete(conversation, None, task)
        text = excerpt(result.text, self.max_answer_chars)
        if key is not None and self.cache is not None:
            self.cache.put_text(key, text, result.usage, result.model)
        return text

    async def image(self, prompt: str, *, task: str = "image", size: str = "1024x768") -> bytes:
        """PNG bytes of a generated image (drawn offline when the server has no images)."""
        parse_size(size)
        if self.images_offline:
            return await asyncio.to_thread(draw_png, prompt, size=size)
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
        try:
            result = await with_retries(
                self.retry,
                task,
                lambda deadline: self._image_once(prompt, size, task, deadline),
                self._jitter,
            )
        except ImagesUnavailable as exc:
            self.images_offline = True
            self._note(f"images drawn offline: {exc}; text steps use the model")
            return await asyncio.to_thread(draw_png, prompt, size=size)
        # decoding runs off the event loop (Pillow releases the GIL): the website job's ten
        # images blocked every running phase for 1-4 ms each when decoded on the loop
        png = await asyncio.to_thread(checked_png, result.png, f"task {task!r}")
        if key is not None and self.cache is not None:
            self.cache.put_image(key, png)
        return png

    # -- one attempt -------------------------------------------------------------------------

    async def _complete(
        self, messages: Sequence[Message], schema: type[BaseModel] | None, task: str
    ) -> ChatResult:
        """One answer, with retries; an answer cut at the cap (`finish_reason` "length") is
        asked once more with twice the room, then fails: a cut answer is not repairable."""
        cap = answer_token_cap(schema)
        for room in (cap, min(2 * cap, MAX_ANSWER_TOKENS)):
            result = await with_retries(
                self.retry,
                task,
                functools.partial(self._chat_once, messages, schema, task, room),
                self._jitter,
            )
            if not result.truncated:
                return result
            log.info("task %r: the answer was cut at %d tokens, asking with more room", task, room)
        raise BadOutput(
            f"bad output for task {task!r}: the answer was cut at the {room:,}-token limit "
            "twice (finish_reason 'length')"
        )

    async def _chat_once(
        self,
        messages: Sequence[Message],
        schema: type[BaseModel] | None,
        task: str,
        cap: int,
        deadline: float,
    ) -> ChatResult:
        prompt_max = max_prompt_tokens(messages, schema_digest(schema))
        estimate = estimate_messages_tokens(messages) + min(
            cap, self._completion_seen.get(task, self._default_completion)
        )

        async def call(key_id: str) -> ChatResult:
            return await self.provider.chat(
                messages, schema=schema, task=task, key_id=key_id, max_tokens=cap
            )

        def account(result: ChatResult) -> None:
            usage = result.usage
            if not result.usage_reported:
                # Counted from the text, at the upper bounds the budget reserved with.
                usage = Usage(prompt_max, min(cap, max_text_tokens(result.text)))
                self._note("some answers came without usage: their tokens are counted from text")
            seen = self._completion_seen.get(task, 0)
            self._completion_seen[task] = max(seen, usage.completion_tokens)
            price = self._price(result.model)
            cost = price.cost(usage) if price else 0.0
            self._account(task, usage, cost, estimated=0 if result.usage_reported else 1)

        price = self._price(self.model)
        worst_cost = price.cost(Usage(prompt_max, cap)) if price else 0.0
        return await self._leased(prompt_max + cap, worst_cost, estimate, call, account, deadline)

    async def _image_once(self, prompt: str, size: str, task: str, deadline: float) -> ImageResult:
        async def call(key_id: str) -> ImageResult:
            return await self.provider.image(prompt, size=size, task=task, key_id=key_id)

        def account(result: ImageResult) -> None:
            price = self._price(result.model)
            cost = price.cost(result.usage, images=1) if price else 0.0
            self._account(task, result.usage, cost, images=1)

        worst = Usage(max_text_tokens(prompt), 0)
        price = self._price(self.provider.image_model)
        worst_cost = price.cost(worst, images=1) if price else 0.0
        return await self._leased(
            worst.total_tokens, worst_cost, estimate_tokens(prompt), call, account, deadline
        )

    async def _leased(
        self,
        worst_tokens: int,
        worst_cost: float,
        estimate: int,
        call: Callable[[str], Awaitable[R]],
        account: Callable[[R], None],
        deadline: float,
    ) -> R:
        """Budget reservation, limiter lease, the call (on another key when the server refuses
        one), accounting, and lease and reservation handed back in every case."""
        loop = asyncio.get_running_loop()
        reservation = await self._reserve(worst_tokens, worst_cost)
        try:
            while True:
                lease = await self.limiter.acquire(estimate, timeout=deadline - loop.time())
                try:
                    # a timeout scope, not wait_for: on Python 3.11 wait_for runs the call as a
                    # new task, queued behind every ready callback (up to 30 ms measured when a
                    # dozen phases start at once) before the request is even sent
                    async with asyncio.timeout(max(0.001, deadline - loop.time())):
                        result = await call(lease.key_id)
                except KeyRejected as exc:
                    scope.emit("usage", calls=1, failed_calls=1)  # counted in provider_calls
                    await self.limiter.release(lease, used_tokens=0, ok=False)
                    self._set_aside(exc)
                    continue
                except BaseException as exc:
                    if isinstance(exc, Exception):  # a call made and failed: counted too
                        scope.emit("usage", calls=1, failed_calls=1)
                    await self._hand_back(lease, exc)
                    if isinstance(exc, TimeoutError):
                        raise TransientError(
                            f"{lease.key_id}: no answer within the call's time limit"
                        ) from None
                    raise
                account(result)
                await self.limiter.release(
                    lease, used_tokens=result.usage.total_tokens, limits=result.limits
                )
                return result
        finally:
            if reservation is not None:
                self.budget.settle(reservation)
                self._settled.set()

    async def _hand_back(self, lease: Lease, exc: BaseException) -> None:
        """Return a lease whose call failed, telling the limiter what the server said."""
        if isinstance(exc, RateLimited):
            await self.limiter.release(
                lease, used_tokens=0, rate_limited=True, retry_after=exc.retry_after
            )
        else:  # the server may have spent tokens: the reservation stays
            await self.limiter.release(lease, ok=False)

    def _set_aside(self, exc: KeyRejected) -> None:
        """Take a key the server refused out of this run's pool; fail when none is left."""
        if self.limiter.set_aside(exc.key_id):
            scope.emit("llm.key_set_aside", key=exc.key_id)
            log.warning(
                "%s was refused by the server (HTTP 401/403): set aside for this run",
                exc.key_id,
            )
        if not self.limiter.usable_keys:
            raise FatalError(f"every API key was refused by the server; the last: {exc}") from None

    async def _reserve(self, tokens: int, cost: float) -> Reservation | None:
        """Hold the call's worst case in the budget, waiting for running calls to settle when
        it only fits without theirs (no cap: nothing to hold)."""
        if self.budget.max_tokens is None and self.budget.max_cost is None:
            return None
        while True:
            reservation = self.budget.reserve(tokens, cost)
            if reservation is not None:
                return reservation
            # woken by a settle in this process; the timeout looks again for settles elsewhere
            # (a budget shared by the workers of a Ray cluster)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._settled.wait(), SETTLE_POLL_S)

    # -- accounting --------------------------------------------------------------------------

    def _price(self, model: str) -> Price | None:
        price = self.prices.get(model)
        if price is None and model not in self._unpriced_warned:
            self._unpriced_warned.add(model)
            log.warning("no price known for model %r: its cost is counted as 0", model)
        return price

    def _account(
        self, task: str, usage: Usage, cost: float, *, images: int = 0, estimated: int = 0
    ) -> None:
        current = scope.current_scope()
        phase = current.phase if current is not None else _NO_PHASE
        self.budget.add(
            phase,
            prompt_tokens=usage.prompt_tokens,
            completion_tokens=usage.completion_tokens,
            cost=cost,
            images=images,
            estimated=estimated,
        )
        extra = {"estimated": estimated} if estimated else {}
        scope.emit(
            "usage",
            tokens=usage.total_tokens,
            cost=cost,
            prompt_tokens=usage.prompt_tokens,
            completion_tokens=usage.completion_tokens,
            calls=1,
            images=images,
            **extra,
        )

    def _account_cached(self, task: str) -> None:
        current = scope.current_scope()
        phase = current.phase if current is not None else _NO_PHASE
        self.budget.add(phase, cached=1)
        scope.emit(
            "usage", tokens=0, cost=0.0, prompt_tokens=0, completion_tokens=0, calls=1, cached=1
        )
