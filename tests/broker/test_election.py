"""Tests for sim.broker.election: Kafka 3.9 PartitionLeaderElectionAlgorithmsTest, all 13 cases
(core/src/test/scala/unit/kafka/controller/PartitionLeaderElectionAlgorithmsTest.scala)."""

from __future__ import annotations

import pytest

from sim.broker.election import (
    UnknownElectionKindError,
    elect_leader,
    is_unclean,
    isr_after_election,
)


@pytest.mark.parametrize(
    ("kind", "assignment", "isr", "live", "unclean", "shutting_down", "expected"),
    [
        # testOfflinePartitionLeaderElection
        ("offline", [2, 4], [2, 4], {4}, False, (), 4),
        # testOfflinePartitionLeaderElectionLastIsrOfflineUncleanLeaderElectionDisabled
        ("offline", [2, 4], [2], {4}, False, (), None),
        # testOfflinePartitionLeaderElectionLastIsrOfflineUncleanLeaderElectionEnabled
        ("offline", [2, 4], [2], {4}, True, (), 4),
        # testReassignPartitionLeaderElection
        ("reassign", [2, 4], [2, 4], {4}, False, (), 4),
        # testReassignPartitionLeaderElectionWithNoLiveIsr
        ("reassign", [2, 4], [2], set(), False, (), None),
        # testReassignPartitionLeaderElectionWithEmptyIsr
        ("reassign", [2, 4], [], {2}, False, (), None),
        # testPreferredReplicaPartitionLeaderElection
        ("preferred", [2, 4], [2, 4], {2, 4}, False, (), 2),
        # testPreferredReplicaPartitionLeaderElectionPreferredReplicaInIsrNotLive
        ("preferred", [2, 4], [2], set(), False, (), None),
        # testPreferredReplicaPartitionLeaderElectionPreferredReplicaNotInIsrLive
        ("preferred", [2, 4], [4], {2, 4}, False, (), None),
        # testPreferredReplicaPartitionLeaderElectionPreferredReplicaNotInIsrNotLive
        ("preferred", [2, 4], [], set(), False, (), None),
        # testControlledShutdownPartitionLeaderElection
        ("controlled_shutdown", [2, 4], [2, 4], {2, 4}, False, {2}, 4),
        # testControlledShutdownPartitionLeaderElectionLastIsrShuttingDown
        ("controlled_shutdown", [2, 4], [2], {2, 4}, False, {2}, None),
        # testControlledShutdownPartitionLeaderElectionAllIsrSimultaneouslyShutdown
        ("controlled_shutdown", [2, 4], [2, 4], {2, 4}, False, {2, 4}, None),
    ],
)
def test_kafka_election_cases(kind, assignment, isr, live, unclean, shutting_down, expected):
    assert elect_leader(kind, assignment, isr, live, unclean, shutting_down) == expected


def test_unclean_counted_only_for_the_unclean_case() -> None:
    # The same two offline cases assert UncleanLeaderElectionsPerSec 0 and 1.
    assert not is_unclean(elect_leader("offline", [2, 4], [2], {4}), [2])
    assert is_unclean(elect_leader("offline", [2, 4], [2], {4}, unclean=True), [2])
    assert not is_unclean(elect_leader("offline", [2, 4], [2, 4], {4}), [2, 4])


def test_assignment_order_decides_not_isr_order() -> None:
    assert elect_leader("offline", [3, 1, 2], [2, 1, 3], {1, 2}) == 1
    assert elect_leader("offline", [3, 1, 2], [3], {2, 1}, unclean=True) == 1


def test_unclean_flag_and_shutting_down_only_apply_to_their_kind() -> None:
    assert elect_leader("reassign", [2, 4], [2], {4}, unclean=True) is None
    assert elect_leader("offline", [2, 4], [2, 4], {2, 4}, shutting_down={2}) == 2


def test_unknown_kind_is_value_error() -> None:
    with pytest.raises(UnknownElectionKindError, match="kind must be one of"):
        elect_leader("clean", [1], [1], {1})
    with pytest.raises(ValueError, match="controlled_shutdown"):
        isr_after_election("fast", 1, [1], {1})


@pytest.mark.parametrize(
    ("kind", "leader", "isr", "live", "shutting_down", "expected"),
    [
        # Election.leaderForOffline: live ISR members, or [leader] when unclean.
        ("offline", 4, [2, 4, 5], {4, 5}, (), [4, 5]),
        ("offline", 4, [2], {4}, (), [4]),
        # Election.leaderForControlledShutdown: ISR minus shutting-down brokers.
        ("controlled_shutdown", 4, [2, 4], {2, 4}, {2}, [4]),
        # Election.leaderForReassign / leaderForPreferredReplica: ISR unchanged.
        ("reassign", 4, [2, 4], {4}, (), [2, 4]),
        ("preferred", 2, [4, 2], {2, 4}, (), [4, 2]),
    ],
)
def test_isr_after_election(kind, leader, isr, live, shutting_down, expected):
    assert isr_after_election(kind, leader, isr, live, shutting_down) == expected
