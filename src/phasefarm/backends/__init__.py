"""Where phase bodies run. The engine runs them in its own event loop by default; the Ray
backend (`phasefarm.backends.ray.RayBackend`, the `ray` extra) runs them as Ray tasks across a
cluster, with one rate limiter for the whole cluster (`phasefarm.backends.ray_limiter`).

Nothing here is imported by `import phasefarm`: Ray is imported only when a run asks for it.
"""
