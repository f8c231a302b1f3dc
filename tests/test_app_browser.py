"""Headless Chromium runs the generated app from its preview: no console error, no failed
request, and the main view works (type, click, see the change); the other views too."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from app_support import build_app, failures
from browser_support import ARGS, BROWSER_MARKS, CHROMIUM, on_request_failed
from phasefarm.pipelines.app.deploy import PreviewServer

pytestmark = BROWSER_MARKS


@pytest.fixture(scope="module")
def preview_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    out = tmp_path_factory.mktemp("browser-app") / "app"
    result, _ = build_app(out)
    assert result.status == "succeeded", failures(result)
    with PreviewServer(out / "preview") as server:
        yield server.url


def wait(page: Any, condition: str) -> None:
    # polled on a timer: requestAnimationFrame polling (the default) stalled in this headless
    # setup even with the condition already true
    page.wait_for_function(condition, polling=100, timeout=15_000)


def test_the_app_runs_in_chromium_and_its_main_view_works(preview_url: str) -> None:
    from playwright.sync_api import sync_playwright

    problems: list[str] = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        try:
            page = browser.new_page()
            page.set_default_timeout(15_000)
            page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
            page.on("pageerror", lambda e: problems.append(str(e)))
            page.on("requestfailed", on_request_failed(problems, "failed"))
            page.on(
                "response",
                lambda r: problems.append(f"{r.status}: {r.url}") if r.status >= 400 else None,
            )
            page.goto(preview_url)
            # the main view, with the sample bookings of a first visit
            wait(page, "document.querySelectorAll('#items li').length === 3")
            assert page.locator("h1").inner_text() == "Booking Desk"
            samples = page.locator("#items li").count()
            assert samples == 3
            page.fill('input[name="title"]', "Beard trim for Rui")
            page.fill('input[name="date"]', "2026-05-04")
            page.click("form.add-form button[type=submit]")
            wait(page, "document.querySelectorAll('#items li').length === 4")
            assert "Beard trim for Rui" in page.locator("#items").inner_text()
            page.locator("#items li", has_text="Beard trim").locator("input[type=checkbox]").check()
            assert "done" in (
                page.locator("#items li", has_text="Beard trim").get_attribute("class") or ""
            )
            # the agenda: grouped by day, filtered by the search box
            page.click('a[data-view="agenda"]')
            wait(page, "document.querySelector('.agenda-day') !== null")
            page.fill("#search", "beard")
            wait(page, "document.querySelectorAll('.agenda-day li').length === 1")
            # the summary and the footer status line
            page.click('a[data-view="summary"]')
            wait(page, "document.getElementById('view').textContent.includes('1 done')")
            assert page.locator("#status").inner_text() == "1 of 4 bookings done"
            page.click("text=Toggle theme")
            assert page.evaluate("document.documentElement.dataset.theme") in ("dark", "light")
            # state survives a reload (localStorage)
            page.click('a[data-view="bookings"]')
            page.reload()
            wait(page, "document.querySelectorAll('#items li').length === 4")
            assert page.locator("#items li").count() == 4
        finally:
            browser.close()
    assert problems == []
