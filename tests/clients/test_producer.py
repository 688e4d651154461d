"""The producer drives Kafka's adaptive partitioning (KIP-794) for records without keys."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from sim.clients.producer.kafka_producer import LIST_CHUNK, KafkaProducer, _Unassigned
from sim.clients.producer.sender import RETRY_JITTER, Sender
from sim.net import RequestTimedOut
from sim.protocol import NO_LEADER, Errors
from sim.scenario import Scenario
from sim.world import World
from tests.clients.test_epoch_bump import TP, _Producer

SLOW_BROKER = 2


def _slow_broker_world(adaptive: bool, duration_s: float = 4.0) -> World:
    """Keyless records at 3 MB/s to 3 partitions, one of them on a broker with a slow NIC."""
    return World(
        Scenario.from_dict(
            {
                "seed": 5,
                "duration_s": duration_s,
                "cluster": {
                    "brokers": 3,
                    "hardware": {"per_broker": {str(SLOW_BROKER): {"network_gbps": 0.004}}},
                },
                "topics": [{"name": "t", "partitions": 3, "replication_factor": 1}],
                "producers": [
                    {
                        "name": "app",
                        "topic": "t",
                        "rate_msgs_s": 3000,
                        "message_bytes": 1000,
                        "config": {
                            "linger.ms": 5,
                            "partitioner.adaptive.partitioning.enable": adaptive,
                        },
                    }
                ],
            }
        )
    )


def _share_to_slow_broker(adaptive: bool) -> float:
    """Share of keyless records the partitioner gave to the partition whose only replica is on
    a broker with a slow NIC: sent batches plus records still queued for it at the end."""
    world = _slow_broker_world(adaptive)
    world.run()
    slow = next(tp for tp, replicas in world.assignments.items() if replicas == [SLOW_BROKER])
    given = world.results().produced.groupby("partition")["count"].sum().to_dict()
    for tp, queue in world.producers[0].accumulator.queues.items():
        waiting = len(queue.times) - queue.start + sum(b.count for b in queue.retries)
        given[tp[1]] = given.get(tp[1], 0) + waiting
    return given.get(slow[1], 0) / sum(given.values())


def test_adaptive_partitioning_sends_less_to_a_slow_broker():
    """With load stats (partitioner.adaptive.partitioning.enable=true, the default) the next
    sticky partition is drawn with weights max+1−queue (BuiltInPartitioner.nextPartition): the
    partition on a broker whose NIC (0.5 MB/s) cannot take its third of 3 MB/s builds a queue and
    is chosen far less often than the uniform third it gets without adaptive partitioning."""
    uniform = _share_to_slow_broker(adaptive=False)
    adaptive = _share_to_slow_broker(adaptive=True)
    assert 0.25 < uniform < 0.42  # uniform choice among 3 partitions
    assert adaptive < 0.6 * uniform


def test_load_stats_built_only_when_a_switch_can_come_give_the_same_run(monkeypatch):
    """The producer brings the load stats up to date only for a take-in whose records can make
    the sticky partition switch (the stats are read only then); building them at every take-in
    gives the very same batches."""

    def produced(always: bool):
        if always:
            monkeypatch.setattr(KafkaProducer, "_may_switch", lambda self, new_bytes, now: True)
        world = _slow_broker_world(adaptive=True, duration_s=2.0)
        world.run()
        return world.results().produced

    lazy = produced(always=False)
    assert lazy.equals(produced(always=True))


def test_keyless_records_with_linger_0_wake_the_sender_per_batch_not_per_record():
    """linger.ms 0 and no key: a record joining a batch that is neither new nor full does not
    wake the sender (KafkaProducer.doSend wakes it only when the append created a batch or filled
    one), so the simulation takes far fewer steps than there are records while the connection's
    five requests in flight hold the rest back."""
    world = World(
        Scenario.from_dict(
            {
                "seed": 3,
                "duration_s": 0.2,
                "cluster": {"brokers": 1},
                "topics": [{"name": "t", "partitions": 2, "replication_factor": 1}],
                "producers": [
                    {
                        "name": "app",
                        "topic": "t",
                        "rate_msgs_s": 200_000,
                        "message_bytes": 100,
                        "config": {"linger.ms": 0, "acks": "1"},
                    }
                ],
            }
        )
    )
    world.run()
    steps = world.env.processed
    produced = world.results().tables["produced"]
    records = int(produced["count"].sum())
    assert records > 30_000
    assert len(produced) < records / 5  # batching happened: the sender was busy
    assert steps < records / 2  # one or more per record when every arrival woke the sender


@pytest.mark.parametrize("refresh", [True, False])
def test_batch_without_known_leader_asks_for_metadata(monkeypatch, refresh: bool):
    """Sender.sendProducerData: a partition with a batch and no known leader (the metadata
    answer came while its election was pending) puts its topic in unknownLeaderTopics and
    requests a metadata update (``metadata.requestUpdate(false)``), so the next answer, at most
    retry.backoff.max.ms after the last one (Metadata.timeToAllowUpdate), names the leader
    again and the partition's records go out. Without it (the TEST-ONLY switch
    ``Sender.refresh_on_unknown_leader`` off) nothing else asks: the partition's records wait
    for metadata.max.age.ms (5 min) while the others flow."""
    monkeypatch.setattr(Sender, "refresh_on_unknown_leader", refresh)
    leaderless_at_s = 1.0
    world = World(
        Scenario.from_dict(
            {
                "seed": 1,
                "duration_s": leaderless_at_s + 2.0,
                "cluster": {"brokers": 3},
                "topics": [{"name": "t", "partitions": 3, "replication_factor": 3}],
                "producers": [
                    {
                        "name": "app",
                        "topic": "t",
                        "rate_msgs_s": 1000,
                        "keys": {"kind": "uniform", "cardinality": 100},
                        "config": {"linger.ms": 5},
                    }
                ],
            }
        )
    )
    producer = world.producers[0]
    tp = ("t", 0)

    def leaderless_answer():
        yield world.env.timeout(leaderless_at_s)
        meta = producer.metadata.partitions[tp]
        producer.metadata.partitions[tp] = replace(meta, leader=NO_LEADER)
        producer._on_metadata()

    world.env.process(leaderless_answer())
    world.run()
    r = world.results()
    rows = r.produced.merge(r.acked, on="batch_id")
    later = rows[(rows["partition"] == tp[1]) & (rows["first_arrival_s"] > leaderless_at_s)]
    others = rows[(rows["partition"] != tp[1]) & (rows["first_arrival_s"] > leaderless_at_s)]
    assert len(others) > 0 and (others["error"] == "").all()
    if not refresh:
        assert later.empty
        return
    backoff_max_s = producer.config.s("retry.backoff.max.ms")
    assert len(later) > 0 and (later["error"] == "").all()
    assert later["done_s"].min() <= leaderless_at_s + backoff_max_s


@pytest.mark.parametrize("in_flight", [1, 5])
def test_acks_0_completes_each_batch_once_sent_under_any_max_in_flight(in_flight: int):
    """acks=0: a request completes when sent (NetworkClient.handleCompletedSends, no
    ``expectResponse``) and Sender.completeBatch unmutes its partition, so with
    max.in.flight.requests.per.connection 1 (guaranteeMessageOrder mutes each partition drained)
    every record is acknowledged, not only the first batch of each partition."""
    world = World(
        Scenario.from_dict(
            {
                "seed": 1,
                "duration_s": 1.0,
                "cluster": {"brokers": 1},
                "topics": [{"name": "t", "partitions": 2, "replication_factor": 1}],
                "producers": [
                    {
                        "name": "app",
                        "topic": "t",
                        "rate_msgs_s": 100,
                        "stop_s": 0.5,
                        "message_bytes": 100,
                        "config": {
                            "acks": "0",
                            "linger.ms": 1,
                            "max.in.flight.requests.per.connection": in_flight,
                        },
                    }
                ],
            }
        )
    )
    world.run()
    row = world.results().producers.iloc[0]
    assert row["offered"] > 10
    assert (row["acked"], row["pending"]) == (row["offered"], 0), row.to_dict()


def test_acks_0_batches_complete_only_as_fast_as_the_nic_carries_them():
    """acks=0 over a 1 Mbit/s NIC, offered 3.2x what it carries: a request holds its in-flight
    slot and its batches their memory until its bytes have left the NIC (NetworkClient
    .handleCompletedSends), so by any time the batches acknowledged fit in what the NIC carried,
    and buffer.memory fills: send() blocks."""
    nic_bytes_s = 125_000.0
    world = World(
        Scenario.from_dict(
            {
                "seed": 3,
                "duration_s": 2.0,
                "cluster": {"brokers": 1, "hardware": {"network_gbps": nic_bytes_s * 8 / 1e9}},
                "topics": [{"name": "t", "partitions": 2, "replication_factor": 1}],
                "producers": [
                    {
                        "name": "app",
                        "topic": "t",
                        "rate_msgs_s": 100,
                        "message_bytes": 4000,
                        "config": {"acks": "0", "buffer.memory": 65536},
                    }
                ],
            }
        )
    )
    world.run()
    r = world.results()
    sent = r.acked[r.acked["error"] == ""].merge(r.produced[["batch_id", "bytes"]])
    done = sent.sort_values("done_s")
    assert len(done) > 10
    carried = done["bytes"].cumsum()  # the batches' bytes: each request carries more
    assert (carried <= nic_bytes_s * done["done_s"]).all()
    assert r.producers.iloc[0]["pending_blocked"] > 0, r.producers.to_string()


class _SilentNet:
    """Never answers: each request's event fires with RequestTimedOut at its timeout."""

    def __init__(self, env) -> None:
        self.env = env

    def request(self, _src, dst, _request, timeout_s):
        return self.env.timeout(timeout_s, RequestTimedOut(dst))


@pytest.mark.parametrize("timeout_ms", [300, 1000])
def test_an_unanswered_produce_request_fails_at_request_timeout_ms_and_is_retried(timeout_ms):
    """NetworkClient.handleTimedOutRequests: a produce request without an answer for
    request.timeout.ms fails (REQUEST_TIMED_OUT, retriable), and Sender.completeBatch puts
    its batch back for a retry."""
    p = _Producer(**{"request.timeout.ms": timeout_ms})
    p.sender.net = _SilentNet(p.env)
    p.append()
    p.run_once()
    queue = p.acc.queues[TP]
    p.sleep(timeout_ms / 1000 - 1e-6)
    assert not queue.retries
    p.sleep(2e-6)
    assert len(queue.retries) == 1 and queue.retries[0].attempts == 1


@pytest.mark.parametrize(("base_ms", "max_ms"), [(100, 1000), (30, 60)])
def test_a_retried_batch_backs_off_from_retry_backoff_ms_doubling_to_its_max(base_ms, max_ms):
    """Sender.reenqueue with KIP-580's ExponentialBackoff: the k-th retry of a batch waits
    retry.backoff.ms x 2^(k-1), at most retry.backoff.max.ms, each +-20 % (jitter)."""
    p = _Producer(**{"retry.backoff.ms": base_ms, "retry.backoff.max.ms": max_ms})
    p.append()
    queue = p.acc.queues[TP]
    for attempt in range(1, 7):
        p.run_once()
        p.answer(Errors.NOT_ENOUGH_REPLICAS)
        wait_s = queue.retries[0].retry_at_s - p.env.now
        base_s = min(base_ms * 2 ** (attempt - 1), max_ms) / 1000
        assert base_s * (1 - RETRY_JITTER) <= wait_s <= base_s * (1 + RETRY_JITTER)
        p.sleep(wait_s)


def test_unassigned_records_past_the_listed_ones_are_found_and_dropped():
    """Records not yet given a partition join the lists only as far as a search reaches: a
    search past them finds what a search over every record would, and dropping the records
    after the oldest counts those never listed."""
    n = 3 * LIST_CHUNK
    unassigned = _Unassigned()
    unassigned.add(np.arange(n) * 1e-3, None, np.full(n, 100))
    assert unassigned.fill_time(100 * (LIST_CHUNK + 10)) == (LIST_CHUNK + 10) * 1e-3
    assert unassigned.count_before(2.5 * LIST_CHUNK * 1e-3) == 2.5 * LIST_CHUNK
    assert unassigned.take((LIST_CHUNK + 20) * 1e-3) == (0, LIST_CHUNK + 21)
    assert unassigned.pending_bytes() == 100 * (n - LIST_CHUNK - 21)
    assert unassigned.drop_after_first() == n - LIST_CHUNK - 22
    unassigned.add(np.array([5.0]), None, np.array([7]))
    assert unassigned.take(5.0) == (0, 2)
    assert unassigned.taken_bytes == 100 * (LIST_CHUNK + 22) + 7
