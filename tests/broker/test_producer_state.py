"""The leader's idempotent-producer checks with producer epochs (KIP-360): a broker keeps one
epoch per producer id, refuses an older one, requires a newer one to start at sequence 0, and
deduplicates only within one epoch. Cases ported from Kafka's tests (inputs and expected outputs;
the file and test name are cited on each)."""

from __future__ import annotations

from sim.broker.log import MAX_SEQUENCE, PartitionLog
from sim.protocol import Errors, LogEntry, RecordBatch

TP = ("t", 0)
PID = 7
_ids = iter(range(1_000_000))


def _log() -> PartitionLog:
    return PartitionLog(
        TP,
        segment_bytes=1 << 30,
        segment_s=1e9,
        retention_s=-1.0,
        retention_bytes=-1,
        max_message_bytes=1 << 20,
    )


def _batch(epoch: int, sequence: int, count: int = 1, producer_id: int = PID) -> RecordBatch:
    return RecordBatch(
        next(_ids), TP[0], TP[1], producer_id, sequence, count, 100, 0.0, 0.0, None, epoch
    )


def _append(log: PartitionLog, epoch: int, sequence: int, count: int = 1) -> tuple[Errors, int]:
    """A client append as a leader does it: check, then append when accepted; returns the
    check's (error, duplicate offset), the offset appended at in place of -1 when appended."""
    batch = _batch(epoch, sequence, count)
    error, duplicate = log.check_producer(batch)
    if error is Errors.NONE and duplicate < 0:
        return error, log.append_as_leader(batch, 0, 0.0).base_offset
    return error, duplicate


def test_basic_id_mapping_with_epoch_change() -> None:
    # ProducerStateManagerTest.testBasicIdMapping (storage/src/test/java/.../log/)
    log = _log()
    assert _append(log, 0, 0) == (Errors.NONE, 0)
    assert _append(log, 0, 1) == (Errors.NONE, 1)
    # a sequence beyond the next one
    assert _append(log, 0, 5)[0] is Errors.OUT_OF_ORDER_SEQUENCE_NUMBER
    # a new epoch starting at 0
    assert _append(log, 1, 0) == (Errors.NONE, 2)
    # the old epoch is refused (InvalidProducerEpochException since 2.7)
    assert _append(log, 0, 0)[0] is Errors.INVALID_PRODUCER_EPOCH
    assert log.producers[PID].epoch == 1


def test_old_producer_epoch_is_refused() -> None:
    # UnifiedLogTest.testOldProducerEpoch (core/src/test/scala/unit/kafka/log/)
    log = _log()
    assert _append(log, 1, 0) == (Errors.NONE, 0)
    assert _append(log, 0, 0)[0] is Errors.INVALID_PRODUCER_EPOCH
    assert log.log_end_offset == 1


def test_new_epoch_must_start_at_sequence_zero() -> None:
    # ProducerAppendInfo.checkSequence: "Invalid sequence number for new epoch"
    log = _log()
    _append(log, 0, 0, count=3)
    assert _append(log, 1, 3)[0] is Errors.OUT_OF_ORDER_SEQUENCE_NUMBER
    assert _append(log, 1, 0)[0] is Errors.NONE
    assert _append(log, 1, 1)[0] is Errors.NONE


def test_duplicates_are_detected_within_one_epoch_only() -> None:
    # ProducerStateEntry.findDuplicateBatch: a batch of another epoch is never a duplicate
    log = _log()
    _append(log, 0, 0, count=2)  # offsets 0-1
    assert _append(log, 0, 0, count=2) == (Errors.NONE, 0)  # a retry: answered, not appended
    assert _append(log, 1, 0, count=2) == (Errors.NONE, 2)  # the new epoch: appended
    assert _append(log, 1, 0, count=2) == (Errors.NONE, 2)
    assert log.log_end_offset == 4


def test_unknown_producer_accepts_any_sequence_and_epoch() -> None:
    # ProducerAppendInfo.checkSequence: no state for the producer id, any sequence
    log = _log()
    assert _append(log, 3, 17) == (Errors.NONE, 0)
    assert _append(log, 3, 18) == (Errors.NONE, 1)


def test_producer_sequence_wrap_around() -> None:
    # ProducerStateManagerTest.testProducerSequenceWrapAround and
    # testProducerSequenceInvalidWrapAround: 0 follows Integer.MAX_VALUE, 1 does not
    log = _log()
    _append(log, 15, MAX_SEQUENCE)
    assert _append(log, 15, 1)[0] is Errors.OUT_OF_ORDER_SEQUENCE_NUMBER
    assert _append(log, 15, 0) == (Errors.NONE, 1)
    assert log.producers[PID].last_seq == 0


def test_new_leader_rebuilds_epoch_from_its_log() -> None:
    # a new leader's state comes from its own log (truncation rebuilds it): the epoch of the
    # producer's last batch, and that epoch's batches for duplicates
    log = _log()
    _append(log, 0, 0)
    _append(log, 1, 0)
    _append(log, 1, 1)
    log.truncate_to(2)  # drops the epoch-1 batch of sequence 1
    assert log.producers[PID].epoch == 1
    assert _append(log, 1, 0) == (Errors.NONE, 1)  # still a duplicate of the retained batch
    assert _append(log, 0, 1)[0] is Errors.INVALID_PRODUCER_EPOCH
    assert _append(log, 1, 1) == (Errors.NONE, 2)


def test_follower_takes_the_leaders_epoch_change() -> None:
    # a replica's append is not validated; its state follows the leader's batches
    leader, follower = _log(), _log()
    _append(leader, 0, 0)
    _append(leader, 1, 0)
    for entry in leader.entries:
        follower.append_as_follower(LogEntry(entry.base_offset, 0, entry.batch, 0.0), 0)
    assert follower.producers[PID].epoch == 1
    assert follower.check_producer(_batch(1, 0)) == (Errors.NONE, 1)
