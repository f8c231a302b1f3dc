"""What each website step returns: one pydantic model per step.

The models are the contract with the model (their JSON schema is the structured-output format)
and the guard against it: every value that ends up in a file name, a URL, a CSS rule or an HTML
attribute is constrained here (slugs are reduced to `[a-z0-9-]`, colours to `#rrggbb`, layout
choices to fixed vocabularies), so nothing the model writes can escape `--out` or inject markup.
Free text (headings, paragraphs, alt text) is kept as text; the templates escape it.
Validators are idempotent because checkpoints re-validate models when they are read back.
"""

from __future__ import annotations

import functools
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, create_model, model_validator

from phasefarm.pipelines.website.text import (
    SLUG_MAX,
    HexColor,
    Line,
    Paragraph,
    Short,
    Slug,
    bounded_text,
    clean_text,
    nonempty,
    quote,
    slugify,
    unique_slug,
)

__all__ = [
    "MAX_IMAGES",
    "MAX_PAGES",
    "SECTION_KINDS",
    "SLUG_MAX",
    "Block",
    "BlockChoice",
    "Copywriting",
    "DesignContext",
    "DesignStrategy",
    "FooterColumn",
    "GeneratedImage",
    "ImagePlan",
    "ImageSpec",
    "Layout",
    "NavItem",
    "PageCode",
    "PageComposition",
    "PageFocus",
    "PagePlan",
    "PageSeo",
    "PageSeoText",
    "PageSpec",
    "Palette",
    "SectionCopy",
    "SectionCopyItem",
    "SectionKind",
    "SectionPlan",
    "SectionRef",
    "SectionSpec",
    "SectionText",
    "SeoStrategy",
    "SiteChrome",
    "StyleSystem",
    "Stylesheet",
    "clean_text",
    "image_plan_answer",
    "page_plan_answer",
    "quote",
    "slugify",
    "unique_slug",
]

MAX_PAGES = 20
MAX_IMAGES = 40
HOME = "index"

SectionKind = Literal[
    "hero", "features", "story", "services", "testimonials", "gallery", "faq", "stats", "cta",
    "contact", "team",
]  # fmt: skip
SECTION_KINDS: tuple[str, ...] = SectionKind.__args__  # type: ignore[attr-defined]


class _Model(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


# --- wave-1 steps: need only the brief ------------------------------------------------------


class DesignStrategy(_Model):
    """Who the site is for and what it must make them do."""

    audience: Line
    goals: list[Line] = Field(min_length=1, max_length=6)
    tone: Short
    positioning: Line
    primary_action: Short


class DesignContext(_Model):
    """The brand the site speaks for."""

    brand_name: Short
    industry: Short
    location: Short | None = None
    mood: list[Short] = Field(min_length=1, max_length=6)
    imagery: Line  # what the pictures should show


class SectionSpec(_Model):
    kind: SectionKind
    purpose: Line


class SectionPlan(_Model):
    """The kinds of section this site needs, with what each is for."""

    sections: list[SectionSpec] = Field(min_length=1, max_length=len(SECTION_KINDS))

    @model_validator(mode="after")
    def _unique(self) -> SectionPlan:
        # A kind listed twice keeps its first purpose: one purpose per kind is what we use.
        first: dict[str, SectionSpec] = {}
        for section in self.sections:
            first.setdefault(section.kind, section)
        object.__setattr__(self, "sections", list(first.values()))
        return self

    def purpose_of(self, kind: str) -> str:
        for section in self.sections:
            if section.kind == kind:
                return section.purpose
        return ""


# --- wave-2 steps: need the design context --------------------------------------------------


class FooterColumn(_Model):
    title: Short
    lines: list[Line] = Field(max_length=6)


class Layout(_Model):
    """The page skeleton shared by every page."""

    header: Literal["bar", "centered", "split"]
    nav_style: Literal["links", "pills", "underline"]
    hero: Literal["split", "centered", "banner"]
    content_width_px: int = Field(ge=640, le=1600)
    grid_columns: int = Field(ge=1, le=4)
    footer_columns: list[FooterColumn] = Field(max_length=4)


class Palette(_Model):
    primary_color: HexColor
    secondary_color: HexColor
    accent_color: HexColor
    background_color: HexColor
    surface_color: HexColor
    text_color: HexColor
    muted_color: HexColor

    def codes(self) -> list[str]:
        return [self.primary_color, self.secondary_color, self.accent_color, self.surface_color]


FontChoice = Literal["system", "humanist", "geometric", "serif", "slab", "mono"]


class StyleSystem(_Model):
    palette: Palette
    heading_font: FontChoice
    body_font: FontChoice
    base_size_px: int = Field(ge=14, le=22)
    scale_ratio: float = Field(ge=1.05, le=1.6)
    radius_px: int = Field(ge=0, le=32)
    spacing_px: int = Field(ge=4, le=32)


class PageSpec(_Model):
    slug: Slug
    title: Short
    nav_label: Short
    purpose: Line
    sections: list[SectionKind] = Field(min_length=1, max_length=8)

    @property
    def filename(self) -> str:
        return f"{self.slug}.html"


class PagePlan(_Model):
    """The pages of the site; the first one is the home page and is written as index.html."""

    pages: list[PageSpec] = Field(min_length=1, max_length=MAX_PAGES)

    @model_validator(mode="after")
    def _slugs(self) -> PagePlan:
        # The home page is index.html whatever the model called it; other slugs must be unique
        # (within the slug length) and must not collide with it (a second "index" would
        # overwrite the home page).
        seen: set[str] = set()
        pages: list[PageSpec] = []
        for i, page in enumerate(self.pages):
            slug = unique_slug(HOME if i == 0 else page.slug, seen)
            seen.add(slug)
            pages.append(page if slug == page.slug else page.model_copy(update={"slug": slug}))
        object.__setattr__(self, "pages", pages)
        return self

    def page(self, slug: str) -> PageSpec:
        for page in self.pages:
            if page.slug == slug:
                return page
        raise KeyError(slug)

    def section_refs(self) -> list[SectionRef]:
        """Every (page, section) pair, in page order: one content phase each."""
        return [
            SectionRef(page=page.slug, kind=kind, position=position)
            for page in self.pages
            for position, kind in enumerate(page.sections)
        ]


class SectionRef(_Model):
    page: Slug
    kind: SectionKind
    position: int = Field(ge=0)


# --- wave-3 steps: need the layout ----------------------------------------------------------


class ImageSpec(_Model):
    page: Slug
    section: SectionKind
    subject: Short
    prompt: Paragraph
    alt: Line
    aspect: Literal["landscape", "square", "portrait"]


class ImagePlan(_Model):
    images: list[ImageSpec] = Field(max_length=MAX_IMAGES)

    @staticmethod
    def filename(index: int) -> str:
        """Image files are named by us, never by the model."""
        return f"images/image-{index + 1:02d}.png"


class PageFocus(_Model):
    page: Slug
    focus_keyword: Short
    intent: Line


class SeoStrategy(_Model):
    site_name: Short
    primary_keywords: list[Short] = Field(min_length=1, max_length=12)
    pages: list[PageFocus] = Field(max_length=MAX_PAGES)

    def focus(self, slug: str) -> PageFocus | None:
        for page in self.pages:
            if page.page == slug:
                return page
        return None


class Copywriting(_Model):
    voice: Line
    tagline: Short
    headline: Line
    key_messages: list[Line] = Field(min_length=1, max_length=6)
    cta_label: Short
    vocabulary: list[Short] = Field(max_length=12)


# --- content: one per section, SEO metadata per page ----------------------------------------


class SectionCopyItem(_Model):
    title: Short
    text: Line


class SectionText(_Model):
    """What the model writes for one section (which section it is, is ours: `SectionCopy`)."""

    heading: Short
    intro: Paragraph
    items: list[SectionCopyItem] = Field(max_length=8)
    cta_label: Short | None = None


class SectionCopy(SectionText):
    page: Slug
    kind: SectionKind
    position: int = Field(ge=0)


class PageSeoText(_Model):
    """What the model writes for one page's metadata (the page is ours: `PageSeo`)."""

    title: Annotated[str, bounded_text(70), AfterValidator(clean_text), AfterValidator(nonempty)]
    description: Annotated[
        str, bounded_text(170), AfterValidator(clean_text), AfterValidator(nonempty)
    ]
    og_title: Annotated[str, bounded_text(90), AfterValidator(clean_text), AfterValidator(nonempty)]
    og_description: Annotated[
        str, bounded_text(200), AfterValidator(clean_text), AfterValidator(nonempty)
    ]
    keywords: list[Short] = Field(max_length=10)


class PageSeo(PageSeoText):
    page: Slug


# --- code generation: per page plus shared assets -------------------------------------------


class Stylesheet(_Model):
    """The stylesheet's design decisions; `render.py` turns them into CSS.

    The model chooses from fixed vocabularies and bounded numbers instead of writing CSS text,
    so its answer cannot break out of the stylesheet or load anything from elsewhere.
    """

    button: Literal["pill", "rounded", "square"]
    card: Literal["flat", "shadow", "outline"]
    hero_background: Literal["gradient", "solid", "tint"]
    link_underline: bool
    breakpoint_px: int = Field(ge=480, le=1024)
    section_spacing_px: int = Field(ge=24, le=160)


class NavItem(_Model):
    page: Slug
    label: Short


class SiteChrome(_Model):
    """Header, navigation and footer, shared by every page."""

    brand: Short
    tagline: Short
    nav: list[NavItem] = Field(min_length=1, max_length=MAX_PAGES)
    footer_columns: list[FooterColumn] = Field(max_length=4)
    footer_note: Line


class BlockChoice(_Model):
    """How the model shows one section of a page."""

    section: int = Field(ge=0, le=7)  # position of the section on its page
    variant: Literal["stack", "split", "split-reverse", "grid", "banner"]
    emphasis: Literal["normal", "tinted", "inverted"]


class PageComposition(_Model):
    """The model's part of a page's code: one block choice per section."""

    blocks: list[BlockChoice] = Field(min_length=1, max_length=8)


class Block(BlockChoice):
    """One block of a page: the model's choice, and the images our code placed in it."""

    images: list[int] = Field(default_factory=list, max_length=40)  # indexes into the plan


class PageCode(_Model):
    page: Slug
    blocks: list[Block] = Field(min_length=1, max_length=8)


class GeneratedImage(_Model):
    """One picture: its bytes and where it goes."""

    index: int = Field(ge=0)
    path: str
    alt: str
    width: int
    height: int
    png: bytes


# --- the schemas sent for counts the user chose ----------------------------------------------


@functools.lru_cache(maxsize=128)
def _exactly(model: type[_Model], field: str, item: type[_Model], count: int) -> type[_Model]:
    """`model` whose schema asks for exactly `count` items in its list `field`."""
    listed: object = (list[item], Field(min_length=count, max_length=count))  # type: ignore[valid-type]
    return create_model(model.__name__, __base__=model, **{field: listed})  # type: ignore[call-overload, no-any-return]


def page_plan_answer(pages: int) -> type[PagePlan]:
    """`PagePlan` whose schema asks for exactly `pages` pages (`--pages` is the user's)."""
    return _exactly(PagePlan, "pages", PageSpec, pages)  # type: ignore[return-value]


def image_plan_answer(images: int) -> type[ImagePlan]:
    """`ImagePlan` whose schema asks for exactly `images` images (`--images` is the user's)."""
    return _exactly(ImagePlan, "images", ImageSpec, images)  # type: ignore[return-value]
