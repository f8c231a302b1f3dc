"""Website job parts on their own: schemas, safe paths, the draft/publish cycle, the plan."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from pydantic import ValidationError

from phasefarm import BadOutput
from phasefarm.errors import UsageError
from phasefarm.pipelines.website.job import build_flow
from phasefarm.pipelines.website.offline import brief_facts
from phasefarm.pipelines.website.profile import WebsiteSettings, seed_latency
from phasefarm.pipelines.website.publish import (
    DRAFT_PREFIX,
    MANIFEST,
    inside,
    publish,
    recover_draft,
    write_draft,
)
from phasefarm.pipelines.website.schemas import PagePlan, PageSpec, SeoStrategy, slugify
from phasefarm.pipelines.website.steps import png_size
from phasefarm.store.codec import decode, encode


def page(slug: str, **extra: object) -> dict[str, object]:
    return {
        "slug": slug,
        "title": slug.title() or "Page",
        "nav_label": slug.title() or "Page",
        "purpose": "A page",
        "sections": ["hero"],
        **extra,
    }


@pytest.mark.parametrize(
    ("raw", "slug"),
    [
        ("../x", "x"),
        ("/etc/passwd", "etc-passwd"),
        ("..\\..\\windows", "windows"),
        ("About Us!", "about-us"),
        ("Café & Bar", "cafe-bar"),
        ("a" * 80, "a" * 40),
    ],
)
def test_slugify_leaves_one_plain_name(raw: str, slug: str) -> None:
    assert slugify(raw) == slug
    assert slugify(slugify(raw)) == slug  # checkpoints re-validate: must be idempotent


def test_slugify_refuses_what_has_no_name() -> None:
    with pytest.raises(ValueError, match="empty slug"):
        slugify("../..//")


def test_page_plan_home_is_index_and_slugs_are_unique() -> None:
    plan = PagePlan.model_validate(
        {"pages": [page("welcome"), page("../about"), page("about"), page("index")]}
    )
    assert [p.slug for p in plan.pages] == ["index", "about", "about-2", "index-2"]
    assert plan.pages[0].filename == "index.html"


def test_bad_model_values_fail_validation() -> None:
    with pytest.raises(ValidationError):
        PageSpec.model_validate(page("ok", sections=["hero", "popup"]))
    with pytest.raises(ValidationError):
        PageSpec.model_validate(page("ok", title="x" * 81))  # maxLength is in the schema


def test_site_url_is_the_users_option_not_the_models() -> None:
    assert "site_url" not in SeoStrategy.model_json_schema()["properties"]
    assert WebsiteSettings(site_url="https://Bakery.example/about/").site_url == (
        "https://bakery.example"
    )
    for bad in ["javascript:alert(1)", "/page-2.html", "https://user:pw@x.example", "ftp://a.b"]:
        with pytest.raises(UsageError):
            WebsiteSettings(site_url=bad)


def test_models_survive_the_checkpoint_codec() -> None:
    plan = PagePlan.model_validate({"pages": [page("home"), page("Contact Us")]})
    again = decode(encode(plan))
    assert again == plan and isinstance(again, PagePlan)


def test_inside_refuses_paths_that_leave_the_folder(tmp_path: Path) -> None:
    root = tmp_path / "site"
    root.mkdir()
    (tmp_path / "elsewhere").mkdir()
    (root / "link").symlink_to(tmp_path / "elsewhere")
    for bad in ["../x", "/etc/x", "a/../../x", "a\\b", "", ".", "link/x", "link"]:
        with pytest.raises(BadOutput):
            inside(root, bad)
    assert inside(root, "images/a.png") == root.resolve() / "images" / "a.png"


def test_write_draft_checks_every_path_before_writing(tmp_path: Path) -> None:
    with pytest.raises(BadOutput):
        write_draft(tmp_path, {"index.html": b"ok", "../escape.html": b"no"})
    assert list(tmp_path.iterdir()) == []
    assert not (tmp_path.parent / "escape.html").exists()


def test_publish_moves_the_draft_and_removes_only_our_stale_files(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("the user's own file")
    first = write_draft(tmp_path, {"index.html": b"1", "old.html": b"old"})
    publish(tmp_path, first)
    second = write_draft(tmp_path, {"index.html": b"2"})
    report = publish(tmp_path, second)
    assert report.removed == ["old.html"]
    assert (tmp_path / "index.html").read_bytes() == b"2"
    assert (tmp_path / "notes.txt").exists()
    assert not list(tmp_path.glob(f"{DRAFT_PREFIX}*"))
    assert json.loads((tmp_path / MANIFEST).read_text())["files"] == ["index.html"]


def test_a_manifest_pointing_outside_deletes_nothing(tmp_path: Path) -> None:
    victim = tmp_path / "victim.txt"
    victim.write_text("keep me")
    out = tmp_path / "out"
    out.mkdir()
    (out / MANIFEST).write_text(json.dumps({"files": ["../victim.txt", "/etc/hostname"]}))
    publish(out, write_draft(out, {"index.html": b"x"}))
    assert victim.read_text() == "keep me"


def test_a_half_published_draft_is_recovered(tmp_path: Path) -> None:
    draft = write_draft(tmp_path, {"a.html": b"a", "b/c.png": b"c"})
    folder = tmp_path / draft.draft
    os.replace(folder / "a.html", tmp_path / "a.html")  # the crash came after one move
    assert recover_draft(tmp_path, draft) == folder.resolve()
    assert (folder / "a.html").read_bytes() == b"a"
    (tmp_path / "a.html").write_bytes(b"tampered")
    os.remove(folder / "a.html")
    recover_draft(tmp_path, draft)
    assert not (folder / "a.html").exists()  # not what was rendered: not taken back


def test_a_new_draft_removes_older_drafts(tmp_path: Path) -> None:
    first = write_draft(tmp_path, {"a.html": b"a"})
    second = write_draft(tmp_path, {"a.html": b"b"})
    assert [p.name for p in tmp_path.glob(f"{DRAFT_PREFIX}*")] == [second.draft]
    assert first.draft != second.draft


def test_png_size_reads_the_header_and_refuses_other_bytes() -> None:
    from phasefarm.llm import draw_png

    assert png_size(draw_png("#102030 #405060", size="40x30")) == (40, 30)
    with pytest.raises(BadOutput):
        png_size(b"GIF89a" + b"\0" * 30)


@pytest.mark.parametrize("pages", [1, 2, 4, 7, 20])
def test_seed_profile_keeps_the_note_totals(pages: int) -> None:
    settings = WebsiteSettings(pages=pages, images=10)
    plan = build_flow(settings).plan()
    assert plan.estimate("sequential") == pytest.approx(185.0)
    latency = seed_latency(settings)
    code = latency["stylesheet"] + latency["site_chrome"] + pages * latency["page_code"]
    assert code == pytest.approx(20.0)
    content = settings.sections * latency["section_copy"] + pages * latency["page_seo"]
    assert content == pytest.approx(30.0)


def test_plan_parallel_beats_the_note_and_meets_its_bound() -> None:
    plan = build_flow(WebsiteSettings()).plan()
    assert plan.estimate("parallel") <= 45.0
    assert plan.estimate("parallel") == pytest.approx(plan.critical_path_s)
    assert plan.estimate("parallel") < plan.estimate("waves") < plan.estimate("sequential")
    assert plan.critical_path[:3] == ["design_context", "layout", "image_plan"]
    # waves mode follows note 002: images, then content, then code generation
    level = {name: n for n, names in enumerate(plan.waves) for name in names}
    assert level["images"] < level["section_copy"] == level["page_seo"] < level["page_code"]
    assert level["stylesheet"] == level["site_chrome"] == level["page_code"]


def test_image_pool_is_configurable() -> None:
    narrow = build_flow(WebsiteSettings(image_pool=1)).plan()
    wide = build_flow(WebsiteSettings(image_pool=10)).plan()
    assert narrow.durations["images"] == 50.0 and wide.durations["images"] == 5.0
    assert wide.estimate("parallel") < narrow.estimate("parallel")


@pytest.mark.parametrize(
    "kwargs", [{"pages": 0}, {"pages": 21}, {"images": -1}, {"images": 41}, {"image_pool": 0}]
)
def test_settings_refuse_absurd_counts(kwargs: dict[str, int]) -> None:
    with pytest.raises(UsageError):
        WebsiteSettings(**kwargs)


def test_brief_facts_come_from_the_brief() -> None:
    lisbon = brief_facts("A sourdough bakery in Lisbon called Massa Mãe, open early")
    assert (lisbon.brand, lisbon.trade, lisbon.place) == ("Massa Mãe", "bakery", "Lisbon")
    yoga = brief_facts("yoga studio for beginners in Porto")
    assert (yoga.brand, yoga.trade, yoga.place) == ("Porto Yoga", "yoga", "Porto")
    plain = brief_facts("handmade ceramics and pottery classes")
    assert plain.brand and plain.place is None and "ceramics" in plain.keywords
    # Unicode words stay whole, in any script; brand and place words are not keywords
    montreal = brief_facts("A bike workshop in Montréal called Vélo Été, open late")
    assert (montreal.brand, montreal.place) == ("Vélo Été", "Montréal")
    assert "montr" not in montreal.keywords and "workshop" in montreal.keywords
    assert brief_facts("A family dental clinic in Osaka").kind == "health"
    assert brief_facts("東京の寿司屋 in 東京").brand  # no latin letters: still a name


def test_slugs_stay_unique_within_their_length_limit() -> None:
    long = "x" * 39
    plan = PagePlan.model_validate({"pages": [page("home"), *(page(long) for _ in range(12))]})
    slugs = [p.slug for p in plan.pages]
    assert len(set(slugs)) == len(slugs) and all(len(s) <= 40 for s in slugs)
    assert slugs[1:4] == [long, f"{long[:38]}-2", f"{long[:38]}-3"]


def test_copy_loses_control_and_bidi_characters_but_keeps_joiners() -> None:
    spec = PageSpec.model_validate(
        page("a", title="Caf\u00e9\x00 \x07Mon\u202etr\u00e9al \u2066x\u2069 👩\u200d💻")
    )
    assert spec.title == "Café Montréal x 👩\u200d💻"


def test_errors_quote_a_short_prefix_of_a_rejected_value() -> None:
    with pytest.raises(ValidationError) as info:
        PageSpec.model_validate(page("!" * 2_000_000))
    assert len(str(info.value)) < 1_000 and "2,000,000 characters" in str(info.value)


def test_many_images_for_one_section_spread_over_the_page() -> None:
    from phasefarm.pipelines.website.schemas import Block, ImagePlan, ImageSpec
    from phasefarm.pipelines.website.steps import place_images

    spec = PageSpec.model_validate(page("home", sections=["hero", "gallery", "cta"]))
    image = {"page": "home", "section": "gallery", "subject": "Bread", "prompt": "bread",
             "alt": "Bread", "aspect": "square"}  # fmt: skip
    plan = ImagePlan(images=[ImageSpec.model_validate(image)] * 9)
    blocks = [Block(section=n, variant="stack", emphasis="normal") for n in range(3)]
    placed = place_images(blocks, spec, plan, list(range(9)))
    assert [len(b.images) for b in placed] == [2, 6, 1]  # 6 where they belong, the rest spread
    assert sorted(i for b in placed for i in b.images) == list(range(9))
