"""The broker's group coordinator for the classic protocol (≈ Kafka 3.9 ``GroupCoordinator`` with
its ``DelayedJoin``, ``InitialDelayedJoin``, ``DelayedSync`` and ``DelayedHeartbeat``).

It answers JoinGroup, SyncGroup, Heartbeat, LeaveGroup, OffsetCommit and OffsetFetch for the groups
whose ``__consumer_offsets`` partition this broker leads (others get NOT_COORDINATOR), as
GroupCoordinator.scala does:

- a rebalance: PreparingRebalance until every member has rejoined or the rebalance timeout (the
  largest ``max.poll.interval.ms`` of the members) passes; an Empty group's first rebalance waits
  ``group.initial.rebalance.delay.ms``, extended by the same (capped by what is left of the
  rebalance timeout) while new members arrive; then the next generation, the protocol chosen by
  vote, JoinGroup answers (the leader gets the members), CompletingRebalance until the leader's
  SyncGroup brings the assignment, which is stored (acks=all) before the group is Stable;
- sessions: a member is removed when no heartbeat (or other sign of life) arrives within its
  ``session.timeout.ms``; members awaiting a rebalance count as alive; a new member's JoinGroup
  expires after 5 minutes; members that never send SyncGroup are removed after the rebalance
  timeout;
- KIP-394: a dynamic member joining without a member id gets MEMBER_ID_REQUIRED and an id;
- KIP-345: a static member rejoining with a new member id replaces its old id (the old one is
  fenced, FENCED_INSTANCE_ID) and, in a Stable group whose protocol does not change, keeps its
  assignment without a rebalance (the leader is told to skip the assignment).

Rebalances are recorded as ``events`` rows: ``rebalance_start`` when the group leaves Stable or
Empty for PreparingRebalance, ``rebalance_end`` when it is Stable (or Empty) again, each with the
group and its generation in columns (the start row the generation the rebalance leaves, 0 for a
group forming; the end row the new one), the end row with its ``outcome`` (stable, empty,
coordinator_moved) and ``duration_s``. The detail says, for people, the members, protocol and on
the start row Kafka's reason (``member <id> left on LeaveGroup``, ``new member <id>``, ...).

A paused broker (``Broker.pause``) runs no timers: session expiries, DelayedJoin, DelayedSync
and InitialDelayedJoin due while it is paused act when it resumes, in the order they fell due,
before the requests held during the pause are handled (Kafka's purgatory reaper fires expired
operations as soon as the process runs again).
Times are simulated seconds.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from sim.broker.group_metadata import (
    GroupMetadata,
    GroupState,
    MemberMetadata,
    generate_member_id,
)
from sim.broker.group_metadata_manager import GroupMetadataManager
from sim.events import EventKind
from sim.protocol import (
    UNKNOWN_MEMBER_ID,
    Errors,
    HeartbeatRequest,
    HeartbeatResponse,
    JoinGroupMember,
    JoinGroupRequest,
    JoinGroupResponse,
    LeaveGroupRequest,
    LeaveGroupResponse,
    OffsetCommitRequest,
    OffsetCommitResponse,
    OffsetFetchRequest,
    OffsetFetchResponse,
    SyncGroupRequest,
    SyncGroupResponse,
)

if TYPE_CHECKING:
    import simpy

    from sim.broker.replica_manager import ReplicaManager
    from sim.kafka_config import EffectiveConfig
    from sim.metrics import Metrics

#: GroupCoordinator.NewMemberJoinTimeoutMs, seconds.
NEW_MEMBER_JOIN_TIMEOUT_S = 300.0
Reply = Callable[..., None]


@dataclass(slots=True, eq=False)
class _DelayedJoin:
    """A group's pending rebalance completion. initial: an InitialDelayedJoin (completes only at
    its deadline); delay_ms / remaining_ms: its delay and what is left of the rebalance
    timeout, integer milliseconds as in Kafka (so ``remaining_ms != 0`` is exact)."""

    group: GroupMetadata
    initial: bool
    delay_ms: int
    remaining_ms: int = 0
    done: bool = False


@dataclass(slots=True, eq=False)
class _DelayedSync:
    """Members of ``generation`` that owe their SyncGroup are removed at the deadline."""

    group: GroupMetadata
    generation: int
    done: bool = False


@dataclass(slots=True, eq=False)
class _Expiry:
    """A member's session (or a pending member's) deadline; the timer is re-armed lazily, so a
    heartbeat costs no event (``armed_s``: when the current timer fires)."""

    group: GroupMetadata
    member_id: str
    is_pending: bool
    deadline_s: float
    armed_s: float = math.inf
    key: tuple[str, str] = field(default=("", ""))


class GroupCoordinator:
    """The coordinator inside broker ``node`` (see the module docstring)."""

    def __init__(
        self,
        env: simpy.Environment,
        node: str,
        replicas: ReplicaManager,
        config: EffectiveConfig,
        metrics: Metrics,
    ) -> None:
        self.env = env
        self.node = node
        self.metrics = metrics
        self.manager = GroupMetadataManager(env, node, replicas, config, metrics)
        self.min_session_s = config.s("group.min.session.timeout.ms")
        self.max_session_s = config.s("group.max.session.timeout.ms")
        self.initial_delay_ms: int = config["group.initial.rebalance.delay.ms"]
        self.group_max_size: int = config["group.max.size"]
        self.active = False
        self._joins: dict[str, _DelayedJoin] = {}
        self._syncs: dict[str, _DelayedSync] = {}
        self._expiries: dict[tuple[str, str], _Expiry] = {}
        self._rebalancing: dict[str, float] = {}  # group id -> when its rebalance started, s
        self._member_ids = 0
        self.paused = False  # a paused process runs no timers
        self._due_while_paused: list[Callable[[], None]] = []

    # ---------------------------------------------------------------- leadership

    def startup(self) -> None:
        """The broker started: answer group requests (for the partitions it will lead)."""
        self.active = True

    def shutdown(self) -> None:
        """The broker stopped: every group is gone from memory (its log stays)."""
        for partition_id in list(self.manager.owned):
            self.on_resignation(partition_id)
        self.active = False
        self._due_while_paused = []

    def pause(self) -> None:
        """The process is stopped (``Broker.pause``): timers that fall due wait for resume."""
        self.paused = True

    def resume(self) -> None:
        """The process runs again: the timers that fell due meanwhile act now, in order."""
        self.paused = False
        due, self._due_while_paused = self._due_while_paused, []
        for action in due:
            action()

    def _after(self, delay_s: float, action: Callable[[], None]) -> None:
        """Run ``action`` ``delay_s`` from now, or at resume if the broker is paused then."""
        self.env.timeout(max(delay_s, 0.0)).callbacks.append(lambda _: self._on_timer(action))

    def _on_timer(self, action: Callable[[], None]) -> None:
        if self.paused:
            self._due_while_paused.append(action)
        else:
            action()

    def on_election(self, partition_id: int) -> None:
        """This broker now leads ``__consumer_offsets-<partition_id>``: load its groups and
        expect a heartbeat from every loaded member within its session timeout."""
        if partition_id in self.manager.owned:
            return
        for group in self.manager.load(partition_id):
            for member in group.members.values():
                self._complete_and_schedule(group, member, member.session_timeout_s)

    def on_resignation(self, partition_id: int) -> None:
        """This broker no longer leads the partition: its groups become Dead; parked answers
        get NOT_COORDINATOR."""
        for group in self.manager.unload(partition_id):
            self._on_group_unloaded(group)

    def _on_group_unloaded(self, group: GroupMetadata) -> None:
        previous = group.state
        group.transition_to(GroupState.DEAD)
        if previous is GroupState.PREPARING_REBALANCE:
            for member in list(group.members.values()):
                group.invoke_join_callback(member, JoinGroupResponse(Errors.NOT_COORDINATOR))
        elif previous in (GroupState.STABLE, GroupState.COMPLETING_REBALANCE):
            for member in list(group.members.values()):
                group.invoke_sync_callback(member, SyncGroupResponse(Errors.NOT_COORDINATOR))
        gid = group.group_id
        self._joins.pop(gid, None)
        self._syncs.pop(gid, None)
        for key in [k for k in self._expiries if k[0] == gid]:
            del self._expiries[key]
        self._end_rebalance(group, "coordinator_moved")

    def _validate_group_status(self, group_id: str) -> Errors | None:
        """GroupCoordinator.validateGroupStatus."""
        if not self.active:
            return Errors.COORDINATOR_NOT_AVAILABLE
        if not self.manager.is_local(group_id):
            return Errors.NOT_COORDINATOR
        return None

    # ---------------------------------------------------------------- JoinGroup

    def handle_join_group(self, request: JoinGroupRequest, reply: Reply) -> None:
        """GroupCoordinator.handleJoinGroup (request version >= 9: KIP-394, skip assignment)."""
        error = self._validate_group_status(request.group_id)
        if error is not None:
            reply(JoinGroupResponse(error, member_id=request.member_id))
            return
        if not self.min_session_s <= request.session_timeout_s <= self.max_session_s:
            reply(JoinGroupResponse(Errors.INVALID_SESSION_TIMEOUT, member_id=request.member_id))
            return
        unknown = request.member_id == UNKNOWN_MEMBER_ID
        group = self.manager.get_or_create(request.group_id, create=unknown)
        if group is None:
            reply(JoinGroupResponse(Errors.UNKNOWN_MEMBER_ID, member_id=request.member_id))
            return
        if not self._accept_joining_member(group, request.member_id):
            group.remove(request.member_id)
            reply(JoinGroupResponse(Errors.GROUP_MAX_SIZE_REACHED))
        elif unknown:
            self._do_new_member_join_group(group, request, reply)
        else:
            self._do_current_member_join_group(group, request, reply)
        if group.is_state(GroupState.PREPARING_REBALANCE):
            self._try_complete_join(group)

    def _accept_joining_member(self, group: GroupMetadata, member_id: str) -> bool:
        """GroupCoordinator.acceptJoiningMember: group.max.size."""
        if group.state in (GroupState.EMPTY, GroupState.DEAD):
            return True
        if group.is_state(GroupState.PREPARING_REBALANCE):
            awaiting = group.has(member_id) and group.get(member_id).awaiting_join is not None
            return awaiting or group.num_members_awaiting_join < self.group_max_size
        return group.has(member_id) or group.size < self.group_max_size

    def _do_new_member_join_group(
        self, group: GroupMetadata, request: JoinGroupRequest, reply: Reply
    ) -> None:
        if group.is_state(GroupState.DEAD):
            reply(JoinGroupResponse(Errors.COORDINATOR_NOT_AVAILABLE))
            return
        names = [name for name, _ in request.protocols]
        if not group.supports_protocols(request.protocol_type, names):
            reply(JoinGroupResponse(Errors.INCONSISTENT_GROUP_PROTOCOL))
            return
        self._member_ids += 1
        client_id = _client_id(request)
        new_member_id = generate_member_id(
            client_id, request.group_instance_id, f"{self.node}/{self._member_ids}"
        )
        instance_id = request.group_instance_id
        if instance_id is not None:
            old_member_id = group.current_static_member_id(instance_id)
            if old_member_id is not None:
                self._update_static_member_and_rebalance(
                    group, old_member_id, new_member_id, request, reply
                )
            else:
                self._add_member_and_rebalance(group, new_member_id, request, reply)
        else:  # KIP-394: ask for a rejoin with the new id (the JoinGroup v4+ behaviour)
            group.add_pending_member(new_member_id)
            self._schedule_expiry(group, new_member_id, request.session_timeout_s, pending=True)
            reply(JoinGroupResponse(Errors.MEMBER_ID_REQUIRED, member_id=new_member_id))

    def _validate_current_member(
        self, group: GroupMetadata, member_id: str, instance_id: str | None
    ) -> Errors | None:
        """GroupCoordinator.validateCurrentMember: a static id must map to this member id."""
        if instance_id is not None:
            current = group.current_static_member_id(instance_id)
            if current is None:
                return Errors.UNKNOWN_MEMBER_ID
            if current != member_id:
                return Errors.FENCED_INSTANCE_ID
            return None
        return None if group.has(member_id) else Errors.UNKNOWN_MEMBER_ID

    def _do_current_member_join_group(
        self, group: GroupMetadata, request: JoinGroupRequest, reply: Reply
    ) -> None:
        member_id = request.member_id
        if group.is_state(GroupState.DEAD):
            reply(JoinGroupResponse(Errors.COORDINATOR_NOT_AVAILABLE, member_id=member_id))
            return
        names = [name for name, _ in request.protocols]
        if not group.supports_protocols(request.protocol_type, names):
            reply(JoinGroupResponse(Errors.INCONSISTENT_GROUP_PROTOCOL, member_id=member_id))
            return
        if group.is_pending_member(member_id):
            self._add_member_and_rebalance(group, member_id, request, reply)
            return
        error = self._validate_current_member(group, member_id, request.group_instance_id)
        if error is not None:
            reply(JoinGroupResponse(error, member_id=member_id))
            return
        member = group.get(member_id)
        state = group.state
        if state is GroupState.PREPARING_REBALANCE:
            self._update_member_and_rebalance(group, member, request, reply)
        elif state is GroupState.COMPLETING_REBALANCE:
            if member.matches(request.protocols):  # lost its JoinGroup answer: same generation
                reply(self._join_result(group, member, with_members=group.is_leader(member_id)))
            else:
                self._update_member_and_rebalance(group, member, request, reply)
        elif state is GroupState.STABLE:
            if group.is_leader(member_id) or not member.matches(request.protocols):
                self._update_member_and_rebalance(group, member, request, reply)
            else:
                reply(self._join_result(group, member, with_members=False))
        else:  # Empty or Dead: let the member reset its generation and rejoin
            reply(JoinGroupResponse(Errors.UNKNOWN_MEMBER_ID, member_id=member_id))

    def _join_result(
        self, group: GroupMetadata, member: MemberMetadata, with_members: bool, skip: bool = False
    ) -> JoinGroupResponse:
        members = []
        if with_members:
            members = [JoinGroupMember(*m) for m in group.current_member_metadata()]
        return JoinGroupResponse(
            Errors.NONE, group.generation_id, group.protocol_name, group.leader_id or "",
            member.member_id, members, skip,
        )  # fmt: skip

    def _add_member_and_rebalance(
        self, group: GroupMetadata, member_id: str, request: JoinGroupRequest, reply: Reply
    ) -> None:
        member = MemberMetadata(
            member_id, request.group_instance_id, _client_id(request), request.rebalance_timeout_s,
            request.session_timeout_s, request.protocol_type, request.protocols,
        )  # fmt: skip
        member.is_new = True
        if group.is_state(GroupState.PREPARING_REBALANCE) and group.generation_id == 0:
            group.new_member_added = True
        group.add(member, reply)
        self._complete_and_schedule(group, member, NEW_MEMBER_JOIN_TIMEOUT_S)
        self._maybe_prepare_rebalance(group, f"new member {member_id}")

    def _update_member_and_rebalance(
        self, group: GroupMetadata, member: MemberMetadata, request: JoinGroupRequest, reply: Reply
    ) -> None:
        group.update_member(
            member, request.protocols, request.rebalance_timeout_s, request.session_timeout_s,
            reply,
        )  # fmt: skip
        self._maybe_prepare_rebalance(group, f"member {member.member_id} rejoined")

    def _update_static_member_and_rebalance(
        self,
        group: GroupMetadata,
        old_member_id: str,
        new_member_id: str,
        request: JoinGroupRequest,
        reply: Reply,
    ) -> None:
        """GroupCoordinator.updateStaticMemberAndRebalance."""
        instance_id = request.group_instance_id
        current_leader = group.leader_id

        def fence(old: MemberMetadata) -> None:
            group.invoke_join_callback(
                old, JoinGroupResponse(Errors.FENCED_INSTANCE_ID, member_id=old_member_id)
            )
            group.invoke_sync_callback(old, SyncGroupResponse(Errors.FENCED_INSTANCE_ID))

        member = group.replace_static_member(instance_id, old_member_id, new_member_id, fence)
        self._complete_and_schedule(group, member, member.session_timeout_s)
        old = (list(member.protocols), member.rebalance_timeout_s, member.session_timeout_s)
        group.update_member(
            member, request.protocols, request.rebalance_timeout_s, request.session_timeout_s,
            reply,
        )  # fmt: skip
        if group.is_state(GroupState.STABLE):
            if group.protocol_name != group.select_protocol():
                self._maybe_prepare_rebalance(
                    group, f"static member {instance_id} changed protocol"
                )
                return
            assignment = {m.member_id: m.assignment for m in group.members.values()}

            def stored(error: Errors) -> None:
                if error is not Errors.NONE:
                    # As GroupCoordinator.updateStaticMemberAndRebalance (3.9) does when the
                    # new member id could not be persisted: revert the member to its old id and
                    # old protocols/timeouts (with no parked JoinGroup: updateMember(..., null)),
                    # restart its session, and answer this JoinGroup with the error and
                    # UNKNOWN_MEMBER_ID. The old id stays valid, so the member is not fenced by
                    # a failed write; like Kafka, the group's state is not checked again here.
                    group.update_member(member, old[0], old[1], old[2], None)
                    back = group.replace_static_member(
                        instance_id, new_member_id, old_member_id, lambda m: None
                    )
                    self._complete_and_schedule(group, back, back.session_timeout_s)
                    reply(
                        JoinGroupResponse(
                            error,
                            group.generation_id,
                            group.protocol_name,
                            current_leader or "",
                            UNKNOWN_MEMBER_ID,
                        )  # fmt: skip
                    )
                    return
                is_leader = group.is_leader(new_member_id)
                result = self._join_result(group, member, with_members=is_leader, skip=is_leader)
                group.invoke_join_callback(member, result)

            self.manager.store_group(group, assignment, stored)
        elif group.is_state(GroupState.COMPLETING_REBALANCE):
            self._prepare_rebalance(group, f"static member {instance_id} rejoined during sync")

    # ---------------------------------------------------------------- rebalance

    def _maybe_prepare_rebalance(self, group: GroupMetadata, reason: str) -> None:
        if group.can_rebalance():
            self._prepare_rebalance(group, reason)

    def _prepare_rebalance(self, group: GroupMetadata, reason: str) -> None:
        """GroupCoordinator.prepareRebalance: InitialDelayedJoin for an Empty group, else a
        DelayedJoin of the rebalance timeout."""
        if group.is_state(GroupState.COMPLETING_REBALANCE):
            self._reset_and_propagate_assignment_error(group, Errors.REBALANCE_IN_PROGRESS)
        self._remove_sync_expiration(group)
        delay_ms = self.initial_delay_ms
        if group.is_state(GroupState.EMPTY):
            remaining = max(_ms(group.rebalance_timeout_s) - delay_ms, 0)
            op = _DelayedJoin(group, True, delay_ms, remaining)
        else:
            op = _DelayedJoin(group, False, _ms(group.rebalance_timeout_s))
        group.transition_to(GroupState.PREPARING_REBALANCE)
        self._start_rebalance(group, reason)
        self._watch_join(op)

    def _watch_join(self, op: _DelayedJoin) -> None:
        """tryCompleteElseWatch: complete now if possible, else at the deadline."""
        self._joins[op.group.group_id] = op
        if not op.initial and self._try_complete_join(op.group):
            return
        self._after(op.delay_ms / 1000.0, lambda: self._expire_join(op))

    def _try_complete_join(self, group: GroupMetadata) -> bool:
        """DelayedJoin.tryComplete: every member has rejoined."""
        op = self._joins.get(group.group_id)
        if op is None or op.done or op.initial or not group.has_all_members_joined():
            return False
        op.done = True
        del self._joins[group.group_id]
        self._on_complete_join(group)
        return True

    def _expire_join(self, op: _DelayedJoin) -> None:
        """The delay passed: InitialDelayedJoin.onComplete (maybe extend) or onCompleteJoin."""
        if op.done:
            return
        op.done = True
        group = op.group
        if self._joins.get(group.group_id) is op:
            del self._joins[group.group_id]
        if op.initial and group.new_member_added and op.remaining_ms != 0:
            group.new_member_added = False
            delay = min(self.initial_delay_ms, op.remaining_ms)
            remaining = max(op.remaining_ms - op.delay_ms, 0)
            self._watch_join(_DelayedJoin(group, True, delay, remaining))
            return
        self._on_complete_join(group)

    def _on_complete_join(self, group: GroupMetadata) -> None:
        """GroupCoordinator.onCompleteJoin: drop dynamic members that did not rejoin, start the
        next generation, answer every parked JoinGroup."""
        for member in group.not_yet_rejoined_members():
            if not member.is_static:
                group.remove(member.member_id)
                self._expiries.pop((group.group_id, member.member_id), None)
        if group.is_state(GroupState.DEAD):
            return
        if not group.maybe_elect_new_joined_leader() and group.members:
            self._watch_join(_DelayedJoin(group, False, _ms(group.rebalance_timeout_s)))
            return
        group.init_next_generation()
        if group.is_state(GroupState.EMPTY):
            self.manager.store_group(group, {}, lambda error: None)
            self._end_rebalance(group, "empty")
            return
        for member in list(group.members.values()):
            result = self._join_result(
                group, member, with_members=group.is_leader(member.member_id)
            )
            group.invoke_join_callback(member, result)
            self._complete_and_schedule(group, member, member.session_timeout_s)
            member.is_new = False
            group.pending_sync_members[member.member_id] = None
        self._schedule_pending_sync(group)

    def _schedule_pending_sync(self, group: GroupMetadata) -> None:
        op = _DelayedSync(group, group.generation_id)
        self._syncs[group.group_id] = op
        self._after(group.rebalance_timeout_s, lambda: self._expire_pending_sync(op))

    def _expire_pending_sync(self, op: _DelayedSync) -> None:
        """GroupCoordinator.onExpirePendingSync: members that never sent SyncGroup are removed."""
        group = op.group
        if self._syncs.get(group.group_id) is not op:
            return
        del self._syncs[group.group_id]
        if op.generation != group.generation_id or group.state not in (
            GroupState.COMPLETING_REBALANCE, GroupState.STABLE,
        ):  # fmt: skip
            return
        if group.has_received_sync_from_all_members():
            return
        for member_id in list(group.pending_sync_members):
            group.remove(member_id)
            self._expiries.pop((group.group_id, member_id), None)
        self._prepare_rebalance(group, "members did not send SyncGroup")

    def _remove_sync_expiration(self, group: GroupMetadata) -> None:
        """GroupCoordinator.removeSyncExpiration: no member owes a SyncGroup any more; the
        pending DelayedSync is cancelled."""
        group.pending_sync_members.clear()
        self._syncs.pop(group.group_id, None)

    def _remove_pending_sync_member(self, group: GroupMetadata, member_id: str) -> None:
        group.pending_sync_members.pop(member_id, None)
        if group.has_received_sync_from_all_members():
            self._syncs.pop(group.group_id, None)

    def _remove_member_and_update_group(
        self, group: GroupMetadata, member: MemberMetadata, reason: str
    ) -> None:
        """GroupCoordinator.removeMemberAndUpdateGroup; ``reason`` names the rebalance."""
        group.invoke_join_callback(member, JoinGroupResponse(Errors.UNKNOWN_MEMBER_ID))
        group.remove(member.member_id)
        if group.state in (GroupState.STABLE, GroupState.COMPLETING_REBALANCE):
            self._maybe_prepare_rebalance(group, reason)
        elif group.is_state(GroupState.PREPARING_REBALANCE):
            self._try_complete_join(group)

    # ---------------------------------------------------------------- SyncGroup

    def handle_sync_group(self, request: SyncGroupRequest, reply: Reply) -> None:
        """GroupCoordinator.handleSyncGroup."""
        error = self._validate_group_status(request.group_id)
        if error is not None:
            reply(SyncGroupResponse(error))
            return
        group = self.manager.groups.get(request.group_id)
        if group is None:
            reply(SyncGroupResponse(Errors.UNKNOWN_MEMBER_ID))
            return
        error = self._validate_generation(group, request, Errors.COORDINATOR_NOT_AVAILABLE)
        named = request.protocol_name is not None
        if error is None and named and request.protocol_name != group.protocol_name:
            error = Errors.INCONSISTENT_GROUP_PROTOCOL
        if error is not None:
            reply(SyncGroupResponse(error))
        elif group.is_state(GroupState.EMPTY):
            reply(SyncGroupResponse(Errors.UNKNOWN_MEMBER_ID))
        elif group.is_state(GroupState.PREPARING_REBALANCE):
            reply(SyncGroupResponse(Errors.REBALANCE_IN_PROGRESS))
        elif group.is_state(GroupState.COMPLETING_REBALANCE):
            group.get(request.member_id).awaiting_sync = reply
            self._remove_pending_sync_member(group, request.member_id)
            if group.is_leader(request.member_id):
                self._store_assignment(group, request)
        else:  # Stable: the current assignment
            self._remove_pending_sync_member(group, request.member_id)
            member = group.get(request.member_id)
            reply(SyncGroupResponse(Errors.NONE, group.protocol_name, list(member.assignment)))
            self._complete_and_schedule(group, member, member.session_timeout_s)

    def _validate_generation(
        self, group: GroupMetadata, request: Any, dead_error: Errors
    ) -> Errors | None:
        """validateSyncGroup / validateHeartbeat: live group, known member, same generation."""
        if group.is_state(GroupState.DEAD):
            return dead_error
        error = self._validate_current_member(group, request.member_id, request.group_instance_id)
        if error is None and request.generation_id != group.generation_id:
            error = Errors.ILLEGAL_GENERATION
        return error

    def _store_assignment(self, group: GroupMetadata, request: SyncGroupRequest) -> None:
        """The leader's assignment: store it (members missing from it get none), then Stable."""
        generation = group.generation_id
        assignment = {m: list(request.assignments.get(m, [])) for m in group.members}

        def stored(error: Errors) -> None:
            if not group.is_state(GroupState.COMPLETING_REBALANCE):
                return
            if generation != group.generation_id:
                return
            if error is not Errors.NONE:
                self._reset_and_propagate_assignment_error(group, error)
                self._maybe_prepare_rebalance(group, f"storing the assignment failed: {error.name}")
                return
            for member in group.members.values():
                member.assignment = assignment.get(member.member_id, [])
            self._propagate_assignment(group, Errors.NONE)
            group.transition_to(GroupState.STABLE)
            self._end_rebalance(group, "stable")

        self.manager.store_group(group, assignment, stored)

    def _reset_and_propagate_assignment_error(self, group: GroupMetadata, error: Errors) -> None:
        for member in group.members.values():
            member.assignment = []
        self._propagate_assignment(group, error)

    def _propagate_assignment(self, group: GroupMetadata, error: Errors) -> None:
        """Answer the parked SyncGroups; each answered member's session starts again."""
        protocol = group.protocol_name if error is Errors.NONE else None
        for member in list(group.members.values()):
            answer = SyncGroupResponse(error, protocol, list(member.assignment))
            if group.invoke_sync_callback(member, answer):
                self._complete_and_schedule(group, member, member.session_timeout_s)

    # ---------------------------------------------------------------- Heartbeat and LeaveGroup

    def handle_heartbeat(self, request: HeartbeatRequest, reply: Reply) -> None:
        """GroupCoordinator.handleHeartbeat."""
        error = self._validate_group_status(request.group_id)
        if error is not None:
            reply(HeartbeatResponse(error))
            return
        group = self.manager.groups.get(request.group_id)
        if group is None:
            reply(HeartbeatResponse(Errors.UNKNOWN_MEMBER_ID))
            return
        error = self._validate_generation(group, request, Errors.COORDINATOR_NOT_AVAILABLE)
        if error is not None:
            reply(HeartbeatResponse(error))
        elif group.is_state(GroupState.EMPTY):
            reply(HeartbeatResponse(Errors.UNKNOWN_MEMBER_ID))
        else:
            member = group.get(request.member_id)
            self._complete_and_schedule(group, member, member.session_timeout_s)
            rebalancing = group.is_state(GroupState.PREPARING_REBALANCE)
            reply(HeartbeatResponse(Errors.REBALANCE_IN_PROGRESS if rebalancing else Errors.NONE))

    def handle_leave_group(self, request: LeaveGroupRequest, reply: Reply) -> None:
        """GroupCoordinator.handleLeaveGroup (by member id, or by instance id for static ones)."""
        error = self._validate_group_status(request.group_id)
        if error is not None:
            reply(LeaveGroupResponse(error))
            return
        group = self.manager.groups.get(request.group_id)
        if group is None:
            reply(
                LeaveGroupResponse(Errors.NONE, [Errors.UNKNOWN_MEMBER_ID] * len(request.members))
            )
            return
        if group.is_state(GroupState.DEAD):
            reply(LeaveGroupResponse(Errors.COORDINATOR_NOT_AVAILABLE))
            return
        errors = [
            self._leave(group, member_id, instance) for member_id, instance in request.members
        ]
        reply(LeaveGroupResponse(Errors.NONE, errors))

    def _leave(self, group: GroupMetadata, member_id: str, instance_id: str | None) -> Errors:
        if member_id == UNKNOWN_MEMBER_ID:
            current = None if instance_id is None else group.current_static_member_id(instance_id)
            if current is None:
                return Errors.UNKNOWN_MEMBER_ID
            member_id = current
        elif group.is_pending_member(member_id):
            group.remove(member_id)
            self._expiries.pop((group.group_id, member_id), None)
            if group.is_state(GroupState.PREPARING_REBALANCE):
                self._try_complete_join(group)
            return Errors.NONE
        else:
            error = self._validate_current_member(group, member_id, instance_id)
            if error is not None:
                return error
        reason = f"member {member_id} left on LeaveGroup"
        self._remove_member_and_update_group(group, group.get(member_id), reason)
        self._expiries.pop((group.group_id, member_id), None)
        return Errors.NONE

    # ---------------------------------------------------------------- offsets

    def handle_offset_commit(self, request: OffsetCommitRequest, reply: Reply) -> None:
        """GroupCoordinator.handleCommitOffsets (non-transactional)."""
        error = self._validate_group_status(request.group_id)
        group = None
        if error is None:
            group = self.manager.groups.get(request.group_id)
            if group is None:
                if request.generation_id < 0:  # a consumer without group management
                    group = self.manager.get_or_create(request.group_id, create=True)
                else:
                    error = Errors.ILLEGAL_GENERATION
        if error is None:
            error = self._validate_offset_commit(group, request)
        if error is None and group.is_state(GroupState.COMPLETING_REBALANCE):
            error = Errors.REBALANCE_IN_PROGRESS
        if error is not None:
            reply(OffsetCommitResponse({tp: error for tp in request.offsets}))
            return
        if group.state in (GroupState.STABLE, GroupState.PREPARING_REBALANCE):
            member = group.get(request.member_id)
            self._complete_and_schedule(group, member, member.session_timeout_s)
        self.manager.store_offsets(
            group, dict(request.offsets), lambda errors: reply(OffsetCommitResponse(errors))
        )

    def _validate_offset_commit(
        self, group: GroupMetadata, request: OffsetCommitRequest
    ) -> Errors | None:
        """GroupCoordinator.validateOffsetCommit."""
        if group.is_state(GroupState.DEAD):
            return Errors.COORDINATOR_NOT_AVAILABLE
        if request.generation_id < 0 and group.is_state(GroupState.EMPTY):
            return None
        if (
            request.generation_id >= 0
            or request.member_id != UNKNOWN_MEMBER_ID
            or request.group_instance_id is not None
        ):
            error = self._validate_current_member(
                group, request.member_id, request.group_instance_id
            )
            if error is None and request.generation_id != group.generation_id:
                error = Errors.ILLEGAL_GENERATION
            return error
        if not group.is_state(GroupState.EMPTY):
            return Errors.UNKNOWN_MEMBER_ID
        return None

    def handle_offset_fetch(self, request: OffsetFetchRequest, reply: Reply) -> None:
        """GroupCoordinator.handleFetchOffsets: offsets whatever the group's state."""
        error = self._validate_group_status(request.group_id)
        if error is not None:
            reply(OffsetFetchResponse(error))
            return
        offsets = self.manager.get_offsets(
            request.group_id, request.partitions, request.require_stable
        )
        reply(OffsetFetchResponse(Errors.NONE, offsets))

    # ---------------------------------------------------------------- sessions

    def _complete_and_schedule(
        self, group: GroupMetadata, member: MemberMetadata, timeout_s: float
    ) -> None:
        """completeAndScheduleNextExpiration: the member is alive now; next deadline."""
        member.heartbeat_satisfied = False
        self._schedule_expiry(group, member.member_id, timeout_s, pending=False)

    def _schedule_expiry(
        self, group: GroupMetadata, member_id: str, timeout_s: float, pending: bool
    ) -> None:
        key = (group.group_id, member_id)
        expiry = self._expiries.get(key)
        deadline = self.env.now + timeout_s
        if expiry is None or expiry.group is not group:
            expiry = self._expiries[key] = _Expiry(group, member_id, pending, deadline, key=key)
        expiry.is_pending = pending
        expiry.deadline_s = deadline
        if deadline < expiry.armed_s:
            self._arm(expiry)

    def _arm(self, expiry: _Expiry) -> None:
        armed = expiry.armed_s = expiry.deadline_s
        self._after(armed - self.env.now, lambda: self._on_expiry_timer(expiry, armed))

    def _on_expiry_timer(self, expiry: _Expiry, armed_s: float) -> None:
        if self._expiries.get(expiry.key) is not expiry or armed_s != expiry.armed_s:
            return  # cancelled, or a sooner timer replaced this one
        expiry.armed_s = math.inf
        if expiry.deadline_s > self.env.now + 1e-9:
            self._arm(expiry)  # heartbeats moved the deadline: wait for the new one
            return
        del self._expiries[expiry.key]
        self._on_expire_heartbeat(expiry.group, expiry.member_id, expiry.is_pending)

    def _on_expire_heartbeat(self, group: GroupMetadata, member_id: str, pending: bool) -> None:
        """GroupCoordinator.onExpireHeartbeat."""
        if group.is_state(GroupState.DEAD):
            return
        if pending:
            if group.is_pending_member(member_id):
                group.remove(member_id)
                if group.is_state(GroupState.PREPARING_REBALANCE):
                    self._try_complete_join(group)
            return
        if not group.has(member_id):
            return
        member = group.get(member_id)
        if not member.has_satisfied_heartbeat():
            reason = f"member {member_id} removed on heartbeat expiration"
            self._remove_member_and_update_group(group, member, reason)

    # ---------------------------------------------------------------- events

    def _start_rebalance(self, group: GroupMetadata, reason: str) -> None:
        """A ``rebalance_start`` row, unless the group is already rebalancing."""
        if group.group_id in self._rebalancing:
            return
        self._rebalancing[group.group_id] = self.env.now
        self.metrics.event(
            self.env.now, EventKind.REBALANCE_START, self.node,
            detail=f"{_describe(group)} reason={reason.replace(' ', '_')}",
            group=group.group_id, generation=group.generation_id,
        )  # fmt: skip

    def _end_rebalance(self, group: GroupMetadata, outcome: str) -> None:
        """A ``rebalance_end`` row closing the group's open rebalance, if any."""
        started = self._rebalancing.pop(group.group_id, None)
        if started is None:
            return
        duration_s = self.env.now - started
        self.metrics.event(
            self.env.now, EventKind.REBALANCE_END, self.node,
            detail=f"{_describe(group)} outcome={outcome} duration_s={duration_s:.6f}",
            group=group.group_id, generation=group.generation_id, outcome=outcome,
            duration_s=duration_s,
        )  # fmt: skip


def _describe(group: GroupMetadata) -> str:
    return (
        f"group={group.group_id} generation={group.generation_id} members={group.size} "
        f"protocol={group.protocol_name or '-'}"
    )


def _ms(seconds: float) -> int:
    """Seconds back to the integer milliseconds Kafka's timeouts are (they came from *.ms)."""
    return round(seconds * 1000.0)


def _client_id(request: JoinGroupRequest) -> str:
    """The client id of the request header (``client.id``; Kafka's default is generated)."""
    return request.client_id or "consumer"
