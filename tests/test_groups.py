"""Consumer groups: the coordinator's state machine (ported from Kafka's GroupMetadataTest and
GroupCoordinatorTest) and scenario runs of rebalances and the consumer faults.

Kafka's timeouts are shortened so runs stay short; each bound below is derived from them:
``INITIAL`` = group.initial.rebalance.delay.ms, ``SESSION`` = session.timeout.ms (the broker's
group.min.session.timeout.ms is lowered to allow it), ``HEARTBEAT`` = heartbeat.interval.ms,
``AUTO_COMMIT`` = auto.commit.interval.ms, ``SLACK`` = a few round trips, fetch waits and
one poll's processing (processing_ms × max.poll.records is kept far below it).
"""

from __future__ import annotations

import pandas as pd
import pytest

from sim.broker.group_metadata import GroupMetadata, GroupState, MemberMetadata
from sim.broker.group_metadata_manager import partition_for
from sim.protocol import GROUP_METADATA_TOPIC, Subscription
from sim.scenario import Scenario
from sim.world import World, rebalance_metrics

INITIAL = 0.2  # group.initial.rebalance.delay.ms, s
SESSION = 2.0  # session.timeout.ms, s
HEARTBEAT = 0.5  # heartbeat.interval.ms, s
AUTO_COMMIT = 1.0  # auto.commit.interval.ms, s
SLACK = 0.6  # s
SEEDS = [1, 2, 3]


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
    processing_ms: float = 0.05,
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
                "rate_msgs_s": 600,
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
    rows = _events(r, "partitions_assigned")
    out = []
    for row in rows.itertuples():
        assigned = _fields(row.detail)["assigned"]
        parts = set() if assigned == "-" else set(assigned.split(","))
        out.append((row.time_s, row.node, parts))
    return out


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
        assert end >= mine["base_offset"].max() - 200  # and it kept up to near the end


@pytest.mark.parametrize("seed", SEEDS)
def test_initial_delayed_join_extends_once_for_members_joining_together(seed):
    """Members starting together join within the first group.initial.rebalance.delay.ms, so it
    is extended once (InitialDelayedJoin): the first generation forms at about 2 × INITIAL,
    with every partition assigned exactly once."""
    _, r = _run(_scenario([], seed=seed, members=3, duration_s=3.0))
    ends = _events(r, "rebalance_end")
    assert len(ends) == 1
    assert 2 * INITIAL <= ends["time_s"][0] <= 2 * INITIAL + 0.05
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
    assert stop < resume <= end + 0.01
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
    c = r.consumed
    during = c[(c["polled_s"] > first) & (c["polled_s"] < last)]
    for node, parts in kept.items():
        mine = during[during["member"] == node]
        got = {f"t-{p}" for p in mine["partition"]}
        assert got & parts, f"{node} consumed none of its kept partitions during the rebalance"
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
    after = starts[starts["time_s"] > 4.0]["time_s"]
    assert len(after) == 1 and after.iloc[0] - 4.0 < 0.1
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


def test_member_not_polling_within_max_poll_interval_leaves_the_group():
    """A poll's records take longer to process (max.poll.records × processing_ms = 3 s) than
    max.poll.interval.ms (1 s): the heartbeat thread sends LeaveGroup at the poll timeout and the
    group rebalances, again and again."""
    d = _scenario(
        [], members=2, processing_ms=6.0, duration_s=8.0,
        consumer={"max.poll.interval.ms": 1000, "max.poll.records": 500},
    )  # fmt: skip
    _, r = _run(d)
    starts = _events(r, "rebalance_start")
    assert len(starts) >= 2
    first_assign = min(t for t, _, _ in _assignments(r))
    assert starts["time_s"].iloc[1] >= first_assign + 1.0 - 0.01
    assert any("left" in d for d in starts["detail"])


def test_coordinator_crash_the_group_moves_and_keeps_its_offsets():
    """The coordinator's broker crashes: the group finds the new leader of its __consumer_offsets
    partition, which loaded the group and its committed offsets from the replicated log, and
    consumption goes on without loss."""
    d = _scenario([], duration_s=10.0)
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
    assert all(manager.groups["g"].offsets[tp] >= off for tp, off in committed.items())
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
    ends = _events(r, "rebalance_end")
    assert summary["rebalances"] == len(_events(r, "rebalance_start")) == len(ends) >= 4
    durations = sum(float(_fields(x)["duration_s"]) for x in ends["detail"])
    assert summary["rebalance_time_s"] == pytest.approx(durations, abs=1e-5)
    assert rebalance_metrics(r.events, 20.0)["rebalances"] == summary["rebalances"]


def test_same_seed_same_group_events():
    d = _scenario([{"kind": "crash_consumer", "at_s": 3.0, "group": "g", "member": 0}])
    _, a = _run(d)
    _, b = _run(d)
    pd.testing.assert_frame_equal(a.events, b.events)
    pd.testing.assert_frame_equal(a.consumed, b.consumed)
