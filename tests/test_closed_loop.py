"""A closed-loop producer (``arrival.kind`` "closed_loop", kafka-producer-perf-test with
``--throughput -1``): send() again as soon as the last call returned, one call per
``hardware.producer_send_us``, none while a call blocks for memory; every run's audit checks
offered = acked + failed + pending (``sim.audit``)."""

from __future__ import annotations

from unittest.mock import patch

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sim.clients.producer.kafka_producer import ARRIVAL_WINDOW_S, KafkaProducer
from sim.errors import ScenarioError
from sim.scenario import Scenario
from sim.world import World

EVENT_CAP = 5_000_000
VALUE_BYTES = 1000
RECORD_OVERHEAD = 8  # sim.protocol.RECORD_OVERHEAD_BYTES: a record without key in its batch


def _scenario(send_us: float, duration_s: float = 1.0, gbps: float = 10.0, **producer) -> dict:
    config = producer.pop("config", {})
    return {
        "name": "closed-loop",
        "seed": producer.pop("seed", 1),
        "duration_s": duration_s,
        "cluster": {
            "brokers": 1,
            "hardware": {"network_gbps": gbps, "producer_send_us": send_us},
        },
        "topics": [{"name": "t", "partitions": 2, "replication_factor": 1}],
        "producers": [
            {
                "name": "perf",
                "topic": "t",
                "message_bytes": VALUE_BYTES,
                "arrival": {"kind": "closed_loop", **producer},
                "config": {"acks": "1", **config},
            }
        ],
    }


def _row(data: dict):
    world = World(Scenario.from_dict(data))
    world.env.event_limit = EVENT_CAP
    world.run()
    return world.results().producers.set_index("producer").loc["perf-0"]


@pytest.mark.parametrize("send_us", [100.0, 250.0])
def test_with_memory_to_spare_send_is_called_once_per_send_time(send_us):
    """Nothing blocks (10 Gb/s carries 10,000 records of 1 kB a second 100 times over): the
    application calls send() every producer_send_us, duration_s / producer_send_us times."""
    row = _row(_scenario(send_us))
    assert abs(row["offered"] - 1.0 / (send_us * 1e-6)) <= 1
    assert row["offered"] == row["acked"] + row["failed"] + row["pending"]


def test_num_records_stops_the_application():
    """--num-records 500: 500 send() calls by 0.05 s, all acknowledged by the end."""
    row = _row(_scenario(100.0, num_records=500))
    assert row["offered"] == row["acked"] == 500


@settings(max_examples=6, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 2**16), buffer_kb=st.sampled_from([64, 256]))
def test_a_blocked_send_holds_back_the_calls_after_it(seed, buffer_kb):
    """A 10 Mb/s NIC carries 1,250 records a second, the application calls 10,000 times a
    second: send() blocks on buffer.memory. The records offered and not done are then at most
    what buffer.memory holds, the one call that waits, and the calls of one arrival window
    (the model takes records in lazily: those called since its last round are not yet checked
    against memory at the end); an application that kept calling (an open loop at the same
    rate) would have thousands more."""
    buffer = buffer_kb * 1024
    send_s = 100e-6
    data = _scenario(send_s * 1e6, gbps=0.01, seed=seed, config={"buffer.memory": buffer})
    row = _row(data)
    assert row["offered"] == row["acked"] + row["failed"] + row["pending"]
    window = ARRIVAL_WINDOW_S / send_s
    assert row["pending"] <= buffer // (VALUE_BYTES + RECORD_OVERHEAD) + 1 + window
    assert row["pending_blocked"] <= 1
    assert row["acked"] < row["offered"] < 1.0 / send_s


def test_num_records_is_for_a_closed_loop_only():
    data = _scenario(100.0)
    data["producers"][0]["arrival"] = {"kind": "poisson", "num_records": 5}
    with pytest.raises(ScenarioError, match="producers.0.arrival.num_records"):
        Scenario.from_dict(data)


def _offered(data: dict) -> int:
    return int(_row(data)["offered"])


def test_compression_slows_the_application_by_its_bytes_per_second():
    """lz4 at 10 MB/s: each send() also compresses its 1,008 record bytes, 100.8 µs more; a
    gzip speed changes nothing in an lz4 run, nor an lz4 speed in a run without compression."""
    send_us = 100.0
    lz4_mb_s = 10.0
    record_bytes = VALUE_BYTES + RECORD_OVERHEAD

    def run(codec: str, speeds: dict) -> int:
        data = _scenario(send_us, config={"compression.type": codec})
        data["cluster"]["hardware"]["producer_compress_mb_s"] = speeds
        return _offered(data)

    slowed = run("lz4", {"lz4": lz4_mb_s})
    assert abs(slowed - 1.0 / (send_us * 1e-6 + record_bytes / (lz4_mb_s * 1e6))) <= 1
    assert run("lz4", {"lz4": lz4_mb_s, "gzip": 1.0}) == slowed
    assert run("none", {"lz4": lz4_mb_s}) == run("none", {})


def _tables(data: dict) -> tuple[dict, int]:
    world = World(Scenario.from_dict(data))
    world.env.event_limit = EVENT_CAP
    world.run()
    tables = world.results().tables
    return {name: tables[name] for name in ("produced", "acked", "nodes", "producers")}, (
        world.env.processed
    )


@settings(max_examples=4, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 2**16), acks=st.sampled_from(["1", "all"]))
def test_a_full_pool_runs_only_the_rounds_that_change_something(seed, acks):
    """500,000 send() calls a second against 1 Gb/s: the pool (1 MiB, batches of 64 KiB) runs
    short, and the next record may block send(), yet most only join the sticky partition's open
    batch: the producer skips the rounds at their arrivals while its sender waits for answers
    (KafkaProducer._short_memory_ready_s). Every table is the same as with a round at each
    record's arrival, in fewer events."""
    config = {"buffer.memory": 1 << 20, "batch.size": 64 << 10, "acks": acks}
    data = _scenario(2.0, duration_s=0.2, gbps=1.0, seed=seed, config=config)
    tables, events = _tables(data)
    every_record = patch.object(
        KafkaProducer, "_short_memory_ready_s", lambda self, now, first: first
    )
    with every_record:
        each, each_events = _tables(data)
    for name, table in tables.items():
        pd.testing.assert_frame_equal(table, each[name])
    assert events < each_events
