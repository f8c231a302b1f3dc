"""Deterministic offline answers for every website task, specific to the brief.

Each responder reads only the prompt it is given (the inputs JSON made by `prompts.py`) and the
request's seeded rng, so the same brief and seed give the same site, and two briefs give two
different sites: the brand, place, trade and keywords come from the brief's own words, the
palette and layout choices from the rng.
"""

from __future__ import annotations

import colorsys
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from phasefarm.llm import OfflineRequest
from phasefarm.pipelines.website.profile import SECTIONS_PER_PAGE, WebsiteSettings
from phasefarm.pipelines.website.prompts import read_inputs
from phasefarm.pipelines.website.schemas import slugify

__all__ = ["BriefFacts", "brief_facts", "responders"]

Responder = Callable[[OfflineRequest], Any]

_STOP_WORDS = (
    "a an the and or but for with from into onto of in on at to by our your their my we you "
    "they it its is are was be been being that this these those who which what when where "
    "how small big new old very just also more most site website web page pages want wants "
    "need needs build make create please like about using based called named local best "
    "great modern"
)
_STOP = frozenset(_STOP_WORDS.split())
_TRADES = (
    "bakery", "cafe", "coffee", "roastery", "restaurant", "bistro", "brewery", "winery",
    "studio", "gallery", "clinic", "dentist", "physio", "gym", "yoga", "salon", "barber",
    "agency", "consultancy", "firm", "school", "academy", "shop", "store", "bookshop",
    "bookstore", "florist", "hotel", "guesthouse", "architect", "architects", "photographer",
    "plumber", "carpenter", "workshop", "library", "market", "farm", "nursery", "garage",
    "startup", "app", "museum", "theatre", "band", "festival", "charity", "practice",
)  # fmt: skip
_EXTRA_PAGES = (
    ("about", "About", "story"), ("services", "Services", "services"),
    ("gallery", "Gallery", "gallery"), ("team", "Team", "team"), ("faq", "FAQ", "faq"),
    ("pricing", "Pricing", "stats"), ("testimonials", "Reviews", "testimonials"),
    ("process", "Process", "features"), ("journal", "Journal", "story"),
    ("events", "Events", "features"), ("visit", "Visit", "contact"),
    ("careers", "Careers", "team"), ("partners", "Partners", "testimonials"),
    ("community", "Community", "story"), ("press", "Press", "testimonials"),
    ("resources", "Resources", "faq"), ("sustainability", "Sustainability", "stats"),
    ("locations", "Locations", "contact"),
)  # fmt: skip
_PURPOSES = {
    "about": "The story, the values and the people behind {brand}",
    "services": "Everything {brand} offers, and how to order or book it",
    "gallery": "A look at the work, the place and the details at {brand}",
    "team": "The people who make {brand} what it is",
    "faq": "Straight answers to what people ask {brand} before they come",
    "pricing": "What things cost at {brand}, with nothing hidden",
    "testimonials": "What customers say about {brand}",
    "process": "How {brand} works, step by step",
    "journal": "News, notes and seasonal stories from {brand}",
    "events": "Workshops, tastings and dates to remember at {brand}",
}
_MOODS = ("warm", "calm", "bold", "honest", "crafted", "bright", "quiet", "confident", "fresh")
_ITEM_KINDS = {"features", "services", "testimonials", "faq", "stats", "team", "gallery"}


_NAMED = re.compile(
    r"(?:called|named)\s+[\"']?([A-Z][\w&' -]{1,40}?)[\"']?(?=[,.;]|$|\s(?:in|for|that|with)\b)"
)


@dataclass(frozen=True)
class BriefFacts:
    """What a brief says, as far as simple reading can tell."""

    brand: str
    trade: str
    place: str | None
    keywords: tuple[str, ...]


def _title(words: str) -> str:
    return " ".join(w[:1].upper() + w[1:] for w in words.split())


def brief_facts(brief: str) -> BriefFacts:
    text = " ".join(brief.split())
    words = re.findall(r"[A-Za-z][A-Za-z'-]+", text)
    lowered = [w.lower() for w in words]
    trade = next((w for w in lowered if w in _TRADES), "")
    keywords = tuple(dict.fromkeys(w for w in lowered if len(w) > 3 and w not in _STOP))
    if not trade:
        trade = keywords[0] if keywords else "studio"
    place_match = re.search(r"\b(?:in|from|near)\s+([A-Z][a-zA-Z]+(?:\s[A-Z][a-zA-Z]+)?)", text)
    place = place_match.group(1) if place_match else None
    named = _NAMED.search(text)
    quoted = re.search(r"[\"“]([^\"”]{2,40})[\"”]", text)
    if named:
        brand = named.group(1).strip()
    elif quoted:
        brand = quoted.group(1).strip()
    elif place:
        brand = f"{place} {_title(trade)}"
    else:
        others = [k for k in keywords if k != trade]
        brand = _title(f"{others[0]} {trade}") if others else _title(trade)
    return BriefFacts(brand=brand, trade=trade, place=place, keywords=keywords[:8])


def _hex(h: float, lightness: float, saturation: float) -> str:
    r, g, b = colorsys.hls_to_rgb(h % 1.0, lightness, saturation)
    return f"#{round(r * 255):02x}{round(g * 255):02x}{round(b * 255):02x}"


def _facts(inputs: dict[str, Any]) -> BriefFacts:
    return brief_facts(str(inputs.get("brief", "")))


def _sentence_case(text: str) -> str:
    return text[:1].upper() + text[1:]


def _lower_first(text: str) -> str:
    return text[:1].lower() + text[1:]


def _design_strategy(req: OfflineRequest) -> dict[str, Any]:
    f = _facts(read_inputs(req.text))
    where = f" in {f.place}" if f.place else ""
    audience = req.rng.choice(
        ["Neighbours and first-time visitors", "Busy professionals", "Families and regulars"]
    )
    return {
        "audience": f"{audience}{where} looking for a {f.trade} they can trust",
        "goals": [
            f"Show what makes {f.brand} different within seconds",
            "Turn visits into enquiries and bookings",
            f"Rank for {', '.join(f.keywords[:3]) or f.trade} searches{where}",
        ],
        "tone": req.rng.choice(["Warm and direct", "Confident and plain", "Friendly and precise"]),
        "positioning": f"The {f.trade}{where} that treats every detail as the point",
        "primary_action": req.rng.choice(["Get in touch", "Book a visit", "Plan your order"]),
    }


def _design_context(req: OfflineRequest) -> dict[str, Any]:
    f = _facts(read_inputs(req.text))
    mood = req.rng.sample(_MOODS, 3)
    scene = ", ".join(f.keywords[:3]) or f.trade
    return {
        "brand_name": f.brand,
        "industry": _title(f.trade),
        "location": f.place,
        "mood": mood,
        "imagery": f"Natural-light photographs of {scene}, {mood[0]} and uncluttered",
    }


def _section_plan(req: OfflineRequest) -> dict[str, Any]:
    f = _facts(read_inputs(req.text))
    optional = ["features", "story", "services", "testimonials", "gallery", "faq", "stats", "team"]
    kinds = ["hero", *sorted(req.rng.sample(optional, 5), key=optional.index), "cta", "contact"]
    purposes = {
        "hero": f"Say in one line what {f.brand} offers and invite the first step",
        "features": "Three concrete reasons to choose us",
        "story": "Where we come from and why we care",
        "services": "What we offer, each with one clear sentence",
        "testimonials": "Words from real customers",
        "gallery": "Pictures of the work itself",
        "faq": "Answer the questions people ask before they come",
        "stats": "A few numbers that prove the point",
        "team": "The people behind the work",
        "cta": "One clear next step",
        "contact": "How and where to reach us",
    }
    return {"sections": [{"kind": k, "purpose": purposes[k]} for k in kinds]}


def _layout(req: OfflineRequest) -> dict[str, Any]:
    inputs = read_inputs(req.text)
    brand = inputs["design_context"]["brand_name"]
    place = inputs["design_context"].get("location")
    rng = req.rng
    return {
        "header": rng.choice(["bar", "centered", "split"]),
        "nav_style": rng.choice(["links", "pills", "underline"]),
        "hero": rng.choice(["split", "centered", "banner"]),
        "content_width_px": rng.choice([960, 1040, 1120, 1200]),
        "grid_columns": rng.choice([2, 3, 3]),
        "footer_columns": [
            {"title": "Visit", "lines": [place or "By appointment", "Open Tuesday to Sunday"]},
            {"title": "Contact", "lines": [f"hello@{slugify(brand)}.example", "+1 555 0100"]},
        ],
    }


def _style_system(req: OfflineRequest) -> dict[str, Any]:
    rng = req.rng
    hue = rng.random()
    return {
        "palette": {
            "primary_color": _hex(hue, 0.34, 0.55),
            "secondary_color": _hex(hue + 0.08, 0.52, 0.45),
            "accent_color": _hex(hue + 0.5, 0.55, 0.70),
            "background_color": _hex(hue, 0.98, 0.30),
            "surface_color": _hex(hue, 0.93, 0.35),
            "text_color": _hex(hue, 0.13, 0.25),
            "muted_color": _hex(hue, 0.40, 0.12),
        },
        "heading_font": rng.choice(["serif", "geometric", "slab", "humanist"]),
        "body_font": rng.choice(["system", "humanist"]),
        "base_size_px": rng.choice([16, 17, 18]),
        "scale_ratio": rng.choice([1.2, 1.25, 1.333]),
        "radius_px": rng.choice([0, 4, 8, 14]),
        "spacing_px": rng.choice([8, 10, 12]),
    }


def _page_plan(req: OfflineRequest) -> dict[str, Any]:
    inputs = read_inputs(req.text)
    count = int(inputs["pages"])
    kinds = [s["kind"] for s in inputs["section_plan"]["sections"]]
    brand = inputs["design_context"]["brand_name"]

    def pick(*preferred: str) -> list[str]:
        chosen: list[str] = []
        for kind in (*preferred, *kinds):
            if kind in kinds and kind not in chosen:
                chosen.append(kind)
            if len(chosen) == SECTIONS_PER_PAGE:
                break
        return chosen

    pages = [
        {
            "slug": "index",
            "title": brand,
            "nav_label": "Home",
            "purpose": f"What {brand} makes, why people come back, and how to visit",
            "sections": pick("hero", "features", "testimonials", "services", "cta"),
        }
    ]
    extra = list(_EXTRA_PAGES)
    if count >= 2:
        middle = extra[: count - 2]
        for slug, title, kind in middle:
            pages.append(
                {
                    "slug": slug,
                    "title": title,
                    "nav_label": title,
                    "purpose": _PURPOSES.get(slug, "{title} at {brand}").format(
                        title=title, brand=brand
                    ),
                    "sections": pick("hero", kind, "cta"),
                }
            )
        pages.append(
            {
                "slug": "contact",
                "title": "Contact",
                "nav_label": "Contact",
                "purpose": f"Opening hours, address and the quickest way to reach {brand}",
                "sections": pick("hero", "contact", "faq"),
            }
        )
    return {"pages": pages[:count]}


def _image_plan(req: OfflineRequest) -> dict[str, Any]:
    inputs = read_inputs(req.text)
    count = int(inputs["images"])
    pages = inputs["page_plan"]["pages"]
    context = inputs["design_context"]
    f = _facts(inputs)
    subjects = [*f.keywords, f.trade, "workspace", "detail", "people at work", "storefront"]
    images = []
    for i in range(count):
        page = pages[i % len(pages)]
        first_on_page = i < len(pages)
        section = page["sections"][0] if first_on_page else page["sections"][-1 if i % 2 else 1]
        subject = subjects[i % len(subjects)]
        aspect = "landscape" if first_on_page else req.rng.choice(["landscape", "square"])
        images.append(
            {
                "page": page["slug"],
                "section": section,
                "subject": _sentence_case(subject),
                "prompt": f"{context['imagery']}; subject: {subject}; for the {page['title']} "
                f"page of {context['brand_name']}",
                "alt": f"{_sentence_case(subject)} at {context['brand_name']}"
                + (f", {context['location']}" if context.get("location") else ""),
                "aspect": aspect,
            }
        )
    return {"images": images}


def _seo_strategy(req: OfflineRequest) -> dict[str, Any]:
    inputs = read_inputs(req.text)
    f = _facts(inputs)
    place = f" {f.place.lower()}" if f.place else ""
    keywords = [f"{f.trade}{place}", *f.keywords[:5]]
    return {
        "site_name": f.brand,
        "site_url": f"https://{slugify(f.brand)}.example",
        "primary_keywords": list(dict.fromkeys(keywords)),
        "pages": [
            {
                "page": p["slug"],
                "focus_keyword": f"{f.trade}{place}"
                if p["slug"] == "index"
                else f"{f.trade} {p['nav_label'].lower()}{place}",
                "intent": f"People looking for {p['purpose'][:1].lower()}{p['purpose'][1:]}",
            }
            for p in inputs["page_plan"]["pages"]
        ],
    }


def _copywriting(req: OfflineRequest) -> dict[str, Any]:
    inputs = read_inputs(req.text)
    f = _facts(inputs)
    strategy = inputs["design_strategy"]
    where = f" in {f.place}" if f.place else ""
    place_words = set((f.place or "").lower().split()) | set(f.brand.lower().split())
    return {
        "voice": f"{strategy['tone']}; short sentences, concrete nouns, no jargon",
        "tagline": req.rng.choice(
            [f"Your {f.trade}{where}, done properly", f"Made with care{where}", "Worth the visit"]
        ),
        "headline": f"{f.brand}: {_lower_first(strategy['positioning'])}",
        "key_messages": list(strategy["goals"])[:3],
        "cta_label": strategy["primary_action"],
        "vocabulary": [k for k in f.keywords if k not in place_words][:6] or [f.trade],
    }


_ITEM_TITLES = {
    "features": ["Made here", "Honest prices", "Personal service", "Every day", "Local first"],
    "services": ["Consultation", "Custom orders", "Workshops", "Delivery", "Gift cards"],
    "testimonials": ["Maria, regular", "Tom, first visit", "Ana, neighbour", "Joe, client"],
    "faq": ["Do I need to book?", "Can I order ahead?", "Is there parking?", "Do you cater?"],
    "stats": ["Years open", "Happy customers", "Local suppliers", "Five-star reviews"],
    "team": ["Founder", "Head of craft", "Front of house", "Apprentice"],
    "gallery": ["The space", "The work", "The details", "The people"],
}


_ITEM_TEXTS: dict[str, tuple[str, ...]] = {
    "features": (
        "{Word}, made here every morning by people who care how it turns out.",
        "Fair prices for honest {word}: no shortcuts, no surprises.",
        "Small batches of {word}, so what you get is always fresh.",
    ),
    "services": (
        "Tell us what you need and we plan the {word} with you, start to finish.",
        "Order ahead and collect when it suits you; we keep your {word} ready.",
        "Hands-on sessions where you learn the {word} the way we do it.",
    ),
    "testimonials": (
        "“The {word} at {brand} is the reason we keep coming back.”",
        "“Friendly, careful, and the best {trade} we have found in years.”",
        "“We came for the {word} and stayed for the people.”",
    ),
    "faq": (
        "Yes. Ask us about {word} and we will plan it with you.",
        "Most days, yes; for larger orders give us two days' notice.",
        "Write to us or call: we answer within a working day.",
    ),
    "stats": (
        "{number} and counting, all {word}.",
        "{number} regulars who know us by name.",
        "{number} local suppliers we buy from directly.",
    ),
    "team": (
        "Started {brand} with one idea: do the {word} properly.",
        "Looks after every detail of the {word}, every day.",
        "The first face you see, and the one who remembers your order.",
    ),
    "gallery": (
        "The {word}, up close.",
        "Where the work happens, early in the morning.",
        "Small details that make {brand} what it is.",
    ),
}


def _section_copy(req: OfflineRequest) -> dict[str, Any]:
    inputs = read_inputs(req.text)
    ref = inputs["section"]
    page = inputs["page"]
    copy = inputs["copywriting"]
    f = _facts(inputs)
    kind = ref["kind"]
    rng = req.rng
    words = copy["vocabulary"] or [f.trade]
    items: list[dict[str, str]] = []
    if kind in _ITEM_KINDS:
        titles = _ITEM_TITLES[kind]
        for n, title in enumerate(rng.sample(titles, min(3, len(titles)))):
            word = words[n % len(words)]
            text = rng.choice(_ITEM_TEXTS[kind]).format(
                word=word,
                Word=_sentence_case(word),
                brand=f.brand,
                trade=f.trade,
                number=rng.randint(3, 40) * (10 if n else 1),
            )
            items.append({"title": title, "text": text})
    heading = {
        "hero": copy["headline"] if page["slug"] == "index" else page["title"],
        "cta": copy["tagline"],
        "contact": f"Visit {f.brand}",
    }.get(kind, f"{_sentence_case(kind)} at {f.brand}")
    messages = copy["key_messages"]
    intro = f"{inputs['purpose']}. {messages[ref['position'] % len(messages)]}."
    return {
        "page": ref["page"],
        "kind": kind,
        "position": ref["position"],
        "heading": heading,
        "intro": intro,
        "items": items,
        "cta_label": copy["cta_label"] if kind in {"hero", "cta", "contact"} else None,
    }


def _page_seo(req: OfflineRequest) -> dict[str, Any]:
    inputs = read_inputs(req.text)
    page = inputs["page"]
    seo = inputs["seo_strategy"]
    focus = next((p for p in seo["pages"] if p["page"] == page["slug"]), None)
    keyword = focus["focus_keyword"] if focus else seo["primary_keywords"][0]
    title = seo["site_name"] if page["slug"] == "index" else f"{page['title']} | {seo['site_name']}"
    f = _facts(inputs)
    where = f" in {f.place}" if f.place else ""
    description = f"{page['purpose']}. {seo['site_name']}, {f.trade}{where}."
    return {
        "page": page["slug"],
        "title": title,
        "description": description,
        "og_title": title,
        "og_description": description,
        "keywords": list(dict.fromkeys([keyword, *seo["primary_keywords"][:4]])),
    }


def _stylesheet(req: OfflineRequest) -> dict[str, Any]:
    rng = req.rng
    return {
        "button": rng.choice(["pill", "rounded", "square"]),
        "card": rng.choice(["flat", "shadow", "outline"]),
        "hero_background": rng.choice(["gradient", "solid", "tint"]),
        "link_underline": rng.random() < 0.5,
        "breakpoint_px": rng.choice([640, 720, 768]),
        "section_spacing_px": rng.choice([48, 64, 80]),
    }


def _site_chrome(req: OfflineRequest) -> dict[str, Any]:
    inputs = read_inputs(req.text)
    brand = inputs["design_context"]["brand_name"]
    return {
        "brand": brand,
        "tagline": inputs["copywriting"]["tagline"],
        "nav": [{"page": p["slug"], "label": p["nav_label"]} for p in inputs["page_plan"]["pages"]],
        "footer_columns": inputs["layout"]["footer_columns"],
        "footer_note": f"© {brand}. Made with care.",
    }


def _page_code(req: OfflineRequest) -> dict[str, Any]:
    inputs = read_inputs(req.text)
    page = inputs["page"]
    layout = inputs["layout"]
    images = inputs["images"]  # [{"index": i, "section": kind, ...}] for this page
    blocks = []
    for copy in inputs["sections"]:
        kind = copy["kind"]
        mine = [img["index"] for img in images if img["section"] == kind]
        if kind == "hero":
            variant = {"split": "split", "centered": "stack", "banner": "banner"}[layout["hero"]]
        elif kind in {"features", "services", "stats", "team", "testimonials", "gallery"}:
            variant = "grid"
        elif mine:
            variant = req.rng.choice(["split", "split-reverse"])
        else:
            variant = "stack"
        emphasis = "inverted" if kind == "cta" else ("tinted" if copy["position"] % 2 else "normal")
        blocks.append(
            {"section": copy["position"], "variant": variant, "images": mine, "emphasis": emphasis}
        )
    return {"page": page["slug"], "blocks": blocks}


def responders(settings: WebsiteSettings) -> dict[str, Responder]:
    """One responder per structured website task (images are drawn by the provider itself)."""
    del settings  # the counts travel in the prompts, as they do for a real model
    return {
        "design_strategy": _design_strategy,
        "design_context": _design_context,
        "section_plan": _section_plan,
        "layout": _layout,
        "style_system": _style_system,
        "page_plan": _page_plan,
        "image_plan": _image_plan,
        "seo_strategy": _seo_strategy,
        "copywriting": _copywriting,
        "section_copy": _section_copy,
        "page_seo": _page_seo,
        "stylesheet": _stylesheet,
        "site_chrome": _site_chrome,
        "page_code": _page_code,
    }
