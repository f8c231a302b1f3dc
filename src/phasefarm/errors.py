"""The one exception tree of phasefarm.

Every layer raises these, never a vendor's exception: the OpenAI SDK, httpx, sqlite3 and ray
errors are mapped to one of them at the boundary where they are caught.

    PhasefarmError
    ├── UsageError            bad input from the user (CLI exit code 2)
    │   ├── GraphError        cycle, unknown dependency, duplicate name, bad option
    │   └── StoreRefused      (also a StoreError) bad store URL, unknown run id, run executed
    │       │                 by another process, not a store, newer schema
    │       └── CheckpointValueError  a value the checkpoint codec cannot write
    ├── StoreError            the checkpoint store failed (disk, database): CLI exit code 1
    ├── RunStopped            a phase asks the run to stop releasing work (retryable=False)
    │   └── BudgetExceeded    the token or cost cap was reached
    ├── CheckFailed           what a phase made fails a check (e.g. the website's site check)
    └── ProviderError         a model call failed
        ├── RateLimited       429; carries retry_after seconds
        ├── TransientError    timeout, 5xx, connection reset
        ├── FatalError        auth, bad request: retrying will not help
        │   ├── KeyRejected   401/403 for one API key: the key is set aside, others go on
        │   └── ImagesUnavailable  the server has no images endpoint (404/405/501)
        └── BadOutput         the model answered, but not in the required shape

`retryable` tells the engine whether a phase's `retries` apply to the error. One retry policy
(docs/engine.md): a model call is retried in the LLM layer only (transport errors and rate
limits, bounded by its `RetryPolicy`), so `RateLimited` and `TransientError` reaching the engine
have used up those retries and are not retried again per phase (that multiplied the attempts);
the engine's `retries` are for what the phase's own code raises.
"""

from __future__ import annotations

__all__ = [
    "BadOutput",
    "BudgetExceeded",
    "CheckFailed",
    "CheckpointValueError",
    "FatalError",
    "GraphError",
    "ImagesUnavailable",
    "KeyRejected",
    "PhasefarmError",
    "ProviderError",
    "RateLimited",
    "RunStopped",
    "StoreError",
    "StoreRefused",
    "TransientError",
    "UsageError",
]


class PhasefarmError(Exception):
    """Base of every error phasefarm raises on purpose."""

    retryable: bool = True


class UsageError(PhasefarmError, ValueError):
    """The user gave us something we cannot use. One line, exit code 2, no traceback."""

    retryable = False


class GraphError(UsageError):
    """The phase graph is invalid: a cycle, an unknown dependency, a duplicate or bad option."""


class StoreError(PhasefarmError):
    """The checkpoint store failed: the disk, the database, the connection. Not the user's
    input, so the CLI exits 1 (the run did not finish as asked), with the store named."""

    retryable = False


class StoreRefused(StoreError, UsageError):
    """The store works but cannot do what was asked: a bad store URL, an unknown run id, a run
    another process executes, a file that is not a store or is from a newer phasefarm (exit 2)."""


class CheckpointValueError(StoreRefused):
    """A phase output, input or argument the checkpoint codec cannot write (and so a resume
    could not read back). The phase that produced it fails; the run goes on."""


class RunStopped(PhasefarmError):
    """Raised inside a phase to stop the whole run: no new phase starts, running ones finish.

    The phase that raised it is recorded `cancelled` (it can run again on resume), and the
    run ends `cancelled` with `stop_reason` set to this error's message.
    """

    retryable = False


class BudgetExceeded(RunStopped):
    """The run reached its token or cost cap."""


class CheckFailed(PhasefarmError):
    """What a phase produced fails a check of ours (not the model's call): e.g. a generated
    site with broken links. Not retried by the engine: the same inputs give the same result."""

    retryable = False


class ProviderError(PhasefarmError):
    """A model call failed."""


class RateLimited(ProviderError):
    """The server answered 429. `retry_after` is in seconds, `None` when it did not say."""

    retryable = False  # waited for and retried in the LLM layer (see the module docstring)

    def __init__(
        self, message: str, retry_after: float | None = None, key_id: str | None = None
    ) -> None:
        super().__init__(message)
        self.retry_after = retry_after
        self.key_id = key_id


class TransientError(ProviderError):
    """Timeout, 5xx or a dropped connection: the same call may well succeed later. The LLM
    layer retries it; once it reaches the engine those retries are spent (not retried again)."""

    retryable = False


class FatalError(ProviderError):
    """Authentication, permission or a malformed request: retrying will not help."""

    retryable = False


class KeyRejected(FatalError):
    """The server refused one API key (401/403). `key_id` is its masked id ("key#2")."""

    def __init__(self, message: str, key_id: str) -> None:
        super().__init__(message)
        self.key_id = key_id


class ImagesUnavailable(FatalError):
    """The server has no images endpoint (404, 405 or 501 on image generation)."""


class BadOutput(ProviderError):
    """The model's answer is unusable: malformed JSON, wrong schema, unsafe paths."""

    retryable = False
