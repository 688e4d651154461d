"""Every honoured setting works: a property over the configuration space, without faults.

Hypothesis draws scenarios over the settings docs/configuration.md lists as honoured — 1-7
brokers, 1-3 topics with their partitions, replication factor and ``min.insync.replicas``;
1-3 producers (acks, linger.ms, batch.size, compression.type, max.in.flight, idempotence,
partitioner settings, arrival kinds, key distributions, record sizes); 0-2 consumer groups
(assignors, fetch sizes and waits, max.poll.records, auto commit, static membership); broker
settings (fetcher, io and network threads, replica.fetch.*, flush, retention and segments) and
hardware — each from its Kafka validator's range, with Kafka's defaults and common production
values among the draws.

Regime 1, **capacity to spare**. The load is drawn well under the capacity computed from the
hardware and the settings (:func:`capacity_msgs_s`: a quarter of the smallest of the NIC, the
disk, each producer's in-flight limit over the round trip and the consumers' fetch limit, at the
arrivals' peak rate). Producers stop at ``stop_s`` and the run drains afterwards. Then:

- every offered record is acknowledged: failed 0 and pending 0 (the audit checks offered =
  acked + failed + pending);
- every acknowledged record is consumed by every group (unconsumed 0);
- no partition leaves an ISR (no ``isr_shrink`` row) and the liveness table has no violation;
- each batch's produce latency is within :func:`produce_bound_s` (see there);
- the model's invariants hold throughout (tests/conftest.py turns them on).

Regime 2, **overload**. The same draws, but the load is 3-10x a throughput upper bound
(:func:`overload_ceiling_msgs_s`: the producer's NIC, or its in-flight requests over a long
round trip), with short ``max.block.ms``, ``request.timeout.ms`` and ``delivery.timeout.ms`` and a
``buffer.memory`` that holds more than a delivery timeout's worth of what can leave. Kafka then
degrades loudly: batches wait in the accumulator past ``delivery.timeout.ms`` (DELIVERY_TIMEOUT)
or send() waits past ``max.block.ms`` (BUFFER_EXHAUSTED). The property: some records fail, and
offered = acked + failed + pending (the audit).

100 examples of each regime run in ``make test``; the ``slow`` tests 200 more of each. A
failing example is written under ``results/property_failures/`` for ``kafkasim run``.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
from hypothesis import HealthCheck, assume, example, given, settings
from hypothesis import strategies as st

from sim.audit import audit
from sim.broker.broker import IO_BYTES_S, IO_REQUEST_S, NETWORK_BYTES_S, NETWORK_REQUEST_S
from sim.clients.producer.record_accumulator import COMPRESSION_RATIO, largest_batch_bytes
from sim.clients.producer.sender import Sender
from sim.kafka_config import LONG_MAX
from sim.protocol import MAX_RECORD_OVERHEAD_BYTES, RECORD_BATCH_OVERHEAD_BYTES
from sim.scenario import Scenario
from sim.world import World
from tests.scenario_failures import replayable

CASES = Path(__file__).parent / "property_cases"


def _case(name: str) -> dict:
    return json.loads((CASES / name).read_text())


#: Regime 1's first finding: acks=0 with max.in.flight 1 left records queued after the producer
#: stopped (the sender never unmuted a partition after an acks=0 batch: Sender.completeBatch).
PENDING_ACKS0 = _case("config_pending_acks0.json")
#: Regime 2's request-bound example: acks=1, batch.size 0 (a record per batch), one partition,
#: max.in.flight 2 over a 100 ms round trip: at most 20 records/s leave, 60 are offered, and a
#: 1 s delivery.timeout.ms fails the rest.
IN_FLIGHT_BOUND = _case("config_overload_in_flight2.json")
#: Regime 2's NIC-bound acks=0 example: 4000-byte records at 93.75/s over a 1 Mbit/s NIC (31
#: records/s). Its finding: the sender completed an acks=0 batch when drained, not once its
#: request had left the NIC (NetworkClient.handleCompletedSends), so all 197 were acknowledged.
ACKS0_NIC_BOUND = _case("config_overload_acks0_nic.json")
#: Found by the slow examples: acks=1, batch.size 1 MiB over a 1 Mbit/s NIC: a 328 kB request
#: is still on the wire past its batch's delivery timeout. The sender failed a batch only on
#: its answer, not in flight (Sender.getExpiredInflightBatches): no record failed in 2.1 s.
IN_FLIGHT_EXPIRY = _case("config_overload_in_flight_expiry.json")

EVENT_CAP = 3_000_000  # events per run before it counts as a runaway
MAX_TOTAL_MSGS_S = 1500.0  # keeps each example to a second or so of wall time
PRODUCE_S = 2.0  # producers send for this long, s

_ASSIGNORS = ["range", "roundrobin", "sticky", "cooperative-sticky"]


def _round(x: float) -> float:
    return round(x, 3)


# --------------------------------------------------------------------------------------------
# Draws


@st.composite
def _hardware(draw, overload_nic: bool) -> dict:
    gbps = 0.001 * draw(st.sampled_from([1, 2, 5])) if overload_nic else None
    return {
        "network_gbps": gbps or draw(st.sampled_from([1.0, 10.0, 25.0])),
        "rtt_ms": draw(st.sampled_from([0.1, 0.5, 1.0, 2.0, 5.0])),
        "disk_write_mb_s": draw(st.sampled_from([100.0, 500.0, 2000.0])),
        "page_cache_mb": draw(st.sampled_from([256.0, 8192.0])),
    }


@st.composite
def _broker_config(draw, brokers: int) -> dict:
    lag_ms = draw(st.sampled_from([10000, 30000]))
    cfg = {
        "num.replica.fetchers": draw(st.sampled_from([1, 1, 2, 4, 8])),
        "num.io.threads": draw(st.sampled_from([1, 2, 8, 8, 16])),
        "num.network.threads": draw(st.sampled_from([1, 3, 3, 8])),
        "replica.fetch.max.bytes": draw(st.sampled_from([1048576, 65536, 1024])),
        "replica.fetch.response.max.bytes": draw(st.sampled_from([10485760, 1048576, 4096])),
        "replica.fetch.min.bytes": draw(st.sampled_from([1, 1, 1024])),
        "replica.fetch.wait.max.ms": draw(st.sampled_from([0, 10, 100, 500])),
        "replica.fetch.backoff.ms": draw(st.sampled_from([1000, 100])),
        "replica.lag.time.max.ms": lag_ms,
        "replica.high.watermark.checkpoint.interval.ms": draw(st.sampled_from([5000, 500])),
        "log.flush.interval.messages": draw(st.sampled_from([LONG_MAX, 1, 100, 10000])),
        "log.flush.scheduler.interval.ms": draw(st.sampled_from([LONG_MAX, 1000, 200])),
        "log.initial.task.delay.ms": draw(st.sampled_from([30000, 0, 500])),
        "log.segment.bytes": draw(st.sampled_from([1073741824, 1048576, 65536])),
        "log.roll.ms": draw(st.sampled_from([604800000, 1000, 500])),
        "log.retention.ms": draw(st.sampled_from([604800000, -1, 3600000])),
        "log.retention.bytes": draw(st.sampled_from([-1, 1073741824])),
        "group.initial.rebalance.delay.ms": draw(st.sampled_from([0, 100, 3000])),
        "compression.type": draw(st.sampled_from(["producer", "producer", "lz4", "uncompressed"])),
        "offsets.topic.num.partitions": draw(st.sampled_from([50, 1, 5])),
        "offsets.topic.replication.factor": min(brokers, 3),
        "auto.leader.rebalance.enable": draw(st.booleans()),
    }
    if draw(st.booleans()):
        cfg["log.flush.interval.ms"] = draw(st.sampled_from([0, 100, 1000]))
    return cfg


@st.composite
def _topic(draw, name: str, brokers: int) -> dict:
    rf = draw(st.integers(1, min(brokers, 3)))
    config = {"min.insync.replicas": draw(st.integers(1, rf))}
    if draw(st.booleans()):
        config["flush.messages"] = draw(st.sampled_from([1, 10, LONG_MAX]))
    if draw(st.booleans()):
        config["segment.bytes"] = draw(st.sampled_from([16384, 1048576]))
    if draw(st.booleans()):
        config["compression.type"] = draw(st.sampled_from(["producer", "gzip", "zstd"]))
    return {
        "name": name,
        "partitions": draw(st.integers(1, 6)),
        "replication_factor": rf,
        "config": config,
    }


@st.composite
def _producer_config(draw) -> dict:
    acks = draw(st.sampled_from(["all", "all", "1", "0"]))
    idempotent = acks == "all" and draw(st.booleans())
    in_flight = draw(st.sampled_from([1, 2, 5, 5] + ([] if idempotent else [10])))
    cfg = {
        "acks": acks,
        "enable.idempotence": idempotent,
        "linger.ms": draw(st.sampled_from([0, 0, 1, 5, 20, 100])),
        "batch.size": draw(st.sampled_from([16384, 16384, 0, 1024, 65536, 1048576])),
        "compression.type": draw(st.sampled_from(["none", "gzip", "snappy", "lz4", "zstd"])),
        "max.in.flight.requests.per.connection": in_flight,
        "partitioner.ignore.keys": draw(st.booleans()),
        "partitioner.adaptive.partitioning.enable": draw(st.booleans()),
        "partitioner.availability.timeout.ms": draw(st.sampled_from([0, 0, 1000])),
        "metadata.max.age.ms": draw(st.sampled_from([300000, 1000])),
    }
    if draw(st.integers(0, 3)) == 0:
        cfg["partitioner.class"] = draw(
            st.sampled_from(
                [
                    "org.apache.kafka.clients.producer.RoundRobinPartitioner",
                    "org.apache.kafka.clients.producer.UniformStickyPartitioner",
                    "org.apache.kafka.clients.producer.internals.DefaultPartitioner",
                ]
            )
        )
    return cfg


@st.composite
def _producer(draw, i: int, topics: list[str]) -> dict:
    dist = draw(st.sampled_from(["fixed", "uniform", "lognormal"]))
    spread = 0.0 if dist == "fixed" else draw(st.sampled_from([0.2, 0.5]))
    keys = draw(st.sampled_from(["none", "uniform", "zipf"]))
    arrival = draw(st.sampled_from(["constant", "poisson", "bursts"]))
    return {
        "name": f"p{i}",
        "count": draw(st.integers(1, 2)),
        "topic": draw(st.sampled_from(topics)),
        "rate_msgs_s": 1.0,  # set by the regime from the capacity
        "message_bytes": draw(st.sampled_from([0, 100, 1024, 4000])),
        "message_bytes_dist": dist,
        "message_bytes_spread": spread,
        "arrival": {"kind": arrival, "burst_factor": 3.0, "burst_s": 0.2, "period_s": 1.0},
        "keys": {"kind": keys, "cardinality": draw(st.sampled_from([1, 10, 1000]))},
        "config": draw(_producer_config()),
    }


@st.composite
def _group(draw, i: int, topics: list[str]) -> dict:
    auto_commit = draw(st.booleans())
    cfg = {
        "auto.offset.reset": "earliest",
        "partition.assignment.strategy": draw(
            st.lists(st.sampled_from(_ASSIGNORS), min_size=1, max_size=2, unique=True)
        ),
        "fetch.min.bytes": draw(st.sampled_from([1, 1, 1024, 65536])),
        "fetch.max.wait.ms": draw(st.sampled_from([500, 100, 10])),
        "max.partition.fetch.bytes": draw(st.sampled_from([1048576, 65536, 4096])),
        "fetch.max.bytes": draw(st.sampled_from([52428800, 1048576])),
        "max.poll.records": draw(st.sampled_from([500, 500, 10, 1])),
        "enable.auto.commit": auto_commit,
        "auto.commit.interval.ms": draw(st.sampled_from([5000, 1000, 100])),
        "session.timeout.ms": draw(st.sampled_from([45000, 10000])),
        "heartbeat.interval.ms": draw(st.sampled_from([3000, 1000])),
    }
    return {
        "group_id": f"g{i}",
        "members": draw(st.integers(1, 3)),
        "topics": draw(st.lists(st.sampled_from(topics), min_size=1, unique=True)),
        "processing_ms": draw(st.sampled_from([0.0, 0.01, 0.1])),
        "static": draw(st.booleans()),
        "config": cfg,
    }


@st.composite
def _base(draw, overload_nic: bool = False) -> dict:
    brokers = draw(st.integers(1, 7))
    names = [f"t{i}" for i in range(draw(st.integers(1, 3)))]
    return {
        "name": "config_property",
        "seed": draw(st.integers(0, 2**16)),
        "duration_s": 0.0,  # set by the regime
        "cluster": {
            "brokers": brokers,
            "hardware": draw(_hardware(overload_nic)),
            "config": draw(_broker_config(brokers)),
        },
        "topics": [draw(_topic(n, brokers)) for n in names],
        "producers": [draw(_producer(i, names)) for i in range(draw(st.integers(1, 3)))],
        "consumer_groups": [draw(_group(i, names)) for i in range(draw(st.integers(0, 2)))],
        "faults": [],
    }


# --------------------------------------------------------------------------------------------
# Capacity and bounds, from the hardware and the settings


def _topic_of(d: dict, name: str) -> dict:
    return next(t for t in d["topics"] if t["name"] == name)


def _max_value_bytes(p: dict) -> int:
    """Largest value a producer's size distribution gives in practice, bytes (lognormal:
    mean x e^(4 sigma), beyond which a draw is one in 30,000)."""
    mean, spread = p["message_bytes"], p["message_bytes_spread"]
    if p["message_bytes_dist"] == "uniform":
        return math.ceil(mean * (1 + spread)) + 1
    if p["message_bytes_dist"] == "lognormal":
        return math.ceil(max(mean, 1) * math.exp(4 * spread))
    return mean


def _record_wire_bytes(p: dict) -> int:
    """Upper bound of one record's bytes inside a batch (key "key-<id>", value, overhead)."""
    key = 0 if p["keys"]["kind"] == "none" else len(f"key-{p['keys']['cardinality'] - 1}")
    return key + _max_value_bytes(p) + MAX_RECORD_OVERHEAD_BYTES


def _largest_batch_bytes(p: dict) -> int:
    """Largest batch a producer sends, bytes: batch.size of records (or one record when a
    record is larger), compressed, plus the header."""
    cfg = p["config"]
    one = RECORD_BATCH_OVERHEAD_BYTES + _record_wire_bytes(p)
    return max(largest_batch_bytes(cfg["batch.size"], cfg["compression.type"]), one)


def _peak(p: dict) -> float:
    """Peak arrival rate over the mean (bursts: burst_factor)."""
    return p["arrival"]["burst_factor"] if p["arrival"]["kind"] == "bursts" else 1.0


def _nic_bytes_s(d: dict) -> float:
    return d["cluster"]["hardware"]["network_gbps"] * 1e9 / 8


def _rtt_s(d: dict) -> float:
    return d["cluster"]["hardware"]["rtt_ms"] / 1000


def _readers(d: dict, topic: str) -> int:
    return sum(1 for g in d["consumer_groups"] if topic in g["topics"])


def _replication_wait_s(d: dict, p: dict) -> float:
    """How long an acks=all produce may wait for a follower's fetch at the leader beyond the
    round trips: replica.fetch.wait.max.ms when replica.fetch.min.bytes can exceed what the
    leader has (DelayedFetch waits for the bytes or the time), else 0."""
    cfg = d["cluster"]["config"]
    if p["config"]["acks"] != "all" or _topic_of(d, p["topic"])["replication_factor"] == 1:
        return 0.0
    return cfg["replica.fetch.wait.max.ms"] / 1000 if cfg["replica.fetch.min.bytes"] > 1 else 0.0


def _disk_s(d: dict, nbytes: float) -> float:
    return nbytes / (d["cluster"]["hardware"]["disk_write_mb_s"] * 1e6)


def request_s(d: dict, p: dict) -> float:
    """Upper bound of one produce request's time under the drawn load, s: 4 round trips (the
    request and its answer, and for acks=all the follower's fetch that carries the batch and the
    next one that moves the high watermark), the replication wait, the request's bytes over 3
    NIC hops (producer out, leader in, follower in), an fsync of them on leader and follower
    (flush.messages), and the broker threads' cost of every request that can be queued at once
    (each producer client's in-flight requests and each follower's fetches), on one thread."""
    t = _topic_of(d, p["topic"])
    cfg = d["cluster"]["config"]
    request_bytes = t["partitions"] * _largest_batch_bytes(p)
    queued = (
        sum(
            q["count"] * q["config"]["max.in.flight.requests.per.connection"]
            for q in d["producers"]
        )
        + d["cluster"]["brokers"] * cfg["num.replica.fetchers"]
    )
    cpu = queued * (
        IO_REQUEST_S + NETWORK_REQUEST_S + request_bytes / IO_BYTES_S
        + request_bytes / NETWORK_BYTES_S
    )  # fmt: skip
    return (
        4 * _rtt_s(d)
        + _replication_wait_s(d, p)
        + 3 * request_bytes / _nic_bytes_s(d)
        + 2 * _disk_s(d, request_bytes)
        + cpu
    )


def produce_bound_s(d: dict, p: dict) -> float:
    """Upper bound of a record's produce latency (send() to answer) with capacity to spare, s.

    linger.ms (its batch waits at most that long for more records), then at most
    :data:`QUEUED_REQUESTS` requests ahead of its own on the connection plus its own
    (:func:`request_s` each), plus the first metadata fetch (one round trip). With the load at
    most a quarter of what max.in.flight requests carry, more requests queued at once than that
    needs 7 arrivals in one request time where a quarter of one is expected: less likely than
    1e-6 (Poisson), far below one in a run."""
    linger = p["config"]["linger.ms"] / 1000
    return linger + (QUEUED_REQUESTS + 1) * request_s(d, p) + _rtt_s(d)


QUEUED_REQUESTS = 6


def _fetch_s(d: dict, g: dict) -> float:
    """One consumer fetch and poll, s: a round trip, fetch.max.wait.ms (a fetch short of
    fetch.min.bytes waits for it), and processing a full poll."""
    cfg = g["config"]
    return (
        2 * _rtt_s(d)
        + cfg["fetch.max.wait.ms"] / 1000
        + g["processing_ms"] / 1000 * cfg["max.poll.records"]
    )


def capacity_per_client_msgs_s(d: dict) -> float:
    """Largest mean rate per producer client (records/s, the same for every client) that the
    run carries with capacity to spare: a quarter of the tightest limit, at the arrivals' peak.

    - NIC: a broker may lead every partition: each record crosses its NIC RF times (produce in,
      replicas out) plus once per group reading it, at its largest size uncompressed;
    - disk: a broker stores at most one replica of each partition;
    - producer in flight: per client, max.in.flight requests of at least one record each per
      :func:`request_s`;
    - broker threads: each batch (of one record at worst) costs a network and an io thread
      request time on the leader and on each follower's fetch;
    - consumers: a member's fetch brings max.partition.fetch.bytes of a backlogged partition
      (at least one batch, each of at least one record), a poll at most max.poll.records, one
      fetch and poll per :func:`_fetch_s`; every record may go to one partition (keys,
      stickiness).
    """
    cfg = d["cluster"]["config"]
    nic = disk = cpu = 0.0
    limits = []
    for p in d["producers"]:
        t = _topic_of(d, p["topic"])
        share = p["count"] * _peak(p)
        rec = _record_wire_bytes(p) + RECORD_BATCH_OVERHEAD_BYTES
        rf = t["replication_factor"]
        nic += share * rec * (rf + _readers(d, t["name"]))
        disk += share * rec
        cost = IO_REQUEST_S + NETWORK_REQUEST_S + rec / IO_BYTES_S + rec / NETWORK_BYTES_S
        cpu += share * (1 + rf) * cost
        in_flight = p["config"]["max.in.flight.requests.per.connection"]
        limits.append(in_flight / (request_s(d, p) * _peak(p)))
    threads = min(cfg["num.io.threads"], cfg["num.network.threads"])
    limits += [_nic_bytes_s(d) / nic, d["cluster"]["hardware"]["disk_write_mb_s"] * 1e6 / disk]
    limits.append(threads / cpu)
    for g in d["consumer_groups"]:
        into = [p for p in d["producers"] if p["topic"] in g["topics"]]
        if into:
            batch = max(_largest_batch_bytes(p) for p in into)
            per_fetch = max(1, g["config"]["max.partition.fetch.bytes"] // batch)
            per_fetch = min(per_fetch, g["config"]["max.poll.records"])
            records_s = sum(p["count"] * _peak(p) for p in into)
            limits.append(per_fetch / (_fetch_s(d, g) * records_s))
    return min(limits) / 4


def group_ready_s(d: dict) -> float:
    """When every group is Stable at the latest, s: twice group.initial.rebalance.delay.ms (the
    first delay, and one more because members joined during it: GroupCoordinator's
    InitialDelayedJoin), plus 20 round trips and 2 replication waits (FindCoordinator, the join
    with MEMBER_ID_REQUIRED, SyncGroup with its acks=all group write, OffsetFetch)."""
    cfg = d["cluster"]["config"]
    wait = cfg["replica.fetch.wait.max.ms"] / 1000 if cfg["replica.fetch.min.bytes"] > 1 else 0
    return 2 * cfg["group.initial.rebalance.delay.ms"] / 1000 + 20 * _rtt_s(d) + 2 * wait


@st.composite
def spare_capacity(draw) -> dict:
    """A scenario of regime 1: the load a drawn fraction (up to 1) of the spare capacity."""
    d = draw(_base())
    clients = sum(p["count"] for p in d["producers"])
    rate = min(capacity_per_client_msgs_s(d), MAX_TOTAL_MSGS_S / clients)
    rate *= draw(st.sampled_from([0.05, 0.2, 0.5, 1.0]))
    for p in d["producers"]:
        p["rate_msgs_s"] = rate
        p["stop_s"] = PRODUCE_S
    produce = max(produce_bound_s(d, p) for p in d["producers"])
    consume = max((2 * _fetch_s(d, g) for g in d["consumer_groups"]), default=0.0)
    start = max(PRODUCE_S, group_ready_s(d) * 5 / 4)  # a backlog at 4x the rate
    d["duration_s"] = _round(start + produce + consume + 4 * _rtt_s(d))
    return d


def _run(d: dict):
    world = World(Scenario.from_dict(d), check_invariants=True)
    world.env.event_limit = EVENT_CAP
    world.run()
    return world.results()


def check_keeps_up(d: dict) -> None:
    """Regime 1's property (see the module docstring); a failure is saved for replay."""
    with replayable(d):
        r = _run(d)
        audit(r.tables)  # AccountingError unless offered = acked + failed + pending
        producers = r.producers.set_index("producer")
        assert (producers["failed"] == 0).all(), r.failures.to_string()
        assert (producers["pending"] == 0).all(), producers.to_string()
        assert r.summary()["unconsumed_messages"] == 0, r.summary()
        shrinks = r.events[r.events["kind"] == "isr_shrink"]
        assert shrinks.empty, shrinks.to_string()
        violations = r.liveness[r.liveness["violation"] != ""]
        assert violations.empty, violations.to_string()
        bound = {}
        for p in d["producers"]:
            for i in range(p["count"]):
                bound[f"{p['name']}-{i}"] = produce_bound_s(d, p)
        acked = r.acked[r.acked["error"] == ""].merge(r.produced[["batch_id", "producer"]])
        late = acked[acked["latency_s"] > acked["producer"].map(bound).astype(float)]
        assert late.empty, f"bounds {bound}\n{late.head().to_string()}"


_PROPERTY = settings(
    deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large]
)


@settings(_PROPERTY, max_examples=100)
@given(d=spare_capacity())
@example(d=PENDING_ACKS0)
def test_every_setting_keeps_up_with_capacity_to_spare(d: dict) -> None:
    """Regime 1 over 100 drawn configurations and its first finding."""
    check_keeps_up(d)


@pytest.mark.slow
@settings(_PROPERTY, max_examples=200)
@given(spare_capacity())
def test_every_setting_keeps_up_with_capacity_to_spare_more(d: dict) -> None:
    """Regime 1 over 200 more."""
    check_keeps_up(d)


# --------------------------------------------------------------------------------------------
# Regime 2: overload


def overload_ceiling_msgs_s(d: dict, p: dict) -> float:
    """Upper bound of what one client of producer ``p`` can get acknowledged, records/s: its
    NIC's bytes/s over a record's smallest wire size (value and key, compressed), and for
    acks 1 or all, max.in.flight requests per connection, each at most one batch per
    partition of at most batch.size of records plus one, per round trip."""
    cfg = p["config"]
    rec = p["message_bytes"] + _record_wire_bytes(p) - _max_value_bytes(p)
    rec -= MAX_RECORD_OVERHEAD_BYTES
    nic = _nic_bytes_s(d) / (rec * COMPRESSION_RATIO[cfg["compression.type"]])
    if cfg["acks"] == "0":
        return nic
    per_batch = cfg["batch.size"] // rec + 1
    partitions = _topic_of(d, p["topic"])["partitions"]
    in_flight = cfg["max.in.flight.requests.per.connection"] * partitions * per_batch
    return min(nic, in_flight / _rtt_s(d))


@st.composite
def overload(draw) -> dict:
    """A scenario of regime 2: one producer client offered 3-10x its ceiling, short timeouts."""
    nic_bound = draw(st.booleans())
    d = draw(_base(overload_nic=nic_bound))
    p = d["producers"][0]
    d["producers"] = [p]
    p.update(count=1, message_bytes=4000 if nic_bound else 1000, message_bytes_dist="fixed")
    p["message_bytes_spread"] = 0.0
    if not nic_bound:
        d["cluster"]["hardware"]["rtt_ms"] = draw(st.sampled_from([100.0, 200.0]))
        p["config"]["acks"] = draw(st.sampled_from(["1", "all"]))
        p["config"]["enable.idempotence"] = False
        p["config"]["batch.size"] = draw(st.sampled_from([0, 1024, 4096]))
        p["config"]["max.in.flight.requests.per.connection"] = draw(st.integers(1, 2))
        for t in d["topics"]:
            t["partitions"] = min(t["partitions"], 3)
    cfg = p["config"]
    request_ms = draw(st.sampled_from([1000, 2000]))
    delivery_ms = cfg["linger.ms"] + request_ms + draw(st.sampled_from([0, 1000]))
    max_block_ms = draw(st.sampled_from([100, 500, 1000]))
    ceiling = overload_ceiling_msgs_s(d, p)
    p["rate_msgs_s"] = ceiling * draw(st.sampled_from([3.0, 5.0, 10.0]))
    assume(p["rate_msgs_s"] <= MAX_TOTAL_MSGS_S)
    dt = delivery_ms / 1000
    # large: more than twice what can leave in a delivery timeout; small: a few batches
    large = 2 * ceiling * dt * (p["message_bytes"] + cfg["batch.size"])
    memory = draw(st.sampled_from([max(int(large), 33554432), 4 * max(cfg["batch.size"], 8192)]))
    cfg.update(
        {
            "request.timeout.ms": request_ms,
            "delivery.timeout.ms": delivery_ms,
            "max.block.ms": max_block_ms,
            "buffer.memory": memory,
        }
    )
    d["duration_s"] = _round(2 * dt + max_block_ms / 1000 + 4 * _rtt_s(d))
    return d


def check_degrades_loudly(d: dict) -> None:
    """Regime 2's property: the overload shows as failed records (DELIVERY_TIMEOUT or
    BUFFER_EXHAUSTED) or as a send() blocked on buffer.memory, and the audit accounts for
    every offered record."""
    with replayable(d):
        r = _run(d)
        audit(r.tables)
        row = r.producers.iloc[0]
        assert row["acked"] < row["offered"], row.to_dict()
        large = d["producers"][0]["config"]["buffer.memory"] >= 33554432
        if large:
            assert row["failed"] > 0, row.to_dict()
        else:
            assert row["failed"] > 0 or row["pending_blocked"] > 0, row.to_dict()


@pytest.mark.liveness_violation_expected
@settings(_PROPERTY, max_examples=100)
@given(d=overload())
@example(d=IN_FLIGHT_BOUND)
@example(d=ACKS0_NIC_BOUND)
@example(d=IN_FLIGHT_EXPIRY)
def test_overload_degrades_as_kafka_does(d: dict) -> None:
    """Regime 2 over 100 drawn configurations, its request-bound and NIC-bound examples."""
    check_degrades_loudly(d)


@pytest.mark.liveness_violation_expected
@pytest.mark.slow
@settings(_PROPERTY, max_examples=200)
@given(overload())
def test_overload_degrades_as_kafka_does_more(d: dict) -> None:
    """Regime 2 over 200 more."""
    check_degrades_loudly(d)


def test_the_property_fails_with_a_sender_that_ignores_max_in_flight(monkeypatch) -> None:
    """A sender that never counts its requests in flight (Sender.in_flight_to always 0, so
    max.in.flight.requests.per.connection is ignored, unlike NetworkClient's
    InFlightRequests.canSendMore) sends every record as it comes: the overload never shows
    (no record fails), and regime 2 fails on its request-bound example."""
    monkeypatch.setattr(Sender, "in_flight_to", lambda self, node: 0)
    with pytest.raises(AssertionError, match="'failed': 0"):
        check_degrades_loudly(IN_FLIGHT_BOUND)
