"""Tests for sim.broker.placement against Kafka 3.9 AdminRackAwareTest
(core/src/test/scala/unit/kafka/admin/AdminRackAwareTest.scala) and its RackAwareTest checks."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sim.broker.placement import (
    AdminOperationError,
    InvalidPartitionsError,
    InvalidReplicationFactorError,
    PlacementArgumentError,
    assign_replicas,
    get_rack_alternated_broker_list,
)

RACKS_6 = {0: "rack1", 1: "rack2", 2: "rack2", 3: "rack3", 4: "rack3", 5: "rack1"}


def check_replica_distribution(
    assignment: dict[int, list[int]],
    racks: dict[int, str],
    num_brokers: int,
    num_partitions: int,
    rf: int,
    *,
    rack_aware: bool = True,
    leaders: bool = True,
    replicas: bool = True,
) -> None:
    """RackAwareTest.checkReplicaDistribution."""
    for brokers in assignment.values():
        assert len(set(brokers)) == len(brokers)
    if rack_aware:
        assert [len({racks[b] for b in bs}) for bs in assignment.values()] == [rf] * num_partitions
    if leaders:
        counts = Counter(bs[0] for bs in assignment.values())
        assert sorted(counts.values()) == [num_partitions // num_brokers] * num_brokers
    if replicas:
        counts = Counter(b for bs in assignment.values() for b in bs)
        assert sorted(counts.values()) == [num_partitions * rf // num_brokers] * num_brokers


def test_replica_assignment_rack_unaware() -> None:
    # AdminRackAwareTest.testReplicaAssignment (assignReplicasToBrokers(brokers, 10, 3, 0, -1))
    expected = {
        0: [0, 1, 2],
        1: [1, 2, 3],
        2: [2, 3, 4],
        3: [3, 4, 0],
        4: [4, 0, 1],
        5: [0, 2, 3],
        6: [1, 3, 4],
        7: [2, 4, 0],
        8: [3, 0, 1],
        9: [4, 1, 2],
    }
    assert assign_replicas(range(5), 10, 3, start_index=0) == expected
    with pytest.raises(InvalidReplicationFactorError):
        assign_replicas(range(5), 10, 0)
    with pytest.raises(InvalidReplicationFactorError, match="larger than available brokers"):
        assign_replicas(range(5), 10, 6)


def test_rack_alternated_list_and_assignment() -> None:
    # AdminRackAwareTest.testGetRackAlternatedBrokerListAndAssignReplicasToBrokers
    racks = {0: "rack1", 1: "rack3", 2: "rack3", 3: "rack2", 4: "rack2", 5: "rack1"}
    assert get_rack_alternated_broker_list(racks) == [0, 3, 1, 5, 4, 2]
    without_5 = {b: r for b, r in racks.items() if b != 5}
    assert get_rack_alternated_broker_list(without_5) == [0, 3, 1, 4, 2]
    expected = {
        0: [0, 3, 1],
        1: [3, 1, 5],
        2: [1, 5, 4],
        3: [5, 4, 2],
        4: [4, 2, 0],
        5: [2, 0, 3],
        6: [0, 4, 2],
    }
    assert assign_replicas(sorted(racks), 7, 3, start_index=0, racks=racks) == expected


def test_assignment_with_rack_aware() -> None:
    # AdminRackAwareTest.testAssignmentWithRackAware (fixed start index 2)
    assignment = assign_replicas(range(6), 6, 3, start_index=2, racks=RACKS_6)
    check_replica_distribution(assignment, RACKS_6, 6, 6, 3)


@pytest.mark.parametrize("seed", range(5))
def test_assignment_with_rack_aware_random_start_index(seed: int) -> None:
    # AdminRackAwareTest.testAssignmentWithRackAwareWithRandomStartIndex
    rng = np.random.default_rng(seed)
    assignment = assign_replicas(range(6), 6, 3, start_index=None, racks=RACKS_6, rng=rng)
    check_replica_distribution(assignment, RACKS_6, 6, 6, 3)


def test_assignment_with_rack_aware_uneven_replicas() -> None:
    # AdminRackAwareTest.testAssignmentWithRackAwareWithUnevenReplicas
    assignment = assign_replicas(range(6), 13, 3, start_index=0, racks=RACKS_6)
    check_replica_distribution(assignment, RACKS_6, 6, 13, 3, leaders=False, replicas=False)


@pytest.mark.parametrize(
    ("racks", "partitions", "rf", "checks", "first_id"),
    [
        # testAssignmentWithRackAwareWithUnevenRacks
        (
            {0: "rack1", 1: "rack1", 2: "rack2", 3: "rack3", 4: "rack3", 5: "rack1"},
            12,
            3,
            {"replicas": False},
            0,
        ),
        # testAssignmentWith2ReplicasRackAware
        (RACKS_6, 12, 2, {}, 0),
        # testRackAwareExpansion (startPartitionId 12)
        (
            {6: "rack1", 7: "rack2", 8: "rack2", 9: "rack3", 10: "rack3", 11: "rack1"},
            12,
            2,
            {},
            12,
        ),
        # testAssignmentWith2ReplicasRackAwareWith6Partitions
        (RACKS_6, 6, 2, {}, 0),
        # testAssignmentWith2ReplicasRackAwareWith6PartitionsAnd3Brokers
        ({0: "rack1", 1: "rack2", 4: "rack3"}, 3, 2, {}, 0),
        # testLargeNumberPartitionsAssignment
        (
            {**RACKS_6, 6: "rack1", 7: "rack2", 8: "rack2", 9: "rack3", 10: "rack1", 11: "rack3"},
            96,
            3,
            {},
            0,
        ),
    ],
)
@pytest.mark.parametrize("seed", range(3))
def test_rack_aware_distribution_random_start(racks, partitions, rf, checks, first_id, seed):
    rng = np.random.default_rng(seed)
    brokers = sorted(racks)
    assignment = assign_replicas(
        brokers, partitions, rf, None, racks=racks, rng=rng, start_partition_id=first_id
    )
    assert sorted(assignment) == list(range(first_id, first_id + partitions))
    check_replica_distribution(assignment, racks, len(brokers), partitions, rf, **checks)


@pytest.mark.parametrize(("rf", "racks_per_partition"), [(5, 3), (2, 2)])
def test_more_or_less_replicas_than_racks(rf: int, racks_per_partition: int) -> None:
    # AdminRackAwareTest.testMoreReplicasThanRacks / testLessReplicasThanRacks
    racks = {0: "rack1", 1: "rack2", 2: "rack2", 3: "rack3", 4: "rack3", 5: "rack2"}
    assignment = assign_replicas(range(6), 6, rf, None, racks=racks, rng=np.random.default_rng(1))
    assert [len(bs) for bs in assignment.values()] == [rf] * 6
    assert [len({racks[b] for b in bs}) for bs in assignment.values()] == [racks_per_partition] * 6


def test_single_rack() -> None:
    # AdminRackAwareTest.testSingleRack
    racks = dict.fromkeys(range(6), "rack1")
    assignment = assign_replicas(range(6), 6, 3, None, racks=racks, rng=np.random.default_rng(2))
    assert [len(bs) for bs in assignment.values()] == [3] * 6
    assert Counter(bs[0] for bs in assignment.values()) == dict.fromkeys(range(6), 1)


def test_skip_broker_with_replica_already_assigned() -> None:
    # AdminRackAwareTest.testSkipBrokerWithReplicaAlreadyAssigned (fixed start index 2)
    racks = {0: "a", 1: "b", 2: "c", 3: "a", 4: "a"}
    assignment = assign_replicas(range(5), 6, 4, start_index=2, racks=racks)
    check_replica_distribution(
        assignment, racks, 5, 6, 4, rack_aware=False, leaders=False, replicas=False
    )
    assert all(len(bs) == 4 for bs in assignment.values())


def test_invalid_parameters() -> None:
    # AdminRackAwareTest.testAssignReplicasToBrokersWithInvalidParameters
    racks = {0: "rack1", 1: "rack3", 2: "rack3", 3: "rack2", 4: None}
    rng = np.random.default_rng(0)
    with pytest.raises(InvalidPartitionsError, match="partitions"):
        assign_replicas(range(5), 0, 0, None, racks=racks, rng=rng)
    with pytest.raises(InvalidReplicationFactorError):
        assign_replicas(range(5), 10, 0, None, racks=racks, rng=rng)
    with pytest.raises(InvalidReplicationFactorError):
        assign_replicas(range(5), 10, 6, None, racks=racks, rng=rng)
    with pytest.raises(AdminOperationError, match=r"missing \[4\]"):
        assign_replicas(range(5), 10, 5, None, racks=racks, rng=rng)


def test_kafka_javadoc_example_and_shift() -> None:
    # AdminUtils javadoc table: 5 brokers, 10 partitions, RF 3, start index 0 (p5's followers
    # shift by one more), and an explicit replica_shift different from start_index.
    assignment = assign_replicas(range(5), 10, 3, start_index=0)
    assert [bs[0] for bs in assignment.values()] == [0, 1, 2, 3, 4, 0, 1, 2, 3, 4]
    assert assignment[0][1] == 1
    assert assignment[5][1] == 2
    shifted = assign_replicas(range(5), 2, 3, start_index=0, replica_shift=1)
    assert shifted == {0: [0, 2, 3], 1: [1, 3, 4]}


def test_random_choices_need_rng_and_use_it() -> None:
    with pytest.raises(PlacementArgumentError, match="rng"):
        assign_replicas(range(3), 3, 2, start_index=None)
    with pytest.raises(PlacementArgumentError, match="start_index"):
        assign_replicas(range(3), 3, 2, start_index=-1)
    draws = {
        tuple(assign_replicas(range(5), 1, 2, None, rng=np.random.default_rng(s))[0])
        for s in range(30)
    }
    assert len(draws) > 5


def test_broker_ids_not_positions() -> None:
    assert assign_replicas([10, 20, 30], 3, 2) == {0: [10, 20], 1: [20, 30], 2: [30, 10]}


@given(
    n_brokers=st.integers(1, 12),
    rf=st.integers(1, 12),
    multiple=st.integers(1, 6),
    start=st.integers(0, 30),
    shift=st.integers(0, 30),
    with_racks=st.booleans(),
    n_racks=st.integers(1, 4),
)
@settings(deadline=None, max_examples=150)
def test_placement_properties(n_brokers, rf, multiple, start, shift, with_racks, n_racks):
    rf = min(rf, n_brokers)
    partitions = multiple * n_brokers
    racks = {b: f"r{b % n_racks}" for b in range(n_brokers)} if with_racks else None
    assignment = assign_replicas(
        range(n_brokers), partitions, rf, start_index=start, replica_shift=shift, racks=racks
    )
    assert sorted(assignment) == list(range(partitions))
    for replicas in assignment.values():
        assert len(replicas) == rf
        assert len(set(replicas)) == rf
    leaders = Counter(replicas[0] for replicas in assignment.values())
    assert leaders == dict.fromkeys(range(n_brokers), multiple)
