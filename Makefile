# envtrust — every target builds the environment in .venv first when needed.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: install browser nats demo test lint bench bench-qc clean

install: $(STAMP)

$(STAMP): requirements.lock pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet --require-hashes -r requirements.lock
	$(BIN)/python -m pip install --quiet --no-deps -e .
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/envtrust demo

lint: $(STAMP)
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench
	$(BIN)/mypy

# The browser tests drive Debian's Chromium (never a downloaded browser); CJK fonts for the screenshots.
browser:
	@command -v chromium >/dev/null 2>&1 || { \
	  (apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium fonts-noto-cjk) >/dev/null 2>&1 \
	  || echo "chromium could not be installed (apt-get needs root): the browser tests will skip"; }

# The cluster tests start three nats-server processes of their own (Debian package nats-server).
nats:
	@test -x /usr/sbin/nats-server || command -v nats-server >/dev/null 2>&1 || { \
	  (apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q nats-server) >/dev/null 2>&1 \
	  || echo "nats-server could not be installed (apt-get needs root): the cluster tests will skip"; }

test: lint browser nats
	$(BIN)/pytest -q

bench: $(STAMP)
	$(BIN)/python bench/ingest.py

# QC checks against IOOS ioos_qc: ioos_qc lives only in .venv-bench, never in the project's environment.
BENCH_VENV  := .venv-bench
BENCH_STAMP := $(BENCH_VENV)/.installed

$(BENCH_STAMP): pyproject.toml
	test -x $(BENCH_VENV)/bin/python || $(PYTHON) -m venv $(BENCH_VENV)
	$(BENCH_VENV)/bin/python -m pip install --quiet --upgrade pip
	$(BENCH_VENV)/bin/python -m pip install --quiet -e . ioos_qc==3.0.0
	touch $(BENCH_STAMP)

bench-qc: $(BENCH_STAMP)
	$(BENCH_VENV)/bin/python bench/qc.py $(QC_ARGS)

clean:
	rm -rf $(VENV) $(BENCH_VENV) .mypy_cache .ruff_cache .pytest_cache
