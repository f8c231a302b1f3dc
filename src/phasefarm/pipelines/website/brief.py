"""What a brief says, read the simple way: brand, trade, place, kind of business, keywords.

Words are Unicode words (`Montréal`, `Massa Mãe`, `東京` stay whole); the place is a capitalised
name after "in", "from" or "near"; the brand is what follows "called" / "named", a quoted name,
or else made of the place and the trade. The offline responders use this: what they write is
about the brief, in the words of the brief.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

__all__ = ["BriefFacts", "brief_facts", "describe"]

_WORD = r"[^\W\d_](?:[\w'’-]*[^\W_])?"
_WORDS = re.compile(_WORD)
_NAME = rf"{_WORD}(?:[ &]+{_WORD}){{0,3}}"
_NAMED = re.compile(rf"\b(?:called|named)\s+[\"'“‘]?({_NAME})")
_QUOTED = re.compile(r"[\"“‘]([^\"”’]{2,40})[\"”’]")
_PLACE = re.compile(rf"\b(?:in|from|near)\s+({_WORD}(?:\s+{_WORD})?)")
_STOP = frozenset(
    [
        "a",
        "an",
        "the",
        "and",
        "or",
        "but",
        "for",
        "with",
        "from",
        "into",
        "onto",
        "of",
        "in",
        "on",
        "at",
        "to",
        "by",
        "our",
        "your",
        "their",
        "my",
        "we",
        "you",
        "they",
        "it",
        "its",
        "is",
        "are",
        "was",
        "be",
        "been",
        "being",
        "that",
        "this",
        "these",
        "those",
        "who",
        "which",
        "what",
        "when",
        "where",
        "how",
        "small",
        "big",
        "new",
        "old",
        "very",
        "just",
        "also",
        "more",
        "most",
        "site",
        "website",
        "web",
        "page",
        "pages",
        "want",
        "wants",
        "need",
        "needs",
        "build",
        "make",
        "create",
        "please",
        "like",
        "about",
        "using",
        "based",
        "called",
        "named",
        "local",
        "best",
        "great",
        "modern",
        "family",
        "run",
        "offering",
        "offers",
        "open",
    ]
)
# Trade words, by the kind of business whose vocabulary fits them (see vocabulary.py).
TRADES: dict[str, str] = {
    **dict.fromkeys(
        [
            "bakery",
            "bakehouse",
            "patisserie",
            "boulangerie",
            "cafe",
            "café",
            "coffee",
            "roastery",
            "restaurant",
            "bistro",
            "trattoria",
            "pizzeria",
            "brewery",
            "winery",
            "deli",
            "kitchen",
            "catering",
        ],
        "food",
    ),
    **dict.fromkeys(
        [
            "clinic",
            "dental",
            "dentist",
            "dentistry",
            "physio",
            "physiotherapy",
            "doctor",
            "medical",
            "practice",
            "optician",
            "vet",
            "veterinary",
            "therapy",
            "pharmacy",
        ],
        "health",
    ),
    **dict.fromkeys(
        [
            "law",
            "lawyer",
            "lawyers",
            "legal",
            "solicitor",
            "solicitors",
            "accountant",
            "accountants",
            "accounting",
            "consultancy",
            "consulting",
            "agency",
            "architect",
            "architects",
            "firm",
            "notary",
        ],
        "professional",
    ),
    **dict.fromkeys(
        ["gym", "yoga", "pilates", "fitness", "climbing", "dance", "boxing", "crossfit"], "fitness"
    ),
}
_NOT_PLACES = frozenset(["a", "an", "the", "our", "my", "your", "town", "city"])


@dataclass(frozen=True)
class BriefFacts:
    brand: str
    trade: str
    kind: str  # "food" | "health" | "professional" | "fitness" | "generic"
    place: str | None
    keywords: tuple[str, ...]
    description: str  # the brief as one sentence of copy, without "called X"


def _title(words: str) -> str:
    return " ".join(w[:1].upper() + w[1:] for w in words.split())


def _short(name: str, limit: int = 40) -> str:
    """At most `limit` characters, cut between words (never mid-word, never with "…")."""
    words: list[str] = []
    for word in name.split():
        if len(" ".join([*words, word])) > limit:
            break
        words.append(word)
    return " ".join(words) or name[:limit]


def brief_facts(brief: str) -> BriefFacts:
    text = " ".join(brief.split())
    words = _WORDS.findall(text)
    lowered = [w.lower() for w in words]
    trade = next((w for w in lowered if w in TRADES), "")
    kind = TRADES.get(trade, "generic")
    keywords = tuple(dict.fromkeys(w for w in lowered if len(w) > 3 and w not in _STOP))
    place = None
    for match in _PLACE.finditer(text):
        candidate = match.group(1)
        first, *rest = candidate.split()
        if first[:1].isupper() and first.lower() not in _NOT_PLACES:
            place = " ".join([first, *(w for w in rest[:1] if w[:1].isupper())])
            break
    named, quoted = _NAMED.search(text), _QUOTED.search(text)
    brand = named.group(1) if named else quoted.group(1).strip() if quoted else ""
    # Names are not topics: the brand's and the place's words are not keywords.
    own = {w.lower() for w in _WORDS.findall(f"{brand} {place or ''}")}
    keywords = tuple(k for k in keywords if k not in own)
    if not trade:  # an unknown trade: the brief's first words say what it is
        trade = keywords[1] if len(keywords) > 1 else keywords[0] if keywords else "studio"
    if not brand:
        if place:
            brand = f"{place} {_title(trade)}"
        elif len(keywords) > 1:
            brand = _title(f"{keywords[0]} {keywords[1]}")
        else:
            brand = _title(trade)
    return BriefFacts(
        brand=_short(brand),
        trade=trade,
        kind=kind,
        place=None if place is None else _short(place, 30),
        keywords=keywords[:8],
        description=describe(text),
    )


def describe(brief: str) -> str:
    """The brief as a sentence a visitor can read: "called X" dropped, a capital first, a full
    stop last, at most 180 characters (cut between words)."""
    text = re.sub(rf",?\s*\b(?:called|named)\s+[\"'“‘]?{_NAME}[\"'”’]?", "", brief).strip(" ,.")
    text = _short(text, 180) if len(text) > 180 else text
    return (text[:1].upper() + text[1:] + ".") if text else ""
