"""Availability metrics from the events' columns, and partition pauses and produce stalls from
the row tables."""

from __future__ import annotations

import math

import pandas as pd
import pytest

import sim
from sim import kafka_config, liveness
from sim.availability import partition_pauses, produce_stalls, unavailability_windows
from sim.metrics import events_frame
from sim.world import World


def _tables(acks: list[tuple[int, int, float]], polls: list[tuple[str, int, int, float]]):
    """produced/acked for batches (base_offset, count, done_s) of orders-0, and consumed rows
    (member, base_offset, count, polled_s) of group g."""
    produced = pd.DataFrame(
        {
            "batch_id": range(len(acks)),
            "topic": "orders",
            "partition": 0,
            "count": [c for _, c, _ in acks],
        }
    )
    acked = pd.DataFrame(
        {
            "batch_id": range(len(acks)),
            "base_offset": [b for b, _, _ in acks],
            "done_s": [t for _, _, t in acks],
            "error": "",
        }
    )
    consumed = pd.DataFrame(
        {
            "group": "g",
            "member": [m for m, _, _, _ in polls],
            "topic": "orders",
            "partition": 0,
            "base_offset": [b for _, b, _, _ in polls],
            "count": [c for _, _, c, _ in polls],
            "polled_s": [t for _, _, _, t in polls],
        }
    )
    return produced, acked, consumed


def test_a_record_read_as_it_is_acknowledged_never_waited():
    """The consumer may read a record at the moment (or before) its producer hears the ack:
    offsets, not ack times, tell whether anything waited; the next record waited 1 ms."""
    produced, acked, consumed = _tables(
        [(0, 10, 1.000), (10, 5, 16.000)],
        [("g-0", 0, 10, 0.999), ("g-0", 10, 5, 16.001)],
    )
    pauses = partition_pauses(produced, acked, consumed, duration_s=20.0)
    assert pauses["max_pause_s"].iloc[0] == pytest.approx(0.001)
    assert pauses["from_s"].iloc[0] == pytest.approx(16.0)


def test_a_partition_waiting_for_its_new_owner_pauses_from_the_backlog():
    """Records acknowledged before a poll that did not read them wait from that poll (here the
    old owner's last) to the new owner's first; records never read wait to the run's end."""
    produced, acked, consumed = _tables(
        [(0, 10, 1.0), (10, 10, 1.5), (20, 10, 9.0)],
        [("g-0", 0, 10, 2.0), ("g-1", 10, 10, 5.0)],
    )
    pauses = partition_pauses(produced, acked, consumed, duration_s=12.0)
    assert pauses["max_pause_s"].iloc[0] == pytest.approx(3.0)  # 2.0 -> 5.0 (9.0 -> 12.0 too)
    assert pauses["from_s"].iloc[0] == pytest.approx(2.0)
    longer = partition_pauses(produced, acked, consumed, duration_s=20.0)
    assert longer["max_pause_s"].iloc[0] == pytest.approx(11.0)  # acked at 9, never read


def test_nothing_acknowledged_nothing_waits():
    """A partition whose records all were read leaves no pause (NaN start)."""
    produced, acked, consumed = _tables([(0, 10, 1.0)], [("g-0", 0, 10, 1.0)])
    pauses = partition_pauses(produced, acked, consumed, duration_s=5.0)
    assert pauses["max_pause_s"].iloc[0] == 0.0
    assert math.isnan(pauses["from_s"].iloc[0])


def test_unavailability_follows_the_leader_and_the_reach_columns():
    """A window opens when the leader becomes unreachable to clients and closes at an election
    of another leader, or when the leader is reachable again; a restart (no reach change)
    closes nothing, and a partition whose leader moved away is not hit by its old leader."""
    unreachable, reachable = "unreachable", "reachable"
    events = events_frame(
        [
            {"time_s": 1.0, "kind": "fault", "broker": 0, "outcome": unreachable},
            {"time_s": 3.0, "kind": "fault_end", "broker": 0, "outcome": reachable},
            {"time_s": 4.0, "kind": "fault", "broker": 1, "outcome": unreachable},
            {"time_s": 5.0, "kind": "fault_end", "broker": 1},
            {"time_s": 6.0, "kind": "leader_election", "topic": "t", "partition": 1, "broker": 0},
        ]
    )
    leaders = {("t", 0): 0, ("t", 1): 1, ("t", 2): 1}
    windows = unavailability_windows(events, leaders, end_s=10.0)
    assert windows == [
        (("t", 0), 1.0, 3.0, 0),
        (("t", 1), 4.0, 6.0, 1),
        (("t", 2), 4.0, 10.0, 1),
    ]


def _batches(rows: list[tuple[str, int, float, float | None, str]]):
    """produced/acked for batches (producer, partition, first_arrival_s, done_s or None for
    never answered, error) of topic orders."""
    produced = pd.DataFrame(
        {
            "batch_id": range(len(rows)),
            "producer": [r[0] for r in rows],
            "topic": "orders",
            "partition": [r[1] for r in rows],
            "first_arrival_s": [r[2] for r in rows],
        }
    )
    answered = [(i, r) for i, r in enumerate(rows) if r[3] is not None]
    acked = pd.DataFrame(
        {
            "batch_id": [i for i, _ in answered],
            "done_s": [r[3] for _, r in answered],
            "error": pd.array([r[4] for _, r in answered], dtype="string"),
        }
    )
    return produced, acked


def _stall(rows, duration_s: float) -> tuple[float, float]:
    """(max_stall_s, from_s) of the only partition of ``rows``."""
    stalls = produce_stalls(*_batches(rows), duration_s=duration_s)
    assert len(stalls) == 1
    return stalls["max_stall_s"].iloc[0], stalls["from_s"].iloc[0]


def test_a_stall_runs_from_the_first_waiting_arrival_to_the_next_acknowledgement():
    """Between the acks at 1.6 and 5.0 nothing waited before the batch that arrived at 2.0: a
    3.0 s stall from 2.0; a batch waiting since 4.0 when the ack at 5.0 came stalls from 5.0
    (5.0 -> 7.0)."""
    rows = [
        ("app-0", 0, 1.0, 1.1, ""),
        ("app-0", 0, 1.5, 1.6, ""),
        ("app-0", 0, 2.0, 5.0, ""),
        ("app-0", 0, 4.0, 7.0, ""),
    ]
    assert _stall(rows, duration_s=10.0) == pytest.approx((3.0, 2.0))
    shorter_wait = [*rows[:3], ("app-0", 0, 4.0, 7.5, "")]
    assert _stall(shorter_wait, duration_s=10.0) == pytest.approx((3.0, 2.0))
    longer_wait = [*rows[:3], ("app-0", 0, 4.0, 8.5, "")]
    assert _stall(longer_wait, duration_s=10.0) == pytest.approx((3.5, 5.0))


def test_a_failed_batch_is_answered_but_ends_no_stall():
    """The batch arrived at 2.0 failed at 3.0: only the ack at 4.0 ends the stall it began
    (2.0 s, not 1.0); once failed it waits no more, so the gap 4.0 -> 9.5 stalls only from the
    next arrival at 9.0."""
    rows = [
        ("app-0", 0, 2.0, 3.0, "NOT_ENOUGH_REPLICAS"),
        ("app-0", 0, 3.5, 4.0, ""),
        ("app-0", 0, 9.0, 9.5, ""),
    ]
    assert _stall(rows, duration_s=10.0) == pytest.approx((2.0, 2.0))


def test_a_batch_never_answered_stalls_to_the_end_of_the_run():
    """A batch pending at the end waits from its arrival (7.0) to the run's end; a partition
    never acknowledged stalls from its first arrival."""
    rows = [("app-0", 0, 1.0, 1.1, ""), ("app-0", 0, 7.0, None, "")]
    assert _stall(rows, duration_s=12.0) == pytest.approx((5.0, 7.0))
    never = [("app-0", 0, 1.0, None, ""), ("app-0", 0, 2.0, 3.0, "DELIVERY_TIMEOUT")]
    assert _stall(never, duration_s=12.0) == pytest.approx((11.0, 1.0))


def test_any_producer_acknowledged_ends_a_stall():
    """app-0's batch waits 1.0 -> 6.0, but app-1's are acknowledged every second meanwhile: the
    partition took writes, the longest stall is 1 s."""
    rows = [("app-0", 0, 1.0, 6.0, "")]
    rows += [("app-1", 0, t - 0.5, t, "") for t in (2.0, 3.0, 4.0, 5.0)]
    assert _stall(rows, duration_s=6.0) == pytest.approx((1.0, 1.0))


def test_stalls_are_per_partition_and_skip_records_without_one():
    """One row per partition written to, with no stall when nothing waited (NaN start);
    records refused before partitioning (partition -1) are in no partition."""
    produced, acked = _batches(
        [
            ("app-0", 0, 1.0, 1.0, ""),
            ("app-0", 1, 1.0, 3.0, ""),
            ("app-0", -1, 0.5, 0.5, "RECORD_TOO_LARGE"),
        ]
    )
    stalls = produce_stalls(produced, acked, duration_s=5.0)
    assert list(stalls["partition"]) == [0, 1]
    assert list(stalls["max_stall_s"]) == pytest.approx([0.0, 2.0])
    assert math.isnan(stalls["from_s"].iloc[0])


def _crash_run(default_dict, seed: int, crash_s: float) -> tuple[World, sim.Results]:
    """The default scenario at 2,000 msg/s (acks=all, RF 3 on 3 brokers, min.insync.replicas
    2), seed ``seed``: the leader of orders-0 crashes at ``crash_s`` for good; the run lasts
    until the producer's liveness bound after the crash has passed."""
    default_dict.update(seed=seed)
    default_dict["producers"][0]["rate_msgs_s"] = 2_000
    default_dict["faults"] = [
        {"kind": "crash_broker", "at_s": crash_s, "broker": "leader:orders-0"}
    ]
    scenario = sim.Scenario.from_dict(default_dict)
    duration_s = crash_s + _bounds(World(scenario), crash_s).producer_s + 1.0
    world = World(scenario.model_copy(update={"duration_s": duration_s}))
    world.run()
    return world, world.results()


def _bounds(world: World, crash_s: float) -> liveness.Bounds:
    """The liveness bounds of ``world``'s scenario for a fault at ``crash_s`` healing then."""
    return liveness.bounds(world.scenario, len(world.assignments), crash_s, crash_s)


def _session_s(scenario: sim.Scenario) -> float:
    """The brokers' zookeeper.session.timeout.ms, s."""
    return kafka_config.broker_config(scenario.cluster.config).s("zookeeper.session.timeout.ms")


@pytest.mark.parametrize("seed", [1, 2])
def test_a_leader_crash_stalls_acks_all_writes_until_the_controller_notices(default_dict, seed):
    """A crash under acks=all with RF 3 on 3 brokers: the dead broker leads or is in the ISR of
    every partition, so none acknowledges anything until the controller notices the death at
    its ZooKeeper session's expiry (then elects leaders and shrinks the ISRs). The broker's
    ZooKeeper client pings after a third of zookeeper.session.timeout.ms of silence, so the
    server last heard from it no earlier than that before the crash, and expires the session no
    sooner than the timeout after that (sim.coordination.zookeeper): at least 2/3 of the
    timeout after the crash. Records wait throughout (2,000 msg/s, linger.ms 5). Every stall
    ends (writes resume) within the producer's liveness bound after the crash."""
    crash_s = 10.37  # between ZooKeeper's ticks
    world, results = _crash_run(default_dict, seed, crash_s)
    assert results.summary()["max_produce_stall_s"] >= 2 / 3 * _session_s(world.scenario)
    stalls = results.produce_stalls
    assert len(stalls) == 6
    ends_s = stalls["from_s"] + stalls["max_stall_s"]
    assert (ends_s <= crash_s + _bounds(world, crash_s).producer_s).all(), stalls


def test_without_faults_no_stall_is_as_long_as_a_session_expiry(default_dict):
    """Without faults writes never wait for a session to expire: every stall is shorter than the
    crash test's lower bound (and some record did wait: a stall is about a produce latency)."""
    default_dict.update(duration_s=20.0, faults=[])
    default_dict["producers"][0]["rate_msgs_s"] = 2_000
    results = sim.run(sim.Scenario.from_dict(default_dict))
    stall_s = results.summary()["max_produce_stall_s"]
    assert 0 < stall_s < 2 / 3 * _session_s(results.scenario)
