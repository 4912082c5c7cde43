# The README's two commands: `make demo` sets up a local venv and runs the default
# scenario; `make test` runs the lint, type and test gates (what CI runs).  Both create
# the venv on first use and reuse it afterwards.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.chargesite-installed

.PHONY: demo test setup

setup: $(STAMP)

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --upgrade pip
	$(BIN)/python -m pip install -e ".[dev]"
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/chargesite run configs/default.yaml

test: $(STAMP)
	$(BIN)/ruff check sim tests benchmarks
	$(BIN)/ruff format --check sim tests benchmarks
	$(BIN)/mypy sim
	PATH="$(abspath $(BIN)):$$PATH" $(BIN)/python -m pytest -q
