# One task runner: `make run` serves the demo, `make test` runs the whole suite.
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
DB     ?= demo.db
PORT   ?= 8501

.PHONY: run test bench lint format demo clean

$(VENV)/.installed: pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Python >= 3.11 is required")'
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test]'
	@touch $@

$(DB): | $(VENV)/.installed
	$(VENV)/bin/erroranalysis demo --db $(DB)

run: $(VENV)/.installed $(DB)
	$(VENV)/bin/erroranalysis serve --db $(DB) --port $(PORT)

demo: $(VENV)/.installed
	$(VENV)/bin/erroranalysis demo --db $(DB) --force

test: $(VENV)/.installed
	$(PY) -m pytest

bench: $(VENV)/.installed
	$(PY) benchmarks/run.py

lint: $(VENV)/.installed
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

format: $(VENV)/.installed
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache benchmarks/out
