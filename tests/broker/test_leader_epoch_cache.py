"""The leader-epoch cache of a partition log (Kafka 3.9's LeaderEpochFileCache: ``assign`` and
``endOffsetFor``), cases ported from core/src/test/scala/unit/kafka/server/epoch/
LeaderEpochFileCacheTest.scala, and a new leader's epoch entry (Partition.makeLeader)."""

from __future__ import annotations

from sim.broker.log import PartitionLog, end_offset_for
from sim.broker.partition import Partition

UNDEFINED = (-1, -1)  # (UNDEFINED_EPOCH, UNDEFINED_EPOCH_OFFSET)
TP = ("t", 0)


def _log() -> PartitionLog:
    return PartitionLog(TP, segment_bytes=1 << 30, segment_s=1e9, retention_s=-1.0,
                        retention_bytes=-1, max_message_bytes=1048588)  # fmt: skip


def _cache(*entries: tuple[int, int]) -> PartitionLog:
    """A log whose epoch cache had ``entries`` (epoch, start offset) assigned in order."""
    log = _log()
    for epoch, start in entries:
        log.assign_epoch(epoch, start)
    return log


def _end(log: PartitionLog, epoch: int, log_end_offset: int) -> tuple[int, int]:
    return end_offset_for(log.epochs, epoch, log_end_offset)


def test_latest_epoch_ends_at_the_log_end_offset():
    # shouldAddEpochAndMessageOffsetToCache, shouldReturnLogEndOffsetIfLatestEpochRequested
    assert _end(_cache((2, 10)), 2, 11) == (2, 11)
    assert _end(_cache((2, 11), (2, 12)), 2, 14) == (2, 14)


def test_undefined_epoch_or_empty_cache_is_undefined():
    # shouldReturnUndefinedOffsetIfUndefinedEpochRequested,
    # shouldReturnUnsupportedIfNoEpochRecorded,
    # shouldReturnUnsupportedIfNoEpochRecordedAndUndefinedEpochRequested
    assert _end(_cache((2, 11), (3, 12)), -1, 0) == UNDEFINED
    assert _end(_cache(), 0, 0) == UNDEFINED
    assert _end(_cache(), -1, 73) == UNDEFINED


def test_an_epoch_older_than_the_first_ends_at_the_first_epochs_start():
    # shouldReturnFirstEpochIfRequestedEpochLessThanFirstEpoch: the requested epoch itself,
    # with the start offset of the first known epoch
    assert _end(_cache((5, 11), (6, 12), (7, 13)), 4, 0) == (4, 11)


def test_an_epoch_between_known_ones_answers_the_floor_epoch_and_the_next_start():
    # shouldGetFirstOffsetOfSubsequentEpochWhenOffsetRequestedForPreviousEpoch
    log = _cache((1, 11), (1, 12), (2, 13), (2, 14), (3, 15), (3, 16))
    assert _end(log, 2, 17) == (2, 15)
    # shouldReturnNextAvailableEpochIfThereIsNoExactEpochForTheOneRequested
    log = _cache((0, 10), (2, 13), (4, 17))
    assert _end(log, 1, 0) == (0, 13)
    assert _end(log, 2, 0) == (2, 17)
    assert _end(log, 3, 0) == (2, 17)


def test_an_epoch_later_than_the_latest_is_undefined():
    # shouldReturnInvalidOffsetIfEpochIsRequestedWhichIsNotCurrentlyTracked
    assert _end(_cache((2, 100)), 3, 100) == UNDEFINED


def test_assign_keeps_epochs_and_start_offsets_increasing():
    # shouldNotOverwriteLogEndOffsetForALeaderEpochOnceItHasBeenAssigned
    assert _cache((2, 9), (2, 10)).epochs == [(2, 9)]
    # shouldEnforceMonotonicallyIncreasingStartOffsets
    assert _cache((2, 9), (3, 9)).epochs == [(3, 9)]
    # shouldEnforceOffsetsIncreaseMonotonically
    assert _cache((2, 6), (3, 5)).epochs == [(3, 5)]
    # shouldTruncateIfMatchingEpochButEarlierStartingOffset
    log = _cache((5, 11), (6, 12), (7, 13), (7, 12))
    assert _end(log, 5, 0) == (5, 12)
    assert _end(log, 6, 0) == (5, 12)


def test_an_older_epoch_assigned_drops_the_later_ones():
    # shouldEnforceMonotonicallyIncreasingEpochs
    log = _cache((1, 5), (2, 6), (1, 7))
    assert log.epochs == [(1, 7)]
    assert _end(log, 1, 8) == (1, 8)
    assert _end(log, 2, 8) == UNDEFINED


def test_epochs_tracked_as_leaders_change_many_times():
    # shouldIncreaseAndTrackEpochsAsLeadersChangeManyTimes
    log = _cache((0, 0), (1, 0))
    assert log.latest_epoch == 1
    assert _end(log, 1, 0) == (1, 0)
    assert _end(log, 0, 0) == (0, 0)
    assert _end(log, 1, 5) == (1, 5)
    log.assign_epoch(2, 5)
    assert _end(log, 2, 10) == (2, 10)
    assert _end(log, 1, 10) == (1, 5)
    assert _end(log, 0, 10) == (0, 0)


def test_a_new_leader_caches_its_epoch_at_its_log_end():
    """Partition.makeLeader (maybeAssignEpochStartOffset): a follower whose last batch is of an
    epoch later than any of the new leader's batches (successive elections) still finds where
    the leader's log ends for it, rather than an undefined answer."""
    log = _cache((3, 0))
    log.log_end_offset = 40  # as if 40 records of epoch 3 were appended
    partition = Partition(
        TP, 0, log, [0, 1], min_insync_replicas=1, lag_max_s=30.0, alive_brokers={0, 1}
    )
    partition.make_leader(6, [0, 1], 1, 0.0)
    assert log.epochs == [(3, 0), (6, 40)]
    assert log.end_offset_for_epoch(5) == (3, 40)
    assert log.end_offset_for_epoch(6) == (6, 40)
