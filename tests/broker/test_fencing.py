"""Leader-epoch fencing of fetches (KIP-320) in a running cluster: Partition.getLocalLog's
check and the follower's reaction (AbstractFetcherThreadTest.testFencedFetch: a fetch at an
older epoch is answered FENCED_LEADER_EPOCH and the partition leaves the fetcher until the
next LeaderAndIsr); and a fetch parked on a leader that becomes a follower, answered at once
(DelayedFetch Case A)."""

from __future__ import annotations

from sim.protocol import Errors, FetchPartition, FetchRequest, LeaderAndIsrPartition
from sim.scenario import Scenario
from sim.world import World

TP = ("t", 0)


def _world() -> World:
    d = {
        "name": "fencing", "seed": 1, "duration_s": 5.0,
        "cluster": {"brokers": 3},
        "topics": [{"name": "t", "partitions": 1, "replication_factor": 3}],
        "producers": [{"name": "app", "topic": "t", "rate_msgs_s": 1000, "message_bytes": 100}],
    }  # fmt: skip
    world = World(Scenario.from_dict(d))
    world.start()
    return world


def _read(world: World, broker: int, current_epoch: int, replica_id: int = -1) -> Errors:
    request = FetchRequest(
        replica_id, 0.0, 0, 1 << 20, 1 << 20, {TP: FetchPartition(0, -1, current_epoch)}
    )
    answers = []
    world.brokers[broker].replicas.handle_fetch(request, lambda r, *_: answers.append(r))
    return answers[0].partitions[TP].error


def _park_consumer_fetch(world: World) -> tuple[int, int, list]:
    """A caught-up consumer's fetch parked on TP's leader for up to 5 s and 1 MiB, at the
    leader's epoch: (leader, that epoch, the list its answers go to)."""
    leader = world.assignments[TP][0]
    replicas = world.brokers[leader].replicas
    partition = replicas.partitions[TP]
    hw, epoch = partition.log.high_watermark, partition.leader_epoch
    answers: list = []
    fetch = FetchRequest(-1, 5.0, 1 << 20, 1 << 20, 1 << 20, {TP: FetchPartition(hw, -1, epoch)})
    replicas.handle_fetch(fetch, lambda response, *_: answers.append(response))
    assert answers == []  # parked: min_bytes not reached
    return leader, epoch, answers


def test_fetch_epoch_checked_before_leadership():
    # Partition.checkCurrentLeaderEpoch / getLocalLog: an older epoch is fenced, a newer one
    # unknown, -1 not checked; a follower at the same epoch answers NOT_LEADER_OR_FOLLOWER
    world = _world()
    world.advance(1.0)
    leader, follower = world.assignments[TP][0], world.assignments[TP][1]
    epoch = world.brokers[leader].replicas.partitions[TP].leader_epoch
    assert _read(world, leader, epoch) is Errors.NONE
    assert _read(world, leader, -1) is Errors.NONE
    assert _read(world, leader, epoch + 1) is Errors.UNKNOWN_LEADER_EPOCH
    assert _read(world, follower, epoch) is Errors.NOT_LEADER_OR_FOLLOWER
    world.brokers[leader].replicas.become_leader_or_follower(
        TP, LeaderAndIsrPartition(leader, epoch + 1, [0, 1, 2], [0, 1, 2], 1)
    )
    assert _read(world, leader, epoch) is Errors.FENCED_LEADER_EPOCH


def test_stale_follower_is_fenced_and_waits_for_its_leader_and_isr():
    # AbstractFetcherThreadTest.testFencedFetch
    world = _world()
    world.advance(1.0)
    leader, follower = world.assignments[TP][0], world.assignments[TP][1]
    replicas = world.brokers[follower].replicas
    epoch = world.brokers[leader].replicas.partitions[TP].leader_epoch
    # the leader hears of a new epoch first (its LeaderAndIsr arrived, the follower's not yet)
    state = LeaderAndIsrPartition(leader, epoch + 1, [0, 1, 2], [0, 1, 2], 1)
    world.brokers[leader].replicas.become_leader_or_follower(TP, state)
    world.advance(1.6)
    fetcher = replicas._fetcher_of[TP]
    assert TP not in fetcher.partitions  # fenced: no longer fetched
    leo = replicas.partitions[TP].log.log_end_offset
    world.advance(2.0)
    assert replicas.partitions[TP].log.log_end_offset == leo  # nothing fetched meanwhile
    replicas.become_leader_or_follower(TP, state)
    world.advance(2.5)
    assert TP in replicas._fetcher_of[TP].partitions
    assert replicas.partitions[TP].log.log_end_offset > leo


def test_a_fetch_parked_on_a_leader_that_becomes_a_follower_is_answered_at_once():
    """ReplicaManager.makeFollowers completes the delayed fetches of the partitions it makes
    followers (completeDelayedOperationsWhenNotPartitionLeader; DelayedFetch Case A): a caught-up
    consumer's fetch, parked for up to fetch.max.wait.ms (here 5 s), is answered when the
    leader's LeaderAndIsr makes it a follower, not 5 s later."""
    world = _world()
    world.advance(1.0)
    leader, epoch, answers = _park_consumer_fetch(world)
    follower = world.assignments[TP][1]
    state = LeaderAndIsrPartition(follower, epoch + 1, [0, 1, 2], [0, 1, 2], 1)
    world.brokers[leader].replicas.become_leader_or_follower(TP, state)
    assert len(answers) == 1
    # asked at the old epoch: fenced (the epoch is checked first), naming the new leader
    data = answers[0].partitions[TP]
    assert data.error is Errors.FENCED_LEADER_EPOCH
    assert data.current_leader == (follower, epoch + 1)


def test_a_fetch_parked_at_an_old_epoch_is_answered_when_the_epoch_moves_on():
    """DelayedFetch.tryComplete Case E comes before the byte count (Case G): a consumer's fetch
    parked for 1 MiB (fetch.min.bytes) at the leader's epoch is answered FENCED_LEADER_EPOCH as
    soon as the leader moves to a new epoch, though new records have arrived that are fewer
    than its min bytes."""
    world = _world()
    world.advance(1.0)
    leader, epoch, answers = _park_consumer_fetch(world)
    replicas = world.brokers[leader].replicas
    hw = replicas.partitions[TP].log.high_watermark
    world.advance(1.2)  # records arrive: the HW passes the fetch offset, far below 1 MiB
    assert answers == [] and replicas.partitions[TP].log.high_watermark > hw
    state = LeaderAndIsrPartition(leader, epoch + 1, [0, 1, 2], [0, 1, 2], 1)
    replicas.become_leader_or_follower(TP, state)
    assert len(answers) == 1
    assert answers[0].partitions[TP].error is Errors.FENCED_LEADER_EPOCH


def test_a_leader_that_appended_nothing_at_its_epoch_follows_its_successor():
    """UnifiedLog.truncateTo: a follower's truncation to an offset at or past its log end
    still drops epoch-cache entries that start there. Broker A is made leader at epoch 1
    (makeLeader caches epoch 1 at its log end) and appends nothing; broker B then leads at
    epoch 2, never having seen epoch 1. A's first fetch as follower (last epoch 1) is answered
    diverging at B's end of epoch 0, which truncates nothing but must drop epoch 1 from A's
    cache; A then fetches normally instead of being answered diverging on every fetch."""
    world = _world()
    world.advance(1.0)
    a, b = world.assignments[TP][0], world.assignments[TP][1]
    brokers = world.assignments[TP]
    for broker in brokers:  # A leads at epoch 1, from an ISR change say, and appends nothing
        state = LeaderAndIsrPartition(a, 1, list(brokers), list(brokers), 1)
        world.brokers[broker].replicas.become_leader_or_follower(TP, state)
    log_a = world.brokers[a].replicas.partitions[TP].log
    assert log_a.epochs[-1] == (1, log_a.log_end_offset)
    for broker in brokers:  # at once, before A appends: B leads at epoch 2
        state = LeaderAndIsrPartition(b, 2, list(brokers), list(brokers), 2)
        world.brokers[broker].replicas.become_leader_or_follower(TP, state)
    replicas_a = world.brokers[a].replicas
    answers = {"all": 0, "diverging": 0}
    process = replicas_a.process_fetched

    def count(tp, data):
        if tp == TP:
            answers["all"] += 1
            answers["diverging"] += data.diverging_epoch is not None
        return process(tp, data)

    replicas_a.process_fetched = count
    world.advance(2.0)
    assert [epoch for epoch, _ in log_a.epochs] == [0]  # epoch 1 gone, nothing of 2 yet
    assert answers["diverging"] <= 1 < answers["all"]
