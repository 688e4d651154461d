"""When a broker fsyncs a log (Kafka 3.9): at the end of UnifiedLog.append once flush.messages
are unflushed, a follower's append as a leader's, and in LogManager's kafka-log-flusher task
by flush.ms, off the produce and fetch path."""

from __future__ import annotations

from sim.scenario import Scenario
from sim.world import World, run


def _scenario(topic_config: dict, broker_config: dict | None = None, **producer) -> dict:
    """3 brokers, topic t (2 partitions, RF 3), an acks=all producer of 500 records/s."""
    return {
        "name": "flush", "seed": 3, "duration_s": 2.0,
        "cluster": {"brokers": 3, "config": broker_config or {}},
        "topics": [{"name": "t", "partitions": 2, "replication_factor": 3,
                    "config": topic_config}],
        "producers": [{"name": "app", "topic": "t", "rate_msgs_s": 500, "message_bytes": 1000,
                       "config": {"acks": "all"}, **producer}],
    }  # fmt: skip


def _assert_every_log_durable_to_its_end(world: World) -> None:
    for tp, brokers in world.assignments.items():
        for broker in brokers:
            replicas = world.brokers[broker].replicas
            leo = replicas.partitions[tp].log.log_end_offset
            assert leo > 0
            assert replicas.disk.durable_offset(tp) == leo, (tp, broker)


def test_a_follower_fsyncs_its_appends_per_flush_messages():
    """UnifiedLog.append ends with ``if (unflushedMessages >= flushInterval) flush(false)``,
    for appendAsFollower as for appendAsLeader: with flush.messages=1 every replica's log is
    on disk up to its end once the fsyncs are done, followers' too (without the flush their
    records wait for the OS writeback, dirty_expire_centisecs: 30 s)."""
    world = World(Scenario.from_dict(_scenario({"flush.messages": 1}, stop_s=1.0)))
    world.start()
    world.advance(2.0)  # a second after the last record: every fetch and fsync is done
    _assert_every_log_durable_to_its_end(world)


def test_the_log_flusher_fsyncs_leaders_and_followers_by_flush_ms():
    """LogManager.flushDirtyLogs, every log.flush.scheduler.interval.ms (200 ms here, from
    log.initial.task.delay.ms 0): a log whose last fsync is flush.ms (500 ms) ago is fsynced,
    a follower's too. The last records come at 1 s, so by 1 s + 500 ms + 200 ms every log has
    been fsynced to its end (writes at 500 MB/s take well under the 300 ms left)."""
    broker = {"log.flush.scheduler.interval.ms": 200, "log.initial.task.delay.ms": 0}
    world = World(Scenario.from_dict(_scenario({"flush.ms": 500}, broker, stop_s=1.0)))
    world.start()
    world.advance(2.0)
    _assert_every_log_durable_to_its_end(world)


def test_flush_ms_puts_no_fsync_on_the_produce_path():
    """flush.ms is the log flusher's alone (UnifiedLog.append tests flush.messages only), and
    with Kafka's default log.flush.scheduler.interval.ms the flusher first runs at
    log.initial.task.delay.ms (30 s): a 2 s run with flush.ms 1 acknowledges every batch when
    the run without it does."""
    plain = run(Scenario.from_dict(_scenario({})))
    flushed = run(Scenario.from_dict(_scenario({"flush.ms": 1})))
    assert len(plain.acked) > 0
    assert flushed.acked["done_s"].tolist() == plain.acked["done_s"].tolist()
