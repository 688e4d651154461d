"""Per-partition batching of records (≈ Kafka's RecordAccumulator and ProducerBatch).

Records arrive as arrays (times, key ids, record sizes) for one partition at a time; they are
packed into batches of at most ``batch.size`` bytes (a record larger than that gets a batch of
its own), with one loop iteration per batch, never per record. A batch is *full* when the next
record did not fit; it is ready to send when full, when it has waited ``linger.ms``, or when its
node is drained for another partition's sake (Kafka drains the first batch of every partition of
a ready node).
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

import numpy as np

from sim.protocol import RECORD_BATCH_OVERHEAD_BYTES, RecordBatch, TopicPartition

#: Compressed size / uncompressed size by compression.type, for text-like records (JSON, logs).
#: Assumed typical ratios; the model does not compress real bytes. "none" is exact.
COMPRESSION_RATIO = {"none": 1.0, "gzip": 0.35, "snappy": 0.55, "lz4": 0.55, "zstd": 0.30}


@dataclass(slots=True, eq=False)
class ProducerBatch:
    """A batch being filled, then in flight (≈ ProducerBatch). Times in seconds."""

    tp: TopicPartition
    created_s: float
    first_arrival_s: float
    arrival_sum_s: float = 0.0
    count: int = 0
    records_bytes: int = 0
    keys: list[np.ndarray] = field(default_factory=list)
    full_s: float | None = None  # when the next record did not fit
    attempts: int = 0
    retry_at_s: float = 0.0
    sequence: int = -1
    wire: RecordBatch | None = None  # set when first drained (closed for appends)

    @property
    def closed(self) -> bool:
        """Drained at least once: no more appends."""
        return self.wire is not None


class RecordAccumulator:
    """Batches per partition.

    batch_size: ``batch.size`` bytes. linger_s: ``linger.ms`` / 1000. buffer_memory:
    ``buffer.memory`` bytes for batches not yet completed. compression: ``compression.type``.
    """

    def __init__(
        self, batch_size: int, linger_s: float, buffer_memory: int, compression: str
    ) -> None:
        self.batch_size = max(batch_size, 1)
        self.linger_s = linger_s
        self.buffer_memory = buffer_memory
        self.ratio = COMPRESSION_RATIO[compression]
        self.deques: dict[TopicPartition, deque[ProducerBatch]] = {}
        self.buffered_bytes = 0

    def has_room(self) -> bool:
        """Whether buffer.memory has room for another batch (else send() blocks)."""
        return self.buffered_bytes + self.batch_size <= self.buffer_memory

    def append(
        self, tp: TopicPartition, times: np.ndarray, keys: np.ndarray | None, sizes: np.ndarray
    ) -> None:
        """Append records (all for ``tp``, in time order) to its open batch, then new ones."""
        dq = self.deques.get(tp)
        if dq is None:
            dq = self.deques[tp] = deque()
        cumulative = np.cumsum(sizes)
        start, n = 0, len(times)
        while start < n:
            batch = dq[-1] if dq and not dq[-1].closed and dq[-1].full_s is None else None
            if batch is None:
                batch = ProducerBatch(tp, float(times[start]), float(times[start]))
                dq.append(batch)
                self.buffered_bytes += self.batch_size
            room = self.batch_size - batch.records_bytes
            before = cumulative[start - 1] if start else 0
            end = int(np.searchsorted(cumulative, before + room, side="right"))
            if end == start and batch.count == 0:
                end = start + 1  # a record larger than batch.size gets a batch of its own
            if end > start:
                self._fill(batch, times, keys, sizes, start, end, cumulative[end - 1] - before)
            if end < n:
                batch.full_s = float(times[end])
            start = end

    @staticmethod
    def _fill(batch: ProducerBatch, times, keys, sizes, start: int, end: int, nbytes: int) -> None:
        batch.count += end - start
        batch.records_bytes += int(nbytes)
        batch.arrival_sum_s += float(times[start:end].sum())
        if keys is not None:
            batch.keys.append(keys[start:end])

    def all_batches_full(self, tp: TopicPartition) -> bool:
        """RecordAccumulator.allBatchesFull: no open batch for ``tp`` (empty, or last full)."""
        dq = self.deques.get(tp)
        return not dq or dq[-1].closed or dq[-1].full_s is not None

    def is_ready(self, batch: ProducerBatch, now: float) -> bool:
        """Ready to send: full, lingered, or a retry whose backoff has passed."""
        if batch.retry_at_s > now:
            return False
        return batch.closed or batch.full_s is not None or batch.created_s + self.linger_s <= now

    def next_ready_s(self, now: float) -> float:
        """The earliest future time a queued first batch becomes ready (inf if none)."""
        best = float("inf")
        for dq in self.deques.values():
            if dq:
                batch = dq[0]
                if batch.retry_at_s > now:
                    best = min(best, batch.retry_at_s)
                elif not (batch.closed or batch.full_s is not None):
                    best = min(best, batch.created_s + self.linger_s)
        return best

    def close(
        self, batch: ProducerBatch, batch_id: int, producer_id: int, now: float
    ) -> RecordBatch:
        """Freeze the batch for sending (first drain): its wire form with compressed size."""
        keys = np.concatenate(batch.keys) if batch.keys else None
        size = RECORD_BATCH_OVERHEAD_BYTES + int(batch.records_bytes * self.ratio)
        batch.wire = RecordBatch(
            batch_id=batch_id,
            topic=batch.tp[0],
            partition=batch.tp[1],
            producer_id=producer_id,
            base_sequence=batch.sequence,
            count=batch.count,
            size_bytes=size,
            first_arrival_s=batch.first_arrival_s,
            mean_arrival_s=batch.arrival_sum_s / batch.count,
            keys=keys,
        )
        batch.keys = []
        return batch.wire

    def reenqueue(self, batch: ProducerBatch) -> None:
        """Put a batch to retry back at the front, in sequence order (insertInSequenceOrder)."""
        dq = self.deques[batch.tp]
        if batch.sequence < 0:
            dq.appendleft(batch)
            return
        i = 0
        while i < len(dq) and dq[i].closed and 0 <= dq[i].sequence < batch.sequence:
            i += 1
        dq.insert(i, batch)

    def deallocate(self, batch: ProducerBatch) -> None:
        """A batch is done (acknowledged or failed): free its buffer memory."""
        self.buffered_bytes -= self.batch_size
