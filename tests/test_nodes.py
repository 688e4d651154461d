"""The ``nodes`` table: what each node's NIC and disk carried per interval (World._sample_nodes
over Network.nic_counters and Disk.position)."""

from __future__ import annotations

import runpy

import pytest

from sim.net import FRAME_OVERHEAD_BYTES, MSS_BYTES, wire_bytes
from sim.protocol import PARTITION_OVERHEAD_BYTES, REQUEST_OVERHEAD_BYTES
from sim.scenario import Scenario
from sim.world import World

NIC_BYTES_S = 125e6  # 1 Gbit/s


def _run(d: dict):
    world = World(Scenario.from_dict(d))
    world.run()
    return world, world.results()


def _overloaded(seed: int) -> dict:
    """One broker; four producers offering 240 MB/s of 10 kB records, acks=1: nearly twice
    what its 1 Gbit/s NIC takes in."""
    return {
        "name": "overloaded_nic", "seed": seed, "duration_s": 6.0,
        "cluster": {"brokers": 1, "hardware": {"network_gbps": 1}},
        "topics": [{"name": "t", "partitions": 4, "replication_factor": 1}],
        "producers": [{
            "name": "app", "count": 4, "topic": "t", "rate_msgs_s": 6000, "message_bytes": 10_000,
            "config": {"acks": "1", "linger.ms": 5, "batch.size": 262_144},
        }],
    }  # fmt: skip


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_an_overloaded_nic_runs_at_its_line_rate_and_no_faster(seed):
    world, r = _run(_overloaded(seed))
    nodes = r.nodes
    broker = nodes[(nodes["node"] == "broker-0") & (nodes["time_s"] > 2.0)]
    interval_s = world.metrics.interval_s
    # wire bytes are counted when sent, and the producers send as answers come back (their
    # in-flight limits), so an interval holds at most its line rate plus the request that
    # straddles its end (at most max.request.size and its headers, with their framing)
    largest_request = 1_048_576 + REQUEST_OVERHEAD_BYTES + 4 * PARTITION_OVERHEAD_BYTES
    straddle = wire_bytes(largest_request)
    assert broker["nic_in_utilisation"].max() <= 1 + straddle / (NIC_BYTES_S * interval_s)
    # the 16 connections' worth of requests in flight keep it busy: offered twice its rate,
    # it never idles once the producers' queues have formed
    assert broker["nic_in_utilisation"].mean() >= 0.95
    assert broker["disk_append_mb_s"].mean() == pytest.approx(
        broker["nic_in_mb_s"].mean(), rel=0.05
    )  # what arrives is produce data, appended
    clients = nodes[nodes["node"].str.startswith("app-")]
    assert clients["disk_append_mb_s"].isna().all() and clients["dirty_mb"].isna().all()


def test_capacity_is_held_by_the_nics():
    """scenarios/capacity.py's explanation: with 3 brokers each NIC must carry 3 × 150 / 3 MB/s
    each way, more than its line rate, and it runs near that rate (the produce pipeline keeps it
    busy: every producer keeps max.in.flight requests to every broker, and the followers' small
    fetch requests and the answers go ahead of the batches on the NICs); what is acknowledged is
    at most what the NICs carry less the packets' framing: 3 copies of each record through 3
    NICs, 1448 / 1538 of the line rate each."""
    d = runpy.run_path("scenarios/capacity.py")["SCENARIO"]
    d["duration_s"] = 10.0
    world, r = _run(d)
    nodes = r.nodes
    brokers = nodes[nodes["node"].str.startswith("broker-") & (nodes["time_s"] > 5.0)]
    assert brokers["nic_out_utilisation"].mean() >= 0.9
    assert brokers["nic_in_utilisation"].mean() >= 0.9
    for producer in world.producers:
        assert [len(q) for q in producer.sender.in_flight.values()] == [5, 5, 5]
    payload_bytes_s = NIC_BYTES_S * MSS_BYTES / (MSS_BYTES + FRAME_OVERHEAD_BYTES)
    record_bytes = d["producers"][0]["message_bytes"]
    # each record crosses 3 NICs' in-directions (leader, 2 followers), and there are 3 NICs
    assert r.summary()["throughput_msgs_s"] * record_bytes <= payload_bytes_s
