"""The website job end to end with the offline provider: the site it writes, and what it
refuses. Every test builds a real site with the real engine, LLM layer, renderer and check."""

from __future__ import annotations

import re
import shutil
import xml.etree.ElementTree as ET
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest

from phasefarm.engine.events import Event
from phasefarm.llm import OfflineRequest
from phasefarm.pipelines.website.checks import check_site, scan_page
from phasefarm.pipelines.website.offline import responders
from phasefarm.pipelines.website.profile import WebsiteSettings
from phasefarm.pipelines.website.publish import DRAFT_PREFIX, MANIFEST
from website_support import build_site, failures, tree


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("site")
    result = build_site(out)
    assert result.status == "succeeded", failures(result)
    return out


SAFE_ATTRIBUTES = {
    "lang", "charset", "name", "content", "property", "rel", "href", "type", "class", "id",
    "aria-label", "aria-current", "src", "alt", "width", "height", "loading",
}  # fmt: skip


def attribute_names(html: str) -> set[str]:
    """Every attribute name the browser would see (an injected onmouseover would be one)."""
    names: set[str] = set()

    class Collect(HTMLParser):
        def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
            names.update(name for name, _ in attrs)

    Collect().feed(html)
    return names


def pages_of(out: Path) -> list[Path]:
    return sorted(out.glob("*.html"))


def test_the_site_has_every_file(site: Path) -> None:
    files = set(tree(site))
    assert {"index.html", "about.html", "services.html", "contact.html"} <= files
    assert {"assets/style.css", "sitemap.xml", "robots.txt", "favicon.svg", MANIFEST} <= files
    assert sorted(f for f in files if f.startswith("images/")) == [
        f"images/image-{n:02d}.png" for n in range(1, 11)
    ]
    assert not list(site.glob(f"{DRAFT_PREFIX}*"))
    assert check_site(site) == []


def test_each_page_has_its_own_seo(site: Path) -> None:
    seen: dict[str, set[str]] = {"title": set(), "description": set()}
    for page in pages_of(site):
        scan = scan_page(page.read_text())
        assert scan.title and scan.meta["description"]
        assert scan.meta["og:title"] and scan.meta["og:description"]
        assert scan.meta["og:url"].startswith("https://")
        assert scan.meta["og:image"].startswith("https://")
        assert scan.meta["viewport"] == "width=device-width, initial-scale=1"
        seen["title"].add(scan.title)
        seen["description"].add(scan.meta["description"])
    assert len(seen["title"]) == len(seen["description"]) == len(pages_of(site))


def test_every_page_links_to_every_page_and_images_have_alt(site: Path) -> None:
    names = {p.name for p in pages_of(site)}
    images_shown = set()
    for page in pages_of(site):
        scan = scan_page(page.read_text())
        hrefs = {url for where, url in scan.refs if where == "a.href"}
        assert names <= hrefs
        assert not scan.images_without_alt
        images_shown |= {url for where, url in scan.refs if where == "img.src"}
        assert all(not url.startswith("/") for _, url in scan.refs)  # works from disk
    assert len(images_shown) == 10


def test_the_stylesheet_is_responsive_and_uses_the_palette(site: Path) -> None:
    css = (site / "assets" / "style.css").read_text()
    assert re.search(r"@media \(max-width: \d+px\)", css)
    colours = re.findall(r"--\w+: (#[0-9a-f]{6});", css)
    assert len(colours) == 7


def test_sitemap_and_robots(site: Path) -> None:
    root = ET.parse(site / "sitemap.xml").getroot()
    locs = [el.text for el in root.iter("{http://www.sitemaps.org/schemas/sitemap/0.9}loc")]
    assert len(locs) == len(pages_of(site))
    robots = (site / "robots.txt").read_text()
    assert "User-agent: *" in robots and "Sitemap: https://" in robots


def test_the_content_is_about_the_brief(site: Path, tmp_path: Path) -> None:
    home = (site / "index.html").read_text()
    assert "Massa Mãe" in home and "Lisbon" in home
    other = tmp_path / "other"
    result = build_site(other, brief="A yoga studio in Porto for beginners and seniors")
    assert result.status == "succeeded", failures(result)
    text = (other / "index.html").read_text()
    assert "Porto" in text and "Massa" not in text
    assert tree(other)["assets/style.css"] != tree(site)["assets/style.css"]


@pytest.mark.parametrize(("pages", "images"), [(1, 0), (2, 3), (9, 12)])
def test_page_and_image_counts(tmp_path: Path, pages: int, images: int) -> None:
    result = build_site(tmp_path, pages=pages, images=images)
    assert result.status == "succeeded", failures(result)
    assert len(pages_of(tmp_path)) == pages
    assert len(list((tmp_path / "images").glob("*.png")) if images else []) == images
    assert check_site(tmp_path) == []


def test_same_brief_same_site_in_every_mode(site: Path, tmp_path: Path) -> None:
    expected = tree(site)
    for mode in ("sequential", "waves"):
        out = tmp_path / mode
        result = build_site(out, mode=mode)
        assert result.status == "succeeded", failures(result)
        assert tree(out) == expected, mode


def test_model_copy_is_escaped_never_executed(tmp_path: Path) -> None:
    evil = '<script>alert(1)</script> {{ 7*7 }} {% x %} " onmouseover="x'  # <= 70 characters
    settings = WebsiteSettings()
    base = responders(settings)

    def poisoned(task: str) -> Any:
        def answer(req: OfflineRequest) -> Any:
            data = base[task](req)
            for key in ("heading", "intro", "title", "description", "alt", "tagline", "brand"):
                if key in data:
                    data[key] = evil  # in place of the copy: within every maxLength
            for listed in ("items", "images"):
                for entry in data.get(listed, []):
                    for key in ("title", "text", "alt"):
                        if key in entry:
                            entry[key] = evil
            return data

        return answer

    tasks = ("section_copy", "page_seo", "image_plan", "site_chrome")
    result = build_site(tmp_path, responders={**base, **{t: poisoned(t) for t in tasks}})
    assert result.status == "succeeded", failures(result)
    for page in pages_of(tmp_path):
        html = page.read_text()
        assert "<script" not in html
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
        assert "{{ 7*7 }}" in html and "49" not in html
        assert 'onmouseover="x' not in html
        scan = scan_page(html)
        assert scan.errors == []
        assert attribute_names(html) <= SAFE_ATTRIBUTES


def test_model_paths_never_leave_out(tmp_path: Path) -> None:
    settings = WebsiteSettings()
    base = responders(settings)

    def escaping_plan(req: OfflineRequest) -> Any:
        data = base["page_plan"](req)
        slugs = ["../../escape", "/etc/passwd", "../about", "about"]
        for page, slug in zip(data["pages"], slugs, strict=True):
            page["slug"] = slug
        return data

    out = tmp_path / "out"
    result = build_site(out, responders={**base, "page_plan": escaping_plan})
    assert result.status == "succeeded", failures(result)
    files = set(tree(out))
    assert {"index.html", "etc-passwd.html", "about.html", "about-2.html"} <= files
    assert [p.name for p in tmp_path.iterdir()] == ["out"]  # nothing written beside it


def test_a_path_with_no_name_is_refused_as_bad_output(tmp_path: Path) -> None:
    base = responders(WebsiteSettings())

    def dots(req: OfflineRequest) -> Any:
        data = base["page_plan"](req)
        data["pages"][1]["slug"] = "../.."
        return data

    out = tmp_path / "out"
    result = build_site(out, responders={**base, "page_plan": dots})
    assert result.status == "failed"
    assert result.phases["page_plan"].error.startswith("BadOutput")
    assert "empty slug" in result.phases["page_plan"].error
    assert result.phases["check"].status == "skipped"
    assert not out.exists() or not any(out.iterdir())
    assert [p.name for p in tmp_path.iterdir()] in ([], ["out"])


def test_a_site_that_fails_its_check_fails_the_run_and_is_not_published(tmp_path: Path) -> None:
    out = tmp_path / "out"

    def break_draft(event: Event) -> None:
        # a broken disk (or a renderer bug) between assembly and check
        if event.kind == "phase.succeeded" and event.phase == "assemble":
            draft = next(out.glob(f"{DRAFT_PREFIX}*"))
            (draft / "images" / "image-03.png").unlink()
            (draft / "about.html").write_text("<html><body><div></body></html>")

    result = build_site(out, on_event=break_draft)
    assert result.status == "failed"
    assert result.phases["check"].status == "failed"
    error = result.phases["check"].error or ""
    assert "images/image-03.png: missing" in error
    assert "about.html: content differs from what was rendered" in error
    assert "about.html: <div> is not closed" in error
    assert not (out / "index.html").exists()  # nothing passed off as done
    assert len(list(out.glob(f"{DRAFT_PREFIX}*"))) == 1


def test_check_site_names_each_problem(site: Path, tmp_path: Path) -> None:
    broken = tmp_path / "broken"
    shutil.copytree(site, broken)
    (broken / "images" / "image-02.png").unlink()
    about = broken / "about.html"
    about.write_text(
        re.sub(r'href="contact\.html[^"]*"', 'href="nowhere.html"', about.read_text())
        .replace('alt="', 'data-alt="', 1)
        .replace("</main>", "<div></main>", 1)
        .replace('href="assets/style.css"', 'href="/assets/style.css"', 1)
    )
    (broken / "services.html").write_text(
        (broken / "services.html").read_text().replace("#section-2-contact", "#nope", 1)
    )
    problems = check_site(broken)
    joined = "\n".join(problems)
    assert "nowhere.html' is broken" in joined
    assert "has no alt text" in joined
    assert "<div> is not closed" in joined
    assert "'/assets/style.css' points outside the site" in joined
    assert "no element with id 'nope'" in joined
    assert "images/image-02.png" in joined
    assert "about.html: no link to contact.html" in joined
