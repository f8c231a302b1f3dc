"""The checkpoint codec: what goes in comes out, models re-validated, hashes stable."""

from __future__ import annotations

import datetime as dt
import json
import math
import os
import subprocess
import sys
import textwrap
from enum import Enum
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import BaseModel, field_validator

from phasefarm.errors import StoreError
from phasefarm.store import codec
from phasefarm.store.codec import decode, encode, input_hash


class Color(Enum):
    RED = "red"
    BLUE = "blue"


class Image(BaseModel):
    name: str
    png: bytes
    size: tuple[int, int]
    tags: set[str] = set()


class Section(BaseModel):
    title: str
    images: list[Image]
    color: Color = Color.RED
    at: dt.datetime | None = None


class Slug(BaseModel):
    slug: str

    @field_validator("slug")
    @classmethod
    def lower(cls, value: str) -> str:
        return value.lower()


def roundtrip(value):
    text = encode(value)
    json.loads(text)  # always valid JSON text
    return decode(text)


@pytest.mark.parametrize(
    "value",
    [
        None,
        True,
        0,
        -7,
        1.5,
        "héllo ✓",
        [],
        {},
        [1, [2, [3]]],
        {"a": {"b": [1, "x", None]}},
        b"",
        b"\x89PNG\r\n\x1a\n\x00\xff",
        (1, "two", (3.0,)),
        {"pair": (b"\x00", [b"\x01"])},
        {1: "int key", (2, 3): "tuple key"},
        {"__pf__": "a user dict that looks like a tag", "x": 1},
        {"nested": {"__pf__": "bytes", "b64": "not really"}},
        {"s": {3, 1, 2}, "f": frozenset({"a", "b"})},
        1e308,
    ],
)
def test_roundtrip_exact(value):
    back = roundtrip(value)
    assert back == value
    assert type(back) is type(value)


def test_tuple_and_list_stay_distinct():
    back = roundtrip({"t": (1, 2), "l": [1, 2]})
    assert isinstance(back["t"], tuple)
    assert isinstance(back["l"], list)


def test_nan_and_infinity():
    back = roundtrip([math.inf, -math.inf, math.nan])
    assert back[0] == math.inf and back[1] == -math.inf and math.isnan(back[2])
    assert input_hash(math.nan) == input_hash(float("nan"))


def test_pydantic_models_come_back_as_their_class():
    section = Section(
        title="Hero",
        images=[Image(name="a", png=b"\x89PNG\x00", size=(640, 480), tags={"x", "y"})],
        color=Color.BLUE,
        at=dt.datetime(2026, 1, 2, 3, 4, 5, tzinfo=dt.UTC),
    )
    back = roundtrip({"section": section, "list": [section, section]})
    assert back["section"] == section
    assert isinstance(back["section"], Section)
    assert isinstance(back["section"].images[0], Image)
    assert back["section"].images[0].png == b"\x89PNG\x00"
    assert back["section"].color is Color.BLUE
    assert back["section"].at == section.at
    assert back["list"][1] == section


def test_models_are_revalidated_on_decode(monkeypatch):
    text = encode(Slug(slug="Home"))
    # Stored as written (validators already ran on construction)...
    assert json.loads(text)["data"] == {"slug": "home"}
    # ...and validated again when read: tamper with the stored data.
    tampered = text.replace('"home"', '"ABOUT"')
    monkeypatch.setattr(codec, "_seen_models", {})  # force the import path, as in a new process
    back = decode(tampered)
    assert isinstance(back, Slug)
    assert back.slug == "about"


def test_model_that_no_longer_validates_is_a_store_error():
    text = encode(Slug(slug="x")).replace('"slug"', '"renamed"')
    with pytest.raises(StoreError, match="no longer validates"):
        decode(text)


def test_model_that_is_not_importable_is_a_store_error(monkeypatch):
    text = encode(Slug(slug="x")).replace("Slug", "Gone")
    monkeypatch.setattr(codec, "_seen_models", {})
    with pytest.raises(StoreError, match=r"Gone is not importable"):
        decode(text)


def test_local_model_roundtrips_in_the_defining_process():
    class Local(BaseModel):
        n: int

    back = roundtrip(Local(n=3))
    assert isinstance(back, Local) and back.n == 3


def test_unsupported_value_names_where_it_is():
    with pytest.raises(StoreError, match=r"value\['pages'\]\[1\].*object"):
        encode({"pages": [1, object()]})


def test_corrupt_text_is_a_store_error():
    with pytest.raises(StoreError, match="not JSON"):
        decode("{nope")
    with pytest.raises(StoreError, match="unknown tag"):
        decode('{"__pf__": "martian"}')


def test_input_hash_ignores_dict_and_set_order_but_not_values():
    a = {"brief": "x", "layout": {"cols": 2, "rows": 3}, "tags": {"b", "a"}}
    b = {"tags": {"a", "b"}, "layout": {"rows": 3, "cols": 2}, "brief": "x"}
    assert input_hash(a) == input_hash(b)
    assert len(input_hash(a)) == 64
    assert input_hash(a) != input_hash({**a, "brief": "y"})
    assert input_hash([1, 2]) != input_hash((1, 2))
    assert input_hash(b"\x00") != input_hash("\x00")
    assert input_hash(Slug(slug="a")) != input_hash({"slug": "a"})


def test_input_hash_is_the_same_in_another_process(tmp_path: Path):
    """Set order and str hashing change with PYTHONHASHSEED: the hash must not."""
    script = textwrap.dedent(
        """
        from phasefarm.store.codec import input_hash
        value = {"set": {"alpha", "beta", "gamma", "delta"}, "f": frozenset({"x", "y", "z"}),
                 "d": {("k", 1): "v", ("a", 2): "w"}, "b": b"\\x00\\x01", "t": (1.5, None)}
        print(input_hash(value))
        """
    )
    hashes = set()
    for seed in ("1", "2", "3"):
        env = {**os.environ, "PYTHONHASHSEED": seed}
        out = subprocess.run(
            [sys.executable, "-c", script], env=env, capture_output=True, text=True, check=True
        )
        hashes.add(out.stdout.strip())
    assert len(hashes) == 1
    local = {
        "set": {"alpha", "beta", "gamma", "delta"},
        "f": frozenset({"x", "y", "z"}),
        "d": {("k", 1): "v", ("a", 2): "w"},
        "b": b"\x00\x01",
        "t": (1.5, None),
    }
    assert hashes == {input_hash(local)}


json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False)
    | st.text()
    | st.binary(max_size=64),
    lambda children: (
        st.lists(children, max_size=4)
        | st.tuples(children, children)
        | st.dictionaries(st.text(max_size=8), children, max_size=4)
        | st.dictionaries(st.integers(), children, max_size=3)
    ),
    max_leaves=20,
)


@settings(max_examples=150, deadline=None)
@given(json_values)
def test_roundtrip_property(value):
    assert roundtrip(value) == value
    assert input_hash(value) == input_hash(roundtrip(value))
