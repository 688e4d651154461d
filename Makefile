# kafka-sim: `make demo` and `make test` set everything up from a fresh clone (Python 3.11+ and make).
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp
PYTEST_FLAGS ?=

.PHONY: setup demo test test-fast explore lint format docs bench clean

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "kafka-sim needs Python 3.11 or newer: run make PYTHON=python3.11 (or newer)")'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	@touch $(STAMP)

setup: $(STAMP)

demo: $(STAMP)
	$(BIN)/kafkasim run scenarios/default.py

test: $(STAMP)
	$(BIN)/python -m pytest $(PYTEST_FLAGS)

test-fast: $(STAMP)
	$(BIN)/python -m pytest -m "not slow" $(PYTEST_FLAGS)

# the properties over random fault schedules and configurations, on fresh examples, the slow
# ones included (make test repeats the same fixed examples every run)
explore: $(STAMP)
	HYPOTHESIS_PROFILE=explore $(BIN)/python -m pytest -p no:randomly tests/test_faults_timing.py tests/test_recovery_property.py -k "random_fault_schedules" $(PYTEST_FLAGS)

lint: $(STAMP)
	$(BIN)/ruff check sim tests benchmarks scenarios notebooks
	$(BIN)/ruff format --check sim tests benchmarks scenarios notebooks

format: $(STAMP)
	$(BIN)/ruff format sim tests benchmarks scenarios notebooks
	$(BIN)/ruff check --fix sim tests benchmarks scenarios notebooks

# docs/scenario.md from the scenario models' field docstrings (tests/test_docs.py checks it)
docs: $(STAMP)
	$(BIN)/python -m sim.docs

bench: $(STAMP)
	$(BIN)/python benchmarks/bench_scenarios.py
	$(BIN)/python benchmarks/bench_scenarios.py --memory
	$(BIN)/python benchmarks/bench_scenarios.py --build
	$(BIN)/python benchmarks/bench_murmur2.py
	$(BIN)/python benchmarks/bench_sweep.py

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache .hypothesis build *.egg-info
