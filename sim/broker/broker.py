"""A Kafka broker (≈ KafkaServer with KafkaApis and ReplicaManager, Kafka 3.9).

It answers Produce, Fetch, ListOffsets and Metadata requests that arrive through the network;
leads some partitions and follows others (through its :class:`ReplicaFetcher` s); runs the
``isr-expiration`` timer. Request handling costs time on ``num.network.threads`` network threads
and ``num.io.threads`` request handler threads, each a "busy until" time. As Kafka's socket server
does, it handles one request per client connection at a time, in order: the next waits until the
previous one's answer is sent (so in-flight requests pipeline the network, not the broker).
"""

from __future__ import annotations

import heapq
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import simpy

from sim.broker.log import PartitionLog
from sim.broker.partition import Partition
from sim.disk import Disk
from sim.kafka_config import EffectiveConfig
from sim.metrics import Metrics
from sim.net import Network
from sim.protocol import (
    ACKS_ALL,
    EARLIEST_TIMESTAMP,
    Errors,
    FetchPartitionData,
    FetchRequest,
    FetchResponse,
    ListOffsetsRequest,
    ListOffsetsResponse,
    MetadataRequest,
    MetadataResponse,
    PartitionMetadata,
    PartitionProduceResult,
    ProduceRequest,
    ProduceResponse,
    TopicPartition,
)
from sim.timers import Deadlines

#: CPU cost of a request on a network thread: fixed seconds + bytes / rate (bytes/s).
NETWORK_REQUEST_S = 5e-6
NETWORK_BYTES_S = 1.0e9
#: CPU cost on a request handler (io) thread: fixed seconds + bytes / rate (validation, copy).
IO_REQUEST_S = 20e-6
IO_BYTES_S = 2.0e9


class RequestHandlerPool:
    """``num.network.threads`` then ``num.io.threads`` servers, each a busy-until time (s)."""

    def __init__(self, network_threads: int, io_threads: int) -> None:
        self._network = [0.0] * network_threads
        self._io = [0.0] * io_threads

    def done_at(self, now: float, nbytes: int) -> float:
        """When a request of ``nbytes`` arriving ``now`` has been read and handled, s."""
        read = _serve(self._network, now, NETWORK_REQUEST_S + nbytes / NETWORK_BYTES_S)
        return _serve(self._io, read, IO_REQUEST_S + nbytes / IO_BYTES_S)


def _serve(heap: list[float], arrival: float, service_s: float) -> float:
    free = heapq.heappop(heap)
    done = max(arrival, free) + service_s
    heapq.heappush(heap, done)
    return done


@dataclass(slots=True)
class _Connection:
    """One client connection. ``held``: a request awaits its answer (acks=all, parked fetch), so
    later requests wait in ``queue`` (the muted channel). ``free_at_s``: when the handler of the
    last answered request is done."""

    held: bool = False
    free_at_s: float = 0.0
    queue: deque = field(default_factory=deque)


@dataclass(slots=True, eq=False)
class _DelayedFetch:
    """A parked fetch (DelayedFetch): answered when min_bytes are there or at its deadline."""

    request: FetchRequest
    respond: Callable[[Any], None]
    done: bool = False


class Broker:
    """Broker ``broker_id`` (node ``broker-<id>``).

    config: effective broker properties. topic_configs: effective topic properties by topic.
    """

    def __init__(
        self,
        env: simpy.Environment,
        broker_id: int,
        net: Network,
        disk: Disk,
        config: EffectiveConfig,
        topic_configs: dict[str, EffectiveConfig],
        metrics: Metrics,
    ) -> None:
        self.env = env
        self.broker_id = broker_id
        self.name = f"broker-{broker_id}"
        self.net = net
        self.disk = disk
        self.config = config
        self.topic_configs = topic_configs
        self.metrics = metrics
        self.partitions: dict[TopicPartition, Partition] = {}
        self.metadata: dict[TopicPartition, PartitionMetadata] = {}
        self.live_brokers: list[int] = []
        self.handlers = RequestHandlerPool(config["num.network.threads"], config["num.io.threads"])
        self.fetchers: dict[tuple[int, int], Any] = {}
        self._connections: dict[str, _Connection] = {}
        self._parked: dict[TopicPartition, list[_DelayedFetch]] = {}
        self._fetch_deadlines = Deadlines(
            env, lambda fetch: self._complete_parked(fetch, force=True), lambda fetch: fetch.done
        )
        self._unflushed: dict[TopicPartition, tuple[int, float]] = {}
        self.lag_max_s = config.s("replica.lag.time.max.ms")

    # ---------------------------------------------------------------- lifecycle

    def start(self) -> None:
        """Start the broker's timers (isr-expiration every replica.lag.time.max.ms / 2)."""
        self.env.process(self._isr_expiration())
        for fetcher in self.fetchers.values():
            fetcher.start()

    def create_replica(self, tp: TopicPartition, replicas: list[int]) -> Partition:
        """Create this broker's replica of ``tp`` with an empty log."""
        topic = self.topic_configs[tp[0]]
        log = PartitionLog(
            tp,
            segment_bytes=topic["segment.bytes"],
            segment_s=topic.s("segment.ms"),
            retention_s=topic.s("retention.ms") if topic["retention.ms"] >= 0 else -1.0,
            retention_bytes=topic["retention.bytes"],
        )
        partition = Partition(
            tp, self.broker_id, log, replicas, topic["min.insync.replicas"], self.lag_max_s
        )
        self.partitions[tp] = partition
        return partition

    def become_leader_or_follower(
        self, tp: TopicPartition, state: PartitionMetadata, fetcher_for: Callable
    ) -> None:
        """LeaderAndIsr for one partition: lead it, or follow its leader through a fetcher."""
        self.metadata[tp] = state
        partition = self.partitions[tp]
        if state.leader == self.broker_id:
            partition.make_leader(state.leader_epoch, state.isr, self.env.now)
        else:
            partition.make_follower(state.leader, state.leader_epoch)
            fetcher_for(self, state.leader, tp).add_partition(partition)

    # ---------------------------------------------------------------- requests

    def on_request(self, request: Any, source: str, respond: Callable | None) -> None:
        """A request arrived from ``source``: handle it, or queue it behind one awaiting its answer.

        Its effects happen on arrival; its answer leaves when the network and request handler
        threads are done with it (RequestHandlerPool), or later when it must wait (acks=all, a
        parked fetch). Handling time is so one event serves a request, not two.
        """
        conn = self._connections.get(source)
        if conn is None:
            conn = self._connections[source] = _Connection()
        if conn.held:
            conn.queue.append((request, respond))
            return
        self._handle(conn, source, request, respond)

    def _handle(
        self, conn: _Connection, source: str, request: Any, respond: Callable | None
    ) -> None:
        now = self.env.now
        done_at = self.handlers.done_at(max(now, conn.free_at_s), request.size_bytes)
        conn.held = True

        def reply(response: Any, extra_s: float = 0.0) -> None:
            t = self.env.now
            send_at = max(done_at, t + extra_s)
            if respond is not None and response is not None:
                respond(response, send_at - t)
            conn.free_at_s = send_at
            conn.held = False
            while conn.queue and not conn.held:
                queued, queued_respond = conn.queue.popleft()
                self._handle(conn, source, queued, queued_respond)

        if isinstance(request, ProduceRequest):
            self._handle_produce(request, reply)
        elif isinstance(request, FetchRequest):
            self._handle_fetch(request, reply)
        elif isinstance(request, ListOffsetsRequest):
            reply(self._handle_list_offsets(request))
        elif isinstance(request, MetadataRequest):
            reply(self._handle_metadata(request))
        else:
            raise TypeError(f"{self.name}: no handler for {type(request).__name__}")

    # ---------------------------------------------------------------- produce

    def _handle_produce(self, request: ProduceRequest, reply: Callable[[Any], None]) -> None:
        """KafkaApis.handleProduceRequest + ReplicaManager.appendRecords."""
        now = self.env.now
        results: dict[TopicPartition, PartitionProduceResult] = {}
        waiting: list[tuple[Partition, int, TopicPartition]] = []
        disk_delay = 0.0
        for tp, batch in request.batches.items():
            partition = self.partitions.get(tp)
            if partition is None:
                results[tp] = PartitionProduceResult(Errors.NOT_LEADER_OR_FOLLOWER)
                continue
            error, base_offset, appended = partition.append_records_to_leader(
                batch, request.acks, now
            )
            if appended:
                disk_delay = max(disk_delay, self._write_to_disk(partition))
                self._wake_parked(tp)
            results[tp] = PartitionProduceResult(error, base_offset)
            if error is Errors.NONE and request.acks == ACKS_ALL:
                waiting.append((partition, base_offset + batch.count, tp))
        if request.acks == 0:
            reply(None)
        elif not waiting:
            reply(ProduceResponse(results), disk_delay)
        else:
            self._hold_for_acks(request, results, waiting, disk_delay, reply)

    def _hold_for_acks(self, request, results, waiting, disk_delay, reply) -> None:
        """Hold the answer until every partition's HW covers its batch (DelayedProduce)."""
        outstanding = {"n": len(waiting)}
        callbacks = []

        def completer(tp: TopicPartition) -> Callable[[Errors], None]:
            def done(error: Errors) -> None:
                if error is not Errors.NONE:
                    results[tp] = PartitionProduceResult(error, results[tp].base_offset)
                outstanding["n"] -= 1
                if outstanding["n"] == 0:
                    reply(ProduceResponse(results), disk_delay)

            return done

        for partition, required, tp in waiting:
            callback = completer(tp)
            callbacks.append((partition, callback))
            partition.wait_for_acks(required, callback)
        if outstanding["n"] > 0:
            timer = self.env.timeout(request.timeout_s)
            timer.callbacks.append(lambda _: [p.expire(cb) for p, cb in callbacks])

    def _write_to_disk(self, partition: Partition) -> float:
        """Page-cache write of the appended batch; forced flush per the topic's flush settings."""
        log = partition.log
        entry = log.entries[-1]
        entry.position = self.disk.position()
        delay = self.disk.write(partition.tp, log.log_end_offset, entry.batch.size_bytes)
        topic = self.topic_configs[partition.tp[0]]
        count, since = self._unflushed.get(partition.tp, (0, self.env.now))
        count += entry.batch.count
        if count >= topic["flush.messages"] or self.env.now - since >= topic.s("flush.ms"):
            delay = max(delay, self.disk.flush(partition.tp))
            count, since = 0, self.env.now
        self._unflushed[partition.tp] = (count, since)
        return delay

    # ---------------------------------------------------------------- fetch

    def _handle_fetch(self, request: FetchRequest, reply: Callable[..., None]) -> None:
        """KafkaApis.handleFetchRequest: read now, or park until min_bytes or max_wait."""
        now = self.env.now
        if request.replica_id >= 0:
            for tp, fetch in request.partitions.items():
                self._update_follower(
                    request.replica_id, tp, fetch.fetch_offset, fetch.last_fetched_epoch, now
                )
        response, nbytes = self._read(request)
        diverging = any(
            p.diverging_epoch or p.error is not Errors.NONE for p in response.partitions.values()
        )
        if nbytes >= request.min_bytes or request.max_wait_s <= 0 or diverging:
            reply(response, self._disk_read_s(response))
            return
        parked = _DelayedFetch(request, reply)
        for tp in request.partitions:
            self._parked.setdefault(tp, []).append(parked)
        self._fetch_deadlines.add(request.max_wait_s, parked)

    def _update_follower(
        self, follower: int, tp: TopicPartition, offset: int, epoch: int, now: float
    ) -> None:
        partition = self.partitions.get(tp)
        if (
            partition is None
            or not partition.is_leader
            or self._diverging(partition, offset, epoch)
        ):
            return
        hw = partition.log.high_watermark
        for added in partition.update_follower_fetch_state(follower, offset, now):
            self.metrics.event(
                now, "isr_expand", self.name, tp[0], tp[1], f"broker-{added} joined the ISR"
            )
        if partition.log.high_watermark != hw:
            self._wake_parked(tp)

    @staticmethod
    def _diverging(partition: Partition, offset: int, epoch: int) -> tuple[int, int] | None:
        """Partition.validateFetchOffsetAndMaybeGetDivergingEpoch: the fetcher's last epoch ends
        earlier in the leader's log than its fetch offset, or the leader does not know it."""
        log = partition.log
        if epoch < 0 or (epoch == log.latest_epoch and offset <= log.log_end_offset):
            return None  # the common case: same epoch as the leader's last, nothing to compare
        end_epoch, end_offset = log.end_offset_for_epoch(epoch)
        if end_epoch < epoch or end_offset < offset:
            return end_epoch, end_offset
        return None

    def _read(self, request: FetchRequest) -> tuple[FetchResponse, int]:
        """ReplicaManager.readFromLog: per partition up to its limit and the response limit."""
        parts: dict[TopicPartition, FetchPartitionData] = {}
        budget = request.max_bytes
        total = 0
        for tp, fetch in request.partitions.items():
            data = self._read_partition(request, tp, fetch, budget)
            parts[tp] = data
            size = data.size_bytes
            budget = max(budget - size, 0)
            total += size
        return FetchResponse(parts), total

    def _read_partition(
        self, request: FetchRequest, tp: TopicPartition, fetch, budget: int
    ) -> FetchPartitionData:
        partition = self.partitions.get(tp)
        if partition is None or not partition.is_leader:
            return FetchPartitionData(Errors.NOT_LEADER_OR_FOLLOWER)
        log = partition.log
        follower = request.replica_id >= 0
        if follower:
            diverging = self._diverging(partition, fetch.fetch_offset, fetch.last_fetched_epoch)
            if diverging:
                return FetchPartitionData(
                    Errors.NONE,
                    log.high_watermark,
                    log.log_start_offset,
                    log.log_end_offset,
                    [],
                    diverging,
                )
        if fetch.fetch_offset < log.log_start_offset or fetch.fetch_offset > log.log_end_offset:
            return FetchPartitionData(
                Errors.OFFSET_OUT_OF_RANGE,
                log.high_watermark,
                log.log_start_offset,
                log.log_end_offset,
            )
        upper = log.log_end_offset if follower else log.high_watermark
        if budget <= 0 or fetch.fetch_offset >= upper:
            entries, nbytes = [], 0
        else:
            limit = min(request.partition_max_bytes, budget)
            entries, nbytes = log.read(fetch.fetch_offset, limit, upper)
        return FetchPartitionData(
            Errors.NONE,
            log.high_watermark,
            log.log_start_offset,
            log.log_end_offset,
            entries,
            size_bytes=nbytes,
        )

    def _wake_parked(self, tp: TopicPartition) -> None:
        """New data or a higher HW on ``tp``: answer the parked fetches that now have enough."""
        parked = self._parked.get(tp)
        if not parked:
            return
        waiting = [fetch for fetch in parked if not fetch.done]
        self._parked[tp] = waiting
        partition = self.partitions[tp]
        log = partition.log
        for fetch in waiting:
            request = fetch.request
            # visible end for this fetcher: the LEO for a follower, the HW for a consumer
            end = log.log_end_offset if request.replica_id >= 0 else log.high_watermark
            wanted = request.partitions[tp].fetch_offset
            if end <= wanted:
                continue  # nothing new for this fetch on tp
            self._complete_parked(fetch, force=request.min_bytes <= 1)

    def _complete_parked(self, fetch: _DelayedFetch, force: bool) -> None:
        """DelayedFetch.tryComplete (``force``: at its deadline, or known to have enough)."""
        if fetch.done:
            return
        response, nbytes = self._read(fetch.request)
        if not force and nbytes < fetch.request.min_bytes:
            return
        fetch.done = True
        fetch.respond(response, self._disk_read_s(response))

    def _disk_read_s(self, response: FetchResponse) -> float:
        """Time to read the returned batches: 0 from the page cache, else from the disk (a batch
        is cached when it was written less than page_cache bytes ago)."""
        delay = 0.0
        for data in response.partitions.values():
            if data.entries:
                delay = max(delay, self.disk.read(data.entries[0].position, data.size_bytes))
        return delay

    # ---------------------------------------------------------------- offsets and metadata

    def _handle_list_offsets(self, request: ListOffsetsRequest) -> ListOffsetsResponse:
        offsets: dict[TopicPartition, tuple[Errors, int]] = {}
        for tp, timestamp in request.partitions.items():
            partition = self.partitions.get(tp)
            if partition is None or not partition.is_leader:
                offsets[tp] = (Errors.NOT_LEADER_OR_FOLLOWER, -1)
            elif timestamp == EARLIEST_TIMESTAMP:
                offsets[tp] = (Errors.NONE, partition.log.log_start_offset)
            else:  # LATEST for read_uncommitted is the high watermark
                offsets[tp] = (Errors.NONE, partition.log.high_watermark)
        return ListOffsetsResponse(offsets)

    def _handle_metadata(self, request: MetadataRequest) -> MetadataResponse:
        wanted = None if request.topics is None else set(request.topics)
        parts = {tp: m for tp, m in self.metadata.items() if wanted is None or tp[0] in wanted}
        return MetadataResponse(list(self.live_brokers), parts)

    # ---------------------------------------------------------------- replication (follower side)

    def process_fetched(self, tp: TopicPartition, data: FetchPartitionData) -> float:
        """A fetcher got ``data`` for ``tp`` from its leader: truncate on divergence, else append
        and take the leader's HW (ReplicaFetcherThread.processPartitionData).

        Returns how long the append's page-cache writes throttle the fetcher thread, seconds
        (Disk.write: over dirty_ratio the writing thread waits for the disk, as a leader's
        request handler does for a produce)."""
        partition = self.partitions[tp]
        log = partition.log
        now = self.env.now
        if data.diverging_epoch is not None:
            _, end_offset = data.diverging_epoch
            removed = log.truncate_to(min(end_offset, log.log_end_offset))
            if removed:
                self.metrics.event(
                    now, "truncate", self.name, tp[0], tp[1], f"to offset {log.log_end_offset}"
                )
            return 0.0
        if data.error is not Errors.NONE:
            return 0.0
        throttle_s = 0.0
        if data.entries:
            log.append_as_follower(data.entries, now)
            for entry in log.entries[-len(data.entries) :]:
                entry.position = self.disk.position()
                throttle_s = max(
                    throttle_s, self.disk.write(tp, entry.next_offset, entry.batch.size_bytes)
                )
        log.high_watermark = max(log.high_watermark, min(data.high_watermark, log.log_end_offset))
        return throttle_s

    # ---------------------------------------------------------------- timers

    def _isr_expiration(self):
        """ReplicaManager's isr-expiration task: shrink ISRs of led partitions."""
        period = self.lag_max_s / 2
        while True:
            yield self.env.timeout(period)
            now = self.env.now
            for tp, partition in self.partitions.items():
                if not partition.is_leader:
                    continue
                out = partition.out_of_sync_replicas(now)
                if out:
                    partition.shrink_isr(out, now)
                    names = ", ".join(f"broker-{b}" for b in out)
                    self.metrics.event(
                        now, "isr_shrink", self.name, tp[0], tp[1], f"{names} left the ISR"
                    )
                    self._wake_parked(tp)

    def under_replicated(self) -> int:
        """Partitions this broker leads whose ISR is smaller than their replica set."""
        return sum(
            1 for p in self.partitions.values() if p.is_leader and len(p.isr) < len(p.replicas)
        )
