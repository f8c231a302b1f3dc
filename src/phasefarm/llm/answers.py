"""Checking a model's answer against its schema, with bounded sizes everywhere.

A 2 MB answer must not become a 2 MB error, log line, stored error or repair request: answers
longer than `MAX_ANSWER_CHARS` are refused unread, each validation problem is cut to
`PROBLEM_CHARS` without the rejected value, and a repair shows the model at most
`REPAIR_ECHO_CHARS` of its answer.
"""

from __future__ import annotations

from typing import TypeVar

from pydantic import BaseModel, ValidationError

__all__ = [
    "MAX_ANSWER_CHARS",
    "MAX_ANSWER_TOKENS",
    "PROBLEM_CHARS",
    "REPAIR_ECHO_CHARS",
    "excerpt",
    "validate_answer",
]

M = TypeVar("M", bound=BaseModel)

MAX_ANSWER_CHARS = 262_144  # longer answers are refused unread (a repair says so)
MAX_ANSWER_TOKENS = 32_768  # the most room a cut answer is given on its second try
REPAIR_ECHO_CHARS = 4_000  # of the rejected answer, shown back to the model in a repair
PROBLEM_CHARS = 240  # of each validation problem


def excerpt(text: str, limit: int) -> str:
    return text if len(text) <= limit else f"{text[:limit]}… (cut: {len(text):,} characters)"


def validate_answer(schema: type[M], text: str, max_chars: int) -> tuple[M | None, str]:
    """The validated instance, or None and a short error (also tolerates ```json fences).

    The error names each problem with a bounded message, never the rejected value whole."""
    if len(text) > max_chars:
        return None, f"the answer is {len(text):,} characters long, more than {max_chars:,}"
    try:
        return schema.model_validate_json(text), ""
    except ValidationError as exc:
        first = exc
    start, end = text.find("{"), text.rfind("}")
    if 0 <= start < end and (start > 0 or end < len(text.rstrip()) - 1):
        try:
            return schema.model_validate_json(text[start : end + 1]), ""
        except ValidationError:
            pass
    problems = [
        f"{'.'.join(str(p) for p in err['loc'])[:100] or '(root)'}: {err['msg'][:PROBLEM_CHARS]}"
        for err in first.errors(include_url=False, include_input=False)[:8]
    ]
    more = first.error_count() - len(problems)
    return None, "; ".join(problems) + (f"; and {more} more" if more > 0 else "")
