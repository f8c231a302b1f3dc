"""Defining flows: dependencies from parameter names, bad input refused before anything runs."""

from __future__ import annotations

import pytest

from phasefarm import Flow, GraphError, UsageError


def test_dependencies_come_from_parameter_names_and_needs() -> None:
    flow = Flow("f")

    @flow.phase()
    async def a(brief): ...

    @flow.phase(needs=["a"])
    async def b(): ...

    @flow.phase()
    def c(a, b, brief, llm, ctx, optional=3): ...

    assert flow.phases["c"].deps(flow.phases) == ("a", "b")
    assert flow.phases["b"].deps(flow.phases) == ("a",)
    flow.validate(inputs=["brief"], services=["llm"])


def test_not_a_callable_is_refused() -> None:
    flow = Flow("f")
    with pytest.raises(GraphError, match="must be a callable, got int"):
        flow.phase(42)


def test_duplicate_names_are_refused() -> None:
    flow = Flow("f")

    @flow.phase()
    async def a(): ...

    with pytest.raises(GraphError, match="duplicate phase name 'a'"):

        @flow.phase(name="a")
        async def other(): ...


def test_unknown_dependency_names_phase_missing_name_and_closest_names() -> None:
    flow = Flow("f")

    @flow.phase()
    async def design_context(): ...

    @flow.phase()
    async def layout(design_contxt): ...

    with pytest.raises(GraphError) as err:
        flow.run_sync()
    message = str(err.value)
    assert "'layout'" in message and "'design_contxt'" in message
    assert "did you mean 'design_context'" in message


def test_unknown_needs_is_reported_at_plan_time() -> None:
    flow = Flow("f")

    @flow.phase(needs=["nowhere"])
    async def a(): ...

    with pytest.raises(GraphError, match="'a' depends on 'nowhere'"):
        flow.plan()


def test_cycle_is_refused_at_definition_with_its_path() -> None:
    flow = Flow("f")

    @flow.phase()
    async def a(c): ...

    @flow.phase()
    async def b(a): ...

    with pytest.raises(
        GraphError,
        match=r"cycle in phase dependencies: (a -> c -> b -> a|c -> b -> a -> c|b -> a -> c -> b)",
    ):

        @flow.phase()
        async def c(b): ...


def test_self_dependency_is_a_cycle() -> None:
    flow = Flow("f")
    with pytest.raises(GraphError, match="a -> a"):

        @flow.phase()
        async def a(a): ...


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"retries": -1}, "retries must be an integer >= 0"),
        ({"timeout": -5}, "timeout must be > 0"),
        ({"timeout": 0}, "timeout must be > 0"),
        ({"estimate": -1}, "estimate must be >= 0"),
        ({"pool": ""}, "pool must be a pool name"),
    ],
)
def test_bad_options_are_refused(options: dict, message: str) -> None:
    flow = Flow("f")
    with pytest.raises(GraphError, match=message):

        @flow.phase(**options)
        async def a(): ...


def test_unknown_pool_and_mode_fail_before_any_phase_runs() -> None:
    ran: list[str] = []
    flow = Flow("f", pools={"image": 5})

    @flow.phase()
    async def a():
        ran.append("a")

    @flow.phase(pool="gpu")
    async def b():
        ran.append("b")

    with pytest.raises(GraphError, match="unknown pool 'gpu' \\(known: default, image\\)"):
        flow.run_sync()
    del flow.phases["b"]
    with pytest.raises(UsageError, match="unknown mode 'fast'"):
        flow.run_sync(mode="fast")
    assert ran == []


def test_pool_sizes_must_be_positive() -> None:
    with pytest.raises(GraphError, match="at least 1"):
        Flow("f", pools={"image": 0})


def test_plan_waves_critical_path_and_estimates_from_the_simulated_scheduler() -> None:
    flow = Flow("site", pools={"image": 5})

    @flow.phase(estimate=10)
    async def design(brief): ...

    @flow.phase(estimate=8)
    async def layout(design): ...

    @flow.phase(estimate=9)
    async def style(design): ...

    @flow.phase(estimate=10)
    async def image_plan(layout): ...

    @flow.map("image_plan", pool="image", estimate=5, expect=10)
    async def images(item): ...

    @flow.phase(estimate=20)
    async def code(images, style): ...

    plan = flow.plan()
    assert plan.waves == [["design"], ["layout", "style"], ["image_plan"], ["images"], ["code"]]
    assert plan.critical_path == ["design", "layout", "image_plan", "images", "code"]
    assert plan.critical_path_s == 10 + 8 + 10 + 10 + 20
    assert plan.estimate("parallel") == 58
    assert plan.estimate("sequential") == 10 + 8 + 9 + 10 + 50 + 20
    assert plan.estimate("waves") == 10 + 9 + 10 + 10 + 20
    smaller = flow.plan(pools={"image": 2})
    assert smaller.estimate("parallel") == 10 + 8 + 10 + 25 + 20


def _params_by_inspect(fn):
    import inspect

    params = [
        p
        for p in inspect.signature(fn).parameters.values()
        if p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)
    ]
    return (
        tuple(p.name for p in params),
        frozenset(p.name for p in params if p.default is not p.empty),
    )


def test_phase_parameters_read_from_code_match_inspect_signature():
    import functools

    from phasefarm.engine.phases import signature_params

    def plain(a, b=1, *args, c, d=2, **kw):
        local = a
        return local

    async def only_defaults(x=1, y=None):
        z = x
        return z

    def keyword_only(*, k, m=3):
        return k

    def none():
        return None

    def decorator(fn):
        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            return fn(*args, **kwargs)

        return wrapper

    wrapped = decorator(plain)
    lam = lambda p, q=2: p  # noqa: E731
    for fn in (plain, only_defaults, keyword_only, none, wrapped, lam):
        assert signature_params(fn) == _params_by_inspect(fn), fn
    assert signature_params(plain) == (("a", "b", "c", "d"), frozenset({"b", "d"}))

    def positional(a, /, b):
        return a

    with pytest.raises(GraphError, match="positional-only parameter 'a'"):
        signature_params(positional)
