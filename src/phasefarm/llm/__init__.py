"""The LLM layer: providers, the shared rate limiter, budget, response cache, the `LLM` facade.

from phasefarm.llm import build_llm
llm = build_llm("offline", time_scale=0.05)          # or "openai"
page = await llm.structured(messages, PagePlan, task="page_plan")
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from phasefarm.llm.budget import Budget, UsageTotals
from phasefarm.llm.cache import ResponseCache
from phasefarm.llm.client import LLM, RetryPolicy
from phasefarm.llm.factory import PROVIDERS, build_llm
from phasefarm.llm.images import draw_png, palette_from_text
from phasefarm.llm.limiter import Lease, Limiter, LimiterStats, RateLimiter
from phasefarm.llm.offline import OfflineProvider, OfflineRequest, Responder
from phasefarm.llm.pricing import DEFAULT_PRICES, Price, PriceTable
from phasefarm.llm.provider import (
    ChatResult,
    ImageResult,
    Message,
    Provider,
    ServerLimits,
    Usage,
)
from phasefarm.llm.synth import synthesize
from phasefarm.llm.tokens import estimate_messages_tokens, estimate_tokens

if TYPE_CHECKING:
    from phasefarm.llm.openai_provider import OpenAIProvider, parse_retry_after

__all__ = [
    "DEFAULT_PRICES",
    "LLM",
    "PROVIDERS",
    "Budget",
    "ChatResult",
    "ImageResult",
    "Lease",
    "Limiter",
    "LimiterStats",
    "Message",
    "OfflineProvider",
    "OfflineRequest",
    "OpenAIProvider",
    "Price",
    "PriceTable",
    "Provider",
    "RateLimiter",
    "Responder",
    "ResponseCache",
    "RetryPolicy",
    "ServerLimits",
    "Usage",
    "UsageTotals",
    "build_llm",
    "draw_png",
    "estimate_messages_tokens",
    "estimate_tokens",
    "palette_from_text",
    "parse_retry_after",
    "synthesize",
]


_LAZY = ("OpenAIProvider", "parse_retry_after")


def __getattr__(name: str) -> Any:
    # The openai SDK takes about half a second to import: offline runs never pay for it.
    if name in _LAZY:
        from phasefarm.llm import openai_provider

        return getattr(openai_provider, name)
    raise AttributeError(f"module 'phasefarm.llm' has no attribute {name!r}")
