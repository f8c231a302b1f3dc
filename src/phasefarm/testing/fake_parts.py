"""The fake server's own small parts: its rate bucket, token count, randomness, prose, pictures.

A test double must not share code with what it checks (the limiter, the token estimates, the
offline provider's answers), or a bug in one would be hidden by the same bug in the other. These
are deliberately plain and separate.
"""

from __future__ import annotations

import hashlib
import io
import json
import random
import re
from typing import Any

from PIL import Image, ImageDraw

__all__ = ["Bucket", "count_tokens", "fake_png", "prompt_tokens", "request_random", "sentence"]


class Bucket:
    """`rate` units per second up to `capacity`; a request larger than the capacity is
    admitted when the bucket is full (leaving it in debt), as servers with big prompts do."""

    def __init__(self, rate: float, capacity: float, now: float) -> None:
        self.rate, self.capacity, self.level, self.at = rate, capacity, capacity, now

    def _fill(self, now: float) -> None:
        self.level = min(self.capacity, self.level + max(0.0, now - self.at) * self.rate)
        self.at = max(self.at, now)

    def admits(self, amount: float, now: float) -> bool:
        self._fill(now)
        return self.level >= min(amount, self.capacity)

    def take(self, amount: float, now: float) -> None:
        self._fill(now)
        self.level -= amount

    def wait(self, amount: float, now: float) -> float:
        """Seconds until `admits(amount)`."""
        self._fill(now)
        return max(0.0, (min(amount, self.capacity) - self.level) / self.rate)


def count_tokens(text: str) -> int:
    """The server's count: one token per four characters, rounded up."""
    return (len(text) + 3) // 4


def prompt_tokens(messages: list[dict[str, Any]]) -> int:
    return 3 + sum(4 + count_tokens(str(m.get("content", ""))) for m in messages)


def request_random(seed: int, model: str, messages: list[dict[str, Any]]) -> random.Random:
    """The same request to the same server seed gets the same answer."""
    text = json.dumps([seed, model, messages], sort_keys=True, ensure_ascii=False)
    return random.Random(hashlib.sha256(text.encode()).digest())


_PROSE = (
    "fresh bread every morning", "a quiet room by the window", "people who know your name",
    "honest prices", "work done by hand", "a short walk from the station", "open late on "
    "Fridays", "coffee from a small roaster", "care in every detail", "a warm welcome",
)  # fmt: skip


def sentence(rng: random.Random, count: int = 2) -> str:
    parts = [rng.choice(_PROSE) for _ in range(count)]
    return " ".join(p[:1].upper() + p[1:] + "." for p in parts)


def fake_png(prompt: str, size: str) -> bytes:
    """A PNG of `size` ("WxH", at most 4096 a side) in the first #rrggbb colour of the prompt,
    with a band in the second."""
    match = re.fullmatch(r"(\d+)x(\d+)", size.strip())
    if not match or not all(1 <= int(n) <= 4096 for n in match.groups()):
        raise ValueError(f"invalid size {size!r}")
    width, height = int(match.group(1)), int(match.group(2))
    colours = [tuple(int(c[i : i + 2], 16) for i in (0, 2, 4)) for c in re.findall(
        r"#([0-9a-fA-F]{6})", prompt)] or [(120, 140, 160)]  # fmt: skip
    image = Image.new("RGB", (width, height), colours[0])
    band = colours[1] if len(colours) > 1 else (240, 240, 240)
    ImageDraw.Draw(image).rectangle([0, height * 2 // 3, width, height], fill=band)
    out = io.BytesIO()
    image.save(out, format="PNG", compress_level=1)
    return out.getvalue()
