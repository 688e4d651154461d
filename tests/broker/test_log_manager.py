"""The brokers' ``kafka-log-retention`` task in whole runs (LogManager.cleanupLogs every
``log.retention.check.interval.ms``): old segments go on every replica, followers take the
leader's log start offset from its fetch responses, a consumer left below the log start resets by
``auto.offset.reset``, and the audit does not count what retention deleted as lost. Every bound is
derived from the scenario's settings (named in each test)."""

from __future__ import annotations

import pytest

from sim.scenario import Scenario
from sim.world import World

TP = ("t", 0)
PERIOD_S = 0.5  # log.retention.check.interval.ms
RETENTION_S = 2.0  # retention.ms
SEGMENT_S = 0.5  # segment.ms
SEGMENT_BYTES = 20_000  # segment.bytes
SEEDS = [1, 2, 3]


def _world(
    seed: int,
    duration_s: float = 7.8,
    topic: dict | None = None,
    producer: dict | None = None,
    groups: list | None = None,
    broker: dict | None = None,
) -> World:
    """3 brokers; topic t (1 partition, RF 3) with short segments and retention; one acks=all
    producer of 1000 records/s of 200 bytes; retention checked every PERIOD_S from the start."""
    spec = {
        "name": "retention",
        "seed": seed,
        "duration_s": duration_s,
        "cluster": {
            "brokers": 3,
            "config": {
                "group.initial.rebalance.delay.ms": 0,
                "log.retention.check.interval.ms": int(PERIOD_S * 1000),
                "log.initial.task.delay.ms": 0,
                **(broker or {}),
            },
        },
        "topics": [
            {
                "name": "t",
                "partitions": 1,
                "replication_factor": 3,
                "config": {
                    "min.insync.replicas": 2,
                    "segment.bytes": SEGMENT_BYTES,
                    "segment.ms": int(SEGMENT_S * 1000),
                    "retention.ms": int(RETENTION_S * 1000),
                    **(topic or {}),
                },
            }
        ],
        "producers": [
            {
                "name": "app",
                "topic": "t",
                "rate_msgs_s": 1000,
                "message_bytes": 200,
                "config": {"acks": "all", "linger.ms": 5},
                **(producer or {}),
            }
        ],
        "consumer_groups": groups or [],
    }
    return World(Scenario.from_dict(spec), check_invariants=True)


def _logs(world: World):
    return [b.partitions[TP].log for b in world.brokers]


@pytest.mark.parametrize("seed", SEEDS)
def test_retention_deletes_by_time_at_each_check_on_every_replica(seed):
    """Checks run at multiples of the period (initial delay 0). After the last check t_c, on
    every replica: a batch appended at or after t_c - retention.ms is kept (its segment's newest
    batch is no older, so the active segment is kept too), and one appended before
    t_c - retention.ms - segment.ms is gone (its segment spans at most segment.ms)."""
    world = _world(seed)
    world.run()
    events = world.results().events
    retention = events[events["kind"] == "log_retention"]
    assert set(retention["node"]) == {"broker-0", "broker-1", "broker-2"}
    ticks = retention["time_s"] / PERIOD_S
    assert (abs(ticks - ticks.round()) < 1e-9).all()
    last_check = (world.scenario.duration_s // PERIOD_S) * PERIOD_S
    for log in _logs(world):
        kept = log.retained_entries()
        assert log.log_start_offset > 0
        assert kept[0].base_offset == log.log_start_offset
        assert kept[0].append_s >= last_check - RETENTION_S - SEGMENT_S
        newer = [e for e in log.entries if e.append_s >= last_check - RETENTION_S]
        assert newer[0].base_offset >= log.log_start_offset


@pytest.mark.parametrize("seed", SEEDS)
def test_an_idle_log_loses_every_segment_the_active_one_too(seed):
    """The producer stops at 4 s: by a check more than retention.ms + 1 s later every segment's
    newest batch has expired and the HW covers it, so all go (Kafka rolls an empty active
    segment first); the log continues at its end offset."""
    world = _world(seed, producer={"stop_s": 4.0})
    world.run()
    for log in _logs(world):
        assert log.log_end_offset > 0
        assert log.log_start_offset == log.high_watermark == log.log_end_offset
        assert log.retained_entries() == []


@pytest.mark.parametrize("seed", SEEDS)
def test_size_retention_keeps_at_least_retention_bytes_and_less_than_a_segment_more(seed):
    """retention.bytes 60,000 with segments of 20,000 (time retention off); the producer stops
    at 4 s, so the last checks see a still log: deleteRetentionSizeBreachedSegments leaves
    retention.bytes <= size < retention.bytes + the oldest segment kept (<= segment.bytes)."""
    limit = 3 * SEGMENT_BYTES
    world = _world(seed, topic={"retention.ms": -1, "retention.bytes": limit},
                   producer={"stop_s": 4.0})  # fmt: skip
    world.run()
    for log in _logs(world):
        size = sum(e.batch.size_bytes for e in log.retained_entries())
        assert log.log_start_offset > 0
        assert limit <= size < limit + SEGMENT_BYTES
        assert size == log.size_bytes


@pytest.mark.parametrize("seed", SEEDS)
def test_followers_take_the_leaders_log_start_offset(seed):
    """The followers' retention tasks are stopped: their log start offset still follows the
    leader's, from the fetch responses (maybeIncrementLogStartOffset), their epoch caches are
    trimmed, and their segments stay until their own task runs (deleteLogStartOffsetBreached-
    Segments). Checks every 1 s and follower fetches at most 100 ms apart
    (replica.fetch.wait.max.ms): 0.5 s after a check every follower has its LSO."""
    world = _world(seed, broker={"log.retention.check.interval.ms": 1000,
                                 "replica.fetch.wait.max.ms": 100})  # fmt: skip
    world.start()
    leader = world.leader_of(TP)
    followers = [b for b in world.brokers if b.broker_id != leader]
    for broker in followers:
        broker.log_manager.stop()
    world.advance(6.5)
    start = world.brokers[leader].partitions[TP].log.log_start_offset
    assert start > 0
    for broker in followers:
        log = broker.partitions[TP].log
        assert log.log_start_offset == start
        assert log.epochs[0][1] >= start
        assert log._segments[0].base_offset == 0  # nothing deleted yet
        assert log.entry_at(start - 1) is None
        broker.log_manager.start()
    world.advance(6.6)
    for broker in followers:
        log = broker.partitions[TP].log
        assert log._segments[0].base_offset <= log.log_start_offset
        assert len(log._segments) == 1 or log._segments[1].base_offset > log.log_start_offset


@pytest.mark.parametrize("seed", SEEDS)
def test_a_consumer_left_below_the_log_start_resets_and_the_audit_loses_nothing(seed):
    """One consumer at processing.ms 5 takes at most 200 records/s of the 1000/s produced; the
    log keeps at most retention.ms + segment.ms + one period of records (3,000): its position
    falls below the log start within 12 s, the fetch gets OFFSET_OUT_OF_RANGE and
    auto.offset.reset=earliest moves it to the log start (a gap in what it read). The records
    retention deleted are not lost acknowledged records."""
    group = {"group_id": "slow", "members": 1, "topics": ["t"], "processing_ms": 5,
             "config": {"auto.offset.reset": "earliest"}}  # fmt: skip
    world = _world(seed, duration_s=12.0, groups=[group])
    world.run()
    results = world.results()
    events = results.events
    resets = events[(events["kind"] == "offset_reset") & (events["node"] == "slow-0")]
    assert len(resets) >= 1
    consumed = results.consumed.sort_values("polled_s")
    ends = (consumed["base_offset"] + consumed["count"]).to_numpy()[:-1]
    gaps = consumed["base_offset"].to_numpy()[1:] > ends
    assert gaps.any()
    offsets = results.log_offsets
    start = int(offsets.loc[offsets["partition"] == 0, "log_start_offset"].iloc[0])
    ok = results.acked[results.acked["error"] == ""]
    assert (ok["base_offset"] < start).any()  # acknowledged records were deleted
    assert results.summary()["lost_acked_messages"] == 0


def test_a_compacted_topic_is_not_deleted():
    """cleanup.policy=compact: the log cleaner's (not modelled), never the retention task's."""
    world = _world(1, topic={"cleanup.policy": "compact"}, producer={"stop_s": 4.0})
    world.run()
    for log in _logs(world):
        assert log.log_start_offset == 0


def _durable(world: World) -> list[tuple[int, int]]:
    """(durable offset on disk, log end offset) of each replica of t-0."""
    return [(b.disk.durable_offset(TP), b.partitions[TP].log.log_end_offset) for b in world.brokers]


@pytest.mark.parametrize("seed", SEEDS)
def test_followers_flush_by_flush_messages_too(seed):
    """flush.messages=1: every append, a follower's as a leader's, fsyncs its log
    (UnifiedLog.append); the OS would write the pages back only after dirty_expire_s (30 s).
    The producer stops at 1 s; at 2 s every replica's log is on disk."""
    world = _world(seed, duration_s=2.0, topic={"flush.messages": 1}, producer={"stop_s": 1.0})
    world.run()
    assert all(durable == end > 0 for durable, end in _durable(world))


@pytest.mark.parametrize("seed", SEEDS)
def test_the_flusher_task_fsyncs_logs_older_than_flush_ms(seed):
    """flush.ms 500 and log.flush.scheduler.interval.ms 200 (LogManager.flushDirtyLogs): a log
    with records unflushed is flushed within flush.ms + one period of its last flush, appends
    or not. The producer stops at 1 s; at 2 s every replica's log is on disk. With the default
    period (Long.MAX_VALUE ms) the task runs once, at the initial delay, and nothing is flushed
    by time within the run."""
    topic = {"flush.ms": 500}
    world = _world(seed, duration_s=2.0, topic=topic, producer={"stop_s": 1.0},
                   broker={"log.flush.scheduler.interval.ms": 200})  # fmt: skip
    world.run()
    assert all(durable == end > 0 for durable, end in _durable(world))
    world = _world(seed, duration_s=2.0, topic=topic, producer={"stop_s": 1.0})
    world.run()
    assert all(durable < end for durable, end in _durable(world))
