# Two commands on a fresh machine with Python 3.11+:  `make demo`  and  `make test`.
PYTHON ?= $(shell for p in python3.13 python3.12 python3.11 python3; do \
	command -v $$p >/dev/null 2>&1 && $$p -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null && echo $$p && break; done)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# The out-of-tree adapter example gets a virtualenv of its own, so that its entry point never
# loads into the project's own runs. The project is installed in "compat" editable mode (a
# path entry, not an import hook) so that mypy can follow it from the example.
ACME := examples/acme_ehr
ACME_VENV := .venv-acme
ACME_BIN := $(CURDIR)/$(ACME_VENV)/bin
ACME_STAMP := $(ACME_VENV)/.installed

.PHONY: demo test lint example-acme bench clean

$(STAMP): pyproject.toml
	@test -n "$(PYTHON)" || { echo "Python 3.11 or newer is needed" >&2; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

$(ACME_STAMP): pyproject.toml $(ACME)/pyproject.toml
	@test -n "$(PYTHON)" || { echo "Python 3.11 or newer is needed" >&2; exit 1; }
	$(PYTHON) -m venv $(ACME_VENV)
	$(ACME_BIN)/pip install --quiet --config-settings editable_mode=compat -e . -e '$(ACME)[test]'
	touch $(ACME_STAMP)

# The example's own tests (the adapter conformance kit, a booking end to end) and mypy --strict.
example-acme: $(ACME_STAMP)
	cd $(ACME) && $(ACME_BIN)/pytest -q -p no:cacheprovider
	cd $(ACME) && $(ACME_BIN)/mypy --strict

demo: $(STAMP)
	$(BIN)/practice-sync demo

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

test: lint example-acme
	$(BIN)/pytest $(PYTEST_ARGS)

clean:
	rm -rf $(VENV) $(ACME_VENV) demo-output .pytest_cache .mypy_cache .ruff_cache
