"""The HTTP routes of the fake OpenAI server: `POST /v1/chat/completions`,
`POST /v1/images/generations` and `GET /v1/models`, as OpenAI answers them.

A request passes the gate (`fake_limits`), then the fault hook (`fake_inject`); what is left is
answered after the configured latency, with the content `fake_answers` makes, and logged
(`fake_records`). `ModelBehaviour` says how the fake model behaves.
"""

from __future__ import annotations

import asyncio
import base64
import json
import random
import time
from dataclasses import dataclass

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from phasefarm.testing.fake_answers import (
    Rewrite,
    chat_body,
    content_for,
    image_body,
    last_text,
)
from phasefarm.testing.fake_faults import call_signature
from phasefarm.testing.fake_inject import Injector
from phasefarm.testing.fake_limits import Gate
from phasefarm.testing.fake_parts import count_tokens, fake_png, request_random
from phasefarm.testing.fake_parts import prompt_tokens as count_prompt
from phasefarm.testing.fake_records import RecordedRequest, ServerState, error_response

__all__ = ["ModelBehaviour", "OpenAIRoutes"]


@dataclass(frozen=True)
class ModelBehaviour:
    """How the fake model answers (see `FakeOpenAI` for each option)."""

    latency: float = 0.0  # seconds per chat answer
    image_latency: float = 0.0  # seconds per image
    malformed_rate: float = 0.0  # share of structured answers cut in half
    seed: int = 0
    json_schema_supported: bool = True
    # structured answers generated from the request's JSON schema alone, at its edges
    # (`schema_fuzz`): a model that honours the schema and nothing else
    fuzz: bool = False
    images_endpoint: bool = True  # False: 404, as vLLM or Ollama answer
    report_usage: bool = True  # False: answers without a `usage` object
    # a model that stops at this many tokens whatever the request's cap (finish "length")
    answer_token_limit: int | None = None
    # as OpenAI's reasoning models: `max_tokens` refused, `max_completion_tokens` wanted
    reject_max_tokens: bool = False
    # rewrite(schema, value): changes each generated structured answer before it is sent,
    # e.g. hostile text inside schema-valid values (verbatim answers: `rule(content=)`)
    rewrite: Rewrite | None = None


class OpenAIRoutes:
    """The routes of one server, over its shared state, gate and fault hook."""

    def __init__(
        self,
        behaviour: ModelBehaviour,
        state: ServerState,
        gate: Gate,
        injector: Injector,
        rng: random.Random,
    ) -> None:
        self.behaviour = behaviour
        self._state = state
        self._gate = gate
        self._injector = injector
        self._rng = rng  # the malformed-answer rate draws from it (the gate's 5xx rate too)
        self.app = Starlette(
            routes=[
                Route("/v1/chat/completions", self._chat, methods=["POST"]),
                Route("/v1/images/generations", self._images, methods=["POST"]),
                Route("/v1/models", self._models, methods=["GET"]),
            ]
        )

    async def _chat(self, request: Request) -> Response:
        now = time.monotonic()
        try:
            body = await request.json()
            messages = list(body["messages"])
            model = str(body.get("model", ""))
        except (ValueError, KeyError, TypeError):
            return error_response(
                400, "Invalid request body: 'messages' is required.", "invalid_request"
            )
        response_format = body.get("response_format") or {"type": "text"}
        fmt = str(response_format.get("type", "text"))
        if self.behaviour.reject_max_tokens and "max_tokens" in body:
            return error_response(
                400,
                "Unsupported parameter: 'max_tokens' is not supported with this model. "
                "Use 'max_completion_tokens' instead.",
                "unsupported_parameter",
                param="max_tokens",
            )
        cap = body.get("max_completion_tokens", body.get("max_tokens"))
        max_tokens = int(cap) if isinstance(cap, int) and cap > 0 else None
        body_bytes = len(await request.body())
        if fmt == "json_schema" and not self.behaviour.json_schema_supported:
            with self._state.lock:
                key_id = self._gate.key_id(request) or "?"
                self._state.record(
                    RecordedRequest(
                        t=now,
                        path="chat",
                        key_id=key_id,
                        status=400,
                        model=model,
                        response_format=fmt,
                        reason="json_schema unsupported",
                        finished=now,
                    )
                )
            return error_response(
                400,
                "response_format 'json_schema' is not supported by this server.",
                "invalid_request_error",
                param="response_format",
            )
        rng = request_random(self.behaviour.seed, model, messages)
        schema_name = str((response_format.get("json_schema") or {}).get("name", ""))
        signature = call_signature("chat", model, json.dumps([messages, response_format]))
        with self._state.lock:
            scripted = self._state.answers.popleft() if self._state.answers else None
            rule = self._state.rule_for(schema_name, json.dumps(messages, ensure_ascii=False))
        if scripted is None and rule is not None and rule.content is not None:
            scripted = rule.content
        finish = "stop"
        if scripted is not None:
            content = scripted
        else:
            content = content_for(
                fmt,
                response_format,
                messages,
                rng,
                edges=self.behaviour.fuzz,
                rewrite=self.behaviour.rewrite,
            )
            limits = [n for n in (max_tokens, self.behaviour.answer_token_limit) if n is not None]
            if limits and count_tokens(content) > min(limits):
                content = content[: min(limits) * 4]  # cut at the cap, as a real server does
                finish = "length"
        prompt_tokens = count_prompt(messages)
        completion_tokens = count_tokens(content)
        entry = RecordedRequest(
            t=now,
            path="chat",
            key_id="?",
            status=200,
            model=model,
            response_format=fmt,
            prompt_tokens=prompt_tokens,
            completion_tokens=completion_tokens,
            messages=len(messages),
            call=signature[:16],
        )
        with self._state.lock:
            key_id, refusal = self._gate.check(request, entry)
            if refusal is not None:
                return refusal
            injected = self._injector.inject(rule, signature, key_id, "chat", now)
            malformed = False
            if fmt != "text" and self._state.malformed > 0:
                self._state.malformed -= 1
                malformed = True
            elif fmt != "text" and self.behaviour.malformed_rate > 0:
                malformed = self._rng.random() < self.behaviour.malformed_rate
            self._state.counter += 1
            number = self._state.counter
        if injected is not None:
            return await self._injector.deliver(injected)
        if malformed:
            content = content[: max(1, len(content) // 2)]
        if self.behaviour.latency > 0:
            await asyncio.sleep(self.behaviour.latency)
        finished = time.monotonic()
        with self._state.lock:
            self._state.record(
                entry.but(
                    key_id=key_id,
                    reason="malformed" if malformed else "",
                    finished=finished,
                    last_message=last_text(messages),
                    max_tokens=max_tokens,
                    request_bytes=body_bytes,
                )
            )
            headers = {
                "x-request-id": f"req_{number}",
                **self._gate.limit_headers(key_id, finished),
            }
        usage = (prompt_tokens, completion_tokens) if self.behaviour.report_usage else None
        answer = chat_body(number, model, content, finish, usage)
        return JSONResponse(answer, headers=headers)

    async def _images(self, request: Request) -> Response:
        now = time.monotonic()
        if not self.behaviour.images_endpoint:
            return error_response(404, "Not Found", "not_found")
        try:
            body = await request.json()
            prompt = str(body["prompt"])
            size = str(body.get("size") or "1024x1024")
            model = str(body.get("model") or "")
        except (ValueError, KeyError, TypeError):
            return error_response(
                400, "Invalid request body: 'prompt' is required.", "invalid_request"
            )
        prompt_tokens = count_tokens(prompt)
        signature = call_signature("images", model, prompt, size)
        entry = RecordedRequest(
            t=now,
            path="images",
            key_id="?",
            status=200,
            model=model,
            response_format="image",
            prompt_tokens=prompt_tokens,
            call=signature[:16],
        )
        with self._state.lock:
            key_id, refusal = self._gate.check(request, entry)
            if refusal is not None:
                return refusal
            rule = self._state.rule_for("", prompt)
            injected = self._injector.inject(rule, signature, key_id, "images", now)
        if injected is not None:
            return await self._injector.deliver(injected)
        try:
            png = await asyncio.to_thread(fake_png, prompt, size)
        except ValueError as exc:
            return error_response(400, str(exc), "invalid_request_error", param="size")
        if self.behaviour.image_latency > 0:
            await asyncio.sleep(self.behaviour.image_latency)
        finished = time.monotonic()
        with self._state.lock:
            self._state.record(entry.but(key_id=key_id, finished=finished))
        body = image_body(base64.b64encode(png).decode("ascii"), prompt_tokens)
        return JSONResponse(body)

    async def _models(self, request: Request) -> Response:
        return JSONResponse(
            {
                "object": "list",
                "data": [{"id": "fake-model", "object": "model", "owned_by": "fake"}],
            }
        )
