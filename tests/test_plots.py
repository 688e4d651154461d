"""Standard figures: files written, lines equal to the time series, events marked, empty runs."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from sim.metrics import events_frame
from sim.plots import (
    EMPTY_NOTE,
    consumer_lag,
    save_standard_plots,
    throughput_and_latency,
    under_replicated,
)
from sim.results import Results
from sim.scenario import Scenario

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@pytest.fixture
def scenario() -> Scenario:
    return Scenario.from_dict({"name": "crash", "topics": [{"name": "t"}]})


@pytest.fixture
def results(scenario) -> Results:
    timeseries = pd.DataFrame(
        {
            "time_s": [1.0, 2.0, 3.0, 4.0],
            "produced_msgs_s": [100.0, 100.0, 100.0, 100.0],
            "acked_msgs_s": [100.0, 90.0, 0.0, 110.0],
            "consumed_msgs_s": [95.0, 85.0, 5.0, 120.0],
            "produce_latency_p99_ms": [2.0, 3.0, np.nan, 250.0],
            "max_consumer_lag": [5, 10, 105, 0],
            "under_replicated_partitions": [0, 0, 1, 1],
        }
    )
    events = events_frame(
        [
            {"time_s": 2.5, "kind": "fault", "node": "broker-1", "broker": 1, "detail": "crash"},
            {"time_s": 2.6, "kind": "leader_election", "node": "broker-0", "topic": "t",
             "partition": 0, "broker": 0},
            {"time_s": 2.6, "kind": "leader_election", "node": "broker-0", "topic": "t",
             "partition": 1, "broker": 0},
            {"time_s": 3.0, "kind": "rebalance_start", "node": "broker-0", "group": "g"},
        ]
    )  # fmt: skip
    return Results(scenario, {"timeseries": timeseries, "events": events})


def _lines(ax) -> dict[str, tuple[list[float], list[float]]]:
    return {line.get_label(): (list(line.get_xdata()), list(line.get_ydata())) for line in ax.lines}


def _marks(ax) -> dict[str, list[float]]:
    """Vertical event lines by label: their x positions."""
    return {
        c.get_label(): sorted(float(seg[0][0]) for seg in c.get_segments()) for c in ax.collections
    }


def test_throughput_and_latency_draws_the_table_on_twin_axes(results):
    figure = throughput_and_latency(results)
    rates, latency = figure.axes
    series = results.timeseries
    time = series["time_s"].tolist()
    assert _lines(rates) == {
        "acked": (time, series["acked_msgs_s"].tolist()),
        "consumed": (time, series["consumed_msgs_s"].tolist()),
    }
    np.testing.assert_array_equal(
        _lines(latency)["p99 produce latency"][1], series["produce_latency_p99_ms"]
    )
    assert _marks(rates) == {"fault": [2.5], "leader election": [2.6]}  # no rebalance, one time
    assert rates.get_title() == "crash: throughput and p99 produce latency"
    assert "(s)" in rates.get_xlabel()
    assert "records/s" in rates.get_ylabel() and "(ms)" in latency.get_ylabel()
    legend = [t.get_text() for t in latency.get_legend().get_texts()]  # on top
    assert legend == ["acked", "consumed", "fault", "leader election", "p99 produce latency"]


@pytest.mark.parametrize(
    ("draw", "column", "unit"),
    [
        (consumer_lag, "max_consumer_lag", "(records)"),
        (under_replicated, "under_replicated_partitions", "(count)"),
    ],
)
def test_single_series_figures_draw_their_column(results, draw, column, unit):
    (ax,) = draw(results).axes
    ((x, y),) = _lines(ax).values()
    assert x == results.timeseries["time_s"].tolist()
    assert y == results.timeseries[column].tolist()
    assert ax.get_title().startswith("crash: ")
    assert unit in ax.get_ylabel()
    assert _marks(ax) == {"fault": [2.5], "leader election": [2.6]}


def test_save_standard_plots_writes_three_pngs(tmp_path, results):
    paths = save_standard_plots(results, tmp_path / "figures")
    names = ["throughput_latency.png", "consumer_lag.png", "under_replicated.png"]
    assert paths == [tmp_path / "figures" / n for n in names]
    for path in paths:
        data = path.read_bytes()
        assert data.startswith(PNG_MAGIC) and len(data) > 1000


def test_empty_tables_give_figures_with_a_note(tmp_path, scenario):
    empty = Results(scenario)
    for draw in (throughput_and_latency, consumer_lag, under_replicated):
        ax = draw(empty).axes[0]
        assert not ax.lines and not ax.collections
        assert [t.get_text() for t in ax.texts] == [EMPTY_NOTE]
    assert all(p.stat().st_size > 0 for p in save_standard_plots(empty, tmp_path))
