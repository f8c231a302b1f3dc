"""The site check: what the `check` phase verifies before a site is published.

`check_site(root)` reads a site folder and returns its problems as one line each (an empty
list means the site is sound): every page parses with balanced tags and has a title, a
description and a viewport; every internal link, fragment, stylesheet and image resolves to a
file inside the site; every image has alt text and is a real PNG; every page links to every
other page; the sitemap parses and lists only existing pages.
"""

from __future__ import annotations

import hashlib
import posixpath
import re
import xml.etree.ElementTree as ET
from collections.abc import Mapping
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urlsplit

__all__ = ["PageScan", "check_site", "scan_page"]

VOID = frozenset(
    ("area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "param",
     "source", "track", "wbr")
)  # fmt: skip
# Elements whose end tag HTML lets you leave out; a page we generate never does, but the
# parser must not call a hand-written page broken for it.
OPTIONAL_END = frozenset(
    ["p", "li", "dt", "dd", "option", "tr", "td", "th", "thead", "tbody", "tfoot"]
)
_PNG = b"\x89PNG\r\n\x1a\n"
_CSS_URL = re.compile(r"url\(\s*['\"]?([^'\")]+)['\"]?\s*\)")


class PageScan(HTMLParser):
    """Collects what the check needs from one HTML page."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.stack: list[str] = []
        self.errors: list[str] = []
        self.refs: list[tuple[str, str]] = []  # (tag.attr, url)
        self.ids: set[str] = set()
        self.images_without_alt: list[str] = []
        self.meta: dict[str, str] = {}
        self.title: str | None = None
        self.doctype = False
        self._in_title = False

    def handle_decl(self, decl: str) -> None:
        if decl.lower().startswith("doctype"):
            self.doctype = True

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {name: value or "" for name, value in attrs}
        if "id" in values:
            if values["id"] in self.ids:
                self.errors.append(f"duplicate id {values['id']!r}")
            self.ids.add(values["id"])
        for attr in ("href", "src"):
            if attr in values and tag in {"a", "link", "img", "script", "source", "iframe"}:
                self.refs.append((f"{tag}.{attr}", values[attr]))
        if tag == "img" and not values.get("alt", "").strip():
            self.images_without_alt.append(values.get("src", "?"))
        if tag == "meta":
            key = values.get("name") or values.get("property")
            if key:
                self.meta[key] = values.get("content", "")
        if tag == "title":
            self._in_title = True
            self.title = ""
        if tag not in VOID:
            self.stack.append(tag)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.handle_starttag(tag, attrs)
        if tag not in VOID and self.stack and self.stack[-1] == tag:
            self.stack.pop()

    def handle_endtag(self, tag: str) -> None:
        if tag == "title":
            self._in_title = False
        if tag in VOID:
            return
        if tag not in self.stack:
            self.errors.append(f"end tag </{tag}> without a start tag")
            return
        while self.stack:
            top = self.stack.pop()
            if top == tag:
                break
            if top not in OPTIONAL_END:
                self.errors.append(f"<{top}> is not closed before </{tag}>")

    def handle_data(self, data: str) -> None:
        if self._in_title and self.title is not None:
            self.title += data

    def finish(self) -> None:
        self.close()
        left = [t for t in self.stack if t not in OPTIONAL_END]
        if left:
            self.errors.append(f"unclosed element(s) at end of page: {', '.join(left)}")


def scan_page(text: str) -> PageScan:
    scan = PageScan()
    scan.feed(text)
    scan.finish()
    return scan


def _is_external(url: str) -> bool:
    parts = urlsplit(url)
    return bool(parts.scheme or parts.netloc)


def _target(page: str, url: str) -> tuple[str | None, str]:
    """(site-relative path or None if it leaves the site, fragment) for an internal link."""
    parts = urlsplit(url)
    fragment = unquote(parts.fragment)
    if not parts.path:
        return page, fragment
    if parts.path.startswith("/"):
        return None, fragment  # root-relative links break when the site is opened from disk
    joined = posixpath.normpath(posixpath.join(posixpath.dirname(page), unquote(parts.path)))
    if joined.startswith("../") or joined == "..":
        return None, fragment
    # `joined` is then compared with the files found under root, so it needs no resolve().
    return joined, fragment


def check_site(root: Path, expected: Mapping[str, str] | None = None) -> list[str]:
    """Problems of the site in `root`, one line each; [] when it is sound.

    `expected` maps relative paths to sha256 hex digests: each must exist with that content
    (a file cut short by a crash is a problem, not a page).
    """
    problems: list[str] = []
    if not root.is_dir():
        return [f"site folder {root} does not exist"]
    files = {p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file()}

    for path, digest in sorted((expected or {}).items()):
        if path not in files:
            problems.append(f"{path}: missing")
        elif hashlib.sha256((root / path).read_bytes()).hexdigest() != digest:
            problems.append(f"{path}: content differs from what was rendered")

    pages = sorted(f for f in files if f.endswith(".html"))
    if "index.html" not in files:
        problems.append("index.html: missing")
    scans: dict[str, PageScan] = {}
    for page in pages:
        try:
            text = (root / page).read_text(encoding="utf-8")
        except UnicodeDecodeError:
            problems.append(f"{page}: not UTF-8")
            continue
        scan = scan_page(text)
        scans[page] = scan
        problems.extend(f"{page}: {error}" for error in scan.errors)
        if not scan.doctype:
            problems.append(f"{page}: no <!doctype html>")
        if not (scan.title or "").strip():
            problems.append(f"{page}: no <title>")
        for key in ("description", "viewport", "og:title", "og:description"):
            if not scan.meta.get(key, "").strip():
                problems.append(f"{page}: no <meta {key}>")
        problems.extend(f"{page}: image {src!r} has no alt text" for src in scan.images_without_alt)

    images: set[str] = set()
    for page, scan in scans.items():
        linked: set[str] = set()
        for where, url in scan.refs:
            if not url.strip():
                problems.append(f"{page}: empty {where}")
                continue
            if _is_external(url):
                continue
            target, fragment = _target(page, url)
            if target is None:
                problems.append(f"{page}: {where} {url!r} points outside the site")
                continue
            if target not in files:
                problems.append(f"{page}: {where} {url!r} is broken ({target} does not exist)")
                continue
            if where.startswith("img."):
                images.add(target)
            if where == "a.href":
                linked.add(target)
            if fragment and target in scans and fragment not in scans[target].ids:
                problems.append(f"{page}: {where} {url!r}: no element with id {fragment!r}")
        for other in pages:
            if other != page and other not in linked:
                problems.append(f"{page}: no link to {other}")

    for image in sorted(images):
        if not (root / image).read_bytes().startswith(_PNG):
            problems.append(f"{image}: not a PNG image")

    for css in sorted(f for f in files if f.endswith(".css")):
        text = (root / css).read_text(encoding="utf-8")
        for url in _CSS_URL.findall(text):
            if url.startswith("data:") or _is_external(url):
                continue
            target, _ = _target(css, url)
            if target is None or target not in files:
                problems.append(f"{css}: url({url}) is broken")

    if "sitemap.xml" not in files:
        problems.append("sitemap.xml: missing")
    else:
        try:
            tree = ET.parse(root / "sitemap.xml")
        except ET.ParseError as exc:
            problems.append(f"sitemap.xml: does not parse ({exc})")
        else:
            ns = "{http://www.sitemaps.org/schemas/sitemap/0.9}"
            locs = [(el.text or "").strip() for el in tree.getroot().iter(f"{ns}loc")]
            if len(locs) != len(pages):
                problems.append(f"sitemap.xml: lists {len(locs)} URLs for {len(pages)} pages")
            for loc in locs:
                path = urlsplit(loc).path.lstrip("/") or "index.html"
                if path not in files:
                    problems.append(f"sitemap.xml: {loc} is not a page of the site")
    if "robots.txt" not in files:
        problems.append("robots.txt: missing")
    return problems
