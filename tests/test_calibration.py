"""scenarios/calibration/: every published row loads as a scenario, closed loop, and its
published figure is known (benchmarks/calibrate.py runs them); a consumer row has consumers."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

from sim.scenario import Scenario, load_scenario

CALIBRATION = Path(__file__).resolve().parent.parent / "scenarios" / "calibration"


def _module(path: Path):
    spec = importlib.util.spec_from_file_location(path.stem, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("path", sorted(CALIBRATION.glob("*.py")), ids=lambda p: p.stem)
def test_rows_are_closed_loop_scenarios_with_a_published_figure(path):
    module = _module(path)
    assert set(module.ROWS) == set(module.PUBLISHED)
    for data in module.ROWS.values():
        scenario = Scenario.from_dict(data)
        assert all(p.arrival.kind == "closed_loop" for p in scenario.producers)
    consumer_rows = getattr(module, "CONSUMER_ROWS", {})
    assert set(consumer_rows) == set(getattr(module, "PUBLISHED_CONSUMER", {}))
    for data in consumer_rows.values():
        assert Scenario.from_dict(data).consumer_groups
    latency = Scenario.from_dict(module.LATENCY)
    assert latency.consumer_groups and {"e2e p50", "e2e p99"} <= set(module.PUBLISHED_LATENCY_MS)
    assert load_scenario(path).name == Scenario.from_dict(next(iter(module.ROWS.values()))).name
