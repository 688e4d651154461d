"""Sweeps (sim/sweep.py): the same table from every executor, resume from a store, errors up
front, seeds, statistics and the sweep plot."""

from __future__ import annotations

import importlib
import json
import math

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest
from scipy import stats as scipy_stats

import sim
from sim.errors import NotSimulatedError, ScenarioError
from sim.plots import SWEEP_METRICS, save_sweep_plots, sweep_metric

sweep_module = importlib.import_module("sim.sweep")  # sim.sweep is the function
GRID = {"producers.0.config.acks": ["1", "all"]}


@pytest.fixture
def tiny() -> sim.Scenario:
    """A keyed producer and a group of 2 for 1 simulated second (a fraction of a second each)."""
    return sim.Scenario.from_dict(
        {
            "name": "tiny",
            "seed": 3,
            "duration_s": 1.0,
            "cluster": {"config": {"group.initial.rebalance.delay.ms": 0}},
            "topics": [{"name": "t", "partitions": 3, "replication_factor": 3}],
            "producers": [
                {
                    "topic": "t",
                    "rate_msgs_s": 1000,
                    "keys": {"kind": "uniform", "cardinality": 100},
                    "config": {"linger.ms": 5},
                }
            ],
            "consumer_groups": [{"group_id": "g", "members": 2, "topics": ["t"]}],
        }
    )


def _without_wall(table: pd.DataFrame) -> pd.DataFrame:
    return table.drop(columns=["wall_s"])


def test_serial_processes_and_dask_give_the_same_table_row_for_row(tiny, monkeypatch):
    serial = sim.sweep(tiny, GRID, seeds=5, executor="serial", progress=False)
    assert (serial["error"] == "").all()
    assert list(serial.columns[:2]) == ["producers.0.config.acks", "seed"]
    assert list(serial.columns[-2:]) == ["wall_s", "error"]
    assert set(sim.run(tiny).summary()) <= set(serial.columns)
    assert list(serial["producers.0.config.acks"]) == ["1"] * 5 + ["all"] * 5
    seeds = sweep_module.seed_list(tiny.seed, 5)
    assert list(serial["seed"]) == seeds * 2  # the same seeds at every grid point
    assert serial["produced_messages"].nunique() > 1  # the seeds do change the runs
    # the workers hash strings differently from this process and from each other
    monkeypatch.setenv("PYTHONHASHSEED", "1")
    processes = sim.sweep(tiny, GRID, seeds=5, executor="processes", workers=2, progress=False)
    monkeypatch.setenv("PYTHONHASHSEED", "2")
    dask = sim.sweep(tiny, GRID, seeds=5, executor="dask", workers=2, progress=False)
    pd.testing.assert_frame_equal(_without_wall(processes), _without_wall(serial))
    pd.testing.assert_frame_equal(_without_wall(dask), _without_wall(serial))


def test_dask_sends_the_runs_to_the_scheduler_at_address(tiny, monkeypatch):
    from distributed import LocalCluster

    monkeypatch.setenv("PYTHONHASHSEED", "3")
    with LocalCluster(
        n_workers=1, threads_per_worker=1, processes=True, dashboard_address=None
    ) as cluster:
        remote = sim.sweep(
            tiny, {}, seeds=2, executor="dask", address=cluster.scheduler_address, progress=False
        )
    serial = sim.sweep(tiny, {}, seeds=2, executor="serial", progress=False)
    pd.testing.assert_frame_equal(_without_wall(remote), _without_wall(serial))


class _StopAfter:
    """on_run hook: counts the rows computed, and aborts the sweep after ``limit`` of them."""

    def __init__(self, limit: float = math.inf) -> None:
        self.limit, self.rows = limit, []

    def __call__(self, row: dict) -> None:
        self.rows.append(row)
        if len(self.rows) >= self.limit:
            raise KeyboardInterrupt


def test_a_stopped_sweep_resumes_from_its_store_without_recomputing(tiny, tmp_path):
    store = tmp_path / "runs"
    total, done_before_stop = 2 * 3, 2
    with pytest.raises(KeyboardInterrupt):
        sim.sweep(
            tiny, GRID, seeds=3, executor="processes", workers=2, store=store,
            progress=False, on_run=_StopAfter(done_before_stop),
        )  # fmt: skip
    assert len(list(store.glob("*.parquet"))) == done_before_stop
    assert not list(store.glob(".*"))  # no half-written file left
    resumed = _StopAfter()
    table = sim.sweep(
        tiny, GRID, seeds=3, executor="serial", store=store, progress=False, on_run=resumed
    )
    assert len(resumed.rows) == total - done_before_stop
    assert len(list(store.glob("*.parquet"))) == total
    fresh = sim.sweep(tiny, GRID, seeds=3, executor="serial", progress=False)
    pd.testing.assert_frame_equal(_without_wall(table), _without_wall(fresh))
    again = _StopAfter()
    sim.sweep(tiny, GRID, seeds=3, executor="serial", store=store, progress=False, on_run=again)
    assert again.rows == []


def test_a_store_holding_another_scenario_under_a_run_key_is_refused(tiny, tmp_path):
    store = tmp_path / "runs"
    sim.sweep(tiny, {}, seeds=1, executor="serial", store=store, progress=False)
    (file,) = store.glob("*.parquet")
    table = pq.read_table(file)
    metadata = {sweep_module.STORED_SCENARIO: b'{"name": "other"}'}
    pq.write_table(table.replace_schema_metadata(metadata), file)
    with pytest.raises(ScenarioError, match="holds another scenario") as err:
        sim.sweep(tiny, {}, seeds=1, executor="serial", store=store, progress=False)
    assert err.value.path == "store"


def test_a_run_that_raises_is_a_stored_row_with_its_error_and_the_sweep_goes_on(
    tiny, tmp_path, monkeypatch
):
    bad_seed = sweep_module.seed_list(tiny.seed, 2)[1]
    real_run = sim.world.run

    def run(scenario, **kwargs):
        if scenario.seed == bad_seed and scenario.producers[0].config["acks"] == "all":
            raise RuntimeError("boom")
        return real_run(scenario, **kwargs)

    monkeypatch.setattr(sim.world, "run", run)
    store = tmp_path / "runs"
    table = sim.sweep(tiny, GRID, seeds=2, executor="serial", store=store, progress=False)
    assert list(table["error"]) == ["", "", "", "RuntimeError: boom"]
    assert math.isnan(table["acked_messages"].iloc[3])
    assert (table["acked_messages"].iloc[:3] > 0).all()
    computed = _StopAfter()
    again = sim.sweep(
        tiny, GRID, seeds=2, executor="serial", store=store, progress=False, on_run=computed
    )
    assert computed.rows == []  # the failed run is finished too: it would fail again
    pd.testing.assert_frame_equal(_without_wall(again), _without_wall(table))


@pytest.mark.parametrize(
    ("grid", "path", "error"),
    [
        ({"producers.0.config.acks": ["1", "most"]}, "producers.0.config.acks", ScenarioError),
        ({"producer.0.config.acks": ["1"]}, "producer", ScenarioError),
        ({"producers.0.config.lingr.ms": [5]}, "producers.0.config.lingr.ms", ScenarioError),
        ({"topics.0.partitions": [3, 0]}, "topics.0.partitions", ScenarioError),
        ({"cluster.coordination": ["zookeeper", "kraft"]}, "cluster.coordination",
         NotSimulatedError),
        ({"seed": [1, 2]}, "grid.seed", ScenarioError),
        ({"topics.0.partitions": 3}, "grid.topics.0.partitions", ScenarioError),
        ({"topics.0.partitions": [3, 3]}, "grid.topics.0.partitions", ScenarioError),
    ],
)  # fmt: skip
def test_a_bad_grid_fails_before_any_run_naming_the_path(
    tiny, tmp_path, monkeypatch, grid, path, error
):
    def no_run(*args, **kwargs):
        raise AssertionError("a run started")

    monkeypatch.setattr(sim.world, "run", no_run)
    with pytest.raises(error) as err:
        sim.sweep(tiny, grid, seeds=2, executor="serial", store=tmp_path / "s", progress=False)
    assert err.value.path == path
    assert "\n" not in str(err.value)
    assert not (tmp_path / "s").exists()


def test_run_seeds_come_from_the_scenario_seed_and_do_not_depend_on_their_number():
    five = sweep_module.seed_list(1, 5)
    assert sweep_module.seed_list(1, 3) == five[:3]
    assert len(set(five)) == 5 and all(0 <= s < 2**63 for s in five)
    assert sweep_module.seed_list(2, 5) != five
    assert sweep_module.seed_list(1, [7, 9]) == [7, 9]
    for bad in (0, [7, 7], [-1], [1.5], True):
        with pytest.raises(ScenarioError, match="seed"):
            sweep_module.seed_list(1, bad)


def _table(rows: list[tuple]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=["x", "seed", "m", "wall_s", "error"])


def test_sweep_stats_gives_the_mean_and_student_t_interval_per_grid_point():
    table = _table(
        [
            (0, 1, 1.0, 0.1, ""),
            (0, 2, 2.0, 0.1, ""),
            (0, 3, 3.0, 0.1, ""),
            (0, 4, np.nan, 0.1, "RuntimeError: boom"),  # a failed run is left out
            (5, 1, 4.0, 0.1, ""),
            (5, 2, np.nan, 0.1, ""),  # not measured: left out of n
        ]
    )
    out = sim.sweep_stats(table)
    assert list(out.columns) == ["x", "metric", "mean", "lo", "hi", "n"]
    first = out.iloc[0]
    half = scipy_stats.t.ppf(0.975, 2) * 1.0 / math.sqrt(3)  # sd of 1, 2, 3 is 1
    assert (first["x"], first["metric"], first["n"]) == (0, "m", 3)
    assert first["mean"] == pytest.approx(2.0)
    assert (first["lo"], first["hi"]) == (pytest.approx(2 - half), pytest.approx(2 + half))
    second = out.iloc[1]
    assert (second["x"], second["mean"], second["n"]) == (5, 4.0, 1)
    assert math.isnan(second["lo"]) and math.isnan(second["hi"])


def test_sweep_stats_of_a_table_without_a_grid_is_one_point_per_metric():
    table = _table([(0, 1, 1.0, 0.1, ""), (0, 2, 3.0, 0.1, "")]).drop(columns="x")
    out = sim.sweep_stats(table)
    assert list(out.columns) == ["metric", "mean", "lo", "hi", "n"]
    assert out.iloc[0][["metric", "mean", "n"]].tolist() == ["m", 2.0, 2]


def _stats() -> pd.DataFrame:
    rows = [
        (acks, linger, seed, 100.0 * linger + (acks == "all") + seed, 0.1, "")
        for acks in ("1", "all")
        for linger in (0, 5, 20)
        for seed in (1, 2, 3)
    ]
    table = pd.DataFrame(rows, columns=["acks", "linger", "seed", "throughput_msgs_s", "wall_s",
                                        "error"])  # fmt: skip
    return sim.sweep_stats(table)


def test_sweep_metric_draws_one_line_and_band_per_series():
    figure = sweep_metric(_stats(), "throughput_msgs_s", x="linger", name="tiny")
    (ax,) = figure.axes
    assert [line.get_label() for line in ax.lines] == ["acks=1", "acks=all"]
    assert list(ax.lines[0].get_xdata()) == [0, 5, 20]
    assert list(ax.lines[1].get_ydata()) == [3.0, 503.0, 2003.0]  # mean of seeds 1, 2, 3
    assert len(ax.collections) == 2  # one confidence band each
    categorical = sweep_metric(_stats(), "throughput_msgs_s")  # x: acks, one line per linger
    (ax,) = categorical.axes
    assert [t.get_text() for t in ax.get_xticklabels()] == ["1", "all"]
    assert len(ax.lines) == 3


def test_save_sweep_plots_writes_the_measured_metrics(tmp_path):
    written = save_sweep_plots(_stats(), tmp_path)
    assert written == [tmp_path / "sweep_throughput_msgs_s.png"]
    assert "throughput_msgs_s" in SWEEP_METRICS
    assert written[0].read_bytes().startswith(b"\x89PNG")


def test_sweep_metric_numbers_long_grid_values_and_spells_them_out_under_the_axis():
    """Gridding a whole list (faults) gives values as JSON text: the ticks and the legend say
    #0, #1, ... and the x label maps each to its text (cut to MAX_KEY_CHARS)."""
    from sim.plots import MAX_KEY_CHARS, MAX_VALUE_CHARS

    faults = [[], [{"kind": "crash_broker", "at_s": 60, "broker": 1}], [{"kind": "pause"}] * 20]
    shown = [json.dumps(f) for f in faults]
    rows = [
        (f, m, seed, 10.0 * i + seed, 0.1, "")
        for i, f in enumerate(shown)
        for m in ('{"linger.ms": 0, "acks": "1"}', '{"linger.ms": 5, "acks": "all"}')
        for seed in (1, 2)
    ]
    table = pd.DataFrame(rows, columns=["faults", "config", "seed", "m", "wall_s", "error"])
    (ax,) = sweep_metric(sim.sweep_stats(table), "m").axes
    assert [t.get_text() for t in ax.get_xticklabels()] == ["#0", "#1", "#2"]
    assert [line.get_label() for line in ax.lines] == ["config=#0", "config=#1"]
    key = ax.get_xlabel().split("\n")
    assert key[0] == "faults"
    assert key[1:3] == ["faults #0: []", f"faults #1: {shown[1]}"]
    assert key[3].startswith(f"faults #2: {shown[2][:50]}") and key[3].endswith("…")
    assert len(key[3]) == len("faults #2: ") + MAX_KEY_CHARS
    assert key[4] == 'config #0: {"linger.ms": 0, "acks": "1"}'
    assert all(len(t.get_text()) <= MAX_VALUE_CHARS for t in ax.get_xticklabels())


def test_sweep_metric_titles_the_level_and_starts_a_count_at_zero():
    """lost records of 0, 0 and 3 over three seeds: the 95 % interval goes below 0, the axis
    does not; a field whose band is well above 0 keeps its own lower limit."""
    rows = [(seed, lost, 100.0 + seed, 0.1, "") for seed, lost in ((1, 0), (2, 0), (3, 3))]
    table = pd.DataFrame(
        rows, columns=["seed", "lost_acked_messages", "throughput_msgs_s", "wall_s", "error"]
    )
    for confidence, said in ((0.95, "95 %"), (0.9, "90 %")):
        stats = sim.sweep_stats(table, confidence=confidence)
        assert stats.loc[stats["metric"] == "lost_acked_messages", "lo"].iloc[0] < 0
        (ax,) = sweep_metric(stats, "lost_acked_messages").axes
        assert f"band: {said} confidence interval of the mean" in ax.get_title()
        assert ax.get_ylim()[0] == 0.0
        (ax,) = sweep_metric(stats, "throughput_msgs_s").axes
        assert ax.get_ylim()[0] > 90
    grid = table.assign(x=[1, 1, 1])[["x", *table.columns]]  # the same with a grid path
    (ax,) = sweep_metric(sim.sweep_stats(grid), "lost_acked_messages").axes
    assert ax.get_ylim()[0] == 0.0
