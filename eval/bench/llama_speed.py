"""`python -m eval.bench llama`: how fast the installed llama.cpp build reads and writes on this machine.

Prints the instruction sets the build uses, prompt tokens read per second from an empty cache, and
milliseconds per generated token: free, under a JSON grammar as llama-cpp-python applies it, and under the same
grammar through `index/llm/sampling.py` (how the reading and the rerank decode).
Medians of `--repeats` runs. Run it once per build (`make rebuild-local`, or another wheel on PYTHONPATH) to
compare them; the Makefile's choice of flags was made on these numbers.
"""

from __future__ import annotations

import statistics
import time
from pathlib import Path

from eval.bench.reference import NEW_TOKENS, PROMPT_TOKENS, TEXT, load_reference_model

GENERATION_PROMPT = 200
SCHEMA = {"type": "object", "required": ["picks"], "properties": {"picks": {"type": "array", "items": {
    "type": "object", "required": ["id", "reason"],
    "properties": {"id": {"type": "integer"}, "reason": {"type": "string"}}}}}}


def add_parser(commands) -> None:
    speed = commands.add_parser("llama", help="prompt tokens per second and ms per token of the llama.cpp build")
    speed.add_argument("--data-dir", help="where the bundled model lives (default $MOVIEREC_DATA_DIR or .movierec)")
    speed.add_argument("--model", help="a GGUF file (default: the local backend's model)")
    speed.add_argument("--repeats", type=int, default=3)
    speed.set_defaults(run=bench_llama)


def bench_llama(args) -> int:
    import llama_cpp

    from index.llm.gguf import resolve_gguf
    from index.llm.sampling import ResamplingLlama, json_grammar

    path = args.model or resolve_gguf(Path(args.data_dir) if args.data_dir else None)[0]
    llama = load_reference_model(path, context_window=4096, n_threads=2)
    resampling = ResamplingLlama(model_path=str(path), n_ctx=4096, n_threads=2, verbose=False)
    print(f"llama-cpp-python {llama_cpp.__version__}; {llama_cpp.llama_print_system_info().decode().strip()}")
    tokens = llama.tokenize((TEXT * (PROMPT_TOKENS // 20)).encode("utf-8"), add_bos=True)[:PROMPT_TOKENS]
    grammar = json_grammar(SCHEMA)
    read, free, constrained, resampled = [], [], [], []
    for _ in range(args.repeats):
        read.append(len(tokens) / _seconds(lambda: _evaluate(llama, tokens)))
        base = _seconds(lambda: _evaluate(llama, tokens[:GENERATION_PROMPT]))
        free.append(_per_token(llama, tokens, None, base))
        constrained.append(_per_token(llama, tokens, grammar, base))
        resampled.append(_per_token(resampling, tokens, grammar, base))
    print(f"prompt: {statistics.median(read):.1f} tokens/s ({len(tokens)} tokens, empty cache)")
    print(f"generation: {statistics.median(free):.0f} ms/token free, under a JSON grammar "
          f"{statistics.median(constrained):.0f} ms/token as llama-cpp-python applies it and "
          f"{statistics.median(resampled):.0f} resampled ({NEW_TOKENS} tokens after {GENERATION_PROMPT}; "
          f"medians of {args.repeats})")
    return 0


def _evaluate(llama, tokens: list[int]) -> None:
    llama.reset()
    llama.eval(tokens)


def _per_token(llama, tokens: list[int], grammar, prompt_seconds: float) -> float:
    """Milliseconds per generated token: a completion's time less its prompt's, over the tokens it wrote."""
    llama.reset()
    started = time.perf_counter()
    out = llama.create_completion(prompt=tokens[:GENERATION_PROMPT], max_tokens=NEW_TOKENS, temperature=0.2,
                                  grammar=grammar)
    written = max(1, out["usage"]["completion_tokens"])
    return 1000 * (time.perf_counter() - started - prompt_seconds) / written


def _seconds(work) -> float:
    started = time.perf_counter()
    work()
    return time.perf_counter() - started
