"""The scenario: what cluster, which topics, which clients, which faults, for how long.

A scenario is plain data; docs/scenario.md lists every field (``python -m sim.docs`` writes it
from the field docstrings below). ``Scenario.from_dict(d)`` validates it and normalises
Kafka properties (``acks: -1`` becomes ``"all"``); ``to_dict()`` gives it back so that
``Scenario.from_dict(s.to_dict()) == s``. Every user error is a :class:`ScenarioError` (a
``ValueError``) whose one-line message names the field by its dotted path, the bad value and what
is allowed: ``producers.0.config.acks: ...``.

Units are in the field names: ``*_s`` seconds, ``*_ms`` milliseconds, ``*_bytes`` bytes,
``*_gbps`` gigabits per second, ``*_mb_s`` megabytes (10^6 bytes) per second.
"""

from __future__ import annotations

import copy
import difflib
import importlib.util
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from sim import kafka_config
from sim.errors import NotSimulatedError, ScenarioError
from sim.mirror.mirror_source_connector import (
    MirrorFlow,
    MirrorSourceConnector,
    RemoteTopic,
    remote_topics,
    target_config,
)
from sim.mirror.replication_policy import DefaultReplicationPolicy
from sim.mirror.topic_filter import DefaultTopicFilter

__all__ = [
    "ClusterSpec",
    "ConsumerGroupSpec",
    "Fault",
    "HardwareSpec",
    "ProducerSpec",
    "Scenario",
    "ScenarioError",
    "TopicSpec",
    "load_scenario",
]

#: Kafka's legal topic characters and maximum length (3.9 common/internals/Topic.java).
TOPIC_NAME = re.compile(r"[a-zA-Z0-9._-]+")
TOPIC_NAME_MAX = 249
#: Client and group names become node names (``app-0``, ``billing-2``).
CLIENT_NAME = re.compile(r"[a-zA-Z0-9._-]+")
RESERVED_NAMES = frozenset({"zookeeper", "controller", "broker", "brokers", "clients"})

PositiveFloat = Annotated[float, Field(gt=0, allow_inf_nan=False)]
NonNegFloat = Annotated[float, Field(ge=0, allow_inf_nan=False)]


class Spec(BaseModel):
    """Base of every scenario part: unknown fields are errors that suggest the closest name."""

    model_config = ConfigDict(
        extra="forbid", strict=False, validate_default=True, use_attribute_docstrings=True
    )

    @model_validator(mode="before")
    @classmethod
    def _reject_unknown_fields(cls, data: Any) -> Any:
        if isinstance(data, Mapping):
            allowed = [field.alias or name for name, field in cls.model_fields.items()]
            for key in data:
                if key not in allowed:
                    raise _FieldProblem(str(key), _unknown(str(key), allowed, "field"))
        return data


class _FieldProblem(ValueError):
    """A problem found by a validator, about one named field below the validator's location."""

    def __init__(self, field: str, problem: str) -> None:
        self.field = field
        self.problem = problem
        super().__init__(problem)


def _unknown(name: str, allowed: list[str], what: str) -> str:
    close = difflib.get_close_matches(name, allowed, n=1, cutoff=0.6)
    hint = f"did you mean '{close[0]}'? " if close else ""
    return f"unknown {what} '{name}'; {hint}allowed: {', '.join(allowed)}"


# --------------------------------------------------------------------------- cluster


class HardwareOverride(Spec):
    """Per-broker hardware that differs from the cluster's (``cluster.hardware.per_broker``)."""

    network_gbps: PositiveFloat | None = None
    """This broker's NIC bandwidth, each direction; null: the cluster's ``network_gbps``."""
    disk_write_mb_s: PositiveFloat | None = None
    """This broker's sequential disk write throughput; null: the cluster's."""
    disk_read_mb_s: PositiveFloat | None = None
    """This broker's sequential disk read throughput; null: the cluster's."""
    page_cache_mb: PositiveFloat | None = None
    """This broker's OS page cache; null: the cluster's."""
    broker_network_request_us: NonNegFloat | None = None
    """This broker's network-thread time per request; null: the cluster's."""
    broker_network_mb_s: PositiveFloat | None = None
    """This broker's network-thread byte rate; null: the cluster's."""
    broker_io_request_us: NonNegFloat | None = None
    """This broker's request-handler time per request; null: the cluster's."""
    broker_io_mb_s: PositiveFloat | None = None
    """This broker's request-handler byte rate; null: the cluster's."""
    cpu_cores: Annotated[int, Field(ge=1)] | None = None
    """This broker's CPU cores; null: the cluster's ``cpu_cores``."""


class CodecSpeeds(Spec):
    """Compression throughput of a producer's application thread per ``compression.type``, MB
    (10^6 bytes) of records in per second. Defaults measured by benchmarks/bench_client_cpu.py
    on this project's build machine (AMD EPYC, 2 cores, Python 3.11 bindings of the C
    libraries Kafka's codecs call), batches of 16,384 bytes of JSON log lines at Kafka 3.9's
    default levels: gzip 73 MB/s, snappy 698, lz4 860, zstd 350."""

    gzip: PositiveFloat = 73.0
    """gzip (zlib, level 6: ``Deflater.DEFAULT_COMPRESSION``)."""
    snappy: PositiveFloat = 698.0
    """snappy."""
    lz4: PositiveFloat = 860.0
    """lz4 (lz4's fast compressor: Lz4BlockOutputStream at the default level)."""
    zstd: PositiveFloat = 350.0
    """zstd (level 3)."""


class HardwareSpec(Spec):
    """The machines and network of one cluster."""

    network_gbps: PositiveFloat = 10.0
    """NIC bandwidth of every node, each direction (a message takes its size / this to send)."""
    rtt_ms: NonNegFloat = 0.5
    """Round-trip propagation delay between any two nodes."""
    disk_write_mb_s: PositiveFloat = 500.0
    """Sequential disk write throughput of each broker (the page cache's writeback, fsync)."""
    disk_read_mb_s: PositiveFloat = 1000.0
    """Sequential disk read throughput of each broker, for reads of data no longer cached."""
    page_cache_mb: PositiveFloat = 8192.0
    """OS page cache of each broker: data written less than this many bytes ago is read from
    memory; dirty data above Linux's dirty ratios of it throttles writers."""
    dirty_expire_s: NonNegFloat = 30.0
    """Age at which the OS writes a dirty page back (Linux ``dirty_expire_centisecs`` = 3000);
    a power loss drops the data younger than this."""
    dirty_writeback_interval_s: PositiveFloat = 5.0
    """Period of the OS flusher (Linux ``dirty_writeback_centisecs`` = 500)."""
    producer_send_us: PositiveFloat = 1.14
    """CPU time of the application's thread per send() of a producer: serialisation,
    partitioning and the append to its batch (KafkaProducer.doSend), compression apart. With
    compression the thread also compresses each record's bytes at ``producer_compress_mb_s``
    (MemoryRecordsBuilder's compressing stream runs in send()). Together they pace a
    closed-loop producer (``arrival.kind`` "closed_loop"); open-loop arrivals are the times
    of the send() calls. Default published: Kafka 1.0.0's kafka-producer-perf-test with
    100-byte records, ``--throughput -1``, acks=1, broker on the same host (no network limit):
    877,024 records/s, 1.14 µs per record (github.com/smfrpc/smf pull request 196, 2018)."""
    producer_compress_mb_s: CodecSpeeds = Field(default_factory=CodecSpeeds)
    """Compression throughput of a producer's application thread, per ``compression.type``."""
    producer_request_us: NonNegFloat = 8.1
    """CPU time of a producer's sender thread (one per producer) per ProduceRequest: its
    socket write. Requests leave one after another as the thread gets to them. Default
    measured by benchmarks/bench_client_cpu.py on the build machine: one send() system call
    of 16,384 bytes on a loopback TCP connection, 8.1 µs."""
    producer_checksum_mb_s: PositiveFloat = 2660.0
    """Rate at which a producer's sender thread closes batches, MB (10^6 bytes) per second:
    the CRC32C of each batch's bytes (DefaultRecordBatch.writeHeader), paid per request for
    its batches. Default measured by benchmarks/bench_client_cpu.py on the build machine:
    zlib's CRC-32 of a 16,384-byte batch in 6.15 µs."""
    broker_network_request_us: NonNegFloat = 5.0
    """CPU time of a broker's network thread (``num.network.threads`` of them, SocketServer's
    Processors) per request it reads, besides its bytes. Default uncited: the model's estimate, not
    a measurement (one socket system call is 1.1 µs on the build machine,
    benchmarks/bench_client_cpu.py; parsing and the selector's bookkeeping are not measured)."""
    broker_network_mb_s: PositiveFloat = 1000.0
    """Rate at which a broker's network thread reads a request's bytes, MB (10^6 bytes) per
    second. Default uncited: the model's estimate, below the socket copy measured on the build
    machine (1,760 MB/s, benchmarks/bench_client_cpu.py)."""
    broker_io_request_us: NonNegFloat = 20.0
    """CPU time of a broker's request handler (``num.io.threads`` of them, KafkaRequestHandler)
    per request, besides its bytes. Default uncited: the model's estimate, not a measurement (no
    published measurement of a request handler's time per request was found)."""
    broker_io_mb_s: PositiveFloat = 2000.0
    """Rate at which a broker's request handler goes through a request's bytes, MB (10^6 bytes)
    per second: for a produce request the CRC32C of each batch
    (UnifiedLog.analyzeAndValidateRecords) and its copy into the log. A replica fetcher thread
    pays the same, with ``broker_io_request_us``, for each fetch response it appends (one
    thread per ``num.replica.fetchers`` and leader). Default uncited: the model's
    estimate, below the checksum rate measured on the build machine (2,660 MB/s,
    benchmarks/bench_client_cpu.py)."""
    cpu_cores: Annotated[int, Field(ge=1)] | None = None
    """CPU cores of each broker and each producer machine, shared by its modelled threads (a
    broker's network threads, request handlers and replica fetchers; a producer's sender
    thread): a piece of work waits for a free core and then holds it for its whole CPU time (no
    preemption). A producer's application thread counts in its machine's CPU use but never
    waits for a core (its send() times are set in advance). null: as many cores as threads, no
    thread ever waits for a core. Either way the ``nodes`` table reports the CPU seconds used
    per second (``cpu_busy``, cores' worth); with cores set, ``cpu_utilisation`` is that over
    the cores."""
    per_broker: dict[str, HardwareOverride] = Field(default_factory=dict)
    """Overrides keyed by broker id, e.g. ``{"2": {"disk_write_mb_s": 20}}``."""

    @field_validator("per_broker", mode="before")
    @classmethod
    def _ids_as_strings(cls, value: Any) -> Any:
        if isinstance(value, Mapping):
            return {str(k): v for k, v in value.items()}
        return value


class ClusterSpec(Spec):
    """One Kafka cluster: its brokers, coordinator, hardware and broker config."""

    name: str | None = None
    """The cluster's name; needed only when the scenario has several clusters (``clusters``)."""
    brokers: Annotated[int, Field(ge=1, le=10_000)] = 3
    """Number of brokers, ids 0 to brokers-1; broker 0 is the first controller."""
    coordination: Literal["zookeeper", "kraft"] = "zookeeper"
    """"zookeeper" (Kafka 3.9's ZooKeeper mode); "kraft" is not simulated yet (a run refuses
    it)."""
    racks: list[str] | None = None
    """One rack per broker id (``broker.rack``), for rack-aware replica placement; null: no
    racks."""
    hardware: HardwareSpec = Field(default_factory=HardwareSpec)
    """The brokers' machines and the network."""
    config: dict[str, Any] = Field(default_factory=dict)
    """Broker properties by their Kafka 3.9 names, applied to every broker."""
    legacy_hw_truncation: bool = False
    """True: a follower truncates its log to its high watermark when it starts following, as
    before KIP-101 (Kafka < 0.11), to study the losses that caused; false: to the leader's end
    offset for its epoch, as Kafka 3.9 does."""


# --------------------------------------------------------------------------- topics


class TopicSpec(Spec):
    """A topic: ``partitions`` numbered from 0, each on ``replication_factor`` brokers."""

    name: str
    """Topic name: 1 to 249 of [a-zA-Z0-9._-], not "." or ".." (Kafka's ``Topic.validate``)."""
    partitions: Annotated[int, Field(ge=1, le=1_000_000)] | None = None
    """Number of partitions; null: the cluster's ``num.partitions`` (1 unless set), as for a
    topic Kafka creates without it."""
    replication_factor: Annotated[int, Field(ge=1, le=10_000)] | None = None
    """Replicas of each partition, at most the brokers; null: the cluster's
    ``default.replication.factor`` (1 unless set)."""
    config: dict[str, Any] = Field(default_factory=dict)
    """Topic properties by their Kafka 3.9 names; unset ones take the broker's synonyms."""
    cluster: str | None = None
    """The cluster's name, with several clusters; null in a one-cluster scenario."""

    @field_validator("name")
    @classmethod
    def _kafka_topic_name(cls, name: str) -> str:
        """Kafka's rule (3.9 ``Topic.validate``): [a-zA-Z0-9._-], at most 249, not '.' or '..'."""
        if name in (".", "..") or not TOPIC_NAME.fullmatch(name) or len(name) > TOPIC_NAME_MAX:
            raise ValueError(
                f"invalid topic name {name!r}; "
                "Kafka allows 1 to 249 of [a-zA-Z0-9._-], not '.' or '..'"
            )
        return name


# --------------------------------------------------------------------------- producers


class KeysSpec(Spec):
    """Record keys: the serialized key of key id i is "key-<i>" (StringSerializer)."""

    kind: Literal["none", "uniform", "zipf"] = "none"
    """"none": null keys (the built-in sticky partitioner); "uniform": each record draws one of
    ``cardinality`` keys uniformly; "zipf": key rank k is drawn with probability ∝ 1/k^zipf_s
    (hot keys). A keyed record goes to murmur2(key) mod partitions."""
    cardinality: Annotated[int, Field(ge=1)] = 1000
    """Number of distinct keys (uniform and zipf)."""
    zipf_s: Annotated[float, Field(gt=0, allow_inf_nan=False)] = 1.1
    """Exponent of the zipf distribution: the larger, the hotter the first keys."""


class ArrivalSpec(Spec):
    """How records arrive at a producer's send(), at a mean of the producer's ``rate_msgs_s``."""

    kind: Literal["constant", "poisson", "bursts", "closed_loop"] = "poisson"
    """"constant": evenly spaced; "poisson": exponential gaps; "bursts": Poisson at
    ``rate_msgs_s × burst_factor`` for ``burst_s`` out of every ``period_s``, and at a rate that
    keeps the mean at ``rate_msgs_s`` the rest of the time; "closed_loop": as
    kafka-producer-perf-test with ``--throughput -1`` (ProducerPerformance), the application
    calls send() again as soon as the last call returned: one call per
    ``hardware.producer_send_us``, none while a call blocks for memory
    (``buffer.memory``, up to ``max.block.ms``); ``rate_msgs_s`` is ignored."""
    num_records: Annotated[int, Field(ge=1)] | None = None
    """closed_loop only: records the application sends in all (``--num-records``), then it
    stops; null: until the producer's ``stop_s`` or the end of the run."""
    burst_factor: Annotated[float, Field(ge=1, allow_inf_nan=False)] = 5.0
    """Rate within a burst, as a multiple of ``rate_msgs_s``; burst_factor × burst_s must not
    exceed period_s."""
    burst_s: PositiveFloat = 1.0
    """Length of each burst, shorter than ``period_s``."""
    period_s: PositiveFloat = 10.0
    """Time from one burst's start to the next's, from the producer's ``start_s``."""

    @model_validator(mode="after")
    def _burst_fits(self) -> ArrivalSpec:
        if self.num_records is not None and self.kind != "closed_loop":
            raise _FieldProblem(
                "num_records", 'only a closed loop counts records; use kind "closed_loop"'
            )
        if self.kind == "bursts":
            if self.burst_s >= self.period_s:
                raise _FieldProblem("burst_s", "must be shorter than period_s")
            if self.burst_factor * self.burst_s > self.period_s:
                raise _FieldProblem(
                    "burst_factor",
                    "burst_factor × burst_s must not exceed period_s "
                    "(the mean rate would be exceeded "
                    "within bursts alone)",
                )
        return self


class FormatSpec(Spec):
    """The encoding of each record's value.

    kind "bytes": opaque bytes of ``message_bytes``; "json": the size of ``sample`` encoded as JSON;
    "avro": the size of ``sample`` encoded with ``schema`` by Avro's binary encoding (fastavro),
    plus the 5-byte schema-registry header when the scenario has a schema registry.
    """

    kind: Literal["bytes", "json", "avro"] = "bytes"
    """"bytes": opaque values of the producer's ``message_bytes``; "json": each value is
    ``sample`` encoded as JSON; "avro": ``sample`` encoded with ``schema``."""
    schema_: dict[str, Any] | None = Field(default=None, alias="schema")
    """The Avro schema (a record schema, as JSON data) of an avro format."""
    sample: dict[str, Any] | None = None
    """The record every value encodes (json and avro formats); its encoded size is the value
    size."""

    @model_validator(mode="after")
    def _encodable(self) -> FormatSpec:
        if self.kind in ("json", "avro") and self.sample is None:
            raise _FieldProblem("sample", f"a {self.kind} format needs a sample record to encode")
        if self.kind == "avro":
            if self.schema_ is None:
                raise _FieldProblem(
                    "schema", "an avro format needs an Avro schema (a record schema)"
                )
            _check_avro(self.schema_, self.sample)
        elif self.kind == "json":
            try:
                json.dumps(self.sample, allow_nan=False)
            except (TypeError, ValueError) as exc:
                raise _FieldProblem("sample", f"not JSON-encodable: {exc}") from None
        return self


def _check_avro(schema: dict[str, Any], sample: dict[str, Any] | None) -> None:
    """Parse the schema and encode the sample once with fastavro, so errors surface at load time."""
    import io

    import fastavro

    try:
        parsed = fastavro.parse_schema(schema)
    except Exception as exc:  # fastavro raises several types for a bad schema
        raise _FieldProblem("schema", f"not a valid Avro schema: {exc}") from None
    try:
        fastavro.schemaless_writer(io.BytesIO(), parsed, sample)
    except Exception as exc:
        raise _FieldProblem("sample", f"does not match the Avro schema: {exc}") from None


class ProducerSpec(Spec):
    """``count`` identical producer clients, named ``<name>-0`` .. ``<name>-<count-1>``."""

    name: str = "producer"
    """Prefix of the clients' node names: letters, digits, ".", "_", "-"; unique among
    producers and consumer groups."""
    count: Annotated[int, Field(ge=1, le=100_000)] = 1
    """Number of producer clients, each with the whole rate."""
    topic: str
    """The topic every record goes to."""
    rate_msgs_s: PositiveFloat = 1000.0
    """Mean records per second offered by each client (see ``arrival``)."""
    message_bytes: Annotated[int, Field(ge=0, le=1_000_000_000)] = 1024
    """Value size of each record (the mean when ``message_bytes_spread`` > 0); ignored by the
    json and avro formats, whose sample gives the size."""
    message_bytes_dist: Literal["fixed", "uniform", "lognormal"] = "fixed"
    """Value size distribution: "fixed"; "uniform" over mean × (1 ± spread); "lognormal" with
    sigma = spread and mean ``message_bytes``."""
    message_bytes_spread: Annotated[float, Field(ge=0, allow_inf_nan=False)] = 0.0
    """Spread of the value sizes (a fraction of the mean, at most 1, for uniform; sigma for
    lognormal); 0: every value is ``message_bytes``."""
    key_bytes: Annotated[int, Field(ge=0, le=1_000_000)] | None = None
    """Size of each key on the wire; null: the size of "key-<id>" for the largest key id (0
    without keys)."""
    arrival: ArrivalSpec = Field(default_factory=ArrivalSpec)
    """When records arrive."""
    keys: KeysSpec = Field(default_factory=KeysSpec)
    """Which keys records carry."""
    format: FormatSpec = Field(default_factory=FormatSpec)
    """How values are encoded (their size)."""
    start_s: NonNegFloat = 0.0
    """When the clients start sending, before the end of the run."""
    stop_s: PositiveFloat | None = None
    """When the clients stop sending (after ``start_s``, at most ``duration_s``); null: at the
    end of the run."""
    config: dict[str, Any] = Field(default_factory=dict)
    """Producer properties by their Kafka 3.9 names."""
    cluster: str | None = None
    """The cluster's name, with several clusters; null in a one-cluster scenario."""

    @field_validator("name")
    @classmethod
    def _node_prefix(cls, name: str) -> str:
        return _client_name(name)

    @model_validator(mode="after")
    def _spread_fits(self) -> ProducerSpec:
        if self.message_bytes_dist == "uniform" and self.message_bytes_spread > 1:
            raise _FieldProblem(
                "message_bytes_spread", "a uniform spread is a fraction of the mean, at most 1"
            )
        if self.stop_s is not None and self.stop_s <= self.start_s:
            raise _FieldProblem("stop_s", f"must be after start_s ({self.start_s})")
        return self


def _client_name(name: str) -> str:
    if not CLIENT_NAME.fullmatch(name) or name in RESERVED_NAMES:
        raise ValueError(
            f"invalid name {name!r}; use letters, digits, '.', '_' or '-', "
            f"and none of {', '.join(sorted(RESERVED_NAMES))}"
        )
    return name


# --------------------------------------------------------------------------- consumers


class ConsumerGroupSpec(Spec):
    """A consumer group of ``members`` consumers named ``<group_id>-0`` ..."""

    group_id: str
    """The group's ``group.id``, also the prefix of its members' node names: letters, digits,
    ".", "_", "-"; unique among producers and consumer groups."""
    members: Annotated[int, Field(ge=1, le=100_000)] = 1
    """Number of consumers at the start (faults add and remove some)."""
    topics: Annotated[list[str], Field(min_length=1)]
    """The topics every member subscribes to."""
    processing_ms: NonNegFloat = 0.0
    """Time to process one record: a polled batch of n records takes n × this before the next
    poll()."""
    reader_schema: dict[str, Any] | None = None
    """With a schema_registry: the Avro schema the members read values with (a specific
    reader); null: each value is read with its writer schema. Records whose writer schema it
    cannot resolve are skipped and counted (table deserialization_errors)."""
    deserialize_us: NonNegFloat = 5.7
    """With a schema_registry: application time to decode one Avro value, µs, added to
    processing_ms. Default measured: fastavro 1.13.1 ``schemaless_reader`` of a 36-byte
    five-field record took 5.65 µs (10.2 µs resolving it to a reader schema with one more
    field), best of 5 × 100,000 on this project's 2-core build machine."""
    start_s: NonNegFloat = 0.0
    """When the members start, before the end of the run."""
    static: bool = False
    """True: each member has ``group.instance.id`` ``<group_id>-<i>`` (KIP-345 static
    membership)."""
    config: dict[str, Any] = Field(default_factory=dict)
    """Consumer properties by their Kafka 3.9 names; ``group.id`` is ``group_id``, leave it
    out."""
    cluster: str | None = None
    """The cluster's name, with several clusters; null in a one-cluster scenario."""

    def kafka_config(self) -> dict[str, Any]:
        """The members' consumer properties, with ``group.id`` = ``group_id``."""
        return {**self.config, "group.id": self.group_id}

    @field_validator("group_id")
    @classmethod
    def _node_prefix(cls, name: str) -> str:
        return _client_name(name)

    @field_validator("reader_schema")
    @classmethod
    def _avro_schema(cls, schema: dict[str, Any] | None) -> dict[str, Any] | None:
        import fastavro

        if schema is not None:
            try:
                fastavro.parse_schema(schema)
            except Exception as exc:  # fastavro raises several types for a bad schema
                raise ValueError(f"not a valid Avro schema: {exc}") from None
        return schema


# --------------------------------------------------------------------------- faults


class _FaultBase(Spec):
    at_s: NonNegFloat
    """When the fault happens, before the end of the run."""


class CrashBroker(_FaultBase):
    """Process crash: peers see connections reset at once; the log survives."""

    kind: Literal["crash_broker"]
    broker: int | str
    """The broker: an id, ``broker-<id>``, ``"controller"`` (the controller when the fault
    happens) or ``"leader:<topic>-<partition>"`` (that partition's leader then)."""
    restart_after_s: PositiveFloat | None = None
    """Time after ``at_s`` when the broker restarts (with its log); null: it stays down."""


class PowerLoss(_FaultBase):
    """Like a crash, and each replica loses the dirty pages younger than the writeback delay."""

    kind: Literal["power_loss"]
    broker: int | str
    """The broker: an id, ``broker-<id>``, ``"controller"`` (the controller when the fault
    happens) or ``"leader:<topic>-<partition>"`` (that partition's leader then)."""
    restart_after_s: PositiveFloat | None = None
    """Time after ``at_s`` when the broker restarts, with what had reached its disk; null: it
    stays down."""


class ControlledShutdown(_FaultBase):
    """SIGTERM: the broker asks the controller to move its leaders away, then stops."""

    kind: Literal["controlled_shutdown"]
    broker: int | str
    """The broker: an id, ``broker-<id>``, ``"controller"`` (the controller when the fault
    happens) or ``"leader:<topic>-<partition>"`` (that partition's leader then)."""
    restart_after_s: PositiveFloat | None = None
    """Time after ``at_s`` when the broker starts again; null: it stays down."""


#: A broker's restart time in a rolling restart: from its old process gone to its new one up
#: (JVM start, log loading — quick after a clean shutdown, whose marker skips log recovery —
#: and the ZooKeeper connection): a few seconds.
ROLLING_DOWN_S = 5.0
#: How long a rolling restart waits for one broker to be back with no partition under-replicated
#: before it moves on: what Kafka's system tests allow (kafkatest KafkaService.restart_node, then
#: await_no_under_replicated_partitions): 60 s for the "started" line, 30 s for the
#: registration in ZooKeeper, 30 s for the under-replicated partitions to clear.
ROLLING_MAX_WAIT_S = 120.0


class RollingRestart(_FaultBase):
    """Each broker in turn is stopped (``controlled``: controlled shutdown; ``hard``: a crash),
    is down for ``down_s``, starts again, and the next waits until it is back with no
    partition under-replicated, or for ``max_wait_s`` at most. ``order``: broker ids (default
    all, ascending, the active controller then last)."""

    kind: Literal["rolling_restart"]
    mode: Literal["controlled", "hard"] = "controlled"
    """How each broker stops: ``controlled`` (a controlled shutdown: its leaderships move
    first) or ``hard`` (a crash: its ZooKeeper session expires after
    ``zookeeper.session.timeout.ms``)."""
    order: Annotated[list[Annotated[int, Field(ge=0)]], Field(min_length=1)] | None = None
    """The broker ids in the order they restart; default every broker, ascending, with the
    active controller (when the fault fires) last, so the controller moves once."""
    down_s: NonNegFloat = ROLLING_DOWN_S
    """How long each broker stays down before it starts again (JVM start and log loading)."""
    max_wait_s: PositiveFloat = ROLLING_MAX_WAIT_S
    """How long the restart waits, after a broker starts, for it to be back with no partition
    under-replicated before it moves on to the next broker anyway."""


class Pause(_FaultBase):
    """The process stops (long GC, SIGSTOP) for ``duration_s``: silence, no connection reset."""

    kind: Literal["pause"]
    node: int | str
    """The node: a broker as for ``broker``, ``"zookeeper"`` or a client (``app-0``,
    ``billing-1``)."""
    duration_s: PositiveFloat
    """How long the process stays stopped."""


class ZookeeperExpire(_FaultBase):
    """The node's ZooKeeper session expires now (its ephemeral znodes vanish)."""

    kind: Literal["zookeeper_expire"]
    node: int | str
    """The node: a broker as for ``broker``, ``"zookeeper"`` or a client (``app-0``,
    ``billing-1``)."""


PEER_CLASSES = ("brokers", "zookeeper", "clients")


class NetworkPartition(_FaultBase):
    """Cut ``isolate`` off from the node classes in ``from`` (all when omitted), or cut ``links``.

    A cut link is silence, as a firewall dropping packets: what crosses it waits in TCP, sent
    again at TCP's retransmissions (from 200 ms, doubling), so once the cut heals it arrives at
    the next one, unless the sender's request timeout fired first (its client then closed the
    connection and sends the request again elsewhere or later).
    """

    kind: Literal["network_partition"]
    isolate: int | str | None = None
    """The node to cut off (named as for ``pause``); give this or ``links``."""
    from_: list[Literal["brokers", "zookeeper", "clients"]] | None = Field(
        default=None, alias="from"
    )
    """The classes of nodes ``isolate`` is cut off from; null: all of them."""
    links: list[tuple[int | str, int | str]] | None = None
    """The ``[a, b]`` node pairs to cut, instead of ``isolate``."""
    one_way: bool = False
    """True: only messages from ``isolate`` (or each link's a) to the other side are dropped;
    false: both ways."""
    heal_after_s: PositiveFloat | None = None
    """Time after ``at_s`` when the cut heals; null: never."""

    @model_validator(mode="after")
    def _one_form(self) -> NetworkPartition:
        if (self.isolate is None) == (self.links is None):
            raise _FieldProblem(
                "isolate", "give either 'isolate' (with optional 'from') or 'links'"
            )
        if self.links is not None and not self.links:
            raise _FieldProblem("links", "must list at least one [a, b] pair")
        if self.from_ is not None and self.isolate is None:
            raise _FieldProblem("from", "'from' goes with 'isolate'")
        return self


class WanPartition(_FaultBase):
    """Cut the WAN between two clusters' sites (every pair when ``between`` is omitted), both
    ways: what crosses it, what is in flight too, waits in TCP until a retransmission after the
    heal (as for ``network_partition``); only timeouts tell the senders. Only with several
    clusters."""

    kind: Literal["wan_partition"]
    between: tuple[str, str] | None = None
    """The two clusters whose sites are cut apart; null: every two clusters."""
    heal_after_s: PositiveFloat | None = None
    """Time after ``at_s`` when the WAN comes back; null: never."""


class SlowWan(_FaultBase):
    """The WAN between two clusters' sites (every pair when ``between`` is omitted) gains
    ``extra_delay_ms`` each way and/or loses bandwidth. Only with several clusters."""

    kind: Literal["slow_wan"]
    between: tuple[str, str] | None = None
    """The two clusters whose link degrades; null: every two clusters."""
    extra_delay_ms: NonNegFloat = 0.0
    """Delay added to the WAN's one-way propagation, each way."""
    bandwidth_factor: Annotated[float, Field(gt=0, le=1, allow_inf_nan=False)] = 1.0
    """The share of the WAN's bandwidth it keeps (0.1: ten times slower)."""
    duration_s: PositiveFloat | None = None
    """How long the WAN stays slow; null: until the end of the run."""


class CrashMirrorWorker(_FaultBase):
    """The Kafka Connect worker running a mirror's task dies (every task of the mirror when
    ``task`` is omitted); restarted, a task resumes from the source offsets Connect last
    flushed (``offset.flush.interval.ms``), so records mirrored since are mirrored again.
    Only with several clusters."""

    kind: Literal["crash_mirror_worker"]
    mirror: str
    """The mirror, ``<source>-><target>`` (``east->west``)."""
    task: Annotated[int, Field(ge=0)] | None = None
    """The task's number (0 .. its tasks - 1); null: every task of the mirror."""
    restart_after_s: PositiveFloat | None = None
    """Time after ``at_s`` when the tasks start again; null: never."""


class ClusterOutage(_FaultBase):
    """Every node of a cluster down at once (a region or data centre lost): its brokers, the
    controller among them, crash and its ZooKeeper stops; with ``power_loss`` each broker also
    loses what its OS had not written back, as ``power_loss`` does."""

    kind: Literal["cluster_outage"]
    cluster: str | None = None
    """The cluster's name, with several clusters; null in a one-cluster scenario."""
    power_loss: bool = False
    """True: the machines lose power (each broker's unwritten page cache is lost)."""
    restart_after_s: PositiveFloat | None = None
    """Time after ``at_s`` when the cluster starts again (ZooKeeper, then every broker with
    what reached its disk); null: it stays down."""


class Failover(_FaultBase):
    """Consumer group ``group`` moves to cluster ``to`` (a scenario event, not a fault): its
    members leave its own cluster (they just die when no broker of it runs) and as many start
    in ``to``, subscribed to the remote topics of its topics (``<cluster>.<topic>``), from the
    offsets MirrorMaker 2 translated: the group's committed offsets in ``to`` if
    ``sync.group.offsets.enabled`` put some there, else its last checkpoints
    (RemoteClusterUtils.translateOffsets, committed before the members start), else
    ``auto.offset.reset``. Needs a mirror from the group's cluster to ``to`` that mirrors each
    of its topics (docs/multi_cluster.md)."""

    kind: Literal["failover"]
    group: str
    """The consumer group's ``group_id``."""
    to: str
    """The cluster it moves to."""


class SlowDisk(_FaultBase):
    """The broker's disk runs ``factor`` times slower for ``duration_s`` (forever when omitted)."""

    kind: Literal["slow_disk"]
    broker: int | str
    """The broker: an id, ``broker-<id>``, ``"controller"`` (the controller when the fault
    happens) or ``"leader:<topic>-<partition>"`` (that partition's leader then)."""
    factor: Annotated[float, Field(gt=1, allow_inf_nan=False)]
    """How many times slower the disk's reads and writes become."""
    duration_s: PositiveFloat | None = None
    """How long the disk stays slow; null: until the end of the run."""


class SlowNetwork(_FaultBase):
    """The link between two nodes gains ``extra_delay_ms`` each way and/or loses bandwidth."""

    kind: Literal["slow_network"]
    between: tuple[int | str, int | str]
    """The two nodes ``[a, b]`` (named as for ``pause``)."""
    extra_delay_ms: NonNegFloat = 0.0
    """Delay added to every message on the link, each way."""
    bandwidth_factor: Annotated[float, Field(gt=0, le=1, allow_inf_nan=False)] = 1.0
    """The link's share of the NIC bandwidth it keeps (0.1: ten times slower)."""
    duration_s: PositiveFloat | None = None
    """How long the link stays slow; null: until the end of the run."""


class DropMessages(_FaultBase):
    """Each message on the link between two nodes is dropped with ``probability``."""

    kind: Literal["drop_messages"]
    between: tuple[int | str, int | str]
    """The two nodes ``[a, b]`` (named as for ``pause``)."""
    probability: Annotated[float, Field(gt=0, le=1, allow_inf_nan=False)]
    """Chance that each message is dropped (silently: the sender's timeout notices)."""
    direction: Literal["requests", "responses", "both"] = "both"
    """Which messages may be dropped: requests, responses or both."""
    duration_s: PositiveFloat | None = None
    """How long messages are dropped; null: until the end of the run."""


class CrashConsumer(_FaultBase):
    """A consumer process dies (no LeaveGroup); restarts after ``restart_after_s`` if given."""

    kind: Literal["crash_consumer"]
    group: str
    """The consumer group's ``group_id``."""
    member: Annotated[int, Field(ge=0)] = 0
    """The member's index i (node ``<group_id>-<i>``)."""
    restart_after_s: PositiveFloat | None = None
    """Time after ``at_s`` when the member starts again, with the same name (and
    ``group.instance.id``); null: it stays down."""


class AddConsumer(_FaultBase):
    """``count`` new members join ``group``."""

    kind: Literal["add_consumer"]
    group: str
    """The consumer group's ``group_id``."""
    count: Annotated[int, Field(ge=1)] = 1
    """How many members join, named with the group's next indices."""


class RemoveConsumer(_FaultBase):
    """A member leaves ``group`` cleanly (LeaveGroup; static members just stop)."""

    kind: Literal["remove_consumer"]
    group: str
    """The consumer group's ``group_id``."""
    member: Annotated[int, Field(ge=0)] | None = None
    """The member's index i (node ``<group_id>-<i>``); null: the highest-numbered running
    member."""


class AddProducer(_FaultBase):
    """A new producer (a full producer spec) starts sending at ``at_s``."""

    kind: Literal["add_producer"]
    producer: ProducerSpec
    """The new producer, as an item of ``producers``; its records arrive from ``at_s`` (or its
    own later ``start_s``)."""


COMPATIBILITY_MODES = Literal[
    "BACKWARD",
    "BACKWARD_TRANSITIVE",
    "FORWARD",
    "FORWARD_TRANSITIVE",
    "FULL",
    "FULL_TRANSITIVE",
    "NONE",
]


class EvolveSchema(_FaultBase):
    """Producer ``producer``'s application writes records of a new Avro ``schema`` from
    ``at_s``: its serializer registers it (a new version when the subject's compatibility
    allows it; otherwise its records fail with SERIALIZATION_ERROR)."""

    kind: Literal["evolve_schema"]
    producer: str
    """The producer (an item of ``producers`` with an avro format), every client of it."""
    schema_: dict[str, Any] = Field(alias="schema")
    """The new Avro schema (a record schema, as JSON data)."""
    sample: dict[str, Any] | None = None
    """The record the values now encode (its size is the value size); null: the producer's
    sample, with the new schema's defaults for fields it lacks."""


class SetCompatibility(_FaultBase):
    """The registry's compatibility mode of ``subject`` is set at ``at_s`` (``PUT
    /config/{subject}``)."""

    kind: Literal["set_compatibility"]
    subject: str
    """The subject: ``<topic>-value`` (TopicNameStrategy)."""
    mode: COMPATIBILITY_MODES
    """The new mode (Confluent's names)."""


Fault = Annotated[
    CrashBroker
    | PowerLoss
    | ControlledShutdown
    | RollingRestart
    | Pause
    | ZookeeperExpire
    | NetworkPartition
    | SlowDisk
    | SlowNetwork
    | DropMessages
    | CrashConsumer
    | AddConsumer
    | RemoveConsumer
    | AddProducer
    | EvolveSchema
    | SetCompatibility
    | WanPartition
    | SlowWan
    | CrashMirrorWorker
    | ClusterOutage
    | Failover,
    Field(discriminator="kind"),
]
FAULT_KINDS = (
    "crash_broker",
    "power_loss",
    "controlled_shutdown",
    "rolling_restart",
    "pause",
    "zookeeper_expire",
    "network_partition",
    "slow_disk",
    "slow_network",
    "drop_messages",
    "crash_consumer",
    "add_consumer",
    "remove_consumer",
    "add_producer",
    "evolve_schema",
    "set_compatibility",
    "wan_partition",
    "slow_wan",
    "crash_mirror_worker",
    "cluster_outage",
    "failover",
)
#: Fault kinds about several clusters, handled by sim.multi_cluster (not by one cluster's).
MULTI_CLUSTER_FAULTS = ("wan_partition", "slow_wan", "crash_mirror_worker", "failover")
#: Fault kinds that, in a scenario of several clusters, hit the one cluster their target
#: names (Scenario.cluster_faults).
CLUSTER_FAULTS = (
    "crash_broker",
    "power_loss",
    "controlled_shutdown",
    "slow_disk",
    "pause",
    "zookeeper_expire",
    "crash_consumer",
    "add_consumer",
    "remove_consumer",
    "add_producer",
    "cluster_outage",
)
#: The registry's node name (faults name it so: pause, network_partition, slow_network).
SCHEMA_REGISTRY_NODE = "schema-registry"
BROKER_FAULTS = ("crash_broker", "power_loss", "controlled_shutdown", "slow_disk")


# --------------------------------------------------------------------------- multi-cluster


class MirrorSpec(Spec):
    """A MirrorMaker 2 flow (MirrorSourceConnector) replicating the ``topics`` of ``source`` to
    remote topics of ``target`` named ``<source>.<topic>`` (docs/multi_cluster.md)."""

    source: str
    """The source cluster's name."""
    target: str
    """The target cluster's name, not the source."""
    topics: str = ".*"
    """A regular expression (MirrorMaker's ``topics``): the source topics whose whole name
    matches are mirrored, except internal ones, those matching ``topics.exclude`` and those
    that came from the target (no cycles)."""
    config: dict[str, Any] = Field(default_factory=dict)
    """MirrorMaker 2 properties by their names (``tasks.max``, ``replication.factor``, ...);
    ``consumer.*`` and ``producer.*`` set its tasks' clients (docs/multi_cluster.md)."""

    @field_validator("topics")
    @classmethod
    def _regex(cls, pattern: str) -> str:
        try:
            re.compile(pattern)
        except re.error as exc:
            raise ValueError(f"not a regular expression: {exc}") from None
        return pattern


class WanSpec(Spec):
    """The network between the clusters' sites: between every two clusters one link each way,
    shared by all their traffic."""

    rtt_ms: NonNegFloat = 60.0
    """Round-trip propagation delay between two sites (it replaces the clusters' ``rtt_ms``
    for traffic between them); 60 ms is of the order of two regions of one continent."""
    bandwidth_gbps: PositiveFloat = 1.0
    """Bandwidth of each direction of the link between two sites."""


class SchemaRegistrySpec(Spec):
    """A Confluent-like schema registry; ``compatibility`` is the subjects' default mode."""

    compatibility: COMPATIBILITY_MODES = "BACKWARD"
    """The compatibility mode of every subject (Confluent's names); the registry node is
    ``schema-registry`` (faults name it so)."""
    client_timeout_ms: PositiveFloat = 60000.0
    """How long a client's registry call may take before it fails: the serializers'
    ``http.read.timeout.ms`` (SchemaRegistryClientConfig.HTTP_READ_TIMEOUT_MS_DEFAULT)."""


# --------------------------------------------------------------------------- scenario


class Scenario(Spec):
    """A whole simulation: its cluster, topics, clients and faults, and how long it runs."""

    name: str = "scenario"
    """The scenario's name: the results go to ``results/<name>`` by default."""
    seed: Annotated[int, Field(ge=0, lt=2**63)] = 0
    """Seed of every random stream: the same scenario and seed give the same run."""
    duration_s: PositiveFloat = 60.0
    """Simulated time the run lasts."""
    warmup_s: NonNegFloat = 0.0
    """Time at the start left out of the summary's latency percentiles (records sent before
    it) and throughput (records acknowledged before it), as benchmarks leave out their warm-up:
    the group forming, the first metadata requests. Tables and time series keep everything."""
    cluster: ClusterSpec | None = None
    """The cluster; null with ``clusters``, and a default cluster when both are null."""
    clusters: list[ClusterSpec] | None = None
    """Several named clusters instead of ``cluster``, each at its own site, in one simulation
    and one clock (docs/multi_cluster.md)."""
    topics: list[TopicSpec] = Field(default_factory=list)
    """The topics, created before the run starts."""
    producers: list[ProducerSpec] = Field(default_factory=list)
    """The producers present from the start (``add_producer`` faults add more)."""
    consumer_groups: list[ConsumerGroupSpec] = Field(default_factory=list)
    """The consumer groups."""
    faults: list[Fault] = Field(default_factory=list)
    """What goes wrong, and when: each item has a ``kind`` and an ``at_s``."""
    mirrors: list[MirrorSpec] = Field(default_factory=list)
    """Replication between clusters (MirrorMaker 2)."""
    wan: WanSpec = Field(default_factory=WanSpec)
    """The links between the clusters' sites (used with several clusters)."""
    schema_registry: SchemaRegistrySpec | None = None
    """A schema registry for the avro formats: producers with an avro format register their
    schema (subject ``<topic>-value``) and prefix each value with its 5-byte id header."""

    @model_validator(mode="after")
    def _cross_checks(self) -> Scenario:
        _check_warmup(self)
        _check_clusters(self)
        _check_topics(self)
        _check_mirrors(self)
        _check_clients(self)
        _check_faults(self)
        _normalise_configs(self)
        return self

    # ---------------------------------------------------------------- construction

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Scenario:
        """Validate ``data`` (docs/scenario.md); raise :class:`ScenarioError` naming the bad
        field."""
        if not isinstance(data, Mapping):
            raise ScenarioError("", f"a scenario is a mapping, got {type(data).__name__}")
        try:
            return cls.model_validate(dict(data))
        except ValidationError as exc:
            raise _one_line(exc) from None

    def to_dict(self) -> dict[str, Any]:
        """The scenario as JSON-ready data, every field explicit, Kafka properties normalised."""
        return self.model_dump(mode="json", by_alias=True)

    # ---------------------------------------------------------------- queries

    @property
    def all_clusters(self) -> list[ClusterSpec]:
        """The clusters, whether given as ``cluster`` or ``clusters``."""
        return list(self.clusters) if self.clusters is not None else [self.cluster]

    def cluster_named(self, name: str | None) -> ClusterSpec:
        """The cluster a topic or client names (``None`` in a one-cluster scenario)."""
        for cluster in self.all_clusters:
            if cluster.name == name or (name is None and len(self.all_clusters) == 1):
                return cluster
        raise KeyError(name)

    def mirror_flows(self) -> list[MirrorFlow]:
        """Each mirror's connector (its topic filter and replication policy) and the replicas
        of the remote topics it creates (``replication.factor``; -1: the target's default)."""
        flows = []
        for i, mirror in enumerate(self.mirrors):
            cfg = kafka_config.mirror_config(mirror.config, f"mirrors.{i}.config").mirror
            policy = DefaultReplicationPolicy(cfg["replication.policy.separator"])
            topic_filter = DefaultTopicFilter([mirror.topics], cfg["topics.exclude"])
            connector = MirrorSourceConnector(mirror.source, mirror.target, policy, topic_filter)
            rf = cfg["replication.factor"]
            if rf == -1:
                target = self.cluster_named(mirror.target).config
                rf = kafka_config.broker_config(target)["default.replication.factor"]
            flows.append(MirrorFlow(i, connector, rf))
        return flows

    def remote_topics(self) -> list[RemoteTopic]:
        """The topics the mirrors write in their targets (created by them, or declared)."""
        if not self.mirrors:
            return []
        declared: dict[str, dict[str, int]] = {c.name: {} for c in self.all_clusters}
        for topic in self.topics:
            declared[topic.cluster][topic.name] = topic.partitions
        return remote_topics(self.mirror_flows(), declared)

    def for_cluster(self, name: str) -> Scenario:
        """What runs in cluster ``name`` of a scenario of several, as a one-cluster scenario:
        its topics (and the remote topics mirrors create there, with the partitions and the
        config they copy from their source topics), producers and consumer groups; no faults,
        no mirrors."""
        data = self.to_dict()
        cluster = next(c for c in data["clusters"] if c["name"] == name)
        topics = [{**t, "cluster": None} for t in data["topics"] if t["cluster"] == name]
        for remote in self.remote_topics():
            if remote.cluster == name and remote.created:
                source = self.topic(remote.source_topic, remote.source)
                topics.append(
                    {"name": remote.name, "partitions": remote.partitions,
                     "replication_factor": remote.replication_factor,
                     "config": target_config(source.config)}
                )  # fmt: skip
        return Scenario.from_dict(
            {
                **data,
                "cluster": cluster,
                "clusters": None,
                "topics": topics,
                "producers": [
                    {**p, "cluster": None} for p in data["producers"] if p["cluster"] == name
                ],
                "consumer_groups": [
                    {**g, "cluster": None} for g in data["consumer_groups"] if g["cluster"] == name
                ]
                + self._failover_groups(data, name),
                "faults": [f for owner, f in self.cluster_faults() if owner == name],
                "mirrors": [],
            }
        )

    def failover_topics(self, fault: Failover) -> dict[str, str]:
        """Topic of the failing-over group's cluster -> its remote topic in ``fault.to``."""
        group = next(g for g in self.consumer_groups if g.group_id == fault.group)
        return {
            t.source_topic: t.name
            for t in self.remote_topics()
            if t.cluster == fault.to and t.source == group.cluster
        }

    def _failover_groups(self, data: dict[str, Any], name: str) -> list[dict[str, Any]]:
        """The groups failing over to cluster ``name`` (``data``: this scenario's dict), as it
        runs them: subscribed to the remote topics, starting at the failover."""
        out = []
        for fault in self.faults:
            if fault.kind == "failover" and fault.to == name:
                group = next(g for g in data["consumer_groups"] if g["group_id"] == fault.group)
                remote = self.failover_topics(fault)
                topics = [remote[t] for t in group["topics"]]
                out.append({**group, "cluster": None, "topics": topics, "start_s": fault.at_s})
        return out

    def cluster_faults(self) -> list[tuple[str, dict[str, Any]]]:
        """The faults of a scenario of several clusters that hit one cluster
        (:data:`CLUSTER_FAULTS`), each with that cluster's name and as that cluster's
        one-cluster scenario writes it: node names without the cluster (``east/broker-1``:
        ``broker-1``; ``leader:east/orders-0``: ``leader:orders-0``)."""
        out = []
        for fault in self.to_dict()["faults"]:
            kind = fault["kind"]
            if kind not in CLUSTER_FAULTS:
                continue
            if kind in BROKER_FAULTS:
                owner, fault["broker"] = _unprefixed(self, fault["broker"])
            elif kind in ("pause", "zookeeper_expire"):
                owner, fault["node"] = _unprefixed(self, fault["node"])
            elif kind == "add_producer":
                owner = fault["producer"]["cluster"]
                fault["producer"]["cluster"] = None
            elif kind == "cluster_outage":
                owner, fault["cluster"] = fault["cluster"], None
            else:  # the consumer faults
                owner = next(
                    g.cluster for g in self.consumer_groups if g.group_id == fault["group"]
                )
            out.append((owner, fault))
        return out

    def topic(self, name: str, cluster: str | None = None) -> TopicSpec:
        """The topic called ``name`` in ``cluster``."""
        for topic in self.topics:
            if topic.name == name and topic.cluster == cluster:
                return topic
        raise KeyError(name)

    def warnings(self) -> list[str]:
        """What Kafka accepts that the user may not expect, one line each (shown by the CLI)."""
        out: list[str] = []
        if not (self.producers or self.consumer_groups or self.faults):
            out.append(
                "the scenario has no producers, consumer_groups or faults: a run simulates an "
                "idle cluster and measures nothing; add a producer"
            )
        for i, topic in enumerate(self.topics):
            cluster = self.cluster_named(topic.cluster)
            eff = kafka_config.topic_config(topic.config, cluster.config)
            if eff["min.insync.replicas"] > topic.replication_factor:
                out.append(
                    f"topics.{i}.config.min.insync.replicas: {eff['min.insync.replicas']} exceeds "
                    f"replication_factor {topic.replication_factor}; Kafka >= 3.7 uses "
                    f"min({eff['min.insync.replicas']}, {topic.replication_factor}) = "
                    f"{topic.replication_factor} as the effective minimum ISR "
                    "(Partition.effectiveMinIsr)"
                )
        for i, producer in enumerate(self.producers):
            _, notes = kafka_config.producer_config(producer.config, f"producers.{i}.config")
            out.extend(notes)
        for i, group in enumerate(self.consumer_groups):
            _, notes = kafka_config.consumer_config(
                group.kafka_config(), f"consumer_groups.{i}.config"
            )
            out.extend(notes)
        return out


# --------------------------------------------------------------------------- cross-field checks


def _check_clusters(s: Scenario) -> None:
    if (s.cluster is None) == (s.clusters is None):
        if s.cluster is None:
            s.cluster = ClusterSpec()
            return
        raise ScenarioError("clusters", "give either 'cluster' or 'clusters', not both")
    if s.clusters is not None:
        if not s.clusters:
            raise ScenarioError("clusters", "must list at least one cluster")
        seen: set[str] = set()
        for i, cluster in enumerate(s.clusters):
            if not cluster.name or not CLIENT_NAME.fullmatch(cluster.name):
                raise ScenarioError(
                    f"clusters.{i}.name", "each of several clusters needs a name of [a-zA-Z0-9._-]"
                )
            if cluster.name in seen:
                raise ScenarioError(
                    f"clusters.{i}.name", f"duplicate cluster name {cluster.name!r}"
                )
            seen.add(cluster.name)
    for i, cluster in enumerate(s.all_clusters):
        where = f"clusters.{i}" if s.clusters is not None else "cluster"
        _check_cluster(cluster, where)


def _check_cluster(cluster: ClusterSpec, where: str) -> None:
    for key in cluster.hardware.per_broker:
        if not key.isdigit() or int(key) >= cluster.brokers:
            raise ScenarioError(
                f"{where}.hardware.per_broker.{key}",
                f"no broker {key!r}; broker ids are 0..{cluster.brokers - 1}",
            )
    if cluster.racks is not None and len(cluster.racks) != cluster.brokers:
        raise ScenarioError(
            f"{where}.racks",
            f"gives {len(cluster.racks)} racks for {cluster.brokers} brokers; give one per broker",
        )


def _cluster_of(s: Scenario, name: str | None, path: str) -> ClusterSpec:
    if s.clusters is None:
        if name is not None and name != s.cluster.name:
            raise ScenarioError(f"{path}.cluster", f"no cluster {name!r} in a one-cluster scenario")
        return s.cluster
    names = [c.name for c in s.clusters]
    if name is None:
        raise ScenarioError(f"{path}.cluster", f"name the cluster, one of: {', '.join(names)}")
    if name not in names:
        raise ScenarioError(f"{path}.cluster", _unknown(name, names, "cluster"))
    return s.cluster_named(name)


def _check_topics(s: Scenario) -> None:
    seen: set[tuple[str | None, str]] = set()
    for i, topic in enumerate(s.topics):
        cluster = _cluster_of(s, topic.cluster, f"topics.{i}")
        if (topic.cluster, topic.name) in seen:
            raise ScenarioError(f"topics.{i}.name", f"duplicate topic {topic.name!r}")
        seen.add((topic.cluster, topic.name))
        rf_given = topic.replication_factor is not None
        if topic.partitions is None or not rf_given:
            where = "cluster" if s.clusters is None else f"clusters.{s.clusters.index(cluster)}"
            broker = kafka_config.broker_config(cluster.config, f"{where}.config")
            if topic.partitions is None:
                topic.partitions = broker["num.partitions"]
            if not rf_given:
                topic.replication_factor = broker["default.replication.factor"]
        if topic.replication_factor > cluster.brokers:
            source = "" if rf_given else " (the cluster's default.replication.factor)"
            fix = "use" if rf_given else "set replication_factor or default.replication.factor to"
            raise ScenarioError(
                f"topics.{i}.replication_factor",
                f"{topic.replication_factor}{source} is larger than the {cluster.brokers} "
                f"brokers; {fix} at most {cluster.brokers} "
                "(Kafka: InvalidReplicationFactorException)",
            )


def _topic_names(s: Scenario, cluster: str | None, remote: bool = False) -> list[str]:
    """The topics of ``cluster``; remote: with those mirrors create there."""
    names = [t.name for t in s.topics if t.cluster == cluster]
    if remote:
        names += [t.name for t in s.remote_topics() if t.cluster == cluster and t.created]
    return names


def _check_producer(s: Scenario, producer: ProducerSpec, path: str) -> None:
    _cluster_of(s, producer.cluster, path)
    names = _topic_names(s, producer.cluster)
    if producer.topic not in names:
        raise ScenarioError(f"{path}.topic", _unknown(producer.topic, names, "topic"))
    if producer.stop_s is not None and producer.stop_s > s.duration_s:
        raise ScenarioError(f"{path}.stop_s", f"is after the end of the run ({s.duration_s} s)")
    if producer.start_s >= s.duration_s:
        raise ScenarioError(
            f"{path}.start_s", f"is not before the end of the run ({s.duration_s} s)"
        )


def _check_clients(s: Scenario) -> None:
    node_names: dict[str, str] = {}
    for i, producer in enumerate(s.producers):
        _check_producer(s, producer, f"producers.{i}")
        _claim_name(node_names, producer.name, f"producers.{i}.name")
    for i, group in enumerate(s.consumer_groups):
        path = f"consumer_groups.{i}"
        _cluster_of(s, group.cluster, path)
        names = _topic_names(s, group.cluster, remote=True)
        for j, topic in enumerate(group.topics):
            if topic not in names:
                raise ScenarioError(f"{path}.topics.{j}", _unknown(topic, names, "topic"))
        if group.start_s >= s.duration_s:
            raise ScenarioError(
                f"{path}.start_s", f"is not before the end of the run ({s.duration_s} s)"
            )
        _claim_name(node_names, group.group_id, f"{path}.group_id")


def _claim_name(taken: dict[str, str], name: str, path: str) -> None:
    """Producer names and group ids prefix node names (``app-0``), so they must be unique."""
    if name in taken:
        raise ScenarioError(
            path, f"{name!r} is already the name of {taken[name]}; names must be unique"
        )
    taken[name] = path


def _check_warmup(s: Scenario) -> None:
    if s.warmup_s >= s.duration_s:
        raise ScenarioError(
            "warmup_s", f"{s.warmup_s} leaves nothing to measure: make it less than duration_s"
        )


def _check_faults(s: Scenario) -> None:
    for i, fault in enumerate(s.faults):
        path = f"faults.{i}"
        if fault.at_s >= s.duration_s:
            raise ScenarioError(
                f"{path}.at_s",
                f"{fault.at_s} is not before the end of the run (duration_s {s.duration_s})",
            )
        _check_fault_targets(s, fault, path)


def _check_fault_targets(s: Scenario, fault: Any, path: str) -> None:
    if fault.kind in BROKER_FAULTS:
        resolve_target(s, fault.broker, f"{path}.broker", brokers_only=True)
    elif fault.kind == "rolling_restart":
        _check_rolling_order(s, fault.order or [], f"{path}.order")
    elif fault.kind in ("pause", "zookeeper_expire"):
        resolve_target(s, fault.node, f"{path}.node")
    elif fault.kind == "network_partition":
        if fault.isolate is not None:
            resolve_target(s, fault.isolate, f"{path}.isolate")
        for j, (a, b) in enumerate(fault.links or ()):
            resolve_target(s, a, f"{path}.links.{j}.0")
            resolve_target(s, b, f"{path}.links.{j}.1")
    elif fault.kind in ("slow_network", "drop_messages"):
        resolve_target(s, fault.between[0], f"{path}.between.0")
        resolve_target(s, fault.between[1], f"{path}.between.1")
    elif fault.kind in ("crash_consumer", "add_consumer", "remove_consumer"):
        groups = [g.group_id for g in s.consumer_groups]
        if fault.group not in groups:
            raise ScenarioError(f"{path}.group", _unknown(fault.group, groups, "consumer group"))
        member = getattr(fault, "member", None)
        members = s.consumer_groups[groups.index(fault.group)].members
        if member is not None and member >= members:
            raise ScenarioError(
                f"{path}.member", f"no member {member} in {fault.group!r}: it starts with {members}"
            )
    elif fault.kind == "evolve_schema":
        _check_evolution(s, fault, path)
    elif fault.kind == "crash_mirror_worker":
        _check_mirror_worker(s, fault, path)
    elif fault.kind == "cluster_outage":
        _check_outage(s, fault, path)
    elif fault.kind == "failover":
        _check_failover(s, fault, path)
    elif fault.kind in MULTI_CLUSTER_FAULTS:
        _check_wan_fault(s, fault, path)
    elif fault.kind == "add_producer":
        _check_producer(s, fault.producer, f"{path}.producer")
        taken = {p.name: "a producer" for p in s.producers}
        taken.update({g.group_id: "a consumer group" for g in s.consumer_groups})
        _claim_name(taken, fault.producer.name, f"{path}.producer.name")


def _check_wan_fault(s: Scenario, fault: WanPartition | SlowWan, path: str) -> None:
    """A WAN exists between the sites of several clusters; ``between`` names two of them."""
    if s.clusters is None or len(s.clusters) < 2:
        raise ScenarioError(f"{path}.kind", f"a {fault.kind} needs several clusters ('clusters')")
    names = [c.name for c in s.clusters]
    for j, name in enumerate(fault.between or ()):
        if name not in names:
            raise ScenarioError(f"{path}.between.{j}", _unknown(name, names, "cluster"))
    if fault.between is not None and fault.between[0] == fault.between[1]:
        raise ScenarioError(f"{path}.between.1", "must differ from between.0")


def _check_mirror_worker(s: Scenario, fault: CrashMirrorWorker, path: str) -> None:
    """``mirror`` names a mirror of the scenario; ``task`` one of its tasks (min(tasks.max,
    source partitions) of them)."""
    names = [f"{m.source}->{m.target}" for m in s.mirrors]
    if fault.mirror not in names:
        raise ScenarioError(f"{path}.mirror", _unknown(fault.mirror, names, "mirror"))
    if fault.task is None:
        return
    index = names.index(fault.mirror)
    config = kafka_config.mirror_config(s.mirrors[index].config, f"mirrors.{index}.config")
    partitions = sum(
        s.topic(t.source_topic, t.source).partitions for t in s.remote_topics() if t.mirror == index
    )
    tasks = min(config.mirror["tasks.max"], partitions)
    if fault.task >= tasks:
        raise ScenarioError(
            f"{path}.task", f"{fault.mirror} has {tasks} tasks (0 to {tasks - 1}), not {fault.task}"
        )


def _check_outage(s: Scenario, fault: ClusterOutage, path: str) -> None:
    """With several clusters, ``cluster`` names one of them; with one, it is left out."""
    several = s.clusters is not None and len(s.clusters) > 1
    names = [c.name for c in s.all_clusters]
    if several and fault.cluster not in names:
        raise ScenarioError(f"{path}.cluster", _unknown(str(fault.cluster), names, "cluster"))
    if not several and fault.cluster is not None and fault.cluster not in names:
        raise ScenarioError(f"{path}.cluster", "one cluster: leave 'cluster' out")


def _check_failover(s: Scenario, fault: Failover, path: str) -> None:
    """The group exists, ``to`` is another cluster, and a mirror copies each of its topics
    there; one failover per group."""
    groups = {g.group_id: g for g in s.consumer_groups}
    group = groups.get(fault.group)
    if group is None:
        raise ScenarioError(f"{path}.group", _unknown(fault.group, list(groups), "consumer group"))
    names = [c.name for c in s.all_clusters]
    if fault.to not in names:
        raise ScenarioError(f"{path}.to", _unknown(fault.to, names, "cluster"))
    if fault.to == group.cluster:
        raise ScenarioError(f"{path}.to", f"{fault.group!r} is in {fault.to!r} already")
    failovers = [f for f in s.faults if f.kind == "failover" and f.group == fault.group]
    if failovers[0] is not fault:
        raise ScenarioError(f"{path}.group", f"{fault.group!r} fails over once at most")
    remote = s.failover_topics(fault)
    for topic in group.topics:
        if topic not in remote:
            raise ScenarioError(
                f"{path}.to",
                f"no mirror copies {group.cluster}/{topic} to {fault.to!r}; add one to 'mirrors'",
            )


def _check_rolling_order(s: Scenario, order: list[int], path: str) -> None:
    """Each entry a broker id of the cluster, none twice."""
    for j, broker in enumerate(order):
        resolve_target(s, broker, f"{path}.{j}", brokers_only=True)
        if broker in order[:j]:
            raise ScenarioError(f"{path}.{j}", f"broker {broker} is already in the order")


def _check_evolution(s: Scenario, fault: EvolveSchema, path: str) -> None:
    """An evolve_schema fault names an avro producer, and its schema encodes the sample."""
    names = [p.name for p in s.producers]
    if fault.producer not in names:
        raise ScenarioError(f"{path}.producer", _unknown(fault.producer, names, "producer"))
    spec = s.producers[names.index(fault.producer)]
    if spec.format.kind != "avro":
        raise ScenarioError(f"{path}.producer", f"{fault.producer!r} has no avro format")
    if s.schema_registry is None:
        raise ScenarioError(path, "evolve_schema needs a schema_registry")
    try:
        _check_avro(fault.schema_, fault.sample or spec.format.sample)
    except _FieldProblem as problem:
        raise ScenarioError(f"{path}.{problem.field}", problem.problem) from None


def resolve_target(s: Scenario, target: int | str, path: str, brokers_only: bool = False) -> str:
    """Check a fault target and return it as given.

    Targets: a broker id (``2``), a node name (``broker-2``, ``zookeeper``, ``app-0``,
    ``billing-1``), ``"controller"`` (the controller when the fault fires), or ``"leader:orders-0"``
    (that partition's leader then). With several clusters, broker-side names take the cluster as
    a prefix: ``east/broker-2``, ``east/zookeeper``, ``east/controller``, ``leader:east/orders-0``.
    """
    if isinstance(target, bool) or not isinstance(target, int | str):
        raise ScenarioError(path, f"{target!r} is not a node; give a broker id or a node name")
    if isinstance(target, int):
        if s.clusters is not None:
            raise ScenarioError(
                path, "with several clusters name a broker as '<cluster>/broker-<id>'"
            )
        _check_broker_id(s.cluster, target, path)
        return f"broker-{target}"
    if target.startswith("leader:"):
        return _leader_target(s, target, path)
    cluster, node = _split_cluster(s, target, path)
    if node == "controller":
        return target
    if node.startswith("broker-") and node[len("broker-") :].isdigit():
        _check_broker_id(cluster, int(node[len("broker-") :]), path)
        return target
    if brokers_only:
        raise ScenarioError(
            path,
            f"{target!r} is not a broker; give a broker id, 'broker-<id>', 'controller' "
            "or 'leader:<topic>-<partition>'",
        )
    if node == "zookeeper" or (node == SCHEMA_REGISTRY_NODE and s.schema_registry is not None):
        return target
    clients = [f"{p.name}-{i}" for p in s.producers for i in range(p.count)]
    clients += [f"{g.group_id}-{i}" for g in s.consumer_groups for i in range(g.members)]
    if target in clients:
        return target
    nodes = [f"broker-{b}" for b in range(cluster.brokers)] + ["zookeeper", "controller", *clients]
    raise ScenarioError(path, _unknown(target, nodes, "node"))


def _unprefixed(s: Scenario, target: str) -> tuple[str, str]:
    """A checked target of a scenario of several clusters: (its cluster, its name there)."""
    if target.startswith("leader:"):
        cluster, _, partition = target[len("leader:") :].rpartition("/")
        return cluster, "leader:" + partition
    cluster, slash, node = target.rpartition("/")
    if slash:
        return cluster, node
    producers = [*s.producers, *(f.producer for f in s.faults if f.kind == "add_producer")]
    owners = [(p.name, p.cluster) for p in producers]
    owners += [(g.group_id, g.cluster) for g in s.consumer_groups]
    for prefix, cluster in owners:  # a client node <name>-<i>: its producer's or group's
        if target.startswith(f"{prefix}-") and target[len(prefix) + 1 :].isdigit():
            return cluster, target
    raise KeyError(target)


def _split_cluster(s: Scenario, target: str, path: str) -> tuple[ClusterSpec, str]:
    """``east/broker-1`` -> (cluster east, ``broker-1``); one-cluster names have no prefix."""
    prefix, slash, node = target.rpartition("/")
    if s.clusters is None:
        if slash:
            raise ScenarioError(
                path, f"{target!r}: a one-cluster scenario names nodes without a prefix"
            )
        return s.cluster, node
    names = [c.name for c in s.clusters]
    if prefix not in names:
        if not slash and "-" in target:  # a client node: clients are not per cluster
            return s.clusters[0], target
        raise ScenarioError(
            path, f"{target!r}: prefix a broker-side node with its cluster, one of {names}"
        )
    return s.cluster_named(prefix), node


def _check_broker_id(cluster: ClusterSpec, broker: int, path: str) -> None:
    if not 0 <= broker < cluster.brokers:
        raise ScenarioError(path, f"no broker {broker}; broker ids are 0..{cluster.brokers - 1}")


def _leader_target(s: Scenario, target: str, path: str) -> str:
    prefix, _, topic_partition = target[len("leader:") :].rpartition("/")
    topic, _, partition = topic_partition.rpartition("-")
    if not topic or not partition.isdigit():
        raise ScenarioError(
            path, f"{target!r}: write a partition's leader as 'leader:<topic>-<partition>'"
        )
    cluster = prefix or None
    if (cluster is None) != (s.clusters is None):
        raise ScenarioError(
            path, f"{target!r}: with several clusters write 'leader:<cluster>/<topic>-<p>'"
        )
    names = _topic_names(s, cluster, remote=True)
    if topic not in names:
        raise ScenarioError(path, _unknown(topic, names, "topic"))
    count = _partitions(s, topic, cluster)
    if int(partition) >= count:
        raise ScenarioError(path, f"{target!r}: topic {topic!r} has partitions 0..{count - 1}")
    return target


def _partitions(s: Scenario, topic: str, cluster: str | None) -> int:
    """Partitions of ``topic`` in ``cluster``, a declared topic or one a mirror creates."""
    for remote in s.remote_topics():
        if (remote.cluster, remote.name) == (cluster, topic):
            return remote.partitions
    return s.topic(topic, cluster).partitions


def _check_mirrors(s: Scenario) -> None:
    names = [c.name for c in s.all_clusters if c.name]
    for i, mirror in enumerate(s.mirrors):
        for end in ("source", "target"):
            value = getattr(mirror, end)
            if value not in names:
                raise ScenarioError(f"mirrors.{i}.{end}", _unknown(value, names, "cluster"))
        if mirror.source == mirror.target:
            raise ScenarioError(f"mirrors.{i}.target", "must differ from source")
        kafka_config.mirror_config(mirror.config, f"mirrors.{i}.config")
    for flow in s.mirror_flows():
        _check_remote_replicas(s, flow)
    for remote in s.remote_topics():
        source = s.topic(remote.source_topic, remote.source)
        if not remote.created and remote.partitions < source.partitions:
            i = next(j for j, t in enumerate(s.topics) if (t.cluster, t.name) == (
                remote.cluster, remote.name))  # fmt: skip
            raise ScenarioError(
                f"topics.{i}.partitions",
                f"{remote.name!r} has fewer partitions than {remote.source}'s "
                f"{remote.source_topic!r} ({source.partitions}), which mirrors.{remote.mirror} "
                "copies into it; declare at least as many (MirrorMaker would add partitions) "
                "or leave it out (the mirror creates it)",
            )


def _check_remote_replicas(s: Scenario, flow: MirrorFlow) -> None:
    """CreateTopics of the remote topics succeeds: 1 <= replication.factor <= brokers."""
    target = s.cluster_named(flow.connector.target)
    rf = flow.replication_factor
    if not 1 <= rf <= target.brokers:
        raise ScenarioError(
            f"mirrors.{flow.index}.config.replication.factor",
            f"{rf} replicas for the remote topics in {target.name!r} of {target.brokers} "
            f"brokers; use -1 or 1 to {target.brokers} (Kafka: InvalidReplicationFactorException)",
        )


def _normalise_configs(s: Scenario) -> None:
    """Check every Kafka property by its scope and keep Kafka's normalised values."""
    for i, cluster in enumerate(s.all_clusters):
        where = f"clusters.{i}" if s.clusters is not None else "cluster"
        cluster.config = kafka_config.check("broker", cluster.config, f"{where}.config")
        kafka_config.broker_config(cluster.config, f"{where}.config")  # the cross-field rules
    for i, topic in enumerate(s.topics):
        topic.config = kafka_config.check("topic", topic.config, f"topics.{i}.config")
    producers = [(f"producers.{i}", p) for i, p in enumerate(s.producers)]
    producers += [
        (f"faults.{i}.producer", f.producer)
        for i, f in enumerate(s.faults)
        if f.kind == "add_producer"
    ]
    for path, producer in producers:
        producer.config = kafka_config.check("producer", producer.config, f"{path}.config")
        kafka_config.producer_config(
            producer.config, f"{path}.config"
        )  # Kafka's cross-property rules
    for i, group in enumerate(s.consumer_groups):
        path = f"consumer_groups.{i}.config"
        group.config = kafka_config.check("consumer", group.config, path)
        if "group.id" in group.config and group.config["group.id"] != group.group_id:
            raise ScenarioError(f"{path}.group.id", "is set by group_id; leave it out")
        kafka_config.consumer_config(group.kafka_config(), path)


# --------------------------------------------------------------------------- errors


def _one_line(exc: ValidationError) -> ScenarioError:
    """Turn pydantic's first error into one line: ``<dotted.path>: <problem>; got <value>``."""
    err = exc.errors(include_url=False)[0]
    path = _dotted(err["loc"])
    cause = (err.get("ctx") or {}).get("error")
    if isinstance(cause, ScenarioError):
        return cause
    if isinstance(cause, _FieldProblem):
        return ScenarioError(f"{path}.{cause.field}" if path else cause.field, cause.problem)
    problem = _problem_text(err)
    return ScenarioError(path, problem)


def _dotted(loc: tuple[Any, ...]) -> str:
    parts = [str(p) for p in loc if str(p) not in FAULT_KINDS]
    return ".".join(parts)


def _problem_text(err: Mapping[str, Any]) -> str:
    kind = err["type"]
    msg = err["msg"].removeprefix("Value error, ")
    if kind == "missing":
        return "is required"
    if kind == "union_tag_invalid":
        return (
            f"unknown fault kind {err['input'].get('kind')!r}; "
            + _unknown(str(err["input"].get("kind")), list(FAULT_KINDS), "kind").split("; ", 1)[1]
        )
    if kind == "union_tag_not_found":
        return f"a fault needs 'kind', one of: {', '.join(FAULT_KINDS)}"
    shown = err.get("input")
    if isinstance(shown, Mapping | list) or kind == "value_error":
        return msg[0].lower() + msg[1:]
    return f"{msg[0].lower() + msg[1:]}; got {shown!r}"


# --------------------------------------------------------------------------- dotted paths


def with_values(
    scenario: Scenario | Mapping[str, Any], values: Mapping[str, Any]
) -> dict[str, Any]:
    """The scenario's data, every field explicit (:meth:`Scenario.to_dict`), with each dotted
    path of ``values`` set: the paths errors name (``producers.0.config.acks``; under
    ``config`` the rest of the path is one Kafka property, dots and all:
    ``producers.0.config.linger.ms``). A path must lead to a field, a list item or into a
    ``config`` (where any property may be set); the result is checked when it becomes a
    :class:`Scenario`."""
    if not isinstance(scenario, Scenario):
        scenario = Scenario.from_dict(scenario)
    out = scenario.to_dict()
    for path, value in values.items():
        parts = path.split(".")
        node: Any = out
        for i, part in enumerate(parts):
            where = ".".join(parts[: i + 1])
            last = i == len(parts) - 1
            if isinstance(node, dict) and parts[i - 1 : i] == ["config"]:
                node[".".join(parts[i:])] = copy.deepcopy(value)  # the rest of the path: a property
                break
            if isinstance(node, list):
                if not part.isdigit() or int(part) >= len(node):
                    raise ScenarioError(where, f"no item {part!r}; give 0 to {len(node) - 1}")
                key: Any = int(part)
            elif isinstance(node, dict):
                if part not in node:
                    fields = sorted(k for k in node if isinstance(k, str))
                    raise ScenarioError(where, _unknown(part, fields, "field"))
                key = part
            else:
                parent = ".".join(parts[:i])
                raise ScenarioError(where, f"no such field: {parent} is {node!r}, not a mapping")
            if last:
                node[key] = copy.deepcopy(value)  # a later path must not change the caller's
            else:
                node = node[key]
    return out


# --------------------------------------------------------------------------- scripts


def load_scenario(path: str | Path) -> Scenario:
    """Load a scenario from a Python script exposing ``SCENARIO`` (a Scenario or a dict) or
    ``build()`` returning one, or from a JSON file holding the dict."""
    file = Path(path)
    if not file.is_file():
        raise ScenarioError("", f"{path}: no such file")
    if file.suffix == ".json":
        try:
            data = json.loads(file.read_text())
        except json.JSONDecodeError as exc:
            raise ScenarioError("", f"{path}: not valid JSON: {exc}") from None
        return Scenario.from_dict(data)
    spec = importlib.util.spec_from_file_location(f"_kafkasim_scenario_{file.stem}", file)
    if spec is None or spec.loader is None or file.suffix != ".py":
        raise ScenarioError("", f"{path}: a scenario file is a .py script or a .json file")
    module = importlib.util.module_from_spec(spec)
    try:
        spec.loader.exec_module(module)
        if hasattr(module, "build"):
            value = module.build()
        elif hasattr(module, "SCENARIO"):
            value = module.SCENARIO
        else:
            raise ScenarioError("", f"{path}: defines neither SCENARIO nor build()")
    except ScenarioError:
        raise
    except Exception as exc:  # the user's script failed: say where, in one line
        raise ScenarioError(
            "", f"{path}:{_script_line(exc, file)}: {type(exc).__name__}: {exc}"
        ) from exc
    if isinstance(value, Scenario):
        return value
    return Scenario.from_dict(value)


def _script_line(exc: BaseException, file: Path) -> int | str:
    """The line of ``file`` where ``exc`` was raised (the innermost frame in that file)."""
    import traceback

    lines = [f.lineno for f in traceback.extract_tb(exc.__traceback__) if Path(f.filename) == file]
    return lines[-1] if lines else "?"


@dataclass(frozen=True)
class Capabilities:
    """What a simulation engine models; a scenario asking for more is refused before it runs."""

    fault_kinds: frozenset[str] = frozenset()
    coordination: frozenset[str] = frozenset({"zookeeper"})
    multi_cluster: bool = False
    schema_registry: bool = False


def require_simulated(s: Scenario, can: Capabilities) -> None:
    """Raise :class:`NotSimulatedError` naming the first part of ``s`` that ``can`` does not model.

    Never a silent no-op: a fault kind, coordinator, second cluster or registry that the engine
    does not simulate yet stops the run before it starts, with the field's path.
    """
    for i, cluster in enumerate(s.all_clusters):
        if cluster.coordination not in can.coordination:
            where = f"clusters.{i}" if s.clusters is not None else "cluster"
            raise NotSimulatedError(
                f"{where}.coordination",
                f"{cluster.coordination!r} is not simulated yet; use one of "
                f"{sorted(can.coordination)}",
            )
    several = s.clusters is not None and len(s.clusters) > 1
    if several and not can.multi_cluster:
        raise NotSimulatedError("clusters", "several clusters are not simulated yet")
    if s.mirrors and not can.multi_cluster:
        raise NotSimulatedError("mirrors", "mirroring between clusters is not simulated yet")
    routed = (*MULTI_CLUSTER_FAULTS, *CLUSTER_FAULTS)
    for i, fault in enumerate(s.faults):
        if several and fault.kind not in routed:
            raise NotSimulatedError(
                f"faults.{i}.kind",
                f"{fault.kind!r} in a scenario of several clusters is not simulated yet "
                f"(simulated there: {', '.join(routed)})",
            )
    if s.schema_registry is not None and not can.schema_registry:
        raise NotSimulatedError("schema_registry", "the schema registry is not simulated yet")
    for i, fault in enumerate(s.faults):
        if fault.kind not in can.fault_kinds:
            supported = ", ".join(sorted(can.fault_kinds)) or "none yet"
            raise NotSimulatedError(
                f"faults.{i}.kind",
                f"fault kind {fault.kind!r} is not simulated yet (simulated: {supported}); "
                "remove the fault to run the rest",
            )
    for i, group in enumerate(s.consumer_groups):
        if group.config.get("group.protocol") == "consumer":
            raise NotSimulatedError(
                f"consumer_groups.{i}.config.group.protocol",
                "'consumer' (KIP-848) is not simulated yet; use classic",
            )
