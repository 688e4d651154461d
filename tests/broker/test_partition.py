"""Partition (kafka.cluster.Partition and Replica, Kafka 3.9): a follower's state at a new
leader epoch (Replica.resetReplicaState) and the high watermark it allows."""

from __future__ import annotations

import pytest

from sim.broker.log import PartitionLog
from sim.broker.partition import NEVER_S, UNKNOWN_OFFSET, Partition
from sim.protocol import ACKS_ALL, Errors, RecordBatch

LAG_S = 30.0  # replica.lag.time.max.ms default, s
TP = ("t", 0)


def _partition(broker: int = 0) -> Partition:
    log = PartitionLog(TP, segment_bytes=1 << 30, segment_s=1e9, retention_s=-1.0,
                       retention_bytes=-1, max_message_bytes=1048588)  # fmt: skip
    return Partition(
        TP, broker, log, [0, 1, 2], min_insync_replicas=2, lag_max_s=LAG_S, alive_brokers={0, 1, 2}
    )


def _append(partition: Partition, count: int, now: float) -> None:
    batch = RecordBatch(
        batch_id=0, topic=TP[0], partition=TP[1], producer_id=-1, base_sequence=-1,
        count=count, size_bytes=100, first_arrival_s=now, mean_arrival_s=now, keys=None,
    )  # fmt: skip
    error, _, appended = partition.append_records_to_leader(batch, ACKS_ALL, now)
    assert appended, error


def test_a_follower_left_out_of_the_isr_does_not_hold_the_hw_early_in_a_run():
    """At 5 s (well within replica.lag.time.max.ms of the run's start) the controller makes
    broker 0 leader again with the ISR shrunk to [0, 1]: broker 2 was caught up 'never', not
    at time 0, so the HW follows broker 1 alone (Kafka writes 0 ms: decades ago)."""
    p = _partition()
    p.make_leader(0, [0, 1, 2], 0, now=0.0)
    for follower in (1, 2):
        p.update_follower_fetch_state(follower, 0, now=0.1)
    _append(p, 10, now=1.0)
    p.update_follower_fetch_state(1, 10, now=1.1)  # broker 2 is cut off: it never fetches
    assert p.log.high_watermark == 0  # the ISR still holds broker 2
    p.make_leader(1, [0, 1], 1, now=5.0)  # re-elected with the shrunk ISR
    _append(p, 5, now=5.1)
    p.update_follower_fetch_state(1, 15, now=5.2)
    assert p.log.high_watermark == 15


def test_resetting_a_follower_for_a_new_leader_forgets_it_and_for_a_reelected_one_keeps_its_leo():
    """Replica.resetReplicaState: a new leader knows nothing of its followers; a re-elected
    one keeps each follower's log end offset and takes its own LEO as their last fetch's; the
    last fetch is now for ISR members and never for the others."""
    p = _partition()
    p.make_leader(0, [0, 1, 2], 0, now=0.0)
    _append(p, 4, now=0.5)
    p.update_follower_fetch_state(1, 4, now=1.0)
    p.update_follower_fetch_state(2, 3, now=1.0)
    p.make_leader(1, [0, 1], 1, now=2.0)
    one, two = p.remote[1], p.remote[2]
    assert (one.log_end_offset, one.last_fetch_leader_leo, one.last_caught_up_s) == (4, 4, 2.0)
    assert one.last_fetch_s == 2.0
    assert (two.log_end_offset, two.last_caught_up_s, two.last_fetch_s) == (3, NEVER_S, NEVER_S)
    q = _partition(broker=1)
    q.make_follower(0, 0, 0)
    q.make_leader(1, [1, 2], 1, now=2.0)  # a follower elected: everything unknown
    for follower in (0, 2):
        state = q.remote[follower]
        assert state.log_end_offset == UNKNOWN_OFFSET == state.last_fetch_leader_leo
        assert state.last_fetch_s == NEVER_S
    assert q.remote[2].last_caught_up_s == 2.0 and q.remote[0].last_caught_up_s == NEVER_S


@pytest.mark.parametrize("now", [1.0, 100.0])
def test_a_follower_outside_the_isr_is_not_caught_up_by_its_reset(now):
    p = _partition()
    p.make_leader(3, [0, 1], 1, now=now)
    assert not p.remote[2].is_caught_up(leader_leo=10, now=now + 1.0, lag_max_s=LAG_S)
    assert p.remote[1].is_caught_up(leader_leo=10, now=now + 1.0, lag_max_s=LAG_S)


def test_a_follower_gone_from_the_metadata_cache_neither_joins_the_isr_nor_holds_the_hw():
    """Partition.isReplicaIsrEligible in ZooKeeper mode (hasAliveBroker), after PartitionTest
    .testIsrNotExpandedIfReplicaIsFencedOrShutdown and
    .testHighWatermarkIncreasesWithFencedOrShutdownFollower: broker 2, taken out of the ISR by
    its controlled shutdown, fetches once more. Still alive in the leader's metadata cache, it
    is proposed for the ISR (the controller refuses: INELIGIBLE_REPLICA) and, caught up, holds
    the HW (shouldWaitForReplicaToJoinIsr); once UpdateMetadata says it is gone, it does
    neither."""
    p = _partition()
    p.make_leader(0, [0, 1, 2], 0, now=0.0)
    _append(p, 10, now=0.5)
    for follower in (1, 2):
        p.update_follower_fetch_state(follower, 10, now=1.0)
    assert p.log.high_watermark == 10
    p.make_leader(1, [0, 1], 1, now=2.0)  # the controller took broker 2 out of the ISR
    p.update_follower_fetch_state(2, 10, now=2.1)  # a fetch it sent before it stopped
    assert p.pending_isr == [0, 1, 2]
    assert not p.apply_isr_change(Errors.INELIGIBLE_REPLICA, 1, [0, 1], 1, now=2.2)
    _append(p, 10, now=2.3)
    p.update_follower_fetch_state(1, 20, now=2.4)
    assert p.log.high_watermark == 10  # broker 2 caught up 0.3 s ago: waited for
    p.alive_brokers.discard(2)  # UpdateMetadata without broker 2
    p.update_follower_fetch_state(2, 10, now=2.5)
    assert p.pending_isr is None
    p.update_follower_fetch_state(1, 20, now=2.6)
    assert p.log.high_watermark == 20
