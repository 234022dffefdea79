# avatar-bridge. `make run` and `make test` do all set-up on a fresh machine.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
NODE_DIR := clients/node
NODE_STAMP := $(NODE_DIR)/node_modules/.installed-stamp
PYTEST_ARGS ?=

.PHONY: plugin-venv help venv protos protos-baseline check-protos deploy-check lint format typecheck buf test test-unit test-full test-node run full-demo emulator bench clean mutation test-loaded bench-long bench-scale web fuzz bench-full test-py313

help:
	@echo "make run    - set up and start the bridge on localhost:50051 (--emulator when LIVEAVATAR_API_KEY is unset)"
	@echo "make test   - set up, lint, type-check, check the protos and run every test"
	@echo "make bench  - run the benchmarks"
	@echo "make protos - regenerate the Python stubs from protos/"

venv: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[emulator,dev]'
	touch $(STAMP)

# The Node client's packages, exactly as locked (package-lock.json).
$(NODE_STAMP): $(NODE_DIR)/package-lock.json
	cd $(NODE_DIR) && npm ci --no-audit --no-fund
	touch $(NODE_STAMP)

# Node client: tsc, the generated-types drift check, and a LITE conversation on the real bridge.
test-node: $(STAMP) $(NODE_STAMP)
	cd $(NODE_DIR) && npm test

# The emulator's viewer page: livekit-client from npm, bundled by esbuild (never a CDN); the
# same npm package holds playwright-core for the browser tests.
WEB := emulator/web
VIEWER_JS := emulator/liveavatar_emulator/viewer_static/viewer.js

web: $(VIEWER_JS)

$(VIEWER_JS): $(WEB)/package.json $(WEB)/package-lock.json $(WEB)/src/viewer.js $(WEB)/src/sdk_check.js
	cd $(WEB) && npm ci --no-audit --no-fund --loglevel=error && npm run --silent build

# Python stubs, Go stubs (buf.gen.yaml: Debian's protoc-gen-go/-go-grpc) and the Node types.
protos: $(STAMP) $(NODE_STAMP)
	$(BIN)/python protos/generate.py
	$(BIN)/buf generate
	cd $(NODE_DIR) && npm run --silent gen

check-protos: $(STAMP)
	$(BIN)/python protos/generate.py --check

# buf breaking compares with protos/v1.binpb, the committed image of the landed v1 contract: a git
# ref (`.git#branch=main`) is missing from a fresh single-branch clone, an image never is.
buf: $(STAMP)
	$(BIN)/buf lint
	$(BIN)/buf build -o /dev/null
	$(BIN)/buf breaking --against protos/v1.binpb

# Refresh the breaking-change baseline when a release lands (only additions should be in the diff).
protos-baseline: $(STAMP)
	$(BIN)/buf breaking --against protos/v1.binpb
	$(BIN)/buf build -o protos/v1.binpb

# The image and the Kubernetes manifests: hadolint, and the Kubernetes schemas (strict, offline).
deploy-check: $(STAMP)
	$(BIN)/hadolint Dockerfile
	$(BIN)/kubernetes-validate --strict --quiet $(filter-out %/kustomization.yaml,$(wildcard deploy/kubernetes/*.yaml))

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

# PyPI's livekit-plugins-liveavatar in its own virtualenv (it pins livekit 1.1.21, the project
# 1.2.0), exact pins from tests/plugin/requirements.txt; tests/plugin drives it unchanged.
PLUGIN_VENV := .venv-plugin
PLUGIN_STAMP := $(PLUGIN_VENV)/.installed-stamp

plugin-venv: $(PLUGIN_STAMP)

$(PLUGIN_STAMP): tests/plugin/requirements.txt
	test -x $(PLUGIN_VENV)/bin/python || $(PYTHON) -m venv $(PLUGIN_VENV)
	$(PLUGIN_VENV)/bin/python -m pip install --quiet --no-deps -r tests/plugin/requirements.txt
	touch $(PLUGIN_STAMP)

# FULL-mode tests need WebRTC, which ignores loopback: they run in a private network namespace.
test-full: $(STAMP) web $(PLUGIN_STAMP)
	bash tests/netns/run.sh $(BIN)/pytest -m full $(PYTEST_ARGS)

test: buf check-protos lint typecheck deploy-check test-unit test-full test-node

run: $(STAMP) web
	$(BIN)/avatar-bridge serve $(if $(LIVEAVATAR_API_KEY),,--emulator)

# FULL mode needs a non-loopback interface: bridge + grpcurl in a private network namespace.
full-demo: $(STAMP)
	bash examples/full-demo.sh

emulator: $(STAMP) web
	$(BIN)/liveavatar-emulator

BENCH_STAMP := $(VENV)/.bench-stamp
$(BENCH_STAMP): $(STAMP)
	$(BIN)/python -m pip install --quiet -e '.[emulator,dev,bench]'
	touch $(BENCH_STAMP)

# Bridge vs direct client, capacity on one pinned core, memory, loop lag, first speech (< 3 min).
bench: $(BENCH_STAMP)
	$(BIN)/python -m benchmarks.run
	$(BIN)/python -m benchmarks.full_bench --skip-ok --steps 10 --seconds 5 \
		--out benchmarks/results/full_quick

# FULL mode: USER sessions publishing real-time microphone audio, 10/25/50/75 sessions, each
# step also run on the bridge of FULL_BASELINE_REF (before the FULL work) in the same run, in a
# private network namespace (tests/netns/run.sh). About 12 minutes; results/full_latest.*.
FULL_BASELINE_REF ?= 017c047
bench-full: $(BENCH_STAMP)
	rm -rf build/full-baseline && mkdir -p build/full-baseline
	git archive $(FULL_BASELINE_REF) server | tar -x -C build/full-baseline
	$(BIN)/python -m benchmarks.full_bench --baseline build/full-baseline/server

# The same with longer steps, more of them, and uvloop beside asyncio's loop (about 15 min).
bench-long: $(BENCH_STAMP)
	$(BIN)/python -m benchmarks.run --seconds 20 --cpu-sessions 50,500,1000 --uvloop \
		--steps-100 250,500,750,1000,1250,1500 --steps-20 100,200,250,300,400 \
		--first-speech-repeats 5
	$(BIN)/python -m benchmarks.audio_throughput

# 1 worker pinned vs 1 and 2 workers (--workers, SO_REUSEPORT) on two cores, then the overload
# step: past --max-sessions newcomers are refused and admitted sessions keep their latency.
bench-scale: $(BENCH_STAMP)
	$(BIN)/python -m benchmarks.scale
	$(BIN)/python -m benchmarks.scale_overload

clean:
	rm -rf $(VENV) $(PLUGIN_VENV) .venv-py3* .pytest_cache .mypy_cache .ruff_cache build *.egg-info

# A longer property-based fuzz of Converse (tests/admission/test_fuzz.py): 40 sequences per
# example; FUZZ_EXAMPLES=500 is 20,000 sequences. `make test` runs 50 examples (2,000).
FUZZ_EXAMPLES ?= 500
fuzz: $(STAMP)
	AVATAR_BRIDGE_FUZZ_EXAMPLES=$(FUZZ_EXAMPLES) $(BIN)/pytest tests/admission/test_fuzz.py -s -p no:cacheprovider -o timeout=0

# Mutation testing (tests/mutation/run.sh): one module at a time, fast tests only, nice -n 10.
# MUTATION_MODULES="avatar_bridge/errors.py ..." picks modules; results in build/mutation/.
MUTATION_MODULES ?=
mutation: $(STAMP)
	bash tests/mutation/run.sh $(MUTATION_MODULES)

# `make test` three times in a row while stress-ng (Debian) keeps both cores busy: the suite
# must not depend on an idle machine. stress-ng is installed here when missing (root). Run it
# un-niced: stress-ng takes the caller's priority, and a niced suite would not be loaded.
LOADED_RUNS ?= 3
test-loaded: $(STAMP)
	command -v stress-ng >/dev/null || { DEBIAN_FRONTEND=noninteractive apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq stress-ng; }
	bash tests/loaded.sh $(LOADED_RUNS)

# The unit tests on CPython 3.13 (tests/py313.sh: its own .venv-py313; PY313=/path/to/python3.13
# picks the interpreter). Not part of `make test`: a second install of every dependency.
test-py313:
	bash tests/py313.sh $(PYTEST_ARGS)
