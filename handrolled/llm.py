"""Which OpenAI-compatible server answers, read from the same environment as index/llm/backends.py.

`auto`: OpenAI when OPENAI_API_KEY is set, else the server at MOVIEREC_LLM_BASE_URL, else no LLM. The
hand-rolled path talks to every LLM through the openai SDK, so an in-process GGUF model (`local`) has to be
served first (`python -m llama_cpp.server --model FILE`) and named by MOVIEREC_LLM_BASE_URL.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, replace

from index.errors import UserError

CHOICES = ("auto", "openai", "openai-like", "local", "none")
OPENAI_DEFAULT_MODEL = "gpt-4o-mini"


class LLMSettingsError(UserError):
    """An LLM choice the environment cannot satisfy; the message says what to set."""


class EmptyAnswer(ValueError):
    """The server answered, but with nothing to read."""


@dataclass(frozen=True)
class LLMSettings:
    kind: str  # openai | openai-like
    base_url: str
    model: str  # "" until asked from the server's /models
    api_key: str
    context_window: int = 128_000  # tokens; MOVIEREC_LLM_CONTEXT for an OpenAI-compatible server

    def describe(self) -> str:
        return f"{self.kind} ({self.model or '?'} at {self.base_url})"


def resolve_llm(choice: str = "auto") -> LLMSettings | None:
    """The server to use for `choice`, or None for the deterministic path."""
    if choice not in CHOICES:
        raise LLMSettingsError(f"unknown llm {choice!r}; choose one of {', '.join(CHOICES)}")
    env = os.environ
    if choice == "none":
        return None
    if choice == "auto":
        choice = "openai" if env.get("OPENAI_API_KEY") else "openai-like" if env.get("MOVIEREC_LLM_BASE_URL") else "none"
        if choice == "none":
            return None
    if choice == "openai":
        if not env.get("OPENAI_API_KEY"):
            raise LLMSettingsError("llm 'openai' needs OPENAI_API_KEY in the environment (or use --llm none)")
        return LLMSettings("openai", env.get("OPENAI_BASE_URL", "https://api.openai.com/v1"),
                           env.get("MOVIEREC_OPENAI_MODEL", OPENAI_DEFAULT_MODEL), env["OPENAI_API_KEY"])
    if not env.get("MOVIEREC_LLM_BASE_URL"):
        hint = " (the hand-rolled path reaches local models through a server: python -m llama_cpp.server)" \
            if choice == "local" else ""
        raise LLMSettingsError(f"llm {choice!r} needs MOVIEREC_LLM_BASE_URL, e.g. http://127.0.0.1:8080/v1{hint}")
    return LLMSettings("openai-like", env["MOVIEREC_LLM_BASE_URL"], env.get("MOVIEREC_LLM_MODEL", ""),
                       env.get("MOVIEREC_LLM_API_KEY", "not-needed"), int(env.get("MOVIEREC_LLM_CONTEXT", "8192")))


def make_client(settings: LLMSettings, timeout: float):
    """An openai client with the SDK's own retries off: rerank.py decides what to retry."""
    from openai import OpenAI

    return OpenAI(base_url=settings.base_url, api_key=settings.api_key, timeout=timeout, max_retries=0)


def with_model(settings: LLMSettings, client) -> LLMSettings:
    """Fill in the model from the server's /models when none was configured."""
    if settings.model:
        return settings
    try:
        models = [m.id for m in client.models.list()]
    except Exception as exc:  # connection refused, 404 on servers without /models, ...
        raise LLMSettingsError(f"set MOVIEREC_LLM_MODEL: cannot list the models at {settings.base_url} "
                               f"({type(exc).__name__})") from exc
    if not models:
        raise LLMSettingsError(f"set MOVIEREC_LLM_MODEL: the server at {settings.base_url} lists no model")
    return replace(settings, model=models[0])


def chat_completion(client, model: str, messages: list[dict], deadline: float, attempts: int = 3,
                    backoff: float = 0.5, json_mode: bool = False, max_tokens: int = 800) -> tuple[str, int]:
    """(answer text, attempts used). Connection errors, timeouts, 429 and 5xx are retried with exponential
    backoff while the deadline allows; other errors propagate at once."""
    import openai

    retryable = (openai.APIConnectionError, openai.APITimeoutError, openai.RateLimitError,
                 openai.InternalServerError)
    options = {"response_format": {"type": "json_object"}} if json_mode else {}
    ends = time.monotonic() + deadline
    for attempt in range(1, attempts + 1):
        try:
            response = client.chat.completions.create(model=model, messages=messages, temperature=0.2,
                                                      max_tokens=max_tokens, timeout=max(ends - time.monotonic(), 0.1),
                                                      **options)
        except retryable:
            pause = backoff * 2 ** (attempt - 1)
            if attempt == attempts or time.monotonic() + pause >= ends:
                raise
            time.sleep(pause)
            continue
        if not getattr(response, "choices", None):
            raise EmptyAnswer("the server answered without choices")
        return response.choices[0].message.content or "", attempt
    raise AssertionError("unreachable: the last attempt returns or raises")
