# Common commands; `make` alone lists them.
.DEFAULT_GOAL := help
.PHONY: help setup demo test lint format bench

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin

help: ## list the commands
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F ':.*## ' '{printf "  make %-8s %s\n", $$1, $$2}'

setup: ## create .venv and install tensorlint with the dev tools
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -e '.[dev]'

demo: ## check the example notes (findings are expected there)
	$(BIN)/tensorlint check examples/ || test $$? -eq 1

test: ## run the tests
	$(BIN)/pytest

lint: ## ruff check, ruff format --check, mypy
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

format: ## apply ruff's fixes and formatting
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

bench: ## measure speed and memory (benchmarks/run.py)
	$(BIN)/python benchmarks/run.py
