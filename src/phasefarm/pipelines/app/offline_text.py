"""What the offline app's files are written from: the facts of the app, and text helpers."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

__all__ = ["AppFacts", "fill", "html_escape", "js_literal"]


@dataclass(frozen=True)
class AppFacts:
    title: str
    description: str
    slug: str
    noun: str
    plural: str
    categories: tuple[str, ...]
    date_label: str
    views: tuple[tuple[str, str], ...]  # (id, title)
    palette: dict[str, str]
    samples: tuple[str, ...]


def fill(text: str, **values: str) -> str:
    return re.sub(r"\{\{(\w+)\}\}", lambda m: values[m.group(1)], text)


def js_literal(value: object) -> str:
    return json.dumps(value, ensure_ascii=False)


def html_escape(text: str) -> str:
    return (
        text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace('"', "&quot;")
    )
