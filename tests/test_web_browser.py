"""The dashboard in headless Chromium: a run started from the form, watched to N/N; a socket
cut mid-run that ends with the same Gantt as an undisturbed client's; no console error.

Screenshots go to test-artifacts/ (gitignored); docs/img/web-run.png in the README is one of
them, made smaller.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest

from browser_support import ARGS, ARTIFACTS, BROWSER_MARKS, CHROMIUM
from web_support import Server, serve

TIMEOUT_MS = 60_000

pytestmark = BROWSER_MARKS


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    with serve(tmp_path_factory.mktemp("web-browser")) as running:
        yield running


@pytest.fixture
def browser() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        launched = pw.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        try:
            yield launched
        finally:
            launched.close()


class Console:
    """Console errors and uncaught exceptions of the pages of one context."""

    def __init__(self) -> None:
        self.errors: list[str] = []

    def watch(self, page: Any) -> Any:
        page.on("console", lambda m: self.errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda exc: self.errors.append(f"uncaught: {exc}"))
        page.set_default_timeout(TIMEOUT_MS)
        return page


def wait_finished(page: Any) -> None:
    page.wait_for_function(
        "() => window.phasefarmRun && window.phasefarmRun.state.finished", timeout=TIMEOUT_MS
    )


def gantt(page: Any) -> dict[str, Any]:
    return page.evaluate(
        """() => {
            const run = window.phasefarmRun;
            return {
                snapshot: run.gantt.snapshot(),
                total: run.gantt.total,
                kn: document.getElementById('kn').textContent,
                status: run.state.status,
                bars: [...document.querySelectorAll('#gantt .bar')].map(
                    b => [b.dataset.key, b.dataset.status]),
                events: run.state.events, lastSeq: run.state.lastSeq,
                duplicates: run.state.duplicates, gaps: run.state.gaps,
                reconnects: run.state.reconnects,
            };
        }"""
    )


def test_start_from_the_form_and_watch_it_finish(server: Server, browser: Any):
    console = Console()
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = console.watch(context.new_page())
    page.goto(server.url)
    assert page.url == f"{server.base}/"  # the token left the address bar for a cookie
    page.wait_for_selector("#job option[value=website]", state="attached")
    page.select_option("#job", "website")
    page.fill("#brief", "A sourdough bakery in Lisbon")
    page.select_option("select[name=mode]", "waves")
    page.fill("input[name=time_scale]", "0.05")
    page.fill("#size", "3")
    page.click("button[type=submit]")
    page.wait_for_url("**/runs/website-*")
    # live: bars appear while the run goes, before it has finished
    page.wait_for_selector("#gantt .bar.running")
    wait_finished(page)
    seen = gantt(page)
    total = seen["total"]
    assert total > 30
    assert seen["kn"] == f"{total}/{total}"
    assert seen["status"] == "succeeded"
    assert len(seen["bars"]) == total
    assert all(status == "succeeded" for _, status in seen["bars"]), seen["bars"]
    assert (seen["duplicates"], seen["gaps"]) == (0, 0)
    assert page.locator(".divider").count() >= 3  # waves mode: wave dividers drawn
    assert page.locator(".bar.critical").count() >= 1
    assert page.locator(".lane.item").count() >= 10  # map items grouped under their map
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "web-run.png"), full_page=True)
    # the generated site, served from the run's own folder
    with page.expect_popup() as popup_info:
        page.click("text=generated site")
    site = popup_info.value
    site.wait_for_load_state()
    assert site.title()
    assert "/files/" in site.url
    # back on the runs page the run is listed as succeeded, N/N
    runs = console.watch(context.new_page())
    runs.goto(f"{server.base}/")
    row = runs.locator("#runs tbody tr", has_text=page.url.rsplit("/", 1)[1])
    row.wait_for()
    assert row.get_attribute("data-status") == "succeeded"
    assert f"{total}/{total}" in row.inner_text()
    runs.screenshot(path=str(ARTIFACTS / "web-runs.png"), full_page=True)
    context.close()
    # the generated site's own console is the website job's business (tested there)
    assert console.errors == []


def test_cut_socket_ends_with_the_same_gantt(server: Server, browser: Any):
    console = Console()
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = console.watch(context.new_page())
    page.goto(server.url)
    run_id = server.start(job="website", time_scale="0.1", size="4")
    page.goto(f"{server.base}/runs/{run_id}")
    page.wait_for_function("() => window.phasefarmRun.gantt.counts().succeeded >= 3")
    page.evaluate("window.phasefarmRun.pause()")  # the socket is cut: no event reaches the page
    paused_at = page.evaluate("window.phasefarmRun.state.lastSeq")
    # mid-run: the page had not seen the end (the run takes ~40 seed-s x 0.1 s, the page
    # paused after the first ~10 seed-s)
    assert page.evaluate("window.phasefarmRun.state.status") == "running"
    # the run goes on without the page: wait until it has gone well past what the page saw
    deadline = time.monotonic() + 60
    while server.run(run_id)["done"] < 15 and server.run(run_id)["status"] == "running":
        assert time.monotonic() < deadline, "the run did not progress"
        time.sleep(0.05)
    assert page.evaluate("window.phasefarmRun.state.lastSeq") == paused_at
    assert page.locator("#connection").inner_text() == "paused"
    page.evaluate("window.phasefarmRun.resume()")
    wait_finished(page)
    cut = gantt(page)
    # an undisturbed client: the finished run replayed from the store
    other = console.watch(context.new_page())
    other.goto(f"{server.base}/runs/{run_id}")
    wait_finished(other)
    whole = gantt(other)
    context.close()
    assert cut["reconnects"] >= 1 and cut["lastSeq"] > paused_at
    assert cut["snapshot"] == whole["snapshot"]
    assert cut["bars"] == whole["bars"]
    assert cut["kn"] == whole["kn"] == f"{whole['total']}/{whole['total']}"
    assert cut["events"] == whole["events"] == whole["lastSeq"] + 1
    assert (cut["duplicates"], cut["gaps"], whole["duplicates"], whole["gaps"]) == (0, 0, 0, 0)
    assert console.errors == []


def test_cancel_from_the_run_page(server: Server, browser: Any):
    console = Console()
    context = browser.new_context()
    page = console.watch(context.new_page())
    page.goto(server.url)
    run_id = server.start(job="demo", time_scale="1")
    page.goto(f"{server.base}/runs/{run_id}")
    page.wait_for_selector("#gantt .bar.running")
    page.click("#cancel")
    wait_finished(page)
    assert page.evaluate("window.phasefarmRun.state.status") == "cancelled"
    assert page.locator("#gantt .bar.cancelled").count() >= 1
    assert server.run(run_id)["status"] == "cancelled"
    context.close()
    assert console.errors == []


def test_failures_retries_and_waits_on_the_bars(server: Server, browser: Any):
    """A run executed elsewhere (here: this process, into the server's store) with a
    rate-limit wait, a retry, a failure and a skipped phase, as the run page draws it."""
    import asyncio

    from phasefarm import Flow, PhaseContext
    from phasefarm.store.url import open_store

    flow = Flow("shapes")
    tries = {"n": 0}

    @flow.phase()
    async def waits(ctx: PhaseContext) -> int:
        await asyncio.sleep(0.05)
        ctx.emit("limiter.wait", key="k0", seconds=0.05)
        return 1

    @flow.phase(retries=1, backoff=0.0)
    async def flaky(waits: int) -> int:
        tries["n"] += 1
        if tries["n"] == 1:
            raise RuntimeError("first try fails")
        return 2

    @flow.phase()
    async def broken(waits: int) -> int:
        raise ValueError("always fails")

    @flow.phase()
    async def after_broken(broken: int) -> int:
        return broken

    def run() -> None:  # in a thread: Playwright's sync API holds this thread's event loop
        store = open_store(server.store)
        try:
            results.append(flow.run_sync(store=store, run_id="shapes-1"))
        finally:
            store.close()

    results: list[Any] = []
    worker = threading.Thread(target=run)
    worker.start()
    worker.join(timeout=60)
    assert results and results[0].status == "failed"
    console = Console()
    context = browser.new_context(viewport={"width": 1100, "height": 600})
    page = console.watch(context.new_page())
    page.goto(server.url)
    page.goto(f"{server.base}/runs/shapes-1")
    wait_finished(page)
    seen = gantt(page)
    assert dict(seen["bars"]) == {
        "waits": "succeeded",
        "flaky": "succeeded",
        "broken": "failed",
        "after_broken": "skipped",
    }
    assert seen["kn"] == "2/4"
    assert page.locator("#bad").inner_text() == "1 failed · 1 skipped"
    assert page.locator("#status").inner_text() == "failed"
    lane = page.locator(".lane", has=page.locator(".bar[data-key=waits]"))
    assert lane.locator(".wait").count() == 1
    lane = page.locator(".lane", has=page.locator(".bar[data-key=flaky]"))
    assert lane.locator(".retry").count() == 1
    assert page.locator("#log li.phase-failed").count() == 1
    assert page.locator("#cancel").is_hidden()  # not executed by this server
    page.screenshot(path=str(ARTIFACTS / "web-run-failures.png"))
    context.close()
    assert console.errors == []
