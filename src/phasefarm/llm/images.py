"""Real PNG images drawn with Pillow, deterministic, in the colours the prompt names.

The website passes its palette as `#rrggbb` codes in the image prompt; the picture is a vertical
gradient between the first two colours with a few shapes in the others, placed by a seeded rng.
"""

from __future__ import annotations

import hashlib
import io
import random
import re

from PIL import Image, ImageDraw, ImageOps, UnidentifiedImageError

from phasefarm.errors import BadOutput, UsageError

__all__ = ["MAX_IMAGE_PIXELS", "checked_png", "draw_png", "palette_from_text", "parse_size"]

MAX_IMAGE_PIXELS = 4096 * 4096  # the largest picture we decode (a PNG bomb is refused first)
_PNG_MAGIC = b"\x89PNG\r\n\x1a\n"

_HEX = re.compile(r"#([0-9a-fA-F]{6})\b")
_MAX_SIDE = 4096


def palette_from_text(text: str) -> list[tuple[int, int, int]]:
    """Every `#rrggbb` code in `text`, in order, without repeats."""
    colours: list[tuple[int, int, int]] = []
    for match in _HEX.finditer(text):
        value = int(match.group(1), 16)
        rgb = ((value >> 16) & 0xFF, (value >> 8) & 0xFF, value & 0xFF)
        if rgb not in colours:
            colours.append(rgb)
    return colours


def parse_size(size: str) -> tuple[int, int]:
    """'1024x768' -> (1024, 768)."""
    match = re.fullmatch(r"\s*(\d+)\s*[xX×]\s*(\d+)\s*", size)
    if not match:
        raise UsageError(f"image size must look like 1024x768, got {size!r}")
    width, height = int(match.group(1)), int(match.group(2))
    if not (1 <= width <= _MAX_SIDE and 1 <= height <= _MAX_SIDE):
        raise UsageError(f"image size {size!r} out of range (1..{_MAX_SIDE} per side)")
    return width, height


def _rng_for(prompt: str, size: str, seed: int) -> random.Random:
    digest = hashlib.sha256(f"{seed}\x00{size}\x00{prompt}".encode()).digest()
    return random.Random(int.from_bytes(digest[:8], "big"))


def draw_png(prompt: str, *, size: str = "1024x768", seed: int = 0) -> bytes:
    """A PNG of `size` for `prompt`; the same arguments always give the same bytes."""
    width, height = parse_size(size)
    rng = _rng_for(prompt, size, seed)
    palette = palette_from_text(prompt)
    while len(palette) < 3:
        palette.append((rng.randrange(256), rng.randrange(256), rng.randrange(256)))
    top, bottom = palette[0], palette[1]
    # the vertical gradient in C (Pillow), not a Python loop per row: drawing runs beside the
    # simulated latency and must stay well under it, even at small time scales
    gradient = Image.linear_gradient("L").resize((width, height))
    image = ImageOps.colorize(gradient, black=top, white=bottom).convert("RGB")
    draw = ImageDraw.Draw(image)
    accents = palette[2:] or palette[:1]
    for i in range(rng.randint(3, 7)):
        colour = accents[i % len(accents)]
        x0, y0 = rng.randrange(width), rng.randrange(height)
        extent = max(2, min(width, height) // rng.randint(3, 8))
        box = [x0 - extent, y0 - extent, x0 + extent, y0 + extent]
        if rng.random() < 0.5:
            draw.ellipse(box, fill=colour)
        else:
            draw.rectangle(box, fill=colour)
    out = io.BytesIO()
    image.save(out, format="PNG", compress_level=1)  # fast: encoding dominated drawing time
    return out.getvalue()


def checked_png(data: bytes, what: str) -> bytes:
    """`data` as PNG bytes, after decoding it fully with a pixel limit: the header's size is
    read first and refused above `MAX_IMAGE_PIXELS` (BadOutput), so a small file that claims
    100000x100000 pixels is never decompressed. Other formats are re-encoded as PNG."""
    try:
        with Image.open(io.BytesIO(data)) as image:
            width, height = image.size
            if width * height > MAX_IMAGE_PIXELS:
                raise BadOutput(
                    f"bad output for {what}: the image claims {width}x{height} pixels, more "
                    f"than the {MAX_IMAGE_PIXELS:,} accepted"
                )
            image.load()
            if data.startswith(_PNG_MAGIC) and image.format == "PNG":
                return data
            out = io.BytesIO()
            image.save(out, format="PNG")
            return out.getvalue()
    except Image.DecompressionBombError:  # Pillow's own, far larger, limit met at open
        raise BadOutput(
            f"bad output for {what}: the image claims more pixels than the "
            f"{MAX_IMAGE_PIXELS:,} accepted"
        ) from None
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError):
        raise BadOutput(f"bad output for {what}: the image is not a readable picture") from None
