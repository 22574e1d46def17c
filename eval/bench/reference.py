"""The unit a conversation's time is measured in: one 1000-token prompt plus 64 generated tokens.

The same model file and thread count the chat uses, in a fresh `llama_cpp.Llama` whose cache holds nothing,
so the run costs what one plain long call costs on this machine at this moment. `bench compare` times one
before each transcript and divides each conversation's seconds by their median: "a 4-turn conversation takes
N reference runs" then means the same on a fast or a slow machine.
"""

from __future__ import annotations

import time
from itertools import islice
from pathlib import Path
from typing import Any

PROMPT_TOKENS = 1000
NEW_TOKENS = 64
TEXT = ("A person asks a librarian for a film for tonight: something funny but not silly, from the nineties, "
        "with subtitles if it must, like the heist films they loved last year. ")


def load_reference_model(model_path: str | Path, context_window: int, n_threads: int) -> Any:
    from llama_cpp import Llama

    return Llama(model_path=str(model_path), n_ctx=context_window, n_threads=n_threads, verbose=False)


def reference_seconds(llama: Any, prompt_tokens: int = PROMPT_TOKENS, new_tokens: int = NEW_TOKENS) -> float:
    """Wall seconds to evaluate `prompt_tokens` from an empty cache and generate `new_tokens` after them."""
    text = TEXT * (prompt_tokens // 20)
    tokens = llama.tokenize(text.encode("utf-8"), add_bos=True)[:prompt_tokens]
    if len(tokens) < prompt_tokens:
        raise ValueError(f"the reference text gives {len(tokens)} tokens, fewer than {prompt_tokens}")
    llama.reset()  # nothing reused: the prompt is evaluated in full
    started = time.perf_counter()
    for _ in islice(llama.generate(tokens, temp=0.0), new_tokens):  # generate() never stops at EOS
        pass
    return time.perf_counter() - started
