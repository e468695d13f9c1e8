# ventral-columns: the two set-up commands are `make demo` and `make test`.
# Every target creates the virtual environment from setup.cfg when it is missing.
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed-stamp
# Two pytest workers match the 2-core reference machine; CI may override.
PYTEST_WORKERS ?= 2

.PHONY: venv demo test validate bench clean help

help:
	@echo "make demo      create .venv, install, run the default experiment at laptop scale (demo-output/)"
	@echo "make test      create .venv if missing, run the fast test suite (what CI runs)"
	@echo "make validate  slow validation tests: published rates, calibration gates, ensembles"
	@echo "make bench     benchmarks -> bench/results/*.json and bench/RESULTS.md"

$(STAMP): setup.cfg pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e ".[dev]"
	touch $(STAMP)

venv: $(STAMP)

demo: $(STAMP)
	$(VENV)/bin/ventral-columns demo --out demo-output --overwrite

test: $(STAMP)
	$(PY) -m pytest -q -n $(PYTEST_WORKERS)
	# the kernels' pure-Python path, as coverage tools see it (STUMPY's test.sh pattern)
	NUMBA_DISABLE_JIT=1 $(PY) -m pytest -q tests/test_analysis_kernels.py

validate: $(STAMP)
	$(PY) -m pytest -q -m slow

bench: $(STAMP)
	$(PY) -m pip install --quiet -e ".[dev,bench]"
	$(PY) bench/run.py --out bench/results

clean:
	rm -rf $(VENV) demo-output build *.egg-info
