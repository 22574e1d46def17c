"""Which LLM answers: OpenAI, an OpenAI-compatible server, a local GGUF model, or none.

`auto` picks OpenAI when `OPENAI_API_KEY` is set, else the server at `MOVIEREC_LLM_BASE_URL`, else a local
GGUF model when llama-cpp-python and a model are installed and pass the self-check (index/llm/selfcheck.py),
else `none`. A backend that cannot work (no key, server down, model missing, llama.cpp crashing on this CPU)
raises `BackendError` with one line that says what to do; under `auto` a failed self-check says that line on
stderr and falls back to `none`.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from pathlib import Path

import httpx
from llama_index.core.llms import LLM

from index.llm.errors import BackendError, LocalModelCrash

CHOICES = ("auto", "openai", "openai-like", "local", "none")
OPENAI_DEFAULT_MODEL = "gpt-4o-mini"
PROBE_TIMEOUT = 5.0


@dataclass
class Backend:
    name: str  # openai | openai-like | local | none
    model: str
    llm: LLM | None
    concurrency: int  # parallel requests worth making: remote APIs take many, one local model one at a time
    screens_turns: bool = True  # asked for the input guard's second opinion on turns its classifier is unsure of
    writes_questions: bool = True  # the agent writes its clarifying questions (False: the policy asks them)

    def describe(self) -> str:
        if self.llm is None:
            return "none (no LLM: deterministic ranking and dialogue)"
        return f"{self.name} ({self.model})"


def resolve_backend(choice: str = "auto", data_dir: Path | None = None, probe: bool = True) -> Backend:
    """Build the backend named by `choice`; `probe` checks that a remote server answers before use."""
    if choice not in CHOICES:
        raise BackendError(f"unknown --llm {choice!r}; choose one of {', '.join(CHOICES)}")
    automatic = choice == "auto"
    if automatic:
        choice = _auto_choice(data_dir)
    if choice == "none":
        return _none()
    if choice == "openai":
        return _openai(probe)
    if choice == "openai-like":
        return _openai_like(probe)
    try:
        return _local(data_dir)
    except LocalModelCrash as exc:
        if not automatic:
            raise
        print(f"movierec: {exc}; continuing with --llm none", file=sys.stderr)
        return _none()


def _none() -> Backend:
    return Backend("none", "none", None, concurrency=8)


def _auto_choice(data_dir: Path | None) -> str:
    if os.environ.get("OPENAI_API_KEY"):
        return "openai"
    if os.environ.get("MOVIEREC_LLM_BASE_URL"):
        return "openai-like"
    from index.llm.gguf import local_model_available

    return "local" if local_model_available(data_dir) else "none"


def _openai(probe: bool) -> Backend:
    from llama_index.llms.openai import OpenAI

    key = os.environ.get("OPENAI_API_KEY")
    if not key:
        raise BackendError("--llm openai needs OPENAI_API_KEY in the environment (or use --llm none)")
    model = os.environ.get("MOVIEREC_OPENAI_MODEL", OPENAI_DEFAULT_MODEL)
    base = os.environ.get("OPENAI_BASE_URL", "https://api.openai.com/v1")
    if probe:
        _probe(base, key, "OpenAI")
    llm = OpenAI(model=model, api_key=key, api_base=base, temperature=0.2, timeout=60.0, max_retries=3)
    return Backend("openai", model, llm, concurrency=8)


def _openai_like(probe: bool) -> Backend:
    base = os.environ.get("MOVIEREC_LLM_BASE_URL")
    if not base:
        raise BackendError("--llm openai-like needs MOVIEREC_LLM_BASE_URL, e.g. http://127.0.0.1:11434/v1 (Ollama)")
    key = os.environ.get("MOVIEREC_LLM_API_KEY", "not-needed")
    models = _probe(base, key, "the OpenAI-compatible server") if probe else []
    model = os.environ.get("MOVIEREC_LLM_MODEL") or (models[0] if models else "")
    if not model:
        raise BackendError(f"set MOVIEREC_LLM_MODEL: the server at {base} lists no model")
    from index.llm.openai_compat import CompatibleOpenAILike  # after the checks: they need no LLM classes

    llm = CompatibleOpenAILike(model=model, api_base=base, api_key=key, temperature=0.2, timeout=120.0,
                               max_retries=2, is_chat_model=True, is_function_calling_model=True,
                               context_window=int(os.environ.get("MOVIEREC_LLM_CONTEXT", "8192")))
    return Backend("openai-like", model, llm, concurrency=int(os.environ.get("MOVIEREC_LLM_CONCURRENCY", "8")))


def _local(data_dir: Path | None) -> Backend:
    from index.config import data_dir as default_data_dir
    from index.llm.gguf import resolve_gguf
    from index.llm.local import shared_local_llm
    from index.llm.selfcheck import check_local_model

    path, label = resolve_gguf(data_dir)
    verdict = check_local_model(path, default_data_dir(data_dir))
    if not verdict.ok:
        raise LocalModelCrash(verdict.message)
    # Not asked by the input guard: on the corpus the bundled 1.5B model blocked about as many harmless turns as
    # the attacks it caught (`python -m eval.guards.screen corpus --llm local`: benign 2.3% -> 6.4%).
    # Nor asked to write questions: in 13 of 13 clarifying turns (`python -m eval.bench turns --llm local`) it
    # called search_movies early, whose answer is the policy's question, after 5-10 s of its own.
    return Backend("local", label, shared_local_llm(path, default_data_dir(data_dir) / "prompt-heads"), concurrency=1,
                   screens_turns=False, writes_questions=False)


def _probe(base: str, key: str, what: str) -> list[str]:
    """GET {base}/models: fails fast, in one line, when the server is down or refuses the key."""
    url = base.rstrip("/") + "/models"
    try:
        response = httpx.get(url, headers={"Authorization": f"Bearer {key}"}, timeout=PROBE_TIMEOUT)
    except httpx.HTTPError as exc:
        raise BackendError(f"cannot reach {what} at {base} ({type(exc).__name__}: {exc}); "
                           "is it running? (or use --llm none)") from exc
    if response.status_code in (401, 403):
        raise BackendError(f"{what} at {base} refused the API key (HTTP {response.status_code})")
    if response.status_code >= 400:
        return []  # some servers have no /models; the first real call will tell
    try:
        return [m["id"] for m in response.json().get("data", []) if "id" in m]
    except (ValueError, AttributeError, TypeError):
        return []
