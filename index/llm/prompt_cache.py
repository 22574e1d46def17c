"""One saved llama.cpp state per prompt head, so prompts that take turns on one model each resume their own.

llama.cpp evaluates only the part of a prompt that differs from what its KV cache holds, but it holds one
sequence: the agent's, the rerank's and the preference reader's prompts alternate and evict each other. A
prompt's head is its system turn, where the fixed part of a prompt goes (instructions, tool schemas); what
changes goes after it. After each completion the model's state is saved under its head (the least recently
used head is dropped past `max_heads`); before the next prompt with that head the saved state is loaded
when it shares more tokens with the prompt than the state the model is in.

A `HeadStore` keeps, on disk, one state per head holding the head alone (never a person's words): the first
time any process meets a head it evaluates the head by itself and stores that state, and every later run
(a new `movierec chat`, a restarted server, each benchmark transcript) starts with its heads evaluated.
"""

from __future__ import annotations

import hashlib
import logging
from collections import OrderedDict
from pathlib import Path
from typing import Any, Sequence

import numpy as np

MAX_HEADS = 4  # agent, rerank, preference reader, enrichment; a state is ~28 kB per token for Qwen 1.5B
STORE_BYTES = 512 * 2**20  # head-only states on disk, least recently used dropped past it (~30 MB each)
log = logging.getLogger("movierec.llm")


def head_of(prompt: Sequence[dict[str, str]]) -> str:
    """The fixed part a prompt starts with: its system turn (empty when it has none)."""
    return prompt[0]["content"] if prompt and prompt[0]["role"] == "system" else ""


def shared_prefix(held: Sequence[int], tokens: Sequence[int]) -> int:
    """How many leading tokens the two sequences have in common."""
    n = min(len(held), len(tokens))
    differs = np.flatnonzero(np.asarray(held[:n]) != np.asarray(tokens[:n]))
    return int(differs[0]) if differs.size else n


def snapshot(llama: Any) -> Any:
    """The model's state, without the logits it never reads again."""
    state = llama.save_state()
    # Without logits_all llama.cpp samples inside its sampler and a loaded state is decoded again before
    # sampling, so the saved logits are never read; one row of them (load_state broadcasts it) saves
    # ~300 MB per state for a 150k vocabulary.
    state.scores = state.scores[-1:]
    return state


class HeadStore:
    """Head-only states in a folder (diskcache: atomic writes, safe across processes), for one model and
    context size; a folder it cannot use is logged once and then ignored."""

    def __init__(self, folder: Path, identity: str) -> None:
        self.identity = identity
        try:
            import diskcache

            self._cache = diskcache.Cache(str(folder), size_limit=STORE_BYTES)
        except Exception as exc:  # read-only or broken folder: the heads are evaluated as before
            log.warning("prompt heads are not kept on disk (%s: %s)", folder, exc)
            self._cache = None

    def _key(self, head: str) -> str:
        return f"{self.identity}:{hashlib.sha256(head.encode()).hexdigest()}"

    def get(self, head: str) -> Any:
        try:
            return self._cache.get(self._key(head)) if self._cache is not None else None
        except Exception as exc:  # a truncated or foreign entry: evaluate the head again
            log.warning("a stored prompt head could not be read (%s)", exc)
            return None

    def put(self, head: str, state: Any) -> None:
        try:
            if self._cache is not None:
                self._cache.set(self._key(head), state)
        except Exception as exc:
            log.warning("a prompt head could not be stored (%s)", exc)
            self._cache = None


class PromptHeadCache:
    """Saved `llama_cpp.Llama` states by prompt head, optionally seeded from a `HeadStore`."""

    def __init__(self, max_heads: int = MAX_HEADS, store: HeadStore | None = None) -> None:
        self.max_heads, self.store = max_heads, store
        self._states: OrderedDict[str, Any] = OrderedDict()

    def __len__(self) -> int:
        return len(self._states)

    def __contains__(self, head: str) -> bool:
        return head in self._states

    def restore(self, llama: Any, head: str, tokens: Sequence[int], head_tokens: int = 0) -> int:
        """Put `llama` in the state that shares most of `tokens` (its own, or the one saved for `head`);
        returns how many prompt tokens it will not evaluate again (llama.cpp re-evaluates at least one).
        `head_tokens`: how many of `tokens` are the head; with a store, a head met for the first time is
        evaluated alone first and stored (those tokens still count as evaluated)."""
        reused = shared_prefix(llama.input_ids[: llama.n_tokens], tokens)
        saved = self._states.get(head)
        if saved is None and self.store is not None and head:
            saved = self.store.get(head)
            if saved is None and 0 < head_tokens and reused < head_tokens:
                llama.reset()
                llama.eval(list(tokens[:head_tokens]))
                self.store.put(head, snapshot(llama))
                return 0  # all of it evaluated in this call: the head here, the rest by llama.cpp
        if saved is not None:
            self._states[head] = saved
            self._states.move_to_end(head)
            theirs = shared_prefix(saved.input_ids[: saved.n_tokens], tokens)
            if theirs > reused:
                llama.load_state(saved)
                reused = theirs
        return max(0, min(reused, len(tokens) - 1))

    def save(self, llama: Any, head: str) -> None:
        if self.max_heads == 0:
            return
        state = snapshot(llama)
        self._states[head] = state
        self._states.move_to_end(head)
        while len(self._states) > self.max_heads:
            self._states.popitem(last=False)
