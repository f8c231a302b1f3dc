"""Answers generated from a JSON schema alone: random, valid, and at the edges.

    value = fuzz(schema, random.Random(seed))

For the fake server's schema-fuzzing mode: a model that honours the schema it is sent and
nothing else. Only the schema is read (never our pydantic models, never the offline provider):
lengths and counts are drawn at their minimum, their maximum or in between; strings mix unusual
Unicode (accents, scripts written right to left, emoji with joiners, combining marks, NUL, BEL
and bidi overrides, markup); optional (nullable) fields are often null; patterns are met by
generating from the regular expression itself.
"""

from __future__ import annotations

import random
import re
from typing import Any

# The standard library's own parse of a pattern (re's parser, as `sre_parse` was before 3.11):
# generating from it needs no regex engine of our own.
sre: Any = getattr(re, "_constants")  # noqa: B009
sre_parse: Any = getattr(re, "_parser")  # noqa: B009

__all__ = ["FuzzError", "from_pattern", "fuzz"]

_WORDS = (
    "Montréal", "Zürich", "東京", "القاهرة", "São Paulo", "Łódź", "İstanbul", "naïve", "café",
    "e\u0301", "👩\u200d💻", "🥐", "Ωmega", "straße", "ﬁne", "x" * 12, "<b>bold</b>",
    "{{ 7*7 }}", '"quoted"', "back\\slash", "tab\there", "new\nline", "\u00a0nbsp",
    "NUL\x00", "bell\x07", "\u202eoverride", "\u2066isolate\u2069", "zero\u200bwidth",
    "bakery", "clinic", "studio", "garden", "river", "morning", "bread", "care",
)  # fmt: skip
_PLAIN = tuple(w for w in _WORDS if w.isascii() and w.isalpha())
_DEFAULT_MAX_ITEMS = 4
_DEFAULT_MAX_LENGTH = 60


class FuzzError(ValueError):
    """The schema asks for something the fuzzer cannot make (or that nothing can meet)."""


def fuzz(schema: dict[str, Any], rng: random.Random, *, edges: bool = True) -> Any:
    """A random value valid for `schema` (draft 2020-12 subset: types, enum, const, anyOf,
    oneOf, $ref/$defs, properties/required, items, min/maxItems, min/maxLength, pattern,
    minimum/maximum and their exclusive forms).

    `edges=False` gives tamer answers (plain words, sizes away from the limits, few nulls):
    the fake server's default, a model on a good day."""
    return _Fuzzer(schema, rng, edges).value(schema, 0)


class _Fuzzer:
    def __init__(self, root: dict[str, Any], rng: random.Random, edges: bool) -> None:
        self.root = root
        self.rng = rng
        self.edges = edges
        self.words = _WORDS if edges else _PLAIN

    def value(self, node: Any, depth: int) -> Any:
        if depth > 40:
            raise FuzzError("the schema nests deeper than 40 levels")
        if not isinstance(node, dict) or not node:
            return self.rng.choice([None, 0, "x", True])
        if "$ref" in node:
            return self.value(self._resolve(str(node["$ref"])), depth + 1)
        if "const" in node:
            return node["const"]
        if "enum" in node:
            return self.rng.choice(list(node["enum"]))
        for key in ("anyOf", "oneOf"):
            if key in node:
                options = list(node[key])
                nullable = [o for o in options if isinstance(o, dict) and o.get("type") == "null"]
                if nullable and self.rng.random() < (0.4 if self.edges else 0.1):
                    return None
                return self.value(self.rng.choice(options), depth + 1)
        if "allOf" in node and len(node["allOf"]) == 1:
            return self.value(node["allOf"][0], depth + 1)
        kind = node.get("type")
        if isinstance(kind, list):
            kind = self.rng.choice(kind)
        if kind is None:
            kind = "object" if "properties" in node else "string"
        maker = getattr(self, f"_{kind}", None)
        if maker is None:
            raise FuzzError(f"unknown type {kind!r}")
        return maker(node, depth)

    def _resolve(self, ref: str) -> Any:
        target: Any = self.root
        for part in ref.removeprefix("#/").split("/"):
            if not isinstance(target, dict) or part not in target:
                raise FuzzError(f"unresolvable $ref {ref!r}")
            target = target[part]
        return target

    def _edge(self, low: int, high: int) -> int:
        """The minimum, the maximum, or anything in between (a third each); tame: in between,
        nearer the minimum."""
        if not self.edges:
            return self.rng.randint(low, max(low, min(high, low + max(3, (high - low) // 4))))
        pick = self.rng.random()
        if pick < 1 / 3:
            return low
        if pick < 2 / 3:
            return high
        return self.rng.randint(low, high)

    def _object(self, node: dict[str, Any], depth: int) -> dict[str, Any]:
        required = set(node.get("required", []))
        out: dict[str, Any] = {}
        for name, sub in node.get("properties", {}).items():
            if name in required or self.rng.random() < 0.5:
                out[name] = self.value(sub, depth + 1)
        return out

    def _array(self, node: dict[str, Any], depth: int) -> list[Any]:
        low = int(node.get("minItems", 0))
        high = int(node.get("maxItems", low + _DEFAULT_MAX_ITEMS))
        if high < low:
            raise FuzzError(f"maxItems {high} < minItems {low}")
        return [self.value(node.get("items", {}), depth + 1) for _ in range(self._edge(low, high))]

    def _boolean(self, node: dict[str, Any], depth: int) -> bool:
        return self.rng.random() < 0.5

    def _null(self, node: dict[str, Any], depth: int) -> None:
        return None

    def _bounds(self, node: dict[str, Any], step: float) -> tuple[float, float]:
        low = float(node.get("minimum", -1000))
        high = float(node.get("maximum", 1000))
        if "exclusiveMinimum" in node:
            low = max(low, float(node["exclusiveMinimum"]) + step)
        if "exclusiveMaximum" in node:
            high = min(high, float(node["exclusiveMaximum"]) - step)
        if high < low:
            raise FuzzError(f"no number between {low} and {high}")
        return low, high

    def _integer(self, node: dict[str, Any], depth: int) -> int:
        low, high = self._bounds(node, 1)
        return self._edge(int(-(-low // 1)), int(high // 1))

    def _number(self, node: dict[str, Any], depth: int) -> float:
        low, high = self._bounds(node, 1e-9)
        pick = self.rng.random()
        return low if pick < 1 / 3 else high if pick < 2 / 3 else self.rng.uniform(low, high)

    def _string(self, node: dict[str, Any], depth: int) -> str:
        low = int(node.get("minLength", 0))
        high = int(node.get("maxLength", max(low, _DEFAULT_MAX_LENGTH)))
        if high < low:
            raise FuzzError(f"maxLength {high} < minLength {low}")
        pattern = node.get("pattern")
        for _ in range(200):
            if pattern is None:
                text = self._text(self._edge(low, high))
            elif pattern.startswith("^") and pattern.endswith("$"):
                text = from_pattern(pattern, self.rng, budget=self._edge(low, high))
            else:  # a pattern found anywhere: one match inside free text
                piece = from_pattern(pattern, self.rng, budget=4)
                filler = self._text(max(0, self._edge(low, high) - len(piece)))
                cut = self.rng.randint(0, len(filler))
                text = filler[:cut] + piece + filler[cut:]
            if low <= len(text) <= high and (pattern is None or re.search(pattern, text)):
                return text
        raise FuzzError(f"no string found for {node!r}")

    def _text(self, length: int) -> str:
        """Exactly `length` code points of words, unusual ones included."""
        parts: list[str] = []
        size = 0
        while size < length:
            word = self.rng.choice(self.words)
            parts.append(word)
            size += len(word) + 1
        return " ".join(parts)[:length]


def from_pattern(pattern: str, rng: random.Random, *, budget: int = 8) -> str:
    """A random string matching `pattern` (literals, classes, groups, alternation and
    repeats); unbounded repeats stay short, about `budget` characters in all."""
    return _emit(sre_parse.parse(pattern), rng, max(1, budget))


def _emit(parsed: Any, rng: random.Random, budget: int) -> str:
    out: list[str] = []
    for op, arg in parsed:
        if op is sre.LITERAL:
            out.append(chr(arg))
        elif op is sre.ANY:
            out.append(rng.choice("abcxyz é東"))
        elif op is sre.IN:
            out.append(_from_class(arg, rng))
        elif op in (sre.MAX_REPEAT, sre.MIN_REPEAT):
            low, high, sub = arg
            if high is sre.MAXREPEAT:
                high = max(low, budget)
            count = rng.randint(low, max(low, min(high, budget)))
            out.extend(_emit(sub, rng, max(1, budget // max(1, count))) for _ in range(count))
        elif op is sre.SUBPATTERN:
            out.append(_emit(arg[-1], rng, budget))
        elif op is sre.BRANCH:
            out.append(_emit(rng.choice(arg[1]), rng, budget))
        elif op is sre.AT:
            continue  # anchors match positions, not characters
        else:
            raise FuzzError(f"pattern {op} is not supported by the fuzzer")
    return "".join(out)


_CATEGORY_SAMPLES = {
    sre.CATEGORY_DIGIT: "0123456789",
    sre.CATEGORY_WORD: "abcXYZ_09é",
    sre.CATEGORY_SPACE: " \t",
    sre.CATEGORY_NOT_SPACE: "abcé東-",
    sre.CATEGORY_NOT_DIGIT: "abc-é",
    sre.CATEGORY_NOT_WORD: " -.!",
}


def _from_class(items: list[Any], rng: random.Random) -> str:
    negated = bool(items) and items[0][0] is sre.NEGATE
    if negated:  # any character none of the items match: draw from a pool until one fits
        pool = "abcXYZ019éßø東京القاهرة😀-_.,!"
        body = [(op, arg) for op, arg in items[1:]]
        candidates = [c for c in pool if not any(_class_has(op, arg, c) for op, arg in body)]
        if not candidates:
            raise FuzzError("a negated class excludes every candidate character")
        return rng.choice(candidates)
    op, arg = rng.choice(items)
    if op is sre.LITERAL:
        return chr(arg)
    if op is sre.RANGE:
        return chr(rng.randint(arg[0], arg[1]))
    if op is sre.CATEGORY:
        return rng.choice(_CATEGORY_SAMPLES.get(arg, "a"))
    raise FuzzError(f"class item {op} is not supported by the fuzzer")


def _class_has(op: Any, arg: Any, char: str) -> bool:
    if op is sre.LITERAL:
        return bool(ord(char) == arg)
    if op is sre.RANGE:
        return bool(arg[0] <= ord(char) <= arg[1])
    if op is sre.CATEGORY:
        return (
            re.fullmatch(
                {
                    sre.CATEGORY_SPACE: r"\s",
                    sre.CATEGORY_DIGIT: r"\d",
                    sre.CATEGORY_WORD: r"\w",
                }.get(arg, r"(?!)"),
                char,
            )
            is not None
        )
    return False
