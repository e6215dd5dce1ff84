# reldrop3d developer entry points. Two commands on a fresh machine:
#   make demo   -- create .venv, install, train PointNet+RelDrop on the embedded data
#   make test   -- create/update .venv, run the test suite
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip
CONSTRAINTS := constraints/ci.txt
# extras installed into the development environment
EXTRAS ?= dev,viewer
STAMP := $(VENV)/.stamp-$(shell cat pyproject.toml $(CONSTRAINTS) | sha1sum | cut -c1-12)
PYTEST_ARGS ?= -n 2

.PHONY: venv system-deps demo test test-fast fast bench lint freeze clean

venv: $(STAMP)

$(STAMP): pyproject.toml $(CONSTRAINTS)
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) install -q --upgrade pip wheel setuptools
	$(PIP) install -q -c $(CONSTRAINTS) -e ".[$(EXTRAS)]"
	@bash scripts/install_optional.sh $(PY) $(CONSTRAINTS)
	@rm -f $(VENV)/.stamp-* && touch $@

# Debian packages that Open3D's (offscreen) renderer needs; harmless when already present.
system-deps:
	@bash scripts/install_system_deps.sh

demo: system-deps venv
	$(VENV)/bin/reldrop3d demo --out outputs/demo

test: system-deps venv
	$(PY) -m pytest -q $(PYTEST_ARGS)

# build the optional torch-cluster backend even without CUDA (it only pays on a GPU)
fast: venv
	RELDROP3D_TORCH_CLUSTER=1 bash scripts/install_optional.sh $(PY) $(CONSTRAINTS)

test-fast: venv
	$(PY) -m pytest -q -m "not slow" $(PYTEST_ARGS)

# the headline benchmarks (each script in benchmarks/ also runs on its own; see README)
bench: venv
	$(PY) benchmarks/bench_reldrop_step.py
	$(PY) benchmarks/bench_masking.py
	$(PY) benchmarks/bench_models.py

lint: venv
	$(VENV)/bin/ruff check reldrop3d tests benchmarks viewers

freeze:
	$(PIP) freeze --exclude-editable

clean:
	rm -rf $(VENV) outputs .pytest_cache
