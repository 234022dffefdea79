# avatar-bridge. `make run` and `make test` do all set-up on a fresh machine.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
PYTEST_ARGS ?=

.PHONY: web help venv protos check-protos lint format typecheck buf test test-unit test-full run emulator bench clean

help:
	@echo "make run    - set up and start the bridge on localhost:50051 (embedded emulator without LIVEAVATAR_API_KEY)"
	@echo "make test   - set up, lint, type-check, check the protos and run every test"
	@echo "make bench  - run the benchmarks"
	@echo "make protos - regenerate the Python stubs from protos/"

venv: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[emulator,dev]'
	touch $(STAMP)

# The emulator's viewer page: livekit-client from npm, bundled by esbuild (never a CDN); the
# same npm package holds playwright-core for the browser tests.
WEB := emulator/web
VIEWER_JS := emulator/liveavatar_emulator/viewer_static/viewer.js

web: $(VIEWER_JS)

$(VIEWER_JS): $(WEB)/package.json $(WEB)/package-lock.json $(WEB)/src/viewer.js $(WEB)/src/sdk_check.js
	cd $(WEB) && npm ci --no-audit --no-fund --loglevel=error && npm run --silent build

protos: $(STAMP)
	$(BIN)/python protos/generate.py

check-protos: $(STAMP)
	$(BIN)/python protos/generate.py --check

buf: $(STAMP)
	$(BIN)/buf lint
	$(BIN)/buf build -o /dev/null

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: $(STAMP)
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

typecheck: $(STAMP)
	$(BIN)/mypy server/avatar_bridge emulator/liveavatar_emulator clients/python/avatar_bridge_client

test-unit: $(STAMP)
	$(BIN)/pytest -m "not full" $(PYTEST_ARGS)

# FULL-mode tests need WebRTC, which ignores loopback: they run in a private network namespace.
test-full: $(STAMP) web
	bash tests/netns/run.sh $(BIN)/pytest -m full $(PYTEST_ARGS)

test: buf check-protos lint typecheck test-unit test-full

run: $(STAMP) web
	$(BIN)/avatar-bridge serve

emulator: $(STAMP) web
	$(BIN)/liveavatar-emulator

bench: $(STAMP)
	$(BIN)/python -m benchmarks.audio_throughput
	$(BIN)/python -m benchmarks.first_packet

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache build *.egg-info
