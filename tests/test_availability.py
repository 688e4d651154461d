"""Availability metrics from the events' columns, and partition pauses from the row tables."""

from __future__ import annotations

import math

import pandas as pd
import pytest

from sim.availability import partition_pauses, unavailability_windows
from sim.metrics import events_frame


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
