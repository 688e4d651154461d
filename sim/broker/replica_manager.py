"""A broker's replicas (≈ Kafka 3.9's ReplicaManager with its ReplicaFetcherManager).

It owns the broker's partitions: appends produce requests as leader and holds acks=all answers
(DelayedProduce), answers fetches now or parks them (DelayedFetch), runs the fetchers that copy
partitions it follows, applies the controller's LeaderAndIsr, proposes ISR changes to the
controller (AlterPartition, KIP-497) from the ``isr-expiration`` task and from followers catching
up, and checkpoints high watermarks every ``replica.high.watermark.checkpoint.interval.ms``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import simpy

from sim.broker.log import PartitionLog
from sim.broker.partition import Completion, Partition
from sim.broker.replica_fetcher import ReplicaFetcher, fetcher_id, offset_to_truncate_to
from sim.cpu import Cpu
from sim.disk import Disk
from sim.events import EventKind
from sim.kafka_config import EffectiveConfig
from sim.metrics import Metrics
from sim.net import Network
from sim.protocol import (
    ACKS_ALL,
    EARLIEST_TIMESTAMP,
    NO_EPOCH,
    NO_LEADER,
    ConnectionClosed,
    Errors,
    FetchPartitionData,
    FetchRequest,
    FetchResponse,
    LeaderAndIsrPartition,
    ListOffsetsRequest,
    ListOffsetsResponse,
    OffsetsForLeaderEpochRequest,
    OffsetsForLeaderEpochResponse,
    PartitionProduceResult,
    ProduceRequest,
    ProduceResponse,
    TopicPartition,
)
from sim.scenario import HardwareSpec
from sim.timers import Deadlines

#: Errors members bound once: a lookup on the Errors class costs ~0.1 µs in Python 3.11 (its
#: metaclass defines __getattr__), and these are tested per partition of every fetch or produce.
_NO_ERROR = Errors.NONE
_OUT_OF_RANGE = Errors.OFFSET_OUT_OF_RANGE


def _leader_error(partition: Partition | None, current_leader_epoch: int) -> Errors:
    """Why a leader's read of ``partition`` (None: not hosted) by a fetcher that knows
    ``current_leader_epoch`` fails, or NONE (Partition.localLogWithEpochOrThrow)."""
    if partition is None:
        return Errors.NOT_LEADER_OR_FOLLOWER
    return partition.local_log_error(current_leader_epoch)


def _error_data(error: Errors, partition: Partition | None) -> FetchPartitionData:
    """A fetch's answer for a partition it cannot read, with the leader this broker knows
    (KafkaApis.getCurrentLeader for NOT_LEADER_OR_FOLLOWER and FENCED_LEADER_EPOCH, KIP-951;
    the model leaves out the metadata-cache fallback for a partition this broker does not
    host or has not yet been told about)."""
    data = FetchPartitionData(error)
    if partition is not None and partition.leader_id >= 0:
        data.current_leader = (partition.leader_id, partition.leader_epoch)
    return data


#: Proposes an ISR change to the controller: (partition, proposed ISR, callback(answer | None)).
AlterPartition = Callable[[Partition, list[int], Callable[[Any], None]], None]


#: An acks=all answer held until the HW covers its batches (DelayedProduce): (partition, the
#: offset its HW must reach) pairs, and the completion each partition calls with its outcome (one
#: for the whole request). A tuple and a closure, not a dataclass and a closure per partition:
#: ~4,500 instructions less per request.
_DelayedProduce = tuple[list[tuple[Partition, int]], Completion]


#: A parked fetch (DelayedFetch): the request and its reply, answered when min_bytes are there
#: or at its deadline. A tuple, not a dataclass: building one costs ~1,500 instructions less.
_DelayedFetch = tuple[FetchRequest, Callable[..., None]]


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
        alive_brokers: set[int],
        legacy_hw_truncation: bool = False,
        cpu: Cpu | None = None,
        hardware: HardwareSpec | None = None,
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
        self.alive_brokers = alive_brokers  # the broker's metadata cache's, for its partitions
        self.legacy_hw_truncation = legacy_hw_truncation
        #: the broker's CPU (default: its own, without contention), on which its replica
        #: fetchers append what they fetch, at the request handlers' costs (see ReplicaFetcher)
        self.cpu = cpu if cpu is not None else Cpu()
        hardware = hardware if hardware is not None else HardwareSpec()
        self.append_request_s = hardware.broker_io_request_us * 1e-6
        self.append_bytes_s = hardware.broker_io_mb_s * 1e6
        self.partitions: dict[TopicPartition, Partition] = {}
        self.fetchers: dict[tuple[int, int], ReplicaFetcher] = {}
        self._fetcher_of: dict[TopicPartition, ReplicaFetcher] = {}  # of each followed partition
        self.hw_checkpoint: dict[TopicPartition, int] = {}
        self.lag_max_s = config.s("replica.lag.time.max.ms")
        # the numbers of parked fetches by partition, in arrival order (dicts as ordered sets: an
        # answered fetch leaves each of its partitions' at once)
        self._parked: dict[TopicPartition, dict[int, None]] = {}
        # Parked fetches not yet answered, and held acks=all answers not yet settled, by a
        # number: the deadlines refer to them by it (a fetch answered is one no longer here). A
        # deadline queue keeps each entry for the whole timeout, long after most are answered:
        # holding only numbers, it keeps no objects alive for the cyclic GC to scan and promote
        # (its full passes grow with them).
        self._unanswered: dict[int, _DelayedFetch] = {}
        self._parked_count = 0
        self._fetch_deadlines = Deadlines(env, self._expire_parked, self._unanswered)
        self._held: dict[int, _DelayedProduce] = {}
        self._held_count = 0
        self._produce_deadlines = Deadlines(env, self._expire_held, self._held)
        self._flush_messages_by_topic: dict[str, int] = {}  # see _flush_messages
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
        self._fetcher_of = {}
        self._parked = {}
        self._unanswered.clear()  # the fetch deadlines' open items: the same dict
        for partition in self.partitions.values():
            partition.stop()

    def power_loss(self) -> None:
        """The machine lost power: each log keeps only what the disk had written back, and the
        HW is no more than the last checkpoint."""
        durable = self.disk.power_loss()
        for tp, partition in self.partitions.items():
            log = partition.log
            # segments retention deleted stay deleted: the log keeps its log start offset
            removed = log.truncate_to(max(durable.get(tp, 0), log.log_start_offset))
            log.update_high_watermark(self.hw_checkpoint.get(tp, 0))
            if removed:
                detail = (
                    f"{sum(e.batch.count for e in removed)} records lost, LEO {log.log_end_offset}"
                )
                self.metrics.event(
                    self.env.now, EventKind.POWER_LOSS_TRUNCATE, self.name, tp[0], tp[1], detail
                )

    def recover(self) -> None:
        """Restart after a crash: each HW comes back from its last checkpoint (Kafka reads the
        replication-offset-checkpoint file); the logs are as the disk has them."""
        for tp, partition in self.partitions.items():
            partition.log.update_high_watermark(self.hw_checkpoint.get(tp, 0))

    def create_replica(self, tp: TopicPartition, replicas: list[int]) -> Partition:
        """Create this broker's replica of ``tp`` with an empty log."""
        topic = self.topic_configs[tp[0]]
        log = PartitionLog(
            tp,
            segment_bytes=topic["segment.bytes"],
            segment_s=topic.s("segment.ms"),
            retention_s=topic.s("retention.ms") if topic["retention.ms"] >= 0 else -1.0,
            retention_bytes=topic["retention.bytes"],
            max_message_bytes=topic["max.message.bytes"],
        )
        partition = Partition(
            tp, self.broker_id, log, replicas, topic["min.insync.replicas"], self.lag_max_s,
            self.alive_brokers,
        )  # fmt: skip
        self.partitions[tp] = partition
        return partition

    # ---------------------------------------------------------------- LeaderAndIsr

    def become_leader_or_follower(self, tp: TopicPartition, state: LeaderAndIsrPartition) -> bool:
        """Apply the controller's decision for one partition
        (ReplicaManager.becomeLeaderOrFollower); False when the request's leader epoch is not
        newer than the one known (stale).

        A state without a leader is accepted and changes nothing: makeFollowers leaves a
        partition whose leader is not alive as it was (no new epoch, no fetcher added or
        removed, no truncation), so the LeaderAndIsr of the election that follows applies.
        Kafka looks the leader up among the live brokers of its metadata cache; the model
        trusts the controller and tests for NO_LEADER only."""
        partition = self.partitions.get(tp)
        if partition is None:
            return False
        known = partition.leader_epoch if partition.leader_id >= 0 else -1
        if state.leader_epoch <= known and partition.leader_id >= 0:
            return False
        if state.leader == NO_LEADER:
            return True
        self._remove_from_fetchers(tp)
        if state.leader == self.broker_id:
            partition.make_leader(
                state.leader_epoch, state.isr, state.partition_epoch, self.env.now
            )
            self._wake_parked(tp)
        else:
            partition.make_follower(state.leader, state.leader_epoch, state.partition_epoch)
            self._complete_parked_on(tp)
            if self.legacy_hw_truncation:
                self._truncate(
                    partition, partition.log.high_watermark, "to its high watermark (pre-KIP-101)"
                )
            fetcher = self._fetcher_of[tp] = self._fetcher(state.leader, tp)
            fetcher.add_partition(partition)
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
        """ReplicaFetcherManager.removeFetcherForPartitions for one partition."""
        fetcher = self._fetcher_of.pop(tp, None)
        if fetcher is not None:
            fetcher.remove_partition(tp)

    def shutdown_idle_fetchers(self) -> None:
        """AbstractFetcherManager.shutdownIdleFetcherThreads, run after each LeaderAndIsr
        (ReplicaManager.becomeLeaderOrFollower): a fetcher thread left without partitions
        stops, and a later partition for its (leader, fetcher id) starts a new one."""
        idle = [key for key, fetcher in self.fetchers.items() if not fetcher.partitions]
        for key in idle:
            self.fetchers.pop(key).stop()

    def _truncate(self, partition: Partition, offset: int, why: str) -> None:
        log = partition.log
        removed = log.truncate_to(offset)
        if removed:
            count = sum(e.batch.count for e in removed)
            detail = f"{count} records removed {why}; LEO {log.log_end_offset}"
            tp = partition.tp
            self.metrics.event(self.env.now, EventKind.TRUNCATE, self.name, tp[0], tp[1], detail)

    # ---------------------------------------------------------------- produce

    def handle_produce(self, request: ProduceRequest, reply: Callable[[Any], None]) -> None:
        """KafkaApis.handleProduceRequest + ReplicaManager.appendRecords."""
        now = self.env.now
        results: dict[TopicPartition, PartitionProduceResult] = {}
        waiting: list[tuple[Partition, int]] = []  # with the offset its HW must reach
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
                write_s = self._write_to_disk(partition)
                if write_s > disk_delay:  # max() written out: once per appended batch
                    disk_delay = write_s
                appended_tps.append(tp)
            results[tp] = PartitionProduceResult(error, base_offset)
            if error is _NO_ERROR and request.acks == ACKS_ALL:
                waiting.append((partition, base_offset + batch.count))
        # parked fetches are tried once every partition is appended, as Kafka's action queue
        # runs the purgatory checks after the handler (ReplicaManager.addCompletePurgatoryAction)
        for tp in appended_tps:
            self._wake_parked(tp)
        if request.acks == 0:
            failed = any(r.error is not _NO_ERROR for r in results.values())
            reply(ConnectionClosed() if failed else None)
        elif not waiting:
            reply(ProduceResponse(results), disk_delay)
        else:
            self._hold_for_acks(request, results, waiting, disk_delay, reply)

    def _hold_for_acks(self, request, results, waiting, disk_delay, reply) -> None:
        """Hold the answer until every partition's HW covers its batch (DelayedProduce), or
        answer REQUEST_TIMED_OUT for those still waiting after the request's timeout."""
        key = self._held_count = self._held_count + 1
        outstanding = len(waiting)  # partitions not yet complete

        def done(tp: TopicPartition, error: Errors) -> None:
            nonlocal outstanding
            if error is not _NO_ERROR:
                results[tp] = PartitionProduceResult(error, results[tp].base_offset)
            outstanding -= 1
            if outstanding == 0:
                self._held.pop(key, None)
                reply(ProduceResponse(results), disk_delay)

        for partition, required in waiting:
            partition.wait_for_acks(required, done)
        if outstanding > 0:
            self._held[key] = (waiting, done)
            self._produce_deadlines.add(request.timeout_s, key)

    def _expire_held(self, key: int) -> None:
        """The deadline of held answer ``key`` passed before it settled: the partitions still
        waiting answer REQUEST_TIMED_OUT."""
        waiting, done = self._held.pop(key)
        for partition, _ in waiting:
            partition.expire(done)

    def _write_to_disk(self, partition: Partition) -> float:
        """Page-cache write of the appended batch, then a flush when the log holds
        ``flush.messages`` unflushed records (UnifiedLog.append). Returns how long the write
        (and flush) delays the answer, seconds."""
        log = partition.log
        tp = partition.tp
        disk = self.disk
        batch = log.entries[-1].batch
        log.set_last_position(disk.position())
        delay = disk.write(tp, log.log_end_offset, batch.size_bytes)
        if log.log_end_offset - log.recovery_point >= self._flush_messages(tp[0]):
            flushed = self.flush(partition)
            if flushed > delay:
                delay = flushed
        return delay

    def _flush_messages(self, topic: str) -> int:
        """The topic's ``flush.messages``, read from its config once: topic configs do not
        change during a run."""
        limit = self._flush_messages_by_topic.get(topic)
        if limit is None:
            limit = self._flush_messages_by_topic[topic] = self.topic_configs[topic][
                "flush.messages"
            ]
        return limit

    def flush(self, partition: Partition) -> float:
        """UnifiedLog.flush: fsync what the log holds unflushed, if anything; the recovery point
        moves to the log end. Returns how long until it is durable, seconds."""
        log = partition.log
        if log.log_end_offset <= log.recovery_point:
            return 0.0
        log.mark_flushed(self.env.now)
        return self.disk.flush(partition.tp)

    # ---------------------------------------------------------------- fetch

    def handle_fetch(self, request: FetchRequest, reply: Callable[..., None]) -> None:
        """KafkaApis.handleFetchRequest: read now, or park until min_bytes or max_wait."""
        if request.replica_id >= 0:
            self._update_follower_fetch_state(request)
        if request.max_wait_s > 0 and request.min_bytes > 0 and self._nothing_to_answer(request):
            self._park(request, reply)
            return
        response, nbytes, urgent, reads = self._read(request)
        if nbytes >= request.min_bytes or request.max_wait_s <= 0 or urgent:
            reply(response, self._disk_read_s(reads) if reads else 0.0)
            return
        self._park(request, reply)

    def _park(self, request: FetchRequest, reply: Callable[..., None]) -> None:
        """Park the fetch on each of its partitions until data arrives or max_wait_s passes."""
        key = self._parked_count = self._parked_count + 1
        self._unanswered[key] = (request, reply)
        by_tp = self._parked
        for tp in request.partitions:
            waiting = by_tp.get(tp)
            if waiting is None:
                by_tp[tp] = {key: None}
            else:
                waiting[key] = None
        self._fetch_deadlines.add(request.max_wait_s, key)

    def _expire_parked(self, key: int) -> None:
        """The parked fetch ``key`` reached its max_wait_s unanswered: answer what is there."""
        self._complete_parked(key, force=True)

    def _nothing_to_answer(self, request: FetchRequest) -> bool:
        """True when a read would return no bytes, no error and no divergence for any partition
        (the usual case of a caught-up fetcher), so the fetch parks without building an answer,
        as DelayedFetch.tryComplete counts bytes from offsets without reading."""
        follower = request.replica_id >= 0
        partitions = self.partitions
        for tp, fetch in request.partitions.items():
            partition = partitions.get(tp)
            if (
                partition is None
                or partition.leader_id != partition.broker_id
                or (
                    fetch.current_leader_epoch != partition.leader_epoch
                    and fetch.current_leader_epoch != NO_EPOCH
                )
            ):
                return False  # not the leader, or at another leader epoch (answered at once)
            log = partition.log
            offset = fetch.fetch_offset
            upper = log.log_end_offset if follower else log.high_watermark
            if offset != upper or offset < log.log_start_offset:
                return False  # data to return, or out of range (offset > LEO) or below start
            if follower:
                # _diverging's usual case tested here first (the offset is the LEO): the
                # fetcher's last epoch is the leader's latest
                epoch = fetch.last_fetched_epoch
                epochs = log.epochs
                if (
                    epoch >= 0
                    and not (epochs and epoch == epochs[-1][0])
                    and self._diverging(partition, offset, epoch)
                ):
                    return False
        return True

    def _update_follower_fetch_state(self, request: FetchRequest) -> None:
        """ReplicaManager.updateFollowerFetchState: each partition of a follower's fetch that
        this broker leads records the follower's fetch offset (unless the follower's log
        diverges), which may expand the ISR and advance the HW. One call per fetch, as in Kafka,
        rather than per partition: ~8 M instructions less per 5 simulated seconds of the
        default scenario. A fetch at another leader epoch records nothing: Partition.fetchRecords
        checks the epoch (localLogWithEpochOrThrow) before it updates the follower's state."""
        follower = request.replica_id
        now = self.env.now
        partitions = self.partitions
        for tp, fetch in request.partitions.items():
            partition = partitions.get(tp)
            if (
                partition is None
                or partition.leader_id != partition.broker_id  # not the leader
                or (
                    fetch.current_leader_epoch != partition.leader_epoch
                    and fetch.current_leader_epoch != NO_EPOCH
                )
            ):
                continue
            log = partition.log
            offset = fetch.fetch_offset
            epoch = fetch.last_fetched_epoch
            epochs = log.epochs
            # _diverging's usual case tested here first: the fetcher's last epoch is the
            # leader's latest and its offset within the log
            if (
                epoch >= 0
                and not (epochs and epoch == epochs[-1][0] and offset <= log.log_end_offset)
                and self._diverging(partition, offset, epoch)
            ):
                continue
            hw = log.high_watermark
            if partition.update_follower_fetch_state(follower, offset, now):
                self._propose(partition, partition.pending_isr)
            if log.high_watermark != hw:
                self._wake_parked(tp)

    @staticmethod
    def _diverging(partition: Partition, offset: int, epoch: int) -> tuple[int, int] | None:
        """Partition.validateFetchOffsetAndMaybeGetDivergingEpoch: the fetcher's last epoch ends
        earlier in the leader's log than its fetch offset, or the leader's epoch cache cannot
        answer for it ((-1, -1): Kafka answers OFFSET_OUT_OF_RANGE)."""
        if epoch < 0:
            return None
        log = partition.log
        epochs = log.epochs  # log.latest_epoch written out: this runs per partition per fetch
        if epochs and epoch == epochs[-1][0] and offset <= log.log_end_offset:
            return None  # the common case: same epoch as the leader's last, nothing to compare
        end_epoch, end_offset = log.end_offset_for_epoch(epoch)
        if end_epoch < epoch or end_offset < offset:
            return end_epoch, end_offset
        return None

    def _read(
        self, request: FetchRequest
    ) -> tuple[FetchResponse, int, bool, list[tuple[int, int]]]:
        """ReplicaManager.readFromLog: per partition up to its limit (partition_max_bytes) and
        what the response may still carry (max_bytes); a follower (a replica) reads up to the
        LEO, a consumer up to the HW. A partition whose fetcher knows another leader epoch, or
        that this broker does not lead, is answered with the error of
        :meth:`Partition.local_log_error`. Returns the response, the bytes of records in it, whether
        some partition has an error or a diverging epoch (answered at once), and the disk reads
        it takes, (disk position, bytes) per partition with records (for :meth:`_disk_read_s`).

        A partition's read is written out in the loop, not a method called per partition:
        ~22 M instructions less per 5 simulated seconds of the default scenario (0.7 %)."""
        parts: dict[TopicPartition, FetchPartitionData] = {}
        reads: list[tuple[int, int]] = []
        budget = request.max_bytes
        total = 0
        urgent = False
        follower = request.replica_id >= 0
        limit = request.partition_max_bytes
        partitions = self.partitions
        for tp, fetch in request.partitions.items():
            partition = partitions.get(tp)
            if (
                partition is None
                or partition.leader_id != partition.broker_id
                or fetch.current_leader_epoch != partition.leader_epoch
            ):
                error = _leader_error(partition, fetch.current_leader_epoch)
                if error is not _NO_ERROR:
                    parts[tp] = _error_data(error, partition)
                    urgent = True
                    continue
            log = partition.log
            offset = fetch.fetch_offset
            hw, start, leo = log.high_watermark, log.log_start_offset, log.log_end_offset
            if follower:
                epoch = fetch.last_fetched_epoch
                epochs = log.epochs
                # _diverging's usual case tested here first (see _update_follower_fetch_state)
                if epoch >= 0 and not (epochs and epoch == epochs[-1][0] and offset <= leo):
                    diverging = self._diverging(partition, offset, epoch)
                    if diverging:
                        # an epoch the leader's cache cannot answer (-1, -1) is out of range
                        parts[tp] = (
                            FetchPartitionData(_OUT_OF_RANGE, hw, start, leo)
                            if diverging[1] < 0
                            else FetchPartitionData(_NO_ERROR, hw, start, leo, [], diverging)
                        )
                        urgent = True
                        continue
            if offset < start or offset > leo:
                parts[tp] = FetchPartitionData(_OUT_OF_RANGE, hw, start, leo)
                urgent = True
                continue
            upper = leo if follower else hw
            if budget <= 0 or offset >= upper:
                parts[tp] = FetchPartitionData(_NO_ERROR, hw, start, leo, [], None, 0)
                continue
            entries, nbytes, position = log.read(offset, limit if limit < budget else budget, upper)
            if entries:
                reads.append((position, nbytes))
                budget = budget - nbytes if budget > nbytes else 0
                total += nbytes
            parts[tp] = FetchPartitionData(_NO_ERROR, hw, start, leo, entries, None, nbytes)
        return FetchResponse(parts), total, urgent, reads

    def _wake_parked(self, tp: TopicPartition) -> None:
        """New data, a higher HW or a new leader epoch on ``tp``: answer the parked fetches that
        now have enough, or that asked at an older epoch (DelayedFetch.tryComplete, Case E)."""
        parked = self._parked.get(tp)
        if not parked:
            return
        partition = self.partitions[tp]
        log = partition.log
        leo, hw = log.log_end_offset, log.high_watermark
        # a snapshot: answering removes fetches (one may be answered before its turn here), and
        # may hand this broker a queued fetch that parks on ``tp`` again
        unanswered = self._unanswered
        complete = self._complete_parked
        for key in list(parked):
            fetch = unanswered.get(key)
            if fetch is None:
                continue
            request = fetch[0]
            # visible end for this fetcher: the LEO for a follower, the HW for a consumer
            end = leo if request.replica_id >= 0 else hw
            fetch_partition = request.partitions[tp]
            if NO_EPOCH != fetch_partition.current_leader_epoch != partition.leader_epoch:
                complete(key, True)  # fenced: answered at once, whatever min_bytes (Case E)
            elif end > fetch_partition.fetch_offset:
                complete(key, request.min_bytes <= 1)

    def _complete_parked_on(self, tp: TopicPartition) -> None:
        """ReplicaManager.completeDelayedOperationsWhenNotPartitionLeader at makeFollowers: the
        fetches parked on ``tp`` are answered now (DelayedFetch.tryComplete Case A: this broker
        no longer leads ``tp``, NOT_LEADER_OR_FOLLOWER for it), not at their max wait."""
        parked = self._parked.get(tp)
        if parked:
            for key in list(parked):
                self._complete_parked(key, True)

    def _complete_parked(self, key: int, force: bool) -> None:
        """DelayedFetch.tryComplete of parked fetch ``key`` (``force``: at its deadline, or
        known to have enough)."""
        fetch = self._unanswered.get(key)
        if fetch is None:
            return
        request, respond = fetch
        response, nbytes, _, reads = self._read(request)
        if not force and nbytes < request.min_bytes:
            return
        del self._unanswered[key]
        by_tp = self._parked
        for tp in request.partitions:
            del by_tp[tp][key]
        respond(response, self._disk_read_s(reads) if reads else 0.0)

    def _disk_read_s(self, reads: list[tuple[int, int]]) -> float:
        """Time to read the returned batches, ``reads``: (disk position, bytes) per partition,
        seconds: 0 from the page cache, else from the disk (a batch is cached when it was
        written less than page_cache bytes ago). Callers skip the call when ``reads`` is empty
        (an answer without records)."""
        delay = 0.0
        read = self.disk.read
        for position, nbytes in reads:
            read_s = read(position, nbytes)
            if read_s > delay:  # max() written out: once per answered partition
                delay = read_s
        return delay

    def handle_list_offsets(self, request: ListOffsetsRequest) -> ListOffsetsResponse:
        offsets: dict[TopicPartition, tuple[Errors, int]] = {}
        for tp, timestamp in request.partitions.items():
            partition = self.partitions.get(tp)
            if partition is None or not partition.is_leader:
                offsets[tp] = (Errors.NOT_LEADER_OR_FOLLOWER, -1)
            elif timestamp == EARLIEST_TIMESTAMP:
                offsets[tp] = (_NO_ERROR, partition.log.log_start_offset)
            else:  # LATEST for read_uncommitted is the high watermark
                offsets[tp] = (_NO_ERROR, partition.log.high_watermark)
        return ListOffsetsResponse(offsets)

    def handle_offsets_for_leader_epoch(
        self, request: OffsetsForLeaderEpochRequest
    ) -> OffsetsForLeaderEpochResponse:
        """ReplicaManager.lastOffsetForLeaderEpoch + Partition.lastOffsetForLeaderEpoch: per
        partition, the asker's leader epoch checked as a fetch's is, then the leader's epoch
        cache lookup (the end offset a follower truncates to, KIP-101)."""
        answers: dict[TopicPartition, tuple[Errors, int, int]] = {}
        for tp, (epoch, current_leader_epoch) in request.partitions.items():
            error = _leader_error(self.partitions.get(tp), current_leader_epoch)
            if error is not _NO_ERROR:
                answers[tp] = (error, NO_EPOCH, NO_EPOCH)
            else:
                end_epoch, end_offset = self.partitions[tp].log.end_offset_for_epoch(epoch)
                answers[tp] = (_NO_ERROR, end_epoch, end_offset)
        return OffsetsForLeaderEpochResponse(answers)

    # ---------------------------------------------------------------- replication (follower side)

    def process_fetched(self, tp: TopicPartition, data: FetchPartitionData) -> float:
        """A fetcher got ``data`` for ``tp`` from its leader: truncate on divergence, else append
        and take the leader's HW and log start offset (ReplicaFetcherThread.processPartitionData:
        maybeUpdateHighWatermark, maybeIncrementLogStartOffset).

        Returns how long the append's page-cache writes, and its fsync when the topic's flush
        settings call for one, hold up the fetcher thread, seconds (Disk.write: over
        dirty_ratio the writing thread waits for the disk, as a leader's request handler does
        for a produce)."""
        partition = self.partitions[tp]
        log = partition.log
        if data.diverging_epoch is not None:
            epoch, end_offset = data.diverging_epoch
            offset = offset_to_truncate_to(log.epochs, log.log_end_offset, epoch, end_offset)
            self._truncate(partition, offset, f"where it diverged at epoch {epoch} (KIP-101)")
            return 0.0
        error = data.error
        if error is not _NO_ERROR:
            if error is _OUT_OF_RANGE:
                self._handle_out_of_range(partition, data)
            return 0.0
        throttle_s = 0.0
        disk = self.disk
        for entry in data.entries:
            log.append_as_follower(entry, disk.position())
            write_s = disk.write(tp, log.log_end_offset, entry.batch.size_bytes)
            if write_s > throttle_s:  # max() written out here and below: once per fetched batch
                throttle_s = write_s
        # UnifiedLog.append's flush.messages test, once per append (the fetched batches)
        if log.log_end_offset - log.recovery_point >= self._flush_messages(tp[0]):
            write_s = self.flush(partition)
            if write_s > throttle_s:
                throttle_s = write_s
        # the HW: the leader's, up to this log's end, never back
        leader_hw, leo = data.high_watermark, log.log_end_offset
        hw = leader_hw if leader_hw < leo else leo
        if hw > log.high_watermark:
            log.high_watermark = hw
        if data.log_start_offset > log.log_start_offset:  # the leader's retention moved it
            log.maybe_increment_log_start_offset(data.log_start_offset)
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
            self.metrics.event(self.env.now, EventKind.TRUNCATE, self.name, tp[0], tp[1], detail)

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
        for b in left:
            self.metrics.event(
                now, EventKind.ISR_SHRINK, self.name, tp[0], tp[1], f"broker-{b} left the ISR",
                broker=b,
            )  # fmt: skip
        for b in joined:
            self.metrics.event(
                now, EventKind.ISR_EXPAND, self.name, tp[0], tp[1], f"broker-{b} joined the ISR",
                broker=b,
            )  # fmt: skip

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
