# Two commands do everything: `make templates` and `make test`.
# Each creates its own virtual environment (.venv) and installs into it exactly what the
# committed lock files under requirements/ name, hash-checked. `make lock` refreshes them.
#
# The installer is uv (a binary wheel on the package index, itself locked in
# requirements/uv.txt and bootstrapped by pip into .venv-tools); when it cannot be installed,
# or with `make ... INSTALLER=pip`, pip installs the same locked, hash-checked set.

PYTHON ?= python3
INSTALLER ?= uv
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
CHECKOV_VENV := .venv-checkov
CHECKOV_STAMP := $(CHECKOV_VENV)/.installed
TOOLS := .venv-tools
TOOLS_STAMP := $(TOOLS)/.installed
UV := $(TOOLS)/bin/uv
LOCK := requirements/dev.txt
CHECKOV_LOCK := requirements/checkov.txt
UV_LOCK := requirements/uv.txt
LOWEST_LOCK := requirements/lowest.txt
CACHE := .cache
WHEEL_DIR := $(CACHE)/dist
PIP := --quiet --disable-pip-version-check --require-hashes --no-deps
# pytest-xdist workers, one per core of a 2-core machine. `make test` shares the suite by
# work stealing: a worker that runs out takes half of what the other has left (xdist's
# default hands out fixed batches, and left one worker busy for the last 20-30 s of the
# suite; for test-fast's short tests it is as good, slightly better).
JOBS ?= 2

# The venvs are installed with their bytecode compiled (uv's --compile-bytecode; pip
# compiles by default): otherwise, on a fresh clone, the first imports of boto3, botocore,
# moto and cfn-lint compile them in every process that imports them at once (the xdist
# workers, the 24 deadline scenarios: 1.6 s each instead of 0.8 s, all on 2 cores). Python
# writes the bytecode of src/ itself on first import: with PYTHONDONTWRITEBYTECODE set, as
# on some machines, every process would compile it again.
unexport PYTHONDONTWRITEBYTECODE
# cfn-lint's findings, kept by the hash of the template and of everything else that decides
# them (template/render.py: cfn-lint, its schemas, rules, settings), so an unchanged template
# is not linted again.
export CLAZAR_LINT_CACHE ?= $(CURDIR)/$(CACHE)/cfn-lint
# The reporter's deadline figures of a passing run, kept by the hash of the handler, the test
# harness, the lock file and Python (tests/reporter_deadlines.py): unchanged code is not
# measured again for 95 s. A fresh clone (CI) always measures.
export CLAZAR_DEADLINES_CACHE ?= $(CURDIR)/$(CACHE)/reporter-deadlines
# The checkov the tests run (tests/test_checkov_run.py): given, they run it or fail, never skip.
export CLAZAR_CHECKOV ?= $(CURDIR)/$(CHECKOV_VENV)/bin/checkov

.PHONY: all templates test beside-unit test-fast lint typecheck unit drift checkov sweep bench \
	reporter-deadlines deadlines publish lock wheel ranges release release-finish clean

all: test

# uv, if it can be had; otherwise the stamp says so and pip does the installing.
$(TOOLS_STAMP): $(UV_LOCK)
	@rm -rf $(TOOLS)
	@if [ "$(INSTALLER)" != uv ]; then \
		mkdir -p $(TOOLS) && echo pip > $@; \
	elif $(PYTHON) -m venv $(TOOLS) && $(TOOLS)/bin/python -m pip install $(PIP) -r $(UV_LOCK); then \
		echo uv > $@; \
	else \
		echo "uv could not be installed; installing with pip" >&2; \
		mkdir -p $(TOOLS) && echo pip > $@; \
	fi

# $(call locked,VENV,LOCK): VENV holds exactly LOCK's packages, hash-checked. Should uv fail
# (no index it can reach, say), pip installs the same set into a fresh VENV.
define locked
	@if [ "$(INSTALLER)" = uv ] && [ -x $(UV) ] && { \
		test -x $(1)/bin/python || $(UV) venv -q --python $(PYTHON) $(1); } && \
		$(UV) pip sync -q --python $(1)/bin/python --require-hashes --compile-bytecode $(2); then \
		:; \
	else \
		set -e; \
		if [ "$(INSTALLER)" = uv ]; then echo "uv did not install $(2); pip installs it" >&2; \
			rm -rf $(1); fi; \
		test -x $(1)/bin/python || $(PYTHON) -m venv $(1); \
		$(1)/bin/python -m pip --version >/dev/null 2>&1 || $(1)/bin/python -m ensurepip -q; \
		$(1)/bin/python -m pip install $(PIP) -r $(2); \
	fi
endef

$(STAMP): $(LOCK) pyproject.toml | $(TOOLS_STAMP)
	$(call locked,$(VENV),$(LOCK))
	@# The project itself, editable, on top of the locked set (setuptools is in the lock).
	@if [ "$(INSTALLER)" = uv ] && [ -x $(UV) ]; then \
		$(UV) pip install -q --python $(BIN)/python --no-deps --no-build-isolation -e .; \
	else \
		$(BIN)/python -m pip install --quiet --no-deps --no-build-isolation -e .; \
	fi
	touch $@

# checkov pins old boto3/botocore, so it lives in a virtual environment of its own.
$(CHECKOV_STAMP): $(CHECKOV_LOCK) | $(TOOLS_STAMP)
	$(call locked,$(CHECKOV_VENV),$(CHECKOV_LOCK))
	touch $@

## Refresh every lock file from the package index (newest versions inside the ranges of
## pyproject.toml and requirements/*.in), then run `make test` and commit requirements/.
lock: $(TOOLS_STAMP)
	@test -x $(UV) || (echo "make lock needs uv (make INSTALLER=uv)" >&2; exit 2)
	$(UV) pip compile -q --upgrade --universal --python-version 3.11 --generate-hashes \
		--custom-compile-command "make lock" --extra all --extra test \
		pyproject.toml requirements/build.in -o $(LOCK)
	@# The lowest versions pyproject.toml's ranges allow, every extra: `make ranges` proves them.
	$(UV) pip compile -q --upgrade --universal --python-version 3.11 --generate-hashes \
		--custom-compile-command "make lock" --resolution lowest-direct --extra all \
		pyproject.toml -o $(LOWEST_LOCK)
	$(UV) pip compile -q --upgrade --universal --python-version 3.11 --generate-hashes \
		--custom-compile-command "make lock" requirements/checkov.in -o $(CHECKOV_LOCK)
	$(UV) pip compile -q --upgrade --universal --python-version 3.11 --generate-hashes \
		--custom-compile-command "make lock" requirements/uv.in -o $(UV_LOCK)

## Build, lint and write every template (and the generated docs) atomically. Make's own
## dates skip the work when neither the generator (src/, the locks) nor an output changed
## since the last run; the templates and the docs are made side by side.
templates: $(STAMP)
	@$(MAKE) --no-print-directory -j2 --output-sync=target $(CACHE)/templates.made $(CACHE)/docs.made

# What the outputs are made from; an output's directory changes when a file in it is added,
# deleted or replaced, so a deleted template is made again too.
GENERATOR := $(shell find src -name '*.py' 2>/dev/null) pyproject.toml $(LOCK)

$(CACHE)/templates.made: $(GENERATOR) $(CURDIR)/templates $(wildcard templates/*) | $(STAMP)
	$(BIN)/clazar-templates build --out templates
	@mkdir -p $(@D) && touch $@

$(CACHE)/docs.made: $(GENERATOR) $(CURDIR)/docs $(wildcard docs/*) README.md | $(STAMP)
	$(BIN)/clazar-templates docs
	@mkdir -p $(@D) && touch $@

$(CURDIR)/templates $(CURDIR)/docs:
	mkdir -p $@

## Everything CI checks, as three jobs at once: the reporter's deadline measurement (real
## time, about 95 s, or its kept figures), pytest on $(JOBS) workers, and ruff, mypy, the
## drift check and checkov (its own venv) one by one.
# Priorities: the measurement is the only real-time claim left (the suite's reporter tests
# run on a fake clock, so no verdict of pytest depends on the CPU it gets), so it runs at
# normal priority and everything else one step below (nice 1): the measurement's processes
# mostly sleep on sockets and get the CPU the moment they wake, and the rest shares the
# machine fairly with anything else running on it (at nice 10-19, two busy processes beside
# `make test` starved pytest and checkov for 20 minutes and more). Beside each other, the
# whole takes about the machine's CPU work over its 2 cores, within the 150 s of a fresh
# clone; run after pytest instead, the measurement would add its 95 s to the suite's.
test: $(STAMP) $(CHECKOV_STAMP)
	@$(MAKE) --no-print-directory wheel
	@CLAZAR_WHEEL="$$(ls $(CURDIR)/$(WHEEL_DIR)/*.whl)" \
		$(MAKE) --no-print-directory -j3 --output-sync=target deadlines unit beside-unit

## The wheel, built from a clean copy of the packaged files (scripts/build_wheel.py); `make
## test` hands it to the packaging tests and `make ranges` (CLAZAR_WHEEL).
wheel: $(STAMP)
	@$(BIN)/python scripts/build_wheel.py --out $(WHEEL_DIR)

beside-unit: $(STAMP) $(CHECKOV_STAMP)
	@nice -n 1 $(MAKE) --no-print-directory lint typecheck drift checkov ranges

# The measurement, reusing the figures kept for this very code (a fresh clone measures).
deadlines: $(STAMP)
	$(BIN)/python scripts/reporter_deadlines.py --remember

## The inner loop: no moto deployments, no checkov, no deadline measurement.
test-fast: $(STAMP)
	$(BIN)/pytest -q -n $(JOBS) -m "not slow" -p no:reporter_deadlines

lint: $(STAMP)
	$(BIN)/ruff check src tests scripts
	$(BIN)/ruff format --check src tests scripts

typecheck: $(STAMP)
	$(BIN)/mypy

# Without the deadline plugin (the `deadlines` job measures; its test skips saying so).
unit: $(STAMP)
	nice -n 1 $(BIN)/pytest -q -n $(JOBS) --dist worksteal -p no:reporter_deadlines

drift: $(STAMP)
	$(BIN)/clazar-templates build --check --out templates
	$(BIN)/clazar-templates docs --check

checkov: $(STAMP) $(CHECKOV_STAMP)
	$(BIN)/python scripts/checkov_templates.py --checkov $(CHECKOV_VENV)/bin/checkov \
		--cache $(CACHE)/checkov --key $(CHECKOV_LOCK)

## The version ranges: the wheel, with every extra, in fresh venvs at the lowest versions
## pyproject.toml allows ($(LOWEST_LOCK)) and at the locked ones ($(LOCK)); build, lint,
## permissions and deployer-policy give the same bytes in both (scripts/ranges.py).
ranges: $(STAMP)
	$(BIN)/python scripts/ranges.py --uv $(UV) --wheel-dir $(WHEEL_DIR) --work $(CACHE)/ranges

## Release VERSION (docs/releasing.md): bump _version.py, regenerate templates and docs,
## record the released templates and their hashes (releases/), add the CHANGELOG entry with
## the permission diff from the previous release. Write the entry, then `make release-finish`
## checks, commits and tags vVERSION.
release: $(STAMP)
	@test -n "$(VERSION)" || (echo "usage: make release VERSION=x.y.z" >&2; exit 2)
	$(BIN)/python scripts/release.py prepare "$(VERSION)"

release-finish: $(STAMP)
	$(BIN)/python scripts/release.py finish

## Exhaustive: every option combination, linted (and checkov'd) in parallel on all cores.
sweep: $(STAMP) $(CHECKOV_STAMP)
	$(BIN)/python scripts/sweep.py --checkov $(CHECKOV_VENV)/bin/checkov

## Timings with targets (not run by the tests).
bench: $(STAMP)
	$(BIN)/python scripts/bench.py

## The reporter's worst-case time to answer CloudFormation, 30 s and 120 s budgets, alone
## and always measured (make test runs the same, or reuses figures kept for this code).
reporter-deadlines: $(STAMP)
	$(BIN)/python scripts/reporter_deadlines.py

## Publish every template: make publish BUCKET=my-bucket VERSION=1.2.3 [PREFIX=...] [REGION=...]
publish: $(STAMP)
	@test -n "$(BUCKET)" || (echo "usage: make publish BUCKET=... VERSION=..." >&2; exit 2)
	@test -n "$(VERSION)" || (echo "usage: make publish BUCKET=... VERSION=..." >&2; exit 2)
	$(BIN)/clazar-templates publish --bucket "$(BUCKET)" --version "$(VERSION)" \
		$(if $(PREFIX),--prefix "$(PREFIX)") $(if $(REGION),--region "$(REGION)")

clean:
	rm -rf $(VENV) $(CHECKOV_VENV) $(TOOLS) $(CACHE) .pytest_cache .mypy_cache .ruff_cache
