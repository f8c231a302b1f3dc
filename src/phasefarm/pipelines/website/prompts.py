"""The prompts of the website steps: instructions plus the step's inputs as one JSON block.

Every step sends exactly the data its phase depends on, as JSON, so what a prompt uses and what
the phase waits for are the same thing. The offline responders read that JSON back with
`read_inputs`, which keeps them honest: they can only use what a real model would see.
"""

from __future__ import annotations

from typing import Any

from phasefarm.pipelines import common

__all__ = ["SYSTEM", "build_messages", "read_inputs"]

SYSTEM = (
    "You are part of a small web studio that builds static marketing websites step by step. "
    "Answer only with JSON that matches the given schema. Write plain text in every text "
    "field: no HTML, no Markdown, no template syntax. Keep copy concrete, specific to the "
    "brief, and free of placeholders."
)


def build_messages(instructions: str, inputs: dict[str, Any]) -> list[dict[str, str]]:
    """System message plus one user message: the instructions, then the inputs as JSON (the
    images' PNG bytes left out)."""
    return common.build_messages(SYSTEM, instructions, inputs, exclude=frozenset({"png"}))


def read_inputs(prompt: str) -> dict[str, Any]:
    """The inputs JSON of a prompt made by `build_messages`."""
    return common.read_inputs(prompt, job="website")
