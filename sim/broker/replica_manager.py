"""A broker's replicas (≈ Kafka 3.9's ReplicaManager with its ReplicaFetcherManager).

It owns the broker's partitions: appends produce requests as leader and holds acks=all answers
(DelayedProduce), answers fetches now or parks them (DelayedFetch), runs the fetchers that copy
partitions it follows, applies the controller's LeaderAndIsr, proposes ISR changes to the
controller (AlterPartition, KIP-497) from the ``isr-expiration`` task and from followers catching
up, and checkpoints high watermarks every ``replica.high.watermark.checkpoint.interval.ms``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import simpy

from sim.broker.log import PartitionLog
from sim.broker.partition import Partition
from sim.broker.replica_fetcher import ReplicaFetcher, fetcher_id
from sim.disk import Disk
from sim.kafka_config import EffectiveConfig
from sim.metrics import Metrics
from sim.net import Network
from sim.protocol import (
    ACKS_ALL,
    EARLIEST_TIMESTAMP,
    ConnectionClosed,
    Errors,
    FetchPartitionData,
    FetchRequest,
    FetchResponse,
    LeaderAndIsrPartition,
    ListOffsetsRequest,
    ListOffsetsResponse,
    PartitionProduceResult,
    ProduceRequest,
    ProduceResponse,
    TopicPartition,
    framed_size,
)
from sim.timers import Deadlines

#: Proposes an ISR change to the controller: (partition, proposed ISR, callback(answer | None)).
AlterPartition = Callable[[Partition, list[int], Callable[[Any], None]], None]


@dataclass(slots=True, eq=False)
class _DelayedProduce:
    """An acks=all answer held until the HW covers its batches; ``waiting``: (partition, its
    completion) pairs; ``outstanding``: partitions not yet complete."""

    outstanding: int
    waiting: list = field(default_factory=list)

    def expire(self) -> None:
        """The request's timeout passed: the partitions still waiting answer REQUEST_TIMED_OUT."""
        for partition, done in self.waiting:
            partition.expire(done)


@dataclass(slots=True, eq=False)
class _DelayedFetch:
    """A parked fetch (DelayedFetch): answered when min_bytes are there or at its deadline."""

    request: FetchRequest
    respond: Callable[..., None]
    done: bool = False


class ReplicaManager:
    """The partitions of broker ``broker_id`` (node ``name``).

    legacy_hw_truncation: a follower truncates its log to its high watermark when it starts
    following (pre-KIP-101 Kafka), instead of to the leader's end offset for its epoch.
    alter_partition: how ISR changes reach the controller (the broker sends AlterPartition).
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
        alter_partition: AlterPartition,
        legacy_hw_truncation: bool = False,
    ) -> None:
        self.env = env
        self.broker_id = broker_id
        self.name = f"broker-{broker_id}"
        self.net = net
        self.disk = disk
        self.config = config
        self.topic_configs = topic_configs
        self.metrics = metrics
        self.alter_partition = alter_partition
        self.legacy_hw_truncation = legacy_hw_truncation
        self.partitions: dict[TopicPartition, Partition] = {}
        self.fetchers: dict[tuple[int, int], ReplicaFetcher] = {}
        self.hw_checkpoint: dict[TopicPartition, int] = {}
        self.lag_max_s = config.s("replica.lag.time.max.ms")
        self._parked: dict[TopicPartition, list[_DelayedFetch]] = {}
        self._fetch_deadlines = Deadlines(
            env, lambda fetch: self._complete_parked(fetch, force=True), lambda fetch: fetch.done
        )
        self._produce_deadlines = Deadlines(
            env, _DelayedProduce.expire, lambda held: held.outstanding == 0
        )
        self._unflushed: dict[TopicPartition, tuple[int, float]] = {}
        self._timers: list[simpy.Process] = []
        self.paused = False  # a paused process runs no timers

    # ---------------------------------------------------------------- lifecycle

    def start(self) -> None:
        """Start the timers: isr-expiration (every replica.lag.time.max.ms / 2) and the
        high-watermark checkpoint."""
        self._timers = [
            self.env.process(self._isr_expiration()),
            self.env.process(self._checkpoint_high_watermarks()),
        ]

    def stop(self) -> None:
        """The broker process stopped: timers and fetchers end, parked and held answers are
        lost, leadership is forgotten (the logs stay)."""
        for process in self._timers:
            if process.is_alive:
                process.interrupt("stop")
        self._timers = []
        for fetcher in self.fetchers.values():
            fetcher.stop()
        self.fetchers = {}
        for waiting in self._parked.values():
            for fetch in waiting:
                fetch.done = True
        self._parked = {}
        for partition in self.partitions.values():
            partition.stop()

    def power_loss(self) -> None:
        """The machine lost power: each log keeps only what the disk had written back, and the
        HW is no more than the last checkpoint."""
        durable = self.disk.power_loss()
        for tp, partition in self.partitions.items():
            log = partition.log
            removed = log.truncate_to(durable.get(tp, 0))
            log.high_watermark = min(self.hw_checkpoint.get(tp, 0), log.log_end_offset)
            if removed:
                detail = (
                    f"{sum(e.batch.count for e in removed)} records lost, LEO {log.log_end_offset}"
                )
                self.metrics.event(
                    self.env.now, "power_loss_truncate", self.name, tp[0], tp[1], detail
                )

    def recover(self) -> None:
        """Restart after a crash: each HW comes back from its last checkpoint (Kafka reads the
        replication-offset-checkpoint file); the logs are as the disk has them."""
        for tp, partition in self.partitions.items():
            log = partition.log
            log.high_watermark = min(self.hw_checkpoint.get(tp, 0), log.log_end_offset)

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

    # ---------------------------------------------------------------- LeaderAndIsr

    def become_leader_or_follower(self, tp: TopicPartition, state: LeaderAndIsrPartition) -> bool:
        """Apply the controller's decision for one partition
        (ReplicaManager.becomeLeaderOrFollower); False when the request's leader epoch is not
        newer than the one known (stale)."""
        partition = self.partitions.get(tp)
        if partition is None:
            return False
        known = partition.leader_epoch if partition.leader_id >= 0 else -1
        if state.leader_epoch <= known and partition.leader_id >= 0:
            return False
        self._remove_from_fetchers(tp)
        if state.leader == self.broker_id:
            partition.make_leader(
                state.leader_epoch, state.isr, state.partition_epoch, self.env.now
            )
            self._wake_parked(tp)
        else:
            partition.make_follower(state.leader, state.leader_epoch, state.partition_epoch)
            if self.legacy_hw_truncation:
                self._truncate(
                    partition, partition.log.high_watermark, "to its high watermark (pre-KIP-101)"
                )
            if state.leader >= 0:
                self._fetcher(state.leader, tp).add_partition(partition)
        return True

    def _fetcher(self, leader: int, tp: TopicPartition) -> ReplicaFetcher:
        """ReplicaFetcherManager.addFetcherForPartitions: the fetcher for (leader, fetcher id)."""
        key = (leader, fetcher_id(tp, self.config["num.replica.fetchers"]))
        fetcher = self.fetchers.get(key)
        if fetcher is None:
            fetcher = self.fetchers[key] = ReplicaFetcher(self, leader, key[1])
            fetcher.start()
        return fetcher

    def _remove_from_fetchers(self, tp: TopicPartition) -> None:
        for fetcher in self.fetchers.values():
            fetcher.remove_partition(tp)

    def _truncate(self, partition: Partition, offset: int, why: str) -> None:
        log = partition.log
        removed = log.truncate_to(offset)
        if removed:
            count = sum(e.batch.count for e in removed)
            detail = f"{count} records removed {why}; LEO {log.log_end_offset}"
            tp = partition.tp
            self.metrics.event(self.env.now, "truncate", self.name, tp[0], tp[1], detail)

    # ---------------------------------------------------------------- produce

    def handle_produce(self, request: ProduceRequest, reply: Callable[[Any], None]) -> None:
        """KafkaApis.handleProduceRequest + ReplicaManager.appendRecords."""
        now = self.env.now
        results: dict[TopicPartition, PartitionProduceResult] = {}
        waiting: list[tuple[Partition, int, TopicPartition]] = []
        appended_tps: list[TopicPartition] = []
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
                appended_tps.append(tp)
            results[tp] = PartitionProduceResult(error, base_offset)
            if error is Errors.NONE and request.acks == ACKS_ALL:
                waiting.append((partition, base_offset + batch.count, tp))
        # parked fetches are tried once every partition is appended, as Kafka's action queue
        # runs the purgatory checks after the handler (ReplicaManager.addCompletePurgatoryAction)
        for tp in appended_tps:
            self._wake_parked(tp)
        if request.acks == 0:
            failed = any(r.error is not Errors.NONE for r in results.values())
            reply(ConnectionClosed() if failed else None)
        elif not waiting:
            reply(ProduceResponse(results), disk_delay)
        else:
            self._hold_for_acks(request, results, waiting, disk_delay, reply)

    def _hold_for_acks(self, request, results, waiting, disk_delay, reply) -> None:
        """Hold the answer until every partition's HW covers its batch (DelayedProduce), or
        answer REQUEST_TIMED_OUT for those still waiting after the request's timeout."""
        held = _DelayedProduce(len(waiting))

        def completer(tp: TopicPartition) -> Callable[[Errors], None]:
            def done(error: Errors) -> None:
                if error is not Errors.NONE:
                    results[tp] = PartitionProduceResult(error, results[tp].base_offset)
                held.outstanding -= 1
                if held.outstanding == 0:
                    reply(ProduceResponse(results), disk_delay)

            return done

        for partition, required, tp in waiting:
            callback = completer(tp)
            held.waiting.append((partition, callback))
            partition.wait_for_acks(required, callback)
        if held.outstanding > 0:
            self._produce_deadlines.add(request.timeout_s, held)

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

    def handle_fetch(self, request: FetchRequest, reply: Callable[..., None]) -> None:
        """KafkaApis.handleFetchRequest: read now, or park until min_bytes or max_wait."""
        now = self.env.now
        if request.replica_id >= 0:
            for tp, fetch in request.partitions.items():
                self._update_follower(
                    request.replica_id, tp, fetch.fetch_offset, fetch.last_fetched_epoch, now
                )
        if request.max_wait_s > 0 and request.min_bytes > 0 and self._nothing_to_answer(request):
            parked = _DelayedFetch(request, reply)
            for tp in request.partitions:
                self._parked.setdefault(tp, []).append(parked)
            self._fetch_deadlines.add(request.max_wait_s, parked)
            return
        response, nbytes, urgent = self._read(request)
        if nbytes >= request.min_bytes or request.max_wait_s <= 0 or urgent:
            reply(response, self._disk_read_s(response))
            return
        parked = _DelayedFetch(request, reply)
        for tp in request.partitions:
            self._parked.setdefault(tp, []).append(parked)
        self._fetch_deadlines.add(request.max_wait_s, parked)

    def _nothing_to_answer(self, request: FetchRequest) -> bool:
        """True when a read would return no bytes, no error and no divergence for any partition
        (the usual case of a caught-up fetcher), so the fetch parks without building an answer,
        as DelayedFetch.tryComplete counts bytes from offsets without reading."""
        follower = request.replica_id >= 0
        partitions = self.partitions
        for tp, fetch in request.partitions.items():
            partition = partitions.get(tp)
            if partition is None or partition.leader_id != partition.broker_id:
                return False
            log = partition.log
            offset = fetch.fetch_offset
            upper = log.log_end_offset if follower else log.high_watermark
            if offset != upper or offset < log.log_start_offset:
                return False  # data to return, or out of range (offset > LEO) or below start
            if follower and self._diverging(partition, offset, fetch.last_fetched_epoch):
                return False
        return True

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
        if partition.update_follower_fetch_state(follower, offset, now):
            self._propose(partition, partition.pending_isr)
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

    def _read(self, request: FetchRequest) -> tuple[FetchResponse, int, bool]:
        """ReplicaManager.readFromLog: per partition up to its limit and the response limit.
        Returns the response, the bytes of records in it, and whether some partition has an
        error or a diverging epoch (answered at once)."""
        parts: dict[TopicPartition, FetchPartitionData] = {}
        budget = request.max_bytes
        total = 0
        urgent = False
        for tp, fetch in request.partitions.items():
            data = self._read_partition(request, tp, fetch, budget)
            parts[tp] = data
            size = data.size_bytes
            budget = budget - size if budget > size else 0
            total += size
            if data.error is not Errors.NONE or data.diverging_epoch is not None:
                urgent = True
        framing = framed_size(len(parts))
        return FetchResponse(parts, framing + total), total, urgent

    def _read_partition(
        self, request: FetchRequest, tp: TopicPartition, fetch, budget: int
    ) -> FetchPartitionData:
        partition = self.partitions.get(tp)
        if partition is None or partition.leader_id != partition.broker_id:
            return FetchPartitionData(Errors.NOT_LEADER_OR_FOLLOWER)
        log = partition.log
        offset = fetch.fetch_offset
        hw, start, leo = log.high_watermark, log.log_start_offset, log.log_end_offset
        follower = request.replica_id >= 0
        if follower:
            diverging = self._diverging(partition, offset, fetch.last_fetched_epoch)
            if diverging:
                return FetchPartitionData(Errors.NONE, hw, start, leo, [], diverging)
        if offset < start or offset > leo:
            return FetchPartitionData(Errors.OFFSET_OUT_OF_RANGE, hw, start, leo)
        upper = leo if follower else hw
        if budget <= 0 or offset >= upper:
            return FetchPartitionData(Errors.NONE, hw, start, leo, [], None, 0)
        limit = request.partition_max_bytes
        entries, nbytes = log.read(offset, limit if limit < budget else budget, upper)
        return FetchPartitionData(Errors.NONE, hw, start, leo, entries, None, nbytes)

    def _wake_parked(self, tp: TopicPartition) -> None:
        """New data or a higher HW on ``tp``: answer the parked fetches that now have enough."""
        parked = self._parked.get(tp)
        if not parked:
            return
        log = self.partitions[tp].log
        leo, hw = log.log_end_offset, log.high_watermark
        # a snapshot: answering may hand this broker a queued fetch that parks on ``tp`` again
        for fetch in parked.copy():
            if fetch.done:
                continue
            request = fetch.request
            # visible end for this fetcher: the LEO for a follower, the HW for a consumer
            end = leo if request.replica_id >= 0 else hw
            if end > request.partitions[tp].fetch_offset:
                self._complete_parked(fetch, force=request.min_bytes <= 1)
        self._parked[tp] = [fetch for fetch in self._parked[tp] if not fetch.done]

    def _complete_parked(self, fetch: _DelayedFetch, force: bool) -> None:
        """DelayedFetch.tryComplete (``force``: at its deadline, or known to have enough)."""
        if fetch.done:
            return
        response, nbytes, _ = self._read(fetch.request)
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

    def handle_list_offsets(self, request: ListOffsetsRequest) -> ListOffsetsResponse:
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
            epoch, end_offset = data.diverging_epoch
            if end_offset < 0:  # the leader knows no epoch that old: keep what is committed
                self._truncate(partition, log.high_watermark, "to its high watermark")
            else:
                why = f"to the leader's end offset of epoch {epoch} (KIP-101)"
                self._truncate(partition, min(end_offset, log.log_end_offset), why)
            return 0.0
        if data.error is Errors.OFFSET_OUT_OF_RANGE:
            self._handle_out_of_range(partition, data)
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

    def _handle_out_of_range(self, partition: Partition, data: FetchPartitionData) -> None:
        """AbstractFetcherThread.handleOutOfRangeError: a follower ahead of its leader (after
        an unclean election or a power loss) truncates to the leader's end offset; one behind
        the leader's log start starts over there."""
        log = partition.log
        if data.log_end_offset < log.log_end_offset:
            why = "to the leader's end offset (fetch offset out of range)"
            self._truncate(partition, data.log_end_offset, why)
        elif log.log_end_offset < data.log_start_offset:
            log.truncate_fully_and_start_at(data.log_start_offset)
            tp = partition.tp
            detail = f"behind the leader's log start: starts over at {data.log_start_offset}"
            self.metrics.event(self.env.now, "truncate", self.name, tp[0], tp[1], detail)

    # ---------------------------------------------------------------- timers and ISR changes

    def _isr_expiration(self):
        """ReplicaManager's isr-expiration task: propose to shrink ISRs of led partitions."""
        period = self.lag_max_s / 2
        try:
            while True:
                yield self.env.timeout(period)
                if self.paused:
                    continue
                now = self.env.now
                for partition in self.partitions.values():
                    if partition.is_leader:
                        out = partition.out_of_sync_replicas(now)
                        if out:
                            self._propose(partition, partition.propose_shrink(out))
        except simpy.Interrupt:
            return

    def _propose(self, partition: Partition, isr: list[int]) -> None:
        """Send the pending ISR change of ``partition`` to the controller, apply its answer."""
        before = list(partition.isr)

        def answered(answer: Any) -> None:
            tp = partition.tp
            result = None if answer is None else answer.partitions.get(tp)
            if result is None:
                partition.abandon_isr_change()
                return
            error, leader_epoch, new_isr, partition_epoch = result
            if partition.apply_isr_change(
                error, leader_epoch, new_isr, partition_epoch, self.env.now
            ):
                self._record_isr_change(tp, before, new_isr)
                self._wake_parked(tp)

        self.alter_partition(partition, isr, answered)

    def _record_isr_change(self, tp: TopicPartition, before: list[int], after: list[int]) -> None:
        now = self.env.now
        left = [b for b in before if b not in after]
        joined = [b for b in after if b not in before]
        if left:
            names = ", ".join(f"broker-{b}" for b in left)
            self.metrics.event(now, "isr_shrink", self.name, tp[0], tp[1], f"{names} left the ISR")
        if joined:
            names = ", ".join(f"broker-{b}" for b in joined)
            self.metrics.event(
                now, "isr_expand", self.name, tp[0], tp[1], f"{names} joined the ISR"
            )

    def _checkpoint_high_watermarks(self):
        """The replication-offset-checkpoint file, written every
        replica.high.watermark.checkpoint.interval.ms."""
        period = self.config.s("replica.high.watermark.checkpoint.interval.ms")
        try:
            while True:
                yield self.env.timeout(period)
                for tp, partition in self.partitions.items():
                    self.hw_checkpoint[tp] = partition.log.high_watermark
        except simpy.Interrupt:
            return

    def under_replicated(self) -> int:
        """Partitions this broker leads whose ISR is smaller than their replica set."""
        return sum(
            1 for p in self.partitions.values() if p.is_leader and len(p.isr) < len(p.replicas)
        )
