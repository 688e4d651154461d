"""A producer client (≈ KafkaProducer: the application's send() calls, the partitioner, the
RecordAccumulator and the Sender), as a send loop run in rounds.

The application's records come from a :class:`~sim.workload.Workload` as arrays per window of
``ARRIVAL_WINDOW_S``. Keyed records are partitioned as soon as they are drawn (murmur2 of the
serialized key, vectorised; the partition does not depend on the producer's state), so each
partition's queue knows its coming records and the producer knows when the next batch fills.
Records without key go through Kafka's sticky partitioner as they arrive, one call per run of
records. The process wakes only when something can happen — a batch fills, a batch has lingered,
a retry backoff ends, an answer arrives (with ``linger.ms`` 0: a record for a partition where
none waits; Kafka's send() wakes the sender only for a new or a full batch) — and lets the
Sender drain and send.

Memory (``buffer.memory``, :mod:`~sim.clients.producer.buffer_pool`): each round checks a cheap
upper bound on what the batches can hold (sent batches exactly, queued and drawn records at two
batches per ``batch.size`` bytes per partition). While it is below ``buffer.memory`` no send()
can block and nothing more is tracked. Above it, memory is *tight*: keyed records are taken back
out of the queues and, like records without a key, appended only once they have arrived, in
arrival order, each batch they open charged to the pool. The first whose batch finds no memory
blocks the application's send() there — later records wait behind it — until a finished batch
frees enough, or for ``max.block.ms``, when it fails with ``BUFFER_EXHAUSTED``
(BufferExhaustedException) and the application goes on with the next record. Records keep their
arrival time, so their latency includes the time they waited for the application's thread.
A closed loop's application (``arrival.kind`` "closed_loop") calls send() for no later record
while one blocks: those drawn behind it are taken back (:meth:`Workload.hold`), and the calls
resume when it returns.
While memory is tight and nothing blocks, the run is the same as with ample memory (tested).

Rounds run as callbacks of a wakeup event, not in a SimPy process (~1,150 wakes per simulated
second; a process adds a generator switch and its bookkeeping to each), in the order a process
would run them: a round runs when its wakeup event is processed, and the event is scheduled when
it is triggered (by its timer, an answer or new metadata). The wakeup is one object for every
round (at most one is on SimPy's queue at a time), and timers are reused once they have fired: a
construction per round cost 11 M instructions of the default scenario's 3,145 M. A timer set by
an earlier round (an answer woke that round) does nothing.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right

import numpy as np
import simpy

from sim.clients.kafka_avro_serializer import SERIALIZATION_ERROR, KafkaAvroSerializer
from sim.clients.metadata import Metadata
from sim.clients.partitioner import (
    BuiltInPartitioner,
    DefaultPartitioner,
    TopicMetadata,
    partitioner_for,
    partitions_for_keys,
)
from sim.clients.producer.record_accumulator import (
    EMPTY,
    OPEN,
    ProducerBatch,
    RecordAccumulator,
)
from sim.clients.producer.sender import BUFFER_EXHAUSTED, RECORD_TOO_LARGE, Sender
from sim.kafka_config import EffectiveConfig
from sim.metrics import Metrics
from sim.protocol import (
    RECORD_OVERHEAD_BYTES,
    ConnectionClosed,
    TopicPartition,
    record_size_upper_bound,
)
from sim.scenario import ProducerSpec
from sim.timers import DEADLINE_SLACK_S, call_later
from sim.workload import Arrivals, Workload, key_bytes_of

#: Seconds of arrivals drawn at a time (a window's records come as one set of arrays).
ARRIVAL_WINDOW_S = 0.05
#: Records taken in at a time once a send() has waited for memory this round: the backlog
#: behind it can be long, and only the first few find memory before it runs out again.
TAKE_IN_CHUNK = 256
#: Records drawn and not yet given a partition moved from arrays to lists at least at a time
#: (:class:`_Unassigned`).
LIST_CHUNK = 1024


class KafkaProducer:
    """Producer client ``name`` sending ``spec``'s records to ``spec.topic``.

    num_partitions: partitions of the topic. bootstrap: broker node names for metadata.
    """

    def __init__(
        self,
        env: simpy.Environment,
        name: str,
        spec: ProducerSpec,
        net,
        config: EffectiveConfig,
        metrics: Metrics,
        rng: np.random.Generator,
        workload: Workload,
        producer_id: int,
        num_partitions: int,
        bootstrap: list[str],
    ) -> None:
        self.env = env
        self.name = name
        self.spec = spec
        self.net = net
        self.config = config
        self.topic = spec.topic
        self.num_partitions = num_partitions
        self.bootstrap = bootstrap
        self.workload = workload
        self.linger_s = config.s("linger.ms")
        self.accumulator = RecordAccumulator(
            config["batch.size"], self.linger_s, config["compression.type"], config["buffer.memory"]
        )
        self.max_block_s = config.s("max.block.ms")
        self.sender = Sender(
            env,
            name,
            net,
            self.accumulator,
            config,
            metrics,
            rng,
            producer_id,
            self._stale,
            self._wake,
        )
        self.partitioner = partitioner_for(config, rng)
        self.key_partitions = self._key_partition_table()
        self._sticky = isinstance(self.partitioner, BuiltInPartitioner)  # for records without key
        self.extra_bytes = workload.key_bytes + RECORD_OVERHEAD_BYTES
        # send() refuses a record whose size upper bound is above either (ensureValidRecordSize)
        self._record_limit = min(config["max.request.size"], config["buffer.memory"])
        #: records send() refused (arrival s, key, bytes, error), failed at their arrival
        self._refused: list[tuple[float, int | None, int, str]] = []
        #: the value serializer's registry client (KafkaAvroSerializer) when the format needs
        #: one (:meth:`use_serializer`), else None
        self.serializer: KafkaAvroSerializer | None = None
        #: ProducerMetadata: refreshed when asked (the sender's _stale) or metadata.max.age.ms old
        self.metadata = Metadata(env, net, name, bootstrap, config, self._on_metadata)
        self.metadata.topics = [self.topic]
        self._topic_meta = TopicMetadata(num_partitions, ())  # as of the last metadata answer
        self._leaders: dict[int, int | None] = {}  # partition -> leader, likewise
        self._unassigned = _Unassigned()  # records not appended yet (no key decides, or tight)
        self._max_buffer_bytes = 0  # the largest batch buffer a record drawn so far can open
        self._tight = False  # memory is tracked per batch (see the module docstring)
        self._blocked_s: float | None = None  # when send() started waiting for memory
        self._app_free_s = -_INF  # when the application's thread last left a blocked send()
        self.horizon_s = spec.start_s  # records are drawn up to here
        self.process: simpy.Process | None = None
        self._wakeup = _Wakeup()  # on SimPy's queue when the next round is due
        self._round_callbacks = (self._round,)
        #: a round is due or running: a wake changes nothing (so true until the first)
        self._awake = True
        self._rounds = 0  # rounds run: a timer set by an earlier one is stale
        self._timer_callbacks = (self._on_wake_timer,)
        self._free_timers: list[_Wakeup] = []  # timers that have fired, for reuse

    def on_request(self, request, source: str, respond) -> None:
        """A broker closed the connection (an acks=0 produce failed): refresh metadata. Clients
        serve no requests."""
        if isinstance(request, ConnectionClosed):
            self._stale()
            return
        raise TypeError(f"{self.name} got a {type(request).__name__}: clients serve no requests")

    def start(self) -> None:
        """Start sending at the producer's start_s."""
        self.process = self.env.process(self.run())

    def cpu_busy_s(self, now: float) -> float:
        """CPU seconds the producer's machine used so far: the application thread's send()
        calls (Workload.send_cpu_s) and the sender thread's requests (Sender.cpu)."""
        return self.workload.send_cpu_s(now) + self.sender.cpu.busy_s

    def account(self, end_s: float) -> tuple[int, int, int, int]:
        """Where the application's records stand at ``end_s``, s (the end of the run; no round
        runs then): (offered, blocked, queued, in flight). offered: records that arrived
        before ``end_s`` (the workload's send() calls); blocked: those of them send() waits
        on for memory, the first and those behind it; queued: those in the producer, neither
        blocked nor in flight (in the accumulator, waiting for a retry, not yet taken in by the
        model, or refused as too large and not yet failed: at the next round); in flight: in
        requests not yet answered for good. The records done (acknowledged or failed) are in
        the run's tables, not here. Records not drawn because send() waits for the
        serializer's registry call are drawn now and count as blocked."""
        unserialized = 0
        while self.horizon_s <= end_s:
            start = self.horizon_s
            self.horizon_s += ARRIVAL_WINDOW_S
            times = self.workload.arrivals(start, self.horizon_s).times
            unserialized += int((times < end_s).sum())
        waiting = self._unassigned.count_before(end_s)
        blocked = (waiting if self._blocked_s is not None else 0) + unserialized
        refused = sum(1 for time_s, *_ in self._refused if time_s < end_s)
        queued = self.accumulator.records_before(end_s) + waiting - blocked + unserialized + refused
        offered = self.workload.offered_before(end_s)
        return offered, blocked, queued, self.sender.in_flight_records()

    # ---------------------------------------------------------------- partitioning

    def _key_partition_table(self) -> np.ndarray | None:
        """Partition of every key id (murmur2 of "key-<id>"), when keys decide the partition:
        the built-in partitioner without ``partitioner.ignore.keys``, or the legacy
        DefaultPartitioner (UniformSticky and RoundRobin ignore keys)."""
        part = self.partitioner
        uses_keys = (isinstance(part, BuiltInPartitioner) and not part.ignore_keys) or type(
            part
        ) is DefaultPartitioner
        if self.spec.keys.kind == "none" or not uses_keys:
            return None
        keys = key_bytes_of(range(self.spec.keys.cardinality))
        return partitions_for_keys(keys, self.num_partitions)

    def _set_leaders(self, leaders: dict[TopicPartition, int | None]) -> None:
        """New metadata: the sender's leaders, and the partitioner's view of them."""
        self.sender.set_leaders(leaders)
        leader_of = self.sender.leader_of
        self._leaders = {tp[1]: leader for tp, leader in leader_of.items()}
        available = tuple(
            p for p in range(self.num_partitions) if leader_of.get((self.topic, p)) is not None
        )
        self._topic_meta = TopicMetadata(self.num_partitions, available)

    # ---------------------------------------------------------------- main loop

    def run(self):
        """At ``start_s``, the first round of the send loop (the next ones run when woken)."""
        if self.spec.start_s > self.env.now:
            yield self.env.timeout(self.spec.start_s - self.env.now)
        self.env.process(self.metadata.run())
        self._round()

    def _round(self, _wakeup: _Wakeup | None = None) -> None:
        """One round of the send loop: records in, drain and send; then the wakeup event of the
        next round, with a timer at the next time something can happen."""
        env = self.env
        now = env.now
        if self.horizon_s <= now and self._serializable(now):
            self._draw_until(now)
        if self._refused:
            self._fail_refused(now)
        if self._unassigned.waiting(now):
            self._take_in(now)
        self.sender.run_once(now)
        self._check_memory(now)
        wake = self._next_wake(now)
        self._rounds += 1
        self._awake = False
        if wake < _INF:
            timer = self._free_timers.pop() if self._free_timers else _Wakeup()
            timer.round = self._rounds
            call_later(env, wake - now, timer, self._timer_callbacks)

    def _stale(self) -> None:
        """Metadata.requestUpdate(false): refresh as soon as its backoff allows."""
        self.metadata.request_update()

    def _on_metadata(self) -> None:
        """A metadata answer was applied (the updater runs beside the sending, as
        NetworkClient's does: the sender keeps going to the leaders it knows): the leaders it
        names, then a round."""
        leaders = {
            tp: (meta.leader if meta.leader >= 0 else None)
            for tp, meta in self.metadata.partitions.items()
        }
        self._set_leaders(leaders)
        self._wake()

    def _wake(self) -> None:
        """Run a round now, after what is already queued for now, unless one is due already."""
        if not self._awake:
            self._awake = True
            call_later(self.env, 0.0, self._wakeup, self._round_callbacks)

    def _on_wake_timer(self, timer: _Wakeup) -> None:
        """A timer fired: wake unless it is stale or an answer or new metadata did already."""
        self._free_timers.append(timer)
        if timer.round == self._rounds:
            self._wake()

    # ---------------------------------------------------------------- records in

    def _draw_until(self, now: float) -> None:
        """Draw the application's records up past ``now``: keyed ones straight into their
        partitions' queues (unless memory is or would become tight), the others into the
        unassigned window."""
        unassigned = False  # records were drawn into the unassigned window
        while self.horizon_s <= now:
            start = self.horizon_s
            self.horizon_s += ARRIVAL_WINDOW_S
            arrivals = self._refuse_too_large(self.workload.arrivals(start, self.horizon_s))
            if not len(arrivals):
                continue
            record_bytes = arrivals.sizes + self.extra_bytes
            largest = self.accumulator.pool.buffer_bytes(int(record_bytes.max()))
            self._max_buffer_bytes = max(self._max_buffer_bytes, largest)
            keyed = self.key_partitions is not None
            if keyed and not self._tight and self._memory_may_run_out(int(record_bytes.sum())):
                self._enter_tight(now)
            if not keyed or self._tight:
                self._unassigned.add(arrivals.times, arrivals.keys, record_bytes)
                unassigned = True
            else:
                self._queue_keyed(arrivals.times, arrivals.keys, record_bytes)
        if unassigned and not self._tight and self._memory_may_run_out():
            self._enter_tight(now)  # before they are taken in

    def _refuse_too_large(self, arrivals: Arrivals) -> Arrivals:
        """``arrivals`` without the records send() refuses at once (RecordTooLargeException):
        those whose size upper bound is above ``max.request.size`` or ``buffer.memory``. They
        are set aside to fail at their arrival time (:meth:`_fail_refused`)."""
        if not len(arrivals):
            return arrivals
        key_bytes = None if arrivals.keys is None else self.workload.key_bytes
        largest = record_size_upper_bound(arrivals.sizes.max(), key_bytes)
        if largest <= self._record_limit:  # the usual case: every record is small enough
            return arrivals
        refused = record_size_upper_bound(arrivals.sizes, key_bytes) > self._record_limit
        sizes = arrivals.sizes + self.extra_bytes
        for i in np.flatnonzero(refused).tolist():
            key = None if arrivals.keys is None else int(arrivals.keys[i])
            self._refused.append((float(arrivals.times[i]), key, int(sizes[i]), RECORD_TOO_LARGE))
        kept = ~refused
        keys = None if arrivals.keys is None else arrivals.keys[kept]
        return Arrivals(arrivals.times[kept], keys, arrivals.sizes[kept])

    def _fail_refused(self, now: float) -> None:
        """The refused records that arrived by ``now`` fail, each at its arrival time (send()
        returned a failed future; nothing was sent)."""
        refused = self._refused
        done = 0
        while done < len(refused) and refused[done][0] <= now:
            time_s, key, size, error = refused[done]
            self._fail_record(time_s, key, size, time_s, error, chosen=False)
            done += 1
        del refused[:done]

    def _serializable(self, now: float) -> bool:
        """Can send() serialize the records arriving now? Yes without a registry, or with the
        schema's id cached. Else the serializer asks the registry (send() waits, so no record
        is drawn); when its call failed, the records that waited for it fail first with
        SERIALIZATION_ERROR (see :mod:`sim.clients.kafka_avro_serializer`)."""
        serializer = self.serializer
        if serializer is None:
            return True
        if serializer.schema_id is not None:
            serializer.write_from(self.horizon_s)
            return True
        if serializer.waiting:
            return False
        if serializer.error is not None:
            self._fail_unserialized(now)
        serializer.register()
        return False

    def _fail_unserialized(self, now: float) -> None:
        """The records drawn up past ``now`` fail with SERIALIZATION_ERROR at their arrival."""
        while self.horizon_s <= now:
            start = self.horizon_s
            self.horizon_s += ARRIVAL_WINDOW_S
            arrivals = self.workload.arrivals(start, self.horizon_s)
            sizes = (arrivals.sizes + self.extra_bytes).tolist()
            keys = [None] * len(sizes) if arrivals.keys is None else arrivals.keys.tolist()
            for time_s, key, size in zip(arrivals.times.tolist(), keys, sizes, strict=True):
                self._refused.append((time_s, key, size, SERIALIZATION_ERROR))

    def use_serializer(self, serializer: KafkaAvroSerializer) -> None:
        """Serialize values with ``serializer`` (its calls end with a round); each batch
        carries the schema id of its records."""
        self.serializer = serializer
        serializer.on_done = self._wake
        self.accumulator.schema_id_at = serializer.id_at

    def evolve_schema(self, schema, value_bytes: int) -> None:
        """The application writes ``schema`` from now, values of ``value_bytes`` bytes: the
        next records drawn wait for the serializer's id of it."""
        self.serializer.evolve(schema)
        self.workload.value_bytes = value_bytes

    def _fail_record(
        self, time_s: float, key: int | None, size: int, at_s: float, error: str, chosen: bool
    ) -> None:
        """send() failed one record that arrived at ``time_s`` (key id or None; ``size``
        bytes): a batch of its own, never sent, failed at ``at_s`` with ``error``.

        Its partition is the key's, else the partitioner's. ``chosen``: the failure came after
        the accumulator chose the partition (a wait for memory); before it (a record too large),
        the built-in partitioner has chosen none: -1, Kafka's ``UNKNOWN_PARTITION``.
        """
        if self.key_partitions is not None and key is not None:
            partition = int(self.key_partitions[key])
        elif not chosen and self._sticky:
            partition = -1
        else:
            serialized = None if key is None else key_bytes_of([key])[0]
            partition = self.partitioner.partition(serialized, self._topic_meta)
        keys = None if key is None else np.array([key])
        batch = ProducerBatch((self.topic, partition), time_s, time_s, 1, size, keys)
        self.sender.fail_unsent(batch, at_s, error)

    def _queue_keyed(self, times, keys, record_bytes) -> None:
        partitions = self.key_partitions[keys]
        order = np.argsort(partitions, kind="stable")
        # the records grouped by partition (in time order within each), then sliced per partition
        times, keys, record_bytes = times[order].tolist(), keys[order], record_bytes[order].tolist()
        bounds = np.searchsorted(partitions[order], np.arange(self.num_partitions + 1)).tolist()
        for p in range(self.num_partitions):
            sel = slice(bounds[p], bounds[p + 1])
            if sel.start < sel.stop:
                self.accumulator.append((self.topic, p), times[sel], keys[sel], record_bytes[sel])

    def _take_in(self, now: float) -> None:
        """The records not appended yet that arrived by ``now`` are, in arrival order (while
        memory is tight, up to the first whose batch finds no memory: send() blocks there, and
        fails after max.block.ms)."""
        unassigned = self._unassigned
        limit = None
        while unassigned.waiting(now):
            if self._blocked_s is not None:
                limit = TAKE_IN_CHUNK  # a backlog may have built up behind the waiting send()
            head = unassigned.start
            head_s = unassigned.first_time()
            blocked = self._append_arrived(now, limit)
            if self._blocked_s is not None and unassigned.start > head:
                self._unblock(head_s, now)  # the waiting send() got its memory
            if not blocked:
                if limit is None:
                    return  # every record that has arrived is in
                continue
            if self._blocked_s is None:
                self._blocked_s = max(unassigned.first_time(), self._app_free_s)
                if self.workload.closed_loop:
                    self.workload.hold(unassigned.drop_after_first())
            if now < self._blocked_s + self.max_block_s:
                self.accumulator.set_exhausted(True)
                return
            self._fail_first(now)
            self._unblock(head_s, now)

    def _append_arrived(self, now: float, limit: int | None) -> bool:
        """Append the records that arrived by ``now`` (the first ``limit`` of them if given);
        True if one found no memory (it and the records after it stay unappended)."""
        unassigned = self._unassigned
        before = unassigned.taken_bytes
        start, end = unassigned.take(now, limit)
        if self.key_partitions is not None:
            appended = start + self._append_keyed(*unassigned.records(start, end))
        elif self._sticky:
            if self._may_switch(unassigned.cum[end - 1] - before, now):
                self._update_load_stats(now)
            appended = self._append_sticky(start, end, before, now)
        else:
            times, keys, record_bytes = unassigned.records(start, end)
            appended = start + self._append_per_record(
                times, keys, record_bytes, self._topic_meta, now
            )
        if appended < end:
            unassigned.give_back(end - appended)
            return True
        return False

    def _append_keyed(self, times, keys, record_bytes) -> int:
        """Keyed records taken in while memory is tight, in arrival order up to the first whose
        batch finds no memory: how many were appended."""
        accumulator = self.accumulator
        partitions = self.key_partitions[keys].tolist()
        rooms: dict[int, int] = {}
        n = len(times)
        k = 0
        while k < n:
            p = partitions[k]
            room = rooms.get(p)
            if room is None:
                room = accumulator.open_room((self.topic, p))
            end, rooms[p] = accumulator.admit(room, record_bytes, k, k + 1)
            if end == k:
                break
            k = end
        by_partition: dict[int, list[int]] = {}
        for i in range(k):
            by_partition.setdefault(partitions[i], []).append(i)
        for p in sorted(by_partition):  # the order _queue_keyed appends in
            rows = by_partition[p]
            accumulator.append(
                (self.topic, p),
                [times[i] for i in rows],
                keys[rows],
                [record_bytes[i] for i in rows],
            )
        return k

    def _admits(self, tp: TopicPartition, record_bytes: list[int], start: int, end: int) -> int:
        """How many of records ``start:end`` ``tp`` takes before one finds no memory (an
        index; the batches they open are charged)."""
        accumulator = self.accumulator
        return accumulator.admit(accumulator.open_room(tp), record_bytes, start, end)[0]

    def _unblock(self, first_s: float, now: float) -> None:
        """The application's thread leaves a blocked send() at ``now``: the records that
        arrived since ``first_s`` (the one it waited on) are appended now."""
        self._blocked_s = None
        self._app_free_s = now
        self.accumulator.unblocked(first_s, now)
        if self.workload.held:  # a closed loop calls send() again from now
            self.workload.resume(now)
            self.horizon_s = now

    def _fail_first(self, now: float) -> None:
        """The oldest record waited max.block.ms for memory: send() fails it
        (BufferExhaustedException) and the application goes on with the next."""
        time_s, key, size = self._unassigned.skip()
        key_id = None if key is None else int(key[0])
        self._fail_record(time_s, key_id, size, now, BUFFER_EXHAUSTED, chosen=True)

    # ---------------------------------------------------------------- memory

    def _memory_bound(self, extra_bytes: int = 0) -> int:
        """An upper bound on the memory the producer's batches can hold before the next round,
        bytes: the sent batches' buffers, plus at most two batches per ``batch.size`` bytes of
        records (greedy batches: two in a row hold more than ``batch.size``) and one more per
        partition, for the queued and drawn records and ``extra_bytes`` more, each at the
        largest record's buffer."""
        accumulator = self.accumulator
        pool = accumulator.pool
        pending = accumulator.record_bytes_queued + self._unassigned.pending_bytes() + extra_bytes
        batches = 2 * pending // accumulator.batch_size + self.num_partitions + 1
        return pool.sent_bytes + batches * self._max_buffer_bytes

    def _memory_may_run_out(self, extra_bytes: int = 0) -> bool:
        return self._memory_bound(extra_bytes) > self.accumulator.pool.total_bytes

    def _check_memory(self, now: float) -> None:
        """After a round: memory becomes tight if the bound says it may run out, and stops
        being tight (nothing blocked) once the bound is below half of ``buffer.memory``."""
        total = self.accumulator.pool.total_bytes
        if not self._tight:
            if self._memory_bound() > total:
                self._enter_tight(now)
        elif self._blocked_s is None and 2 * self._memory_bound() <= total:
            self._leave_tight()

    def _enter_tight(self, now: float) -> None:
        """Track memory per batch: keyed records that have not arrived leave the queues, and
        the batches queued now are charged to the pool."""
        accumulator = self.accumulator
        if self.key_partitions is not None:
            times, keys, record_bytes = accumulator.withdraw_after(now)
            if times:
                self._unassigned.add(np.asarray(times), keys, np.asarray(record_bytes))
        accumulator.pool.queued_bytes = accumulator.queued_buffers(now)
        self._tight = True

    def _leave_tight(self) -> None:
        """Memory is ample again: keyed records go back into their queues as they are drawn."""
        if self.key_partitions is not None and self._unassigned.pending_bytes():
            times, keys, record_bytes = self._unassigned.records(*self._unassigned.take(_INF))
            self._queue_keyed(np.asarray(times), keys, np.asarray(record_bytes))
        self.accumulator.pool.queued_bytes = None
        self._tight = False

    def _may_switch(self, new_bytes: int, now: float) -> bool:
        """Records of ``new_bytes`` bytes, appended to the sticky partition until it switches,
        can make BuiltInPartitioner choose a next partition: none is chosen yet, or the switch
        is due after them (at the first append when the partition's batches are all full, as
        ``_append_sticky`` does, else at twice ``batch.size``). Only then are the load stats read
        (nextPartition), so only then are they brought up to date."""
        part = self.partitioner
        if part.sticky is None:
            return True
        full = self.accumulator.all_batches_full((self.topic, part.sticky.partition), now)
        return part.switch_due(new_bytes, full)

    def _update_load_stats(self, now: float) -> None:
        """RecordAccumulator.partitionReady's part for the adaptive partitioner: queue sizes per
        partition (in the accumulator's order) and how long each leader has stalled."""
        sizes = self.accumulator.queued_batches(now)
        self.partitioner.on_ready(
            sizes, self._leaders, self.num_partitions, self.sender.node_stall_s()
        )

    def _append_sticky(self, start: int, n: int, before: int, now: float) -> int:
        """Runs of the records ``start:n`` taken from the unassigned ones to the sticky
        partition, switching as BuiltInPartitioner says (while memory is tight, up to the first
        whose batch finds no memory): the index past the last one appended.

        before: the unassigned records' cumulative bytes before ``start``."""
        unassigned = self._unassigned
        times, keys, record_bytes, cumulative = (
            unassigned.times,
            unassigned.keys,
            unassigned.sizes,
            unassigned.cum,
        )
        part = self.partitioner
        meta = self._topic_meta
        accumulator = self.accumulator
        topic = self.topic
        size = part.sticky_batch_size
        while start < n:
            info = part.peek_current_partition_info(meta)
            if part.partition_changed(
                None, accumulator.all_batches_full((topic, info.partition), now), meta
            ):
                info = part.peek_current_partition_info(meta)
            produced = info.produced_bytes
            # switch at batch.size bytes when the queue's batches are all full, else at twice
            # that (BuiltInPartitioner.updatePartitionInfo); within one take-in nothing drains
            # (comparisons, not max() and min(): see BufferPool.buffer_bytes)
            need = (size if produced < size else 2 * size) - produced
            if need < 1:
                need = 1
            stop = bisect_left(cumulative, before + need, start) + 1
            if n < stop:
                stop = n
            tp = (topic, info.partition)
            end = stop
            if self._tight:
                end = self._admits(tp, record_bytes, start, stop)
                if end == start:
                    return start
            sel = slice(start, end)
            k = None if keys is None else keys[sel]
            accumulator.append(tp, times[sel], k, record_bytes[sel])
            after = cumulative[end - 1]
            # the records just appended have arrived, so the partition has an open batch:
            # allBatchesFull is false (on_append with all_batches_full=False)
            part.update_partition_info(after - before, meta, enable_switch=False)
            if end < stop:
                return end
            start, before = end, after
        return n

    def _append_per_record(self, times, keys, record_bytes, meta: TopicMetadata, now: float) -> int:
        """Legacy partitioner classes, for comparison studies: Kafka's per-record loop (while
        memory is tight, up to the first record whose batch finds no memory): how many were
        appended."""
        part = self.partitioner
        accumulator = self.accumulator
        for i in range(len(times)):
            key = None if keys is None else key_bytes_of([keys[i]])[0]
            p = part.partition(key, meta)
            if part.abort_on_new_batch and accumulator.all_batches_full((self.topic, p), now):
                part.on_new_batch(p, meta)
                p = part.partition(key, meta)
            tp = (self.topic, p)
            if self._tight and self._admits(tp, record_bytes, i, i + 1) == i:
                return i
            sel = slice(i, i + 1)
            k = None if keys is None else keys[sel]
            accumulator.append(tp, times[sel], k, record_bytes[sel])
        return len(times)

    # ---------------------------------------------------------------- when to wake

    def _next_wake(self, now: float) -> float:
        """The next time something can happen without an answer arriving, s (at the latest the
        end of the records drawn, to draw more)."""
        wake = self.accumulator.next_ready_s(now)
        # a batch in flight reaches its delivery timeout: a round just after it (a float a
        # hair short of the deadline would find nothing expired and wake again at once)
        expiry = self.sender.in_flight_expiry_s + DEADLINE_SLACK_S
        if expiry < wake:
            wake = expiry
        serializer = self.serializer
        if self.horizon_s < wake and (serializer is None or not serializer.waiting):
            wake = self.horizon_s
        if self._blocked_s is not None:  # later records wait for the blocked send()
            wake = min(wake, self._blocked_s + self.max_block_s)
        elif self._unassigned.waiting_after(now):
            if self.key_partitions is not None:
                wake = self._keyed_ready_s(wake)
            else:
                ready_s = self._unassigned_ready_s(now)
                if ready_s < wake:
                    wake = ready_s
        # not max() (see BufferPool.buffer_bytes); a numpy scalar here would make simulated
        # time one
        return float(now if now > wake else wake)

    def _memory_short(self) -> bool:
        """Memory is tight and the next batch opened may find none."""
        return self._tight and self.accumulator.pool.available_bytes() < self._max_buffer_bytes

    def _keyed_ready_s(self, wake: float) -> float:
        """The earliest of ``wake`` and the times keyed records waiting to be appended (memory
        is tight) would wake the producer from the queues: one arrives that does not fit a
        partition's first batch (it is full), a batch one opens in an empty queue has lingered
        — as :meth:`RecordAccumulator.next_ready_s` finds with the records queued — or one opens
        a batch the pool has no memory for (send() blocks then)."""
        unassigned = self._unassigned
        accumulator = self.accumulator
        pool = accumulator.pool
        available = pool.available_bytes()
        batch_size = accumulator.batch_size
        start = unassigned.start
        unassigned.list_all()
        partitions = self.key_partitions[unassigned.keys[start:]].tolist()
        times, sizes = unassigned.times, unassigned.sizes
        state: dict[int, list] = {}  # partition -> [room of its last batch, what to watch]
        for i in range(start, len(times)):
            t = times[i]
            if t >= wake:
                break
            p = partitions[i - start]
            entry = state.get(p)
            if entry is None:
                entry = state[p] = accumulator.fill_watch((self.topic, p))
            size = sizes[i]
            if size <= entry[0]:
                entry[0] -= size
                continue
            buffer = pool.buffer_bytes(size)
            if buffer > available:
                return t
            available -= buffer
            if entry[1] is EMPTY:
                wake = min(wake, t + self.linger_s)
                entry[1] = OPEN
            elif entry[1] is OPEN:
                wake = t
                entry[1] = None
            entry[0] = batch_size - size
        return wake

    def _unassigned_ready_s(self, now: float) -> float:
        """When records not yet partitioned would make a batch ready: if the sticky partition
        has nothing queued, when the first of them has lingered (as it arrives with linger.ms
        0); and when they would fill the sticky partition's open batch. Records joining a batch
        that is neither new nor full change nothing until they are taken in (Kafka's send()
        wakes the sender only for a new or a full batch); nor do any once that batch is full."""
        unassigned = self._unassigned
        first = unassigned.first_time()
        if self._tight and self._memory_short():
            return self._short_memory_ready_s(now, first)
        accumulator = self.accumulator
        sticky = self.partitioner.sticky if self._sticky else None
        q = None if sticky is None else accumulator.queues.get((self.topic, sticky.partition))
        if q is None or q.start >= len(q.times):  # nothing queued: the first record opens a batch
            lingered = first + self.linger_s
            fill_s = unassigned.fill_time(accumulator.batch_size)
            return fill_s if fill_s < lingered else lingered
        room = accumulator.batch_size - (q.cum[-1] - q.before())
        return unassigned.fill_time(room) if room > 0 else _INF

    def _short_memory_ready_s(self, now: float, first: float) -> float:
        """Memory is short: the next record may open a batch that finds none (send() would
        block), so a round runs at its arrival (``first``) — unless the records up to the first
        that may open a batch or make the sticky partition switch (the *special* one) join the
        sticky partition's open batch, which takes no memory, and the sender would do nothing
        before then (:meth:`Sender.idle_until`). Rounds at their arrivals would then only take
        them in: one round at the arrival of the last of them takes them in together, and the
        next at the special record's own, which sees what a round per record leaves (the
        partition's queue as its load stats read it, the nodes' ready times). This holds a
        closed loop at a full pool to two rounds per batch rather than one per record."""
        part = self.partitioner
        sticky = part.sticky if self._sticky else None
        if sticky is None or self._refused:
            return first
        accumulator = self.accumulator
        tp = (self.topic, sticky.partition)
        room = accumulator.open_room(tp)
        if room <= 0 or accumulator.all_batches_full(tp, now):
            return first
        unassigned = self._unassigned
        overflow = unassigned.index_past(room)  # the first that does not fit
        # the first whose bytes make the switch due (BuiltInPartitioner.switch_due, not full)
        switch = unassigned.index_past(2 * part.sticky_batch_size - sticky.produced_bytes, "left")
        special = overflow if overflow < switch else switch
        if special == unassigned.start:
            return first
        # the last record drawn when none is special yet: the window after it may hold it
        last_s = unassigned.times[special - 1]
        return last_s if self.sender.idle_until(now, last_s) else first


_INF = float("inf")


class _Wakeup:
    """An event on SimPy's queue (:func:`sim.timers.call_later`: no Timeout, no Signal): the
    producer's next round, or a timer set by round number ``round``."""

    __slots__ = ("callbacks", "round")
    _ok = True  # as an event on SimPy's queue: it succeeded


class _Unassigned:
    """Records drawn but not yet given a partition (no key decides it), oldest first.

    times: arrival times, s. sizes: record bytes. cum: cumulative record bytes, counted from
    the producer's first record (kept as records are drawn, so no round sums them again).
    keys: key ids or None. start: index of the first record not yet taken. taken_bytes: bytes
    of the records taken so far (``cum`` just before ``start``).

    ``times``, ``sizes`` and ``cum`` are Python lists: a round needs a few lookups and short
    slices, where ``bisect`` and list indexing cost a tenth of numpy's searchsorted and scalar
    indexing. A drawn window's records join them only as far as a search reaches, at least
    LIST_CHUNK at a time (the rest wait as arrays): a closed loop whose send() blocks drops
    what it drew after that record (:meth:`drop_after_first`), most of the window it drew at
    its last resume, which converting and dropping whole cost the Confluent 2020 peak row half
    its time. The lists hold the record at ``start`` whenever one is left.
    """

    def __init__(self) -> None:
        self.times: list[float] = []
        self.sizes: list[int] = []
        self.cum: list[int] = []
        self.keys: np.ndarray | None = None
        self.start = 0
        self.taken_bytes = 0
        #: the records after the lists' (times, sizes, cum as arrays), or None
        self._rest: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None

    def add(self, times: np.ndarray, keys: np.ndarray | None, record_bytes: np.ndarray) -> None:
        """Append newly drawn records; taken ones are dropped."""
        start = self.start
        last = self._last_cum()
        del self.times[:start], self.sizes[:start], self.cum[:start]
        self.start = 0
        rest = (times, record_bytes, last + np.cumsum(record_bytes))
        if self._rest is not None:
            rest = tuple(np.concatenate(pair) for pair in zip(self._rest, rest, strict=True))
        self._rest = rest
        if keys is not None:
            old = self.keys[start:] if self.keys is not None else np.empty(0, dtype=np.int64)
            self.keys = np.concatenate([old, keys])
        self._list_to(1)

    def _last_cum(self) -> int:
        """Cumulative bytes up to the last record drawn."""
        if self._rest is not None:
            return int(self._rest[2][-1])
        return self.cum[-1] if self.cum else self.taken_bytes

    def _list_to(self, n: int) -> None:
        """Move records from the arrays into the lists until they hold the first ``n`` (or all),
        at least LIST_CHUNK of them."""
        rest = self._rest
        if rest is None or n <= len(self.times):
            return
        k = n - len(self.times)
        if k < LIST_CHUNK:
            k = LIST_CHUNK
        times, sizes, cum = rest
        self.times += times[:k].tolist()
        self.sizes += sizes[:k].tolist()
        self.cum += cum[:k].tolist()
        self._rest = (times[k:], sizes[k:], cum[k:]) if k < len(times) else None

    def list_all(self) -> None:
        """Move every record into the lists (for a scan to the last one drawn)."""
        if self._rest is not None:
            self._list_to(len(self.times) + len(self._rest[0]))

    def _search(self, column: int, value: float, side: str) -> int:
        """Index of the first record from ``start`` whose time (``column`` 0) or cumulative
        bytes (2) is above ``value`` (``side`` "right") or at least it ("left"), as bisect
        finds it in the lists extended by the arrays; the lists then hold that record."""
        values = self.times if column == 0 else self.cum
        search = bisect_right if side == "right" else bisect_left
        i = search(values, value, self.start)
        if i == len(values) and self._rest is not None:
            i += int(np.searchsorted(self._rest[column], value, side))
            self._list_to(i + 1)
        return i

    def waiting(self, now: float) -> bool:
        """Some record has arrived by ``now``."""
        return self.start < len(self.times) and self.times[self.start] <= now

    def waiting_after(self, now: float) -> bool:
        """Records are drawn that arrive after ``now``."""
        return self.start < len(self.times)

    def pending_bytes(self) -> int:
        """Bytes of the records not taken yet."""
        return self._last_cum() - self.taken_bytes if self.start < len(self.times) else 0

    def count_before(self, end_s: float) -> int:
        """Records not taken yet that arrived before ``end_s``, s."""
        return self._search(0, end_s, "left") - self.start

    def first_time(self) -> float:
        """Arrival time of the oldest record, s."""
        return self.times[self.start]

    def index_past(self, extra_bytes: int, side: str = "right") -> int:
        """Index of the first record whose bytes, with those before it not taken yet, are more
        than ``extra_bytes`` (``side`` "right"; "left": at least that many); past the last
        record drawn if none are."""
        return self._search(2, self.taken_bytes + extra_bytes, side)

    def fill_time(self, room: int) -> float:
        """When the records would overflow ``room`` bytes (> 0), s (inf if they never do)."""
        k = self.index_past(room)
        return self.times[k] if k < len(self.times) else _INF

    def take(self, now: float, limit: int | None = None) -> tuple[int, int]:
        """Remove the records arrived by ``now`` (at most ``limit`` if given): their index
        range in the lists (valid until the next ``add``; ``cum`` there is based at
        ``taken_bytes`` before the call)."""
        start = self.start
        end = self._search(0, now, "right")
        if limit is not None:
            end = min(end, start + limit)
        self.start = end
        self.taken_bytes = self.cum[end - 1]
        return start, end

    def records(self, start: int, end: int) -> tuple[list[float], np.ndarray | None, list[int]]:
        """Arrival times, key ids (or None) and sizes of records ``start:end``."""
        keys = None if self.keys is None else self.keys[start:end]
        return self.times[start:end], keys, self.sizes[start:end]

    def drop_after_first(self) -> int:
        """Remove the records after the oldest (a closed loop's application never called
        send() for them: it waits in the oldest's): how many."""
        keep = self.start + 1
        count = len(self.times) - keep
        if self._rest is not None:
            count += len(self._rest[0])
            self._rest = None
        del self.times[keep:], self.sizes[keep:], self.cum[keep:]
        if self.keys is not None:
            self.keys = self.keys[:keep]
        return count

    def give_back(self, count: int) -> None:
        """The last ``count`` records taken are not taken after all."""
        self.start -= count
        self.taken_bytes = self.cum[self.start] - self.sizes[self.start]

    def skip(self) -> tuple[float, np.ndarray | None, int]:
        """Remove the oldest record: its arrival time, key id (an array of one, or None) and
        size."""
        i = self.start
        self.start = i + 1
        self.taken_bytes = self.cum[i]
        self._list_to(i + 2)
        keys = None if self.keys is None else self.keys[i : i + 1]
        return self.times[i], keys, self.sizes[i]
