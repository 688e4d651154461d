"""The producer's reaction to MESSAGE_TOO_LARGE (Kafka 3.9, clients/producer/internals).

Sender.completeBatch: a batch of several records refused as larger than the topic's
``max.message.bytes`` is split (RecordAccumulator.splitAndReenqueue, ProducerBatch.split with
``batch.size``) and its records go on at once in a new batch: not a retry (attempts start again,
no backoff), created when the refused batch was (delivery.timeout.ms runs on), with its
sequence, memory allocated off the pool. A batch past its delivery timeout is not split; a
single record too large fails with the error (RecordTooLargeException).

Splitting at ``batch.size`` cannot make smaller a batch that ``batch.size`` let form: in 3.9 such
a batch is split and refused again and again until delivery.timeout.ms (KAFKA-8350, fixed after
3.9). The model cuts batches of at most ``batch.size`` bytes of records, so every split gives one
batch of the same records — the runs below show that loop, as 3.9 has it.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import sim
from sim.audit import audit
from sim.clients.producer.record_accumulator import RecordAccumulator
from sim.clients.producer.sender import DELIVERY_TIMEOUT
from sim.results import SPLIT
from sim.scenario import Scenario
from sim.world import World

BATCH = 16384
TP = ("t", 0)
PENDING = "(no answer yet)"

# ---------------------------------------------------------------- the accumulator


def _sent_batch(acc: RecordAccumulator, sequence: int, attempts: int = 1):
    """A batch of three records drained at 0.01 s and sent ``attempts`` times."""
    acc.append(TP, [0.0, 0.001, 0.002], np.array([4, 5, 6]), [500, 600, 700])
    batch = acc.drain(acc.queues[TP], now=0.01)
    batch.sequence, batch.attempts = sequence, attempts
    acc.wire(batch, batch_id=1, producer_id=7)
    return batch


def test_a_split_gives_the_same_records_as_a_new_batch_ready_at_once():
    """ProducerBatch.split(batchSize): the new batch keeps the create time (createdMs) and, when
    the refused one had a sequence, its sequence (SenderTest.testIdempotentSplitBatchAndSend:
    "The next sequence should be 2" after the split of a batch of sequences 0-1); splitAndReenqueue
    "treat[s] the newly split batches as if they are not even tried"."""
    acc = RecordAccumulator(BATCH, 0.005, "none", 4 * BATCH)
    big = _sent_batch(acc, sequence=10, attempts=3)
    piece = acc.split_and_reenqueue(big, now=0.5)
    assert (piece.count, piece.records_bytes, piece.keys.tolist()) == (3, 1800, [4, 5, 6])
    assert (piece.first_arrival_s, piece.mean_arrival_s) == (0.0, big.mean_arrival_s)
    assert (piece.sequence, piece.attempts, piece.wire) == (10, 0, None)
    assert acc.drain(acc.queues[TP], now=0.5) is piece  # no retry backoff


def test_split_batches_are_allocated_off_the_pool():
    """RecordAccumulatorTest.testSplitBatchOffAccumulator: "The split batches should be allocated
    off the accumulator" — once the refused batch is deallocated, all memory is available
    though its records are queued again."""
    acc = RecordAccumulator(BATCH, 0.005, "none", 4 * BATCH)
    big = _sent_batch(acc, sequence=-1)
    assert acc.pool.sent_bytes == BATCH
    piece = acc.split_and_reenqueue(big, now=0.5)
    acc.deallocate(big)
    assert piece.buffer_bytes == 0
    assert acc.pool.sent_bytes == 0
    acc.deallocate(piece)
    assert acc.pool.sent_bytes == 0


def test_the_split_batch_goes_back_in_sequence_order():
    """RecordAccumulator.insertInSequenceOrder: before a retry of a later sequence, after one of
    an earlier sequence."""
    acc = RecordAccumulator(BATCH, 0.005, "none", 4 * BATCH)
    big = _sent_batch(acc, sequence=10)
    later, earlier = (_sent_batch(acc, sequence=s) for s in (20, 5))
    acc.reenqueue(later)
    acc.reenqueue(earlier)
    acc.split_and_reenqueue(big, now=0.5)
    assert [b.sequence for b in acc.queues[TP].retries] == [5, 10, 20]


# ---------------------------------------------------------------- in a run


def _run(topic: dict, producer: dict, broker: dict | None = None, **workload) -> sim.Results:
    """One broker, topic t of 2 partitions; a keyed producer of 300-byte records, 2000/s."""
    spec = {
        "name": "message-too-large",
        "seed": 5,
        "duration_s": workload.pop("duration_s", 2.0),
        "cluster": {"brokers": 1, "config": broker or {}},
        "topics": [{"name": "t", "partitions": 2, "replication_factor": 1, "config": topic}],
        "producers": [
            {
                "name": "app",
                "topic": "t",
                "rate_msgs_s": 2000,
                "message_bytes": 300,
                "keys": {"kind": "uniform", "cardinality": 100},
                "config": {"linger.ms": 5, **producer},
                **workload,
            }
        ],
    }
    return sim.run(Scenario.from_dict(spec))


def _outcomes(results: sim.Results) -> pd.DataFrame:
    """Every produced batch with its answer (error PENDING: none by the end of the run)."""
    batches = results.produced.merge(results.acked, on="batch_id", how="left", validate="1:1")
    batches["error"] = batches["error"].fillna(PENDING)
    return batches


def _dense_log(results: sim.Results) -> pd.DataFrame:
    """The final log, checked: offsets dense from 0 per partition, no batch stored twice."""
    log = results.log.sort_values(["partition", "base_offset"])
    for _, rows in log.groupby("partition"):
        ends = (rows["base_offset"] + rows["count"]).to_numpy()
        assert rows["base_offset"].iloc[0] == 0
        assert (rows["base_offset"].to_numpy()[1:] == ends[:-1]).all()
    assert audit(results.tables).duplicate_messages == 0
    return log


def _chains(batches: pd.DataFrame) -> pd.core.groupby.DataFrameGroupBy:
    """The batches holding the same records (split from one another), by their first record."""
    return batches.sort_values("batch_id").groupby(["partition", "first_arrival_s"])


def test_a_single_record_over_max_message_bytes_fails_with_message_too_large():
    """A batch of one record too large fails with the broker's error, after one attempt, and is
    counted as failed (SenderTest, the first request of the MESSAGE_TOO_LARGE idempotence test:
    RecordTooLargeException). batch.size 100 gives each record a batch of its own; values
    spread around max.message.bytes, all far below max.request.size. Without idempotence (with
    it the producer would bump its epoch after each refusal: tests/clients/test_epoch_bump.py)."""
    limit = 2000
    results = _run(
        {"max.message.bytes": limit},
        {"batch.size": 100, "enable.idempotence": False},
        message_bytes=1900,
        message_bytes_dist="lognormal",
        message_bytes_spread=0.1,
        rate_msgs_s=300,
    )
    batches = _outcomes(results)
    assert (batches["count"] == 1).all()
    too_large = batches["bytes"] > limit
    assert 20 < too_large.sum() < len(batches) - 20
    assert (batches.loc[too_large, "error"] == "MESSAGE_TOO_LARGE").all()
    assert (batches.loc[~too_large, "error"] == "").all()
    assert (batches["attempt"] == 1).all()
    assert results.summary()["failed_messages"] == too_large.sum()
    assert not results.log["batch_id"].isin(batches.loc[too_large, "batch_id"]).any()
    _dense_log(results)


@pytest.mark.liveness_violation_expected
def test_a_batch_over_max_message_bytes_is_split_again_until_its_delivery_timeout():
    """batch.size 16384 over max.message.bytes 2000: batches of 7 or more 300-byte records are
    refused, split into the same records and refused again, each new batch sent at once as a
    first attempt, until delivery.timeout.ms (1 s) fails them (SenderTest.
    testExpiredBatchDoesNotSplitOnMessageTooLargeError: an answer after it splits nothing).
    Smaller batches are acknowledged; every record has one outcome, counted once."""
    limit, timeout_s = 2000, 1.0
    producer = {"enable.idempotence": False, "request.timeout.ms": 300}
    producer["delivery.timeout.ms"] = int(timeout_s * 1000)
    results = _run({"max.message.bytes": limit}, producer)
    batches = _outcomes(results)
    assert (batches["attempt"].dropna() == 1).all()  # splits are not retries
    too_large = batches["bytes"] > limit
    assert batches.loc[~too_large, "error"].isin(["", PENDING]).all()
    assert batches.loc[too_large, "error"].isin([SPLIT, DELIVERY_TIMEOUT, PENDING]).all()
    waited_s = batches["done_s"] - batches["first_arrival_s"]
    assert (waited_s[batches["error"] == SPLIT] < timeout_s).all()
    assert (waited_s[batches["error"] == DELIVERY_TIMEOUT] >= timeout_s).all()
    finals = []
    for _, chain in _chains(batches):
        assert chain[["count", "bytes"]].nunique().max() == 1  # the same records each time
        assert (chain["error"].iloc[:-1] == SPLIT).all()
        assert (chain["closed_s"].iloc[1:].to_numpy() == chain["done_s"].iloc[:-1]).all()
        if chain["error"].iloc[-1] == DELIVERY_TIMEOUT:
            # resent at once each time: the last refusal came within a request timeout (0.3 s)
            # of the delivery timeout
            assert waited_s[chain.index[-2]] > timeout_s - 0.3
        finals.append(chain.iloc[-1])
    finals = pd.DataFrame(finals)
    assert (finals["error"] != SPLIT).all()
    assert (finals.loc[finals["bytes"] > limit, "error"] == DELIVERY_TIMEOUT).sum() > 10
    summary = results.summary()
    assert summary["produced_messages"] == finals["count"].sum()
    assert (
        summary["failed_messages"] == finals.loc[finals["error"] == DELIVERY_TIMEOUT, "count"].sum()
    )
    assert summary["acked_messages"] == finals.loc[finals["error"] == "", "count"].sum()
    log = _dense_log(results)
    assert (log.merge(batches, on="batch_id")["bytes"] <= limit).all()
    assert audit(results.tables).lost_acked_messages == 0


def test_an_idempotent_split_keeps_its_sequence_and_the_log_its_sequences_consecutive():
    """With idempotence (5 requests in flight) the batch split from a refused one keeps the
    refused one's sequence, so the next sequence is unchanged (SenderTest.
    testIdempotentSplitBatchAndSend), and a later batch waits while a lower sequence is in
    flight (RecordAccumulator.shouldStopDrainBatchesForPartition): each partition's log holds
    consecutive sequences, none of a refused batch, offsets dense, no duplicate. A refused
    first batch can still be overtaken: the broker takes any sequence from a producer it has
    no state for (ProducerAppendInfo.checkSequence), as partition 0 shows here."""
    limit = 2000
    results = _run({"max.message.bytes": limit}, {"enable.idempotence": True}, duration_s=1.5)
    batches = _outcomes(results)
    assert set(batches["error"]) <= {"", SPLIT, PENDING}
    for _, chain in _chains(batches):
        assert chain["base_sequence"].nunique() == 1
    log = _dense_log(results)  # with the sequences the batches were stored with
    for partition, stored in log.groupby("partition"):
        sequences, counts = stored["base_sequence"].to_numpy(), stored["count"].to_numpy()
        assert (sequences[1:] == sequences[:-1] + counts[:-1]).all()
        refused = batches[(batches["partition"] == partition) & (batches["error"] == SPLIT)]
        assert not refused["base_sequence"].isin(sequences).any()
    assert (batches["error"] == SPLIT).sum() > 100
    first = log[log["partition"] == 0]["base_sequence"].iloc[0]
    assert first > 0  # the refused sequences 0 .. first - 1 were overtaken


def test_the_compressed_size_is_what_counts():
    """The broker compares the batch as sent (DefaultRecordBatch.sizeInBytes, after the
    producer's compression): gzip batches of up to 4000 bytes of records fit in 2000."""
    results = _run({"max.message.bytes": 2000}, {"compression.type": "gzip", "batch.size": 4000})
    batches = _outcomes(results)
    assert (batches["count"] * 300 > 2000).sum() > 100
    assert (batches["error"] == "").all()


@pytest.mark.parametrize(
    ("topic", "producer", "warned"),
    [
        ({"max.message.bytes": 2000}, {}, True),  # 61 + 16384 bytes
        ({}, {}, False),
        ({"max.message.bytes": 2000}, {"batch.size": 1939}, False),  # 61 + 1939: just fits
        ({"max.message.bytes": 2000}, {"batch.size": 1940}, True),
        ({"max.message.bytes": 2000}, {"compression.type": "gzip", "batch.size": 4000}, False),
    ],
)
def test_a_producer_whose_batches_can_exceed_the_limit_is_warned(topic, producer, warned):
    spec = {
        "name": "warn",
        "topics": [{"name": "t", "partitions": 1, "replication_factor": 1, "config": topic}],
        "producers": [{"name": "app", "topic": "t", "config": producer}],
    }
    warnings = World(Scenario.from_dict(spec)).warnings
    assert any("KAFKA-8350" in w for w in warnings) == warned
