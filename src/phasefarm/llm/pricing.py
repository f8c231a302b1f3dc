"""Prices per model, in US dollars, overridable per run.

`Price.cost(usage)` turns a call's tokens into dollars. Unknown models cost 0 (and the LLM
facade says so once in the log): a budget in tokens still applies to them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from phasefarm.llm.provider import Usage

__all__ = ["DEFAULT_PRICES", "Price", "PriceTable"]


@dataclass(frozen=True)
class Price:
    """Dollars per million input / output tokens, and per generated image."""

    input_per_mtok: float = 0.0
    output_per_mtok: float = 0.0
    per_image: float = 0.0

    def cost(self, usage: Usage, *, images: int = 0) -> float:
        return (
            usage.prompt_tokens * self.input_per_mtok / 1e6
            + usage.completion_tokens * self.output_per_mtok / 1e6
            + images * self.per_image
        )


# List prices at the time of writing; pass `prices=` to build_llm to correct or extend them.
DEFAULT_PRICES: dict[str, Price] = {
    "gpt-4o-mini": Price(0.15, 0.60),
    "gpt-4o": Price(2.50, 10.00),
    "gpt-4.1": Price(2.00, 8.00),
    "gpt-4.1-mini": Price(0.40, 1.60),
    "gpt-4.1-nano": Price(0.10, 0.40),
    "gpt-5": Price(1.25, 10.00),
    "gpt-5-mini": Price(0.25, 2.00),
    "gpt-5-nano": Price(0.05, 0.40),
    "o4-mini": Price(1.10, 4.40),
    "dall-e-3": Price(per_image=0.04),
    "gpt-image-1": Price(5.00, 40.00, per_image=0.04),
    # The offline model is priced like gpt-4o-mini (images like dall-e-3), so budgets and the
    # live cost behave offline as they would against a small real model.
    "offline": Price(0.15, 0.60, per_image=0.04),
}


class PriceTable:
    """Model name -> Price, with dated names ("gpt-4o-2024-08-06") found by prefix."""

    def __init__(self, overrides: Mapping[str, Price] | None = None) -> None:
        self._prices = {**DEFAULT_PRICES, **(overrides or {})}

    def get(self, model: str) -> Price | None:
        if model in self._prices:
            return self._prices[model]
        # The longest known name the model starts with: "gpt-4o-mini-2024" -> "gpt-4o-mini".
        for name in sorted(self._prices, key=len, reverse=True):
            if model.startswith(name):
                return self._prices[name]
        return None
