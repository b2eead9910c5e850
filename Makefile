# The two commands: `make run` and `make test`. Both create .venv and install on first use.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: chaos compose-up compose-down run test install system-packages seat-map bench lint format typecheck unit db-upgrade db-downgrade db-reset db-seed clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[embedded,dev]'
	touch $(STAMP)

install: $(STAMP)

# Debian packages the suite and the benchmark drive: Chromium for the seat-map page, wrk for load.
SYSTEM_PACKAGES := chromium wrk
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
system-packages:
	@missing=""; for p in $(SYSTEM_PACKAGES); do command -v $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  echo "installing$$missing"; \
	  $(SUDO) apt-get update -qq && $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing; \
	fi

## Start the service on port 3000 (embedded PostgreSQL + Valkey unless DATABASE_URL/REDIS_URL are set).
run: install
	$(BIN)/ticketing serve

## Everything CI checks: format, lint, types, architecture, then the whole test suite.
test: install system-packages lint typecheck
	$(BIN)/pytest

lint: install
	$(BIN)/ruff format --check src tests bench
	$(BIN)/ruff check src tests bench
	$(BIN)/lint-imports

typecheck: install
	$(BIN)/mypy

format: install
	$(BIN)/ruff format src tests bench
	$(BIN)/ruff check --fix src tests bench

db-upgrade: install
	$(BIN)/ticketing db upgrade
db-downgrade: install
	$(BIN)/ticketing db downgrade
db-reset: install
	$(BIN)/ticketing db reset --yes
db-seed: install
	$(BIN)/ticketing db seed

## The benchmark: service and floor under wrk, correctness read back (docs/benchmarks.md).
BENCH_ARGS ?=
bench: install system-packages
	$(BIN)/python -m bench $(BENCH_ARGS)

## Faults during an onsale (Redis killed, PostgreSQL restarted, a worker killed), judged by
## PostgreSQL afterwards; figures in docs/reliability.md.
CHAOS_ARGS ?=
chaos: install
	$(BIN)/python -m bench.chaos $(CHAOS_ARGS)

## Draw the seat map of a busy event into docs/images/ (starts its own scratch service).
seat-map: install system-packages
	$(BIN)/python -m bench.seat_map

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache

## The production stack in Docker (PostgreSQL 17, Redis 8, migrations, the API); needs a Docker
## engine and TICKETING_ADMIN_TOKEN set. `make compose-down` stops it (volumes are kept).
compose-up:
	docker compose up --detach --build --wait
compose-down:
	docker compose down
