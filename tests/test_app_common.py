"""What the app and website jobs share (`pipelines.common`): prompts, option checks, the LLM."""

from __future__ import annotations

import pytest
from pydantic import BaseModel

from phasefarm.errors import BadOutput, UsageError
from phasefarm.pipelines.app import prompts as app_prompts
from phasefarm.pipelines.common import check_run_options, llm_from_meta
from phasefarm.pipelines.website import prompts as website_prompts


class Picture(BaseModel):
    alt: str
    png: str = ""


def test_each_job_sends_its_own_system_message_and_reads_its_inputs_back() -> None:
    inputs = {"picture": Picture(alt="a loaf", png="iVBORw0KGgo"), "n": 2}
    for prompts, kept_png in ((app_prompts, True), (website_prompts, False)):
        messages = prompts.build_messages("Do it.", inputs)
        assert messages[0] == {"role": "system", "content": prompts.SYSTEM}
        back = prompts.read_inputs(messages[1]["content"])
        assert back["n"] == 2 and back["picture"]["alt"] == "a loaf"
        assert ("png" in back["picture"]) is kept_png


def test_read_inputs_names_the_job_in_its_error() -> None:
    with pytest.raises(BadOutput, match=r"^app prompt has no inputs block$"):
        app_prompts.read_inputs("no block")
    with pytest.raises(BadOutput, match=r"^website prompt inputs are not a JSON object$"):
        website_prompts.read_inputs("x\n```json\n[1]\n```")


def _check(**changes: object) -> None:
    options: dict[str, object] = {
        "what": "app",
        "brief": "notes",
        "provider": "offline",
        "time_scale": 0.0,
        "max_tokens": None,
        "max_cost": None,
        "call_timeout": 300.0,
    }
    check_run_options(**{**options, **changes})  # type: ignore[arg-type]


def test_run_options_are_checked_in_order_with_one_line_each() -> None:
    _check()
    with pytest.raises(UsageError, match="describe the app to build"):
        _check(brief="  ", provider="nope")
    with pytest.raises(UsageError, match="keep it under 4000"):
        _check(brief="x" * 4001)

    def bad_mode() -> None:
        raise UsageError("unknown --mode 'x'")

    with pytest.raises(UsageError, match="--mode"):  # the job's own check before the provider
        _check(provider="nope", more=bad_mode)
    with pytest.raises(UsageError, match="unknown --provider 'nope'"):
        _check(provider="nope")
    with pytest.raises(UsageError, match="--time-scale"):
        _check(time_scale=-1.0)
    with pytest.raises(UsageError, match="--call-timeout must be more than 0 seconds"):
        _check(call_timeout=0.0)


def test_the_llm_gets_the_offline_profile_only_offline() -> None:
    meta = {"time_scale": 0.0, "seed": 3, "max_tokens": 100}
    llm = llm_from_meta("offline", meta, latency={"x": 1.0}, responders={})
    assert llm.budget.max_tokens == 100
