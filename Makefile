# claimguard — two commands on a fresh machine: `make demo` and `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-dev
BENCH_STAMP := $(VENV)/.installed-bench

.PHONY: install demo demo-serve demo-console test lint schemas bench clean

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

# the demo, then broker + worker + `claimguard serve` on 127.0.0.1:8080 until Ctrl-C
demo-serve: $(STAMP)
	$(BIN)/claimguard demo --serve 127.0.0.1:8080

# the demo, then the analysts' console on 127.0.0.1:8090 until Ctrl-C (tokens printed)
demo-console: $(STAMP)
	$(BIN)/claimguard demo --console 127.0.0.1:8090

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
	$(BIN)/python -m claimguard.ops.generate  # deploy/: dashboard, PrometheusRule, cluster DDL

bench: $(BENCH_STAMP)
	$(BIN)/python benchmarks/replay.py
	$(BIN)/python benchmarks/stream.py
	$(BIN)/python benchmarks/backtest.py

clean:
	rm -rf $(VENV) data .pytest_cache .ruff_cache .hypothesis
