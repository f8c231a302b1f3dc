"""What the website and app jobs share: prompts with their inputs as one JSON block, the option
checks every generation command makes, and the run's LLM built from its meta.

Each step sends exactly the data it uses, as JSON; the offline responders read that JSON back
with `read_inputs`, so they can only use what a real model would see.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

from pydantic import BaseModel

from phasefarm.errors import BadOutput, UsageError
from phasefarm.llm import LLM, PROVIDERS, build_llm
from phasefarm.options import check_cap, check_non_negative

__all__ = ["MAX_BRIEF", "build_messages", "check_run_options", "llm_from_meta", "read_inputs"]

MAX_BRIEF = 4000

_FENCE = re.compile(r"```json\n(?P<body>.*?)\n```", re.DOTALL)


def _jsonable(value: Any, exclude: frozenset[str]) -> Any:
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json", exclude=set(exclude) or None)
    if isinstance(value, list | tuple):
        return [_jsonable(v, exclude) for v in value]
    if isinstance(value, dict):
        return {str(k): _jsonable(v, exclude) for k, v in value.items()}
    return value


def build_messages(
    system: str,
    instructions: str,
    inputs: dict[str, Any],
    *,
    exclude: frozenset[str] = frozenset(),
) -> list[dict[str, str]]:
    """System message plus one user message: the instructions, then the inputs as JSON
    (fields named in `exclude` left out of every model in them)."""
    payload = json.dumps(_jsonable(inputs, exclude), ensure_ascii=False, indent=1, sort_keys=True)
    user = f"{instructions.strip()}\n\nInputs:\n```json\n{payload}\n```"
    return [{"role": "system", "content": system}, {"role": "user", "content": user}]


def read_inputs(prompt: str, *, job: str) -> dict[str, Any]:
    """The inputs JSON of a prompt made by `build_messages` (the first block in `prompt`, so
    the whole conversation of a repair round can be passed)."""
    match = _FENCE.search(prompt)
    if match is None:
        raise BadOutput(f"{job} prompt has no inputs block")
    data = json.loads(match.group("body"))
    if not isinstance(data, dict):
        raise BadOutput(f"{job} prompt inputs are not a JSON object")
    return data


def check_run_options(
    *,
    what: str,
    brief: str,
    provider: str,
    time_scale: float,
    max_tokens: int | None,
    max_cost: float | None,
    call_timeout: float,
    more: Callable[[], None] = lambda: None,
) -> None:
    """The brief, the provider, the time scale, the caps and the call time limit; `more` runs
    the job's own checks between the provider and the time scale (so errors come in the
    options' usual order)."""
    if not brief.strip():
        raise UsageError(f"the brief is empty: describe the {what} to build")
    if len(brief) > MAX_BRIEF:
        raise UsageError(f"the brief is {len(brief)} characters long: keep it under {MAX_BRIEF}")
    more()
    if provider not in PROVIDERS:
        raise UsageError(f"unknown --provider {provider!r}: choose one of {', '.join(PROVIDERS)}")
    check_non_negative("--time-scale", time_scale, most=100)
    check_cap("--max-tokens", max_tokens)
    check_cap("--max-cost", max_cost)
    check_non_negative("--call-timeout", call_timeout, most=86400)
    if call_timeout <= 0:
        raise UsageError("--call-timeout must be more than 0 seconds")


def llm_from_meta(
    provider: str, meta: dict[str, Any], *, latency: dict[str, float], responders: Any
) -> LLM:
    """The run's LLM from its meta; `latency` and `responders` are used offline only."""
    offline = provider == "offline"
    return build_llm(
        provider,
        model=meta.get("model"),
        time_scale=float(0.05 if meta.get("time_scale") is None else meta["time_scale"]),
        seed=int(meta.get("seed") or 0),
        latency=latency if offline else None,
        responders=responders if offline else None,
        max_tokens=meta.get("max_tokens"),
        max_cost=meta.get("max_cost"),
        cache_dir=meta.get("cache_dir"),
        image_model=meta.get("image_model"),
        call_time_limit=meta.get("call_timeout"),
    )
