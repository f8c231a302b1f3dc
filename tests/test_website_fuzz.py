"""The schema is the contract: the website job against a model that honours the JSON schema it
is sent and nothing else (the fake server's schema-fuzzing mode, `testing/schema_fuzz.py`).

Answers are drawn from the request's schema alone, at its edges (shortest and longest strings,
fewest and most items, unusual Unicode, control characters, null optional fields), so every
constraint the job needs must be in the schema, or made true by our code after the call.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import model_validator

from phasefarm.pipelines.website import schemas, steps
from phasefarm.pipelines.website.checks import check_site
from phasefarm.testing.fake_openai import FakeOpenAI
from website_support import build_flow_and_services, failures

KEY = "sk-fuzz-0000000001"


def build(out: Path, server: FakeOpenAI, monkeypatch: pytest.MonkeyPatch, **meta: object):  # type: ignore[no-untyped-def]
    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    monkeypatch.setenv("OPENAI_BASE_URL", server.url)
    options = {"out": str(out), "provider": "openai", "model": "fake-model", **meta}
    flow, services = build_flow_and_services(options)
    return flow.run_sync(inputs={"brief": "A bakery in Montréal"}, services=services)


@pytest.mark.parametrize("seed", range(20))
def test_website_succeeds_on_any_schema_valid_answers(
    seed: int, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pages, images = 1 + seed % 5, (seed * 7) % 13
    with FakeOpenAI(keys=[KEY], fuzz=True, seed=seed) as server:
        result = build(tmp_path / "site", server, monkeypatch, pages=pages, images=images)
        requests = server.requests
    assert result.status == "succeeded", failures(result)
    out = tmp_path / "site"
    assert check_site(out) == []
    assert len(list(out.glob("*.html"))) == pages
    assert len(list((out / "images").glob("*.png"))) == images
    chats = [r for r in requests if r.path == "chat"]
    assert all(r.status == 200 and r.max_tokens for r in chats)
    # No repair was needed: a schema-valid answer is accepted as it is.
    assert all(r.messages == 2 for r in chats)
    text = "".join(p.read_text() for p in out.glob("*.html"))
    for control in ("\x00", "\x07", "\u202e", "\u2066"):
        assert control not in text


def test_a_validator_outside_the_schema_makes_the_fuzzer_fail(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A rule the schema does not carry (as the old site_url validator was): schema-valid
    # answers break it, and the job fails. This is what the test above guards against.
    real = steps.page_plan_answer

    def with_outside_rule(pages: int) -> type[schemas.PagePlan]:
        class AsciiTitles(real(pages)):  # type: ignore[misc,valid-type]
            @model_validator(mode="after")
            def _ascii(self) -> AsciiTitles:
                if not all(p.title.isascii() for p in self.pages):
                    raise ValueError("titles must be ASCII")
                return self

        return AsciiTitles

    monkeypatch.setattr(steps, "page_plan_answer", with_outside_rule)
    with FakeOpenAI(keys=[KEY], fuzz=True, seed=4) as server:
        result = build(tmp_path / "site", server, monkeypatch, pages=6, images=0)
    assert result.status == "failed"
    assert "titles must be ASCII" in str(result.phases["page_plan"].error)


@pytest.mark.parametrize(("pages", "images"), [(4, 29), (20, 40)])
def test_the_largest_options_succeed_on_schema_valid_answers(
    pages: int, images: int, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # `--images 29` over 4 pages once failed in page_code after money was spent: the plan
    # now places images itself (spread over a page's blocks), so any valid answer works.
    with FakeOpenAI(keys=[KEY], fuzz=True, seed=pages) as server:
        result = build(tmp_path / "site", server, monkeypatch, pages=pages, images=images)
    assert result.status == "succeeded", failures(result)
    assert len(list((tmp_path / "site" / "images").glob("*.png"))) == images
    assert check_site(tmp_path / "site") == []
