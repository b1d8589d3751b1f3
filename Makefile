# Developer entry points. `make help` lists them.
# Services run locally, without Docker: Apache Kafka from Maven Central jars (scripts/kafka.sh)
# and a Debian PostgreSQL cluster (scripts/pg.sh). See docs/infrastructure.md.

PY ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
DEV_STAMP := $(VENV)/.dev-installed
PYTEST_ARGS ?=
DEMO_ARGS ?=

export KAFKA_PYTHON := $(abspath $(BIN))/python

.DEFAULT_GOAL := help
.PHONY: help dev lint format test test-unit test-integration \
        kafka-up kafka-down kafka-restart kafka-clean kafka-status \
        pg-up pg-down pg-clean pg-status services-up services-down demo bench prometheus

help: ## List the targets
	@awk 'BEGIN { FS = ":.*## " } /^[a-zA-Z0-9_.-]+:.*## / { printf "  %-18s %s\n", $$1, $$2 }' $(MAKEFILE_LIST)

$(DEV_STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/python -m pip install -q --disable-pip-version-check -e '.[dev]'
	@touch $@

dev: $(DEV_STAMP) ## Create .venv and install the package with its dev extra (skipped when up to date)

lint: dev ## ruff check, ruff format --check, mypy --strict
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

format: dev ## Apply ruff's formatting and safe fixes
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

test: dev lint kafka-up pg-up prometheus ## Everything CI runs: lint, start Kafka + PostgreSQL, all tests
	$(BIN)/pytest tests $(PYTEST_ARGS)

test-unit: dev ## Unit tests only (no services)
	$(BIN)/pytest tests/unit $(PYTEST_ARGS)

test-integration: dev kafka-up pg-up prometheus ## Integration tests only (starts the services)
	$(BIN)/pytest tests/integration $(PYTEST_ARGS)

kafka-up: dev ## Start the local Kafka broker on 127.0.0.1:19092 (fetches jars once; idempotent)
	scripts/kafka.sh up

kafka-down: ## Stop the local Kafka broker (keeps its data; idempotent)
	scripts/kafka.sh down

kafka-restart: dev ## Stop and start the broker, keeping its data
	scripts/kafka.sh restart

kafka-clean: ## Stop the broker and wipe its data (the jar cache stays)
	scripts/kafka.sh clean

kafka-status: dev ## Say whether a broker answers on the port
	scripts/kafka.sh status

pg-up: ## Start PostgreSQL on 127.0.0.1:15432 (installs it when absent; idempotent)
	scripts/pg.sh up

pg-down: ## Stop that PostgreSQL cluster (keeps its data; idempotent)
	scripts/pg.sh down

pg-clean: ## Stop and drop the PostgreSQL cluster
	scripts/pg.sh clean

pg-status: ## Say whether PostgreSQL accepts connections on the port
	scripts/pg.sh status

prometheus: ## Install Debian's prometheus package (prometheus + promtool, for the observability tests) when absent; its service is not started
	scripts/prometheus.sh

services-up: kafka-up pg-up ## Start both services

services-down: kafka-down pg-down ## Stop both services

demo: dev kafka-up ## The whole pipeline on sample data: baseline, one worker, verdicts (DEMO_ARGS=--keep ...)
	$(BIN)/enricher demo $(DEMO_ARGS)

bench: dev kafka-up pg-up ## Every SPEC target beside its floor; prints a table, writes .bench/results.json (BENCH=core ...)
	$(BIN)/python -m bench.run $(BENCH)
