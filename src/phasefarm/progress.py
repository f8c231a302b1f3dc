"""The terminal view of a running job: what `phasefarm website|app|demo|resume` draw on stderr.

On a terminal, a rich live view: a header with "k/N completed" (failed and skipped apart),
elapsed time, tokens and cost, then one line per running phase with its elapsed time, its
attempt (retries) and the time it waited on the rate limiter. Not on a terminal (a pipe, a CI
log), plain lines instead: one per change of k/N, one per failure and retry. With `--json`
nothing at all: the JSON summary is the only output.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from rich.console import Console, Group
from rich.live import Live
from rich.text import Text

if TYPE_CHECKING:
    from phasefarm.engine.events import Event

__all__ = ["LiveProgress", "PhaseLine"]

SHOWN_RUNNING = 12  # running phases listed; the rest are counted on one line


@dataclass
class PhaseLine:
    """What the view knows about one running phase."""

    started: float  # monotonic time of its first attempt
    attempt: int = 1
    waited_s: float = 0.0  # rate-limiter waits, summed
    llm_retries: int = 0  # transport / 429 retries inside the LLM layer


class LiveProgress:
    """An `on_event` callback that draws the run; use it as a context manager around the run."""

    def __init__(self, enabled: bool, *, console: Console | None = None) -> None:
        self.console = console or Console(stderr=True)
        self.quiet = not enabled
        self.live_view = enabled and self.console.is_terminal
        self.running: dict[str, PhaseLine] = {}
        self.done = self.total = self.failed = self.skipped = 0
        self.tokens = 0.0
        self.cost = 0.0
        self.retries = 0
        self.waits = 0
        self.job_line = ""  # a job's own progress ("2/5 phases completed"), when it has one
        self.started = time.monotonic()
        self._live = Live(
            get_renderable=self.render,
            console=self.console,
            refresh_per_second=8,
            transient=False,
            auto_refresh=True,
        )

    def __enter__(self) -> LiveProgress:
        self.started = time.monotonic()
        if self.live_view:
            self._live.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self.live_view:
            self.running.clear()
            self._live.stop()

    # -- events -----------------------------------------------------------------------------

    def __call__(self, event: Event) -> None:
        kind, phase, data = event.kind, event.phase, event.data
        now = time.monotonic()
        if kind == "phase.started" and phase:
            line = self.running.setdefault(phase, PhaseLine(started=now))
            line.attempt = int(data.get("attempt", 1))
        elif kind in ("phase.succeeded", "phase.failed", "phase.cancelled") and phase:
            self.running.pop(phase, None)
        if kind == "phase.failed":
            self.failed += 1
            self._say(f"[red]failed[/red] {phase}: {data.get('error')}")
        elif kind == "phase.skipped":
            self.skipped += 1
        elif kind == "phase.retrying":
            self.retries += 1
            delay = float(data.get("delay_s") or 0.0)
            self._say(
                f"[yellow]retrying[/yellow] {phase} (attempt {data.get('attempt')} failed: "
                f"{data.get('error')}; again in {delay:.2f} s)"
            )
        elif kind == "limiter.wait" and phase:
            self.waits += 1
            if phase in self.running:
                self.running[phase].waited_s += float(data.get("seconds") or 0.0)
        elif kind == "llm.retry" and phase in self.running:
            self.running[phase].llm_retries += 1
        elif kind == "usage":
            self.tokens += float(data.get("tokens") or 0.0)
            self.cost += float(data.get("cost") or 0.0)
        elif kind == "run.started":
            self.total = int(data.get("total") or self.total)
        elif kind == "progress":
            self.done, self.total = int(data["done"]), int(data["total"])
            if not self.live_view and not self.quiet:
                self.console.print(f"{self.done}/{self.total} completed", highlight=False)
        elif kind == "app.progress":  # the app job's roadmap phases, in finishing order
            from phasefarm.pipelines.app.commands import progress_line

            self.job_line = progress_line(dict(data))
            self._say(self.job_line)

    def _say(self, markup: str) -> None:
        """A line above the live view (or a plain line); nothing with --json."""
        if not self.quiet:
            self.console.print(markup, highlight=False)

    # -- drawing ----------------------------------------------------------------------------

    def header(self) -> str:
        elapsed = time.monotonic() - self.started
        parts = [f"{self.done}/{self.total} completed"]
        if self.job_line:
            parts.append(self.job_line)
        if self.failed or self.skipped:
            parts.append(f"{self.failed} failed, {self.skipped} skipped")
        parts.append(f"{elapsed:.1f} s")
        parts.append(f"{self.tokens:,.0f} tokens, ${self.cost:.4f}")
        if self.retries:
            parts.append(f"{self.retries} retries")
        if self.waits:
            parts.append(f"{self.waits} rate-limit waits")
        return "  ·  ".join(parts)

    def render(self) -> Any:
        now = time.monotonic()
        lines: list[Text] = [Text(self.header(), style="bold")]
        running = list(self.running.items())
        for key, line in running[:SHOWN_RUNNING]:
            text = Text(f"  ▸ {key}", style="cyan")
            text.append(f"  {now - line.started:.1f} s", style="default")
            if line.attempt > 1:
                text.append(f"  attempt {line.attempt}", style="yellow")
            if line.llm_retries:
                text.append(f"  {line.llm_retries} llm retries", style="yellow")
            if line.waited_s > 0:
                text.append(f"  waited {line.waited_s:.2f} s for the rate limit", style="magenta")
            lines.append(text)
        if len(running) > SHOWN_RUNNING:
            lines.append(Text(f"  … and {len(running) - SHOWN_RUNNING} more running"))
        return Group(*lines)
