"""The model-calling steps of the website job, one function per phase.

A phase's parameters are its dependencies (the engine injects outputs by name), and each step's
prompt carries exactly those outputs, so the graph follows the data each prompt really uses:

    brief ─┬─ design_strategy ─────────────┬──────────────┐
           ├─ design_context ─┬─ layout ───┼─ seo_strategy┼─ page_seo[p] ──────────┐
           │                  │            ├─ copywriting ┴─ section_copy[s] ─ page_code[p]
           │                  │            └─ image_plan ─── images[i] ──────────────┤
           │                  ├─ style_system ── stylesheet ─────────────────────────┤
           └─ section_plan ───┴─ page_plan (also feeds image_plan, seo, chrome...) ─ assemble
                                                                                  ─ check

Model answers are validated by their pydantic schema in the LLM layer, and that schema is the
whole contract (counts the user chose included: `page_plan_answer(n)`); what a schema cannot
express (references between steps, which section a copy belongs to, where images go, sections
every site needs) is decided or repaired here by our code, never asked of the model.
"""

from __future__ import annotations

import struct
from typing import TYPE_CHECKING

from phasefarm.errors import BadOutput
from phasefarm.pipelines.website.profile import WebsiteSettings
from phasefarm.pipelines.website.prompts import build_messages
from phasefarm.pipelines.website.schemas import (
    Block,
    Copywriting,
    DesignContext,
    DesignStrategy,
    GeneratedImage,
    ImagePlan,
    ImageSpec,
    Layout,
    NavItem,
    PageCode,
    PageComposition,
    PagePlan,
    PageSeo,
    PageSeoText,
    PageSpec,
    SectionCopy,
    SectionPlan,
    SectionRef,
    SectionSpec,
    SectionText,
    SeoStrategy,
    SiteChrome,
    Stylesheet,
    StyleSystem,
    image_plan_answer,
    page_plan_answer,
)

if TYPE_CHECKING:
    from phasefarm.llm import LLM

__all__ = [
    "copywriting",
    "design_context",
    "design_strategy",
    "image_plan",
    "images",
    "layout",
    "page_code",
    "page_plan",
    "page_seo",
    "section_copy",
    "section_plan",
    "seo_strategy",
    "site_chrome",
    "style_system",
    "stylesheet",
]


# --- from the brief ---------------------------------------------------------------------------


async def design_strategy(brief: str, llm: LLM) -> DesignStrategy:
    messages = build_messages(
        "Write the design strategy for this website: who it is for, what it must achieve, "
        "the tone, the positioning, and the one action visitors should take.",
        {"brief": brief},
    )
    return await llm.structured(messages, DesignStrategy, task="design_strategy")


async def design_context(brief: str, llm: LLM) -> DesignContext:
    messages = build_messages(
        "Describe the brand this website speaks for: its name, industry, location if the "
        "brief gives one, mood words, and what its pictures should show.",
        {"brief": brief},
    )
    return await llm.structured(messages, DesignContext, task="design_context")


async def section_plan(brief: str, llm: LLM) -> SectionPlan:
    messages = build_messages(
        "List the kinds of section this website needs (each kind once), with what each is for.",
        {"brief": brief},
    )
    plan = await llm.structured(messages, SectionPlan, task="section_plan")
    # Every site has an opening, a call to action and a way to get in touch: that is our rule,
    # so our code adds what the answer left out instead of asking for it.
    have = {s.kind for s in plan.sections}
    needed = [s for s in _ALWAYS if s.kind not in have]
    if not needed:
        return plan
    hero = [s for s in needed if s.kind == "hero"]
    rest = [s for s in needed if s.kind != "hero"]
    return SectionPlan(sections=[*hero, *plan.sections, *rest])


_ALWAYS = (
    SectionSpec(kind="hero", purpose="What the business offers, at a glance"),
    SectionSpec(kind="cta", purpose="The next step for a visitor"),
    SectionSpec(kind="contact", purpose="How and where to reach the business"),
)


# --- from the design context --------------------------------------------------------------


async def layout(brief: str, design_context: DesignContext, llm: LLM) -> Layout:
    messages = build_messages(
        "Choose the page skeleton every page shares: header style, navigation style, hero "
        "arrangement, content width, grid columns and the footer's columns.",
        {"brief": brief, "design_context": design_context},
    )
    return await llm.structured(messages, Layout, task="layout")


async def style_system(brief: str, design_context: DesignContext, llm: LLM) -> StyleSystem:
    messages = build_messages(
        "Define the style system: a palette of #rrggbb colours with readable contrast between "
        "text and background, font families, base size, type scale, radius and spacing.",
        {"brief": brief, "design_context": design_context},
    )
    return await llm.structured(messages, StyleSystem, task="style_system")


async def page_plan(
    brief: str,
    design_context: DesignContext,
    section_plan: SectionPlan,
    settings: WebsiteSettings,
    llm: LLM,
) -> PagePlan:
    messages = build_messages(
        f"Plan exactly {settings.pages} pages for this website. The first page is the home "
        "page. Give each page a short lowercase slug, a title, a navigation label, its purpose "
        "and the kinds of section it shows, in order, chosen from the section plan.",
        {
            "brief": brief,
            "design_context": design_context,
            "section_plan": section_plan,
            "pages": settings.pages,
        },
    )
    answer = await llm.structured(messages, page_plan_answer(settings.pages), task="page_plan")
    return PagePlan(pages=answer.pages)


# --- from the layout ----------------------------------------------------------------------


async def image_plan(
    brief: str,
    design_context: DesignContext,
    layout: Layout,
    page_plan: PagePlan,
    settings: WebsiteSettings,
    llm: LLM,
) -> ImagePlan:
    if settings.images == 0:
        return ImagePlan(images=[])
    messages = build_messages(
        f"Plan exactly {settings.images} images for the site. For each: the page (by slug) and "
        "the section kind it illustrates, its subject, a prompt for an image model, alt text "
        "that describes the picture for someone who cannot see it, and its aspect.",
        {
            "brief": brief,
            "design_context": design_context,
            "layout": layout,
            "page_plan": page_plan,
            "images": settings.images,
        },
    )
    plan = await llm.structured(messages, image_plan_answer(settings.images), task="image_plan")
    # An image placed on a page or section that does not exist goes to the home page's first
    # section: the picture is still used, and no page links to an image it does not show.
    slugs = {p.slug: p for p in page_plan.pages}
    home = page_plan.pages[0]
    fixed: list[ImageSpec] = []
    for spec in plan.images[: settings.images]:
        page = slugs.get(spec.page)
        if page is None or spec.section not in page.sections:
            spec = spec.model_copy(update={"page": home.slug, "section": home.sections[0]})
        fixed.append(spec)
    return ImagePlan(images=fixed)


async def seo_strategy(
    brief: str, design_strategy: DesignStrategy, layout: Layout, page_plan: PagePlan, llm: LLM
) -> SeoStrategy:
    messages = build_messages(
        "Write the SEO strategy: the site name, the primary keywords, and for every page its "
        "focus keyword and search intent.",
        {
            "brief": brief,
            "design_strategy": design_strategy,
            "layout": layout,
            "page_plan": page_plan,
        },
    )
    return await llm.structured(messages, SeoStrategy, task="seo_strategy")


async def copywriting(
    brief: str,
    design_strategy: DesignStrategy,
    design_context: DesignContext,
    layout: Layout,
    llm: LLM,
) -> Copywriting:
    messages = build_messages(
        "Set the copywriting direction: the voice, a tagline, the home headline, the key "
        "messages, the call-to-action label and the words the copy should use.",
        {
            "brief": brief,
            "design_strategy": design_strategy,
            "design_context": design_context,
            "layout": layout,
        },
    )
    return await llm.structured(messages, Copywriting, task="copywriting")


# --- images: one phase per planned image, in the "image" pool ------------------------------


def png_size(png: bytes) -> tuple[int, int]:
    """Width and height from a PNG's IHDR chunk; BadOutput when the bytes are not a PNG."""
    if len(png) < 24 or png[:8] != b"\x89PNG\r\n\x1a\n" or png[12:16] != b"IHDR":
        raise BadOutput("the image model did not return a PNG")
    width, height = struct.unpack(">II", png[16:24])
    return int(width), int(height)


async def images(
    item: ImageSpec, index: int, style_system: StyleSystem, settings: WebsiteSettings, llm: LLM
) -> GeneratedImage:
    palette = ", ".join(style_system.palette.codes())
    prompt = (
        f"{item.prompt}. Colour palette: {palette}. Photographic, no text, no logos, no watermark."
    )
    png = await llm.image(prompt, task="image", size=settings.image_size(item.aspect))
    width, height = png_size(png)
    return GeneratedImage(
        index=index,
        path=ImagePlan.filename(index),
        alt=item.alt,
        width=width,
        height=height,
        png=png,
    )


# --- content: one phase per section, one per page for SEO ----------------------------------


async def section_copy(
    item: SectionRef,
    brief: str,
    design_strategy: DesignStrategy,
    section_plan: SectionPlan,
    page_plan: PagePlan,
    copywriting: Copywriting,
    llm: LLM,
) -> SectionCopy:
    page = page_plan.page(item.page)
    messages = build_messages(
        f"Write the copy of the {item.kind} section (number {item.position + 1}) of the page "
        f"{page.title!r}: a heading, an introduction, up to six items where the section kind "
        "lists things (features, services, testimonials, questions, numbers, people, pictures), "
        "and a call-to-action label where it asks for one.",
        {
            "brief": brief,
            "section": item,
            "page": page,
            "purpose": section_plan.purpose_of(item.kind) or page.purpose,
            "design_strategy": design_strategy,
            "copywriting": copywriting,
        },
    )
    text = await llm.structured(messages, SectionText, task="section_copy")
    # The section's identity is ours, not the model's: it keys the page's blocks.
    return SectionCopy(**text.model_dump(), page=item.page, kind=item.kind, position=item.position)


async def page_seo(item: PageSpec, brief: str, seo_strategy: SeoStrategy, llm: LLM) -> PageSeo:
    messages = build_messages(
        f"Write the SEO metadata of the page {item.title!r}: a title of at most 60 characters, "
        "a meta description of at most 155, Open Graph title and description, keywords.",
        {"brief": brief, "page": item, "seo_strategy": seo_strategy},
    )
    seo = await llm.structured(messages, PageSeoText, task="page_seo")
    return PageSeo(**seo.model_dump(), page=item.slug)


# --- code generation: shared assets and one phase per page ---------------------------------


async def stylesheet(style_system: StyleSystem, layout: Layout, llm: LLM) -> Stylesheet:
    messages = build_messages(
        "Decide the stylesheet for this style system and layout: button and card styles, the "
        "hero background, link underlines, the mobile breakpoint and the space between sections.",
        {"style_system": style_system, "layout": layout},
    )
    return await llm.structured(messages, Stylesheet, task="stylesheet")


async def site_chrome(
    design_context: DesignContext,
    layout: Layout,
    page_plan: PagePlan,
    copywriting: Copywriting,
    llm: LLM,
) -> SiteChrome:
    messages = build_messages(
        "Write the header, navigation and footer every page shares: the brand text, the "
        "tagline, one navigation entry per page (by slug), the footer's columns and a short "
        "footer note.",
        {
            "design_context": design_context,
            "layout": layout,
            "page_plan": page_plan,
            "copywriting": copywriting,
        },
    )
    chrome = await llm.structured(messages, SiteChrome, task="site_chrome")
    # Navigation must reach every page exactly once, in plan order, whatever the model chose;
    # its labels are kept where it gave them.
    labels = {n.page: n.label for n in chrome.nav}
    nav = [NavItem(page=p.slug, label=labels.get(p.slug, p.nav_label)) for p in page_plan.pages]
    return chrome.model_copy(update={"nav": nav})


async def page_code(
    item: PageSpec,
    layout: Layout,
    section_copy: list[SectionCopy],
    image_plan: ImagePlan,
    llm: LLM,
) -> PageCode:
    sections = [c for c in section_copy if c.page == item.slug]
    sections.sort(key=lambda c: c.position)
    page_images: list[dict[str, object]] = [
        {"index": i, "section": spec.section, "subject": spec.subject, "aspect": spec.aspect}
        for i, spec in enumerate(image_plan.images)
        if spec.page == item.slug
    ]
    messages = build_messages(
        f"Compose the page {item.title!r} from its sections: for each section (by position) "
        "choose a block variant and emphasis.",
        {"page": item, "layout": layout, "sections": sections, "images": page_images},
    )
    answer = await llm.structured(messages, PageComposition, task="page_code")
    mine = [i for i, spec in enumerate(image_plan.images) if spec.page == item.slug]
    blocks = choose_blocks(answer, item, len(sections))
    return PageCode(page=item.slug, blocks=place_images(blocks, item, image_plan, mine))


MAX_IMAGES_PER_BLOCK = 6


def choose_blocks(answer: PageComposition, page: PageSpec, sections: int) -> list[Block]:
    """Keep what is consistent with the plan: each section shown once, in the model's order;
    sections it forgot are appended as plain blocks."""
    seen: set[int] = set()
    blocks: list[Block] = []
    for choice in answer.blocks:
        if choice.section >= sections or choice.section in seen:
            continue
        seen.add(choice.section)
        blocks.append(Block(**choice.model_dump()))
    for position in range(sections):
        if position not in seen:
            blocks.append(Block(section=position, variant="stack", emphasis="normal"))
    if not blocks:
        raise BadOutput(f"page {page.slug!r} has no sections to show")
    return blocks


def place_images(
    blocks: list[Block], page: PageSpec, image_plan: ImagePlan, mine: list[int]
) -> list[Block]:
    """Our code places the page's images: each in the block of the section it illustrates,
    and when one block would get more than `MAX_IMAGES_PER_BLOCK`, the rest spread over the
    page's other blocks (fewest first). The model is never asked to count."""
    placed: list[list[int]] = [[] for _ in blocks]
    position_of = {b.section: n for n, b in enumerate(blocks)}
    overflow: list[int] = []
    for index in mine:
        kind = image_plan.images[index].section
        target = next(
            (position_of[p] for p, k in enumerate(page.sections) if k == kind and p in position_of),
            0,
        )
        if len(placed[target]) < MAX_IMAGES_PER_BLOCK:
            placed[target].append(index)
        else:
            overflow.append(index)
    for index in overflow:
        min(placed, key=len).append(index)
    return [b.model_copy(update={"images": imgs}) for b, imgs in zip(blocks, placed, strict=True)]
