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
"""

from __future__ import annotations

from bisect import bisect_right
from collections import deque
from dataclasses import dataclass
from itertools import accumulate, islice
from math import fsum

import numpy as np

from sim.protocol import RECORD_BATCH_OVERHEAD_BYTES, RecordBatch, TopicPartition

#: Compressed size / uncompressed size by compression.type, for text-like records (JSON, logs).
#: Assumed typical ratios; the model does not compress real bytes. "none" is exact.
COMPRESSION_RATIO = {"none": 1.0, "gzip": 0.35, "snappy": 0.55, "lz4": 0.55, "zstd": 0.30}
_INF = float("inf")


@dataclass(slots=True, eq=False)
class ProducerBatch:
    """A batch cut from a partition's queue at its first drain (≈ ProducerBatch). Times in s."""

    tp: TopicPartition
    first_arrival_s: float
    mean_arrival_s: float
    count: int
    records_bytes: int
    keys: np.ndarray | None
    attempts: int = 0
    retry_at_s: float = 0.0
    sequence: int = -1
    wire: RecordBatch | None = None


class PartitionQueue:
    """The records of one partition not yet in a batch, plus batches waiting to be retried.

    times: arrival times, s (sorted). cum: cumulative record bytes. keys: key ids or None.
    start: index of the first record not yet drained. split: index of the first record that does
    not fit in the first batch (``len(times)`` when unknown yet).

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

    def extend(self, times: list[float], keys: np.ndarray | None, record_bytes: list[int]) -> None:
        """Add records (later than those already queued); drained ones are dropped."""
        start = self.start
        if start:
            self.base = self.cum[start - 1]
            del self.times[:start], self.cum[:start]
            self.start = 0
        last = self.cum[-1] if self.cum else self.base
        # Python ints: exact, and cheaper than np.cumsum here (the first sum is ``last``)
        self.cum += islice(accumulate(record_bytes, initial=last), 1, None)
        self.times += times
        if keys is not None:
            old = self.keys[start:] if self.keys is not None else np.empty(0, dtype=np.int64)
            self.keys = np.concatenate([old, keys])

    def before(self) -> int:
        """Bytes of the records already drained (the base of ``cum`` for the first batch)."""
        return self.cum[self.start - 1] if self.start else self.base

    def arrived(self, now: float) -> int:
        """Index past the last record that has arrived by ``now``."""
        return bisect_right(self.times, now)

    def sum_times(self, start: int, end: int) -> float:
        """Sum of ``times[start:end]``, s, correctly rounded (math.fsum)."""
        return fsum(self.times[start:end])


class RecordAccumulator:
    """Batches per partition.

    batch_size: ``batch.size`` bytes. linger_s: ``linger.ms`` / 1000. compression:
    ``compression.type``.
    """

    def __init__(self, batch_size: int, linger_s: float, compression: str) -> None:
        self.batch_size = max(batch_size, 1)
        self.linger_s = linger_s
        self.ratio = COMPRESSION_RATIO[compression]
        self.queues: dict[TopicPartition, PartitionQueue] = {}
        #: a lower bound on the arrival time of every queued record, s: records are appended in
        #: arrival order, so it only needs lowering when records join an empty accumulator
        self._oldest_s = _INF

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
        q = self.queue(tp)
        q.extend(times, keys, record_bytes)
        if times and times[0] < self._oldest_s:
            self._oldest_s = times[0]
        self._refresh(q)

    def _refresh(self, q: PartitionQueue) -> None:
        """Recompute where the first batch ends and when it becomes ready."""
        n = len(q.times)
        if q.start >= n:
            q.split = n
            q.next_s = _INF
            return
        split = bisect_right(q.cum, q.before() + self.batch_size)
        q.split = max(split, q.start + 1)  # a record larger than batch.size goes alone
        # plain floats (the lists hold them): a numpy scalar reaching a SimPy timeout makes
        # every later time one
        lingered = q.times[q.start] + self.linger_s
        full = q.times[q.split] if q.split < n else _INF
        q.next_s = lingered if lingered < full else full

    # ---------------------------------------------------------------- readiness

    def has_data(self, q: PartitionQueue, now: float) -> bool:
        """Something to drain now: a retry due, or records that have arrived."""
        if q.retries:
            return q.retries[0].retry_at_s <= now
        return q.start < len(q.times) and q.times[q.start] <= now

    def next_ready_s(self, now: float) -> float:
        """The earliest future time a partition becomes ready (inf if none)."""
        best = _INF
        for q in self.queues.values():
            t = q.retries[0].retry_at_s if q.retries else q.next_s
            if now < t < best:
                best = t
        return best

    def all_batches_full(self, tp: TopicPartition, now: float) -> bool:
        """RecordAccumulator.allBatchesFull: nothing open for ``tp`` (its records all drained)."""
        q = self.queues.get(tp)
        return q is None or q.start >= q.arrived(now)

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
        end = min(q.split, q.arrived(now))
        if end <= q.start:
            return None
        batch = self._cut(q, q.start, end)
        q.start = end
        self._refresh(q)
        return batch

    def _cut(self, q: PartitionQueue, start: int, end: int) -> ProducerBatch:
        count = end - start
        return ProducerBatch(
            tp=q.tp,
            first_arrival_s=q.times[start],
            mean_arrival_s=q.sum_times(start, end) / count,
            count=count,
            records_bytes=q.cum[end - 1] - q.before(),
            keys=None if q.keys is None else q.keys[start:end],
        )

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

    def expire(self, q: PartitionQueue, now: float, timeout_s: float) -> ProducerBatch | None:
        """Records waiting longer than ``timeout_s`` (delivery.timeout.ms) as one failed batch."""
        if q.retries or q.start >= len(q.times) or q.times[q.start] + timeout_s > now:
            return None
        end = bisect_right(q.times, now - timeout_s)
        batch = self._cut(q, q.start, end)
        q.start = end
        self._refresh(q)
        return batch

    def wire_size(self, batch: ProducerBatch) -> int:
        """Bytes on the wire: header plus the (compressed) records."""
        return RECORD_BATCH_OVERHEAD_BYTES + int(batch.records_bytes * self.ratio)

    def reenqueue(self, batch: ProducerBatch) -> None:
        """Put a batch to retry back at the front, in sequence order (insertInSequenceOrder)."""
        retries = self.queue(batch.tp).retries
        i = 0
        while i < len(retries) and 0 <= retries[i].sequence < batch.sequence:
            i += 1
        retries.insert(i, batch)

    def wire(self, batch: ProducerBatch, batch_id: int, producer_id: int) -> RecordBatch:
        """Freeze the batch for sending at its first drain: its wire form."""
        batch.wire = RecordBatch(
            batch_id=batch_id,
            topic=batch.tp[0],
            partition=batch.tp[1],
            producer_id=producer_id,
            base_sequence=batch.sequence,
            count=batch.count,
            size_bytes=self.wire_size(batch),
            first_arrival_s=batch.first_arrival_s,
            mean_arrival_s=batch.mean_arrival_s,
            keys=batch.keys,
        )
        return batch.wire
