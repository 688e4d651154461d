"""A partition as its leader sees it (≈ kafka.cluster.Partition and Replica, Kafka 3.9).

The leader tracks each follower's fetch state, keeps the ISR, advances the high watermark and
holds acks=all produce requests until the HW covers them (the produce purgatory). Followers hold
only their log; their HW comes from the leader's fetch responses.
"""

from __future__ import annotations

import bisect
from collections.abc import Callable, Collection
from dataclasses import dataclass

from sim.broker.log import PartitionLog
from sim.protocol import ACKS_ALL, Errors, RecordBatch, TopicPartition

#: Errors members bound once: a lookup on the Errors class costs ~0.1 µs in Python 3.11 (its
#: metaclass defines __getattr__), and these are tested per partition of every fetch or produce.
_NO_ERROR = Errors.NONE
#: A follower time that never was, s. Kafka writes 0 ms, which is decades before any real
#: now; simulated time starts at 0, so 0 would count as "at the start" (within
#: replica.lag.time.max.ms of it, caught up).
NEVER_S = float("-inf")
#: UnifiedLog.UnknownOffset: a follower's log end offset before its first fetch.
UNKNOWN_OFFSET = -1


@dataclass(slots=True)
class ReplicaState:
    """The leader's view of one follower (Replica.ReplicaState), times in seconds."""

    log_end_offset: int = UNKNOWN_OFFSET
    last_caught_up_s: float = NEVER_S
    last_fetch_leader_leo: int = UNKNOWN_OFFSET
    last_fetch_s: float = NEVER_S

    def update_fetch_state(self, fetch_offset: int, now: float, leader_leo: int) -> None:
        """Replica.updateFetchStateOrThrow: a follower fetching at or past the leader's LEO is
        caught up now; one fetching at or past the leader's LEO as of its previous fetch was
        caught up at that previous fetch's time."""
        # max() written out: this runs for every partition of every follower fetch
        if fetch_offset >= leader_leo:
            if now > self.last_caught_up_s:
                self.last_caught_up_s = now
        elif (
            fetch_offset >= self.last_fetch_leader_leo and self.last_fetch_s > self.last_caught_up_s
        ):
            self.last_caught_up_s = self.last_fetch_s
        self.log_end_offset = fetch_offset
        if leader_leo > self.last_fetch_leader_leo:
            self.last_fetch_leader_leo = leader_leo
        self.last_fetch_s = now

    def is_caught_up(self, leader_leo: int, now: float, lag_max_s: float) -> bool:
        """Replica.isCaughtUp: at the leader's LEO, or caught up within replica.lag.time.max.ms."""
        return leader_leo == self.log_end_offset or now - self.last_caught_up_s <= lag_max_s

    def reset(self, in_sync: bool, new_leader: bool, leader_leo: int, now: float) -> ReplicaState:
        """Replica.resetReplicaState, at a new leader epoch: a follower in the ISR was caught up
        now, one outside it never (so it does not hold the HW back). Under a new leader nothing
        of the follower is known; a re-elected leader keeps its log end offset, and its last
        fetch is now if in the ISR (else never: not brought back before it fetches)."""
        caught_up_s = now if in_sync else NEVER_S
        if new_leader:
            return ReplicaState(UNKNOWN_OFFSET, caught_up_s, UNKNOWN_OFFSET, NEVER_S)
        fetch_s = now if in_sync else NEVER_S
        return ReplicaState(self.log_end_offset, caught_up_s, leader_leo, fetch_s)


#: What a held acks=all answer is told when one of its partitions completes: (partition, outcome).
Completion = Callable[[TopicPartition, Errors], None]

#: Sorts after every purgatory entry with the same required offset (bisect key).
_INFINITY = float("inf")


class Partition:
    """One partition on one broker: its log, and when leader, the ISR, HW and purgatory.

    replicas: the assignment (broker ids, preferred leader first). min_insync_replicas: the
    topic's ``min.insync.replicas``; the effective minimum is ``min(it, len(replicas))``.
    lag_max_s: ``replica.lag.time.max.ms`` in seconds. alive_brokers: the broker's metadata
    cache's alive brokers (ZkMetadataCache.hasAliveBroker), kept up to date by its owner: only
    they may join the ISR or hold the HW back (Partition.isReplicaIsrEligible, ZooKeeper mode).
    """

    def __init__(
        self,
        tp: TopicPartition,
        broker_id: int,
        log: PartitionLog,
        replicas: list[int],
        min_insync_replicas: int,
        lag_max_s: float,
        alive_brokers: Collection[int],
    ) -> None:
        self.tp = tp
        self.broker_id = broker_id
        self.log = log
        self.replicas = list(replicas)
        self.min_isr = min(min_insync_replicas, len(replicas))
        self.lag_max_s = lag_max_s
        self.alive_brokers = alive_brokers
        self.leader_id = -1
        self.leader_epoch = -1
        self.leader_epoch_start_offset = 0
        self.isr: list[int] = []  # committed ISR (in ZooKeeper)
        self.partition_epoch = 0  # version of the committed state
        self.pending_isr: list[int] | None = None  # proposed by AlterPartition, unanswered
        self.remote: dict[int, ReplicaState] = {}
        self._purgatory: list[tuple[int, int, Completion]] = []  # (required offset, seq, done)
        self._purgatory_seq = 0

    @property
    def is_leader(self) -> bool:
        """Whether this broker leads the partition."""
        return self.leader_id == self.broker_id

    def maximal_isr(self) -> list[int]:
        """The ISR the HW waits for: the committed ISR plus a pending expansion (KIP-497: a
        pending shrink does not count until committed).

        A method, not a property: it runs where the HW advances and held answers complete, and
        a property read costs about twice a method call (~650 instructions in Python 3.11)."""
        pending = self.pending_isr
        if pending is not None and len(pending) > len(self.isr):
            return pending
        return self.isr

    def make_leader(self, epoch: int, isr: list[int], partition_epoch: int, now: float) -> None:
        """Become leader at ``epoch`` (Partition.makeLeader): the epoch starts at the LEO in the
        log's epoch cache, followers' states start afresh,
        and the HW may advance at once, completing held answers ("We may need to increment
        high watermark since ISR could be down to 1", Kafka 3.9): the controller shrank the ISR
        of a leader whose followers are gone, and no fetch or append would otherwise wake it."""
        new_leader = self.leader_id != self.broker_id
        self.leader_id = self.broker_id
        self.leader_epoch = epoch
        self.isr = sorted(isr)
        self.partition_epoch = partition_epoch
        self.pending_isr = None
        start = self.leader_epoch_start_offset = self.log.log_end_offset
        # maybeAssignEpochStartOffset: the cache answers a follower whose last epoch is later
        # than any of this log's batches (successive elections) with this epoch's start
        self.log.assign_epoch(epoch, start)
        old, unknown = self.remote, ReplicaState()
        self.remote = {
            r: old.get(r, unknown).reset(r in isr, new_leader, start, now)
            for r in self.replicas
            if r != self.broker_id
        }
        self.maybe_increment_leader_hw(now)

    def make_follower(self, leader: int, epoch: int, partition_epoch: int) -> None:
        """Follow ``leader`` at ``epoch`` (Partition.makeFollower); held answers fail."""
        self.leader_id = leader
        self.leader_epoch = epoch
        self.partition_epoch = partition_epoch
        self.isr = []
        self.pending_isr = None
        self.remote = {}
        self._fail_purgatory(Errors.NOT_LEADER_OR_FOLLOWER)

    def local_log_error(self, current_leader_epoch: int) -> Errors:
        """Partition.getLocalLog for a leader's read (requireLeader): the asker's leader epoch
        first (older than this broker's: FENCED_LEADER_EPOCH, newer: UNKNOWN_LEADER_EPOCH,
        NO_EPOCH: not checked), then whether this broker leads. A replica not yet told its
        state after a restart is not hosted (NOT_LEADER_OR_FOLLOWER, as HostedPartition.None)."""
        if self.leader_id < 0:
            return Errors.NOT_LEADER_OR_FOLLOWER
        if current_leader_epoch >= 0 and current_leader_epoch != self.leader_epoch:
            if current_leader_epoch < self.leader_epoch:
                return Errors.FENCED_LEADER_EPOCH
            return Errors.UNKNOWN_LEADER_EPOCH
        if self.leader_id != self.broker_id:
            return Errors.NOT_LEADER_OR_FOLLOWER
        return _NO_ERROR

    def stop(self) -> None:
        """The broker stopped: forget leadership; held answers are lost with the process."""
        self.leader_id = -1
        self.isr = []
        self.pending_isr = None
        self.remote = {}
        self._purgatory = []

    # ---------------------------------------------------------------- produce

    def append_records_to_leader(
        self, batch: RecordBatch, acks: int, now: float
    ) -> tuple[Errors, int, bool]:
        """Partition.appendRecordsToLeader: (error, base offset, appended).

        NOT_ENOUGH_REPLICAS before appending when acks=all and the ISR is below the minimum;
        MESSAGE_TOO_LARGE when the batch, as sent (after the producer's compression, header
        included), is larger than the topic's ``max.message.bytes`` — checked before the
        producer's sequence, as UnifiedLog.analyzeAndValidateRecords runs before
        analyzeAndValidateProducerState (the broker stores batches as sent, so LogValidator's
        second check after a recompression never differs); a duplicate of a retained batch
        answers with its first offset without appending.
        """
        if self.leader_id != self.broker_id:  # is_leader written out: a property read
            return Errors.NOT_LEADER_OR_FOLLOWER, -1, False
        if acks == ACKS_ALL and len(self.isr) < self.min_isr:
            return Errors.NOT_ENOUGH_REPLICAS, -1, False
        log = self.log
        if batch.size_bytes > log.max_message_bytes:  # RecordTooLargeException
            return Errors.MESSAGE_TOO_LARGE, -1, False
        error, duplicate_offset = log.check_producer(batch)
        if error is not _NO_ERROR or duplicate_offset >= 0:
            return error, duplicate_offset, False
        entry = log.append_as_leader(batch, self.leader_epoch, now)
        self.maybe_increment_leader_hw(now)
        return _NO_ERROR, entry.base_offset, True

    def wait_for_acks(self, required_offset: int, done: Completion) -> None:
        """Hold an acks=all answer until the HW reaches ``required_offset`` (DelayedProduce)."""
        if self._try_complete(required_offset, done):
            return
        self._purgatory_seq += 1
        bisect.insort(self._purgatory, (required_offset, self._purgatory_seq, done))

    def _try_complete(self, required_offset: int, done: Completion) -> bool:
        """Partition.checkEnoughReplicasReachOffset: complete once HW >= required offset."""
        if self.log.high_watermark < required_offset:
            return False
        enough = len(self.maximal_isr()) >= self.min_isr
        done(self.tp, _NO_ERROR if enough else Errors.NOT_ENOUGH_REPLICAS_AFTER_APPEND)
        return True

    def expire(self, done: Completion) -> None:
        """A held answer whose request timed out on the broker: REQUEST_TIMED_OUT."""
        for i, (_, _, waiting) in enumerate(self._purgatory):
            if waiting is done:
                del self._purgatory[i]
                done(self.tp, Errors.REQUEST_TIMED_OUT)
                return

    def _complete_purgatory(self) -> None:
        """Complete the held answers the HW now covers (sorted by required offset)."""
        purgatory = self._purgatory
        hw = self.log.high_watermark
        if not purgatory or purgatory[0][0] > hw:
            return
        if purgatory[-1][0] <= hw:  # all of them: the usual case, one batch or two held
            completed, self._purgatory = purgatory, []
        else:
            ready = bisect.bisect_right(purgatory, (hw, _INFINITY, None))
            completed, self._purgatory = purgatory[:ready], purgatory[ready:]
        for required, _, done in completed:
            self._try_complete(required, done)

    def _fail_purgatory(self, error: Errors) -> None:
        waiting, self._purgatory = self._purgatory, []
        tp = self.tp
        for _, _, done in waiting:
            done(tp, error)

    # ---------------------------------------------------------------- replication

    def update_follower_fetch_state(
        self, follower: int, fetch_offset: int, now: float
    ) -> list[int]:
        """A follower fetched at ``fetch_offset``: update its state, maybe expand the ISR, maybe
        advance the HW (Partition.updateFollowerFetchState). Returns brokers added to the ISR."""
        state = self.remote.get(follower)
        if state is None:
            return []
        log = self.log
        state.update_fetch_state(fetch_offset, now, log.log_end_offset)
        # the first tests of _maybe_expand_isr and maybe_increment_leader_hw written out: the
        # usual fetch comes from an ISR member, and often finds the HW at the LEO already
        added = [] if follower in self.isr else self._maybe_expand_isr(follower, state)
        if log.log_end_offset > log.high_watermark:
            self.maybe_increment_leader_hw(now)
        return added

    def _maybe_expand_isr(self, follower: int, state: ReplicaState) -> list[int]:
        """Partition.isFollowerInSync: at or past the HW and the current epoch's start offset;
        proposes ISR + follower (the caller sends AlterPartition) unless a change is pending or
        the follower is not alive in the metadata cache (canAddReplicaToIsr)."""
        if follower in self.isr or self.pending_isr is not None:
            return []
        if follower not in self.alive_brokers:
            return []
        if (
            state.log_end_offset >= self.log.high_watermark
            and state.log_end_offset >= self.leader_epoch_start_offset
        ):
            self.pending_isr = sorted([*self.isr, follower])
            return [follower]
        return []

    def maybe_increment_leader_hw(self, now: float) -> bool:
        """Partition.maybeIncrementLeaderHW: HW = min LEO over the ISR and the caught-up
        followers alive in the metadata cache (shouldWaitForReplicaToJoinIsr); held while the
        ISR is below min.insync.replicas (Kafka >= 3.7, KAFKA-15583)."""
        log = self.log
        leo = log.log_end_offset
        # the HW is at most the LEO: nothing to do once it is there (the usual follower fetch)
        if leo <= log.high_watermark or len(self.isr) < self.min_isr:
            return False
        new_hw = leo
        maximal = self.maximal_isr()
        for broker, state in self.remote.items():
            if state.log_end_offset < new_hw and (
                broker in maximal
                or (state.is_caught_up(leo, now, self.lag_max_s) and broker in self.alive_brokers)
            ):
                new_hw = state.log_end_offset
        if new_hw <= log.high_watermark:
            return False
        log.high_watermark = new_hw
        self._complete_purgatory()
        return True

    def out_of_sync_replicas(self, now: float) -> list[int]:
        """Partition.getOutOfSyncReplicas: ISR followers not caught up within the lag limit
        (none while an ISR change is pending)."""
        if self.pending_isr is not None:
            return []
        leo = self.log.log_end_offset
        return [
            b
            for b in self.isr
            if b != self.broker_id and not self.remote[b].is_caught_up(leo, now, self.lag_max_s)
        ]

    def propose_shrink(self, out: list[int]) -> list[int]:
        """The ISR without ``out``, now pending (the caller sends AlterPartition)."""
        self.pending_isr = [b for b in self.isr if b not in out]
        return self.pending_isr

    def apply_isr_change(
        self, error: Errors, leader_epoch: int, isr: list[int], partition_epoch: int, now: float
    ) -> bool:
        """The controller's answer to AlterPartition: adopt the state it committed. Returns
        True when the ISR changed; False when the proposal was refused (the controller will
        send LeaderAndIsr if leadership moved)."""
        self.pending_isr = None
        if error is not _NO_ERROR or not self.is_leader or leader_epoch != self.leader_epoch:
            return False
        changed = isr != self.isr
        self.isr = sorted(isr)
        self.partition_epoch = partition_epoch
        self.maybe_increment_leader_hw(now)
        return changed

    def abandon_isr_change(self) -> None:
        """AlterPartition got no answer: the proposal may be made again."""
        self.pending_isr = None
