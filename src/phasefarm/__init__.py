"""phasefarm: run multi-phase AI generation jobs as a dependency graph."""

from phasefarm.engine import (
    MODES,
    Event,
    Flow,
    PhaseContext,
    PhaseRecord,
    Plan,
    RunHandle,
    RunResult,
    Scheduler,
)
from phasefarm.errors import (
    BadOutput,
    BudgetExceeded,
    CheckpointValueError,
    FatalError,
    GraphError,
    PhasefarmError,
    ProviderError,
    RateLimited,
    RunStopped,
    StoreError,
    TransientError,
    UsageError,
)
from phasefarm.scope import emit

__version__ = "0.1.0"

__all__ = [
    "MODES",
    "BadOutput",
    "BudgetExceeded",
    "CheckpointValueError",
    "Event",
    "FatalError",
    "Flow",
    "GraphError",
    "PhaseContext",
    "PhaseRecord",
    "PhasefarmError",
    "Plan",
    "ProviderError",
    "RateLimited",
    "RunHandle",
    "RunResult",
    "RunStopped",
    "Scheduler",
    "StoreError",
    "TransientError",
    "UsageError",
    "__version__",
    "emit",
]
