"""Text and slugs in model answers: the constraints their JSON schema carries, and cleaning.

Every limit a value must meet is a schema keyword (`maxLength`, `pattern`), so an answer that is
valid for the schema sent is accepted; what cleaning does after (controls stripped, white space
collapsed) keeps a schema-valid value valid, and never empties it. Errors quote a short prefix
of a rejected value, never the whole of it.
"""

from __future__ import annotations

import re
import unicodedata
from typing import Annotated

from pydantic import AfterValidator, BeforeValidator, Field

__all__ = [
    "QUOTE_MAX",
    "SLUG_MAX",
    "SLUG_PATTERN",
    "VISIBLE",
    "HexColor",
    "Line",
    "Paragraph",
    "Short",
    "Slug",
    "bounded_text",
    "clean_text",
    "nonempty",
    "quote",
    "slugify",
    "unique_slug",
]

SLUG_MAX = 40
SLUG_PATTERN = r"^[a-z0-9]+(?:-[a-z0-9]+)*$"
QUOTE_MAX = 60  # characters of a rejected value quoted in an error


def quote(value: object, limit: int = QUOTE_MAX) -> str:
    """`repr` of a value's first `limit` characters: errors never carry a whole answer."""
    text = str(value)
    if len(text) <= limit:
        return repr(text)
    return f"{text[:limit]!r}... ({len(text):,} characters)"


def slugify(value: object) -> str:
    """A file-name-safe slug: lowercase ASCII letters, digits and single dashes, at most 40.

    `../x` becomes `x`, `/etc/passwd` becomes `etc-passwd`: no dot, no slash can survive, so a
    slug is always one plain file name inside the site folder.
    """
    text = unicodedata.normalize("NFKD", str(value)[:1000]).encode("ascii", "ignore").decode()
    text = re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")
    text = text[:SLUG_MAX].strip("-")
    if not text:
        raise ValueError(f"{quote(value)} gives an empty slug")
    return text


def unique_slug(slug: str, taken: set[str]) -> str:
    """`slug`, or `slug-2`, `slug-3`... cut so the result stays within `SLUG_MAX` characters."""
    candidate, n = slug, 2
    while candidate in taken:
        suffix = f"-{n}"
        candidate = slug[: SLUG_MAX - len(suffix)].rstrip("-") + suffix
        n += 1
    return candidate


# Characters stripped from copy: C0/C1 controls (NUL, BEL...), bidi overrides and isolates,
# zero-width spaces and the BOM. Joiners (ZWJ, ZWNJ) stay: scripts and emoji need them.
_STRIPPED = re.compile(
    "[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u061c\u200b\u200e\u200f"
    "\u202a-\u202e\u2060\u2066-\u2069\ufeff]"
)
# At least one character that is neither white space nor stripped nor a joiner (also the
# JSON schema pattern: a schema-valid text never becomes empty here).
VISIBLE = (
    "[^\\s\\x00-\\x1f\\x7f-\\x9f\\u061c\\u200b-\\u200f\\u202a-\\u202e\\u2060\\u2066-\\u2069\\ufeff]"
)


def clean_text(value: str) -> str:
    """Control and bidi characters removed, white space collapsed (idempotent)."""
    return " ".join(_STRIPPED.sub("", value.replace("\t", " ").replace("\n", " ")).split())


def nonempty(value: str) -> str:
    if not value:
        raise ValueError("must have a visible character")
    return value


def bounded_text(limit: int) -> object:
    """Free text of at most `limit` characters with a visible one: all said in the schema."""
    return Field(min_length=1, max_length=limit, pattern=VISIBLE)


def _hex(value: str) -> str:
    return value.lower()


# The constraints first, the validator around them: the schema shows the pattern, and a
# lenient `slugify` still runs before it (`../x` is accepted as `x`).
Slug = Annotated[
    str, Field(min_length=1, max_length=SLUG_MAX, pattern=SLUG_PATTERN), BeforeValidator(slugify)
]
Short = Annotated[str, bounded_text(80), AfterValidator(clean_text), AfterValidator(nonempty)]
Line = Annotated[str, bounded_text(200), AfterValidator(clean_text), AfterValidator(nonempty)]
Paragraph = Annotated[str, bounded_text(900), AfterValidator(clean_text), AfterValidator(nonempty)]
HexColor = Annotated[str, Field(pattern=r"^#[0-9a-fA-F]{6}$", max_length=7), AfterValidator(_hex)]
