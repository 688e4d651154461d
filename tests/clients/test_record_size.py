"""send() refuses a record larger than max.request.size or buffer.memory at once
(KafkaProducer.ensureValidRecordSize, Kafka 3.9): the record's size upper bound
(AbstractRecords.estimateSizeInBytesUpperBound) is compared with both, and a larger one fails
with RecordTooLargeException — a failed future, nothing sent, the application goes on."""

from __future__ import annotations

import numpy as np
import pytest

import sim
from sim.clients.producer.sender import RECORD_TOO_LARGE
from sim.protocol import RECORD_BATCH_OVERHEAD_BYTES, record_size_upper_bound, varint_bytes
from sim.scenario import Scenario

# ---------------------------------------------------------------- sizes


@pytest.mark.parametrize(
    ("value", "length"),
    [
        # ByteUtilsTest.testVarintSerde: the encodings of the non-negative values, by length
        (0, 1),
        (1, 1),
        (63, 1),
        (64, 2),
        (8191, 2),
        (8192, 3),
        (1048575, 3),
        (1048576, 4),
        (134217727, 4),
        (134217728, 5),
        (2**31 - 1, 5),
    ],
)
def test_varint_bytes_match_kafkas_encodings(value, length):
    assert int(varint_bytes(value)) == length
    assert varint_bytes(np.array([value, value]))[1] == length


def test_upper_bound_of_kafkas_too_large_record():
    """KafkaProducerTest.testCommitTransactionWithRecordTooLargeException: key "large string",
    a value of 1000 '*', max.request.size 1000: too large. The bound: batch header 61, record
    overhead 21, key 12 + its varint 1, value 1000 + its varint 2, no headers 1."""
    bound = int(record_size_upper_bound(1000, len("large string")))
    assert bound == RECORD_BATCH_OVERHEAD_BYTES + 21 + 13 + 1002 + 1
    assert bound > 1000


def test_a_null_key_counts_one_byte():
    assert int(record_size_upper_bound(100, None)) == 61 + 21 + 1 + 102 + 1
    assert int(record_size_upper_bound(100, 0)) == 61 + 21 + 1 + 102 + 1  # an empty key alike


# ---------------------------------------------------------------- in a run


def _run(producer: dict, duration_s: float = 0.5) -> sim.Results:
    spec = {
        "name": "record-size",
        "seed": 3,
        "duration_s": duration_s,
        "cluster": {"brokers": 1},
        "topics": [{"name": "t", "partitions": 2, "replication_factor": 1}],
        "producers": [{"name": "app", "topic": "t", "rate_msgs_s": 200, **producer}],
    }
    return sim.run(Scenario.from_dict(spec))


def _kafka_test_producer(max_request_size: int) -> dict:
    return {
        "message_bytes": 1000,
        "key_bytes": len("large string"),
        "keys": {"kind": "uniform", "cardinality": 10},
        "config": {"max.request.size": max_request_size, "linger.ms": 0},
    }


def test_a_record_over_max_request_size_fails_at_send_and_is_never_sent():
    results = _run(_kafka_test_producer(1000))
    acked, produced = results.tables["acked"], results.tables["produced"]
    assert len(acked) > 50
    assert (acked["error"] == RECORD_TOO_LARGE).all()
    assert (acked["attempt"] == 0).all()
    # failed when send() was called: at the record's arrival, with no wait
    rows = produced.set_index("batch_id").loc[acked["batch_id"]]
    assert np.allclose(acked["done_s"].to_numpy(), rows["first_arrival_s"].to_numpy())
    assert (acked["latency_s"] == 0).all()
    assert (rows["count"] == 1).all()
    assert results.summary()["failed_messages"] == len(acked)
    assert results.tables["log"].empty  # nothing reached the broker


def test_a_record_exactly_at_max_request_size_is_sent():
    """ensureValidRecordSize refuses only size > maxRequestSize."""
    bound = int(record_size_upper_bound(1000, len("large string")))
    results = _run(_kafka_test_producer(bound))
    acked = results.tables["acked"]
    assert len(acked) > 50
    assert (acked["error"] == "").all()


def test_a_record_over_buffer_memory_fails_though_max_request_size_allows_it():
    producer = {
        "message_bytes": 20_000,
        "keys": {"kind": "none"},
        "config": {"buffer.memory": 16_384, "batch.size": 16_384},
    }
    acked = _run(producer).tables["acked"]
    assert len(acked) > 50
    assert (acked["error"] == RECORD_TOO_LARGE).all()


def test_only_the_records_over_the_limit_fail_in_a_spread_of_sizes():
    """Lognormal sizes around the limit: each record fails exactly when its upper bound is
    over max.request.size (null keys: the built-in partitioner never chose a partition, -1)."""
    limit = 4000
    producer = {
        "message_bytes": 3000,
        "message_bytes_dist": "lognormal",
        "message_bytes_spread": 0.5,
        "keys": {"kind": "none"},
        "config": {"max.request.size": limit, "linger.ms": 0},
    }
    results = _run(producer, duration_s=2.0)
    acked, produced = results.tables["acked"], results.tables["produced"]
    merged = produced.merge(acked, on="batch_id")
    refused = merged["error"] == RECORD_TOO_LARGE
    assert 0 < refused.sum() < len(merged)
    single = merged[merged["count"] == 1]
    # a single record's value: wire bytes less the batch header and the model's record overhead
    values = single["bytes"] - RECORD_BATCH_OVERHEAD_BYTES - 8
    over = record_size_upper_bound(values.to_numpy(), None) > limit
    assert (over == (single["error"] == RECORD_TOO_LARGE).to_numpy()).all()
    assert (merged.loc[refused, "partition"] == -1).all()
    assert (merged.loc[~refused, "error"] == "").all()
