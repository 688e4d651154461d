"""The cluster_outage fault (sim.faults.FaultInjector.cluster_outage): every node of a cluster
down at once, power lost or not, and back after restart_after_s. Claims hold for any seed."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sim.scenario import Scenario, ScenarioError
from sim.world import World

AT_S, DOWN_S = 4.0, 4.0
OUTAGE = {
    "name": "outage",
    "duration_s": 25.0,
    "topics": [{"name": "t", "partitions": 3, "replication_factor": 3}],
    "producers": [{"name": "app", "topic": "t", "rate_msgs_s": 200, "config": {"acks": "all"}}],
    "consumer_groups": [{"group_id": "g", "topics": ["t"]}],
}


def _run(seed: int, power_loss: bool):
    fault = {"kind": "cluster_outage", "at_s": AT_S, "restart_after_s": DOWN_S,
             "power_loss": power_loss}  # fmt: skip
    world = World(Scenario.from_dict({**OUTAGE, "seed": seed, "faults": [fault]}))
    world.env.event_limit = 3_000_000
    world.run()
    return world.results()


@settings(max_examples=2, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), power_loss=st.booleans())
def test_a_cluster_outage_stops_every_broker_and_the_cluster_comes_back(seed, power_loss):
    """One fault row, a broker_stopped row per broker and one fault_end row; every partition
    of t unavailable for the whole outage at least; no record is acknowledged while the cluster
    is down; after it restarts the producer's records are acknowledged again; a crash keeps
    every acknowledged record, a power loss loses only records acknowledged before the
    outage."""
    r = _run(seed, power_loss)
    rows = r.events[r.events["fault"] == "cluster_outage"]
    assert list(rows["kind"]) == ["fault"] + ["broker_stopped"] * 3 + ["fault_end"]
    assert list(rows["time_s"]) == [AT_S] * 4 + [AT_S + DOWN_S]
    assert sorted(rows.loc[rows["kind"] == "broker_stopped", "broker"]) == [0, 1, 2]
    assert r.summary()["unavailable_partition_s"] >= 3 * DOWN_S
    acked = r.acked[r.acked["base_offset"] >= 0]
    down = acked[(acked["done_s"] > AT_S) & (acked["done_s"] < AT_S + DOWN_S)]
    assert down.empty
    assert (acked["done_s"] > AT_S + DOWN_S).any()
    summary = r.summary()
    if power_loss:
        before = acked[acked["done_s"] <= AT_S]
        count = r.produced.set_index("batch_id")["count"]
        assert summary["lost_acked_messages"] <= count[before["batch_id"]].sum()
    else:
        assert summary["lost_acked_messages"] == 0


def test_a_cluster_outage_names_a_cluster_only_with_several():
    one = {**OUTAGE, "faults": [{"kind": "cluster_outage", "at_s": 1, "cluster": "zz"}]}
    with pytest.raises(ScenarioError, match="leave 'cluster' out"):
        Scenario.from_dict(one)
    two = {
        **OUTAGE,
        "clusters": [{"name": "east"}, {"name": "west"}],
        "topics": [{"name": "t", "cluster": "east"}],
        "producers": [{"name": "app", "topic": "t", "cluster": "east"}],
        "consumer_groups": [],
        "faults": [{"kind": "cluster_outage", "at_s": 1, "cluster": "wset"}],
    }
    with pytest.raises(ScenarioError, match="west") as error:
        Scenario.from_dict(two)
    assert error.value.path == "faults.0.cluster"
