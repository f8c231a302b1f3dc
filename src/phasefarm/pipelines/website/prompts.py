"""The prompts of the website steps: instructions plus the step's inputs as one JSON block.

Every step sends exactly the data its phase depends on, as JSON, so what a prompt uses and what
the phase waits for are the same thing. The offline responders read that JSON back with
`read_inputs`, which keeps them honest: they can only use what a real model would see.
"""

from __future__ import annotations

import json
import re
from typing import Any

from pydantic import BaseModel

from phasefarm.errors import BadOutput

__all__ = ["SYSTEM", "build_messages", "read_inputs"]

SYSTEM = (
    "You are part of a small web studio that builds static marketing websites step by step. "
    "Answer only with JSON that matches the given schema. Write plain text in every text "
    "field: no HTML, no Markdown, no template syntax. Keep copy concrete, specific to the "
    "brief, and free of placeholders."
)

_FENCE = re.compile(r"```json\n(?P<body>.*?)\n```", re.DOTALL)


def _jsonable(value: Any) -> Any:
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json", exclude={"png"})
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    return value


def build_messages(instructions: str, inputs: dict[str, Any]) -> list[dict[str, str]]:
    """System message plus one user message: the instructions, then the inputs as JSON."""
    payload = json.dumps(_jsonable(inputs), ensure_ascii=False, indent=1, sort_keys=True)
    user = f"{instructions.strip()}\n\nInputs:\n```json\n{payload}\n```"
    return [{"role": "system", "content": SYSTEM}, {"role": "user", "content": user}]


def read_inputs(prompt: str) -> dict[str, Any]:
    """The inputs JSON of a prompt made by `build_messages` (the first block in `prompt`, so
    the whole conversation of a repair round can be passed)."""
    match = _FENCE.search(prompt)
    if match is None:
        raise BadOutput("website prompt has no inputs block")
    data = json.loads(match.group("body"))
    if not isinstance(data, dict):
        raise BadOutput("website prompt inputs are not a JSON object")
    return data
