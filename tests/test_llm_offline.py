"""Offline provider: deterministic, schema-valid, responders, real PNGs, consistent tokens."""

from __future__ import annotations

import asyncio
import io
import random
from enum import StrEnum
from typing import Literal

import pytest
from PIL import Image
from pydantic import BaseModel, Field

from phasefarm.errors import BadOutput, UsageError
from phasefarm.llm import (
    LLM,
    OfflineProvider,
    OfflineRequest,
    build_llm,
    estimate_messages_tokens,
    estimate_tokens,
    palette_from_text,
    synthesize,
)


class Tone(StrEnum):
    calm = "calm"
    bold = "bold"


class Section(BaseModel):
    title: str = Field(min_length=3, max_length=40)
    body: str
    order: int = Field(ge=1, le=9)


class Palette(BaseModel):
    primary_color: str
    accent_color: str


class Page(BaseModel):
    slug: str
    tone: Tone
    kind: Literal["home", "about"]
    sections: list[Section] = Field(min_length=2, max_length=5)
    palette: Palette
    subtitle: str | None = None
    weight: float = Field(gt=0, lt=1)
    tags: dict[str, int] = {}
    published: bool


MESSAGES = [
    {"role": "system", "content": "You design websites."},
    {"role": "user", "content": "A page for a bakery in Lyon."},
]


def run(coro):  # type: ignore[no-untyped-def]
    return asyncio.run(coro)


def test_generic_structured_answer_is_schema_valid_and_deterministic() -> None:
    llm = build_llm("offline", time_scale=0, seed=7)
    first = run(llm.structured(MESSAGES, Page, task="page_plan"))
    again = run(
        build_llm("offline", time_scale=0, seed=7).structured(MESSAGES, Page, task="page_plan")
    )
    assert isinstance(first, Page)
    assert first == again
    assert 2 <= len(first.sections) <= 5
    other_seed = run(
        build_llm("offline", time_scale=0, seed=8).structured(MESSAGES, Page, task="page_plan")
    )
    other_task = run(llm.structured(MESSAGES, Page, task="other_task"))
    assert other_seed != first
    assert other_task != first


def test_synthesize_is_valid_for_many_seeds() -> None:
    schema = Page.model_json_schema()
    for seed in range(200):
        value = synthesize(schema, random.Random(seed))
        Page.model_validate(value)  # raises if invalid


def test_pattern_constrained_strings_are_valid() -> None:
    class Theme(BaseModel):
        primary: str = Field(pattern=r"^#[0-9a-fA-F]{6}$")
        slug: str = Field(pattern=r"^[a-z0-9-]+$")
        code: str = Field(pattern=r"^[0-9]+$")

    for seed in range(50):
        Theme.model_validate(synthesize(Theme.model_json_schema(), random.Random(seed)))


def test_colour_fields_get_hex_codes() -> None:
    page = run(build_llm("offline", time_scale=0).structured(MESSAGES, Page, task="t"))
    assert palette_from_text(page.palette.primary_color)
    assert palette_from_text(page.palette.accent_color)


def test_responders_get_a_seeded_request_and_may_return_model_dict_or_text() -> None:
    seen: list[OfflineRequest] = []

    def palette(request: OfflineRequest) -> Palette:
        seen.append(request)
        return Palette(
            primary_color="#112233", accent_color=f"#{request.rng.randrange(1 << 24):06x}"
        )

    def as_dict(request: OfflineRequest) -> dict[str, str]:
        return {"primary_color": "#000000", "accent_color": "#ffffff"}

    def copy(request: OfflineRequest) -> str:
        return f"Copy for: {request.prompt}"

    llm = build_llm(
        "offline",
        time_scale=0,
        seed=3,
        responders={"palette": palette, "palette_dict": as_dict, "copy": copy},
    )
    got = run(llm.structured(MESSAGES, Palette, task="palette"))
    assert got.primary_color == "#112233"
    assert run(llm.structured(MESSAGES, Palette, task="palette_dict")).accent_color == "#ffffff"
    assert run(llm.text(MESSAGES, task="copy")) == "Copy for: A page for a bakery in Lyon."
    # Same seed, task and messages: same rng stream, so the same accent colour.
    run(llm.structured(MESSAGES, Palette, task="palette"))
    assert seen[0].schema is Palette and seen[0].task == "palette" and seen[0].seed == 3
    assert seen[0].messages == MESSAGES
    assert run(llm.structured(MESSAGES, Palette, task="palette")) == got


def test_a_responder_returning_the_wrong_type_is_bad_output() -> None:
    llm = build_llm("offline", time_scale=0, responders={"t": lambda request: 42})
    with pytest.raises(BadOutput, match="returned int"):
        run(llm.text(MESSAGES, task="t"))


def test_invalid_responder_output_is_repaired_then_bad_output() -> None:
    calls: list[int] = []

    def broken(request: OfflineRequest) -> dict[str, str]:
        calls.append(len(request.messages))
        return {"primary_color": "#000000"}  # accent_color missing

    llm = build_llm("offline", time_scale=0, responders={"palette": broken})
    with pytest.raises(BadOutput, match=r"bad output for task 'palette'.*3 times.*accent_color"):
        run(llm.structured(MESSAGES, Palette, task="palette"))
    # Each repair shows the answer and the error: two more messages per attempt.
    assert calls == [2, 4, 6]


def test_text_without_responder_is_plausible_and_html_when_asked() -> None:
    llm = build_llm("offline", time_scale=0)
    prose = run(llm.text(MESSAGES, task="copywriting"))
    assert len(prose.split()) > 10 and prose.endswith(".")
    html = run(llm.text([{"role": "user", "content": "Write the HTML page"}], task="code"))
    assert html.lstrip().startswith("<!doctype html>") and "</html>" in html


def test_images_are_deterministic_pngs_in_the_prompt_palette() -> None:
    llm = build_llm("offline", time_scale=0)
    prompt = "Hero photo of bread, palette #c0392b #f5e6ca #2c3e50"
    png = run(llm.image(prompt, size="320x200"))
    assert png.startswith(b"\x89PNG\r\n\x1a\n")
    assert png == run(build_llm("offline", time_scale=0).image(prompt, size="320x200"))
    assert png != run(llm.image(prompt.replace("bread", "cake"), size="320x200"))
    image = Image.open(io.BytesIO(png))
    assert image.size == (320, 200)
    colours = {colour for _, colour in image.convert("RGB").getcolors(maxcolors=1 << 16) or []}
    # The gradient runs from the first to the second colour; the third is used for shapes.
    assert (0xC0, 0x39, 0x2B) in colours and (0xF5, 0xE6, 0xCA) in colours
    assert (0x2C, 0x3E, 0x50) in colours


def test_the_drawing_thread_is_released_by_aclose_and_made_again_when_needed() -> None:
    provider = OfflineProvider(time_scale=0)
    first = run(provider.image("bread, #c0392b #f5e6ca", size="64x48"))
    run(provider.aclose())
    # a later run (another event loop) draws again, the same picture
    assert run(provider.image("bread, #c0392b #f5e6ca", size="64x48")).png == first.png
    run(provider.aclose())


def test_bad_image_size_is_a_usage_error() -> None:
    with pytest.raises(UsageError, match="1024x768"):
        run(build_llm("offline", time_scale=0).image("x", size="large"))


def test_usage_is_estimated_from_text_length() -> None:
    llm = build_llm("offline", time_scale=0)
    answer = run(llm.text(MESSAGES, task="copy"))
    assert llm.usage.prompt_tokens == estimate_messages_tokens(MESSAGES)
    assert llm.usage.completion_tokens == estimate_tokens(answer)
    assert estimate_tokens("a" * 400) == 100
    assert llm.usage.calls == 1 and llm.usage.cost > 0  # the offline model has a nominal price


def test_latency_profile_and_time_scale() -> None:
    provider = OfflineProvider(latency={"layout": 8.0}, time_scale=0.05)
    assert provider.seconds_for("layout") == 8.0
    assert provider.seconds_for("unknown") == 1.0
    assert provider.seconds_for("image", image=True) == 5.0
    with pytest.raises(UsageError):
        OfflineProvider(time_scale=-1)


def test_offline_calls_sleep_concurrently() -> None:
    """All ten calls have started (their content is made first) before the first one returns."""
    started: list[int] = []

    def copy(request: OfflineRequest) -> str:
        started.append(1)
        return "text"

    llm = build_llm("offline", time_scale=0.02, latency={"copy": 1.0}, responders={"copy": copy})
    seen_at_finish: list[int] = []

    async def one(i: int) -> None:
        await llm.text([{"role": "user", "content": str(i)}], task="copy")
        seen_at_finish.append(len(started))

    async def main() -> None:
        await asyncio.gather(*(one(i) for i in range(10)))

    run(main())
    assert seen_at_finish[0] == 10


def test_llm_is_the_facade_type() -> None:
    assert isinstance(build_llm(), LLM)
    with pytest.raises(UsageError, match="unknown provider"):
        build_llm("nope")
