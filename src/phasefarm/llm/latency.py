"""A per-call latency model: a fixed part per call plus a part per output token.

A model call takes `first_token_s` (request, queueing, prompt processing: time to first token)
plus `output tokens / tokens_per_s`. Default figures: 0.8 s and 60 tokens/s, what hosted
GPT-4o-class models typically show for a structured answer (time to first token 0.5-1 s,
50-100 output tokens/s). At those figures a 10-second call writes about 550 tokens.

When a step that took `step_s` seconds in `note_calls` calls is fanned out into `calls` calls,
its output tokens are split evenly over them and every call pays the fixed part again
(`split`). The seed profiles split the seconds instead (no fixed part); the benchmarks and
`phasefarm plan website` show both. Image calls are not token-streamed and keep their seconds.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["DEFAULT_MODEL", "LatencyModel"]


@dataclass(frozen=True)
class LatencyModel:
    first_token_s: float = 0.8
    tokens_per_s: float = 60.0

    def describe(self) -> str:
        return f"{self.first_token_s:g} s + output tokens / {self.tokens_per_s:g} per s per call"

    def call_s(self, output_tokens: float) -> float:
        return self.first_token_s + output_tokens / self.tokens_per_s

    def step_tokens(self, step_s: float, note_calls: int) -> float:
        """Output tokens of a step that took `step_s` seconds in `note_calls` calls."""
        return max(0.0, step_s - note_calls * self.first_token_s) * self.tokens_per_s

    def split(self, step_s: float, note_calls: int, calls: int) -> float:
        """Seconds per call when the step's tokens are split evenly over `calls` calls."""
        return self.call_s(self.step_tokens(step_s, note_calls) / max(1, calls))


DEFAULT_MODEL = LatencyModel()
