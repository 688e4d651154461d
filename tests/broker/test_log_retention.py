"""Segments and retention of a partition log (Kafka 3.9's UnifiedLog.deleteOldSegments, the
log start offset, LeaderEpochFileCache.truncateFromStart). Cases ported from
core/src/test/scala/unit/kafka/log/UnifiedLogTest.scala and
core/src/test/scala/unit/kafka/server/epoch/LeaderEpochFileCacheTest.scala (test named on each):
a Kafka "record" there is a one-record batch here, of SIZE bytes, and a timestamp is the append
time in seconds."""

from __future__ import annotations

import pytest

from sim.broker.log import PartitionLog, truncate_epochs_from_start
from sim.protocol import LogEntry, RecordBatch

TP = ("t", 0)
SIZE = 100  # bytes of each batch
_ids = iter(range(1_000_000))


def _log(
    segment_batches: int = 5,
    retention_s: float = -1.0,
    retention_bytes: int = -1,
    segment_s: float = 1e9,
) -> PartitionLog:
    return PartitionLog(
        TP,
        segment_bytes=SIZE * segment_batches,
        segment_s=segment_s,
        retention_s=retention_s,
        retention_bytes=retention_bytes,
        max_message_bytes=1 << 20,
    )


def _batch() -> RecordBatch:
    return RecordBatch(next(_ids), TP[0], TP[1], -1, -1, 1, SIZE, 0.0, 0.0)


def _fill(log: PartitionLog, n: int, at_s: float = 0.0, epoch: int = 0) -> None:
    """Append ``n`` one-record batches as leader at time ``at_s``."""
    for _ in range(n):
        log.append_as_leader(_batch(), epoch, at_s)


def _segment_bases(log: PartitionLog) -> list[int]:
    return [s.base_offset for s in log._segments]


def test_segments_roll_at_segment_bytes():
    log = _log(segment_batches=5)
    _fill(log, 15)
    assert _segment_bases(log) == [0, 5, 10]


def test_segments_roll_when_a_batch_is_segment_ms_newer_than_the_first():
    # LogSegment.shouldRoll: the batch's timestamp minus the segment's first is over segment.ms
    log = _log(segment_batches=1000, segment_s=10.0)
    _fill(log, 2, at_s=0.0)
    _fill(log, 1, at_s=10.0)  # exactly segment.ms: no roll
    _fill(log, 1, at_s=10.5)
    assert _segment_bases(log) == [0, 3]


def test_size_retention_deletes_the_oldest_segments():
    # shouldDeleteSizeBasedSegments: 3 segments of 5, retention.bytes of 10 -> 2 remain
    log = _log(retention_bytes=SIZE * 10)
    _fill(log, 15)
    log.high_watermark = log.log_end_offset
    assert log.delete_old_segments(now=0.0) == 1
    assert _segment_bases(log) == [5, 10]
    assert log.log_start_offset == 5
    assert log.size_bytes == SIZE * 10


def test_size_retention_keeps_a_log_under_its_limit():
    # shouldNotDeleteSizeBasedSegmentsWhenUnderRetentionSize
    log = _log(retention_bytes=SIZE * 15)
    _fill(log, 15)
    log.high_watermark = log.log_end_offset
    assert log.delete_old_segments(now=0.0) == 0
    assert log.log_start_offset == 0


def test_time_retention_deletes_every_expired_segment_the_active_one_too():
    # shouldDeleteTimeBasedSegmentsReadyToBeDeleted: all three go (Kafka rolls an empty active
    # segment first); the log continues at its end offset
    log = _log(retention_s=10.0)
    _fill(log, 15, at_s=0.01)
    log.high_watermark = log.log_end_offset
    assert log.delete_old_segments(now=10.02) == 3
    assert log.log_start_offset == log.log_end_offset == 15
    assert log.retained_entries() == []
    assert log.size_bytes == 0
    _fill(log, 1, at_s=11.0)
    assert _segment_bases(log) == [15]
    assert log.read(15, 1 << 20, 16)[0][0].base_offset == 15


def test_time_retention_keeps_segments_not_yet_expired():
    # shouldNotDeleteTimeBasedSegmentsWhenNoneReadyToBeDeleted
    log = _log(retention_s=10.0)
    _fill(log, 15, at_s=5.0)
    log.high_watermark = log.log_end_offset
    assert log.delete_old_segments(now=15.0) == 0  # 10 s old: not more than retention.ms


def test_time_retention_goes_by_a_segments_newest_batch_and_keeps_the_active_one():
    log = _log(retention_s=10.0)
    _fill(log, 5, at_s=0.0)  # segment [0, 5)
    _fill(log, 4, at_s=1.0)
    _fill(log, 1, at_s=20.0)  # segment [5, 10): its newest batch is recent
    _fill(log, 2, at_s=21.0)  # the active segment [10, 12)
    log.high_watermark = log.log_end_offset
    assert log.delete_old_segments(now=25.0) == 1
    assert _segment_bases(log) == [5, 10]
    assert log.log_start_offset == 5


def test_only_segments_below_the_high_watermark_are_deleted():
    # testDeleteOldSegments: nothing without a HW; then the log start never passes the HW
    log = _log(retention_s=0.999)
    _fill(log, 100, at_s=0.0)
    log.assign_epoch(0, 40)
    log.assign_epoch(1, 90)
    assert log.delete_old_segments(now=1.0) == 0
    assert log.log_start_offset == 0
    for hw in range(25, 31):
        log.high_watermark = hw
        log.delete_old_segments(now=1.0)
        assert log.log_start_offset == hw // 5 * 5
        ends = [*_segment_bases(log)[1:], log.log_end_offset]
        assert all(end - 1 >= hw for end in ends)  # each segment's last offset
    log.high_watermark = log.log_end_offset
    log.delete_old_segments(now=1.0)
    assert log.log_start_offset == 100
    assert log.epochs == [(1, 100)]  # the latest epoch, at the log end


def test_segments_below_a_raised_log_start_offset_are_deleted():
    # testLogDeletionAfterDeleteRecords (the log start raised as a follower does, here with
    # cleanup.policy=delete and no retention limit)
    log = _log()
    _fill(log, 15)
    log.high_watermark = log.log_end_offset
    assert log.maybe_increment_log_start_offset(1)
    assert log.delete_old_segments(now=0.0) == 0
    assert (len(log._segments), log.log_start_offset) == (3, 1)
    assert [e.base_offset for e in log.retained_entries()][:1] == [1]
    log.maybe_increment_log_start_offset(6)
    assert log.delete_old_segments(now=0.0) == 1
    assert (len(log._segments), log.log_start_offset) == (2, 6)
    log.maybe_increment_log_start_offset(15)
    assert log.delete_old_segments(now=0.0) == 1  # the active segment has no next one
    assert (len(log._segments), log.log_start_offset) == (1, 15)
    assert log.retained_entries() == []


def test_the_log_start_offset_never_goes_back_or_past_the_high_watermark():
    log = _log()
    _fill(log, 10)
    log.high_watermark = 8
    assert log.maybe_increment_log_start_offset(5)
    assert not log.maybe_increment_log_start_offset(3)
    assert log.log_start_offset == 5
    with pytest.raises(AssertionError):
        log.maybe_increment_log_start_offset(9)


def test_deleting_segments_trims_the_epoch_cache():
    # shouldTruncateLeaderEpochsWhenDeletingSegments
    log = _log(retention_bytes=SIZE * 10)
    _fill(log, 15)
    log.epochs[:] = [(0, 0), (1, 5), (2, 10)]
    log.high_watermark = log.log_end_offset
    log.delete_old_segments(now=0.0)
    assert log.epochs == [(1, 5), (2, 10)]
    # shouldUpdateOffsetForLeaderEpochsWhenDeletingSegments
    log = _log(retention_bytes=SIZE * 10)
    _fill(log, 15)
    log.epochs[:] = [(0, 0), (1, 7), (2, 10)]
    log.high_watermark = log.log_end_offset
    log.delete_old_segments(now=0.0)
    assert log.epochs == [(0, 5), (1, 7), (2, 10)]


@pytest.mark.parametrize(
    ("start", "expected"),
    [
        (8, [(3, 8), (4, 11)]),  # shouldPreserveResetOffsetOnClearEarliestIfOneExists
        (9, [(3, 9), (4, 11)]),  # shouldUpdateSavedOffsetWhenOffsetToClearToIsBetweenEpochs
        (1, [(2, 6), (3, 8), (4, 11)]),  # shouldNotClearAnythingIfOffsetToEarly
        (6, [(2, 6), (3, 8), (4, 11)]),  # shouldNotClearAnythingIfOffsetToFirstOffset
        (11, [(4, 11)]),  # shouldRetainLatestEpochOnClearAllEarliest
        (15, [(4, 15)]),  # shouldRetainLatestEpochOnClearAllEarliestAndUpdateItsOffset
        (-1, [(2, 6), (3, 8), (4, 11)]),  # shouldNotResetEpochHistoryHeadIfUndefinedPassed
    ],
)
def test_truncate_epochs_from_start(start: int, expected: list[tuple[int, int]]):
    epochs = [(2, 6), (3, 8), (4, 11)]
    truncate_epochs_from_start(epochs, start)
    assert epochs == expected


def test_truncate_epochs_from_start_between_the_first_two():
    # shouldUpdateOffsetBetweenEpochBoundariesOnClearEarliest2, shouldClearEarliestOnEmptyCache
    epochs = [(0, 0), (1, 7), (2, 10)]
    truncate_epochs_from_start(epochs, 5)
    assert epochs == [(0, 5), (1, 7), (2, 10)]
    empty: list[tuple[int, int]] = []
    truncate_epochs_from_start(empty, 7)
    assert empty == []


def test_reads_below_the_log_start_offset_find_nothing():
    log = _log(retention_bytes=SIZE * 10)
    _fill(log, 15)
    log.high_watermark = log.log_end_offset
    log.delete_old_segments(now=0.0)
    assert log.entry_at(4) is None
    assert log.entry_at(5).base_offset == 5
    assert [e.base_offset for e in log.retained_entries()] == list(range(5, 15))


def test_truncation_below_the_first_segment_starts_the_log_over_there():
    # UnifiedLog.truncateTo: a target below the first segment's base -> truncateFullyAndStartAt
    log = _log(retention_bytes=SIZE * 10)
    _fill(log, 15)
    log.high_watermark = log.log_end_offset
    log.delete_old_segments(now=0.0)
    removed = log.truncate_to(3)
    assert len(removed) == 10
    assert (log.log_start_offset, log.log_end_offset, log.high_watermark) == (3, 3, 3)
    _fill(log, 1)
    assert log.retained_entries()[0].base_offset == 3


def test_truncation_above_the_log_start_keeps_it_and_the_segment_sizes():
    log = _log(retention_bytes=SIZE * 10)
    _fill(log, 15)
    log.high_watermark = log.log_end_offset
    log.delete_old_segments(now=0.0)
    log.truncate_to(12)
    assert (log.log_start_offset, log.log_end_offset) == (5, 12)
    assert log.size_bytes == sum(s.size_bytes for s in log._segments) == SIZE * 7


def test_producer_state_outlives_retention_through_a_truncation():
    # ProducerStateManager.onLogStartOffsetIncremented removes no producer; a truncation's
    # rebuild (from snapshots in Kafka) still knows a producer whose batches were deleted
    log = _log(retention_bytes=SIZE * 5)
    batch = RecordBatch(next(_ids), TP[0], TP[1], 9, 0, 1, SIZE, 0.0, 0.0, None, 3)
    log.append_as_leader(batch, 0, 0.0)
    _fill(log, 10)
    log.high_watermark = log.log_end_offset
    log.delete_old_segments(now=0.0)
    assert log.log_start_offset == 5
    log.truncate_to(7)
    assert log.producers[9].epoch == 3


def test_a_restart_holds_the_checkpointed_high_watermark_within_the_log():
    # UnifiedLog.updateHighWatermark
    log = _log(retention_bytes=SIZE * 10)
    _fill(log, 15)
    log.high_watermark = log.log_end_offset
    log.delete_old_segments(now=0.0)
    log.update_high_watermark(2)
    assert log.high_watermark == 5
    log.update_high_watermark(99)
    assert log.high_watermark == 15


def test_appending_after_retention_costs_no_segment_walk():
    # the segment list stays short: deleted segments leave it
    log = _log(retention_bytes=SIZE * 10)
    for _ in range(20):
        _fill(log, 5)
        log.high_watermark = log.log_end_offset
        log.delete_old_segments(now=0.0)
    assert len(log._segments) == 2


def test_follower_entries_keep_the_leaders_timestamps():
    follower = _log(retention_s=10.0)
    for offset in range(10):
        follower.append_as_follower(LogEntry(offset, 0, _batch(), 0.0 if offset < 5 else 30.0), 0)
    follower.high_watermark = 10
    # appended long after, but the first segment's batches carry the leader's time 0
    assert follower.delete_old_segments(now=35.0) == 1
    assert follower.log_start_offset == 5
