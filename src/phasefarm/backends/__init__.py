"""Where phase bodies run, and how a run chooses it.

The engine runs bodies in its own event loop by default (`phasefarm.engine.backend.
LocalBackend`); the Ray backend (`phasefarm.backends.ray.RayBackend`, the `ray` extra) runs
them as Ray tasks across a cluster, with one rate limiter for the whole cluster
(`phasefarm.backends.ray_limiter`). Ray is imported only when a run asks for it.

A run's choice is kept in its meta (`backend_meta`), so `phasefarm resume` runs it on the same
backend (`backend_for`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from phasefarm.errors import UsageError

__all__ = ["BACKENDS", "backend_for", "backend_meta"]

BACKENDS = ("local", "ray")


def backend_meta(backend: str, ray_address: str | None) -> dict[str, Any]:
    """Check `--backend` / `--ray-address`; what a run's meta keeps of them."""
    if backend not in BACKENDS:
        raise UsageError(f"unknown --backend {backend!r}: choose one of {', '.join(BACKENDS)}")
    if ray_address is not None and backend != "ray":
        raise UsageError("--ray-address needs --backend ray")
    if backend == "ray":
        try:
            import ray  # noqa: F401
        except ImportError:
            raise UsageError(
                "--backend ray needs the ray extra: pip install 'phasefarm[ray]'"
            ) from None
    return {"backend": backend, "ray_address": ray_address}


def backend_for(
    meta: Mapping[str, Any],
    worker_services: Callable[[], Mapping[str, Any]],
    pools: Mapping[str, int | None] | None = None,
) -> Any:
    """The backend a run's meta asks for (None: the engine's default, in this process),
    connected already, so that the run's time does not include starting a cluster.

    `worker_services` builds the run's services on a worker (see `RayBackend`); `pools` are
    declared as resources of a local cluster the backend starts. Close it after the run."""
    name = str(meta.get("backend") or "local")
    backend_meta(name, meta.get("ray_address"))
    if name == "local":
        return None
    from phasefarm.backends.ray import RayBackend

    backend = RayBackend(
        address=meta.get("ray_address"), worker_services=worker_services, pools=pools
    )
    backend.start()
    return backend
