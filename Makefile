# driftstream: `make demo` runs the main job, `make test` passes the tests.
# Both set up everything they need on a fresh machine (virtualenv, packages, Kafka jars, ...).
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: demo test venv kafka-jars browser helm clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q -U pip
	$(PY) -m pip install -q -e '.[test]'
	touch $@

venv: $(STAMP)

kafka-jars: $(STAMP)
	$(VENV)/bin/driftstream kafka fetch

demo: $(STAMP)
	$(VENV)/bin/driftstream demo $(DEMO_ARGS)

helm:
	bash scripts/install-helm.sh

browser:
	bash scripts/install-browser.sh

test: $(STAMP) kafka-jars helm browser
	$(PY) -m pytest -q -ra

clean:
	rm -rf $(VENV) .kafka kafka/lib .tools
