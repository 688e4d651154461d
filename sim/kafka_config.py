"""Kafka 3.9 settings: names, defaults, types, and Kafka's own validation rules.

Each scope ("producer", "consumer", "broker", "topic") has the properties that the model honours,
with the default, type and validator of Kafka 3.9's `ConfigDef` (branch `3.9`), and every other
real Kafka 3.9 property name, accepted but without effect (`sim/kafka_config_names.py`).

Values are parsed as `ConfigDef.parseType` does ("5" for an int, "true" for a boolean, "a,b" for a
list), then checked by Kafka's validators (`ConfigDef.Range`, `ValidString`, `ValidList`,
`NonEmptyString`). A Python bool is not an int here, and a float is not an int. The post-parse rules
of `ProducerConfig`, `KafkaProducer`, `ConsumerConfig`, `KafkaConfig` (ZooKeeper mode) and the
topic-to-broker synonyms of `ServerTopicConfigSynonyms` are in `producer_config`, `consumer_config`,
`broker_config` and `topic_config`. Errors are `ConfigError`, one line naming the dotted path.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from sim import kafka_config_names as _names
from sim.errors import ScenarioError

SCOPES = ("producer", "consumer", "broker", "topic")

INT_MAX = 2**31 - 1  # Java Integer.MAX_VALUE
LONG_MAX = 2**63 - 1  # Java Long.MAX_VALUE
_BITS = {"short": 16, "int": 32, "long": 64}
_JAVA_INTEGER = re.compile(r"[+-]?[0-9]+")  # what Integer.parseInt / Long.parseLong accept
_LIST_SPLIT = re.compile(r"\s*,\s*")  # ConfigDef.COMMA_WITH_WHITESPACE

# Where each scope's properties go in a scenario (for "belongs to another scope" messages).
_SCOPE_PLACE = {
    "producer": "producers.<i>.config",
    "consumer": "consumer_groups.<i>.config",
    "broker": "cluster.config",
    "topic": "topics.<i>.config",
}


class ConfigError(ScenarioError):
    """A bad Kafka property: one line, "<path>.<name>: <what is wrong>; <what is allowed>".

    `path` is the dotted path of the offending field, e.g. "producers.0.config.acks".
    """

    def __init__(self, path: str, problem: str, allowed: str = "") -> None:
        super().__init__(path, f"{problem}; {allowed}" if allowed else problem)


def _field(path: str, name: str) -> str:
    return f"{path}.{name}" if path else name


# --------------------------------------------------------------------------------------------
# Validators (ConfigDef.Range, ValidString, ValidList, NonEmptyString)


@dataclass(frozen=True)
class Range:
    """Kafka's `ConfigDef.Range` (atLeast / between): inclusive bounds; max `None` = unbounded."""

    min: float
    max: float | None = None

    def ok(self, value: Any) -> bool:
        """True when `value` lies within the bounds."""
        return value >= self.min and (self.max is None or value <= self.max)

    def describe(self) -> str:
        """The allowed range in words."""
        if self.max is None:
            return f"at least {self.min}"
        return f"between {self.min} and {self.max}"


@dataclass(frozen=True)
class ValidString:
    """Kafka's `ConfigDef.ValidString` (or `CaseInsensitiveValidString`)."""

    values: tuple[str, ...]
    case_insensitive: bool = False

    def ok(self, value: Any) -> bool:
        """True when `value` is one of the allowed strings."""
        if self.case_insensitive:
            return value.upper() in {v.upper() for v in self.values}
        return value in self.values

    def describe(self) -> str:
        """The allowed values in words."""
        case = " (case insensitive)" if self.case_insensitive else ""
        return "one of " + ", ".join(repr(v) for v in self.values) + case


@dataclass(frozen=True)
class ValidList:
    """Kafka's `ConfigDef.ValidList`: every element one of `values` (an empty list passes)."""

    values: tuple[str, ...]

    def ok(self, value: Any) -> bool:
        """True when every element is allowed."""
        return all(v in self.values for v in value)

    def describe(self) -> str:
        """The allowed elements in words."""
        return "a list of " + ", ".join(repr(v) for v in self.values)


@dataclass(frozen=True)
class NonEmptyString:
    """Kafka's `ConfigDef.NonEmptyString`: null is allowed, "" is not."""

    def ok(self, value: Any) -> bool:
        """True unless `value` is the empty string."""
        return value is None or value != ""

    def describe(self) -> str:
        """The rule in words."""
        return "a non-empty string"


Validator = Range | ValidString | ValidList | NonEmptyString


@dataclass(frozen=True)
class ConfigKey:
    """One honoured Kafka property: its ConfigDef entry in Kafka 3.9.

    `default` is as Kafka states it (e.g. acks "all", linger.ms 0, retries 2147483647, None for a
    null default); `type` is the ConfigDef type in lower case; `source` is the Kafka class whose
    ConfigDef defines it; `unit` is the unit of the value ("ms", "bytes", ...); `doc` says what the
    model does with it.
    """

    name: str
    scope: str
    type: str
    default: Any
    validator: Validator | None
    doc: str
    source: str
    unit: str = ""


# --------------------------------------------------------------------------------------------
# Honoured properties, per scope. Defaults and validators read from the Kafka 3.9 sources.

_COMPRESSION = ValidString(("none", "gzip", "snappy", "lz4", "zstd"))  # CompressionType
_BROKER_COMPRESSION = ValidString(  # BrokerCompressionType.names()
    ("uncompressed", "zstd", "lz4", "snappy", "gzip", "producer")
)
_AT_LEAST_0 = Range(0)
_AT_LEAST_1 = Range(1)
_RANGE_ASSIGNOR = "org.apache.kafka.clients.consumer.RangeAssignor"
_COOP_STICKY_ASSIGNOR = "org.apache.kafka.clients.consumer.CooperativeStickyAssignor"
ASSIGNOR_CLASSES = {  # Kafka class -> ConsumerPartitionAssignor.name()
    _RANGE_ASSIGNOR: "range",
    "org.apache.kafka.clients.consumer.RoundRobinAssignor": "roundrobin",
    "org.apache.kafka.clients.consumer.StickyAssignor": "sticky",
    _COOP_STICKY_ASSIGNOR: "cooperative-sticky",
}
PARTITIONER_CLASSES = (  # the partitioners Kafka 3.9 ships (clients/.../producer)
    "org.apache.kafka.clients.producer.RoundRobinPartitioner",
    "org.apache.kafka.clients.producer.UniformStickyPartitioner",
    "org.apache.kafka.clients.producer.internals.DefaultPartitioner",
)

_PC, _CC = "ProducerConfig", "ConsumerConfig"
_SC, _RC, _ZC = "ServerConfigs", "ReplicationConfigs", "ZkConfigs"
_SOC, _GC = "SocketServerConfigs", "GroupCoordinatorConfig"
_SLC = "LogConfig.SERVER_CONFIG_DEF (ServerLogConfigs)"
_LC = "LogConfig"

# (name, type, default, validator, source, unit, what the model does with it)
_Row = tuple[str, str, Any, Validator | None, str, str, str]

# fmt: off
_PRODUCER: tuple[_Row, ...] = (
    ("acks", "string", "all", ValidString(("all", "-1", "0", "1")), _PC, "",
     "replicas that must have the batch before the leader answers: 0, 1 or all (ISR)"),
    ("batch.size", "int", 16384, _AT_LEAST_0, _PC, "bytes",
     "a partition's batch is sendable once it holds this many bytes (0 acts as 1)"),
    ("buffer.memory", "long", 33554432, _AT_LEAST_0, _PC, "bytes",
     "memory for the producer's batches; when it is full, send() blocks; a larger record fails "
     "(RECORD_TOO_LARGE)"),
    ("compression.type", "string", "none", _COMPRESSION, _PC, "",
     "codec of the producer's batches; sets their size on the wire and on disk"),
    ("delivery.timeout.ms", "int", 120000, _AT_LEAST_0, _PC, "ms",
     "a batch not acknowledged this long after send() fails"),
    ("enable.idempotence", "boolean", True, None, _PC, "",
     "producer id, epoch + sequence numbers; the leader drops duplicate retries of the same "
     "epoch; a batch failed for good makes the producer bump its epoch and restart that "
     "partition's sequences at 0 (KIP-360; a `producer_epoch_bump` event row)"),
    ("linger.ms", "long", 0, _AT_LEAST_0, _PC, "ms",
     "how long a non-full batch waits for more records"),
    ("max.block.ms", "long", 60000, _AT_LEAST_0, _PC, "ms",
     "how long send() waits for buffer.memory before it fails the record (BUFFER_EXHAUSTED)"),
    ("max.in.flight.requests.per.connection", "int", 5, _AT_LEAST_1, _PC, "",
     "unacknowledged produce requests per broker connection"),
    ("max.request.size", "int", 1048576, _AT_LEAST_0, _PC, "bytes",
     "cap on one produce request; send() fails a larger record (RECORD_TOO_LARGE)"),
    ("metadata.max.age.ms", "long", 300000, _AT_LEAST_0, _PC, "ms",
     "metadata is refreshed at least this often"),
    ("partitioner.adaptive.partitioning.enable", "boolean", True, None, _PC, "",
     "sticky partition chosen with weights from per-partition queue sizes (KIP-794)"),
    ("partitioner.availability.timeout.ms", "long", 0, _AT_LEAST_0, _PC, "ms",
     "a partition whose broker has not taken a produce this long is skipped (0 = off)"),
    ("partitioner.class", "class", None, None, _PC, "",
     "None = built-in partitioner; or one of Kafka's RoundRobin/UniformSticky/Default"),
    ("partitioner.ignore.keys", "boolean", False, None, _PC, "",
     "when true keyed records are placed like keyless ones"),
    ("reconnect.backoff.max.ms", "long", 1000, _AT_LEAST_0, _PC, "ms",
     "validated; not modelled yet: the producer reconnects at once"),
    ("reconnect.backoff.ms", "long", 50, _AT_LEAST_0, _PC, "ms",
     "validated; not modelled yet: the producer reconnects at once"),
    ("request.timeout.ms", "int", 30000, _AT_LEAST_0, _PC, "ms",
     "a produce request without a response this long is failed and retried"),
    ("retries", "int", INT_MAX, Range(0, INT_MAX), _PC, "",
     "retries of a failed batch (bounded by delivery.timeout.ms)"),
    ("retry.backoff.max.ms", "long", 1000, _AT_LEAST_0, _PC, "ms",
     "cap of the exponential retry backoff"),
    ("retry.backoff.ms", "long", 100, _AT_LEAST_0, _PC, "ms",
     "first wait before retrying a failed batch"),
    ("transactional.id", "string", None, NonEmptyString(), _PC, "",
     "accepted and checked as Kafka does; transactions are not modelled yet"),
)

_CONSUMER: tuple[_Row, ...] = (
    ("auto.commit.interval.ms", "int", 5000, _AT_LEAST_0, _CC, "ms",
     "period of automatic offset commits"),
    ("auto.offset.reset", "string", "latest", ValidString(("latest", "earliest", "none")), _CC,
     "", "where a group without a committed offset starts: log end, log start, or error"),
    ("client.id", "string", "", None, _CC, "",
     "prefix of the member id the group coordinator gives (else the consumer's name)"),
    ("enable.auto.commit", "boolean", True, None, _CC, "",
     "commit polled offsets every auto.commit.interval.ms"),
    ("fetch.max.bytes", "int", 52428800, _AT_LEAST_0, _CC, "bytes",
     "cap on one fetch response"),
    ("fetch.max.wait.ms", "int", 500, _AT_LEAST_0, _CC, "ms",
     "longest a fetch waits at the broker for fetch.min.bytes"),
    ("fetch.min.bytes", "int", 1, _AT_LEAST_0, _CC, "bytes",
     "the broker answers a fetch once this much data is available"),
    ("group.id", "string", None, None, _CC, "", "consumer group the member joins"),
    ("group.instance.id", "string", None, NonEmptyString(), _CC, "",
     "static membership (KIP-345): no LeaveGroup on close, rejoin keeps the assignment"),
    ("group.protocol", "string", "classic", ValidString(("CLASSIC", "CONSUMER"), True), _CC, "",
     "rebalance protocol, normalised to lower case; consumer (KIP-848) is not simulated: "
     "a run with it stops before it starts"),
    ("heartbeat.interval.ms", "int", 3000, None, _CC, "ms",
     "period of heartbeats to the group coordinator"),
    ("isolation.level", "string", "read_uncommitted",
     ValidString(("read_committed", "read_uncommitted")), _CC, "",
     "validated; both read up to the high watermark: without transactions (not modelled) "
     "the last stable offset is the high watermark"),
    ("max.partition.fetch.bytes", "int", 1048576, _AT_LEAST_0, _CC, "bytes",
     "cap on data per partition in one fetch response"),
    ("max.poll.interval.ms", "int", 300000, _AT_LEAST_1, _CC, "ms",
     "a member not polling this long leaves the group; also the rebalance timeout"),
    ("max.poll.records", "int", 500, _AT_LEAST_1, _CC, "", "records returned by one poll()"),
    ("metadata.max.age.ms", "long", 300000, _AT_LEAST_0, _CC, "ms",
     "metadata is refreshed at least this often"),
    ("partition.assignment.strategy", "list", [_RANGE_ASSIGNOR, _COOP_STICKY_ASSIGNOR], None, _CC,
     "", "assignors, normalised to short names (range, roundrobin, sticky, cooperative-sticky)"),
    ("request.timeout.ms", "int", 30000, _AT_LEAST_0, _CC, "ms",
     "a fetch or coordinator request without a response this long is failed"),
    ("retry.backoff.max.ms", "long", 1000, _AT_LEAST_0, _CC, "ms",
     "cap of the exponential retry backoff"),
    ("retry.backoff.ms", "long", 100, _AT_LEAST_0, _CC, "ms",
     "first wait before retrying a failed request"),
    ("session.timeout.ms", "int", 45000, None, _CC, "ms",
     "the coordinator removes a member without heartbeats this long"),
)

_BROKER: tuple[_Row, ...] = (
    ("auto.leader.rebalance.enable", "boolean", True, None, _RC, "",
     "the controller moves leadership back to preferred replicas"),
    ("broker.id", "int", -1, None, _SC, "", "checked as Kafka does; the model numbers brokers"),
    ("compression.type", "string", "producer", _BROKER_COMPRESSION, _SC, "",
     "default of the topic compression.type"),
    ("controlled.shutdown.enable", "boolean", True, None, _SC, "",
     "a stopping broker asks the controller to move its leaders first"),
    ("controlled.shutdown.max.retries", "int", 3, None, _SC, "",
     "controlled-shutdown attempts before the broker stops anyway"),
    ("controlled.shutdown.retry.backoff.ms", "long", 5000, None, _SC, "ms",
     "wait between controlled-shutdown attempts"),
    ("controller.socket.timeout.ms", "int", 30000, None, _RC, "ms",
     "timeout of controller-to-broker requests"),
    ("default.replication.factor", "int", 1, None, _RC, "",
     "replication factor of a topic the scenario gives without one"),
    ("group.initial.rebalance.delay.ms", "int", 3000, None, _GC, "ms",
     "the first rebalance of an empty group waits this long for more members"),
    ("group.max.session.timeout.ms", "int", 1800000, None, _GC, "ms",
     "largest session.timeout.ms a member may ask for"),
    ("group.max.size", "int", INT_MAX, _AT_LEAST_1, _GC, "",
     "members a group may have; more are refused with GROUP_MAX_SIZE_REACHED"),
    ("group.min.session.timeout.ms", "int", 6000, None, _GC, "ms",
     "smallest session.timeout.ms a member may ask for"),
    ("leader.imbalance.check.interval.seconds", "long", 300, _AT_LEAST_1, _RC, "s",
     "period of the preferred-leader check (the first 5 s after a controller takes office, "
     "each next one this long after the last is done)"),
    ("leader.imbalance.per.broker.percentage", "int", 10, None, _RC, "%",
     "imbalance above which preferred leaders are restored"),
    ("log.cleanup.policy", "list", ["delete"], ValidList(("compact", "delete")), _SLC, "",
     "default of the topic cleanup.policy"),
    ("log.flush.interval.messages", "long", LONG_MAX, _AT_LEAST_1, _SLC, "messages",
     "default of the topic flush.messages"),
    ("log.flush.interval.ms", "long", None, None, _SLC, "ms",
     "default of the topic flush.ms (else log.flush.scheduler.interval.ms)"),
    ("log.flush.scheduler.interval.ms", "long", LONG_MAX, None, _SLC, "ms",
     "period of the kafka-log-flusher task (after log.initial.task.delay.ms; the default runs "
     "it once); fallback for flush.ms"),
    ("log.initial.task.delay.ms", "long", 30000, _AT_LEAST_0, _SLC, "ms",
     "first run of the kafka-log-retention and kafka-log-flusher tasks after a broker starts"),
    ("log.message.timestamp.type", "string", "CreateTime",
     ValidString(("CreateTime", "LogAppendTime")), _SLC, "",
     "default of the topic message.timestamp.type"),
    ("log.retention.bytes", "long", -1, None, _SLC, "bytes",
     "default of the topic retention.bytes"),
    ("log.retention.check.interval.ms", "long", 300000, _AT_LEAST_1, _SLC, "ms",
     "period of the kafka-log-retention task, which deletes old segments of topics with "
     "cleanup.policy=delete"),
    ("log.retention.hours", "int", 168, None, _SLC, "h",
     "default of the topic retention.ms, after log.retention.ms and .minutes"),
    ("log.retention.minutes", "int", None, None, _SLC, "min",
     "default of the topic retention.ms, after log.retention.ms"),
    ("log.retention.ms", "long", None, None, _SLC, "ms", "default of the topic retention.ms"),
    ("log.roll.hours", "int", 168, _AT_LEAST_1, _SLC, "h",
     "default of the topic segment.ms, after log.roll.ms"),
    ("log.roll.ms", "long", None, None, _SLC, "ms", "default of the topic segment.ms"),
    ("log.segment.bytes", "int", 1073741824, Range(14), _SLC, "bytes",
     "default of the topic segment.bytes"),
    ("message.max.bytes", "int", 1048588, _AT_LEAST_0, _SC, "bytes",
     "default of the topic max.message.bytes"),
    ("min.insync.replicas", "int", 1, _AT_LEAST_1, _SLC, "",
     "default of the topic min.insync.replicas"),
    ("num.io.threads", "int", 8, _AT_LEAST_1, _SC, "", "request handler threads of a broker"),
    ("num.network.threads", "int", 3, _AT_LEAST_1, _SOC, "", "network threads of a broker"),
    ("num.partitions", "int", 1, _AT_LEAST_1, _SLC, "",
     "partition count of a topic the scenario gives without one"),
    ("num.replica.fetchers", "int", 1, None, _RC, "",
     "fetcher threads a follower runs per leader broker: thread abs(31 * topic.hashCode + "
     "partition) % n fetches a partition, each thread with its own connection and fetch "
     "requests; a thread left without partitions stops; 0 is refused"),
    ("offsets.commit.timeout.ms", "int", 5000, _AT_LEAST_1, _GC, "ms",
     "a commit or group write waits this long for the offsets partition's ISR (acks=all)"),
    ("offsets.retention.minutes", "int", 10080, _AT_LEAST_1, _GC, "min",
     "validated; not modelled yet: committed offsets never expire"),
    ("offsets.topic.num.partitions", "int", 50, _AT_LEAST_1, _GC, "",
     "partitions of __consumer_offsets: maps a group to its coordinator"),
    ("offsets.topic.replication.factor", "short", 3, _AT_LEAST_1, _GC, "",
     "replication factor of __consumer_offsets"),
    ("queued.max.requests", "int", 500, _AT_LEAST_1, _SOC, "",
     "validated; not modelled yet: the request queue has no bound"),
    ("replica.fetch.backoff.ms", "int", 1000, _AT_LEAST_0, _RC, "ms",
     "a follower waits this long after a fetch error"),
    ("replica.fetch.max.bytes", "int", 1048576, _AT_LEAST_0, _RC, "bytes",
     "cap per partition in a follower fetch"),
    ("replica.fetch.min.bytes", "int", 1, None, _RC, "bytes",
     "the leader answers a follower fetch once this much data is available"),
    ("replica.fetch.response.max.bytes", "int", 10485760, _AT_LEAST_0, _RC, "bytes",
     "cap on one follower fetch response"),
    ("replica.fetch.wait.max.ms", "int", 500, None, _RC, "ms",
     "longest a follower fetch waits at the leader"),
    ("replica.high.watermark.checkpoint.interval.ms", "long", 5000, None, _RC, "ms",
     "period of the high-watermark checkpoint to disk"),
    ("replica.lag.time.max.ms", "long", 30000, None, _RC, "ms",
     "a follower not caught up for this long leaves the ISR"),
    ("replica.socket.timeout.ms", "int", 30000, None, _RC, "ms",
     "timeout of a follower's fetch request"),
    ("socket.request.max.bytes", "int", 104857600, _AT_LEAST_1, _SOC, "bytes",
     "validated; not modelled yet: no request is refused for its size"),
    ("unclean.leader.election.enable", "boolean", False, None, _RC, "",
     "default of the topic unclean.leader.election.enable"),
    ("zookeeper.session.timeout.ms", "int", 18000, None, _ZC, "ms",
     "a broker silent this long loses its ZooKeeper session and ephemeral znodes"),
)

_TOPIC: tuple[_Row, ...] = (
    ("cleanup.policy", "list", ["delete"], ValidList(("compact", "delete")), _LC, "",
     "delete: the retention task deletes old segments; compact (also compact,delete): "
     "nothing is deleted (the log cleaner is not modelled)"),
    ("compression.type", "string", "producer", _BROKER_COMPRESSION, _LC, "",
     "validated; not modelled yet: the broker stores batches as the producer sent them"),
    ("flush.messages", "long", LONG_MAX, _AT_LEAST_1, _LC, "messages",
     "an append, a leader's or a follower's, that leaves this many records unflushed fsyncs "
     "the log, and its thread waits for the disk"),
    ("flush.ms", "long", LONG_MAX, _AT_LEAST_0, _LC, "ms",
     "the broker's kafka-log-flusher task fsyncs a log whose last fsync is this long ago (off "
     "the produce and fetch path; see log.flush.scheduler.interval.ms)"),
    ("max.message.bytes", "int", 1048588, _AT_LEAST_0, _LC, "bytes",
     "largest batch a leader appends (as sent, compressed); larger: MESSAGE_TOO_LARGE"),
    ("message.timestamp.type", "string", "CreateTime",
     ValidString(("CreateTime", "LogAppendTime")), _LC, "",
     "validated; a batch's timestamp (segment roll, retention.ms) is its leader's append "
     "time for both types"),
    ("min.insync.replicas", "int", 1, _AT_LEAST_1, _LC, "",
     "ISR size needed for acks=all writes and for the high watermark to advance"),
    ("retention.bytes", "long", -1, None, _LC, "bytes",
     "oldest segments are deleted while the partition's log stays at least this big "
     "(-1 = no limit)"),
    ("retention.ms", "long", 604800000, Range(-1), _LC, "ms",
     "a segment whose newest batch is older than this is deleted, the active one too "
     "(-1 = forever)"),
    ("segment.bytes", "int", 1073741824, Range(14), _LC, "bytes",
     "a batch that would take the active segment past this size starts a new one"),
    ("segment.ms", "long", 604800000, _AT_LEAST_1, _LC, "ms",
     "a batch this much newer than the active segment's first starts a new one"),
    ("unclean.leader.election.enable", "boolean", False, None, _LC, "",
     "an out-of-sync replica may become leader when no ISR member is alive"),
)
# fmt: on


def _build(scope: str, rows: tuple[_Row, ...]) -> dict[str, ConfigKey]:
    keys = {}
    for name, kind, default, validator, source, unit, doc in sorted(rows, key=lambda r: r[0]):
        keys[name] = ConfigKey(name, scope, kind, default, validator, doc, source, unit)
    return keys


_KEYS: dict[str, dict[str, ConfigKey]] = {
    "producer": _build("producer", _PRODUCER),
    "consumer": _build("consumer", _CONSUMER),
    "broker": _build("broker", _BROKER),
    "topic": _build("topic", _TOPIC),
}
_ALL_TYPES: dict[str, dict[str, str]] = {
    "producer": dict(_names.PRODUCER_PROPERTIES),
    "consumer": dict(_names.CONSUMER_PROPERTIES),
    "broker": dict(_names.BROKER_PROPERTIES),
    "topic": dict(_names.TOPIC_PROPERTIES),
}
_NO_EFFECT: dict[str, frozenset[str]] = {
    s: frozenset(_ALL_TYPES[s]) - frozenset(_KEYS[s]) for s in SCOPES
}


def _scope(scope: str) -> str:
    if scope not in SCOPES:
        raise ValueError(f"unknown config scope {scope!r}; use one of {', '.join(SCOPES)}")
    return scope


def properties(scope: str) -> dict[str, ConfigKey]:
    """The properties the model honours in `scope`, by name (sorted)."""
    return dict(_KEYS[_scope(scope)])


def defaults(scope: str) -> dict[str, Any]:
    """Every honoured property of `scope` -> its Kafka 3.9 default, as Kafka states it."""
    return {n: _copy(k.default) for n, k in _KEYS[_scope(scope)].items()}


def accepted_no_effect(scope: str) -> frozenset[str]:
    """Real Kafka 3.9 property names of `scope` that are accepted but not modelled."""
    return _NO_EFFECT[_scope(scope)]


def _copy(value: Any) -> Any:
    return list(value) if isinstance(value, list) else value


# --------------------------------------------------------------------------------------------
# Parsing (ConfigDef.parseType) and validation


def _parse(kind: str, value: Any, where: str) -> Any:
    """Parse one value as `ConfigDef.parseType` does for `kind`; None passes through."""
    if value is None:
        return None
    parser = _PARSERS[kind]
    return parser(value, kind, where)


def _type_error(where: str, value: Any, expected: str, hint: str) -> ConfigError:
    """``value`` is not of the property's type: what it should be, and how to write one."""
    return ConfigError(where, f"{value!r} is not {expected}", hint)


def _parse_integer(value: Any, kind: str, where: str) -> int:
    bits = _BITS[kind]
    expected = f"a {bits}-bit integer ({kind})"
    low, high = -(2 ** (bits - 1)), 2 ** (bits - 1) - 1
    if isinstance(value, str) and _JAVA_INTEGER.fullmatch(value.strip()):
        number = int(value.strip())
    elif isinstance(value, int) and not isinstance(value, bool):
        number = value
    else:
        raise _type_error(where, value, expected, "give a whole number, e.g. 100")
    if not low <= number <= high:
        raise _type_error(where, value, expected, f"give one from {low:,} to {high:,}")
    return number


def _parse_double(value: Any, kind: str, where: str) -> float:
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value.strip())
        except ValueError:
            pass
    raise _type_error(where, value, "a number (double)", "give a number, e.g. 0.5")


def _parse_boolean(value: Any, kind: str, where: str) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in ("true", "false"):
        return value.strip().lower() == "true"
    raise _type_error(where, value, "a boolean", "give true or false")


def _parse_string(value: Any, kind: str, where: str) -> str:
    if isinstance(value, str):
        return value.strip()
    raise _type_error(where, value, "a string", "give it as text in quotes")


def _parse_list(value: Any, kind: str, where: str) -> list[str]:
    if isinstance(value, str):
        text = value.strip()
        return _LIST_SPLIT.split(text) if text else []
    if isinstance(value, (list, tuple)) and all(isinstance(v, str) for v in value):
        return list(value)
    raise _type_error(
        where, value, "a list of strings", 'give e.g. ["a", "b"] or a comma-separated "a,b"'
    )


_PARSERS: dict[str, Callable[[Any, str, str], Any]] = {
    "short": _parse_integer,
    "int": _parse_integer,
    "long": _parse_integer,
    "double": _parse_double,
    "boolean": _parse_boolean,
    "string": _parse_string,
    "password": _parse_string,
    "class": _parse_string,
    "list": _parse_list,
}


def _norm_acks(value: Any, where: str) -> str:
    """acks as ProducerConfig allows it ("all", "-1", "0", "1"; also the ints) -> "all"|"0"|"1"."""
    if isinstance(value, int) and not isinstance(value, bool) and value in (-1, 0, 1):
        value = str(value)
    if isinstance(value, str) and value.strip() in ("all", "-1", "0", "1"):
        text = value.strip()
        return "all" if text == "-1" else text
    raise ConfigError(where, f"{value!r} is not a valid acks", "allowed: 'all', '-1', '0', '1'")


def _norm_strategy(value: Any, where: str) -> list[str]:
    """partition.assignment.strategy: Kafka class names or short names -> short names."""
    names = _parse_list(value, "list", where)
    allowed = "use range, roundrobin, sticky, cooperative-sticky or their Kafka class names"
    if not names:
        raise ConfigError(where, "no assignor given", allowed)
    short = []
    for name in names:
        name = name.strip()
        if name in ASSIGNOR_CLASSES.values():
            short.append(name)
        elif name in ASSIGNOR_CLASSES:
            short.append(ASSIGNOR_CLASSES[name])
        else:
            raise ConfigError(where, f"unknown assignor {name!r}", allowed)
    return short


def _norm_group_protocol(value: Any, where: str) -> str:
    return _checked(_KEYS["consumer"]["group.protocol"], value, where).lower()


def _norm_partitioner(value: Any, where: str) -> str | None:
    name = _parse("class", value, where)
    if name is None or name in PARTITIONER_CLASSES:
        return name
    raise ConfigError(
        where,
        f"class {name!r} could not be found",
        "leave it unset or use one of " + ", ".join(PARTITIONER_CLASSES),
    )


_NORMALISERS: dict[tuple[str, str], Callable[[Any, str], Any]] = {
    ("producer", "acks"): _norm_acks,
    ("producer", "partitioner.class"): _norm_partitioner,
    ("consumer", "partition.assignment.strategy"): _norm_strategy,
    ("consumer", "group.protocol"): _norm_group_protocol,
}


def _checked(key: ConfigKey, value: Any, where: str) -> Any:
    """Parse `value` for `key` and apply its validator (ConfigDef.parseValue)."""
    parsed = _parse(key.type, value, where)
    if parsed is None:
        if key.default is not None:
            raise ConfigError(where, "null is not allowed", f"give a {key.type} value")
        return None
    if key.validator is not None and not key.validator.ok(parsed):
        raise ConfigError(where, f"{value!r} is not allowed", key.validator.describe())
    return parsed


def _check_one(scope: str, name: str, value: Any, path: str) -> Any:
    where = _field(path, name)
    normaliser = _NORMALISERS.get((scope, name))
    if normaliser is not None:
        return normaliser(value, where)
    key = _KEYS[scope].get(name)
    if key is not None:
        return _checked(key, value, where)
    if name in _ALL_TYPES[scope]:
        return _parse(_ALL_TYPES[scope][name], value, where)
    raise _unknown(scope, name, where)


def _unknown(scope: str, name: str, where: str) -> ConfigError:
    owners = [s for s in SCOPES if s != scope and name in _ALL_TYPES[s]]
    if owners:
        places = " or ".join(_SCOPE_PLACE[s] for s in owners)
        kinds = " and ".join(owners)
        return ConfigError(
            where, f"{name!r} is a {kinds} property, not a {scope} property", f"set it in {places}"
        )
    close = difflib.get_close_matches(name, sorted(_ALL_TYPES[scope]), n=3, cutoff=0.6)
    if close:
        hint = "did you mean " + " or ".join(repr(c) for c in close) + "?"
    else:
        hint = f"docs/configuration.md lists the {scope} properties"
    return ConfigError(where, f"unknown {scope} property {name!r}", hint)


def check(scope: str, config: Mapping[str, Any], path: str) -> dict[str, Any]:
    """Validate and normalise the properties the user gave (only those keys).

    `path` is the dotted path of the config dict (e.g. "producers.0.config"), or "".
    Raises ConfigError for unknown names, names of another scope, bad types and bad values.
    """
    _scope(scope)
    out: dict[str, Any] = {}
    for name, value in config.items():
        if not isinstance(name, str):
            raise ConfigError(
                _field(path, str(name)),
                "a property name must be a string",
                "use Kafka's property names",
            )
        out[name] = _check_one(scope, name, value, path)
    return out


# --------------------------------------------------------------------------------------------
# EffectiveConfig

_SECONDS_PER_UNIT = {".ms": 1e-3, ".seconds": 1.0, ".minutes": 60.0, ".hours": 3600.0}


class EffectiveConfig(Mapping[str, Any]):
    """Kafka 3.9 defaults merged with the user's normalised values (a read-only mapping).

    `given` holds the names the user set explicitly; `scope` and `path` say where it came from.
    """

    def __init__(
        self, scope: str, values: Mapping[str, Any], given: frozenset[str], path: str = ""
    ) -> None:
        self.scope = scope
        self.given = frozenset(given)
        self.path = path
        self._values = dict(sorted(values.items()))
        self._seconds: dict[str, float] = {}

    def __getitem__(self, name: str) -> Any:
        return self._values[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._values)

    def __len__(self) -> int:
        return len(self._values)

    def __repr__(self) -> str:
        return f"EffectiveConfig({self.scope!r}, {self._values!r})"

    def s(self, name: str) -> float:
        """Value of a *.ms / *.seconds / *.minutes / *.hours property in seconds (cached).

        Sentinels convert literally (retention.ms -1 -> -0.001); a null value is a ValueError.
        """
        if name not in self._seconds:
            self._seconds[name] = self._to_seconds(name)
        return self._seconds[name]

    def _to_seconds(self, name: str) -> float:
        factor = next((f for sfx, f in _SECONDS_PER_UNIT.items() if name.endswith(sfx)), None)
        if factor is None:
            raise ValueError(f"{name!r} is not a time property (*.ms/.seconds/.minutes/.hours)")
        value = self._values[name]
        if value is None:
            raise ValueError(f"{_field(self.path, name)} is null (no value to convert)")
        return value * factor


def _effective_defaults(scope: str) -> dict[str, Any]:
    values = defaults(scope)
    for (s, name), normaliser in _NORMALISERS.items():
        if s == scope and values[name] is not None:
            values[name] = normaliser(values[name], name)
    return values


def effective(scope: str, config: Mapping[str, Any], path: str = "") -> EffectiveConfig:
    """Defaults of `scope` merged with `check(scope, config, path)`; no cross-property rules."""
    values = _effective_defaults(scope)
    values.update(check(scope, config, path))
    return EffectiveConfig(scope, values, frozenset(config), path)


def unused_given(cfg: EffectiveConfig | Mapping[str, Any], scope: str) -> list[str]:
    """Names the user set that the model accepts but ignores, sorted."""
    names = cfg.given if isinstance(cfg, EffectiveConfig) else cfg.keys()
    return sorted(n for n in names if n in accepted_no_effect(scope))


# --------------------------------------------------------------------------------------------
# Producer: ProducerConfig.postProcessParsedConfig and KafkaProducer.configureDeliveryTimeout

# ProducerConfig.MAX_IN_FLIGHT_REQUESTS_PER_CONNECTION_FOR_IDEMPOTENCE
_IDEMPOTENCE_MAX_IN_FLIGHT = 5


def _idempotence_conflicts(values: Mapping[str, Any]) -> list[tuple[str, str, str]]:
    """(field, problem, fix) for each setting that rules out idempotence, in Kafka's order."""
    conflicts = []
    if values["retries"] == 0:
        conflicts.append(("retries", "retries=0", "set retries to non-zero"))
    if values["acks"] != "all":
        conflicts.append(("acks", f"acks={values['acks']}", "set acks to all"))
    in_flight = values["max.in.flight.requests.per.connection"]
    if in_flight > _IDEMPOTENCE_MAX_IN_FLIGHT:
        conflicts.append(
            (
                "max.in.flight.requests.per.connection",
                f"max.in.flight.requests.per.connection={in_flight}",
                f"set it to at most {_IDEMPOTENCE_MAX_IN_FLIGHT}",
            )
        )
    return conflicts


def _apply_idempotence(
    values: dict[str, Any], given: frozenset[str], path: str, warnings: list[str]
) -> None:
    """ProducerConfig.postProcessAndValidateIdempotenceConfigs."""
    if values["enable.idempotence"]:
        for name, problem, fix in _idempotence_conflicts(values):
            if "enable.idempotence" in given:
                raise ConfigError(
                    _field(path, name),
                    f"{problem} conflicts with enable.idempotence=true",
                    f"{fix} to use the idempotent producer",
                )
            warnings.append(
                f"{_field(path, 'enable.idempotence')}: idempotence disabled because "
                f"{problem} and enable.idempotence was not set explicitly"
            )
            values["enable.idempotence"] = False
    if "transactional.id" in given and not values["enable.idempotence"]:
        raise ConfigError(
            _field(path, "transactional.id"),
            "cannot set a transactional.id without also enabling idempotence",
            "remove transactional.id or the settings that disable idempotence",
        )


def _apply_delivery_timeout(
    values: dict[str, Any], given: frozenset[str], path: str, warnings: list[str]
) -> None:
    """KafkaProducer.configureDeliveryTimeout: delivery >= linger + request timeout."""
    linger = min(values["linger.ms"], INT_MAX)
    floor = min(linger + values["request.timeout.ms"], INT_MAX)
    delivery = values["delivery.timeout.ms"]
    if delivery >= floor:
        return
    where = _field(path, "delivery.timeout.ms")
    if "delivery.timeout.ms" in given:
        raise ConfigError(
            where,
            f"{delivery} is less than linger.ms + request.timeout.ms ({floor})",
            f"set it to at least {floor}",
        )
    values["delivery.timeout.ms"] = floor
    warnings.append(
        f"{where}: should be equal to or larger than linger.ms + request.timeout.ms; "
        f"setting it to {floor}"
    )


def _apply_client_backoffs(
    scope: str, values: dict[str, Any], given: frozenset[str], path: str, warnings: list[str]
) -> None:
    """CommonClientConfigs: postProcessReconnectBackoffConfigs, warnDisablingExponentialBackoff."""
    keys = _KEYS[scope]
    if (
        "reconnect.backoff.max.ms" in keys
        and "reconnect.backoff.ms" in given
        and "reconnect.backoff.max.ms" not in given
    ):
        values["reconnect.backoff.max.ms"] = values["reconnect.backoff.ms"]
        warnings.append(
            f"{_field(path, 'reconnect.backoff.ms')}: exponential reconnect backoff "
            "disabled because reconnect.backoff.ms is set but reconnect.backoff.max.ms "
            "is not"
        )
    if values["retry.backoff.ms"] > values["retry.backoff.max.ms"]:
        warnings.append(
            f"{_field(path, 'retry.backoff.ms')}: {values['retry.backoff.ms']} is "
            f"greater than retry.backoff.max.ms {values['retry.backoff.max.ms']}; a "
            f"static backoff of {values['retry.backoff.max.ms']} ms applies"
        )


def producer_config(config: Mapping[str, Any], path: str = "") -> tuple[EffectiveConfig, list[str]]:
    """Effective producer config after Kafka's cross-property rules, and the warnings Kafka logs.

    Rules (ProducerConfig.postProcessAndValidateIdempotenceConfigs,
    KafkaProducer.configureDeliveryTimeout, CommonClientConfigs): an explicit
    enable.idempotence=true with retries=0, acks!=all or max.in.flight > 5 is an error, an
    implicit one is turned off with a warning; transactional.id needs idempotence;
    delivery.timeout.ms below linger.ms + request.timeout.ms is an error if set explicitly,
    otherwise raised to that sum with a warning. And one Kafka does not check up front:
    buffer.memory below batch.size, where every batch's allocation throws (below).
    """
    cfg = effective("producer", config, path)
    values, warnings = dict(cfg), []
    _apply_client_backoffs("producer", values, cfg.given, path, warnings)
    _apply_idempotence(values, cfg.given, path, warnings)
    _apply_delivery_timeout(values, cfg.given, path, warnings)
    _check_buffer_memory(values, path)
    return EffectiveConfig("producer", values, cfg.given, path), warnings


def _check_buffer_memory(values: Mapping[str, Any], path: str) -> None:
    """BufferPool.allocate throws IllegalArgumentException for a batch buffer (at least
    batch.size bytes) larger than buffer.memory, so every send() would fail: refused here."""
    if values["buffer.memory"] < values["batch.size"]:
        raise ConfigError(
            _field(path, "buffer.memory"),
            f"{values['buffer.memory']} is less than batch.size ({values['batch.size']}): "
            "Kafka's BufferPool could not allocate a single batch",
            f"set it to at least {values['batch.size']}",
        )


# --------------------------------------------------------------------------------------------
# Consumer: ConsumerConfig.postProcessParsedConfig, GroupRebalanceConfig, Heartbeat

_MAX_NAME_LENGTH = 249  # org.apache.kafka.common.internals.Topic.MAX_NAME_LENGTH
_LEGAL_NAME = re.compile(r"[a-zA-Z0-9._-]+")  # Topic.LEGAL_CHARS


def _check_group_instance_id(values: Mapping[str, Any], path: str) -> None:
    """JoinGroupRequest.validateGroupInstanceId: the rules of a topic name (Topic.validate)."""
    instance_id = values["group.instance.id"]
    if instance_id is None:
        return
    if instance_id in (".", "..") or len(instance_id) > _MAX_NAME_LENGTH:
        problem = f"{instance_id!r} is not a valid group instance id"
    elif not _LEGAL_NAME.fullmatch(instance_id):
        problem = (
            f"{instance_id!r} contains characters other than ASCII alphanumerics, '.', '_', '-'"
        )
    else:
        return
    raise ConfigError(
        _field(path, "group.instance.id"),
        problem,
        f"use 1 to {_MAX_NAME_LENGTH} of [a-zA-Z0-9._-], not '.' or '..'",
    )


def _apply_group_rules(
    values: dict[str, Any], given: frozenset[str], path: str, warnings: list[str]
) -> None:
    """ConsumerConfig.maybeOverrideEnableAutoCommit and Heartbeat's session check."""
    if values["group.id"] is None:
        if "enable.auto.commit" not in given:
            values["enable.auto.commit"] = False
            warnings.append(
                f"{_field(path, 'enable.auto.commit')}: false because group.id is "
                "not set (ConsumerConfig.maybeOverrideEnableAutoCommit)"
            )
        elif values["enable.auto.commit"]:
            raise ConfigError(
                _field(path, "enable.auto.commit"),
                "cannot be true when the default group id (null) is used",
                "set group.id or leave enable.auto.commit unset",
            )
        return
    if values["heartbeat.interval.ms"] >= values["session.timeout.ms"]:
        name = (
            "session.timeout.ms"
            if "heartbeat.interval.ms" not in given
            else "heartbeat.interval.ms"
        )
        raise ConfigError(
            _field(path, name),
            f"heartbeat.interval.ms {values['heartbeat.interval.ms']} is not lower "
            f"than session.timeout.ms {values['session.timeout.ms']}",
            "the heartbeat must be set lower than the session timeout",
        )


def consumer_config(config: Mapping[str, Any], path: str = "") -> tuple[EffectiveConfig, list[str]]:
    """Effective consumer config after Kafka's consumer-side checks, and the warnings Kafka logs.

    partition.assignment.strategy becomes a list of short names. Pass the group's id as
    "group.id": without it Kafka turns enable.auto.commit off (with a warning here).
    """
    cfg = effective("consumer", config, path)
    values, warnings = dict(cfg), []
    remote = values.get("group.remote.assignor")
    if remote and values["group.protocol"] == "classic":
        raise ConfigError(
            _field(path, "group.remote.assignor"),
            "cannot be set when group.protocol=classic",
            "remove it or set group.protocol=consumer",
        )
    _check_group_instance_id(values, path)
    _apply_group_rules(values, cfg.given, path, warnings)
    _apply_client_backoffs("consumer", values, cfg.given, path, warnings)
    return EffectiveConfig("consumer", values, cfg.given, path), warnings


# --------------------------------------------------------------------------------------------
# Broker: KafkaConfig.validateValues (ZooKeeper mode)

_MS_PER_MINUTE = 60_000
_MS_PER_HOUR = 3_600_000


def _retention_or_roll_ms(name: str, value: int) -> int:
    """A broker log.retention.* / log.roll.* value in ms; negative retention means -1
    (KafkaConfig.logRetentionTimeMillis, logRollTimeMillis)."""
    if name.endswith(".hours"):
        ms = value * _MS_PER_HOUR
    elif name.endswith(".minutes"):
        ms = value * _MS_PER_MINUTE
    else:
        ms = value
    return -1 if name.startswith("log.retention") and ms < 0 else ms


def _first_given(values: Mapping[str, Any], given: frozenset[str], names: tuple[str, ...]) -> str:
    """The first of `names` the user gave, else the last one (Kafka's fallback)."""
    return next((n for n in names if n in given and values[n] is not None), names[-1])


def _check_broker_values(values: Mapping[str, Any], given: frozenset[str], path: str) -> None:
    reserved = values.get("reserved.broker.max.id") or 1000  # ServerConfigs default
    if not -1 <= values["broker.id"] <= reserved:
        raise ConfigError(
            _field(path, "broker.id"),
            f"{values['broker.id']} is out of range",
            f"broker.id must be between -1 and reserved.broker.max.id ({reserved})",
        )
    roll = _first_given(values, given, ("log.roll.ms", "log.roll.hours"))
    if _retention_or_roll_ms(roll, values[roll]) < 1:
        raise ConfigError(
            _field(path, roll),
            f"{values[roll]} is too small",
            "log.roll.ms must be greater than or equal to 1",
        )
    retention = _first_given(
        values, given, ("log.retention.ms", "log.retention.minutes", "log.retention.hours")
    )
    if _retention_or_roll_ms(retention, values[retention]) == 0:
        raise ConfigError(
            _field(path, retention),
            "0 is not allowed",
            "log.retention.ms must be unlimited (-1) or at least 1",
        )
    if values["num.replica.fetchers"] == 0:
        # KafkaConfig takes it (no validator), then getFetcherId divides by it at the first
        # partition the broker follows (AbstractFetcherManager): no follower could fetch
        raise ConfigError(
            _field(path, "num.replica.fetchers"),
            "0 leaves a follower no fetcher thread",
            "give at least 1",
        )
    wait = values["replica.fetch.wait.max.ms"]
    for other in ("replica.socket.timeout.ms", "replica.lag.time.max.ms"):
        if wait > values[other]:
            name = (
                other if "replica.fetch.wait.max.ms" not in given else "replica.fetch.wait.max.ms"
            )
            raise ConfigError(
                _field(path, name),
                f"replica.fetch.wait.max.ms {wait} is greater than {other} {values[other]}",
                f"{other} must be at least replica.fetch.wait.max.ms",
            )


def broker_config(config: Mapping[str, Any], path: str = "") -> EffectiveConfig:
    """Effective broker config, checked by KafkaConfig.validateValues' rules on these properties."""
    cfg = effective("broker", config, path)
    _check_broker_values(cfg, cfg.given, path)
    return cfg


# --------------------------------------------------------------------------------------------
# Topic: LogConfig defaults from the broker
# (KafkaConfig.extractLogConfigMap, ServerTopicConfigSynonyms)


# topic property -> broker synonyms, highest priority first (ServerTopicConfigSynonyms)
TOPIC_SYNONYMS: dict[str, tuple[str, ...]] = {
    "cleanup.policy": ("log.cleanup.policy",),
    "compression.type": ("compression.type",),
    "flush.messages": ("log.flush.interval.messages",),
    "flush.ms": ("log.flush.interval.ms", "log.flush.scheduler.interval.ms"),
    "max.message.bytes": ("message.max.bytes",),
    "message.timestamp.type": ("log.message.timestamp.type",),
    "min.insync.replicas": ("min.insync.replicas",),
    "retention.bytes": ("log.retention.bytes",),
    "retention.ms": ("log.retention.ms", "log.retention.minutes", "log.retention.hours"),
    "segment.bytes": ("log.segment.bytes",),
    "segment.ms": ("log.roll.ms", "log.roll.hours"),
    "unclean.leader.election.enable": ("unclean.leader.election.enable",),
}


def _broker_values(broker: EffectiveConfig | Mapping[str, Any]) -> tuple[dict, frozenset[str]]:
    if isinstance(broker, EffectiveConfig):
        return dict(broker), broker.given
    return check("broker", broker, ""), frozenset(broker)


def topic_config(
    topic_config: Mapping[str, Any],
    broker_config: EffectiveConfig | Mapping[str, Any],
    path: str = "",
) -> EffectiveConfig:
    """Effective topic config: the topic's value, else the broker's synonym, else the default.

    Broker synonyms are taken in Kafka's order (log.retention.ms, then .minutes, then .hours;
    log.roll.ms, then log.roll.hours; ...), converted to the topic's unit. `broker_config` is the
    user's broker properties or a broker EffectiveConfig (only names in its `given` count).
    """
    given = check("topic", topic_config, path)
    broker, broker_given = _broker_values(broker_config)
    values = _effective_defaults("topic")
    for name, synonyms in TOPIC_SYNONYMS.items():
        synonym = next((s for s in synonyms if s in broker_given and broker[s] is not None), None)
        if synonym is not None:
            values[name] = _from_broker(synonym, broker[synonym])
    values.update(given)
    return EffectiveConfig("topic", values, frozenset(topic_config), path)


def _from_broker(synonym: str, value: Any) -> Any:
    if synonym.startswith(("log.retention.", "log.roll.")) and synonym != "log.retention.bytes":
        return _retention_or_roll_ms(synonym, value)
    return _copy(value)


# --------------------------------------------------------------------------------------------
# MirrorMaker 2 (KIP-382): a mirror's properties, and the clients of its MirrorSourceTasks

#: Prefixes of a mirror's client properties (MirrorConnectorConfig.CONSUMER_CLIENT_PREFIX and
#: PRODUCER_CLIENT_PREFIX): ``consumer.fetch.max.bytes`` is the tasks' consumers'
#: ``fetch.max.bytes``.
MIRROR_CLIENT_PREFIXES = {"consumer.": "consumer", "producer.": "producer"}
#: What MirrorSourceConfig.sourceConsumerConfig sets for the source consumers: auto commit off
#: (forced), ``auto.offset.reset`` earliest (unless given).
MIRROR_CONSUMER_FORCED = {"enable.auto.commit": False}
MIRROR_CONSUMER_DEFAULTS = {"auto.offset.reset": "earliest"}
#: What Kafka Connect's Worker.baseProducerConfigs sets for a source task's producer before
#: the user's ``producer.`` properties: infinite retries, no idempotence, one request in flight.
MIRROR_PRODUCER_DEFAULTS = {
    "max.block.ms": LONG_MAX,
    "enable.idempotence": False,
    "acks": "all",
    "max.in.flight.requests.per.connection": 1,
    "delivery.timeout.ms": INT_MAX,
}

_MSC = "MirrorSourceConfig"
_MCC = "MirrorCheckpointConfig"
# fmt: off
_MIRROR: tuple[_Row, ...] = (
    ("offset.flush.interval.ms", "long", 60000, _AT_LEAST_1, "WorkerConfig", "ms",
     "how often Connect stores the source offsets its tasks' records reached in the target; a "
     "task restarted after a worker crash resumes from there (records since are sent again)"),
    ("replication.factor", "int", 2, None, _MSC, "",
     "replicas of each remote topic the mirror creates in the target (-1: the target's "
     "default.replication.factor)"),
    ("replication.policy.separator", "string", ".", None, "MirrorClientConfig", "",
     "between the source cluster's name and the topic in a remote topic's name "
     "(DefaultReplicationPolicy: east.orders)"),
    ("tasks.max", "int", 1, _AT_LEAST_1, "ConnectorConfig", "",
     "MirrorSourceTasks: the source partitions are dealt round robin to min(tasks.max, "
     "partitions) tasks, each a consumer on the source and a producer on the target"),
    ("topics.exclude", "list", [".*[\\-\\.]internal", ".*\\.replica", "__.*"], None,
     "DefaultTopicFilter", "", "regular expressions of source topics never mirrored"),
    ("emit.offset-syncs.enabled", "boolean", True, None, "MirrorConnectorConfig", "",
     "the tasks write offset syncs (OffsetSyncWriter); the checkpoints need them"),
    ("offset.lag.max", "long", 100, None, _MSC, "records",
     "a task writes an offset sync once the remote offset is this far past the last one "
     "(OffsetSyncWriter.PartitionState.update)"),
    ("offset-syncs.topic.location", "string", "source", ValidString(("source", "target")),
     "MirrorConnectorConfig", "",
     "the cluster holding mm2-offset-syncs.<target>.internal: where the syncs travel to"),
    ("emit.checkpoints.enabled", "boolean", True, None, _MCC, "",
     "MirrorCheckpointTask emits checkpoints of the source's consumer groups"),
    ("emit.checkpoints.interval.seconds", "long", 60, _AT_LEAST_1, _MCC, "s",
     "how often the groups' committed offsets are read and translated into checkpoints"),
    ("groups", "list", [".*"], None, "DefaultGroupFilter", "",
     "regular expressions of the source's consumer groups checkpointed"),
    ("groups.exclude", "list", ["console-consumer-.*", "connect-.*", "__.*"], None,
     "DefaultGroupFilter", "", "regular expressions of consumer groups never checkpointed"),
    ("sync.group.offsets.enabled", "boolean", False, None, _MCC, "",
     "the checkpoints' offsets are committed in the target for groups inactive there"),
    ("sync.group.offsets.interval.seconds", "long", 60, _AT_LEAST_1, _MCC, "s",
     "how often the translated offsets are committed in the target"),
)
# fmt: on
_MIRROR_KEYS = _build("mirror", _MIRROR)
#: MirrorMaker 2 properties (MirrorSourceConfig, MirrorConnectorConfig, MirrorClientConfig,
#: DefaultTopicFilter, ConnectorConfig) accepted without effect in the model: the
#: heartbeats, periodic refreshes and config syncs it does not run yet.
MIRROR_NO_EFFECT = frozenset(
    {
        "consumer.poll.timeout.ms",
        "emit.heartbeats.enabled",
        "emit.heartbeats.interval.seconds",
        "refresh.groups.enabled",
        "refresh.groups.interval.seconds",
        "refresh.topics.enabled",
        "refresh.topics.interval.seconds",
        "sync.topic.acls.enabled",
        "sync.topic.acls.interval.seconds",
        "sync.topic.configs.enabled",
        "sync.topic.configs.interval.seconds",
    }
)


@dataclass(frozen=True)
class MirrorConfig:
    """A mirror's effective properties: its own (``mirror``), and its tasks' ``consumer`` and
    ``producer`` configs (Kafka's defaults, then MirrorMaker's, then the user's prefixed ones)."""

    mirror: EffectiveConfig
    consumer: EffectiveConfig
    producer: EffectiveConfig


def mirror_properties() -> dict[str, ConfigKey]:
    """The MirrorMaker 2 properties the model honours, by name."""
    return dict(_MIRROR_KEYS)


def mirror_config(config: Mapping[str, Any], path: str = "") -> MirrorConfig:
    """Check a mirror's ``config`` (MirrorMaker 2 property names; ``consumer.*`` and
    ``producer.*`` go to its tasks' clients, checked in their scopes) and give the effective
    configs."""
    own: dict[str, Any] = {}
    clients: dict[str, dict[str, Any]] = {"consumer": {}, "producer": {}}
    for name, value in config.items():
        prefix = next((p for p in MIRROR_CLIENT_PREFIXES if str(name).startswith(p)), None)
        if prefix is not None:
            clients[MIRROR_CLIENT_PREFIXES[prefix]][name[len(prefix) :]] = value
        elif name in _MIRROR_KEYS:
            own[name] = _checked(_MIRROR_KEYS[name], value, _field(path, name))
        elif name not in MIRROR_NO_EFFECT:
            close = difflib.get_close_matches(
                str(name), sorted({*_MIRROR_KEYS, *MIRROR_NO_EFFECT}), n=1, cutoff=0.6
            )
            hint = f"did you mean {close[0]!r}?" if close else "docs/multi_cluster.md lists them"
            raise ConfigError(
                _field(path, str(name)), f"unknown MirrorMaker 2 property {name!r}", hint
            )
    values = {n: _copy(k.default) for n, k in _MIRROR_KEYS.items()} | own
    mirror = EffectiveConfig("mirror", values, frozenset(config), path)
    consumer_given = MIRROR_CONSUMER_DEFAULTS | clients["consumer"] | MIRROR_CONSUMER_FORCED
    consumer, _ = consumer_config(consumer_given, _field(path, "consumer"))
    producer, _ = producer_config(
        MIRROR_PRODUCER_DEFAULTS | clients["producer"], _field(path, "producer")
    )
    return MirrorConfig(mirror, consumer, producer)
