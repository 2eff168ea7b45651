# Newcomer path: `make demo`, `make test`. Everything installs from pinned files.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
SAM_VENV ?= .venv-sam
SAM := $(SAM_VENV)/bin/sam
STAMP := $(VENV)/.installed

.PHONY: help install test lint lint-asl lint-sam unit integration workflow demo bench clean

help:
	@echo "make demo   - run the whole workflow locally (embedded engine, no Docker, no AWS)"
	@echo "make test   - lint + every test (unit, integration on moto server, workflow)"
	@echo "make bench  - performance benchmarks"

$(STAMP): requirements-dev.txt functions/requirements.txt pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip==25.3
	$(PY) -m pip install --quiet -r requirements-dev.txt
	$(PY) -m pip install --quiet --no-deps -e .
	touch $@

install: $(STAMP)

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/cfn-lint template.yaml

test: lint
	$(PY) -m pytest

unit: $(STAMP)
	$(PY) -m pytest tests/unit

integration: $(STAMP)
	$(PY) -m pytest tests/integration

workflow: $(STAMP)
	$(PY) -m pytest tests/workflow

demo: $(STAMP)
	$(VENV)/bin/fanout demo

bench: $(STAMP)
	$(PY) -m bench

clean:
	rm -rf $(VENV) $(SAM_VENV) .pytest_cache .ruff_cache .aws-sam node_modules
