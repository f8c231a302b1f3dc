"""A small flow that shows parallel phases without any model: the engine's own demo.

brief -> outline -> one section per outline item (in parallel, pool "writers" of 3) -> page.
Each phase sleeps its seed duration times `time_scale`, like the offline provider does.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from phasefarm.engine.flow import Flow

__all__ = ["build_flow", "prepare"]

SEED_SECONDS = {"outline": 4.0, "tone": 3.0, "section": 5.0, "page": 2.0}


def build_flow(time_scale: float = 0.05, sections: int = 6) -> Flow:
    flow = Flow("demo", pools={"writers": 3})

    async def work(name: str) -> None:
        await asyncio.sleep(SEED_SECONDS[name] * time_scale)

    @flow.phase(estimate=SEED_SECONDS["outline"])
    async def outline(brief: str) -> list[str]:
        await work("outline")
        return [f"{brief.strip().capitalize()}: part {i + 1}" for i in range(sections)]

    @flow.phase(estimate=SEED_SECONDS["tone"])
    async def tone(brief: str) -> str:
        await work("tone")
        return "plain" if len(brief) % 2 else "warm"

    @flow.map("outline", pool="writers", estimate=SEED_SECONDS["section"], expect=sections)
    async def section(item: str, index: int, tone: str) -> str:
        await work("section")
        return f"## {item}\n\nA {tone} paragraph number {index + 1}.\n"

    @flow.phase(estimate=SEED_SECONDS["page"])
    async def page(section: list[str], out: Path | None = None) -> str:
        await work("page")
        text = "\n".join(section)
        if out is not None:
            out.mkdir(parents=True, exist_ok=True)
            (out / "page.md").write_text(text, encoding="utf-8")
        return text

    return flow


def prepare(meta: dict[str, Any]) -> tuple[Flow, dict[str, Any]]:
    flow = build_flow(float(meta.get("time_scale", 0.05)), int(meta.get("sections", 6)))
    services: dict[str, Any] = {}
    if meta.get("out"):
        services["out"] = Path(meta["out"])
    return flow, services
