"""Broker CPU as hardware settings (``cluster.hardware.broker_network_request_us``,
``broker_network_mb_s``, ``broker_io_request_us``, ``broker_io_mb_s``, and per broker): a
broker's request threads take that long per request and per byte, and a slower broker delays
only the requests it serves."""

from __future__ import annotations

import pytest

from sim.broker.broker import RequestHandlerPool
from sim.scenario import HardwareSpec, Scenario
from sim.world import World

EVENT_CAP = 2_000_000
ROUND_ROBIN = "org.apache.kafka.clients.producer.RoundRobinPartitioner"


def test_a_request_takes_its_network_then_its_io_time():
    """One network thread, one io thread: a 1 MB request at 2 µs + 1,000 MB/s, then 3 µs +
    500 MB/s, is done at 2 + 1,000 + 3 + 2,000 µs; a second one at once waits for both."""
    hw = HardwareSpec(
        broker_network_request_us=2,
        broker_network_mb_s=1000,
        broker_io_request_us=3,
        broker_io_mb_s=500,
    )
    pool = RequestHandlerPool(1, 1, hw)
    first = pool.done_at(0.0, 1_000_000)
    assert first == pytest.approx(3005e-6)
    assert pool.done_at(0.0, 1_000_000) == pytest.approx(first + 2003e-6)


KNOBS = {
    "broker_network_request_us": 2000.0,
    "broker_network_mb_s": 1.0,
    "broker_io_request_us": 2000.0,
    "broker_io_mb_s": 1.0,
}


def _latency_by_leader(per_broker: dict) -> dict[int, float]:
    """Median produce latency (s) of the batches to each broker's partitions: 3 brokers, one
    partition each (RF 1), 300 records/s of 1 kB round robin, acks=1."""
    data = {
        "name": "broker-cpu",
        "seed": 5,
        "duration_s": 2.0,
        "cluster": {"brokers": 3, "hardware": {"per_broker": per_broker}},
        "topics": [{"name": "t", "partitions": 3, "replication_factor": 1}],
        "producers": [
            {
                "name": "app",
                "topic": "t",
                "rate_msgs_s": 300,
                "message_bytes": 1000,
                "arrival": {"kind": "constant"},
                "config": {"acks": "1", "linger.ms": 0, "partitioner.class": ROUND_ROBIN},
            }
        ],
    }
    world = World(Scenario.from_dict(data))
    world.env.event_limit = EVENT_CAP
    world.run()
    results = world.results()
    leaders = {p: world.leader_of(("t", p)) for p in range(3)}
    batches = results.acked.merge(results.produced, on="batch_id")
    by_partition = batches.groupby("partition")["latency_s"].median()
    return {leaders[p]: float(by_partition[p]) for p in range(3)}


@pytest.mark.parametrize("knob", KNOBS)
def test_a_slower_broker_delays_only_its_own_partitions(knob):
    """Broker 2 with ``knob`` set to cost about 1 ms more per 1 kB request: its partition's
    latency rises by at least a millisecond, the others' by less than a tenth of that."""
    base = _latency_by_leader({})
    slow = _latency_by_leader({"2": {knob: KNOBS[knob]}})
    assert slow[2] - base[2] >= 1e-3
    for broker in (0, 1):
        assert abs(slow[broker] - base[broker]) < 1e-4
