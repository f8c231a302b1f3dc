"""The site's files from the steps' outputs: jinja2 templates with autoescape, no model markup.

`render_site` is a pure function from step outputs to `{relative path: bytes}`; writing them
(inside `--out` only) is `assemble.py`'s job. Every piece of model text reaches a page through
an autoescaped template variable, so `<script>` in a heading is shown as text and `{{ 7*7 }}`
stays those seven characters: templates are ours, values are data.
"""

from __future__ import annotations

import posixpath
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

from phasefarm.pipelines.website.schemas import (
    GeneratedImage,
    Layout,
    PageCode,
    PagePlan,
    PageSeo,
    SectionCopy,
    SeoStrategy,
    SiteChrome,
    Stylesheet,
    StyleSystem,
)

__all__ = ["FONT_STACKS", "SiteParts", "load_templates", "render_site"]

FONT_STACKS: dict[str, str] = {
    "system": 'system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif',
    "humanist": '"Gill Sans", "Trebuchet MS", Calibri, "Segoe UI", sans-serif',
    "geometric": 'Avenir, Montserrat, "Century Gothic", "Segoe UI", sans-serif',
    "serif": 'Georgia, Cambria, "Times New Roman", serif',
    "slab": 'Rockwell, "Roboto Slab", "Courier New", Georgia, serif',
    "mono": 'ui-monospace, Menlo, Consolas, "Liberation Mono", monospace',
}
_BUTTON_RADIUS = {"pill": "999px", "rounded": "var(--radius)", "square": "0"}
_CARD_RULE = {
    "flat": "",
    "shadow": "box-shadow: 0 2px 10px color-mix(in srgb, var(--text) 14%, transparent);",
    "outline": "border: 1px solid color-mix(in srgb, var(--muted) 45%, transparent);",
}
_HERO_BACKGROUND = {
    "gradient": "linear-gradient(135deg, var(--surface), var(--background))",
    "solid": "var(--surface)",
    "tint": "color-mix(in srgb, var(--accent) 12%, var(--background))",
}

STYLESHEET = "assets/style.css"


def _environment() -> Environment:
    return Environment(
        loader=PackageLoader("phasefarm.pipelines.website", "templates"),
        autoescape=select_autoescape(
            enabled_extensions=("html", "xml", "svg"),
            disabled_extensions=("css", "txt"),
            default_for_string=True,
            default=True,
        ),
        undefined=StrictUndefined,
        keep_trailing_newline=True,
        trim_blocks=False,
    )


_ENV = _environment()
TEMPLATES = ("page.html", "style.css", "favicon.svg", "sitemap.xml", "robots.txt")


def load_templates() -> None:
    """Compile the templates now (jinja2 caches them), so the first render does not pay it."""
    for name in TEMPLATES:
        _ENV.get_template(name)


@dataclass(frozen=True)
class SiteParts:
    """Everything the site is made of, as the steps returned it."""

    page_plan: PagePlan
    page_code: Sequence[PageCode]
    section_copy: Sequence[SectionCopy]
    page_seo: Sequence[PageSeo]
    seo_strategy: SeoStrategy
    site_chrome: SiteChrome
    stylesheet: Stylesheet
    style_system: StyleSystem
    layout: Layout
    images: Sequence[GeneratedImage]
    site_url: str  # the origin of canonical URLs and the sitemap (`--site-url`)


def _anchor(copy: SectionCopy) -> str:
    return f"section-{copy.position + 1}-{copy.kind}"


def _url(site_url: str, path: str) -> str:
    return f"{site_url}/" if path == "index.html" else f"{site_url}/{path}"


def _relative(from_file: str, to_path: str) -> str:
    """A link from one site file to another that works from disk and over HTTP."""
    base = posixpath.dirname(from_file) or "."
    return posixpath.relpath(to_path, base)


def render_site(parts: SiteParts) -> dict[str, bytes]:
    """Every file of the site, by path relative to the site root."""
    plan = parts.page_plan
    copies = {(c.page, c.position): c for c in parts.section_copy}
    seo_by_page = {s.page: s for s in parts.page_seo}
    code_by_page = {c.page: c for c in parts.page_code}
    images = {img.index: img for img in parts.images}
    site_url = parts.site_url.rstrip("/")
    labels = {n.page: n.label for n in parts.site_chrome.nav}

    # The call to action leads to the first contact section of the site, wherever it is.
    contact: tuple[str, str] | None = None
    for page in plan.pages:
        for position, kind in enumerate(page.sections):
            copy = copies.get((page.slug, position))
            if kind == "contact" and copy is not None and contact is None:
                contact = (page.filename, _anchor(copy))

    site = {
        "brand": parts.site_chrome.brand,
        "name": parts.seo_strategy.site_name,
        "tagline": parts.site_chrome.tagline,
        "footer_columns": parts.site_chrome.footer_columns,
        "footer_note": parts.site_chrome.footer_note,
        "header": parts.layout.header,
        "nav_style": parts.layout.nav_style,
        "theme_color": parts.style_system.palette.primary_color,
    }
    files: dict[str, bytes] = {}
    template = _ENV.get_template("page.html")
    for page in plan.pages:
        filename = page.filename
        nav = [
            {
                "href": _relative(filename, p.filename),
                "label": labels.get(p.slug, p.nav_label),
                "current": p.slug == page.slug,
            }
            for p in plan.pages
        ]
        code = code_by_page[page.slug]
        blocks: list[dict[str, Any]] = []
        page_images: list[GeneratedImage] = []
        for n, block in enumerate(code.blocks):
            copy = copies[(page.slug, block.section)]
            shown = [images[i] for i in block.images if i in images]
            page_images.extend(shown)
            cta = None
            if copy.cta_label:
                if contact is None:
                    href = _relative(filename, "index.html")
                elif contact[0] == filename:
                    href = f"#{contact[1]}"
                else:
                    href = f"{_relative(filename, contact[0])}#{contact[1]}"
                cta = {"label": copy.cta_label, "href": href}
            blocks.append(
                {
                    "anchor": _anchor(copy),
                    "kind": copy.kind,
                    "variant": block.variant,
                    "emphasis": block.emphasis,
                    "heading": copy.heading,
                    "intro": copy.intro,
                    "entries": copy.items,
                    "cta": cta,
                    "first": n == 0,
                    "images": [
                        {
                            "src": _relative(filename, img.path),
                            "alt": img.alt,
                            "width": img.width,
                            "height": img.height,
                        }
                        for img in shown
                    ],
                }
            )
        og = page_images[0] if page_images else (parts.images[0] if parts.images else None)
        html = template.render(
            site=site,
            seo=seo_by_page[page.slug],
            canonical=_url(site_url, filename),
            og_image=None
            if og is None
            else {
                "url": _url(site_url, og.path),
                "alt": og.alt,
                "width": og.width,
                "height": og.height,
            },
            nav=nav,
            blocks=blocks,
        )
        files[filename] = html.encode("utf-8")

    style = parts.style_system
    files[STYLESHEET] = (
        _ENV.get_template("style.css")
        .render(
            p=style.palette,
            s=style,
            css=parts.stylesheet,
            layout=parts.layout,
            heading_font=FONT_STACKS[style.heading_font],
            body_font=FONT_STACKS[style.body_font],
            button_radius=_BUTTON_RADIUS[parts.stylesheet.button],
            card_rule=_CARD_RULE[parts.stylesheet.card],
            hero_background=_HERO_BACKGROUND[parts.stylesheet.hero_background],
            mobile_ratio=round(1 + (style.scale_ratio - 1) * 0.6, 3),
        )
        .encode("utf-8")
    )
    files["favicon.svg"] = (
        _ENV.get_template("favicon.svg")
        .render(
            primary=style.palette.primary_color,
            accent=style.palette.accent_color,
            radius=min(style.radius_px, 24),
        )
        .encode("utf-8")
    )
    for img in parts.images:
        files[img.path] = img.png
    files["sitemap.xml"] = (
        _ENV.get_template("sitemap.xml")
        .render(urls=[_url(site_url, p.filename) for p in plan.pages])
        .encode("utf-8")
    )
    files["robots.txt"] = (
        _ENV.get_template("robots.txt")
        .render(sitemap_url=f"{site_url}/sitemap.xml")
        .encode("utf-8")
    )
    return files
