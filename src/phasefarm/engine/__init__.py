"""The engine: flows, the graph scheduler, runs on asyncio, events and results."""

from phasefarm.engine.events import Event
from phasefarm.engine.flow import Flow
from phasefarm.engine.graph import NodeSpec
from phasefarm.engine.handle import RunHandle
from phasefarm.engine.phase_task import PhaseContext
from phasefarm.engine.phases import PhaseDef
from phasefarm.engine.plan import Plan
from phasefarm.engine.result import PhaseRecord, RunResult
from phasefarm.engine.scheduler import MODES, Scheduler

__all__ = [
    "MODES",
    "Event",
    "Flow",
    "NodeSpec",
    "PhaseContext",
    "PhaseDef",
    "PhaseRecord",
    "Plan",
    "RunHandle",
    "RunResult",
    "Scheduler",
]
