"""Grammar-constrained sampling at nearly the cost of free sampling, the way llama.cpp's own sampler does it.

llama-cpp-python runs the JSON grammar over the whole vocabulary (151,936 tokens for Qwen2.5) before every
token, which on 2 cores costs most of a forward pass again (`python -m eval.bench llama`: about 155 ms a token
under a grammar, 95 without). llama.cpp's common sampler first samples without the grammar and checks that
one token; only when the grammar rejects it does it constrain the whole vocabulary and sample again. Greedy
decoding gives the same tokens either way; with a temperature it is llama.cpp's approximation of the
constrained distribution. The rejected token stays in the free chain's repeat-penalty history, which is
neutral here (no repeat, frequency or presence penalty is set).

`json_grammar` also closes a hole in llama-cpp-python's JSON grammar: its string character is `[^"\\]`, so a
raw newline may go into a string, which no JSON parser accepts (one rerank of the 1.5B model failed on it);
llama.cpp's own converter leaves out control characters, and so does this one.
"""

from __future__ import annotations

import ctypes
import json
import math
from typing import Any

import llama_cpp
import numpy as np
from llama_cpp._internals import LlamaSampler


_LOOSE_CHAR = 'char ::= [^"\\\\] |'
_STRICT_CHAR = 'char ::= [^"\\\\\\x7F\\x00-\\x1F] |'


def json_grammar(schema: dict[str, Any]) -> llama_cpp.LlamaGrammar:
    """The grammar of JSON that fits `schema`, with no raw control characters inside strings."""
    text = llama_cpp.LlamaGrammar.from_json_schema(json.dumps(schema), verbose=False)._grammar
    if _LOOSE_CHAR not in text and "char ::=" in text:
        raise ValueError("llama-cpp-python's JSON string rule changed; index/llm/sampling.py expects the old one")
    return llama_cpp.LlamaGrammar.from_string(text.replace(_LOOSE_CHAR, _STRICT_CHAR), verbose=False)


class GrammarResampler:
    """Stands where llama-cpp-python keeps its sampler chain (`sample(ctx, idx) -> token`)."""

    def __init__(self, free: LlamaSampler, vocab, grammar: llama_cpp.LlamaGrammar, n_vocab: int) -> None:
        self.free, self.n_vocab = free, n_vocab
        self.grammar = llama_cpp.llama_sampler_init_grammar(vocab, grammar._grammar.encode("utf-8"),
                                                            grammar._root.encode("utf-8"))
        if not self.grammar:
            raise ValueError("llama.cpp could not compile the grammar")
        self._one = (llama_cpp.llama_token_data * 1)()
        self._all = (llama_cpp.llama_token_data * n_vocab)()
        self._view = np.ctypeslib.as_array(self._all)
        self._ids = np.arange(n_vocab, dtype=np.int32)

    def sample(self, ctx, idx: int = -1) -> int:
        token = self.free.sample(ctx, idx)
        if self._allowed(token):
            llama_cpp.llama_sampler_accept(self.grammar, token)
            return token
        logits = np.ctypeslib.as_array(llama_cpp.llama_get_logits_ith(ctx.ctx, idx), shape=(self.n_vocab,))
        self._view["id"], self._view["logit"], self._view["p"] = self._ids, logits, 0.0
        candidates = llama_cpp.llama_token_data_array(data=self._all, size=self.n_vocab, selected=-1, sorted=False)
        llama_cpp.llama_sampler_apply(self.grammar, ctypes.byref(candidates))
        llama_cpp.llama_sampler_apply(self.free.sampler, ctypes.byref(candidates))
        token = int(candidates.data[candidates.selected].id)
        llama_cpp.llama_sampler_accept(self.grammar, token)
        llama_cpp.llama_sampler_accept(self.free.sampler, token)
        return token

    def _allowed(self, token: int) -> bool:
        self._one[0].id, self._one[0].logit, self._one[0].p = token, 0.0, 0.0
        single = llama_cpp.llama_token_data_array(data=self._one, size=1, selected=-1, sorted=False)
        llama_cpp.llama_sampler_apply(self.grammar, ctypes.byref(single))
        return not math.isinf(self._one[0].logit)

    def __del__(self) -> None:
        if getattr(self, "grammar", None):
            llama_cpp.llama_sampler_free(self.grammar)
            self.grammar = None


class ResamplingLlama(llama_cpp.Llama):
    """`llama_cpp.Llama` whose grammar-constrained completions sample through `GrammarResampler`."""

    def _init_sampler(self, *args, grammar: llama_cpp.LlamaGrammar | None = None, **kwargs):
        free = super()._init_sampler(*args, grammar=None, **kwargs)
        if grammar is None:
            return free
        return GrammarResampler(free, self._model.vocab, grammar, self._n_vocab)
