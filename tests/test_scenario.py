"""Scenario validation: bad input gives one line naming the field; Kafka's accepted cases pass."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import textwrap
from collections.abc import Callable
from pathlib import Path

import pytest

import sim
from sim.errors import NotSimulatedError, ScenarioError
from sim.scenario import Capabilities, Scenario, load_scenario, require_simulated, with_values

Mutation = Callable[[dict], None]


def _set(path: str, value: object) -> Mutation:
    """A mutation setting the dotted ``path`` of a scenario dict to ``value``."""

    def apply(d: dict) -> None:
        *parents, last = path.split(".")
        node = d
        for part in parents:
            node = node[int(part)] if isinstance(node, list) else node[part]
        if isinstance(node, list):
            node[int(last)] = value
        else:
            node[last] = value

    return apply


def _config(where: str, name: str, value: object) -> Mutation:
    """Set one Kafka property (names contain dots, so not through _set)."""

    def apply(d: dict) -> None:
        node = d
        for part in where.split("."):
            node = node[int(part)] if isinstance(node, list) else node[part]
        node.setdefault("config", {})[name] = value

    return apply


def _fault(**fault: object) -> Mutation:
    return lambda d: d["faults"].append(fault)


# (case id, mutation, dotted path the message must start with, fragment it must contain)
BAD_INPUTS: list[tuple[str, Mutation, str, str]] = [
    ("duration-string", _set("duration_s", "long"), "duration_s", "number"),
    ("duration-negative", _set("duration_s", -5), "duration_s", "greater than 0"),
    ("seed-negative", _set("seed", -1), "seed", "greater than or equal to 0"),
    ("unknown-top-field", _set("topix", []), "topix", "did you mean 'topics'"),
    ("brokers-zero", _set("cluster.brokers", 0), "cluster.brokers", "greater than or equal to 1"),
    ("brokers-float", _set("cluster.brokers", 2.5), "cluster.brokers", "integer"),
    (
        "coordination-enum",
        _set("cluster.coordination", "etcd"),
        "cluster.coordination",
        "zookeeper",
    ),
    ("hardware-typo", _set("cluster.hardware.rtt", 1), "cluster.hardware.rtt", "rtt_ms"),
    (
        "per-broker-missing",
        _set("cluster.hardware.per_broker", {"7": {"disk_write_mb_s": 20}}),
        "cluster.hardware.per_broker.7",
        "0..2",
    ),
    (
        "rf-above-brokers",
        _set("topics.0.replication_factor", 4),
        "topics.0.replication_factor",
        "3 brokers",
    ),
    (
        "partitions-zero",
        _set("topics.0.partitions", 0),
        "topics.0.partitions",
        "greater than or equal to 1",
    ),
    ("topic-name-illegal", _set("topics.0.name", "or ders"), "topics.0.name", "a-zA-Z0-9._-"),
    (
        "producer-missing-topic",
        _set("producers.0.topic", "order"),
        "producers.0.topic",
        "did you mean 'orders'",
    ),
    (
        "rate-negative",
        _set("producers.0.rate_msgs_s", -10),
        "producers.0.rate_msgs_s",
        "greater than 0",
    ),
    (
        "rate-nan",
        _set("producers.0.rate_msgs_s", float("nan")),
        "producers.0.rate_msgs_s",
        "finite",
    ),
    ("keys-kind", _set("producers.0.keys", {"kind": "hashed"}), "producers.0.keys.kind", "uniform"),
    (
        "format-json-no-sample",
        _set("producers.0.format", {"kind": "json"}),
        "producers.0.format.sample",
        "sample",
    ),
    (
        "format-avro-bad-sample",
        _set(
            "producers.0.format",
            {
                "kind": "avro",
                "schema": {
                    "type": "record",
                    "name": "Order",
                    "fields": [{"name": "id", "type": "long"}],
                },
                "sample": {"id": "not-a-long"},
            },
        ),
        "producers.0.format.sample",
        "Avro schema",
    ),
    ("acks-enum", _config("producers.0", "acks", "2"), "producers.0.config.acks", "acks"),
    (
        "linger-typo",
        _config("producers.0", "lingr.ms", 5),
        "producers.0.config.lingr.ms",
        "linger.ms",
    ),
    (
        "linger-type",
        _config("producers.0", "linger.ms", "soon"),
        "producers.0.config.linger.ms",
        "soon",
    ),
    (
        "batch-negative",
        _config("producers.0", "batch.size", -1),
        "producers.0.config.batch.size",
        "-1",
    ),
    (
        "broker-prop-in-producer",
        _config("producers.0", "replica.lag.time.max.ms", 100),
        "producers.0.config.replica.lag.time.max.ms",
        "broker",
    ),
    (
        "explicit-idempotence-acks1",
        lambda d: d["producers"][0]["config"].update({"enable.idempotence": True, "acks": "1"}),
        "producers.0.config",
        "acks",
    ),
    (
        "explicit-delivery-timeout-too-small",
        lambda d: d["producers"][0]["config"].update({"delivery.timeout.ms": 1000}),
        "producers.0.config",
        "delivery.timeout.ms",
    ),
    (
        "topic-config-unknown",
        _config("topics.0", "retention.msec", 1),
        "topics.0.config.retention.msec",
        "retention.ms",
    ),
    (
        "broker-config-bad-bool",
        _config("cluster", "unclean.leader.election.enable", "maybe"),
        "cluster.config.unclean.leader.election.enable",
        "maybe",
    ),
    (
        "group-missing-topic",
        _set("consumer_groups.0.topics", ["orders", "payments"]),
        "consumer_groups.0.topics.1",
        "payments",
    ),
    (
        "group-members-zero",
        _set("consumer_groups.0.members", 0),
        "consumer_groups.0.members",
        "greater than or equal to 1",
    ),
    (
        "offset-reset-enum",
        _config("consumer_groups.0", "auto.offset.reset", "oldest"),
        "consumer_groups.0.config.auto.offset.reset",
        "earliest",
    ),
    (
        "assignor-unknown",
        _config("consumer_groups.0", "partition.assignment.strategy", "fair"),
        "consumer_groups.0.config.partition.assignment.strategy",
        "fair",
    ),
    ("fault-after-end", _set("faults.0.at_s", 500), "faults.0.at_s", "end of the run"),
    ("fault-missing-broker", _set("faults.0.broker", 9), "faults.0.broker", "no broker 9"),
    ("fault-bad-node-name", _set("faults.0.broker", "broker-x"), "faults.0.broker", "not a broker"),
    (
        "fault-leader-bad-partition",
        _set("faults.0.broker", "leader:orders-6"),
        "faults.0.broker",
        "0..5",
    ),
    (
        "fault-kind-unknown",
        _fault(kind="crash_brokers", at_s=1, broker=0),
        "faults.1",
        "did you mean 'crash_broker'",
    ),
    (
        "fault-missing-at",
        _fault(kind="pause", node="broker-0", duration_s=1),
        "faults.1.at_s",
        "required",
    ),
    (
        "pause-unknown-node",
        _fault(kind="pause", at_s=1, node="app-7", duration_s=1),
        "faults.1.node",
        "unknown node",
    ),
    (
        "partition-both-forms",
        _fault(kind="network_partition", at_s=1, isolate=0, links=[[0, 1]]),
        "faults.1.isolate",
        "either",
    ),
    (
        "partition-bad-class",
        _fault(kind="network_partition", at_s=1, isolate=0, **{"from": ["disks"]}),
        "faults.1.from.0",
        "brokers",
    ),
    (
        "drop-probability",
        _fault(kind="drop_messages", at_s=1, between=[0, 1], probability=1.5),
        "faults.1.probability",
        "less than or equal to 1",
    ),
    (
        "consumer-fault-group",
        _fault(kind="crash_consumer", at_s=1, group="billling"),
        "faults.1.group",
        "did you mean 'billing'",
    ),
    (
        "rolling-order-unknown-broker",
        _fault(kind="rolling_restart", at_s=1, order=[0, 5]),
        "faults.1.order.1",
        "no broker 5",
    ),
    (
        "rolling-order-twice",
        _fault(kind="rolling_restart", at_s=1, order=[2, 0, 2]),
        "faults.1.order.2",
        "already in the order",
    ),
    (
        "rolling-mode",
        _fault(kind="rolling_restart", at_s=1, mode="graceful"),
        "faults.1.mode",
        "'controlled' or 'hard'",
    ),
    (
        "rolling-down-typo",
        _fault(kind="rolling_restart", at_s=1, down=3),
        "faults.1.down",
        "did you mean 'down_s'",
    ),
    (
        "duplicate-names",
        lambda d: d["producers"].append(dict(d["producers"][0])),
        "producers.1.name",
        "unique",
    ),
    ("cluster-and-clusters", _set("clusters", [{"name": "east"}]), "clusters", "not both"),
]


@pytest.mark.parametrize(
    ("mutate", "path", "fragment"), [c[1:] for c in BAD_INPUTS], ids=[c[0] for c in BAD_INPUTS]
)
def test_bad_input_names_the_field_in_one_line(default_dict, mutate, path, fragment):
    mutate(default_dict)
    with pytest.raises(ValueError) as caught:
        Scenario.from_dict(default_dict)
    message = str(caught.value)
    assert isinstance(caught.value, ScenarioError)
    assert "\n" not in message
    assert message.startswith(f"{path}:") or message.startswith(f"{path}."), message
    assert fragment.lower() in message.lower(), message


def test_bad_input_table_is_large_and_distinct():
    assert len(BAD_INPUTS) >= 25
    assert len({case[0] for case in BAD_INPUTS}) == len(BAD_INPUTS)


def test_default_scenario_is_valid_and_normalised(default_dict):
    s = Scenario.from_dict(default_dict)
    assert s.cluster.brokers == 3
    assert s.topic("orders").replication_factor == 3
    assert s.producers[0].config["acks"] == "all"
    assert s.faults[0].kind == "crash_broker"
    assert s.warnings() == []


def test_acks_one_without_idempotence_is_accepted_with_a_warning(default_dict):
    """Kafka turns idempotence off quietly when it was not set explicitly (ProducerConfig)."""
    default_dict["producers"][0]["config"]["acks"] = 1
    s = Scenario.from_dict(default_dict)
    assert s.producers[0].config["acks"] == "1"
    assert any("idempotence" in w for w in s.warnings())


def test_min_insync_above_rf_is_accepted_with_a_warning(default_dict):
    """Kafka >= 3.7 accepts it and uses min(min.insync.replicas, RF) (KAFKA-15583)."""
    default_dict["topics"][0]["config"]["min.insync.replicas"] = 5
    s = Scenario.from_dict(default_dict)
    (warning,) = s.warnings()
    assert warning.startswith("topics.0.config.min.insync.replicas")
    assert "min(5, 3) = 3" in warning


def test_broker_min_insync_falls_back_for_the_warning(default_dict):
    """The topic inherits the broker's min.insync.replicas through Kafka's synonym."""
    del default_dict["topics"][0]["config"]["min.insync.replicas"]
    default_dict["cluster"]["config"]["min.insync.replicas"] = 4
    assert "min(4, 3) = 3" in Scenario.from_dict(default_dict).warnings()[0]


def test_minimal_scenario_takes_defaults():
    s = Scenario.from_dict({"topics": [{"name": "t"}], "producers": [{"topic": "t"}]})
    assert s.cluster.brokers == 3
    assert s.producers[0].name == "producer"
    assert s.duration_s == 60.0


def test_a_topic_without_counts_takes_the_brokers_defaults():
    """Kafka creates a topic given without them with num.partitions and
    default.replication.factor (1 and 1 by default); a given count wins."""
    plain = Scenario.from_dict({"topics": [{"name": "t"}]})
    assert (plain.topics[0].partitions, plain.topics[0].replication_factor) == (1, 1)
    cluster = {"brokers": 3, "config": {"num.partitions": 12, "default.replication.factor": 3}}
    s = Scenario.from_dict(
        {"cluster": cluster, "topics": [{"name": "t"}, {"name": "u", "partitions": 2}]}
    )
    assert [(t.partitions, t.replication_factor) for t in s.topics] == [(12, 3), (2, 3)]
    assert Scenario.from_dict(s.to_dict()) == s


def test_a_bad_broker_property_is_named_by_its_path_when_topics_take_its_defaults():
    with pytest.raises(ScenarioError) as err:
        Scenario.from_dict(
            {"cluster": {"config": {"num.partitions": "x"}}, "topics": [{"name": "t"}]}
        )
    assert err.value.path == "cluster.config.num.partitions"


def test_a_broker_cross_field_rule_is_named_by_its_path_when_topics_give_their_sizes():
    """KafkaConfig.validateValues' rules (and the model's refusal of num.replica.fetchers 0)
    are checked with the scenario, not first when the world is built (named without a path)."""
    topic = {"name": "t", "partitions": 3, "replication_factor": 3}
    for config, name in (
        ({"num.replica.fetchers": 0}, "num.replica.fetchers"),
        ({"replica.lag.time.max.ms": 100}, "replica.lag.time.max.ms"),
    ):
        with pytest.raises(ScenarioError) as err:
            Scenario.from_dict({"cluster": {"brokers": 3, "config": config}, "topics": [topic]})
        assert err.value.path == f"cluster.config.{name}"


def test_a_default_replication_factor_above_the_brokers_says_where_it_came_from():
    cluster = {"brokers": 2, "config": {"default.replication.factor": 3}}
    with pytest.raises(ScenarioError) as err:
        Scenario.from_dict({"cluster": cluster, "topics": [{"name": "t"}]})
    assert err.value.path == "topics.0.replication_factor"
    assert "default.replication.factor" in str(err.value)


def test_fault_targets_in_every_form(default_dict):
    default_dict["faults"] = [
        {"kind": "crash_broker", "at_s": 1, "broker": 2},
        {"kind": "power_loss", "at_s": 2, "broker": "broker-1"},
        {"kind": "controlled_shutdown", "at_s": 3, "broker": "controller"},
        {"kind": "rolling_restart", "at_s": 3, "mode": "hard", "order": [2, 0]},
        {"kind": "pause", "at_s": 4, "node": "billing-2", "duration_s": 3},
        {"kind": "zookeeper_expire", "at_s": 5, "node": "leader:orders-5"},
        {
            "kind": "network_partition",
            "at_s": 6,
            "isolate": "leader:orders-0",
            "from": ["brokers", "zookeeper"],
        },
        {"kind": "network_partition", "at_s": 7, "links": [["broker-0", "app-0"]], "one_way": True},
        {"kind": "slow_disk", "at_s": 8, "broker": 0, "factor": 10, "duration_s": 5},
        {
            "kind": "slow_network",
            "at_s": 9,
            "between": ["broker-0", "broker-1"],
            "extra_delay_ms": 50,
        },
        {"kind": "drop_messages", "at_s": 10, "between": ["app-0", "broker-2"], "probability": 0.1},
        {
            "kind": "crash_consumer",
            "at_s": 11,
            "group": "billing",
            "member": 2,
            "restart_after_s": 5,
        },
        {"kind": "add_consumer", "at_s": 12, "group": "billing", "count": 2},
        {"kind": "remove_consumer", "at_s": 13, "group": "billing"},
        {"kind": "add_producer", "at_s": 14, "producer": {"name": "late", "topic": "orders"}},
    ]
    s = Scenario.from_dict(default_dict)
    assert [f.kind for f in s.faults][-1] == "add_producer"
    assert s.faults[6].from_ == ["brokers", "zookeeper"]
    assert (s.faults[3].order, s.faults[3].down_s, s.faults[3].max_wait_s) == ([2, 0], 5.0, 120.0)
    assert Scenario.from_dict(s.to_dict()) == s


def test_add_producer_config_is_checked(default_dict):
    default_dict["faults"] = [
        {
            "kind": "add_producer",
            "at_s": 1,
            "producer": {"name": "late", "topic": "orders", "config": {"ack": 1}},
        }
    ]
    with pytest.raises(ScenarioError, match=r"^faults\.0\.producer\.config\.ack: .*'acks'"):
        Scenario.from_dict(default_dict)


def test_multi_cluster_scenario_and_prefixed_targets():
    s = Scenario.from_dict(
        {
            "clusters": [{"name": "east", "brokers": 3}, {"name": "west", "brokers": 2}],
            "topics": [
                {"name": "orders", "cluster": "east", "replication_factor": 3},
                {"name": "east.orders", "cluster": "west", "replication_factor": 2},
            ],
            "producers": [{"name": "app", "topic": "orders", "cluster": "east"}],
            "mirrors": [{"source": "east", "target": "west", "topics": "orders.*"}],
            "faults": [
                {"kind": "crash_broker", "at_s": 1, "broker": "west/broker-1"},
                {"kind": "crash_broker", "at_s": 2, "broker": "leader:east/orders-0"},
            ],
        }
    )
    assert [c.name for c in s.all_clusters] == ["east", "west"]
    bad = s.to_dict()
    bad["faults"][0]["broker"] = "west/broker-2"
    with pytest.raises(
        ScenarioError, match=r"^faults\.0\.broker: no broker 2; broker ids are 0\.\.1"
    ):
        Scenario.from_dict(bad)
    bad["faults"][0]["broker"] = 1
    with pytest.raises(ScenarioError, match=r"^faults\.0\.broker: .*several clusters"):
        Scenario.from_dict(bad)


def _two_regions(**changes):
    data = {
        "clusters": [{"name": "east", "brokers": 3}, {"name": "west", "brokers": 2}],
        "topics": [
            {"name": "orders", "cluster": "east", "partitions": 4, "replication_factor": 3,
             "config": {"retention.ms": 1000, "min.insync.replicas": 2}},
        ],
        "producers": [{"name": "app", "topic": "orders", "cluster": "east"}],
        "consumer_groups": [{"group_id": "dr", "topics": ["east.orders"], "cluster": "west"}],
        "mirrors": [{"source": "east", "target": "west", "config": {"replication.factor": 2}}],
    }  # fmt: skip
    data.update(changes)
    return data


def test_a_group_subscribes_to_the_remote_topic_a_mirror_creates():
    s = Scenario.from_dict(_two_regions())
    [remote] = s.remote_topics()
    assert (remote.cluster, remote.name, remote.partitions, remote.created) == (
        "west",
        "east.orders",
        4,
        True,
    )
    west = s.for_cluster("west")
    assert west.clusters is None and west.cluster.name == "west" and west.cluster.brokers == 2
    assert [(t.name, t.partitions, t.replication_factor, t.config) for t in west.topics] == [
        ("east.orders", 4, 2, {"retention.ms": 1000})  # min.insync.replicas is not copied
    ]
    assert [g.group_id for g in west.consumer_groups] == ["dr"] and west.producers == []
    east = s.for_cluster("east")
    assert [t.name for t in east.topics] == ["orders"] and east.consumer_groups == []


def test_without_the_mirror_the_remote_topic_does_not_exist():
    with pytest.raises(ScenarioError, match=r"^consumer_groups\.0\.topics\.0: unknown topic"):
        Scenario.from_dict(_two_regions(mirrors=[]))


@pytest.mark.parametrize("rf", [0, 3, -2])
def test_remote_topic_replicas_must_fit_the_target(rf):
    mirrors = [{"source": "east", "target": "west", "config": {"replication.factor": rf}}]
    with pytest.raises(
        ScenarioError, match=r"^mirrors\.0\.config\.replication\.factor: .* of 2 brokers"
    ):
        Scenario.from_dict(_two_regions(mirrors=mirrors))


def test_a_declared_remote_topic_needs_the_source_partitions():
    data = _two_regions()
    data["topics"].append({"name": "east.orders", "cluster": "west", "partitions": 2})
    with pytest.raises(ScenarioError, match=r"^topics\.1\.partitions: 'east\.orders' has fewer"):
        Scenario.from_dict(data)


def test_several_clusters_refuse_faults_across_clusters_for_now():
    faults = [{"kind": "slow_network", "at_s": 1, "between": ["east/broker-0", "west/broker-0"]}]
    s = Scenario.from_dict(_two_regions(faults=faults))
    with pytest.raises(
        NotSimulatedError, match=r"^faults\.0\.kind: 'slow_network' in a scenario of several"
    ):
        require_simulated(
            s, Capabilities(multi_cluster=True, fault_kinds=frozenset({"slow_network"}))
        )


def test_a_fault_in_one_cluster_goes_to_that_clusters_part():
    faults = [
        {"kind": "crash_broker", "at_s": 1, "broker": "leader:west/east.orders-3"},
        {"kind": "pause", "at_s": 2, "node": "east/zookeeper", "duration_s": 1},
        {"kind": "pause", "at_s": 3, "node": "app-0", "duration_s": 1},
        {"kind": "crash_consumer", "at_s": 4, "group": "dr"},
        {"kind": "wan_partition", "at_s": 5},
    ]
    s = Scenario.from_dict(_two_regions(faults=faults))
    assert [(f.kind, f.at_s) for f in s.for_cluster("west").faults] == [
        ("crash_broker", 1), ("crash_consumer", 4),
    ]  # fmt: skip
    assert s.for_cluster("west").faults[0].broker == "leader:east.orders-3"
    east = s.for_cluster("east").faults
    assert [(f.kind, f.node) for f in east] == [("pause", "zookeeper"), ("pause", "app-0")]


@pytest.mark.parametrize(
    ("fault", "path", "problem"),
    [
        ({"between": ["east", "north"]}, "faults.0.between.1", "unknown cluster 'north'"),
        ({"between": ["east", "east"]}, "faults.0.between.1", "must differ"),
    ],
)
def test_a_wan_partition_names_two_clusters(fault, path, problem):
    faults = [{"kind": "wan_partition", "at_s": 1, **fault}]
    with pytest.raises(ScenarioError, match=rf"^{re.escape(path)}: {problem}"):
        Scenario.from_dict(_two_regions(faults=faults))


def test_a_wan_partition_needs_several_clusters(default_dict):
    default_dict["faults"] = [{"kind": "wan_partition", "at_s": 1}]
    with pytest.raises(ScenarioError, match=r"^faults\.0\.kind: a wan_partition needs several"):
        Scenario.from_dict(default_dict)


def test_avro_and_json_formats_validate(default_dict):
    schema = {"type": "record", "name": "Order", "fields": [{"name": "id", "type": "long"}]}
    default_dict["producers"][0]["format"] = {"kind": "avro", "schema": schema, "sample": {"id": 7}}
    s = Scenario.from_dict(default_dict)
    assert s.to_dict()["producers"][0]["format"]["schema"] == schema
    default_dict["producers"][0]["format"] = {
        "kind": "avro",
        "schema": {"type": "nope"},
        "sample": {},
    }
    with pytest.raises(
        ScenarioError, match=r"^producers\.0\.format\.schema: not a valid Avro schema"
    ):
        Scenario.from_dict(default_dict)


# --------------------------------------------------------------------------- not yet simulated


def test_require_simulated_names_the_unsimulated_fault(default_dict):
    s = Scenario.from_dict(default_dict)
    with pytest.raises(
        NotSimulatedError, match=r"^faults\.0\.kind: fault kind 'crash_broker' is not simulated"
    ):
        require_simulated(s, Capabilities())
    require_simulated(s, Capabilities(fault_kinds=frozenset({"crash_broker"})))


def test_require_simulated_names_kraft_and_registry(default_dict):
    default_dict["cluster"]["coordination"] = "kraft"
    default_dict["faults"] = []
    with pytest.raises(NotSimulatedError, match=r"^cluster\.coordination: 'kraft'"):
        require_simulated(Scenario.from_dict(default_dict), Capabilities())
    default_dict["cluster"]["coordination"] = "zookeeper"
    default_dict["schema_registry"] = {"compatibility": "FULL"}
    with pytest.raises(NotSimulatedError, match=r"^schema_registry:"):
        require_simulated(Scenario.from_dict(default_dict), Capabilities())


def test_require_simulated_names_the_consumer_group_protocol(default_dict):
    default_dict["faults"] = []
    default_dict["consumer_groups"][0]["config"]["group.protocol"] = "CONSUMER"
    with pytest.raises(
        NotSimulatedError,
        match=r"^consumer_groups\.0\.config\.group\.protocol: 'consumer' \(KIP-848\)",
    ):
        require_simulated(Scenario.from_dict(default_dict), Capabilities())


# --------------------------------------------------------------------------- loading scripts


def test_load_scenario_from_script_json_and_build(tmp_path, default_dict):
    assert load_scenario("scenarios/default.py") == Scenario.from_dict(default_dict)
    (tmp_path / "s.json").write_text(json.dumps(default_dict))
    assert load_scenario(tmp_path / "s.json").name == "default"
    (tmp_path / "b.py").write_text("def build():\n    return {'topics': [{'name': 't'}]}\n")
    assert load_scenario(tmp_path / "b.py").topics[0].name == "t"


@pytest.mark.parametrize("script", sorted(Path("scenarios").glob("*.py")), ids=lambda p: p.stem)
def test_every_scenario_script_loads_is_named_after_its_file_and_is_simulated(script):
    from sim.world import CAPABILITIES

    scenario = load_scenario(script)
    assert scenario.name == script.stem
    require_simulated(scenario, CAPABILITIES)  # nothing in it that the engine would refuse


def test_load_scenario_errors_are_one_line(tmp_path):
    (tmp_path / "empty.py").write_text("x = 1\n")
    with pytest.raises(ScenarioError, match="neither SCENARIO nor build"):
        load_scenario(tmp_path / "empty.py")
    (tmp_path / "boom.py").write_text("x = 1\nSCENARIO = {'seed': 1 / 0}\n")
    with pytest.raises(ScenarioError, match=r"boom\.py:2: ZeroDivisionError"):
        load_scenario(tmp_path / "boom.py")
    with pytest.raises(ScenarioError, match="no such file"):
        load_scenario(tmp_path / "missing.py")


def _kafkasim(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "sim.cli", *args],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=cwd,
    )


def test_cli_validate_bad_file_prints_one_line_and_exits_2(tmp_path):
    bad = tmp_path / "bad.py"
    bad.write_text(
        textwrap.dedent(
            """
            SCENARIO = {"topics": [{"name": "orders"}],
                        "producers": [{"topic": "orders", "config": {"acks": "most"}}]}
            """
        )
    )
    done = _kafkasim("validate", str(bad))
    assert done.returncode == 2
    assert "Traceback" not in done.stderr
    (line,) = done.stderr.strip().splitlines()
    assert line.startswith("error: producers.0.config.acks:")


def test_cli_validate_good_file_prints_normalised_json(tmp_path):
    done = _kafkasim("validate", "scenarios/default.py")
    assert done.returncode == 0, done.stderr
    assert Scenario.from_dict(json.loads(done.stdout)) == sim.load_scenario("scenarios/default.py")


# ---------------------------------------------------------------- dotted paths (--set)


def test_with_values_sets_fields_items_and_kafka_properties_by_their_paths(default_dict):
    changed = with_values(
        default_dict,
        {
            "producers.0.config.acks": "1",
            "producers.0.config.linger.ms": 20,  # a property's dots stay in its name
            "cluster.brokers": 5,
            "topics.0.partitions": 12,
        },
    )
    s = Scenario.from_dict(changed)
    assert s.producers[0].config["acks"] == "1"
    assert s.producers[0].config["linger.ms"] == 20
    assert (s.cluster.brokers, s.topics[0].partitions) == (5, 12)
    assert default_dict["topics"][0]["partitions"] == 6  # a copy: the input is unchanged


def test_with_values_copies_the_values_it_sets(default_dict):
    """A later path into a value set by an earlier one changes the result, not the caller's
    value (two scenarios built from one values dict once shared a config)."""
    config = {"auto.offset.reset": "earliest"}
    values = {
        "consumer_groups.0.config": config,
        "consumer_groups.0.config.partition.assignment.strategy": "cooperative-sticky",
    }
    changed = with_values(default_dict, values)
    assert changed["consumer_groups"][0]["config"]["partition.assignment.strategy"] == (
        "cooperative-sticky"
    )
    assert config == {"auto.offset.reset": "earliest"}


@pytest.mark.parametrize(
    ("path", "error_path", "fragment"),
    [
        ("producer.0.config.acks", "producer", "did you mean 'producers'?"),
        ("producers.4.config.acks", "producers.4", "give 0 to 0"),
        ("producers.0.rate_msg_s", "producers.0.rate_msg_s", "did you mean 'rate_msgs_s'?"),
    ],
)
def test_with_values_names_a_path_that_leads_nowhere(default_dict, path, error_path, fragment):
    with pytest.raises(ScenarioError) as err:
        with_values(default_dict, {path: 1})
    assert err.value.path == error_path
    assert fragment in str(err.value)


def test_the_zombie_leader_loses_acknowledged_writes_with_acks_1_only():
    """scenarios/zombie_leader.py's story on a short clock (session timeout 3 s, the cut from
    2 s to 8 s): acks=1 loses what the isolated leader acknowledged; acks=all loses nothing."""
    short = {
        "duration_s": 14.0,
        "cluster.config": {
            "zookeeper.session.timeout.ms": 3000,
            "group.initial.rebalance.delay.ms": 0,
        },
        "producers.0.rate_msgs_s": 2000,
        "producers.0.config.request.timeout.ms": 2000,
        "faults.0.at_s": 2.0,
        "faults.0.heal_after_s": 6.0,
    }
    data = load_scenario("scenarios/zombie_leader.py")
    summaries = {}
    for acks in ("1", "all"):
        scenario = Scenario.from_dict(with_values(data, {**short, "producers.0.config.acks": acks}))
        summaries[acks] = sim.run(scenario).summary()
    assert summaries["1"]["lost_acked_messages"] > 1000
    assert summaries["all"]["lost_acked_messages"] == 0
    # and acks=all goes on: once the controller shrinks the ISRs the cut-off broker was in
    # (its session expired), the HW no longer waits for it; by the end all but the last
    # moments' records are acknowledged (2,000/s for 14 s)
    assert summaries["all"]["acked_messages"] > 0.95 * 2000 * 14


def test_cli_run_set_changes_the_run_and_keeps_its_results_apart(tmp_path):
    script = tmp_path / "tiny.py"
    script.write_text(
        'SCENARIO = {"name": "tiny", "duration_s": 1.0, "topics": [{"name": "t"}], '
        '"producers": [{"topic": "t", "rate_msgs_s": 100}]}\n'
    )
    done = _kafkasim(
        "run", str(script), "--quiet", "--no-plots", "--set", "producers.0.rate_msgs_s=300",
        cwd=tmp_path,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    out = tmp_path / "results" / "tiny+producers.0.rate_msgs_s=300"
    summary = json.loads((out / "summary.json").read_text())["summary"]
    assert 200 < summary["produced_messages"] < 400
    bad = _kafkasim("run", str(script), "--set", "producers.0.config.ack=all", cwd=tmp_path)
    assert bad.returncode == 2 and "Traceback" not in bad.stderr
    (line,) = bad.stderr.strip().splitlines()
    assert line.startswith("error: producers.0.config.ack:") and "did you mean 'acks'" in line


def test_cli_run_no_faults_drops_them_before_set_shortens_the_run(tmp_path):
    """``--no-faults --set duration_s=...`` runs a scenario whose fault would come after the
    shortened end (the faults go first, then the fields are set and checked)."""
    script = tmp_path / "late.py"
    script.write_text(
        'SCENARIO = {"name": "late", "duration_s": 10.0, "topics": [{"name": "t"}], '
        '"producers": [{"topic": "t", "rate_msgs_s": 100}], '
        '"faults": [{"kind": "crash_broker", "at_s": 5, "broker": 0}]}\n'
    )
    done = _kafkasim(
        "run", str(script), "--quiet", "--no-plots", "--no-faults", "--set", "duration_s=1",
        cwd=tmp_path,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
