"""Phases that join a run while it goes: the items of a map, and phases added from templates.

A map phase is released twice. The first time it expands into one item phase per item of
its source's output (`images[0]`, `images[1]`...) and waits for them; the second time it
collects their outputs, in item order. `ctx.add_phase` adds a phase from a template registered
with `@flow.template()`; the addition is checkpointed, so a resume adds it again first.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from phasefarm.engine.binding import Binding, bind
from phasefarm.engine.flow import unknown_name
from phasefarm.engine.graph import NodeSpec
from phasefarm.engine.phase_task import describe
from phasefarm.engine.phases import check_options
from phasefarm.engine.result import PhaseRecord
from phasefarm.errors import GraphError
from phasefarm.store.base import AddedPhase

if TYPE_CHECKING:
    from phasefarm.engine.run import Run

__all__ = ["TEMPLATE_OPTIONS", "add_again", "add_phase", "advance_map", "new_record"]

TEMPLATE_OPTIONS = frozenset({"pool", "retries", "timeout", "priority", "estimate"})


def advance_map(run: Run, binding: Binding) -> None:
    """First release: expand into one item phase per item. Second: collect the results."""
    key, spec = binding.key, binding.spec
    record = run.records[key]
    item_keys = run.items.get(key)
    if item_keys is not None:
        results = [run.outputs.get(k) for k in item_keys]
        failed = [k for k in item_keys if run.records[k].status != "succeeded"]
        if failed and not spec.partial:
            run.complete(key, "skipped", None, f"items did not succeed: {', '.join(failed)}")
        else:
            run.complete(key, "succeeded", results, None)
        return
    record.started = time.perf_counter() - run.t0
    record.attempts = 1
    blocked = [d for d in binding.deps if run.records[d].status != "succeeded"]
    if blocked:  # only a partial map is released with a failed dependency
        run.complete(key, "skipped", None, f"{blocked[0]} did not succeed")
        return
    try:
        source = run.outputs[spec.over or ""]
        items = spec.items(source) if spec.items is not None else source
        if isinstance(items, str | bytes | Mapping) or not isinstance(items, Sequence):
            raise GraphError(
                f"map {key!r} needs a list of items from {spec.over!r}, got {type(items).__name__}"
            )
    except Exception as exc:
        run.complete(key, "failed", None, describe(exc))
        return
    item_keys = run.items[key] = [f"{key}[{i}]" for i in range(len(items))]
    level = run.scheduler.level(key)
    nodes = []
    inputs, services = run.sources.inputs, run.sources.services
    for index, (item_key, item) in enumerate(zip(item_keys, items, strict=True)):
        args = {"item": item, "index": index}
        run.bindings[item_key] = bind(item_key, spec, "item", binding.deps, args, inputs, services)
        run.records[item_key] = new_record(run, item_key)
        nodes.append(
            NodeSpec(item_key, binding.deps, spec.pool, spec.priority, spec.estimate, level=level)
        )
    run.scheduler.add(nodes)
    run.scheduler.defer(key, item_keys)
    run.emit("phase.started", key, {"attempt": 1, "items": len(item_keys)})


def add_phase(
    run: Run,
    adder: str,
    template: str,
    key: str | None,
    needs: Sequence[str],
    args: Mapping[str, Any],
    options: Mapping[str, Any],
    *,
    persist: bool = True,
) -> str:
    """Add a phase from `template`; returns its key. `persist=False` when a resume adds again
    what the store already holds."""
    spec = run.flow.templates.get(template)
    if spec is None:
        raise GraphError(
            unknown_name(adder, template, run.flow.templates).replace(
                "is not a phase, input or service", "is not a template of this flow"
            )
        )
    bad = sorted(set(options) - TEMPLATE_OPTIONS)
    if bad:
        raise GraphError(f"add_phase({template!r}): unknown option(s) {', '.join(bad)}")
    if key is None:
        count = run.adds.get(adder, 0)
        run.adds[adder] = count + 1
        key = f"{template}[{adder}.{count}]"
    existing = run.bindings.get(key)
    if existing is not None:
        if existing.kind == "template" and existing.spec.name == template:
            return key
        raise GraphError(f"duplicate phase key {key!r}")
    for dep in needs:
        if dep not in run.bindings:
            raise GraphError(unknown_name(key, dep, run.bindings))
    if options:
        spec = replace(spec, **options)
        check_options(key, spec.retries, spec.timeout, spec.estimate, spec.backoff)
    deps = list(needs)
    for param in spec.params:
        if param in run.flow.phases and param not in args and param not in deps:
            deps.append(param)
    binding = bind(
        key, spec, "template", tuple(deps), dict(args), run.sources.inputs, run.sources.services
    )
    settled = run.scheduler.add(
        [NodeSpec(key, binding.deps, spec.pool, spec.priority, spec.estimate)]
    )
    run.bindings[key] = binding
    run.records[key] = new_record(run, key)
    if persist and run.checkpoints is not None:
        run.checkpoints.added(
            AddedPhase(key, template, binding.deps, dict(args), dict(options), adder)
        )
    run.emit("phase.added", key, {"deps": binding.deps, "pool": spec.pool, "added_by": adder})
    for settled_key, status in settled:  # stopped, or a dependency had already ended badly
        if run.scheduler.stopped:
            reason = run.stop_reason_or("run stopped")
        else:
            ended = [d for d in binding.deps if run.records[d].status in ("failed", "skipped")]
            reason = f"{ended[0]} {run.records[ended[0]].status}" if ended else "cancelled"
        run.settle(settled_key, status, reason)
    if not settled and persist:
        run.pump()
    return key


def add_again(run: Run, added: Sequence[AddedPhase]) -> None:
    """A resumed run: the phases added during its earlier executions, first, in their order."""
    for phase in added:
        add_phase(
            run,
            phase.added_by,
            phase.template,
            phase.key,
            phase.needs,
            phase.args,
            phase.options,
            persist=False,
        )


def new_record(run: Run, key: str) -> PhaseRecord:
    """The record of a phase added during the run, its usage starting from what earlier
    executions of a resumed run spent on it."""
    return PhaseRecord(key, usage=dict(run.earlier_usage.get(key) or {}))
