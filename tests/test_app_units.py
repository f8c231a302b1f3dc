"""Unit tests of the app job's parts: workspace safety, the roadmap graph, the validators,
the deploy queue."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

import pytest

from phasefarm.errors import BadOutput
from phasefarm.pipelines.app.deploy import DeployQueue
from phasefarm.pipelines.app.offline import offline_roadmap
from phasefarm.pipelines.app.roadmap import Roadmap, file_key, validate_key
from phasefarm.pipelines.app.schemas import Blueprint, blueprint_schema
from phasefarm.pipelines.app.validate import find_node, validate_files
from phasefarm.pipelines.app.workspace import UnsafePath, safe_relpath, write_file

ESCAPES = [
    "/etc/passwd",
    "../outside.js",
    "js/../../outside.js",
    "C:/Windows/app.js",
    "c:app.js",
    "js/app\x00.js",
    ".git/config",
    "js/.git/hooks/pre-commit",
    ".GIT/config",
    "preview/index.html",
    "js\\app.js",
    "",
]


@pytest.mark.parametrize("path", ESCAPES)
def test_every_escaping_path_is_refused_before_a_byte_is_written(tmp_path: Path, path: str) -> None:
    root = tmp_path / "app"
    root.mkdir()
    with pytest.raises(UnsafePath):
        write_file(root, path, b"x")
    assert list(tmp_path.rglob("*")) == [root]


def test_a_symlink_inside_the_workspace_is_never_written_through(tmp_path: Path) -> None:
    root, outside = tmp_path / "app", tmp_path / "outside"
    root.mkdir()
    outside.mkdir()
    os.symlink(outside, root / "js")
    os.symlink(outside / "target.html", root / "index.html")
    with pytest.raises(UnsafePath, match="symbolic link"):
        write_file(root, "js/app.js", b"x")
    with pytest.raises(UnsafePath, match="symbolic link"):
        write_file(root, "index.html", b"x")
    assert list(outside.iterdir()) == []


def test_safe_paths_are_normalized_and_written(tmp_path: Path) -> None:
    assert safe_relpath("js/./views/list.js") == "js/views/list.js"
    write_file(tmp_path, "js/views/list.js", b"export {};\n")
    assert (tmp_path / "js/views/list.js").read_bytes() == b"export {};\n"


def _blueprint(files: list[list[str]]) -> Blueprint:
    return Blueprint.model_validate(
        {
            "title": "T",
            "description": "D",
            "palette": dict.fromkeys(
                ("background", "surface", "text", "muted", "accent"), "#000000"
            ),
            "views": [{"id": "tasks", "title": "Tasks", "purpose": "p"}],
            "user_flow": ["a"],
            "architecture": "a",
            "pitfalls": [],
            "roadmap": [
                {"name": f"P{i}", "description": "d", "files": f} for i, f in enumerate(files)
            ],
        }
    )


def test_the_schema_sent_carries_the_path_pattern_and_the_phase_count() -> None:
    schema = blueprint_schema(4).model_json_schema()
    assert schema["properties"]["roadmap"]["minItems"] == 4
    assert schema["properties"]["roadmap"]["maxItems"] == 4
    files = schema["$defs"]["RoadmapPhase"]["properties"]["files"]
    assert "pattern" in files["items"]
    with pytest.raises(ValueError):
        _blueprint([["../x.js"]])


def test_a_roadmap_with_a_path_twice_in_a_phase_is_bad_output() -> None:
    with pytest.raises(BadOutput, match="twice"):
        Roadmap.from_blueprint(_blueprint([["index.html", "index.html"]]))


def test_shared_files_are_chained_per_file_and_waves_serializes_whole_phases() -> None:
    layout = offline_roadmap(5)
    roadmap = Roadmap(tuple(n for n, _, _ in layout), tuple(tuple(f) for _, _, f in layout))
    assert roadmap.previous(4, "index.html") == 3
    assert file_key(3, "index.html") in roadmap.file_needs(4, "index.html", "parallel")
    # parallel: a file no earlier phase touched waits only for its own concept
    assert roadmap.file_needs(4, "js/views/summary.js", "parallel") == ["concept[4]"]
    waves = roadmap.file_needs(4, "js/views/summary.js", "waves")
    assert "concept[5]" in waves and validate_key(3) in waves and validate_key(1) in waves
    assert roadmap.dependents(3) == {4, 5}


def _files(**kinds: str) -> dict[str, str]:
    return {k.replace("_", "."): v for k, v in kinds.items()}


@pytest.mark.skipif(find_node() is None, reason="needs node")
def test_validators_report_each_tool_error() -> None:
    files = {
        "index.html": "<!doctype html><html><head><title>x</title></head><body>"
        '<script type="module" src="js/missing.js"></script></body></html>',
        "js/app.js": "import { a } from './a.js';\nconst = 1;\n",
        "js/ok.js": "export const ok = await Promise.resolve(1);\n",
        "css/style.css": "body { color: red; }\n@media screen { p { color: blue }\n",
        "data/x.json": "{bad json}",
    }
    report = validate_files(files, list(files), set(files), node=find_node())
    tools = {(p.file, p.tool) for p in report.problems}
    assert ("js/app.js", "node --check") in tools
    assert ("index.html", "links") in tools
    assert ("data/x.json", "json") in tools
    assert ("css/style.css", "tinycss2") in tools
    assert not any(p.file == "js/ok.js" for p in report.problems)
    assert "Unexpected token" in next(p.error for p in report.problems if p.file == "js/app.js")


def test_without_node_javascript_is_reported_skipped_never_passed() -> None:
    report = validate_files({"js/app.js": "const = 1;"}, ["js/app.js"], set(), node=None)
    assert report.problems == []
    assert report.skipped and "node is not installed" in report.skipped[0]


def test_the_deploy_queue_under_50_concurrent_requests_loses_no_file(tmp_path: Path) -> None:
    source = tmp_path / "app"
    for n in range(50):
        write_file(source, f"js/f{n}.js", f"export const n = {n};\n".encode())
    queue = DeployQueue(source, tmp_path / "preview")

    async def main() -> None:
        async def one(n: int) -> None:
            await asyncio.sleep(0)
            await queue.request([f"js/f{n}.js"])
            # once its request returns, the file is live
            assert (tmp_path / "preview" / f"js/f{n}.js").is_file()

        await asyncio.wait_for(asyncio.gather(*(one(n) for n in range(50))), timeout=60)

    asyncio.run(main())
    deployed = set().union(*queue.deploys)
    assert deployed == {f"js/f{n}.js" for n in range(50)}
    assert len(queue.deploys) < 50  # requests that arrived during a deploy were folded
    for n in range(50):
        assert (tmp_path / "preview" / f"js/f{n}.js").read_text() == f"export const n = {n};\n"


def test_files_from_the_internet_are_problems() -> None:
    files = {
        "js/a.js": 'import { x } from "https://cdn.example.com/x.js";\nexport const a = x;\n',
        "index.html": "<!doctype html><html><head><title>t</title>"
        '<link rel="stylesheet" href="//fonts.example.com/a.css"></head>'
        '<body><a href="https://example.com/">a link is fine</a></body></html>',
    }
    files["css/style.css"] = (
        '@import url("https://fonts.example.com/a.css");\nbody { margin: 0; }\n'
    )
    report = validate_files(files, list(files), set(files), node=None)
    assert [(p.file, p.tool) for p in report.problems] == [
        ("js/a.js", "imports"),
        ("index.html", "links"),
        ("css/style.css", "imports"),
    ]


def test_requests_arriving_during_a_deploy_are_folded_into_the_next_one(tmp_path: Path) -> None:
    import threading

    source = tmp_path / "app"
    for n in range(50):
        write_file(source, f"f{n}.js", b"export {};\n")
    started, release = threading.Event(), threading.Event()

    class SlowFirstDeploy(DeployQueue):
        def _copy(self, paths: list[str]) -> None:
            if not self.deploys:
                started.set()
                assert release.wait(timeout=30)
            super()._copy(paths)

    queue = SlowFirstDeploy(source, tmp_path / "preview")

    async def main() -> None:
        first = asyncio.ensure_future(queue.request(["f0.js"]))
        assert await asyncio.to_thread(started.wait, 30)  # deploy 1 is copying
        later = [asyncio.ensure_future(queue.request([f"f{n}.js"])) for n in range(1, 50)]
        await asyncio.sleep(0)
        release.set()
        await asyncio.wait_for(asyncio.gather(first, *later), timeout=60)

    asyncio.run(main())
    assert queue.deploys == [frozenset({"f0.js"}), frozenset(f"f{n}.js" for n in range(1, 50))]
