"""A MirrorSourceTask's offset syncs (≈ Kafka 3.9 ``OffsetSyncWriter`` and
``MirrorSourceTask.commitRecord`` / ``commit``).

Each record acknowledged by the target (``commitRecord``) updates its source partition's
``PartitionState``: a sync (upstream offset, downstream offset) is due at once when it is the
first of the task's life, when the remote offset is ``offset.lag.max`` or more past the last
sync + 1, when an upstream offset was skipped or the downstream offset went back; otherwise the
sync waits ("delayed") until the task's next ``commit()``, which Connect's
SourceTaskOffsetCommitter calls every ``offset.flush.interval.ms``. Due syncs go out while fewer
than ``MAX_OUTSTANDING_OFFSET_SYNCS`` are unacknowledged; the rest wait for a permit or the next
commit. ``send(sync, done)`` is the offset producer's write; it calls ``done()`` when the write
is acknowledged (or fails), releasing the permit.
"""

from __future__ import annotations

from collections.abc import Callable

from sim.mirror.offset_sync_store import OffsetSync
from sim.protocol import TopicPartition

#: OffsetSyncWriter.MAX_OUTSTANDING_OFFSET_SYNCS
MAX_OUTSTANDING_OFFSET_SYNCS = 10


class PartitionState:
    """OffsetSyncWriter.PartitionState: what decides whether a sync is due."""

    __slots__ = (
        "last_sync_downstream_offset",
        "max_offset_lag",
        "previous_downstream_offset",
        "previous_upstream_offset",
        "should_sync_offsets",
    )

    def __init__(self, max_offset_lag: int) -> None:
        self.previous_upstream_offset = -1
        self.previous_downstream_offset = -1
        self.last_sync_downstream_offset = -1
        self.max_offset_lag = max_offset_lag
        self.should_sync_offsets = False

    def update(self, upstream_offset: int, downstream_offset: int) -> bool:
        """update: whether a sync should be emitted now."""
        no_previous_sync = self.last_sync_downstream_offset == -1
        too_stale = (
            downstream_offset - (self.last_sync_downstream_offset + 1) >= self.max_offset_lag
        )
        skipped_upstream_record = upstream_offset - self.previous_upstream_offset != 1
        truncated_downstream = downstream_offset < self.previous_downstream_offset
        if no_previous_sync or too_stale or skipped_upstream_record or truncated_downstream:
            self.last_sync_downstream_offset = downstream_offset
            self.should_sync_offsets = True
        self.previous_upstream_offset = upstream_offset
        self.previous_downstream_offset = downstream_offset
        return self.should_sync_offsets

    def reset(self) -> None:
        self.should_sync_offsets = False


class OffsetSyncWriter:
    """One task's syncs: ``send(sync, done)`` writes one to the offset-syncs topic."""

    def __init__(
        self, max_offset_lag: int, send: Callable[[OffsetSync, Callable[[], None]], None]
    ) -> None:
        self.max_offset_lag = max_offset_lag
        self.send = send
        self.partition_states: dict[TopicPartition, PartitionState] = {}
        self.delayed_offset_syncs: dict[TopicPartition, OffsetSync] = {}  # insertion ordered
        self.pending_offset_syncs: dict[TopicPartition, OffsetSync] = {}
        self.permits = MAX_OUTSTANDING_OFFSET_SYNCS

    def commit_runs(self, runs, base_offset: int) -> None:
        """MirrorSourceTask.commitRecord for each record of an acknowledged batch: ``runs``
        (source topic, partition, first offset, count) in batch order from remote offset
        ``base_offset``, each followed by firePendingOffsetSyncs."""
        downstream = base_offset
        for topic, partition, first, count in runs:
            tp = (topic, partition)
            for upstream in range(first, first + count):
                self.maybe_queue_offset_syncs(tp, upstream, downstream)
                if self.pending_offset_syncs:
                    self.fire_pending_offset_syncs()
                downstream += 1

    def maybe_queue_offset_syncs(self, tp: TopicPartition, upstream: int, downstream: int) -> None:
        """maybeQueueOffsetSyncs."""
        state = self.partition_states.get(tp)
        if state is None:
            state = self.partition_states[tp] = PartitionState(self.max_offset_lag)
        sync = OffsetSync(tp, upstream, downstream)
        if state.update(upstream, downstream):
            self.delayed_offset_syncs.pop(tp, None)
            self.pending_offset_syncs[tp] = sync
            state.reset()
        else:
            self.delayed_offset_syncs[tp] = sync

    def fire_pending_offset_syncs(self) -> None:
        """firePendingOffsetSyncs: send pending syncs, oldest first, while permits last."""
        while self.pending_offset_syncs and self.permits > 0:
            tp = next(iter(self.pending_offset_syncs))
            sync = self.pending_offset_syncs.pop(tp)
            self.permits -= 1
            self.send(sync, self._release)

    def promote_delayed_offset_syncs(self) -> None:
        """promoteDelayedOffsetSyncs."""
        self.pending_offset_syncs.update(self.delayed_offset_syncs)
        self.delayed_offset_syncs.clear()

    def commit(self) -> None:
        """MirrorSourceTask.commit: promote the delayed syncs and fire."""
        self.promote_delayed_offset_syncs()
        self.fire_pending_offset_syncs()

    def _release(self) -> None:
        self.permits += 1
