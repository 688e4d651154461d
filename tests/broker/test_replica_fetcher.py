"""The follower's replica fetcher threads (ReplicaFetcherManager / AbstractFetcherManager,
Kafka 3.9): which thread fetches a partition (getFetcherId), that each thread has its own
connection to its leader, that threads left without partitions shut down
(shutdownIdleFetcherThreads), and where a follower truncates on a diverging epoch
(getOffsetTruncationState)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sim.broker.log import end_offset_for
from sim.broker.replica_fetcher import fetcher_id, offset_to_truncate_to
from sim.protocol import LeaderAndIsrPartition, LeaderAndIsrRequest
from sim.scenario import Scenario
from sim.world import World, run
from tests.conftest import _default_dict

# Expected ids worked out by hand with Java int arithmetic: Utils.abs(31 * topic.hashCode +
# partition) % n, where the product wraps at 32 bits and Utils.abs(Integer.MIN_VALUE) is 0.
#   "t".hashCode = 116: 31 * 116 + p = 3596 + p, positive.
#   "orders".hashCode = -1008770331: 31 * h wraps to -1207109189 (a Python abs() of the
#     unwrapped -31271880261 gives other ids).
#   "polygenelubricants".hashCode = Integer.MIN_VALUE: 31 * h is MIN_VALUE again, so partition 0
#     is Utils.abs(MIN_VALUE) = 0 and partition 1 is abs(MIN_VALUE + 1) = 2147483647.
FETCHER_IDS = [
    (("t", 0), 4, 0),
    (("t", 0), 8, 4),
    (("t", 1), 3, 0),
    (("orders", 0), 4, 1),  # abs(-1207109189) = 1207109189
    (("orders", 0), 8, 5),
    (("orders", 1), 4, 0),  # 1207109188
    (("orders", 5), 3, 0),  # 1207109184
    (("polygenelubricants", 0), 8, 0),
    (("polygenelubricants", 1), 4, 3),
    (("polygenelubricants", 1), 8, 7),
    (("polygenelubricants", 5), 8, 3),  # abs(MIN_VALUE + 5) = 2147483643
    (("__consumer_offsets", 0), 8, 7),  # hashCode -970371369: 31 * h + 0 = -16741367
    (("polygenelubricants", 1), -4, 3),  # Java: 2147483647 % -4 = 3 (the dividend's sign)
]


@pytest.mark.parametrize(("tp", "num_fetchers", "expected"), FETCHER_IDS)
def test_fetcher_id_is_kafkas(tp, num_fetchers, expected):
    """AbstractFetcherManager.getFetcherId, negative and MIN_VALUE hashes included."""
    assert fetcher_id(tp, num_fetchers) == expected


def _default_without_faults(fetchers: int, seed: int, duration_s: float) -> dict:
    """scenarios/default.py without its fault and consumers, for ``duration_s`` seconds."""
    d = _default_dict()
    d.update(seed=seed, duration_s=duration_s, faults=[], consumer_groups=[])
    d["cluster"]["config"]["num.replica.fetchers"] = fetchers
    return d


@settings(deadline=None, max_examples=6)
@given(fetchers=st.integers(2, 8), seed=st.integers(0, 10_000))
def test_more_fetcher_threads_do_not_slow_acks_all(fetchers, seed):
    """Each fetcher thread has its own connection to the leader (ReplicaFetcherManager
    .createFetcherThread: a BrokerBlockingSender each), so one thread's fetch long-polling at
    the leader for replica.fetch.wait.max.ms holds up no other thread's. Without faults every
    acks=all batch of the default scenario is then acknowledged within replica.fetch.wait.max.ms
    (its followers' parked fetches are answered as it arrives), and every batch closed that long
    before the end is acknowledged, whatever num.replica.fetchers. Sharing one connection, a
    batch waited behind other threads' long polls: seconds per batch at 4 fetchers."""
    d = _default_without_faults(fetchers, seed, 3.0)
    results = run(Scenario.from_dict(d))
    wait_s = 500 / 1000  # replica.fetch.wait.max.ms, Kafka's default
    acked, produced = results.tables["acked"], results.tables["produced"]
    assert len(acked) > 0
    assert acked["latency_s"].max() < wait_s
    closed_early = produced[produced["closed_s"] < d["duration_s"] - wait_s]
    assert set(closed_early["batch_id"]) <= set(acked["batch_id"])


def _leader_and_isr(world: World, broker: int, state: LeaderAndIsrPartition, tp) -> None:
    """Deliver a LeaderAndIsr for ``tp`` to ``broker`` as its controller would."""
    target = world.brokers[broker]
    request = LeaderAndIsrRequest(target.controller_id, target.controller_epoch, {tp: state})
    target.on_request(request, f"broker-{target.controller_id}", lambda *_: None)


def test_a_fetcher_left_without_partitions_shuts_down_and_a_new_one_starts_later():
    """ReplicaManager.becomeLeaderOrFollower ends with shutdownIdleFetcherThreads: a follower
    made leader of its only followed partition stops that partition's fetcher thread; made a
    follower again, it starts a new thread (addFetcherForPartitions) that fetches."""
    tp = ("t", 0)
    d = {
        "name": "fetchers", "seed": 1, "duration_s": 5.0,
        "cluster": {"brokers": 3},
        "topics": [{"name": "t", "partitions": 1, "replication_factor": 3}],
        "producers": [{"name": "app", "topic": "t", "rate_msgs_s": 1000, "message_bytes": 100}],
    }  # fmt: skip
    world = World(Scenario.from_dict(d))
    world.start()
    world.advance(1.0)
    replicas_of = world.assignments[tp]
    leader, follower = replicas_of[0], replicas_of[1]
    replicas = world.brokers[follower].replicas
    old = replicas.fetchers[(leader, 0)]
    epoch = world.brokers[leader].replicas.partitions[tp].leader_epoch
    state = LeaderAndIsrPartition(follower, epoch + 1, list(replicas_of), list(replicas_of), 1)
    _leader_and_isr(world, follower, state, tp)
    world.advance(1.1)
    assert replicas.fetchers == {}
    assert old.process is None
    back = LeaderAndIsrPartition(leader, epoch + 2, list(replicas_of), list(replicas_of), 2)
    for broker in replicas_of:
        _leader_and_isr(world, broker, back, tp)
    world.advance(1.2)
    leo = replicas.partitions[tp].log.log_end_offset
    new = replicas.fetchers[(leader, 0)]
    assert new is not old
    world.advance(2.0)
    assert replicas.partitions[tp].log.log_end_offset > leo


#: Common production values of the honoured broker settings that shape the data path. Left
#: out: replica.fetch.min.bytes above one produce request's bytes (here 2 batches of 16 KiB),
#: with which Kafka too holds every acks=all batch for replica.fetch.wait.max.ms (the leader
#: mutes a connection until it answers, SocketServer.Processor, so one request's bytes are
#: all a parked follower fetch can count, DelayedFetch.tryComplete).
PRODUCTION_SETTINGS = [
    {"num.io.threads": 1},
    {"num.io.threads": 16},
    {"num.network.threads": 1},
    {"num.network.threads": 8},
    {"num.replica.fetchers": 4},
    {"replica.fetch.max.bytes": 65536},
    {"replica.fetch.min.bytes": 1024},
    {"replica.fetch.wait.max.ms": 100},
    {"replica.fetch.response.max.bytes": 65536},
    {"replica.fetch.backoff.ms": 100},
    {"log.flush.interval.messages": 1},
    {"log.flush.interval.messages": 1000},
    {"log.flush.interval.ms": 1000, "log.flush.scheduler.interval.ms": 1000,
     "log.initial.task.delay.ms": 0},
    {"replica.lag.time.max.ms": 10000},
]  # fmt: skip


@pytest.mark.slow
@pytest.mark.parametrize("settings", PRODUCTION_SETTINGS, ids=lambda s: ",".join(s))
def test_the_default_scenario_keeps_up_under_common_broker_settings(settings):
    """The default scenario without faults for 5 s under each setting: every batch closed
    replica.fetch.wait.max.ms before the end is acknowledged, each within that time (a follower
    fetch parked at the leader is answered as a batch arrives), and no ISR shrinks."""
    d = _default_without_faults(1, 1, 5.0)
    d["cluster"]["config"].update(settings)
    results = run(Scenario.from_dict(d))
    wait_s = settings.get("replica.fetch.wait.max.ms", 500) / 1000
    acked, produced = results.tables["acked"], results.tables["produced"]
    assert acked["latency_s"].max() < wait_s
    closed_early = produced[produced["closed_s"] < d["duration_s"] - wait_s]
    assert set(closed_early["batch_id"]) <= set(acked["batch_id"])
    assert not (results.tables["events"]["kind"] == "isr_shrink").any()


def _reconcile(
    follower: list[tuple[int, int]],
    follower_leo: int,
    leader: list[tuple[int, int]],
    leader_leo: int,
) -> list[int]:
    """The fetch rounds of a follower with epoch cache ``follower`` against a leader with
    ``leader``, until the leader finds no divergence (its Partition's
    validateFetchOffsetAndMaybeGetDivergingEpoch over end_offset_for): the offsets the
    follower truncates to, in order."""
    truncations = []
    for _ in range(10):
        if not follower:  # a fetch without a last epoch is not checked
            return truncations
        last_epoch = follower[-1][0]
        epoch, end = end_offset_for(leader, last_epoch, leader_leo)
        if not (epoch < last_epoch or end < follower_leo):
            return truncations
        follower_leo = offset_to_truncate_to(follower, follower_leo, epoch, end)
        follower = [(e, start) for e, start in follower if start < follower_leo]
        truncations.append(follower_leo)
    raise AssertionError(f"no agreement after 10 rounds: {truncations}")


def test_truncation_walks_back_through_epochs_the_follower_never_had():
    # AbstractFetcherThreadTest.testTruncation: replica epochs 0@0, 2@1, 4@2 (LEO 3), leader
    # 1@0, 3@1, 5@2. The leader answers epoch 3 ending at 2; the replica knows no epoch 3, so
    # it truncates to the end of its epoch 2 and asks again, until both agree at offset 0.
    assert _reconcile([(0, 0), (2, 1), (4, 2)], 3, [(1, 0), (3, 1), (5, 2)], 3) == [2, 1, 0]


def test_truncation_on_diverging_epochs():
    # AbstractFetcherThreadTest.testDivergingEpochs: replica 0@0, 2@1, 4@2, leader 0@0, 2@1,
    # 5@2: one round, to offset 2, after which the last fetched epoch is 2.
    assert _reconcile([(0, 0), (2, 1), (4, 2)], 3, [(0, 0), (2, 1), (5, 2)], 3) == [2]


def test_a_follower_truncates_below_the_end_of_an_epoch_it_skipped():
    # Found by the recovery property: a restarted broker resumed leadership at epoch 2 and
    # appended one batch at 222 (epochs 1@164, 2@222, LEO 223); its successors led at epochs 3
    # (appending nothing) and 4 from 223. The leader's answer, epoch 1 ending at 223, is past
    # the follower's own end of epoch 1 (222): it must truncate to 222, not to min(223, LEO),
    # which removed nothing and left it fetching at 223 for ever, never back in the ISR.
    follower, leader = [(0, 0), (1, 164), (2, 222)], [(0, 0), (1, 164), (4, 223)]
    assert offset_to_truncate_to(follower, 223, 1, 223) == 222
    assert _reconcile(follower, 223, leader, 736) == [222]


@pytest.mark.parametrize("fetchers", [1, 3, 4])
def test_each_followed_partition_goes_to_the_fetcher_thread_kafka_picks(fetchers):
    """AbstractFetcherManager.addFetcherForPartitions: a follower fetches each partition in
    the thread (leader, getFetcherId) with num.replica.fetchers threads per leader, and runs
    no thread without partitions."""
    d = {
        "name": "fetchers", "seed": 1, "duration_s": 1.0,
        "cluster": {"brokers": 2, "config": {"num.replica.fetchers": fetchers}},
        "topics": [{"name": "t", "partitions": 12, "replication_factor": 2}],
    }  # fmt: skip
    world = World(Scenario.from_dict(d))
    world.run()
    for broker in world.brokers:
        replicas = broker.replicas
        followed = [tp for tp, p in replicas.partitions.items() if not p.is_leader]
        expected: dict[tuple[int, int], set] = {}
        for tp in followed:
            leader = replicas.partitions[tp].leader_id
            expected.setdefault((leader, fetcher_id(tp, fetchers)), set()).add(tp)
        got = {key: set(f.partitions) for key, f in replicas.fetchers.items()}
        assert followed and got == expected
