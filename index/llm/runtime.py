"""The llama.cpp runtime: one loaded GGUF model, its own chat template, and generation under a lock.

Prompts go through the model's chat template (read from the GGUF). Every llama.cpp call holds the
runtime's lock until its pieces are exhausted or closed, so concurrent chat sessions can share one model.
Grammars constrain by resampling (index/llm/sampling.py), and tokens the reply copies from its prompt are
checked several at a time (index/llm/drafting.py). Each prompt resumes from the state saved for its
head (index/llm/prompt_cache.py), so only the tokens after
what it shares with the last prompt of that head are evaluated; the counts go into the turn's usage. Given
a folder, a loaded model also keeps its head-only states there for the next run.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any, Iterator

from index.llm.errors import BackendError, LocalLLMError
from index.llm.prompt_cache import MAX_HEADS, HeadStore, PromptHeadCache, head_of, shared_prefix
from index.llm.turns import Turn

MIN_ROOM = 32  # tokens a reply needs at least; less than that left in the context is an error, not a stub


class LlamaRuntime:
    """A `llama_cpp.Llama` (or a stand-in in tests) with its chat formatter and lock."""

    def __init__(self, llama: Any, max_heads: int = MAX_HEADS, store: HeadStore | None = None) -> None:
        from llama_cpp.llama_chat_format import CHATML_CHAT_TEMPLATE, Jinja2ChatFormatter

        self.llama = llama
        self.lock = threading.Lock()
        self.states = PromptHeadCache(max_heads, store if max_heads else None)
        special = lambda token: llama.detokenize([token], special=True).decode() if token >= 0 else ""  # noqa: E731
        self._formatter = Jinja2ChatFormatter(
            template=llama.metadata.get("tokenizer.chat_template") or CHATML_CHAT_TEMPLATE,
            eos_token=special(llama.token_eos()), bos_token=special(llama.token_bos()))

    @classmethod
    def load(cls, model_path: str | Path, context_window: int, n_threads: int,
             max_heads: int = MAX_HEADS, head_store: str | Path | None = None) -> LlamaRuntime:
        import llama_cpp

        from index.llm.drafting import DraftingLlama

        path = Path(model_path)
        try:
            llama = DraftingLlama(model_path=str(path), n_ctx=context_window, n_threads=n_threads, verbose=False)
        except (ValueError, RuntimeError, OSError) as exc:
            raise BackendError(f"cannot load the GGUF model {model_path}: {exc}") from exc
        identity = f"llama-cpp-python {llama_cpp.__version__}:{path.name}:{path.stat().st_size}:n_ctx {context_window}"
        return cls(llama, max_heads, HeadStore(Path(head_store), identity) if head_store else None)

    def generate(self, prompt: list[dict[str, str]], turn: Turn, schema: dict[str, Any] | None, *,
                 context_window: int, max_tokens: int, temperature: float) -> Iterator[str]:
        """Text pieces of one completion of the chat `prompt`; `schema` constrains it by a JSON grammar.
        Turn options override `max_tokens`, `temperature` and `stop`; prompt and reply tokens are counted."""
        from llama_cpp import StoppingCriteriaList

        from index.llm.sampling import json_grammar

        with self.lock:
            try:
                rendered = self._formatter(messages=prompt)
                tokens = self.llama.tokenize(rendered.prompt.encode("utf-8"), add_bos=not rendered.added_special,
                                             special=True)
                room = context_window - len(tokens)
                if room < MIN_ROOM:
                    raise LocalLLMError(f"the prompt ({len(tokens)} tokens) does not fit the "
                                        f"{context_window}-token context")
                options = dict(turn.options)
                stop = _as_list(rendered.stop) + _as_list(options.pop("stop", None))
                grammar = json_grammar(schema) if schema else None
                head = head_of(prompt)
                turn.usage["prompt_tokens"] += len(tokens)
                # Only a head this process has not met yet may need evaluating alone (and storing).
                fresh = self.states.store is not None and head not in self.states
                head_tokens = self._head_tokens(prompt, tokens) if fresh else 0
                turn.usage["cached_tokens"] += self.states.restore(self.llama, head, tokens, head_tokens)
                chunks = self.llama.create_completion(
                    prompt=tokens, stream=True, grammar=grammar, stop=stop,
                    max_tokens=min(options.pop("max_tokens", None) or max_tokens, room),
                    temperature=options.pop("temperature", temperature),
                    stopping_criteria=StoppingCriteriaList([turn.on_token]), **options)
                try:
                    for chunk in chunks:
                        yield chunk["choices"][0]["text"]
                finally:
                    chunks.close()
                    self.states.save(self.llama, head)
            except (ValueError, RuntimeError) as exc:
                if isinstance(exc, LocalLLMError):
                    raise
                raise LocalLLMError(f"llama.cpp failed: {exc}") from exc


    def _head_tokens(self, prompt: list[dict[str, str]], tokens: list[int]) -> int:
        """How many leading `tokens` render the system turn alone (0 without one)."""
        if not head_of(prompt):
            return 0
        alone = self._formatter(messages=prompt[:1])
        head = self.llama.tokenize(alone.prompt.encode("utf-8"), add_bos=not alone.added_special, special=True)
        return shared_prefix(head, tokens)


def _as_list(value: str | list[str] | None) -> list[str]:
    return [] if value is None else [value] if isinstance(value, str) else list(value)
