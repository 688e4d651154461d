"""Honoured settings whose effect no component test shows otherwise, each in a small run: the
requests a setting shapes are recorded off the network (sent and answered times, and what the
answer carried) and checked against what the setting prescribes, beside a run at another
value where that makes the check meaningful (docs/configuration.md names these tests)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pytest

from sim.broker.group_metadata_manager import partition_for
from sim.events import EventKind
from sim.protocol import (
    GROUP_METADATA_TOPIC,
    MAX_RECORD_OVERHEAD_BYTES,
    RECORD_BATCH_OVERHEAD_BYTES,
    ControlledShutdownRequest,
    FetchRequest,
    HeartbeatRequest,
    OffsetCommitRequest,
)
from sim.scenario import Scenario
from sim.world import World

RTT_MS = 1.0
SLACK_S = 0.01  # request handling and transfer of these small requests, s


def _scenario(
    duration_s: float,
    brokers: int = 1,
    rf: int = 1,
    partitions: int = 1,
    cluster: dict | None = None,
    producer: dict | None = None,
    group: dict | None = None,
    faults: list | None = None,
    seed: int = 1,
) -> dict:
    d: dict[str, Any] = {
        "seed": seed,
        "duration_s": duration_s,
        "cluster": {
            "brokers": brokers,
            "hardware": {"rtt_ms": RTT_MS},
            "config": {"group.initial.rebalance.delay.ms": 0, **(cluster or {})},
        },
        "topics": [{"name": "t", "partitions": partitions, "replication_factor": rf}],
        "producers": [],
        "consumer_groups": [],
        "faults": faults or [],
    }
    if producer is not None:
        d["producers"] = [
            {"name": "app", "topic": "t", "message_bytes": 100, **producer}
        ]  # fmt: skip
    if group is not None:
        d["consumer_groups"] = [{"group_id": "g", "topics": ["t"], **group}]
    return d


@dataclass
class _Sent:
    """One recorded request: who sent it, when, when answered, and the answer."""

    source: str
    request: Any
    sent_s: float
    answered_s: float = np.nan
    answer: Any = None


def _recorded_run(d: dict, kind: type) -> tuple[World, list[_Sent]]:
    """Run ``d``, recording every request of type ``kind`` sent on the network."""
    world = World(Scenario.from_dict(d))
    net, sent = world.net, []
    request = net.request

    def recording(source: str, target: str, msg: Any, timeout_s: float, after_s: float = 0.0):
        event = request(source, target, msg, timeout_s, after_s)
        if isinstance(msg, kind):
            row = _Sent(source, msg, world.env.now + after_s)  # when it leaves
            sent.append(row)
            event.callbacks.append(lambda ev: _answered(row, world.env.now, ev._value))
        return event

    net.request = recording
    world.run()
    return world, sent


def _answered(row: _Sent, now: float, answer: Any) -> None:
    row.answered_s, row.answer = now, answer


def _fetches(sent: list[_Sent], follower: bool) -> list[_Sent]:
    """The answered fetches of followers (replica_id >= 0) or of consumers."""
    return [
        s for s in sent
        if (s.request.replica_id >= 0) == follower and s.answer is not None
        and hasattr(s.answer, "partitions")
    ]  # fmt: skip


def _batches_per_answer(fetches: list[_Sent]) -> tuple[int, int]:
    """Most batches one answer carried for one partition, and in all."""
    per_partition = total = 0
    for s in fetches:
        counts = [len(data.entries) for data in s.answer.partitions.values()]
        per_partition = max(per_partition, *counts)
        total = max(total, sum(counts))
    return per_partition, total


# ---------------------------------------------------------------- producer


@pytest.mark.parametrize("batch_size", [1024, 2048])
def test_a_batch_closes_once_it_holds_batch_size_bytes(batch_size: int) -> None:
    """RecordAccumulator: a batch takes records until the next one would not fit in
    batch.size, and is then sendable without waiting out linger.ms. 2000 records/s of 100
    bytes for a 20 ms linger would make 4.4 kB batches: they stop at batch.size (plus at most
    one record) and are nearly full."""
    d = _scenario(
        1.0, producer={"rate_msgs_s": 2000, "config": {"linger.ms": 20, "batch.size": batch_size}}
    )
    world = World(Scenario.from_dict(d))
    world.run()
    produced = world.results().produced
    record = 100 + MAX_RECORD_OVERHEAD_BYTES
    assert len(produced) > 20
    assert produced["bytes"].max() <= batch_size + record + RECORD_BATCH_OVERHEAD_BYTES
    assert produced["bytes"].median() >= batch_size - record


# ---------------------------------------------------------------- consumer


@pytest.mark.parametrize(
    ("limit", "partitions", "one_per"),
    [("max.partition.fetch.bytes", 1, "partition"), ("fetch.max.bytes", 3, "answer")],
)
def test_consumer_fetch_byte_limits_cap_what_an_answer_carries(
    limit: str, partitions: int, one_per: str
) -> None:
    """A group that starts after a backlog of 1 kB batches was written: with its byte limit
    (max.partition.fetch.bytes, per partition; fetch.max.bytes, per answer) at 1 byte, each
    fetch answer carries one batch per partition or one in all (the first batch is returned
    whole, KIP-74); at Kafka's defaults an answer carries many."""
    most = {}
    for value in (1, None):
        group = {"members": 1, "start_s": 1.0, "config": {"auto.offset.reset": "earliest"}}
        if value is not None:
            group["config"][limit] = value
        producer = {"rate_msgs_s": 3000, "stop_s": 0.8, "config": {"linger.ms": 3}}
        d = _scenario(2.0, partitions=partitions, producer=producer, group=group)
        _, sent = _recorded_run(d, FetchRequest)
        most[value] = _batches_per_answer(_fetches(sent, follower=False))
    per_partition, total = most[1]
    assert (per_partition if one_per == "partition" else total) == 1
    assert most[None][0] > 1


def test_fetch_min_bytes_holds_a_fetch_until_fetch_max_wait_ms() -> None:
    """DelayedFetch: a consumer's fetch is answered once fetch.min.bytes are there, or at
    fetch.max.wait.ms. 20 records/s: with fetch.min.bytes 1 a fetch is answered as the next
    record arrives (50 ms apart); with 1 MB none is answered before the 300 ms wait."""
    wait_s = 0.3
    durations = {}
    for min_bytes in (1, 1 << 20):
        config = {"fetch.min.bytes": min_bytes, "fetch.max.wait.ms": int(wait_s * 1000)}
        group = {"members": 1, "config": config}
        d = _scenario(3.0, producer={"rate_msgs_s": 20}, group=group)
        _, sent = _recorded_run(d, FetchRequest)
        fetches = _fetches(sent, follower=False)[2:]  # after the first records came
        durations[min_bytes] = [s.answered_s - s.sent_s for s in fetches]
    assert min(durations[1 << 20]) >= wait_s
    assert min(durations[1]) < wait_s / 2


def test_client_id_prefixes_the_member_id() -> None:
    """GroupCoordinator: a dynamic member's id is ``<client.id>-<uuid>`` (the consumer's name
    when client.id is empty, as the model's KafkaConsumer sets it)."""
    d = _scenario(1.0, group={"members": 2, "config": {"client.id": "billing-app"}})
    world = World(Scenario.from_dict(d))
    world.run()
    ids = [c.coordinator.generation.member_id for c, _ in world.consumers]
    assert all(i.startswith("billing-app-") for i in ids), ids


@pytest.mark.parametrize("auto_commit", [True, False])
def test_enable_auto_commit_decides_whether_polled_offsets_are_committed(
    auto_commit: bool,
) -> None:
    """ConsumerCoordinator.maybeAutoCommitOffsetsAsync: with enable.auto.commit the polled
    positions are committed every auto.commit.interval.ms (200 ms: about 10 in 2 s); without
    it nothing is (the application would commit)."""
    config = {"enable.auto.commit": auto_commit, "auto.commit.interval.ms": 200}
    d = _scenario(2.0, producer={"rate_msgs_s": 50}, group={"members": 1, "config": config})
    _, sent = _recorded_run(d, OffsetCommitRequest)
    if auto_commit:
        assert len(sent) >= 5
    else:
        assert sent == []


@pytest.mark.parametrize("interval_ms", [300, 700])
def test_heartbeats_go_every_heartbeat_interval_ms(interval_ms: int) -> None:
    """AbstractCoordinator.HeartbeatThread: a member in a stable group sends a heartbeat
    heartbeat.interval.ms after the last one was sent (Heartbeat.sentHeartbeat resets the
    heartbeat timer, timeToNextHeartbeat waits it out)."""
    group = {"members": 1, "config": {"heartbeat.interval.ms": interval_ms}}
    _, sent = _recorded_run(_scenario(4.0, group=group), HeartbeatRequest)
    gaps = np.diff([s.sent_s for s in sent])
    assert len(gaps) >= 3
    assert gaps == pytest.approx([interval_ms / 1000] * len(gaps), abs=1e-6)


# ---------------------------------------------------------------- broker: replication


def _follower_fetches(cluster: dict, producer: dict | None, duration_s: float, faults=None):
    d = _scenario(duration_s, brokers=2, rf=2, cluster=cluster, producer=producer, faults=faults)
    _, sent = _recorded_run(d, FetchRequest)
    return [s for s in sent if s.request.replica_id >= 0]


@pytest.mark.parametrize("wait_ms", [100, 300])
def test_an_idle_follower_fetch_waits_replica_fetch_wait_max_ms(wait_ms: int) -> None:
    """DelayedFetch for a follower: with nothing to replicate, each fetch waits at the leader
    for replica.fetch.wait.max.ms and is then answered empty."""
    fetches = _follower_fetches({"replica.fetch.wait.max.ms": wait_ms}, None, 2.0)
    durations = np.array([s.answered_s - s.sent_s for s in fetches if s.answer is not None])
    assert len(durations) >= 3
    assert (durations >= wait_ms / 1000).all()
    assert (durations <= wait_ms / 1000 + RTT_MS / 1000 + SLACK_S).all()


def test_replica_fetch_min_bytes_holds_a_follower_fetch_until_the_wait_ends() -> None:
    """DelayedFetch: with replica.fetch.min.bytes above what 20 records/s bring, every follower
    fetch waits the full replica.fetch.wait.max.ms; with 1 byte it is answered as a batch
    arrives, 50 ms apart."""
    wait_s = 0.3
    durations = {}
    for min_bytes in (1, 1 << 20):
        cluster = {"replica.fetch.min.bytes": min_bytes, "replica.fetch.wait.max.ms": 300}
        fetches = _follower_fetches(cluster, {"rate_msgs_s": 20}, 2.0)
        durations[min_bytes] = [s.answered_s - s.sent_s for s in fetches if s.answer is not None]
    assert min(durations[1 << 20]) >= wait_s
    assert min(durations[1]) < wait_s / 2


@pytest.mark.parametrize(
    ("limit", "partitions", "one_per"),
    [
        ("replica.fetch.max.bytes", 1, "partition"),
        ("replica.fetch.response.max.bytes", 3, "answer"),
    ],
)
def test_replica_fetch_byte_limits_cap_what_an_answer_carries(
    limit: str, partitions: int, one_per: str
) -> None:
    """A follower cut off from its leader for 1 s (its fetch into the cut times out after
    replica.socket.timeout.ms, 200 ms here) catches up on a backlog: with the byte limit
    (replica.fetch.max.bytes per partition, replica.fetch.response.max.bytes per answer) at 1
    byte each answer carries one batch per partition or one in all (the first batch whole,
    KIP-74); at Kafka's defaults an answer carries many."""
    cut = {"kind": "network_partition", "at_s": 0.5, "links": [[0, 1]], "heal_after_s": 1.0}
    most = {}
    for value in (1, None):
        cluster = {"replica.socket.timeout.ms": 200, "replica.fetch.wait.max.ms": 100}
        if value is not None:
            cluster[limit] = value
        d = _scenario(
            2.5, brokers=2, rf=2, partitions=partitions, cluster=cluster,
            producer={"rate_msgs_s": 2000, "config": {"acks": "1", "linger.ms": 2}},
            faults=[cut],
        )  # fmt: skip
        _, sent = _recorded_run(d, FetchRequest)
        most[value] = _batches_per_answer(_fetches(sent, follower=True))
    per_partition, total = most[1]
    assert (per_partition if one_per == "partition" else total) == 1
    assert most[None][0] > 1


@pytest.mark.parametrize(("timeout_ms", "backoff_ms"), [(300, 100), (500, 400)])
def test_a_follower_cut_from_its_leader_fetches_every_socket_timeout_plus_backoff(
    timeout_ms: int, backoff_ms: int
) -> None:
    """ReplicaFetcherThread: a fetch unanswered for replica.socket.timeout.ms fails, and the
    thread backs off replica.fetch.backoff.ms before the next (AbstractFetcherThread
    .handlePartitionsWithErrors)."""
    cluster = {
        "replica.socket.timeout.ms": timeout_ms,
        "replica.fetch.backoff.ms": backoff_ms,
        "replica.fetch.wait.max.ms": 100,
    }
    cut = {"kind": "network_partition", "at_s": 0.5, "links": [[0, 1]]}
    fetches = _follower_fetches(cluster, None, 4.0, faults=[cut])
    after = [s.sent_s for s in fetches if s.sent_s > 0.5 + 0.2]  # sent into the cut
    gaps = np.diff(after)
    assert len(gaps) >= 2
    assert gaps == pytest.approx([(timeout_ms + backoff_ms) / 1000] * len(gaps), abs=1e-6)


@pytest.mark.parametrize("interval_ms", [500, 5000])
def test_the_high_watermark_checkpoint_is_written_every_interval(interval_ms: int) -> None:
    """ReplicaManager.checkpointHighWatermarks runs every
    replica.high.watermark.checkpoint.interval.ms: none is written before the first period,
    and each holds a high watermark the partition had."""
    cluster = {"replica.high.watermark.checkpoint.interval.ms": interval_ms}
    d = _scenario(3.0, cluster=cluster, producer={"rate_msgs_s": 100})
    world = World(Scenario.from_dict(d))
    replicas = world.brokers[0].replicas
    world.advance(0.45)
    assert not replicas.hw_checkpoint
    world.advance(0.55)
    written = replicas.hw_checkpoint.get(("t", 0), 0)
    hw = replicas.partitions[("t", 0)].log.high_watermark
    if interval_ms == 500:
        assert 0 < written <= hw
    else:
        assert not replicas.hw_checkpoint


# ---------------------------------------------------------------- broker: shutdown and groups


@pytest.mark.parametrize(
    ("config", "attempts"),
    [
        ({"controlled.shutdown.enable": False}, 0),
        ({"controlled.shutdown.max.retries": 2}, 2),
        ({"controlled.shutdown.max.retries": 3, "controlled.shutdown.retry.backoff.ms": 200}, 3),
    ],
)
def test_a_controlled_shutdown_the_controller_never_answers_gives_up_after_its_retries(
    config: dict, attempts: int
) -> None:
    """KafkaServer.doControlledShutdown: broker 1, cut off from the controller (broker 0),
    sends ControlledShutdown controlled.shutdown.max.retries times, each unanswered for
    controller.socket.timeout.ms (400 ms) and controlled.shutdown.retry.backoff.ms apart, then
    stops anyway; with controlled.shutdown.enable false it stops at once."""
    timeout_s = 0.4
    cluster = {"controller.socket.timeout.ms": 400, **config}
    faults = [
        {"kind": "network_partition", "at_s": 0.5, "links": [[0, 1]]},
        {"kind": "controlled_shutdown", "at_s": 1.0, "broker": 1},
    ]
    d = _scenario(8.0, brokers=3, cluster=cluster, faults=faults)
    world, sent = _recorded_run(d, ControlledShutdownRequest)
    events = world.results().events
    stopped = events[events["kind"] == EventKind.BROKER_STOPPED.value]["time_s"]
    backoff_s = config.get("controlled.shutdown.retry.backoff.ms", 5000) / 1000
    expected = attempts * timeout_s + max(attempts - 1, 0) * backoff_s
    assert len(sent) == attempts
    assert len(stopped) == 1
    assert expected <= stopped.iloc[0] - 1.0 <= expected + SLACK_S


@pytest.mark.parametrize(("partitions", "rf"), [(50, 3), (7, 1)])
def test_the_offsets_topic_has_its_configured_partitions_and_replicas(
    partitions: int, rf: int
) -> None:
    """GroupMetadataManager: a group's coordinator is the leader of __consumer_offsets
    partition abs(groupId.hashCode) % offsets.topic.num.partitions, a partition with
    offsets.topic.replication.factor replicas."""
    cluster = {
        "offsets.topic.num.partitions": partitions,
        "offsets.topic.replication.factor": rf,
    }
    d = _scenario(0.5, brokers=3, cluster=cluster, group={"members": 1})
    world = World(Scenario.from_dict(d))
    world.run()
    offsets = {tp: r for tp, r in world.assignments.items() if tp[0] == GROUP_METADATA_TOPIC}
    assert list(offsets) == [(GROUP_METADATA_TOPIC, partition_for("g", partitions))]
    assert [len(r) for r in offsets.values()] == [rf]
    consumer = world.consumers[0][0]
    leader = offsets[(GROUP_METADATA_TOPIC, partition_for("g", partitions))][0]
    assert consumer.coordinator.coordinator == f"broker-{leader}"


@pytest.mark.parametrize("timeout_ms", [300, 800])
def test_a_commit_the_offsets_isr_cannot_replicate_is_answered_at_offsets_commit_timeout_ms(
    timeout_ms: int,
) -> None:
    """GroupMetadataManager.storeOffsets appends with acks=all to __consumer_offsets (RF 2);
    once its follower is cut off (it stays in the ISR for replica.lag.time.max.ms), each
    commit waits offsets.commit.timeout.ms in the purgatory and is answered then. The
    connection is muted while a commit waits, so the next ones queue behind it: answers come
    offsets.commit.timeout.ms apart."""
    cluster = {
        "offsets.commit.timeout.ms": timeout_ms,
        "offsets.topic.replication.factor": 2,
    }
    group = {"members": 1, "config": {"auto.commit.interval.ms": 100}}
    cut = {"kind": "network_partition", "at_s": 1.0, "links": [[0, 1]]}
    d = _scenario(
        3.0, brokers=2, cluster=cluster, producer={"rate_msgs_s": 50}, group=group, faults=[cut]
    )
    _, sent = _recorded_run(d, OffsetCommitRequest)
    timeout_s = timeout_ms / 1000
    before = [s.answered_s - s.sent_s for s in sent if s.answered_s < 1.0]
    after = [s for s in sent if s.sent_s > 1.0 + RTT_MS / 1000 and s.answer is not None]
    assert before and max(before) < timeout_s
    assert len(after) >= 2
    assert timeout_s <= after[0].answered_s - after[0].sent_s <= timeout_s + SLACK_S
    gaps = np.diff([s.answered_s for s in after])
    assert gaps == pytest.approx([timeout_s] * len(gaps), abs=SLACK_S)


def test_a_followers_next_fetch_leaves_after_it_has_appended_the_last_answer() -> None:
    """A replica fetcher appends an answer with records at the request handlers' costs
    (broker_io_request_us, then its bytes at broker_io_mb_s) before its next fetch leaves: the
    gap from each answer to the next fetch is that cost (an empty answer costs nothing). 2 ms a
    response, so a fetch sent at once would show."""
    d = _scenario(2.0, brokers=2, rf=2, producer={"rate_msgs_s": 200})
    hardware = d["cluster"]["hardware"]
    hardware.update({"broker_io_request_us": 2000.0, "broker_io_mb_s": 100.0})
    _, sent = _recorded_run(d, FetchRequest)
    fetches = [s for s in sent if s.request.replica_id >= 0]
    gaps = []
    for answered, following in zip(fetches, fetches[1:], strict=False):
        if answered.answer is None or not hasattr(answered.answer, "partitions"):
            continue
        nbytes = sum(p.size_bytes for p in answered.answer.partitions.values() if p.entries)
        cost_s = 2e-3 + nbytes / 100e6 if nbytes else 0.0
        gaps.append((following.sent_s - answered.answered_s, cost_s))
    with_records = [(gap, cost) for gap, cost in gaps if cost > 0]
    assert len(with_records) >= 100
    assert all(gap == pytest.approx(cost, abs=1e-9) for gap, cost in gaps)
