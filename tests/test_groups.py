"""Consumer groups: the coordinator's state machine (ported from Kafka's GroupMetadataTest and
GroupCoordinatorTest) and scenario runs of rebalances and the consumer faults.

Kafka's timeouts are shortened so runs stay short; each bound below is derived from them:
``INITIAL`` = group.initial.rebalance.delay.ms, ``SESSION`` = session.timeout.ms (the broker's
group.min.session.timeout.ms is lowered to allow it), ``HEARTBEAT`` = heartbeat.interval.ms,
``AUTO_COMMIT`` = auto.commit.interval.ms, ``SLACK`` = a few round trips, fetch waits and
one poll's processing (processing_ms × max.poll.records is kept far below it). ``RTT`` is the
hardware's default round trip; ``ROUND_TRIPS`` × RTT bounds a request chain (Metadata,
FindCoordinator, JoinGroup twice, SyncGroup and its acks=all append, OffsetCommit, LeaveGroup).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
import simpy

from sim import kafka_config
from sim.availability import rebalance_metrics
from sim.broker.group_coordinator import GroupCoordinator
from sim.broker.group_metadata import GroupMetadata, GroupState, MemberMetadata
from sim.broker.group_metadata_manager import partition_for
from sim.clients.consumer.abstract_coordinator import AbstractCoordinator
from sim.clients.consumer.consumer_coordinator import ConsumerCoordinator
from sim.metrics import Metrics, events_frame
from sim.protocol import (
    GROUP_METADATA_TOPIC,
    NO_OFFSET,
    UNKNOWN_MEMBER_ID,
    Errors,
    HeartbeatRequest,
    JoinGroupRequest,
    OffsetAndMetadata,
    OffsetCommitRequest,
    OffsetFetchRequest,
    Subscription,
    SyncGroupRequest,
)
from sim.scenario import Scenario
from sim.world import World

INITIAL = 0.2  # group.initial.rebalance.delay.ms, s
SESSION = 2.0  # session.timeout.ms, s
HEARTBEAT = 0.5  # heartbeat.interval.ms, s
AUTO_COMMIT = 1.0  # auto.commit.interval.ms, s
SLACK = 0.6  # s
RTT = 0.0005  # hardware rtt_ms default (0.5 ms), s
ROUND_TRIPS = 12  # round trips a request chain may take (see the module docstring)
PROCESSING_MS = 0.05  # the groups' default processing_ms
POLL_PROCESSING_S = 500 * PROCESSING_MS / 1000  # max.poll.records × processing_ms, s
RATE = 600  # the producer's records/s, over 6 partitions
MAX_LAG_RECORDS = RATE / 6 * SESSION  # a partition may lag by one session's worth at the end
SEEDS = [1, 2, 3]
TP0 = ("t", 0)


# ---------------------------------------------------------------- GroupMetadata (pure)


def _member(member_id: str, protocols: list[str], instance: str | None = None) -> MemberMetadata:
    subs = [(p, Subscription(("t",))) for p in protocols]
    return MemberMetadata(member_id, instance, "client", 10.0, 5.0, "consumer", subs)


def _preparing(group: GroupMetadata) -> None:
    group.transition_to(GroupState.PREPARING_REBALANCE)


def test_select_protocol():
    """GroupMetadataTest.testSelectProtocol: the vote of preferred common protocols wins."""
    group = GroupMetadata("g")
    group.add(_member("m1", ["range", "roundrobin"]))
    assert group.select_protocol() == "range"
    group.add(_member("m2", ["roundrobin", "range"]))
    group.add(_member("m3", ["roundrobin", "range"]))
    assert group.select_protocol() == "roundrobin"
    group.remove("m3")
    group.add(_member("m3", ["roundrobin", "range"]))  # rejoins: still the majority
    assert group.select_protocol() == "roundrobin"


def test_select_protocol_chooses_compatible_protocol():
    """GroupMetadataTest.testSelectProtocolChoosesCompatibleProtocol."""
    group = GroupMetadata("g")
    group.add(_member("m1", ["range", "roundrobin"]))
    group.add(_member("m2", ["roundrobin", "cooperative-sticky"]))
    assert group.select_protocol() == "roundrobin"


def test_supports_protocols():
    """GroupMetadataTest.testSupportsProtocols: an empty group takes any; then only shared."""
    group = GroupMetadata("g")
    assert group.supports_protocols("consumer", ["range", "roundrobin"])
    group.add(_member("m1", ["range", "roundrobin"]))
    group.transition_to(GroupState.PREPARING_REBALANCE)
    assert group.supports_protocols("consumer", ["roundrobin", "sticky"])
    assert not group.supports_protocols("consumer", ["sticky"])
    assert not group.supports_protocols("connect", ["range"])


@pytest.mark.parametrize(
    ("path", "ok"),
    [
        ([GroupState.PREPARING_REBALANCE, GroupState.COMPLETING_REBALANCE], True),
        ([GroupState.PREPARING_REBALANCE, GroupState.STABLE], False),  # testStableToStable-like
        ([GroupState.STABLE], False),  # testEmptyToStableIllegalTransition
        ([GroupState.PREPARING_REBALANCE, GroupState.EMPTY, GroupState.EMPTY], False),
        ([GroupState.DEAD, GroupState.DEAD], True),  # testDeadToDeadTransition
        ([GroupState.DEAD, GroupState.STABLE], False),  # testDeadToStableIllegalTransition
    ],
)
def test_state_transitions(path: list[GroupState], ok: bool):
    """GroupMetadataTest's transition cases (valid previous states of each GroupState)."""
    group = GroupMetadata("g")

    def walk():
        for state in path:
            group.transition_to(state)

    if ok:
        walk()
    else:
        with pytest.raises(ValueError):
            walk()


def test_replace_group_instance_keeps_assignment_and_leadership():
    """GroupMetadataTest.testReplaceGroupInstance: the old id's parked calls are fenced, the
    member (its assignment, its leadership) moves to the new id."""
    group = GroupMetadata("g")
    member = _member("old", ["range"], instance="i-1")
    member.assignment = [("t", 0)]
    answers = []
    group.add(member, answers.append)
    fenced = []
    group.replace_static_member("i-1", "old", "new", fenced.append)
    assert fenced == [member]
    assert group.leader_id == "new"
    assert group.current_static_member_id("i-1") == "new"
    assert group.get("new").assignment == [("t", 0)]
    assert not group.has("old")


def test_has_all_members_joined_waits_for_pending_members():
    """KIP-394: a pending member (MEMBER_ID_REQUIRED handed out) holds the join open."""
    group = GroupMetadata("g")
    group.add(_member("m1", ["range"]), lambda r: None)
    assert group.has_all_members_joined()
    group.add_pending_member("m2")
    assert not group.has_all_members_joined()
    group.remove("m2")
    assert group.has_all_members_joined()


def test_partition_for_is_kafkas_hash():
    """``Utils.abs("g".hashCode) % 50`` = 103 % 50; "" hashes to 0."""
    assert partition_for("g", 50) == 3
    assert partition_for("", 50) == 0


# ---------------------------------------------------------------- scenarios


def _scenario(
    faults: list[dict],
    *,
    seed: int = 1,
    members: int = 2,
    strategy: str = "range",
    static: bool = False,
    duration_s: float = 12.0,
    consumer: dict | None = None,
    processing_ms: float = PROCESSING_MS,
    broker: dict | None = None,
) -> dict:
    return {
        "name": "groups",
        "seed": seed,
        "duration_s": duration_s,
        "cluster": {
            "brokers": 3,
            "config": {
                "group.initial.rebalance.delay.ms": int(INITIAL * 1000),
                "group.min.session.timeout.ms": 1000,
                "zookeeper.session.timeout.ms": 3000,
                "replica.lag.time.max.ms": 1000,
                **(broker or {}),
            },
        },
        "topics": [
            {
                "name": "t",
                "partitions": 6,
                "replication_factor": 3,
                "config": {"min.insync.replicas": 2},
            }
        ],  # fmt: skip
        "producers": [
            {
                "name": "app",
                "topic": "t",
                "rate_msgs_s": RATE,
                "message_bytes": 200,
                "keys": {"kind": "uniform", "cardinality": 100},
                "config": {"acks": "all", "linger.ms": 5, "request.timeout.ms": 1000},
            }
        ],
        "consumer_groups": [
            {
                "group_id": "g",
                "members": members,
                "topics": ["t"],
                "processing_ms": processing_ms,
                "static": static,
                "config": {
                    "partition.assignment.strategy": strategy,
                    "auto.offset.reset": "earliest",
                    "session.timeout.ms": int(SESSION * 1000),
                    "heartbeat.interval.ms": int(HEARTBEAT * 1000),
                    "auto.commit.interval.ms": int(AUTO_COMMIT * 1000),
                    "request.timeout.ms": 1000,
                    **(consumer or {}),
                },
            }
        ],
        "faults": faults,
    }


def _run(d: dict):
    world = World(Scenario.from_dict(d), check_invariants=True)
    world.run()
    return world, world.results()


def _events(r, kind: str) -> pd.DataFrame:
    ev = r.events
    return ev[ev["kind"] == kind].reset_index(drop=True)


def _fields(detail: str) -> dict[str, str]:
    return dict(w.split("=", 1) for w in detail.split() if "=" in w)


def _assignments(r) -> list[tuple[float, str, set]]:
    """(time, member, its partitions as "t-p") for each new assignment, an empty one too: the
    times from the partitions_assigned events, the partitions from the assignments table."""
    table = r.assignments[r.assignments["action"] == "assigned"]
    owned: dict[tuple[float, str], set] = {}
    for row in table.itertuples():
        owned.setdefault((row.time_s, row.member), set()).add(f"{row.topic}-{row.partition}")
    events = _events(r, "partitions_assigned")
    times, members = events["time_s"], events["node"]
    return [(t, m, owned.get((t, m), set())) for t, m in zip(times, members, strict=True)]


def _assert_every_acked_record_consumed(r) -> None:
    """No acknowledged record is lost from the group's view: each partition's consumed offsets
    cover every offset of the final log's acked batches up to the last one consumed."""
    acked = r.acked[r.acked["error"] == ""]
    log = r.log[r.log["batch_id"].isin(acked["batch_id"])]
    consumed = r.consumed
    assert r.summary()["lost_acked_messages"] == 0
    for p in range(6):
        rows = consumed[consumed["partition"] == p]
        seen = set()
        for base, count in zip(rows["base_offset"], rows["count"], strict=True):
            seen.update(range(base, base + count))
        mine = log[log["partition"] == p]
        end = max(seen) + 1 if seen else 0
        needed = set()
        for base, count in zip(mine["base_offset"], mine["count"], strict=True):
            needed.update(o for o in range(base, base + count) if o < end)
        assert needed <= seen, f"partition {p}: {len(needed - seen)} acked records never consumed"
        assert end >= mine["base_offset"].max() - MAX_LAG_RECORDS  # kept up to near the end


@pytest.mark.parametrize("seed", SEEDS)
def test_initial_delayed_join_extends_once_for_members_joining_together(seed):
    """Members starting together join within the first group.initial.rebalance.delay.ms, so it
    is extended once (InitialDelayedJoin): the first generation forms at about 2 × INITIAL,
    with every partition assigned exactly once."""
    _, r = _run(_scenario([], seed=seed, members=3, duration_s=3.0))
    ends = _events(r, "rebalance_end")
    assert len(ends) == 1
    assert 2 * INITIAL <= ends["time_s"][0] <= 2 * INITIAL + ROUND_TRIPS * RTT
    owned = [p for _, _, parts in _assignments(r) for p in parts]
    assert sorted(owned) == sorted(f"t-{p}" for p in range(6))
    assert r.consumed["polled_s"].min() >= ends["time_s"][0]


@pytest.mark.parametrize("seed", SEEDS)
def test_eager_add_member_one_rebalance_and_the_group_stops(seed):
    """Range (EAGER): a new member causes exactly one rebalance; every member revokes all its
    partitions and consumes nothing from its revocation until its new assignment, so between the
    last revocation and the first new assignment the whole group consumes nothing."""
    world, r = _run(_scenario([{"kind": "add_consumer", "at_s": 4.0, "group": "g"}], seed=seed))
    starts = _events(r, "rebalance_start")
    assert (starts["time_s"] > 4.0).sum() == 1
    later = _events(r, "rebalance_end")
    end = later[later["time_s"] > 4.0]["time_s"].iloc[0]
    revokes = _events(r, "partitions_revoked")
    revokes = revokes[revokes["time_s"] > 4.0]
    assert sorted(revokes["node"]) == ["g-0", "g-1"]
    assigned_after = [t for t, _, _ in _assignments(r) if t > 4.0]
    stop, resume = revokes["time_s"].max(), min(assigned_after)
    assert stop < resume <= end + RTT  # the SyncGroup answers leave when the group is stored
    c = r.consumed
    assert c[(c["polled_s"] > stop) & (c["polled_s"] < resume)].empty
    for node, at in zip(revokes["node"], revokes["time_s"], strict=True):
        back = min(t for t, n, _ in _assignments(r) if n == node and t > at)
        assert c[(c["member"] == node) & (c["polled_s"] > at) & (c["polled_s"] < back)].empty
    assert len({n for t, n, parts in _assignments(r) if t > 4.0 and parts}) == 3
    _assert_every_acked_record_consumed(r)


@pytest.mark.parametrize("seed", SEEDS)
def test_cooperative_add_member_two_rebalances_and_kept_partitions_flow(seed):
    """cooperative-sticky (COOPERATIVE): a new member causes two rebalances (the first revokes
    only what moves, the second hands it over); partitions that stay with their owner are
    consumed during the rebalances."""
    d = _scenario(
        [{"kind": "add_consumer", "at_s": 4.0, "group": "g"}],
        seed=seed, strategy="cooperative-sticky",
    )  # fmt: skip
    _, r = _run(d)
    starts = _events(r, "rebalance_start")
    ends = _events(r, "rebalance_end")
    assert (starts["time_s"] > 4.0).sum() == 2
    first, last = starts[starts["time_s"] > 4.0]["time_s"].iloc[0], ends["time_s"].iloc[-1]
    before = {n: parts for t, n, parts in _assignments(r) if t < 4.0}
    after = {n: parts for t, n, parts in _assignments(r)}
    kept = {n: before[n] & after[n] for n in before}
    assert all(kept.values()) and after["g-2"]
    assert first < last
    c = r.consumed
    windows = list(
        zip(starts[starts["time_s"] > 4.0]["time_s"], ends[ends["time_s"] > 4.0]["time_s"],
            strict=True)
    )  # fmt: skip
    for i, (start, end) in enumerate(windows):
        during = c[(c["polled_s"] >= start) & (c["polled_s"] <= end)]
        for node, parts in kept.items():
            got = {f"t-{p}" for p in during[during["member"] == node]["partition"]}
            assert got & parts, f"{node} consumed none of its kept partitions in rebalance {i}"
    _assert_every_acked_record_consumed(r)


@pytest.mark.parametrize("seed", SEEDS)
def test_crash_consumer_rebalances_after_the_session_timeout(seed):
    """A dynamic member dies at 4 s: the coordinator removes it when its session expires, i.e.
    SESSION after its last heartbeat (sent at most HEARTBEAT before the crash); its partitions
    go to the survivor; no acked record is missed; duplicates come only from its progress since
    its last commit (at most what it consumed in the last AUTO_COMMIT before the crash)."""
    crash = 4.0
    d = _scenario([{"kind": "crash_consumer", "at_s": crash, "group": "g", "member": 1}], seed=seed)
    _, r = _run(d)
    starts = _events(r, "rebalance_start")
    after = starts[starts["time_s"] > crash]["time_s"]
    assert len(after) == 1
    assert crash + SESSION - HEARTBEAT - SLACK <= after.iloc[0] <= crash + SESSION + SLACK
    final = [parts for t, n, parts in _assignments(r) if t > crash and n == "g-0"]
    assert final and final[-1] == {f"t-{p}" for p in range(6)}
    _assert_every_acked_record_consumed(r)
    c = r.consumed
    recent = c[(c["member"] == "g-1") & (c["polled_s"] > crash - AUTO_COMMIT - SLACK)]
    assert r.summary()["duplicate_deliveries"] <= recent["count"].sum()


@pytest.mark.parametrize("seed", SEEDS)
def test_remove_consumer_rebalances_at_once(seed):
    """A dynamic member closes cleanly (commit, LeaveGroup): the rebalance starts within a few
    round trips, not a session timeout later, and nothing is delivered twice (it committed)."""
    d = _scenario([{"kind": "remove_consumer", "at_s": 4.0, "group": "g", "member": 1}], seed=seed)
    _, r = _run(d)
    starts = _events(r, "rebalance_start")
    after = starts[starts["time_s"] > 4.0]
    # close() acts after the poll being processed: its commit and LeaveGroup are a few trips
    assert len(after) == 1
    assert after["time_s"].iloc[0] - 4.0 <= POLL_PROCESSING_S + ROUND_TRIPS * RTT
    assert "on_LeaveGroup" in _fields(after["detail"].iloc[0])["reason"]
    revoked = _events(r, "partitions_revoked")
    closing = revoked[(revoked["node"] == "g-1") & (revoked["time_s"] >= 4.0)]
    assert len(closing) == 1 and "revoked on close" in closing["detail"].iloc[0]  # onLeavePrepare
    _assert_every_acked_record_consumed(r)
    assert r.summary()["duplicate_deliveries"] == 0


@pytest.mark.parametrize("seed", SEEDS)
def test_static_member_restart_within_the_session_keeps_its_partitions(seed):
    """A static member crashes and restarts within session.timeout.ms: no rebalance, and it is
    given back the same partitions (KIP-345)."""
    fault = {"kind": "crash_consumer", "at_s": 4.0, "group": "g", "member": 1,
             "restart_after_s": SESSION / 4}  # fmt: skip
    _, r = _run(_scenario([fault], seed=seed, static=True))
    assert len(_events(r, "rebalance_start")) == 1  # only the initial one
    mine = [parts for _, n, parts in _assignments(r) if n == "g-1"]
    assert len(mine) == 2 and mine[0] == mine[1] and mine[0]
    _assert_every_acked_record_consumed(r)


@pytest.mark.parametrize("seed", SEEDS)
def test_static_member_gone_beyond_the_session_causes_one_rebalance(seed):
    """A static member that does not come back is removed at its session timeout: exactly one
    rebalance, after about SESSION (a static member sends no LeaveGroup)."""
    crash = 4.0
    d = _scenario(
        [{"kind": "crash_consumer", "at_s": crash, "group": "g", "member": 1}],
        seed=seed, static=True,
    )  # fmt: skip
    _, r = _run(d)
    after = _events(r, "rebalance_start")["time_s"]
    after = after[after > crash]
    assert len(after) == 1
    assert crash + SESSION - HEARTBEAT - SLACK <= after.iloc[0] <= crash + SESSION + SLACK


def test_static_remove_consumer_sends_no_leave_group():
    """remove_consumer of a static member: it just stops; the rebalance waits for its session."""
    d = _scenario(
        [{"kind": "remove_consumer", "at_s": 4.0, "group": "g", "member": 1}], static=True
    )
    _, r = _run(d)
    after = _events(r, "rebalance_start")["time_s"]
    after = after[after > 4.0]
    assert len(after) == 1 and after.iloc[0] >= 4.0 + SESSION - HEARTBEAT - SLACK


@pytest.mark.liveness_violation_expected  # its poll always outlasts the poll timer: the group
# rebalances for ever (as Kafka's would), which a run to the liveness bound reports
def test_member_not_polling_within_max_poll_interval_leaves_the_group():
    """The records of one poll take longer to process (max.poll.records × processing_ms = 3 s)
    than max.poll.interval.ms (1 s): the member's heartbeat thread sends LeaveGroup when the poll
    timer expires, max.poll.interval.ms after its last poll() (the one that returned the records
    it is processing). The group rebalances for that LeaveGroup (reason ``... on LeaveGroup``),
    not for a session expiry: its heartbeats went on meanwhile."""
    max_poll = 1.0  # max.poll.interval.ms, s
    processing_ms = 6.0
    assert 500 * processing_ms / 1000 > max_poll + SLACK  # the poll outlasts the poll timer
    assert max_poll + SLACK < SESSION  # a leave by poll timeout comes before any session expiry
    d = _scenario(
        [], members=2, processing_ms=processing_ms, duration_s=8.0,
        consumer={"max.poll.interval.ms": int(max_poll * 1000), "max.poll.records": 500},
    )  # fmt: skip
    _, r = _run(d)
    starts = _events(r, "rebalance_start")
    assert len(starts) >= 2
    second = starts.iloc[1]
    reason = _fields(second["detail"])["reason"]
    assert reason.endswith("left_on_LeaveGroup"), reason
    leaver = next(n for n in ("g-0", "g-1") if reason.startswith(f"member_{n}-"))
    c = r.consumed
    last_poll = c[(c["member"] == leaver) & (c["polled_s"] <= second["time_s"])]["polled_s"].max()
    assert last_poll + max_poll <= second["time_s"] <= last_poll + max_poll + ROUND_TRIPS * RTT
    assert not any("heartbeat_expiration" in d for d in starts["detail"])


@pytest.mark.parametrize("seed", SEEDS)
def test_coordinator_crash_the_group_moves_and_keeps_its_offsets(seed):
    """The coordinator's broker crashes: the group finds the new leader of its __consumer_offsets
    partition, which loaded the group and its committed offsets from the replicated log, and
    consumption goes on without loss."""
    d = _scenario([], seed=seed, duration_s=10.0)
    p = partition_for("g", 50)
    world = World(Scenario.from_dict(d), check_invariants=True)
    world.start()
    world.advance(5.0)
    old = world.leader_of((GROUP_METADATA_TOPIC, p))
    committed = dict(world.brokers[old].group_coordinator.manager.groups["g"].offsets)
    assert committed
    world.faults.crash_broker(old)
    world.run()
    r = world.results()
    new = world.leader_of((GROUP_METADATA_TOPIC, p))
    assert new != old
    manager = world.brokers[new].group_coordinator.manager
    loaded = manager.groups["g"].offsets
    assert all(loaded[tp].offset >= off.offset for tp, off in committed.items())
    # the committed leader epochs came back with the offsets from __consumer_offsets
    assert all(off.leader_epoch >= 0 for off in loaded.values())
    assert all(c.coordinator.coordinator == f"broker-{new}" for c, _ in world.consumers)
    assert r.consumed["polled_s"].max() > 9.0
    _assert_every_acked_record_consumed(r)


def test_summary_rebalances_match_the_events():
    """summary()'s rebalances = rebalance_start rows; rebalance_time_s = the sum of the
    duration_s of the rebalance_end rows (every rebalance ended here)."""
    d = _scenario(
        [{"kind": "add_consumer", "at_s": 3.0, "group": "g"},
         {"kind": "remove_consumer", "at_s": 6.0, "group": "g", "member": 0}],
        strategy="cooperative-sticky",
    )  # fmt: skip
    _, r = _run(d)
    summary = r.summary()
    ev = r.events
    starts = ev[ev["kind"] == "rebalance_start"]
    ends = ev[ev["kind"] == "rebalance_end"]
    # counted here from the rows: each start is closed by the next end, same group and node
    assert len(starts) == len(ends) >= 4
    pairs = list(zip(starts["time_s"], ends["time_s"], strict=True))
    assert all(s <= e for s, e in pairs)
    assert all(e <= s for (_, e), (s, _) in zip(pairs, pairs[1:], strict=False))
    after_forming = [(s, e) for (s, e), g in zip(pairs, starts["generation"], strict=True) if g]
    assert len(after_forming) == len(pairs) - 1  # the first forms the group (generation 0)
    assert summary["rebalances"] == len(after_forming)
    total = sum(e - s for s, e in after_forming)
    assert summary["rebalance_time_s"] == pytest.approx(total, abs=1e-9)


def _rows(*rows: tuple[float, str, str, str, int, str]) -> pd.DataFrame:
    columns = ("time_s", "kind", "node", "group", "generation", "outcome")
    return events_frame(dict(zip(columns, row, strict=True)) for row in rows)


def test_rebalance_cut_short_by_a_coordinator_move_counts_once():
    """A rebalance that the old coordinator ends with outcome coordinator_moved and the new one
    starts again is one rebalance, from its first start to its final end."""
    events = _rows(
        (1.0, "rebalance_start", "broker-0", "g", 1, ""),
        (2.0, "rebalance_end", "broker-0", "g", 1, "coordinator_moved"),
        (2.5, "rebalance_start", "broker-1", "g", 1, ""),
        (3.0, "rebalance_end", "broker-1", "g", 2, "stable"),
        (4.0, "rebalance_start", "broker-1", "h", 3, ""),
    )
    assert rebalance_metrics(events, 10.0) == {"rebalances": 2.0, "rebalance_time_s": 8.0}
    moved_only = _rows(
        (1.0, "rebalance_start", "broker-0", "g", 1, ""),
        (2.0, "rebalance_end", "broker-0", "g", 1, "coordinator_moved"),
    )
    assert rebalance_metrics(moved_only, 10.0) == {"rebalances": 1.0, "rebalance_time_s": 1.0}


def test_a_group_forming_is_no_rebalance():
    """The rebalance that forms a group (it starts at generation 0) is neither counted nor
    timed; the group's later rebalances are, also one that starts after the group emptied."""
    events = _rows(
        (0.0, "rebalance_start", "broker-0", "g", 0, ""),
        (6.0, "rebalance_end", "broker-0", "g", 1, "stable"),
        (20.0, "rebalance_start", "broker-0", "g", 1, ""),
        (20.5, "rebalance_end", "broker-0", "g", 2, "empty"),
        (30.0, "rebalance_start", "broker-0", "g", 2, ""),
        (33.0, "rebalance_end", "broker-0", "g", 3, "stable"),
    )
    assert rebalance_metrics(events, 40.0) == {"rebalances": 2.0, "rebalance_time_s": 3.5}


_DIGEST = """
import hashlib, json, sys
sys.path.insert(0, {tests!r})
from test_groups import _scenario
from sim.scenario import Scenario
from sim.world import World
d = _scenario(json.loads({faults!r}), strategy="cooperative-sticky")
world = World(Scenario.from_dict(d))
world.run()
r = world.results()
print(hashlib.sha256(r.events.to_csv().encode() + r.consumed.to_csv().encode()).hexdigest())
"""


def test_same_seed_same_group_events():
    """Same scenario and seed, different PYTHONHASHSEED (string hashes): identical events and
    consumed rows, bit for bit."""
    faults = [{"kind": "crash_consumer", "at_s": 3.0, "group": "g", "member": 0},
              {"kind": "add_consumer", "at_s": 5.0, "group": "g"}]  # fmt: skip
    tests = str(Path(__file__).parent)
    code = _DIGEST.format(tests=tests, faults=json.dumps(faults))
    digests = []
    for hash_seed in ("1", "2"):
        env = {**os.environ, "PYTHONHASHSEED": hash_seed}
        out = subprocess.run(
            [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True,
            cwd=Path(__file__).parent.parent,
        )  # fmt: skip
        digests.append(out.stdout.strip())
    assert len(digests[0]) == 64 and digests[0] == digests[1]


# ---------------------------------------------------------------- GroupCoordinator handlers
# Ported from Kafka 3.9 core/src/test/scala/unit/kafka/coordinator/group/GroupCoordinatorTest
# .scala: the coordinator alone on a bare SimPy environment, its storage acknowledged at once,
# answers collected by a fake reply. Timeouts here are in integer milliseconds as in Kafka.

UNIT_DELAY_MS = 100  # group.initial.rebalance.delay.ms (GroupInitialRebalanceDelay)
UNIT_SESSION_S = 1.0  # the members' session.timeout.ms, s
UNIT_REBALANCE_S = 2.0  # the members' max.poll.interval.ms (rebalance timeout), s
UNIT_MIN_SESSION_MS = 500  # group.min.session.timeout.ms
UNIT_MAX_SESSION_MS = 5000  # group.max.session.timeout.ms


class _AckingReplicas:
    """The coordinator's ReplicaManager, acknowledging every append at once."""

    def __init__(self) -> None:
        self.error = Errors.NONE

    def handle_produce(self, request, reply) -> None:
        reply(SimpleNamespace(results={tp: SimpleNamespace(error=self.error)
                                       for tp in request.batches}))  # fmt: skip


def _unit_coordinator(**broker) -> tuple[simpy.Environment, GroupCoordinator]:
    env = simpy.Environment()
    config = kafka_config.broker_config(
        {
            "group.initial.rebalance.delay.ms": UNIT_DELAY_MS,
            "group.min.session.timeout.ms": UNIT_MIN_SESSION_MS,
            "group.max.session.timeout.ms": UNIT_MAX_SESSION_MS,
            **broker,
        }
    )
    coordinator = GroupCoordinator(env, "broker-0", _AckingReplicas(), config, Metrics())
    coordinator.startup()
    coordinator.manager.owned[coordinator.manager.partition_for("g")] = None
    return env, coordinator


class _Answer:
    """A fake reply: what the coordinator answered and when."""

    def __init__(self, env: simpy.Environment) -> None:
        self.env = env
        self.response = None
        self.at_s: float | None = None

    def __call__(self, response, _extra_s: float = 0.0) -> None:
        self.response, self.at_s = response, self.env.now

    @property
    def error(self):
        return None if self.response is None else self.response.error


def _join(env, coordinator, member_id="", instance=None, *, session_s=UNIT_SESSION_S,
          rebalance_s=UNIT_REBALANCE_S) -> _Answer:  # fmt: skip
    answer = _Answer(env)
    request = JoinGroupRequest(
        "g", session_s, rebalance_s, member_id, instance, "consumer",
        [("range", Subscription(("t",)))], "client",
    )  # fmt: skip
    coordinator.handle_join_group(request, answer)
    return answer


def _dynamic_join(env, coordinator, **kw) -> tuple[str, _Answer]:
    """KIP-394: a dynamic member first gets MEMBER_ID_REQUIRED and its id, then joins."""
    first = _join(env, coordinator, **kw)
    assert first.error is Errors.MEMBER_ID_REQUIRED
    member_id = first.response.member_id
    return member_id, _join(env, coordinator, member_id, **kw)


def _heartbeat(env, coordinator, member_id, generation, instance=None):
    answer = _Answer(env)
    coordinator.handle_heartbeat(HeartbeatRequest("g", generation, member_id, instance), answer)
    return answer.error


def _sync(env, coordinator, member_id, generation, assignment=None, instance=None) -> _Answer:
    answer = _Answer(env)
    request = SyncGroupRequest("g", generation, member_id, instance, "range", assignment or {})
    coordinator.handle_sync_group(request, answer)
    return answer


def _stable_group(env, coordinator, instances: list[str]) -> dict[str, str]:
    """Static members join together and sync: instance id -> member id, group Stable."""
    answers = {i: _join(env, coordinator, instance=i) for i in instances}
    env.run(until=env.now + 2 * UNIT_DELAY_MS / 1000 + 0.001)
    assert all(a.error is Errors.NONE for a in answers.values())
    ids = {i: a.response.member_id for i, a in answers.items()}
    generation = next(iter(answers.values())).response.generation_id
    leader = next(a.response.leader for a in answers.values())
    for member_id in ids.values():
        assignment = {m: [] for m in ids.values()} if member_id == leader else None
        _sync(env, coordinator, member_id, generation, assignment)
    assert coordinator.manager.groups["g"].state is GroupState.STABLE
    return ids


def test_join_group_session_timeout_too_small_or_too_large():
    """testJoinGroupSessionTimeoutTooSmall / testJoinGroupSessionTimeoutTooLarge."""
    env, coordinator = _unit_coordinator()
    low = _join(env, coordinator, session_s=(UNIT_MIN_SESSION_MS - 1) / 1000)
    high = _join(env, coordinator, session_s=(UNIT_MAX_SESSION_MS + 1) / 1000)
    assert low.error is Errors.INVALID_SESSION_TIMEOUT
    assert high.error is Errors.INVALID_SESSION_TIMEOUT


def test_static_member_rejoin_with_mismatched_member_id_is_fenced():
    """staticMemberReJoinWithExplicitUnknownMemberId and
    staticMemberHeartbeatLeaderWithInvalidMemberId: a second instance with the same
    group.instance.id takes the id over; the first one's member id is then FENCED_INSTANCE_ID."""
    env, coordinator = _unit_coordinator()
    ids = _stable_group(env, coordinator, ["i-1", "i-2"])
    generation = coordinator.manager.groups["g"].generation_id
    assert _join(env, coordinator, "unknown_member", "i-1").error is Errors.FENCED_INSTANCE_ID
    replaced = _join(env, coordinator, instance="i-1")  # the second instance, no member id
    env.run(until=env.now + 0.001)
    assert replaced.error is Errors.NONE
    assert replaced.response.member_id != ids["i-1"]
    old = _heartbeat(env, coordinator, ids["i-1"], generation, "i-1")
    assert old is Errors.FENCED_INSTANCE_ID


def test_delayed_join_removes_dynamic_members_that_did_not_rejoin():
    """GroupCoordinator.onCompleteJoin (and testStaticMemberFollowerFailToRejoinBeforeRebalance
    Timeout for the static case): when the DelayedJoin's rebalance timeout passes, dynamic
    members that did not rejoin are removed even though their sessions are alive; static ones
    stay."""
    env, coordinator = _unit_coordinator()
    long_session = UNIT_REBALANCE_S * 2  # heartbeats alone keep them alive past the rebalance
    a, join_a = _dynamic_join(env, coordinator, session_s=long_session)
    b, join_b = _dynamic_join(env, coordinator, session_s=long_session)
    static = _join(env, coordinator, instance="s-1", session_s=long_session)
    env.run(until=2 * UNIT_DELAY_MS / 1000 + 0.001)
    generation = join_a.response.generation_id
    leader = join_a.response.leader
    for m in (a, b, static.response.member_id):
        _sync(env, coordinator, m, generation, {m: []} if m == leader else None)
    group = coordinator.manager.groups["g"]
    assert group.state is GroupState.STABLE
    started = env.now
    _, newcomer = _dynamic_join(env, coordinator, session_s=long_session)  # rebalance
    rejoin_a = _join(env, coordinator, a, session_s=long_session)
    while env.now < started + UNIT_REBALANCE_S - 0.25:  # b and the static member heartbeat only
        env.run(until=env.now + 0.25)
        assert _heartbeat(env, coordinator, b, generation) is Errors.REBALANCE_IN_PROGRESS
        assert group.state is GroupState.PREPARING_REBALANCE
    env.run(until=started + UNIT_REBALANCE_S + 0.001)
    assert rejoin_a.error is Errors.NONE and newcomer.error is Errors.NONE
    assert rejoin_a.at_s == pytest.approx(started + UNIT_REBALANCE_S)
    assert not group.has(b)
    assert group.has(static.response.member_id)
    assert _heartbeat(env, coordinator, b, generation) is Errors.UNKNOWN_MEMBER_ID


def test_initial_delayed_join_is_capped_at_the_rebalance_timeout():
    """shouldDelayRebalanceUptoRebalanceTimeout: rebalance timeout = 2 × the initial delay; a
    member joining after the first delay does not push the first generation past it."""
    env, coordinator = _unit_coordinator()
    rebalance_s = 2 * UNIT_DELAY_MS / 1000
    first = _join(env, coordinator, instance="i-1", rebalance_s=rebalance_s)
    second = _join(env, coordinator, instance="i-2", rebalance_s=rebalance_s)
    env.run(until=(UNIT_DELAY_MS + 1) / 1000)
    third = _join(env, coordinator, instance="i-3", rebalance_s=rebalance_s)
    env.run(until=rebalance_s - 0.0005)
    assert first.response is second.response is third.response is None
    env.run(until=rebalance_s + 0.0005)
    for answer in (first, second, third):
        assert answer.error is Errors.NONE
        assert answer.at_s == pytest.approx(rebalance_s)


def test_initial_delayed_join_extends_by_integer_milliseconds(monkeypatch):
    """InitialDelayedJoin counts in integer ms (``remainingMs != 0``): with a rebalance timeout of
    352 ms and a delay of 88 ms, members arriving in every window extend it exactly 3 times
    (4 × 88 = 352); float seconds leave a remainder of ~1e-17 s and extend once more."""
    env, coordinator = _unit_coordinator(**{"group.initial.rebalance.delay.ms": 88})
    ops = []
    watch = GroupCoordinator._watch_join
    monkeypatch.setattr(
        GroupCoordinator, "_watch_join", lambda self, op: (ops.append(op), watch(self, op))
    )
    answers = [_join(env, coordinator, instance="i-0", rebalance_s=0.352)]
    for i in range(1, 5):
        answers.append(_join(env, coordinator, instance=f"i-{i}", rebalance_s=0.352))
        env.run(until=i * 0.088 - 0.001)
    env.run(until=0.352 + 0.001)
    assert [op.delay_ms for op in ops] == [88, 88, 88, 88]
    assert all(a.error is Errors.NONE for a in answers)
    assert answers[0].at_s == pytest.approx(0.352)


def test_rebalance_times_out_when_sync_request_is_not_received():
    """testRebalanceTimesOutWhenSyncRequestIsNotReceived: no member sends SyncGroup; heartbeats
    do not help; after the rebalance timeout (DelayedSync) they are all removed."""
    env, coordinator = _unit_coordinator()
    session_s = UNIT_REBALANCE_S * 2  # sessions outlive the rebalance timeout
    joins = [_dynamic_join(env, coordinator, session_s=session_s) for _ in range(3)]
    env.run(until=2 * UNIT_DELAY_MS / 1000 + 0.001)
    completed = env.now
    generation = joins[0][1].response.generation_id
    env.run(until=completed + UNIT_REBALANCE_S / 2)
    assert all(_heartbeat(env, coordinator, m, generation) is Errors.NONE for m, _ in joins)
    env.run(until=completed + UNIT_REBALANCE_S + 0.001)
    for member_id, _ in joins:
        assert _heartbeat(env, coordinator, member_id, generation) is Errors.UNKNOWN_MEMBER_ID


def test_dynamic_members_join_group_with_max_size_and_required_known_member():
    """testDynamicMembersJoinGroupWithMaxSizeAndRequiredKnownMember: group.max.size + 1 members
    join (KIP-394): group.max.size of them are accepted, the others get GROUP_MAX_SIZE_REACHED."""
    max_size = 2
    env, coordinator = _unit_coordinator(**{"group.max.size": max_size})
    firsts = [_join(env, coordinator) for _ in range(max_size + 1)]
    ids = [a.response.member_id for a in firsts]
    seconds = [_join(env, coordinator, m) for m in ids]
    env.run(until=2 * (UNIT_DELAY_MS + 1) / 1000)
    errors = [a.error for a in seconds]
    assert errors.count(Errors.NONE) == max_size
    assert errors.count(Errors.GROUP_MAX_SIZE_REACHED) == 1


def test_commit_offset_in_completing_rebalance():
    """testCommitOffsetInCompletingRebalance: a member of the new generation commits before the
    leader's SyncGroup: REBALANCE_IN_PROGRESS."""
    env, coordinator = _unit_coordinator()
    member_id, joined = _dynamic_join(env, coordinator)
    env.run(until=UNIT_DELAY_MS / 1000 + 0.001)
    assert joined.error is Errors.NONE
    assert coordinator.manager.groups["g"].state is GroupState.COMPLETING_REBALANCE
    answer = _Answer(env)
    request = OffsetCommitRequest(
        "g", joined.response.generation_id, member_id, None, {TP0: OffsetAndMetadata(5)}
    )
    coordinator.handle_offset_commit(request, answer)
    assert answer.response.errors == {TP0: Errors.REBALANCE_IN_PROGRESS}


def test_commit_offset_with_leader_epoch_round_trips():
    """GroupMetadataManagerTest.testCommitOffset / GroupCoordinatorTest (leaderEpoch): the
    committed leader epoch is stored with the offset and OffsetFetch answers both; a partition
    without a commit answers NO_OFFSET."""
    env, coordinator = _unit_coordinator()
    answer = _Answer(env)
    offsets = {TP0: OffsetAndMetadata(5, 3)}
    coordinator.handle_offset_commit(
        OffsetCommitRequest("g", -1, UNKNOWN_MEMBER_ID, None, offsets), answer
    )
    assert answer.response.errors == {TP0: Errors.NONE}
    fetched = _Answer(env)
    coordinator.handle_offset_fetch(OffsetFetchRequest("g", [TP0, ("t", 1)]), fetched)
    assert fetched.response.offsets == {
        TP0: (OffsetAndMetadata(5, 3), Errors.NONE),
        ("t", 1): (NO_OFFSET, Errors.NONE),
    }


def test_prepare_rebalance_clears_the_pending_sync_members():
    """GroupCoordinator.prepareRebalance → removeSyncExpiration: a rebalance that starts in
    CompletingRebalance forgets who owed a SyncGroup (and cancels the DelayedSync)."""
    env, coordinator = _unit_coordinator()
    joins = [_dynamic_join(env, coordinator) for _ in range(2)]
    env.run(until=2 * UNIT_DELAY_MS / 1000 + 0.001)
    group = coordinator.manager.groups["g"]
    assert group.state is GroupState.COMPLETING_REBALANCE and group.pending_sync_members
    _dynamic_join(env, coordinator)  # a new member: back to PreparingRebalance
    assert group.state is GroupState.PREPARING_REBALANCE
    assert not group.pending_sync_members
    assert len(joins) == 2 and group.has_received_sync_from_all_members()


def test_paused_coordinator_expires_no_member_until_it_resumes():
    """A paused broker runs no timers: sessions that end during the pause expire at resume."""
    env, coordinator = _unit_coordinator()
    member_id, joined = _dynamic_join(env, coordinator)
    env.run(until=UNIT_DELAY_MS / 1000 + 0.001)
    generation = joined.response.generation_id
    _sync(env, coordinator, member_id, generation, {member_id: []})
    group = coordinator.manager.groups["g"]
    coordinator.pause()
    resume_at = env.now + 3 * UNIT_SESSION_S
    env.run(until=resume_at)
    assert group.has(member_id) and group.state is GroupState.STABLE
    coordinator.resume()
    assert not group.has(member_id)


# ---------------------------------------------------------------- member timers, close, commits


def test_heartbeat_timers_start_when_the_join_is_answered(monkeypatch):
    """HeartbeatThread.enable() → heartbeat.resetTimeouts(): a rejoin parked longer than
    session.timeout.ms (the others process a 4 s poll first) does not make the member give up
    on its coordinator when the answer comes, and each member's first heartbeat after a join
    goes HEARTBEAT after the JoinGroup answer, not at once."""
    unknown, joined, beats = [], [], []
    mark = AbstractCoordinator.mark_coordinator_unknown
    sync = AbstractCoordinator._send_sync_group
    send_heartbeat = AbstractCoordinator._send_heartbeat

    def marking(self):
        if self.coordinator is not None:
            unknown.append((self.env.now, self.name))
        mark(self)

    def syncing(self, assignments, future):  # right after a successful JoinGroup answer
        joined.append((self.env.now, self.name))
        sync(self, assignments, future)

    def beating(self):
        beats.append((self.env.now, self.name))
        send_heartbeat(self)

    monkeypatch.setattr(AbstractCoordinator, "mark_coordinator_unknown", marking)
    monkeypatch.setattr(AbstractCoordinator, "_send_sync_group", syncing)
    monkeypatch.setattr(AbstractCoordinator, "_send_heartbeat", beating)
    processing_ms = 8.0
    assert 500 * processing_ms / 1000 > SESSION  # the rejoin waits longer than a session
    d = _scenario(
        [{"kind": "add_consumer", "at_s": 4.0, "group": "g"}], duration_s=12.0,
        processing_ms=processing_ms,
        consumer={"max.poll.interval.ms": 10000, "max.poll.records": 500},
    )  # fmt: skip
    _, r = _run(d)
    assert unknown == []
    assert len(_events(r, "rebalance_end")) >= 2
    assert len(joined) >= 5  # 2 members join, then 3 rejoin
    for at, name in joined:
        after = [t for t, n in beats if n == name and t > at]
        assert after, name
        assert min(after) >= at + HEARTBEAT - 1e-9, (name, at, min(after))


def test_paused_coordinator_broker_expires_sessions_only_at_resume():
    """Broker.pause stops the group coordinator's timers too (as ReplicaManager's): the members'
    sessions end during the pause, but nobody is removed before the broker resumes."""
    pause_at, pause_s = 4.0, 2 * SESSION
    d = _scenario(
        [], duration_s=12.0, broker={"zookeeper.session.timeout.ms": int(3 * pause_s * 1000)}
    )  # the ZooKeeper session outlives the pause: the coordinator stays where it is
    world = World(Scenario.from_dict(d), check_invariants=True)
    world.start()
    world.advance(pause_at)
    coordinator = world.leader_of((GROUP_METADATA_TOPIC, partition_for("g", 50)))
    world.faults.pause(coordinator, pause_s)
    world.run()
    r = world.results()
    starts = _events(r, "rebalance_start")
    later = starts[starts["time_s"] > pause_at]
    assert len(later) >= 1
    assert later["time_s"].min() >= pause_at + pause_s
    assert world.leader_of((GROUP_METADATA_TOPIC, partition_for("g", 50))) == coordinator
    assert r.consumed["polled_s"].max() > pause_at + pause_s + SESSION


@pytest.mark.parametrize("seed", SEEDS)
def test_close_gives_up_after_the_request_timeout(seed):
    """close() runs under min(30 s, request.timeout.ms) (ClassicKafkaConsumer.close), not
    default.api.timeout.ms: with its coordinator out of reach the closing member retries its
    commit until then and stops."""
    request_timeout = 1.0  # the scenario's consumer request.timeout.ms, s
    d = _scenario([], seed=seed, duration_s=8.0)
    world = World(Scenario.from_dict(d))
    world.start()
    world.advance(4.0)
    member = next(c for c, _ in world.consumers if c.name == "g-1")
    coordinator = member.coordinator.coordinator
    world.net.cut(member.name, coordinator)
    world.faults.remove_consumer("g", 1)
    world.advance(4.0 + request_timeout - RTT)
    assert not member.stopped
    world.advance(4.0 + request_timeout + POLL_PROCESSING_S + RTT)
    assert member.stopped


def test_auto_commit_every_interval_holds_the_polled_positions(monkeypatch):
    """enable.auto.commit: every AUTO_COMMIT (checked by poll(), which wakes for it; a poll's
    processing may delay it) each member commits the positions after the records poll() has
    returned, and the coordinator stores them."""
    sent = []
    send = ConsumerCoordinator.send_offset_commit

    def sending(self, offsets):
        sent.append((self.env.now, self.name, dict(offsets)))
        return send(self, offsets)

    monkeypatch.setattr(ConsumerCoordinator, "send_offset_commit", sending)
    world, r = _run(_scenario([], duration_s=8.0))
    c = r.consumed
    first_assign = min(t for t, _, _ in _assignments(r))
    for name in ("g-0", "g-1"):
        times = [t for t, n, _ in sent if n == name]
        assert len(times) >= 6
        gaps = [b - a for a, b in zip(times, times[1:], strict=False)]
        assert all(AUTO_COMMIT - 1e-9 <= g <= AUTO_COMMIT + POLL_PROCESSING_S for g in gaps), gaps
        assert times[0] <= first_assign + AUTO_COMMIT + POLL_PROCESSING_S
        for at, n, offsets in sent:
            if n != name:
                continue
            mine = c[(c["member"] == name) & (c["polled_s"] <= at)]
            for (_, p), (offset, _) in offsets.items():
                rows = mine[mine["partition"] == p]
                ends = set(rows["base_offset"] + rows["count"])
                assert offset in ends or (offset == 0 and rows.empty), (name, at, p, offset)
                assert rows.empty or offset == max(ends)
    group = world.brokers[world.leader_of((GROUP_METADATA_TOPIC, partition_for("g", 50)))]
    stored = group.group_coordinator.manager.groups["g"].offsets
    last = {}
    for _, _, offsets in sent:
        last.update(offsets)
    assert stored == last


def _owners(r, before_s: float, after_s: float) -> dict[int, tuple[set, set]]:
    """Per partition: the members that polled it before ``before_s`` and after ``after_s``."""
    c = r.consumed
    early, late = c[c["polled_s"] < before_s], c[c["polled_s"] > after_s]
    return {
        p: (set(early.loc[early["partition"] == p, "member"]),
            set(late.loc[late["partition"] == p, "member"]))
        for p in range(6)
    }  # fmt: skip


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_cooperative_leaves_the_partitions_that_stay_unpaused(seed: int) -> None:
    """One member joins a stable group of 3 (6 partitions). Cooperative-sticky moves one
    partition to it in two rebalances and never pauses the other five: their longest pause
    is within one fetch wait and one poll's processing (fetch.max.wait.ms + max.poll.records x
    processing_ms). Eager revokes everything at each member's rejoin: every partition pauses
    from its owner's revocation (or the next record after it) to the owner's new assignment,
    the first member to rejoin waiting for the last. Neither counts the
    group's formation: one rebalance (eager) and two (cooperative), timed from their rows."""
    join_s = 5.0
    fault = [{"kind": "add_consumer", "at_s": join_s, "group": "g"}]
    bound_s = 0.5 + 500 * PROCESSING_MS / 1000  # consumer defaults: fetch.max.wait.ms 500
    for strategy, rebalances in (("cooperative-sticky", 2), ("range", 1)):
        _, r = _run(_scenario(fault, seed=seed, members=3, strategy=strategy, duration_s=12.0))
        summary = r.summary()
        assert summary["rebalances"] == rebalances
        ends = _events(r, "rebalance_end")
        after = ends[ends["generation"] > 1]
        assert summary["rebalance_time_s"] == pytest.approx(after["duration_s"].sum())
        settled_s = float(after["time_s"].max())
        owners = _owners(r, join_s, settled_s)
        pauses = r.pauses.set_index("partition")["max_pause_s"]
        if strategy == "cooperative-sticky":
            stayed = [p for p, (old, new) in owners.items() if old == new]
            assert len(stayed) == 5, owners  # 2, 2, 1 and the new member's 1
            assert all(pauses[p] <= bound_s for p in stayed), pauses
            moved = [p for p in range(6) if p not in stayed]
            assert all(pauses[p] > bound_s for p in moved), pauses
        else:
            revoked = _events(r, "partitions_revoked")
            assigned = _events(r, "partitions_assigned")
            acked = r.acked.merge(r.produced[["batch_id", "partition"]])
            for p, (old, _) in owners.items():
                (owner,) = old
                mine = (revoked["member"] == owner) & (revoked["time_s"] > join_s)
                t_revoked = revoked.loc[mine, "time_s"].min()
                again = (assigned["member"] == owner) & (assigned["time_s"] > t_revoked)
                t_assigned = assigned.loc[again, "time_s"].min()
                # records of p come at most this far apart (before the join): the pause may
                # begin that much after the revocation
                steady = acked.loc[
                    (acked["partition"] == p) & acked["done_s"].between(join_s - 2, join_s),
                    "done_s",
                ]
                gap_s = float(np.diff(np.sort(steady.to_numpy())).max())
                assert pauses[p] >= t_assigned - t_revoked - gap_s, (p, pauses[p])


def test_assignments_table_rows_are_the_members_assignments_and_what_moved():
    """The ``assignments`` table holds, per member, the partitions of each assignment (the
    partitions_assigned rows' lists) and, under cooperative-sticky, a revoked row for just the
    partitions that moved to the new member: the ownership spans of the kept ones run on."""
    from sim.timelines import ownership

    d = _scenario([{"kind": "add_consumer", "at_s": 4.0, "group": "g"}],
                  strategy="cooperative-sticky")  # fmt: skip
    _, r = _run(d)
    table = r.assignments
    assigned = table[table["action"] == "assigned"]
    got = [
        (t, member, {f"{tp}-{p}" for tp, p in zip(rows.topic, rows.partition, strict=True)})
        for (t, member), rows in assigned.groupby(["time_s", "member"], sort=True)
    ]
    want = sorted((t, n, parts) for t, n, parts in _assignments(r) if parts)
    assert [(t, n, sorted(p)) for t, n, p in got] == [(t, n, sorted(p)) for t, n, p in want]
    revoked = table[table["action"] == "revoked"]
    moved = set(revoked["partition"])
    assert moved and set(revoked["member"]) <= {"g-0", "g-1"}
    assert moved <= set(assigned.loc[assigned["member"] == "g-2", "partition"])
    spans = ownership(r)
    kept = spans[(spans["start_s"] < 4.0) & ~spans["partition"].isin(moved)]
    assert len(kept) == 6 - len(moved) and (kept["end_s"] == d["duration_s"]).all()
