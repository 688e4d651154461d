"""What a MirrorCheckpointTask knows of the offset syncs (≈ Kafka 3.9 ``OffsetSyncStore``).

Per source partition the store keeps ``SYNCS_PER_PARTITION`` (64) offset syncs, the latest
first, laid out exponentially (KAFKA-14666): a sync at index ``j`` is at most ``2^j - 1``
upstream offsets older than the latest (invariant B) and syncs are spread out (invariant C), so
recent offsets translate precisely and old ones coarsely. ``translate_downstream`` follows the
latest sync at or below the group's offset: that sync's downstream offset when they are equal,
one past it otherwise (the consumer may re-read what came between; it never skips a record),
-1 when every sync is above the offset, None when no sync is known (or the store has not read
its topic to the end yet).

The port is line for line, Java's ``long`` arithmetic included (bounds that overflow are
negative there: :func:`_long`) and its identity comparisons of syncs (``is``).
"""

from __future__ import annotations

from typing import NamedTuple

from sim.protocol import TopicPartition

#: OffsetSyncStore.SYNCS_PER_PARTITION (Long.SIZE): one sync for each bit of the offset.
SYNCS_PER_PARTITION = 64


class OffsetSync(NamedTuple):
    """OffsetSync: ``upstream`` offset of the source partition written at ``downstream`` offset
    of the remote partition."""

    topic_partition: TopicPartition
    upstream: int
    downstream: int


def _long(value: int) -> int:
    """``value`` as Java's 64-bit ``long`` arithmetic leaves it (two's complement wrap)."""
    return (value + 2**63) % 2**64 - 2**63


class OffsetSyncStore:
    """The syncs read so far, per source partition (OffsetSyncStore.offsetSyncs)."""

    def __init__(self) -> None:
        self.offset_syncs: dict[TopicPartition, list[OffsetSync]] = {}
        self.initialization_must_read_to_end = True
        self.read_to_end = False

    def start(self, initialization_must_read_to_end: bool, existing=()) -> None:
        """start: read the syncs already in the topic (``existing``, oldest first), then
        translate offsets from now on."""
        self.initialization_must_read_to_end = initialization_must_read_to_end
        for sync in existing:
            self.handle_record(sync)
        self.read_to_end = True

    def translate_downstream(self, tp: TopicPartition, upstream_offset: int) -> int | None:
        """translateDownstream: the remote offset a group at ``upstream_offset`` of ``tp``
        resumes from; -1 when it is too old to translate; None when it cannot be translated
        (no sync for ``tp``, or the initial read is not over)."""
        if not self.read_to_end:
            return None
        syncs = self.offset_syncs.get(tp)
        if syncs is None:
            return None
        sync = _lookup_latest_sync(syncs, upstream_offset)
        if sync.upstream > upstream_offset:
            return -1
        upstream_step = 0 if upstream_offset == sync.upstream else 1
        return sync.downstream + upstream_step

    def handle_record(self, sync: OffsetSync) -> None:
        """handleRecord: one sync read from the offset-syncs topic."""
        syncs = self.offset_syncs.get(sync.topic_partition)
        if syncs is None:
            self.offset_syncs[sync.topic_partition] = [sync] * SYNCS_PER_PARTITION
        else:
            mutable = list(syncs)
            self._update_sync_array(mutable, syncs, sync)
            self.offset_syncs[sync.topic_partition] = mutable

    def sync_for(self, tp: TopicPartition, index: int) -> OffsetSync:
        """syncFor: the sync stored at ``index`` for ``tp``."""
        return self.offset_syncs[tp][index]

    def _update_sync_array(
        self, syncs: list[OffsetSync], original: list[OffsetSync], sync: OffsetSync
    ) -> None:
        """updateSyncArray: put ``sync`` first and repair invariants B and C behind it."""
        only_load_last_offset = not self.read_to_end and self.initialization_must_read_to_end
        upstream_rewind = sync.upstream < syncs[0].upstream
        if only_load_last_offset or upstream_rewind:
            syncs[:] = [sync] * SYNCS_PER_PARTITION
            return
        replacement = sync
        replacement_index = 0
        syncs[0] = replacement
        for current in range(1, SYNCS_PER_PARTITION):
            previous = current - 1
            while True:
                old_value = original[replacement_index]
                is_recent = _invariant_b(syncs[previous], old_value, previous, current)
                separated_from_previous = _invariant_c(syncs[previous], old_value, previous)
                following = current + 1
                separated_from_next = following >= SYNCS_PER_PARTITION or _invariant_c(
                    old_value, syncs[following], current
                )
                next_replacement = replacement_index + 1
                duplicate = (
                    next_replacement < SYNCS_PER_PARTITION
                    and old_value is original[next_replacement]
                )
                promote = is_recent and separated_from_previous and separated_from_next
                if promote:
                    replacement = old_value
                skip_old_value = duplicate or not separated_from_previous
                if promote or skip_old_value:
                    replacement_index += 1
                if not (replacement_index < current and skip_old_value):
                    break
            if _invariant_b(syncs[previous], syncs[current], previous, current):
                break
            syncs[current] = replacement


def _invariant_b(i_sync: OffsetSync, j_sync: OffsetSync, i: int, j: int) -> bool:
    """invariantB: ``i_sync`` (index i) is at most 2^j - 2^i above ``j_sync`` (index j)."""
    bound = _long(j_sync.upstream + (1 << j) - (1 << i))
    return i_sync is j_sync or bound < 0 or i_sync.upstream <= bound


def _invariant_c(i_sync: OffsetSync, j_sync: OffsetSync, i: int) -> bool:
    """invariantC: ``i_sync`` is at least 2^max(i-2, 0) above ``j_sync``."""
    bound = _long(j_sync.upstream + (1 << max(i - 2, 0)))
    return i_sync is j_sync or (bound >= 0 and i_sync.upstream >= bound)


def _lookup_latest_sync(syncs: list[OffsetSync], upstream_offset: int) -> OffsetSync:
    """lookupLatestSync: the first (latest) sync at or below ``upstream_offset``, else the
    oldest."""
    for sync in syncs:
        if sync.upstream <= upstream_offset:
            return sync
    return syncs[-1]
