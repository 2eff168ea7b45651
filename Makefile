# Newcomer path: `make demo`, `make test`. Everything installs from pinned files.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
SAM_VENV ?= .venv-sam
SAM := $(SAM_VENV)/bin/sam
STAMP := $(VENV)/.installed
SAM_STAMP := $(SAM_VENV)/.installed
NODE_STAMP := node_modules/.installed
ASL := statemachine/fanout.asl.json
ASL_RENDERED := .aws-sam/lint/fanout.asl.json
# sam: no telemetry (and no network) during lint; validate needs a region, never credentials.
SAM_ENV := SAM_CLI_TELEMETRY=0 AWS_DEFAULT_REGION=us-east-1

.PHONY: help install test lint lint-asl lint-sam typecheck unit explore integration workflow browser demo bench clean screenshot fetch-pyz
.PHONY: up down sfn-local docs graphs seed invoke

help:
	@echo "make demo   - run the whole workflow locally (embedded engine, no Docker, no AWS)"
	@echo "make test   - lint + every test (unit, integration on moto server, workflow)"
	@echo "make bench  - performance benchmarks"
	@echo "make up / make down - docker compose: MinIO (:9000) and Step Functions Local (:8083)"
	@echo "make sfn-local - the INLINE variant on Step Functions Local (README: Docker path)"
	@echo "make docs   - re-render the diagrams and open the study site (docs/index.html)"
	@echo "make graphs - re-render the diagrams in docs/ (Graphviz dot)"
	@echo "make invoke - every events/ file through its function, on an embedded S3"
	@echo "SOURCE_DIR=path make seed - upload a directory to BUCKET on S3_ENDPOINT (MinIO)"

$(STAMP): requirements-dev.txt dependencies/requirements.txt pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip==25.3
	$(PY) -m pip install --quiet -r requirements-dev.txt
	$(PY) -m pip install --quiet --no-deps -e .
	touch $@

install: $(STAMP)

# aws-sam-cli pins its own boto3, so it lives in its own venv, locked in requirements-sam.txt.
# `sam validate` runs on any Python >= 3.10; only `sam build` needs python3.13 (the runtime) on PATH.
$(SAM_STAMP): requirements-sam.txt
	$(PYTHON) -m venv $(SAM_VENV)
	$(SAM_VENV)/bin/python -m pip install --quiet --upgrade pip==25.3
	$(SAM_VENV)/bin/python -m pip install --quiet -r requirements-sam.txt
	touch $@

# asl-validator, pinned exactly in package.json / package-lock.json.
$(NODE_STAMP): package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

lint: $(STAMP) lint-sam lint-asl typecheck
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/cfn-lint template.yaml

# The recipient's tool as one file, shipped with MergeIndex (docs/recipient.md). Deterministic:
# rebuilding unchanged sources gives the same members; a test fails when it is stale.
fetch-pyz: $(STAMP)
	$(PY) -m fanout_local.fetch_pyz

# mypy --strict on the deployed code (pyproject.toml [tool.mypy]).
typecheck: $(STAMP)
	$(VENV)/bin/mypy

lint-sam: $(SAM_STAMP)
	$(SAM_ENV) $(SAM) validate --lint --region us-east-1 --template-file template.yaml

# asl-validator knows nothing of DefinitionSubstitutions: fill the ${...} placeholders first.
lint-asl: $(STAMP) $(NODE_STAMP)
	$(PY) -m fanout_local.asl_substitute $(ASL_RENDERED)
	node_modules/.bin/asl-validator --json-path $(ASL_RENDERED)

test: lint browser
	$(PY) -m pytest

# The share page is tested in a real headless Chromium: Debian's/Ubuntu's chromium and
# chromium-driver, installed here as root or with sudo; anywhere else, a clear failure.
# docs/recipient.md's curl + jq recipe runs in the tests too.
BROWSER_PACKAGES := chromium chromium-driver curl jq
browser:
	@if command -v chromedriver >/dev/null && { command -v chromium || command -v chromium-browser; } >/dev/null \
	  && command -v curl >/dev/null && command -v jq >/dev/null; then exit 0; fi; \
	if ! command -v apt-get >/dev/null; then \
	  echo "make browser: the share page's tests need a headless Chromium - install the packages $(BROWSER_PACKAGES) (Debian/Ubuntu names)" >&2; exit 1; fi; \
	if [ "$$(id -u)" = 0 ]; then SUDO=; elif command -v sudo >/dev/null; then SUDO=sudo; else \
	  echo "make browser: installing $(BROWSER_PACKAGES) needs root or sudo - run: apt-get install $(BROWSER_PACKAGES)" >&2; exit 1; fi; \
	echo "installing $(BROWSER_PACKAGES) (apt-get) for the share page's browser tests"; \
	$$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $(BROWSER_PACKAGES) >/dev/null 2>&1 || \
	{ $$SUDO apt-get update -qq && $$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $(BROWSER_PACKAGES); }

# The README's picture of the share page, as the browser tests render it.
screenshot: $(STAMP) browser
	$(PY) -m pytest -q tests/browser -k "shows_what_was_shared or phone_width"
	cp .fanout/screenshots/share-page.png .fanout/screenshots/share-page-phone.png docs/

unit: $(STAMP)
	$(PY) -m pytest tests/unit

# Property tests with fresh examples (make test replays the same ones every run).
explore: $(STAMP)
	HYPOTHESIS_PROFILE=explore $(PY) -m pytest tests/unit -k "not slow"

# The transformed-template test runs the SAM translator from the aws-sam-cli venv.
integration: $(STAMP) $(SAM_STAMP)
	$(PY) -m pytest tests/integration

workflow: $(STAMP)
	$(PY) -m pytest tests/workflow

demo: $(STAMP)
	$(VENV)/bin/fanout demo

bench: $(STAMP) browser
	$(PY) -m bench

# -- Docker path (README: "Docker path"); needs a Docker engine, the aws CLI and a Lambda
# endpoint on :3001 (fanout serve-lambda --host 0.0.0.0 or sam local start-lambda).
up:
	docker compose up -d

down:
	docker compose down

sfn-local: $(STAMP)
	DEFINITION=$(INLINE_ASL) localdev/sfn-local.sh

# -- diagrams: docs/*.dot -> docs/*.svg; docs/workflow.dot is generated from the ASL.
DOCS_DOT := $(wildcard docs/*.dot)

INLINE_ASL := .aws-sam/sfn-local/fanout-inline.asl.json

graphs: $(STAMP)
	$(PY) -m fanout_local.asl_dot $(ASL) docs/workflow.dot
	$(VENV)/bin/fanout render --target stepfunctions-local --output $(INLINE_ASL)
	$(PY) -m fanout_local.asl_dot $(INLINE_ASL) docs/workflow-inline.dot
	for f in $(sort $(DOCS_DOT) docs/workflow.dot docs/workflow-inline.dot); do dot -Tsvg "$$f" -o "$${f%.dot}.svg"; done

# The study site: one page, no build step; opened where a desktop can open it.
docs: graphs
	@if command -v xdg-open >/dev/null 2>&1 && [ -n "$$DISPLAY$$WAYLAND_DISPLAY" ]; then xdg-open docs/index.html; \
	else echo "open docs/index.html in a browser"; fi

# SOURCE_DIR=path make seed: upload a directory (default: the example files) to MinIO.
SOURCE_DIR ?= events/sample-data
BUCKET ?= demo-bucket
S3_ENDPOINT ?= http://localhost:9000
seed: $(STAMP)
	$(VENV)/bin/fanout seed --bucket $(BUCKET) --source-dir $(SOURCE_DIR) --s3-endpoint $(S3_ENDPOINT)

invoke: $(STAMP)
	$(PY) -m fanout_local.examples

clean:
	rm -rf $(VENV) $(SAM_VENV) .pytest_cache .ruff_cache .aws-sam node_modules
