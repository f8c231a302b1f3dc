"""The prompts of the app job: instructions plus the step's inputs as one JSON block.

Each step sends exactly the data it uses; the offline responders read that JSON back with
`read_inputs`, so they can only use what a real model would see.
"""

from __future__ import annotations

import json
import re
from typing import Any

from pydantic import BaseModel

from phasefarm.errors import BadOutput

__all__ = ["SYSTEM", "build_messages", "read_inputs"]

SYSTEM = (
    "You are a senior front-end engineer building a small static web app phase by phase. The "
    "app is plain HTML, CSS and JavaScript ES modules with no build step and nothing loaded "
    "from the internet: it must run when its folder is served as static files. Answer only with "
    "JSON that matches the given schema. Write complete, working code, never placeholders."
)

_FENCE = re.compile(r"```json\n(?P<body>.*?)\n```", re.DOTALL)


def _plain(value: Any) -> Any:
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json")
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    return value


def build_messages(instructions: str, inputs: dict[str, Any]) -> list[dict[str, str]]:
    payload = json.dumps(_plain(inputs), ensure_ascii=False, indent=1, sort_keys=True)
    user = f"{instructions.strip()}\n\nInputs:\n```json\n{payload}\n```"
    return [{"role": "system", "content": SYSTEM}, {"role": "user", "content": user}]


def read_inputs(prompt: str) -> dict[str, Any]:
    match = _FENCE.search(prompt)
    if match is None:
        raise BadOutput("app prompt has no inputs block")
    data = json.loads(match.group("body"))
    if not isinstance(data, dict):
        raise BadOutput("app prompt inputs are not a JSON object")
    return data
