"""The liveness checker on mirrors (sim.liveness.check_mirrors): after a WAN cut heals, a slow
WAN ends or a target broker restarts, each mirror copies what its source acknowledged within a
bound derived from the settings; a mirror whose task never resumes is a violation.

Claims hold for any seed (hypothesis draws it); each run is capped in events."""

from __future__ import annotations

import copy
import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sim.multi_cluster import MultiClusterWorld
from sim.results import Results
from sim.scenario import Scenario

EVENT_CAP = 3_000_000
SEEDS = st.integers(0, 2**32 - 1)
FAST_SESSIONS = {"zookeeper.session.timeout.ms": 6000}  # short elections: short bounds

REGIONS = {
    "name": "mirror_liveness",
    "duration_s": 20.0,
    "clusters": [{"name": "east", "brokers": 3, "config": FAST_SESSIONS},
                 {"name": "west", "brokers": 3, "config": FAST_SESSIONS}],
    "wan": {"rtt_ms": 40, "bandwidth_gbps": 0.02},
    "topics": [{"name": "orders", "cluster": "east", "partitions": 3, "replication_factor": 3}],
    "producers": [{"name": "app", "topic": "orders", "cluster": "east", "rate_msgs_s": 800,
                   "message_bytes": 1000}],
    "mirrors": [{"source": "east", "target": "west",
                 "config": {"tasks.max": 2, "consumer.request.timeout.ms": 2000,
                            "consumer.max.partition.fetch.bytes": 100_000,
                            "producer.request.timeout.ms": 5000}}],
}  # fmt: skip

FAULTS = {
    "wan_cut": {"kind": "wan_partition", "at_s": 3.0, "heal_after_s": 4.0},
    "slow_wan": {"kind": "slow_wan", "at_s": 2.0, "bandwidth_factor": 0.1, "duration_s": 5.0},
    "target_crash": {"kind": "crash_broker", "at_s": 3.0,
                     "broker": "leader:west/east.orders-0", "restart_after_s": 4.0},
}  # fmt: skip
HEAL_S = 7.0  # each fault above heals then


def _world(fault: dict, seed: int, **changes) -> MultiClusterWorld:
    data = {**copy.deepcopy(REGIONS), "faults": [fault], "seed": seed, **changes}
    world = MultiClusterWorld(Scenario.from_dict(data))
    world.env.event_limit = EVENT_CAP
    return world


def _mirror_row(r: Results):
    return r.liveness.set_index("item").loc["mirror east->west"]


@pytest.mark.parametrize("fault", sorted(FAULTS))
@settings(max_examples=2, deadline=None)
@given(seed=SEEDS)
def test_a_mirror_catches_up_within_its_bound_after_the_fault_heals(fault, seed):
    """The mirror's row: it copied every record east acknowledged by the heal, after the heal
    and within its bound (the autouse fixture also fails the test on any violation)."""
    world = _world(FAULTS[fault], seed)
    world.run()
    r = world.results()
    row = _mirror_row(r)
    assert HEAL_S <= row["recovered_s"] <= HEAL_S + row["bound_s"]
    assert row["violation"] == ""
    assert r.summary()["liveness_violations"] == 0
    assert r.summary()["recovery_s"] >= row["recovered_s"] - HEAL_S
    assert r.summary()["mirror_missing_messages"] == 0


@pytest.mark.liveness_violation_expected
def test_a_mirror_whose_tasks_never_resume_is_a_violation():
    """The tasks' consumers stop at the cut and never fetch again (a broken task): once the run
    outlasts the mirror's bound after the heal, the mirror never recovered, and the summary
    counts it."""
    probe = _world(FAULTS["wan_cut"], 1)
    probe.run()
    bound_s = _mirror_row(probe.results())["bound_s"]
    world = _world(FAULTS["wan_cut"], 1, duration_s=math.ceil(HEAL_S + bound_s + 1))

    def break_tasks():
        yield world.env.timeout(FAULTS["wan_cut"]["at_s"])
        for task, _ in world.mirrors[0].tasks:
            task.stop()

    world.env.process(break_tasks())
    world.run()
    r = world.results()
    row = _mirror_row(r)
    assert math.isnan(row["recovered_s"])
    assert row["violation"] == "never recovered"
    assert r.summary()["liveness_violations"] == 1
    assert math.isnan(r.summary()["recovery_s"])
