# claimguard — two commands on a fresh machine: `make demo` and `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-dev
BENCH_STAMP := $(VENV)/.installed-bench

.PHONY: install demo test lint schemas bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $@

$(BENCH_STAMP): $(STAMP)
	$(BIN)/pip install --quiet -e '.[dev,bench]'
	touch $@

install: $(STAMP)

demo: $(STAMP)
	$(BIN)/claimguard demo

test: $(STAMP)
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/claimguard rules lint
	$(BIN)/python -m pytest -q

lint: $(STAMP)
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/ruff format --check src tests benchmarks
	$(BIN)/claimguard rules lint

schemas: $(STAMP)
	$(BIN)/claimguard schema --out schemas/json

bench: $(BENCH_STAMP)
	$(BIN)/python benchmarks/replay.py
	$(BIN)/python benchmarks/stream.py

clean:
	rm -rf $(VENV) data .pytest_cache .ruff_cache .hypothesis
