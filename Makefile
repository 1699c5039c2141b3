# The front door: every target installs what it needs on first use.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
NODE_STAMP := node_modules/.installed
CHROMIUM := /usr/bin/chromium
export JSII_SILENCE_WARNING_UNTESTED_NODE_VERSION := 1
export PATH := $(CURDIR)/node_modules/.bin:$(PATH)

.PHONY: setup demo local test test-fast lint fmt hooks synth bench chaos clean

$(STAMP): requirements.txt requirements-dev.txt pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	$(BIN)/pip install --quiet --disable-pip-version-check --no-deps -e .
	touch $@

$(NODE_STAMP): package.json
	npm install --no-audit --no-fund --loglevel=error
	touch $@

setup: $(STAMP) $(NODE_STAMP)

# The browser test drives Debian's chromium (never a downloaded one): installed once, as root.
$(CHROMIUM):
	command -v apt-get >/dev/null || { echo "install chromium at $@ (no apt-get here)" >&2; exit 1; }
	DEBIAN_FRONTEND=noninteractive apt-get update
	DEBIAN_FRONTEND=noninteractive apt-get install -y chromium
	test -x $@

synth: setup
	cdk synth --quiet

demo: setup
	$(BIN)/aios demo $(if $(PROCESS),--process $(PROCESS))

local: setup
	$(BIN)/aios local up

test: setup $(CHROMIUM)
	$(BIN)/python -m pytest

# Unit and infra tests only: no emulation, no browser.
test-fast: setup
	$(BIN)/python -m pytest tests/unit tests/infra

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy  # strict, on the layer, stacks/, functions/ and local/ (see pyproject.toml)

fmt: setup
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

# Optional: ruff and ruff format on every commit (.pre-commit-config.yaml); no other target needs it.
hooks: setup
	$(BIN)/pip install --quiet --disable-pip-version-check pre-commit==4.7.0
	$(BIN)/pre-commit install

bench: setup
	$(BIN)/python bench/cold_start.py
	$(BIN)/python bench/layer_size.py
	$(BIN)/python bench/aws_requests.py
	$(BIN)/python bench/cost_per_case.py
	$(BIN)/python bench/decision_cost.py
	$(BIN)/python bench/content_cost.py
	$(BIN)/python bench/memory_recall.py
	$(BIN)/python bench/signals.py
	$(BIN)/python bench/console_render.py
	$(BIN)/python bench/handoff_notice.py
	$(BIN)/python bench/emulation_load.py
	$(BIN)/python bench/emulation_cpu.py
	$(BIN)/aios eval customer-ops --examples bench/workloads/customer_ops.jsonl

# CHAOS_ARGS, e.g. --seed 42 (default: 1,000 cases, a seed from the clock)
chaos: setup
	$(BIN)/python bench/chaos.py --cases 1000 --budget-headroom 0.2 $(CHAOS_ARGS)

clean:
	rm -rf $(VENV) node_modules cdk.out .pytest_cache
