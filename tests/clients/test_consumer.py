"""Tests for sim.clients.consumer against a fake broker on the real network (sim.net).

The fake broker answers Metadata, ListOffsets and Fetch from an in-memory log per partition with
a high watermark; a fetch parks until data is there or ``fetch.max.wait.ms`` passes, as Kafka's
DelayedFetch does. Links have a round trip of RTT_S and NICs so fast that transfer time is
negligible, so timings below are multiples of RTT_S / 2.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
import simpy

from sim.broker.log import end_offset_for
from sim.clients.consumer import KafkaConsumer
from sim.clients.consumer.consumer_coordinator import ConsumerCoordinator
from sim.clients.consumer.subscription_state import FetchState, SubscriptionState
from sim.kafka_config import effective
from sim.metrics import Metrics
from sim.net import Network
from sim.protocol import (
    EARLIEST_TIMESTAMP,
    NO_OFFSET,
    Errors,
    FetchPartitionData,
    FetchRequest,
    FetchResponse,
    FindCoordinatorRequest,
    FindCoordinatorResponse,
    ListOffsetsRequest,
    ListOffsetsResponse,
    LogEntry,
    MetadataRequest,
    MetadataResponse,
    OffsetAndMetadata,
    OffsetCommitRequest,
    OffsetCommitResponse,
    OffsetFetchRequest,
    OffsetFetchResponse,
    OffsetsForLeaderEpochRequest,
    OffsetsForLeaderEpochResponse,
    PartitionMetadata,
    RecordBatch,
)

RTT_S = 0.002
NIC_BYTES_S = 1e12
TP = ("orders", 0)


@dataclass
class FakeLog:
    """One partition: stored batches, log start offset, high watermark, leader and epoch."""

    entries: list[LogEntry] = field(default_factory=list)
    log_start_offset: int = 0
    high_watermark: int = 0
    leader: int = 0
    epoch: int = 0

    @property
    def log_end_offset(self) -> int:
        return self.entries[-1].next_offset if self.entries else self.log_start_offset

    def end_offset_for_epoch(self, epoch: int) -> tuple[int, int]:
        """The leader-epoch cache's answer (LeaderEpochFileCache.endOffsetFor) over the epochs
        of the stored batches."""
        epochs: list[tuple[int, int]] = []
        for e in self.entries:
            if not epochs or epochs[-1][0] != e.leader_epoch:
                epochs.append((e.leader_epoch, e.base_offset))
        return end_offset_for(epochs, epoch, self.log_end_offset)

    def truncate_to(self, offset: int) -> None:
        self.entries = [e for e in self.entries if e.next_offset <= offset]
        self.high_watermark = min(self.high_watermark, self.log_end_offset)


class FakeCluster:
    """Shared state of the fake brokers: the logs (as if replicated) and who leads what."""

    def __init__(self, env: simpy.Environment) -> None:
        self.env = env
        self.logs: dict[tuple[str, int], FakeLog] = {}
        self.brokers: list[FakeBroker] = []
        self._batch_id = 0
        #: committed offsets of the group, kept by broker-0 as its coordinator
        self.committed: dict[tuple[str, int], OffsetAndMetadata] = {}

    def append(self, tp, count: int, hw: bool = True, mean_arrival_s: float | None = None) -> None:
        """Append a batch of ``count`` records; advance the HW to the LEO unless ``hw`` is False."""
        log = self.logs.setdefault(tp, FakeLog())
        arrival = self.env.now if mean_arrival_s is None else mean_arrival_s
        batch = RecordBatch(
            self._batch_id, tp[0], tp[1], -1, -1, count, 100 * count, arrival, arrival
        )
        self._batch_id += 1
        log.entries.append(LogEntry(log.log_end_offset, log.epoch, batch, self.env.now))
        if hw:
            self.set_hw(tp, log.log_end_offset)

    def set_hw(self, tp, hw: int) -> None:
        self.logs[tp].high_watermark = hw
        for broker in self.brokers:
            broker.wake_parked()

    def move_leader(self, tp, leader: int) -> None:
        log = self.logs[tp]
        log.leader, log.epoch = leader, log.epoch + 1
        for broker in self.brokers:
            broker.wake_parked()


class FakeBroker:
    """Node ``broker-<id>``: answers from the cluster's logs for the partitions it leads."""

    def __init__(self, env: simpy.Environment, broker_id: int, cluster: FakeCluster) -> None:
        self.env = env
        self.broker_id = broker_id
        self.name = f"broker-{broker_id}"
        self.cluster = cluster
        self.parked: list[list] = []  # [request, respond, done]
        self.fetches: list[tuple[float, str, dict]] = []  # (time, source, {tp: fetch offset})
        self.list_offsets: list[dict] = []
        self.fetch_epochs: list[dict] = []  # {tp: current leader epoch} per fetch
        self.epoch_requests: list[tuple[float, dict]] = []  # (time, OffsetsForLeaderEpoch asks)
        self.lag_epoch = False  # answer as a leader that has not yet seen its latest epoch
        cluster.brokers.append(self)

    def on_request(self, request, source: str, respond) -> None:
        if isinstance(request, MetadataRequest):
            respond(self._metadata(request))
        elif isinstance(request, ListOffsetsRequest):
            self.list_offsets.append(dict(request.partitions))
            respond(self._list_offsets(request))
        elif isinstance(request, FetchRequest):
            offsets = {tp: p.fetch_offset for tp, p in request.partitions.items()}
            self.fetches.append((self.env.now, source, offsets))
            self.fetch_epochs.append(
                {tp: p.current_leader_epoch for tp, p in request.partitions.items()}
            )
            self._fetch(request, respond)
        elif isinstance(request, OffsetsForLeaderEpochRequest):
            self.epoch_requests.append((self.env.now, dict(request.partitions)))
            respond(self._offsets_for_leader_epoch(request))
        elif isinstance(request, FindCoordinatorRequest):
            respond(FindCoordinatorResponse(Errors.NONE, 0))
        elif isinstance(request, OffsetFetchRequest):
            committed = self.cluster.committed
            answers = {tp: (committed.get(tp, NO_OFFSET), Errors.NONE) for tp in request.partitions}
            respond(OffsetFetchResponse(Errors.NONE, answers))
        else:
            raise TypeError(type(request).__name__)

    def _metadata(self, request: MetadataRequest) -> MetadataResponse:
        parts = {
            tp: PartitionMetadata(log.leader, log.epoch, [0], [0])
            for tp, log in sorted(self.cluster.logs.items())
            if request.topics is None or tp[0] in request.topics
        }
        return MetadataResponse([b.broker_id for b in self.cluster.brokers], parts)

    def _list_offsets(self, request: ListOffsetsRequest) -> ListOffsetsResponse:
        offsets = {}
        for tp, timestamp in request.partitions.items():
            log = self.cluster.logs[tp]
            if log.leader != self.broker_id:
                offsets[tp] = (Errors.NOT_LEADER_OR_FOLLOWER, -1)
            elif timestamp == EARLIEST_TIMESTAMP:
                offsets[tp] = (Errors.NONE, log.log_start_offset)
            else:
                offsets[tp] = (Errors.NONE, log.high_watermark)
        return ListOffsetsResponse(offsets)

    def _epoch_error(self, log: FakeLog, current_leader_epoch: int) -> Errors:
        """Partition.getLocalLog: the asker's epoch first, then leadership."""
        epoch = log.epoch - 1 if self.lag_epoch else log.epoch
        if current_leader_epoch >= 0 and current_leader_epoch < epoch:
            return Errors.FENCED_LEADER_EPOCH
        if current_leader_epoch > epoch:
            return Errors.UNKNOWN_LEADER_EPOCH
        if log.leader != self.broker_id:
            return Errors.NOT_LEADER_OR_FOLLOWER
        return Errors.NONE

    def _offsets_for_leader_epoch(self, request) -> OffsetsForLeaderEpochResponse:
        answers = {}
        for tp, (epoch, current) in request.partitions.items():
            log = self.cluster.logs[tp]
            error = self._epoch_error(log, current)
            if error is not Errors.NONE:
                answers[tp] = (error, -1, -1)
            else:
                answers[tp] = (Errors.NONE, *log.end_offset_for_epoch(epoch))
        return OffsetsForLeaderEpochResponse(answers)

    def _read(self, request: FetchRequest) -> tuple[FetchResponse, int]:
        parts = {}
        for tp, fetch in request.partitions.items():
            log = self.cluster.logs[tp]
            hw, lso, leo = log.high_watermark, log.log_start_offset, log.log_end_offset
            error = self._epoch_error(log, fetch.current_leader_epoch)
            if error is not Errors.NONE:
                parts[tp] = FetchPartitionData(error)
                parts[tp] = FetchPartitionData(Errors.NOT_LEADER_OR_FOLLOWER)
            elif not lso <= fetch.fetch_offset <= leo:
                parts[tp] = FetchPartitionData(Errors.OFFSET_OUT_OF_RANGE, hw, lso, leo)
            else:
                entries, size = [], 0
                for e in log.entries:
                    if e.next_offset > fetch.fetch_offset and e.next_offset <= hw:
                        if entries and size + e.batch.size_bytes > request.partition_max_bytes:
                            break
                        entries.append(e)
                        size += e.batch.size_bytes
                parts[tp] = FetchPartitionData(Errors.NONE, hw, lso, leo, entries)
        response = FetchResponse(parts)
        nbytes = sum(p.size_bytes for p in parts.values())
        has_error = any(p.error is not Errors.NONE for p in parts.values())
        return response, nbytes if not has_error else max(nbytes, request.min_bytes)

    def _fetch(self, request: FetchRequest, respond) -> None:
        response, nbytes = self._read(request)
        if nbytes >= request.min_bytes or request.max_wait_s <= 0:
            respond(response)
            return
        parked = [request, respond, False]
        self.parked.append(parked)
        timer = self.env.timeout(request.max_wait_s)
        timer.callbacks.append(lambda _: self._complete(parked, force=True))

    def wake_parked(self) -> None:
        for parked in list(self.parked):
            self._complete(parked, force=False)

    def _complete(self, parked: list, force: bool) -> None:
        if parked[2]:
            return
        response, nbytes = self._read(parked[0])
        if force or nbytes >= parked[0].min_bytes:
            parked[2] = True
            self.parked.remove(parked)
            parked[1](response)


class Rig:
    """An environment, network, fake cluster with ``brokers`` brokers, and consumers."""

    def __init__(self, brokers: int = 1, partitions: int = 1) -> None:
        self.env = simpy.Environment()
        self.net = Network(self.env, np.random.default_rng(0), RTT_S)
        self.metrics = Metrics()
        self.requests: list[tuple[float, str, str]] = []  # (time, target, request type)
        request = self.net.request

        def counted(source: str, target: str, req, timeout_s: float) -> simpy.Event:
            self.requests.append((self.env.now, target, type(req).__name__))
            return request(source, target, req, timeout_s)

        self.net.request = counted
        self.cluster = FakeCluster(self.env)
        for p in range(partitions):
            self.cluster.logs[("orders", p)] = FakeLog()
        self.brokers = [FakeBroker(self.env, i, self.cluster) for i in range(brokers)]
        for broker in self.brokers:
            self.net.add_node(broker, NIC_BYTES_S)

    def consumer(
        self, name: str = "billing-0", processing_s: float = 0.0, **config
    ) -> KafkaConsumer:
        cfg = effective("consumer", {"auto.offset.reset": "earliest", **config})
        bootstrap = [b.name for b in self.brokers]
        consumer = KafkaConsumer(
            self.env, name, "billing", self.net, cfg, processing_s, self.metrics, bootstrap
        )
        self.net.add_node(consumer, NIC_BYTES_S)
        return consumer

    def consumer_from(self, records: int, offset: int, **config) -> KafkaConsumer:
        """A consumer of TP, which holds ``records`` records, started at ``offset`` and run
        to 1 s."""
        self.cluster.append(TP, records)
        consumer = self.consumer(**config)
        consumer.assign([TP])
        consumer.seek(TP, offset)
        consumer.start()
        self.env.run(until=1.0)
        return consumer

    def consumed(self) -> pd.DataFrame:
        return self.metrics.consumed.frame()

    def at(self, time_s: float, action) -> None:
        """Run ``action()`` at simulated time ``time_s``."""
        timer = self.env.timeout(time_s - self.env.now)
        timer.callbacks.append(lambda _: action())


def assert_dense(rows: pd.DataFrame, start: int, end: int) -> None:
    """The rows deliver offsets start .. end-1, each once, in order."""
    offsets = rows["base_offset"].to_numpy()
    counts = rows["count"].to_numpy()
    assert offsets[0] == start
    np.testing.assert_array_equal(offsets[1:], (offsets + counts)[:-1])  # no gap, no repeat
    assert offsets[-1] + counts[-1] == end


# ------------------------------------------------------------------------------------ reading


def test_reads_every_record_in_offset_order_and_never_past_the_high_watermark():
    rig = Rig()
    for count in (3, 5, 2, 4):
        rig.cluster.append(TP, count, hw=False)
    rig.cluster.set_hw(TP, 8)  # the third batch (offsets 8-9) and fourth are not committed
    consumer = rig.consumer(**{"max.poll.records": 4})
    consumer.assign([TP])
    consumer.start()
    rig.env.run(until=1.0)
    assert_dense(rig.consumed(), 0, 8)
    assert consumer.positions == {TP: 8}
    rig.cluster.set_hw(TP, 14)
    rig.env.run(until=2.0)
    rows = rig.consumed()
    assert_dense(rows, 0, 14)
    assert (rows["polled_s"].diff().dropna() >= 0).all()
    assert rows["member"].unique().tolist() == ["billing-0"]
    assert rows["group"].unique().tolist() == ["billing"]


def test_max_poll_records_splits_a_batch_and_the_next_poll_continues_at_the_next_record():
    rig = Rig()
    rig.cluster.append(TP, 10)
    rig.cluster.append(TP, 2)
    consumer = rig.consumer(processing_s=0.01, **{"max.poll.records": 3})
    consumer.assign([TP])
    consumer.start()
    rig.env.run(until=1.0)
    rows = rig.consumed()
    # one row per batch piece per poll; the 4th poll takes the last record of batch 0 and both
    # records of batch 1 (two rows, same polled_s)
    assert rows["base_offset"].tolist() == [0, 3, 6, 9, 10]
    assert rows["count"].tolist() == [3, 3, 3, 1, 2]
    assert rows["batch_id"].tolist() == [0, 0, 0, 0, 1]
    assert rows["polled_s"].iloc[3] == rows["polled_s"].iloc[4]
    assert rows.groupby("polled_s")["count"].sum().tolist() == [3, 3, 3, 3]


def test_one_fetch_in_flight_per_broker_and_none_for_partitions_with_buffered_data():
    rig = Rig(partitions=2)
    tp1 = ("orders", 1)
    rig.cluster.append(TP, 10)
    consumer = rig.consumer(processing_s=0.01, **{"max.poll.records": 2})
    consumer.assign([TP, tp1])
    consumer.start()
    rig.env.run(until=0.05)
    fetches = rig.brokers[0].fetches
    times = [t for t, _, _ in fetches]
    assert times == sorted(set(times))  # never two at once (each long-polls 500 ms at least here)
    # the first fetch reads both partitions; while TP's 10 records are buffered (5 polls of 2,
    # 10 ms each) only tp1 is fetched, and TP again once its data is drained
    assert fetches[0][2] == {TP: 0, tp1: 0}
    assert all(TP not in offsets for _, _, offsets in fetches[1:])
    rig.env.run(until=1.0)
    assert any(offsets.get(TP) == 10 for _, _, offsets in rig.brokers[0].fetches)


# ------------------------------------------------------------------------------------ positions


def test_earliest_starts_at_the_log_start_offset():
    rig = Rig()
    log = rig.cluster.logs[TP]
    log.log_start_offset = 5  # retention removed offsets 0-4
    rig.cluster.append(TP, 4)
    consumer = rig.consumer()
    consumer.assign([TP])
    consumer.start()
    rig.env.run(until=1.0)
    assert_dense(rig.consumed(), 5, 9)
    assert rig.brokers[0].list_offsets == [{TP: EARLIEST_TIMESTAMP}]


def test_latest_only_gets_records_appended_after_start():
    rig = Rig()
    rig.cluster.append(TP, 7)
    consumer = rig.consumer(**{"auto.offset.reset": "latest"})
    consumer.assign([TP])
    consumer.start(at_s=0.1)
    rig.env.run(until=0.5)
    assert len(rig.consumed()) == 0
    assert consumer.positions == {TP: 7}
    rig.cluster.append(TP, 3)
    rig.env.run(until=1.0)
    assert_dense(rig.consumed(), 7, 10)


def test_seek_sets_the_starting_position():
    rig = Rig()
    rig.consumer_from(10, 4)
    assert_dense(rig.consumed(), 4, 10)
    assert rig.brokers[0].list_offsets == []


def test_none_records_an_error_event_and_consumes_nothing():
    rig = Rig()
    rig.cluster.append(TP, 5)
    consumer = rig.consumer(**{"auto.offset.reset": "none"})
    consumer.assign([TP])
    consumer.start()
    rig.env.run(until=1.0)
    assert len(rig.consumed()) == 0
    events = rig.metrics.events.frame()
    assert events["kind"].tolist() == ["offset_reset_error"]
    assert (events["topic"].iloc[0], events["partition"].iloc[0]) == TP
    assert consumer.positions == {}


def test_offset_out_of_range_resets_by_auto_offset_reset():
    rig = Rig()
    rig.consumer_from(6, 50)  # beyond the log end: the fetch is out of range
    assert_dense(rig.consumed(), 0, 6)
    events = rig.metrics.events.frame()
    assert events["kind"].tolist() == ["offset_reset"]
    assert "offset 50 out of range [0, 6]" in events["detail"].iloc[0]


def test_offset_out_of_range_with_none_stops_the_partition():
    rig = Rig()
    rig.consumer_from(6, 50, **{"auto.offset.reset": "none"})
    assert len(rig.consumed()) == 0
    assert rig.metrics.events.frame()["kind"].tolist() == ["offset_reset_error"]


# ------------------------------------------------------------------------------------ timing


def test_long_poll_delivers_a_later_record_one_response_trip_after_its_append():
    rig = Rig()
    consumer = rig.consumer(**{"fetch.max.wait.ms": 500})
    consumer.assign([TP])
    consumer.start()
    append_s = 1.234  # mid-way through a parked fetch (they are re-sent every ~0.5 s)
    rig.at(append_s, lambda: rig.cluster.append(TP, 1))
    rig.env.run(until=3.0)
    rows = rig.consumed()
    assert len(rows) == 1
    # the parked fetch is answered at the append; its response takes half a round trip
    assert rows["polled_s"].iloc[0] == pytest.approx(append_s + RTT_S / 2, abs=1e-6)
    assert rows["e2e_latency_s"].iloc[0] == pytest.approx(RTT_S / 2, abs=1e-6)
    # while idle, fetches were re-sent once per fetch.max.wait.ms, not in a busy loop
    fetch_times = [t for t, _, _ in rig.brokers[0].fetches if t < append_s]
    assert 2 <= len(fetch_times) <= 4
    assert np.diff(fetch_times) == pytest.approx(0.5 + RTT_S, abs=1e-6)


def test_processing_time_spaces_polls_by_count_times_processing_s():
    rig = Rig()
    rig.cluster.append(TP, 12)
    consumer = rig.consumer(processing_s=0.01, **{"max.poll.records": 5})
    consumer.assign([TP])
    consumer.start()
    rig.env.run(until=1.0)
    rows = rig.consumed()
    assert rows["count"].tolist() == [5, 5, 2]
    gaps = np.diff(rows["polled_s"].to_numpy())
    assert gaps == pytest.approx([0.05, 0.05], abs=1e-9)  # data was buffered: no fetch wait


def test_next_fetch_is_sent_before_processing_so_the_next_poll_does_not_wait():
    rig = Rig()
    rig.cluster.append(TP, 5)
    rig.at(0.2, lambda: rig.cluster.append(TP, 3))  # while the first 5 records are processed
    consumer = rig.consumer(processing_s=0.1)
    consumer.assign([TP])
    consumer.start()
    rig.env.run(until=2.0)
    rows = rig.consumed()
    assert rows["count"].tolist() == [5, 3]
    first_s, second_s = rows["polled_s"].tolist()
    assert second_s == pytest.approx(first_s + 0.5, abs=1e-9)  # no fetch round trip in between
    assert rows["e2e_latency_s"].iloc[1] == pytest.approx(second_s - 0.2, abs=1e-9)


def test_lag_is_high_watermark_minus_position():
    rig = Rig()
    rig.cluster.append(TP, 10)
    consumer = rig.consumer(processing_s=1.0, **{"max.poll.records": 4})
    consumer.assign([TP])
    assert consumer.lag() == 0  # nothing known yet
    consumer.start()
    rig.env.run(until=0.5)  # first poll returned 4 records; processing them takes 4 s
    assert consumer.positions == {TP: 4}
    assert consumer.lag() == 6
    rig.env.run(until=20.0)
    assert consumer.lag() == 0


# ------------------------------------------------------------------------------------ failures


def test_not_leader_moves_to_the_new_leader_without_gap_or_repeat():
    rig = Rig(brokers=2)
    rig.cluster.append(TP, 5)
    consumer = rig.consumer()
    consumer.assign([TP])
    consumer.start()
    rig.env.run(until=1.0)
    rig.cluster.move_leader(TP, 1)  # the parked fetch on broker-0 answers NOT_LEADER
    rig.cluster.append(TP, 3)
    rig.env.run(until=2.0)
    rows = rig.consumed()
    assert_dense(rows, 0, 8)
    assert rig.brokers[1].fetches[0][2] == {TP: 5}
    moved_s = 1.0
    first_new_s = rows["polled_s"].iloc[-1]
    # a metadata refresh (after at most retry.backoff.ms), the position's validation with the
    # new leader (OffsetsForLeaderEpoch, KIP-320) and a fetch round trip
    assert rig.brokers[1].epoch_requests[0][1] == {TP: (0, 1)}
    assert moved_s < first_new_s < moved_s + 0.1 + 5 * RTT_S


def test_crashed_leader_metadata_refresh_then_fetch_from_the_new_leader():
    rig = Rig(brokers=2)
    rig.cluster.append(TP, 5)
    consumer = rig.consumer()
    consumer.assign([TP])
    consumer.start()
    rig.env.run(until=1.0)
    rig.net.crash("broker-0")  # the parked fetch fails with Disconnected

    def elect() -> None:
        rig.cluster.move_leader(TP, 1)
        rig.cluster.append(TP, 3)

    rig.at(3.0, elect)
    rig.env.run(until=6.0)
    assert_dense(rig.consumed(), 0, 8)
    # reconnect backoff (50 ms doubling to 1 s): retries to the dead broker are spaced out
    to_dead = [t for t, target, kind in rig.requests if target == "broker-0" and t > 1.0]
    assert 3 <= len(to_dead) <= 12
    assert min(np.diff(to_dead)) >= 0.05


def test_bootstrap_falls_back_to_the_next_broker():
    rig = Rig(brokers=2)
    rig.cluster.logs[TP].leader = 1
    rig.cluster.append(TP, 3)
    rig.net.crash("broker-0")
    consumer = rig.consumer()
    consumer.assign([TP])
    consumer.start()
    rig.env.run(until=1.0)
    assert_dense(rig.consumed(), 0, 3)


def test_metadata_ignores_a_leader_with_an_older_epoch():
    rig = Rig()
    consumer = rig.consumer()
    consumer.assign([TP])
    meta = consumer.metadata

    def answer(leader: int, epoch: int) -> MetadataResponse:
        return MetadataResponse([0, 1], {TP: PartitionMetadata(leader, epoch, [0, 1], [0, 1])})

    assert meta.leader(TP) is None
    assert meta._apply(answer(1, 3)) is True
    assert meta._apply(answer(0, 2)) is False  # a broker with a stale cache
    assert meta.leader(TP) == "broker-1"
    assert meta._apply(answer(-1, 4)) is True  # no leader during an election
    assert meta.leader(TP) is None


# ------------------------------------------------------------------------------------ offsets


def test_without_group_id_there_is_no_coordinator_and_nothing_is_committed():
    """Kafka builds no ConsumerCoordinator without group.id (the rig sets none): no group
    requests, no commits (auto-commit to the coordinator is covered in tests/test_groups.py)."""
    rig = Rig()
    rig.cluster.append(TP, 5)
    consumer = rig.consumer(**{"auto.commit.interval.ms": 100})
    consumer.assign([TP])
    consumer.start()
    rig.env.run(until=2.0)
    assert consumer.coordinator is None
    assert consumer.committed == {}
    assert consumer.positions == {TP: 5}
    assert {kind for _, _, kind in rig.requests} <= {
        "MetadataRequest",
        "ListOffsetsRequest",
        "FetchRequest",
    }


# ------------------------------------------------------------------------------------ lifecycle


def test_empty_assignment_is_quiet():
    rig = Rig()
    consumer = rig.consumer()
    consumer.assign([])
    consumer.start()
    rig.env.run(until=10.0)
    assert consumer.lag() == 0
    assert consumer.positions == {}
    assert rig.brokers[0].fetches == []


def test_stop_ends_polling():
    rig = Rig()
    rig.cluster.append(TP, 3)
    consumer = rig.consumer()
    consumer.assign([TP])
    consumer.start()
    rig.env.run(until=1.0)
    consumer.stop()
    rig.cluster.append(TP, 3)
    rig.env.run(until=2.0)
    assert_dense(rig.consumed(), 0, 3)


def test_same_inputs_same_rows():
    def run() -> pd.DataFrame:
        rig = Rig(partitions=3)
        for p in (2, 0, 1):
            rig.cluster.append(("orders", p), 4 + p)
        consumer = rig.consumer(processing_s=0.001, **{"max.poll.records": 3})
        consumer.assign([("orders", 2), ("orders", 0), ("orders", 1)])
        consumer.start()
        rig.env.run(until=1.0)
        return rig.consumed()

    a, b = run(), run()
    pd.testing.assert_frame_equal(a, b)
    assert a.groupby("partition")["count"].sum().to_dict() == {0: 4, 1: 5, 2: 6}


def test_consumer_serves_no_requests():
    rig = Rig()
    consumer = rig.consumer()
    with pytest.raises(TypeError, match="billing-0"):
        consumer.on_request(MetadataRequest(), "broker-0", None)


# ---------------------------------------------------------------- the group coordinator client


class FakeCoordinatorBroker:
    """``broker-0`` as a group coordinator: FindCoordinator names itself; OffsetCommit is
    acknowledged ``commit_delay_s`` after it arrives (so a test can act while it is in flight)."""

    name = "broker-0"

    def __init__(self, commit_delay_s: float) -> None:
        self.commit_delay_s = commit_delay_s
        self.requests: list[str] = []

    def on_request(self, request, source: str, respond) -> None:
        self.requests.append(type(request).__name__)
        if isinstance(request, FindCoordinatorRequest):
            respond(FindCoordinatorResponse(Errors.NONE, 0))
        elif isinstance(request, OffsetCommitRequest):
            answer = OffsetCommitResponse({tp: Errors.NONE for tp in request.offsets})
            respond(answer, self.commit_delay_s)


def _group_client(commit_delay_s: float):
    """A ConsumerCoordinator with a manual assignment (so it commits without a generation)."""
    env = simpy.Environment()
    net = Network(env, np.random.default_rng(0), RTT_S)
    broker = FakeCoordinatorBroker(commit_delay_s)
    net.add_node(broker, NIC_BYTES_S)
    cfg = effective("consumer", {"group.id": "billing"})
    coordinator = ConsumerCoordinator(
        env, net, "billing-0", "billing", cfg, [broker.name], SubscriptionState(), None,
        Metrics(), lambda: None,
    )  # fmt: skip
    net.add_node(SimpleNamespace(name="billing-0", on_request=None), NIC_BYTES_S)
    return env, broker, coordinator


def test_commit_async_with_an_unknown_coordinator_looks_it_up_then_sends():
    """ConsumerCoordinator.commitOffsetsAsync: with no coordinator known, FindCoordinator, then
    the OffsetCommit; the commit succeeds rather than failing at once."""
    env, broker, coordinator = _group_client(commit_delay_s=0.0)
    assert coordinator.coordinator_unknown()
    future = coordinator.commit_offsets_async({TP: OffsetAndMetadata(7, 0)})
    assert not future.done
    env.run(until=1.0)
    assert future.succeeded
    assert broker.requests == ["FindCoordinatorRequest", "OffsetCommitRequest"]
    assert coordinator.committed == {TP: OffsetAndMetadata(7, 0)}


def test_marking_the_coordinator_unknown_fails_the_requests_in_flight_to_it():
    """AbstractCoordinator.markCoordinatorUnknown → client.disconnectAsync(oldCoordinator): a
    commit in flight fails at once (retriable, a disconnection) and its late answer is ignored."""
    env, _, coordinator = _group_client(commit_delay_s=0.5)
    coordinator.coordinator = "broker-0"
    future = coordinator.commit_offsets_async({TP: OffsetAndMetadata(7, 0)})
    env.run(until=0.1)
    assert not future.done
    coordinator.mark_coordinator_unknown()
    assert future.error is Errors.NETWORK_EXCEPTION and future.error.retriable
    env.run(until=1.0)  # the answer arrives at about 0.5 s: nobody takes it
    assert coordinator.committed == {}


# ------------------------------------------------------------------------------------ KIP-320


def _read_five(rig: Rig, **config) -> KafkaConsumer:
    """A consumer of TP that has read its first 5 records (epoch 0) by 1 s."""
    rig.cluster.append(TP, 5)
    consumer = rig.consumer(**config)
    consumer.assign([TP])
    consumer.start()
    rig.env.run(until=1.0)
    return consumer


def test_steady_state_fetches_carry_the_leader_epoch_and_validate_nothing():
    rig = Rig()
    rig.at(0.5, lambda: rig.cluster.append(TP, 3))
    _read_five(rig)
    assert_dense(rig.consumed(), 0, 8)
    assert rig.brokers[0].epoch_requests == []  # no leader change: no validation round trip
    assert {e[TP] for e in rig.brokers[0].fetch_epochs} == {0}


def _truncated_under_consumer(rig: Rig) -> None:
    """The consumer read offsets 0-7 (epoch 0) from broker-0; an unclean election makes broker-1
    leader at epoch 1 with a log ending at 5, and it appends 3 records of epoch 1."""
    log = rig.cluster.logs[TP]
    log.truncate_to(5)
    rig.cluster.move_leader(TP, 1)
    rig.cluster.append(TP, 3)


def test_truncation_moves_the_position_to_the_divergence_point():
    # SubscriptionStateTest.testTruncationDetectionWithResetPolicy, end to end: the new
    # leader ends epoch 0 at 5, below the position 8
    rig = Rig(brokers=2)
    rig.cluster.append(TP, 5)
    rig.cluster.append(TP, 3)
    consumer = rig.consumer()
    consumer.assign([TP])
    consumer.start()
    rig.env.run(until=1.0)
    assert consumer.positions == {TP: 8}
    _truncated_under_consumer(rig)
    rig.env.run(until=2.0)
    rows = rig.consumed()
    after = rows[rows["polled_s"] > 1.0]
    assert after["base_offset"].iloc[0] == 5  # the divergence point, not earliest (0)
    assert_dense(after, 5, 8)
    assert consumer.positions == {TP: 8}
    assert rig.brokers[1].epoch_requests[0][1] == {TP: (0, 1)}
    events = rig.metrics.events.frame()
    assert events["kind"].tolist() == ["log_truncation"]
    assert "at offset 8" in events["detail"].iloc[0]
    assert "first offset known to diverge 5" in events["detail"].iloc[0]


def test_truncation_without_reset_policy_fails_the_partition():
    # OffsetFetcherTest.testOffsetValidationTriggerLogTruncationForBadOffsetWithUndefinedResetPolicy
    rig = Rig(brokers=2)
    consumer = rig.consumer_from(8, 0, **{"auto.offset.reset": "none"})
    _truncated_under_consumer(rig)
    rig.env.run(until=2.0)
    rows = rig.consumed()
    assert (rows["polled_s"] < 1.0).all()
    assert consumer.positions == {}
    assert rig.metrics.events.frame()["kind"].tolist() == ["log_truncation_error"]


def test_unknown_leader_epoch_is_retried_until_the_leader_knows_it():
    # FetchCollector.handleInitializeErrors: UNKNOWN_LEADER_EPOCH is only logged; the partition
    # is fetched again (and validated) until the leader has the consumer's epoch
    rig = Rig(brokers=2)
    _read_five(rig)
    rig.brokers[1].lag_epoch = True  # broker-1 leads but has not yet seen epoch 1
    rig.cluster.move_leader(TP, 1)
    rig.cluster.append(TP, 3)
    rig.at(1.5, lambda: setattr(rig.brokers[1], "lag_epoch", False))
    rig.env.run(until=3.0)
    rows = rig.consumed()
    assert_dense(rows, 0, 8)
    assert rows["polled_s"].iloc[-1] > 1.5
    assert len(rig.brokers[1].epoch_requests) >= 2  # UNKNOWN_LEADER_EPOCH answers retried


# ------------------------------------------------ KIP-320: the leader epoch of committed offsets


def _from_committed(rig: Rig, committed: OffsetAndMetadata) -> KafkaConsumer:
    """A consumer of TP in group "billing" (manual assignment) that starts from ``committed``."""
    rig.cluster.committed[TP] = committed
    consumer = rig.consumer(**{"group.id": "billing", "enable.auto.commit": False})
    consumer.assign([TP])
    consumer.start()
    return consumer


def test_committed_offset_from_a_previous_epoch_awaits_validation():
    # ConsumerCoordinatorTest.testRefreshOffsetWithValidation: leader epoch 1, committed offset
    # 8 of epoch 0: the position is 8, awaiting validation, until the leader answers
    rig = Rig(brokers=2)
    rig.cluster.append(TP, 8)
    rig.cluster.move_leader(TP, 1)
    consumer = _from_committed(rig, OffsetAndMetadata(8, 0))
    validating = []
    while not rig.brokers[1].epoch_requests:
        rig.env.step()
        tps = consumer.subscriptions.states[TP]
        if tps.fetch_state is not FetchState.INITIALIZING:
            validating.append((tps.fetch_state, tps.position, tps.offset_epoch, tps.leader_epoch))
    assert validating[0] == (FetchState.AWAITING_VALIDATION, 8, 0, 1)
    assert {state for state, *_ in validating} == {FetchState.AWAITING_VALIDATION}
    rig.env.run(until=1.0)
    assert rig.brokers[1].epoch_requests[0][1] == {TP: (0, 1)}
    assert consumer.subscriptions.states[TP].fetch_state is FetchState.FETCHING
    assert rig.brokers[1].fetches[0][0] > rig.brokers[1].epoch_requests[0][0]


def test_committed_offset_beyond_a_truncated_log_moves_to_the_divergence_point():
    """A consumer restarts from offset 8 committed after a record of epoch 0; an unclean
    election made broker-1 leader with a log ending epoch 0 at 5: validation moves the position
    to 5 (log_truncation), not OFFSET_OUT_OF_RANGE and the reset policy (no ListOffsets)."""
    rig = Rig(brokers=2)
    rig.cluster.append(TP, 5)
    rig.cluster.append(TP, 3)
    _truncated_under_consumer(rig)
    consumer = _from_committed(rig, OffsetAndMetadata(8, 0))
    rig.env.run(until=1.0)
    assert_dense(rig.consumed(), 5, 8)
    assert consumer.positions == {TP: 8}
    assert rig.brokers[1].epoch_requests[0][1] == {TP: (0, 1)}
    assert all(not b.list_offsets for b in rig.brokers)
    assert rig.metrics.events.frame()["kind"].tolist() == ["log_truncation"]


def test_committed_offset_without_a_leader_epoch_is_not_validated():
    # ConsumerCoordinatorTest.testRefreshOffset (no leader epoch): fetched at once
    rig = Rig()
    rig.cluster.append(TP, 8)
    consumer = _from_committed(rig, OffsetAndMetadata(3))
    rig.env.run(until=1.0)
    assert_dense(rig.consumed(), 3, 8)
    assert consumer.positions == {TP: 8}
    assert rig.brokers[0].epoch_requests == []


def test_a_commit_carries_the_epoch_of_the_last_record_consumed():
    # SubscriptionState.allConsumed: OffsetAndMetadata(position.offset, position.offsetEpoch)
    rig = Rig(brokers=2)
    rig.cluster.append(TP, 5)
    rig.cluster.move_leader(TP, 1)
    consumer = rig.consumer_from(3, 0)  # 3 records of epoch 1 after 5 of epoch 0
    assert consumer.subscriptions.all_consumed() == {TP: OffsetAndMetadata(8, 1)}
