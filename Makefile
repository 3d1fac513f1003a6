# etl: build the DuckDB extension, set up the pinned test hosts, run the demo and the tests.
# `make demo` and `make test` do all set-up themselves (Rust build, Python venv from PyPI).

include extension-config/extension.conf

SHELL := /bin/bash
PYTHON ?= python3
CARGO ?= cargo
VERSION := $(shell sed -n 's/^version = "\(.*\)"$$/\1/p' Cargo.toml | head -n 1)

BUILD := build
VENV := $(BUILD)/venv
VENV_PY := $(VENV)/bin/python
DUCKDB_CLI := $(VENV)/bin/duckdb
OLD_HOST_DIR := $(BUILD)/hosts/duckdb-cli-$(DUCKDB_CLI_OLD_VERSION)
APPEND_METADATA := $(BUILD)/tools/append_metadata
RELEASE_EXT := $(BUILD)/release/$(EXTENSION_NAME).duckdb_extension
DEBUG_EXT := $(BUILD)/debug/$(EXTENSION_NAME).duckdb_extension
RUST_SOURCES := $(shell find src -name '*.rs') Cargo.toml Cargo.lock extension-config/extension.conf

export ETL_EXTENSION := $(abspath $(RELEASE_EXT))
export ETL_OLD_DUCKDB_CLI := $(abspath $(OLD_HOST_DIR))/bin/duckdb

.PHONY: all release debug demo test lint unit sqltest shelltest venv bench clean

all: release

release: $(RELEASE_EXT)
debug: $(DEBUG_EXT)

$(APPEND_METADATA): scripts/append_metadata.rs
	@mkdir -p $(dir $@)
	rustc --edition 2021 -O -o $@ $<

$(RELEASE_EXT): $(RUST_SOURCES) $(APPEND_METADATA)
	$(CARGO) build --release --locked
	@mkdir -p $(dir $@)
	$(APPEND_METADATA) --library target/release/lib$(EXTENSION_NAME).so --output $@ \
	  --extension-version $(VERSION) --c-api-version $(C_API_VERSION) --abi $(ABI_TYPE) \
	  --platform $(PLATFORM)

$(DEBUG_EXT): $(RUST_SOURCES) $(APPEND_METADATA)
	$(CARGO) build --locked
	@mkdir -p $(dir $@)
	$(APPEND_METADATA) --library target/debug/lib$(EXTENSION_NAME).so --output $@ \
	  --extension-version $(VERSION) --c-api-version $(C_API_VERSION) --abi $(ABI_TYPE) \
	  --platform $(PLATFORM)

# The pinned hosts: PyPI duckdb (Python) and duckdb-cli (the shell) in a venv, plus an older
# shell beside it that must reject the extension.
venv: $(VENV)/.installed

$(VENV)/.installed: extension-config/extension.conf
	$(PYTHON) -m venv $(VENV)
	$(VENV_PY) -m pip install --quiet --disable-pip-version-check \
	  duckdb==$(DUCKDB_PYTHON_VERSION) duckdb-cli==$(DUCKDB_CLI_VERSION) pytest==$(PYTEST_VERSION)
	rm -rf $(OLD_HOST_DIR)
	$(VENV_PY) -m pip install --quiet --disable-pip-version-check --target $(OLD_HOST_DIR) \
	  duckdb-cli==$(DUCKDB_CLI_OLD_VERSION)
	touch $@

# The main job: the extension's version, then a REST extract from the local mock API (started
# here on 127.0.0.1, stopped on exit).
demo: release venv
	$(DUCKDB_CLI) -unsigned < sql/examples/hello.sql
	@$(VENV_PY) scripts/with_mock_server.py --records 20000 -- \
	  env API_TOKEN=secret-token-456 $(DUCKDB_CLI) -unsigned < sql/examples/rest_users.sql
	@mkdir -p build/demo
	@$(VENV_PY) scripts/with_mock_server.py --records 20000 -- \
	  env API_TOKEN=secret-token-456 $(DUCKDB_CLI) -unsigned < sql/examples/stage_users.sql
	@for run in first second; do \
	  echo "-- load_warehouse.sql, $$run run (the second inserts nothing new)"; \
	  $(DUCKDB_CLI) -unsigned build/demo/dw.duckdb -c "LOAD 'build/release/etl.duckdb_extension'" \
	    -c "SET VARIABLE lake = 'build/demo/lake'" -c ".read sql/examples/load_warehouse.sql" || exit 1; \
	done

lint:
	$(CARGO) fmt --check
	$(CARGO) clippy --locked --all-targets -- -D warnings

unit:
	$(CARGO) test --locked

sqltest: release venv
	ETL_TEST_HOOKS=1 RUST_BACKTRACE=0 \
	  ETL_TEST_BEARER_TOKEN=secret-token-456 ETL_TEST_API_KEY=secret-key-123 \
	  ETL_TEST_CLIENT_SECRET=client-secret-789 ETL_TEST_PASSWORD=s3cret-pw \
	  $(VENV_PY) scripts/sqllogictest.py --mock-server --extension $(RELEASE_EXT) test/sql

shelltest: release venv
	$(VENV_PY) -m pytest -q test/shell

# Every tier; stops at the first failing tier, each tier ends with its runner's summary.
test: lint unit sqltest shelltest

# Benchmarks (numbers, not pass/fail): rest_scan vs dlt's rest_api and DuckDB's read_json on the
# local mock API, latency-bound concurrency, and peak memory; COPY ... (FORMAT dw_staging) vs
# DuckDB's own Parquet writer (speed, encoder threads, peak memory). Results in build/bench/.
BENCH_VENV := $(BUILD)/bench-venv
$(BENCH_VENV)/.installed: scripts/bench_requirements.txt
	$(PYTHON) -m venv $(BENCH_VENV)
	$(BENCH_VENV)/bin/python -m pip install --quiet --disable-pip-version-check -r scripts/bench_requirements.txt
	touch $@

bench: release $(BENCH_VENV)/.installed
	$(BENCH_VENV)/bin/python scripts/bench_rest_scan.py --out $(BUILD)/bench/rest_scan.json
	$(BENCH_VENV)/bin/python scripts/bench_dw_staging.py --out $(BUILD)/bench/dw_staging.json
	$(BENCH_VENV)/bin/python scripts/bench_contracts.py --out $(BUILD)/bench/contracts.json

clean:
	rm -rf $(BUILD) target
