"""The embedded default provider: deterministic answers, real PNGs, simulated latency, no network.

Content comes from a `Responder` per task (pipelines supply these), else from the generic
generator that builds a schema-valid object from the pydantic model's JSON schema. Every call
takes `latency[task] * time_scale` seconds from the moment it is made (the seed latency profile;
making the answer or drawing the picture happens within that time, as a server works while the
client waits) and reports token usage estimated at about four characters per token, so budgets
and limiters behave as with a model.
"""

from __future__ import annotations

import asyncio
import functools
import hashlib
import json
import random
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel

from phasefarm.errors import BadOutput, UsageError
from phasefarm.llm.images import draw_png, parse_size
from phasefarm.llm.provider import ChatResult, ImageResult, Message, Usage
from phasefarm.llm.synth import plausible_text, synthesize
from phasefarm.llm.tokens import estimate_messages_tokens, estimate_tokens

__all__ = [
    "DEFAULT_IMAGE_LATENCY",
    "DEFAULT_LATENCY",
    "OfflineProvider",
    "OfflineRequest",
    "Responder",
    "request_rng",
]

DEFAULT_LATENCY = 1.0  # seed-seconds per chat call for a task missing from the profile
DEFAULT_IMAGE_LATENCY = 5.0  # seed-seconds per image call
OFFLINE_KEY_ID = "offline"


def request_rng(seed: int, task: str, messages: Sequence[Message]) -> random.Random:
    """The rng of one request: a function of seed, task and the messages' text only."""
    digest = hashlib.sha256()
    digest.update(f"{seed}\x00{task}".encode())
    for message in messages:
        digest.update(f"\x00{message.get('role', '')}\x00{message.get('content', '')}".encode())
    return random.Random(int.from_bytes(digest.digest()[:8], "big"))


@dataclass(frozen=True)
class OfflineRequest:
    """What a responder sees. `rng` is seeded from seed + task + messages: use it, not `random`."""

    task: str
    messages: list[Message]
    schema: type[BaseModel] | None
    seed: int
    rng: random.Random = field(compare=False, repr=False)

    @property
    def prompt(self) -> str:
        """The last user message's text ("" when there is none)."""
        for message in reversed(self.messages):
            if message.get("role") == "user":
                return message.get("content", "")
        return ""

    @property
    def text(self) -> str:
        """All messages' text, joined by blank lines."""
        return "\n\n".join(message.get("content", "") for message in self.messages)


Responder = Callable[[OfflineRequest], Any]


class OfflineProvider:
    """Deterministic provider: same seed, task and messages give the same answer."""

    def __init__(
        self,
        *,
        seed: int = 0,
        time_scale: float = 0.05,
        latency: Mapping[str, float] | None = None,
        responders: Mapping[str, Responder] | None = None,
        model: str = "offline",
    ) -> None:
        if time_scale < 0:
            raise UsageError(f"time_scale must be >= 0, got {time_scale}")
        self._seed = seed
        self._time_scale = time_scale
        self._latency = dict(latency or {})
        self._responders = dict(responders or {})
        self._model = model
        self._drawing: ThreadPoolExecutor | None = None  # started by the first image call

    def __repr__(self) -> str:
        return (
            f"OfflineProvider(model={self._model!r}, seed={self._seed}, "
            f"time_scale={self._time_scale}, responders={sorted(self._responders)})"
        )

    @property
    def name(self) -> str:
        return "offline"

    @property
    def cache_identity(self) -> str:
        return f"offline/seed={self._seed}"

    @property
    def model(self) -> str:
        return self._model

    @property
    def image_model(self) -> str:
        return self._model

    @property
    def key_ids(self) -> Sequence[str]:
        return (OFFLINE_KEY_ID,)

    @property
    def time_scale(self) -> float:
        return self._time_scale

    def seconds_for(self, task: str, *, image: bool = False) -> float:
        """Seed-seconds one call of `task` takes."""
        default = DEFAULT_IMAGE_LATENCY if image else DEFAULT_LATENCY
        return float(self._latency.get(task, default))

    def _wake_time(self, task: str, *, image: bool = False) -> float:
        """When a call of `task` made now answers, on the running loop's clock. Taken when the
        call is made, so the answer's own work (the responder, the drawing) runs inside the
        latency, as a real server works while we wait, instead of being added to it."""
        seconds = self.seconds_for(task, image=image) * self._time_scale
        return asyncio.get_running_loop().time() + seconds

    @staticmethod
    async def _sleep_until(wake: float) -> None:
        delay = wake - asyncio.get_running_loop().time()
        if delay > 0:
            await asyncio.sleep(delay)

    def answer(
        self, messages: Sequence[Message], *, schema: type[BaseModel] | None, task: str
    ) -> str:
        """The text of the answer, without sleeping (structured answers are JSON text)."""
        request = OfflineRequest(
            task=task,
            messages=[dict(m) for m in messages],
            schema=schema,
            seed=self._seed,
            rng=request_rng(self._seed, task, messages),
        )
        responder = self._responders.get(task)
        if responder is None:
            if schema is not None:
                value = synthesize(schema.model_json_schema(), request.rng)
                return json.dumps(value, ensure_ascii=False)
            return plausible_text(request.rng, hint=f"{task} {request.prompt}")
        produced = responder(request)
        if schema is None:
            if not isinstance(produced, str):
                raise BadOutput(
                    f"offline responder for task {task!r} returned "
                    f"{type(produced).__name__}, a text call needs str"
                )
            return produced
        if isinstance(produced, BaseModel):
            return produced.model_dump_json()
        if isinstance(produced, dict | list):
            return json.dumps(produced, ensure_ascii=False)
        if isinstance(produced, str):
            return produced
        raise BadOutput(
            f"offline responder for task {task!r} returned {type(produced).__name__}, "
            "a structured call needs a pydantic instance, dict or JSON str"
        )

    async def chat(
        self,
        messages: Sequence[Message],
        *,
        schema: type[BaseModel] | None,
        task: str,
        key_id: str = OFFLINE_KEY_ID,
        max_tokens: int | None = None,
    ) -> ChatResult:
        del max_tokens  # offline answers are small; the budget still reserves the cap
        wake = self._wake_time(task)
        text = self.answer(messages, schema=schema, task=task)
        await self._sleep_until(wake)
        usage = Usage(
            prompt_tokens=estimate_messages_tokens(messages),
            completion_tokens=estimate_tokens(text),
        )
        return ChatResult(text=text, usage=usage, model=self._model, key_id=key_id)

    async def image(
        self,
        prompt: str,
        *,
        size: str = "1024x768",
        task: str = "image",
        key_id: str = OFFLINE_KEY_ID,
    ) -> ImageResult:
        parse_size(size)
        wake = self._wake_time(task, image=True)
        if self._drawing is None:
            # One drawing thread: the GIL serializes drawing anyway, and each extra thread
            # started while another draws stalled the event loop 4-11 ms (measured).
            self._drawing = ThreadPoolExecutor(1, thread_name_prefix="offline-draw")
        draw = functools.partial(draw_png, prompt, size=size, seed=self._seed)
        png = await asyncio.get_running_loop().run_in_executor(self._drawing, draw)
        await self._sleep_until(wake)
        usage = Usage(prompt_tokens=estimate_tokens(prompt), completion_tokens=0)
        return ImageResult(png=png, usage=usage, model=self._model, key_id=key_id)

    async def aclose(self) -> None:
        if self._drawing is not None:
            self._drawing.shutdown(wait=False)  # idle: every image call has returned
            self._drawing = None
