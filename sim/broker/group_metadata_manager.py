"""The group coordinator's storage (≈ Kafka 3.9 ``GroupMetadataManager``).

A group belongs to partition ``abs(javaHashCode(group.id)) % offsets.topic.num.partitions`` of
``__consumer_offsets``; the broker that leads that partition coordinates the group. Group state
(``storeGroup``) and committed offsets (``storeOffsets``) are appended to that partition as
:class:`~sim.protocol.CoordinatorBatch` batches through the broker's own ReplicaManager with
acks=all and ``offsets.commit.timeout.ms``, so they are replicated, acknowledged and lost exactly
like any batch; the in-memory cache changes only once the append is acknowledged. When the broker
becomes leader of an offsets partition it loads its groups by replaying that log up to its end
offset (``doLoadGroupsAndOffsets``): the last group record and the last offset (with its leader
epoch) of each partition win; loaded groups with members are Stable, others Empty. When it stops
leading, the groups are unloaded (Dead).

Simplified: loading takes no simulated time (Kafka reads the segments, answering
COORDINATOR_LOAD_IN_PROGRESS meanwhile); offsets never expire (``offsets.retention.minutes``
is days); the log is not compacted; record sizes are estimates of Kafka's.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from sim.broker.group_metadata import GroupMetadata, GroupState, MemberMetadata
from sim.clients.assignors import java_string_hash
from sim.protocol import (
    ACKS_ALL,
    GROUP_METADATA_TOPIC,
    NO_OFFSET,
    CoordinatorBatch,
    Errors,
    GroupMetadataRecord,
    OffsetAndMetadata,
    OffsetCommitRecord,
    ProduceRequest,
    TopicPartition,
)

if TYPE_CHECKING:
    import simpy

    from sim.broker.replica_manager import ReplicaManager
    from sim.kafka_config import EffectiveConfig
    from sim.metrics import Metrics

#: Bytes of one offset commit record (key: group, topic, partition; value: offset, epoch,
#: metadata, timestamp) and of a group record's fixed part and per member, estimates.
OFFSET_RECORD_BYTES = 80
GROUP_RECORD_BYTES = 120
MEMBER_RECORD_BYTES = 160
#: Per partition of a member's assignment or subscription in a group record, bytes.
PARTITION_BYTES = 8

#: Append errors -> what storeGroup answers (GroupMetadataManager.storeGroup putCacheCallback).
_STORE_GROUP_ERRORS = {
    Errors.UNKNOWN_TOPIC_OR_PARTITION: Errors.COORDINATOR_NOT_AVAILABLE,
    Errors.NOT_ENOUGH_REPLICAS: Errors.COORDINATOR_NOT_AVAILABLE,
    Errors.NOT_ENOUGH_REPLICAS_AFTER_APPEND: Errors.COORDINATOR_NOT_AVAILABLE,
    Errors.NOT_LEADER_OR_FOLLOWER: Errors.NOT_COORDINATOR,
    Errors.KAFKA_STORAGE_ERROR: Errors.NOT_COORDINATOR,
    Errors.REQUEST_TIMED_OUT: Errors.REBALANCE_IN_PROGRESS,
    Errors.MESSAGE_TOO_LARGE: Errors.UNKNOWN_SERVER_ERROR,
}
#: Append errors -> what an offset commit answers (maybeConvertOffsetCommitError).
_COMMIT_ERRORS = {
    Errors.UNKNOWN_TOPIC_OR_PARTITION: Errors.COORDINATOR_NOT_AVAILABLE,
    Errors.NOT_ENOUGH_REPLICAS: Errors.COORDINATOR_NOT_AVAILABLE,
    Errors.NOT_ENOUGH_REPLICAS_AFTER_APPEND: Errors.COORDINATOR_NOT_AVAILABLE,
    Errors.NOT_LEADER_OR_FOLLOWER: Errors.NOT_COORDINATOR,
    Errors.KAFKA_STORAGE_ERROR: Errors.NOT_COORDINATOR,
    Errors.MESSAGE_TOO_LARGE: Errors.INVALID_COMMIT_OFFSET_SIZE,
}


def partition_for(group_id: str, num_partitions: int) -> int:
    """``Utils.abs(groupId.hashCode) % offsets.topic.num.partitions`` (Utils.abs maps
    Integer.MIN_VALUE to 0)."""
    h = java_string_hash(group_id)  # unsigned 32-bit
    signed = h - (1 << 32) if h >= 1 << 31 else h
    return (0 if signed == -(1 << 31) else abs(signed)) % num_partitions


class GroupMetadataManager:
    """The groups and offsets of the offsets partitions broker ``node`` leads."""

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
        self.replicas = replicas
        self.metrics = metrics
        self.num_partitions: int = config["offsets.topic.num.partitions"]
        self.commit_timeout_s = config.s("offsets.commit.timeout.ms")
        self.owned: dict[int, None] = {}
        self.groups: dict[str, GroupMetadata] = {}

    def partition_for(self, group_id: str) -> int:
        """The offsets partition of ``group_id``."""
        return partition_for(group_id, self.num_partitions)

    def is_local(self, group_id: str) -> bool:
        """Whether this broker leads (and has loaded) the group's offsets partition."""
        return self.partition_for(group_id) in self.owned

    def get_or_create(self, group_id: str, create: bool) -> GroupMetadata | None:
        """The cached group; an Empty new one when ``create``."""
        group = self.groups.get(group_id)
        if group is None and create:
            group = self.groups[group_id] = GroupMetadata(group_id)
        return group

    # ---------------------------------------------------------------- writes

    def store_group(
        self,
        group: GroupMetadata,
        assignment: dict[str, list[TopicPartition]],
        callback: Callable[[Errors], None],
    ) -> None:
        """Append the group's generation, members and ``assignment``; ``callback(error)``."""
        members = tuple(
            (
                m.member_id, m.group_instance_id, m.client_id, m.session_timeout_s,
                m.rebalance_timeout_s, tuple(m.protocols), tuple(assignment.get(m.member_id, ())),
            )
            for m in group.members.values()
        )  # fmt: skip
        record = GroupMetadataRecord(
            group.group_id, group.generation_id, group.protocol_type, group.protocol_name,
            group.leader_id, members,
        )  # fmt: skip
        size = GROUP_RECORD_BYTES + sum(
            MEMBER_RECORD_BYTES + PARTITION_BYTES * len(m[6]) for m in members
        )

        def done(error: Errors) -> None:
            callback(_STORE_GROUP_ERRORS.get(error, error))

        self._append(group.group_id, record, size, done)

    def store_offsets(
        self,
        group: GroupMetadata,
        offsets: dict[TopicPartition, OffsetAndMetadata],
        callback: Callable[[dict[TopicPartition, Errors]], None],
    ) -> None:
        """Append ``offsets`` (each with its leader epoch, as OffsetCommitValue stores it); once
        acknowledged they are the group's committed offsets (while
        pending, OffsetFetch with require_stable answers UNSTABLE_OFFSET_COMMIT)."""
        record = OffsetCommitRecord(group.group_id, tuple(sorted(offsets.items())))
        group.pending_offset_commits.update(offsets)

        def done(error: Errors) -> None:
            if not group.is_state(GroupState.DEAD):
                for tp, offset in offsets.items():
                    if group.pending_offset_commits.get(tp) == offset:
                        del group.pending_offset_commits[tp]
                    if error is Errors.NONE:
                        group.offsets[tp] = offset
            error = _COMMIT_ERRORS.get(error, error)
            callback({tp: error for tp in offsets})

        self._append(group.group_id, record, OFFSET_RECORD_BYTES * len(offsets), done)

    def _append(
        self,
        group_id: str,
        record: OffsetCommitRecord | GroupMetadataRecord,
        size_bytes: int,
        done: Callable[[Errors], None],
    ) -> None:
        """ReplicaManager.appendRecords with acks=all and offsets.commit.timeout.ms."""
        tp = (GROUP_METADATA_TOPIC, self.partition_for(group_id))
        now = self.env.now
        batch = CoordinatorBatch(
            self.metrics.new_batch_id(), tp[0], tp[1], -1, -1, 1, size_bytes, now, now,
            record=record,
        )  # fmt: skip
        request = ProduceRequest(ACKS_ALL, self.commit_timeout_s, {tp: batch})

        def answered(response, _extra_s: float = 0.0) -> None:
            done(response.results[tp].error)

        self.replicas.handle_produce(request, answered)

    # ---------------------------------------------------------------- reads

    def get_offsets(
        self, group_id: str, partitions: list[TopicPartition], require_stable: bool
    ) -> dict[TopicPartition, tuple[OffsetAndMetadata, Errors]]:
        """GroupMetadataManager.getOffsets: the committed offset and its leader epoch
        (NO_OFFSET if none) per partition."""
        group = self.groups.get(group_id)
        out: dict[TopicPartition, tuple[OffsetAndMetadata, Errors]] = {}
        for tp in partitions:
            if group is None or group.is_state(GroupState.DEAD):
                out[tp] = (NO_OFFSET, Errors.NONE)
            elif require_stable and tp in group.pending_offset_commits:
                out[tp] = (NO_OFFSET, Errors.UNSTABLE_OFFSET_COMMIT)
            else:
                out[tp] = (group.offsets.get(tp, NO_OFFSET), Errors.NONE)
        return out

    # ---------------------------------------------------------------- leadership

    def load(self, partition_id: int) -> list[GroupMetadata]:
        """Become the coordinator of ``partition_id``'s groups: replay its log to the end
        offset; returns the loaded groups (in order of first appearance in the log)."""
        self.owned[partition_id] = None
        log = self.replicas.partitions[(GROUP_METADATA_TOPIC, partition_id)].log
        records: dict[str, GroupMetadataRecord | None] = {}
        offsets: dict[str, dict[TopicPartition, OffsetAndMetadata]] = {}
        for entry in log.retained_entries():
            record = getattr(entry.batch, "record", None)
            if isinstance(record, OffsetCommitRecord):
                records.setdefault(record.group_id, None)
                offsets.setdefault(record.group_id, {}).update(record.offsets)
            elif isinstance(record, GroupMetadataRecord):
                records[record.group_id] = record
        loaded = []
        for group_id, record in records.items():
            group = _loaded_group(group_id, record)
            group.offsets = offsets.get(group_id, {})
            self.groups[group_id] = group
            loaded.append(group)
        return loaded

    def unload(self, partition_id: int) -> list[GroupMetadata]:
        """Stop coordinating ``partition_id``'s groups; returns them (still in their state)."""
        self.owned.pop(partition_id, None)
        gone = [g for g in self.groups.values() if self.partition_for(g.group_id) == partition_id]
        for group in gone:
            del self.groups[group.group_id]
        return gone


def _loaded_group(group_id: str, record: GroupMetadataRecord | None) -> GroupMetadata:
    """GroupMetadata.loadGroup: Stable with the recorded members, or Empty."""
    if record is None or not record.members:
        group = GroupMetadata(group_id, GroupState.EMPTY)
        if record is not None:
            group.generation_id = record.generation_id
            group.protocol_type = record.protocol_type
        return group
    group = GroupMetadata(group_id, GroupState.STABLE)
    group.generation_id = record.generation_id
    group.protocol_type = record.protocol_type
    group.protocol_name = record.protocol_name
    group.leader_id = record.leader
    for (
        member_id,
        instance_id,
        client_id,
        session_s,
        rebalance_s,
        protocols,
        assigned,
    ) in record.members:
        member = MemberMetadata(
            member_id, instance_id, client_id, rebalance_s, session_s,
            record.protocol_type or "", list(protocols),
        )  # fmt: skip
        member.assignment = list(assigned)
        group.add(member)
    return group
