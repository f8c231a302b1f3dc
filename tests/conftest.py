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


# ---- Ray backend fixtures (issue 15: tests/test_ray_*.py) ------------------------------------
# API keys the session's Ray workers see in OPENAI_API_KEY (workers read keys from their own
# environment, never from the driver); fake servers of the Ray tests accept these.
RAY_TEST_KEYS = ("sk-ray-test-0001-abcdefgh", "sk-ray-test-0002-abcdefgh")


@_pytest.fixture(scope="session")
def ray_cluster() -> _abc.Iterator[_Any]:
    """One local Ray cluster for the whole session: 2 CPUs, a small object store, no dashboard,
    a pool resource `pool:image` of 5. Shut down (detached actors included) at the end."""
    import os
    from pathlib import Path

    try:
        import ray
    except ImportError:
        if os.environ.get("PHASEFARM_REQUIRE_RAY"):
            _pytest.fail("PHASEFARM_REQUIRE_RAY is set but the ray extra is not installed")
        _pytest.skip("the Ray backend needs the ray extra: pip install -e '.[dev,ray]'")
    ray.init(
        address="local",  # never another process's cluster on this machine
        num_cpus=2,
        resources={"pool:image": 5},
        object_store_memory=100 * 2**20,
        include_dashboard=False,
        log_to_driver=False,
        configure_logging=False,
        namespace="phasefarm",
        runtime_env={
            "env_vars": {
                "OPENAI_API_KEY": ",".join(RAY_TEST_KEYS),
                # phase functions of the tests are imported by module name on the workers
                "PYTHONPATH": str(Path(__file__).parent),
            }
        },
    )
    try:
        yield ray
    finally:
        ray.shutdown()
