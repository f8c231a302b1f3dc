"""The prompts of the app job: instructions plus the step's inputs as one JSON block.

Each step sends exactly the data it uses; the offline responders read that JSON back with
`read_inputs`, so they can only use what a real model would see (`pipelines.common`).
"""

from __future__ import annotations

from typing import Any

from phasefarm.pipelines import common

__all__ = ["SYSTEM", "build_messages", "read_inputs"]

SYSTEM = (
    "You are a senior front-end engineer building a small static web app phase by phase. The "
    "app is plain HTML, CSS and JavaScript ES modules with no build step and nothing loaded "
    "from the internet: it must run when its folder is served as static files. Answer only with "
    "JSON that matches the given schema. Write complete, working code, never placeholders."
)


def build_messages(instructions: str, inputs: dict[str, Any]) -> list[dict[str, str]]:
    return common.build_messages(SYSTEM, instructions, inputs)


def read_inputs(prompt: str) -> dict[str, Any]:
    return common.read_inputs(prompt, job="app")
