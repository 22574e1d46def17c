"""Can llama.cpp run here? Load the local model and answer a 512-token prompt in a child process first.

A llama.cpp built for instructions this CPU lacks, or uses differently (a native build that picked up AMX
tiles), dies with SIGILL or SIGSEGV and takes the whole process down without a word. A native build on a
CPU with AMX decodes short prompts fine and dies on the first batch of a few hundred tokens (seen on a Xeon
with amx_int8: 128 tokens ran, 256 crashed), so the check evaluates one full batch (512 tokens) and decodes
a token after it, in a child, so a crash becomes one line saying what happened and what to do.
Its verdict is kept in `<data dir>/selfcheck.json` under a key made of the llama.cpp libraries, the model
file and the CPU's flags, so it runs once per build, model and machine, and again after any of them changes.
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import signal
import subprocess
import sys
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Sequence

CHECK_TIMEOUT = 300.0  # loading 1.1 GB from a cold disk and a 512-token prompt, on a busy 2-core machine
CHECK_TOKENS = 512  # llama.cpp's default batch: the largest matrix shapes a prompt runs through
CHECK_VERSION = "batch-512"  # part of the verdict's key: verdicts of an earlier, weaker check are not reused
RESULTS_FILE = "selfcheck.json"
# The instruction sets llama.cpp's x86 kernels are built for; named in the message when the check fails.
RELEVANT_FLAGS = ("avx", "avx2", "fma", "f16c", "bmi2", "avx512f", "avx512_vnni", "avx512_bf16", "amx_tile",
                  "amx_int8", "amx_bf16")
FIX = ("rebuild it for this machine with `make rebuild-local` (portable AVX2 flags), or use --llm none, "
       "openai or openai-like")


@dataclass(frozen=True)
class CheckResult:
    ok: bool
    message: str = ""  # one line saying why and what to do; empty when ok


def cpu_flags() -> tuple[str, ...]:
    """The CPU's feature flags as Linux reports them (empty where /proc/cpuinfo does not exist)."""
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return ()
    for line in text.splitlines():
        if line.startswith(("flags", "Features")):
            return tuple(sorted(set(line.split(":", 1)[1].split())))
    return ()


def check_local_model(model: Path, cache_dir: Path | None = None, command: Sequence[str] | None = None,
                      timeout: float = CHECK_TIMEOUT) -> CheckResult:
    """Whether `model` loads and decodes a token here; `command` replaces the child's argv (tests)."""
    key = _fingerprint(model) if command is None else None
    results = _read(cache_dir) if key else {}
    if key in results:
        return CheckResult(**results[key])
    result = _run_child(model, command or [sys.executable, "-m", "index.llm.selfcheck"], timeout)
    if key and cache_dir is not None:
        results[key] = asdict(result)
        _write(cache_dir, results)
    return result


def _run_child(model: Path, command: Sequence[str], timeout: float) -> CheckResult:
    try:
        child = subprocess.run([*command, str(model)], capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return CheckResult(False, f"the local model {model.name} did not answer a test prompt within {timeout:.0f} s; "
                                  f"use --llm none, or try again on a quieter machine")
    if child.returncode == 0:
        return CheckResult(True)
    if child.returncode < 0:
        name = signal.Signals(-child.returncode).name
        return CheckResult(False, f"llama.cpp crashed ({name}) on a {CHECK_TOKENS}-token test prompt with {model.name}: "
                                  f"llama-cpp-python was built for instructions this CPU does not run as "
                                  f"expected ({_flag_summary()}); {FIX}")
    last = (child.stderr.strip().splitlines() or ["no message"])[-1][:300]
    return CheckResult(False, f"the local model {model.name} failed its test run (exit {child.returncode}: "
                              f"{last}); use --llm none, or check MOVIEREC_GGUF")


def _flag_summary() -> str:
    flags = set(cpu_flags())
    have = [f for f in RELEVANT_FLAGS if f in flags]
    return "this CPU has " + (", ".join(have) if have else "none of " + ", ".join(RELEVANT_FLAGS[:5]))


def _fingerprint(model: Path) -> str:
    """The llama.cpp shared libraries, the model file and the CPU: what decides whether the check passes."""
    parts = [CHECK_VERSION, sys.executable, platform.machine(), " ".join(cpu_flags())]
    for path in [*_llama_libraries(), Path(model)]:
        try:
            stat = path.stat()
        except OSError:
            return ""
        parts.append(f"{path.resolve()}:{stat.st_size}:{stat.st_mtime_ns}")
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()[:24]


def _llama_libraries() -> list[Path]:
    import importlib.util

    spec = importlib.util.find_spec("llama_cpp")
    if spec is None or not spec.submodule_search_locations:
        return []
    lib = Path(next(iter(spec.submodule_search_locations))) / "lib"
    return sorted(lib.glob("*.so*")) + sorted(lib.glob("*.dylib")) + sorted(lib.glob("*.dll"))


def _read(cache_dir: Path | None) -> dict:
    if cache_dir is None:
        return {}
    try:
        data = json.loads((Path(cache_dir) / RESULTS_FILE).read_text())
    except (OSError, ValueError):
        return {}  # missing or broken: the check simply runs again
    return data if isinstance(data, dict) else {}


def _write(cache_dir: Path, results: dict) -> None:
    path = Path(cache_dir) / RESULTS_FILE
    partial = path.with_suffix(".tmp")
    partial.write_text(json.dumps(results, indent=1) + "\n")
    os.replace(partial, path)


def _answer_a_test_prompt(model: str) -> None:
    from llama_cpp import Llama

    llama = Llama(model_path=model, n_ctx=2 * CHECK_TOKENS, n_batch=CHECK_TOKENS,
                  n_threads=min(2, os.cpu_count() or 1), verbose=False)
    text = "A person asks a librarian for a film to watch tonight, something tense from the nineties. "
    tokens = llama.tokenize((text * CHECK_TOKENS).encode(), add_bos=True)[:CHECK_TOKENS]
    llama.create_completion(tokens, max_tokens=1, temperature=0.0)


if __name__ == "__main__":
    _answer_a_test_prompt(sys.argv[1])
