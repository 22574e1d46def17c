"""The errors every LLM backend raises: an unusable backend (one actionable line) and a failed answer."""

from __future__ import annotations

from index.errors import UserError


class BackendError(UserError):
    """An LLM backend that cannot be used; the message is one actionable line."""


class LocalModelCrash(BackendError):
    """The local model failed its self-check: llama.cpp crashed or failed on a test prompt here."""


class LocalLLMError(RuntimeError):
    """llama.cpp could not answer (prompt too long for the context, a failed generation)."""


class MalformedOutputError(LocalLLMError, ValueError):
    """The model's output is not the tool call or JSON object that was asked for; `text` is what it wrote."""

    def __init__(self, message: str, text: str = ""):
        super().__init__(message)
        self.text = text
