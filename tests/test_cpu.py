"""A node's CPU (sim.cpu.Cpu): cores shared by threads, as busy-until times; and a node's CPU
use reported per interval (the ``nodes`` table's cpu_busy, cpu_utilisation)."""

from __future__ import annotations

import pandas as pd
import pytest

from sim.cpu import Cpu
from sim.protocol import (
    PARTITION_OVERHEAD_BYTES,
    REQUEST_OVERHEAD_BYTES,
    Errors,
    FetchPartitionData,
    FetchResponse,
)
from sim.scenario import HardwareSpec, Scenario
from sim.world import World


def test_more_threads_than_cores_wait_for_a_core():
    """Two cores, three threads each ready at 0 with 1 s of work: two run at once, the third
    starts when the first core is free; a fourth, ready at 5 s, finds a core free."""
    cpu = Cpu(2)
    assert [cpu.run(0.0, 1.0) for _ in range(3)] == [1.0, 1.0, 2.0]
    assert cpu.run(5.0, 0.5) == 5.5


def test_one_core_runs_work_one_piece_after_another_in_the_order_it_is_handed():
    """One core: work handed first runs first, even if ready later (no preemption, no
    reordering): 1 s ready at 3 s, then 1 s ready at 0 s, ends at 4 s then 5 s."""
    cpu = Cpu(1)
    assert cpu.run(3.0, 1.0) == 4.0
    assert cpu.run(0.0, 1.0) == 5.0


def test_work_ready_later_leaves_the_sooner_free_core_to_work_ready_sooner():
    """Two cores, free at 1 s and 0 s: work ready at 5 s takes the one free at 1 s, so work
    handed after it but ready at 0 s runs at once on the other (the first free core would have
    left it waiting until 1 s)."""
    cpu = Cpu(2)
    assert cpu.run(0.0, 1.0) == 1.0
    assert cpu.run(5.0, 1.0) == 6.0
    assert cpu.run(0.0, 1.0) == 1.0


def test_without_cores_no_work_waits():
    """cores None: every piece runs from when its thread is ready, however many at once."""
    cpu = Cpu()
    assert [cpu.run(0.0, 1.0) for _ in range(100)] == [1.0] * 100
    assert cpu.cores is None


@pytest.mark.parametrize("cores", [None, 1, 3])
def test_busy_adds_up_the_work_handed_out_whether_or_not_it_waits(cores):
    cpu = Cpu(cores)
    for cost in (0.25, 0.5, 2.0):
        cpu.run(1.0, cost)
    assert cpu.busy_s == 2.75


def test_zero_cores_is_refused():
    with pytest.raises(ValueError, match="cores"):
        Cpu(0)


# ---------------------------------------------------------------- a broker held by its CPU

EVENT_CAP = 3_000_000
IO_US = 1000.0  # a costly request handler: the broker's CPU, not its NIC or disk, holds it
PRODUCERS = 3  # one connection each to the one broker: three requests at once at most
MAX_IN_FLIGHT = 5  # max.in.flight.requests.per.connection (Kafka's default)
WINDOW = (2.0, 4.0)  # s: past the first requests' start, before the end of the run


def _bound_run(cores: int | None, seed: int):
    """One broker, one partition (RF 1), three producers each offering more than one
    connection carries at IO_US per request (200,000 records/s of 100 bytes, acks=1, one
    batch per request), so every connection always has a request at the broker."""
    data = {
        "name": "cpu-bound",
        "seed": seed,
        "duration_s": WINDOW[1] + 0.5,
        "cluster": {
            "brokers": 1,
            "hardware": {"cpu_cores": cores, "broker_io_request_us": IO_US},
        },
        "topics": [{"name": "t", "partitions": 1, "replication_factor": 1}],
        "producers": [
            {
                "name": "app",
                "count": PRODUCERS,
                "topic": "t",
                "rate_msgs_s": 200_000,
                "message_bytes": 100,
                "arrival": {"kind": "constant"},
                "config": {"acks": "1", "linger.ms": 5},
            }
        ],
    }
    world = World(Scenario.from_dict(data))
    world.env.event_limit = EVENT_CAP
    world.run()
    return world.hardware, world.results()


def _request_s(hardware: HardwareSpec, batch_bytes: pd.Series) -> pd.Series:
    """CPU seconds of the produce request carrying one batch of ``batch_bytes``: its network
    thread's time, then its request handler's."""
    request = REQUEST_OVERHEAD_BYTES + PARTITION_OVERHEAD_BYTES + batch_bytes
    return 1e-6 * (
        hardware.broker_network_request_us
        + hardware.broker_io_request_us
        + request / hardware.broker_network_mb_s
        + request / hardware.broker_io_mb_s
    )


def _busy_in_window(hardware: HardwareSpec, results) -> tuple[float, float]:
    """CPU seconds per second of the requests acknowledged in WINDOW, and the largest one's."""
    batches = results.acked.merge(results.produced, on="batch_id")
    done = batches[(batches["done_s"] >= WINDOW[0]) & (batches["done_s"] < WINDOW[1])]
    cost = _request_s(hardware, done["bytes"])
    return float(cost.sum()) / (WINDOW[1] - WINDOW[0]), float(cost.max())


@pytest.mark.parametrize("cores", [1, 2])
@pytest.mark.parametrize("seed", [1, 2, 3])
def test_fewer_cores_than_busy_connections_lower_the_throughput_to_the_cores(cores, seed):
    """Without contention each connection's requests keep a thread pair busy, so the requests
    answered in the window cost 3 CPU seconds per second; with 1 or 2 cores, as many (each
    connection's requests are handled one at a time, so the cores never wait for work). At
    each end of the window one request per connection may fall either side, so the slack is
    two requests per connection over the window. The broker's cpu_utilisation reads 1 in each
    interval of the window, give or take what is handed to the cores ahead of being done at
    each end of an interval: the requests each connection has in flight
    (max.in.flight.requests.per.connection), over the cores."""
    hardware, free = _bound_run(None, seed)
    _, bound = _bound_run(cores, seed)
    free_busy, largest = _busy_in_window(hardware, free)
    bound_busy, largest_bound = _busy_in_window(hardware, bound)
    span = WINDOW[1] - WINDOW[0]
    slack = 2 * PRODUCERS * max(largest, largest_bound) / span
    assert abs(free_busy - PRODUCERS) <= slack
    assert abs(bound_busy - cores) <= slack
    assert len(bound.acked) < len(free.acked)
    nodes = bound.tables["nodes"]
    broker = nodes[(nodes["node"] == "broker-0") & nodes["time_s"].between(*WINDOW)]
    interval = float(broker["time_s"].diff().iloc[1])
    ahead = 2 * PRODUCERS * MAX_IN_FLIGHT * largest_bound / interval / cores
    assert (broker["cpu_utilisation"] - 1).abs().max() <= ahead
    assert (broker["cpu_busy"] == cores * broker["cpu_utilisation"]).all()
    assert free.tables["nodes"]["cpu_utilisation"].isna().all()  # no cores: no utilisation


# ---------------------------------------------------------------- a producer's CPU


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_a_producers_cpu_is_its_send_calls_and_its_requests(seed):
    """One producer sending 1,000 records/s one at a time (linger.ms 0: each record leaves in
    its own batch and request): in each interval its cpu_busy is producer_send_us per record
    that arrived in it plus, per request built in it (the batch's closed_s), the sender's
    producer_request_us and the request's bytes at producer_checksum_mb_s. A record or a
    request at an interval's edge may count on either side: one of each at each end."""
    data = {
        "name": "producer-cpu",
        "seed": seed,
        "duration_s": 3.0,
        "cluster": {"brokers": 1},
        "topics": [{"name": "t", "partitions": 1, "replication_factor": 1}],
        "producers": [
            {
                "name": "app",
                "topic": "t",
                "rate_msgs_s": 1000,
                "message_bytes": 100,
                "arrival": {"kind": "constant"},
                "config": {"acks": "1", "linger.ms": 0},
            }
        ],
    }
    world = World(Scenario.from_dict(data))
    world.env.event_limit = EVENT_CAP
    world.run()
    results, hw = world.results(), world.hardware
    produced = results.produced
    assert (produced["count"] == 1).all()  # one record per batch, one batch per request
    request_bytes = REQUEST_OVERHEAD_BYTES + PARTITION_OVERHEAD_BYTES + produced["bytes"]
    request_s = 1e-6 * hw.producer_request_us + request_bytes / (hw.producer_checksum_mb_s * 1e6)
    send_s = 1e-6 * hw.producer_send_us
    nodes = results.tables["nodes"]
    rows = nodes[nodes["node"] == "app-0"]
    interval = float(rows["time_s"].diff().iloc[1])
    slack = 2 * (send_s + float(request_s.max())) / interval
    for end, busy in zip(rows["time_s"], rows["cpu_busy"], strict=True):
        start = end - interval
        arrived = produced["first_arrival_s"].between(start, end, inclusive="left")
        built = produced["closed_s"].between(start, end, inclusive="left")
        expected = (arrived.sum() * send_s + request_s[built].sum()) / interval
        assert abs(busy - expected) <= slack
    assert rows["cpu_utilisation"].isna().all()  # cpu_cores null
    assert nodes.loc[nodes["node"] == "zookeeper", "cpu_busy"].isna().all()


def test_a_brokers_own_cores_override_the_clusters():
    """``per_broker`` cpu_cores: broker 1 has 4 cores, the others the cluster's null; only its
    rows have a utilisation, a quarter of its cpu_busy."""
    data = {
        "name": "per-broker-cores",
        "duration_s": 1.0,
        "cluster": {"brokers": 3, "hardware": {"per_broker": {"1": {"cpu_cores": 4}}}},
        "topics": [{"name": "t", "partitions": 3, "replication_factor": 3}],
        "producers": [{"name": "app", "topic": "t", "rate_msgs_s": 1000}],
    }
    world = World(Scenario.from_dict(data))
    world.env.event_limit = EVENT_CAP
    world.run()
    nodes = world.results().tables["nodes"]
    brokers = nodes[nodes["node"].str.startswith("broker")]
    assert (brokers["cpu_busy"] > 0).all()
    one = brokers["node"] == "broker-1"
    assert (brokers.loc[one, "cpu_utilisation"] == brokers.loc[one, "cpu_busy"] / 4).all()
    assert brokers.loc[~one, "cpu_utilisation"].isna().all()


# ---------------------------------------------------------------- a follower's appends


@pytest.mark.parametrize("cores", [None, 1])
def test_a_follower_pays_its_appends_on_its_brokers_cpu(cores):
    """A replica fetcher handed a response with records works broker_io_request_us plus their
    bytes at broker_io_mb_s on its broker's CPU before it appends them (UnifiedLog's CRC check
    of each batch, appendAsFollower); for a response without records, nothing. With one core
    then busy for 1 s more, the next waits for it (and for the append before it)."""
    data = {
        "name": "follower-cpu",
        "duration_s": 1.0,
        "cluster": {"brokers": 2, "hardware": {"cpu_cores": cores}},
        "topics": [{"name": "t", "partitions": 1, "replication_factor": 2}],
        "producers": [{"name": "app", "topic": "t", "rate_msgs_s": 100}],
    }
    world = World(Scenario.from_dict(data))
    world.env.event_limit = EVENT_CAP
    world.run()
    tp = ("t", 0)
    leader = world.leader_of(tp)
    follower = world.brokers[1 - leader]
    (fetcher,) = follower.replicas.fetchers.values()
    entries = world.brokers[leader].partitions[tp].log.entries[:3]
    nbytes = sum(e.batch.size_bytes for e in entries)
    hw = world.hardware
    cost_s = 1e-6 * hw.broker_io_request_us + nbytes / (hw.broker_io_mb_s * 1e6)
    cpu = follower.cpu
    before = cpu.busy_s
    assert fetcher._append_cpu_s(FetchResponse({tp: FetchPartitionData(Errors.NONE)})) == 0.0
    assert cpu.busy_s == before
    response = FetchResponse({tp: FetchPartitionData(Errors.NONE, entries=entries)})
    assert fetcher._append_cpu_s(response) == pytest.approx(cost_s)
    assert cpu.busy_s == pytest.approx(before + cost_s)
    if cores == 1:
        cpu.run(world.env.now, 1.0)
        assert fetcher._append_cpu_s(response) == pytest.approx(cost_s + 1.0 + cost_s)
