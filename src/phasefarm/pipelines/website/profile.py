"""The website job's settings and its seed latency profile (DESIGN.md, note 002).

The profile is the note's timing in seed-seconds: one call per step, 5 s per image, 30 s of
content and 20 s of code generation. Content and code generation are fanned out here (one call
per section, per page, per shared asset), so their totals are divided over the calls: the same
work in smaller pieces, which is what makes the sequential total stay at 185 s whatever
`--pages` says.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import urlsplit

from phasefarm.errors import UsageError
from phasefarm.llm.latency import LatencyModel
from phasefarm.pipelines.website.schemas import MAX_IMAGES, MAX_PAGES

__all__ = [
    "DEFAULT_IMAGES",
    "DEFAULT_PAGES",
    "DEFAULT_SITE_URL",
    "MAX_IMAGES",
    "MAX_PAGES",
    "SECTIONS_PER_PAGE",
    "WebsiteSettings",
    "seed_latency",
    "site_origin",
]

DEFAULT_PAGES = 4
DEFAULT_IMAGES = 10
# The placeholder origin of canonical URLs and the sitemap until `--site-url` says otherwise
# (example.com is reserved for documentation: it never points at someone else's site).
DEFAULT_SITE_URL = "https://www.example.com"
MAX_IMAGE_POOL = 20
SECTIONS_PER_PAGE = 3  # what the offline page plan gives each page; the profile assumes it

CONTENT_SECTIONS_S = 20.0  # section copy, all sections together
CONTENT_SEO_S = 10.0  # SEO metadata, all pages together
CODE_GENERATION_S = 20.0  # stylesheet + header/nav/footer + one per page
FIXED_STEPS_S: dict[str, float] = {
    "design_strategy": 10.0,
    "design_context": 10.0,
    "section_plan": 10.0,
    "layout": 8.0,
    "style_system": 9.0,
    "page_plan": 8.0,
    "image_plan": 10.0,
    "seo_strategy": 10.0,
    "copywriting": 10.0,
}
IMAGE_S = 5.0


@dataclass(frozen=True)
class WebsiteSettings:
    """What shapes the site besides the brief: counts, the image pool, image sizes."""

    pages: int = DEFAULT_PAGES
    images: int = DEFAULT_IMAGES
    image_pool: int = 5
    provider: str = "offline"
    site_url: str = DEFAULT_SITE_URL

    def __post_init__(self) -> None:
        if not 1 <= self.pages <= MAX_PAGES:
            raise UsageError(f"--pages must be between 1 and {MAX_PAGES}, got {self.pages}")
        if not 0 <= self.images <= MAX_IMAGES:
            raise UsageError(f"--images must be between 0 and {MAX_IMAGES}, got {self.images}")
        if not 1 <= self.image_pool <= MAX_IMAGE_POOL:
            raise UsageError(
                f"the image pool must be between 1 and {MAX_IMAGE_POOL}, got {self.image_pool}"
            )
        object.__setattr__(self, "site_url", site_origin(self.site_url))

    @property
    def sections(self) -> int:
        return self.pages * SECTIONS_PER_PAGE

    @property
    def code_units(self) -> int:
        return self.pages + 2  # one per page, the stylesheet, the header/nav/footer

    def image_size(self, aspect: str) -> str:
        """Sizes the image API accepts; the offline provider draws pictures at about the size
        the page shows them (the stylesheet never shows an image wider than it is), small
        enough to draw well within an image's seed latency."""
        if self.provider == "offline":
            return {"landscape": "800x500", "square": "480x480"}.get(aspect, "400x600")
        return {"landscape": "1536x1024", "square": "1024x1024"}.get(aspect, "1024x1536")


_HOST = re.compile(r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)+$")


def site_origin(value: str) -> str:
    """`--site-url` as an origin, `https://host[:port]`: a path or trailing slash is dropped;
    a scheme other than http(s), credentials or a malformed host is refused (UsageError)."""
    text = value.strip()
    parts = urlsplit(text)
    try:
        host, port = (parts.hostname or "").lower(), parts.port
    except ValueError:
        host, port = "", None
    if parts.scheme not in ("http", "https") or not _HOST.match(host) or len(text) > 200:
        raise UsageError(f"--site-url must be an http(s) URL of a domain, got {text[:80]!r}")
    if parts.username or parts.password:
        raise UsageError("--site-url must not carry credentials")
    return f"{parts.scheme}://{host}" + (f":{port}" if port else "")


def seed_latency(settings: WebsiteSettings, model: LatencyModel | None = None) -> dict[str, float]:
    """Seed-seconds per call for every task of the website job (the offline provider's sleep
    and the phases' plan estimates). `model`: split the fanned-out steps per call instead."""
    profile = dict(FIXED_STEPS_S)
    profile["image"] = IMAGE_S
    profile["section_copy"] = CONTENT_SECTIONS_S / settings.sections
    profile["page_seo"] = CONTENT_SEO_S / settings.pages
    code = CODE_GENERATION_S / settings.code_units
    if model is not None:  # per-call latency model (llm/latency.py, issue 14); note 002 makes
        # 2 calls for the sections' copy, 1 for SEO, 1 for code generation
        profile["section_copy"] = model.split(CONTENT_SECTIONS_S, 2, settings.sections)
        profile["page_seo"] = model.split(CONTENT_SEO_S, 1, settings.pages)
        code = model.split(CODE_GENERATION_S, 1, settings.code_units)
    profile["stylesheet"] = code
    profile["site_chrome"] = code
    profile["page_code"] = code
    return profile
