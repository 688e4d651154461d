"""Tests for sim.clients.assignors, ported from Kafka 3.9's assignor tests.

Kafka sources (branch 3.9, clients/src/test/java/org/apache/kafka/clients/consumer/):
RangeAssignorTest, RoundRobinAssignorTest, StickyAssignorTest, CooperativeStickyAssignorTest and
internals/AbstractStickyAssignorTest (whose cases run for both sticky assignors, as here).
Each ported case names its Kafka test method. Rack-aware variants are out of scope: only the
expectations Kafka states for rack-unaware assignment are ported.
"""

from __future__ import annotations

import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sim.clients.assignors import (
    ASSIGNOR_CLASS_NAMES,
    ASSIGNOR_SHORT_NAMES,
    AssignorInputError,
    RebalanceProtocol,
    assign,
    hash_map_order,
    java_string_hash,
    java_string_key,
    partitions_transferring,
    supported_protocols,
)

STICKY_KINDS = ["sticky", "cooperative-sticky"]
GENERATION_ID = 1  # AbstractStickyAssignorTest.generationId


def tps(text: str) -> list[tuple[str, int]]:
    """'t1-0, t2-3' -> [('t1', 0), ('t2', 3)] (Kafka tests' toSortedString notation)."""
    result = []
    for item in filter(None, (s.strip() for s in text.split(","))):
        topic, _, partition = item.rpartition("-")
        result.append((topic, int(partition)))
    return result


class Group:
    """The `subscriptions` map of Kafka's tests: topics, owned partitions, generation per member."""

    def __init__(self) -> None:
        self.topics: dict[str, list[str]] = {}
        self.owned: dict[str, list[tuple[str, int]]] = {}
        self.generations: dict[str, int] = {}
        self.static_ids: dict[str, str] = {}

    def put(self, member: str, topics: list[str], owned=(), generation: int = -1) -> None:
        """subscription(topics) without owned; else buildSubscriptionV2Above(topics, owned, gen)."""
        self.topics[member] = list(topics)
        self.owned[member] = list(owned)
        self.generations[member] = generation

    def remove(self, member: str) -> None:
        for table in (self.topics, self.owned, self.generations, self.static_ids):
            table.pop(member, None)

    def run(self, strategy: str, ppt: dict[str, int]) -> dict[str, list[tuple[str, int]]]:
        return assign(
            strategy, self.topics, ppt, self.owned, self.static_ids or None, self.generations
        )


def is_fully_balanced(assignment) -> bool:
    """AbstractStickyAssignorTest.isFullyBalanced."""
    sizes = [len(v) for v in assignment.values()]
    return max(sizes) - min(sizes) <= 1


def verify_validity_and_balance_eager(group: Group, assignment, ppt) -> None:
    """AbstractStickyAssignorTest.verifyValidityAndBalance."""
    assert set(assignment) == set(group.topics)
    consumers = sorted(assignment)
    for i, consumer in enumerate(consumers):
        mine = assignment[consumer]
        for topic, _ in mine:
            assert topic in group.topics[consumer], (consumer, topic)
        for other in consumers[i + 1 :]:
            theirs = assignment[other]
            assert not set(mine) & set(theirs), (consumer, other)
            if abs(len(mine) - len(theirs)) <= 1:
                continue
            assert not {t for t, _ in mine} & {t for t, _ in theirs}, (consumer, other)


def verify_validity_and_balance(strategy: str, group: Group, assignment, ppt):
    """Kafka's verifyValidityAndBalance; for cooperative-sticky, CooperativeStickyAssignorTest's
    override: rerun while partitions are revoked (at most 4 times), then check the final one.
    Returns the final assignment (Kafka's test mutates its `assignment` map the same way)."""
    rebalances = 0
    while strategy == "cooperative-sticky" and _cooperative_validity(group, assignment):
        for member, assigned in assignment.items():
            group.put(member, group.topics[member], assigned, GENERATION_ID)
        assignment = group.run(strategy, ppt)
        rebalances += 1
        assert rebalances <= 4
    verify_validity_and_balance_eager(group, assignment, ppt)
    return assignment


def _cooperative_validity(group: Group, assignment) -> bool:
    """CooperativeStickyAssignorTest.verifyCooperativeValidity: True if a partition is revoked."""
    added, revoked = set(), set()
    for member, assigned in assignment.items():
        owned = set(group.owned.get(member, ()))
        added |= set(assigned) - owned
        revoked |= owned - set(assigned)
    assert not added & revoked, "a partition was revoked and reassigned in one rebalance"
    return bool(revoked)


def transferring(group: Group, ppt) -> dict[tuple[str, int], str]:
    """partitionsTransferringOwnership: what cooperative-sticky holds back from the eager result."""
    eager = group.run("sticky", ppt)
    coop = group.run("cooperative-sticky", ppt)
    return {tp: m for m, tpl in eager.items() for tp in tpl if tp not in coop[m]}


# ---------------------------------------------------------------- names and protocols


def test_strategy_names_and_protocols():
    # ConsumerPartitionAssignor.supportedProtocols; CooperativeStickyAssignor.supportedProtocols
    assert supported_protocols("range") == [RebalanceProtocol.EAGER]
    assert supported_protocols("org.apache.kafka.clients.consumer.StickyAssignor") == [
        RebalanceProtocol.EAGER
    ]
    assert supported_protocols("cooperative-sticky") == [
        RebalanceProtocol.COOPERATIVE,
        RebalanceProtocol.EAGER,
    ]
    assert ASSIGNOR_SHORT_NAMES[ASSIGNOR_CLASS_NAMES["roundrobin"]] == "roundrobin"
    by_class = assign(
        "org.apache.kafka.clients.consumer.RoundRobinAssignor", {"a": ["t"], "b": ["t"]}, {"t": 2}
    )
    assert by_class == {"a": [("t", 0)], "b": [("t", 1)]}


@pytest.mark.parametrize(
    "kwargs, path",
    [
        ({"strategy": "fair"}, "strategy"),
        ({"partitions_per_topic": {"t": -1}}, "partitions_per_topic.t"),
        ({"subscriptions": {"a": ["t", "t"]}}, "subscriptions.a"),
        ({"owned": {"a": [("t", 0), ("t", 0)]}}, "owned.a"),
        ({"owned": {"a": [("t", 9)]}}, "owned.a"),
        ({"static_ids": {"a": "i", "b": "i"}}, "static_ids"),
        ({"generations": {"a": "1"}}, "generations.a"),
    ],
)
def test_bad_input_is_a_value_error_naming_the_argument(kwargs, path):
    args = {
        "strategy": "sticky",
        "subscriptions": {"a": ["t"], "b": ["t"]},
        "partitions_per_topic": {"t": 2},
    }
    args.update(kwargs)
    with pytest.raises(ValueError, match=rf"^{path}: ") as err:
        assign(**args)
    assert isinstance(err.value, AssignorInputError)


def test_unknown_strategy_lists_known_ones():
    with pytest.raises(ValueError, match="range, roundrobin, sticky, cooperative-sticky"):
        assign("fair", {"a": ["t"]}, {"t": 1})


def test_member_order_is_java_string_order():
    # MemberInfo.compareTo uses String.compareTo (UTF-16 code units): U+FF5E sorts after an
    # astral character (surrogate 0xD83D), unlike Python's code-point order.
    astral, bmp = "\U0001f600", "\uff5e"
    assert java_string_key(astral) < java_string_key(bmp)
    assert assign("range", {bmp: ["t"], astral: ["t"]}, {"t": 2}) == {
        astral: [("t", 0)],
        bmp: [("t", 1)],
    }


def test_java_hash_map_order():
    # String.hashCode facts: "hello" is 99162322; "polygenelubricants" is Integer.MIN_VALUE.
    assert java_string_hash("hello") == 99162322
    assert java_string_hash("polygenelubricants") == 0x80000000
    # a 16-bucket HashMap puts consumer1/2/3 in buckets 12, 11, 10 and iterates them backwards;
    # AbstractStickyAssignorTest expectations depend on it (see the max-quota case)
    assert hash_map_order(["consumer1", "consumer2", "consumer3"]) == [
        "consumer3",
        "consumer2",
        "consumer1",
    ]


def test_partitions_transferring_is_owned_minus_assigned():
    owned = {"a": [("t", 0), ("t", 1)], "b": [("t", 2)], "gone": [("t", 3)]}
    assignment = {"a": [("t", 0)], "b": [("t", 2), ("t", 1)], "c": [("t", 3)]}
    assert partitions_transferring(owned, assignment) == {"a": [("t", 1)], "gone": [("t", 3)]}


# ---------------------------------------------------------------- RangeAssignorTest

RANGE_CASES = [
    # (Kafka test method, subscriptions, partitions_per_topic, expected)
    ("testOneConsumerNoTopic", {"consumer1": []}, {}, {"consumer1": ""}),
    ("testOneConsumerNonexistentTopic", {"consumer1": ["topic1"]}, {}, {"consumer1": ""}),
    (
        "testOneConsumerOneTopic",
        {"consumer1": ["topic1"]},
        {"topic1": 3},
        {"consumer1": "topic1-0, topic1-1, topic1-2"},
    ),
    (
        "testOnlyAssignsPartitionsFromSubscribedTopics",
        {"consumer1": ["topic1"]},
        {"topic1": 3, "other": 3},
        {"consumer1": "topic1-0, topic1-1, topic1-2"},
    ),
    (
        "testOneConsumerMultipleTopics",
        {"consumer1": ["topic1", "topic2"]},
        {"topic1": 1, "topic2": 2},
        {"consumer1": "topic1-0, topic2-0, topic2-1"},
    ),
    (
        "testTwoConsumersOneTopicOnePartition",
        {"consumer1": ["topic1"], "consumer2": ["topic1"]},
        {"topic1": 1},
        {"consumer1": "topic1-0", "consumer2": ""},
    ),
    (
        "testTwoConsumersOneTopicTwoPartitions",
        {"consumer1": ["topic1"], "consumer2": ["topic1"]},
        {"topic1": 2},
        {"consumer1": "topic1-0", "consumer2": "topic1-1"},
    ),
    (
        "testMultipleConsumersMixedTopics",
        {"consumer1": ["topic1"], "consumer2": ["topic1", "topic2"], "consumer3": ["topic1"]},
        {"topic1": 3, "topic2": 2},
        {
            "consumer1": "topic1-0",
            "consumer2": "topic1-1, topic2-0, topic2-1",
            "consumer3": "topic1-2",
        },
    ),
    (
        "testTwoConsumersTwoTopicsSixPartitions",
        {"consumer1": ["topic1", "topic2"], "consumer2": ["topic1", "topic2"]},
        {"topic1": 3, "topic2": 3},
        {"consumer1": "topic1-0, topic1-1, topic2-0, topic2-1", "consumer2": "topic1-2, topic2-2"},
    ),
]


@pytest.mark.parametrize("name, subs, ppt, expected", RANGE_CASES, ids=[c[0] for c in RANGE_CASES])
def test_range_assignor_cases(name, subs, ppt, expected):
    # RangeAssignorTest.<name> (rack-unaware expectations)
    assert assign("range", subs, ppt) == {m: tps(v) for m, v in expected.items()}


@pytest.mark.parametrize("low_static", [True, False])
def test_range_static_member_sorts_by_instance_id(low_static):
    # RangeAssignorTest.testTwoStaticConsumersTwoTopicsSixPartitions (low_static=True, both static)
    # and testOneStaticConsumerAndOneDynamicConsumerTwoTopicsSixPartitions (only consumer-b static)
    subs = {"consumer-b": ["topic1", "topic2"], "consumer-a": ["topic1", "topic2"]}
    static = {"consumer-b": "instance1"}
    if low_static:
        static["consumer-a"] = "instance2"
    result = assign("range", subs, {"topic1": 3, "topic2": 3}, static_ids=static)
    assert result["consumer-b"] == tps("topic1-0, topic1-1, topic2-0, topic2-1")
    assert result["consumer-a"] == tps("topic1-2, topic2-2")


def test_range_static_member_assignment_persistent():
    # RangeAssignorTest.testStaticMemberRangeAssignmentPersistent: replacing the dynamic member
    # consumer4 by consumer5 leaves the static members' ranges unchanged.
    subs = {f"consumer{i}": ["topic1", "topic2"] for i in range(1, 5)}
    static = {f"consumer{i}": f"instance{i}" for i in range(1, 4)}
    ppt = {"topic1": 5, "topic2": 4}
    expected = {
        "consumer1": tps("topic1-0, topic1-1, topic2-0"),
        "consumer2": tps("topic1-2, topic2-1"),
        "consumer3": tps("topic1-3, topic2-2"),
        "consumer4": tps("topic1-4, topic2-3"),
    }
    assert assign("range", subs, ppt, static_ids=static) == expected
    subs["consumer5"] = subs.pop("consumer4")
    expected["consumer5"] = expected.pop("consumer4")
    assert assign("range", subs, ppt, static_ids=static) == expected


@pytest.mark.parametrize(
    "strategy, expected",
    [
        (  # RangeAssignorTest.testStaticMemberRangeAssignmentPersistentAfterMemberIdChanges
            "range",
            {
                "instance1": "topic1-0, topic1-1, topic2-0, topic2-1",
                "instance2": "topic1-2, topic1-3, topic2-2, topic2-3",
                "instance3": "topic1-4, topic2-4",
            },
        ),
        (  # RoundRobinAssignorTest
            # .testStaticMemberRoundRobinAssignmentPersistentAfterMemberIdChanges
            "roundrobin",
            {
                "instance1": "topic1-0, topic1-3, topic2-1, topic2-4",
                "instance2": "topic1-1, topic1-4, topic2-2",
                "instance3": "topic1-2, topic2-0, topic2-3",
            },
        ),
    ],
)
def test_static_assignment_persistent_after_member_id_changes(strategy, expected):
    ppt = {"topic1": 5, "topic2": 5}

    def by_instance(static):
        result = assign(strategy, {m: ["topic1", "topic2"] for m in static}, ppt, static_ids=static)
        return {static[m]: result[m] for m in static}

    first = by_instance({f"consumer{i}": f"instance{i}" for i in range(1, 4)})
    assert first == {k: tps(v) for k, v in expected.items()}
    renamed = {"consumer1": "instance1", "consumer5": "instance2", "consumer4": "instance3"}
    assert by_instance(renamed) == first


RANGE_TABLE_CASES = [
    # RangeAssignorTest.<name>: the non-rack-aware assignment (verifyNonRackAwareAssignment or the
    # nullRacks call); consumers are consumer0.. as in
    # AbstractPartitionAssignorTest.verifyRackAssignment
    (
        "testRackAwareAssignmentWithUniformSubscription",
        {"t1": 6, "t2": 7, "t3": 2},
        [["t1", "t2", "t3"]] * 3,
        [
            "t1-0, t1-1, t2-0, t2-1, t2-2, t3-0",
            "t1-2, t1-3, t2-3, t2-4, t3-1",
            "t1-4, t1-5, t2-5, t2-6",
        ],
    ),
    (
        "testRackAwareAssignmentWithNonEqualSubscription",
        {"t1": 6, "t2": 7, "t3": 2},
        [["t1", "t2", "t3"], ["t1", "t2", "t3"], ["t1", "t3"]],
        [
            "t1-0, t1-1, t2-0, t2-1, t2-2, t2-3, t3-0",
            "t1-2, t1-3, t2-4, t2-5, t2-6, t3-1",
            "t1-4, t1-5",
        ],
    ),
    (
        "testRackAwareAssignmentWithUniformPartitions",
        {"t1": 5, "t2": 5, "t3": 5},
        [["t1", "t2", "t3"]] * 3,
        [
            "t1-0, t1-1, t2-0, t2-1, t3-0, t3-1",
            "t1-2, t1-3, t2-2, t2-3, t3-2, t3-3",
            "t1-4, t2-4, t3-4",
        ],
    ),
    (
        "testRackAwareAssignmentWithUniformPartitionsNonEqualSubscription",
        {"t1": 5, "t2": 5, "t3": 5},
        [["t1", "t2", "t3"], ["t1", "t2", "t3"], ["t1", "t3"]],
        [
            "t1-0, t1-1, t2-0, t2-1, t2-2, t3-0, t3-1",
            "t1-2, t1-3, t2-3, t2-4, t3-2, t3-3",
            "t1-4, t3-4",
        ],
    ),
    (
        "testRackAwareAssignmentWithCoPartitioning",
        {"t1": 6, "t2": 6, "t3": 2, "t4": 2},
        [["t1", "t2"], ["t1", "t2"], ["t3", "t4"], ["t3", "t4"]],
        [
            "t1-0, t1-1, t1-2, t2-0, t2-1, t2-2",
            "t1-3, t1-4, t1-5, t2-3, t2-4, t2-5",
            "t3-0, t4-0",
            "t3-1, t4-1",
        ],
    ),
    (
        "testCoPartitionedAssignmentWithSameSubscription",
        {"t1": 6, "t2": 6, "t3": 2, "t4": 2, "t5": 4, "t6": 4},
        [[f"t{i}" for i in range(1, 10)]] * 3,
        [
            "t1-0, t1-1, t2-0, t2-1, t3-0, t4-0, t5-0, t5-1, t6-0, t6-1",
            "t1-2, t1-3, t2-2, t2-3, t3-1, t4-1, t5-2, t6-2",
            "t1-4, t1-5, t2-4, t2-5, t5-3, t6-3",
        ],
    ),
]


@pytest.mark.parametrize(
    "name, ppt, topics, expected", RANGE_TABLE_CASES, ids=[c[0] for c in RANGE_TABLE_CASES]
)
def test_range_assignor_table_cases(name, ppt, topics, expected):
    subs = {f"consumer{i}": t for i, t in enumerate(topics)}
    assert assign("range", subs, ppt) == {f"consumer{i}": tps(e) for i, e in enumerate(expected)}


# ---------------------------------------------------------------- RoundRobinAssignorTest

ROUND_ROBIN_CASES = [
    ("testOneConsumerNoTopic", {"consumer": []}, {}, {"consumer": ""}),
    ("testOneConsumerNonexistentTopic", {"consumer": ["topic"]}, {}, {"consumer": ""}),
    (
        "testOneConsumerOneTopic",
        {"consumer": ["topic"]},
        {"topic": 3},
        {"consumer": "topic-0, topic-1, topic-2"},
    ),
    (
        "testOnlyAssignsPartitionsFromSubscribedTopics",
        {"consumer": ["topic"]},
        {"topic": 3, "other": 3},
        {"consumer": "topic-0, topic-1, topic-2"},
    ),
    (
        "testOneConsumerMultipleTopics",
        {"consumer": ["topic1", "topic2"]},
        {"topic1": 1, "topic2": 2},
        {"consumer": "topic1-0, topic2-0, topic2-1"},
    ),
    (
        "testTwoConsumersOneTopicOnePartition",
        {"consumer1": ["topic"], "consumer2": ["topic"]},
        {"topic": 1},
        {"consumer1": "topic-0", "consumer2": ""},
    ),
    (
        "testTwoConsumersOneTopicTwoPartitions",
        {"consumer1": ["topic"], "consumer2": ["topic"]},
        {"topic": 2},
        {"consumer1": "topic-0", "consumer2": "topic-1"},
    ),
    (
        "testMultipleConsumersMixedTopics",
        {"consumer1": ["topic1"], "consumer2": ["topic1", "topic2"], "consumer3": ["topic1"]},
        {"topic1": 3, "topic2": 2},
        {
            "consumer1": "topic1-0",
            "consumer2": "topic1-1, topic2-0, topic2-1",
            "consumer3": "topic1-2",
        },
    ),
    (
        "testTwoDynamicConsumersTwoTopicsSixPartitions",
        {"consumer1": ["topic1", "topic2"], "consumer2": ["topic1", "topic2"]},
        {"topic1": 3, "topic2": 3},
        {"consumer1": "topic1-0, topic1-2, topic2-1", "consumer2": "topic1-1, topic2-0, topic2-2"},
    ),
]


@pytest.mark.parametrize(
    "name, subs, ppt, expected", ROUND_ROBIN_CASES, ids=[c[0] for c in ROUND_ROBIN_CASES]
)
def test_round_robin_assignor_cases(name, subs, ppt, expected):
    # RoundRobinAssignorTest.<name>
    assert assign("roundrobin", subs, ppt) == {m: tps(v) for m, v in expected.items()}


@pytest.mark.parametrize("both_static", [True, False])
def test_round_robin_static_member_sorts_by_instance_id(both_static):
    # RoundRobinAssignorTest.testTwoStaticConsumersTwoTopicsSixPartitions (both_static) and
    # testOneStaticConsumerAndOneDynamicConsumerTwoTopicsSixPartitions
    subs = {"consumer-b": ["topic1", "topic2"], "consumer-a": ["topic1", "topic2"]}
    static = {"consumer-b": "instance1"}
    if both_static:
        static["consumer-a"] = "instance2"
    result = assign("roundrobin", subs, {"topic1": 3, "topic2": 3}, static_ids=static)
    assert result["consumer-b"] == tps("topic1-0, topic1-2, topic2-1")
    assert result["consumer-a"] == tps("topic1-1, topic2-0, topic2-2")


def test_round_robin_static_member_assignment_persistent():
    # RoundRobinAssignorTest.testStaticMemberRoundRobinAssignmentPersistent
    subs = {f"consumer{i}": ["topic1", "topic2"] for i in range(1, 5)}
    static = {f"consumer{i}": f"instance{i}" for i in range(1, 4)}
    ppt = {"topic1": 3, "topic2": 3}
    expected = {
        "consumer1": tps("topic1-0, topic2-1"),
        "consumer2": tps("topic1-1, topic2-2"),
        "consumer3": tps("topic1-2"),
        "consumer4": tps("topic2-0"),
    }
    assert assign("roundrobin", subs, ppt, static_ids=static) == expected
    subs["consumer5"] = subs.pop("consumer4")
    expected["consumer5"] = expected.pop("consumer4")
    assert assign("roundrobin", subs, ppt, static_ids=static) == expected


# ---------------------------------------------------------------- AbstractStickyAssignorTest


@pytest.mark.parametrize("strategy", STICKY_KINDS)
@pytest.mark.parametrize(
    "name, subs, ppt, owned, expected",
    [
        ("testOneConsumerNoTopic", {"consumer": []}, {}, {}, {"consumer": ""}),
        (
            "testOneConsumerNonexistentTopic",
            {"consumer": ["topic"]},
            {"topic": 0},
            {},
            {"consumer": ""},
        ),
        (
            "testOneConsumerOneTopic",
            {"consumer": ["topic"]},
            {"topic": 3},
            {},
            {"consumer": "topic-0, topic-1, topic-2"},
        ),
        (
            "testOnlyAssignsPartitionsFromSubscribedTopics",
            {"consumer": ["topic"]},
            {"topic": 2},
            {"consumer": tps("topic-0, topic-1, other-0, other-1")},
            {"consumer": "topic-0, topic-1"},
        ),
        (
            "testOneConsumerMultipleTopics",
            {"consumer": ["topic1", "topic2"]},
            {"topic1": 1, "topic2": 2},
            {},
            {"consumer": "topic1-0, topic2-0, topic2-1"},
        ),
        (
            "testTwoConsumersOneTopicTwoPartitions",
            {"consumer1": ["topic"], "consumer2": ["topic"]},
            {"topic": 2},
            {},
            {"consumer1": "topic-0", "consumer2": "topic-1"},
        ),
        (
            "testMultipleConsumersMixedTopicSubscriptions",
            {"consumer1": ["topic1"], "consumer2": ["topic1", "topic2"], "consumer3": ["topic1"]},
            {"topic1": 3, "topic2": 2},
            {},
            {
                "consumer1": "topic1-0, topic1-2",
                "consumer2": "topic2-0, topic2-1",
                "consumer3": "topic1-1",
            },
        ),
        (
            "testTwoConsumersTwoTopicsSixPartitions",
            {"consumer1": ["topic1", "topic2"], "consumer2": ["topic1", "topic2"]},
            {"topic1": 3, "topic2": 3},
            {},
            {
                "consumer1": "topic1-0, topic1-2, topic2-1",
                "consumer2": "topic1-1, topic2-0, topic2-2",
            },
        ),
        (
            "testConsumerOwningMinQuotaExpectedMaxQuota",
            {"consumer1": ["topic1", "topic2"], "consumer2": ["topic1", "topic2"]},
            {"topic1": 2, "topic2": 3},
            {"consumer1": tps("topic1-0, topic2-1"), "consumer2": tps("topic1-1, topic2-2")},
            {"consumer1": "topic1-0, topic2-0, topic2-1", "consumer2": "topic1-1, topic2-2"},
        ),
        (
            "testAllConsumersAreUnderMinQuota",
            {f"consumer{i}": ["topic1", "topic2"] for i in (1, 2, 3)},
            {"topic1": 2, "topic2": 3},
            {"consumer1": tps("topic1-0"), "consumer2": tps("topic1-1"), "consumer3": []},
            {
                "consumer1": "topic1-0, topic2-1",
                "consumer2": "topic1-1, topic2-2",
                "consumer3": "topic2-0",
            },
        ),
        (
            "testAllConsumersReachExpectedQuotaAndAreConsideredFilled",
            {f"consumer{i}": ["topic"] for i in (1, 2, 3)},
            {"topic": 4},
            {"consumer1": tps("topic-0, topic-1"), "consumer2": tps("topic-2"), "consumer3": []},
            {"consumer1": "topic-0, topic-1", "consumer2": "topic-2", "consumer3": "topic-3"},
        ),
    ],
)
def test_sticky_single_round_cases(strategy, name, subs, ppt, owned, expected):
    # AbstractStickyAssignorTest.<name>: exact assignment, no partition transferring ownership
    group = Group()
    for member, topics in subs.items():
        group.put(member, topics, owned.get(member, ()), GENERATION_ID if owned else -1)
    result = group.run(strategy, ppt)
    assert result == {m: sorted(tps(v)) for m, v in expected.items()}
    assert transferring(group, ppt) == {}
    verify_validity_and_balance(strategy, group, result, ppt)
    assert is_fully_balanced(result)


@pytest.mark.parametrize("strategy", STICKY_KINDS)
def test_two_consumers_one_topic_one_partition(strategy):
    # AbstractStickyAssignorTest.testTwoConsumersOneTopicOnePartition
    group = Group()
    group.put("consumer1", ["topic"])
    group.put("consumer2", ["topic"])
    result = group.run(strategy, {"topic": 1})
    verify_validity_and_balance(strategy, group, result, {"topic": 1})
    assert sorted(len(v) for v in result.values()) == [0, 1]


@pytest.mark.parametrize("strategy", STICKY_KINDS)
def test_max_quota_consumer_more_than_num_expected_max_capacity_members(strategy):
    # AbstractStickyAssignorTest.testMaxQuotaConsumerMoreThanNumExpectedMaxCapacityMembers
    ppt = {"topic1": 2, "topic2": 2}
    group = Group()
    group.put("consumer1", ["topic1", "topic2"], tps("topic1-0, topic2-0"), GENERATION_ID)
    group.put("consumer2", ["topic1", "topic2"], tps("topic1-1, topic2-1"), GENERATION_ID)
    group.put("consumer3", ["topic1", "topic2"], [], GENERATION_ID)
    assert transferring(group, ppt) == {("topic2", 0): "consumer3"}
    result = verify_validity_and_balance(strategy, group, group.run(strategy, ppt), ppt)
    assert result == {
        "consumer1": tps("topic1-0"),
        "consumer2": tps("topic1-1, topic2-1"),
        "consumer3": tps("topic2-0"),
    }


@pytest.mark.parametrize("strategy", STICKY_KINDS)
def test_add_remove_consumer_one_topic(strategy):
    # AbstractStickyAssignorTest.testAddRemoveConsumerOneTopic (join, then leave)
    ppt = {"topic": 3}
    group = Group()
    group.put("consumer1", ["topic"])
    result = group.run(strategy, ppt)
    assert result["consumer1"] == tps("topic-0, topic-1, topic-2")
    result = verify_validity_and_balance(strategy, group, result, ppt)

    group.put("consumer1", ["topic"], result["consumer1"], GENERATION_ID)
    group.put("consumer2", ["topic"], [], GENERATION_ID)
    assert transferring(group, ppt) == {("topic", 2): "consumer2"}
    result = verify_validity_and_balance(strategy, group, group.run(strategy, ppt), ppt)
    assert result == {"consumer1": tps("topic-0, topic-1"), "consumer2": tps("topic-2")}

    group.remove("consumer1")
    group.put("consumer2", ["topic"], result["consumer2"], GENERATION_ID)
    assert transferring(group, ppt) == {}
    result = verify_validity_and_balance(strategy, group, group.run(strategy, ppt), ppt)
    assert result == {"consumer2": tps("topic-0, topic-1, topic-2")}


@pytest.mark.parametrize("strategy", STICKY_KINDS)
def test_topic_balance_after_reassignment(strategy):
    # AbstractStickyAssignorTest.testTopicBalanceAfterReassignment: 1 -> 2 -> 4 -> 2 members
    ppt = {"topic1": 12, "topic2": 12}
    all_topics = ["topic1", "topic2"]
    group = Group()
    group.put("consumer1", all_topics)
    result = verify_validity_and_balance(strategy, group, group.run(strategy, ppt), ppt)
    for members, per_topic in (
        (["consumer1", "consumer2"], 6),
        ([f"consumer{i}" for i in (1, 2, 3, 4)], 3),
    ):
        for member in members:
            group.put(member, all_topics, result.get(member, []), GENERATION_ID)
        result = verify_validity_and_balance(strategy, group, group.run(strategy, ppt), ppt)
        for assigned in result.values():
            assert [t for t, _ in assigned].count("topic1") == per_topic
            assert [t for t, _ in assigned].count("topic2") == per_topic
    group.remove("consumer1")
    group.remove("consumer2")
    for member in ("consumer3", "consumer4"):
        group.put(member, all_topics, result[member], GENERATION_ID)
    assert transferring(group, ppt) == {}
    result = verify_validity_and_balance(strategy, group, group.run(strategy, ppt), ppt)
    for assigned in result.values():
        assert [t for t, _ in assigned].count("topic1") == 6


@pytest.mark.parametrize("strategy", STICKY_KINDS)
def test_add_remove_two_consumers_two_topics(strategy):
    # AbstractStickyAssignorTest.testAddRemoveTwoConsumersTwoTopics: 2 -> 4 -> 2 members, exact
    ppt = {"topic1": 3, "topic2": 4}
    all_topics = ["topic1", "topic2"]
    group = Group()
    group.put("consumer1", all_topics)
    group.put("consumer2", all_topics)
    result = group.run(strategy, ppt)
    assert result == {
        "consumer1": tps("topic1-0, topic1-2, topic2-1, topic2-3"),
        "consumer2": tps("topic1-1, topic2-0, topic2-2"),
    }
    for member in ("consumer1", "consumer2", "consumer3", "consumer4"):
        group.put(member, all_topics, result.get(member, []), GENERATION_ID)
    assert transferring(group, ppt) == {
        ("topic1", 2): "consumer3",
        ("topic2", 3): "consumer3",
        ("topic2", 2): "consumer4",
    }
    result = verify_validity_and_balance(strategy, group, group.run(strategy, ppt), ppt)
    assert result == {
        "consumer1": tps("topic1-0, topic2-1"),
        "consumer2": tps("topic1-1, topic2-0"),
        "consumer3": tps("topic1-2, topic2-3"),
        "consumer4": tps("topic2-2"),
    }
    group.remove("consumer1")
    group.remove("consumer2")
    for member in ("consumer3", "consumer4"):
        group.put(member, all_topics, result[member], GENERATION_ID)
    assert transferring(group, ppt) == {}
    result = verify_validity_and_balance(strategy, group, group.run(strategy, ppt), ppt)
    assert result == {
        "consumer3": tps("topic1-0, topic1-2, topic2-1, topic2-3"),
        "consumer4": tps("topic1-1, topic2-0, topic2-2"),
    }


@pytest.mark.parametrize("strategy", STICKY_KINDS)
def test_poor_round_robin_assignment_scenario(strategy):
    # AbstractStickyAssignorTest.testPoorRoundRobinAssignmentScenario
    ppt = {f"topic{i}": i % 2 + 1 for i in range(1, 6)}
    group = Group()
    group.put("consumer1", [f"topic{i}" for i in range(1, 6)])
    group.put("consumer2", ["topic1", "topic3", "topic5"])
    group.put("consumer3", ["topic1", "topic3", "topic5"])
    group.put("consumer4", [f"topic{i}" for i in range(1, 6)])
    verify_validity_and_balance(strategy, group, group.run(strategy, ppt), ppt)


@pytest.mark.parametrize("strategy", STICKY_KINDS)
def test_add_remove_topic_two_consumers(strategy):
    # AbstractStickyAssignorTest.testAddRemoveTopicTwoConsumers: topic2 created, then topic deleted
    ppt = {"topic": 3}
    group = Group()
    group.put("consumer1", ["topic"])
    group.put("consumer2", ["topic"])
    first = verify_validity_and_balance(strategy, group, group.run(strategy, ppt), ppt)
    assert sorted(len(v) for v in first.values()) == [1, 2]
    ppt["topic2"] = 3
    for member in first:
        group.put(member, ["topic", "topic2"], first[member], GENERATION_ID)
    assert transferring(group, ppt) == {}
    second = verify_validity_and_balance(strategy, group, group.run(strategy, ppt), ppt)
    for member in first:
        assert len(second[member]) == 3
        assert set(first[member]) <= set(second[member])
    del ppt["topic"]
    for member in second:
        group.put(member, ["topic2"], second[member], GENERATION_ID)
    assert transferring(group, ppt) == {}
    third = verify_validity_and_balance(strategy, group, group.run(strategy, ppt), ppt)
    assert sorted(len(v) for v in third.values()) == [1, 2]
    for member in third:
        assert set(third[member]) <= set(second[member])


def _name(prefix: str, i: int, max_num: int) -> str:
    """AbstractStickyAssignorTest.getCanonicalName: zero-padded to max_num's width."""
    return prefix + str(i).zfill(len(str(max_num)))


@pytest.mark.parametrize("strategy", STICKY_KINDS)
def test_reassignment_after_one_consumer_leaves(strategy):
    # AbstractStickyAssignorTest.testReassignmentAfterOneConsumerLeaves (consumer i subscribes to
    # t1..ti; then c10 leaves). Kafka's isSticky() check is replaced by: everyone keeps what it had.
    ppt = {_name("t", i, 20): i for i in range(1, 20)}
    group = Group()
    for i in range(1, 20):
        group.put(_name("c", i, 20), [_name("t", j, 20) for j in range(1, i + 1)])
    result = verify_validity_and_balance(strategy, group, group.run(strategy, ppt), ppt)
    for member, assigned in result.items():
        group.put(member, group.topics[member], assigned, GENERATION_ID)
    group.remove("c10")
    after = verify_validity_and_balance(strategy, group, group.run(strategy, ppt), ppt)
    assert all(set(result[m]) <= set(after[m]) for m in after)


@pytest.mark.parametrize("strategy", STICKY_KINDS)
def test_reassignment_after_one_consumer_added(strategy):
    # AbstractStickyAssignorTest.testReassignmentAfterOneConsumerAdded (owned not fed back: eager)
    ppt = {"topic": 20}
    group = Group()
    for i in range(1, 10):
        group.put(_name("c", i, 10), ["topic"])
    assert transferring(group, ppt) == {}
    verify_validity_and_balance(strategy, group, group.run(strategy, ppt), ppt)
    group.put(_name("c", 10, 10), ["topic"])
    assert transferring(group, ppt) == {}
    verify_validity_and_balance(strategy, group, group.run(strategy, ppt), ppt)


@pytest.mark.parametrize("strategy", STICKY_KINDS)
def test_same_subscriptions(strategy):
    # AbstractStickyAssignorTest.testSameSubscriptions: 8 members on t01..t14, then c5 leaves
    ppt = {_name("t", i, 15): i for i in range(1, 15)}
    group = Group()
    for i in range(1, 9):
        group.put(_name("c", i, 9), list(ppt))
    result = verify_validity_and_balance(strategy, group, group.run(strategy, ppt), ppt)
    for member, assigned in result.items():
        group.put(member, group.topics[member], assigned, GENERATION_ID)
    group.remove(_name("c", 5, 9))
    assert transferring(group, ppt) == {}
    after = verify_validity_and_balance(strategy, group, group.run(strategy, ppt), ppt)
    assert all(set(result[m]) <= set(after[m]) for m in after)


@pytest.mark.parametrize("strategy", STICKY_KINDS)
def test_subscription_not_equal_and_assign_same_partition_with_3_generation(strategy):
    # AbstractStickyAssignorTest.testSubscriptionNotEqualAndAssignSamePartitionWith3Generation
    ppt = {"topic": 6, "topic1": 1}
    for gens in ((1, 2, 3), (1, 3, 2), (2, 1, 3), (2, 3, 1), (3, 1, 2), (3, 2, 1)):
        group = Group()
        group.put("consumer1", ["topic"], tps("topic-0, topic-2"), gens[0])
        group.put("consumer2", ["topic"], tps("topic-1, topic-2, topic-3"), gens[1])
        group.put("consumer3", ["topic"], tps("topic-2, topic-4, topic-5"), gens[2])
        group.put("consumer4", ["topic1"], tps("topic1-0"), 2)
        result = group.run(strategy, ppt)
        flat = [tp for v in result.values() for tp in v]
        assert len(flat) == len(set(flat))
        if strategy == "sticky":
            assert all(1 <= len(v) <= 2 for v in result.values())


@pytest.mark.parametrize("strategy", STICKY_KINDS)
def test_new_subscription(strategy):
    # AbstractStickyAssignorTest.testNewSubscription: c0 subscribes to nothing, then to t1
    ppt = {_name("t", i, 5): 1 for i in range(1, 5)}
    group = Group()
    for i in range(3):
        group.put(_name("c", i, 3), [_name("t", j, 5) for j in range(i, 3 * i - 1)])
    verify_validity_and_balance(strategy, group, group.run(strategy, ppt), ppt)
    group.topics[_name("c", 0, 3)].append(_name("t", 1, 5))
    verify_validity_and_balance(strategy, group, group.run(strategy, ppt), ppt)


@pytest.mark.parametrize("strategy", STICKY_KINDS)
def test_move_existing_assignments(strategy):
    # AbstractStickyAssignorTest.testMoveExistingAssignments (general path)
    ppt = {f"topic{i}": 1 for i in range(1, 7)}
    group = Group()
    group.put("consumer1", ["topic1", "topic2"], tps("topic1-0"), GENERATION_ID)
    group.put("consumer2", ["topic1", "topic2", "topic3", "topic4"], tps("topic2-0, topic3-0"), 1)
    group.put(
        "consumer3",
        ["topic2", "topic3", "topic4", "topic5", "topic6"],
        tps("topic4-0, topic5-0, topic6-0"),
        GENERATION_ID,
    )
    verify_validity_and_balance(strategy, group, group.run(strategy, ppt), ppt)


@pytest.mark.parametrize("strategy", STICKY_KINDS)
def test_stickiness(strategy):
    # AbstractStickyAssignorTest.testStickiness: 4 members, 3 partitions; consumer1 leaves
    ppt = {"topic1": 3}
    group = Group()
    for i in (1, 2, 3, 4):
        group.put(f"consumer{i}", ["topic1"])
    assert transferring(group, ppt) == {}
    result = verify_validity_and_balance(strategy, group, group.run(strategy, ppt), ppt)
    assert all(len(v) <= 1 for v in result.values())
    group.remove("consumer1")
    for i in (2, 3, 4):
        group.put(f"consumer{i}", ["topic1"], result[f"consumer{i}"], GENERATION_ID)
    assert transferring(group, ppt) == {}
    after = verify_validity_and_balance(strategy, group, group.run(strategy, ppt), ppt)
    for member, assigned in after.items():
        assert len(assigned) == 1
        assert set(result[member]) <= set(assigned)


@pytest.mark.parametrize("strategy", STICKY_KINDS)
def test_assignment_updated_for_deleted_topic(strategy):
    # AbstractStickyAssignorTest.testAssignmentUpdatedForDeletedTopic
    result = assign(
        strategy, {"consumer": ["topic1", "topic2", "topic3"]}, {"topic1": 1, "topic3": 100}
    )
    assert len(result["consumer"]) == 101


@pytest.mark.parametrize("strategy", STICKY_KINDS)
def test_no_exception_thrown_when_only_subscribed_topic_deleted(strategy):
    # AbstractStickyAssignorTest.testNoExceptionThrownWhenOnlySubscribedTopicDeleted
    first = assign(strategy, {"consumer": ["topic"]}, {"topic": 3})
    result = assign(strategy, {"consumer": ["topic"]}, {}, owned=first, generations={"consumer": 1})
    assert result == {"consumer": []}


@pytest.mark.parametrize("strategy", STICKY_KINDS)
def test_reassignment_with_random_subscriptions_and_changes(strategy):
    # AbstractStickyAssignorTest.testReassignmentWithRandomSubscriptionsAndChanges (seeded, 10 of
    # Kafka's 100 rounds); Kafka's isSticky() is replaced by the validity and balance checks.
    rng = random.Random(20241105)
    for _ in range(10):
        topics = [_name("t", i, 20) for i in range(rng.randrange(10, 20))]
        ppt = {t: i + 1 for i, t in enumerate(topics)}
        members = [_name("c", i, 40) for i in range(rng.randrange(20, 40))]
        group = Group()
        for member in members:
            group.put(member, sorted(_random_sublist(rng, topics)))
        result = verify_validity_and_balance(strategy, group, group.run(strategy, ppt), ppt)
        for member in members:
            group.put(member, sorted(_random_sublist(rng, topics)), result[member], GENERATION_ID)
        verify_validity_and_balance(strategy, group, group.run(strategy, ppt), ppt)


def _random_sublist(rng: random.Random, items: list[str]) -> list[str]:
    """AbstractStickyAssignorTest.getRandomSublist."""
    selected = list(items)
    for _ in range(rng.randrange(len(items))):
        selected.pop(rng.randrange(len(selected)))
    return selected


@pytest.mark.parametrize("strategy", STICKY_KINDS)
@pytest.mark.parametrize("other_generation", [9, -1])
def test_owned_partitions_are_invalidated_for_consumer_with_stale_or_no_generation(
    strategy, other_generation
):
    # AbstractStickyAssignorTest.testOwnedPartitionsAreInvalidatedForConsumerWithStaleGeneration
    # (consumer2 at generation 9) and ...WithNoGeneration (DEFAULT_GENERATION)
    ppt = {"topic": 3, "topic2": 3}
    claimed = tps("topic-0, topic-2, topic2-1")
    group = Group()
    group.put("consumer1", ["topic", "topic2"], claimed, 10)
    group.put("consumer2", ["topic", "topic2"], claimed, other_generation)
    result = group.run(strategy, ppt)
    assert result == {"consumer1": sorted(claimed), "consumer2": tps("topic-1, topic2-0, topic2-2")}
    assert transferring(group, ppt) == {}
    verify_validity_and_balance(strategy, group, result, ppt)


@pytest.mark.parametrize("strategy", STICKY_KINDS)
def test_partitions_claimed_by_multiple_consumers_in_same_generation(strategy):
    # AbstractStickyAssignorTest
    # .testPartitionsTransferringOwnershipIncludeThePartitionClaimedByMultipleConsumers
    #  InSameGeneration
    # and Cooperative/StickyAssignorTest
    # .testAllConsumersHaveOwnedPartitionInvalidatedWhenClaimedByMultipleConsumersInSameGeneration
    # WithEqualPartitionsPerConsumer: topic-0 is withheld in cooperative's first round.
    ppt = {"topic": 3}
    group = Group()
    group.put("consumer1", ["topic"], tps("topic-0, topic-1"), GENERATION_ID)
    group.put("consumer2", ["topic"], tps("topic-0, topic-2"), GENERATION_ID)
    group.put("consumer3", ["topic"], [], GENERATION_ID)
    assert transferring(group, ppt) == {("topic", 0): "consumer3"}
    first = group.run(strategy, ppt)
    expected_c3 = tps("topic-0") if strategy == "sticky" else []
    assert first == {
        "consumer1": tps("topic-1"),
        "consumer2": tps("topic-2"),
        "consumer3": expected_c3,
    }
    final = verify_validity_and_balance(strategy, group, first, ppt)
    assert final == {
        "consumer1": tps("topic-1"),
        "consumer2": tps("topic-2"),
        "consumer3": tps("topic-0"),
    }


@pytest.mark.parametrize("strategy", STICKY_KINDS)
def test_invalidated_when_claimed_by_multiple_consumers_unequal_partitions_per_consumer(strategy):
    # StickyAssignorTest / CooperativeStickyAssignorTest
    # .testAllConsumersHaveOwnedPartitionInvalidatedWhenClaimedByMultipleConsumersInSameGeneration
    # WithUnequalPartitionsPerConsumer
    group = Group()
    group.put("consumer1", ["topic"], tps("topic-0, topic-1"), GENERATION_ID)
    group.put("consumer2", ["topic"], tps("topic-0, topic-2"), GENERATION_ID)
    group.put("consumer3", ["topic"], [], GENERATION_ID)
    result = group.run(strategy, {"topic": 4})
    assert result["consumer1"] == tps("topic-1, topic-3")
    assert result["consumer2"] == tps("topic-2")
    assert result["consumer3"] == (tps("topic-0") if strategy == "sticky" else [])


@pytest.mark.parametrize("strategy", STICKY_KINDS)
def test_ensure_partitions_assigned_to_highest_generation(strategy):
    # AbstractStickyAssignorTest.testEnsurePartitionsAssignedToHighestGeneration
    ppt = {"topic": 3, "topic2": 3, "topic3": 3}
    topics = ["topic", "topic2", "topic3"]
    group = Group()
    group.put("consumer1", topics, tps("topic-0, topic2-0, topic3-0"), 10)
    group.put("consumer2", topics, tps("topic-1, topic2-1, topic3-1"), 9)
    group.put("consumer3", topics, tps("topic2-1, topic3-0, topic3-2"), 8)
    result = group.run(strategy, ppt)
    assert result == {
        "consumer1": tps("topic-0, topic2-0, topic3-0"),
        "consumer2": tps("topic-1, topic2-1, topic3-1"),
        "consumer3": tps("topic-2, topic2-2, topic3-2"),
    }
    assert transferring(group, ppt) == {}


@pytest.mark.parametrize("strategy", STICKY_KINDS)
def test_no_reassignment_on_current_members(strategy):
    # AbstractStickyAssignorTest.testNoReassignmentOnCurrentMembers
    ppt = {"topic": 3, "topic1": 3, "topic2": 3, "topic3": 3}
    topics = ["topic", "topic2", "topic3", "topic1"]
    group = Group()
    group.put("consumer1", topics, [], -1)
    group.put("consumer2", topics, tps("topic-0, topic2-0, topic1-0"), 9)
    group.put("consumer3", topics, tps("topic3-2, topic2-2, topic1-1"), 8)
    group.put("consumer4", topics, tps("topic3-1, topic-1, topic-2"), 7)
    result = group.run(strategy, ppt)
    assert result["consumer1"] == tps("topic1-2, topic2-1, topic3-0")
    assert transferring(group, ppt) == {}
    verify_validity_and_balance(strategy, group, result, ppt)


@pytest.mark.parametrize("strategy", STICKY_KINDS)
def test_owned_partitions_are_invalidated_for_consumer_with_multiple_generation(strategy):
    # AbstractStickyAssignorTest.testOwnedPartitionsAreInvalidatedForConsumerWithMultipleGeneration
    ppt = {"topic": 3, "topic2": 3}
    group = Group()
    group.put("consumer1", ["topic", "topic2"], tps("topic-0, topic2-1, topic-1"), 10)
    group.put("consumer2", ["topic", "topic2"], tps("topic-0, topic2-1, topic2-2"), 8)
    result = group.run(strategy, ppt)
    assert result == {
        "consumer1": tps("topic-0, topic-1, topic2-1"),
        "consumer2": tps("topic-2, topic2-0, topic2-2"),
    }
    assert transferring(group, ppt) == {}


@pytest.mark.parametrize("strategy", STICKY_KINDS)
@pytest.mark.parametrize(
    "name, topics, expected",
    [
        (
            "testRackAwareAssignmentWithUniformSubscription",
            [["t1", "t2", "t3"]] * 3,
            [
                "t1-0, t1-3, t2-0, t2-3, t2-6",
                "t1-1, t1-4, t2-1, t2-4, t3-0",
                "t1-2, t1-5, t2-2, t2-5, t3-1",
            ],
        ),
        (
            "testRackAwareAssignmentWithNonEqualSubscription",
            [["t1", "t2", "t3"], ["t1", "t2", "t3"], ["t1", "t3"]],
            [
                "t1-5, t2-0, t2-2, t2-4, t2-6",
                "t1-3, t2-1, t2-3, t2-5, t3-0",
                "t1-0, t1-1, t1-2, t1-4, t3-1",
            ],
        ),
    ],
)
def test_sticky_non_rack_aware_assignment(strategy, name, topics, expected):
    # AbstractStickyAssignorTest.<name>: verifyUniformSubscription / verifyNonEqualSubscription
    # with nullRacks: first without owned partitions, then owning the expected assignment.
    ppt = {"t1": 6, "t2": 7, "t3": 2}
    wanted = {f"consumer{i}": tps(e) for i, e in enumerate(expected)}
    subs = {f"consumer{i}": t for i, t in enumerate(topics)}
    assert assign(strategy, subs, ppt) == wanted
    assert assign(strategy, subs, ppt, owned=wanted) == wanted


# ---------------------------------------------------------------- StickyAssignorTest


@pytest.mark.parametrize("all_equal", [True, False])
def test_assignment_with_multiple_generations_1(all_equal):
    # StickyAssignorTest.testAssignmentWithMultipleGenerations1 (isAllSubscriptionsEqual both ways)
    all_topics = ["topic", "topic2"]
    c2_topics = all_topics if all_equal else ["topic"]
    ppt = {"topic": 6, "topic2": 6}
    group = Group()
    group.put("consumer1", all_topics)
    group.put("consumer2", c2_topics)
    group.put("consumer3", all_topics)
    r1 = group.run("sticky", ppt)
    assert [len(r1[f"consumer{i}"]) for i in (1, 2, 3)] == [4, 4, 4]
    verify_validity_and_balance("sticky", group, r1, ppt)

    group.put("consumer1", all_topics, r1["consumer1"], GENERATION_ID)
    group.put("consumer2", c2_topics, r1["consumer2"], GENERATION_ID)
    group.remove("consumer3")
    r2 = group.run("sticky", ppt)
    assert len(r2["consumer1"]) == len(r2["consumer2"]) == 6
    if all_equal:
        assert set(r1["consumer1"]) <= set(r2["consumer1"])
    assert set(r1["consumer2"]) <= set(r2["consumer2"])
    assert set(r2["consumer2"]) & set(r1["consumer3"])
    verify_validity_and_balance("sticky", group, r2, ppt)

    group.remove("consumer1")
    group.put("consumer2", c2_topics, r2["consumer2"], 2)
    group.put("consumer3", all_topics, r1["consumer3"], 1)
    r3 = group.run("sticky", ppt)
    assert len(r3["consumer2"]) == len(r3["consumer3"]) == 6
    assert not set(r3["consumer2"]) & set(r3["consumer3"])
    verify_validity_and_balance("sticky", group, r3, ppt)


@pytest.mark.parametrize("all_equal", [True, False])
def test_assignment_with_multiple_generations_2(all_equal):
    # StickyAssignorTest.testAssignmentWithMultipleGenerations2: 3 -> 1 -> 3 members
    all_topics = ["topic", "topic2", "topic3"]
    c1_topics = all_topics if all_equal else ["topic"]
    c3_topics = all_topics if all_equal else ["topic", "topic2"]
    ppt = {"topic": 4, "topic2": 4, "topic3": 4}
    group = Group()
    group.put("consumer1", c1_topics)
    group.put("consumer2", all_topics)
    group.put("consumer3", c3_topics)
    r1 = group.run("sticky", ppt)
    assert [len(r1[f"consumer{i}"]) for i in (1, 2, 3)] == [4, 4, 4]

    group.remove("consumer1")
    group.remove("consumer3")
    group.put("consumer2", all_topics, r1["consumer2"], 1)
    r2 = group.run("sticky", ppt)
    assert len(r2["consumer2"]) == 12

    group.put("consumer1", c1_topics, r1["consumer1"], 1)
    group.put("consumer2", all_topics, r2["consumer2"], 2)
    group.put("consumer3", c3_topics, r1["consumer3"], 1)
    r3 = group.run("sticky", ppt)
    assert [len(r3[f"consumer{i}"]) for i in (1, 2, 3)] == [4, 4, 4]
    verify_validity_and_balance("sticky", group, r3, ppt)


@pytest.mark.parametrize("all_equal", [True, False])
def test_assignment_with_conflicting_previous_generations(all_equal):
    # StickyAssignorTest.testAssignmentWithConflictingPreviousGenerations
    all_topics = ["topic", "topic2", "topic3"]
    c1_topics = all_topics if all_equal else ["topic"]
    c2_topics = all_topics if all_equal else ["topic", "topic2"]
    ppt = {"topic": 4, "topic2": 4, "topic3": 4}
    c1_owned = tps(
        "topic-0, topic-1, topic-2, topic2-2, topic2-3, topic3-0"
        if all_equal
        else "topic-0, topic-1, topic-2, topic-3"
    )
    c2_owned = tps("topic-0, topic-1, topic2-0, topic2-1, topic2-2, topic2-3")
    c3_owned = tps("topic-2, topic-3, topic3-0, topic3-1, topic3-2, topic3-3")
    group = Group()
    group.put("consumer1", c1_topics, c1_owned, 1)
    group.put("consumer2", c2_topics, c2_owned, 2)
    group.put("consumer3", all_topics, c3_owned, 2)
    result = group.run("sticky", ppt)
    assert [len(result[f"consumer{i}"]) for i in (1, 2, 3)] == [4, 4, 4]
    assert set(result["consumer2"]) <= set(c2_owned)
    assert set(result["consumer3"]) <= set(c3_owned)
    verify_validity_and_balance("sticky", group, result, ppt)


def test_schema_backward_compatibility():
    # StickyAssignorTest.testSchemaBackwardCompatibility: consumer2's old-schema user data has no
    # generation (DEFAULT_GENERATION); consumer3 owns nothing.
    ppt = {"topic": 3}
    group = Group()
    group.put("consumer1", ["topic"], tps("topic-0, topic-2"), 1)
    group.put("consumer2", ["topic"], tps("topic-1"), -1)
    group.put("consumer3", ["topic"])
    result = group.run("sticky", ppt)
    assert [len(result[f"consumer{i}"]) for i in (1, 2, 3)] == [1, 1, 1]
    assert set(result["consumer1"]) <= set(tps("topic-0, topic-2"))
    assert result["consumer2"] == tps("topic-1")


@pytest.mark.parametrize("strategy", STICKY_KINDS)
def test_assignor_with_old_version_subscriptions(strategy):
    # StickyAssignorTest / CooperativeStickyAssignorTest.testAssignorWithOldVersionSubscriptions
    group = Group()
    group.put("consumer1", ["topic1"], tps("topic1-0"), GENERATION_ID)
    group.put("consumer2", ["topic1"], tps("topic1-1"), GENERATION_ID)
    group.put("consumer3", ["topic1"], [], GENERATION_ID)
    result = group.run(strategy, {"topic1": 3})
    assert result == {
        "consumer1": tps("topic1-0"),
        "consumer2": tps("topic1-1"),
        "consumer3": tps("topic1-2"),
    }


def test_empty_first_subscription_counts_as_equal_like_kafka():
    # AbstractStickyAssignor.allSubscriptionsEqual only records the first non-empty subscription,
    # so a member with no topics that is met first does not make subscriptions unequal: the
    # constrained path then counts it in the quota (Kafka walks a HashMap; we walk sorted ids).
    result = assign("sticky", {"a": [], "b": ["t"]}, {"t": 2})
    assert result == {"a": [("t", 0)], "b": [("t", 1)]}
    assert assign("sticky", {"a": ["t"], "b": []}, {"t": 2}) == {"a": tps("t-0, t-1"), "b": []}


# ---------------------------------------------------------------- properties (hypothesis)

TOPICS = ["ta", "tb", "tc"]


@st.composite
def groups(draw, equal: bool = False):
    """A group: partition counts, 1-6 members with non-empty subscriptions, static ids."""
    ppt = {t: draw(st.integers(0, 7)) for t in TOPICS}
    members = [f"m{i}" for i in range(draw(st.integers(1, 6)))]
    topic_sets = st.lists(st.sampled_from(TOPICS), min_size=1, max_size=3, unique=True)
    shared = draw(topic_sets)
    subs = {m: (shared if equal else draw(topic_sets)) for m in members}
    static = {m: f"i{draw(st.integers(0, 99)):02d}-{m}" for m in members if draw(st.booleans())}
    return ppt, subs, static


def _assert_valid(subs, ppt, result, complete: bool = True, strays=frozenset()):
    """Each partition at most once (exactly once if complete), only to subscribers, except the
    (member, partition) pairs in ``strays``."""
    flat = [tp for tpl in result.values() for tp in tpl]
    assert len(flat) == len(set(flat)), "a partition assigned twice"
    for member, assigned in result.items():
        for tp in assigned:
            assert tp[0] in subs[member] or (member, tp) in strays, (member, tp)
    if complete:
        subscribed = {t for s in subs.values() for t in s}
        assert set(flat) == {(t, p) for t in subscribed for p in range(ppt[t])}


def _full_assignment(strategy, subs, ppt, static, owned=None, generations=None):
    """One rebalance; for cooperative-sticky also the follow-ups it triggers while members
    revoke partitions (CooperativeStickyAssignorTest.verifyValidityAndBalance allows 4)."""
    owned = {m: tpl for m, tpl in (owned or {}).items() if m in subs}  # leavers revoke nothing
    result = assign(strategy, subs, ppt, owned, static, generations)
    generation = max((generations or {}).values(), default=0)
    for _ in range(4):
        if strategy != "cooperative-sticky" or not partitions_transferring(owned, result):
            return result
        added = {tp for m, tpl in result.items() for tp in set(tpl) - set(owned.get(m, ()))}
        revoked = {tp for tpl in partitions_transferring(owned, result).values() for tp in tpl}
        assert not added & revoked, "revoked and reassigned in the same rebalance"
        generation += 1
        owned = result
        result = assign(strategy, subs, ppt, owned, static, {m: generation for m in subs})
    assert not partitions_transferring(owned, result), "still revoking after 4 follow-ups"
    return result


def _kafka_strays(subs, owned, generations):
    """(member, partition) pairs Kafka's general path may hand to a non-subscriber: partitions
    the member owned at a generation older than the group's newest (GeneralAssignmentBuilder
    .performReassignments moves a partition back to its prevAssignment owner unchecked)."""
    newest = max(generations.values(), default=-1)
    return {
        (m, tp)
        for m, tpl in owned.items()
        for tp in tpl
        if m in subs and tp[0] not in subs[m] and generations.get(m, -1) < newest
    }


@settings(max_examples=150, deadline=None)
@given(groups(), st.sampled_from(["range", "roundrobin", *STICKY_KINDS]))
def test_every_subscribed_partition_assigned_once_to_a_subscriber(group, strategy):
    ppt, subs, static = group
    result = _full_assignment(strategy, subs, ppt, static)
    assert set(result) == set(subs)
    _assert_valid(subs, ppt, result)


@settings(max_examples=150, deadline=None)
@given(groups(), groups(), st.sampled_from(STICKY_KINDS), st.data())
def test_sticky_valid_from_any_previous_generation(start, nxt, strategy, data):
    # previous assignment from another membership/subscription, mixed (stale) generations
    ppt, subs0, static0 = start
    _, subs1, static1 = nxt
    previous = assign("roundrobin", subs0, ppt, static_ids=static0)
    owned = {m: previous[m] for m in subs1 if m in previous}
    generations = {m: data.draw(st.integers(-1, 3)) for m in subs1}
    result = _full_assignment(strategy, subs1, ppt, static1, owned, generations)
    # a stray makes its consumer rejoin (cooperative: it keeps it, having owned it already)
    _assert_valid(subs1, ppt, result, strays=_kafka_strays(subs1, owned, generations))


@settings(max_examples=150, deadline=None)
@given(groups(equal=True), st.sampled_from(["range", "roundrobin", *STICKY_KINDS]))
def test_balanced_within_one_when_subscriptions_equal(group, strategy):
    ppt, subs, static = group
    result = _full_assignment(strategy, subs, ppt, static)
    if strategy == "range":  # range balances each topic, not the total
        for topic in next(iter(subs.values())):
            counts = [sum(t == topic for t, _ in v) for v in result.values()]
            assert max(counts) - min(counts) <= 1
    else:
        assert is_fully_balanced(result)


@settings(max_examples=150, deadline=None)
@given(groups(equal=True), st.sampled_from(STICKY_KINDS), st.data())
def test_sticky_keeps_partitions_of_remaining_members(group, strategy, data):
    # from a balanced assignment: the same members keep everything; after one member leaves,
    # every remaining member keeps all it owned
    ppt, subs, static = group
    balanced = _full_assignment(strategy, subs, ppt, static)
    gens = {m: 1 for m in subs}
    assert assign(strategy, subs, ppt, balanced, static, gens) == balanced
    leaver = data.draw(st.sampled_from(sorted(subs)))
    rest = {m: t for m, t in subs.items() if m != leaver}
    after = _full_assignment(strategy, rest, ppt, static, balanced, gens)
    for member in rest:
        assert set(balanced[member]) <= set(after[member])
    _assert_valid(rest, ppt, after)


@settings(max_examples=150, deadline=None)
@given(groups(), groups())
def test_cooperative_first_round_withholds_moves(start, nxt):
    # CooperativeStickyAssignor.adjustAssignment: the first round is the eager sticky result
    # minus every partition that another member still owns and must first revoke
    ppt, subs0, _ = start
    _, subs1, static = nxt
    owned = {m: v for m, v in assign("sticky", subs0, ppt).items() if m in subs1}
    gens = {m: 1 for m in owned}
    first = assign("cooperative-sticky", subs1, ppt, owned, static, gens)
    eager = assign("sticky", subs1, ppt, owned, static, gens)
    previous_owner = {tp: m for m, tpl in owned.items() for tp in tpl}
    for member, assigned in first.items():
        assert set(assigned) <= set(eager[member])
        withheld = set(eager[member]) - set(assigned)
        assert all(previous_owner.get(tp, member) != member for tp in withheld)
        assert all(previous_owner.get(tp, member) == member for tp in assigned)


@settings(max_examples=150, deadline=None)
@given(groups(equal=True), groups(equal=True))
def test_cooperative_second_round_completes_when_subscriptions_equal(start, nxt):
    # constrained path: feeding the first round back as owned hands over every withheld
    # partition and revokes nothing more
    ppt, subs0, _ = start
    _, subs1, static = nxt
    topics = next(iter(subs1.values()))
    subs0 = {m: topics for m in subs0}
    owned = {m: v for m, v in assign("sticky", subs0, ppt).items() if m in subs1}
    first = assign("cooperative-sticky", subs1, ppt, owned, static, {m: 1 for m in owned})
    second = assign("cooperative-sticky", subs1, ppt, first, static, {m: 2 for m in subs1})
    assert partitions_transferring(first, second) == {}
    _assert_valid(subs1, ppt, second)
    assert is_fully_balanced(second)


def test_cooperative_may_need_a_third_round_when_subscriptions_differ():
    # Found by the property above, traced through GeneralAssignmentBuilder by hand: round 2 gives
    # ta-2 to m0 (tie broken by id in sortedCurrentSubscriptions), then balances tb by moving tb-1
    # off m0, so round 2 revokes again. Kafka's own CooperativeStickyAssignorTest allows 4 rounds.
    subs = {"m0": ["ta", "tb"], "m1": ["tb"], "m2": ["ta"]}
    ppt = {"ta": 3, "tb": 3}
    owned = {"m0": tps("tb-0, tb-1, tb-2"), "m1": tps("ta-0, ta-1, ta-2")}
    first = assign("cooperative-sticky", subs, ppt, owned, generations={"m0": 1, "m1": 1})
    assert first == {"m0": tps("tb-1, tb-2"), "m1": [], "m2": []}
    second = assign("cooperative-sticky", subs, ppt, first, generations=dict.fromkeys(subs, 2))
    assert partitions_transferring(first, second) == {"m0": tps("tb-1")}
    third = assign("cooperative-sticky", subs, ppt, second, generations=dict.fromkeys(subs, 3))
    assert partitions_transferring(second, third) == {}
    assert third == {"m0": tps("ta-2, tb-2"), "m1": tps("tb-0, tb-1"), "m2": tps("ta-0, ta-1")}


def test_sticky_general_path_returns_partition_to_stale_owner_unsubscribed():
    # Kafka 3.9 GeneralAssignmentBuilder.performReassignments moves a partition to its
    # prevAssignment owner (an older generation) without checking that owner's subscription:
    # m0 owned tb-0..2 at generation 0, now subscribes to ta only, and gets tb-0 back. The
    # consumer then rejoins (ConsumerCoordinator.onJoinComplete:
    # checkAssignmentMatchedSubscription).
    subs = {"m0": ["ta"], "m1": ["ta", "tb"], "m2": ["ta", "tb"]}
    owned = {"m0": tps("tb-0, tb-1, tb-2"), "m2": tps("ta-0")}
    result = assign(
        "sticky", subs, {"ta": 1, "tb": 3}, owned, generations={"m0": 0, "m1": 0, "m2": 1}
    )
    assert ("tb", 0) in result["m0"]
    _assert_valid(subs, {"ta": 1, "tb": 3}, result, strays={("m0", ("tb", 0))})
