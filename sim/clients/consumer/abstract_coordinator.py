"""The member side of the classic group protocol (≈ Kafka 3.9 ``AbstractCoordinator``).

Finding the coordinator (FindCoordinator to a bootstrap broker), JoinGroup and SyncGroup, the
heartbeat thread, LeaveGroup. As ``poll(Duration)`` does in Kafka (``coordinator.poll(timer,
false)``), the application thread never blocks on the group: each poll() advances the join by
what has been answered so far and returns; answers arrive through callbacks that wake it. The
heartbeat thread is a process that sleeps until its next deadline (heartbeat due, session or poll
timeout) rather than waking every ``retry.backoff.ms`` as Kafka's does, which is the same
behaviour at the deadlines with far fewer events.

Errors that Kafka throws to the application (FENCED_INSTANCE_ID, INVALID_SESSION_TIMEOUT,
INCONSISTENT_GROUP_PROTOCOL, GROUP_MAX_SIZE_REACHED) stop the member: ``fatal`` holds the error.
Times are simulated seconds.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Generator
from dataclasses import dataclass
from enum import Enum, auto
from typing import Any

import simpy

from sim.clients.consumer.consumer_network_client import Wakeup, exponential_backoff_s
from sim.clients.consumer.heartbeat import Heartbeat
from sim.kafka_config import EffectiveConfig
from sim.net import Disconnected, NetworkFailure
from sim.protocol import (
    NO_GENERATION,
    UNKNOWN_MEMBER_ID,
    Errors,
    FindCoordinatorRequest,
    HeartbeatRequest,
    JoinGroupRequest,
    JoinGroupResponse,
    LeaveGroupRequest,
    Subscription,
    SyncGroupRequest,
    TopicPartition,
)

#: AbstractCoordinator.JOIN_GROUP_TIMEOUT_LAPSE: added to the rebalance timeout for JoinGroup, s.
JOIN_GROUP_TIMEOUT_LAPSE_S = 5.0
#: Errors after which a failed join is retried at once (joinGroupIfNeeded's ``continue``).
_REJOIN_AT_ONCE = frozenset(
    {
        Errors.UNKNOWN_MEMBER_ID,
        Errors.ILLEGAL_GENERATION,
        Errors.REBALANCE_IN_PROGRESS,
        Errors.MEMBER_ID_REQUIRED,
    }
)
#: Errors Kafka raises to the application from the group protocol.
FATAL_ERRORS = frozenset(
    {
        Errors.FENCED_INSTANCE_ID,
        Errors.INVALID_SESSION_TIMEOUT,
        Errors.INCONSISTENT_GROUP_PROTOCOL,
        Errors.GROUP_MAX_SIZE_REACHED,
    }
)


class MemberState(Enum):
    """AbstractCoordinator.MemberState."""

    UNJOINED = auto()  # not in a group (or left it)
    PREPARING_REBALANCE = auto()  # JoinGroup sent, not answered
    COMPLETING_REBALANCE = auto()  # JoinGroup answered, SyncGroup not
    STABLE = auto()  # joined, heartbeating


@dataclass(frozen=True, slots=True)
class Generation:
    """The generation, member id and chosen protocol a member knows."""

    generation_id: int = NO_GENERATION
    member_id: str = UNKNOWN_MEMBER_ID
    protocol_name: str | None = None


NO_GEN = Generation()


class RequestFuture:
    """The outcome of a request chain: a value, or an error (``Errors``)."""

    __slots__ = ("done", "value", "error", "_listeners")

    def __init__(self) -> None:
        self.done = False
        self.value: Any = None
        self.error: Errors | None = None
        self._listeners: list[Callable[[RequestFuture], None]] = []

    @property
    def succeeded(self) -> bool:
        """Done without error."""
        return self.done and self.error is None

    def complete(self, value: Any = None) -> None:
        """Succeed with ``value``."""
        self.done, self.value = True, value
        self._fire()

    def fail(self, error: Errors) -> None:
        """Fail with ``error``."""
        self.done, self.error = True, error
        self._fire()

    def add_listener(self, listener: Callable[[RequestFuture], None]) -> None:
        """Call ``listener(self)`` once done (now if done already)."""
        if self.done:
            listener(self)
        else:
            self._listeners.append(listener)

    def _fire(self) -> None:
        listeners, self._listeners = self._listeners, []
        for listener in listeners:
            listener(self)


def failed(error: Errors) -> RequestFuture:
    """A future that has already failed."""
    future = RequestFuture()
    future.fail(error)
    return future


class AbstractCoordinator:
    """Group membership of consumer ``name`` in ``group_id``; ``wake`` wakes its application
    thread. Subclasses give the protocols, prepare joins and apply assignments."""

    def __init__(
        self,
        env: simpy.Environment,
        net,
        name: str,
        group_id: str,
        config: EffectiveConfig,
        bootstrap: list[str],
        wake: Callable[[], None],
    ) -> None:
        self.env = env
        self.net = net
        self.name = name
        self.group_id = group_id
        self.wake = wake
        self.bootstrap = list(bootstrap)
        self.instance_id: str | None = config["group.instance.id"]
        self.client_id: str = config["client.id"] or name
        self.session_s = config.s("session.timeout.ms")
        self.rebalance_timeout_s = config.s("max.poll.interval.ms")
        self.request_timeout_s = config.s("request.timeout.ms")
        self.retry_backoff_s = config.s("retry.backoff.ms")
        self.retry_backoff_max_s = config.s("retry.backoff.max.ms")
        self.heartbeat = Heartbeat(
            env.now, config.s("heartbeat.interval.ms"), self.session_s, self.rebalance_timeout_s,
            self.retry_backoff_s, self.retry_backoff_max_s,
        )  # fmt: skip
        self.coordinator: str | None = None
        self.state = MemberState.UNJOINED
        self.generation = NO_GEN
        self.rejoin_needed = True
        self.needs_join_prepare = True
        self.join_future: RequestFuture | None = None
        self.fatal: Errors | None = None
        self.closed = False
        #: earliest time the application thread must act again by itself (a backoff), s
        self.retry_at_s = math.inf
        self._find_future: RequestFuture | None = None
        self._find_attempts = 0
        self._find_not_before_s = 0.0
        self._node_index = 0
        self._heartbeat_wakeup = Wakeup(env)
        self._heartbeat_enabled = False
        self._heartbeat_thread: simpy.Process | None = None
        #: answer handlers of the requests in flight to the coordinator, by call id, in send
        #: order: a coordinator marked unknown fails them all (``client.disconnectAsync``)
        self._in_flight: dict[int, Callable[[Any], None]] = {}
        self._call_ids = 0

    # ---------------------------------------------------------------- subclass hooks

    def protocols(self) -> list[tuple[str, Subscription]]:
        """The JoinGroup protocols: (assignor name, subscription), by preference."""
        raise NotImplementedError

    def on_join_prepare(self, generation: int, member_id: str) -> bool:
        """Before (re)joining; False to be called again on a later poll."""
        raise NotImplementedError

    def on_leader_elected(
        self, protocol: str, members: list, skip_assignment: bool
    ) -> dict[str, list[TopicPartition]]:
        """The leader's assignment, member id -> partitions."""
        raise NotImplementedError

    def on_join_complete(self, generation: Generation, assignment: list[TopicPartition]) -> None:
        """The member's assignment for ``generation``."""
        raise NotImplementedError

    # ---------------------------------------------------------------- coordinator discovery

    def coordinator_unknown(self) -> bool:
        """No coordinator known (``coordinatorUnknown``)."""
        return self.coordinator is None

    def ensure_coordinator_ready(self) -> bool:
        """Non-blocking ``ensureCoordinatorReady``: True if known; else look it up (after the
        backoff of a failed lookup) and return False."""
        if self.coordinator is not None:
            return True
        now = self.env.now
        if self._find_future is None and now >= self._find_not_before_s:
            self.lookup_coordinator()
        elif self._find_future is None:
            self.retry_at_s = min(self.retry_at_s, self._find_not_before_s)
        return False

    def lookup_coordinator(self) -> RequestFuture:
        """Send FindCoordinator to a bootstrap broker (the next one after a failure)."""
        if self._find_future is not None:
            return self._find_future
        future = self._find_future = RequestFuture()
        node = self.bootstrap[self._node_index % len(self.bootstrap)]
        event = self.net.request(
            self.name, node, FindCoordinatorRequest(self.group_id), self.request_timeout_s
        )

        def answered(ev: simpy.Event) -> None:
            if self.closed:
                return
            response = ev.value
            self._find_future = None
            if isinstance(response, NetworkFailure) or response.error is not Errors.NONE:
                self._node_index += isinstance(response, NetworkFailure)
                backoff = exponential_backoff_s(
                    self._find_attempts, self.retry_backoff_s, self.retry_backoff_max_s
                )
                self._find_attempts += 1
                self._find_not_before_s = self.env.now + backoff
                error = (
                    Errors.NETWORK_EXCEPTION
                    if isinstance(response, NetworkFailure)
                    else response.error
                )
                future.fail(error)
            else:
                self._find_attempts = 0
                self.coordinator = f"broker-{response.node_id}"
                self.heartbeat.reset_session_timeout(self.env.now)
                future.complete()
            self.wake()
            self._heartbeat_wakeup.notify()

        event.callbacks.append(answered)
        return future

    def mark_coordinator_unknown(self) -> None:
        """``markCoordinatorUnknown``: forget the coordinator (it is looked up again) and fail
        every request still in flight to it with a disconnection, in send order, as Kafka's
        ``client.disconnectAsync(oldCoordinator)`` does; their answers, if any still come, are
        ignored. The coordinator is forgotten first, so handlers that mark it unknown again do
        nothing (AbstractCoordinator.java's comment)."""
        old = self.coordinator
        if old is None:
            return
        self.coordinator = None
        pending, self._in_flight = self._in_flight, {}
        for handler in pending.values():
            handler(Disconnected(old))

    def _send(
        self, request: Any, handler: Callable[[Any], None], timeout_s: float | None = None
    ) -> bool:
        """Send to the coordinator; ``handler(response or NetworkFailure)`` gets the outcome
        once. False (nothing sent) when the coordinator is unknown."""
        coordinator = self.coordinator
        if coordinator is None:
            return False
        timeout = self.request_timeout_s if timeout_s is None else timeout_s
        event = self.net.request(self.name, coordinator, request, timeout)
        self._call_ids = call_id = self._call_ids + 1
        self._in_flight[call_id] = handler

        def answered(ev: simpy.Event) -> None:
            live = self._in_flight.pop(call_id, None)
            if live is not None:
                live(ev.value)
                if self.closed:
                    self.wake()  # close() awaits the requests in flight

        event.callbacks.append(answered)
        return True

    def _network_failed(self, response: Any) -> bool:
        """A disconnect or timeout: the coordinator is marked unknown (Kafka disconnects)."""
        if isinstance(response, NetworkFailure):
            self.mark_coordinator_unknown()
            return True
        return False

    # ---------------------------------------------------------------- joining

    def rejoin_needed_or_pending(self) -> bool:
        """A rejoin is needed or a join is under way."""
        return self.rejoin_needed or self.join_future is not None

    def request_rejoin(self) -> None:
        """Rejoin at the next poll."""
        self.rejoin_needed = True

    def reset_state_and_rejoin(self, reset_member_id: bool) -> None:
        """resetStateAndRejoin: UNJOINED, generation reset (and the member id if asked)."""
        self.state = MemberState.UNJOINED
        if reset_member_id:
            self.generation = NO_GEN
        else:
            self.generation = Generation(NO_GENERATION, self.generation.member_id, None)
        self.rejoin_needed = True
        self.needs_join_prepare = True

    def ensure_active_group(self) -> bool:
        """Non-blocking ``ensureActiveGroup``: start the heartbeat thread, then join."""
        if not self.ensure_coordinator_ready():
            return False
        if self._heartbeat_thread is None:
            self._heartbeat_thread = self.env.process(self._heartbeat_loop())
        return self.join_group_if_needed()

    def join_group_if_needed(self) -> bool:
        """``joinGroupIfNeeded`` with a zero timer: True once joined; else False (woken later)."""
        while self.rejoin_needed_or_pending() and self.fatal is None:
            if not self.ensure_coordinator_ready():
                return False
            if self.needs_join_prepare:
                self.needs_join_prepare = False
                if not self.on_join_prepare(
                    self.generation.generation_id, self.generation.member_id
                ):
                    self.needs_join_prepare = True
                    return False
            if self.join_future is None:
                self.join_future = self._initiate_join_group()
            future = self.join_future
            if not future.done:
                return False
            self.join_future = None
            if future.succeeded:
                if (
                    self.generation.generation_id != NO_GENERATION
                    and self.state is MemberState.STABLE
                ):
                    self.on_join_complete(self.generation, future.value)
                    self.needs_join_prepare = True
                else:
                    self.reset_state_and_rejoin(True)
                continue
            error = future.error
            if error is not Errors.MEMBER_ID_REQUIRED:
                self.request_rejoin()  # the rebalance failed
            if error in _REJOIN_AT_ONCE:
                continue
            if error in FATAL_ERRORS or not error.retriable:
                self.fatal = error
                return False
            self.retry_at_s = min(self.retry_at_s, self.env.now + self.retry_backoff_s)
            return False
        return self.fatal is None

    def _initiate_join_group(self) -> RequestFuture:
        """PREPARING_REBALANCE and a JoinGroup (timeout: rebalance timeout + 5 s)."""
        self.state = MemberState.PREPARING_REBALANCE
        request = JoinGroupRequest(
            self.group_id, self.session_s, self.rebalance_timeout_s, self.generation.member_id,
            self.instance_id, "consumer", self.protocols(), self.client_id,
        )  # fmt: skip
        timeout = max(self.request_timeout_s, self.rebalance_timeout_s + JOIN_GROUP_TIMEOUT_LAPSE_S)
        future = RequestFuture()
        sent = self.generation
        if not self._send(request, lambda r: self._on_join_response(r, sent, future), timeout):
            return failed(Errors.COORDINATOR_NOT_AVAILABLE)
        return future

    def _on_join_response(self, response: Any, sent: Generation, future: RequestFuture) -> None:
        """JoinGroupResponseHandler."""
        if self.closed:
            return
        if self._network_failed(response):
            future.fail(Errors.NETWORK_EXCEPTION)
        else:
            self._handle_join(response, sent, future)
        self.wake()

    def _handle_join(self, response: JoinGroupResponse, sent: Generation, future) -> None:
        error = response.error
        if error is Errors.NONE:
            if self.state is not MemberState.PREPARING_REBALANCE:
                future.fail(Errors.UNKNOWN_MEMBER_ID)  # UnjoinedGroupException: rejoin
                return
            self.state = MemberState.COMPLETING_REBALANCE
            # HeartbeatThread.enable(): its timers start now (heartbeat.resetTimeouts()), so a
            # JoinGroup parked longer than the session does not count as a lost session and the
            # first heartbeat goes heartbeat.interval.ms after the join (AbstractCoordinator.java
            # 3.9, JoinGroupResponseHandler and HeartbeatThread.enable)
            self._heartbeat_enabled = True
            self.heartbeat.reset_timeouts(self.env.now)
            self._heartbeat_wakeup.notify()
            self.generation = Generation(
                response.generation_id, response.member_id, response.protocol_name
            )
            if response.leader == response.member_id:
                assignments = self.on_leader_elected(
                    response.protocol_name, response.members, response.skip_assignment
                )
            else:
                assignments = {}
            self._send_sync_group(assignments, future)
        elif error is Errors.UNKNOWN_MEMBER_ID:
            if self.generation == sent:
                self.reset_state_and_rejoin(True)
            future.fail(error)
        elif error in (Errors.COORDINATOR_NOT_AVAILABLE, Errors.NOT_COORDINATOR):
            self.mark_coordinator_unknown()
            future.fail(error)
        elif error is Errors.MEMBER_ID_REQUIRED:
            self.generation = Generation(NO_GENERATION, response.member_id, None)
            self.request_rejoin()  # with the member id the coordinator gave
            future.fail(error)
        else:
            future.fail(error)

    def _send_sync_group(
        self, assignments: dict[str, list[TopicPartition]], future: RequestFuture
    ) -> None:
        sent = self.generation
        request = SyncGroupRequest(
            self.group_id, sent.generation_id, sent.member_id, self.instance_id,
            sent.protocol_name, assignments,
        )  # fmt: skip
        if not self._send(request, lambda r: self._on_sync_response(r, sent, future)):
            future.fail(Errors.COORDINATOR_NOT_AVAILABLE)

    def _on_sync_response(self, response: Any, sent: Generation, future: RequestFuture) -> None:
        """SyncGroupResponseHandler."""
        if self.closed:
            return
        if self._network_failed(response):
            future.fail(Errors.NETWORK_EXCEPTION)
        elif response.error is Errors.NONE:
            if self.generation.generation_id != NO_GENERATION and (
                self.state is MemberState.COMPLETING_REBALANCE
            ):
                self.state = MemberState.STABLE
                self.rejoin_needed = False
                future.complete(list(response.assignment))
            else:
                future.fail(Errors.ILLEGAL_GENERATION)
        else:
            error = response.error
            if error in (Errors.UNKNOWN_MEMBER_ID, Errors.ILLEGAL_GENERATION):
                if self.generation == sent:
                    self.reset_state_and_rejoin(error is not Errors.ILLEGAL_GENERATION)
            elif error in (Errors.COORDINATOR_NOT_AVAILABLE, Errors.NOT_COORDINATOR):
                self.mark_coordinator_unknown()
            future.fail(error)
        self.wake()

    # ---------------------------------------------------------------- heartbeats

    def _heartbeat_loop(self) -> Generator[simpy.Event, Any, None]:
        """HeartbeatThread.run, sleeping until its next deadline."""
        hb = self.heartbeat
        while not self.closed and self.fatal is None:
            now = self.env.now
            if not self._heartbeat_enabled or self.state in (
                MemberState.UNJOINED, MemberState.PREPARING_REBALANCE,
            ):  # fmt: skip
                self._heartbeat_enabled = False
                yield self._heartbeat_wakeup.wait_until()
            elif self.coordinator is None:
                self.lookup_coordinator()
                yield self._heartbeat_wakeup.wait_until(now + self.retry_backoff_s)
            elif now >= hb.session_deadline_s:
                self.mark_coordinator_unknown()  # session timed out without a heartbeat answer
            elif now >= hb.poll_deadline_s:
                self.maybe_leave_group()  # the poll timeout expired
            elif now >= hb.next_heartbeat_s:
                hb.sent_heartbeat(now)
                self._send_heartbeat()
            else:
                deadline = min(hb.next_heartbeat_s, hb.session_deadline_s, hb.poll_deadline_s)
                yield self._heartbeat_wakeup.wait_until(deadline)

    def _send_heartbeat(self) -> None:
        sent = self.generation
        request = HeartbeatRequest(
            self.group_id, sent.generation_id, sent.member_id, self.instance_id
        )
        self._send(request, lambda r: self._on_heartbeat_response(r, sent))

    def _on_heartbeat_response(self, response: Any, sent: Generation) -> None:
        """HeartbeatResponseHandler and the heartbeat thread's listener."""
        if self.closed:
            return
        now = self.env.now
        if self._network_failed(response):
            self.heartbeat.fail_heartbeat(now)
        elif response.error is Errors.NONE:
            self.heartbeat.receive_heartbeat(now)
        elif response.error is Errors.REBALANCE_IN_PROGRESS:
            self.heartbeat.receive_heartbeat(now)
            if self.state is MemberState.STABLE:
                self.request_rejoin()  # the group is already rebalancing
                self.wake()
        elif response.error in (
            Errors.ILLEGAL_GENERATION, Errors.UNKNOWN_MEMBER_ID, Errors.FENCED_INSTANCE_ID,
        ):  # fmt: skip
            if self.generation == sent:
                if response.error is Errors.FENCED_INSTANCE_ID:
                    self.fatal = response.error
                self.reset_state_and_rejoin(response.error is not Errors.ILLEGAL_GENERATION)
                self.heartbeat.fail_heartbeat(now)
                self.wake()
        else:
            if response.error in (Errors.COORDINATOR_NOT_AVAILABLE, Errors.NOT_COORDINATOR):
                self.mark_coordinator_unknown()
            self.heartbeat.fail_heartbeat(now)
        self._heartbeat_wakeup.notify()

    # ---------------------------------------------------------------- leaving

    def maybe_leave_group(self) -> RequestFuture | None:
        """AbstractCoordinator.maybeLeaveGroup: a dynamic member in a group sends LeaveGroup
        (static members never do; the session timeout removes them); then it resets. Returns
        the LeaveGroup's outcome (None when none was sent); it is never resent."""
        future = None
        if (
            self.instance_id is None
            and self.coordinator is not None
            and self.state is not MemberState.UNJOINED
            and self.generation.member_id != UNKNOWN_MEMBER_ID
        ):
            request = LeaveGroupRequest(self.group_id, [(self.generation.member_id, None)])
            future = RequestFuture()
            self._send(request, lambda r: self._on_leave_response(r, future))
        self.reset_state_and_rejoin(True)
        self.wake()
        return future

    def _on_leave_response(self, response: Any, future: RequestFuture) -> None:
        """LeaveGroupResponseHandler: the outcome only (nothing is retried)."""
        if isinstance(response, NetworkFailure):
            future.fail(Errors.NETWORK_EXCEPTION)
        elif response.error is not Errors.NONE:
            future.fail(response.error)
        else:
            future.complete()
        self.wake()

    def poll_heartbeat(self, now: float) -> None:
        """The application polled: the poll timer starts again (``pollHeartbeat``)."""
        self.heartbeat.poll(now)
        if now >= self.heartbeat.next_heartbeat_s:
            self._heartbeat_wakeup.notify()

    def close_heartbeat_thread(self) -> None:
        """Stop heartbeating (close, crash)."""
        self.closed = True
        self._heartbeat_wakeup.notify()
