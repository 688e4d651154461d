"""The producer's record memory (≈ Kafka's BufferPool): ``buffer.memory`` bytes shared by all of
a producer's batches.

In Kafka, ``RecordAccumulator.append`` allocates a buffer when a record opens a new batch
(``max(batch.size, the record's size upper bound)`` bytes) and the Sender gives it back when the
batch is done (acknowledged, failed or expired: ``RecordAccumulator.deallocate``). A send() whose
allocation does not fit blocks the application's thread until enough is freed, or fails with
``BufferExhaustedException`` after ``max.block.ms``; while a thread waits, every partition's
batch is sendable (``RecordAccumulator.ready``: ``exhausted``).

The model keeps two counts: the buffers of batches already cut from the partition queues (in
flight, or waiting to be retried), always; and the buffers of the batches still in the queues,
only while memory is tight (:class:`~sim.clients.producer.kafka_producer.KafkaProducer` decides
when, from a cheap upper bound). Which bytes are pooled and which are not (Kafka's free list of
``batch.size`` buffers) changes nothing that the model measures, so the pool is one count.
"""

from __future__ import annotations

from sim.protocol import RECORD_BATCH_OVERHEAD_BYTES


class BufferPool:
    """``total_bytes`` (``buffer.memory``) of batch buffers of at least ``batch_size`` bytes
    (``batch.size``).

    sent_bytes: buffers of batches cut from the queues and not yet done, bytes.
    queued_bytes: buffers of the batches still in the queues, bytes, or None while it is not
    tracked (memory is ample: no allocation can fail).
    """

    def __init__(self, total_bytes: int, batch_size: int) -> None:
        self.total_bytes = total_bytes
        self.batch_size = batch_size
        self.sent_bytes = 0
        self.queued_bytes: int | None = None

    def buffer_bytes(self, record_bytes: int) -> int:
        """Bytes allocated for a batch opened by a record of ``record_bytes`` bytes
        (``max(batch.size, estimateSizeInBytesUpperBound)``)."""
        size = RECORD_BATCH_OVERHEAD_BYTES + record_bytes
        # not max(): a builtin max() of two costs ~1,100 instructions more (Python 3.11)
        return size if size > self.batch_size else self.batch_size

    def available_bytes(self) -> int:
        """Bytes a new batch can still take (only meaningful while ``queued_bytes`` is
        tracked)."""
        return self.total_bytes - self.sent_bytes - (self.queued_bytes or 0)
