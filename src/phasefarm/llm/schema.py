"""JSON schemas from pydantic models, in the strict form structured outputs require."""

from __future__ import annotations

import copy
import functools
import json
import re
from typing import Any

from pydantic import BaseModel

__all__ = [
    "answer_token_cap",
    "max_json_chars",
    "schema_digest",
    "schema_name",
    "strict_json_schema",
]


def schema_name(model: type[BaseModel]) -> str:
    """The `json_schema.name` field: letters, digits, _ and - only, at most 64 chars."""
    return re.sub(r"[^A-Za-z0-9_-]", "_", model.__name__)[:64] or "Output"


def strict_json_schema(model: type[BaseModel]) -> dict[str, Any]:
    """A fresh copy of the strict schema (the computed one is cached per model class)."""
    return copy.deepcopy(_strict_cached(model))


@functools.lru_cache(maxsize=256)
def _strict_cached(model: type[BaseModel]) -> dict[str, Any]:
    """The model's JSON schema with every object closed and every property required.

    OpenAI's strict mode rejects open objects, optional keys, `default` and `$ref` with
    siblings; servers that ignore `strict` accept this form too.
    """
    schema = copy.deepcopy(model.model_json_schema())
    strict: dict[str, Any] = _strict(schema, schema)
    return strict


def _strict(node: Any, root: dict[str, Any]) -> Any:
    if isinstance(node, list):
        return [_strict(item, root) for item in node]
    if not isinstance(node, dict):
        return node
    node.pop("default", None)
    if "$ref" in node and len(node) > 1:
        ref = node.pop("$ref")
        target: Any = root
        for part in str(ref).removeprefix("#/").split("/"):
            target = target[part]
        node = {**copy.deepcopy(target), **node}
    for key in ("$defs", "definitions", "properties"):
        if key in node and isinstance(node[key], dict):
            node[key] = {name: _strict(sub, root) for name, sub in node[key].items()}
    for key in ("items", "anyOf", "oneOf", "allOf", "additionalProperties"):
        if key in node and isinstance(node[key], dict | list):
            node[key] = _strict(node[key], root)
    if node.get("type") == "object" and "properties" in node:
        node["additionalProperties"] = False
        node["required"] = list(node["properties"].keys())
    return node


def schema_digest(model: type[BaseModel] | None) -> str:
    """Stable text of a schema, for cache keys."""
    if model is None:
        return ""
    return _digest(model)


@functools.lru_cache(maxsize=256)
def _digest(model: type[BaseModel]) -> str:
    return json.dumps(model.model_json_schema(), sort_keys=True, separators=(",", ":"))


# Sizes assumed where a schema sets no bound, for the answer's token cap.
_UNBOUNDED_STRING = 2000
_UNBOUNDED_ITEMS = 20
_MIN_CAP, _MAX_CAP = 256, 16384


def max_json_chars(schema: dict[str, Any]) -> int:
    """About the longest JSON text an answer valid for `schema` can be (strings escaped plainly;
    unbounded strings and lists count as `_UNBOUNDED_*`)."""
    return _max_chars(schema, schema, 0)


def _max_chars(node: Any, root: dict[str, Any], depth: int) -> int:
    if not isinstance(node, dict) or depth > 32:
        return 8
    if "$ref" in node:
        target: Any = root
        for part in str(node["$ref"]).removeprefix("#/").split("/"):
            target = target.get(part, {}) if isinstance(target, dict) else {}
        return _max_chars(target, root, depth + 1)
    options = node.get("anyOf") or node.get("oneOf")
    if isinstance(options, list) and options:
        return max(_max_chars(o, root, depth + 1) for o in options)
    if "enum" in node:
        return max((len(json.dumps(v)) for v in node["enum"]), default=8)
    kind = node.get("type")
    if kind == "string":
        return 2 + int(node.get("maxLength", _UNBOUNDED_STRING))
    if kind == "array":
        items = int(node.get("maxItems", _UNBOUNDED_ITEMS))
        return 2 + items * (1 + _max_chars(node.get("items", {}), root, depth + 1))
    if kind == "object":
        properties = node.get("properties", {})
        return 2 + sum(
            len(name) + 4 + _max_chars(sub, root, depth + 1) for name, sub in properties.items()
        )
    return 24  # numbers, booleans, null


def answer_token_cap(model: type[BaseModel] | None) -> int:
    """The `max_tokens` sent with a call: room for the longest schema-valid answer at about
    three characters per token, within 256..16,384 (a text call gets 1,024)."""
    if model is None:
        return 1024
    chars = max_json_chars(_strict_cached(model))
    return max(_MIN_CAP, min(_MAX_CAP, chars // 3 + 16))
