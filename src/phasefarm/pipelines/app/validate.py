"""Validation of generated files with real tools.

JavaScript: `node --input-type=module --check` (syntax of an ES module; where `node` is missing
the check is reported as skipped, never as passed). HTML: parsed by html5lib (its parse errors
are problems) and every local `src`/`href` must resolve to a file inside the app. CSS: parsed by
tinycss2 (parse errors in rules and declarations). JSON: loaded by `json`. Each problem carries
the tool's own error text, which is what goes back to the model for a fix.
"""

from __future__ import annotations

import json
import posixpath
import re
import shutil
import subprocess
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from urllib.parse import unquote, urlsplit

import html5lib
import tinycss2

__all__ = ["ToolProblem", "ValidationReport", "find_node", "validate_files"]

NODE_TIMEOUT_S = 30.0


@dataclass(frozen=True)
class ToolProblem:
    file: str
    tool: str
    error: str

    def __str__(self) -> str:
        return f"{self.file}: {self.tool}: {self.error}"


@dataclass
class ValidationReport:
    problems: list[ToolProblem] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)  # "file: why not checked"

    @property
    def ok(self) -> bool:
        return not self.problems

    def by_file(self) -> dict[str, list[str]]:
        """Each broken file's errors, as the fix call shows them."""
        found: dict[str, list[str]] = {}
        for problem in self.problems:
            found.setdefault(problem.file, []).append(f"{problem.tool}: {problem.error}")
        return found


def find_node() -> str | None:
    return shutil.which("node")


_REMOTE_IMPORT = re.compile(r"""(?:\bfrom\s*|\bimport\s*\(?\s*)["'](?:https?:)?//""")


def _check_js(path: str, text: str, node: str | None, report: ValidationReport) -> None:
    if _REMOTE_IMPORT.search(text):
        report.problems.append(
            ToolProblem(path, "imports", "imports a module from the internet: ship it")
        )
    if node is None:
        report.skipped.append(f"{path}: node is not installed, JavaScript syntax not checked")
        return
    done = subprocess.run(
        [node, "--input-type=module", "--check"],
        input=text,
        capture_output=True,
        text=True,
        timeout=NODE_TIMEOUT_S,
        check=False,
    )
    if done.returncode != 0:
        lines = [
            ln for ln in done.stderr.splitlines() if ln.strip() and not ln.startswith("    at ")
        ]
        error = "\n".join(lines[:6]).replace("[stdin]", path)
        report.problems.append(ToolProblem(path, "node --check", error or "syntax error"))


def _js_report(path: str, text: str, node: str | None) -> ValidationReport:
    report = ValidationReport()
    _check_js(path, text, node, report)
    return report


def _local_refs(document: object) -> list[str]:
    refs: list[str] = []
    root = document  # an ElementTree element
    for element in root.iter():  # type: ignore[attr-defined]
        for attr in ("src", "href"):
            value = element.get(attr)
            if not value:
                continue
            parts = urlsplit(value)
            if parts.scheme or parts.netloc or value.startswith(("#", "//")):
                continue
            if parts.path:
                refs.append(unquote(parts.path))
    return refs


def _check_html(path: str, text: str, exists: set[str], report: ValidationReport) -> None:
    parser = html5lib.HTMLParser(namespaceHTMLElements=False)
    document = parser.parse(text)
    for position, code, data in parser.errors[:5]:
        line, col = position
        detail = f" {data}" if data else ""
        report.problems.append(ToolProblem(path, "html5lib", f"line {line}:{col}: {code}{detail}"))
    for element in document.iter():
        remote = element.get("src") or (element.get("href") if element.tag == "link" else None)
        if remote and (urlsplit(remote).scheme in ("http", "https") or remote.startswith("//")):
            report.problems.append(
                ToolProblem(path, "links", f"{remote!r} is loaded from the internet: ship it")
            )
    base = posixpath.dirname(path)
    for ref in _local_refs(document):
        if ref.startswith("/"):
            target = posixpath.normpath(ref.lstrip("/"))
        else:
            target = posixpath.normpath(posixpath.join(base, ref))
        if target.startswith("..") or target not in exists:
            report.problems.append(
                ToolProblem(path, "links", f"{ref!r} does not resolve to a file of the app")
            )


_REMOTE_CSS = re.compile(r"""(?:url\(\s*|@import\s+)["']?(?:https?:)?//""")


def _check_css(path: str, text: str, report: ValidationReport) -> None:
    if _REMOTE_CSS.search(text):
        report.problems.append(
            ToolProblem(path, "imports", "loads a file from the internet: ship it")
        )
    rules = tinycss2.parse_stylesheet(text, skip_comments=True, skip_whitespace=True)
    for rule in rules:
        if rule.type == "error":
            report.problems.append(
                ToolProblem(path, "tinycss2", f"line {rule.source_line}: {rule.message}")
            )
            continue
        if rule.type == "qualified-rule" and rule.content is not None:
            declarations = tinycss2.parse_declaration_list(
                rule.content, skip_comments=True, skip_whitespace=True
            )
            for decl in declarations:
                if decl.type == "error":
                    report.problems.append(
                        ToolProblem(path, "tinycss2", f"line {decl.source_line}: {decl.message}")
                    )
    if text.count("{") != text.count("}"):
        report.problems.append(ToolProblem(path, "tinycss2", "unbalanced braces"))


def validate_files(
    files: dict[str, str], check: Iterable[str], exists: set[str], *, node: str | None
) -> ValidationReport:
    """Check the files named in `check` (contents in `files`); `exists` is every path a
    local reference may point at; `node` is the node executable (`find_node()`), None where
    there is none."""
    report = ValidationReport()
    scripts = [path for path in check if path.endswith(".js")]
    # node takes a moment to start: the scripts are checked at the same time (results kept in
    # file order: one report per script, merged below)
    with ThreadPoolExecutor(max_workers=max(1, min(4, len(scripts)))) as pool:
        parts = list(pool.map(lambda p: _js_report(p, files[p], node), scripts))
    for part in parts:
        report.problems += part.problems
        report.skipped += part.skipped
    for path in check:
        text = files[path]
        if path.endswith(".js"):
            continue
        elif path.endswith(".html"):
            _check_html(path, text, exists, report)
        elif path.endswith(".css"):
            _check_css(path, text, report)
        elif path.endswith(".json"):
            try:
                json.loads(text)
            except json.JSONDecodeError as exc:
                report.problems.append(ToolProblem(path, "json", str(exc)))
    return report
