"""The fake OpenAI-compatible server, over plain HTTP (httpx), as any client would see it."""

from __future__ import annotations

import base64
import json
import subprocess
import sys

import httpx
from pydantic import BaseModel, Field

from phasefarm.testing.fake_openai import FakeOpenAI


class Item(BaseModel):
    name: str
    count: int = Field(ge=0, le=10)


class Basket(BaseModel):
    owner: str
    items: list[Item] = Field(min_length=1)
    note: str | None


def chat(server: FakeOpenAI, key: str = "sk-a", **body: object) -> httpx.Response:
    payload = {"model": "m", "messages": [{"role": "user", "content": "hi"}], **body}
    return httpx.post(
        f"{server.url}/chat/completions",
        json=payload,
        headers={"Authorization": f"Bearer {key}"},
        timeout=10,
    )


def schema_format(model: type[BaseModel]) -> dict:
    return {
        "type": "json_schema",
        "json_schema": {
            "name": model.__name__,
            "schema": model.model_json_schema(),
            "strict": True,
        },
    }


def test_json_schema_answers_conform_and_are_deterministic(fake_openai) -> None:
    server = fake_openai(keys=["sk-a"])
    first = chat(server, response_format=schema_format(Basket))
    assert first.status_code == 200
    body = first.json()
    content = body["choices"][0]["message"]["content"]
    Basket.model_validate_json(content)
    assert body["usage"]["total_tokens"] == (
        body["usage"]["prompt_tokens"] + body["usage"]["completion_tokens"]
    )
    again = chat(server, response_format=schema_format(Basket))
    assert again.json()["choices"][0]["message"]["content"] == content
    other = chat(
        server,
        response_format=schema_format(Basket),
        messages=[{"role": "user", "content": "something else"}],
    )
    assert other.json()["choices"][0]["message"]["content"] != content


def test_json_mode_uses_a_schema_found_in_the_prompt(fake_openai) -> None:
    server = fake_openai()
    system = "Answer in JSON matching: " + json.dumps(Basket.model_json_schema())
    response = chat(
        server,
        response_format={"type": "json_object"},
        messages=[{"role": "system", "content": system}, {"role": "user", "content": "go"}],
    )
    Basket.model_validate_json(response.json()["choices"][0]["message"]["content"])
    plain = chat(server, response_format={"type": "json_object"})
    assert isinstance(json.loads(plain.json()["choices"][0]["message"]["content"]), dict)


def test_rpm_limit_answers_429_with_retry_after(fake_openai) -> None:
    # a burst of 2 per key, then one request per 10 s: the third is refused however slow
    server = fake_openai(keys=["sk-a", "sk-b"], rpm=6, burst_s=20)
    statuses = [chat(server).status_code for _ in range(3)]
    assert statuses == [200, 200, 429]
    limited = chat(server)
    assert limited.status_code == 429
    assert float(limited.headers["retry-after-ms"]) > 0
    assert int(limited.headers["retry-after"]) >= 1
    assert limited.headers["x-ratelimit-reset-requests"].endswith(("ms", "s"))
    assert limited.json()["error"]["type"] == "rate_limit_error"
    assert chat(server, key="sk-b").status_code == 200  # limits are per key
    log = server.requests
    assert [r.key_id for r in log] == ["key#1"] * 4 + ["key#2"]
    assert [r.reason for r in log if r.status == 429] == ["rpm", "rpm"]


def test_tpm_limit(fake_openai) -> None:
    server = fake_openai(tpm=60, burst_s=10)  # 10 tokens of burst, then 1 token a second
    long = [{"role": "user", "content": "x" * 200}]
    first = chat(server, messages=long)
    second = chat(server, messages=long)
    assert first.status_code == 200  # larger than the burst, but the bucket was full
    assert second.status_code == 429
    assert server.requests[-1].reason == "tpm"


def test_unknown_key_is_401_and_not_logged(fake_openai) -> None:
    server = fake_openai(keys=["sk-a"])
    response = chat(server, key="sk-nope-123456789")
    assert response.status_code == 401
    assert server.requests[0].key_id == "?"
    assert "sk-nope" not in repr(server.requests)


def test_error_rate_and_scripted_failures(fake_openai) -> None:
    server = fake_openai(error_rate=1.0)
    assert chat(server).status_code == 503
    calm = fake_openai()
    calm.fail_next(502, count=2)
    assert [chat(calm).status_code for _ in range(3)] == [502, 502, 200]


def test_malformed_json(fake_openai) -> None:
    server = fake_openai(malformed_rate=1.0)
    content = chat(server, response_format=schema_format(Basket)).json()["choices"][0]["message"]
    try:
        json.loads(content["content"])
    except ValueError:
        pass
    else:
        raise AssertionError("expected malformed JSON")
    scripted = fake_openai()
    scripted.malformed_next(1)
    bad = chat(scripted, response_format=schema_format(Basket)).json()
    good = chat(scripted, response_format=schema_format(Basket)).json()
    assert bad["choices"][0]["message"]["content"] != good["choices"][0]["message"]["content"]
    Basket.model_validate_json(good["choices"][0]["message"]["content"])
    assert [r.reason for r in scripted.requests] == ["malformed", ""]


def test_images_are_b64_pngs(fake_openai) -> None:
    server = fake_openai()
    response = httpx.post(
        f"{server.url}/images/generations",
        json={"prompt": "a cat #ff00ff", "size": "40x30", "response_format": "b64_json"},
        headers={"Authorization": "Bearer sk-x"},
    )
    png = base64.b64decode(response.json()["data"][0]["b64_json"])
    assert png.startswith(b"\x89PNG")
    assert server.requests[0].path == "images"


def test_latency_is_applied_and_logged(fake_openai) -> None:
    server = fake_openai(latency=0.05)
    chat(server)
    [record] = server.requests
    assert record.finished - record.t >= 0.05


def test_module_entry_point_prints_its_url() -> None:
    process = subprocess.Popen(
        [sys.executable, "-m", "phasefarm.testing.fake_openai", "--port", "0", "--rpm", "100"],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        url = process.stdout.readline().strip()
        assert url.startswith("http://127.0.0.1:") and url.endswith("/v1")
        response = httpx.post(
            f"{url}/chat/completions",
            json={"model": "m", "messages": [{"role": "user", "content": "hi"}]},
            headers={"Authorization": "Bearer sk-x"},
            timeout=10,
        )
        assert response.status_code == 200
    finally:
        process.terminate()
        process.wait(timeout=10)


def test_the_fake_server_refuses_to_listen_beyond_loopback() -> None:
    import pytest

    from phasefarm.testing.fake_openai import FakeOpenAI

    with pytest.raises(ValueError, match="only listens on loopback"):
        FakeOpenAI(host="0.0.0.0")
