"""A MirrorMaker 2 task (≈ Kafka 3.9 ``MirrorSourceTask``): a consumer of the source cluster,
assigned its share of the source partitions, whose records go to the task's producer on the
target (:class:`~sim.mirror.worker_source_task.WorkerSourceTask`).

``initializeConsumer``: ``consumer.assign()`` (no group), and with no offset stored by Connect
(the run starts with none) the position comes from ``auto.offset.reset`` (``earliest`` unless
``consumer.auto.offset.reset`` says otherwise). ``poll()`` converts each record
(``convertRecord``): topic ``formatRemoteTopic(source alias, topic)``, the same partition, the
same key; the worker sends it. The consumer is the model's own
(:class:`~sim.clients.consumer.kafka_consumer.KafkaConsumer`); its polls are not rows of the
``consumed`` table (no application reads them): each returned run of records goes to the
producer at once, in poll order. A record's bytes are its share of its source batch on the wire.
"""

from __future__ import annotations

from sim.clients.consumer.fetcher import Chunk
from sim.clients.consumer.kafka_consumer import KafkaConsumer
from sim.mirror.worker_source_task import WorkerSourceTask
from sim.protocol import RECORD_BATCH_OVERHEAD_BYTES, TopicPartition


class MirrorSourceTask(KafkaConsumer):
    """Task ``name``'s consumer on the source's network; ``remote``: source topic -> its
    remote topic's name; ``producer``: the task's producer on the target; ``source_prefix``:
    what names the source's topics in the results (``east/``)."""

    def __init__(
        self, *args, remote: dict[str, str], producer: WorkerSourceTask, source_prefix: str,
        **kwargs,
    ) -> None:  # fmt: skip
        super().__init__(*args, **kwargs)
        self.remote = remote
        self.producer = producer
        self.source_prefix = source_prefix

    def start_task(self, partitions: list[TopicPartition]) -> None:
        """MirrorSourceTask.start: assign the partitions, then poll from now on."""
        self.assign(partitions)
        self.start(self.env.now)

    def _record(self, chunks: list[Chunk]) -> int:
        """poll() returned ``chunks``: convert and send each (WorkerSourceTask.sendRecords)."""
        total = 0
        send = self.producer.send
        for tp, entry, first_offset, count in chunks:
            batch = entry.batch
            record_bytes = max((batch.size_bytes - RECORD_BATCH_OVERHEAD_BYTES) // batch.count, 0)
            keys = batch.keys
            if keys is not None:
                start = first_offset - entry.base_offset
                keys = keys[start : start + count]
            run = (self.source_prefix + tp[0], tp[1], first_offset, count)
            send((self.remote[tp[0]], tp[1]), run, record_bytes, keys)
            total += count
        return total
