"""Where `Run`, `RunHandle`, `run_blocking` and `PhaseContext` were defined before the engine
was split by concept (run.py, handle.py, phase_task.py); kept so that imports keep working."""

from phasefarm.engine.handle import RunHandle, run_blocking
from phasefarm.engine.phase_task import PhaseContext
from phasefarm.engine.reporting import EventCallback
from phasefarm.engine.run import Run

__all__ = ["EventCallback", "PhaseContext", "Run", "RunHandle", "run_blocking"]
