"""A consumer group as its coordinator keeps it (≈ Kafka 3.9 ``GroupMetadata`` and
``MemberMetadata``, core/src/main/scala/kafka/coordinator/group).

Pure state, no time: the members with their protocols and callbacks, the static members
(``group.instance.id`` -> member id), pending (KIP-394) and pending-sync members, the generation,
the selected protocol, the leader, and the committed offsets. The state machine and its valid
transitions are Kafka's (``GroupState.validPreviousStates``).

Determinism: Kafka keeps members in a HashMap, so "the first member" (new leader after the leader
leaves, first rejoined member) and the winner of a tied protocol vote follow hash order there;
here they follow the order members were added (a dict), which is one of the orders Kafka allows.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Callable
from enum import Enum
from typing import Any

from sim.protocol import OffsetAndMetadata, Subscription, TopicPartition

JoinCallback = Callable[[Any], None]
SyncCallback = Callable[[Any], None]


class GroupState(Enum):
    """Kafka's ``GroupState`` objects of the classic coordinator."""

    EMPTY = "Empty"  # no members; may hold committed offsets
    PREPARING_REBALANCE = "PreparingRebalance"  # waiting for members to (re)join
    COMPLETING_REBALANCE = "CompletingRebalance"  # waiting for the leader's assignment
    STABLE = "Stable"  # assignment propagated; heartbeats expected
    DEAD = "Dead"  # unloaded (coordinator moved) or deleted


#: GroupState.validPreviousStates, per target state (GroupMetadata.scala).
VALID_PREVIOUS_STATES: dict[GroupState, frozenset[GroupState]] = {
    GroupState.PREPARING_REBALANCE: frozenset(
        {GroupState.STABLE, GroupState.COMPLETING_REBALANCE, GroupState.EMPTY}
    ),
    GroupState.COMPLETING_REBALANCE: frozenset({GroupState.PREPARING_REBALANCE}),
    GroupState.STABLE: frozenset({GroupState.COMPLETING_REBALANCE}),
    GroupState.DEAD: frozenset(GroupState),
    GroupState.EMPTY: frozenset({GroupState.PREPARING_REBALANCE}),
}


class MemberMetadata:
    """One member (MemberMetadata.scala): protocols by preference, timeouts in seconds
    (``session.timeout.ms`` and the rebalance timeout = ``max.poll.interval.ms``), assignment,
    the callbacks of a parked JoinGroup / SyncGroup, and its heartbeat expectation."""

    def __init__(
        self,
        member_id: str,
        group_instance_id: str | None,
        client_id: str,
        rebalance_timeout_s: float,
        session_timeout_s: float,
        protocol_type: str,
        protocols: list[tuple[str, Subscription]],
    ) -> None:
        self.member_id = member_id
        self.group_instance_id = group_instance_id
        self.client_id = client_id
        self.rebalance_timeout_s = rebalance_timeout_s
        self.session_timeout_s = session_timeout_s
        self.protocol_type = protocol_type
        self.protocols = list(protocols)
        self.assignment: list[TopicPartition] = []
        self.awaiting_join: JoinCallback | None = None
        self.awaiting_sync: SyncCallback | None = None
        self.is_new = False
        self.heartbeat_satisfied = False

    @property
    def is_static(self) -> bool:
        """Whether the member has a ``group.instance.id`` (KIP-345)."""
        return self.group_instance_id is not None

    @property
    def protocol_names(self) -> list[str]:
        """The member's protocols (assignor names), by preference."""
        return [name for name, _ in self.protocols]

    def metadata(self, protocol: str) -> Subscription:
        """The subscription the member sent with ``protocol``."""
        for name, subscription in self.protocols:
            if name == protocol:
                return subscription
        raise ValueError(f"member {self.member_id} does not support protocol {protocol!r}")

    def has_satisfied_heartbeat(self) -> bool:
        """MemberMetadata.hasSatisfiedHeartbeat: members awaiting a rebalance count as alive,
        except new ones (they may expire while awaiting their first join)."""
        if self.is_new:
            return self.heartbeat_satisfied
        if self.awaiting_join is not None or self.awaiting_sync is not None:
            return True
        return self.heartbeat_satisfied

    def matches(self, protocols: list[tuple[str, Subscription]]) -> bool:
        """Same protocols with the same metadata, in the same order."""
        return self.protocols == list(protocols)

    def vote(self, candidates: set[str]) -> str:
        """The member's most preferred protocol among ``candidates``."""
        for name in self.protocol_names:
            if name in candidates:
                return name
        raise ValueError(f"member {self.member_id} supports none of {sorted(candidates)}")


class GroupMetadata:
    """A group on its coordinator (GroupMetadata.scala), starting in ``initial_state``."""

    def __init__(self, group_id: str, initial_state: GroupState = GroupState.EMPTY) -> None:
        self.group_id = group_id
        self.state = initial_state
        self.protocol_type: str | None = None
        self.protocol_name: str | None = None
        self.generation_id = 0
        self.leader_id: str | None = None
        self.members: dict[str, MemberMetadata] = {}
        self.static_members: dict[str, str] = {}
        self.pending_members: dict[str, None] = {}
        self.pending_sync_members: dict[str, None] = {}
        self.num_members_awaiting_join = 0
        self.supported_protocols: dict[str, int] = {}
        self.new_member_added = False
        #: committed offsets (appended and replicated), and those still being appended
        self.offsets: dict[TopicPartition, OffsetAndMetadata] = {}
        self.pending_offset_commits: dict[TopicPartition, OffsetAndMetadata] = {}

    # ---------------------------------------------------------------- queries

    def is_state(self, state: GroupState) -> bool:
        """``group.is(state)``."""
        return self.state is state

    def has(self, member_id: str) -> bool:
        """Whether ``member_id`` is a member (not counting pending ones)."""
        return member_id in self.members

    def get(self, member_id: str) -> MemberMetadata:
        """The member ``member_id`` (KeyError if none)."""
        return self.members[member_id]

    @property
    def size(self) -> int:
        """Number of members."""
        return len(self.members)

    def is_leader(self, member_id: str) -> bool:
        """Whether ``member_id`` leads the group."""
        return self.leader_id == member_id

    def is_pending_member(self, member_id: str) -> bool:
        """Whether ``member_id`` was handed out by MEMBER_ID_REQUIRED and has not joined yet."""
        return member_id in self.pending_members

    def current_static_member_id(self, group_instance_id: str) -> str | None:
        """The member id now mapped to ``group_instance_id``, if any."""
        return self.static_members.get(group_instance_id)

    def not_yet_rejoined_members(self) -> list[MemberMetadata]:
        """Members without a parked JoinGroup, in member order."""
        return [m for m in self.members.values() if m.awaiting_join is None]

    def has_all_members_joined(self) -> bool:
        """Every member has a parked JoinGroup and no pending member is outstanding."""
        return len(self.members) == self.num_members_awaiting_join and not self.pending_members

    def has_received_sync_from_all_members(self) -> bool:
        """No member of this generation still owes its SyncGroup."""
        return not self.pending_sync_members

    @property
    def rebalance_timeout_s(self) -> float:
        """The largest rebalance timeout of the members, s (0 without members)."""
        return max((m.rebalance_timeout_s for m in self.members.values()), default=0.0)

    def can_rebalance(self) -> bool:
        """Whether PreparingRebalance may follow the current state."""
        return self.state in VALID_PREVIOUS_STATES[GroupState.PREPARING_REBALANCE]

    # ---------------------------------------------------------------- members

    def add(self, member: MemberMetadata, callback: JoinCallback | None = None) -> None:
        """GroupMetadata.add: the first member sets the protocol type and leads."""
        if member.group_instance_id is not None:
            if member.group_instance_id in self.static_members:
                raise ValueError(
                    f"static member {member.group_instance_id} is already in {self.group_id}"
                )
            self.static_members[member.group_instance_id] = member.member_id
        if not self.members:
            self.protocol_type = member.protocol_type
        if self.leader_id is None:
            self.leader_id = member.member_id
        self.members[member.member_id] = member
        self._count_protocols(member, +1)
        member.awaiting_join = callback
        if callback is not None:
            self.num_members_awaiting_join += 1
        self.pending_members.pop(member.member_id, None)

    def remove(self, member_id: str) -> None:
        """GroupMetadata.remove: a removed leader is replaced by the first member left."""
        member = self.members.pop(member_id, None)
        if member is not None:
            self._count_protocols(member, -1)
            if member.awaiting_join is not None:
                self.num_members_awaiting_join -= 1
            if member.group_instance_id is not None:
                self.static_members.pop(member.group_instance_id, None)
        if self.is_leader(member_id):
            self.leader_id = next(iter(self.members), None)
        self.pending_members.pop(member_id, None)
        self.pending_sync_members.pop(member_id, None)

    def add_pending_member(self, member_id: str) -> None:
        """A dynamic member got MEMBER_ID_REQUIRED and is expected back with this id."""
        if self.has(member_id):
            raise ValueError(f"pending member {member_id} is already a member")
        self.pending_members[member_id] = None

    def maybe_elect_new_joined_leader(self) -> bool:
        """A leader that did not rejoin is replaced by the first member that did; False when
        the group has no leader or no member rejoined."""
        if self.leader_id is None:
            return False
        if self.members[self.leader_id].awaiting_join is not None:
            return True
        joined = next((m for m in self.members.values() if m.awaiting_join is not None), None)
        if joined is None:
            return False
        self.leader_id = joined.member_id
        return True

    def replace_static_member(
        self, group_instance_id: str, old_member_id: str, new_member_id: str, fenced: Any
    ) -> MemberMetadata:
        """A static member rejoined with a new member id: the old id is fenced (its parked
        JoinGroup/SyncGroup answer ``fenced(member)``), everything else is kept."""
        member = self.members.pop(old_member_id)
        fenced(member)
        member.member_id = new_member_id
        self.members[new_member_id] = member
        if self.is_leader(old_member_id):
            self.leader_id = new_member_id
        self.static_members[group_instance_id] = new_member_id
        return member

    def update_member(
        self,
        member: MemberMetadata,
        protocols: list[tuple[str, Subscription]],
        rebalance_timeout_s: float,
        session_timeout_s: float,
        callback: JoinCallback | None,
    ) -> None:
        """New protocols, timeouts and parked JoinGroup callback of an existing member."""
        self._count_protocols(member, -1)
        member.protocols = list(protocols)
        self._count_protocols(member, +1)
        member.rebalance_timeout_s = rebalance_timeout_s
        member.session_timeout_s = session_timeout_s
        if callback is not None and member.awaiting_join is None:
            self.num_members_awaiting_join += 1
        elif callback is None and member.awaiting_join is not None:
            self.num_members_awaiting_join -= 1
        member.awaiting_join = callback

    def invoke_join_callback(self, member: MemberMetadata, result: Any) -> None:
        """maybeInvokeJoinCallback: answer the member's parked JoinGroup, if any."""
        callback = member.awaiting_join
        if callback is not None:
            member.awaiting_join = None
            self.num_members_awaiting_join -= 1
            callback(result)

    def invoke_sync_callback(self, member: MemberMetadata, result: Any) -> bool:
        """maybeInvokeSyncCallback: answer the member's parked SyncGroup; True if there was one."""
        callback = member.awaiting_sync
        if callback is None:
            return False
        member.awaiting_sync = None
        callback(result)
        return True

    # ---------------------------------------------------------------- protocols and generations

    def _count_protocols(self, member: MemberMetadata, delta: int) -> None:
        for name in member.protocol_names:
            self.supported_protocols[name] = self.supported_protocols.get(name, 0) + delta

    def candidate_protocols(self) -> set[str]:
        """Protocols every member supports."""
        n = len(self.members)
        return {name for name, count in self.supported_protocols.items() if count == n}

    def supports_protocols(self, protocol_type: str, protocols: list[str]) -> bool:
        """Whether a member with these protocols may join (GroupMetadata.supportsProtocols)."""
        if self.is_state(GroupState.EMPTY):
            return bool(protocol_type) and bool(protocols)
        n = len(self.members)
        return self.protocol_type == protocol_type and any(
            self.supported_protocols.get(p, 0) == n for p in protocols
        )

    def select_protocol(self) -> str:
        """Each member votes for its most preferred protocol that all support; the most votes
        win (a tie goes to the protocol voted for first, in member order)."""
        if not self.members:
            raise ValueError(f"cannot select a protocol for empty group {self.group_id}")
        candidates = self.candidate_protocols()
        votes: dict[str, int] = {}
        for member in self.members.values():
            choice = member.vote(candidates)
            votes[choice] = votes.get(choice, 0) + 1
        return max(votes, key=lambda name: votes[name])  # max keeps the first of equals

    def init_next_generation(self) -> None:
        """Bump the generation: CompletingRebalance with a protocol, or Empty without members."""
        self.generation_id += 1
        if self.members:
            self.protocol_name = self.select_protocol()
            self.transition_to(GroupState.COMPLETING_REBALANCE)
        else:
            self.protocol_name = None
            self.transition_to(GroupState.EMPTY)
        self.pending_sync_members.clear()

    def transition_to(self, state: GroupState) -> None:
        """Move to ``state``; an invalid transition is a model bug (Kafka throws)."""
        if self.state not in VALID_PREVIOUS_STATES[state]:
            raise ValueError(
                f"group {self.group_id}: cannot go from {self.state.value} to {state.value}"
            )
        self.state = state

    def current_member_metadata(self) -> list[tuple[str, str | None, Subscription]]:
        """(member id, instance id, subscription in the chosen protocol) of every member."""
        if self.state in (GroupState.DEAD, GroupState.PREPARING_REBALANCE):
            raise ValueError(f"no member metadata for a group in {self.state.value}")
        return [
            (m.member_id, m.group_instance_id, m.metadata(self.protocol_name))
            for m in self.members.values()
        ]


def generate_member_id(client_id: str, group_instance_id: str | None, seed: str) -> str:
    """``<client.id or group.instance.id>-<UUID>`` as Kafka builds it; the UUID is derived from
    ``seed`` (a name unique in the run) instead of drawn at random, so runs replay."""
    digest = hashlib.sha256(seed.encode()).digest()[:16]
    prefix = group_instance_id if group_instance_id is not None else client_id
    return f"{prefix}-{uuid.UUID(bytes=digest, version=4)}"
