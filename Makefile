# `make run` serves the embedded default; `make test` installs everything and runs the whole suite.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1

.PHONY: install run test lint format bench compose-tool browser-tool screenshots

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

# torch 2.13.0 (the CPU build) goes in first: any later resolution of torch then finds it satisfied
# instead of pulling the CUDA build.
$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet torch==2.13.0
	$(BIN)/pip install --quiet -e ".[embeddings,test,bench]"
	touch $(STAMP)

install: $(STAMP)

run: install
	$(BIN)/kb serve

# The compose file is validated by its client; there is no Docker engine on the test machines.
compose-tool:
	@docker compose version >/dev/null 2>&1 || command -v docker-compose >/dev/null 2>&1 || \
		(apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq docker-compose >/dev/null)

# Browser tests drive Debian's Chromium through Playwright; Playwright's own browser download cannot run here.
browser-tool:
	@test -x /usr/bin/chromium || (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null)

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: install
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

test: install compose-tool browser-tool lint
	$(BIN)/python -m pytest tests

# The README's screenshots of the admin UI, taken by its browser test.
screenshots: install browser-tool
	KB_SCREENSHOT_DIR=docs/screenshots $(BIN)/python -m pytest tests/e2e -q -k indexes_files

# Benchmarks write their numbers and plots to bench/results/; they are never part of `make test`.
bench: install
	$(BIN)/python -m bench.ingest
	$(BIN)/python -m bench.quality --chunking abstracts
	$(BIN)/python -m bench.quality --chunking chunks
	$(BIN)/python -m bench.latency
	$(BIN)/python -m bench.scale
