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


@pytest.fixture(autouse=True)
def _check_liveness(request, monkeypatch):
    """Every simulation whose results a test takes (one cluster or several, mirrors included)
    recovers from its faults within the bounds its settings allow (sim/liveness.py): a
    liveness violation fails the test, whatever the
    test itself asserts. A run that ends before its bounds have passed is not checked. Tests
    marked ``liveness_violation_expected`` (the checker's own) are exempt."""
    if request.node.get_closest_marker("liveness_violation_expected"):
        return
    from sim.multi_cluster import MultiClusterWorld
    from sim.world import World

    for engine in (World, MultiClusterWorld):
        monkeypatch.setattr(engine, "results", _liveness_checked(engine.results))


def _liveness_checked(results):
    """``results`` (World's or MultiClusterWorld's, whose table has the mirrors' rows too)
    failing on a liveness violation. With ``KAFKASIM_LIVENESS_TO_BOUNDS=1`` (``make
    explore``), a run that ended before its bounds is run again, alone, to the last of them, and
    that run is checked too; the test goes on with the results of its own run."""

    def checked(world):
        r = results(world)
        _assert_recovered(world.scenario, r.liveness)
        if os.environ.get("KAFKASIM_LIVENESS_TO_BOUNDS") == "1":
            _check_to_bounds(world.scenario, r)
        return r

    return checked


def _assert_recovered(scenario, table) -> None:
    violations = table[table["violation"] != ""]
    assert violations.empty, (
        f"{scenario.name} (seed {scenario.seed}, {scenario.duration_s} s) did not recover:\n"
        f"{violations.to_string()}"
    )


def _check_to_bounds(scenario, results) -> None:
    """Run ``scenario`` again until every item its liveness table left undecided (not
    recovered, bound not yet passed) has recovered or passed its bound; the fixture checks that
    run as it does every other.
    The rerun is the scenario alone: a test's hooks into its own world are not in it."""
    from sim.liveness import heal_time
    from sim.world import run

    table = results.liveness
    undecided = table[table["recovered_s"].isna() & (table["violation"] == "")]
    if undecided.empty:
        return
    heal_s, _ = heal_time(results.tables["events"])
    longer = scenario.model_copy(
        update={"duration_s": heal_s + float(undecided["bound_s"].max()) + 1.0}
    )
    run(longer)  # its results go through this fixture's check too


@pytest.fixture
def story():
    """A small hand-made run for the figures: topic t (2 partitions, RF 3), group g; a crash of
    broker-1 at 2 s and its restart at 3 s (ISR of t-0 shrinks then expands), an election, a
    rebalance from 4 to 5 s moving t-1 from g-0 to g-1, g-0 crashing at 8 s, and two
    acknowledged batches missing from the final log. 10 s in 1 s intervals (a time on an edge
    counts in the interval it starts)."""
    import numpy as np
    import pandas as pd

    from sim.metrics import events_frame
    from sim.results import Results
    from sim.scenario import Scenario

    scenario = Scenario.from_dict(
        {
            "name": "story",
            "duration_s": 10.0,
            "cluster": {"brokers": 3},
            "topics": [{"name": "t", "partitions": 2, "replication_factor": 3}],
            "consumer_groups": [{"group_id": "g", "members": 2, "topics": ["t"]}],
        }
    )
    produced = pd.DataFrame(
        {"batch_id": [0, 1, 2, 3], "producer": "app-0", "topic": "t", "partition": [0, 0, 1, 1],
         "producer_id": -1, "base_sequence": -1, "count": [10, 10, 5, 10], "bytes": 100,
         "first_arrival_s": [0.1, 1.1, 0.5, 2.5], "closed_s": [0.1, 1.1, 0.5, 2.5]}
    )  # fmt: skip
    acked = pd.DataFrame(
        {"batch_id": [0, 1, 2, 3], "attempt": 1, "base_offset": [0, 10, 0, 5],
         "done_s": [0.2, 1.2, 3.0, 0.9], "latency_s": [0.005, 0.010, 2.5, 15.0], "error": ""}
    )  # fmt: skip
    consumed = pd.DataFrame(
        {"group": "g", "member": "g-0", "topic": "t", "partition": 0, "base_offset": [0],
         "count": [10], "batch_id": [0], "polled_s": [0.7], "e2e_latency_s": [0.6]}
    )  # fmt: skip
    log = pd.DataFrame(
        {"topic": "t", "partition": [0, 0], "base_offset": [0, 10], "count": [10, 10],
         "batch_id": [0, 1], "leader_epoch": 0, "producer_epoch": 0, "base_sequence": -1}
    )  # fmt: skip
    events = events_frame(
        [{"time_s": 2.0, "kind": "fault", "node": "broker-1", "broker": 1, "fault": "crash_broker",
          "outcome": "unreachable"},
         {"time_s": 2.0, "kind": "isr_shrink", "topic": "t", "partition": 0, "broker": 1},
         {"time_s": 2.5, "kind": "isr_shrink", "topic": "t", "partition": 0, "broker": 1},
         {"time_s": 2.2, "kind": "leader_election", "topic": "t", "partition": 0, "broker": 0},
         {"time_s": 2.2, "kind": "isr_shrink", "topic": "__consumer_offsets", "partition": 0,
          "broker": 1},
         {"time_s": 3.0, "kind": "fault_end", "node": "broker-1", "broker": 1,
          "fault": "crash_broker"},
         {"time_s": 3.5, "kind": "isr_expand", "topic": "t", "partition": 0, "broker": 1},
         {"time_s": 4.0, "kind": "rebalance_start", "node": "broker-0", "group": "g",
          "generation": 1},
         {"time_s": 5.0, "kind": "rebalance_end", "node": "broker-0", "group": "g",
          "generation": 2, "outcome": "stable", "duration_s": 1.0},
         {"time_s": 8.0, "kind": "fault", "node": "g-0", "fault": "crash_consumer",
          "outcome": "unreachable"}]
    ).sort_values("time_s", kind="stable")  # fmt: skip
    assignments = pd.DataFrame(
        {"time_s": [1.0, 1.0, 1.0, 5.0, 5.0, 5.0], "group": "g",
         "member": ["g-0", "g-0", "g-1", "g-0", "g-0", "g-1"], "generation": [1, 1, 1, 1, 2, 2],
         "topic": "t", "partition": [0, 1, 1, 1, 0, 1],
         "action": ["assigned", "assigned", "revoked", "revoked", "assigned", "assigned"]}
    )  # fmt: skip
    ends = np.arange(1.0, 11.0)
    timeseries = pd.DataFrame(
        {"time_s": ends, "produced_msgs_s": 10.0, "acked_msgs_s": 10.0, "consumed_msgs_s": 5.0,
         "produce_latency_p99_ms": 5.0, "max_consumer_lag": 0,
         "under_replicated_partitions": [0, 0, 1, 0, 0, 0, 0, 0, 0, 0]}
    )  # fmt: skip
    # each broker's NIC out at 0.1 of its line rate, in at 0.2, appending 1 MB/s, using half a
    # core of its 2; broker-1 silent in the interval of its crash (2-3 s); a client without a
    # disk
    nodes = pd.DataFrame(
        {"time_s": np.repeat(ends, 4), "node": ["broker-0", "broker-1", "broker-2", "app-0"] * 10,
         "nic_out_mb_s": 12.5, "nic_in_mb_s": 25.0, "nic_out_utilisation": 0.1,
         "nic_in_utilisation": 0.2, "nic_out_backlog_ms": 0.0, "nic_in_backlog_ms": 0.0,
         "disk_append_mb_s": [1.0, 1.0, 1.0, np.nan] * 10, "dirty_mb": [5.0, 5.0, 5.0, np.nan] * 10,
         "cpu_busy": [0.5, 0.5, 0.5, 0.1] * 10, "cpu_utilisation": [0.25, 0.25, 0.25, 0.05] * 10}
    )  # fmt: skip
    crashed = (nodes["node"] == "broker-1") & (nodes["time_s"] == 3.0)
    nodes.loc[crashed, ["nic_out_mb_s", "nic_in_mb_s", "nic_out_utilisation"]] = 0.0
    nodes.loc[crashed, ["nic_in_utilisation", "disk_append_mb_s", "cpu_busy"]] = 0.0
    nodes.loc[crashed, "cpu_utilisation"] = 0.0
    tables = {"produced": produced, "acked": acked, "consumed": consumed, "log": log,
              "events": events, "assignments": assignments, "timeseries": timeseries,
              "nodes": nodes}  # fmt: skip
    return Results(scenario, tables)
