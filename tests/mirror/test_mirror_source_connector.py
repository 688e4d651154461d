"""MirrorSourceConnector: which topics a flow replicates (cases of Kafka 3.9's
MirrorSourceConnectorTest), its task assignment, and the remote topics mirrors create."""

from __future__ import annotations

from sim.mirror.mirror_source_connector import (
    MirrorFlow,
    MirrorSourceConnector,
    remote_topics,
)
from sim.mirror.replication_policy import DefaultReplicationPolicy
from sim.mirror.topic_filter import DefaultTopicFilter

EVERYTHING = DefaultTopicFilter([".*"], [])
NOTHING = DefaultTopicFilter([], [])


def connector(source="source", target="target", topic_filter=EVERYTHING, separator="."):
    return MirrorSourceConnector(source, target, DefaultReplicationPolicy(separator), topic_filter)


def test_no_cycles():
    """MirrorSourceConnectorTest.testNoCycles."""
    c = connector()
    assert not c.should_replicate_topic("target.topic1")
    assert not c.should_replicate_topic("target.source.topic1")
    assert not c.should_replicate_topic("source.target.topic1")
    assert not c.should_replicate_topic("target.source.target.topic1")
    assert not c.should_replicate_topic("source.target.source.topic1")
    assert c.should_replicate_topic("topic1")
    assert c.should_replicate_topic("source.topic1")


def test_replicates_heartbeats_despite_filter():
    """MirrorSourceConnectorTest.testReplicatesHeartbeatsDespiteFilter."""
    c = connector(topic_filter=NOTHING)
    assert c.should_replicate_topic("heartbeats")
    assert c.should_replicate_topic("us-west.heartbeats")
    c = connector(topic_filter=NOTHING, separator="_")
    assert c.should_replicate_topic("heartbeats")
    assert not c.should_replicate_topic("us-west.heartbeats")


def test_tasks_get_partitions_round_robin():
    """The example of MirrorSourceConnector.taskConfigs: 3 tasks, topics of 8, 2, 2 partitions."""
    partitions = [("t0", p) for p in range(8)] + [("t1", 0), ("t1", 1), ("t2", 0), ("t2", 1)]
    tasks = MirrorSourceConnector.task_partitions(partitions, 3)
    assert tasks == [
        [("t0", 0), ("t0", 3), ("t0", 6), ("t1", 1)],
        [("t0", 1), ("t0", 4), ("t0", 7), ("t2", 0)],
        [("t0", 2), ("t0", 5), ("t1", 0), ("t2", 1)],
    ]
    assert MirrorSourceConnector.task_partitions([("t0", 0), ("t0", 1)], 4) == [
        [("t0", 0)],
        [("t0", 1)],
    ]


def test_active_active_creates_one_remote_topic_each_way():
    """east ⇄ west: east.orders in west and west.orders in east, never west.east.orders."""
    flows = [
        MirrorFlow(0, connector("east", "west"), 2),
        MirrorFlow(1, connector("west", "east"), 3),
    ]
    created = remote_topics(flows, {"east": {"orders": 6}, "west": {"orders": 2}})
    assert [(t.mirror, t.cluster, t.name, t.partitions, t.replication_factor) for t in created] == [
        (0, "west", "east.orders", 6, 2),
        (1, "east", "west.orders", 2, 3),
    ]


def test_a_chain_replicates_remote_topics_onwards():
    flows = [
        MirrorFlow(0, connector("b", "c"), 1),
        MirrorFlow(1, connector("a", "b"), 1),
    ]
    created = remote_topics(flows, {"a": {"orders": 1}, "b": {}, "c": {}})
    assert [(t.cluster, t.name, t.source_topic) for t in created] == [
        ("b", "a.orders", "orders"),
        ("c", "b.a.orders", "a.orders"),
    ]


def test_a_declared_remote_topic_is_mirrored_into_not_created():
    flows = [MirrorFlow(0, connector("east", "west"), 2)]
    found = remote_topics(flows, {"east": {"orders": 3}, "west": {"east.orders": 4}})
    assert [(t.name, t.partitions, t.replication_factor, t.created) for t in found] == [
        ("east.orders", 4, -1, False)
    ]


def test_remote_topics_copy_the_source_config_but_the_excluded_properties():
    """DefaultConfigPropertyFilter's default exclusions (DefaultConfigPropertyFilterTest)."""
    from sim.mirror.mirror_source_connector import target_config

    source = {"retention.ms": 1000, "min.insync.replicas": 2, "cleanup.policy": ["compact"]}
    assert target_config(source) == {"retention.ms": 1000, "cleanup.policy": ["compact"]}
    assert target_config({"unclean.leader.election.enable": True}) == {}
