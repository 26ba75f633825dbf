# augmentd: the README's commands. `make test` sets itself up on a fresh clone.
SHELL := /bin/bash
.DEFAULT_GOAL := test

# libtorch comes from the cached virtualenv that scripts/setup-libtorch.sh links at .torch-venv;
# tch's build script asks that interpreter where torch lives (LIBTORCH_USE_PYTORCH=1), and our
# build scripts bake the library path into every binary (rpath), so nothing needs exporting.
export VIRTUAL_ENV := $(CURDIR)/.torch-venv
export PATH := $(VIRTUAL_ENV)/bin:$(PATH)
export LIBTORCH_USE_PYTORCH := 1
# Tests and tools that call Python use this interpreter (torch + safetensors inside).
export AUGMENTD_TEST_PYTHON := $(VIRTUAL_ENV)/bin/python
CARGO ?= cargo

.PHONY: setup build release test fmt-check lint unit pytest check-deploy bench bench-grpc demo serve quality

setup: .torch-venv/bin/python
	@bash scripts/setup-tools.sh

.torch-venv/bin/python: scripts/setup-libtorch.sh
	bash scripts/setup-libtorch.sh
	@touch -h .torch-venv

build: setup
	$(CARGO) build --workspace --all-targets

release: setup
	$(CARGO) build --workspace --release

fmt-check:
	$(CARGO) fmt --all -- --check

lint: setup
	$(CARGO) clippy --workspace --all-targets -- -D warnings

unit: setup
	$(CARGO) test --workspace --all-targets

# The Python client's tests run against the augmentd that `unit` built (the test profile).
pytest: setup
	$(CARGO) build --profile test --workspace --bins
	cd client/python && AUGMENTD_BIN=$(CURDIR)/target/debug/augmentd $(VIRTUAL_ENV)/bin/python -m pytest -q

# Kubernetes manifests (kustomize + kubernetes-validate --strict + CRD schemas) and the
# Prometheus rules (promtool check/test, the rendered PrometheusRule) and Grafana dashboard.
check-deploy: setup
	bash scripts/check-k8s.sh
	bash scripts/check-monitoring.sh

test: setup fmt-check lint unit pytest check-deploy

demo: setup
	$(CARGO) build --release -p augmentd --bin augmentd
	bash scripts/demo.sh

bench: setup
	$(CARGO) run --release -p augmentd-bench --bin grpc-augment -- --out docs/bench-grpc.md
	$(CARGO) run --release -p augmentd-bench --bin step-throughput
	$(CARGO) run --release -p augmentd-bench --bin baseline-throughput

# Only the gRPC Augment benchmark (loopback vs in-process), written to docs/bench-grpc.md.
bench-grpc: setup
	$(CARGO) run --release -p augmentd-bench --bin grpc-augment -- --out docs/bench-grpc.md

# The quality protocol (issue 13): every arm (none, the hand-crafted policies, bilevel-learned,
# served) at every seed and subset size through the release augmentd, then docs/quality.md
# (+ .svg, .json). Default budget `small` (20 and 50 images per class, 2,000 steps); issue 6's
# protocol is `--budget cpu-2000`. Resumable: a stopped run continues. Flags go in QUALITY_ARGS
# (`--help` lists them), e.g.
#   make quality QUALITY_ARGS="--jobs 2"
#   make quality QUALITY_ARGS="--budget gpu"
#   make quality QUALITY_ARGS="--jobs 2 --arms none,trivialaugment --seeds 0"
QUALITY_ARGS ?=
quality: setup
	$(CARGO) build --release -p augmentd --bin augmentd
	$(CARGO) run --release -p augmentd-bench --bin quality -- $(QUALITY_ARGS)

# The service on 127.0.0.1:50051 (metrics on :9090), state under .augmentd/.
serve: setup
	$(CARGO) build --release -p augmentd --bin augmentd -p augmentd-client --bin augmentctl
	bash scripts/serve.sh
