# wirehouse: `make demo` and `make test` are the two entry points (see README).
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# uv from PATH, else installed with pip into a private venv (.tools) on first use
UV := $(shell command -v uv 2>/dev/null || echo .tools/bin/uv)
export UV_COMPILE_BYTECODE := 1
export DBT_PROFILES_DIR := $(CURDIR)
SHARED ?= $(abspath ../shared/data)

DEMO_DIR := demo-data
DEMO_DB := warehouse.duckdb
TEST_TMP := $(CURDIR)/.test-tmp
TEST_DB := $(TEST_TMP)/warehouse.duckdb
CHECK_TMP := $(CURDIR)/.check-tmp
PYTEST_WORKERS ?= 2

.PHONY: help setup demo check test lint unit dbt-unit pytest fixtures dbt-test project-checks \
	duckdb-checks \
	bench clean test-spark spark-lane spark-incremental spark-check

help:
	@echo "make demo   set up, generate demo data, ingest, dbt build, publish, chart report"
	@echo "make check  the fast lane (minutes): ruff, in-process pytest, dbt unit tests"
	@echo "make test   every check: ruff, pytest, fixture ingest, sqlfluff, dbt build, project checks,"
	@echo "           the Spark lane (where Java 17 is)"
	@echo "make bench  every benchmark side by side -> bench/RESULTS.md"
	@echo "make test-spark  every model on Apache Spark and DuckDB, marts compared (Java 17)"

.tools/bin/uv:
	$(PYTHON) -m venv .tools
	.tools/bin/pip install --quiet uv

$(VENV)/.synced: pyproject.toml uv.lock | $(UV)
	$(UV) sync --frozen --python $(PYTHON)
	@touch $@

setup: $(VENV)/.synced

# the demo's generated data is pseudonymised with a fixed key unless you set your own (a real
# warehouse without $$WIREHOUSE_ANON_KEY gets a random key per run, and says so)
DEMO_KEY = WIREHOUSE_ANON_KEY="$${WIREHOUSE_ANON_KEY:-wirehouse-demo-data-only}"

# Two Bitcoin nodes (alpha, beta), a Kafka broker's capture and its tshark export, a
# Bitcoin peer's capture and a Bluetooth sniff, loaded, built, published and charted by
# `wirehouse run` from wirehouse.toml; the second run finds nothing new.
demo: setup
	rm -rf $(DEMO_DIR) $(DEMO_DB)
	$(BIN)/wirehouse demo-data $(DEMO_DIR)/alpha --days 3 --seed 1
	$(BIN)/wirehouse demo-data $(DEMO_DIR)/beta --days 3 --scale 0.5 --seed 2 --no-capture --no-bluetooth
	$(DEMO_KEY) $(BIN)/wirehouse run > /dev/null
	$(DEMO_KEY) $(BIN)/wirehouse run
	@$(BIN)/python -m wirehouse.demo.showcase $(DEMO_DB)
	@echo "charts: $(CURDIR)/report/report.html   BI tools: $(CURDIR)/published/published.duckdb"

# The fast lane, after every edit: no warehouse is built with data, no process is started
# per test (pytest -m "not integration"), dbt's unit tests against empty relations.
check: setup lint unit dbt-unit
	@echo "make check: fast lane passed"

# After pytest, the DuckDB checks (fixture ingest, dbt build, project checks) and the Spark
# lane run side by side: the Spark build keeps about one core busy (dbt's thread and the JVM's
# planner), so the two share this machine's two cores (output shown per step when it ends).
test: setup lint pytest
	$(MAKE) --no-print-directory -j2 --output-sync=target duckdb-checks spark-check
	@echo "make test: all checks passed"

duckdb-checks: project-checks

lint: setup
	$(BIN)/ruff check ingest wirehouse oracles bench conftest.py
	$(BIN)/ruff format --check ingest wirehouse oracles bench conftest.py

unit: setup
	$(BIN)/pytest -m "not integration" -n $(PYTEST_WORKERS) --ignore=wirehouse/tests/project \
	  --ignore=wirehouse/tests/spark

# dbt unit tests need their inputs' relations, not their rows: raw tables from `wirehouse
# init`, every model built empty (--empty), seeds, then the unit tests; no data tests.
dbt-unit: setup
	rm -rf $(CHECK_TMP) && mkdir -p $(CHECK_TMP)
	$(BIN)/wirehouse init --db $(CHECK_TMP)/warehouse.duckdb > /dev/null
	WIREHOUSE_DB=$(CHECK_TMP)/warehouse.duckdb $(BIN)/dbt build --empty \
	  --exclude-resource-type test --target-path $(CHECK_TMP)/target \
	  --log-path $(CHECK_TMP)/logs --quiet

# Every pytest, integration included, on both cores (shared warehouses are built once).
pytest: setup
	$(BIN)/pytest -n $(PYTEST_WORKERS) --dist worksteal --ignore=wirehouse/tests/project \
	  --ignore=wirehouse/tests/spark --durations=25

# A small warehouse from our own generator plus the real shared samples when present.
fixtures: setup
	rm -rf $(TEST_TMP) && mkdir -p $(TEST_TMP)
	$(BIN)/wirehouse demo-data $(TEST_TMP)/demo --days 2 --scale 0.05 --peers 30 --seed 7 \
	  --no-capture --no-bluetooth
	$(BIN)/wirehouse ingest tracepoints $(TEST_TMP)/demo --db $(TEST_DB) > /dev/null
	$(BIN)/wirehouse ingest systemd $(TEST_TMP)/demo --db $(TEST_DB) > /dev/null
	if [ -d "$(SHARED)/systemd" ]; then \
	  $(BIN)/wirehouse ingest systemd \
	    $(SHARED)/systemd/systemd_preprocessed_cumulative_ddb6ad5.csv.bz2 --db $(TEST_DB); \
	  $(BIN)/wirehouse ingest pcap $(SHARED)/pcap-general $(SHARED)/pcap-kafka \
	    --kafka-port 9092 --kafka-port 36333 --db $(TEST_DB) > /dev/null; \
	  $(BIN)/wirehouse ingest tshark $(SHARED)/tshark-csv --start 1600000000 \
	    --db $(TEST_DB) > /dev/null; \
	  $(BIN)/wirehouse ingest pcap $(SHARED)/pcap-bluetooth --db $(TEST_DB) > /dev/null; \
	fi

dbt-test: setup fixtures
	WIREHOUSE_DB=$(TEST_DB) $(BIN)/dbt parse --quiet
	WIREHOUSE_DB=$(TEST_DB) $(BIN)/sqlfluff lint models macros tests
	WIREHOUSE_DB=$(TEST_DB) $(BIN)/dbt build
	WIREHOUSE_DB=$(TEST_DB) $(BIN)/dbt docs generate --quiet

project-checks: setup dbt-test
	$(BIN)/dbt-score lint --fail-project-under 8.0 --fail-any-item-under 5.0
	WIREHOUSE_DB=$(TEST_DB) $(BIN)/pytest wirehouse/tests/project
	$(BIN)/python -m wirehouse.demo.showcase $(TEST_DB)

# Every benchmark side by side (~30 min on 2 cores): bench/RESULTS.md, bench/results.csv
bench: setup
	$(BIN)/python bench/run.py

clean:
	rm -rf $(VENV) .tools target logs $(DEMO_DIR) $(DEMO_DB) $(TEST_TMP) $(CHECK_TMP) published report

# The same project on Apache Spark (issues 22, 23): the generator's small matrix of every
# source kind (a day of tracepoints and systemd of node `data`, a Kafka broker's capture and
# its tshark export, a capture of the node's Bitcoin port, a Bluetooth sniff), its raw tables
# as Parquet registered in a local Spark session (dbt-spark's session method, uv group
# `spark`), every model, seed, contract and data test built on Spark and on DuckDB, every
# mart, seed and intermediate table compared row for row, and every mart's Spark plan
# checked for a step that runs in one task. Then the next day of both kinds lands and the
# first day's systemd file is forgotten: Spark builds incrementally, DuckDB with
# --full-refresh, and the tables are compared again (incremental on Spark equals a full
# refresh). Wall time and peak memory (dbt and its Spark JVM) are printed. One Spark JVM at
# a time (Derby under SPARK_TMP).
# - spark-lane: the build, compare and plans, without dbt's unit tests on Spark (make test
#   runs it, ~12 min on 2 cores; CI installs Java 17; a machine without Java says so and
#   skips it, CI=true fails instead)
# - spark-incremental: the next-day step
# - test-spark (~40 min): spark-lane with every unit test on Spark too, spark-incremental,
#   then the Spark ingest tests (every kind's raw rows equal, a changed file, kill -9,
#   `wirehouse run` on Spark)
SPARK_TMP := $(CURDIR)/target/spark-test
SPARK_DATA := $(SPARK_TMP)/data
SPARK_DB := $(SPARK_TMP)/warehouse.duckdb
SPARK_ENV := WIREHOUSE_SPARK_DIR=$(SPARK_TMP)/spark
SPARK_COMPARE ?= marts reference intermediate
SPARK_SELECT ?= fqn:*
SPARK_DAY1 := tracepoints/net/2025-01-22.csv systemd/ip_accounting/2025-01-22.csv
SPARK_DAY2 := tracepoints/net/2025-01-23.csv systemd/ip_accounting/2025-01-23.csv
SPARK_NEXT_DAY := source:bitcoin_p2p+ source:systemd_ip_accounting+
PORTABILITY := $(BIN)/python -m wirehouse.spark.portability
SPARK_DBT := $(DEMO_KEY) $(SPARK_ENV) $(PORTABILITY) measure $(PORTABILITY) dbt
DUCKDB_DBT := $(DEMO_KEY) WIREHOUSE_DB=$(SPARK_DB) $(PORTABILITY) measure $(BIN)/dbt
SPARK_BUILD_EXCLUDE ?= --exclude-resource-type unit_test
spark-lane: setup
	$(UV) sync --frozen --group spark
	rm -rf $(SPARK_TMP) && mkdir -p $(SPARK_TMP)
	$(BIN)/wirehouse demo-data $(SPARK_DATA) --days 2 --scale 0.02 --peers 10 > /dev/null
	$(BIN)/wirehouse ingest tracepoints $(SPARK_DATA)/$(word 1,$(SPARK_DAY1)) \
	  --db $(SPARK_DB) > /dev/null
	$(BIN)/wirehouse ingest systemd $(SPARK_DATA)/$(word 2,$(SPARK_DAY1)) --db $(SPARK_DB) > /dev/null
	$(BIN)/wirehouse ingest pcap $(SPARK_DATA)/captures/kafka-broker.pcap --node kafka-broker \
	  --kafka-port 9092 --db $(SPARK_DB) > /dev/null
	$(BIN)/wirehouse ingest pcap $(SPARK_DATA)/captures/bitcoin-node.pcap --node data \
	  --db $(SPARK_DB) > /dev/null
	$(BIN)/wirehouse ingest tshark $(SPARK_DATA)/tshark --node kafka-broker \
	  --db $(SPARK_DB) > /dev/null
	$(BIN)/wirehouse ingest pcap $(SPARK_DATA)/bluetooth --node sniffer --db $(SPARK_DB) > /dev/null
	$(SPARK_ENV) $(PORTABILITY) load-raw $(SPARK_DB)
	$(SPARK_DBT) build --target spark -s '$(SPARK_SELECT)' $(SPARK_BUILD_EXCLUDE) \
	  --target-path $(SPARK_TMP)/target-spark --log-path $(SPARK_TMP)/logs
	$(DUCKDB_DBT) build --quiet -s '$(SPARK_SELECT)' \
	  --target-path $(SPARK_TMP)/target-duckdb --log-path $(SPARK_TMP)/logs
	$(SPARK_ENV) $(PORTABILITY) compare $(SPARK_DB) $(SPARK_COMPARE)
	$(SPARK_ENV) $(PORTABILITY) plans $(SPARK_TMP)/target-spark/manifest.json
	@echo "spark lane: built on Spark and DuckDB, rows equal, plans parallel"

# after spark-lane, on its warehouses
spark-incremental: setup
	$(BIN)/wirehouse ingest tracepoints $(SPARK_DATA)/$(word 1,$(SPARK_DAY2)) \
	  --db $(SPARK_DB) > /dev/null
	$(BIN)/wirehouse ingest systemd $(SPARK_DATA)/$(word 2,$(SPARK_DAY2)) --db $(SPARK_DB) > /dev/null
	$(BIN)/wirehouse forget $(SPARK_DATA)/$(word 2,$(SPARK_DAY1)) --db $(SPARK_DB) > /dev/null
	$(SPARK_ENV) $(PORTABILITY) load-raw $(SPARK_DB)
	$(SPARK_DBT) run --target spark -s '$(SPARK_NEXT_DAY)' \
	  --target-path $(SPARK_TMP)/target-spark --log-path $(SPARK_TMP)/logs
	$(DUCKDB_DBT) run --quiet --full-refresh -s '$(SPARK_NEXT_DAY)' \
	  --target-path $(SPARK_TMP)/target-duckdb --log-path $(SPARK_TMP)/logs
	$(SPARK_ENV) $(PORTABILITY) compare $(SPARK_DB) $(SPARK_COMPARE)
	@echo "spark incremental: a day more and a file forgotten, Spark incremental = full refresh"

# make test's Spark step: the lane where Java is
spark-check: setup
	@if command -v java > /dev/null; then $(MAKE) --no-print-directory spark-lane; \
	elif [ "$${CI:-}" = true ]; then echo "CI: the Spark lane needs Java 17 (.ci/run installs it)"; exit 1; \
	else echo "make test: no Java on this machine, the Spark lane (make spark-lane) is skipped"; fi

test-spark: setup
	$(MAKE) --no-print-directory spark-lane SPARK_BUILD_EXCLUDE=
	$(MAKE) --no-print-directory spark-incremental
	$(BIN)/pytest wirehouse/tests/spark
	@echo "make test-spark: every node on Spark, rows equal, plans parallel, Spark ingest tested"
