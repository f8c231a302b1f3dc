"""Phase outputs and run inputs to JSON text and back, and the input hash.

What survives a round trip exactly:
- JSON types (None, bool, int, float, str, list, dict with str keys) as they are;
- `bytes` / `bytearray` (base64), `tuple`, `set` / `frozenset`, dicts with non-str keys;
- pydantic models, tagged with their import path (`module:QualName`) and re-validated on decode,
  so a model comes back as the same class with its validators run again.

Anything else raises `StoreError` naming where in the value it sits: a checkpoint that cannot be
read back must fail when written, not on resume. Inside a pydantic model, values pydantic itself
knows how to serialize (datetime, UUID, Path, Enum...) are stored in pydantic's JSON form and the
model's validation turns them back into the field's type.

A tagged value is a JSON object with the key `"__pf__"`; a plain dict that happens to have that
key is itself wrapped, so no user value can be mistaken for a tag.
"""

from __future__ import annotations

import base64
import hashlib
import importlib
import json
import math
from typing import Any

from pydantic import BaseModel
from pydantic_core import PydanticSerializationError, to_jsonable_python

from phasefarm.errors import CheckpointValueError, StoreError

__all__ = [
    "TAG",
    "decode",
    "dumps_canonical",
    "encode",
    "from_jsonable",
    "input_hash",
    "to_jsonable",
]

TAG = "__pf__"

# Models encoded by this process, by import path: lets classes defined inside a function (tests,
# notebooks) round-trip within the process that defined them. Across processes a model must be
# importable by its path.
_seen_models: dict[str, type[BaseModel]] = {}


def _model_path(cls: type[BaseModel]) -> str:
    return f"{cls.__module__}:{cls.__qualname__}"


def _canonical_text(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def to_jsonable(obj: Any, *, canonical: bool = False) -> Any:
    """`obj` as JSON-able Python data with tags. `canonical` sorts what has no order of its own."""
    try:
        return _to_jsonable(obj, canonical, in_model=False)
    except _Unsupported as exc:
        where = "value" + "".join(reversed(exc.path))
        raise CheckpointValueError(
            f"cannot checkpoint {where}: values of type {exc.type_name} are not supported"
        ) from None


class _Unsupported(Exception):
    """A value the codec cannot write; `path` grows (innermost first) on the way out, so the
    location is only spelled out when it is needed."""

    def __init__(self, type_name: str) -> None:
        self.type_name = type_name
        self.path: list[str] = []


def _to_jsonable(obj: Any, canonical: bool, in_model: bool) -> Any:
    if obj is None or isinstance(obj, bool | str):
        return obj
    if isinstance(obj, int):
        return int(obj)  # IntEnum and friends: the plain number
    if isinstance(obj, float):
        if canonical and not math.isfinite(obj):
            return {TAG: "float", "value": repr(obj)}
        return float(obj)
    if isinstance(obj, bytes | bytearray | memoryview):
        return {TAG: "bytes", "b64": base64.b64encode(bytes(obj)).decode("ascii")}
    if isinstance(obj, BaseModel):
        cls = type(obj)
        path = _model_path(cls)
        _seen_models.setdefault(path, cls)
        data = obj.model_dump(mode="python", round_trip=True)
        try:
            data = _to_jsonable(data, canonical, in_model=True)
        except _Unsupported as exc:
            exc.path.append(f"<{cls.__name__}>")
            raise
        return {TAG: "model", "type": path, "data": data}
    if isinstance(obj, list | tuple):
        items = []
        for i, v in enumerate(obj):
            try:
                items.append(_to_jsonable(v, canonical, in_model))
            except _Unsupported as exc:
                exc.path.append(f"[{i}]")
                raise
        return items if isinstance(obj, list) else {TAG: "tuple", "items": items}
    if isinstance(obj, set | frozenset):
        try:
            items = [_to_jsonable(v, canonical, in_model) for v in obj]
        except _Unsupported as exc:
            exc.path.append("{}")
            raise
        # Set iteration order depends on hash randomization: always sort, or two processes
        # would write (and hash) the same set differently.
        items.sort(key=_canonical_text)
        return {TAG: "frozenset" if isinstance(obj, frozenset) else "set", "items": items}
    if isinstance(obj, dict):
        string_keys = all(isinstance(k, str) for k in obj)
        encoded: dict[str, Any] = {}
        pairs = []
        for k, v in obj.items():
            try:
                value = _to_jsonable(v, canonical, in_model)
                if string_keys:
                    encoded[k] = value
                else:
                    pairs.append([_to_jsonable(k, canonical, in_model), value])
            except _Unsupported as exc:
                exc.path.append(f"[{k!r}]")
                raise
        if not string_keys:
            if canonical:
                pairs.sort(key=lambda pair: _canonical_text(pair[0]))
            return {TAG: "pairs", "items": pairs}
        if canonical:
            encoded = dict(sorted(encoded.items()))
        if TAG in obj:
            return {TAG: "dict", "items": encoded}
        return encoded
    if in_model:
        # datetime, UUID, Decimal, Path, Enum...: pydantic's JSON form; validation restores them.
        try:
            return to_jsonable_python(obj)
        except PydanticSerializationError:
            pass
    raise _Unsupported(type(obj).__qualname__)


# Encoders made once: json.dumps with options builds a new encoder per call, which was most of
# the cost of checkpointing a small output (`phasefarm bench overhead`, store rows). An encoder
# keeps no state between calls.
_ENCODER = json.JSONEncoder(ensure_ascii=False, allow_nan=True)
_CANONICAL_ENCODER = json.JSONEncoder(
    sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
)


def encode(obj: Any) -> str:
    """JSON text for `obj` (see the module docstring for what round-trips)."""
    return _ENCODER.encode(to_jsonable(obj))


def dumps_canonical(obj: Any) -> str:
    """Canonical JSON text: sorted keys and set members, no whitespace, NaN tagged."""
    if type(obj) is str:  # a phase's key, a parameter's name: two per phase record
        return _CANONICAL_ENCODER.encode(obj)
    return _CANONICAL_ENCODER.encode(to_jsonable(obj, canonical=True))


def input_hash(obj: Any) -> str:
    """A stable hash of a phase's inputs: sha256 of their canonical JSON, hex."""
    return hashlib.sha256(dumps_canonical(obj).encode("utf-8")).hexdigest()


def decode(text: str) -> Any:
    """The value `encode` wrote."""
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise StoreError(f"corrupt checkpoint: not JSON ({exc})") from None
    return from_jsonable(data)


def _import_model(path: str) -> type[BaseModel]:
    cls = _seen_models.get(path)
    if cls is not None:
        return cls
    module_name, _, qualname = path.partition(":")
    try:
        target: Any = importlib.import_module(module_name)
        for part in qualname.split("."):
            target = getattr(target, part)
    except (ImportError, AttributeError):
        raise StoreError(
            f"cannot read checkpoint: pydantic model {path} is not importable"
        ) from None
    if not (isinstance(target, type) and issubclass(target, BaseModel)):
        raise StoreError(f"cannot read checkpoint: {path} is not a pydantic model")
    return target


def from_jsonable(data: Any) -> Any:
    """Inverse of `to_jsonable`."""
    if isinstance(data, list):
        return [from_jsonable(v) for v in data]
    if not isinstance(data, dict):
        return data
    tag = data.get(TAG)
    if tag is None:
        return {k: from_jsonable(v) for k, v in data.items()}
    if tag == "bytes":
        return base64.b64decode(data["b64"])
    if tag == "tuple":
        return tuple(from_jsonable(v) for v in data["items"])
    if tag == "set":
        return {from_jsonable(v) for v in data["items"]}
    if tag == "frozenset":
        return frozenset(from_jsonable(v) for v in data["items"])
    if tag == "dict":
        return {k: from_jsonable(v) for k, v in data["items"].items()}
    if tag == "pairs":
        return {from_jsonable(k): from_jsonable(v) for k, v in data["items"]}
    if tag == "float":
        return float(data["value"])
    if tag == "model":
        cls = _import_model(data["type"])
        try:
            return cls.model_validate(from_jsonable(data["data"]))
        except ValueError as exc:  # pydantic.ValidationError is a ValueError
            first = str(exc).splitlines()[0]
            raise StoreError(
                f"cannot read checkpoint: {data['type']} no longer validates: {first}"
            ) from None
    raise StoreError(f"corrupt checkpoint: unknown tag {tag!r}")
