"""The Kafka Connect side of a MirrorMaker 2 task (≈ Kafka 3.9 ``WorkerSourceTask`` with its
``KafkaProducer``): the records the task polled are sent to the target cluster, each to the
partition it names.

The producer is the model's own (:class:`~sim.clients.producer.record_accumulator.
RecordAccumulator`, :class:`~sim.clients.producer.sender.Sender`, :class:`~sim.clients.metadata.
Metadata`) without a workload: the task hands it records as its consumer returns them
(``send``), with Connect's producer settings (``acks=all``, no idempotence, one request in
flight, retries until ``delivery.timeout.ms`` = Integer.MAX_VALUE: see
:data:`sim.kafka_config.MIRROR_PRODUCER_DEFAULTS`).

Each batch remembers the source records it holds (their source partition and offsets, as runs)
and, once it has its batch id, writes them to the ``mirrored_batches`` table: the audit maps
the remote topics' logs back to the source with it.

Connect's offsets: each record sent is submitted (:class:`~sim.mirror.submitted_records.
SubmittedRecords`) and acknowledged when its batch is (``WorkerSourceTask.recordSent``); what
is committable is flushed by the mirror every ``offset.flush.interval.ms``
(:mod:`sim.multi_cluster`). A Connect worker crash (:meth:`WorkerSourceTask.crash`) ends the
producer at once: what it held (queued, in flight) never gets an answer and stays pending in
its account, which the task's next producer (same name) carries on. Not modelled: send()
blocking on a full ``buffer.memory`` (Connect's max.block.ms is infinite: the task would stop
polling), and a batch failing for good failing the task (``producerSendFailed``): its records
are never committable.
"""

from __future__ import annotations

from collections import deque

import numpy as np
import simpy

from sim.clients.metadata import Metadata
from sim.clients.producer.record_accumulator import ProducerBatch, RecordAccumulator
from sim.clients.producer.sender import Sender
from sim.kafka_config import EffectiveConfig
from sim.metrics import Metrics, Table
from sim.mirror.submitted_records import SubmittedRecords
from sim.protocol import ConnectionClosed, RecordBatch, TopicPartition
from sim.results import SPLIT
from sim.timers import call_later

#: A run of source records: (source topic, source partition, first offset, count).
Run = tuple[str, int, int, int]


class MirrorAccumulator(RecordAccumulator):
    """A RecordAccumulator whose batches know the source records they hold; ``ends``: batch id
    -> the source offset after its last record, shared by the mirror's producers (the lag
    sampler reads it)."""

    def __init__(
        self, config: EffectiveConfig, mirror: str, table: Table, ends: dict[int, int]
    ) -> None:
        super().__init__(
            config["batch.size"], config.s("linger.ms"), config["compression.type"],
            config["buffer.memory"],
        )  # fmt: skip
        self.mirror = mirror
        self.table = table
        self._queued: dict[TopicPartition, deque[list]] = {}  # runs not cut yet, per partition
        self._runs: dict[ProducerBatch, list[Run]] = {}  # batches not done yet
        self.ends = ends

    def append_run(self, tp: TopicPartition, run: Run, record_bytes: int, keys, now: float):
        """Queue ``run``'s records for ``tp``, arrived now, of ``record_bytes`` each."""
        count = run[3]
        self.append(tp, [now] * count, keys, [record_bytes] * count)
        queued = self._queued.setdefault(tp, deque())
        last = queued[-1] if queued else None
        if last is not None and last[:2] == list(run[:2]) and last[2] + last[3] == run[2]:
            last[3] += count  # it continues the run queued last: one run
        else:
            queued.append(list(run))

    def _cut(self, q, start: int, end: int) -> ProducerBatch:
        batch = super()._cut(q, start, end)
        queued, need, runs = self._queued[q.tp], end - start, []
        while need:
            topic, partition, first, count = queued[0]
            take = min(count, need)
            runs.append((topic, partition, first, take))
            need -= take
            if take == count:
                queued.popleft()
            else:
                queued[0][2:] = [first + take, count - take]
        self._runs[batch] = runs
        return batch

    def split_and_reenqueue(self, big: ProducerBatch, now: float) -> ProducerBatch:
        piece = super().split_and_reenqueue(big, now)
        self._runs[piece] = self._runs.pop(big)  # the same records (see the parent's docstring)
        return piece

    def wire(self, batch: ProducerBatch, batch_id: int, producer_id: int) -> RecordBatch:
        first = batch.wire is None  # an epoch bump wires a batch again, same id
        wire = super().wire(batch, batch_id, producer_id)
        if first:
            index = 0
            for topic, partition, offset, count in self._runs.get(batch, ()):
                row = (self.mirror, batch_id, index, topic, partition, offset, count)
                self.table.append_row(row)
                index += count
                self.ends[batch_id] = offset + count
        return wire

    def runs_done(self, batch: ProducerBatch) -> list[Run]:
        """The source records of ``batch``, done for good (not split): forgotten."""
        return self._runs.pop(batch, [])


class _ConnectSender(Sender):
    """The producer's Sender with Connect's send callback (``WorkerSourceTask.recordSent``):
    a batch acknowledged acknowledges its source records (``on_acked``) and tells the task
    their remote offsets (``commit_record(runs, base_offset)``: WorkerSourceTask calls
    ``SourceTask.commitRecord(record, metadata)`` per record acknowledged)."""

    def __init__(self, *args, on_acked, commit_record, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.on_acked = on_acked
        self.commit_record = commit_record

    def _complete(
        self, batch: ProducerBatch, now: float, base_offset: int, error: str = ""
    ) -> None:
        super()._complete(batch, now, base_offset, error)
        if error != SPLIT:  # a split batch's records go on in the batch split from it
            runs = self.accumulator.runs_done(batch)
            if not error:
                self.on_acked(runs)
                if base_offset >= 0:
                    self.commit_record(runs, base_offset)


class WorkerSourceTask:
    """Producer client ``name`` of a mirror's task, on the target's network ``net``.

    mirror: the mirror's name (``east->west``); topics: the remote topics it writes;
    bootstrap: the target's broker node names; table: ``mirrored_batches``; ends: shared by the
    mirror's producers (:class:`MirrorAccumulator`); previous: the producer of the same name
    that a worker crash ended, whose account this one carries on; commit_record(runs,
    base_offset): called as each batch is acknowledged with the source runs it holds and its
    first remote offset (MirrorSourceTask.commitRecord).
    """

    def __init__(
        self,
        env: simpy.Environment,
        name: str,
        mirror: str,
        net,
        config: EffectiveConfig,
        metrics: Metrics,
        rng: np.random.Generator,
        producer_id: int,
        bootstrap: list[str],
        topics: list[str],
        table: Table,
        ends: dict[int, int],
        previous: WorkerSourceTask | None = None,
        commit_record=None,
    ) -> None:
        self.env = env
        self.name = name
        self.previous = previous
        self.accumulator = MirrorAccumulator(config, mirror, table, ends)
        #: the records sent, and which Connect may commit
        self.submitted = SubmittedRecords()
        self.sender = _ConnectSender(
            env, name, net, self.accumulator, config, metrics, rng, producer_id,
            self._stale, self._wake, on_acked=self._acked,
            commit_record=commit_record or _ignore,
        )  # fmt: skip
        self.metadata = Metadata(env, net, name, bootstrap, config, self._on_metadata)
        self.metadata.topics = sorted(topics)
        #: records handed to send() so far
        self.offered = 0
        self._awake = True  # a round is due or running (true until the first)
        self.crashed = False
        self._rounds = 0
        self._round_callbacks = (self._round,)
        self._timer_callbacks = (self._on_timer,)

    def on_request(self, request, source: str, respond) -> None:
        """A broker closed the connection (acks=0): refresh metadata. Clients serve nothing."""
        if isinstance(request, ConnectionClosed):
            self._stale()
            return
        raise TypeError(f"{self.name} got a {type(request).__name__}: clients serve no requests")

    def start(self) -> None:
        """Start the metadata updater and the send loop now."""
        self.env.process(self.metadata.run())
        self._round()

    def send(self, tp: TopicPartition, run: Run, record_bytes: int, keys) -> None:
        """producer.send() of ``run``'s records to ``tp`` (SourceRecord.kafkaPartition: the
        source partition), each of ``record_bytes`` bytes, keys ids or None."""
        self.accumulator.append_run(tp, run, record_bytes, keys, self.env.now)
        self.submitted.submit(run[:2], run[2])
        self.offered += run[3]
        self._wake()

    def crash(self) -> None:
        """The Connect worker dies: nothing more is sent or answered (the world resets the
        node's connections); what the producer held stays pending."""
        self.crashed = True
        self.metadata.stop()

    def account(self, end_s: float) -> tuple[int, int, int, int]:
        """(offered, blocked, queued, in flight) at ``end_s`` for the ``producers`` table, the
        crashed producers' before it included."""
        queued = self.accumulator.records_before(end_s)
        own = (self.offered, 0, queued, self.sender.in_flight_records())
        if self.previous is None:
            return own
        before = self.previous.account(end_s)
        return tuple(a + b for a, b in zip(own, before, strict=True))

    def _acked(self, runs: list[Run]) -> None:
        for topic, partition, first, count in runs:
            self.submitted.ack((topic, partition), first, count)

    def _round(self, _event=None) -> None:
        """Drain and send what is ready; a timer for when the next batch will be."""
        if self.crashed:
            return
        now = self.env.now
        self.sender.run_once(now)
        self._rounds += 1
        self._awake = False
        wake = self.accumulator.next_ready_s(now)
        if wake < float("inf"):
            timer = _Timer(self._rounds)
            call_later(self.env, wake - now, timer, self._timer_callbacks)

    def _on_timer(self, timer: _Timer) -> None:
        if timer.round == self._rounds:
            self._wake()

    def _wake(self) -> None:
        if not self._awake:
            self._awake = True
            call_later(self.env, 0.0, _Timer(self._rounds), self._round_callbacks)

    def _stale(self) -> None:
        self.metadata.request_update()

    def _on_metadata(self) -> None:
        leaders = {
            tp: (meta.leader if meta.leader >= 0 else None)
            for tp, meta in self.metadata.partitions.items()
        }
        self.sender.set_leaders(leaders)
        self._wake()


def _ignore(runs: list[Run], base_offset: int) -> None:
    """No offset syncs (``emit.offset-syncs.enabled`` false)."""


class _Timer:
    """An event on SimPy's queue (:func:`sim.timers.call_later`) set by round ``round``."""

    __slots__ = ("callbacks", "round")
    _ok = True

    def __init__(self, round_: int) -> None:
        self.round = round_
