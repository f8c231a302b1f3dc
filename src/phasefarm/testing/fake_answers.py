"""What the fake OpenAI server answers: the content of a chat answer and the JSON bodies.

Structured answers are generated from the request's JSON schema alone (`schema_fuzz`), so they
test what the schema says and nothing the client knows besides; JSON mode looks for a schema
spelled out in the prompt; text answers are plain sentences (a page of HTML when asked for one).
"""

from __future__ import annotations

import json
import random
import time
from collections.abc import Callable
from typing import Any

from phasefarm.testing.fake_parts import sentence
from phasefarm.testing.schema_fuzz import fuzz

__all__ = ["Rewrite", "chat_body", "content_for", "image_body", "last_text", "schema_in_messages"]

Rewrite = Callable[[dict[str, Any], Any], Any]  # (schema, value) -> the value sent instead


def content_for(
    fmt: str,
    response_format: dict[str, Any],
    messages: list[dict[str, Any]],
    rng: random.Random,
    *,
    edges: bool,
    rewrite: Rewrite | None,
) -> str:
    """The answer's text for a response format ("json_schema", "json_object" or "text");
    `edges`: structured values at the edges of their schema."""
    if fmt == "json_schema":
        schema = (response_format.get("json_schema") or {}).get("schema") or {}
        value = fuzz(schema, rng, edges=edges)
        if rewrite is not None:
            value = rewrite(schema, value)
        return json.dumps(value, ensure_ascii=False)
    if fmt == "json_object":
        schema = schema_in_messages(messages)
        if schema is None:
            return json.dumps({"answer": sentence(rng, 1)})
        return json.dumps(fuzz(schema, rng, edges=edges), ensure_ascii=False)
    last = str(messages[-1].get("content", "")) if messages else ""
    if "html" in last.lower():
        return f"<!doctype html><title>Page</title><p>{sentence(rng)}</p>"
    return sentence(rng, 3)


def schema_in_messages(messages: list[dict[str, Any]]) -> dict[str, Any] | None:
    """JSON mode has no schema field: use the first JSON schema the prompt spells out."""
    for message in messages:
        text = str(message.get("content", ""))
        start, end = text.find("{"), text.rfind("}")
        if start == -1 or end <= start:
            continue
        try:
            value = json.loads(text[start : end + 1])
        except ValueError:
            continue
        if isinstance(value, dict) and ("properties" in value or "type" in value):
            return value
    return None


def last_text(messages: list[dict[str, Any]]) -> str:
    """The last message's text, first 2,000 characters (what the log keeps)."""
    return str(messages[-1].get("content", ""))[:2000] if messages else ""


def chat_body(
    number: int,
    model: str,
    content: str,
    finish: str,
    usage: tuple[int, int] | None,
) -> dict[str, Any]:
    """A `chat.completion` object; `usage` (prompt, completion tokens), None: left out."""
    answer: dict[str, Any] = {
        "id": f"chatcmpl-{number}",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": content},
                "finish_reason": finish,
            }
        ],
    }
    if usage is not None:
        prompt_tokens, completion_tokens = usage
        answer["usage"] = {
            "prompt_tokens": prompt_tokens,
            "completion_tokens": completion_tokens,
            "total_tokens": prompt_tokens + completion_tokens,
        }
    return answer


def image_body(b64_png: str, prompt_tokens: int) -> dict[str, Any]:
    """An images API answer with one base64 PNG and gpt-image's usage fields."""
    return {
        "created": int(time.time()),
        "data": [{"b64_json": b64_png}],
        "usage": {
            "input_tokens": prompt_tokens,
            "output_tokens": 0,
            "total_tokens": prompt_tokens,
            "input_tokens_details": {"text_tokens": prompt_tokens, "image_tokens": 0},
        },
    }
