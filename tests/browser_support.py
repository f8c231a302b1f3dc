"""Headless Chromium for browser tests: Debian's binary, the flags the house uses, where
screenshots go, and the skip rule (skip without chromium on a developer's machine; never in
CI, which installs it and sets PHASEFARM_REQUIRE_BROWSER)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts"
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]
BROWSER_MARKS = [
    pytest.mark.browser,
    pytest.mark.skipif(
        not CHROMIUM.exists() and not os.environ.get("PHASEFARM_REQUIRE_BROWSER"),
        reason="needs Debian's chromium at /usr/bin/chromium",
    ),
]


def on_request_failed(problems: list[str], prefix: str = "request failed") -> Any:
    """A `requestfailed` handler that records real failures. A request the page's own
    navigation cancelled (the favicon of a page left before it loaded: net::ERR_ABORTED) is
    not one: whether it happens depends only on timing."""

    def handler(request: Any) -> None:
        if request.failure != "net::ERR_ABORTED":
            problems.append(f"{prefix}: {request.url} ({request.failure})")

    return handler
