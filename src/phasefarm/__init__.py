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
    CheckFailed,
    CheckpointValueError,
    FatalError,
    GraphError,
    PhasefarmError,
    ProviderError,
    RateLimited,
    RunStopped,
    StoreError,
    StoreRefused,
    TransientError,
    UsageError,
)
from phasefarm.scope import emit

__version__ = "0.1.0"

__all__ = [
    "MODES",
    "BadOutput",
    "BudgetExceeded",
    "CheckFailed",
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
    "StoreRefused",
    "TransientError",
    "UsageError",
    "__version__",
    "emit",
]
