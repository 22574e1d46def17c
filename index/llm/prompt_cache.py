"""One saved llama.cpp state per prompt head, so prompts that take turns on one model each resume their own.

llama.cpp evaluates only the part of a prompt that differs from what its KV cache holds, but it holds one
sequence: the agent's, the rerank's and the preference reader's prompts alternate and evict each other. A
prompt's head is its system turn, where the fixed part of a prompt goes (instructions, tool schemas); what
changes goes after it. After each completion the model's state is saved under its head (the least recently
used head is dropped past `max_heads`); before the next prompt with that head the saved state is loaded
when it shares more tokens with the prompt than the state the model is in.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Any, Sequence

import numpy as np

MAX_HEADS = 4  # agent, rerank, preference reader, enrichment; a state is ~28 kB per token for Qwen 1.5B


def head_of(prompt: Sequence[dict[str, str]]) -> str:
    """The fixed part a prompt starts with: its system turn (empty when it has none)."""
    return prompt[0]["content"] if prompt and prompt[0]["role"] == "system" else ""


def shared_prefix(held: Sequence[int], tokens: Sequence[int]) -> int:
    """How many leading tokens the two sequences have in common."""
    n = min(len(held), len(tokens))
    differs = np.flatnonzero(np.asarray(held[:n]) != np.asarray(tokens[:n]))
    return int(differs[0]) if differs.size else n


class PromptHeadCache:
    """Saved `llama_cpp.Llama` states by prompt head."""

    def __init__(self, max_heads: int = MAX_HEADS) -> None:
        self.max_heads = max_heads
        self._states: OrderedDict[str, Any] = OrderedDict()

    def __len__(self) -> int:
        return len(self._states)

    def restore(self, llama: Any, head: str, tokens: Sequence[int]) -> int:
        """Put `llama` in the state that shares most of `tokens` (its own, or the one saved for `head`);
        returns how many prompt tokens it will not evaluate again (llama.cpp re-evaluates at least one)."""
        reused = shared_prefix(llama.input_ids[: llama.n_tokens], tokens)
        saved = self._states.get(head)
        if saved is not None:
            self._states.move_to_end(head)
            theirs = shared_prefix(saved.input_ids[: saved.n_tokens], tokens)
            if theirs > reused:
                llama.load_state(saved)
                reused = theirs
        return max(0, min(reused, len(tokens) - 1))

    def save(self, llama: Any, head: str) -> None:
        if self.max_heads == 0:
            return
        state = llama.save_state()
        # Without logits_all llama.cpp samples inside its sampler and a loaded state is decoded again before
        # sampling, so the saved logits are never read; one row of them (load_state broadcasts it) saves
        # ~300 MB per state for a 150k vocabulary.
        state.scores = state.scores[-1:]
        self._states[head] = state
        self._states.move_to_end(head)
        while len(self._states) > self.max_heads:
            self._states.popitem(last=False)
