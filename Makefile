# gtx — every target installs what it needs into .venv first.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: all venv test lint typecheck unit demo bench clean

all: test

$(STAMP): requirements.txt requirements-dev.txt constraints.txt setup.cfg pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements-dev.txt -c constraints.txt
	$(BIN)/python -m pip install --quiet --no-deps --no-build-isolation --config-settings editable_mode=compat -e .
	touch $(STAMP)

venv: $(STAMP)

## lint: ruff and mypy (strict on gtx/)
lint: $(STAMP)
	$(BIN)/ruff check gtx tests examples bench twisted
	$(BIN)/mypy

## test: lint, then the whole test suite
test: lint unit

unit: $(STAMP)
	scripts/ensure-postgres.sh
	$(BIN)/python -m pytest -q $(PYTEST_ARGS)

## demo: gtx with the example menu service and a few emulated calls
demo: $(STAMP)
	$(BIN)/python -m gtx demo

## bench: the benchmarks in bench/, with baselines side by side (docs/benchmarks.md)
bench: $(STAMP)
	$(BIN)/python bench/ivr_sessions.py $(BENCH_ARGS)
	$(BIN)/python bench/xmlrpc_codec.py
	$(BIN)/python bench/dialer.py $(DIALER_BENCH_ARGS)

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache build *.egg-info
