# Two commands do everything: `make templates` and `make test`.
# Each creates its own virtual environment (.venv) and installs what it needs.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
CHECKOV_VENV := .venv-checkov
CHECKOV_STAMP := $(CHECKOV_VENV)/.installed
PIP_FLAGS := --quiet --disable-pip-version-check

.PHONY: all templates test lint typecheck unit drift checkov sweep bench reporter-deadlines publish clean

all: test

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install $(PIP_FLAGS) --upgrade "pip>=24"
	$(BIN)/python -m pip install $(PIP_FLAGS) -e ".[test]"
	touch $@

# checkov pins old boto3/botocore, so it lives in a virtual environment of its own.
$(CHECKOV_STAMP):
	test -x $(CHECKOV_VENV)/bin/python || $(PYTHON) -m venv $(CHECKOV_VENV)
	$(CHECKOV_VENV)/bin/python -m pip install $(PIP_FLAGS) "checkov>=3.2,<4"
	touch $@

## Build, lint and write every template (and the generated docs) atomically.
templates: $(STAMP)
	$(BIN)/clazar-templates build --out templates
	$(BIN)/clazar-templates docs

## Everything CI checks.
test: lint typecheck unit drift checkov

lint: $(STAMP)
	$(BIN)/ruff check src tests scripts
	$(BIN)/ruff format --check src tests scripts

typecheck: $(STAMP)
	$(BIN)/mypy

unit: $(STAMP)
	$(BIN)/pytest -q

drift: $(STAMP)
	$(BIN)/clazar-templates build --check --out templates
	$(BIN)/clazar-templates docs --check

checkov: $(STAMP) $(CHECKOV_STAMP)
	$(BIN)/python scripts/checkov_templates.py --checkov $(CHECKOV_VENV)/bin/checkov

## Exhaustive: every option combination, linted (and checkov'd) in parallel on all cores.
sweep: $(STAMP) $(CHECKOV_STAMP)
	$(BIN)/python scripts/sweep.py --checkov $(CHECKOV_VENV)/bin/checkov

## Timings with targets (not run by the tests).
bench: $(STAMP)
	$(BIN)/python scripts/bench.py

## The reporter's worst-case time to answer CloudFormation, 30 s and 120 s budgets, alone
## (make test measures the same beside the other tests).
reporter-deadlines: $(STAMP)
	$(BIN)/python scripts/reporter_deadlines.py

## Publish every template: make publish BUCKET=my-bucket VERSION=1.2.3 [PREFIX=...] [REGION=...]
publish: $(STAMP)
	@test -n "$(BUCKET)" || (echo "usage: make publish BUCKET=... VERSION=..." >&2; exit 2)
	@test -n "$(VERSION)" || (echo "usage: make publish BUCKET=... VERSION=..." >&2; exit 2)
	$(BIN)/clazar-templates publish --bucket "$(BUCKET)" --version "$(VERSION)" \
		$(if $(PREFIX),--prefix "$(PREFIX)") $(if $(REGION),--region "$(REGION)")

clean:
	rm -rf $(VENV) $(CHECKOV_VENV) .pytest_cache .mypy_cache .ruff_cache
