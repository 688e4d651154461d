"""The broker's message size limit (Kafka 3.9): a leader refuses a record batch larger than the
topic's ``max.message.bytes`` (else the broker's ``message.max.bytes``) with MESSAGE_TOO_LARGE
and appends nothing of it (UnifiedLog.analyzeAndValidateRecords, RecordTooLargeException;
ReplicaManager.appendToLocalLog answers per partition); a follower copies the leader's batches
unchecked (appendAsFollower, ignoreRecordSize)."""

from __future__ import annotations

import pytest

from sim.broker.log import PartitionLog
from sim.broker.partition import Partition
from sim.protocol import (
    RECORD_BATCH_OVERHEAD_BYTES,
    RECORD_OVERHEAD_BYTES,
    ConnectionClosed,
    Errors,
    LogEntry,
    ProduceRequest,
    RecordBatch,
)
from sim.scenario import Scenario
from sim.world import World

TP = ("t", 0)
DEFAULT_LIMIT = 1048588  # LogConfig.DEFAULT_MAX_MESSAGE_BYTES


def _batch(size_bytes: int, count: int = 2, producer_id: int = -1, sequence: int = -1):
    return RecordBatch(0, TP[0], TP[1], producer_id, sequence, count, size_bytes, 0.0, 0.0)


def _leader(max_message_bytes: int) -> Partition:
    log = PartitionLog(TP, segment_bytes=1 << 30, segment_s=1e9, retention_s=-1.0,
                       retention_bytes=-1, max_message_bytes=max_message_bytes)  # fmt: skip
    partition = Partition(TP, 0, log, [0], min_insync_replicas=1, lag_max_s=30.0, alive_brokers={0})
    partition.make_leader(0, [0], 0, now=0.0)
    return partition


def _wire_bytes(*values: str) -> int:
    """A batch of records with these values and null keys, as the model sizes it."""
    return RECORD_BATCH_OVERHEAD_BYTES + sum(len(v) + RECORD_OVERHEAD_BYTES for v in values)


# UnifiedLogTest.testMessageSizeCheck / testMessageSizeCheckInAppendAsFollower: the records
FIRST = _wire_bytes("You", "bethe")
SECOND = _wire_bytes("change (I need more bytes)... blah blah blah.", "More padding boo hoo")


def test_a_batch_one_byte_over_the_limit_is_refused_and_nothing_appended():
    """UnifiedLogTest.testMessageSizeCheck: max.message.bytes is the second batch's size less
    one; the first appends, the second throws RecordTooLargeException (batchSize > limit)."""
    partition = _leader(SECOND - 1)
    assert partition.append_records_to_leader(_batch(FIRST), 1, 0.1) == (Errors.NONE, 0, True)
    error, base_offset, appended = partition.append_records_to_leader(_batch(SECOND), 1, 0.2)
    assert (error, base_offset, appended) == (Errors.MESSAGE_TOO_LARGE, -1, False)
    assert partition.log.log_end_offset == 2
    assert len(partition.log.entries) == 1


def test_a_batch_exactly_at_the_limit_is_appended():
    partition = _leader(SECOND)
    assert partition.append_records_to_leader(_batch(SECOND), 1, 0.1)[0] is Errors.NONE


def test_a_follower_copies_a_batch_over_the_limit():
    """UnifiedLogTest.testMessageSizeCheckInAppendAsFollower: "appendAsFollower does not
    validate the size" (the leader accepted it)."""
    follower = _leader(SECOND - 1).log
    follower.append_as_follower(LogEntry(0, 0, _batch(FIRST), 0.1), 0)
    follower.append_as_follower(LogEntry(2, 0, _batch(SECOND), 0.2), 0)
    assert follower.log_end_offset == 4


def test_the_size_is_checked_before_the_producer_sequence():
    """analyzeAndValidateRecords (size) runs before analyzeAndValidateProducerState: an
    out-of-order batch that is also too large answers MESSAGE_TOO_LARGE."""
    partition = _leader(1000)
    assert partition.append_records_to_leader(_batch(500, 2, 7, 0), 1, 0.1)[0] is Errors.NONE
    gap = _batch(1001, 2, 7, 5)
    assert partition.append_records_to_leader(gap, 1, 0.2)[0] is Errors.MESSAGE_TOO_LARGE
    assert partition.append_records_to_leader(_batch(500, 2, 7, 5), 1, 0.3)[0] is (
        Errors.OUT_OF_ORDER_SEQUENCE_NUMBER
    )


# ---------------------------------------------------------------- which limit, in a produce


def _world(broker: dict, topic: dict) -> World:
    spec = {
        "name": "message-size",
        "duration_s": 1.0,
        "cluster": {"brokers": 1, "config": broker},
        "topics": [{"name": "t", "partitions": 2, "replication_factor": 1, "config": topic}],
    }
    return World(Scenario.from_dict(spec))


def _produce(world: World, sizes: dict[int, int]) -> dict[int, Errors]:
    """One acks=1 produce request to broker 0 with a batch of ``sizes[p]`` bytes for each
    partition p: the error per partition."""
    batches = {
        ("t", p): RecordBatch(p, "t", p, -1, -1, 2, size, 0.0, 0.0) for p, size in sizes.items()
    }
    answers = []
    world.brokers[0].replicas.handle_produce(
        ProduceRequest(1, 30.0, batches), lambda response, _delay_s=0.0: answers.append(response)
    )
    (response,) = answers
    return {tp[1]: result.error for tp, result in response.results.items()}


def test_only_the_partition_whose_batch_is_too_large_is_refused():
    """ReplicaManager.appendToLocalLog answers each partition alone: the other partition of the
    same request is appended."""
    world = _world({}, {"max.message.bytes": 1000})
    assert _produce(world, {0: 1001, 1: 1000}) == {0: Errors.MESSAGE_TOO_LARGE, 1: Errors.NONE}
    logs = {p: world.brokers[0].replicas.partitions[("t", p)].log for p in (0, 1)}
    assert (logs[0].log_end_offset, logs[1].log_end_offset) == (0, 2)


@pytest.mark.parametrize(
    ("broker", "topic", "limit"),
    [
        ({}, {}, DEFAULT_LIMIT),  # LogConfig.DEFAULT_MAX_MESSAGE_BYTES
        ({"message.max.bytes": 2000}, {}, 2000),  # the broker's, when the topic sets none
        ({"message.max.bytes": 2000}, {"max.message.bytes": 50_000}, 50_000),  # the topic's
        ({"message.max.bytes": 50_000}, {"max.message.bytes": 2000}, 2000),  # wins both ways
    ],
)
def test_the_topic_limit_wins_else_the_brokers(broker, topic, limit):
    world = _world(broker, topic)
    assert _produce(world, {0: limit, 1: limit + 1}) == {
        0: Errors.NONE,
        1: Errors.MESSAGE_TOO_LARGE,
    }


def test_acks_0_closes_the_connection_on_a_batch_too_large():
    """KafkaApis closes an acks=0 producer's connection on any partition error (no answer)."""
    world = _world({}, {"max.message.bytes": 1000})
    answers = []
    batches = {TP: RecordBatch(0, "t", 0, -1, -1, 2, 1001, 0.0, 0.0)}
    world.brokers[0].replicas.handle_produce(ProduceRequest(0, 30.0, batches), answers.append)
    assert isinstance(answers[0], ConnectionClosed)
