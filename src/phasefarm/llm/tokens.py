"""Token estimates: about four characters per token, the same rule everywhere.

The offline provider reports these as usage, the fake server counts them against its limits, and
the limiter reserves them before a call, so budgets and limits behave as with a real model.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

__all__ = [
    "CHARS_PER_TOKEN",
    "estimate_messages_tokens",
    "estimate_tokens",
    "max_prompt_tokens",
    "max_text_tokens",
]

CHARS_PER_TOKEN = 4
_PER_MESSAGE = 4  # role and separators, as chat formats add a few tokens per message
_PER_REQUEST = 3


def estimate_tokens(text: str) -> int:
    """Tokens in a piece of text: ceil(chars / 4), at least 1 for non-empty text."""
    if not text:
        return 0
    return -(-len(text) // CHARS_PER_TOKEN)


def estimate_messages_tokens(messages: Iterable[Mapping[str, object]]) -> int:
    """Prompt tokens of a chat request."""
    total = _PER_REQUEST
    for message in messages:
        content = message.get("content", "")
        total += _PER_MESSAGE + estimate_tokens(
            content if isinstance(content, str) else str(content)
        )
    return total


# Upper bounds, for the budget's reservation before a call. A BPE token (OpenAI's, Llama's,
# Mistral's: byte fallback) stands for at least one byte of UTF-8, so a text has at most as
# many tokens as bytes; chat templates add a few tokens per message.
_TEMPLATE_PER_MESSAGE = 8
_TEMPLATE_PER_REQUEST = 16


def max_text_tokens(text: str) -> int:
    """At most this many tokens, for any byte-level tokenizer."""
    return len(text.encode("utf-8"))


def max_prompt_tokens(messages: Iterable[Mapping[str, object]], extra: str = "") -> int:
    """At most this many prompt tokens for these messages plus `extra` (a JSON schema sent
    in `response_format` counts as prompt too)."""
    total = _TEMPLATE_PER_REQUEST + max_text_tokens(extra)
    for message in messages:
        content = message.get("content", "")
        text = content if isinstance(content, str) else str(content)
        total += _TEMPLATE_PER_MESSAGE + max_text_tokens(text)
    return total
