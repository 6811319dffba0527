# Quick start: `make run` (the helpline on http://127.0.0.1:8080) and `make test` (everything).
SHELL := /bin/bash
.SHELLFLAGS := -euo pipefail -c
.DEFAULT_GOAL := run

VENV := .venv
BIN := $(VENV)/bin
RUN_STAMP := $(VENV)/.installed-run
DEV_STAMP := $(VENV)/.installed-dev
PIP := $(BIN)/python -m pip install --quiet
LOCK := $(BIN)/pip-compile --quiet --generate-hashes --strip-extras --allow-unsafe \
	--no-emit-index-url --no-emit-find-links
PYTHON := $(shell command -v python3.11 || command -v python3)
HOST ?= 127.0.0.1
PORT ?= 8080

.PHONY: run test lint fmt install lock system-deps

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

# Running needs the pinned, hash-checked runtime set only (requirements.lock), then the project
# itself without resolving anything again. The tools for tests come on top for `make test`.
# Each installs again only when its lock (or pyproject.toml) changed since it last succeeded.
$(RUN_STAMP): requirements.lock pyproject.toml | $(BIN)/python
	$(PIP) --require-hashes -r requirements.lock
	$(PIP) --no-deps -e .
	touch $(RUN_STAMP)

$(DEV_STAMP): requirements-dev.lock $(RUN_STAMP)
	$(PIP) --require-hashes -r requirements-dev.lock
	touch $(DEV_STAMP)

install: $(DEV_STAMP)

# After changing dependencies in pyproject.toml: pin the new set (PyPI only), then commit both.
lock: $(DEV_STAMP)
	$(LOCK) -o requirements.lock pyproject.toml
	$(LOCK) --extra dev -c requirements.lock -o requirements-dev.lock pyproject.toml

run: $(RUN_STAMP)
	$(BIN)/helpline i18n compile
	$(BIN)/helpline db upgrade
	$(BIN)/helpline demo load
	$(BIN)/helpline serve --host $(HOST) --port $(PORT)

system-deps:
	bash .ci/install-system-deps

test: $(DEV_STAMP) system-deps
	$(BIN)/ruff check .
	$(BIN)/mypy
	$(BIN)/lint-imports --no-cache  # the layers of bot/ (pyproject.toml, README "Layers")
	$(BIN)/helpline i18n check
	$(BIN)/helpline flows check
	$(BIN)/pytest -q -p no:cacheprovider -n 2 --dist loadfile

lint: $(DEV_STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

fmt: $(DEV_STAMP)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .
