"""A follower's fetcher thread (≈ ReplicaFetcherThread / AbstractFetcherThread, Kafka 3.9).

One fetcher per source broker and fetcher index (``num.replica.fetchers``); a partition goes to
fetcher ``abs(31 * topic.hashCode() + partition) % num.replica.fetchers``
(AbstractFetcherManager.getFetcherId), and each thread fetches on its own connection to its
leader (ReplicaFetcherManager.createFetcherThread), so one thread's fetch long-polling at the
leader holds up no other's. A thread left without partitions after a LeaderAndIsr stops
(shutdownIdleFetcherThreads). Each round sends one Fetch for all its partitions, at the
local log end offset with the last fetched epoch and the leader epoch of the partition's
LeaderAndIsr (KIP-320), then hands each partition's data to the broker. A partition the leader
fences (FENCED_LEADER_EPOCH: the leader is at a newer epoch) leaves the fetcher until the broker's
next LeaderAndIsr adds it again (AbstractFetcherThread.onPartitionFenced); other errors, among
them UNKNOWN_LEADER_EPOCH (the leader has not yet seen the follower's epoch), back the thread off
for ``replica.fetch.backoff.ms`` and the partition is fetched again.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import simpy

from sim.broker.log import end_offset_for
from sim.clients.assignors import java_string_hash
from sim.net import NetworkFailure
from sim.protocol import Errors, FetchPartition, FetchRequest, TopicPartition

if TYPE_CHECKING:
    from sim.broker.partition import Partition
    from sim.broker.replica_manager import ReplicaManager

#: Errors members bound once: a lookup on the Errors class costs ~0.1 µs in Python 3.11 (its
#: metaclass defines __getattr__), and these are tested per partition of every fetch or produce.
_NO_ERROR = Errors.NONE
_FENCED = Errors.FENCED_LEADER_EPOCH


def fetcher_id(tp: TopicPartition, num_fetchers: int) -> int:
    """AbstractFetcherManager.getFetcherId: Utils.abs(31 * topic.hashCode + partition) % n, in
    Java int arithmetic (the product wraps at 32 bits, Utils.abs(MIN_VALUE) is 0, and Java's
    remainder takes the dividend's sign: a negative n acts as -n)."""
    value = (31 * java_string_hash(tp[0]) + tp[1]) & 0xFFFFFFFF
    value = value - (1 << 32) if value >= 1 << 31 else value
    return (abs(value) if value != -(1 << 31) else 0) % abs(num_fetchers)


def offset_to_truncate_to(
    epochs: list[tuple[int, int]], log_end_offset: int, leader_epoch: int, leader_end_offset: int
) -> int:
    """AbstractFetcherThread.getOffsetTruncationState (Kafka 3.9): where a follower truncates
    when its leader answers a fetch with a diverging epoch (``leader_epoch``,
    ``leader_end_offset``: the largest epoch the leader knows at or below the fetcher's last
    fetched epoch, and where it ends in the leader's log), given the follower's epoch cache
    ``epochs`` ((epoch, start offset) pairs) and log end offset.

    The follower looks up its own end of that epoch. When it knows the epoch too, both logs
    agree up to the earlier of the two ends. When it does not (it skipped from an older epoch
    to a newer one the leader never had), it truncates to the end of its largest epoch below
    the leader's, and its next fetch, at that older last epoch, asks again. A follower that
    knows no epoch at or below the leader's takes the leader's end offset."""
    follower_epoch, follower_end = end_offset_for(epochs, leader_epoch, log_end_offset)
    if follower_end < 0:  # endOffsetForEpoch is None
        return min(leader_end_offset, log_end_offset)
    if follower_epoch != leader_epoch:  # an intermediate truncation; the next fetch asks again
        return min(follower_end, log_end_offset)
    return min(follower_end, leader_end_offset, log_end_offset)


class ReplicaFetcher:
    """Fetches the partitions ``replicas`` follows from ``leader`` (one SimPy process).

    Settings (broker config): replica.fetch.wait.max.ms, replica.fetch.min.bytes,
    replica.fetch.max.bytes (per partition), replica.fetch.response.max.bytes,
    replica.fetch.backoff.ms (after an error), replica.socket.timeout.ms (request timeout).
    """

    def __init__(self, replicas: ReplicaManager, leader: int, index: int) -> None:
        self.replicas = replicas
        self.env: simpy.Environment = replicas.env
        self.leader = leader
        self.leader_name = f"broker-{leader}"  # its network node
        self.index = index
        # its own connection to the leader (BrokerBlockingSender, client id
        # broker-<id>-fetcher-<fetcherId>): a fetch parked at the leader holds up no other thread's
        self.connection = f"replica-fetcher-{index}"
        self.partitions: dict[TopicPartition, Partition] = {}
        cfg = replicas.config
        self.max_wait_s = cfg.s("replica.fetch.wait.max.ms")
        self.min_bytes = cfg["replica.fetch.min.bytes"]
        self.partition_max_bytes = cfg["replica.fetch.max.bytes"]
        self.max_bytes = cfg["replica.fetch.response.max.bytes"]
        self.backoff_s = cfg.s("replica.fetch.backoff.ms")
        self.timeout_s = cfg.s("replica.socket.timeout.ms")
        self._wakeup = self.env.event()
        self._cpu_until_s = 0.0  # when this thread is done appending the last response, s
        self.process: simpy.Process | None = None

    def add_partition(self, partition: Partition) -> None:
        """Start fetching ``partition`` from the next round."""
        self.partitions[partition.tp] = partition
        if not self._wakeup.triggered:
            self._wakeup.succeed()

    def remove_partition(self, tp: TopicPartition) -> None:
        """Stop fetching ``tp`` (leadership moved)."""
        self.partitions.pop(tp, None)

    def start(self) -> None:
        """Start the fetch loop."""
        self.process = self.env.process(self.run())

    def stop(self) -> None:
        """The broker stopped: the thread ends (its request's answer, if any, is ignored)."""
        if self.process is not None and self.process.is_alive:
            self.process.interrupt("stop")
        self.process = None

    def run(self):
        """AbstractFetcherThread.doWork until stopped: fetch, process, back off on errors."""
        try:
            yield from self._work()
        except simpy.Interrupt:
            return

    def _work(self):
        while True:
            if not self.partitions:
                self._wakeup = self.env.event()
                yield self._wakeup
                continue
            request, epochs = self._build_request()
            busy_s = self._cpu_until_s - self.env.now  # the last response's append
            response = yield self.replicas.net.request(
                self.replicas.name, self.leader_name, request, self.timeout_s,
                busy_s if busy_s > 0 else 0.0,
            )  # fmt: skip
            if isinstance(response, NetworkFailure):
                yield self.env.timeout(self.backoff_s)
                continue
            self._cpu_until_s = self.env.now + self._append_cpu_s(response)
            failed = False
            throttle_s = 0.0
            partitions = self.partitions
            process_fetched = self.replicas.process_fetched
            for tp, data in response.partitions.items():
                partition = partitions.get(tp)
                # the answer counts only if the partition still follows this leader at the
                # epoch it was asked at (AbstractFetcherThread checks currentLeaderEpoch)
                if partition is not None and partition.leader_epoch == epochs.get(tp):
                    if data.error is _FENCED:
                        self._on_partition_fenced(tp)
                        continue
                    write_s = process_fetched(tp, data)
                    if write_s > throttle_s:  # max() written out: once per fetched partition
                        throttle_s = write_s
                    if data.error is not _NO_ERROR:
                        failed = True
            if throttle_s > 0:  # the thread's log appends waited for the disk (dirty_ratio)
                yield self.env.timeout(throttle_s)
            if failed:
                yield self.env.timeout(self.backoff_s)

    def _append_cpu_s(self, response) -> float:
        """How long this thread works, s from now, on the CPU (ReplicaManager.cpu) to append
        the records of ``response``, if it carries any: the request handlers' costs
        (``broker_io_request_us`` once per response, and its records' bytes at
        ``broker_io_mb_s``), for the follower's append checks every batch's CRC as the leader's
        does (ReplicaFetcherThread.processPartitionData -> UnifiedLog.appendAsFollower ->
        append -> analyzeAndValidateRecords: ``batch.isValid``). The records are appended at
        once and the next fetch, which tells the leader the new log end offsets, leaves when
        the work is done (``Network.request``'s after_s: no event of its own). A response
        without records costs nothing (append returns at once when there are no valid bytes)."""
        nbytes = 0
        for data in response.partitions.values():
            if data.entries:
                nbytes += data.size_bytes
        if not nbytes:
            return 0.0
        replicas = self.replicas
        now = self.env.now
        cost_s = replicas.append_request_s + nbytes / replicas.append_bytes_s
        return replicas.cpu.run(now, cost_s) - now

    def _on_partition_fenced(self, tp: TopicPartition) -> None:
        """AbstractFetcherThread.onPartitionFenced when the request carried the partition's
        current epoch (always here: other answers are dropped above): markPartitionFailed, the
        partition is not fetched until a LeaderAndIsr with a newer epoch adds it again."""
        del self.partitions[tp]

    def _build_request(self) -> tuple[FetchRequest, dict[TopicPartition, int]]:
        """The round's Fetch: each partition at its log end offset with its last fetched epoch
        and its current leader epoch (neither before KIP-101), and the leader epoch of each
        partition as it is asked."""
        legacy = self.replicas.legacy_hw_truncation
        partitions: dict[TopicPartition, FetchPartition] = {}
        epochs: dict[TopicPartition, int] = {}
        for tp, partition in self.partitions.items():
            log = partition.log
            cache = log.epochs  # log.latest_epoch written out: a property costs ~650 instructions
            epoch = -1 if legacy or not cache else cache[-1][0]
            current = epochs[tp] = partition.leader_epoch
            # before KIP-101 (and KIP-320) a fetch carried neither epoch
            partitions[tp] = FetchPartition(log.log_end_offset, epoch, -1 if legacy else current)
        # positional: keywords to a class cost each construction a dict for its __init__
        request = FetchRequest(
            self.replicas.broker_id,  # replica_id
            self.max_wait_s,
            self.min_bytes,
            self.max_bytes,
            self.partition_max_bytes,
            partitions,
            self.connection,
        )
        return request, epochs
