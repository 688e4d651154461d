"""Failover timing and every fault kind (issue 6, "Must show"), plus a property over random fault
schedules.

Kafka's timeouts are shortened so runs stay short; every bound below is derived from them and
from the model's constants (cited in each docstring), never copied from a run:

- ``T`` = zookeeper.session.timeout.ms = 3 s. The world sets ZooKeeper's tick to
  ``min(3, T / 3)`` = 1 s; a session expires at the first tick boundary strictly after
  ``last heard + T`` (sim/coordination/zookeeper.py, ExpiryQueue.roundToNextInterval). The broker's
  ZooKeeper client pings when idle for ``T / 3`` (ZooKeeperClient.ping_interval_s), so when a
  broker dies the server last heard from it at most one ping interval and one round trip
  earlier. Hence the session of a broker that stops at ``t`` expires in
  ``(t + T - T/3 - RTT, t + T + TICK]``: the "[timeout, timeout + tick]" of a ZooKeeper session
  widened below by the time since the last heartbeat.
- After expiry: the watch reaches the controller (RTT / 2), it reads /brokers/ids (RTT), and its
  event queue may hold one AlterPartition ahead (ELECTION_S_PER_PARTITION + a ZooKeeper write,
  RTT). A new controller first reads /controller_epoch and writes /controller (2 RTT), reads the
  brokers and the partition states (2 RTT) and loads them (LOAD_S_PER_PARTITION each).
- RTT = hardware rtt_ms = 0.5 ms; ZooKeeper writes add no latency (write_latency_s 0).
"""

from __future__ import annotations

import math

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sim.audit import audit
from sim.broker.controller import (
    ELECTION_S_PER_PARTITION,
    FIRST_IMBALANCE_CHECK_S,
    LOAD_S_PER_PARTITION,
    PartitionState,
)
from sim.coordination.zookeeper import CONTROLLER_EPOCH_PATH, broker_path, partition_state_path
from sim.events import FAULT_ROWS
from sim.liveness import heal_time
from sim.protocol import Errors, LeaderAndIsrRequest, UpdateMetadataRequest
from sim.results import Results
from sim.scenario import Scenario
from sim.timers import EventLimitExceeded
from sim.world import World, run

T = 3.0  # zookeeper.session.timeout.ms, s
TICK = min(3.0, T / 3)  # ZooKeeper tickTime the world sets, s
PING = T / 3  # idle time after which the ZooKeeper client pings, s
RTT = 0.0005  # hardware rtt_ms default, s
LAG = 1.0  # replica.lag.time.max.ms, s
REQUEST_TIMEOUT = 0.5  # producer and consumer request.timeout.ms, s
EVENT_CAP = 2_000_000  # simulation events per run before a run counts as runaway


# ---------------------------------------------------------------- helpers


def _scenario(
    faults: list[dict],
    *,
    partitions: int = 3,
    duration_s: float = 8.0,
    rate: float = 200.0,
    seed: int = 1,
    topic_config: dict | None = None,
    message_bytes: int = 200,
) -> dict:
    """3 brokers (broker 0 controller), topic t RF 3 / min.insync 2 / unclean off, one keyed
    acks=all idempotent producer and one consumer; timeouts shortened (module docstring)."""
    return {
        "name": "faults_timing",
        "seed": seed,
        "duration_s": duration_s,
        "cluster": {
            "brokers": 3,
            "config": {
                "zookeeper.session.timeout.ms": int(T * 1000),
                "replica.lag.time.max.ms": int(LAG * 1000),
                "controller.socket.timeout.ms": 2000,
                "controlled.shutdown.retry.backoff.ms": 500,
                "replica.socket.timeout.ms": 1000,
            },
        },
        "topics": [
            {
                "name": "t",
                "partitions": partitions,
                "replication_factor": 3,
                "config": {
                    "min.insync.replicas": 2,
                    "unclean.leader.election.enable": False,
                    **(topic_config or {}),
                },
            }
        ],
        "producers": [
            {
                "name": "app",
                "topic": "t",
                "rate_msgs_s": rate,
                "message_bytes": message_bytes,
                "keys": {"kind": "uniform", "cardinality": 100},
                "config": {
                    "acks": "all",
                    "enable.idempotence": True,
                    "linger.ms": 5,
                    "request.timeout.ms": int(REQUEST_TIMEOUT * 1000),
                },
            }
        ],
        "consumer_groups": [
            {
                "group_id": "g",
                "topics": ["t"],
                "config": {"request.timeout.ms": int(REQUEST_TIMEOUT * 1000)},
            }
        ],
        "faults": faults,
    }


def _capped(world: World, cap: int = EVENT_CAP) -> World:
    """Make ``world``'s environment raise EventLimitExceeded after ``cap`` events."""
    world.env.event_limit = cap
    return world


def _world(d: dict) -> World:
    return _capped(World(Scenario.from_dict(d)))


def _finish(world: World) -> Results:
    world.run()
    return world.results()


def _faults(r: Results) -> pd.DataFrame:
    """The rows of the faults' lifecycle: injected, stopped, ended or skipped."""
    ev = r.events
    return ev[ev["kind"].isin(FAULT_ROWS)]


def _led_by(world: World, broker: int) -> list[tuple[str, int]]:
    """Partitions ``broker`` leads at the start (the preferred replica leads)."""
    return sorted(tp for tp, replicas in world.assignments.items() if replicas[0] == broker)


def _elections(r: Results) -> pd.DataFrame:
    ev = r.events
    return ev[ev["kind"].isin(["leader_election", "unclean_leader_election"])]


def _acks(r: Results) -> pd.DataFrame:
    cols = ["batch_id", "partition", "closed_s"]
    return r.acked.merge(r.produced[cols], on="batch_id", validate="one_to_one")


def _assert_safe(r: Results) -> None:
    """acks=all, RF 3, min.insync 2, unclean off: nothing acknowledged lost, consumers saw one
    history, no batch stored twice."""
    report = audit(r.tables)
    assert report.lost_acked_messages == 0, report
    assert report.inconsistent_offsets == 0, report
    assert not r.log.duplicated(["topic", "partition", "batch_id"]).any(), report


def _session_expiry_window(stop_s: float) -> tuple[float, float]:
    """When a session whose broker stopped answering at ``stop_s`` expires (module docstring)."""
    return stop_s + T - PING - RTT, stop_s + T + TICK


def _assert_consistent_leadership(world: World) -> None:
    """The end state agrees everywhere: one active controller; per partition its state equals
    ZooKeeper's, and exactly one running broker leads it, at that epoch."""
    active = [b.broker_id for b in world.brokers if b.controller.active]
    assert len(active) == 1, active
    controller = world.brokers[active[0]].controller
    for tp in sorted(world.assignments):
        state = controller.states[tp]
        znode = world.zookeeper.znodes[partition_state_path(*tp)].data
        assert (znode["leader"], znode["leader_epoch"]) == (state.leader, state.leader_epoch)
        assert sorted(znode["isr"]) == sorted(state.isr)
        leaders = [
            (b.broker_id, b.partitions[tp].leader_epoch)
            for b in world.brokers
            if b.running and b.partitions[tp].is_leader
        ]
        assert leaders == [(state.leader, state.leader_epoch)], (tp, leaders, state)


def _sample_controllers(world: World, every_s: float = 0.001) -> list[tuple[float, list, list]]:
    """Every ``every_s``: (time, brokers whose controller is active, their epochs)."""
    samples: list[tuple[float, list, list]] = []

    def sample():
        while True:
            active = [b for b in world.brokers if b.controller.active]
            samples.append(
                (world.env.now, [b.broker_id for b in active], [b.controller.epoch for b in active])
            )
            yield world.env.timeout(every_s)

    world.env.process(sample())
    return samples


# ---------------------------------------------------------------- 1. failover timing


@pytest.mark.parametrize("crash_s", [2.0, 2.37, 2.71])
def test_hard_crash_unavailable_for_session_timeout_plus_election(crash_s: float) -> None:
    """A crashed leader's partitions have no leader until its ZooKeeper session expires and the
    controller elects: per partition, election - crash in [T - T/3 - RTT, T + TICK + 4 RTT +
    ELECTION_S_PER_PARTITION * (partitions + 1)]: the expiry window (module docstring), then the
    watch (RTT/2) and the read of /brokers/ids (RTT), and at most one AlterPartition ahead in the
    controller's queue (one partition's cost + a ZooKeeper write, RTT); the election event is
    recorded before its own per-partition cost. Crash times at three phases of the ping cycle.
    Summary unavailable_partition_s is exactly the sum of these intervals."""
    world = _world(
        _scenario(
            [{"kind": "crash_broker", "at_s": crash_s, "broker": 1}], partitions=12, duration_s=7.0
        )
    )
    led = _led_by(world, 1)
    assert led  # broker 0 is the controller (World starts it so), broker 1 a plain leader
    r = _finish(world)
    lo, hi = _session_expiry_window(crash_s)
    hi += 4 * RTT + ELECTION_S_PER_PARTITION * (12 + 1)
    elections = _elections(r)
    assert sorted(zip(elections["topic"], elections["partition"], strict=True)) == led
    down = elections["time_s"].to_numpy() - crash_s
    assert (down >= lo - crash_s).all() and (down <= hi - crash_s).all(), (down, lo, hi)
    assert (elections["detail"].str.startswith("offline:")).all()
    assert r.summary()["unavailable_partition_s"] == pytest.approx(down.sum(), abs=1e-9)
    _assert_safe(r)


def test_leader_restarted_within_its_session_is_unavailable_until_the_election() -> None:
    """A crashed leader restarted before its session expires leads nothing: its registration
    waits for the old session to expire, and the controller elects then. Its partitions stay
    without a usable leader from the crash to that election, and unavailable_partition_s counts
    all of it, not just crash to restart (it did before)."""
    world = _world(
        _scenario(
            [{"kind": "crash_broker", "at_s": 2.0, "broker": 1, "restart_after_s": 0.5}],
            partitions=6,
            duration_s=7.0,
        )
    )
    led = _led_by(world, 1)
    r = _finish(world)
    elections = _elections(r)
    assert sorted(zip(elections["topic"], elections["partition"], strict=True)) == led
    down = elections["time_s"].to_numpy() - 2.0
    lo, _ = _session_expiry_window(2.0)
    assert (down >= lo - 2.0).all()  # well past the restart at 2.5 s
    assert r.summary()["unavailable_partition_s"] == pytest.approx(down.sum(), abs=1e-9)


def test_unavailability_ends_when_a_restarted_leader_leads_again_without_an_election() -> None:
    """The leader of t-0 is also the controller; it crashes at 2 s and restarts at 5 s, as its
    old session expires. The new controller sees it registered and tells it to lead t-0 at the
    same epoch, with no election: its leader_resumed row ends the window (3 s, not the run)."""
    fault = {"kind": "crash_broker", "at_s": 2.0, "broker": "leader:t-0", "restart_after_s": 3.0}
    r = _finish(_world(_scenario([fault], duration_s=10.0)))
    assert _elections(r).empty
    resumed = r.events[r.events["kind"] == "leader_resumed"]
    assert list(zip(resumed["topic"], resumed["partition"], strict=True)) == [("t", 0)]
    assert resumed["node"].tolist() == ["broker-0"]
    assert resumed["time_s"].iloc[0] > 5.0  # the new process, once the controller told it
    expected = resumed["time_s"].iloc[0] - 2.0
    assert r.summary()["unavailable_partition_s"] == pytest.approx(expected, abs=1e-9)


def test_controlled_shutdown_moves_leaders_in_milliseconds() -> None:
    """A controlled shutdown moves each leadership off at once: the ControlledShutdown request
    reaches the controller (RTT/2), which elects (events at fault + RTT/2), writes ZooKeeper once
    for every partition it changes (the broker's leaderships and the ISRs it leaves:
    ELECTION_S_PER_PARTITION each, then RTT), answers (RTT/2), and the broker closes its session
    (RTT) and stops: stop - fault <= ELECTION_S_PER_PARTITION * partitions + 3 RTT + slack of
    2 RTT. No partition is ever without a live leader (unavailable_partition_s = 0), and the
    followers it leaves are taken out of ISRs by the controller (isr_shrink events)."""
    partitions = 30
    world = _world(
        _scenario(
            [{"kind": "controlled_shutdown", "at_s": 2.0, "broker": 1}],
            partitions=partitions,
            duration_s=4.0,
        )
    )
    led = _led_by(world, 1)
    followed = sorted(tp for tp, reps in world.assignments.items() if 1 in reps[1:])
    r = _finish(world)
    faults = _faults(r)
    assert list(faults["detail"]) == ["controlled shutdown", "stopped"]
    assert (faults["node"] == "broker-1").all()
    fault_s, stopped_s = faults["time_s"].to_numpy()
    elections = _elections(r)
    assert sorted(zip(elections["topic"], elections["partition"], strict=True)) == led
    assert (elections["detail"].str.startswith("controlled_shutdown:")).all()
    assert ((elections["time_s"] - fault_s) <= 2 * RTT).all()
    assert stopped_s - fault_s <= ELECTION_S_PER_PARTITION * partitions + 5 * RTT
    # the per-partition cost is visible: more than a round trip per 10 partitions moved
    assert stopped_s - fault_s >= ELECTION_S_PER_PARTITION * partitions
    assert r.summary()["unavailable_partition_s"] == pytest.approx(0.0, abs=1e-12)
    shrinks = r.events[r.events["kind"] == "isr_shrink"]
    by_controller = shrinks[shrinks["detail"] == "broker-1 left the ISR (controlled shutdown)"]
    assert sorted(zip(by_controller["topic"], by_controller["partition"], strict=True)) == followed
    assert (by_controller["node"] == "broker-0").all()
    _assert_safe(r)


def test_controller_crash_new_controller_after_session_timeout_one_at_a_time() -> None:
    """Crashing the controller (broker 0): a new controller (controller_change, epoch 2) appears
    when its session expires, in the expiry window + the election (/controller_epoch read and
    multi, 2 RTT) + loading (brokers and states, 2 RTT, LOAD_S_PER_PARTITION each) + 2 RTT
    slack. Sampled every millisecond, never two controllers are active, and the epochs only
    grow; partitions the old controller led get leaders in the same run of failover, once the
    old controller has left their ISRs."""
    partitions = 6
    world = _world(
        _scenario(
            [{"kind": "crash_broker", "at_s": 2.0, "broker": "controller", "restart_after_s": 5}],
            partitions=partitions,
        )
    )
    samples = _sample_controllers(world)
    led = _led_by(world, 0)
    r = _finish(world)
    changes = r.events[r.events["kind"] == "controller_change"]
    assert list(changes["detail"]) == ["epoch 1", "epoch 2"]
    new_s = changes["time_s"].iloc[1]
    lo, hi = _session_expiry_window(2.0)
    hi += 6 * RTT + LOAD_S_PER_PARTITION * partitions
    assert lo <= new_s <= hi, (new_s, lo, hi)
    assert all(len(ids) <= 1 for _, ids, _ in samples)
    assert all(ids == [] for t, ids, _ in samples if 2.0 <= t < new_s)
    assert all(len(ids) == 1 for t, ids, _ in samples if t < 2.0 or t > new_s)
    epochs = [e[0] for _, _, e in samples if e]
    assert epochs == sorted(epochs) and epochs[-1] == 2
    elections = _elections(r)
    assert sorted(zip(elections["topic"], elections["partition"], strict=True)) == led
    # onControllerFailover: first the dead broker leaves every ISR (OfflineReplica: each of
    # the partitions changed, written to ZooKeeper in one multi, 1 RTT + 1 RTT slack), then
    # the offline elections
    removed_s = new_s + ELECTION_S_PER_PARTITION * partitions
    assert (elections["time_s"] >= removed_s).all()
    assert (elections["time_s"] <= removed_s + 2 * RTT).all()
    _assert_consistent_leadership(world)
    _assert_safe(r)


def test_zombie_controller_is_fenced() -> None:
    """The controller (broker 0) cut off from ZooKeeper only: its session expires at the server,
    another broker becomes controller with a higher epoch (same window as a crash), while the
    old one goes on believing it is the controller until it reconnects after the heal (a zombie;
    sampled each ms, the two never share an epoch). Its requests are fenced: a
    LeaderAndIsr it sends with its old epoch is refused by a broker that has seen the new one
    (STALE_CONTROLLER_EPOCH, nothing applied), and its ZooKeeper write conditioned on its
    /controller_epoch version fails (the new controller bumped it). At the end leadership is
    consistent everywhere."""
    partitions = 3
    world = _world(
        _scenario(
            [
                {
                    "kind": "network_partition",
                    "at_s": 2.0,
                    "isolate": "controller",
                    "from": ["zookeeper"],
                    "heal_after_s": 4.0,
                }
            ],
            partitions=partitions,
        )
    )
    samples = _sample_controllers(world)
    env = world.env
    old = world.brokers[0]
    tp = ("t", 0)
    probes: dict[str, object] = {}

    def zombie():
        yield env.timeout(5.5)  # after the new controller, before the heal
        victim = world.brokers[2]
        before = (victim.partitions[tp].leader_id, victim.partitions[tp].leader_epoch)
        state = PartitionState([0, 1, 2], 0, 99, [0, 1, 2], 99)
        request = LeaderAndIsrRequest(0, old.controller.epoch, {tp: state.as_request()})
        probes["answer"] = yield world.net.request(old.name, victim.name, request, 1.0)
        after = (victim.partitions[tp].leader_id, victim.partitions[tp].leader_epoch)
        probes["unchanged"] = before == after
        yield env.timeout(2.0)  # healed: the old broker reaches ZooKeeper again
        znode = world.zookeeper.znodes[partition_state_path(*tp)]
        probes["written"] = yield from old.zk_write_partition_states(old.controller, {tp: state})
        probes["znode_kept"] = world.zookeeper.znodes[partition_state_path(*tp)] is znode

    env.process(zombie())
    r = _finish(world)
    changes = r.events[r.events["kind"] == "controller_change"]
    assert list(changes["detail"]) == ["epoch 1", "epoch 2"]
    assert changes["node"].iloc[1] != "broker-0"
    lo, hi = _session_expiry_window(2.0)
    assert lo <= changes["time_s"].iloc[1] <= hi + 6 * RTT + LOAD_S_PER_PARTITION * partitions
    # Kafka acts on its ZooKeeper session only when told that it expired (ZooKeeperClient:
    # Expired -> reinitialize; Disconnected -> nothing): the cut-off controller stays active, a
    # zombie, until it reconnects after the heal (at the latest one connect timeout, T / servers,
    # after its attempt lost in the cut, plus the delay before the next attempt). Meanwhile each
    # active controller holds its own epoch, and the zombie's requests are fenced (below).
    assert all(len(set(epochs)) == len(epochs) for _, _, epochs in samples)
    healed_s = 2.0 + 4.0
    zombie_until = max(t for t, ids, _ in samples if 0 in ids)
    zk = old.zk
    delay = zk.reconnect_delay_s + zk.spin_delay_s
    assert healed_s <= zombie_until <= healed_s + T / zk.servers + delay + 2 * RTT
    assert probes["answer"].error is Errors.STALE_CONTROLLER_EPOCH
    assert probes["unchanged"]
    assert probes["written"] is False and probes["znode_kept"]
    assert world.zookeeper.znodes[CONTROLLER_EPOCH_PATH].data == 2
    _assert_consistent_leadership(world)
    _assert_safe(r)


def test_stopped_follower_leaves_isr_through_the_controller() -> None:
    """A crashed follower (broker 2, not the controller) drops out of each ISR it was in when
    its leader's isr-expiration task (every LAG/2) finds it out of sync for LAG: between
    crash + LAG - replica.fetch.wait.max.ms (its last fetch may have been parked that long
    before the crash) and crash + 1.5 LAG + 2 RTT. The shrink goes through the controller
    (AlterPartition): before the session could expire (crash + T - T/3 - RTT), the controller's
    state and the ZooKeeper znode already lack broker 2."""
    world = _world(_scenario([{"kind": "crash_broker", "at_s": 2.0, "broker": 2}]))
    followed = sorted(tp for tp, reps in world.assignments.items() if 2 in reps[1:])
    seen: dict = {}

    def look():
        yield world.env.timeout(_session_expiry_window(2.0)[0] - 0.01)
        controller = world.brokers[0].controller
        seen["controller"] = {tp: list(controller.states[tp].isr) for tp in followed}
        seen["zk"] = {
            tp: list(world.zookeeper.znodes[partition_state_path(*tp)].data["isr"])
            for tp in followed
        }

    world.env.process(look())
    r = _finish(world)
    shrinks = r.events[r.events["detail"] == "broker-2 left the ISR"]
    assert sorted(zip(shrinks["topic"], shrinks["partition"], strict=True)) == followed
    fetch_wait = 0.5  # replica.fetch.wait.max.ms default
    assert (shrinks["time_s"] >= 2.0 + LAG - fetch_wait).all()
    assert (shrinks["time_s"] <= 2.0 + 1.5 * LAG + 2 * RTT).all()
    for tp in followed:
        assert 2 not in seen["controller"][tp] and 2 not in seen["zk"][tp]
    _assert_safe(r)


def test_update_metadata_carries_what_each_controller_action_changed() -> None:
    """ZooKeeper-mode KafkaController sends UpdateMetadata with the partitions an action changed
    (ControllerBrokerRequestBatch.addUpdateMetadataRequestForBrokers): an ISR shrink or an
    election, just those partitions; a restarted broker every partition, the others the
    partitions just sent to it (onBrokerStartup). The caches end equal to the controller's."""
    d = _scenario(
        [{"kind": "crash_broker", "at_s": 2.0, "broker": 2, "restart_after_s": 4.0}],
        partitions=8,
    )
    d["cluster"]["brokers"] = 4  # RF 3: some partitions have no replica on broker 2
    world = _world(d)
    controller = world.brokers[0].controller
    everything = sorted(world.assignments)
    on_2 = sorted(tp for tp, replicas in world.assignments.items() if 2 in replicas)
    assert 0 < len(on_2) < len(everything)
    sent: list[tuple[float, int, list]] = []
    send = controller._send

    def spy(broker: int, request) -> None:
        if isinstance(request, UpdateMetadataRequest):
            sent.append((world.env.now, broker, sorted(request.partitions)))
        send(broker, request)

    controller._send = spy
    r = _finish(world)
    while_down = [parts for t, _, parts in sent if 2.0 < t < 6.0]
    assert while_down, "the crash changed ISRs and leaders: UpdateMetadata was sent"
    assert all(parts and set(parts) <= set(on_2) for parts in while_down)
    assert {tp for parts in while_down for tp in parts} == set(on_2)
    after = [(b, parts) for t, b, parts in sent if t >= 6.0]
    assert (2, everything) in after  # the new broker learns every partition
    assert (0, on_2) in after and (1, on_2) in after and (3, on_2) in after
    for broker in world.brokers:
        for tp in everything:
            state, cached = controller.states[tp], broker.metadata[tp]
            assert (cached.leader, cached.leader_epoch) == (state.leader, state.leader_epoch)
            assert sorted(cached.isr) == sorted(state.isr), (broker.broker_id, tp)
    _assert_safe(r)


# ---------------------------------------------------------------- 2. every fault kind


def test_power_loss_fault_row_and_resync() -> None:
    """power_loss: rows "power loss" and "restart" on the broker; the broker's unwritten pages
    are gone (dirty_expire_s 30 s > the run, so its logs lose what the page cache held), its
    leaderships move after its session expires, it comes back and re-syncs into the ISRs; with
    one replica lost, acks=all loses nothing."""
    restart = T + TICK + 0.5
    world = _world(
        _scenario([{"kind": "power_loss", "at_s": 2.0, "broker": 1, "restart_after_s": restart}])
    )
    led = _led_by(world, 1)
    r = _finish(world)
    faults = _faults(r)
    assert list(zip(faults["node"], faults["detail"], strict=True)) == [
        ("broker-1", "power loss"),
        ("broker-1", "restart"),
    ]
    assert (r.events["kind"] == "power_loss_truncate").any()
    elections = _elections(r)
    assert sorted(zip(elections["topic"], elections["partition"], strict=True)) == led
    expands = r.events[(r.events["kind"] == "isr_expand") & (r.events["time_s"] > 2.0 + restart)]
    assert expands["detail"].str.contains("broker-1").any()
    _assert_safe(r)


def test_pause_silence_then_recovery() -> None:
    """pause of a leader (broker 1) for D = 1.5 s, shorter than the session could expire
    (T - T/3 - RTT): no election; its partition gets no answer during the pause (silence, no
    reset), the producer's request times out every request.timeout.ms R = 0.5 s and is retried
    with retry.backoff.ms growing to retry.backoff.max.ms B = 1 s (+20 % jitter, KIP-580) in
    between. The first stuck batch times out at least once (D > R) and at most once per R
    until an attempt is answered: 2 <= attempts <= 2 + ceil(D / R); it is answered after the
    resume, at the latest when its attempt then pending times out (R) and the retry after
    1.2 B is answered. The lead's unavailable_partition_s counts pause to resume per partition
    led: D x partitions."""
    pause_s, d = 2.0, 1.5
    assert d < T - PING - RTT
    world = _world(_scenario([{"kind": "pause", "at_s": pause_s, "node": 1, "duration_s": d}]))
    led = _led_by(world, 1)
    r = _finish(world)
    faults = _faults(r)
    assert list(faults["detail"]) == [f"pause for {d:g} s", "resume"]
    assert (faults["node"] == "broker-1").all()
    assert _elections(r).empty
    acks = _acks(r)
    mine = acks[acks["partition"].isin([p for _, p in led])]
    during = mine[(mine["done_s"] > pause_s + RTT) & (mine["done_s"] < pause_s + d)]
    assert during.empty
    stuck = mine[(mine["closed_s"] >= pause_s) & (mine["closed_s"] < pause_s + d)]
    first = stuck.sort_values("closed_s").iloc[0]
    assert 2 <= first["attempt"] <= 2 + math.ceil(d / REQUEST_TIMEOUT)
    assert pause_s + d <= first["done_s"] <= pause_s + d + REQUEST_TIMEOUT + 1.2 * 1.0 + 0.01
    assert r.summary()["unavailable_partition_s"] == pytest.approx(d * len(led), abs=1e-9)
    _assert_safe(r)


def test_zookeeper_expire_moves_leaderships_and_reregisters() -> None:
    """zookeeper_expire of a leader that is not the controller (broker 2): its ephemeral node
    vanishes at once, the controller elects new leaders for its partitions within the watch +
    read (1.5 RTT) + 2 RTT slack, and the broker re-registers with a new session (its node
    exists again, owned by another session), rejoins the ISRs and, at the first
    preferred-leader check, leads its partitions again."""
    world = _world(_scenario([{"kind": "zookeeper_expire", "at_s": 2.0, "node": 2}]))
    led = _led_by(world, 2)
    zk = world.zookeeper
    owners: list = []

    def owner():
        yield world.env.timeout(1.0)
        owners.append(zk.znodes[broker_path(2)].ephemeral_owner)

    world.env.process(owner())
    r = _finish(world)
    faults = _faults(r)
    assert list(zip(faults["node"], faults["detail"], strict=True)) == [
        ("broker-2", "zookeeper session expired")
    ]
    elections = _elections(r)
    preferred = elections["detail"].str.startswith("preferred")
    offline = elections[~preferred]
    assert sorted(zip(offline["topic"], offline["partition"], strict=True)) == led
    assert ((offline["time_s"] - 2.0) <= 3.5 * RTT).all()
    # back in the ISRs, broker 2 gets its preferred leaderships back at the controller's
    # first preferred-leader check, 5 s after it took office (at the start)
    back = elections[preferred]
    assert sorted(zip(back["topic"], back["partition"], strict=True)) == led
    assert (back["node"] == "broker-2").all()
    assert back["time_s"].between(FIRST_IMBALANCE_CHECK_S, FIRST_IMBALANCE_CHECK_S + RTT).all()
    node = zk.znodes.get(broker_path(2))
    assert node is not None and node.ephemeral_owner not in (None, owners[0])
    assert zk.sessions[node.ephemeral_owner].owner == "broker-2"
    expands = r.events[(r.events["kind"] == "isr_expand") & (r.events["time_s"] > 2.0)]
    assert expands["detail"].str.contains("broker-2").any()
    _assert_consistent_leadership(world)
    _assert_safe(r)


def _isolate(classes: list[str] | None, one_way: bool = False) -> dict:
    fault = {"kind": "network_partition", "at_s": 2.0, "isolate": 1, "heal_after_s": 4.0}
    if classes is not None:
        fault["from"] = classes
    if one_way:
        fault["one_way"] = True
    return fault


def test_isolated_from_brokers_followers_leave_isrs_no_election() -> None:
    """isolate from ["brokers"]: ZooKeeper still hears the broker, so no election; the other
    leaders drop it from their ISRs through the controller (by cut + 1.5 LAG + 2 RTT), while
    its own partitions' ISR change cannot reach the controller, so its acks=all requests get no
    answer until the heal; they come after it (followers re-fetch within
    replica.socket.timeout.ms + replica.fetch.backoff.ms and rejoin)."""
    world = _world(_scenario([_isolate(["brokers"])], duration_s=10.0))
    led = _led_by(world, 1)
    r = _finish(world)
    faults = _faults(r)
    assert list(zip(faults["node"], faults["detail"], strict=True)) == [
        ("broker-1", "isolated from brokers"),
        ("broker-1", "healed"),
    ]
    assert _elections(r).empty
    shrinks = r.events[r.events["detail"] == "broker-1 left the ISR"]
    # every partition it does not lead, __consumer_offsets' too (the group's coordinator)
    assert len(shrinks) == len(world.assignments) - len(led)
    queued = len(shrinks) * (ELECTION_S_PER_PARTITION + RTT)  # AlterPartitions ahead in its queue
    assert (shrinks["time_s"] <= 2.0 + 1.5 * LAG + 2 * RTT + queued).all()
    acks = _acks(r)
    mine = acks[acks["partition"].isin([p for _, p in led]) & (acks["error"] == "")]
    assert mine[(mine["done_s"] > 2.0 + 0.01) & (mine["done_s"] < 6.0)].empty
    assert (mine["done_s"] >= 6.0).any()
    _assert_safe(r)


def test_isolated_from_zookeeper_session_expires_leaders_move() -> None:
    """isolate from ["zookeeper"]: the broker's session expires in the expiry window, its
    leaderships move (election within the window + 4 RTT + 4 partitions' cost), and after the
    heal it re-registers and follows again (consistent leadership at the end)."""
    world = _world(_scenario([_isolate(["zookeeper"])]))
    led = _led_by(world, 1)
    r = _finish(world)
    faults = _faults(r)
    assert list(faults["detail"]) == ["isolated from zookeeper", "healed"]
    elections = _elections(r)
    assert sorted(zip(elections["topic"], elections["partition"], strict=True)) == led
    lo, hi = _session_expiry_window(2.0)
    hi += 4 * RTT + 4 * ELECTION_S_PER_PARTITION
    assert ((elections["time_s"] >= lo) & (elections["time_s"] <= hi)).all()
    assert broker_path(1) in world.zookeeper.znodes
    _assert_consistent_leadership(world)
    _assert_safe(r)


def test_one_way_isolation_broker_to_zookeeper_expires_session() -> None:
    """isolate from ["zookeeper"] one way (broker -> zookeeper cut): ZooKeeper hears nothing from
    it though it still hears ZooKeeper, so its session expires in the expiry window and its
    leaderships move; after the heal it re-registers."""
    world = _world(_scenario([_isolate(["zookeeper"], one_way=True)]))
    led = _led_by(world, 1)
    r = _finish(world)
    faults = _faults(r)
    assert list(zip(faults["node"], faults["detail"], strict=True)) == [
        ("broker-1", "isolated from zookeeper one way"),
        ("broker-1", "healed"),
    ]
    elections = _elections(r)
    assert sorted(zip(elections["topic"], elections["partition"], strict=True)) == led
    lo, hi = _session_expiry_window(2.0)
    hi += 4 * RTT + 4 * ELECTION_S_PER_PARTITION
    assert ((elections["time_s"] >= lo) & (elections["time_s"] <= hi)).all()
    assert broker_path(1) in world.zookeeper.znodes
    _assert_consistent_leadership(world)
    _assert_safe(r)


def test_isolated_from_clients_silence_no_election() -> None:
    """isolate from ["clients"]: replication and ZooKeeper go on (no election, no ISR change),
    clients get silence: no acks for its partitions between the cut and the heal; they come
    at the heal. unavailable_partition_s = heal delay x partitions it leads."""
    world = _world(_scenario([_isolate(["clients"])]))
    led = _led_by(world, 1)
    r = _finish(world)
    assert list(_faults(r)["detail"]) == ["isolated from clients", "healed"]
    assert _elections(r).empty
    assert r.events[r.events["kind"] == "isr_shrink"].empty
    acks = _acks(r)
    mine = acks[acks["partition"].isin([p for _, p in led])]
    assert mine[(mine["done_s"] > 2.0 + 0.01) & (mine["done_s"] < 6.0)].empty
    assert (mine["done_s"] >= 6.0).any()
    assert r.summary()["unavailable_partition_s"] == pytest.approx(4.0 * len(led), abs=1e-9)
    _assert_safe(r)


def test_one_way_isolation_from_clients_answers_lost_retries_deduplicated() -> None:
    """isolate from ["clients"] one way (broker -> clients cut) for 1 s: produce requests arrive
    and are appended but their answers are lost; the producer times out (request.timeout.ms)
    and retries, the leader answers the retry from its idempotence state: batches closed in the
    cut's first half have attempt >= 2, every batch is acked, none stored twice."""
    fault = _isolate(["clients"], one_way=True)
    fault["heal_after_s"] = 1.0
    world = _world(_scenario([fault]))
    led = _led_by(world, 1)
    r = _finish(world)
    assert list(_faults(r)["detail"]) == ["isolated from clients one way", "healed"]
    acks = _acks(r)
    mine = acks[acks["partition"].isin([p for _, p in led])]
    cut = mine[(mine["closed_s"] > 2.0) & (mine["closed_s"] < 2.5)]
    assert not cut.empty and (cut["attempt"] >= 2).all()
    assert (acks["error"] == "").all() and len(acks) == len(r.produced)
    _assert_safe(r)


def test_one_way_link_producer_to_leader_requests_lost() -> None:
    """links one_way producer -> broker 1 for 1 s: its requests vanish (silence), time out
    after request.timeout.ms and are retried; batches closed then have attempt >= 2 and are all
    acked after the heal, at most heal + R + retry.backoff.max.ms later; nothing duplicated."""
    fault = {
        "kind": "network_partition",
        "at_s": 2.0,
        "links": [["app-0", 1]],
        "one_way": True,
        "heal_after_s": 1.0,
    }
    world = _world(_scenario([fault]))
    led = _led_by(world, 1)
    r = _finish(world)
    faults = _faults(r)
    assert list(zip(faults["node"], faults["detail"], strict=True)) == [
        ("app-0-broker-1", "links cut one way"),
        ("app-0-broker-1", "healed"),
    ]
    acks = _acks(r)
    mine = acks[acks["partition"].isin([p for _, p in led])]
    cut = mine[(mine["closed_s"] > 2.0) & (mine["closed_s"] < 2.5)]
    assert not cut.empty and (cut["attempt"] >= 2).all()
    assert (cut["done_s"] >= 3.0).all() and (cut["done_s"] <= 3.0 + REQUEST_TIMEOUT + 1.0).all()
    assert (acks["error"] == "").all() and len(acks) == len(r.produced)
    _assert_safe(r)


def test_isolated_from_everything_like_a_crash() -> None:
    """isolate with no "from" (all classes): like a crash for the cluster, its leaderships move
    in the session expiry window (+ 4 RTT + partitions' cost); acks=all loses nothing."""
    world = _world(_scenario([_isolate(None)]))
    led = _led_by(world, 1)
    r = _finish(world)
    assert list(_faults(r)["detail"]) == ["isolated from brokers, zookeeper, clients", "healed"]
    elections = _elections(r)
    lo, hi = _session_expiry_window(2.0)
    hi += 4 * RTT + 4 * ELECTION_S_PER_PARTITION
    assert ((elections["time_s"] >= lo) & (elections["time_s"] <= hi)).all()
    assert sorted(zip(elections["topic"], elections["partition"], strict=True)) == led
    _assert_consistent_leadership(world)
    _assert_safe(r)


def test_slow_disk_raises_flush_latency() -> None:
    """slow_disk factor F on broker 1 with flush.messages=1 (a flush per append): rows "disk Fx
    slower" / "disk normal"; while slow, each append on broker 1 waits its batch's flush at
    disk_write_mb_s / F, so the median latency of its partitions rises by at least half of
    (F - 1) x the median batch bytes / disk_write_mb_s, and returns after."""
    factor, disk_bytes_s = 100.0, 500e6
    world = _world(
        _scenario(
            [{"kind": "slow_disk", "at_s": 2.0, "broker": 1, "factor": factor, "duration_s": 3}],
            topic_config={"flush.messages": 1},
            message_bytes=5000,
        )
    )
    led = _led_by(world, 1)
    r = _finish(world)
    faults = _faults(r)
    assert list(zip(faults["node"], faults["detail"], strict=True)) == [
        ("broker-1", "disk 100x slower"),
        ("broker-1", "disk normal"),
    ]
    acks = _acks(r).merge(r.produced[["batch_id", "bytes"]], on="batch_id")
    mine = acks[acks["partition"].isin([p for _, p in led])]
    before = mine[(mine["closed_s"] > 0.5) & (mine["closed_s"] < 2.0)]
    slow = mine[(mine["closed_s"] > 2.1) & (mine["closed_s"] < 4.9)]
    after = mine[mine["closed_s"] > 5.5]
    extra = (factor - 1) * slow["bytes"].median() / disk_bytes_s
    assert slow["latency_s"].median() - before["latency_s"].median() >= extra / 2
    assert after["latency_s"].median() <= before["latency_s"].median() + extra / 10
    _assert_safe(r)


def test_slow_network_latency_rises_by_the_extra_delay() -> None:
    """slow_network +E each way between the producer and the leader of t's only partition: the
    produce latency rises by the round trip's extra 2E (request and answer), within [2E - 1 ms,
    2E + 1 ms] at the median, and returns after the fault ends. One partition at 30
    records/s, so about one request is in flight on the slowed connection at a time (with ~3
    pipelined requests the model adds more than 2E: reported to the lead, not asserted)."""
    extra_ms = 20
    fault = {
        "kind": "slow_network",
        "at_s": 2.0,
        "between": ["app-0", "leader:t-0"],
        "extra_delay_ms": extra_ms,
        "duration_s": 3.0,
    }
    world = _world(_scenario([fault], partitions=1, rate=30.0))
    leader = world.assignments[("t", 0)][0]
    r = _finish(world)
    faults = _faults(r)
    assert list(zip(faults["node"], faults["detail"], strict=True)) == [
        (f"app-0-broker-{leader}", f"+{extra_ms} ms, bandwidth x1"),
        (f"app-0-broker-{leader}", "link normal"),
    ]
    acks = _acks(r)
    before = acks[(acks["closed_s"] > 0.5) & (acks["closed_s"] < 2.0)]["latency_s"].median()
    slow = acks[(acks["closed_s"] > 2.2) & (acks["closed_s"] < 4.8)]["latency_s"].median()
    after = acks[acks["closed_s"] > 5.2]["latency_s"].median()
    rise = 2 * extra_ms / 1000
    assert rise - 0.001 <= slow - before <= rise + 0.001, (before, slow)
    assert after == pytest.approx(before, abs=0.001)
    _assert_safe(r)


def test_drop_messages_retried_without_loss_or_duplicates() -> None:
    """drop_messages p = 0.3 both ways between the producer and broker 1 for 3 s: lost requests
    and answers time out and are retried (some batches of its partitions have attempt >= 2),
    idempotence keeps one copy of each batch, nothing acknowledged is lost, and batches closed
    after the fault ends + R go through at the first attempt."""
    fault = {
        "kind": "drop_messages",
        "at_s": 2.0,
        "between": ["app-0", 1],
        "probability": 0.3,
        "duration_s": 3.0,
    }
    world = _world(_scenario([fault]))
    led = _led_by(world, 1)
    r = _finish(world)
    faults = _faults(r)
    assert list(zip(faults["node"], faults["detail"], strict=True)) == [
        ("app-0-broker-1", "drop both with p=0.3"),
        ("app-0-broker-1", "link normal"),
    ]
    acks = _acks(r)
    mine = acks[acks["partition"].isin([p for _, p in led])]
    assert (mine[(mine["closed_s"] > 2.0) & (mine["closed_s"] < 5.0)]["attempt"] >= 2).any()
    assert (mine[mine["closed_s"] > 5.0 + REQUEST_TIMEOUT + 0.5]["attempt"] == 1).all()
    _assert_safe(r)


def test_add_producer_records_appear_from_at_s() -> None:
    """add_producer at 3 s: a row "producer added" on its node; its first record is handed to
    send() at or after 3 s (and within 10 mean gaps of its rate), and its batches are acked."""
    spec = {"name": "late", "topic": "t", "rate_msgs_s": 100, "message_bytes": 100}
    r = _finish(_world(_scenario([{"kind": "add_producer", "at_s": 3.0, "producer": spec}])))
    faults = _faults(r)
    assert list(zip(faults["node"], faults["detail"], strict=True)) == [
        ("late-0", "producer added")
    ]
    late = r.produced[r.produced["producer"] == "late-0"]
    assert not late.empty
    assert 3.0 <= late["first_arrival_s"].min() <= 3.0 + 10 / 100
    acked = r.acked[r.acked["batch_id"].isin(late["batch_id"])]
    assert (acked["error"] == "").all() and len(acked) >= len(late) - 5
    _assert_safe(r)


@pytest.mark.parametrize(
    ("fault", "detail"),
    [
        ({"kind": "crash_consumer", "at_s": 2.0, "group": "g"}, "crash"),
        ({"kind": "add_consumer", "at_s": 2.0, "group": "g"}, "consumer added"),
        ({"kind": "remove_consumer", "at_s": 2.0, "group": "g"}, "consumer removed"),
    ],
)
def test_consumer_group_faults_are_simulated(fault: dict, detail: str) -> None:
    """Consumer-group faults run (they used to be refused) and are recorded as fault rows on
    the member they hit (add_consumer: the new member g-1); timing is in tests/test_groups.py."""
    d = _scenario([fault], duration_s=4.0)
    r = run(Scenario.from_dict(d))
    rows = _faults(r)
    node = "g-1" if fault["kind"] == "add_consumer" else "g-0"
    assert list(zip(rows["node"], rows["detail"], strict=True)) == [(node, detail)]


def test_unresolvable_target_is_recorded_as_skipped() -> None:
    """A scheduled fault aimed at "controller" while there is none (during failover) hits
    nothing and says so in events (it used to crash the run on node 'broker--1')."""
    faults = [
        {"kind": "crash_broker", "at_s": 2.0, "broker": "controller"},
        {"kind": "pause", "at_s": 2.5, "node": "controller", "duration_s": 1.0},
    ]
    r = _finish(_world(_scenario(faults, duration_s=6.0)))
    rows = _faults(r)
    assert list(zip(rows["node"], rows["detail"], strict=True)) == [
        ("broker-0", "crash"),
        ("controller", "skipped pause: no controller now"),
    ]
    _assert_safe(r)


# ---------------------------------------------------------------- regressions


def test_one_way_link_between_brokers_runs() -> None:
    """links one_way between two brokers: the follower's fetches get no answers."""
    fault = {
        "kind": "network_partition",
        "at_s": 2.0,
        "links": [[1, 0]],
        "one_way": True,
        "heal_after_s": 2.0,
    }
    r = _finish(_world(_scenario([fault], duration_s=6.0)))
    assert list(_faults(r)["detail"]) == ["links cut one way", "healed"]


@pytest.mark.parametrize(
    "fault",
    [
        {
            "kind": "network_partition",
            "at_s": 2.0,
            "links": [["zookeeper", 2]],
            "one_way": True,
            "heal_after_s": 4.0,
        },
        {"kind": "pause", "at_s": 2.0, "node": 2, "duration_s": 2.5},
        {"kind": "crash_broker", "at_s": 2.0, "broker": 2, "restart_after_s": 1.0},
    ],
    ids=["zk-to-broker-one-way", "pause-past-client-timeout", "restart-within-session"],
)
def test_broker_registered_again_after_session_trouble(fault: dict) -> None:
    """Regression (found here, fixed by the lead in broker._register): a broker whose new
    session meets its old one still held by the server (a restart within T; then, a client
    that gave up a silent session on its own) got NODE_EXISTS for its registration, ignored
    it, and once the old session expired stayed alive but unregistered for the rest of the
    run. Now it retries; and its client reconnects to its session as ZooKeeper's does (resumed
    if the server still holds it, else expired and replaced). By the end (6 s after it is
    reachable again, two session timeouts) it is registered, live for the controller, and
    leadership is consistent."""
    world = _world(_scenario([fault], duration_s=12.0))
    r = _finish(world)
    assert broker_path(2) in world.zookeeper.znodes
    assert 2 in world.brokers[world.controller_id()].controller.live
    _assert_consistent_leadership(world)
    _assert_safe(r)


def test_regression_controlled_shutdown_of_a_broker_whose_session_just_expired() -> None:
    """Found by the long property: the session of broker 2 is expired at the server and, at
    the same instant (off the 1 s ping grid, so no ping answer tells it first), the broker
    begins a controlled shutdown. Its CloseSession is answered SESSION_EXPIRED; the client used
    to report that expiry to the broker, which started re-registering through a client already
    closed (the run died with RuntimeError). Kafka's ZooKeeperClient.close clears its handlers
    first: now the broker just stops, and comes back registered after its restart."""
    faults = [
        {"kind": "zookeeper_expire", "at_s": 2.37, "node": 2},
        {"kind": "controlled_shutdown", "at_s": 2.37, "broker": 2, "restart_after_s": 1.0},
    ]
    world = _world(_scenario(faults, duration_s=14.0))
    r = _finish(world)
    assert broker_path(2) in world.zookeeper.znodes
    _assert_consistent_leadership(world)
    _assert_safe(r)
    _assert_back_in_every_isr(world, r, 2)


def _assert_back_in_every_isr(world: World, r: Results, broker: int) -> None:
    """``broker`` is in the ISR of every partition it replicates when the run ends, and the
    run lasted past the liveness bound of the ISRs (so a broker left out for ever fails)."""
    isr = r.liveness.set_index("item").loc["isr"]
    heal_s, _ = heal_time(r.events)
    assert world.scenario.duration_s > heal_s + isr["bound_s"]
    controller = world.brokers[world.controller_id()].controller
    left_out = [tp for tp, s in controller.states.items() if broker in set(s.replicas) - set(s.isr)]
    assert left_out == [] and math.isfinite(isr["recovered_s"]), left_out


def test_regression_controlled_shutdown_refused_once_the_session_expired() -> None:
    """Found by running the test above to its liveness bounds (``make explore``): the session
    of broker 2 expires as it begins a controlled shutdown. The controller took it for dead
    (onBrokerFailure), then marked it shutting down on its ControlledShutdown anyway; after
    its restart the controller answered every AlterPartition adding it to an ISR with
    INELIGIBLE_REPLICA, for ever (4 partitions under-replicated to the end). Kafka's
    doControlledShutdown refuses a broker neither live nor shutting down (BROKER_NOT_AVAILABLE):
    the broker retries, then stops; after its restart it rejoins every ISR. Over seeds."""
    faults = [
        {"kind": "zookeeper_expire", "at_s": 2.37, "node": 2},
        {"kind": "controlled_shutdown", "at_s": 2.37, "broker": 2, "restart_after_s": 1.0},
    ]
    for seed in (0, 2, 3):
        world = _world(_scenario(faults, duration_s=14.0, seed=seed))
        r = _finish(world)
        _assert_safe(r)
        _assert_back_in_every_isr(world, r, 2)


def test_leader_restarted_within_its_session_may_lead_again_with_its_checkpointed_hw() -> None:
    """Found by the long property: the leader of t-0 (broker 0, also the controller) crashes at
    2 s and restarts at 5 s, as its old session expires; no election moved t-0, so the new
    controller tells the restarted broker to lead it at the same epoch, and its HW starts from
    the replication-offset-checkpoint (0 here: none written yet), as Kafka's does. The invariant
    checker used to call that "leader HW went back"; the HW must be monotone within one process
    run, and the run is safe."""
    fault = {"kind": "crash_broker", "at_s": 2.0, "broker": "leader:t-0", "restart_after_s": 3.0}
    world = _world(_scenario([fault], duration_s=10.0))
    r = _finish(world)
    assert world.brokers[0].starts == 2
    _assert_consistent_leadership(world)
    _assert_safe(r)


def test_regression_a_request_queued_behind_an_answer_waits_for_the_answer_to_finish() -> None:
    """Found by running the test above to its liveness bounds (``make explore``): the group's
    first SyncGroup (generation 1, at 3 s) waits for its assignment's write to
    __consumer_offsets, held by the crashed broker 0 until its restart at 5 s; the member
    gives up at request.timeout.ms and sends JoinGroup, queued behind the SyncGroup on its
    connection. The broker used to handle the JoinGroup inside the write's callback, after the
    SyncGroup's answer and before the group became Stable: the JoinGroup began generation 2,
    and the rest of the callback then made generation 2 Stable with an empty assignment. The
    member, assigned nothing, consumed nothing for ever. Now the queued request waits until
    the callback is done (Kafka unmutes the channel once the answer has left), and the member
    gets every partition of t in generation 2."""
    fault = {"kind": "crash_broker", "at_s": 2.0, "broker": "leader:t-0", "restart_after_s": 3.0}
    for seed in (1, 2):
        r = _finish(_world(_scenario([fault], duration_s=10.0, seed=seed)))
        assigned = r.tables["assignments"]
        assigned = assigned[assigned["action"] == "assigned"]
        last = assigned[assigned["generation"] == assigned["generation"].max()]
        assert sorted(last["partition"]) == [0, 1, 2]
        assert (r.consumed["polled_s"] > 5.0).any()


def test_regression_restart_within_session_then_controller_failover() -> None:
    """Found by the property below (minimised): broker 2 crashes at 2 s and restarts at 3 s,
    within its old session's timeout, then the controller's session is expired at 4.5 s. The
    new controller still saw broker 2 registered (the old session), made the restarted broker
    leader of its partition, and when the old session expired elected another leader without
    telling broker 2, which stayed a leader at the stale epoch (the invariant checker flagged
    committed data missing there). Since registration retries (lead's fix), every seed ends
    safe with one leader per partition at the controller's epoch."""
    faults = [
        {"kind": "zookeeper_expire", "at_s": 4.5, "node": 0},
        {"kind": "crash_broker", "at_s": 2.0, "broker": 2, "restart_after_s": 1.0},
    ]
    for seed in range(3):
        world = _world(_scenario(faults, partitions=2, duration_s=8.0, seed=seed))
        r = _finish(world)
        _assert_safe(r)
        _assert_consistent_leadership(world)


def _assert_live(r: Results) -> None:
    """Every item of the liveness table recovered within its bound (sim.liveness)."""
    violations = r.liveness[r.liveness["violation"] != ""]
    assert not r.liveness.empty and violations.empty, violations.to_string()


def test_regression_controller_back_in_office_forgets_its_own_controlled_shutdown() -> None:
    """Found by the recovery property (a controlled rolling restart overlapping a controlled
    shutdown of the controller): broker 0, the controller, shuts down in a controlled way at
    2 s (its own controller marks it shutting down), comes back at 3 s; the controllers that
    follow are shut down in turn at 5 s (back at 10 s) and 8 s (back at 9 s), and broker 0, the
    only one left, takes office again. It used to
    keep broker 0 in its shutting-down set from its previous term, refusing every ISR holding
    broker 0 (INELIGIBLE_REPLICA): broker 2, back at 9 s, never rejoined an ISR. Kafka's
    onControllerResignation resets the context (shuttingDownBrokerIds cleared). Every seed:
    broker 0 is the controller at the end, the run is safe and every item recovers."""
    # the second controller stays down until 10 s, so at 8 s broker 0 is the only broker left
    # to take office: it does on every seed, whichever broker won the elections before
    faults = [
        {"kind": "controlled_shutdown", "at_s": at_s, "broker": broker, "restart_after_s": down_s}
        for at_s, broker, down_s in [
            (2.0, 0, 1.0),
            (5.0, "controller", 5.0),
            (8.0, "controller", 1.0),
        ]
    ]
    for seed in range(3):
        world = _world(_scenario(faults, duration_s=20.0, seed=seed))
        r = _finish(world)
        assert world.controller_id() == 0
        _assert_safe(r)
        _assert_live(r)
        _assert_consistent_leadership(world)


def test_regression_two_shutdowns_of_one_broker_at_once() -> None:
    """Found by the recovery property (two rolling restarts at the same instant): a rolling
    restart's controlled shutdown of broker 1 and a controlled_shutdown fault of broker 1 at
    the same moment. The second shutdown used to close the ZooKeeper client the first had
    closed and wait forever: the rolling restart never went on, nothing healed. As in Kafka
    (KafkaServer.shutdown runs once; whoever signalled waits for the process to exit) the
    second waits for the first; a restart of a broker running already changes nothing (its
    log directories are locked). Every seed: both stops recorded, the rolling restart ends,
    safe and every item recovers."""
    faults = [
        {"kind": "rolling_restart", "at_s": 2.0, "mode": "controlled", "down_s": 1.0},
        {"kind": "controlled_shutdown", "at_s": 2.0, "broker": 1, "restart_after_s": 0.5},
    ]
    for seed in range(3):
        world = _world(_scenario(faults, duration_s=15.0, seed=seed))
        r = _finish(world)
        rows = _faults(r)
        stops = rows[(rows["kind"] == "broker_stopped") & (rows["node"] == "broker-1")]
        assert sorted(stops["fault"]) == ["controlled_shutdown", "rolling_restart"]
        assert ((rows["kind"] == "fault_end") & (rows["node"] == "")).sum() == 1
        assert sorted(world.brokers[1].live_brokers) == [0, 1, 2]
        _assert_safe(r)
        _assert_live(r)
        _assert_consistent_leadership(world)


# ---------------------------------------------------------------- 3. random fault schedules

TARGETS = [0, 1, 2, "leader:t-0", "controller"]
SHORT = st.floats(0.2, 4.0).map(lambda x: round(x, 3))


def _fault(duration_s: float) -> st.SearchStrategy[dict]:
    at = st.floats(0.5, duration_s - 1.0).map(lambda x: round(x, 3))
    target = st.sampled_from(TARGETS)
    peer = st.sampled_from(["app-0", "g-0", "zookeeper"])
    classes = st.one_of(
        st.none(),
        st.lists(
            st.sampled_from(["brokers", "zookeeper", "clients"]),
            min_size=1,
            max_size=3,
            unique=True,
        ),
    )

    def isolate(a, b, f, h):
        return {
            "kind": "network_partition",
            "at_s": a,
            "isolate": b,
            "heal_after_s": h,
            **({"from": f} if f else {}),
        }

    return st.one_of(
        st.builds(
            lambda a, b, r: {"kind": "crash_broker", "at_s": a, "broker": b, "restart_after_s": r},
            at, target, SHORT,
        ),
        st.builds(
            lambda a, b, r: {
                "kind": "controlled_shutdown", "at_s": a, "broker": b, "restart_after_s": r
            },
            at, target, SHORT,
        ),
        st.builds(
            lambda a, b, d: {"kind": "pause", "at_s": a, "node": b, "duration_s": d},
            at, target, SHORT,
        ),
        st.builds(lambda a, b: {"kind": "zookeeper_expire", "at_s": a, "node": b}, at, target),
        st.builds(isolate, at, target, classes, SHORT),
        st.builds(
            lambda a, x, b, p, d: {
                "kind": "drop_messages", "at_s": a, "between": [x, b], "probability": p,
                "duration_s": d,
            },
            at, peer, target, st.floats(0.01, 0.3).map(lambda x: round(x, 3)), SHORT,
        ),
        st.builds(
            lambda a, x, b, ms, d: {
                "kind": "slow_network", "at_s": a, "between": [x, b], "extra_delay_ms": ms,
                "duration_s": d,
            },
            at, peer, target, st.integers(1, 200), SHORT,
        ),
    )  # fmt: skip


@st.composite
def _schedules(draw, durations=(6.0, 8.0, 10.0)) -> dict:
    duration_s = draw(st.sampled_from(durations))
    faults = draw(st.lists(_fault(duration_s), min_size=1, max_size=4))
    d = _scenario(faults, partitions=2, duration_s=duration_s, rate=200.0)
    d["seed"] = draw(st.integers(0, 2**16))
    return d


def _check_schedule(d: dict) -> None:
    r = _finish(_world(d))
    _assert_safe(r)


@settings(
    max_examples=50,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(_schedules())
def test_random_fault_schedules_lose_nothing(d: dict) -> None:
    """1-4 random faults (crash/controlled shutdown with restart, pause, session expiry,
    isolation from any subset of classes with heal, drops p <= 0.3, slow links) on 3 brokers,
    RF 3, min.insync 2, acks=all, idempotent, unclean off, short timeouts, 6-10 s runs: no
    acknowledged record lost, no inconsistent offsets, no batch stored twice, no invariant
    broken (KAFKASIM_CHECK_INVARIANTS), and no run over EVENT_CAP events. The runs are too short
    for most liveness bounds; tests/test_recovery_property.py runs the same kinds of fault
    until every bound has passed and asserts recovery."""
    _check_schedule(d)


@pytest.mark.slow
@settings(
    max_examples=100,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(_schedules(durations=(15.0, 20.0, 30.0)))
def test_random_fault_schedules_lose_nothing_long(d: dict) -> None:
    """The same property over more examples and 15-30 s runs."""
    _check_schedule(d)


@st.composite
def _small_buffer_schedules(draw) -> dict:
    """Random faults as above, 6 s, with the producer at 10x the rate (400 kB/s) and
    buffer.memory of four batches, max.block.ms 0, 0.3 s or 60 s."""
    d = draw(_schedules(durations=(6.0,)))
    producer = d["producers"][0]
    producer["rate_msgs_s"] = 2000.0
    producer["config"] |= {
        "buffer.memory": 4 * 16384,
        "max.block.ms": draw(st.sampled_from([0, 300, 60000])),
    }
    return d


@pytest.mark.liveness_violation_expected
@settings(
    max_examples=12,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(_small_buffer_schedules())
def test_random_fault_schedules_with_a_small_buffer(d: dict) -> None:
    """With send() blocking and failing on buffer.memory, random faults still lose nothing
    acknowledged and break no invariant; the producer's batches never hold more than
    buffer.memory, and while memory is tracked per batch the pool's count is exactly what the
    queues hold (checked every millisecond)."""
    world = _world(d)
    accumulator = world.producers[0].accumulator
    pool = accumulator.pool
    wrong: list[float] = []

    def watch(env):
        while True:
            queued = accumulator.queued_buffers(env.now)
            over = pool.sent_bytes + queued > pool.total_bytes
            if over or pool.queued_bytes not in (None, queued):
                wrong.append(env.now)
            yield env.timeout(0.001)

    world.env.process(watch(world.env))
    r = _finish(world)
    _assert_safe(r)
    assert not wrong, wrong[:5]


def test_event_cap_stops_a_runaway_run() -> None:
    """The guard works: a run with a tiny cap fails with EventLimitExceeded instead of running
    on, having processed exactly the cap."""
    world = _capped(World(Scenario.from_dict(_scenario([], duration_s=2.0))), cap=1000)
    with pytest.raises(EventLimitExceeded):
        world.run()
    assert world.env.processed == 1000
