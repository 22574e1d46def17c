"""LLM calls and tokens per chat turn, read from LlamaIndex instrumentation events.

A structured prediction counts as one call even when the LLM class implements it through `chat`. The
meter in effect is a context variable, so concurrent sessions never mix their counts. Meters nest: an inner
one adds its counts to the outer one when it closes, so a call cut off by a timeout (its end event never
comes) is closed with its own meter and cannot make the turn's later calls look nested in it. A call cut
off that way is not counted: its prompt tokens were evaluated but never reported.
"""

from __future__ import annotations

import contextvars
from contextlib import contextmanager
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Iterator

from llama_index.core.instrumentation import get_dispatcher
from llama_index.core.instrumentation.event_handlers import BaseEventHandler
from llama_index.core.instrumentation.events import BaseEvent
from llama_index.core.instrumentation.events.llm import (
    LLMChatEndEvent,
    LLMCompletionEndEvent,
    LLMStructuredPredictEndEvent,
    LLMStructuredPredictStartEvent,
)
from llama_index.core.utils import get_tokenizer


@dataclass
class Usage:
    calls: int = 0
    tokens_in: int = 0
    tokens_out: int = 0
    tokens_cached: int = 0  # prompt tokens the server or llama.cpp reused from an earlier call, not evaluated
    estimated: bool = False  # some counts came from a tokenizer estimate, not from the server
    _structured_depth: int = 0

    @property
    def tokens(self) -> int:
        return self.tokens_in + self.tokens_out

    @property
    def tokens_evaluated(self) -> int:
        """Prompt tokens actually processed: what a turn costs in prompt time."""
        return self.tokens_in - self.tokens_cached

    def add(self, other: Usage) -> None:
        self.calls += other.calls
        self.tokens_in += other.tokens_in
        self.tokens_out += other.tokens_out
        self.tokens_cached += other.tokens_cached
        self.estimated = self.estimated or other.estimated


_current: contextvars.ContextVar[Usage | None] = contextvars.ContextVar("movierec_usage", default=None)


@contextmanager
def metered() -> Iterator[Usage]:
    """Count the LLM calls made inside the block (and in tasks it starts); an enclosing meter gets them too."""
    _install()
    usage = Usage()
    token = _current.set(usage)
    try:
        yield usage
    finally:
        _current.reset(token)
        if (outer := _current.get()) is not None:
            outer.add(usage)


class _UsageHandler(BaseEventHandler):
    @classmethod
    def class_name(cls) -> str:
        return "MovierecUsageHandler"

    def handle(self, event: BaseEvent, **kwargs: Any) -> None:
        usage = _current.get()
        if usage is None:
            return
        if isinstance(event, LLMStructuredPredictStartEvent):
            if usage._structured_depth == 0:
                usage.calls += 1
            usage._structured_depth += 1
        elif isinstance(event, LLMStructuredPredictEndEvent):
            usage._structured_depth = max(0, usage._structured_depth - 1)
            usage.tokens_out += _estimate(event.output.model_dump_json()) if usage._structured_depth == 0 \
                and not usage.tokens_out else 0
        elif isinstance(event, (LLMChatEndEvent, LLMCompletionEndEvent)):
            if usage._structured_depth == 0:
                usage.calls += 1
            _add_tokens(usage, event)


def _add_tokens(usage: Usage, event: LLMChatEndEvent | LLMCompletionEndEvent) -> None:
    response = event.response
    counts = _reported(response)
    if counts:
        usage.tokens_in += counts[0]
        usage.tokens_out += counts[1]
        usage.tokens_cached += counts[2]
        return
    usage.estimated = True
    prompt = " ".join(str(m.content or "") for m in event.messages) if isinstance(event, LLMChatEndEvent) \
        else event.prompt
    usage.tokens_in += _estimate(prompt)
    text = getattr(getattr(response, "message", None), "content", None) or getattr(response, "text", "") or ""
    usage.tokens_out += _estimate(str(text))


def _reported(response: Any) -> tuple[int, int, int] | None:
    """(prompt, completion, cached prompt) tokens from an OpenAI-style `usage`, wherever the LLM class put it."""
    extra = getattr(response, "additional_kwargs", None) or {}
    if "prompt_tokens" in extra:
        return (int(extra["prompt_tokens"]), int(extra.get("completion_tokens", 0)),
                int(extra.get("cached_tokens", 0) or 0))
    raw = getattr(response, "raw", None)
    found = raw.get("usage") if isinstance(raw, dict) else getattr(raw, "usage", None)
    if found is None:
        return None
    get = found.get if isinstance(found, dict) else lambda k, d=0: getattr(found, k, d)
    details = get("prompt_tokens_details", None) or {}
    cached = details.get("cached_tokens", 0) if isinstance(details, dict) else getattr(details, "cached_tokens", 0)
    return int(get("prompt_tokens", 0) or 0), int(get("completion_tokens", 0) or 0), int(cached or 0)


def _estimate(text: str) -> int:
    """cl100k tokens, from the tokenizer LlamaIndex ships (plain tiktoken would download it)."""
    return len(get_tokenizer()(text))


@lru_cache(maxsize=1)
def _install() -> None:
    get_dispatcher().add_event_handler(_UsageHandler())
