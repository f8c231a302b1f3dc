"""Shared pytest fixtures. Each block belongs to one area; keep them apart."""

from __future__ import annotations

# ---- LLM layer fixtures (issue 4: tests/test_llm_*.py, tests/test_fake_openai.py) ---------------
import collections.abc as _abc
from typing import Any as _Any

import pytest as _pytest


@_pytest.fixture
def fake_openai() -> _abc.Iterator[_abc.Callable[..., _Any]]:
    """Start real fake OpenAI servers on 127.0.0.1: `server = fake_openai(keys=[...], rpm=...)`.

    Every server started through it is stopped at teardown.
    """
    from phasefarm.testing.fake_openai import FakeOpenAI

    started: list[FakeOpenAI] = []

    def start(**options: _Any) -> FakeOpenAI:
        server = FakeOpenAI(**options).start()
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()


@_pytest.fixture
def llm_events() -> _abc.Iterator[list[tuple[str, dict[str, _Any]]]]:
    """Run the test inside a phase scope ("phase-under-test") and collect its custom events."""
    from phasefarm.scope import Scope, phase_scope

    events: list[tuple[str, dict[str, _Any]]] = []
    with phase_scope(Scope("run-test", "phase-under-test", lambda _p, k, d: events.append((k, d)))):
        yield events
