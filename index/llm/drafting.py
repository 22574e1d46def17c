"""Prompt-lookup drafting: several output tokens checked in one forward pass where the reply copies its prompt.

On 2 cores a generated token costs about 95 ms, one forward pass of the model, while the prompt is read at about
10 ms a token in batches. Much of what the model writes is already in its prompt or in its own reply so far:
the JSON keys of each pick, the candidate ids, the rules' draft reading it corrects, the person's words in a
reason. After each token, `PromptLookup` finds the latest earlier place where the last few tokens occurred and
proposes the tokens that followed there; llama-cpp-python's generate loop evaluates them in one batch and samples
each position in turn, keeping the draft only as far as the sampled tokens agree (the usual speculative check:
the same distribution as without drafting, up to llama.cpp computing a batch with other kernels than one token).

llama-cpp-python turns on logits for every token of every batch when given a draft model, which on a
1000-token prompt computes the 152k-word output layer 1000 times and copies 600 MB of logits.
`DraftingLlama` asks for every position's logits only in the short batches that check a draft.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt
from llama_cpp.llama_speculative import LlamaDraftModel

from index.llm.sampling import ResamplingLlama

DRAFT_TOKENS = 8  # proposed at a time
MIN_MATCH = 3  # tokens that must repeat before a draft is proposed: shorter matches guess wrong too often


class PromptLookup(LlamaDraftModel):
    """Proposes the `draft_tokens` that followed the latest earlier occurrence of the last `max_match` tokens, or
    of fewer, down to `min_match`."""

    def __init__(self, draft_tokens: int = DRAFT_TOKENS, min_match: int = MIN_MATCH, max_match: int = 6) -> None:
        self.draft_tokens, self.min_match, self.max_match = draft_tokens, min_match, max_match

    def __call__(self, input_ids: npt.NDArray[np.intc], /, **kwargs: Any) -> npt.NDArray[np.intc]:
        ids = np.asarray(input_ids)
        for size in range(min(self.max_match, len(ids) - 1), self.min_match - 1, -1):
            windows = np.lib.stride_tricks.sliding_window_view(ids[:-1], size)
            starts = np.flatnonzero((windows == ids[-size:]).all(axis=1))
            if starts.size:
                follow = starts[-1] + size  # the latest occurrence: the reply's own last pick beats the prompt's
                return ids[follow: follow + self.draft_tokens].astype(np.intc)
        return np.array([], dtype=np.intc)


class DraftingLlama(ResamplingLlama):
    """`ResamplingLlama` that drafts by prompt lookup, with logits for every position only where a draft is
    checked."""

    def __init__(self, *args: Any, draft: PromptLookup | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)  # no draft_model here: llama-cpp-python would set logits_all
        self.draft_model = draft or PromptLookup()

    def eval(self, tokens) -> None:
        if len(tokens) < 2 or len(tokens) > self.draft_model.draft_tokens + 1:
            return super().eval(tokens)  # one sampled token, or a prompt: the last position's logits suffice
        self._ctx.kv_cache_seq_rm(-1, self.n_tokens, -1)
        self._batch.set_batch(batch=tokens, n_past=self.n_tokens, logits_all=True)
        self._ctx.decode(self._batch)
        self.input_ids[self.n_tokens: self.n_tokens + len(tokens)] = tokens
        self.n_tokens += len(tokens)
        self._requires_eval = False
