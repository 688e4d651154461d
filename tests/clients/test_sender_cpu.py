"""The producer's sender thread pays CPU per request (``hardware.producer_request_us``) and
per byte of its batches (``producer_checksum_mb_s``): a request leaves that much later, after
the requests before it."""

from __future__ import annotations

import numpy as np

from sim.scenario import Scenario
from sim.world import World

EVENT_CAP = 2_000_000


def _latencies(request_us: float, checksum_mb_s: float = 2660.0) -> tuple[np.ndarray, int]:
    """Produce latency of each batch (s, by batch id) of 100 records/s of 1 kB, one per
    request (linger.ms 0, far apart), and the mean request bytes."""
    data = {
        "name": "sender-cpu",
        "seed": 3,
        "duration_s": 2.0,
        "cluster": {
            "brokers": 1,
            "hardware": {
                "producer_request_us": request_us,
                "producer_checksum_mb_s": checksum_mb_s,
            },
        },
        "topics": [{"name": "t", "partitions": 1, "replication_factor": 1}],
        "producers": [
            {
                "name": "app",
                "topic": "t",
                "rate_msgs_s": 100,
                "message_bytes": 1000,
                "arrival": {"kind": "constant"},
                "config": {"acks": "1", "linger.ms": 0},
            }
        ],
    }
    world = World(Scenario.from_dict(data))
    world.env.event_limit = EVENT_CAP
    world.run()
    results = world.results()
    batches = results.acked.merge(results.produced, on="batch_id").sort_values("batch_id")
    latency = batches["latency_s"].to_numpy()
    return latency, int(batches["bytes"].mean())


def test_each_request_leaves_after_its_cpu_time():
    """2 ms per request: every record's latency rises by 2 ms and its batch's checksum time,
    the same run otherwise (records 10 ms apart: no request waits for another)."""
    base, _ = _latencies(0.0, checksum_mb_s=1e9)
    slow, request_bytes = _latencies(2000.0)
    assert len(base) == len(slow) > 0
    batch_s = request_bytes / 2660e6
    np.testing.assert_allclose(slow - base, 2e-3 + batch_s, atol=request_bytes / 2660e6)


def test_checksums_cost_per_byte():
    """1 MB/s of checksum: a 1 kB batch takes about a millisecond more."""
    base, _ = _latencies(0.0, checksum_mb_s=1e9)
    slow, request_bytes = _latencies(0.0, checksum_mb_s=1.0)
    assert (slow - base).min() >= request_bytes * 0.9e-6
