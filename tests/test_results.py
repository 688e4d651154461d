"""Results: documented tables, summary fields, save/load round trip."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from sim.metrics import events_frame
from sim.results import SUMMARY_FIELDS, TABLES, Results, weighted_quantile
from sim.scenario import Scenario


def _tables(rng: np.random.Generator) -> dict[str, pd.DataFrame]:
    n = 50
    produced = pd.DataFrame(
        {
            "batch_id": np.arange(n),
            "producer": ["app-0"] * n,
            "topic": ["orders"] * n,
            "partition": rng.integers(0, 6, n),
            "producer_id": np.full(n, 1000),
            "base_sequence": np.arange(n) * 10,
            "count": np.full(n, 10),
            "bytes": np.full(n, 10_240),
            "first_arrival_s": np.linspace(0, 10, n),
            "closed_s": np.linspace(0, 10, n) + 0.005,
        }
    )
    acked = pd.DataFrame(
        {
            "batch_id": np.arange(n),
            "attempt": np.ones(n, dtype=int),
            "base_offset": np.arange(n) * 10,
            "done_s": np.linspace(0, 10, n) + 0.01,
            "latency_s": np.r_[np.full(n - 1, 0.002), 1.0],
            "error": [""] * (n - 2) + ["NOT_ENOUGH_REPLICAS", ""],
        }
    )
    consumed = pd.DataFrame(
        {
            "group": ["billing"] * n,
            "member": ["billing-0"] * n,
            "topic": ["orders"] * n,
            "partition": produced["partition"],
            "base_offset": np.arange(n) * 10,
            "count": np.full(n, 10),
            "batch_id": np.arange(n),
            "polled_s": np.linspace(0, 10, n) + 0.02,
            "e2e_latency_s": np.full(n, 0.02),
        }
    )
    events = events_frame(
        [{"time_s": 5.0, "kind": "fault", "node": "broker-1", "broker": 1, "fault": "crash_broker",
          "detail": "crash"}]
    )  # fmt: skip
    timeseries = pd.DataFrame(
        {
            "time_s": [5.0, 10.0],
            "produced_msgs_s": [50.0, 50.0],
            "acked_msgs_s": [50.0, 40.0],
            "consumed_msgs_s": [50.0, 50.0],
            "produce_latency_p99_ms": [2.0, 1000.0],
            "max_consumer_lag": [3, 17],
            "under_replicated_partitions": [0, 2],
        }
    )
    columns = [c.name for c in TABLES["producers"]]
    producers = pd.DataFrame([("app-0", 520, 490, 10, 20, 5, 10, 5)], columns=columns)
    failures = pd.DataFrame(
        [("app-0", "NOT_ENOUGH_REPLICAS", 1, 10)], columns=[c.name for c in TABLES["failures"]]
    )
    return {
        "produced": produced,
        "acked": acked,
        "consumed": consumed,
        "events": events,
        "timeseries": timeseries,
        "producers": producers,
        "failures": failures,
    }


@pytest.fixture
def results(default_dict) -> Results:
    scenario = Scenario.from_dict(default_dict)
    measured = [
        "offered_messages",
        "pending_messages",
        "failed_messages",
        "produced_messages",
        "acked_messages",
        "consumed_messages",
        "produce_latency_p50_ms",
        "produce_latency_p99_ms",
        "e2e_latency_p99_ms",
        "throughput_msgs_s",
        "max_consumer_lag",
        "lost_acked_messages",
    ]
    return Results(
        scenario, _tables(np.random.default_rng(3)), {"lost_acked_messages": 0}, measured, ["w1"]
    )


def test_summary_has_every_field_and_nan_where_not_measured(results):
    summary = results.summary()
    assert list(summary) == list(SUMMARY_FIELDS)
    assert summary["produced_messages"] == 500
    assert summary["acked_messages"] == 490  # one batch of 10 failed
    assert summary["failed_messages"] == 10
    assert summary["offered_messages"] == 520  # from table producers
    assert summary["pending_messages"] == 20
    assert summary["consumed_messages"] == 500
    assert summary["produce_latency_p50_ms"] == pytest.approx(2.0)
    assert summary["produce_latency_p99_ms"] == pytest.approx(1000.0)  # the last 10 of 490 records
    assert summary["throughput_msgs_s"] == pytest.approx(490 / 120)
    assert summary["max_consumer_lag"] == 17
    assert summary["lost_acked_messages"] == 0
    assert math.isnan(summary["leader_elections"])  # not measured by this run
    assert math.isnan(summary["unavailable_partition_s"])


def test_save_load_round_trip(tmp_path, results):
    results.save(tmp_path / "run")
    loaded = Results.load(tmp_path / "run")
    for name in TABLES:
        pd.testing.assert_frame_equal(loaded.tables[name], results.tables[name])
    assert len(loaded.producers) == len(loaded.failures) == 1
    assert loaded.scenario == results.scenario
    assert loaded.warnings == ["w1"]
    a, b = loaded.summary(), results.summary()
    assert a.keys() == b.keys()
    assert all((math.isnan(a[k]) and math.isnan(b[k])) or a[k] == b[k] for k in a)
    assert {p.name for p in (tmp_path / "run").iterdir()} >= {
        "scenario.json",
        "summary.json",
        "acked.parquet",
    }


def test_tables_must_have_the_documented_columns(default_dict):
    bad = _tables(np.random.default_rng(0))
    bad["acked"] = bad["acked"].rename(columns={"error": "err"})
    with pytest.raises(ValueError, match="table 'acked'"):
        Results(Scenario.from_dict(default_dict), bad)


def test_empty_results_have_typed_empty_tables(default_dict):
    r = Results(Scenario.from_dict(default_dict))
    assert list(r.acked.columns) == [c.name for c in TABLES["acked"]]
    assert r.acked.dtypes["base_offset"] == np.dtype("int64")
    assert all(math.isnan(v) for v in r.summary().values())


def test_weighted_quantile_matches_the_expanded_array():
    rng = np.random.default_rng(11)
    values, weights = rng.random(200), rng.integers(0, 20, 200)
    expanded = np.repeat(values, weights)
    for q in (0.0, 0.5, 0.9, 0.99, 1.0):
        assert weighted_quantile(values, weights, q) == np.quantile(
            expanded, q, method="inverted_cdf"
        )
    assert math.isnan(weighted_quantile(np.array([1.0]), np.array([0]), 0.5))


def test_recorded_rows_become_columns_of_the_documented_dtypes() -> None:
    """Table.frame builds each column in its TABLES dtype, values unchanged."""
    from sim.metrics import Table

    table = Table("acked")
    table.append_row((7, 1, 42, 0.25, 0.0125, ""))
    table.append_row((8, 2, -1, 0.5, 1 / 3, "NOT_ENOUGH_REPLICAS"))
    frame = table.frame()
    assert list(frame.columns) == [c.name for c in TABLES["acked"]]
    assert {c.name: str(frame[c.name].dtype) for c in TABLES["acked"]} == {
        c.name: c.dtype for c in TABLES["acked"]
    }
    assert frame["latency_s"].tolist() == [0.0125, 1 / 3]
    assert frame["error"].tolist() == ["", "NOT_ENOUGH_REPLICAS"]
    assert frame["base_offset"].tolist() == [42, -1]


def test_a_row_of_the_wrong_width_is_refused_with_the_table_named() -> None:
    from sim.metrics import Table

    table = Table("acked")
    table.append_row((7, 1, 42, 0.25, 0.0125))
    with pytest.raises(ValueError, match="table acked: rows of \\[5\\] values"):
        table.frame()


def _warm_run(warmup_s: float) -> Results:
    from sim.world import World

    world = World(
        Scenario.from_dict(
            {
                "name": "warmup",
                "seed": 3,
                "duration_s": 12.0,
                "warmup_s": warmup_s,
                "topics": [{"name": "t", "partitions": 2, "replication_factor": 3}],
                "producers": [{"name": "app", "topic": "t", "rate_msgs_s": 1000.0}],
                "consumer_groups": [
                    {"group_id": "g", "topics": ["t"], "config": {"auto.offset.reset": "earliest"}}
                ],
            }
        )
    )
    world.run()
    return world.results()


def test_warmup_leaves_the_group_forming_out_of_the_latencies_and_the_throughput() -> None:
    """Records sent before the group formed (reading from the earliest offset) wait for it (at
    least group.initial.rebalance.delay.ms): the 1 % sent first waited until the group was Stable,
    less 1 % of the run, so the run's e2e p99 is at least that. With warmup_s at the group's
    Stable time the p99 counts only records sent after it, read within a fetch's wait
    (fetch.max.wait.ms, 500 ms). Throughput: records acknowledged from warmup_s on, per second
    of the rest of the run. The run itself, its tables, is the same."""
    whole = _warm_run(0.0)
    events = whole.events
    stable_s = float(events.loc[events["kind"] == "rebalance_end", "time_s"].min())
    assert stable_s >= 3.0  # group.initial.rebalance.delay.ms
    consumed = whole.consumed
    sent_s = consumed["polled_s"] - consumed["e2e_latency_s"]
    early_s = weighted_quantile(sent_s.to_numpy(), consumed["count"].to_numpy(), 0.02)
    assert whole.summary()["e2e_latency_p99_ms"] >= 1e3 * (stable_s - early_s)
    warm = _warm_run(stable_s)
    pd.testing.assert_frame_equal(warm.consumed, whole.consumed)
    assert warm.summary()["e2e_latency_p99_ms"] < 500.0
    acked = warm.acked.merge(warm.produced[["batch_id", "count"]], on="batch_id")
    after = acked[(acked["error"] == "") & (acked["done_s"] >= stable_s)]["count"].sum()
    assert warm.summary()["throughput_msgs_s"] == pytest.approx(after / (12.0 - stable_s))
    assert whole.summary()["throughput_msgs_s"] == pytest.approx(
        whole.summary()["acked_messages"] / 12.0
    )


def test_a_warmup_as_long_as_the_run_is_refused() -> None:
    from sim.errors import ScenarioError

    with pytest.raises(ScenarioError, match="warmup_s"):
        Scenario.from_dict({"duration_s": 10.0, "warmup_s": 10.0})
