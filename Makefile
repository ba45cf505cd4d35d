# headwater: thin wrappers over the `headwater` CLI. `make help` lists the targets.
SHELL := bash
.DEFAULT_GOAL := help

#: PYTHON: interpreter the environments are made from
PYTHON ?= python3.11
#: VENV: the core environment (CLI, producers, tests)
VENV ?= .venv
#: S: service for `make logs` (postgres, kafka, flink, trino, airflow, producer, ...)
S ?=
#: STREAM: stream for `make produce`
STREAM ?= pos_sales
#: COUNT: events for `make produce`
COUNT ?= 1000
#: RATE: events/s for `make produce` (0: as fast as possible)
RATE ?= 0
#: DATA: `make clean DATA=1` also deletes the stack's data
DATA ?=
#: PYTEST_ARGS: extra pytest arguments for `make test` (default: list the 25 slowest steps, where the time goes)
PYTEST_ARGS ?= --durations=25
# the Gold benchmark's options (measured with a 4g driver on 10M lines)
BENCH_GOLD_ARGS ?= --driver-memory 4g

HW := $(VENV)/bin/headwater
STAMP := $(VENV)/.headwater-installed

.PHONY: help up down status logs submit stop-jobs trino produce spark bench bench-producer bench-streaming bench-gold test test-slow lint unit integration clean

help: ## show this help
	@echo "headwater: a streaming-first lakehouse on one machine"
	@echo
	@grep -hE '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-11s %s\n", $$1, $$2}'
	@echo
	@echo "Variables (override as make VAR=value):"
	@grep -hE '^#: [A-Z_]+: ' $(MAKEFILE_LIST) | sed -E 's/^#: //' | while IFS=: read -r var doc; do \
		printf "  %-8s %s (now: %s)\n" "$$var" "$${doc# }" "$$(make -s --no-print-directory print-$$var)"; done

print-%:
	@echo '$($*)'

$(STAMP): pyproject.toml versions.toml
	@command -v $(PYTHON) >/dev/null || { echo "error: headwater needs Python 3.11: install python3.11 (or set PYTHON=/path/to/python3.11)" >&2; exit 1; }
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))' || { echo "error: $(PYTHON) is not Python 3.11: set PYTHON=/path/to/python3.11" >&2; exit 1; }
	@echo "▸ core Python environment ($(VENV))"
	@$(PYTHON) -m venv $(VENV)
	@$(VENV)/bin/pip install --disable-pip-version-check -q -r <($(PYTHON) headwater/versions.py constraints core) -e .
	@touch $@

up: $(STAMP) ## install what is missing, start every service, the ingest job and a producer
	@$(HW) up

down: $(STAMP) ## stop everything (Flink jobs with a savepoint); data is kept
	@$(HW) down

status: $(STAMP) ## health of every service, URLs, running Flink jobs
	@$(HW) status

logs: $(STAMP) ## show a service's log: make logs S=flink
	@test -n "$(S)" || { echo "usage: make logs S=<service>" >&2; exit 2; }
	@$(HW) logs $(S)

submit: $(STAMP) ## submit the Flink jobs (resume from their latest checkpoint or savepoint)
	@$(HW) submit

stop-jobs: $(STAMP) ## stop the Flink jobs with a savepoint
	@$(HW) stop-jobs

trino: $(STAMP) ## open the Trino CLI on the iceberg catalog
	@$(HW) trino

produce: $(STAMP) ## send COUNT events of STREAM to Kafka at RATE events/s
	@$(HW) produce --stream $(STREAM) --count $(COUNT) --rate $(RATE)

spark: $(STAMP) ## run the Spark smoke job (silver.pos_sales -> gold.sales_daily)
	@$(HW) spark sales_daily

bench: bench-producer bench-streaming bench-gold bench-spark-start ## every benchmark (needs the stack: make up)

bench-producer: $(STAMP) ## producer throughput against the raw client
	@$(VENV)/bin/python bench/producer_throughput.py

bench-streaming: $(STAMP) ## Kafka -> Silver throughput, freshness and Flink memory
	@$(VENV)/bin/python bench/streaming_throughput.py

bench-gold: $(STAMP) ## Gold full vs +1% incremental build on 10M Silver rows, BI query p50/p95
	@$(VENV)/bin/python bench/gold_build.py $(BENCH_GOLD_ARGS)

bench-spark-start: $(STAMP) ## a small Spark job's wall time: on the Spark Connect server vs a driver of its own (JIT, class archive)
	@$(VENV)/bin/python bench/spark_start.py

lint: $(STAMP) ## ruff
	@$(VENV)/bin/ruff check .

unit: $(STAMP) ## unit tests (no services)
	@$(VENV)/bin/pytest -m unit $(PYTEST_ARGS)

integration: $(STAMP) ## integration tests against the real stack (started if not running), slow ones aside
	@$(VENV)/bin/pytest -m "integration and not slow" $(PYTEST_ARGS)

test-slow: $(STAMP) ## the slow integration tests (a two-day Gold backfill run by Airflow's scheduler, ~20 min)
	@$(VENV)/bin/pytest -m "integration and slow" $(PYTEST_ARGS)

test: $(STAMP) ## lint, unit tests, then integration tests against the real stack
	@$(VENV)/bin/ruff check .
	@$(VENV)/bin/pytest -m unit $(PYTEST_ARGS)
	@$(VENV)/bin/pytest -m "integration and not slow" $(PYTEST_ARGS)

clean: $(STAMP) ## delete logs; DATA=1 deletes every topic, table and checkpoint too
	@$(HW) clean $(if $(DATA),--data,)
