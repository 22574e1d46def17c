"""The local model's self-check: a llama.cpp that dies on this CPU becomes one line, and `auto` moves on."""

import platform
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from index.llm import gguf, selfcheck
from index.llm.backends import BackendError, resolve_backend
from index.llm.selfcheck import check_local_model
from ui.cli import main

SEGFAULT = [sys.executable, "-c", "import os, signal, sys; os.kill(os.getpid(), signal.SIGSEGV)"]
ILLEGAL = [sys.executable, "-c", "import os, signal, sys; os.kill(os.getpid(), signal.SIGILL)"]
FAILS = [sys.executable, "-c", "import sys; sys.exit('ValueError: Failed to load model from file: ' + sys.argv[1])"]


def test_a_child_that_segfaults_is_reported_in_one_line_with_the_fix(tmp_path):
    result = check_local_model(tmp_path / "model.gguf", command=SEGFAULT)
    assert not result.ok
    assert "llama.cpp crashed (SIGSEGV) on a 512-token test prompt with model.gguf" in result.message
    assert "make rebuild-local" in result.message and "--llm none" in result.message
    assert "\n" not in result.message


def test_an_illegal_instruction_names_the_signal_and_the_cpu_flags(tmp_path):
    result = check_local_model(tmp_path / "model.gguf", command=ILLEGAL)
    assert "crashed (SIGILL)" in result.message
    flags = set(selfcheck.cpu_flags())
    if "avx2" in flags:
        assert "this CPU has" in result.message and "avx2" in result.message


# A llama_cpp that runs short prompts and dies on long batches, as a native build did on a Xeon with AMX
# (128 tokens ran, 256 crashed): the check's own child must reach the long batch.
AMX_LIKE_LLAMA = """
import os, signal, sys, types
class Llama:
    def __init__(self, model_path, n_ctx, n_batch, n_threads, verbose):
        assert n_ctx >= n_batch >= 256
    def tokenize(self, text, add_bos):
        return list(range(len(text.split())))
    def create_completion(self, prompt, max_tokens, temperature):
        if len(prompt) >= 256:
            os.kill(os.getpid(), signal.SIGSEGV)
sys.modules["llama_cpp"] = types.SimpleNamespace(Llama=Llama)
from index.llm.selfcheck import _answer_a_test_prompt
_answer_a_test_prompt(sys.argv[1])
"""


def test_the_check_reaches_a_long_batch_where_a_native_amx_build_dies(tmp_path):
    result = check_local_model(tmp_path / "model.gguf", command=[sys.executable, "-c", AMX_LIKE_LLAMA])
    assert not result.ok and "crashed (SIGSEGV)" in result.message


def test_a_child_that_fails_cleanly_passes_on_its_last_error_line(tmp_path):
    result = check_local_model(tmp_path / "broken.gguf", command=FAILS)
    assert not result.ok
    assert "exit 1: ValueError: Failed to load model from file:" in result.message


def test_a_hanging_child_times_out(tmp_path):
    result = check_local_model(tmp_path / "m.gguf", command=[sys.executable, "-c", "import time; time.sleep(30)"],
                               timeout=1)
    assert not result.ok and "within 1 s" in result.message


def test_the_verdict_is_kept_per_library_model_and_cpu(monkeypatch, tmp_path):
    model = tmp_path / "model.gguf"
    model.write_bytes(b"GGUF v1")
    runs = []
    monkeypatch.setattr(selfcheck, "_run_child", lambda m, c, t: runs.append(m) or selfcheck.CheckResult(True))
    assert check_local_model(model, tmp_path).ok
    assert check_local_model(model, tmp_path).ok
    assert len(runs) == 1  # the second start reads selfcheck.json
    model.write_bytes(b"GGUF v2, another build of the model")
    check_local_model(model, tmp_path)
    assert len(runs) == 2
    (tmp_path / "selfcheck.json").write_text("{not json")
    check_local_model(model, tmp_path)
    assert len(runs) == 3  # a broken file only means the check runs again


@pytest.fixture
def crashing_local_model(monkeypatch, tmp_path):
    """A local model whose self-check child segfaults, as on a CPU the llama.cpp build does not suit."""
    model = tmp_path / "model.gguf"
    model.write_bytes(b"GGUF")
    monkeypatch.setenv("MOVIEREC_GGUF", str(model))
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.delenv("MOVIEREC_LLM_BASE_URL", raising=False)
    monkeypatch.setattr(gguf, "llama_cpp_installed", lambda: True)
    real = selfcheck.check_local_model
    monkeypatch.setattr(selfcheck, "check_local_model", lambda path, cache_dir: real(path, command=SEGFAULT))
    return model


def test_auto_falls_back_to_none_with_one_line_on_stderr(crashing_local_model, tmp_path, capsys):
    backend = resolve_backend("auto", tmp_path)
    assert (backend.name, backend.llm) == ("none", None)
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "crashed (SIGSEGV)" in err[0] and err[0].endswith("continuing with --llm none")


def test_asking_for_local_exits_2_with_the_line_instead_of_a_segfault(crashing_local_model, tmp_path, capsys):
    with pytest.raises(BackendError, match="crashed"):
        resolve_backend("local", tmp_path)
    assert main(["--data-dir", str(tmp_path / "data"), "--llm", "local", "index", "--limit", "50"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("movierec: llama.cpp crashed (SIGSEGV)") and "Traceback" not in err


@pytest.mark.llm
def test_the_check_answers_a_test_prompt_with_the_installed_llama_cpp(smollm2_gguf, tmp_path):
    assert check_local_model(smollm2_gguf, tmp_path) == selfcheck.CheckResult(True)
    assert (tmp_path / "selfcheck.json").is_file()


@pytest.mark.llm
@pytest.mark.skipif(platform.machine() != "x86_64", reason="x86 instruction sets")
def test_the_installed_llama_cpp_has_no_amx_and_avx512_only_where_this_cpu_has_it():
    """A native build carries AMX, which crashed on one CPU; make's build takes AVX-512 where /proc/cpuinfo lists
    F, BW, DQ and VL (unless `make rebuild-local` chose AVX2 for good), and never AMX."""
    objdump = shutil.which("objdump")
    assert objdump, "objdump (binutils) is needed to inspect the llama.cpp build"
    libraries = [p for p in selfcheck._llama_libraries() if p.name.startswith("libggml-cpu") and p.suffix == ".so"]
    assert libraries, "no libggml-cpu.so in the llama_cpp package"
    listing = subprocess.run([objdump, "-d", "--no-show-raw-insn", str(libraries[0])], capture_output=True,
                             text=True, check=True).stdout
    assert "vfmadd" in listing  # the AVX2/FMA kernels are there
    assert re.search(r"%tmm\d", listing) is None
    avx512 = {"avx512f", "avx512bw", "avx512dq", "avx512vl"} <= set(selfcheck.cpu_flags())
    portable = (Path.home() / ".cache/movierec/llama-portable").exists()
    assert (re.search(r"%zmm\d", listing) is not None) == (avx512 and not portable)
