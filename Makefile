# `make run` installs the runtime only and serves the embedded default; `make test` and `make bench` add
# their own tools to the same virtual environment.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
TEST_STAMP := $(VENV)/.installed-test
BENCH_STAMP := $(VENV)/.installed-bench
# The runtime: the service, the local embedding model and OpenTelemetry export.
RUNTIME := embeddings,otel
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1

.PHONY: install run test lint typecheck format bench compose-tool browser-tool screenshots

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

TORCH := torch==2.13.0
# PyTorch's own index of CPU-only wheels, for when the package index offers only the CUDA build.
TORCH_CPU_INDEX ?= https://download.pytorch.org/whl/cpu
# True when installing torch from the configured index would bring NVIDIA's CUDA packages.
CUDA_BUILD_CHECK := import json, sys; \
	sys.exit(any(p["metadata"]["name"].startswith("nvidia-") for p in json.load(sys.stdin)["install"]))

# torch (the CPU build) goes in first: any later resolution of torch then finds it satisfied instead
# of pulling the CUDA build (several GB of NVIDIA packages a CPU machine cannot use).
$(STAMP): pyproject.toml | $(BIN)/python
	@echo "==> [1/2] $(TORCH), the CPU build (about 200 MB)"
	@if $(BIN)/pip install --dry-run --ignore-installed --quiet --report - $(TORCH) 2>/dev/null \
		| $(BIN)/python -c '$(CUDA_BUILD_CHECK)'; then \
		$(BIN)/pip install --progress-bar on $(TORCH); \
	else \
		echo "    the package index offers torch's CUDA build only: taking the CPU build from $(TORCH_CPU_INDEX)"; \
		$(BIN)/pip install --progress-bar on $(TORCH) --index-url $(TORCH_CPU_INDEX); \
	fi
	@echo "==> [2/2] the service and its runtime dependencies"
	$(BIN)/pip install --progress-bar on -e ".[$(RUNTIME)]"
	touch $(STAMP)
	@echo "==> installed into $(VENV); the command line is $(BIN)/kb"

$(TEST_STAMP): $(STAMP)
	@echo "==> the test tools"
	$(BIN)/pip install --progress-bar on -e ".[$(RUNTIME),test]"
	touch $(TEST_STAMP)

$(BENCH_STAMP): $(STAMP)
	@echo "==> the benchmark tools"
	$(BIN)/pip install --progress-bar on -e ".[$(RUNTIME),bench]"
	touch $(BENCH_STAMP)

install: $(STAMP)

# `make run PORT=8080 HOST=0.0.0.0`; without them kb serve reads KB_PORT / KB_HOST, else 127.0.0.1:5001.
run: install
	$(BIN)/kb serve $(if $(PORT),--port $(PORT)) $(if $(HOST),--host $(HOST))

# The compose file is validated by its client; there is no Docker engine on the test machines.
compose-tool:
	@docker compose version >/dev/null 2>&1 || command -v docker-compose >/dev/null 2>&1 || \
		(apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq docker-compose >/dev/null)

# Browser tests drive Debian's Chromium through Playwright; Playwright's own browser download cannot run here.
browser-tool:
	@test -x /usr/bin/chromium || (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null)

lint: $(TEST_STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: $(TEST_STAMP)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

# Strict on etl/ and retrieval/, the default mode elsewhere (pyproject.toml, [tool.mypy]).
typecheck: $(TEST_STAMP)
	$(BIN)/mypy

test: $(TEST_STAMP) compose-tool browser-tool lint typecheck
	$(BIN)/python -m pytest tests

# The README's screenshots of the admin UI, taken by the browser tests that pass through those pages.
screenshots: $(TEST_STAMP) browser-tool
	KB_SCREENSHOT_DIR=docs/screenshots $(BIN)/python -m pytest tests/e2e -q \
		-k "indexes_files or documents_page or batch_actions or settings_are or api_access"

# Benchmarks write their numbers and plots to bench/results/; they are never part of `make test`.
bench: $(BENCH_STAMP)
	$(BIN)/python -m bench.ingest
	$(BIN)/python -m bench.quality --chunking abstracts
	$(BIN)/python -m bench.quality --chunking chunks
	$(BIN)/python -m bench.latency
	$(BIN)/python -m bench.scale
	$(BIN)/python -m bench.footprint
	$(BIN)/python -m bench.realdocs
