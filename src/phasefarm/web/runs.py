"""Runs as the dashboard sees them: listing the store, starting and cancelling jobs.

Jobs started from the browser run in the server's own event loop (`Flow.start`), write to the
server's store and into their own folder under the server's output root. Runs started
elsewhere (the CLI) are only read from the store. Jobs come from `phasefarm.pipelines.JOBS`, so a
job registered there appears in the form without a change here.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import secrets
import time
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from phasefarm.engine.scheduler import MODES
from phasefarm.errors import PhasefarmError, StoreError, UsageError
from phasefarm.llm import PROVIDERS
from phasefarm.options import check_non_negative
from phasefarm.pipelines import JOBS, load_job
from phasefarm.store.url import open_store
from phasefarm.web.stream import LiveEvents

if TYPE_CHECKING:
    from phasefarm.engine.flow import Flow
    from phasefarm.engine.runner import RunHandle
    from phasefarm.store.base import RunStore

__all__ = [
    "JobRequest",
    "RunManager",
    "UnknownRun",
    "close_services",
    "parse_request",
    "public_meta",
]

log = logging.getLogger(__name__)

START_WAIT_S = 10.0  # for a started run's first event, at most
BRIEF_MAX = 4000  # characters, as the website command allows
# the size option of each job the form knows: (meta name, label, least, most, default);
# a job registered later without an entry here is started without one
SIZES: dict[str, tuple[str, str, int, int, int]] = {
    "website": ("pages", "pages", 1, 20, 4),
    "app": ("phases", "phases", 1, 20, 5),
    "demo": ("sections", "sections", 1, 100, 6),
}
# meta fields never shown to a browser, whatever a job puts there
_SECRET = re.compile(r"key|token|secret|password|credential|auth", re.IGNORECASE)


def public_meta(meta: Mapping[str, Any]) -> dict[str, Any]:
    """A run's meta without anything that could be a secret (API keys never are in meta, but a
    job added later might be careless)."""
    return {k: v for k, v in meta.items() if not _SECRET.search(k) or k == "max_tokens"}


def plan_graph(flow: Flow) -> dict[str, Any]:
    """What the run page needs of a flow's plan."""
    plan = flow.plan()
    return {"waves": plan.waves, "critical_path": plan.critical_path}


class UnknownRun(UsageError):
    """No run of that id in the store (the routes answer 404)."""


@dataclass(frozen=True)
class JobRequest:
    """The start form, checked."""

    job: str
    brief: str
    mode: str
    provider: str
    time_scale: float
    size: int | None


def parse_request(fields: Mapping[str, str]) -> JobRequest:
    """The form's fields as a JobRequest; UsageError with one line naming the bad field."""
    unknown = set(fields) - {"job", "brief", "mode", "provider", "time_scale", "size"}
    if unknown:
        raise UsageError(f"unknown form field(s): {', '.join(sorted(unknown))}")
    job = fields.get("job", "")
    if job not in JOBS:
        raise UsageError(f"unknown job {job!r}: choose one of {', '.join(sorted(JOBS))}")
    brief = fields.get("brief", "").strip()
    if not brief:
        raise UsageError("the brief is empty: say what to build")
    if len(brief) > BRIEF_MAX:
        raise UsageError(f"the brief is {len(brief)} characters long: keep it under {BRIEF_MAX}")
    mode = fields.get("mode", "parallel")
    if mode not in MODES:
        raise UsageError(f"unknown mode {mode!r}: choose one of {', '.join(MODES)}")
    provider = fields.get("provider", "offline")
    if provider not in PROVIDERS:
        raise UsageError(f"unknown provider {provider!r}: choose one of {', '.join(PROVIDERS)}")
    try:
        time_scale = float(fields.get("time_scale", "0.05"))
    except ValueError:
        raise UsageError(f"time scale {fields.get('time_scale')!r} is not a number") from None
    check_non_negative("time scale", time_scale, most=100)
    size: int | None = None
    if job in SIZES:
        _, label, least, most, default = SIZES[job]
        raw = fields.get("size", "") or str(default)
        try:
            size = int(raw)
        except ValueError:
            raise UsageError(f"{label} {raw!r} is not a whole number") from None
        if not least <= size <= most:
            raise UsageError(f"{label} must be between {least} and {most}, got {size}")
    return JobRequest(job, brief, mode, provider, time_scale, size)


def job_meta(request: JobRequest, out: Path) -> dict[str, Any]:
    """The run's meta (what `phasefarm resume` rebuilds the job from), checked like the CLI
    checks it: the website job through its own `website_meta`."""
    if request.job == "website":
        from phasefarm.pipelines.website.commands import website_meta
        from phasefarm.pipelines.website.profile import DEFAULT_IMAGES

        return website_meta(
            brief=request.brief,
            out=out,
            force=False,
            mode=request.mode,
            provider=request.provider,
            model=None,
            time_scale=request.time_scale,
            pages=request.size or 4,
            images=DEFAULT_IMAGES,
            image_pool=5,
            seed=0,
            max_tokens=None,
            max_cost=None,
        )
    meta: dict[str, Any] = {
        "out": str(out.absolute()),
        "provider": request.provider,
        "model": None,
        "time_scale": request.time_scale,
        "seed": 0,
    }
    if request.job in SIZES and request.size is not None:
        meta[SIZES[request.job][0]] = request.size
    return meta


async def close_services(services: Mapping[str, Any]) -> None:
    """Close what a job's `prepare` opened (LLM clients): in the loop they belong to."""
    for service in services.values():
        close = getattr(service, "aclose", None)
        if callable(close):
            with contextlib.suppress(Exception):
                await close()


class RunManager:
    """The store the server shows, and the jobs it runs itself."""

    def __init__(self, store_url: str | None, out_root: Path) -> None:
        self.store: RunStore = open_store(store_url)
        self.out_root = out_root.absolute()
        self._handles: dict[str, RunHandle] = {}
        self._live: dict[str, LiveEvents] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._described: dict[str, dict[str, Any]] = {}  # run id -> job, brief, out, meta
        self._graphs: dict[str, dict[str, Any]] = {}  # run id -> waves, critical path

    def jobs(self) -> list[dict[str, Any]]:
        """The jobs the form offers, with their size option."""
        found = []
        for name in sorted(JOBS):
            size = SIZES.get(name)
            found.append(
                {
                    "name": name,
                    "size": None
                    if size is None
                    else {"label": size[1], "min": size[2], "max": size[3], "default": size[4]},
                }
            )
        return found

    def is_live(self, run_id: str) -> bool:
        return run_id in self._handles

    # -- reading ----------------------------------------------------------------------------

    def describe(self, run_id: str) -> dict[str, Any]:
        """job, brief, out and public meta of a run (fixed once the run exists, so cached);
        UnknownRun for an unknown run."""
        known = self._described.get(run_id)
        if known is None:
            try:
                stored = self.store.load_run(run_id)
            except StoreError as exc:
                if run_id in {s.run_id for s in self.store.list_runs()}:
                    raise
                raise UnknownRun(f"unknown run {run_id!r}") from exc
            brief = stored.inputs.get("brief")
            known = {
                "job": str(stored.meta.get("job") or stored.flow),
                "brief": brief if isinstance(brief, str) else None,
                "out": stored.meta.get("out"),
                "mode": stored.mode,
                "meta": public_meta(stored.meta),
            }
            self._described[run_id] = known
        return known

    def summaries(self) -> list[dict[str, Any]]:
        """Every run of the store, newest first, as the runs page shows it."""
        rows = []
        for summary in self.store.list_runs():
            row = asdict(summary)
            with contextlib.suppress(UsageError):  # a run deleted meanwhile, a bad record
                row.update(self.describe(summary.run_id))
            row.pop("meta", None)
            row["live"] = self.is_live(summary.run_id)
            rows.append(row)
        return rows

    def summary(self, run_id: str) -> dict[str, Any]:
        """One run's summary, description and the links the run page offers."""
        described = self.describe(run_id)
        row = next((asdict(s) for s in self.store.list_runs() if s.run_id == run_id), {})
        out = described.get("out")
        folder = Path(out) if isinstance(out, str) else None
        return {
            **row,
            **described,
            "live": self.is_live(run_id),
            "site": folder is not None and (folder / "index.html").is_file(),
            "preview": folder is not None and (folder / "preview").is_dir(),
        }

    async def graph(self, run_id: str) -> dict[str, Any]:
        """The run's waves and critical path (from the flow's plan), for wave dividers and the
        critical-path mark; empty when the job's flow cannot be rebuilt here."""
        known = self._graphs.get(run_id)
        if known is not None:
            return known
        graph: dict[str, Any] = {"waves": [], "critical_path": []}
        try:
            described = self.describe(run_id)
            flow, services = load_job(described["job"])(dict(self.store.load_run(run_id).meta))
            await close_services(services)
            graph = plan_graph(flow)
        except (PhasefarmError, OSError, ValueError) as exc:
            log.info("no plan for run %s: %s", run_id, exc)
        self._graphs[run_id] = graph
        return graph

    # -- starting and cancelling ------------------------------------------------------------

    async def start(self, request: JobRequest) -> str:
        """Start a job in this loop; returns its run id once the store has the run."""
        run_id = f"{request.job}-{time.strftime('%Y%m%d-%H%M%S')}-{secrets.token_hex(3)}"
        meta = job_meta(request, self.out_root / run_id)
        flow, services = load_job(request.job)(meta)
        self._graphs[run_id] = plan_graph(flow)
        handle = flow.start(
            inputs={"brief": request.brief},
            services=services,
            mode=request.mode,
            store=self.store,
            run_id=run_id,
            meta={**meta, "job": request.job},
        )
        live = LiveEvents()
        self._handles[run_id] = handle
        self._live[run_id] = live
        task = asyncio.create_task(self._follow(run_id, handle, live, services))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        # the run's first event (run.started) comes once the store has the run: the page
        # asks for it right after this answer
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(live.wait(0), START_WAIT_S)
        return run_id

    async def _follow(
        self, run_id: str, handle: RunHandle, live: LiveEvents, services: dict[str, Any]
    ) -> None:
        collecting = asyncio.create_task(live.collect(handle))
        try:
            result = await handle.result()
            log.info("run %s %s", run_id, result.status)
        except (PhasefarmError, OSError) as exc:
            log.warning("run %s stopped: %s", run_id, exc)
        finally:
            await close_services(services)
            await collecting
            # from here on the store has every event of the run
            self._handles.pop(run_id, None)
            self._live.pop(run_id, None)

    def live_events(self, run_id: str) -> LiveEvents | None:
        """The collected events of a run this server is executing."""
        return self._live.get(run_id)

    def cancel(self, run_id: str) -> bool:
        """Cancel a run this server started; False if it is not running here. UnknownRun for
        an unknown run."""
        handle = self._handles.get(run_id)
        if handle is None:
            self.describe(run_id)  # unknown run: UnknownRun
            return False
        handle.cancel()
        return True

    async def aclose(self) -> None:
        """Cancel the runs still going (they can be resumed) and close the store."""
        for handle in list(self._handles.values()):
            handle.cancel()
        if self._tasks:
            await asyncio.wait(list(self._tasks), timeout=30)
        self.store.close()
