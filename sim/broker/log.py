"""A replica's partition log (≈ Kafka's UnifiedLog with its LeaderEpochFileCache and
ProducerStateManager).

The log is a list of batches with dense offsets from the log start offset to the log end offset
(LEO). It keeps, as Kafka keeps beside the segments:
- the leader-epoch cache: (epoch, start offset) pairs, so a follower can find where its log
  diverges from a new leader's (KIP-101/279);
- producer state: per producer id its epoch and the last batches' sequence ranges of that epoch
  (Kafka retains 5), so a retried batch is recognised as a duplicate, an out-of-order one or one of
  an older epoch refused, and so a new leader has the state already, rebuilt from its own log;
- segments: the log rolls a new segment after ``segment.bytes`` (or ``segment.ms``); the broker's
  retention task (:class:`sim.broker.log_manager.LogManager`) deletes whole old segments by
  ``retention.ms`` / ``retention.bytes`` (:meth:`PartitionLog.delete_old_segments`), which moves
  the log start offset up.
Offsets are record offsets; a batch covers ``base_offset .. base_offset + count - 1``. A batch's
timestamp is its leader's append time, ``LogEntry.append_s`` (see :class:`_Segment`).
Batches that retention deleted stay in ``entries`` below ``first_index`` (the in-memory model
keeps them; no read reaches them).
"""

from __future__ import annotations

import bisect
import math
from collections import deque
from collections.abc import Callable
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
    """A log segment (≈ LogSegment): the offset and the index in ``entries`` of its first batch,
    its size in bytes, the timestamp of its first batch (rollingBasedTimestamp, s) and its
    largest timestamp (largestTimestamp, s).

    A batch's timestamp is its leader's append time (``LogEntry.append_s``), the same on every
    replica as Kafka's batch timestamps are. With ``message.timestamp.type=CreateTime`` Kafka
    uses the batch's largest record timestamp, the producer's send() time of its last record:
    earlier by the batch's linger and queueing, which the model's batches do not carry.
    """

    base_offset: int
    first_index: int
    size_bytes: int
    first_timestamp_s: float
    largest_timestamp_s: float


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
        self.recovery_point = 0  # the log is flushed below this offset (recoveryPoint)
        self.last_flush_s = 0.0  # when it was last flushed (lastFlushTime), s
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
        self._append(entry, 0)
        return entry

    def append_as_follower(self, entry: LogEntry, position: int) -> None:
        """Append the leader's batch ``entry`` itself (offset and epoch kept; the object is
        shared, never changed); ``position``: this replica's disk position for it
        (:meth:`sim.disk.Disk.position`)."""
        if entry.base_offset != self.log_end_offset:
            raise AssertionError(
                f"{self.tp}: follower append at {entry.base_offset}, LEO {self.log_end_offset}"
            )
        self._append(entry, position)

    def set_last_position(self, position: int) -> None:
        """This replica wrote its last batch at disk position ``position`` (Disk.position)."""
        self._positions[-1] = position

    def _append(self, entry: LogEntry, position: int) -> None:
        epochs = self.epochs
        # assign_epoch's test of whether it changes anything, written out as this runs once per
        # batch; an append is at the LEO, never below the latest epoch's start
        if not epochs or epochs[-1][0] != entry.leader_epoch:
            self.assign_epoch(entry.leader_epoch, entry.base_offset)
        batch = entry.batch
        nbytes = batch.size_bytes
        timestamp = entry.append_s
        # LogSegment.shouldRoll inlined (this runs once per batch on every replica): the batch
        # does not fit, or its timestamp is over segment.ms past the segment's first batch's
        segment = self._segments[-1] if self._segments else None
        if (
            segment is None
            or segment.size_bytes + nbytes > self.segment_bytes
            or timestamp - segment.first_timestamp_s > self.segment_s
        ):
            segment = self._roll(timestamp)
        self.entries.append(entry)
        self._base_offsets.append(entry.base_offset)
        self._positions.append(position)
        self.log_end_offset = entry.base_offset + batch.count
        self.size_bytes += nbytes
        segment.size_bytes += nbytes
        segment.largest_timestamp_s = timestamp  # append times only grow along a log
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

    def _roll(self, timestamp: float) -> _Segment:
        """Start a new segment at the LEO for a batch of ``timestamp`` (s) that the active one
        does not take (UnifiedLog.roll); returns it. A log whose segments were all deleted has
        none until its next batch (Kafka's empty active segment at the LEO)."""
        segment = _Segment(self.log_end_offset, len(self.entries), 0, timestamp, timestamp)
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
        """Remove every record at or after ``offset`` (whole batches from the one holding it)
        (UnifiedLog.truncateTo).

        Returns what was removed. Producer state is rebuilt from the batches that remain.
        With nothing to remove the epoch cache still loses the entries that start at or past
        the log end (an epoch this replica cached when it became leader but appended nothing
        under, which its new leader never saw). An offset below the first segment empties the
        log, which continues from ``offset`` (truncateFullyAndStartAt); else the log start
        offset is at most ``offset``.
        """
        if offset >= self.log_end_offset:
            self._truncate_epochs_from_end()
            return []
        first = self._first
        if first == len(self.entries) or offset < self.entries[first].base_offset:
            removed = self.entries[first:]
            self.truncate_fully_and_start_at(offset)
            return removed
        i = max(bisect.bisect_left(self._base_offsets, offset), first)
        if i > first and self.entries[i - 1].next_offset > offset:
            i -= 1
        removed = self.entries[i:]
        end = self.entries[i - 1].next_offset if i > first else removed[0].base_offset
        del self.entries[i:]
        del self._base_offsets[i:]
        del self._positions[i:]
        self.log_end_offset = end
        self.log_start_offset = min(self.log_start_offset, self.log_end_offset)
        self.recovery_point = min(self.recovery_point, self.log_end_offset)
        self.size_bytes -= sum(e.batch.size_bytes for e in removed)
        self.high_watermark = min(self.high_watermark, self.log_end_offset)
        self._truncate_epochs_from_end()
        self._segments = [s for s in self._segments if s.first_index < len(self.entries)]
        self._rebuild_segments()
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
        self.recovery_point = offset
        self.size_bytes = 0
        self.epochs = []
        self.producers = {}

    def _rebuild_segments(self) -> None:
        """Sizes and largest timestamps of the segments from their batches, after a
        truncation."""
        entries = self.entries
        bounds = [s.first_index for s in self._segments] + [len(entries)]
        for segment, lo, hi in zip(self._segments, bounds, bounds[1:], strict=False):
            segment.size_bytes = sum(e.batch.size_bytes for e in entries[lo:hi])
            segment.largest_timestamp_s = entries[hi - 1].append_s

    def _rebuild_producer_state(self) -> None:
        """Rebuild producer id -> epoch and last sequences from the log (as a new leader does on
        load: ProducerStateManager replays the batches, unchecked as a replica's appends). The
        batches retention deleted are replayed too: Kafka's producer-state snapshots keep a
        producer whose batches are gone (onLogStartOffsetIncremented removes none; producers
        expire after ``producer.id.expiration.ms``, not modelled)."""
        producers: dict[int, ProducerStateEntry] = {}
        for entry in self.entries:
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

    def mark_flushed(self, now: float) -> None:
        """The whole log was flushed at ``now`` (s): the recovery point is its end
        (LocalLog.markFlushed)."""
        self.recovery_point = self.log_end_offset
        self.last_flush_s = now

    def update_high_watermark(self, offset: int) -> None:
        """Set the HW to ``offset`` held between the log start and end offsets
        (UnifiedLog.updateHighWatermark), as after a restart from the checkpoint file."""
        self.high_watermark = max(self.log_start_offset, min(offset, self.log_end_offset))

    # ---------------------------------------------------------------- retention

    def maybe_increment_log_start_offset(self, offset: int) -> bool:
        """Raise the log start offset to ``offset`` (UnifiedLog.maybeIncrementLogStartOffset):
        records below it are no longer read, the epoch cache is trimmed from the start; the
        segments below it go at the next retention check. False when it is not higher."""
        if offset <= self.log_start_offset:
            return False
        if offset > self.high_watermark:  # Kafka throws OffsetOutOfRangeException
            raise AssertionError(f"{self.tp}: log start {offset} past HW {self.high_watermark}")
        self.log_start_offset = offset
        self.recovery_point = max(self.recovery_point, offset)
        truncate_epochs_from_start(self.epochs, offset)
        return True

    def delete_old_segments(self, now: float) -> int:
        """UnifiedLog.deleteOldSegments at ``now`` (s) for a log whose ``cleanup.policy`` has
        delete: the segments wholly below the log start offset, then those over
        ``retention.bytes``, then those whose largest timestamp is more than ``retention.ms``
        old. Returns the number of segments deleted."""
        return (
            self._delete_old_segments(self._start_offset_breached())
            + self._delete_old_segments(self._size_breached())
            + self._delete_old_segments(self._time_breached(now))
        )

    def _start_offset_breached(self) -> Callable[[_Segment, _Segment | None], bool]:
        """deleteLogStartOffsetBreachedSegments: the next segment starts at or below the log
        start offset."""
        start = self.log_start_offset
        return lambda segment, after: after is not None and after.base_offset <= start

    def _size_breached(self) -> Callable[[_Segment, _Segment | None], bool]:
        """deleteRetentionSizeBreachedSegments: oldest first, while what is deleted keeps the
        log at or above ``retention.bytes``."""
        limit = self.retention_bytes
        if limit < 0 or self.size_bytes < limit:
            return lambda segment, after: False
        excess = self.size_bytes - limit

        def breached(segment: _Segment, after: _Segment | None) -> bool:
            nonlocal excess
            if excess < segment.size_bytes:
                return False
            excess -= segment.size_bytes
            return True

        return breached

    def _time_breached(self, now: float) -> Callable[[_Segment, _Segment | None], bool]:
        """deleteRetentionMsBreachedSegments: the segment's largest timestamp is more than
        ``retention.ms`` before ``now``."""
        retention_s = self.retention_s
        if retention_s < 0:
            return lambda segment, after: False
        return lambda segment, after: now - segment.largest_timestamp_s > retention_s

    def _delete_old_segments(self, predicate: Callable[[_Segment, _Segment | None], bool]) -> int:
        """UnifiedLog.deletableSegments + deleteSegments: the oldest segments, while
        ``predicate(segment, next segment or None)`` holds and the HW covers the whole segment
        (so the log start offset never passes it; the active segment too, as Kafka deletes it
        after rolling an empty one). The log start offset moves to the first segment kept, or
        to the LEO when none is. Returns the number deleted."""
        segments = self._segments
        n = 0
        while n < len(segments):
            after = segments[n + 1] if n + 1 < len(segments) else None
            upper = after.base_offset if after is not None else self.log_end_offset
            if self.high_watermark < upper or not predicate(segments[n], after):
                break
            n += 1
        if n == 0:
            return 0
        kept = segments[n] if n < len(segments) else None
        self.maybe_increment_log_start_offset(
            kept.base_offset if kept is not None else self.log_end_offset
        )
        self.size_bytes -= sum(s.size_bytes for s in segments[:n])
        self._first = kept.first_index if kept is not None else len(self.entries)
        del segments[:n]
        return n

    @property
    def first_index(self) -> int:
        """Index in ``entries`` of the first batch still in a segment."""
        return self._first

    def retained_entries(self) -> list[LogEntry]:
        """The batches at or above the log start offset, oldest first."""
        entries = self.entries
        start = self.log_start_offset
        i = max(bisect.bisect_right(self._base_offsets, start) - 1, self._first)
        if i < len(entries) and entries[i].next_offset <= start:
            i += 1
        return entries[i:]


def truncate_epochs_from_start(epochs: list[tuple[int, int]], start_offset: int) -> None:
    """LeaderEpochFileCache.truncateFromStart over ``epochs``, (leader epoch, start offset)
    pairs: the entries starting at or below ``start_offset`` are removed and the last of them
    comes back starting at ``start_offset``."""
    i = 0
    while i < len(epochs) and epochs[i][1] <= start_offset:
        i += 1
    if i:
        epochs[:i] = [(epochs[i - 1][0], start_offset)]


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
