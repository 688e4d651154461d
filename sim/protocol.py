"""Kafka's wire protocol as plain data: record batches, requests, responses and error codes.

Clients and brokers exchange only these objects, through :mod:`sim.net`. A record batch is one
object however many records it holds: records are counts and arrays inside it.
Sizes are bytes on the wire; times are simulated seconds.

Each request names the connection it travels on (``connection``): a Kafka client opens one per
NetworkClient and node, so a consumer's group requests go to its coordinator on a connection of
their own (AbstractCoordinator's coordinator node, ``Integer.MAX_VALUE - nodeId``), each replica
fetcher thread has its own (FetchRequest.connection), the controller's requests to a broker
travel on its ControllerChannelManager's and a broker's requests to the controller on its
BrokerToControllerChannelManager's; anything else on the client's. The broker handles each
connection's requests in order, and a timeout closes only the timed-out request's connection
(:mod:`sim.net`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import IntEnum
from typing import ClassVar, NamedTuple

import numpy as np

TopicPartition = tuple[str, int]

#: Bytes of a v2 record batch header (DefaultRecordBatch.RECORD_BATCH_OVERHEAD).
RECORD_BATCH_OVERHEAD_BYTES = 61
#: Bytes a record adds besides key and value: length, attributes, timestamp and offset deltas,
#: key/value lengths and header count as varints (DefaultRecord.sizeInBytes, small values).
RECORD_OVERHEAD_BYTES = 8
#: At most the bytes a record adds besides key, value and headers: 5 of length, 10 of timestamp
#: delta, 5 of offset delta, 1 of attributes (DefaultRecord.MAX_RECORD_OVERHEAD).
MAX_RECORD_OVERHEAD_BYTES = 21
#: Values below which a zigzag varint of a length takes 1, 2, 3, 4 bytes (else 5).
_VARINT_LIMITS = np.array([64, 8192, 1 << 20, 1 << 27])


def varint_bytes(lengths: np.ndarray | int) -> np.ndarray:
    """Bytes of each non-negative length written as a zigzag varint (ByteUtils.sizeOfVarint)."""
    return 1 + np.searchsorted(_VARINT_LIMITS, lengths, side="right")


def record_size_upper_bound(value_bytes: np.ndarray | int, key_bytes: int | None) -> np.ndarray:
    """What send() takes as each record's serialized size to check it against
    ``max.request.size`` and ``buffer.memory`` (``AbstractRecords.estimateSizeInBytesUpperBound``
    for a v2 batch: the batch header, the record's largest overhead, key and value each after
    its varint length, a null key as one byte, and a varint count of no headers), bytes."""
    values = np.asarray(value_bytes, dtype=np.int64)
    key_part = 1 if key_bytes is None else key_bytes + int(varint_bytes(key_bytes))
    value_part = values + varint_bytes(values)
    return RECORD_BATCH_OVERHEAD_BYTES + MAX_RECORD_OVERHEAD_BYTES + key_part + value_part + 1


#: Request/response header and per-partition framing, bytes (order of magnitude of Kafka's).
#: The produce and fetch requests and responses, built once per request, compute their
#: ``size_bytes`` in an ``__init__`` of their own, not in a ``__post_init__`` that the
#: dataclass's ``__init__`` would call (a Python call more per object).
REQUEST_OVERHEAD_BYTES = 64
PARTITION_OVERHEAD_BYTES = 24

ACKS_ALL = -1


def framed_size(partitions: int) -> int:
    """Bytes of a request or response's header and per-partition framing, without records."""
    return REQUEST_OVERHEAD_BYTES + PARTITION_OVERHEAD_BYTES * partitions


class Errors(IntEnum):
    """Kafka's error codes used by the model (3.9 common/protocol/Errors.java)."""

    UNKNOWN_SERVER_ERROR = -1
    NONE = 0
    OFFSET_OUT_OF_RANGE = 1
    UNKNOWN_TOPIC_OR_PARTITION = 3
    LEADER_NOT_AVAILABLE = 5
    NOT_LEADER_OR_FOLLOWER = 6
    REQUEST_TIMED_OUT = 7
    BROKER_NOT_AVAILABLE = 8
    MESSAGE_TOO_LARGE = 10
    STALE_CONTROLLER_EPOCH = 11
    NETWORK_EXCEPTION = 13
    COORDINATOR_LOAD_IN_PROGRESS = 14
    COORDINATOR_NOT_AVAILABLE = 15
    NOT_COORDINATOR = 16
    RECORD_LIST_TOO_LARGE = 18
    NOT_ENOUGH_REPLICAS = 19
    NOT_ENOUGH_REPLICAS_AFTER_APPEND = 20
    ILLEGAL_GENERATION = 22
    INCONSISTENT_GROUP_PROTOCOL = 23
    UNKNOWN_MEMBER_ID = 25
    INVALID_SESSION_TIMEOUT = 26
    REBALANCE_IN_PROGRESS = 27
    INVALID_COMMIT_OFFSET_SIZE = 28
    NOT_CONTROLLER = 41
    OUT_OF_ORDER_SEQUENCE_NUMBER = 45
    DUPLICATE_SEQUENCE_NUMBER = 46
    INVALID_PRODUCER_EPOCH = 47
    KAFKA_STORAGE_ERROR = 56
    FENCED_LEADER_EPOCH = 74
    UNKNOWN_LEADER_EPOCH = 75
    MEMBER_ID_REQUIRED = 79
    GROUP_MAX_SIZE_REACHED = 81
    FENCED_INSTANCE_ID = 82
    UNSTABLE_OFFSET_COMMIT = 88
    INVALID_UPDATE_VERSION = 95
    INELIGIBLE_REPLICA = 107

    @property
    def retriable(self) -> bool:
        """Whether Kafka's exception for this error is a RetriableException."""
        return self in _RETRIABLE


_RETRIABLE = frozenset(
    {
        Errors.UNKNOWN_TOPIC_OR_PARTITION,
        Errors.LEADER_NOT_AVAILABLE,
        Errors.NOT_LEADER_OR_FOLLOWER,
        Errors.REQUEST_TIMED_OUT,
        Errors.NETWORK_EXCEPTION,
        Errors.NOT_ENOUGH_REPLICAS,
        Errors.NOT_ENOUGH_REPLICAS_AFTER_APPEND,
        Errors.KAFKA_STORAGE_ERROR,
        Errors.FENCED_LEADER_EPOCH,
        Errors.UNKNOWN_LEADER_EPOCH,
        Errors.COORDINATOR_LOAD_IN_PROGRESS,
        Errors.COORDINATOR_NOT_AVAILABLE,
        Errors.NOT_COORDINATOR,
        Errors.UNSTABLE_OFFSET_COMMIT,
    }
)


@dataclass(slots=True, eq=False)
class RecordBatch:
    """A producer's batch of records for one partition, as sent (immutable once closed).

    batch_id: unique in the run (for the audit). producer_id / base_sequence: idempotence
    (-1 without). count: records. size_bytes: on the wire, after compression.
    first_arrival_s / mean_arrival_s: when the first record / the records on average were handed
    to ``send()``. keys: key ids of the records (``None`` for null keys). producer_epoch: the
    idempotent producer's epoch (KIP-360: bumped when a partition's sequence has a hole; -1
    without idempotence). schema_id: the schema-registry id in its records' value headers (that
    of its first record; -1 without a registry).
    """

    batch_id: int
    topic: str
    partition: int
    producer_id: int
    base_sequence: int
    count: int
    size_bytes: int
    first_arrival_s: float
    mean_arrival_s: float
    keys: np.ndarray | None = None
    producer_epoch: int = 0
    schema_id: int = -1

    @property
    def last_sequence(self) -> int:
        """Sequence number of the last record (``base_sequence + count - 1``)."""
        return self.base_sequence + self.count - 1


@dataclass(slots=True, eq=False)
class LogEntry:
    """A batch as its leader appended it: the leader's offset and epoch around the batch, and
    when the leader appended it (s). Never changed once appended: followers' logs hold the same
    object (each replica keeps its own disk positions, see PartitionLog.read)."""

    base_offset: int
    leader_epoch: int
    batch: RecordBatch
    append_s: float

    @property
    def next_offset(self) -> int:
        """Offset after the batch's last record."""
        return self.base_offset + self.batch.count


# --------------------------------------------------------------------------- produce


@dataclass(slots=True, eq=False)
class ProduceRequest:
    """One request per broker carrying at most one batch per partition (Sender.sendProduceRequest).

    acks: -1 (all), 0 or 1. timeout_s: how long the leader may wait for replication.
    """

    connection: ClassVar[str] = "client"

    acks: int
    timeout_s: float
    batches: dict[TopicPartition, RecordBatch]
    size_bytes: int = 0

    def __init__(
        self, acks: int, timeout_s: float, batches: dict[TopicPartition, RecordBatch]
    ) -> None:
        self.acks = acks
        self.timeout_s = timeout_s
        self.batches = batches
        size = REQUEST_OVERHEAD_BYTES
        for batch in batches.values():
            size += PARTITION_OVERHEAD_BYTES + batch.size_bytes
        self.size_bytes = size


@dataclass(slots=True, eq=False)
class ConnectionClosed:
    """The broker closed a client's connection (KafkaApis does so on any error of an acks=0
    produce, which has no response): the client refreshes its metadata."""

    size_bytes: int = 0


@dataclass(slots=True, eq=False)
class PartitionProduceResult:
    """Outcome for one partition: error, and the base offset given to the batch (-1 if none)."""

    error: Errors
    base_offset: int = -1


@dataclass(slots=True, eq=False)
class ProduceResponse:
    """The leader's answer, one result per partition of the request."""

    results: dict[TopicPartition, PartitionProduceResult]
    size_bytes: int = 0

    def __init__(self, results: dict[TopicPartition, PartitionProduceResult]) -> None:
        self.results = results
        self.size_bytes = REQUEST_OVERHEAD_BYTES + PARTITION_OVERHEAD_BYTES * len(results)


# --------------------------------------------------------------------------- fetch


#: No leader epoch: a fetch or OffsetsForLeaderEpoch partition without a current leader epoch
#: is not checked against the leader's (RecordBatch.NO_PARTITION_LEADER_EPOCH), and an
#: OffsetsForLeaderEpoch answer without an epoch or end offset (UNDEFINED_EPOCH[_OFFSET]).
NO_EPOCH = -1


@dataclass(slots=True, eq=False)
class FetchPartition:
    """Where to read one partition from: the fetch offset, the fetcher's last epoch, and the
    leader epoch the fetcher knows (FetchRequest.PartitionData currentLeaderEpoch, KIP-320;
    NO_EPOCH: not checked)."""

    fetch_offset: int
    last_fetched_epoch: int = NO_EPOCH
    current_leader_epoch: int = NO_EPOCH


@dataclass(slots=True, eq=False)
class FetchRequest:
    """A fetch from a follower (replica_id >= 0) or a consumer (replica_id -1).

    max_wait_s / min_bytes: long-poll until min_bytes are available or max_wait_s passes
    (``fetch.max.wait.ms``/``fetch.min.bytes``, ``replica.fetch.wait.max.ms``/``.min.bytes``).
    max_bytes: response limit; partition_max_bytes: per-partition limit (the first batch is always
    returned whole, as Kafka does, so a large batch cannot block progress).
    connection: which of the sender's connections to the broker it travels on: a replica
    fetcher thread's own (each has its NetworkClient, ReplicaFetcherManager.createFetcherThread),
    a consumer's client connection (``"client"``).
    """

    replica_id: int
    max_wait_s: float
    min_bytes: int
    max_bytes: int
    partition_max_bytes: int
    partitions: dict[TopicPartition, FetchPartition]
    connection: str = "client"
    size_bytes: int = 0

    def __init__(
        self,
        replica_id: int,
        max_wait_s: float,
        min_bytes: int,
        max_bytes: int,
        partition_max_bytes: int,
        partitions: dict[TopicPartition, FetchPartition],
        connection: str = "client",
    ) -> None:
        self.replica_id = replica_id
        self.max_wait_s = max_wait_s
        self.min_bytes = min_bytes
        self.max_bytes = max_bytes
        self.partition_max_bytes = partition_max_bytes
        self.partitions = partitions
        self.connection = connection
        self.size_bytes = REQUEST_OVERHEAD_BYTES + PARTITION_OVERHEAD_BYTES * len(partitions)


@dataclass(slots=True, eq=False)
class FetchPartitionData:
    """What a fetch returns for one partition."""

    error: Errors
    high_watermark: int = -1
    log_start_offset: int = -1
    log_end_offset: int = -1
    entries: list[LogEntry] = field(default_factory=list)
    #: (epoch, end offset) when the fetcher's log diverges from the leader's (KIP-320/595).
    diverging_epoch: tuple[int, int] | None = None
    #: bytes of the records returned (computed from entries unless given)
    size_bytes: int = -1
    #: (leader id, leader epoch) the answering broker knows, with NOT_LEADER_OR_FOLLOWER and
    #: FENCED_LEADER_EPOCH (FetchResponse v16 currentLeader, KIP-951), else None
    current_leader: tuple[int, int] | None = None

    def __init__(
        self,
        error: Errors,
        high_watermark: int = -1,
        log_start_offset: int = -1,
        log_end_offset: int = -1,
        entries: list[LogEntry] | None = None,
        diverging_epoch: tuple[int, int] | None = None,
        size_bytes: int = -1,
    ) -> None:
        self.error = error
        self.high_watermark = high_watermark
        self.log_start_offset = log_start_offset
        self.log_end_offset = log_end_offset
        if entries is None:
            self.entries = []
            self.size_bytes = 0
        else:
            self.entries = entries
            self.size_bytes = (
                size_bytes if size_bytes >= 0 else sum(e.batch.size_bytes for e in entries)
            )
        self.diverging_epoch = diverging_epoch
        self.current_leader = None


@dataclass(slots=True, eq=False)
class FetchResponse:
    """The answer to a fetch, one entry per partition asked for."""

    partitions: dict[TopicPartition, FetchPartitionData]
    size_bytes: int = 0

    def __init__(self, partitions: dict[TopicPartition, FetchPartitionData]) -> None:
        self.partitions = partitions
        size = REQUEST_OVERHEAD_BYTES
        for data in partitions.values():
            size += PARTITION_OVERHEAD_BYTES + data.size_bytes
        self.size_bytes = size


# --------------------------------------------------------------------------- offsets


EARLIEST_TIMESTAMP = -2  # ListOffsetsRequest.EARLIEST_TIMESTAMP
LATEST_TIMESTAMP = -1  # ListOffsetsRequest.LATEST_TIMESTAMP


@dataclass(slots=True, eq=False)
class ListOffsetsRequest:
    """Ask a leader for the earliest (-2) or latest (-1) offset of partitions (offset reset)."""

    connection: ClassVar[str] = "client"

    partitions: dict[TopicPartition, int]
    size_bytes: int = REQUEST_OVERHEAD_BYTES


@dataclass(slots=True, eq=False)
class ListOffsetsResponse:
    """Offsets found, or an error, per partition."""

    offsets: dict[TopicPartition, tuple[Errors, int]]
    size_bytes: int = REQUEST_OVERHEAD_BYTES


@dataclass(slots=True, eq=False)
class OffsetsForLeaderEpochRequest:
    """Ask a leader where epochs end (OffsetsForLeaderEpoch, KIP-101/320), per partition: (the
    epoch asked about, the leader epoch the asker knows, NO_EPOCH: not checked). A consumer
    sends it to validate its position after a leader change."""

    connection: ClassVar[str] = "client"

    partitions: dict[TopicPartition, tuple[int, int]]
    size_bytes: int = 0

    def __post_init__(self) -> None:
        if not self.size_bytes:
            self.size_bytes = framed_size(len(self.partitions))


@dataclass(slots=True, eq=False)
class OffsetsForLeaderEpochResponse:
    """Per partition (EpochEndOffset): (error, the largest epoch <= the one asked that the
    leader knows, that epoch's end offset), NO_EPOCH for both when it knows none."""

    partitions: dict[TopicPartition, tuple[Errors, int, int]]
    size_bytes: int = 0

    def __post_init__(self) -> None:
        if not self.size_bytes:
            self.size_bytes = framed_size(len(self.partitions))


# --------------------------------------------------------------------------- metadata


@dataclass(slots=True, eq=False)
class PartitionMetadata:
    """Leadership of one partition as a broker's metadata cache knows it."""

    leader: int
    leader_epoch: int
    replicas: list[int]
    isr: list[int]


@dataclass(slots=True, eq=False)
class MetadataRequest:
    """Ask any broker for the leaders of ``topics`` (all topics when None)."""

    connection: ClassVar[str] = "client"

    topics: list[str] | None = None
    size_bytes: int = REQUEST_OVERHEAD_BYTES


@dataclass(slots=True, eq=False)
class MetadataResponse:
    """Brokers alive and partition leadership, from the answering broker's cache."""

    brokers: list[int]
    partitions: dict[TopicPartition, PartitionMetadata]
    size_bytes: int = 0

    def __post_init__(self) -> None:
        if not self.size_bytes:
            self.size_bytes = framed_size(len(self.partitions))


# --------------------------------------------------------------------------- controller

NO_LEADER = -1  # a partition without a leader (LeaderAndIsr.NO_LEADER)


@dataclass(slots=True, eq=False)
class LeaderAndIsrPartition:
    """A partition's leadership as the controller decided it (LeaderAndIsrPartitionState).

    partition_epoch: the version of the partition's state znode (bumped on every ISR change).
    """

    leader: int
    leader_epoch: int
    isr: list[int]
    replicas: list[int]
    partition_epoch: int


@dataclass(slots=True, eq=False)
class LeaderAndIsrRequest:
    """The controller tells a broker to lead or follow partitions (ApiKeys.LEADER_AND_ISR)."""

    connection: ClassVar[str] = "controller-channel"

    controller_id: int
    controller_epoch: int
    partitions: dict[TopicPartition, LeaderAndIsrPartition]
    size_bytes: int = 0

    def __post_init__(self) -> None:
        if not self.size_bytes:
            self.size_bytes = framed_size(len(self.partitions))


@dataclass(slots=True, eq=False)
class UpdateMetadataRequest:
    """The controller's view of live brokers and leaders, for brokers' metadata caches."""

    connection: ClassVar[str] = "controller-channel"

    controller_id: int
    controller_epoch: int
    live_brokers: list[int]
    partitions: dict[TopicPartition, PartitionMetadata]
    size_bytes: int = 0

    def __post_init__(self) -> None:
        if not self.size_bytes:
            self.size_bytes = framed_size(len(self.partitions))


@dataclass(slots=True, eq=False)
class ControllerResponse:
    """Answer to a controller request: an error, per partition where it applies."""

    error: Errors
    partitions: dict[TopicPartition, Errors] = field(default_factory=dict)
    size_bytes: int = REQUEST_OVERHEAD_BYTES


@dataclass(slots=True, eq=False)
class AlterPartitionRequest:
    """A leader asks the controller to change ISRs (AlterPartition, KIP-497), per partition:
    (its leader epoch, the proposed ISR, the partition epoch it knows)."""

    connection: ClassVar[str] = "to-controller"

    broker_id: int
    partitions: dict[TopicPartition, tuple[int, list[int], int]]
    size_bytes: int = 0

    def __post_init__(self) -> None:
        if not self.size_bytes:
            self.size_bytes = framed_size(len(self.partitions))


@dataclass(slots=True, eq=False)
class AlterPartitionResponse:
    """Per partition: error, and the state now in force (leader epoch, ISR, partition epoch)."""

    error: Errors
    partitions: dict[TopicPartition, tuple[Errors, int, list[int], int]] = field(
        default_factory=dict
    )
    size_bytes: int = REQUEST_OVERHEAD_BYTES


@dataclass(slots=True, eq=False)
class ControlledShutdownRequest:
    """A broker asks the controller to move its leaderships away before it stops."""

    connection: ClassVar[str] = "to-controller"

    broker_id: int
    size_bytes: int = REQUEST_OVERHEAD_BYTES


@dataclass(slots=True, eq=False)
class ControlledShutdownResponse:
    """NONE with the partitions it still leads (none = safe to stop), or an error."""

    error: Errors
    remaining: list[TopicPartition] = field(default_factory=list)
    size_bytes: int = REQUEST_OVERHEAD_BYTES


# --------------------------------------------------------------------------- consumer groups
# The classic group protocol (FindCoordinator, JoinGroup, SyncGroup, Heartbeat, LeaveGroup,
# OffsetCommit, OffsetFetch) and the records a group coordinator keeps in __consumer_offsets.

#: Kafka's internal topic of committed offsets and group metadata (Topic.GROUP_METADATA_TOPIC_NAME).
GROUP_METADATA_TOPIC = "__consumer_offsets"
#: JoinGroupRequest.UNKNOWN_MEMBER_ID and OffsetCommitRequest.DEFAULT_GENERATION_ID.
UNKNOWN_MEMBER_ID = ""
NO_GENERATION = -1
#: The consumer's protocol type (ConsumerProtocol.PROTOCOL_TYPE).
CONSUMER_PROTOCOL_TYPE = "consumer"


@dataclass(frozen=True, slots=True)
class Subscription:
    """A member's ConsumerProtocolSubscription: its topics, and (cooperative) the partitions it
    owns and the generation it owned them in (-1 when none)."""

    topics: tuple[str, ...]
    owned_partitions: tuple[TopicPartition, ...] = ()
    generation: int = NO_GENERATION


@dataclass(slots=True, eq=False)
class FindCoordinatorRequest:
    """Which broker coordinates group ``key`` (FindCoordinator, key type GROUP)?"""

    connection: ClassVar[str] = "client"

    key: str
    size_bytes: int = REQUEST_OVERHEAD_BYTES


@dataclass(slots=True, eq=False)
class FindCoordinatorResponse:
    """The coordinator's broker id, or an error (COORDINATOR_NOT_AVAILABLE)."""

    error: Errors
    node_id: int = -1
    size_bytes: int = REQUEST_OVERHEAD_BYTES


@dataclass(slots=True, eq=False)
class JoinGroupRequest:
    """A member (re)joins: ``protocols`` are (assignor name, subscription) by preference.

    session_timeout_s / rebalance_timeout_s: ``session.timeout.ms`` / ``max.poll.interval.ms``.
    """

    connection: ClassVar[str] = "coordinator"

    group_id: str
    session_timeout_s: float
    rebalance_timeout_s: float
    member_id: str
    group_instance_id: str | None
    protocol_type: str
    protocols: list[tuple[str, Subscription]]
    client_id: str = ""  # from the request header: prefixes the member id
    size_bytes: int = 0

    def __post_init__(self) -> None:
        if not self.size_bytes:
            self.size_bytes = framed_size(len(self.protocols))


@dataclass(frozen=True, slots=True)
class JoinGroupMember:
    """One member of the group as the leader sees it in the JoinGroup response."""

    member_id: str
    group_instance_id: str | None
    metadata: Subscription


@dataclass(slots=True, eq=False)
class JoinGroupResponse:
    """The generation, the chosen protocol, the leader; ``members`` only for the leader."""

    error: Errors
    generation_id: int = NO_GENERATION
    protocol_name: str | None = None
    leader: str = ""
    member_id: str = UNKNOWN_MEMBER_ID
    members: list[JoinGroupMember] = field(default_factory=list)
    skip_assignment: bool = False
    size_bytes: int = 0

    def __post_init__(self) -> None:
        if not self.size_bytes:
            self.size_bytes = framed_size(len(self.members))


@dataclass(slots=True, eq=False)
class SyncGroupRequest:
    """A member asks for its assignment; the leader brings everyone's (member id -> partitions)."""

    connection: ClassVar[str] = "coordinator"

    group_id: str
    generation_id: int
    member_id: str
    group_instance_id: str | None
    protocol_name: str | None
    assignments: dict[str, list[TopicPartition]]
    size_bytes: int = 0

    def __post_init__(self) -> None:
        if not self.size_bytes:
            self.size_bytes = framed_size(sum(len(a) for a in self.assignments.values()))


@dataclass(slots=True, eq=False)
class SyncGroupResponse:
    """The member's assignment for the generation, or an error."""

    error: Errors
    protocol_name: str | None = None
    assignment: list[TopicPartition] = field(default_factory=list)
    size_bytes: int = 0

    def __post_init__(self) -> None:
        if not self.size_bytes:
            self.size_bytes = framed_size(len(self.assignment))


@dataclass(slots=True, eq=False)
class HeartbeatRequest:
    """A member is alive in ``generation_id``."""

    connection: ClassVar[str] = "coordinator"

    group_id: str
    generation_id: int
    member_id: str
    group_instance_id: str | None
    size_bytes: int = REQUEST_OVERHEAD_BYTES


@dataclass(slots=True, eq=False)
class HeartbeatResponse:
    """NONE, or REBALANCE_IN_PROGRESS / ILLEGAL_GENERATION / UNKNOWN_MEMBER_ID / ..."""

    error: Errors
    size_bytes: int = REQUEST_OVERHEAD_BYTES


@dataclass(slots=True, eq=False)
class LeaveGroupRequest:
    """Members leave: (member id, group instance id) each."""

    connection: ClassVar[str] = "coordinator"

    group_id: str
    members: list[tuple[str, str | None]]
    size_bytes: int = REQUEST_OVERHEAD_BYTES


@dataclass(slots=True, eq=False)
class LeaveGroupResponse:
    """A top-level error, and one error per leaving member."""

    error: Errors
    member_errors: list[Errors] = field(default_factory=list)
    size_bytes: int = REQUEST_OVERHEAD_BYTES


class OffsetAndMetadata(NamedTuple):
    """A committed offset (OffsetAndMetadata; metadata strings not modelled): the next offset
    to consume and the leader epoch of the last record consumed (-1: unknown), which the
    group coordinator stores with it (OffsetCommitValue.leaderEpoch, KIP-320)."""

    offset: int
    leader_epoch: int = NO_EPOCH


#: What OffsetFetch answers for a partition with no committed offset.
NO_OFFSET = OffsetAndMetadata(-1, NO_EPOCH)


@dataclass(slots=True, eq=False)
class OffsetCommitRequest:
    """Commit ``offsets`` (per partition the next offset to consume and committedLeaderEpoch)
    for the group's generation."""

    connection: ClassVar[str] = "coordinator"

    group_id: str
    generation_id: int
    member_id: str
    group_instance_id: str | None
    offsets: dict[TopicPartition, OffsetAndMetadata]
    size_bytes: int = 0

    def __post_init__(self) -> None:
        if not self.size_bytes:
            self.size_bytes = framed_size(len(self.offsets))


@dataclass(slots=True, eq=False)
class OffsetCommitResponse:
    """One error per committed partition."""

    errors: dict[TopicPartition, Errors]
    size_bytes: int = 0

    def __post_init__(self) -> None:
        if not self.size_bytes:
            self.size_bytes = framed_size(len(self.errors))


@dataclass(slots=True, eq=False)
class OffsetFetchRequest:
    """The committed offsets of ``partitions`` (require_stable: KIP-447, as consumers send)."""

    connection: ClassVar[str] = "coordinator"

    group_id: str
    partitions: list[TopicPartition]
    require_stable: bool = True
    size_bytes: int = 0

    def __post_init__(self) -> None:
        if not self.size_bytes:
            self.size_bytes = framed_size(len(self.partitions))


@dataclass(slots=True, eq=False)
class OffsetFetchResponse:
    """A group-level error, else per partition (committed offset and committedLeaderEpoch,
    NO_OFFSET without one; error)."""

    error: Errors
    offsets: dict[TopicPartition, tuple[OffsetAndMetadata, Errors]] = field(default_factory=dict)
    size_bytes: int = 0

    def __post_init__(self) -> None:
        if not self.size_bytes:
            self.size_bytes = framed_size(len(self.offsets))


@dataclass(frozen=True, slots=True)
class OffsetCommitRecord:
    """Committed offsets of one group, as one record batch of __consumer_offsets holds them."""

    group_id: str
    offsets: tuple[tuple[TopicPartition, OffsetAndMetadata], ...]


@dataclass(frozen=True, slots=True)
class GroupMetadataRecord:
    """A group's state as ``storeGroup`` writes it: generation, protocol, leader and, per member,
    (member id, instance id, client id, session timeout s, rebalance timeout s, protocols,
    assignment). An empty generation has no members."""

    group_id: str
    generation_id: int
    protocol_type: str | None
    protocol_name: str | None
    leader: str | None
    members: tuple[tuple, ...]


@dataclass(slots=True, eq=False)
class CoordinatorBatch(RecordBatch):
    """A batch a group coordinator appends to __consumer_offsets (one record: offsets or group
    metadata). Replicated and stored like any batch; a new leader replays them to load groups."""

    record: OffsetCommitRecord | GroupMetadataRecord | None = None
