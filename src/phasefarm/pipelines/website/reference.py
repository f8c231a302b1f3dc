"""Note 002's plan as written, as a flow of no-op phases, for comparison in `plan website`.

The note's steps at the note's granularity (content as three 10 s calls, code generation as
one 20 s call) with its waves as hints. Simulated by the same scheduler as our flow it gives
the numbers DESIGN.md quotes: sequential 185, waves 69 (the note's 63 ignores the batch of 5),
dependency-driven 58. Our job splits content per section and code per page, which is why its
own waves and parallel estimates are lower.
"""

from __future__ import annotations

from phasefarm.engine.flow import Flow
from phasefarm.pipelines.website.profile import (
    CODE_GENERATION_S,
    CONTENT_SECTIONS_S,
    CONTENT_SEO_S,
    FIXED_STEPS_S,
    IMAGE_S,
)

__all__ = ["note_002_flow"]

# step -> (dependencies, wave in the note)
_STEPS: dict[str, tuple[tuple[str, ...], int]] = {
    "design_strategy": ((), 1),
    "design_context": ((), 1),
    "section_plan": ((), 1),
    "layout": (("design_context",), 2),
    "style_system": (("design_context",), 2),
    "page_plan": (("design_context",), 2),
    "image_plan": (("layout",), 3),
    "seo_strategy": (("layout",), 3),
    "copywriting": (("layout",), 3),
}


def note_002_flow(images: int = 10, image_pool: int = 5) -> Flow:
    flow = Flow("note-002", pools={"image": image_pool})

    async def step() -> None:
        return None

    for name, (needs, wave) in _STEPS.items():
        flow.phase(step, name=name, needs=list(needs), estimate=FIXED_STEPS_S[name], wave=wave)
    flow.map("image_plan", name="images", pool="image", estimate=IMAGE_S, expect=images, wave=4)(
        step
    )
    content_s = (CONTENT_SECTIONS_S + CONTENT_SEO_S) / 3
    content = {
        "section_content": ["copywriting", "section_plan"],
        "seo_metadata": ["seo_strategy"],
        "page_content": ["copywriting", "page_plan"],
    }
    for name, content_needs in content.items():
        flow.phase(step, name=name, needs=content_needs, estimate=content_s, wave=5)
    flow.phase(
        step,
        name="code_generation",
        needs=["images", *content, "style_system"],
        estimate=CODE_GENERATION_S,
        wave=6,
    )
    return flow
