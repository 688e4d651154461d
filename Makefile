# kafka-sim: `make demo` and `make test` set everything up from a fresh clone (Python 3.11+ and make).
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp
PYTEST_FLAGS ?=

.PHONY: setup demo test explore lint format docs bench calibrate clean

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "kafka-sim needs Python 3.11 or newer: run make PYTHON=python3.11 (or newer)")'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	@touch $(STAMP)

setup: $(STAMP)

demo: $(STAMP)
	$(BIN)/kafkasim run scenarios/default.py

# the whole suite and the notebooks; the long property runs (marked slow) are make explore's
test: $(STAMP)
	$(BIN)/python -m pytest -m "not slow" $(PYTEST_FLAGS)

# every slow test, then the properties over random fault schedules, all on fresh examples
# (make test repeats the same fixed examples every run), then the suite again with each run
# that ended before its liveness bounds run again to them (tests/conftest.py; about 50 min)
explore: $(STAMP)
	HYPOTHESIS_PROFILE=explore $(BIN)/python -m pytest -p no:randomly -m slow $(PYTEST_FLAGS)
	HYPOTHESIS_PROFILE=explore $(BIN)/python -m pytest -p no:randomly tests/test_faults_timing.py tests/test_recovery_property.py -k "random_fault_schedules and not more and not long" $(PYTEST_FLAGS)
	KAFKASIM_LIVENESS_TO_BOUNDS=1 $(BIN)/python -m pytest -p no:randomly -m "not slow" tests $(PYTEST_FLAGS)

lint: $(STAMP)
	$(BIN)/ruff check sim tests benchmarks scenarios notebooks
	$(BIN)/ruff format --check sim tests benchmarks scenarios notebooks

format: $(STAMP)
	$(BIN)/ruff format sim tests benchmarks scenarios notebooks
	$(BIN)/ruff check --fix sim tests benchmarks scenarios notebooks

# docs/scenario.md and docs/results.md from the code (tests/test_docs.py checks them)
docs: $(STAMP)
	$(BIN)/python -m sim.docs

bench: $(STAMP)
	$(BIN)/python benchmarks/bench_scenarios.py
	$(BIN)/python benchmarks/bench_scenarios.py --memory
	$(BIN)/python benchmarks/bench_scenarios.py --build
	$(BIN)/python benchmarks/bench_murmur2.py
	$(BIN)/python benchmarks/bench_sweep.py

# the published benchmarks of scenarios/calibration/, run: docs/calibration.md
calibrate: $(STAMP)
	$(BIN)/python benchmarks/calibrate.py

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache .hypothesis build *.egg-info
