# Quick start: `make run` (the helpline on http://127.0.0.1:8080) and `make test` (everything).
SHELL := /bin/bash
.SHELLFLAGS := -euo pipefail -c
.DEFAULT_GOAL := run

VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
PYTHON := $(shell command -v python3.11 || command -v python3)
HOST ?= 127.0.0.1
PORT ?= 8080

.PHONY: run test lint fmt install system-deps

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

# Install again only when pyproject.toml changed since the last successful install.
$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

run: $(STAMP)
	$(BIN)/helpline i18n compile
	$(BIN)/helpline db upgrade
	$(BIN)/helpline demo load
	$(BIN)/helpline serve --host $(HOST) --port $(PORT)

system-deps:
	bash .ci/install-system-deps

test: $(STAMP) system-deps
	$(BIN)/ruff check .
	$(BIN)/helpline i18n check
	$(BIN)/helpline flows check
	$(BIN)/pytest -q -p no:cacheprovider -n 2 --dist loadfile

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

fmt: $(STAMP)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .
