# Every target bootstraps .venv itself, so each works on a fresh machine.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
ARGS ?=
TORCH ?= 2.13.0
# pytest-xdist workers (0: serially). Tests mostly wait on agent subprocesses, so 4 workers on
# 2 cores beat 2; more than 4 gained nothing (README, Testing).
WORKERS ?= 4
# Each test file on one worker, so a module-scoped agent starts once. (loadgroup would be
# finer, but xdist 3.8 ignores xdist_group under pytest 9.2.)
PYTEST_PARALLEL := -n $(WORKERS) --dist loadfile

.PHONY: serve test lint format bench clean

# Reuses an existing venv; reinstalls only when pyproject.toml changed since the last install.
$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	# torch's CPU build, unless a torch is already there (a plain resolve takes CUDA's, GBs).
	$(BIN)/python -c 'import torch' 2>/dev/null || $(BIN)/python -m pip install --quiet torch==$(TORCH)
	$(BIN)/python -m pip install --quiet -e '.[dev,brain,builtins]'
	touch $(STAMP)

serve: $(STAMP)
	$(BIN)/openfabric serve $(ARGS)

test: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/lint-imports
	$(BIN)/pytest $(PYTEST_PARALLEL) $(ARGS)

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/lint-imports

format: $(STAMP)
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

bench: $(STAMP)
	$(BIN)/python benchmarks/api_load.py
	$(BIN)/python benchmarks/idle.py
	$(BIN)/python benchmarks/brain.py

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
