"""A producer client (≈ KafkaProducer: the application's send() calls, the partitioner, the
RecordAccumulator and the Sender), as one SimPy process.

The application's records come from a :class:`~sim.workload.Workload` as arrays per window.
The process wakes only when something can happen — a batch fills, a batch has lingered, a retry
backoff ends, an answer arrives (or, with ``linger.ms`` 0 and room in flight, the next record
arrives) — takes in the records that arrived since it last woke, partitions them as Kafka does
(keyed: murmur2 of the serialized key, vectorised; null keys: the KIP-794 sticky partitioner, one
call per run of records), batches them, and lets the Sender send.
"""

from __future__ import annotations

import numpy as np
import simpy

from sim.clients.partitioner import (
    BuiltInPartitioner,
    DefaultPartitioner,
    TopicMetadata,
    partitioner_for,
    partitions_for_keys,
)
from sim.clients.producer.record_accumulator import RecordAccumulator
from sim.clients.producer.sender import Sender
from sim.kafka_config import EffectiveConfig
from sim.metrics import Metrics
from sim.net import NetworkFailure
from sim.protocol import RECORD_OVERHEAD_BYTES, MetadataRequest
from sim.scenario import ProducerSpec
from sim.workload import Workload, key_bytes_of

#: Seconds of arrivals drawn at a time (a window's records come as one set of arrays).
ARRIVAL_WINDOW_S = 0.05


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
            config["batch.size"], self.linger_s, config["buffer.memory"], config["compression.type"]
        )
        self.sender = Sender(
            env,
            name,
            net,
            self.accumulator,
            config,
            metrics,
            rng,
            producer_id,
            self._metadata_stale,
        )
        self.partitioner = partitioner_for(config, rng)
        self.key_partitions = self._key_partition_table()
        self.key_bytes = workload.key_bytes
        self.metadata_max_age_s = config.s("metadata.max.age.ms")
        self._metadata_needed = True
        self._metadata_at = -np.inf
        self._pending = _Pending()
        self.process: simpy.Process | None = None

    def on_request(self, request, source: str, respond) -> None:
        """Clients serve no requests."""
        raise TypeError(f"{self.name} got a {type(request).__name__}: clients serve no requests")

    def start(self) -> None:
        """Start sending at the producer's start_s."""
        self.process = self.env.process(self.run())

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

    def _meta(self) -> TopicMetadata:
        available = tuple(
            p
            for p in range(self.num_partitions)
            if self.sender.leader_of.get((self.topic, p)) is not None
        )
        return TopicMetadata(self.num_partitions, available)

    # ---------------------------------------------------------------- main loop

    def run(self):
        """Metadata first, then the send loop."""
        if self.spec.start_s > self.env.now:
            yield self.env.timeout(self.spec.start_s - self.env.now)
        while True:
            now = self.env.now
            if self._metadata_needed or now - self._metadata_at >= self.metadata_max_age_s:
                yield from self._update_metadata()
                now = self.env.now
            self._take_in(now)
            self.sender.run_once(now)
            wake = self._next_wake(now)
            wakeup = self.env.event()
            self.sender.wakeup = wakeup
            if wake < np.inf:
                timer = self.env.timeout(max(wake - now, 0.0))
                timer.callbacks.append(lambda _, w=wakeup: None if w.triggered else w.succeed())
            yield wakeup

    def _metadata_stale(self) -> None:
        self._metadata_needed = True

    def _update_metadata(self):
        """A MetadataRequest to the bootstrap brokers in turn until one answers."""
        backoff = self.config.s("retry.backoff.ms")
        while True:
            for broker in self.bootstrap:
                response = yield self.net.request(
                    self.name,
                    broker,
                    MetadataRequest([self.topic]),
                    self.config.s("request.timeout.ms"),
                )
                if not isinstance(response, NetworkFailure):
                    for tp, state in response.partitions.items():
                        self.sender.leader_of[tp] = state.leader if state.leader >= 0 else None
                    self._metadata_needed = False
                    self._metadata_at = self.env.now
                    return
            yield self.env.timeout(backoff)

    # ---------------------------------------------------------------- records in

    def _take_in(self, now: float) -> None:
        """Append the records arrived up to ``now`` (send() blocks while buffer.memory is full)."""
        if not self.accumulator.has_room():
            return
        times, keys, sizes = self._pending.take(now, self.workload)
        if len(times) == 0:
            return
        record_bytes = sizes + self.key_bytes + RECORD_OVERHEAD_BYTES
        if self.key_partitions is not None:
            self._append_keyed(times, keys, record_bytes)
        else:
            self._append_sticky(times, keys, record_bytes)

    def _append_keyed(self, times, keys, record_bytes) -> None:
        partitions = self.key_partitions[keys]
        order = np.argsort(partitions, kind="stable")
        bounds = np.searchsorted(partitions[order], np.arange(self.num_partitions + 1))
        for p in range(self.num_partitions):
            sel = order[bounds[p] : bounds[p + 1]]
            if sel.size:
                self.accumulator.append((self.topic, p), times[sel], keys[sel], record_bytes[sel])

    def _append_sticky(self, times, keys, record_bytes) -> None:
        """Null keys: runs of records to the sticky partition, switching as the partitioner says."""
        part = self.partitioner
        meta = self._meta()
        if not isinstance(part, BuiltInPartitioner):
            self._append_per_record(times, keys, record_bytes, meta)
            return
        cumulative = np.cumsum(record_bytes)
        start, n = 0, len(times)
        while start < n:
            p = part.partition(None, meta)
            if part.partition_changed(
                None, self.accumulator.all_batches_full((self.topic, p)), meta
            ):
                p = part.partition(None, meta)
            info = part.peek_current_partition_info(meta)
            before = cumulative[start - 1] if start else 0
            # switch at batch.size bytes when the queue's batches are all full, else at twice
            # that (BuiltInPartitioner.updatePartitionInfo); within one take-in nothing drains
            size = part.sticky_batch_size
            produced = info.produced_bytes
            need = max((size if produced < size else 2 * size) - produced, 1)
            end = min(int(np.searchsorted(cumulative, before + need, side="left")) + 1, n)
            tp = (self.topic, p)
            sel = slice(start, end)
            self.accumulator.append(
                tp, times[sel], None if keys is None else keys[sel], record_bytes[sel]
            )
            part.on_append(
                None, int(cumulative[end - 1] - before), self.accumulator.all_batches_full(tp), meta
            )
            start = end

    def _append_per_record(self, times, keys, record_bytes, meta: TopicMetadata) -> None:
        """Legacy partitioner classes, for comparison studies: Kafka's per-record loop."""
        part = self.partitioner
        for i in range(len(times)):
            key = None if keys is None else key_bytes_of([keys[i]])[0]
            p = part.partition(key, meta)
            tp = (self.topic, p)
            if part.abort_on_new_batch and self.accumulator.all_batches_full(tp):
                part.on_new_batch(p, meta)
                p = part.partition(key, meta)
                tp = (self.topic, p)
            sel = slice(i, i + 1)
            self.accumulator.append(
                tp, times[sel], None if keys is None else keys[sel], record_bytes[sel]
            )

    # ---------------------------------------------------------------- when to wake

    def _next_wake(self, now: float) -> float:
        """The next time something can happen without an answer arriving, s."""
        wake = self.accumulator.next_ready_s(now)
        if self.sender.has_capacity():
            next_arrival = self._pending.peek_time(self.workload)
            if self.linger_s <= 0:
                wake = min(wake, next_arrival)
            else:
                wake = min(wake, self._next_full_s(now, next_arrival))
        return max(wake, now)

    def _next_full_s(self, now: float, next_arrival: float) -> float:
        """When the next open batch fills (the first record that would not fit arrives), s.

        Estimated from the arrivals already drawn: exact for keyed records; for null keys all
        go to the current sticky partition. Waking early is harmless (nothing is ready yet).
        """
        times, keys, sizes = self._pending.future()
        if len(times) == 0:
            return next_arrival
        record_bytes = sizes + self.key_bytes + RECORD_OVERHEAD_BYTES
        best = self._pending.horizon
        for tp, dq in self.accumulator.deques.items():
            if not dq or dq[-1].closed or dq[-1].full_s is not None:
                continue
            room = self.accumulator.batch_size - dq[-1].records_bytes
            if self.key_partitions is not None:
                mine = self.key_partitions[keys] == tp[1]
                cumulative = np.cumsum(record_bytes[mine])
                candidate_times = times[mine]
            else:
                cumulative = np.cumsum(record_bytes)
                candidate_times = times
            k = int(np.searchsorted(cumulative, room, side="right"))
            if k < len(candidate_times):
                best = min(best, float(candidate_times[k]))
        return best


class _Pending:
    """Arrivals drawn but not yet taken in: the window ahead of the producer's clock."""

    def __init__(self) -> None:
        self.times = np.empty(0)
        self.keys: np.ndarray | None = None
        self.sizes = np.empty(0, dtype=np.int64)
        self.cursor = 0
        self.horizon = 0.0  # arrivals are drawn up to here

    def _refill(self, workload: Workload, until: float) -> None:
        while self.horizon <= until:
            new = workload.arrivals(self.horizon, self.horizon + ARRIVAL_WINDOW_S)
            self.horizon += ARRIVAL_WINDOW_S
            rest = slice(self.cursor, None)
            self.times = np.concatenate([self.times[rest], new.times])
            self.sizes = np.concatenate([self.sizes[rest], new.sizes])
            if new.keys is not None:
                old = self.keys[rest] if self.keys is not None else np.empty(0, dtype=np.int64)
                self.keys = np.concatenate([old, new.keys])
            self.cursor = 0

    def take(self, now: float, workload: Workload):
        """The arrivals with time <= now, removed from the window."""
        self._refill(workload, now)
        end = int(np.searchsorted(self.times, now, side="right"))
        sel = slice(self.cursor, end)
        out = (self.times[sel], None if self.keys is None else self.keys[sel], self.sizes[sel])
        self.cursor = end
        return out

    def peek_time(self, workload: Workload) -> float:
        """Time of the next arrival not yet taken in (inf when the producer has stopped)."""
        stop = workload.spec.stop_s
        while self.cursor >= len(self.times):
            if stop is not None and self.horizon >= stop:
                return np.inf
            self._refill(workload, self.horizon)
        return float(self.times[self.cursor])

    def future(self):
        """The arrivals drawn and not yet taken in."""
        sel = slice(self.cursor, None)
        return self.times[sel], None if self.keys is None else self.keys[sel], self.sizes[sel]
