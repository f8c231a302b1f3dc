"""Deterministic offline answers for every website task, written as a small business's site.

Each responder reads only the prompt it is given (the inputs JSON made by `prompts.py`) and the
request's seeded rng, so the same brief and seed give the same site, and two briefs give two
different sites. What a visitor reads is copy, never an instruction: the brand, place and trade
come from the brief (`brief.py`, Unicode-aware), the services, quotes, questions and numbers
from the vocabulary of its kind of business (`vocabulary.py`); palette and layout from the rng.
This is a deterministic stand-in for a model, not a model: the README says so.
"""

from __future__ import annotations

import colorsys
from collections.abc import Callable
from typing import Any

from phasefarm.llm import OfflineRequest
from phasefarm.pipelines.website.brief import BriefFacts, brief_facts
from phasefarm.pipelines.website.profile import SECTIONS_PER_PAGE, WebsiteSettings
from phasefarm.pipelines.website.prompts import read_inputs
from phasefarm.pipelines.website.schemas import slugify
from phasefarm.pipelines.website.vocabulary import (
    EXTRA_PAGES,
    PAGE_INTROS,
    PAGE_SECTION,
    PAGE_TITLES,
    SECTION_PURPOSES,
    Vocabulary,
    vocabulary,
)

__all__ = ["BriefFacts", "brief_facts", "responders"]

Responder = Callable[[OfflineRequest], Any]


class _Copy:
    """The brief's facts and its kind's vocabulary, with the fill-ins templates use."""

    def __init__(self, brief: str) -> None:
        self.facts = f = brief_facts(brief)
        self.words: Vocabulary = vocabulary(f.kind)
        topic = next((k for k in f.keywords if k != f.trade), f.trade)
        self.fields = {
            "brand": f.brand,
            "place": f" in {f.place}" if f.place else "",
            "placename": f.place or "us",
            "trade": f.trade,
            "topic": topic,
            "customers": self.words.customers,
            "story": "",
        }
        self.fields["story"] = self.fill(self.words.story)

    def fill(self, template: str) -> str:
        return template.format(**self.fields)

    def page_title(self, slug: str) -> str:
        if slug == "services":
            return self.words.services_title
        return PAGE_TITLES.get(slug, slug.replace("-", " ").capitalize())


def _copy(req: OfflineRequest) -> tuple[_Copy, dict[str, Any]]:
    inputs = read_inputs(req.text)
    return _Copy(str(inputs.get("brief", ""))), inputs


def _hex(h: float, lightness: float, saturation: float) -> str:
    r, g, b = colorsys.hls_to_rgb(h % 1.0, lightness, saturation)
    return f"#{round(r * 255):02x}{round(g * 255):02x}{round(b * 255):02x}"


def _email(brand: str) -> str:
    try:
        return f"hello@{slugify(brand)}.example"
    except ValueError:  # a brand with no latin letters
        return "hello@example.com"


def _design_strategy(req: OfflineRequest) -> dict[str, Any]:
    c, _ = _copy(req)
    f = c.facts
    return {
        "audience": c.fill("People{place} looking for a {trade} they can trust"),
        "goals": [
            c.fill("Show what makes {brand} different"),
            c.fill(f"Bring new {c.words.customers} through the door"),
            "Make the next step obvious on every page",
        ],
        "tone": req.rng.choice(["Warm and direct", "Confident and plain", "Friendly and precise"]),
        "positioning": f.description[:200] or c.fill("{brand}, done properly"),
        "primary_action": c.words.action,
    }


def _design_context(req: OfflineRequest) -> dict[str, Any]:
    c, _ = _copy(req)
    f = c.facts
    mood = req.rng.sample(c.words.moods, 3)
    scene = ", ".join(f.keywords[:3]) or f.trade
    return {
        "brand_name": f.brand,
        "industry": f.trade[:1].upper() + f.trade[1:],
        "location": f.place,
        "mood": mood,
        "imagery": f"Natural-light photographs of {scene}, {mood[0]} and uncluttered",
    }


def _section_plan(req: OfflineRequest) -> dict[str, Any]:
    c, _ = _copy(req)
    optional = ["features", "story", "services", "testimonials", "gallery", "faq", "stats", "team"]
    kinds = ["hero", *sorted(req.rng.sample(optional, 5), key=optional.index), "cta", "contact"]
    return {"sections": [{"kind": k, "purpose": c.fill(SECTION_PURPOSES[k])} for k in kinds]}


def _layout(req: OfflineRequest) -> dict[str, Any]:
    c, inputs = _copy(req)
    context = inputs["design_context"]
    rng = req.rng
    return {
        "header": rng.choice(["bar", "centered", "split"]),
        "nav_style": rng.choice(["links", "pills", "underline"]),
        "hero": rng.choice(["split", "centered", "banner"]),
        "content_width_px": rng.choice([960, 1040, 1120, 1200]),
        "grid_columns": rng.choice([2, 3, 3]),
        "footer_columns": [
            {"title": "Visit", "lines": [context.get("location") or "By appointment",
                                         c.words.hours]},
            {"title": "Contact", "lines": [_email(context["brand_name"]), "+1 555 0100"]},
        ],
    }  # fmt: skip


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
    c, inputs = _copy(req)
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

    def page(slug: str, title: str, sections: list[str]) -> dict[str, Any]:
        intro = PAGE_INTROS.get(slug, "{brand}")
        return {
            "slug": slug,
            "title": title,
            "nav_label": title,
            "purpose": c.fill(intro)[:200],
            "sections": sections,
        }

    pages = [page("index", brand, pick("hero", "features", "testimonials", "services", "cta"))]
    pages[0]["nav_label"] = "Home"
    if count >= 2:
        for slug in EXTRA_PAGES[: count - 2]:
            pages.append(page(slug, c.page_title(slug), pick("hero", PAGE_SECTION[slug], "cta")))
        pages.append(page("contact", "Contact", pick("hero", "contact", "faq")))
    return {"pages": pages[:count]}


def _image_plan(req: OfflineRequest) -> dict[str, Any]:
    c, inputs = _copy(req)
    count = int(inputs["images"])
    pages = inputs["page_plan"]["pages"]
    context = inputs["design_context"]
    f = c.facts
    captions = [caption for caption, _ in c.words.gallery]
    subjects = [*f.keywords, f.trade, *captions]
    where = f", {f.place}" if f.place else ""
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
                "subject": subject[:1].upper() + subject[1:],
                "prompt": f"{context['imagery']}; subject: {subject}; for the {page['title']} "
                f"page of {context['brand_name']}",
                "alt": f"{subject[:1].upper()}{subject[1:]} at {context['brand_name']}{where}",
                "aspect": aspect,
            }
        )
    return {"images": images}


def _seo_strategy(req: OfflineRequest) -> dict[str, Any]:
    c, inputs = _copy(req)
    f = c.facts
    place = f" {f.place.lower()}" if f.place else ""
    keywords = [f"{f.trade}{place}", *f.keywords[:5]]
    return {
        "site_name": f.brand,
        "primary_keywords": list(dict.fromkeys(keywords)),
        "pages": [
            {
                "page": p["slug"],
                "focus_keyword": f"{f.trade}{place}"
                if p["slug"] == "index"
                else f"{f.trade} {p['nav_label'].lower()}{place}",
                "intent": p["purpose"],
            }
            for p in inputs["page_plan"]["pages"]
        ],
    }


def _copywriting(req: OfflineRequest) -> dict[str, Any]:
    c, inputs = _copy(req)
    f = c.facts
    strategy = inputs["design_strategy"]
    headline = f.description if 0 < len(f.description) <= 80 else c.fill("{brand}{place}")
    return {
        "voice": f"{strategy['tone']}; short sentences, concrete nouns, no jargon",
        "tagline": c.fill(req.rng.choice(c.words.taglines)),
        "headline": headline,
        "key_messages": [text for _, text in c.words.features[:3]],
        "cta_label": c.words.action,
        "vocabulary": list(f.keywords[:6]) or [f.trade],
    }


def _items(c: _Copy, kind: str, rng: Any) -> list[dict[str, str]]:
    w = c.words
    pairs: tuple[tuple[str, str], ...] = {
        "features": w.features,
        "services": w.services,
        "testimonials": tuple((who, f"“{quote}”") for who, quote in w.testimonials),
        "faq": w.faq,
        "stats": w.stats,
        "team": w.team,
        "gallery": w.gallery,
    }.get(kind, ())
    if not pairs:
        return []
    chosen = rng.sample(pairs, min(len(pairs), 4 if kind in ("services", "faq") else 3))
    return [{"title": c.fill(title), "text": c.fill(text)} for title, text in chosen]


def _section_copy(req: OfflineRequest) -> dict[str, Any]:
    c, inputs = _copy(req)
    ref, page, copy = inputs["section"], inputs["page"], inputs["copywriting"]
    kind = ref["kind"]
    w = c.words
    home = page["slug"] == "index"
    headings = {
        "hero": copy["headline"] if home else page["title"],
        "features": c.fill("Why {customers} choose us"),
        "story": "Our story",
        "services": w.services_title,
        "testimonials": c.fill("What our {customers} say"),
        "gallery": "A look inside",
        "faq": "Questions we hear often",
        "stats": "In numbers",
        "team": "The people behind the work",
        "cta": copy["tagline"],
        "contact": c.fill("Visit {brand}"),
    }
    intros = {
        "hero": (
            c.fill("{story}")
            if copy["headline"] == c.facts.description
            else c.facts.description or c.fill("{story}")
        )
        if home
        else page["purpose"],
        "features": c.fill("Three things our {customers} mention first."),
        "story": c.fill("{story}"),
        "services": c.facts.description or c.fill("What {brand} offers."),
        "testimonials": c.fill("A few words from people who know {brand} well."),
        "gallery": c.fill("The place, the work and the details at {brand}."),
        "faq": "Short answers to what people ask before they come.",
        "stats": c.fill("{brand} at a glance."),
        "team": c.fill("Small team, long experience, and time for every one of our {customers}."),
        "cta": w.invitation,
        "contact": c.fill("Find us{place}. Call or write, and we answer within a working day."),
    }
    return {
        "heading": headings[kind],
        "intro": intros[kind],
        "items": _items(c, kind, req.rng),
        "cta_label": copy["cta_label"] if kind in {"hero", "cta", "contact"} else None,
    }


def _page_seo(req: OfflineRequest) -> dict[str, Any]:
    c, inputs = _copy(req)
    page, seo = inputs["page"], inputs["seo_strategy"]
    focus = next((p for p in seo["pages"] if p["page"] == page["slug"]), None)
    keyword = focus["focus_keyword"] if focus else seo["primary_keywords"][0]
    home = page["slug"] == "index"
    title = seo["site_name"] if home else f"{page['title']} | {seo['site_name']}"
    lead = c.facts.description if home else page["purpose"]
    description = f"{lead} {c.fill('{brand}{place}.')}" if lead else c.fill("{brand}{place}.")
    if len(description) > 160:
        description = lead[:160].rsplit(" ", 1)[0] + "."
    return {
        "title": title[:70].strip(),
        "description": description,
        "og_title": title[:90].strip(),
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
        "footer_note": f"© {brand}",
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
