"""Per-partition batching of records (≈ Kafka's RecordAccumulator and ProducerBatch).

Records assigned to a partition wait in a :class:`PartitionQueue` as arrays (arrival times,
cumulative bytes, key ids); batches are cut from the front only when the sender drains the
partition, so the work is per batch, never per record. The first batch of a queue holds the
records from the queue's start up to ``batch.size`` bytes (a record larger than that gets a batch
of its own); it is *full* once the next record has arrived (it did not fit). A partition is ready
when its first batch is full, has waited ``linger.ms``, or a retry's backoff has passed — and, as
Kafka does, once any partition of a node is ready the first batch of every partition of that node
is drained.

Arrays may hold records that have not arrived yet (keyed records are partitioned as they are
drawn): they only count once their time has come, and let the producer know when the next batch
will fill.

Every batch holds a buffer of the producer's :class:`~sim.clients.producer.buffer_pool.BufferPool`
(``buffer.memory``) from its first record's append until it is done. While a send() waits for
memory the accumulator is *exhausted*: every partition's first batch is ready as soon as it has
records, linger or not (``RecordAccumulator.ready``). A batch opened by a record that waited for
memory was created when the memory came, so its ``linger.ms`` and ``delivery.timeout.ms`` count
from then (:attr:`RecordAccumulator.late`).
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from itertools import accumulate
from math import fsum

import numpy as np

from sim.clients.producer.buffer_pool import BufferPool
from sim.protocol import RECORD_BATCH_OVERHEAD_BYTES, RecordBatch, TopicPartition

#: Compressed size / uncompressed size by compression.type, for text-like records (JSON, logs).
#: Assumed typical ratios; the model does not compress real bytes. "none" is exact.
COMPRESSION_RATIO = {"none": 1.0, "gzip": 0.35, "snappy": 0.55, "lz4": 0.55, "zstd": 0.30}
_INF = float("inf")
#: what a partition's next batch opening means for its readiness (:meth:`RecordAccumulator.
#: fill_watch`): nothing is queued (the batch it opens lingers from then), or the first batch is
#: still open (the opening record makes it full)
EMPTY, OPEN = "empty", "open"


def largest_batch_bytes(batch_size: int, compression: str) -> int:
    """Wire size of the largest batch of several records the accumulator cuts, bytes: the
    header and ``batch.size`` bytes of records, compressed (as :meth:`RecordAccumulator.wire`
    sizes a batch)."""
    return RECORD_BATCH_OVERHEAD_BYTES + int(max(batch_size, 1) * COMPRESSION_RATIO[compression])


@dataclass(slots=True, eq=False)
class ProducerBatch:
    """A batch cut from a partition's queue at its first drain (≈ ProducerBatch). Times in s;
    buffer_bytes: the BufferPool memory it holds until it is done (several buffers for records
    expired together). sequence / epoch: its idempotent producer state (-1 until the sender sets
    it); reopened: that state was rewritten by an epoch bump (sequenceHasBeenReset); done: it
    has its final outcome (ProducerBatch.isDone), possibly while its request is still in
    flight."""

    tp: TopicPartition
    first_arrival_s: float
    mean_arrival_s: float
    count: int
    records_bytes: int
    keys: np.ndarray | None
    buffer_bytes: int = 0
    attempts: int = 0
    retry_at_s: float = 0.0
    sequence: int = -1
    epoch: int = -1
    wire: RecordBatch | None = None
    reopened: bool = False
    done: bool = False


class PartitionQueue:
    """The records of one partition not yet in a batch, plus batches waiting to be retried.

    times: arrival times, s (sorted). cum: cumulative record bytes. keys: key ids or None.
    start: index of the first record not yet drained. split: index of the first record that does
    not fit in the first batch (``len(times)`` when unknown yet). tail: index of the first record
    of the last batch, as last found (-1 when unknown; valid while ``tail >= start``).

    ``times`` and ``cum`` are Python lists: a batch needs a few lookups in them, and ``bisect``
    and indexing cost a tenth of numpy's searchsorted and scalar indexing on such short arrays.
    """

    __slots__ = (
        "tp",
        "times",
        "cum",
        "base",
        "keys",
        "start",
        "split",
        "next_s",
        "retries",
        "tail",
    )

    def __init__(self, tp: TopicPartition) -> None:
        self.tp = tp
        self.times: list[float] = []
        self.cum: list[int] = []
        self.base = 0  # bytes of the records dropped from the lists (the base of ``cum``)
        self.keys: np.ndarray | None = None
        self.start = 0
        self.split = 0
        self.next_s = _INF  # when the first batch becomes ready (full or lingered)
        self.retries: deque[ProducerBatch] = deque()
        self.tail = -1

    def extend(self, times: list[float], keys: np.ndarray | None, record_bytes: list[int]) -> None:
        """Add records (later than those already queued); drained ones are dropped once they
        are at least half of the lists, so a long queue (memory filling up) is not copied at
        every append.

        ``keys`` (when keyed) is a buffer with room to grow, filled up to ``len(times)``: batches
        keep views of it, so it is only ever written past that length (records that have not
        been cut) and replaced, not moved, when it is compacted or grown."""
        start = self.start
        n = len(self.times)
        if start and 2 * start >= n:
            self.base = self.cum[start - 1]
            del self.times[:start], self.cum[:start]
            self.start = 0
            self.split -= start
            self.tail -= start
            if self.keys is not None:
                self.keys = self.keys[start:n].copy()
            n -= start
        last = self.cum[-1] if self.cum else self.base
        # running sums from ``last`` (queued already, so skipped) in Python ints: exact, and
        # cheaper than np.cumsum here, or than accumulate(..., initial=last), whose keyword
        # costs a dict (together with its islice: 1,400 instructions an append of 6 records)
        sums = accumulate([last, *record_bytes])
        next(sums)
        self.cum += sums
        self.times += times
        if keys is not None:
            self._extend_keys(n, keys)

    def _extend_keys(self, n: int, keys: np.ndarray) -> None:
        """Write ``keys`` after the first ``n`` of the key buffer, growing it (doubling) if
        needed."""
        need = n + len(keys)
        buffer = self.keys
        if buffer is None or len(buffer) < need:
            grown = np.empty(max(need, 2 * n, 16), dtype=np.int64)
            if buffer is not None:
                grown[:n] = buffer[:n]
            self.keys = buffer = grown
        buffer[n:need] = keys

    def before(self) -> int:
        """Bytes of the records already drained (the base of ``cum`` for the first batch)."""
        return self.cum[self.start - 1] if self.start else self.base

    def bytes_before(self, i: int) -> int:
        """Bytes of the records before index ``i`` (the base of ``cum`` at ``i``)."""
        return self.cum[i - 1] if i else self.base

    def arrived(self, now: float) -> int:
        """Index past the last record that has arrived by ``now``."""
        return bisect_right(self.times, now)


class RecordAccumulator:
    """Batches per partition.

    batch_size: ``batch.size`` bytes. linger_s: ``linger.ms`` / 1000. compression:
    ``compression.type``. buffer_memory: ``buffer.memory`` bytes (the :attr:`pool`).
    """

    def __init__(
        self, batch_size: int, linger_s: float, compression: str, buffer_memory: int
    ) -> None:
        self.batch_size = max(batch_size, 1)
        self.linger_s = linger_s
        self.ratio = COMPRESSION_RATIO[compression]
        self.pool = BufferPool(buffer_memory, self.batch_size)
        self.queues: dict[TopicPartition, PartitionQueue] = {}
        #: the queues that may be ready some time: a retry waiting or a finite ``next_s`` (a
        #: superset, pruned by :meth:`next_ready_s`); readiness scans visit only these, so a
        #: topic of thousands of partitions costs per round what its busy ones do
        self.busy: dict[TopicPartition, PartitionQueue] = {}
        #: a lower bound on the arrival time of every queued record, s: records are appended in
        #: arrival order, so it only needs lowering when records join an empty accumulator
        self._oldest_s = _INF
        #: bytes of the records in the queues, not yet cut into batches (arrived or not)
        self.record_bytes_queued = 0
        #: a send() is waiting for memory: every first batch is ready (``free.queued() > 0``)
        self.exhausted = False
        #: (from_s, until_s): records that arrived in [from_s, until_s) waited for memory and were
        #: appended at until_s, so a batch they open was created then; None if none did
        self.late: tuple[float, float] | None = None
        #: arrival s -> the schema id in a record's header (the producer's value serializer's),
        #: or None without a schema registry
        self.schema_id_at: Callable[[float], int] | None = None

    def queue(self, tp: TopicPartition) -> PartitionQueue:
        """The queue of ``tp``, created on first use."""
        q = self.queues.get(tp)
        if q is None:
            q = self.queues[tp] = PartitionQueue(tp)
        return q

    def append(
        self,
        tp: TopicPartition,
        times: list[float],
        keys: np.ndarray | None,
        record_bytes: list[int],
    ) -> None:
        """Queue records for ``tp`` (in time order, after those already queued): their arrival
        times, s, key ids or None, and sizes, bytes."""
        q = self.queues.get(tp)
        if q is None:
            q = self.queues[tp] = PartitionQueue(tp)
        # the first batch is full already: records after it change neither where it ends nor
        # when it is ready
        first_full = q.split < len(q.times)
        before = q.cum[-1] if q.cum else q.base
        q.extend(times, keys, record_bytes)
        self.record_bytes_queued += q.cum[-1] - before
        if times and times[0] < self._oldest_s:
            self._oldest_s = times[0]
        if not first_full:
            self._refresh(q)

    def _refresh(self, q: PartitionQueue) -> None:
        """Recompute where the first batch ends and when it becomes ready."""
        n = len(q.times)
        start = q.start
        if start >= n:
            q.split = n
            q.next_s = _INF
            return
        split = bisect_right(q.cum, q.before() + self.batch_size, start)
        # a record larger than batch.size goes alone (not max(): see BufferPool.buffer_bytes)
        q.split = split if split > start else start + 1
        # plain floats (the lists hold them): a numpy scalar reaching a SimPy timeout makes
        # every later time one
        first = q.times[start]
        if self.exhausted:
            q.next_s = first  # ready once it has arrived
            self.busy[q.tp] = q
            return
        late = self.late
        if late is not None and late[0] <= first < late[1]:
            first = late[1]  # its batch was created when the memory came
        lingered = first + self.linger_s
        full = q.times[q.split] if q.split < n else _INF
        q.next_s = lingered if lingered < full else full
        self.busy[q.tp] = q

    def set_exhausted(self, exhausted: bool) -> None:
        """A send() starts or stops waiting for memory: readiness changes for every queue."""
        if exhausted != self.exhausted:
            self.exhausted = exhausted
            for q in self.queues.values():
                self._refresh(q)

    def unblocked(self, from_s: float, until_s: float) -> None:
        """The waiting send() is over at ``until_s``: not exhausted any more, and the records
        that arrived in [from_s, until_s) are appended now (:attr:`late`)."""
        self.exhausted = False
        self.late = (from_s, until_s)
        for q in self.queues.values():
            self._refresh(q)

    # ---------------------------------------------------------------- memory

    def _batch_end(self, q: PartitionQueue, i: int) -> int:
        """Index past the batch that starts at record ``i`` (up to batch.size bytes; a larger
        record alone)."""
        end = bisect_right(q.cum, q.bytes_before(i) + self.batch_size, i)
        return end if end > i else i + 1

    def _buffers(self, q: PartitionQueue, start: int, end: int) -> int:
        """BufferPool bytes held by the batches of records ``start:end`` (``start`` opens one)."""
        total = 0
        i = start
        while i < end:
            total += self.pool.buffer_bytes(q.cum[i] - q.bytes_before(i))
            i = self._batch_end(q, i)
        return total

    def queued_buffers(self, now: float) -> int:
        """BufferPool bytes held by the batches in the queues at ``now`` (opened by records that
        have arrived)."""
        return sum(self._buffers(q, q.start, q.arrived(now)) for q in self.queues.values())

    def open_room(self, tp: TopicPartition) -> int:
        """Bytes the last batch of ``tp`` can still take: a record of at most that many joins
        it, a larger one opens a batch (0 when nothing is queued: any record opens one)."""
        q = self.queues.get(tp)
        if q is None:
            return 0
        n = len(q.times)
        i = q.tail if q.tail >= q.start else q.start
        if i >= n:
            return 0
        end = self._batch_end(q, i)
        while end < n:
            i, end = end, self._batch_end(q, end)
        q.tail = i
        return self.batch_size - (q.cum[n - 1] - q.bytes_before(i))

    def admit(self, room: int, record_bytes: list[int], start: int, end: int) -> tuple[int, int]:
        """Records ``start:end`` (sizes in bytes) joining a partition whose last batch can take
        ``room`` more bytes: how far they get before one must open a batch for which the pool
        has no memory (an index), and the room left after them. The batches they open are
        charged to ``pool.queued_bytes``; the caller appends the admitted records."""
        pool = self.pool
        available = pool.available_bytes()
        batch_size = self.batch_size
        i = start
        while i < end:
            size = record_bytes[i]
            if size > room:
                buffer = pool.buffer_bytes(size)
                if buffer > available:
                    break
                available -= buffer
                pool.queued_bytes += buffer
                room = batch_size
            room -= size
            i += 1
        return i, room

    def fill_watch(self, tp: TopicPartition) -> list:
        """[room of the last batch of ``tp``, bytes; EMPTY, OPEN or None (the first batch is
        full already)]: what records appended later would change in its readiness."""
        q = self.queues.get(tp)
        if q is None or q.start >= len(q.times):
            return [0, EMPTY]
        return [self.open_room(tp), OPEN if q.split >= len(q.times) else None]

    def withdraw_after(self, now: float) -> tuple[list[float], np.ndarray | None, list[int]]:
        """Take the records that arrive after ``now`` back out of the queues: arrival times, s,
        key ids and sizes, bytes, in arrival order (ties in partition order)."""
        times: list[float] = []
        keys: list[np.ndarray] = []
        sizes: list[int] = []
        for q in self.queues.values():
            k = bisect_right(q.times, now)
            n = len(q.times)
            if k >= n:
                continue
            base = q.bytes_before(k)
            times += q.times[k:]
            sizes += [b - a for a, b in zip([base, *q.cum[k:-1]], q.cum[k:], strict=True)]
            if q.keys is not None:
                keys.append(q.keys[k:n].copy())
            self.record_bytes_queued -= q.cum[-1] - base
            del q.times[k:], q.cum[k:]
            if q.tail >= k:
                q.tail = -1
            self._refresh(q)
        order = sorted(range(len(times)), key=times.__getitem__)
        all_keys = np.concatenate(keys)[order] if keys else None
        return [times[i] for i in order], all_keys, [sizes[i] for i in order]

    def records_before(self, end_s: float) -> int:
        """Records in the accumulator that arrived before ``end_s``, s: queued and not yet in a
        batch, or in a batch waiting to be retried (or sent after a split). A count at the end
        of a run, one search per partition."""
        total = 0
        for q in self.queues.values():
            total += bisect_left(q.times, end_s, q.start) - q.start
            for batch in q.retries:
                total += batch.count
        return total

    # ---------------------------------------------------------------- readiness

    def next_ready_s(self, now: float) -> float:
        """The earliest future time a partition becomes ready (inf if none); forgets the busy
        queues that can no longer be ready."""
        best = _INF
        idle = None
        for tp, q in self.busy.items():
            t = q.retries[0].retry_at_s if q.retries else q.next_s
            if now < t < best:
                best = t
            elif t == _INF:
                idle = [tp] if idle is None else [*idle, tp]
        if idle is not None:
            for tp in idle:
                del self.busy[tp]
        return best

    def all_batches_full(self, tp: TopicPartition, now: float) -> bool:
        """RecordAccumulator.allBatchesFull: nothing open for ``tp`` (its records all drained)."""
        q = self.queues.get(tp)
        # the same as ``q.start >= q.arrived(now)`` (times are sorted), without the search
        return q is None or q.start >= len(q.times) or q.times[q.start] > now

    def queued_batches(self, now: float) -> dict[int, int]:
        """Batches in each partition's deque now, by partition number, in the queues' order
        (for the adaptive partitioner's load stats; the producer sends to one topic)."""
        batch_size = self.batch_size
        sizes = {}
        for tp, q in self.queues.items():
            n = bisect_right(q.times, now)
            pending = q.cum[n - 1] - q.before() if n > q.start else 0
            sizes[tp[1]] = len(q.retries) + -(-pending // batch_size)
        return sizes

    # ---------------------------------------------------------------- draining

    def drain(self, q: PartitionQueue, now: float) -> ProducerBatch | None:
        """Take the first batch of ``q`` (a retry first), or None if nothing has arrived."""
        if q.retries:
            return q.retries.popleft() if q.retries[0].retry_at_s <= now else None
        start = q.start
        end = bisect_right(q.times, now, start, q.split)  # min(split, arrived), or start
        if end <= start:
            return None
        batch = self._cut(q, start, end)
        if end < q.split:
            q.tail = -1  # the records after it start a batch of their own
        q.start = end
        self._refresh(q)
        return batch

    def _cut(self, q: PartitionQueue, start: int, end: int) -> ProducerBatch:
        """Records ``start:end`` (``start`` is the queue's) as a batch; its buffers move from the
        queue to the sent."""
        count = end - start
        cum, times = q.cum, q.times
        before = q.before()
        records_bytes = cum[end - 1] - before
        pool = self.pool
        if count == 1 or records_bytes <= self.batch_size:  # one batch (as every drain cuts)
            buffer_bytes = pool.buffer_bytes(cum[start] - before)
        else:
            buffer_bytes = self._buffers(q, start, end)
        pool.sent_bytes += buffer_bytes
        if pool.queued_bytes is not None:
            pool.queued_bytes -= buffer_bytes
        self.record_bytes_queued -= records_bytes
        # positional arguments: keywords would cost each batch a dict for the dataclass's
        # __init__ (18 M instructions of the default scenario's 3,200 M)
        return ProducerBatch(
            q.tp,
            times[start],
            fsum(times[start:end]) / count,  # mean arrival time, correctly rounded
            count,
            records_bytes,
            None if q.keys is None else q.keys[start:end],
            buffer_bytes,
        )

    def deallocate(self, batch: ProducerBatch) -> None:
        """The batch is done (acknowledged or failed): its memory is free
        (RecordAccumulator.deallocate)."""
        self.pool.sent_bytes -= batch.buffer_bytes  # as _cut added it

    def expire_all(self, now: float, timeout_s: float) -> list[ProducerBatch]:
        """Per partition, the records waiting longer than ``timeout_s`` as one failed batch
        (RecordAccumulator.expiredBatches); no queue is visited while none can have expired."""
        if now < self._oldest_s + timeout_s:
            return []
        expired = []
        oldest = _INF
        for q in self.queues.values():
            batch = self.expire(q, now, timeout_s)
            if batch is not None:
                expired.append(batch)
            if q.start < len(q.times) and q.times[q.start] < oldest:
                oldest = q.times[q.start]
        self._oldest_s = oldest
        return expired

    def expires_by(self, until_s: float, timeout_s: float) -> bool:
        """Whether :meth:`expire_all` at a time up to ``until_s`` may find records waiting
        longer than ``timeout_s`` (it visits the queues only then)."""
        return until_s >= self._oldest_s + timeout_s

    def expire(self, q: PartitionQueue, now: float, timeout_s: float) -> ProducerBatch | None:
        """Records whose batch was created more than ``timeout_s`` ago (delivery.timeout.ms) as
        one failed batch."""
        if q.retries or q.start >= len(q.times) or q.times[q.start] + timeout_s > now:
            return None
        end = self._created_by(q, now - timeout_s)
        if end <= q.start:
            return None
        batch = self._cut(q, q.start, end)
        q.tail = -1
        q.start = end
        self._refresh(q)
        return batch

    def _created_by(self, q: PartitionQueue, time_s: float) -> int:
        """Index past the records whose batch was created by ``time_s`` (records appended late,
        after waiting for memory, count from their append: :attr:`late`)."""
        late = self.late
        if late is not None and late[0] <= time_s < late[1]:
            return bisect_left(q.times, late[0])
        return bisect_right(q.times, time_s)

    def reenqueue(self, batch: ProducerBatch) -> None:
        """Put a batch to retry back at the front, in sequence order (insertInSequenceOrder)."""
        q = self.queue(batch.tp)
        self.busy[batch.tp] = q
        retries = q.retries
        i = 0
        while i < len(retries) and 0 <= retries[i].sequence < batch.sequence:
            i += 1
        retries.insert(i, batch)

    def split_and_reenqueue(self, big: ProducerBatch, now: float) -> ProducerBatch:
        """The broker refused ``big``, a batch of several records, as too large
        (MESSAGE_TOO_LARGE): split it at ``batch.size`` and put what it gives back at the front
        of its partition's queue, ready at ``now``, s (RecordAccumulator.splitAndReenqueue with
        ProducerBatch.split(batchSize), Kafka 3.9). The caller frees ``big``'s memory.

        Kafka fills each new batch up to ``batch.size`` bytes, the rule that cut ``big`` here
        (the model cuts by uncompressed bytes, as Kafka does once a split has reset its
        compression estimate to at least 1), so a sent batch's records make one new batch: the
        same records, no smaller. In Kafka 3.9 a batch over ``max.message.bytes`` but within
        ``batch.size`` is therefore split and refused again until ``delivery.timeout.ms``
        (KAFKA-8350, fixed after 3.9). The new batch is not a retry (no attempts, no backoff),
        counts its delivery timeout from ``big``'s creation, keeps ``big``'s sequence and epoch,
        and holds no pool memory (allocated off the accumulator, never deallocated)."""
        assert big.records_bytes <= self.batch_size, (big.tp, big.records_bytes)
        piece = ProducerBatch(
            big.tp,
            big.first_arrival_s,
            big.mean_arrival_s,
            big.count,
            big.records_bytes,
            big.keys,
            0,
            0,
            now,
            big.sequence,
            big.epoch,
        )
        self.reenqueue(piece)
        return piece

    def wire(self, batch: ProducerBatch, batch_id: int, producer_id: int) -> RecordBatch:
        """Freeze the batch for sending at its first drain: its wire form (of header plus the
        compressed records bytes), with its sequence and epoch; again with the same
        ``batch_id`` when an epoch bump rewrites them (ProducerBatch.resetProducerState)."""
        tp = batch.tp
        batch.wire = wire = RecordBatch(  # positional arguments, as in _cut
            batch_id,
            tp[0],
            tp[1],
            producer_id,
            batch.sequence,
            batch.count,
            RECORD_BATCH_OVERHEAD_BYTES + int(batch.records_bytes * self.ratio),
            batch.first_arrival_s,
            batch.mean_arrival_s,
            batch.keys,
            batch.epoch,
        )
        if self.schema_id_at is not None:
            wire.schema_id = self.schema_id_at(batch.first_arrival_s)
        return wire
