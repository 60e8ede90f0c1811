# Set-up and everyday commands. Every target creates .venv itself, so a fresh
# machine with only Python 3.11+ needs nothing else.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
TSTAMP := $(VENV)/.installed-test

.PHONY: run test lint bench demo clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(STAMP): $(BIN)/python pyproject.toml
	$(BIN)/python -m pip install --quiet -e .
	touch $@

$(TSTAMP): $(BIN)/python pyproject.toml
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $@ $(STAMP)

## make run: open the console on the demo data directory (Stripe example), service running
run: $(STAMP)
	$(BIN)/payloads demo

## make test: import-linter layer contracts, then the whole pytest suite, one worker per core
## (pytest-xdist: 4 min 16 s on 2 cores against 8 min 11 s in one process)
test: $(TSTAMP)
	$(BIN)/lint-imports
	$(BIN)/python -m pytest -n auto

lint: $(TSTAMP)
	$(BIN)/lint-imports

## make bench: the benchmarks in bench/, each against its bare-stack baseline
bench: $(TSTAMP)
	$(BIN)/python bench/run_all.py

clean:
	rm -rf $(VENV) build dist *.egg-info
