"""DefaultReplicationPolicy and DefaultTopicFilter, with the cases of Kafka 3.9's
ReplicationPolicyTest and MirrorSourceConnectorTest (connect/mirror*)."""

from __future__ import annotations

import pytest

from sim.mirror.replication_policy import DefaultReplicationPolicy
from sim.mirror.topic_filter import DefaultTopicFilter

POLICY = DefaultReplicationPolicy()


def test_remote_topic_names_carry_the_source_alias():
    assert POLICY.format_remote_topic("east", "orders") == "east.orders"
    assert POLICY.topic_source("west.east.orders") == "west"
    assert POLICY.upstream_topic("west.east.orders") == "east.orders"
    assert POLICY.original_topic("west.east.orders") == "orders"
    assert POLICY.topic_source("orders") is None
    assert POLICY.upstream_topic("orders") is None


def test_trailing_separators_make_no_remote_topic():
    """Java's Pattern.split drops trailing empty strings: "east." has one part."""
    assert POLICY.topic_source("east.") is None
    assert POLICY.topic_source("east..") is None


def test_a_configured_separator():
    policy = DefaultReplicationPolicy("_")
    assert policy.format_remote_topic("east", "orders") == "east_orders"
    assert policy.topic_source("us-west.heartbeats") is None


def test_internal_topic():
    """ReplicationPolicyTest.testInternalTopic."""
    assert POLICY.is_internal_topic("__consumer_offsets")
    assert POLICY.is_internal_topic(".hiddentopic")
    assert POLICY.is_internal_topic("mm2-offsets.CLUSTER.internal")
    assert POLICY.is_internal_topic("mm2-offsets-CLUSTER-internal")
    assert not POLICY.is_internal_topic("mm2-offsets_CLUSTER_internal")


@pytest.mark.parametrize(
    ("include", "exclude", "topic", "expected"),
    [
        ([".*"], [".*[\\-\\.]internal", ".*\\.replica", "__.*"], "orders", True),
        ([".*"], [".*[\\-\\.]internal", ".*\\.replica", "__.*"], "orders.replica", False),
        ([".*"], [".*[\\-\\.]internal", ".*\\.replica", "__.*"], "__consumer_offsets", False),
        (["ord"], [], "orders", False),  # the whole name must match (Matcher.matches)
        (["ord.*", "pay.*"], [], "payments", True),  # a list: joined with |
        ([], [], "orders", False),  # an empty list matches nothing
    ],
)
def test_topic_filter(include, exclude, topic, expected):
    assert DefaultTopicFilter(include, exclude).should_replicate_topic(topic) is expected
