"""A replica's partition log (≈ Kafka's UnifiedLog with its LeaderEpochFileCache and
ProducerStateManager).

The log is a list of batches with dense offsets from the log start offset to the log end offset
(LEO). It keeps, as Kafka keeps beside the segments:
- the leader-epoch cache: (epoch, start offset) pairs, so a follower can find where its log
  diverges from a new leader's (KIP-101/279);
- producer state: per producer id its epoch and the last batches' sequence ranges of that epoch
  (Kafka retains 5), so a retried batch is recognised as a duplicate, an out-of-order one or one of
  an older epoch refused, and so a new leader has the state already, rebuilt from its own log;
- segments: the log rolls a new segment after ``segment.bytes`` (or ``segment.ms``); retention
  deletes whole old segments by ``retention.ms`` / ``retention.bytes``.
Offsets are record offsets; a batch covers ``base_offset .. base_offset + count - 1``.
"""

from __future__ import annotations

import bisect
import math
from collections import deque
from dataclasses import dataclass, field

from sim.protocol import Errors, LogEntry, RecordBatch, TopicPartition

#: Errors members bound once: a lookup on the Errors class costs ~0.1 µs in Python 3.11 (its
#: metaclass defines __getattr__), and these are tested per partition of every fetch or produce.
_NO_ERROR = Errors.NONE

#: Batches of sequence metadata kept per producer (ProducerStateEntry.NUM_BATCHES_TO_RETAIN).
NUM_BATCHES_TO_RETAIN = 5
NO_SEQUENCE = -1
#: The largest sequence number; the next one is 0 (ProducerAppendInfo.inSequence).
MAX_SEQUENCE = 2**31 - 1


@dataclass(slots=True)
class _Segment:
    """A log segment: where it starts, its size in bytes and when it was rolled (s)."""

    base_offset: int
    first_index: int
    size_bytes: int
    created_s: float
    last_append_s: float


@dataclass(slots=True)
class ProducerStateEntry:
    """One producer id's epoch and the last batches it appended in that epoch, as
    (first_seq, last_seq, base_offset) (≈ ProducerStateEntry)."""

    epoch: int
    batches: deque[tuple[int, int, int]] = field(
        default_factory=lambda: deque(maxlen=NUM_BATCHES_TO_RETAIN)
    )

    @property
    def last_seq(self) -> int:
        """Last sequence appended by this producer in its epoch."""
        return self.batches[-1][1] if self.batches else NO_SEQUENCE

    def find_duplicate(self, batch: RecordBatch) -> int | None:
        """Base offset of a retained batch of the same epoch with the same sequence range (a
        retry), else None (findDuplicateBatch)."""
        if batch.producer_epoch != self.epoch:
            return None
        base_sequence, last_sequence = batch.base_sequence, batch.last_sequence
        for first, last, base in self.batches:
            if first == base_sequence and last == last_sequence:
                return base
        return None

    def add(self, epoch: int, first_seq: int, last_seq: int, base_offset: int) -> None:
        """Record an appended batch; a batch of another epoch first forgets the old epoch's
        batches (addBatch with maybeUpdateProducerEpoch)."""
        if epoch != self.epoch:
            self.epoch = epoch
            self.batches.clear()
        self.batches.append((first_seq, last_seq, base_offset))


def in_sequence(last_seq: int, next_seq: int) -> bool:
    """Whether ``next_seq`` follows ``last_seq`` (ProducerAppendInfo.inSequence: 0 follows
    the largest sequence)."""
    return next_seq == last_seq + 1 or (next_seq == 0 and last_seq == MAX_SEQUENCE)


class PartitionLog:
    """One replica's log of one partition (≈ UnifiedLog).

    segment_bytes: roll size (``segment.bytes``). segment_s: roll age (``segment.ms`` / 1000).
    retention_s / retention_bytes: delete old segments (``retention.ms`` / 1000, -1 = never;
    ``retention.bytes``, -1 = unlimited). max_message_bytes: the largest record batch a leader
    appends, bytes on the wire (``max.message.bytes``, LogConfig.maxMessageSize; followers copy
    the leader's batches unchecked).
    """

    def __init__(
        self,
        tp: TopicPartition,
        *,
        segment_bytes: int,
        segment_s: float,
        retention_s: float,
        retention_bytes: int,
        max_message_bytes: int,
    ) -> None:
        self.tp = tp
        self.segment_bytes = segment_bytes
        self.segment_s = segment_s
        self.retention_s = retention_s
        self.retention_bytes = retention_bytes
        self.max_message_bytes = max_message_bytes
        self.entries: list[LogEntry] = []
        self._base_offsets: list[int] = []  # parallel to entries, for bisect
        # parallel to entries: this replica's disk position (sim.disk.Disk.position) when it
        # wrote each batch, for the page cache's age on reads
        self._positions: list[int] = []
        self._first = 0  # index of the first retained entry
        self.log_start_offset = 0
        self.log_end_offset = 0
        self.size_bytes = 0
        self.high_watermark = 0
        self.epochs: list[tuple[int, int]] = []  # (leader epoch, start offset), increasing
        self.producers: dict[int, ProducerStateEntry] = {}
        self._segments: list[_Segment] = []

    # ---------------------------------------------------------------- appends

    def check_producer(self, batch: RecordBatch) -> tuple[Errors, int]:
        """Idempotence check before a leader append (UnifiedLog.analyzeAndValidateProducerState:
        findDuplicateBatch, then ProducerAppendInfo.checkProducerEpoch and checkSequence).

        Returns (NONE, -1) to append, (NONE, base offset) for a duplicate of a retained batch of
        the same epoch (answered with the first append's offset, not appended again),
        (INVALID_PRODUCER_EPOCH, -1) for an epoch older than the producer's last, or
        (OUT_OF_ORDER_SEQUENCE_NUMBER, -1) for a sequence that does not follow the last one of
        the same epoch or a newer epoch not starting at 0. A producer id the log does not know
        accepts any sequence, as Kafka does when it has no state for it.
        """
        if batch.producer_id < 0:
            return _NO_ERROR, -1
        entry = self.producers.get(batch.producer_id)
        if entry is None:
            return _NO_ERROR, -1
        epoch = batch.producer_epoch
        if epoch != entry.epoch:
            if epoch < entry.epoch:
                return Errors.INVALID_PRODUCER_EPOCH, -1
            if batch.base_sequence != 0:  # a new epoch starts its sequences at 0
                return Errors.OUT_OF_ORDER_SEQUENCE_NUMBER, -1
            return _NO_ERROR, -1
        duplicate = entry.find_duplicate(batch)
        if duplicate is not None:
            return _NO_ERROR, duplicate
        last_seq = entry.last_seq
        # the usual case tested first: in_sequence is a call, this runs once per batch
        if batch.base_sequence != last_seq + 1 and not in_sequence(last_seq, batch.base_sequence):
            return Errors.OUT_OF_ORDER_SEQUENCE_NUMBER, -1
        return _NO_ERROR, -1

    def append_as_leader(self, batch: RecordBatch, leader_epoch: int, now: float) -> LogEntry:
        """Assign offsets from the LEO and append; record the epoch's start if it is new. The
        caller records the batch's disk position (:meth:`set_last_position`)."""
        entry = LogEntry(self.log_end_offset, leader_epoch, batch, now)
        self._append(entry, now, 0)
        return entry

    def append_as_follower(self, entry: LogEntry, now: float, position: int) -> None:
        """Append the leader's batch ``entry`` itself (offset and epoch kept; the object is
        shared, never changed); ``position``: this replica's disk position for it
        (:meth:`sim.disk.Disk.position`)."""
        if entry.base_offset != self.log_end_offset:
            raise AssertionError(
                f"{self.tp}: follower append at {entry.base_offset}, LEO {self.log_end_offset}"
            )
        self._append(entry, now, position)

    def set_last_position(self, position: int) -> None:
        """This replica wrote its last batch at disk position ``position`` (Disk.position)."""
        self._positions[-1] = position

    def _append(self, entry: LogEntry, now: float, position: int) -> None:
        epochs = self.epochs
        # assign_epoch's test of whether it changes anything, written out as this runs once per
        # batch; an append is at the LEO, never below the latest epoch's start
        if not epochs or epochs[-1][0] != entry.leader_epoch:
            self.assign_epoch(entry.leader_epoch, entry.base_offset)
        batch = entry.batch
        nbytes = batch.size_bytes
        # _maybe_roll's test inlined: this runs once per batch on every replica
        segment = self._segments[-1] if self._segments else None
        if (
            segment is None
            or (segment.size_bytes > 0 and segment.size_bytes + nbytes > self.segment_bytes)
            or now - segment.created_s >= self.segment_s
        ):
            segment = self._roll(now)
        self.entries.append(entry)
        self._base_offsets.append(entry.base_offset)
        self._positions.append(position)
        self.log_end_offset = entry.base_offset + batch.count
        self.size_bytes += nbytes
        segment.size_bytes += nbytes
        segment.last_append_s = now
        producer_id = batch.producer_id
        if producer_id >= 0:
            # ProducerStateEntry.add and batch.last_sequence written out for a batch of the
            # entry's epoch: this runs once per batch on every replica
            state = self.producers.get(producer_id)
            if state is None:
                state = self.producers[producer_id] = ProducerStateEntry(batch.producer_epoch)
            base_sequence = batch.base_sequence
            if state.epoch == batch.producer_epoch:
                state.batches.append(
                    (base_sequence, base_sequence + batch.count - 1, entry.base_offset)
                )
            else:
                state.add(
                    batch.producer_epoch, base_sequence, batch.last_sequence, entry.base_offset
                )

    def _roll(self, now: float) -> _Segment:
        """Start a new segment at the LEO (the next batch would not fit in the active one, or
        it is older than ``segment_s``); returns it."""
        segment = _Segment(self.log_end_offset, len(self.entries), 0, now, now)
        self._segments.append(segment)
        return segment

    # ---------------------------------------------------------------- reads

    def read(
        self, fetch_offset: int, max_bytes: int, upper_bound: int
    ) -> tuple[list[LogEntry], int, int]:
        """Batches from the one holding ``fetch_offset``, up to ``max_bytes`` (the first batch is
        always whole, as Kafka returns it), never past ``upper_bound`` (HW for consumers, LEO for
        followers), with their total size in bytes and the disk position of the first
        (:meth:`sim.disk.Disk.read`). Empty (size and position 0) when nothing is there."""
        if fetch_offset >= upper_bound or fetch_offset >= self.log_end_offset:
            return [], 0, 0
        entries = self.entries
        base_offsets = self._base_offsets
        i = len(base_offsets) - 1
        # a caught-up fetcher reads the last batch: bisect only when it is further back
        if i < 0 or base_offsets[i] > fetch_offset:
            i = bisect.bisect_right(base_offsets, fetch_offset) - 1
        if i < self._first:
            i = self._first
        first = i
        out: list[LogEntry] = []
        total = 0
        n = len(entries)
        while i < n:
            entry = entries[i]
            batch = entry.batch
            if entry.base_offset + batch.count > upper_bound:
                break
            size = batch.size_bytes
            if out and total + size > max_bytes:
                break
            out.append(entry)
            total += size
            i += 1
        return out, total, self._positions[first] if out else 0

    def entry_at(self, offset: int) -> LogEntry | None:
        """The batch holding ``offset``, or None when it is not in the log."""
        if not self.log_start_offset <= offset < self.log_end_offset:
            return None
        return self.entries[bisect.bisect_right(self._base_offsets, offset) - 1]

    # ---------------------------------------------------------------- epochs and truncation

    @property
    def latest_epoch(self) -> int:
        """The latest epoch in the epoch cache (-1 when empty): the last batch's, or a newer one
        this replica cached on becoming leader (makeLeader) and has not appended under yet."""
        return self.epochs[-1][0] if self.epochs else -1

    def assign_epoch(self, epoch: int, start_offset: int) -> None:
        """Record that ``epoch`` starts at ``start_offset`` (LeaderEpochFileCache.assign, also
        UnifiedLog.maybeAssignEpochStartOffset for a new leader): nothing when it is the latest
        epoch at an offset no earlier; else the latest entries of an epoch or start offset not
        below the new one are dropped first (maybeTruncateNonMonotonicEntries), so epochs and
        start offsets both increase."""
        epochs = self.epochs
        if epochs and epochs[-1][0] == epoch and start_offset >= epochs[-1][1]:
            return
        while epochs and (epochs[-1][0] >= epoch or epochs[-1][1] >= start_offset):
            epochs.pop()
        epochs.append((epoch, start_offset))

    def end_offset_for_epoch(self, epoch: int) -> tuple[int, int]:
        """(epoch, end offset) as LeaderEpochFileCache.endOffsetFor answers (see
        :func:`end_offset_for`)."""
        return end_offset_for(self.epochs, epoch, self.log_end_offset)

    def truncate_to(self, offset: int) -> list[LogEntry]:
        """Remove every record at or after ``offset`` (whole batches from the one holding it).

        Returns what was removed. Producer state is rebuilt from the batches that remain.
        With nothing to remove the epoch cache still loses the entries that start at or past
        the log end (UnifiedLog.truncateTo: an epoch this replica cached when it became leader
        but appended nothing under, which its new leader never saw).
        """
        if offset >= self.log_end_offset:
            self._truncate_epochs_from_end()
            return []
        i = max(bisect.bisect_left(self._base_offsets, offset), self._first)
        if i > self._first and self.entries[i - 1].next_offset > offset:
            i -= 1
        removed = self.entries[i:]
        del self.entries[i:]
        del self._base_offsets[i:]
        del self._positions[i:]
        self.log_end_offset = (
            self.entries[-1].next_offset
            if len(self.entries) > self._first
            else self.log_start_offset
        )
        self.size_bytes -= sum(e.batch.size_bytes for e in removed)
        self.high_watermark = min(self.high_watermark, self.log_end_offset)
        self._truncate_epochs_from_end()
        self._segments = [s for s in self._segments if s.first_index < len(self.entries)]
        self._rebuild_segment_sizes()
        self._rebuild_producer_state()
        return removed

    def _truncate_epochs_from_end(self) -> None:
        """LeaderEpochFileCache.truncateFromEnd(log end offset): drop the entries that start at
        or past it."""
        epochs = self.epochs
        while epochs and epochs[-1][1] >= self.log_end_offset:
            epochs.pop()

    def truncate_fully_and_start_at(self, offset: int) -> None:
        """Drop the whole log and continue from ``offset`` (UnifiedLog.truncateFullyAndStartAt)."""
        self.entries = []
        self._base_offsets = []
        self._positions = []
        self._first = 0
        self._segments = []
        self.log_start_offset = self.log_end_offset = offset
        self.high_watermark = offset
        self.size_bytes = 0
        self.epochs = []
        self.producers = {}

    def _rebuild_segment_sizes(self) -> None:
        bounds = [s.first_index for s in self._segments] + [len(self.entries)]
        for segment, lo, hi in zip(self._segments, bounds, bounds[1:], strict=False):
            segment.size_bytes = sum(e.batch.size_bytes for e in self.entries[lo:hi])

    def _rebuild_producer_state(self) -> None:
        """Rebuild producer id -> epoch and last sequences from the log (as a new leader does on
        load: ProducerStateManager replays the batches, unchecked as a replica's appends)."""
        producers: dict[int, ProducerStateEntry] = {}
        for entry in self.entries[self._first :]:
            batch = entry.batch
            if batch.producer_id >= 0:
                state = producers.get(batch.producer_id)
                if state is None:
                    state = producers[batch.producer_id] = ProducerStateEntry(batch.producer_epoch)
                state.add(
                    batch.producer_epoch,
                    batch.base_sequence,
                    batch.last_sequence,
                    entry.base_offset,
                )
        self.producers = producers

    # ---------------------------------------------------------------- retention

    def apply_retention(self, now: float) -> int:
        """Delete whole old segments (never the active one, never past the HW), as Kafka's
        retention check does by time (``retention.ms``) and size (``retention.bytes``).
        Returns the number of batches deleted."""
        deleted = 0
        while len(self._segments) > 1:
            oldest, successor = self._segments[0], self._segments[1]
            too_old = self.retention_s >= 0 and now - oldest.last_append_s > self.retention_s
            # UnifiedLog.deleteRetentionSizeBreachedSegments: delete while what remains >= limit
            too_big = 0 <= self.retention_bytes <= self.size_bytes - oldest.size_bytes
            if not (too_old or too_big) or successor.base_offset > self.high_watermark:
                break
            deleted += successor.first_index - oldest.first_index
            self._first = successor.first_index
            self.size_bytes -= oldest.size_bytes
            self.log_start_offset = successor.base_offset
            self._segments.pop(0)
        return deleted

    @property
    def first_index(self) -> int:
        """Index in ``entries`` of the first batch still retained."""
        return self._first

    def retained_entries(self) -> list[LogEntry]:
        """The batches still in the log, oldest first."""
        return self.entries[self._first :]


def end_offset_for(
    epochs: list[tuple[int, int]], epoch: int, log_end_offset: int
) -> tuple[int, int]:
    """LeaderEpochFileCache.endOffsetFor (Kafka 3.9) over ``epochs``, (leader epoch, start
    offset) pairs, both increasing: (UNDEFINED_EPOCH, UNDEFINED_EPOCH_OFFSET) = (-1, -1) for an
    undefined ``epoch`` (-1), for one above every known epoch, or with no epoch known;
    (``epoch``, the log end offset) for the latest epoch; else the largest known epoch <=
    ``epoch`` with the start offset of the first epoch above it, and for an epoch below every
    known one, ``epoch`` itself with the first epoch's start offset (the data is gone; the asker
    continues from there)."""
    if epoch == -1 or not epochs or epoch > epochs[-1][0]:
        return -1, -1
    if epoch == epochs[-1][0]:
        return epoch, log_end_offset
    i = bisect.bisect_right(epochs, (epoch, math.inf))  # the first epoch above ``epoch``
    return (epochs[i - 1][0] if i else epoch), epochs[i][1]
