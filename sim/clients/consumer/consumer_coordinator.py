"""The consumer's group coordinator client (≈ Kafka 3.9 ``ConsumerCoordinator``).

On top of :class:`AbstractCoordinator`: the subscription it joins with (one protocol per
configured assignor of ``partition.assignment.strategy``; the rebalance protocol is the highest
that all of them support: EAGER unless every assignor is cooperative-sticky), the leader's
assignment (:func:`sim.clients.assignors.assign`), and offsets:

- before rejoining (``onJoinPrepare``) the member commits its positions (auto-commit) and waits
  up to the rebalance timeout for the answer, retrying retriable failures; then EAGER revokes
  every partition (they are not fetched from the moment the commit starts), COOPERATIVE nothing;
- on SyncGroup (``onJoinComplete``) COOPERATIVE revokes the partitions that moved away and asks
  for a second rebalance; partitions it keeps are consumed throughout;
- auto-commit every ``auto.commit.interval.ms`` from poll(); a retriable failure is retried after
  ``retry.backoff.ms``; a commit that fails (rebalance, expired member) loses that progress, and
  its records are delivered again to the next owner (at-least-once);
- new partitions start at the committed offset (OffsetFetch); the consumer falls back to
  ``auto.offset.reset`` for those without one.

Partitions revoked by COOPERATIVE after SyncGroup are not committed first (Kafka leaves that to
the application's rebalance listener, which the model does not have): what was consumed from them
since the last commit is delivered again. Simplified: the member joins only once its metadata
knows the subscribed topics' partition counts (Kafka joins and rejoins when they arrive).
Every assignment and revocation is an ``events`` row (``partitions_assigned`` /
``partitions_revoked``) and one ``assignments`` row per partition (action assigned, revoked or
lost). Times are simulated seconds.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Generator
from typing import Any

import simpy

from sim.clients.assignors import RebalanceProtocol, assign, supported_protocols
from sim.clients.consumer.abstract_coordinator import (
    NO_GEN,
    AbstractCoordinator,
    Generation,
    MemberState,
    RequestFuture,
    failed,
)
from sim.clients.consumer.consumer_network_client import exponential_backoff_s
from sim.clients.consumer.subscription_state import FetchState, SubscriptionState
from sim.clients.metadata import Metadata
from sim.events import EventKind
from sim.kafka_config import EffectiveConfig
from sim.metrics import Metrics
from sim.protocol import (
    NO_GENERATION,
    UNKNOWN_MEMBER_ID,
    Errors,
    JoinGroupMember,
    OffsetAndMetadata,
    OffsetCommitRequest,
    OffsetFetchRequest,
    Subscription,
    TopicPartition,
)
from sim.timers import Signal

_INITIALIZING = FetchState.INITIALIZING


def rebalance_protocol(assignors: list[str]) -> RebalanceProtocol:
    """The highest protocol every configured assignor supports (ConsumerCoordinator's
    constructor)."""
    common = set(RebalanceProtocol)
    for name in assignors:
        common &= set(supported_protocols(name))
    if not common:
        raise ValueError(f"assignors {assignors} support no common rebalance protocol")
    return max(common)


class ConsumerCoordinator(AbstractCoordinator):
    """Group membership and offsets of one consumer (see the module docstring)."""

    def __init__(
        self,
        env: simpy.Environment,
        net,
        name: str,
        group_id: str,
        config: EffectiveConfig,
        bootstrap: list[str],
        subscriptions: SubscriptionState,
        metadata: Metadata,
        metrics: Metrics,
        wake: Callable[[], None],
    ) -> None:
        super().__init__(env, net, name, group_id, config, bootstrap, wake)
        self.subscriptions = subscriptions
        self.metadata = metadata
        self.metrics = metrics
        self.assignors: list[str] = list(config["partition.assignment.strategy"])
        self.protocol = rebalance_protocol(self.assignors)
        self.auto_commit: bool = config["enable.auto.commit"]
        self.auto_commit_interval_s = config.s("auto.commit.interval.ms")
        self.next_auto_commit_s = env.now + self.auto_commit_interval_s
        #: offsets the coordinator acknowledged, per partition (the last successful commit)
        self.committed: dict[TopicPartition, OffsetAndMetadata] = {}
        self.is_leader = False
        self._auto_commit_future: RequestFuture | None = None
        self._join_prepare_deadline_s: float | None = None
        self._offset_fetch: tuple[tuple, RequestFuture] | None = None
        self._offset_fetch_attempts = 0
        self._last_assignment: tuple[TopicPartition, ...] = ()
        self._last_generation = NO_GENERATION

    # ---------------------------------------------------------------- poll

    def poll(self) -> bool:
        """``ConsumerCoordinator.poll(timer, waitForJoinGroup=false)``: advance the group's
        state without blocking; True when the member is in a stable group (or not in one)."""
        now = self.env.now
        self.retry_at_s = math.inf
        if self.fatal is not None:
            return False
        if self.subscriptions.has_auto_assigned_partitions():
            self.poll_heartbeat(now)
            if self.coordinator_unknown() and not self.ensure_coordinator_ready():
                return False
            joining = self.rejoin_needed_or_pending()
            if joining and not (self._metadata_ready() and self.ensure_active_group()):
                return False
        self.maybe_auto_commit_offsets_async(now)
        return True

    def next_poll_deadline_s(self) -> float:
        """When poll() must run again by itself: a retry, or the auto-commit timer, s."""
        deadline = self.retry_at_s
        if (
            self.auto_commit
            and self.subscriptions.states
            and self.env.now < self.next_auto_commit_s < deadline
        ):
            deadline = self.next_auto_commit_s
        return deadline

    def _metadata_ready(self) -> bool:
        """The partition counts of every subscribed topic are known."""
        known = {tp[0] for tp in self.metadata.partitions}
        return all(t in known for t in self.subscriptions.subscription)

    def _partition_counts(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for topic, _ in self.metadata.partitions:
            counts[topic] = counts.get(topic, 0) + 1
        return counts

    # ---------------------------------------------------------------- joining

    def protocols(self) -> list[tuple[str, Subscription]]:
        """One (assignor, subscription) per configured assignor; the eager sticky assignor
        reports its last assignment and generation (its user data), the others the owned
        partitions and the current generation (ConsumerProtocolSubscription v2+)."""
        topics = self.subscriptions.subscription
        owned = tuple(self.subscriptions.assigned_partitions())
        out = []
        for name in self.assignors:
            if name == "sticky":
                sub = Subscription(topics, self._last_assignment, self._last_generation)
            else:
                sub = Subscription(topics, owned, self.generation.generation_id)
            out.append((name, sub))
        return out

    def on_join_prepare(self, generation: int, member_id: str) -> bool:
        """ConsumerCoordinator.onJoinPrepare: commit (waiting up to the rebalance timeout),
        then revoke (EAGER: all; after a reset generation: all, as lost)."""
        now = self.env.now
        if self._join_prepare_deadline_s is None:
            self._join_prepare_deadline_s = now + self.rebalance_timeout_s
        if self.auto_commit and self._auto_commit_future is None:
            if self.protocol is RebalanceProtocol.EAGER:
                self.subscriptions.mark_pending_revocation(self.subscriptions.assigned_partitions())
            self._auto_commit_future = self._auto_commit_async()
        future = self._auto_commit_future
        if future is not None:
            if now < self._join_prepare_deadline_s:
                if not future.done:
                    self.retry_at_s = min(self.retry_at_s, self._join_prepare_deadline_s)
                    return False
                if future.error is not None and future.error.retriable:
                    self._auto_commit_future = None
                    self.retry_at_s = min(self.retry_at_s, now + self.retry_backoff_s)
                    return False
            self._auto_commit_future = None
        owned = self.subscriptions.assigned_partitions()
        lost = generation == NO_GENERATION or member_id == UNKNOWN_MEMBER_ID
        if owned and (lost or self.protocol is RebalanceProtocol.EAGER):
            self._revoke(owned, "lost" if lost else "revoked before rejoining", lost)
            self.subscriptions.assign_from_subscribed([])
        self.is_leader = False
        self._join_prepare_deadline_s = None
        return True

    def on_leader_elected(
        self, protocol: str, members: list[JoinGroupMember], skip_assignment: bool
    ) -> dict[str, list[TopicPartition]]:
        """The leader runs the chosen assignor over every member's subscription."""
        self.is_leader = True
        if skip_assignment:
            return {}
        subs = {m.member_id: list(m.metadata.topics) for m in members}
        owned = {m.member_id: list(m.metadata.owned_partitions) for m in members}
        generations = {m.member_id: m.metadata.generation for m in members}
        static = {m.member_id: m.group_instance_id for m in members if m.group_instance_id}
        return assign(protocol, subs, self._partition_counts(), owned, static, generations)

    def on_join_complete(self, generation: Generation, assignment: list[TopicPartition]) -> None:
        """ConsumerCoordinator.onJoinComplete: take the assignment; COOPERATIVE revokes what
        moved away and rejoins."""
        assigned = sorted(set(assignment))
        owned = self.subscriptions.assigned_partitions()
        if self.protocol is RebalanceProtocol.COOPERATIVE:
            revoked = [tp for tp in owned if tp not in assigned]
            if revoked:
                self._revoke(revoked, "moved to another member")
                self.request_rejoin()  # need to revoke partitions and re-join
        self._last_assignment = tuple(assigned)
        self._last_generation = generation.generation_id
        if self.auto_commit:
            self.next_auto_commit_s = self.env.now + self.auto_commit_interval_s
        self.subscriptions.assign_from_subscribed(assigned)
        added = [tp for tp in assigned if tp not in owned]
        self.metrics.event(
            self.env.now, EventKind.PARTITIONS_ASSIGNED, self.name,
            group=self.group_id, generation=generation.generation_id, member=self.name,
            detail=f"group={self.group_id} generation={generation.generation_id} "
            f"leader={self.is_leader} assigned={_names(assigned)} added={_names(added)}",
        )  # fmt: skip
        self._record_assignments(assigned, generation.generation_id, "assigned")

    def _revoke(self, partitions: list[TopicPartition], why: str, lost: bool = False) -> None:
        self.metrics.event(
            self.env.now, EventKind.PARTITIONS_REVOKED, self.name,
            group=self.group_id, generation=self._last_generation, member=self.name,
            detail=f"group={self.group_id} partitions={_names(partitions)} ({why})",
        )  # fmt: skip
        self._record_assignments(partitions, self._last_generation, "lost" if lost else "revoked")

    def _record_assignments(
        self, partitions: list[TopicPartition], generation: int, action: str
    ) -> None:
        """One ``assignments`` row per partition (once per rebalance, not per batch)."""
        now, group, name = self.env.now, self.group_id, self.name
        for topic, partition in partitions:
            self.metrics.assignments.append_row(
                (now, group, name, generation, topic, partition, action)
            )

    # ---------------------------------------------------------------- commits

    def maybe_auto_commit_offsets_async(self, now: float) -> None:
        """Commit the positions when the auto-commit timer has expired."""
        if not self.auto_commit or now < self.next_auto_commit_s:
            return
        self.next_auto_commit_s = now + self.auto_commit_interval_s
        self._auto_commit_async()

    def _auto_commit_async(self) -> RequestFuture:
        future = self.commit_offsets_async(self.subscriptions.all_consumed())

        def retry_soon(done: RequestFuture) -> None:
            if done.error is not None and done.error.retriable:
                self.next_auto_commit_s = self.env.now + self.retry_backoff_s

        future.add_listener(retry_soon)
        return future

    def commit_offsets_async(
        self, offsets: dict[TopicPartition, OffsetAndMetadata]
    ) -> RequestFuture:
        """ConsumerCoordinator.commitOffsetsAsync: with the coordinator unknown, look it up and
        then send (a failed lookup fails the commit, retriable); else send now."""
        if not offsets:
            done = RequestFuture()
            done.complete()
            return done
        if not self.coordinator_unknown():
            return self.send_offset_commit(offsets)
        future = RequestFuture()

        def found(lookup: RequestFuture) -> None:
            if self.closed:
                return
            if lookup.error is not None:
                future.fail(lookup.error)
                return
            sent = self.send_offset_commit(offsets)
            sent.add_listener(lambda done: _chain(done, future))

        self.lookup_coordinator().add_listener(found)
        return future

    def send_offset_commit(self, offsets: dict[TopicPartition, OffsetAndMetadata]) -> RequestFuture:
        """sendOffsetCommitRequest: the current generation's commit (none outside a stable
        group: REBALANCE_IN_PROGRESS while rejoining, ILLEGAL_GENERATION = CommitFailed)."""
        if self.coordinator_unknown():
            return failed(Errors.COORDINATOR_NOT_AVAILABLE)
        generation = NO_GEN
        if self.subscriptions.has_auto_assigned_partitions():
            if self.state is not MemberState.STABLE:
                rebalancing = self.state is not MemberState.UNJOINED
                return failed(
                    Errors.REBALANCE_IN_PROGRESS if rebalancing else Errors.ILLEGAL_GENERATION
                )
            generation = self.generation
        request = OffsetCommitRequest(
            self.group_id, generation.generation_id, generation.member_id,
            self.instance_id if generation is not NO_GEN else None, dict(offsets),
        )  # fmt: skip
        future = RequestFuture()
        self._send(
            request, lambda r: self._on_commit_response(r, generation, future, request.offsets)
        )
        return future

    def _on_commit_response(
        self, response, sent: Generation, future: RequestFuture, offsets: dict
    ) -> None:
        """OffsetCommitResponseHandler."""
        if self.closed:
            return
        if self._network_failed(response):
            future.fail(Errors.NETWORK_EXCEPTION)
            self.wake()
            return
        error = next((e for e in response.errors.values() if e is not Errors.NONE), Errors.NONE)
        if error is Errors.NONE:
            self.committed.update(offsets)
            future.complete()
        else:
            future.fail(self._commit_error(error, sent))
        self.wake()

    def _commit_error(self, error: Errors, sent: Generation) -> Errors:
        """What a failed commit means to the member (and what it does about it)."""
        if error in (
            Errors.COORDINATOR_NOT_AVAILABLE,
            Errors.NOT_COORDINATOR,
            Errors.REQUEST_TIMED_OUT,
        ):
            self.mark_coordinator_unknown()
        elif error is Errors.REBALANCE_IN_PROGRESS:
            self.request_rejoin()  # offset commit failed since the group is already rebalancing
        elif error in (Errors.UNKNOWN_MEMBER_ID, Errors.ILLEGAL_GENERATION):
            if self.generation != sent and self.state is MemberState.PREPARING_REBALANCE:
                return Errors.REBALANCE_IN_PROGRESS
            self.reset_state_and_rejoin(error is not Errors.ILLEGAL_GENERATION)
            return Errors.ILLEGAL_GENERATION  # CommitFailedException
        return error

    # ---------------------------------------------------------------- close

    def close(
        self, deadline_s: float, wait_until: Callable[[float], Signal]
    ) -> Generator[simpy.Event, Any, None]:
        """ConsumerCoordinator.close(timer), the timer ending at ``deadline_s``: the synchronous
        auto-commit (``maybeAutoCommitOffsetsSync``), then AbstractCoordinator.close: the
        heartbeat thread stops, ``onLeavePrepare`` revokes the partitions, a dynamic member
        sends LeaveGroup, and the requests still in flight to the coordinator are awaited.
        ``wait_until(t)`` is the application thread's wait (woken by every answer)."""
        if self.auto_commit:
            yield from self._commit_offsets_sync(
                self.subscriptions.all_consumed(), deadline_s, wait_until
            )
        self.close_heartbeat_thread()
        self.on_leave_prepare()
        self.maybe_leave_group()  # the consumer is being closed
        while self._in_flight and self.coordinator is not None and self.env.now < deadline_s:
            yield wait_until(deadline_s)  # client.awaitPendingRequests(coordinator, timer)

    def _commit_offsets_sync(
        self,
        offsets: dict[TopicPartition, OffsetAndMetadata],
        deadline_s: float,
        wait_until: Callable[[float], Signal],
    ) -> Generator[simpy.Event, Any, bool]:
        """commitOffsetsSync(offsets, timer): find the coordinator, commit, and retry retriable
        failures after the exponential retry backoff until the timer ends; a non-retriable
        failure ends it (close() only logs it). True once committed."""
        if not offsets:
            return True
        attempts = 0
        env = self.env
        while True:
            while self.coordinator_unknown():  # coordinatorUnknownAndUnreadySync(timer)
                if env.now >= deadline_s:
                    return False
                self.retry_at_s = math.inf
                self.ensure_coordinator_ready()
                if self.coordinator_unknown():
                    yield wait_until(min(deadline_s, self.retry_at_s))
            future = self.send_offset_commit(offsets)
            while not future.done and env.now < deadline_s:
                yield wait_until(deadline_s)
            if future.succeeded:
                return True
            if future.done and not future.error.retriable:
                return False
            backoff = exponential_backoff_s(
                attempts, self.retry_backoff_s, self.retry_backoff_max_s
            )
            attempts += 1
            until = min(env.now + backoff, deadline_s)  # timer.sleep(backoff)
            while env.now < until:
                yield wait_until(until)
            if env.now >= deadline_s:
                return False

    def on_leave_prepare(self) -> None:
        """ConsumerCoordinator.onLeavePrepare: the assigned partitions are dropped, as lost
        (no generation, or a rebalance under way) or revoked."""
        dropped = self.subscriptions.assigned_partitions()
        if self.subscriptions.has_auto_assigned_partitions() and dropped:
            generation = self.generation
            lost = (
                generation.generation_id == NO_GENERATION
                or generation.member_id == UNKNOWN_MEMBER_ID
                or self.state in (MemberState.PREPARING_REBALANCE, MemberState.COMPLETING_REBALANCE)
            )
            self._revoke(dropped, "lost on close" if lost else "revoked on close", lost)
            self.subscriptions.assign_from_subscribed([])

    # ---------------------------------------------------------------- committed offsets

    def refresh_committed_offsets(self) -> bool:
        """initWithCommittedOffsetsIfNeeded without blocking: seek initializing partitions to
        their committed offsets once OffsetFetch answers; True when none is left waiting (those
        without a committed offset are then reset by the consumer)."""
        if not self.subscriptions.has_initializing():
            return True
        initializing = tuple(self.subscriptions.initializing_partitions())
        key = (initializing, self.generation if self.state is MemberState.STABLE else None)
        if self._offset_fetch is not None and self._offset_fetch[0] != key:
            self._offset_fetch = None
        if self._offset_fetch is None:
            if not self.ensure_coordinator_ready():
                return False
            self._offset_fetch = (key, self._send_offset_fetch(list(initializing)))
        future = self._offset_fetch[1]
        if not future.done:
            return False
        self._offset_fetch = None
        if future.error is not None:
            backoff = exponential_backoff_s(
                self._offset_fetch_attempts, self.retry_backoff_s, self.retry_backoff_max_s
            )
            self._offset_fetch_attempts += 1
            self.retry_at_s = min(self.retry_at_s, self.env.now + backoff)
            return False
        self._offset_fetch_attempts = 0
        self._seek_to_committed(future.value)
        return True

    def _seek_to_committed(self, offsets: dict[TopicPartition, OffsetAndMetadata]) -> None:
        """ConsumerUtils.refreshCommittedOffsets: each initializing partition with a committed
        offset seeks to it, with its leader epoch as the position's offset epoch, at the
        metadata's leader epoch (``seekUnvalidated``: validated when both are known); a
        committed epoch newer than the metadata's asks for a metadata update
        (``updateLastSeenEpochIfNewer``)."""
        states = self.subscriptions.states
        for tp, (offset, epoch) in offsets.items():
            state = states.get(tp)
            if offset < 0 or state is None or state.fetch_state is not _INITIALIZING:
                continue
            leader_epoch = self.metadata.leader_epoch(tp)
            if 0 <= leader_epoch < epoch:
                self.metadata.request_update()
            self.subscriptions.seek_unvalidated(tp, offset, epoch, leader_epoch)

    def _send_offset_fetch(self, partitions: list[TopicPartition]) -> RequestFuture:
        future = RequestFuture()

        def answered(response) -> None:
            if self.closed:
                return
            if self._network_failed(response):
                future.fail(Errors.NETWORK_EXCEPTION)
            elif response.error is not Errors.NONE:
                if response.error in (Errors.COORDINATOR_NOT_AVAILABLE, Errors.NOT_COORDINATOR):
                    self.mark_coordinator_unknown()
                future.fail(response.error)
            else:
                unstable = any(e is not Errors.NONE for _, e in response.offsets.values())
                if unstable:
                    future.fail(Errors.UNSTABLE_OFFSET_COMMIT)
                else:
                    future.complete({tp: off for tp, (off, _) in response.offsets.items()})
            self.wake()

        if not self._send(OffsetFetchRequest(self.group_id, partitions), answered):
            return failed(Errors.COORDINATOR_NOT_AVAILABLE)
        return future


def _chain(done: RequestFuture, future: RequestFuture) -> None:
    """Complete ``future`` as ``done`` ended (``RequestFuture.chain``)."""
    if done.error is None:
        future.complete(done.value)
    else:
        future.fail(done.error)


def _names(partitions: list[TopicPartition]) -> str:
    return ",".join(f"{t}-{p}" for t, p in partitions) or "-"
