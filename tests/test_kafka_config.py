"""Tests for sim.kafka_config: Kafka 3.9 defaults, parsing, and Kafka's cross-property rules."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from sim import kafka_config_names as names
from sim.kafka_config import (
    SCOPES,
    ConfigError,
    EffectiveConfig,
    accepted_no_effect,
    broker_config,
    check,
    consumer_config,
    defaults,
    effective,
    producer_config,
    properties,
    topic_config,
    unused_given,
)

LONG_MAX = 9223372036854775807
_RANGE = "org.apache.kafka.clients.consumer.RangeAssignor"
P = "producers.0.config"
C = "consumer_groups.0.config"

# (scope, name, Kafka 3.9 default), typed from the 3.9 sources, not from sim.kafka_config.
KAFKA_39_DEFAULTS = [
    # clients/src/main/java/org/apache/kafka/clients/producer/ProducerConfig.java (CONFIG define)
    # and CommonClientConfigs.java (DEFAULT_RETRY_BACKOFF_MS, DEFAULT_SOCKET_CONNECTION_SETUP_...)
    ("producer", "acks", "all"),
    ("producer", "batch.size", 16384),
    ("producer", "buffer.memory", 32 * 1024 * 1024),
    ("producer", "compression.type", "none"),  # CompressionType.NONE.name
    ("producer", "delivery.timeout.ms", 120 * 1000),
    ("producer", "enable.idempotence", True),
    ("producer", "linger.ms", 0),  # 5 only from Kafka 4.0 (KIP-1030)
    ("producer", "max.block.ms", 60 * 1000),
    ("producer", "max.in.flight.requests.per.connection", 5),
    ("producer", "max.request.size", 1024 * 1024),
    ("producer", "metadata.max.age.ms", 5 * 60 * 1000),
    ("producer", "partitioner.adaptive.partitioning.enable", True),
    ("producer", "partitioner.availability.timeout.ms", 0),
    ("producer", "partitioner.class", None),
    ("producer", "partitioner.ignore.keys", False),
    ("producer", "reconnect.backoff.max.ms", 1000),
    ("producer", "reconnect.backoff.ms", 50),
    ("producer", "request.timeout.ms", 30 * 1000),
    ("producer", "retries", 2147483647),  # Integer.MAX_VALUE
    ("producer", "retry.backoff.max.ms", 1000),
    ("producer", "retry.backoff.ms", 100),
    ("producer", "transactional.id", None),
    # clients/src/main/java/org/apache/kafka/clients/consumer/ConsumerConfig.java (CONFIG define)
    ("consumer", "auto.commit.interval.ms", 5000),
    ("consumer", "auto.offset.reset", "latest"),  # OffsetResetStrategy.LATEST.toString()
    ("consumer", "client.id", ""),
    ("consumer", "enable.auto.commit", True),
    ("consumer", "fetch.max.bytes", 50 * 1024 * 1024),  # DEFAULT_FETCH_MAX_BYTES
    ("consumer", "fetch.max.wait.ms", 500),  # DEFAULT_FETCH_MAX_WAIT_MS
    ("consumer", "fetch.min.bytes", 1),  # DEFAULT_FETCH_MIN_BYTES
    ("consumer", "group.id", None),
    ("consumer", "group.instance.id", None),
    ("consumer", "group.protocol", "classic"),  # DEFAULT_GROUP_PROTOCOL
    ("consumer", "heartbeat.interval.ms", 3000),
    ("consumer", "isolation.level", "read_uncommitted"),  # IsolationLevel.toString() lower-cased
    ("consumer", "max.partition.fetch.bytes", 1024 * 1024),
    ("consumer", "max.poll.interval.ms", 300000),
    ("consumer", "max.poll.records", 500),  # DEFAULT_MAX_POLL_RECORDS
    ("consumer", "metadata.max.age.ms", 5 * 60 * 1000),
    (
        "consumer",
        "partition.assignment.strategy",
        [
            "org.apache.kafka.clients.consumer.RangeAssignor",
            "org.apache.kafka.clients.consumer.CooperativeStickyAssignor",
        ],
    ),
    ("consumer", "request.timeout.ms", 30000),
    ("consumer", "retry.backoff.max.ms", 1000),
    ("consumer", "retry.backoff.ms", 100),
    ("consumer", "session.timeout.ms", 45000),
    # server/src/main/java/org/apache/kafka/server/config/ServerConfigs.java
    ("broker", "broker.id", -1),
    ("broker", "compression.type", "producer"),  # LogConfig.DEFAULT_COMPRESSION_TYPE
    ("broker", "controlled.shutdown.enable", True),
    ("broker", "controlled.shutdown.max.retries", 3),
    ("broker", "controlled.shutdown.retry.backoff.ms", 5000),
    ("broker", "message.max.bytes", 1024 * 1024 + 12),  # LogConfig.DEFAULT_MAX_MESSAGE_BYTES
    ("broker", "num.io.threads", 8),
    # server/src/main/java/org/apache/kafka/server/config/ReplicationConfigs.java
    ("broker", "auto.leader.rebalance.enable", True),
    ("broker", "controller.socket.timeout.ms", 30000),
    ("broker", "default.replication.factor", 1),
    ("broker", "leader.imbalance.check.interval.seconds", 300),
    ("broker", "leader.imbalance.per.broker.percentage", 10),
    ("broker", "num.replica.fetchers", 1),
    ("broker", "replica.fetch.backoff.ms", 1000),
    ("broker", "replica.fetch.max.bytes", 1024 * 1024),
    ("broker", "replica.fetch.min.bytes", 1),
    ("broker", "replica.fetch.response.max.bytes", 10 * 1024 * 1024),
    ("broker", "replica.fetch.wait.max.ms", 500),
    ("broker", "replica.high.watermark.checkpoint.interval.ms", 5000),
    ("broker", "replica.lag.time.max.ms", 30000),
    ("broker", "replica.socket.timeout.ms", 30 * 1000),
    ("broker", "unclean.leader.election.enable", False),
    # server/src/main/java/org/apache/kafka/server/config/ZkConfigs.java
    ("broker", "zookeeper.session.timeout.ms", 18000),
    # server/src/main/java/org/apache/kafka/network/SocketServerConfigs.java
    ("broker", "num.network.threads", 3),
    ("broker", "queued.max.requests", 500),
    ("broker", "socket.request.max.bytes", 100 * 1024 * 1024),
    # storage/.../log/LogConfig.java SERVER_CONFIG_DEF with ServerLogConfigs.java defaults
    ("broker", "log.cleanup.policy", ["delete"]),
    ("broker", "log.flush.interval.messages", LONG_MAX),
    ("broker", "log.flush.interval.ms", None),
    ("broker", "log.flush.scheduler.interval.ms", LONG_MAX),
    ("broker", "log.initial.task.delay.ms", 30 * 1000),  # LOG_INITIAL_TASK_DELAY_MS_DEFAULT
    ("broker", "log.message.timestamp.type", "CreateTime"),
    ("broker", "log.retention.bytes", -1),
    ("broker", "log.retention.check.interval.ms", 5 * 60 * 1000),  # LOG_CLEANUP_INTERVAL_MS
    ("broker", "log.retention.hours", 168),  # toHours(DEFAULT_RETENTION_MS)
    ("broker", "log.retention.minutes", None),
    ("broker", "log.retention.ms", None),
    ("broker", "log.roll.hours", 168),  # toHours(DEFAULT_SEGMENT_MS)
    ("broker", "log.roll.ms", None),
    ("broker", "log.segment.bytes", 1024 * 1024 * 1024),
    ("broker", "min.insync.replicas", 1),
    ("broker", "num.partitions", 1),
    # group-coordinator/.../GroupCoordinatorConfig.java
    ("broker", "group.initial.rebalance.delay.ms", 3000),
    ("broker", "group.max.session.timeout.ms", 1800000),
    ("broker", "group.min.session.timeout.ms", 6000),
    ("broker", "group.max.size", 2**31 - 1),  # GroupCoordinatorConfig.GROUP_MAX_SIZE_DEFAULT
    ("broker", "offsets.commit.timeout.ms", 5000),  # OFFSET_COMMIT_TIMEOUT_MS_DEFAULT
    ("broker", "offsets.retention.minutes", 7 * 24 * 60),
    ("broker", "offsets.topic.num.partitions", 50),
    ("broker", "offsets.topic.replication.factor", 3),
    # storage/.../log/LogConfig.java topic CONFIG define
    ("topic", "cleanup.policy", ["delete"]),
    ("topic", "compression.type", "producer"),
    ("topic", "flush.messages", LONG_MAX),
    ("topic", "flush.ms", LONG_MAX),
    ("topic", "max.message.bytes", 1024 * 1024 + 12),
    ("topic", "message.timestamp.type", "CreateTime"),
    ("topic", "min.insync.replicas", 1),
    ("topic", "retention.bytes", -1),
    ("topic", "retention.ms", 24 * 7 * 60 * 60 * 1000),
    ("topic", "segment.bytes", 1024 * 1024 * 1024),
    ("topic", "segment.ms", 24 * 7 * 60 * 60 * 1000),
    ("topic", "unclean.leader.election.enable", False),
]


@pytest.mark.parametrize(("scope", "name", "expected"), KAFKA_39_DEFAULTS)
def test_default_is_kafka_39(scope: str, name: str, expected: object) -> None:
    assert defaults(scope)[name] == expected
    assert type(defaults(scope)[name]) is type(expected)


@pytest.mark.parametrize("scope", SCOPES)
def test_default_table_covers_every_honoured_property(scope: str) -> None:
    assert {n for s, n, _ in KAFKA_39_DEFAULTS if s == scope} == set(properties(scope))


@pytest.mark.parametrize("scope", SCOPES)
def test_honoured_properties_are_real_with_kafkas_type(scope: str) -> None:
    table = dict(getattr(names, f"{scope.upper()}_PROPERTIES"))
    for name, key in properties(scope).items():
        assert table.get(name) == key.type, name


@pytest.mark.parametrize("scope", SCOPES)
def test_no_effect_names_are_the_rest(scope: str) -> None:
    table = getattr(names, f"{scope.upper()}_PROPERTIES")
    assert [n for n, _ in table] == sorted({n for n, _ in table})
    assert accepted_no_effect(scope) == {n for n, _ in table} - set(properties(scope))


def test_no_effect_names_include_well_known_ones() -> None:
    assert "bootstrap.servers" in accepted_no_effect("producer")
    assert "ssl.truststore.location" in accepted_no_effect("consumer")
    assert "zookeeper.connect" in accepted_no_effect("broker")
    assert "preallocate" in accepted_no_effect("topic")


def test_defaults_returns_fresh_lists() -> None:
    defaults("topic")["cleanup.policy"].append("compact")
    assert defaults("topic")["cleanup.policy"] == ["delete"]


# ---- parsing like ConfigDef.parseType


@pytest.mark.parametrize(
    ("scope", "given", "expected"),
    [
        ("producer", {"linger.ms": "5"}, {"linger.ms": 5}),
        ("producer", {"linger.ms": " 7 "}, {"linger.ms": 7}),
        ("producer", {"enable.idempotence": "TRUE"}, {"enable.idempotence": True}),
        ("producer", {"compression.type": " lz4 "}, {"compression.type": "lz4"}),
        ("topic", {"cleanup.policy": "compact, delete"}, {"cleanup.policy": ["compact", "delete"]}),
        ("topic", {"cleanup.policy": ""}, {"cleanup.policy": []}),
        ("producer", {"send.buffer.bytes": "1024"}, {"send.buffer.bytes": 1024}),
        ("broker", {"zookeeper.connect": "zk:2181"}, {"zookeeper.connect": "zk:2181"}),
        ("consumer", {"group.protocol": "CLASSIC"}, {"group.protocol": "classic"}),
    ],
)
def test_check_parses_like_kafka(scope: str, given: dict, expected: dict) -> None:
    assert check(scope, given, "x") == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [("all", "all"), ("-1", "all"), (-1, "all"), ("0", "0"), (0, "0"), ("1", "1"), (1, "1")],
)
def test_acks_normalised(value: object, expected: str) -> None:
    assert check("producer", {"acks": value}, P) == {"acks": expected}


@pytest.mark.parametrize("value", ["ALL", "2", 2, True, "one"])
def test_acks_rejected(value: object) -> None:
    with pytest.raises(ConfigError) as err:
        check("producer", {"acks": value}, P)
    assert err.value.path == f"{P}.acks"
    assert str(err.value).startswith(f"{P}.acks: {value!r} ")
    assert "'all', '-1', '0', '1'" in str(err.value)


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("linger.ms", True),  # a bool is not an int here
        ("linger.ms", 5.0),  # Kafka rejects a Double for a LONG
        ("linger.ms", "5ms"),
        ("linger.ms", "1_000"),  # Long.parseLong has no underscores
        ("batch.size", 2**31),  # beyond a Java int
        ("enable.idempotence", "yes"),
        ("enable.idempotence", 1),
        ("compression.type", 1),
        ("send.buffer.bytes", "big"),  # no-effect names are still type-checked
    ],
)
def test_wrong_type_names_path_and_value(name: str, value: object) -> None:
    with pytest.raises(ConfigError) as err:
        check("producer", {name: value}, P)
    message = str(err.value)
    assert err.value.path == f"{P}.{name}"
    assert message.startswith(f"{P}.{name}: {value!r} is not ")
    assert "\n" not in message
    # the fix after the semicolon says how to write one, not the problem again
    problem, fix = message.split("; ")
    expected = problem.split(" is not ")[1]
    assert fix.startswith("give ") and expected not in fix


@pytest.mark.parametrize(
    ("scope", "name", "value", "allowed"),
    [
        ("producer", "linger.ms", -1, "at least 0"),
        ("producer", "retries", -1, "between 0 and 2147483647"),
        ("producer", "max.in.flight.requests.per.connection", 0, "at least 1"),
        ("producer", "compression.type", "brotli", "'none', 'gzip', 'snappy', 'lz4', 'zstd'"),
        ("consumer", "max.poll.records", "0", "at least 1"),
        ("consumer", "auto.offset.reset", "Earliest", "'latest', 'earliest', 'none'"),
        ("consumer", "group.instance.id", "", "non-empty"),
        ("topic", "retention.ms", -2, "at least -1"),
        ("topic", "cleanup.policy", ["delete", "archive"], "'compact', 'delete'"),
        ("broker", "min.insync.replicas", 0, "at least 1"),
        ("broker", "compression.type", "none", "'uncompressed'"),
        # properties the model only validates
        ("producer", "reconnect.backoff.ms", -1, "at least 0"),
        ("producer", "reconnect.backoff.max.ms", -1, "at least 0"),
        ("producer", "transactional.id", "", "non-empty"),
        ("consumer", "isolation.level", "READ_COMMITTED", "'read_committed', 'read_uncommitted'"),
        ("broker", "offsets.retention.minutes", 0, "at least 1"),
        ("broker", "queued.max.requests", 0, "at least 1"),
        ("broker", "socket.request.max.bytes", 0, "at least 1"),
        ("broker", "log.message.timestamp.type", "createtime", "'CreateTime', 'LogAppendTime'"),
        ("topic", "message.timestamp.type", "Now", "'CreateTime', 'LogAppendTime'"),
        ("topic", "compression.type", "none", "'uncompressed'"),
    ],
)
def test_out_of_range(scope: str, name: str, value: object, allowed: str) -> None:
    with pytest.raises(ConfigError) as err:
        check(scope, {name: value}, "cfg")
    assert err.value.path == f"cfg.{name}"
    assert str(err.value).startswith(f"cfg.{name}: {value!r} is not allowed; ")
    assert allowed in str(err.value)


def test_null_only_where_kafka_default_is_null() -> None:
    assert check("consumer", {"group.id": None}, C) == {"group.id": None}
    with pytest.raises(ConfigError, match=r"linger\.ms: null is not allowed"):
        check("producer", {"linger.ms": None}, P)


def test_typo_suggests_closest_name() -> None:
    with pytest.raises(ConfigError) as err:
        check("producer", {"lingr.ms": 5}, P)
    assert str(err.value) == (
        f"{P}.lingr.ms: unknown producer property 'lingr.ms'; did you mean 'linger.ms'?"
    )
    assert err.value.path == f"{P}.lingr.ms"


def test_unknown_without_close_name_points_to_docs() -> None:
    with pytest.raises(ConfigError, match="unknown consumer property 'zzz'; docs/configuration"):
        check("consumer", {"zzz": 1}, C)


def test_empty_path_starts_with_the_name() -> None:
    with pytest.raises(ConfigError) as err:
        check("topic", {"retention.msec": 1}, "")
    assert str(err.value).startswith("retention.msec: unknown topic property")
    assert err.value.path == "retention.msec"


@pytest.mark.parametrize(
    ("scope", "name", "owner", "place"),
    [
        ("producer", "min.insync.replicas", "broker and topic", "cluster.config or topics.<i>"),
        ("topic", "log.retention.hours", "broker", "cluster.config"),
        ("broker", "linger.ms", "producer", "producers.<i>.config"),
        ("producer", "group.id", "consumer", "consumer_groups.<i>.config"),
    ],
)
def test_other_scope_names_the_right_place(scope: str, name: str, owner: str, place: str) -> None:
    with pytest.raises(ConfigError) as err:
        check(scope, {name: 1}, "cfg")
    message = str(err.value)
    assert message.startswith(f"cfg.{name}: '{name}' is a {owner} property, not a {scope} ")
    assert place in message


# ---- EffectiveConfig


def test_effective_merges_defaults_and_records_given() -> None:
    cfg = effective("producer", {"linger.ms": "5", "send.buffer.bytes": 1}, P)
    assert isinstance(cfg, EffectiveConfig)
    assert cfg["linger.ms"] == 5
    assert cfg["batch.size"] == 16384
    assert cfg.given == {"linger.ms", "send.buffer.bytes"}
    assert unused_given(cfg, "producer") == ["send.buffer.bytes"]
    assert unused_given({"linger.ms": 1, "acks": 1}, "producer") == []


@pytest.mark.parametrize(
    ("scope", "config", "name", "seconds"),
    [
        ("producer", {"linger.ms": 5}, "linger.ms", 0.005),
        ("producer", {}, "request.timeout.ms", 30.0),
        ("broker", {}, "leader.imbalance.check.interval.seconds", 300.0),
        ("broker", {}, "offsets.retention.minutes", 7 * 24 * 3600.0),
        ("broker", {"log.retention.hours": 2}, "log.retention.hours", 7200.0),
    ],
)
def test_seconds(scope: str, config: dict, name: str, seconds: float) -> None:
    cfg = effective(scope, config)
    assert cfg.s(name) == pytest.approx(seconds)


def test_seconds_refuses_non_time_and_null() -> None:
    cfg = effective("broker", {})
    with pytest.raises(ValueError, match="not a time property"):
        cfg.s("message.max.bytes")
    with pytest.raises(ValueError, match="null"):
        cfg.s("log.retention.ms")


# ---- producer rules (ProducerConfig, KafkaProducer)


def test_default_producer_is_idempotent_without_warnings() -> None:
    cfg, warnings = producer_config({}, P)
    assert cfg["enable.idempotence"] is True
    assert cfg["acks"] == "all"
    assert cfg["delivery.timeout.ms"] == 120000
    assert warnings == []


@pytest.mark.parametrize(
    ("conflict", "field"),
    [
        ({"acks": "1"}, "acks"),
        ({"acks": 0}, "acks"),
        ({"retries": 0}, "retries"),
        ({"max.in.flight.requests.per.connection": 6}, "max.in.flight.requests.per.connection"),
    ],
)
def test_explicit_idempotence_conflict_is_error(conflict: dict, field: str) -> None:
    with pytest.raises(ConfigError) as err:
        producer_config({"enable.idempotence": True, **conflict}, P)
    assert err.value.path == f"{P}.{field}"
    assert "enable.idempotence=true" in str(err.value)


@pytest.mark.parametrize(
    "conflict", [{"acks": "1"}, {"retries": 0}, {"max.in.flight.requests.per.connection": 6}]
)
def test_implicit_idempotence_conflict_disables_with_warning(conflict: dict) -> None:
    cfg, warnings = producer_config(conflict, P)
    assert cfg["enable.idempotence"] is False
    assert len(warnings) == 1
    assert warnings[0].startswith(f"{P}.enable.idempotence: idempotence disabled")


def test_explicit_idempotence_false_has_no_warning() -> None:
    cfg, warnings = producer_config({"enable.idempotence": False, "acks": "1"}, P)
    assert cfg["enable.idempotence"] is False
    assert warnings == []


def test_transactional_id_needs_idempotence() -> None:
    cfg, _ = producer_config({"transactional.id": "tx-1"}, P)
    assert cfg["transactional.id"] == "tx-1"
    with pytest.raises(ConfigError) as err:
        producer_config({"transactional.id": "tx-1", "acks": "1"}, P)
    assert err.value.path == f"{P}.transactional.id"


def test_explicit_short_delivery_timeout_is_error() -> None:
    with pytest.raises(ConfigError) as err:
        producer_config({"delivery.timeout.ms": 30000, "linger.ms": 5}, P)
    assert err.value.path == f"{P}.delivery.timeout.ms"
    assert "at least 30005" in str(err.value)


def test_implicit_delivery_timeout_is_raised_with_warning() -> None:
    cfg, warnings = producer_config({"request.timeout.ms": 200000, "linger.ms": 10}, P)
    assert cfg["delivery.timeout.ms"] == 200010
    assert warnings == [
        f"{P}.delivery.timeout.ms: should be equal to or larger than linger.ms + "
        "request.timeout.ms; setting it to 200010"
    ]


def test_delivery_timeout_equal_to_sum_is_fine() -> None:
    cfg, warnings = producer_config({"delivery.timeout.ms": 30005, "linger.ms": 5}, P)
    assert cfg["delivery.timeout.ms"] == 30005
    assert warnings == []


def test_reconnect_backoff_without_max_disables_exponential() -> None:
    cfg, warnings = producer_config({"reconnect.backoff.ms": 200}, P)
    assert cfg["reconnect.backoff.max.ms"] == 200
    assert "exponential reconnect backoff disabled" in warnings[0]


def test_partitioner_class_must_be_one_kafka_ships() -> None:
    name = "org.apache.kafka.clients.producer.RoundRobinPartitioner"
    assert check("producer", {"partitioner.class": name}, P) == {"partitioner.class": name}
    with pytest.raises(ConfigError, match="could not be found"):
        check("producer", {"partitioner.class": "com.example.Mine"}, P)


# ---- consumer rules


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("range", ["range"]),
        ("cooperative-sticky", ["cooperative-sticky"]),
        (
            "org.apache.kafka.clients.consumer.RoundRobinAssignor",
            ["roundrobin"],
        ),
        (
            [
                "org.apache.kafka.clients.consumer.StickyAssignor",
                "org.apache.kafka.clients.consumer.CooperativeStickyAssignor",
            ],
            ["sticky", "cooperative-sticky"],
        ),
        ("range, roundrobin", ["range", "roundrobin"]),
    ],
)
def test_assignment_strategy_short_names(value: object, expected: list[str]) -> None:
    cfg, _ = consumer_config({"group.id": "g", "partition.assignment.strategy": value}, C)
    assert cfg["partition.assignment.strategy"] == expected


def test_default_assignment_strategy_is_range_then_cooperative_sticky() -> None:
    cfg, warnings = consumer_config({"group.id": "g"}, C)
    assert cfg["partition.assignment.strategy"] == ["range", "cooperative-sticky"]
    assert warnings == []


@pytest.mark.parametrize("value", ["", [], "fancy", ["range", "Range"]])
def test_bad_assignment_strategy(value: object) -> None:
    with pytest.raises(ConfigError) as err:
        consumer_config({"group.id": "g", "partition.assignment.strategy": value}, C)
    assert err.value.path == f"{C}.partition.assignment.strategy"


def test_heartbeat_must_be_below_session_timeout() -> None:
    with pytest.raises(ConfigError) as err:
        consumer_config({"group.id": "g", "heartbeat.interval.ms": 45000}, C)
    assert err.value.path == f"{C}.heartbeat.interval.ms"
    with pytest.raises(ConfigError) as err:
        consumer_config({"group.id": "g", "session.timeout.ms": 3000}, C)
    assert err.value.path == f"{C}.session.timeout.ms"


def test_no_group_id_turns_auto_commit_off() -> None:
    cfg, warnings = consumer_config({}, C)
    assert cfg["enable.auto.commit"] is False
    assert warnings[0].startswith(f"{C}.enable.auto.commit: false because group.id")
    with pytest.raises(ConfigError) as err:
        consumer_config({"enable.auto.commit": True}, C)
    assert err.value.path == f"{C}.enable.auto.commit"


@pytest.mark.parametrize("value", ["..", "a b", "x" * 250])
def test_group_instance_id_follows_topic_name_rules(value: str) -> None:
    with pytest.raises(ConfigError) as err:
        consumer_config({"group.id": "g", "group.instance.id": value}, C)
    assert err.value.path == f"{C}.group.instance.id"
    cfg, _ = consumer_config({"group.id": "g", "group.instance.id": "host-1.a_b"}, C)
    assert cfg["group.instance.id"] == "host-1.a_b"


def test_remote_assignor_needs_consumer_protocol() -> None:
    with pytest.raises(ConfigError, match="group.remote.assignor: cannot be set"):
        consumer_config({"group.id": "g", "group.remote.assignor": "uniform"}, C)
    cfg, _ = consumer_config(
        {"group.id": "g", "group.remote.assignor": "uniform", "group.protocol": "consumer"}, C
    )
    assert cfg["group.protocol"] == "consumer"


# ---- broker rules (KafkaConfig.validateValues)


@pytest.mark.parametrize(
    ("config", "field"),
    [
        ({"broker.id": 1001}, "broker.id"),
        ({"broker.id": -2}, "broker.id"),
        ({"log.roll.ms": 0}, "log.roll.ms"),
        ({"log.retention.ms": 0}, "log.retention.ms"),
        ({"log.retention.minutes": 0}, "log.retention.minutes"),
        ({"replica.fetch.wait.max.ms": 40000}, "replica.fetch.wait.max.ms"),
        ({"replica.lag.time.max.ms": 100}, "replica.lag.time.max.ms"),
    ],
)
def test_broker_rules(config: dict, field: str) -> None:
    with pytest.raises(ConfigError) as err:
        broker_config(config, "cluster.config")
    assert err.value.path == f"cluster.config.{field}"


def test_broker_accepts_unlimited_retention() -> None:
    assert broker_config({"log.retention.hours": -1})["log.retention.hours"] == -1


# ---- topic synonyms (ServerTopicConfigSynonyms, KafkaConfig.extractLogConfigMap)


def test_topic_defaults_without_broker_values() -> None:
    cfg = topic_config({}, {})
    assert cfg["retention.ms"] == 604800000
    assert cfg["min.insync.replicas"] == 1
    assert cfg.given == frozenset()


def test_retention_hours_only() -> None:
    assert topic_config({}, {"log.retention.hours": 5})["retention.ms"] == 5 * 3600000


def test_retention_minutes_beats_hours() -> None:
    broker = {"log.retention.hours": 5, "log.retention.minutes": 7}
    assert topic_config({}, broker)["retention.ms"] == 7 * 60000


def test_retention_ms_beats_minutes_and_hours() -> None:
    broker = {"log.retention.hours": 5, "log.retention.minutes": 7, "log.retention.ms": 1234}
    assert topic_config({}, broker)["retention.ms"] == 1234


def test_topic_retention_beats_broker() -> None:
    broker = {"log.retention.hours": 5, "log.retention.ms": 1234}
    assert topic_config({"retention.ms": 99}, broker)["retention.ms"] == 99


def test_negative_broker_retention_means_unlimited() -> None:
    assert topic_config({}, {"log.retention.hours": -3})["retention.ms"] == -1


def test_other_synonyms() -> None:
    broker = {
        "log.roll.hours": 2,
        "log.segment.bytes": "1048576",
        "message.max.bytes": 2000000,
        "log.flush.scheduler.interval.ms": 3000,
        "min.insync.replicas": 2,
        "unclean.leader.election.enable": "true",
        "compression.type": "lz4",
        "log.cleanup.policy": "compact",
        "log.flush.interval.messages": 100,
        "log.message.timestamp.type": "LogAppendTime",
        "log.retention.bytes": 5000,
    }
    cfg = topic_config({"min.insync.replicas": 3}, broker)
    assert cfg["segment.ms"] == 7200000
    assert cfg["segment.bytes"] == 1048576
    assert cfg["max.message.bytes"] == 2000000
    assert cfg["flush.ms"] == 3000
    assert cfg["min.insync.replicas"] == 3
    assert cfg["unclean.leader.election.enable"] is True
    assert cfg["compression.type"] == "lz4"
    assert cfg["cleanup.policy"] == ["compact"]
    assert cfg["flush.messages"] == 100
    assert cfg["message.timestamp.type"] == "LogAppendTime"
    assert cfg["retention.bytes"] == 5000
    assert topic_config({}, broker)["min.insync.replicas"] == 2


def test_roll_ms_beats_roll_hours() -> None:
    broker = {"log.roll.hours": 2, "log.roll.ms": 1500}
    assert topic_config({}, broker)["segment.ms"] == 1500


def test_flush_interval_beats_scheduler_interval() -> None:
    broker = {"log.flush.scheduler.interval.ms": 3000, "log.flush.interval.ms": 10}
    assert topic_config({}, broker)["flush.ms"] == 10


def test_topic_uses_only_given_names_of_a_broker_effective_config() -> None:
    broker = broker_config({"log.retention.minutes": 1}, "cluster.config")
    cfg = topic_config({}, broker, "topics.0.config")
    assert cfg["retention.ms"] == 60000
    assert cfg["segment.ms"] == 604800000
    assert cfg.s("retention.ms") == 60.0


def test_topic_errors_name_topic_path() -> None:
    with pytest.raises(ConfigError) as err:
        topic_config({"min.insync.replicas": 0}, {}, "topics.0.config")
    assert err.value.path == "topics.0.config.min.insync.replicas"


# ---- docs/configuration.md cannot drift

DOC = Path(__file__).resolve().parents[1] / "docs" / "configuration.md"


def _doc_sections() -> dict[str, str]:
    parts = re.split(r"^## (\w+)\s*$", DOC.read_text(), flags=re.M)
    return {parts[i].lower(): parts[i + 1] for i in range(1, len(parts), 2)}


def _doc_default(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, list):
        return ",".join(value)
    return '""' if value == "" else str(value)


@pytest.mark.parametrize("scope", SCOPES)
def test_doc_lists_exactly_the_honoured_properties(scope: str) -> None:
    section = _doc_sections()[scope]
    rows = re.findall(r"^\| `([^`]+)` \| `([^`]*)` \|", section, flags=re.M)
    assert [name for name, _ in rows] == sorted(properties(scope))
    assert {n: d for n, d in rows} == {
        n: _doc_default(k.default) for n, k in properties(scope).items()
    }


#: A row of a scope's table: property, default, unit, what the model does, the test showing it.
_ROW = re.compile(r"^\| `([^`]+)` \| `[^`]*` \| [^|]*\| (.*) \| `([^`]+)` \|$", flags=re.M)


@pytest.mark.parametrize("scope", SCOPES)
def test_doc_says_what_the_code_says_the_model_does(scope: str) -> None:
    rows = _ROW.findall(_doc_sections()[scope])
    assert {name: doc for name, doc, _ in rows} == {n: k.doc for n, k in properties(scope).items()}


def _test_functions(path: Path) -> set[str]:
    """Names of the test functions ``path`` defines."""
    return set(re.findall(r"^(?:async )?def (test_\w+)\(", path.read_text(), flags=re.M))


@pytest.mark.parametrize("scope", SCOPES)
def test_doc_names_an_existing_test_for_each_honoured_property(scope: str) -> None:
    """Each honoured property's row ends with ``tests/<file>.py::<test>``: a test that shows
    its effect, defined in that file."""
    rows = _ROW.findall(_doc_sections()[scope])
    assert sorted(name for name, _, _ in rows) == sorted(properties(scope))
    root = DOC.parents[1]
    for name, _, test in rows:
        file, _, function = test.partition("::")
        assert file.startswith("tests/") and (root / file).is_file(), f"{name}: {test}"
        assert function in _test_functions(root / file), f"{name}: {test}"


@pytest.mark.parametrize("scope", SCOPES)
def test_doc_lists_the_no_effect_names(scope: str) -> None:
    section = _doc_sections()[scope]
    listed = re.search(r"^Accepted without effect.*?\n\n(.*)$", section, flags=re.M | re.S)
    assert listed is not None
    names_in_doc = set(re.findall(r"`([^`]+)`", listed.group(1).strip().splitlines()[0]))
    assert names_in_doc == set(accepted_no_effect(scope))


@pytest.mark.parametrize(
    ("scope", "config"),
    [
        ("producer", {"acks": -1, "linger.ms": "5", "partitioner.class": None}),
        ("consumer", {"partition.assignment.strategy": _RANGE, "group.protocol": "Consumer"}),
        ("topic", {"cleanup.policy": "compact,delete", "retention.ms": "-1"}),
        ("broker", {"log.retention.hours": "24", "unclean.leader.election.enable": "false"}),
    ],
)
def test_check_is_idempotent(scope: str, config: dict) -> None:
    once = check(scope, config, "cfg")
    assert check(scope, once, "cfg") == once


def test_num_replica_fetchers_zero_is_refused() -> None:
    """Kafka takes 0, then AbstractFetcherManager.getFetcherId divides by it: refused here."""
    with pytest.raises(ConfigError) as err:
        broker_config({"num.replica.fetchers": 0}, "cluster.config")
    assert err.value.path == "cluster.config.num.replica.fetchers"
    assert broker_config({"num.replica.fetchers": 8}, "cluster.config")["num.replica.fetchers"] == 8
