"""The ZooKeeper-mode controller taking office and its preferred-leader checks, as Kafka 3.9's
KafkaController does them (core/src/main/scala/kafka/controller/KafkaController.scala):

- onControllerFailover: UpdateMetadata of the live brokers, then ReplicaStateMachine.startup
  (OnlineReplica for replicas on live brokers, OfflineReplica for those on dead ones: out of the
  ISR, a dead leader leaving the partition with no leader, each change a new leader epoch
  (LeaderAndIsr.newLeaderAndIsr)), then PartitionStateMachine.startup (offline elections);
- the auto-leader-rebalance task: first 5 s after taking office
  (scheduleAutoLeaderRebalanceTask(delay = 5 s)), then ``leader.imbalance.check.interval.seconds``
  after each check is done (processAutoPreferredReplicaLeaderElection's finally).

Timeouts are shortened: zookeeper.session.timeout.ms = 3 s (so a crashed broker's znodes are
gone at most 3 s + one ZooKeeper tick of 1 s later), replica.lag.time.max.ms kept.
"""

from __future__ import annotations

import pytest

from sim.broker.controller import FIRST_IMBALANCE_CHECK_S
from sim.coordination.zookeeper import partition_state_path
from sim.scenario import Scenario
from sim.world import World

T = 3.0  # zookeeper.session.timeout.ms, s
TICK = 1.0  # the ZooKeeper tick the world sets: min(3, T / 3), s


def _scenario(brokers: int, faults: list[dict], duration_s: float, **config) -> dict:
    """``brokers`` brokers, topic t with 3 partitions on all of them, a producer of 100 msg/s
    (so followers have data to catch up on); broker config ``config``."""
    return {
        "name": "controller_failover",
        "seed": 1,
        "duration_s": duration_s,
        "cluster": {
            "brokers": brokers,
            "config": {"zookeeper.session.timeout.ms": int(T * 1000), **config},
        },
        "topics": [{"name": "t", "partitions": 3, "replication_factor": brokers}],
        "producers": [{"name": "p", "topic": "t", "rate_msgs_s": 100}],
        "faults": faults,
    }


def _events(world: World, kinds: list[str]):
    events = world.results().events
    return events[events["kind"].isin(kinds)]


def test_new_controller_takes_the_dead_one_out_of_isrs_before_electing() -> None:
    """The controller (broker 0) crashes: the broker that takes office finds broker 0 dead,
    takes it out of every ISR (where it led, the partition has no leader: epoch 1), then elects
    a leader for those partitions (epoch 2). The ISR shrinks come before the elections."""
    crash_s = 1.0
    d = _scenario(3, [{"kind": "crash_broker", "at_s": crash_s, "broker": 0}], crash_s + T + 3)
    world = World(Scenario.from_dict(d))
    world.start()
    assert world.controller_id() == 0
    led_by_0 = sorted(tp for tp, replicas in world.assignments.items() if replicas[0] == 0)
    assert led_by_0
    world.run()
    assert world.controller_id() != 0
    for tp, replicas in world.assignments.items():
        state = world.zookeeper.znodes[partition_state_path(*tp)].data
        assert 0 not in state["isr"]
        if tp in led_by_0:
            # out of the ISR with no leader (epoch 1), then the offline election (epoch 2)
            assert state["leader"] == next(b for b in replicas if b != 0)
            assert state["leader_epoch"] == 2
        else:
            assert state["leader"] == replicas[0] and state["leader_epoch"] == 1
    rows = _events(world, ["isr_shrink", "leader_election"])
    rows = rows[rows["time_s"] > crash_s]
    kinds = rows["kind"].tolist()
    assert kinds.count("isr_shrink") == len(world.assignments)
    assert kinds.count("leader_election") == len(led_by_0)
    last_shrink = max(i for i, kind in enumerate(kinds) if kind == "isr_shrink")
    first_election = kinds.index("leader_election")
    assert last_shrink < first_election


def _checks(world: World) -> list[float]:
    """Run ``world``; the times the active controller ran its preferred-leader check."""
    times: list[float] = []
    for broker in world.brokers:
        controller = broker.controller
        check = controller._on_auto_preferred_election

        def spy(payload, check=check):
            times.append(world.env.now)
            yield from check(payload)

        controller._on_auto_preferred_election = spy
    world.run()
    return times


def test_first_preferred_leader_check_5_s_after_taking_office_then_every_interval() -> None:
    """With nothing to move, the checks run at 5 s, then every
    leader.imbalance.check.interval.seconds after."""
    interval = 2
    d = _scenario(3, [], 12.0, **{"leader.imbalance.check.interval.seconds": interval})
    times = _checks(World(Scenario.from_dict(d)))
    assert FIRST_IMBALANCE_CHECK_S == 5.0
    assert times == pytest.approx([5.0, 7.0, 9.0, 11.0])


def test_no_preferred_leader_check_when_auto_rebalance_is_off() -> None:
    d = _scenario(3, [], 12.0, **{"auto.leader.rebalance.enable": False})
    assert _checks(World(Scenario.from_dict(d))) == []


def _shutdown_and_back(restart_after_s: float, **config) -> World:
    """Kafka ControllerIntegrationTest testAutoPreferredReplicaLeaderElection (core/src/test/
    scala/unit/kafka/controller): 2 brokers, broker 1 the preferred leader of a partition,
    shuts down (controlled: broker 0 leads at the initial epoch + 1) and starts again."""
    faults = [
        {"kind": "controlled_shutdown", "at_s": 1.0, "broker": 1, "restart_after_s": 2.0},
    ]
    d = _scenario(2, faults, 1.0 + restart_after_s + 10.0, **config)
    return World(Scenario.from_dict(d))


def test_preferred_leader_back_after_restart_at_a_check() -> None:
    """testAutoPreferredReplicaLeaderElection: the preferred replica leads again at the
    initial leader epoch + 2, at a check after it rejoined the ISR (the checks run at 5 s and
    then every 1 s)."""
    world = _shutdown_and_back(2.0, **{"leader.imbalance.check.interval.seconds": 1})
    preferred_1 = sorted(tp for tp, replicas in world.assignments.items() if replicas[0] == 1)
    assert preferred_1
    world.run()
    for tp in preferred_1:
        state = world.zookeeper.znodes[partition_state_path(*tp)].data
        assert (state["leader"], state["leader_epoch"]) == (1, 2)
    rows = _events(world, ["leader_election"])
    preferred = rows[rows["detail"].str.startswith("preferred")]
    assert sorted(zip(preferred["topic"], preferred["partition"], strict=True)) == preferred_1
    back = _events(world, ["isr_expand"])
    rejoined_s = back[back["detail"].str.contains("broker-1")]["time_s"].max()
    assert (preferred["time_s"] > rejoined_s).all()
    assert (preferred["time_s"] <= max(rejoined_s, FIRST_IMBALANCE_CHECK_S) + 1.0 + 0.1).all()


def test_preferred_leader_not_restored_under_the_imbalance_percentage() -> None:
    """A broker whose share of preferred partitions led by others is not above
    leader.imbalance.per.broker.percentage keeps that state: at 100 % it never moves back."""
    world = _shutdown_and_back(
        2.0,
        **{
            "leader.imbalance.check.interval.seconds": 1,
            "leader.imbalance.per.broker.percentage": 100,
        },
    )
    world.run()
    rows = _events(world, ["leader_election"])
    assert not rows["detail"].str.startswith("preferred").any()
    assert all(
        world.zookeeper.znodes[partition_state_path(*tp)].data["leader"] == 0
        for tp in world.assignments
    )


def test_controller_detects_a_bounced_broker() -> None:
    """Kafka ControllerIntegrationTest testControllerDetectsBouncedBrokers: while the
    controller's event thread is held, the other broker goes and registers again (a new
    session: a larger broker epoch, the czxid of its /brokers/ids znode). When the controller
    handles the broker change it reads the brokers then, finds the same ids, but the epoch of
    broker 1 larger: it handles broker 1 as failed, then started, so the restarted broker is
    told its replicas (it follows again and rejoins the ISR) and learns both live brokers.
    Reading only the ids, it would see nothing changed and never tell broker 1 anything."""
    held_until_s = 9.0
    faults = [{"kind": "crash_broker", "at_s": 1.0, "broker": 1, "restart_after_s": 0.5}]
    d = _scenario(2, faults, held_until_s + 3.0)
    d["topics"] = [{"name": "t", "partitions": 1, "replication_factor": 2}]
    world = World(Scenario.from_dict(d))
    world.start()
    controller = world.brokers[0].controller
    release = world.env.event()

    def hold(_):
        yield release  # the test's latch: the event thread waits on it

    controller._on_hold = hold
    controller.submit("hold")
    epoch_before = controller.broker_epochs[1]
    seen: dict[str, object] = {}

    def look():
        yield world.env.timeout(held_until_s)
        seen["registered"] = world.zookeeper.znodes.get("/brokers/ids/1")
        seen["live_brokers"] = sorted(world.brokers[1].live_brokers)
        seen["fetchers"] = dict(world.brokers[1].replicas._fetcher_of)
        release.succeed()

    world.env.process(look())
    world.run()
    # broker 1 registered again while the controller was held, and was told nothing
    assert seen["registered"] is not None and seen["registered"].czxid > epoch_before
    assert seen["live_brokers"] == [] and seen["fetchers"] == {}
    # the controller saw the bounce: broker 1 got its replica back and both live brokers
    assert controller.broker_epochs[1] == seen["registered"].czxid
    assert world.brokers[1].live_brokers == {0, 1}
    tp = ("t", 0)
    assert tp in world.brokers[1].replicas._fetcher_of
    state = world.zookeeper.znodes[partition_state_path(*tp)].data
    assert state["leader"] == 0 and sorted(state["isr"]) == [0, 1]


def test_broker_registered_while_the_new_controller_loads_is_started_after_the_failover() -> None:
    """The controller (broker 0) is bounced within its session: its old session expires, broker 1
    or 2 takes office and, while it loads the partition states (slowed here to 2 s, as for a large
    cluster, so that broker 0's registration retry lands in it), broker 0 registers again. Kafka's
    controller registers its /brokers/ids handler before reading the brokers
    (KafkaController.onControllerFailover), so that BrokerChange waits on the event queue behind
    the failover and then finds broker 0 new (processBrokerChange -> onBrokerStartup): it is told
    its replicas and rejoins every ISR. Dropping the watch because the controller was not active
    yet, the new controller never learnt of broker 0, which stayed out of the ISRs for good."""
    load_s = 2.0
    faults = [{"kind": "crash_broker", "at_s": 1.0, "broker": 0, "restart_after_s": 0.5}]
    world = World(Scenario.from_dict(_scenario(3, faults, 1.0 + T + TICK + load_s + 5.0)))
    world.start()
    for broker in world.brokers[1:]:
        read = broker._read_partitions

        def slow_read(read=read):
            yield world.env.timeout(load_s)
            return (yield from read())

        broker._read_partitions = slow_read
    world.run()
    controller = world.brokers[world.controller_id()].controller
    assert world.controller_id() != 0 and 0 in controller.live
    assert world.brokers[0].live_brokers == {0, 1, 2}
    for tp in world.assignments:
        assert sorted(world.zookeeper.znodes[partition_state_path(*tp)].data["isr"]) == [0, 1, 2]
    assert world.results().timeseries["under_replicated_partitions"].iloc[-1] == 0
