"""The input hash a phase record is saved with: built from shared pieces (engine/resume.py
`InputHashes`), it must stay exactly `codec.input_hash` of the phase's key and values, or every
record in an existing store would stop matching and a resume would pay for them again."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from phasefarm import Flow, PhaseContext
from phasefarm.engine.binding import Sources, bind, hashed_values
from phasefarm.engine.resume import InputHashes, checkpoint_hash
from phasefarm.store.codec import input_hash


class Page(BaseModel):
    title: str
    tags: set[str]


def documented(binding: Any, sources: Sources) -> str:
    return input_hash({"key": binding.key, "values": hashed_values(binding, sources)})


def test_the_hash_is_the_sha256_of_the_canonical_key_and_values() -> None:
    flow = Flow("hashes")

    @flow.phase()
    async def plan() -> dict[str, Any]:
        return {}

    @flow.phase()
    async def write(plan: Any, brief: str, client: object, ctx: PhaseContext, n: int = 3) -> int:
        return n

    @flow.phase()
    async def __pf__(plan: Any) -> None:
        return None

    @flow.phase()
    async def tagged(__pf__: Any) -> None:  # values with the codec's tag as a key
        return None

    outputs = {
        "plan": {"z": [1, (2, 3.5)], "b": {4, 5}, 3: "x", "page": Page(title="é", tags={"b", "a"})},
        "write": 1,
        "__pf__": None,
    }
    inputs = {"brief": "owls ü \u2028", "unused": [1]}
    services = {"client": object()}
    sources = Sources(outputs, inputs, services)
    hashes = InputHashes(sources)
    for key, args in (("plan", {}), ("write", {}), ("tagged", {}), ("write[x]", {"n": 7})):
        spec = flow.phases[key.split("[")[0]]
        binding = bind(key, spec, "phase", spec.deps(flow.phases), args, inputs, services)
        assert hashes.of(binding) == documented(binding, sources), key
        assert checkpoint_hash(binding, sources) == documented(binding, sources), key
        assert hashes.of(binding) == documented(binding, sources), key  # from what it shared


def test_the_hash_changes_with_any_input() -> None:
    flow = Flow("hashes")

    @flow.phase()
    async def plan() -> int:
        return 1

    @flow.phase()
    async def write(plan: int, brief: str) -> int:
        return plan

    spec = flow.phases["write"]
    binding = bind("write", spec, "phase", ("plan",), {}, {"brief": "a"}, {})
    seen = {
        InputHashes(Sources(outputs, {"brief": brief}, {})).of(binding)
        for outputs, brief in (({"plan": 1}, "a"), ({"plan": 2}, "a"), ({"plan": 1}, "b"))
    }
    assert len(seen) == 3
