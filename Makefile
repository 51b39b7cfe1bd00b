# `make train` and `make test` are the README's two commands: each sets up a
# fresh virtual environment in .venv (once) and then runs its job.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: setup train test bench clean

$(BIN)/activate:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --upgrade pip

$(VENV)/.installed-dev: pyproject.toml | $(BIN)/activate
	$(BIN)/pip install -e ".[dev]"
	touch $@

setup: $(VENV)/.installed-dev

train: setup
	$(BIN)/backprop train --out model.safetensors --plot curves.png

test: setup
	$(BIN)/python -m pytest -n 2 -q

bench: setup
	$(BIN)/python -m benchmarks

clean:
	rm -rf $(VENV) build *.egg-info
