"""The OpenAI-compatible provider: `openai.AsyncOpenAI` over real HTTP, one client per key.

Works with OpenAI, vLLM, Ollama, llama.cpp server and the package's fake server. Structured
calls send `response_format={"type": "json_schema", ..., "strict": True}`; a server that rejects
it is asked again in JSON mode with the schema spelled out in a system message, and keeps being
asked that way. The SDK's own retries are off (`max_retries=0`): retrying is the `LLM` facade's
job, where the limiter sees every attempt.

Every openai / httpx error is mapped here to `phasefarm.errors`, with a message that names the
masked key id ("key#2") and never the key: any key of the pool found in a server's message is
replaced by its id, and the vendor exception is not chained (its text may hold the key).
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import email.utils
import json
import os
import re
import time
from collections.abc import Mapping, Sequence
from typing import Any, cast

import httpx
import openai
from pydantic import BaseModel

from phasefarm.errors import (
    BadOutput,
    FatalError,
    ImagesUnavailable,
    KeyRejected,
    ProviderError,
    RateLimited,
    TransientError,
    UsageError,
)
from phasefarm.llm.provider import ChatResult, ImageResult, Message, ServerLimits, Usage
from phasefarm.llm.schema import schema_name, strict_json_schema

__all__ = [
    "DEFAULT_IMAGE_MODEL",
    "DEFAULT_MODEL",
    "KeyPool",
    "OpenAIProvider",
    "keys_from_env",
    "parse_limits",
    "parse_retry_after",
]

DEFAULT_MODEL = "gpt-4o-mini"
DEFAULT_IMAGE_MODEL = "gpt-image-1"
_SECRET_LIKE = re.compile(r"\b(sk|key|api)[-_][A-Za-z0-9_\-]{8,}")


def keys_from_env(value: str | None = None) -> list[str]:
    """The key pool from `OPENAI_API_KEY` (several keys comma separated)."""
    raw = os.environ.get("OPENAI_API_KEY", "") if value is None else value
    return [key.strip() for key in raw.split(",") if key.strip()]


class KeyPool:
    """API keys by masked id. Its repr, str and errors show ids only, never a key."""

    __slots__ = ("_keys",)

    def __init__(self, keys: Sequence[str]) -> None:
        cleaned = [key.strip() for key in keys if key and key.strip()]
        if not cleaned:
            raise UsageError("no API key: set OPENAI_API_KEY (several keys comma separated)")
        if len(set(cleaned)) != len(cleaned):
            raise UsageError("the same API key is listed twice in OPENAI_API_KEY")
        self._keys = {f"key#{i}": key for i, key in enumerate(cleaned, start=1)}

    def __repr__(self) -> str:
        return f"KeyPool({list(self._keys)})"

    __str__ = __repr__

    @property
    def ids(self) -> list[str]:
        return list(self._keys)

    def secret(self, key_id: str) -> str:
        return self._keys[key_id]

    def redact(self, text: str) -> str:
        """`text` with every pool key replaced by its id, and other key-like tokens masked."""
        for key_id, key in self._keys.items():
            text = text.replace(key, key_id)
        return _SECRET_LIKE.sub(lambda m: f"{m.group(1)}-***", text)


def _duration(value: str) -> float | None:
    """OpenAI's reset format: '1s', '6m0s', '20ms', '1h2m3.5s', or plain seconds."""
    value = value.strip()
    try:
        return float(value)
    except ValueError:
        pass
    total = 0.0
    matched = False
    for number, unit in re.findall(r"(\d+(?:\.\d+)?)(ms|h|m|s)", value):
        matched = True
        total += float(number) * {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}[unit]
    return total if matched else None


def parse_retry_after(headers: Mapping[str, str]) -> float | None:
    """Seconds until a rate-limited key may be used again, from the response headers.

    Precedence: `retry-after-ms`, `retry-after` (seconds or HTTP date), then the larger of
    `x-ratelimit-reset-requests` / `x-ratelimit-reset-tokens`. None when none is present.
    """
    lowered = {k.lower(): v for k, v in headers.items()}
    if "retry-after-ms" in lowered:
        try:
            return max(0.0, float(lowered["retry-after-ms"]) / 1000.0)
        except ValueError:
            pass
    if "retry-after" in lowered:
        value = lowered["retry-after"]
        try:
            return max(0.0, float(value))
        except ValueError:
            parsed = email.utils.parsedate_to_datetime(value) if value else None
            if parsed is not None:
                return max(0.0, parsed.timestamp() - time.time())
    resets = [
        seconds
        for name in ("x-ratelimit-reset-requests", "x-ratelimit-reset-tokens")
        if name in lowered and (seconds := _duration(lowered[name])) is not None
    ]
    return max(resets) if resets else None


def parse_limits(headers: Mapping[str, str]) -> ServerLimits | None:
    """The per-key limits in `x-ratelimit-limit-*` / `-remaining-*` headers, if any."""
    lowered = {k.lower(): v for k, v in headers.items()}

    def number(name: str) -> float | None:
        try:
            value = float(lowered[name])
        except (KeyError, ValueError):
            return None
        return value if value >= 0 else None

    rpm = number("x-ratelimit-limit-requests")
    tpm = number("x-ratelimit-limit-tokens")
    if not rpm and not tpm:
        return None
    return ServerLimits(
        rpm=rpm or None,
        tpm=tpm or None,
        remaining_requests=number("x-ratelimit-remaining-requests"),
        remaining_tokens=number("x-ratelimit-remaining-tokens"),
    )


def _server_message(exc: openai.APIStatusError) -> str:
    body = exc.body
    if isinstance(body, dict):
        error = body.get("error", body)
        if isinstance(error, dict) and isinstance(error.get("message"), str):
            return str(error["message"])[:300]
    try:
        return exc.response.text[:300]
    except Exception:  # a streamed body that was never read
        return ""


def _mask_userinfo(url: str | None) -> str | None:
    """`https://user:secret@host/v1` -> `https://user:***@host/v1`: nothing secret in reprs."""
    if url is None or "@" not in url:
        return url
    scheme, sep, rest = url.partition("://")
    userinfo, _, host = rest.partition("@") if sep else ("", "", rest)
    user = userinfo.split(":", 1)[0]
    return f"{scheme}{sep}{user}:***@{host}" if sep else url


class OpenAIProvider:
    """One `AsyncOpenAI` client per key; the limiter chooses the key of each call."""

    def __init__(
        self,
        api_keys: Sequence[str],
        *,
        model: str | None = None,
        image_model: str | None = None,
        base_url: str | None = None,
        timeout: float = 120.0,
    ) -> None:
        self._pool = KeyPool(api_keys)
        self._model = model or os.environ.get("OPENAI_MODEL") or DEFAULT_MODEL
        self._image_model = (
            image_model or os.environ.get("OPENAI_IMAGE_MODEL") or DEFAULT_IMAGE_MODEL
        )
        self._base_url = base_url or os.environ.get("OPENAI_BASE_URL") or None
        self._timeout = timeout
        self._clients = self._make_clients()
        self._clients_loop: asyncio.AbstractEventLoop | None = None
        self.json_schema_supported: bool = True
        # The answer cap's parameter: OpenAI's reasoning models want max_completion_tokens,
        # which older servers do not know; switched once if the server refuses max_tokens.
        self.cap_parameter = "max_tokens"

    def _make_clients(self) -> dict[str, openai.AsyncOpenAI]:
        clients = {
            key_id: openai.AsyncOpenAI(
                api_key=self._pool.secret(key_id),
                base_url=self._base_url,
                max_retries=0,
                timeout=self._timeout,
            )
            for key_id in self._pool.ids
        }
        # The SDK imports its resources lazily, on the first call: do it now, so the first
        # burst of calls is not held up (and bunched together on arrival) by imports.
        for client in clients.values():
            _ = client.chat.completions, client.images
        return clients

    def _client(self, key_id: str) -> openai.AsyncOpenAI:
        """The key's client for the running loop: connection pools belong to one event loop,
        so a provider reused by a later run (a new loop) gets fresh clients."""
        loop = asyncio.get_running_loop()
        if self._clients_loop is None:
            self._clients_loop = loop
        elif self._clients_loop is not loop:
            self._clients = self._make_clients()
            self._clients_loop = loop
        return self._clients[key_id]

    def __repr__(self) -> str:
        return (
            f"OpenAIProvider(model={self._model!r}, base_url={_mask_userinfo(self._base_url)!r}, "
            f"keys={self._pool.ids})"
        )

    @property
    def name(self) -> str:
        return "openai"

    @property
    def cache_identity(self) -> str:
        return f"openai/{self._base_url or 'default'}"  # hashed into the key, never stored

    @property
    def model(self) -> str:
        return self._model

    @property
    def image_model(self) -> str:
        return self._image_model

    @property
    def key_ids(self) -> Sequence[str]:
        return self._pool.ids

    def redact(self, text: str) -> str:
        return self._pool.redact(text)

    def _map(self, exc: Exception, key_id: str, what: str) -> ProviderError:
        """A vendor exception as one of ours, with a message free of keys."""
        where = f"{what} on {key_id}"
        if isinstance(exc, openai.APITimeoutError | httpx.TimeoutException):
            return TransientError(f"{where}: timed out")
        if isinstance(exc, openai.APIConnectionError | httpx.TransportError):
            return TransientError(f"{where}: connection failed ({type(exc).__name__})")
        if isinstance(exc, openai.APIResponseValidationError):
            return BadOutput(f"{where}: the server's response is not a valid completion")
        if isinstance(exc, openai.APIStatusError):
            status = exc.status_code
            detail = self._pool.redact(_server_message(exc))
            message = f"{where}: HTTP {status}: {detail}" if detail else f"{where}: HTTP {status}"
            if status == 429:
                headers = dict(exc.response.headers.items())
                return RateLimited(message, retry_after=parse_retry_after(headers), key_id=key_id)
            if status >= 500 or status in (408, 409):
                return TransientError(message)
            if status in (401, 403):
                return KeyRejected(f"{message} (check OPENAI_API_KEY)", key_id=key_id)
            return FatalError(message)
        if isinstance(exc, openai.OpenAIError):
            return FatalError(f"{where}: {type(exc).__name__}: {self._pool.redact(str(exc))}")
        return TransientError(f"{where}: {type(exc).__name__}")

    async def chat(
        self,
        messages: Sequence[Message],
        *,
        schema: type[BaseModel] | None,
        task: str,
        key_id: str,
        max_tokens: int | None = None,
    ) -> ChatResult:
        client = self._client(key_id)
        sent: list[Message] = [dict(m) for m in messages]
        kwargs: dict[str, Any] = {"model": self._model}
        if max_tokens is not None:
            kwargs[self.cap_parameter] = max_tokens
        if schema is not None and self.json_schema_supported:
            kwargs["response_format"] = {
                "type": "json_schema",
                "json_schema": {
                    "name": schema_name(schema),
                    "schema": strict_json_schema(schema),
                    "strict": True,
                },
            }
        elif schema is not None:
            kwargs["response_format"] = {"type": "json_object"}
            sent = [_json_mode_instruction(schema), *sent]
        try:
            raw = await client.chat.completions.with_raw_response.create(
                messages=cast(Any, sent), **kwargs
            )
            completion = raw.parse()
        except openai.APIStatusError as exc:
            said = (_server_message(exc) + " " + str(exc.body)).lower()
            if (
                schema is not None
                and self.json_schema_supported
                and exc.status_code in (400, 422)
                and ("response_format" in said or "json_schema" in said)
            ):
                # The server has no structured outputs: JSON mode plus our own validation.
                self.json_schema_supported = False
                return await self.chat(
                    messages, schema=schema, task=task, key_id=key_id, max_tokens=max_tokens
                )
            if (
                max_tokens is not None
                and self.cap_parameter == "max_tokens"
                and exc.status_code == 400
                and "max_tokens" in said
                and "max_completion_tokens" in said
            ):
                self.cap_parameter = "max_completion_tokens"
                return await self.chat(
                    messages, schema=schema, task=task, key_id=key_id, max_tokens=max_tokens
                )
            raise self._map(exc, key_id, f"chat for task {task!r}") from None
        except (openai.OpenAIError, httpx.HTTPError) as exc:
            raise self._map(exc, key_id, f"chat for task {task!r}") from None
        if not completion.choices:
            raise BadOutput(f"chat for task {task!r} on {key_id}: the answer has no choices")
        choice = completion.choices[0]
        message = choice.message
        text = message.content
        if text is None:
            refusal = getattr(message, "refusal", None)
            if schema is not None or refusal:
                raise BadOutput(
                    f"chat for task {task!r} on {key_id}: no content"
                    + (f" (refusal: {self._pool.redact(str(refusal))})" if refusal else "")
                )
            text = ""
        usage = Usage()
        if completion.usage is not None:
            usage = Usage(
                prompt_tokens=int(completion.usage.prompt_tokens or 0),
                completion_tokens=int(completion.usage.completion_tokens or 0),
            )
        return ChatResult(
            text=text,
            usage=usage,
            model=completion.model or self._model,
            key_id=key_id,
            limits=parse_limits(dict(raw.headers.items())),
            finish_reason=str(choice.finish_reason) if choice.finish_reason else None,
            usage_reported=completion.usage is not None,
        )

    async def image(self, prompt: str, *, size: str, task: str, key_id: str) -> ImageResult:
        client = self._client(key_id)
        kwargs: dict[str, Any] = {
            "model": self._image_model,
            "prompt": prompt,
            "size": size,
            "n": 1,
        }
        if not self._image_model.startswith("gpt-image"):
            kwargs["response_format"] = "b64_json"  # gpt-image models always answer base64
        try:
            raw = await client.images.with_raw_response.generate(**kwargs)
            response = raw.parse()
        except openai.APIStatusError as exc:
            if exc.status_code in (404, 405, 501):
                raise ImagesUnavailable(
                    f"image for task {task!r} on {key_id}: HTTP {exc.status_code}: the server "
                    "has no images endpoint"
                ) from None
            raise self._map(exc, key_id, f"image for task {task!r}") from None
        except (openai.OpenAIError, httpx.HTTPError) as exc:
            raise self._map(exc, key_id, f"image for task {task!r}") from None
        data = response.data or []
        b64 = data[0].b64_json if data else None
        if not b64:
            raise BadOutput(f"image for task {task!r} on {key_id}: no b64_json in the answer")
        try:
            png = base64.b64decode(b64, validate=True)
        except (binascii.Error, ValueError):
            raise BadOutput(
                f"image for task {task!r} on {key_id}: b64_json is not base64"
            ) from None
        usage = Usage()
        if response.usage is not None:
            usage = Usage(
                prompt_tokens=int(getattr(response.usage, "input_tokens", 0) or 0),
                completion_tokens=int(getattr(response.usage, "output_tokens", 0) or 0),
            )
        return ImageResult(
            png=png,
            usage=usage,
            model=self._image_model,
            key_id=key_id,
            limits=parse_limits(dict(raw.headers.items())),
        )

    async def aclose(self) -> None:
        for client in self._clients.values():
            await client.close()


def _json_mode_instruction(schema: type[BaseModel]) -> Message:
    return {
        "role": "system",
        "content": (
            "Answer with one JSON object only, no prose, that conforms to this JSON schema:\n"
            + json.dumps(strict_json_schema(schema), separators=(",", ":"))
        ),
    }
