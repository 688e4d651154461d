"""MirrorMaker 2's offset syncs and checkpoints across clusters (sim.mirror.offset_sync_writer,
sim.mirror.mirror_checkpoint_task), and consumer group failover. Claims hold for any seed
(hypothesis draws it); each run is capped in events."""

from __future__ import annotations

import copy

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from sim.multi_cluster import MultiClusterWorld
from sim.results import Results
from sim.scenario import Scenario

EVENT_CAP = 3_000_000
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


def _run(data: dict, seed: int) -> Results:
    world = MultiClusterWorld(Scenario.from_dict({**copy.deepcopy(data), "seed": seed}))
    world.env.event_limit = EVENT_CAP
    world.run()
    return world.results()


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
    r = _run(CHECKPOINTED, seed)
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
