"""What every model backend implements: one chat call and one image call.

A provider does one HTTP call (or one simulated call) per method call, with the key the limiter
chose; retries, repair, budget, cache and rate limiting live in the `LLM` facade above it.
Vendor exceptions never leave a provider: they are mapped to `phasefarm.errors` where caught.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from pydantic import BaseModel

__all__ = ["ChatResult", "ImageResult", "Message", "Provider", "ServerLimits", "Usage"]

Message = dict[str, str]


@dataclass(frozen=True)
class Usage:
    """Tokens of one call, as reported by the server (or estimated by the offline provider)."""

    prompt_tokens: int = 0
    completion_tokens: int = 0

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens


@dataclass(frozen=True)
class ServerLimits:
    """Per-key limits a server announced (OpenAI's `x-ratelimit-limit-*` headers)."""

    rpm: float | None = None
    tpm: float | None = None
    remaining_requests: float | None = None
    remaining_tokens: float | None = None


@dataclass(frozen=True)
class ChatResult:
    """The raw answer of one chat call: text (JSON text for structured calls) and usage."""

    text: str
    usage: Usage
    model: str
    key_id: str | None = None  # masked, e.g. "key#2"
    limits: ServerLimits | None = None
    finish_reason: str | None = None  # "length": cut at the max_tokens cap
    usage_reported: bool = True  # False: the server sent no usage; `usage` is zero

    @property
    def truncated(self) -> bool:
        return self.finish_reason == "length"


@dataclass(frozen=True)
class ImageResult:
    png: bytes
    usage: Usage
    model: str
    key_id: str | None = None
    limits: ServerLimits | None = None


@runtime_checkable
class Provider(Protocol):
    """One model backend. `key_ids` are masked names ("key#1"...) the limiter hands out."""

    @property
    def name(self) -> str: ...

    @property
    def cache_identity(self) -> str:
        """Where answers come from (provider, server, seed): part of every cache key, so a
        cached answer is only ever given back for the same source."""
        ...

    @property
    def model(self) -> str: ...

    @property
    def image_model(self) -> str: ...

    @property
    def key_ids(self) -> Sequence[str]: ...

    async def chat(
        self,
        messages: Sequence[Message],
        *,
        schema: type[BaseModel] | None,
        task: str,
        key_id: str,
        max_tokens: int | None = None,
    ) -> ChatResult:
        """One chat completion. With `schema`, the text is the model's JSON (not yet validated).
        `max_tokens` caps the answer's tokens (the server cuts it there: `finish_reason`
        "length")."""
        ...

    async def image(self, prompt: str, *, size: str, task: str, key_id: str) -> ImageResult:
        """One generated image as PNG bytes."""
        ...

    async def aclose(self) -> None: ...
