"""scenarios/calibration/: every published row loads as a scenario, closed loop, and its
published figure is known (benchmarks/calibrate.py runs them); a consumer row has consumers."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import SimpleNamespace

import pandas as pd
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


def test_record_times_spread_a_batch_evenly_and_match_polls_by_offset():
    """benchmarks/calibrate.record_times: a batch of 3 records first arrived at 0 s with a
    mean send() at 1 s was sent at 0, 1 and 2 s; answered at 5 s, their produce latencies
    are 5, 4 and 3 s. A poll of its last two records (offsets 11 and 12) at 6 s gives them
    end-to-end latencies of 5 and 4 s; a record sent before ``since_s`` is left out."""
    calibrate = _module(Path(__file__).resolve().parent.parent / "benchmarks" / "calibrate.py")
    results = SimpleNamespace(
        produced=pd.DataFrame({"batch_id": [7], "count": [3], "first_arrival_s": [0.0]}),
        acked=pd.DataFrame(
            {
                "batch_id": [7],
                "error": [""],
                "done_s": [5.0],
                "latency_s": [4.0],
                "base_offset": [10],
            }
        ),
        consumed=pd.DataFrame(
            {"batch_id": [7], "base_offset": [11], "count": [2], "polled_s": [6.0]}
        ),
    )
    records, polls = calibrate.record_times(results, since_s=0.5)
    assert records["send_s"].tolist() == [1.0, 2.0]
    assert (records["done_s"] - records["send_s"]).tolist() == [4.0, 3.0]
    assert (polls["polled_s"] - polls["send_s"]).tolist() == [5.0, 4.0]
