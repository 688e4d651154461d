"""The ZooKeeper-mode controller's reaction to a broker (re)start, in Kafka 3.9's order
(KafkaController.onBrokerStartup, core/src/main/scala/kafka/controller/KafkaController.scala):

1. UpdateMetadata: to the brokers already live the live brokers and no partition, to the new
   broker every partition, leaderless ones included (``partitionsWithLeaders``);
2. its replicas go OnlineReplica (ZkReplicaStateMachine): LeaderAndIsr with each partition's
   current state, leader -1 included, then UpdateMetadata of those partitions to every broker;
3. triggerOnlinePartitionStateChange: offline partitions are elected, LeaderAndIsr to their
   replicas, UpdateMetadata to every broker.

And the broker's side (ReplicaManager.becomeLeaderOrFollower / makeFollowers): a LeaderAndIsr
whose leader is not alive (-1) is accepted and leaves the partition as it was.

Timeouts are shortened: ``T`` = zookeeper.session.timeout.ms = 3 s, so a session expires at
most ``T`` + one ZooKeeper tick (1 s) after its broker stopped; broker 2 crashes at ``CRASH_S``
and restarts at ``RESTART_S``, after that, so the controller has taken it out first.
"""

from __future__ import annotations

from typing import Any

import pytest

from sim.broker.controller import PartitionState
from sim.coordination.zookeeper import partition_state_path
from sim.protocol import (
    NO_LEADER,
    AlterPartitionRequest,
    Errors,
    LeaderAndIsrPartition,
    LeaderAndIsrRequest,
    UpdateMetadataRequest,
)
from sim.scenario import Scenario
from sim.world import World

T = 3.0  # zookeeper.session.timeout.ms, s
TICK = 1.0  # the ZooKeeper tick the world sets: min(3, T / 3), s
CRASH_S = 1.0
RESTART_S = CRASH_S + T + TICK + 0.5  # the session expired and the controller acted
SOLO = "solo"  # a topic with one replica per partition: one of them lives on broker 2 only


def _scenario(unclean: bool = False) -> dict:
    """3 brokers (broker 0 the controller); topic t RF 3 and topic solo RF 1, 3 partitions
    each; broker 2 crashes at CRASH_S and restarts at RESTART_S; no clients."""
    topic_config = {"unclean.leader.election.enable": unclean}
    return {
        "name": "controller_startup",
        "seed": 1,
        "duration_s": RESTART_S + 1.5,
        "cluster": {
            "brokers": 3,
            "config": {"zookeeper.session.timeout.ms": int(T * 1000)},
        },
        "topics": [
            {"name": "t", "partitions": 3, "replication_factor": 3, "config": topic_config},
            {"name": SOLO, "partitions": 3, "replication_factor": 1, "config": topic_config},
        ],
        "faults": [
            {
                "kind": "crash_broker",
                "at_s": CRASH_S,
                "broker": 2,
                "restart_after_s": RESTART_S - CRASH_S,
            }
        ],
    }


def _only_on_2(world: World) -> tuple[str, int]:
    """The partition of ``solo`` whose only replica is broker 2."""
    (tp,) = [tp for tp, replicas in world.assignments.items() if tp[0] == SOLO and replicas == [2]]
    return tp


def _record_arrivals(world: World, broker: int, log: list[tuple[float, int, Any]]) -> None:
    """Append (time, broker, request) to ``log`` for each controller request reaching
    ``broker`` (a connection handles its requests in arrival order)."""
    node = world.brokers[broker]
    on_request = node.on_request

    def spy(request, source, respond) -> None:
        if isinstance(request, (LeaderAndIsrRequest, UpdateMetadataRequest)):
            log.append((world.env.now, broker, request))
        on_request(request, source, respond)

    node.on_request = spy


def _describe(request: Any) -> tuple[str, dict]:
    """("LeaderAndIsr", {tp: (leader, leader epoch)}) or ("UpdateMetadata", {...})."""
    kind = "LeaderAndIsr" if isinstance(request, LeaderAndIsrRequest) else "UpdateMetadata"
    return kind, {tp: (p.leader, p.leader_epoch) for tp, p in sorted(request.partitions.items())}


def _follower_state(partition) -> tuple:
    """What a LeaderAndIsr may change on a follower: leader, epochs, log end."""
    return (
        partition.leader_id,
        partition.leader_epoch,
        partition.partition_epoch,
        partition.log.log_end_offset,
    )


def _run_with_arrivals(world: World) -> list[tuple[float, int, Any]]:
    """Run ``world``; the controller requests each broker received after the restart."""
    log: list[tuple[float, int, Any]] = []
    for broker in range(3):
        _record_arrivals(world, broker, log)
    world.run()
    return [(t, b, request) for t, b, request in log if t >= RESTART_S]


def test_restarted_broker_receives_metadata_then_its_replicas_then_the_election() -> None:
    """The requests reaching the restarted broker 2, in order: UpdateMetadata with every
    partition (its leaderless one at leader -1), LeaderAndIsr with each partition it hosts at
    its current state (the leaderless one too: OnlineReplica sends it, leader -1), the
    UpdateMetadata of those partitions, then the election's LeaderAndIsr making it leader of
    its leaderless partition at the next epoch, and that partition's UpdateMetadata. The old
    order (election first) would put a LeaderAndIsr with leader 2 first."""
    world = World(Scenario.from_dict(_scenario()))
    solo = _only_on_2(world)
    hosted = sorted(tp for tp, replicas in world.assignments.items() if 2 in replicas)
    everything = sorted(world.assignments)
    arrivals = _run_with_arrivals(world)
    # the first five; the UpdateMetadata of broker 2's ISR expansions come after
    at_2 = [_describe(request) for _, broker, request in arrivals if broker == 2][:5]
    assert [kind for kind, _ in at_2] == [
        "UpdateMetadata",
        "LeaderAndIsr",
        "UpdateMetadata",
        "LeaderAndIsr",
        "UpdateMetadata",
    ]
    # while broker 2 was down: solo lost its leader at epoch 1 (ISR kept), t's leaders moved
    assert sorted(at_2[0][1]) == everything and at_2[0][1][solo] == (NO_LEADER, 1)
    assert sorted(at_2[1][1]) == hosted and at_2[1][1][solo] == (NO_LEADER, 1)
    assert sorted(at_2[2][1]) == hosted
    assert at_2[3][1] == {solo: (2, 2)}
    assert at_2[4][1] == {solo: (2, 2)}
    state = world.brokers[0].controller.states[solo]
    assert (state.leader, state.leader_epoch, state.isr) == (2, 2, [2])
    assert world.brokers[2].partitions[solo].is_leader


def test_existing_brokers_first_learn_the_live_brokers_alone() -> None:
    """onBrokerStartup's first request to the brokers already live is an UpdateMetadata with
    the new broker among the live ones and no partition state; then the UpdateMetadata of the
    new broker's partitions (its replicas' OnlineReplica), then the election's."""
    world = World(Scenario.from_dict(_scenario()))
    solo = _only_on_2(world)
    hosted = sorted(tp for tp, replicas in world.assignments.items() if 2 in replicas)
    arrivals = _run_with_arrivals(world)
    for broker in (0, 1):
        mine = [request for _, b, request in arrivals if b == broker][:3]  # then ISR expansions
        assert all(isinstance(request, UpdateMetadataRequest) for request in mine)
        assert [sorted(request.partitions) for request in mine] == [[], hosted, [solo]]
        assert mine[0].live_brokers == [0, 1, 2]


def test_leaderless_leader_and_isr_leaves_the_partition_as_it_was() -> None:
    """ReplicaManager.makeFollowers: for a partition whose new leader is not an alive broker
    (leader -1) Kafka does not call Partition.makeFollower: no new leader epoch, no fetcher
    removed or added, no truncation; the request is accepted (Errors.NONE). A later
    LeaderAndIsr with a newer epoch applies as usual."""
    world = World(Scenario.from_dict(_scenario()))
    tp = next(tp for tp, replicas in sorted(world.assignments.items()) if tp[0] == "t")
    follower = world.assignments[tp][1]
    replicas = world.brokers[follower].replicas
    partition = replicas.partitions[tp]
    before = _follower_state(partition)
    fetcher = replicas._fetcher_of[tp]
    leaderless = LeaderAndIsrPartition(NO_LEADER, 1, [follower], world.assignments[tp], 1)
    assert replicas.become_leader_or_follower(tp, leaderless)
    assert _follower_state(partition) == before and replicas._fetcher_of[tp] is fetcher
    assert tp in fetcher.partitions
    elected = LeaderAndIsrPartition(follower, 2, [follower], world.assignments[tp], 2)
    assert replicas.become_leader_or_follower(tp, elected)
    assert partition.is_leader and partition.leader_epoch == 2
    assert tp not in replicas._fetcher_of


@pytest.mark.parametrize("unclean", [False, True])
def test_entire_isr_offline_then_back_it_leads_again(unclean: bool) -> None:
    """Kafka ControllerIntegrationTest testLeaderAndIsrWhenEntireIsrOfflineAndUncleanLeader-
    ElectionDisabled / ...Enabled (core/src/test/scala/unit/kafka/controller): the only replica
    of a partition goes offline; its state znode then says leader -1 (NoLeader), leader epoch
    1 (initial + 1), ISR [that replica], with unclean election off or on (no other replica to
    elect). Extended here: when the broker comes back, the offline election makes it leader
    again at epoch 2, a clean election (it is the ISR)."""
    world = World(Scenario.from_dict(_scenario(unclean)))
    solo = _only_on_2(world)
    seen: dict[str, dict] = {}

    def look():
        yield world.env.timeout(RESTART_S - 0.01)
        seen["down"] = dict(world.zookeeper.znodes[partition_state_path(*solo)].data)

    world.env.process(look())
    world.run()
    down = seen["down"]
    assert (down["leader"], down["leader_epoch"], down["isr"]) == (NO_LEADER, 1, [2])
    up = world.zookeeper.znodes[partition_state_path(*solo)].data
    assert (up["leader"], up["leader_epoch"], up["isr"]) == (2, 2, [2])
    events = world.results().events
    kinds = ["leader_election", "unclean_leader_election", "leader_resumed"]
    mine = events[
        (events["topic"] == SOLO) & (events["partition"] == solo[1]) & events["kind"].isin(kinds)
    ]
    # clean; no leader_resumed row: the controller's first word to it was leader -1
    assert mine["kind"].tolist() == ["leader_election"]
    assert mine["node"].tolist() == ["broker-2"] and mine["time_s"].iloc[0] > RESTART_S


def test_restarted_broker_learns_partitions_left_without_leader_while_it_was_down() -> None:
    """Kafka ControllerIntegrationTest testMetadataPropagationForOfflineReplicas, its last step:
    a broker that was down while a partition lost its only replica learns, once it starts,
    that the partition has no leader (leader -1) and a non-empty ISR, from the UpdateMetadata
    with every partition that onBrokerStartup sends it. Here broker 1 is down while broker 2,
    the only replica of a solo partition, goes too; its cache, gone with the crashed process,
    is empty until it restarts."""
    d = _scenario()
    d["faults"] = [
        {"kind": "crash_broker", "at_s": CRASH_S, "broker": 1, "restart_after_s": 2 * RESTART_S},
        {"kind": "crash_broker", "at_s": CRASH_S + 0.5, "broker": 2},
    ]
    d["duration_s"] = CRASH_S + 2 * RESTART_S + 1.0
    world = World(Scenario.from_dict(d))
    solo = _only_on_2(world)
    cached: dict[str, Any] = {}

    def look():
        yield world.env.timeout(CRASH_S + 2 * RESTART_S - 0.01)
        cached["down"] = dict(world.brokers[1].metadata)

    world.env.process(look())
    world.run()
    assert cached["down"] == {}  # a crashed broker's metadata cache is gone with its process
    after = world.brokers[1].metadata[solo]
    assert (after.leader, after.leader_epoch, after.isr) == (NO_LEADER, 1, [2])
    state: PartitionState = world.brokers[0].controller.states[solo]
    assert (state.leader, state.isr) == (NO_LEADER, [2])


def test_shut_down_broker_not_added_to_isr() -> None:
    """KIP-841, ported from ControllerIntegrationTest.testShutdownBrokerNotAddedToIsr: after
    broker 1's controlled shutdown the ISR is the controller alone; an AlterPartition putting
    broker 1 back is refused with INELIGIBLE_REPLICA and the ISR stays; restarted, broker 1
    rejoins the ISR. And when broker 1 is gone, the leader's metadata cache says so."""
    scenario = {
        "name": "ineligible",
        "duration_s": 3.0,
        "cluster": {"brokers": 2},
        "topics": [{"name": "t", "partitions": 1, "replication_factor": 2}],
        "faults": [{"kind": "controlled_shutdown", "at_s": 0.5, "broker": 1}],
    }
    world = World(Scenario.from_dict(scenario))
    controller = world.brokers[0].controller
    tp = ("t", 0)
    world.advance(1.0)
    state = controller.states[tp]
    assert state.isr == [0]
    # onReplicasBecomeOffline: the leader learns that broker 1 is gone though no state changed
    assert world.brokers[0].live_brokers == {0}
    answers: list[Any] = []
    full_isr = (state.leader_epoch, [0, 1], state.partition_epoch)
    controller.submit("alter_partition", (AlterPartitionRequest(0, {tp: full_isr}), answers.append))
    world.advance(1.5)
    (answer,) = answers
    assert answer.partitions[tp][0] is Errors.INELIGIBLE_REPLICA
    assert controller.states[tp].isr == [0]
    world.brokers[1].restart()
    world.run()
    assert controller.states[tp].isr == [0, 1]
