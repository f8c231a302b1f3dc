"""JSON schemas from pydantic models, in the strict form structured outputs require."""

from __future__ import annotations

import copy
import functools
import json
import re
from typing import Any

from pydantic import BaseModel

__all__ = ["schema_digest", "schema_name", "strict_json_schema"]


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
