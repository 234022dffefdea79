# avatar-bridge. `make run` and `make test` do all set-up on a fresh machine.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
PYTEST_ARGS ?=

.PHONY: help venv protos check-protos lint format typecheck buf test test-unit test-full run emulator bench clean fuzz

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
test-full: $(STAMP)
	bash tests/netns/run.sh $(BIN)/pytest -m full $(PYTEST_ARGS)

test: buf check-protos lint typecheck test-unit test-full

run: $(STAMP)
	$(BIN)/avatar-bridge serve

emulator: $(STAMP)
	$(BIN)/liveavatar-emulator

bench: $(STAMP)
	$(BIN)/python -m benchmarks.audio_throughput
	$(BIN)/python -m benchmarks.first_packet

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache build *.egg-info

# A longer property-based fuzz of Converse (tests/admission/test_fuzz.py): 40 sequences per
# example; FUZZ_EXAMPLES=500 is 20,000 sequences. `make test` runs 50 examples (2,000).
FUZZ_EXAMPLES ?= 500
fuzz: $(STAMP)
	AVATAR_BRIDGE_FUZZ_EXAMPLES=$(FUZZ_EXAMPLES) $(BIN)/pytest tests/admission/test_fuzz.py -s -p no:cacheprovider -o timeout=0
