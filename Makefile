# The whole set-up on a fresh machine: `make run` or `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 8000
PYTEST_ARGS ?=

.PHONY: run test lint typecheck format fuzz bench soak clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

# Stamp files: reinstall only when pyproject.toml changes.
$(VENV)/.installed-run: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e .
	touch $@

# The Python client (clients/python) too: its tests run with the server's (pyproject testpaths).
$(VENV)/.installed-test: pyproject.toml clients/python/pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e ".[test]" -e ./clients/python
	touch $@ $(VENV)/.installed-run

run: $(VENV)/.installed-run
	$(BIN)/threads-api serve --host $(HOST) --port $(PORT)

test: $(VENV)/.installed-test
	$(BIN)/pytest $(PYTEST_ARGS)

# Without the tests that start server processes or run the CLI (marked slow): a quick check.
.PHONY: test-fast
test-fast: $(VENV)/.installed-test
	$(BIN)/pytest -m "not slow" $(PYTEST_ARGS)

lint: $(VENV)/.installed-test
	$(BIN)/ruff check src tests clients/python
	$(BIN)/ruff format --check src tests clients/python

# mypy strict over src/ (ADR 0006), and the import layers of .importlinter.
typecheck: $(VENV)/.installed-test
	$(BIN)/mypy
	$(BIN)/mypy --strict clients/python/src
	$(BIN)/lint-imports

format: $(VENV)/.installed-test
	$(BIN)/ruff check --fix src tests clients/python
	$(BIN)/ruff format src tests clients/python

clean:
	rm -rf $(VENV) data .pytest_cache

# Benchmarks (bench/): wrk against the service and bench/ceiling.py; BENCH_SMOKE=1 for a short run.
bench: $(VENV)/.installed-run
	bench/run.sh

# Scale: 100,000 threads and a 1,000,000-message thread loaded directly, page reads compared.
.PHONY: bench-scale
bench-scale: $(VENV)/.installed-run
	bench/run.sh --scale

# Load and leak check, not in CI's critical path: wrk, 70/30 reads/writes, SOAK_SECONDS (30).
soak: $(VENV)/.installed-run
	bench/soak/soak.sh

# Contract fuzzing, longer than CI's: THREADS_FUZZ_EXAMPLES per operation (CI uses 100).
FUZZ_EXAMPLES ?= 1000
fuzz: $(VENV)/.installed-test
	THREADS_FUZZ_EXAMPLES=$(FUZZ_EXAMPLES) $(BIN)/pytest tests/reliability/test_fuzz.py -q -s $(PYTEST_ARGS)
