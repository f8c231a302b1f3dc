"""Deterministic values that conform to a JSON schema, for the offline provider and fake server.

`synthesize(schema, rng)` walks a JSON schema (as pydantic's `model_json_schema()` writes it:
objects, arrays, `$ref`/`$defs`, `anyOf`, enums, string/number bounds) and builds a value from
`rng` only, so the same seed gives the same object. Field names steer the wording (a field
called `html` gets an HTML document, `color` a `#rrggbb` code) so generic output stays plausible.
"""

from __future__ import annotations

import random
import re
from typing import Any

__all__ = ["plausible_text", "synthesize"]

_WORDS = [
    "bright",
    "studio",
    "craft",
    "modern",
    "calm",
    "bold",
    "clear",
    "natural",
    "warm",
    "fresh",
    "simple",
    "elegant",
    "local",
    "quality",
    "service",
    "garden",
    "coffee",
    "design",
    "story",
    "team",
    "project",
    "vision",
    "community",
    "light",
    "open",
    "friendly",
    "trusted",
    "careful",
    "handmade",
    "seasonal",
    "urban",
    "coastal",
    "quiet",
    "vivid",
    "honest",
    "focused",
]
_NOUNS = [
    "bakery",
    "workshop",
    "gallery",
    "studio",
    "clinic",
    "market",
    "library",
    "cafe",
    "atelier",
    "venue",
    "harbor",
    "kitchen",
    "garden",
    "office",
    "shop",
    "school",
]
_MAX_DEPTH = 8


def _sentence(rng: random.Random, low: int = 6, high: int = 12) -> str:
    words = [rng.choice(_WORDS) for _ in range(rng.randint(low, high))]
    return " ".join(words).capitalize() + "."


def plausible_text(rng: random.Random, *, hint: str = "", sentences: int = 3) -> str:
    """A few sentences, or a small HTML/CSS/JS file when `hint` asks for one."""
    lowered = hint.lower()
    if "html" in lowered:
        title = _title(rng)
        body = "".join(f"<p>{_sentence(rng)}</p>" for _ in range(sentences))
        return (
            '<!doctype html>\n<html lang="en"><head><meta charset="utf-8">'
            f"<title>{title}</title></head>\n<body><main><h1>{title}</h1>{body}</main></body></html>\n"
        )
    if "css" in lowered or "stylesheet" in lowered:
        return (
            f"body {{ font-family: system-ui, sans-serif; color: {_color(rng)}; "
            f"background: {_color(rng)}; }}\nh1 {{ color: {_color(rng)}; }}\n"
        )
    if "javascript" in lowered or re.search(r"\bjs\b", lowered):
        name = rng.choice(_WORDS)
        return (
            f"export function {name}Init(root) {{\n"
            f"  const el = document.createElement('p');\n"
            f"  el.textContent = {_sentence(rng)!r};\n  root.appendChild(el);\n}}\n"
        )
    return " ".join(_sentence(rng) for _ in range(sentences))


def _title(rng: random.Random) -> str:
    return f"{rng.choice(_WORDS).capitalize()} {rng.choice(_NOUNS).capitalize()}"


def _color(rng: random.Random) -> str:
    return f"#{rng.randrange(0x1000000):06x}"


def _string_for(name: str, schema: dict[str, Any], rng: random.Random) -> str:
    lowered = name.lower()
    fmt = schema.get("format")
    if fmt == "date-time":
        return f"2026-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}T12:00:00Z"
    if fmt == "date":
        return f"2026-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}"
    if fmt == "email" or "email" in lowered:
        return f"{rng.choice(_WORDS)}@example.com"
    if fmt in ("uri", "url") or lowered.endswith("url") or lowered == "href":
        return f"https://example.com/{rng.choice(_WORDS)}"
    if "color" in lowered or "colour" in lowered:
        return _color(rng)
    if lowered in ("html", "css", "js", "javascript", "code", "content_html"):
        return plausible_text(rng, hint=lowered)
    if "path" in lowered or "file" in lowered:
        return f"{rng.choice(_WORDS)}/{rng.choice(_NOUNS)}.txt"
    if lowered in ("slug", "id", "key") or lowered.endswith("_id"):
        return f"{rng.choice(_WORDS)}-{rng.randrange(1000)}"
    if "title" in lowered or "name" in lowered or "heading" in lowered or "label" in lowered:
        return _title(rng)
    if "description" in lowered or "body" in lowered or "text" in lowered or "summary" in lowered:
        return plausible_text(rng, sentences=2)
    return _sentence(rng, 3, 8)


def _match_pattern(pattern: str, text: str, schema: dict[str, Any], rng: random.Random) -> str:
    """A string for a `pattern` field: the usual text if it matches, else common shapes."""
    try:
        regex = re.compile(pattern)
    except re.error:
        return text
    word = rng.choice(_WORDS)
    candidates = [
        text,
        _color(rng),
        f"{word}-{rng.choice(_NOUNS)}",
        word,
        word.upper(),
        str(rng.randrange(1, 1000)),
        f"{word}/{rng.choice(_NOUNS)}",
        f"/{word}",
        f"{word}.html",
    ]
    for candidate in candidates:
        fitted = _fit_length(candidate, schema, rng)
        if regex.search(fitted):
            return fitted
    return text


def _fit_length(text: str, schema: dict[str, Any], rng: random.Random) -> str:
    low = int(schema.get("minLength", 0))
    high = schema.get("maxLength")
    while len(text) < low:
        text = f"{text} {rng.choice(_WORDS)}".strip()
    if high is not None and len(text) > int(high):
        text = text[: int(high)]
    return text


def _number(schema: dict[str, Any], rng: random.Random, integer: bool) -> float | int:
    low = schema.get("minimum", schema.get("exclusiveMinimum"))
    high = schema.get("maximum", schema.get("exclusiveMaximum"))
    lo = float(low) if low is not None else 0.0
    hi = float(high) if high is not None else max(lo, 0.0) + 100.0
    if "exclusiveMinimum" in schema:
        lo += 1 if integer else 1e-6
    if "exclusiveMaximum" in schema:
        hi -= 1 if integer else 1e-6
    if integer:
        ilo, ihi = int(-(-lo // 1)), int(hi // 1)
        return rng.randint(ilo, max(ilo, ihi))
    return round(rng.uniform(lo, hi), 3)


def synthesize(
    schema: dict[str, Any],
    rng: random.Random,
    *,
    root: dict[str, Any] | None = None,
    name: str = "",
    depth: int = 0,
) -> Any:
    """A value valid for `schema` (a JSON schema dict), drawn from `rng` only."""
    root = schema if root is None else root
    if "$ref" in schema:
        ref = str(schema["$ref"])
        target: Any = root
        for part in ref.removeprefix("#/").split("/"):
            if part:
                target = target[part]
        merged = {**target, **{k: v for k, v in schema.items() if k != "$ref"}}
        return synthesize(merged, rng, root=root, name=name, depth=depth)
    if "const" in schema:
        return schema["const"]
    if "enum" in schema:
        return rng.choice(list(schema["enum"]))
    if "default" in schema and depth >= _MAX_DEPTH:
        return schema["default"]
    for combinator in ("anyOf", "oneOf"):
        if combinator in schema:
            options = [o for o in schema[combinator] if o.get("type") != "null"]
            if not options:
                return None
            return synthesize(options[0], rng, root=root, name=name, depth=depth)
    if "allOf" in schema:
        merged = {}
        for part in schema["allOf"]:
            merged.update(part)
        return synthesize(merged, rng, root=root, name=name, depth=depth)
    kind = schema.get("type")
    if isinstance(kind, list):
        non_null = [k for k in kind if k != "null"]
        kind = non_null[0] if non_null else "null"
    if kind is None:
        kind = "object" if "properties" in schema else "string"
    if kind == "object":
        props: dict[str, Any] = schema.get("properties", {})
        required = set(schema.get("required", props.keys()))
        result: dict[str, Any] = {}
        for key, sub in props.items():
            if key in required or depth < 2:
                result[key] = synthesize(sub, rng, root=root, name=key, depth=depth + 1)
        extra = schema.get("additionalProperties")
        if not props and isinstance(extra, dict) and depth < _MAX_DEPTH:
            for _ in range(max(1, int(schema.get("minProperties", 2)))):
                result[rng.choice(_WORDS)] = synthesize(
                    extra, rng, root=root, name=name, depth=depth + 1
                )
        return result
    if kind == "array":
        items: dict[str, Any] = schema.get("items", {})
        low = int(schema.get("minItems", 0))
        high = int(schema.get("maxItems", max(low, 3)))
        count = (
            low
            if depth >= _MAX_DEPTH
            else rng.randint(max(low, min(2, high)), max(low, min(high, 4)))
        )
        singular = name[:-1] if name.endswith("s") else name
        values = [
            synthesize(items, rng, root=root, name=singular, depth=depth + 1) for _ in range(count)
        ]
        if schema.get("uniqueItems"):
            unique: list[Any] = []
            for value in values:
                if value not in unique:
                    unique.append(value)
            values = unique
        return values
    if kind == "string":
        text = _fit_length(_string_for(name, schema, rng), schema, rng)
        pattern = schema.get("pattern")
        return text if pattern is None else _match_pattern(str(pattern), text, schema, rng)
    if kind == "integer":
        return _number(schema, rng, integer=True)
    if kind == "number":
        return _number(schema, rng, integer=False)
    if kind == "boolean":
        return rng.random() < 0.5
    return None
