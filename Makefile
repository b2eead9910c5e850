# The two commands: `make run` and `make test`. Both create .venv and install on first use.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: run test install lint format typecheck unit db-upgrade db-downgrade db-reset db-seed clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

## Start the service on port 3000 (embedded PostgreSQL + Valkey unless DATABASE_URL/REDIS_URL are set).
run: install
	$(BIN)/ticketing serve

## Everything CI checks: format, lint, types, architecture, then the whole test suite.
test: install lint typecheck
	$(BIN)/pytest

lint: install
	$(BIN)/ruff format --check src tests
	$(BIN)/ruff check src tests
	$(BIN)/lint-imports

typecheck: install
	$(BIN)/mypy

format: install
	$(BIN)/ruff format src tests
	$(BIN)/ruff check --fix src tests

db-upgrade: install
	$(BIN)/ticketing db upgrade
db-downgrade: install
	$(BIN)/ticketing db downgrade
db-reset: install
	$(BIN)/ticketing db reset --yes
db-seed: install
	$(BIN)/ticketing db seed

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
