"""Headless Chromium opens every generated page, over HTTP and from disk.

No console error, no failed request, every image decoded, the stylesheet applied, the
navigation reaching every page, and the layout fitting a phone. Screenshots are kept in
test-artifacts/ (gitignored) for a human to look at.
"""

from __future__ import annotations

import functools
import http.server
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from browser_support import ARGS, ARTIFACTS, BROWSER_MARKS, CHROMIUM, on_request_failed
from website_support import build_site, failures

pytestmark = BROWSER_MARKS


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        return None


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("browser-site")
    result = build_site(out, pages=4, images=6)
    assert result.status == "succeeded", failures(result)
    return out


@pytest.fixture(scope="module")
def server(site: Path) -> Iterator[str]:
    handler = functools.partial(QuietHandler, directory=str(site))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}/"
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=5)


def test_every_page_in_chromium(site: Path, server: str) -> None:
    from playwright.sync_api import sync_playwright

    ARTIFACTS.mkdir(exist_ok=True)
    pages = sorted(p.name for p in site.glob("*.html"))
    problems: list[str] = []
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        try:
            context = browser.new_context(viewport={"width": 1280, "height": 900})
            page = context.new_page()
            page.on(
                "console",
                lambda m: (
                    problems.append(f"console {m.type}: {m.text}")
                    if m.type in ("error", "warning")
                    else None
                ),
            )
            page.on("pageerror", lambda e: problems.append(f"page error: {e}"))
            page.on("requestfailed", on_request_failed(problems))
            page.on(
                "response",
                lambda r: problems.append(f"HTTP {r.status}: {r.url}") if r.status >= 400 else None,
            )

            for name in pages:
                page.goto(server + name, wait_until="load")
                assert page.title(), name
                # lazy images load when near the viewport: bring each one there, then wait
                page.evaluate("Array.from(document.images).forEach(i => i.scrollIntoView())")
                page.wait_for_function(
                    "Array.from(document.images).every(i => i.complete)", timeout=10_000
                )
                broken = page.evaluate(
                    "Array.from(document.images)"
                    ".filter(i => !i.complete || i.naturalWidth === 0).map(i => i.src)"
                )
                assert broken == [], (name, broken)
                nav = page.eval_on_selector_all("nav[aria-label=Main] a", "as => as.length")
                assert nav == len(pages)
            page.goto(server, wait_until="load")
            page.screenshot(path=str(ARTIFACTS / "website-desktop.png"), full_page=True)

            # the navigation really navigates: click through every entry from the home page
            labels = page.eval_on_selector_all(
                "nav[aria-label=Main] a",
                "as => as.map(a => [a.textContent, a.getAttribute('href')])",
            )
            for label, href in labels:
                page.goto(server + "index.html", wait_until="load")
                page.click(f"nav[aria-label=Main] a[href='{href}']")
                page.wait_for_load_state("load")
                assert page.url == server + href, label
                current = page.get_attribute("nav[aria-label=Main] a[aria-current=page]", "href")
                assert current == href

            # a phone: the stylesheet's media query stacks the layout, nothing overflows
            phone = browser.new_context(viewport={"width": 375, "height": 740}, is_mobile=True)
            mobile = phone.new_page()
            mobile.on("console", lambda m: problems.append(f"mobile console {m.type}: {m.text}"))
            for name in pages:
                mobile.goto(server + name, wait_until="load")
                overflow = mobile.evaluate(
                    "document.documentElement.scrollWidth - document.documentElement.clientWidth"
                )
                assert overflow <= 0, (name, overflow)
            mobile.goto(server, wait_until="load")
            mobile.screenshot(path=str(ARTIFACTS / "website-phone.png"), full_page=True)

            # opened from disk: relative links, the stylesheet and the images still work
            disk = context.new_page()
            disk.on("requestfailed", on_request_failed(problems, "disk request failed"))
            disk.goto((site / "about.html").as_uri(), wait_until="load")
            styled = disk.evaluate("getComputedStyle(document.body).fontSize")
            assert styled != "16px" or (site / "assets/style.css").read_text().count("16px") > 0
            width = disk.evaluate("getComputedStyle(document.querySelector('.container')).maxWidth")
            assert width.endswith("px") and width != "none"
            disk.evaluate("Array.from(document.images).forEach(i => i.scrollIntoView())")
            disk.wait_for_function(
                "Array.from(document.images).every(i => i.complete)", timeout=10_000
            )
            assert disk.evaluate("Array.from(document.images).every(i => i.naturalWidth > 0)")
            disk.click("nav[aria-label=Main] a[href='index.html']")
            disk.wait_for_load_state("load")
            assert disk.url == (site / "index.html").as_uri()
        finally:
            browser.close()
    assert problems == []
    assert (ARTIFACTS / "website-desktop.png").stat().st_size > 10_000


# What instructions to a model look like when they leak into a page, and what the old offline
# copy showed visitors: none may appear in visible text.
BANNED = (
    "Say in one line", "invite the first step", "Rank for", "searches in", "Three concrete",
    "Answer the questions", "One clear next step", "How and where to reach us",
    "Words from real customers", "Pictures of the work itself", "A few numbers that prove",
    "Write the", "Describe the", "Plan exactly", "Choose the", "placeholder", "lorem ipsum",
    "TODO", "{{", "}}", "…",
)  # fmt: skip
BRIEFS = {
    "food": "A sourdough bakery in Montréal called Pain Doré, with a small café",
    "health": "A family dental clinic in Osaka",
    "professional": "A law firm in São Paulo called Ferreira & Lima, for small businesses",
    "generic": "Handmade ceramics and pottery classes in Zürich",
}


def test_four_briefs_read_like_four_different_sites(tmp_path: Path) -> None:
    from playwright.sync_api import sync_playwright

    texts: dict[str, str] = {}
    problems: list[str] = []
    for kind, brief in BRIEFS.items():  # built first: playwright's sync API runs a loop
        result = build_site(tmp_path / kind, brief=brief, pages=4, images=6)
        assert result.status == "succeeded", failures(result)
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            page.on("console", lambda m: problems.append(f"console {m.type}: {m.text}"))
            page.on("pageerror", lambda e: problems.append(f"page error: {e}"))
            for kind in BRIEFS:
                out = tmp_path / kind
                visible = []
                for html in sorted(out.glob("*.html")):
                    page.goto(html.as_uri(), wait_until="load")
                    page.evaluate("Array.from(document.images).forEach(i => i.scrollIntoView())")
                    page.wait_for_function(
                        "Array.from(document.images).every(i => i.complete)", timeout=10_000
                    )
                    visible.append(page.inner_text("body"))
                    # drawn at the size shown: no picture is stretched wider than its pixels
                    stretched = page.evaluate(
                        "Array.from(document.images)"
                        ".filter(i => i.clientWidth > i.naturalWidth).map(i => i.src)"
                    )
                    assert stretched == [], (kind, html.name, stretched)
                texts[kind] = "\n".join(visible)
        finally:
            browser.close()
    assert problems == []
    for kind, text in texts.items():
        found = [phrase for phrase in BANNED if phrase.lower() in text.lower()]
        assert found == [], (kind, found)
    assert "Montréal" in texts["food"] and "Pain Doré" in texts["food"]
    assert "São Paulo" in texts["professional"] and "Ferreira & Lima" in texts["professional"]
    assert "Gift cards" not in texts["health"] and "appointment" in texts["health"].lower()
    # different briefs, visibly different sites: most lines of one are not in another
    lines = {k: set(t.splitlines()) for k, t in texts.items()}
    for a in lines:
        for b in lines:
            if a < b:
                shared = lines[a] & lines[b]
                assert len(shared) < 0.3 * min(len(lines[a]), len(lines[b])), (a, b, shared)
