"""Shared fixtures: the default scenario as a fresh dict for each test; Hypothesis profiles.

Property tests draw the same examples on every run (profile ``repeatable``, the default), so
``make test`` passes or fails the same way on every machine. ``make explore`` (profile
``explore``) draws fresh examples each run to look for new counterexamples; a failure it finds
is printed as a call to paste into a regression test.
"""

from __future__ import annotations

import copy
import importlib.util
import os
from pathlib import Path

import pytest
from hypothesis import settings

ROOT = Path(__file__).resolve().parents[1]

settings.register_profile("repeatable", derandomize=True)
settings.register_profile("explore", derandomize=False, database=None)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "repeatable"))


def _default_dict() -> dict:
    spec = importlib.util.spec_from_file_location(
        "_default_scenario", ROOT / "scenarios/default.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return copy.deepcopy(module.SCENARIO)


@pytest.fixture
def default_dict() -> dict:
    """A deep copy of scenarios/default.py's SCENARIO, free to mutate."""
    return _default_dict()


@pytest.fixture(autouse=True)
def _check_invariants(monkeypatch):
    """Every simulation run by a test asserts the model's invariants (sim/invariants.py)."""
    monkeypatch.setenv("KAFKASIM_CHECK_INVARIANTS", "1")
