"""The producer's buffer.memory (Kafka's BufferPool) and send() blocking up to max.block.ms.

Kafka's rules (clients/producer/internals/BufferPool.java, RecordAccumulator.append and .ready,
KafkaProducer.doSend): a record that opens a batch allocates max(batch.size, its size upper
bound); the memory comes back when the batch is done; an allocation that does not fit blocks the
application's send() until memory is freed or max.block.ms has passed (BufferExhaustedException);
while a send() waits, every partition's batch is sendable ("exhausted").
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from sim.clients.producer.buffer_pool import BufferPool
from sim.clients.producer.kafka_producer import KafkaProducer
from sim.clients.producer.record_accumulator import EMPTY, OPEN, RecordAccumulator
from sim.clients.producer.sender import BUFFER_EXHAUSTED
from sim.kafka_config import ConfigError, producer_config
from sim.protocol import RECORD_BATCH_OVERHEAD_BYTES
from sim.scenario import Scenario
from sim.world import World

BATCH = 16384
TP = ("t", 0)

# ---------------------------------------------------------------- pure pieces


def test_a_batch_buffer_is_batch_size_or_the_record_upper_bound():
    """RecordAccumulator.append: size = max(batchSize, estimateSizeInBytesUpperBound)."""
    pool = BufferPool(10 * BATCH, BATCH)
    assert pool.buffer_bytes(100) == BATCH
    assert pool.buffer_bytes(BATCH) == BATCH + RECORD_BATCH_OVERHEAD_BYTES


def _accumulator(memory: int = 4 * BATCH, linger_s: float = 0.005) -> RecordAccumulator:
    acc = RecordAccumulator(BATCH, linger_s, "none", memory)
    acc.pool.queued_bytes = 0  # memory tracked per batch (tight)
    return acc


def test_admit_charges_each_batch_opened_and_stops_at_the_first_without_memory():
    acc = _accumulator(memory=2 * BATCH)
    sizes = [6000, 6000, 6000, 6000, 6000, 6000]
    # empty queue: the 1st opens a batch, 2nd fits (12000), 3rd opens the 2nd batch, 4th fits,
    # 5th would open a 3rd batch: no memory left
    end, room = acc.admit(0, sizes, 0, len(sizes))
    assert end == 4
    assert room == BATCH - 12000
    assert acc.pool.queued_bytes == 2 * BATCH
    assert acc.pool.available_bytes() == 0


def test_open_room_follows_the_greedy_batches_of_the_queue():
    acc = _accumulator()
    acc.append(TP, [0.0, 0.1, 0.2, 0.3], None, [10000, 5000, 2000, 100])
    # batches: [10000, 5000] (15000 <= 16384), then [2000, 100]
    assert acc.open_room(TP) == BATCH - 2100
    assert acc.queued_buffers(now=1.0) == 2 * BATCH
    assert acc.queued_buffers(now=0.15) == BATCH  # the second batch's first record not yet there
    assert acc.open_room(("t", 1)) == 0  # nothing queued: any record opens a batch


def test_a_cut_batch_moves_its_buffer_from_the_queue_to_the_sent_and_back_to_the_pool():
    acc = _accumulator()
    acc.append(TP, [0.0, 0.001], None, [1000, 1000])
    acc.pool.queued_bytes = acc.queued_buffers(now=0.001)
    batch = acc.drain(acc.queues[TP], now=0.01)
    assert batch.count == 2
    assert batch.buffer_bytes == BATCH
    assert (acc.pool.sent_bytes, acc.pool.queued_bytes) == (BATCH, 0)
    acc.deallocate(batch)
    assert acc.pool.sent_bytes == 0


def test_expired_records_give_back_every_buffer_they_held():
    acc = _accumulator()
    acc.append(TP, [0.0, 0.1, 0.2], None, [10000, 10000, 10000])  # three batches
    acc.pool.queued_bytes = acc.queued_buffers(now=0.2)
    (batch,) = acc.expire_all(now=10.0, timeout_s=1.0)
    assert batch.buffer_bytes == 3 * BATCH
    assert acc.pool.queued_bytes == 0


def test_exhausted_makes_every_first_batch_ready_without_linger():
    """RecordAccumulator.ready: sendable = full || expired || exhausted || ..."""
    acc = _accumulator(linger_s=1.0)
    acc.append(TP, [0.5], None, [100])
    q = acc.queues[TP]
    assert q.next_s == pytest.approx(1.5)
    acc.set_exhausted(True)
    assert q.next_s == 0.5
    acc.set_exhausted(False)
    assert q.next_s == pytest.approx(1.5)


def test_a_batch_opened_after_waiting_for_memory_lingers_and_expires_from_its_creation():
    """The batch is created after free.allocate returns (nowMs is read again): linger.ms and
    delivery.timeout.ms count from then, not from the record's arrival."""
    acc = _accumulator(linger_s=0.1)
    acc.unblocked(2.0, 5.0)  # records that arrived in [2, 5) were appended at 5
    acc.append(TP, [3.0, 3.5], None, [100, 100])
    q = acc.queues[TP]
    assert q.next_s == pytest.approx(5.1)
    assert acc.expire_all(now=7.5, timeout_s=3.0) == []  # created at 5: expires at 8, not 6
    (batch,) = acc.expire_all(now=8.0, timeout_s=3.0)
    assert batch.count == 2


def test_withdrawn_records_come_back_in_arrival_order_and_leave_the_past_in_place():
    acc = _accumulator()
    acc.append(("t", 0), [0.1, 0.4, 0.7], np.array([1, 2, 3]), [100, 200, 300])
    acc.append(("t", 1), [0.2, 0.5], np.array([4, 5]), [400, 500])
    times, keys, sizes = acc.withdraw_after(0.3)
    assert times == [0.4, 0.5, 0.7]
    assert keys.tolist() == [2, 5, 3]
    assert sizes == [200, 500, 300]
    assert acc.queues[("t", 0)].times == [0.1]
    assert acc.queues[("t", 1)].times == [0.2]
    assert acc.record_bytes_queued == 500


def test_fill_watch_tells_what_the_next_batch_opening_means():
    acc = _accumulator()
    assert acc.fill_watch(TP) == [0, EMPTY]
    acc.append(TP, [0.0], None, [1000])
    assert acc.fill_watch(TP) == [BATCH - 1000, OPEN]
    acc.append(TP, [0.1], None, [BATCH])  # does not fit: the first batch is full
    assert acc.fill_watch(TP) == [0, None]


def test_buffer_memory_below_batch_size_is_refused_with_the_field_named():
    """Kafka's BufferPoolTest.testCantAllocateMoreMemoryThanWeHave: an allocation above the
    pool's total throws; with buffer.memory below batch.size every batch's would."""
    with pytest.raises(ConfigError) as err:
        producer_config({"buffer.memory": 1000, "batch.size": 16384}, "producers.0.config")
    assert err.value.path == "producers.0.config.buffer.memory"


# ---------------------------------------------------------------- whole runs


def _stalled_leader_scenario(**config) -> dict:
    """Keyed records at 2 MB/s to 3 partitions (RF 1, one per broker); the leader of t-0 is
    crashed at 1 s and never returns, so its records stay in the producer and fill
    buffer.memory (1 MiB): send() blocks, for every partition."""
    producer_config = {"acks": "1", "linger.ms": 5, "buffer.memory": 1 << 20} | config
    return {
        "seed": 3,
        "duration_s": 4.0,
        "cluster": {"brokers": 3},
        "topics": [{"name": "t", "partitions": 3, "replication_factor": 1}],
        "producers": [
            {
                "name": "app",
                "topic": "t",
                "rate_msgs_s": 2000,
                "message_bytes": 1000,
                "keys": {"kind": "uniform", "cardinality": 300},
                "config": producer_config,
            }
        ],
        "faults": [{"kind": "crash_broker", "at_s": 1.0, "broker": "leader:t-0"}],
    }


def _run_sampled(data: dict, every_s: float = 0.002):
    """Run, sampling the producer's memory: (time s, bytes in use, tracked queued bytes or None,
    bytes recomputed from the queues, blocked)."""
    world = World(Scenario.from_dict(data))
    producer = world.producers[0]
    acc = producer.accumulator
    samples = []

    def sample(env):
        while True:
            queued = acc.queued_buffers(env.now)
            blocked = producer._blocked_s is not None
            used = acc.pool.sent_bytes + queued
            samples.append((env.now, used, acc.pool.queued_bytes, queued, blocked))
            yield env.timeout(every_s)

    world.env.process(sample(world.env))
    unblocked = []  # when a waiting send() got its memory or failed, s
    original = producer._unblock

    def unblock(first_s: float, now: float) -> None:
        unblocked.append(now)
        original(first_s, now)

    producer._unblock = unblock
    world.run()
    world.unblocked_s = unblocked
    return world, world.results(), samples


@pytest.fixture(scope="module")
def stalled():
    return _run_sampled(_stalled_leader_scenario())


def test_memory_in_use_never_exceeds_buffer_memory_and_the_pool_count_is_exact(stalled):
    world, _, samples = stalled
    total = world.producers[0].accumulator.pool.total_bytes
    used = np.array([s[1] for s in samples])
    assert used.max() <= total
    assert used.max() > total - 2 * BATCH  # it really filled
    tracked = [(s[2], s[3]) for s in samples if s[2] is not None]
    assert tracked, "memory never became tight"
    assert all(a == b for a, b in tracked)


def test_a_blocked_send_holds_back_the_records_of_every_partition(stalled):
    """The application's one thread waits in send(): nothing that arrives after the record it
    waits on is appended, for the healthy partitions either. Their batches go out at once
    (exhausted) and, acknowledged, free memory that lets send() go on for a moment; once the
    unreachable partition holds all the memory, send() waits for good, and no healthy batch
    holds a record from after that."""
    _, results, samples = stalled
    starts = [b[0] for a, b in zip(samples, samples[1:], strict=False) if b[-1] and not a[-1]]
    assert starts, "send() never blocked"
    final = starts[-1]
    assert 1.0 < final < 3.5
    assert all(s[-1] for s in samples if s[0] >= final)
    produced = results.produced
    healthy = produced[produced["partition"] != 0]
    assert healthy[healthy["closed_s"] < final]["count"].sum() > 0
    assert healthy["first_arrival_s"].max() < final
    assert (results.acked["error"] == "").all()


def test_no_buffer_exhausted_before_max_block_ms(stalled):
    _, results, _ = stalled
    assert not (results.acked["error"] == BUFFER_EXHAUSTED).any()  # max.block.ms is 60 s


def test_send_fails_with_buffer_exhausted_every_max_block_ms():
    """max.block.ms 300: the record send() waits on fails 300 ms after it arrived, the next
    record that needs a batch waits from then, and so on, one record at a time. (Kafka's
    BufferPoolTest.testBlockTimeout: memory freed during the wait that does not cover the
    allocation does not end it; it fails at maxBlockTimeMs, not before.)"""
    data = _stalled_leader_scenario(**{"max.block.ms": 300})
    data["duration_s"] = 5.0
    _, results, samples = _run_sampled(data)
    acked = results.acked.merge(results.produced, on="batch_id")
    failed = acked[acked["error"] == BUFFER_EXHAUSTED].sort_values("done_s")
    assert (failed["count"] == 1).all()
    first = failed.iloc[0]
    assert first["done_s"] - first["first_arrival_s"] == pytest.approx(0.3)
    assert any(b for t, *_, b in samples if first["first_arrival_s"] <= t < first["done_s"])
    done = failed["done_s"].to_numpy()
    assert np.diff(done) == pytest.approx(np.full(len(done) - 1, 0.3))
    assert len(done) == int((5.0 - done[0]) / 0.3) + 1  # until the end of the run
    assert results.summary()["failed_messages"] == len(done)


def test_memory_freed_ends_the_wait_and_latency_includes_it():
    """The leader of t-0 is cut off from the clients for 2 s instead of crashed: once the cut
    heals its batches are acknowledged, memory comes back, the blocked send() goes on, and the
    records that waited show the wait in their latency (they keep their arrival time)."""
    data = _stalled_leader_scenario(**{"request.timeout.ms": 1000})
    data["faults"] = [
        {
            "kind": "network_partition",
            "at_s": 1.0,
            "isolate": "leader:t-0",
            "from": ["clients"],
            "heal_after_s": 2.0,
        }
    ]
    data["duration_s"] = 6.0
    world, results, samples = _run_sampled(data)
    blocked = [t for t, *_, b in samples if b]
    assert blocked, "send() never blocked"
    start, end = blocked[0], blocked[-1]
    assert end - start > 0.2
    assert not any(b for t, *_, b in samples if t > end + 0.5)
    batches = results.acked.merge(results.produced, on="batch_id")
    assert (batches["error"] == "").all()
    after = batches[batches["first_arrival_s"] > end + 0.5]
    assert set(after["partition"]) == {0, 1, 2}
    # healthy records that came to send() while it waited were appended only once it got
    # memory (memory then comes back one acknowledged batch at a time)
    first_unblock = min(t for t in world.unblocked_s if t > start)
    waited = batches[
        (batches["partition"] != 0)
        & (batches["first_arrival_s"] > start)
        & (batches["first_arrival_s"] < first_unblock)
    ]
    assert len(waited) > 0
    assert (waited["closed_s"] >= first_unblock).all()
    # ... and their latency counts from their arrival: on average they waited for a good part
    # of the block (had they been stamped when appended, this would be at most 0)
    before_append = waited["latency_s"] - (waited["done_s"] - first_unblock)
    assert before_append.mean() > 0.25 * (first_unblock - start)


@pytest.mark.parametrize("keys", ["uniform", "none"])
@pytest.mark.parametrize("linger_ms", [0, 5])
def test_tracking_memory_per_batch_changes_nothing_while_it_suffices(monkeypatch, keys, linger_ms):
    """With the memory bound forced above buffer.memory from the start, every record goes the
    tight way (taken in at arrival, each batch charged) yet none blocks: the run is the one the
    untracked way gives, table for table."""
    data = {
        "seed": 11,
        "duration_s": 2.0,
        "cluster": {"brokers": 3, "config": {"group.initial.rebalance.delay.ms": 0}},
        "topics": [{"name": "t", "partitions": 6, "replication_factor": 3}],
        "producers": [
            {
                "name": "app",
                "topic": "t",
                "rate_msgs_s": 5000,
                "message_bytes": 1000,
                "keys": {"kind": keys, "cardinality": 500},
                "config": {"acks": "all", "linger.ms": linger_ms},
            }
        ],
        "consumer_groups": [{"group_id": "g", "members": 2, "topics": ["t"]}],
        "faults": [{"kind": "crash_broker", "at_s": 1.0, "broker": "leader:t-0"}],
    }
    plain = World(Scenario.from_dict(data))
    plain.run()
    tracked = []
    original = KafkaProducer._enter_tight

    def enter_tight(self, now):
        tracked.append(now)
        original(self, now)

    monkeypatch.setattr(KafkaProducer, "_memory_bound", lambda self, extra_bytes=0: 1 << 62)
    monkeypatch.setattr(KafkaProducer, "_enter_tight", enter_tight)
    forced = World(Scenario.from_dict(data))
    forced.run()
    assert tracked and tracked[0] == 0.0
    assert forced.producers[0]._tight
    a, b = plain.results(), forced.results()
    for table in ("produced", "acked", "consumed", "events", "timeseries", "log"):
        pd.testing.assert_frame_equal(getattr(a, table), getattr(b, table))
