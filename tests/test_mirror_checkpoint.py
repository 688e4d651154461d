"""MirrorMaker 2's offset syncs and checkpoints across clusters (sim.mirror.offset_sync_writer,
sim.mirror.mirror_checkpoint_task), and consumer group failover. Claims hold for any seed
(hypothesis draws it); each run is capped in events."""

from __future__ import annotations

import copy

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sim.results import Results
from sim.scenario import Scenario, ScenarioError
from tests.test_multi_cluster import _run

SEEDS = st.integers(0, 2**32 - 1)
EARLIEST = {"auto.offset.reset": "earliest"}
INTERVAL_S = 2  # emit.checkpoints.interval.seconds in these tests (default 60)

CHECKPOINTED = {
    "name": "checkpointed",
    "duration_s": 12.0,
    "clusters": [{"name": "east", "brokers": 3}, {"name": "west", "brokers": 3}],
    "topics": [{"name": "orders", "cluster": "east", "partitions": 3, "replication_factor": 3}],
    "producers": [
        {"name": "app", "topic": "orders", "cluster": "east", "rate_msgs_s": 300, "stop_s": 9},
    ],
    "consumer_groups": [
        {"group_id": "billing", "topics": ["orders"], "cluster": "east",
         "config": {**EARLIEST, "auto.commit.interval.ms": 1000}},
    ],
    "mirrors": [{"source": "east", "target": "west",
                 "config": {"emit.checkpoints.interval.seconds": INTERVAL_S,
                            "offset.lag.max": 50}}],
}  # fmt: skip


def remote_to_source(r: Results, remote: str) -> dict[int, np.ndarray]:
    """Per partition of ``remote``'s final log: the source offset of each remote offset."""
    log = r.log[r.log["topic"] == remote][["partition", "base_offset", "batch_id"]]
    runs = log.merge(r.mirrored_batches, on="batch_id")
    out: dict[int, np.ndarray] = {}
    for partition, rows in runs.groupby("partition"):
        end = int((rows["base_offset"] + rows["index"] + rows["count"]).max())
        mapping = np.full(end, -1, dtype=np.int64)
        for row in rows.itertuples():
            start = row.base_offset + row.index
            mapping[start : start + row.count] = row.source_offset + np.arange(row.count)
        out[int(partition)] = mapping
    return out


@settings(max_examples=3, deadline=None)
@given(seed=SEEDS)
def test_checkpoints_never_skip_a_record_and_move_forward_every_interval(seed):
    """Each checkpoint's downstream offset holds a source record at or below the group's
    committed offset (translateDownstream never skips one), so a group resuming there re-reads
    at most upstream - that record's source offset - 1 records; every checkpoint is emitted an
    interval (emit.checkpoints.interval.seconds) after the previous poll, and per partition
    checkpoints only move forward (checkpointIsMoreRecent)."""
    _check_checkpoints(_run(CHECKPOINTED, seed))


def test_offset_syncs_in_the_target_give_the_same_kind_of_checkpoints():
    """offset-syncs.topic.location target: the syncs stay in west (a LAN round trip), the
    checkpoints hold as with the syncs in east."""
    data = copy.deepcopy(CHECKPOINTED)
    data["mirrors"][0]["config"]["offset-syncs.topic.location"] = "target"
    _check_checkpoints(_run(data, 5))


def _check_checkpoints(r: Results) -> None:
    checkpoints = r.checkpoints
    assert len(checkpoints) > 0
    mapping = remote_to_source(r, "west/east.orders")
    for row in checkpoints.itertuples():
        source = mapping[row.partition]
        resumed = source[row.downstream_offset] if row.downstream_offset < len(source) else None
        if resumed is not None:
            assert resumed <= row.upstream_offset
        # every source record from upstream on is at or after the downstream offset
        before = source[: row.downstream_offset]
        assert (before < row.upstream_offset).all()
    for _, rows in checkpoints.groupby("partition"):
        assert (np.diff(rows["downstream_offset"].to_numpy()) > 0).all()
    polls = np.unique(checkpoints["time_s"].to_numpy())
    assert (np.diff(polls) >= INTERVAL_S).all()


OUTAGE_S = 8.0
WAN_RTT_S = 0.06  # ScenarioSpec.wan's default rtt_ms
COMMIT_S = 1.0  # the source group's auto.commit.interval.ms
FETCH_WAIT_S = 0.5  # fetch.max.wait.ms default
FAILOVER = {
    **CHECKPOINTED,
    "duration_s": 16.0,
    "producers": [{"name": "app", "topic": "orders", "cluster": "east", "rate_msgs_s": 300}],
    "faults": [
        {"kind": "cluster_outage", "cluster": "east", "at_s": OUTAGE_S},
        {"kind": "failover", "group": "billing", "to": "west", "at_s": OUTAGE_S},
    ],
}


def _not_acked_before(r: Results, topic: str, partition: int, before_s: float) -> int:
    """Records of ``topic``'s partition in its final log not acknowledged before
    ``before_s``."""
    log = r.log[(r.log["topic"] == topic) & (r.log["partition"] == partition)]
    ok = r.acked[(r.acked["base_offset"] >= 0) & (r.acked["done_s"] < before_s)]
    return int(log[~log["batch_id"].isin(ok["batch_id"])]["count"].sum())


@settings(max_examples=4, deadline=None)
@given(seed=SEEDS)
def test_after_failover_the_group_misses_nothing_mirrored_and_rereads_what_followed_its_checkpoint(
    seed,
):
    """Must show: east is lost at OUTAGE_S and billing fails over to west (checkpoints every
    INTERVAL_S, commits every COMMIT_S): see :func:`_check_failover`."""
    _check_failover(_run(FAILOVER, seed), OUTAGE_S, INTERVAL_S, COMMIT_S)


DEFAULT_OUTAGE_S = 64.0
AT_DEFAULTS = {
    **FAILOVER,
    "duration_s": 70.0,
    "producers": [{"name": "app", "topic": "orders", "cluster": "east", "rate_msgs_s": 30}],
    "consumer_groups": [{"group_id": "billing", "topics": ["orders"], "cluster": "east"}],
    "mirrors": [{"source": "east", "target": "west"}],
    "faults": [
        {"kind": "cluster_outage", "cluster": "east", "at_s": DEFAULT_OUTAGE_S},
        {"kind": "failover", "group": "billing", "to": "west", "at_s": DEFAULT_OUTAGE_S},
    ],
}


@settings(max_examples=2, deadline=None)
@given(seed=SEEDS)
def test_the_failover_claims_hold_at_the_default_intervals(seed):
    """The same at MirrorMaker's and the consumer's defaults: emit.checkpoints.interval.seconds
    60, offset.lag.max 100, auto.commit.interval.ms 5,000 (a slow producer keeps it short)."""
    _check_failover(_run(AT_DEFAULTS, seed), DEFAULT_OUTAGE_S, 60.0, 5.0)


def _check_failover(r: Results, outage_s: float, interval_s: float, commit_s: float) -> None:
    """billing resumes at its last checkpoint, taken at most ``interval_s``
    (emit.checkpoints.interval.seconds) + one WAN round trip (the OffsetFetch) before
    ``outage_s``; it misses no record west holds (unread_mirrored 0) and never resumes past its
    checkpointed offset C (the translation never skips). What it reads again is at most the
    records after C plus the translation's error E = C - the source offset it resumed at
    (OffsetSyncStore: the latest sync at or below C, one past it); and C covers every record
    acknowledged before the checkpoint less one commit interval ``commit_s``, two fetch waits and
    a WAN round trip (auto commits run in poll(), polls at least every fetch.max.wait.ms), so
    the records after C are at most those not acknowledged by then."""
    audit = r.failover_audit.set_index("partition")
    assert len(audit) == 3
    assert (audit["unread_mirrored"] == 0).all()
    checkpoints = r.checkpoints[r.checkpoints["time_s"] <= outage_s]
    last_s = checkpoints["time_s"].max()
    assert outage_s - last_s <= interval_s + WAN_RTT_S
    resumed = r.failovers.set_index("partition")
    assert (resumed["origin"] == "checkpoint").all()
    mapping = remote_to_source(r, "west/east.orders")
    window_s = last_s - commit_s - 2 * FETCH_WAIT_S - WAN_RTT_S
    for partition, row in audit.iterrows():
        last = checkpoints[checkpoints["partition"] == partition].iloc[-1]
        committed = int(last["upstream_offset"])
        assert int(resumed.loc[partition, "offset"]) == int(last["downstream_offset"])
        source = mapping[partition]
        downstream = int(last["downstream_offset"])
        start = int(source[downstream]) if downstream < len(source) else committed
        assert start <= committed  # never past the checkpoint
        after = _not_acked_before(r, "east/orders", partition, window_s)
        assert row["reread"] <= after + (committed - start)
    summary = r.summary()
    assert summary["failover_reread_messages"] == audit["reread"].sum()
    assert summary["failover_unread_mirrored_messages"] == 0


@pytest.mark.parametrize(
    ("fault", "field", "says"),
    [
        ({"group": "nobody", "to": "west"}, "faults.0.group", "nobody"),
        ({"group": "billing", "to": "north"}, "faults.0.to", "north"),
        ({"group": "billing", "to": "east"}, "faults.0.to", "already"),
    ],
)
def test_a_failover_names_a_group_and_another_cluster(fault, field, says):
    data = {**CHECKPOINTED, "faults": [{"kind": "failover", "at_s": 5, **fault}]}
    with pytest.raises(ScenarioError, match=says) as error:
        Scenario.from_dict(data)
    assert error.value.path == field


def test_a_failover_needs_a_mirror_of_each_topic_of_the_group():
    data = {
        **CHECKPOINTED,
        "mirrors": [{"source": "east", "target": "west", "topics": "x.*"}],
        "faults": [{"kind": "failover", "at_s": 5, "group": "billing", "to": "west"}],
    }
    with pytest.raises(ScenarioError, match="no mirror copies east/orders"):
        Scenario.from_dict(data)


@settings(max_examples=2, deadline=None)
@given(seed=SEEDS)
def test_with_sync_group_offsets_the_group_resumes_from_offsets_already_committed_in_the_target(
    seed,
):
    """sync.group.offsets.enabled: every sync.group.offsets.interval.seconds (1 s here) the
    checkpoints are committed in west for billing (not a group there yet: all of them,
    syncGroupOffset). Its first commit in east comes by group.initial.rebalance.delay.ms (3 s)
    + twice auto.commit.interval.ms (1 s; one with nothing consumed yet is skipped), so the
    checkpoint at 3 intervals (6.18 s) has it and the sync at 7 s commits it in west: at the
    failover (8 s) billing resumes from offsets committed there, which checkpoints gave, and
    still misses nothing west holds."""
    data = copy.deepcopy(FAILOVER)
    data["mirrors"][0]["config"].update(
        {"sync.group.offsets.enabled": True, "sync.group.offsets.interval.seconds": 1}
    )
    r = _run(data, seed)
    resumed = r.failovers.set_index("partition")
    assert (resumed["origin"] == "committed").all()
    for partition, row in resumed.iterrows():
        given_ = r.checkpoints[
            (r.checkpoints["partition"] == partition) & (r.checkpoints["time_s"] <= OUTAGE_S)
        ]
        assert row["offset"] in set(given_["downstream_offset"])
    assert r.summary()["failover_unread_mirrored_messages"] == 0


PLANNED_S = 7.0
PLANNED = {
    **FAILOVER,
    "faults": [{"kind": "failover", "group": "billing", "to": "west", "at_s": PLANNED_S}],
}


@settings(max_examples=2, deadline=None)
@given(seed=SEEDS)
def test_a_planned_failover_closes_the_members_in_the_source_and_misses_nothing(seed):
    """With east up, billing's member closes there (remove_consumer: it commits and leaves),
    reads nothing more in east after the failover's close completes, resumes in west from its
    checkpoints and, with the producer still writing to east, reads in west every record
    mirrored after them: none is unread that west holds. A failover is over once made (no
    fault left open): the run's liveness is checked."""
    r = _run(PLANNED, seed)
    items = set(r.liveness["item"])
    assert "west/group billing" in items and "east/group billing" not in items  # it left east
    rows = r.events[r.events["fault"] == "remove_consumer"]
    assert list(rows["time_s"]) == [PLANNED_S]
    east = r.consumed[(r.consumed["group"] == "billing") & (r.consumed["topic"] == "east/orders")]
    assert east["polled_s"].max() <= PLANNED_S
    west = r.consumed[r.consumed["topic"] == "west/east.orders"]
    assert west["polled_s"].min() > PLANNED_S
    assert r.summary()["failover_unread_mirrored_messages"] == 0
