"""The producer's sender (≈ Kafka's Sender thread with its NetworkClient's in-flight requests).

Each round (``Sender.runOnce``): find nodes with a ready batch, drain from each such node the
first batch of every partition it leads (one batch per partition, up to ``max.request.size``),
send one ProduceRequest per node while fewer than ``max.in.flight.requests.per.connection`` are
in flight to it, and handle answers: complete, retry with backoff (``retry.backoff.ms`` doubling
up to ``retry.backoff.max.ms``, ±20 % jitter, KIP-580), split a batch of several records the
broker refused as larger than ``max.message.bytes`` (MESSAGE_TOO_LARGE; a single record fails
with it), or fail once ``delivery.timeout.ms`` has passed or retries run out. A batch still in
flight at its delivery timeout fails then (Sender.getExpiredInflightBatches); its request keeps
its slot until answered.

With idempotence it also keeps the TransactionManager's state of an idempotent producer: per
partition the next sequence, the batches with a sequence not yet done, the last acknowledged
sequence and the epoch its sequences belong to. A batch that fails for good leaves a hole in its
partition's sequences that the broker never fills; as Kafka 3.9 does (KIP-360) the sender then
bumps the producer epoch before its next drain and restarts that partition's sequences at 0,
rewriting those of its batches not yet done (startSequencesAtBeginning), and drains no new batch
of a partition while batches of an older epoch, or of a sequence left unresolved by an expiry,
are not done.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from sim.clients.producer.record_accumulator import ProducerBatch, RecordAccumulator
from sim.cpu import Cpu
from sim.events import EventKind
from sim.kafka_config import EffectiveConfig
from sim.metrics import Metrics
from sim.net import NetworkFailure, RequestTimedOut
from sim.protocol import Errors, ProduceRequest, ProduceResponse, TopicPartition
from sim.results import SPLIT
from sim.timers import call_later


@dataclass(slots=True, eq=False)
class _InFlight:
    """A produce request awaiting its answer (NetworkClient's InFlightRequests entry)."""

    batches: list[ProducerBatch]
    response: ProduceResponse | None = None
    done: bool = False


@dataclass(slots=True, eq=False)
class _Transmit:
    """A request the sender thread is still building (its CPU time), sent when it is done; an
    item on SimPy's queue (:func:`sim.timers.call_later`)."""

    node: int
    target: str
    request: ProduceRequest
    entry: _InFlight
    callbacks: tuple = ()
    _ok = True


if TYPE_CHECKING:
    import simpy

DELIVERY_TIMEOUT = "DELIVERY_TIMEOUT"  # the client's TimeoutException, not a broker error code
#: the client's BufferExhaustedException: send() found no memory within max.block.ms
BUFFER_EXHAUSTED = "BUFFER_EXHAUSTED"
#: the client's RecordTooLargeException: send() refused a record larger than max.request.size or
#: buffer.memory (KafkaProducer.ensureValidRecordSize)
RECORD_TOO_LARGE = "RECORD_TOO_LARGE"
RETRY_JITTER = 0.2  # CommonClientConfigs.RETRY_BACKOFF_JITTER
#: Short.MAX_VALUE: past it Kafka asks InitProducerId for a new producer id (not modelled)
MAX_PRODUCER_EPOCH = 2**15 - 1
_METADATA_ERRORS = frozenset(
    {Errors.NOT_LEADER_OR_FOLLOWER, Errors.NETWORK_EXCEPTION, Errors.UNKNOWN_TOPIC_OR_PARTITION}
)
#: Answers that complete a batch: appended, or a duplicate of one already appended (a set: an
#: Errors member looked up per batch costs an enum attribute lookup).
_ACCEPTED = frozenset({Errors.NONE, Errors.DUPLICATE_SEQUENCE_NUMBER})


class Sender:
    """Sends the accumulator's batches for one producer client ``name``.

    leader_of: partition -> leader broker id (the producer's metadata), or absent/None if unknown.
    """

    #: TEST-ONLY switch: False breaks the metadata refresh a batch without a known leader asks
    #: for (Sender.sendProducerData's unknownLeaderTopics), so a test can show what it prevents.
    #: Never set it in a scenario.
    refresh_on_unknown_leader = True

    def __init__(
        self,
        env: simpy.Environment,
        name: str,
        net,
        accumulator: RecordAccumulator,
        config: EffectiveConfig,
        metrics: Metrics,
        rng: np.random.Generator,
        producer_id: int,
        on_metadata_stale: Callable[[], None],
        wake: Callable[[], None],
    ) -> None:
        self.env = env
        self.name = name
        self.net = net
        self.accumulator = accumulator
        self.metrics = metrics
        self.rng = rng
        self.producer_id = producer_id
        self.on_metadata_stale = on_metadata_stale
        self.acks = {"all": -1, "0": 0, "1": 1}[config["acks"]]
        self.max_in_flight = config["max.in.flight.requests.per.connection"]
        self.guarantee_order = self.max_in_flight == 1
        self.max_request_size = config["max.request.size"]
        self.request_timeout_s = config.s("request.timeout.ms")
        self.delivery_timeout_s = config.s("delivery.timeout.ms")
        self.retries = config["retries"]
        self.backoff_s = config.s("retry.backoff.ms")
        self.backoff_max_s = config.s("retry.backoff.max.ms")
        self.idempotent = bool(config["enable.idempotence"])
        self.leader_of: dict[TopicPartition, int | None] = {}
        self.partitions_of: dict[int, list[TopicPartition]] = {}
        self.in_flight: dict[int, deque[_InFlight]] = {}  # per node, in send order
        self.muted: set[TopicPartition] = set()
        self.next_sequence: dict[TopicPartition, int] = {}
        # idempotence, per partition: the batches drained and not yet done by sequence
        # (TxnPartitionEntry.inflightBatchesBySequence), the sequences now in flight, the last
        # sequence acknowledged and the epoch the sequences belong to
        self.unacked: dict[TopicPartition, dict[int, ProducerBatch]] = {}
        self.sent: dict[TopicPartition, set[int]] = {}
        self.last_acked: dict[TopicPartition, int] = {}
        self.partition_epoch: dict[TopicPartition, int] = {}
        #: the producer epoch (KIP-360); bumped when a partition's sequences have a hole
        self.epoch = 0
        #: partitions whose sequences restart at 0 at the next bump (partitionsToRewriteSequences)
        self.bump_for: dict[TopicPartition, None] = {}
        #: partitions with an expired retried batch: sequence after it, until resolved
        #: (partitionsWithUnresolvedSequences)
        self.unresolved: dict[TopicPartition, int] = {}
        #: no batch in flight reaches its delivery timeout before this, s (it may be earlier:
        #: batches answered since are not taken out)
        self.in_flight_expiry_s = math.inf
        self._drain_start: dict[int, int] = {}
        self._target: dict[int, str] = {}  # node -> its name on the network
        self.node_latency: dict[int, list[float]] = {}
        #: wakes the producer for a round (an answer arrived)
        self.wake = wake
        #: the sender thread's CPU time per request, s, and per byte of its batches (their
        #: checksums), s (set from the hardware); requests leave one after another, each built
        #: on the producer machine's CPU
        self.request_cpu_s = 0.0
        self.byte_cpu_s = 0.0
        self.cpu = Cpu()
        self._busy_until_s = 0.0  # when the sender thread is done with the requests so far

    # ---------------------------------------------------------------- one round

    def run_once(self, now: float) -> None:
        """Sender.runOnce: resolve sequences and bump the epoch if needed, expire, then drain
        and send to every ready node with room."""
        if self.unresolved:
            self._resolve_sequences()
        if self.bump_for:
            self._bump_epoch(now)
        if now >= self.in_flight_expiry_s:
            self._expire_in_flight(now)
        for batch in self.accumulator.expire_all(now, self.delivery_timeout_s):
            self.fail_unsent(batch, now, DELIVERY_TIMEOUT)  # RecordAccumulator.expiredBatches
        for node in self._ready_nodes(now):
            can_drain = self.in_flight_to(node) < self.max_in_flight
            self._update_node_latency(node, now, can_drain)
            if can_drain:
                batches = self._drain(node, now)
                if batches:
                    self._send(node, batches, now)

    def idle_until(self, now: float, until_s: float) -> bool:
        """Whether :meth:`run_once` at any time in (``now``, ``until_s``] would change nothing,
        given the state after a round at ``now`` and no answer, readiness or timer before then:
        no sequence to resolve or epoch to bump, no batch in flight or queued reaching its
        delivery timeout, and every node with a ready batch (:meth:`_ready_nodes`) has
        max.in.flight requests in flight, with no partition's leader unknown. A node that
        cannot drain only has its ready time moved on (:meth:`_update_node_latency`), which is
        read at a partition switch only, after a round at the arrival of the record before."""
        if self.unresolved or self.bump_for or until_s >= self.in_flight_expiry_s:
            return False
        accumulator = self.accumulator
        if accumulator.expires_by(until_s, self.delivery_timeout_s):
            return False
        leader_of, muted = self.leader_of, self.muted
        for tp, q in accumulator.busy.items():
            leader = leader_of.get(tp)
            if leader is None:
                return False
            ready_s = q.retries[0].retry_at_s if q.retries else q.next_s
            can_drain = self.in_flight_to(leader) < self.max_in_flight
            if ready_s <= now and tp not in muted and can_drain:
                return False
        return True

    def _expire_in_flight(self, now: float) -> None:
        """Sender.getExpiredInflightBatches: a batch in flight whose delivery timeout has passed
        fails now (:meth:`_expire`, as failBatch with adjustSequenceNumbers false and, for a
        retry, markSequenceUnresolved); its request stays in flight. Sets the next such time."""
        nearest = math.inf
        timeout_s = self.delivery_timeout_s
        for queue in self.in_flight.values():
            for entry in queue:
                for batch in entry.batches:
                    if batch.done:
                        continue
                    if now - batch.first_arrival_s >= timeout_s:  # as _handle_error's test
                        self._expire(batch, now)
                    elif batch.first_arrival_s + timeout_s < nearest:
                        nearest = batch.first_arrival_s + timeout_s
        self.in_flight_expiry_s = nearest

    def _update_node_latency(self, node: int, now: float, can_drain: bool) -> None:
        """RecordAccumulator.updateNodeLatencyStats: a ready node's ready time moves on; its
        drain time only when it can take a request (Sender.sendProducerData)."""
        stats = self.node_latency.get(node)  # [ready s, drain s]
        if stats is None:
            self.node_latency[node] = [now, now]
        else:
            stats[0] = now
            if can_drain:
                stats[1] = now

    def node_stall_s(self) -> dict[int, float]:
        """How long each node's ready data has waited for it to take a request, seconds
        (readyTimeMs − drainTimeMs, used by partitioner.availability.timeout.ms)."""
        return {node: ready - drained for node, (ready, drained) in self.node_latency.items()}

    def _ready_nodes(self, now: float) -> list[int]:
        """RecordAccumulator.ready: leaders of partitions with a ready batch. A partition with a
        batch (ready or not) and no known leader asks for new metadata, as Sender.sendProducerData
        does with ``ReadyCheckResult.unknownLeaderTopics`` (``metadata.requestUpdate(false)``):
        otherwise an answer that came while its election was pending would stand until
        ``metadata.max.age.ms``."""
        nodes: set[int] = set()
        leader_of, muted = self.leader_of, self.muted
        unknown_leader = False
        for tp, q in self.accumulator.busy.items():
            leader = leader_of.get(tp)
            if leader is None:
                # a batch in its deque: a retry, or a record that has arrived (inline: every wake)
                arrived = q.start < len(q.times) and q.times[q.start] <= now
                unknown_leader = unknown_leader or bool(q.retries) or arrived
            # ready: a retry due, or the first batch full or lingered
            elif (q.retries[0].retry_at_s if q.retries else q.next_s) <= now and tp not in muted:
                nodes.add(leader)
        if unknown_leader and self.refresh_on_unknown_leader:
            self.on_metadata_stale()
        return sorted(nodes)

    def _drain(self, node: int, now: float) -> list[ProducerBatch]:
        """RecordAccumulator.drainBatchesForOneNode: the first batch of each partition, rotating."""
        tps = self.partitions_of.get(node)
        if not tps:
            return []
        start = self._drain_start.get(node, 0) % len(tps)
        self._drain_start[node] = start + 1
        accumulator = self.accumulator
        queues, muted = accumulator.queues, self.muted
        out: list[ProducerBatch] = []
        size = 0
        for tp in tps[start:] + tps[:start] if start else tps:
            q = queues.get(tp)
            if q is None or tp in muted:
                continue
            # whether it has data to drain now, and the size of the batch it would give (at
            # most batch.size of records), written out: two Python calls per batch
            retries = q.retries
            if retries:
                retry = retries[0]
                if retry.retry_at_s > now or self._retry_must_wait(tp, retry):
                    continue
                next_size = retry.wire.size_bytes
            elif q.start < len(q.times) and q.times[q.start] <= now:
                if (self.epoch or self.unresolved) and self._hold_new(tp):
                    continue
                next_size = accumulator.batch_size
            else:
                continue
            if out and size + next_size > self.max_request_size:
                break
            batch = accumulator.drain(q, now)
            if batch is None:
                continue
            self._close(batch, now)
            out.append(batch)
            size += batch.wire.size_bytes
        return out

    def _close(self, batch: ProducerBatch, now: float, sending: bool = True) -> None:
        """First drain: sequence number (idempotence; only for a batch being sent), id, wire
        form, and the produced row."""
        if batch.wire is not None:
            return
        if self.idempotent and sending:
            tp = batch.tp
            if batch.sequence < 0:  # a batch split from a refused one has its sequence
                if self.epoch and self.partition_epoch.get(tp, 0) != self.epoch:
                    self._start_sequences_at_beginning(tp)  # maybeUpdateProducerIdAndEpoch
                batch.epoch = self.epoch
                batch.sequence = self.next_sequence.get(tp, 0)
                self.next_sequence[tp] = batch.sequence + batch.count
            unacked = self.unacked.get(tp)
            if unacked is None:
                unacked = self.unacked[tp] = {}
            unacked[batch.sequence] = batch
        batch_id = self.metrics.new_batch_id()
        wire = self.accumulator.wire(batch, batch_id, self.producer_id if self.idempotent else -1)
        self.metrics.produced.append_row(
            (
                batch_id,
                self.name,
                wire.topic,
                wire.partition,
                wire.producer_id,
                wire.base_sequence,
                wire.count,
                wire.size_bytes,
                wire.first_arrival_s,
                now,
            )
        )

    def _send(self, node: int, batches: list[ProducerBatch], now: float) -> None:
        wires = {}
        for batch in batches:
            wires[batch.tp] = batch.wire
            batch.attempts += 1
            if self.guarantee_order:
                self.muted.add(batch.tp)
            if batch.sequence >= 0:
                self.sent.setdefault(batch.tp, set()).add(batch.sequence)
        request = ProduceRequest(self.acks, self.request_timeout_s, wires)
        target = self._target.get(node)
        if target is None:
            target = self._target[node] = f"broker-{node}"
        deadline = min(batch.first_arrival_s for batch in batches) + self.delivery_timeout_s
        if deadline < self.in_flight_expiry_s:
            self.in_flight_expiry_s = deadline
        entry = _InFlight(batches)
        queue = self.in_flight.get(node)
        if queue is None:
            queue = self.in_flight[node] = deque()
        queue.append(entry)
        delay_s = self._cpu_delay_s(request.size_bytes, now)
        if delay_s > 0:
            later = _Transmit(node, target, request, entry)
            call_later(self.env, delay_s, later, (self._transmit_later,))
        else:
            self._transmit(node, target, request, entry)

    def _cpu_delay_s(self, request_bytes: int, now: float) -> float:
        """When the sender thread is done building a request of ``request_bytes`` built at
        ``now``, s from now: after the requests before it, its own time (a socket write and
        its batches' checksums), on the CPU (later if no core is free)."""
        cost = self.request_cpu_s + self.byte_cpu_s * request_bytes
        start = now if now > self._busy_until_s else self._busy_until_s
        self._busy_until_s = self.cpu.run(start, cost)
        return self._busy_until_s - now

    def _transmit_later(self, later: _Transmit) -> None:
        self._transmit(later.node, later.target, later.request, later.entry)

    def _transmit(self, node: int, target: str, request, entry: _InFlight) -> None:
        """Put the request on the network; ``entry`` (in flight since the drain) waits for its
        answer, or with acks=0 for its last byte to leave the NIC (:meth:`_on_sent`)."""
        if self.acks == 0:
            if not self.net.is_up(target):
                self.on_metadata_stale()  # connecting to a crashed broker is refused
            sent_in_s = self.net.send(self.name, target, request)
            if sent_in_s is None:  # not put on the wire: lost, done now
                self._on_sent(node, entry)
            else:
                self.env.timeout(sent_in_s).callbacks.append(lambda _: self._on_left(node, entry))
            return
        event = self.net.request(self.name, target, request, self.request_timeout_s)
        # the event has fired when this runs: ``_value`` skips Event.value's check (a call)
        event.callbacks.append(lambda ev: self._on_answer(node, entry, ev._value))

    def _on_sent(self, node: int, entry: _InFlight) -> None:
        """acks=0: no answer comes (Sender.sendProduceRequest builds the request with
        ``expectResponse = acks != 0``). NetworkClient.doSend put the request in
        inFlightRequests, where it holds a slot of max.in.flight.requests.per.connection; once
        its bytes have left the producer's NIC, NetworkClient.handleCompletedSends completes it
        (``completeLastSent``, the slot freed) and Sender.handleProduceResponse's acks=0 branch
        completes each batch: completeBatch with Errors.NONE and no offset (-1), which frees
        its memory and unmutes its partition under max.in.flight 1 (guaranteeMessageOrder).

        Kafka's send completes once written into the socket (its kernel buffer,
        ``send.buffer.bytes``); the model has no socket buffer, so it takes the NIC's last byte.
        A request not put on the wire (a crashed broker, a cut link) completes at once: counted
        sent, and lost."""
        self.in_flight[node].remove(entry)
        now = self.env.now
        for batch in entry.batches:
            self.muted.discard(batch.tp)
            if not batch.done:  # else it expired in flight
                self._complete(batch, now, -1)

    def _on_left(self, node: int, entry: _InFlight) -> None:
        """The request's last byte has left the NIC: complete it, and a round (a slot and
        memory are free)."""
        self._on_sent(node, entry)
        self.wake()

    def in_flight_to(self, node: int) -> int:
        """Requests sent to ``node`` and not yet answered."""
        queue = self.in_flight.get(node)
        return len(queue) if queue else 0

    def in_flight_records(self) -> int:
        """Records of the batches sent and not yet answered for good (an answer that came
        before an earlier request's is held until that one is answered)."""
        queues = self.in_flight.values()
        return sum(
            batch.count
            for queue in queues
            for entry in queue
            for batch in entry.batches
            if not batch.done
        )

    # ---------------------------------------------------------------- answers

    def _on_answer(self, node: int, entry: _InFlight, answer) -> None:
        """NetworkClient: answers of one connection complete in send order; a timeout or a
        disconnect closes the connection and fails every request still in flight on it."""
        if entry.done:
            return
        if isinstance(answer, NetworkFailure):
            timed_out = isinstance(answer, RequestTimedOut)
            error = Errors.REQUEST_TIMED_OUT if timed_out else Errors.NETWORK_EXCEPTION
            for failed in self.in_flight.pop(node, deque()):
                failed.done = True
                self._handle(failed.batches, error)
        else:
            entry.response = answer
            queue = self.in_flight[node]
            while queue and queue[0].response is not None:
                done = queue.popleft()
                done.done = True
                self._handle(done.batches, done.response)
        self.wake()

    def _handle(self, batches: list[ProducerBatch], answer: ProduceResponse | Errors) -> None:
        """Sender.handleProduceResponse: complete, retry or fail each batch."""
        now = self.env.now
        for batch in batches:
            self.muted.discard(batch.tp)
            if batch.sequence >= 0:
                self.sent[batch.tp].discard(batch.sequence)
            if batch.done:
                self._answer_after_expiry(batch, answer)
                continue
            if isinstance(answer, Errors):
                self._handle_error(batch, answer, now)
                continue
            result = answer.results[batch.tp]
            if result.error in _ACCEPTED:
                self._complete(batch, now, result.base_offset)
            else:
                self._handle_error(batch, result.error, now)

    def _complete(
        self, batch: ProducerBatch, now: float, base_offset: int, error: str = ""
    ) -> None:
        wire = batch.wire
        self.metrics.acked.append_row(
            (wire.batch_id, batch.attempts, base_offset, now, now - wire.mean_arrival_s, error)
        )
        batch.done = True
        if batch.sequence >= 0:
            del self.unacked[batch.tp][batch.sequence]
            if not error:
                self._acked_sequence(batch)
        self.accumulator.deallocate(batch)

    def _acked_sequence(self, batch: ProducerBatch) -> None:
        """TransactionManager.handleCompletedBatch: maybeUpdateLastAckedSequence."""
        last = batch.sequence + batch.count - 1
        if last > self.last_acked.get(batch.tp, -1):
            self.last_acked[batch.tp] = last

    def _answer_after_expiry(self, batch: ProducerBatch, answer: ProduceResponse | Errors) -> None:
        """Sender.completeBatch for a batch that failed in flight at its delivery timeout: its
        outcome stands (ProducerBatch.done refuses a second one); an acceptance still moves the
        last acknowledged sequence (TransactionManager.handleCompletedBatch), a metadata error
        still asks for new metadata. (Kafka's failBatch would also ask an epoch bump for an
        error with retries left; the model leaves a hole to the unresolved sequences.)"""
        error = answer if isinstance(answer, Errors) else answer.results[batch.tp].error
        if error in _METADATA_ERRORS:
            self.on_metadata_stale()
        elif error in _ACCEPTED and batch.sequence >= 0:
            self._acked_sequence(batch)

    def _handle_error(self, batch: ProducerBatch, error: Errors, now: float) -> None:
        """Sender.completeBatch / canRetry: split a batch of several records refused as too
        large, retry retriable errors until the delivery timeout, fail on the others.

        ``batch.attempts`` counts sends, Kafka's ``attempts()`` the retries before this one, so
        Kafka's ``attempts() < retries`` is ``batch.attempts <= self.retries`` here."""
        if error in _METADATA_ERRORS:
            self.on_metadata_stale()
        expired = now - batch.first_arrival_s >= self.delivery_timeout_s
        if error is Errors.MESSAGE_TOO_LARGE and batch.count > 1 and not expired:
            self._split(batch, now)
            return
        if expired:
            self._expire(batch, now)
            return
        if batch.attempts <= self.retries and self._can_retry(batch, error):
            batch.retry_at_s = now + self._backoff(batch.attempts)
            self.accumulator.reenqueue(batch)
            return
        self._complete(batch, now, -1, error.name)
        # TransactionManager.handleFailedBatch of an idempotent producer: a hole (the broker
        # refused the batch for good), unless retries ran out (it may have been appended)
        adjust = error is Errors.OUT_OF_ORDER_SEQUENCE_NUMBER or batch.attempts <= self.retries
        if batch.sequence >= 0 and adjust:
            self._request_epoch_bump(batch.tp)

    def _expire(self, batch: ProducerBatch, now: float) -> None:
        """The batch has passed ``delivery.timeout.ms`` (Kafka expires it in flight or in the
        accumulator, Sender.sendProducerData): it fails without adjusting sequences, and when it
        was a retry its partition's sequences are unresolved (markSequenceUnresolved) until its
        batches are all done."""
        self._complete(batch, now, -1, DELIVERY_TIMEOUT)
        if batch.sequence >= 0 and batch.attempts > 1:
            tp, after = batch.tp, batch.sequence + batch.count
            if after > self.unresolved.get(tp, -1):
                self.unresolved[tp] = after

    def _can_retry(self, batch: ProducerBatch, error: Errors) -> bool:
        """TransactionManager.canRetry of an idempotent producer: OUT_OF_ORDER_SEQUENCE_NUMBER
        is always retried; when the batch is the next one after the last acknowledged (or after
        an unresolved sequence), the hole is real and an epoch bump is requested. Other errors
        are retried when retriable."""
        if error is not Errors.OUT_OF_ORDER_SEQUENCE_NUMBER or batch.sequence < 0:
            return error.retriable
        tp = batch.tp
        unresolved = self.unresolved.get(tp)
        next_acked = batch.sequence == self.last_acked.get(tp, -1) + 1
        if unresolved is None and (batch.reopened or not next_acked):
            return True  # an earlier batch is not done yet: it may fill the hole
        if unresolved is None or batch.sequence == unresolved:
            self._request_epoch_bump(tp)
        return True

    def _request_epoch_bump(self, tp: TopicPartition) -> None:
        """TransactionManager.requestEpochBumpForPartition: bump before the next drain and
        restart the sequences of ``tp``."""
        self.bump_for[tp] = None

    def _resolve_sequences(self) -> None:
        """TransactionManager.maybeResolveSequences: a partition left unresolved by an expired
        retry is resolved once none of its batches is left; if its last acknowledged sequence
        is then not the one before its next, the hole is real and its epoch is bumped."""
        for tp in list(self.unresolved):
            if self.unacked.get(tp):
                continue
            if self.next_sequence.get(tp, 0) != self.last_acked.get(tp, -1) + 1:
                self._request_epoch_bump(tp)
            del self.unresolved[tp]

    def _bump_epoch(self, now: float) -> None:
        """TransactionManager.bumpIdempotentProducerEpoch: epoch + 1, and the sequences of the
        partitions that asked restart at 0 (with those of their batches not yet done); one
        ``producer_epoch_bump`` event row per such partition."""
        if self.epoch == MAX_PRODUCER_EPOCH:
            raise NotImplementedError(
                f"{self.name}: producer epoch exhausted; Kafka would get a new producer id "
                "from InitProducerId, which the model does not issue"
            )
        self.epoch += 1
        for tp in self.bump_for:
            self._start_sequences_at_beginning(tp)
            self.unresolved.pop(tp, None)
            detail = f"producer_id={self.producer_id} epoch={self.epoch}"
            self.metrics.event(
                now, EventKind.PRODUCER_EPOCH_BUMP, self.name, tp[0], tp[1], detail,
                epoch=self.epoch,
            )  # fmt: skip
        self.bump_for.clear()

    def _start_sequences_at_beginning(self, tp: TopicPartition) -> None:
        """TxnPartitionEntry.startSequencesAtBeginning: the batches of ``tp`` not yet done, in
        sequence order, take the current epoch and sequences from 0 (ProducerBatch.
        resetProducerState: their wire form is rewritten, the same batch id; a request already
        sent keeps the old one); the next batch follows them."""
        sent = self.sent.get(tp)
        in_flight = set()
        unacked = {}
        sequence = 0
        for old in sorted(self.unacked.get(tp, {})):
            batch = self.unacked[tp][old]
            batch.sequence, batch.epoch, batch.reopened = sequence, self.epoch, True
            self.accumulator.wire(batch, batch.wire.batch_id, self.producer_id)
            unacked[sequence] = batch
            if sent and old in sent:
                in_flight.add(sequence)
            sequence += batch.count
        self.unacked[tp] = unacked
        self.sent[tp] = in_flight
        self.partition_epoch[tp] = self.epoch
        self.next_sequence[tp] = sequence
        self.last_acked.pop(tp, None)

    def _hold_new(self, tp: TopicPartition) -> bool:
        """RecordAccumulator.shouldStopDrainBatchesForPartition for a batch without a sequence:
        none is drained while the partition's sequences are unresolved, or while batches of an
        older epoch are not done (a batch of the new epoch at sequence 0 would go before them)."""
        if tp in self.unresolved:
            return True
        return self.partition_epoch.get(tp, 0) != self.epoch and bool(self.unacked.get(tp))

    def _split(self, batch: ProducerBatch, now: float) -> None:
        """Sender.completeBatch on MESSAGE_TOO_LARGE for a batch of several records not yet
        past its delivery timeout (Kafka fails such a batch in flight before the answer): it
        ends as SPLIT, its memory freed, and its records go on at once in the batch split from
        it (:meth:`RecordAccumulator.split_and_reenqueue`), closed now with the same sequence
        (TransactionManager.removeInFlightBatch, then addInFlightBatch). Not a retry:
        ``retries`` is not used up."""
        self._complete(batch, now, -1, SPLIT)
        self._close(self.accumulator.split_and_reenqueue(batch, now), now)

    def _retry_must_wait(self, tp: TopicPartition, batch: ProducerBatch) -> bool:
        """RecordAccumulator.shouldStopDrainBatchesForPartition: an idempotent retry goes only
        when no batch of the partition with a lower sequence is in flight."""
        sent = self.sent.get(tp)
        return batch.sequence >= 0 and bool(sent) and min(sent) < batch.sequence

    def _backoff(self, attempts: int) -> float:
        """KIP-580 exponential backoff with ±20 % jitter, seconds."""
        base = min(self.backoff_s * 2 ** max(attempts - 1, 0), self.backoff_max_s)
        return base * (1 + RETRY_JITTER * (2 * self.rng.random() - 1))

    def fail_unsent(self, batch: ProducerBatch, now: float, error: str) -> None:
        """Records that fail without being sent (expired in the accumulator, or failed by
        send(): no memory within max.block.ms, or too large): their produced and failed rows."""
        self._close(batch, now, sending=False)
        self._complete(batch, now, -1, error)

    def set_leaders(self, leaders: dict[TopicPartition, int | None]) -> None:
        """New metadata: the leader of each partition (None when it has none)."""
        self.leader_of.update(leaders)
        by_node: dict[int, list[TopicPartition]] = {}
        for tp in sorted(self.leader_of):
            leader = self.leader_of[tp]
            if leader is not None:
                by_node.setdefault(leader, []).append(tp)
        self.partitions_of = by_node
