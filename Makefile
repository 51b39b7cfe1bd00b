# `make train` and `make test` are the README's two commands. Each creates the
# virtual environment .venv (once), installs what its job needs, and runs it.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: setup train test bench clean

$(BIN)/activate:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --upgrade pip

# The library with the command line and plots: what the main job needs.
$(VENV)/.installed-all: pyproject.toml | $(BIN)/activate
	$(BIN)/pip install -e ".[all]"
	touch $@

# The torch pin of the dev extra, read from pyproject.toml so that it is written once.
TORCH_PIN := $(shell grep -o '"torch==[^"]*"' pyproject.toml | tr -d '"')
# Plain pip on Linux fetches PyTorch's CUDA build (several GB); `make test TORCH_INDEX=<index>`
# installs the pinned torch from that wheel index first (README: PyTorch's CPU index).
TORCH_INDEX ?=

# Plus the test tools and the pinned PyTorch the tests compare against.
$(VENV)/.installed-dev: pyproject.toml | $(BIN)/activate
	$(if $(TORCH_INDEX),$(BIN)/pip install "$(TORCH_PIN)" --index-url $(TORCH_INDEX))
	$(BIN)/pip install -e ".[dev]"
	touch $@ $(VENV)/.installed-all

# Plus the benchmarks' anchors (Keras 3 on JAX, a jitted JAX step): never runtime dependencies.
$(VENV)/.installed-bench: pyproject.toml | $(BIN)/activate
	$(if $(TORCH_INDEX),$(BIN)/pip install "$(TORCH_PIN)" --index-url $(TORCH_INDEX))
	$(BIN)/pip install -e ".[bench]"
	touch $@ $(VENV)/.installed-dev $(VENV)/.installed-all

setup: $(VENV)/.installed-dev

train: $(VENV)/.installed-all
	$(BIN)/backprop train --val-split 0.1 --out model.safetensors --plot curves.png

test: $(VENV)/.installed-dev
	$(BIN)/ruff check backprop tests benchmarks
	$(BIN)/python -m pytest -n 2 -q

bench: $(VENV)/.installed-bench
	$(BIN)/python -m benchmarks

clean:
	rm -rf $(VENV) build *.egg-info
