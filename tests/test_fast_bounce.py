"""A fast bounce: the default scenario's leader of orders-0 (broker 0, also the controller) is
restarted within its ZooKeeper session, as in any rolling restart, and the run must recover:
the acknowledged rate back at the offered rate and every ISR full again. And the producer's
side of it alone: partitions left without a leader until a broker returns come back only through
the metadata refresh a batch without a known leader asks for.

Timeouts are shortened so the run stays short (zookeeper.session.timeout.ms 6 s,
replica.lag.time.max.ms 10 s); the recovery bound is derived from them:

- the old session expires at most ``T + tick`` after the crash (the server may have heard from
  the broker just before it died; the expiry waits for the next tick of ZooKeeper's
  SessionTracker, whose tick the world sets to min(3 s, T / 3));
  until then the restarted broker's registration fails (its znode is the old session's);
- then another broker takes office and elects leaders for orders-0 and orders-3 (milliseconds),
  and the restarted broker registers at its next retry, within ``REGISTER_RETRY_S``;
- the controller tells it its replicas; it catches up and rejoins each ISR, within
  replica.lag.time.max.ms (a follower slower than that would be out of the ISR anyway);
- the producer learns the new leaders at its next metadata answer, at most
  retry.backoff.max.ms after it asks (Metadata.timeToAllowUpdate).
"""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from sim import kafka_config
from sim.broker.broker import REGISTER_RETRY_S, Broker
from sim.clients.producer.sender import Sender
from sim.coordination.zookeeper import ZooKeeperClient, broker_path
from sim.events import EventKind
from sim.scenario import Scenario, load_scenario, with_values
from sim.world import World

DEFAULT = Path(__file__).resolve().parents[1] / "scenarios" / "default.py"
CRASH_S = 2.0
RESTART_AFTER_S = 3.0  # within the session: the restarted broker waits for the old one to expire
TAIL_S = 10.0  # the run goes on this long after the recovery bound
SESSION = "zookeeper.session.timeout.ms"


def _scenario(seed: int) -> Scenario:
    """The default scenario with the fast bounce, run until ``TAIL_S`` past the bound."""
    values = {
        "seed": seed,
        "cluster.config.zookeeper.session.timeout.ms": 6000,
        "cluster.config.replica.lag.time.max.ms": 10000,
        "faults.0.at_s": CRASH_S,
        "faults.0.restart_after_s": RESTART_AFTER_S,
    }
    scenario = Scenario.from_dict(with_values(load_scenario(DEFAULT), values))
    duration_s = _recovered_by_s(scenario) + TAIL_S
    return Scenario.from_dict(with_values(scenario, {"duration_s": duration_s}))


def _recovered_by_s(scenario: Scenario) -> float:
    """When the run must have recovered (module docstring), s."""
    broker = kafka_config.broker_config(scenario.cluster.config)
    producer, _ = kafka_config.producer_config(scenario.producers[0].config)
    session_s = broker.s(SESSION)
    tick_s = min(3.0, session_s / 3)  # the ZooKeeper tick the world sets
    expired_s = CRASH_S + session_s + tick_s
    rejoined_s = expired_s + REGISTER_RETRY_S + broker.s("replica.lag.time.max.ms")
    return rejoined_s + producer.s("retry.backoff.max.ms")


@pytest.mark.parametrize("seed", [1, 2])
def test_fast_bounce_recovers_the_offered_rate_and_full_isrs(seed: int) -> None:
    """From the bound on, no sample has an under-replicated partition, and the records
    acknowledged meanwhile are at least those offered: rate × window, less five standard
    deviations of its Poisson count and the records of the last linger.ms, not yet sent
    (before the fixes nothing was acknowledged after the election and the restarted broker
    stayed out of 7 ISRs)."""
    world = World(_scenario(seed))
    world.run()
    r = world.results()
    bound_s = _recovered_by_s(world.scenario)
    assert world.zookeeper.tick_s == min(
        3.0, world.broker_config.s("zookeeper.session.timeout.ms") / 3
    )
    series = r.timeseries
    after = series[series["time_s"] - world.metrics.interval_s >= bound_s]
    assert len(after) > 0
    assert (after["under_replicated_partitions"] == 0).all(), after
    window_s = world.scenario.duration_s - bound_s
    acked_records = _acked_records_after(r, bound_s)
    spec = world.scenario.producers[0]
    offered = spec.rate_msgs_s * window_s
    linger_s = world.producers[0].config.s("linger.ms")
    assert acked_records >= offered - 5 * math.sqrt(offered) - spec.rate_msgs_s * linger_s


@pytest.mark.parametrize("seed", [1, 2])
def test_restarted_broker_refuses_requests_until_registered(monkeypatch, seed: int) -> None:
    """The restarted broker handles no request before its new ZooKeeper session has created
    its /brokers/ids znode (Kafka opens its listeners after registerBroker: KafkaServer.startup,
    SocketServer.enableRequestProcessing), and handles requests after it. Before the fix it
    answered the clients from its restart on, knowing no partition (NOT_LEADER_OR_FOLLOWER),
    all through the seconds its registration was refused."""
    handled: list[tuple[float, str, int]] = []  # (time, broker, its process) of each request
    registered: list[tuple[float, str]] = []  # (time, path) of each broker znode created
    handle, create = Broker._handle, ZooKeeperClient.create

    def recording_handle(self, conn, request, respond):
        handled.append((self.env.now, self.name, self.starts))
        handle(self, conn, request, respond)

    def recording_create(self, path, data=None, ephemeral=False):
        result = yield from create(self, path, data, ephemeral)
        if result.ok:
            registered.append((self.env.now, path))
        return result

    monkeypatch.setattr(Broker, "_handle", recording_handle)
    monkeypatch.setattr(ZooKeeperClient, "create", recording_create)
    world = World(_scenario(seed))
    world.run()
    events = world.results().events
    restarted = events[events["kind"] == EventKind.FAULT_END.value]["node"].tolist()
    assert len(restarted) == 1
    refused = events[events["kind"] == EventKind.REGISTRATION_FAILED.value]
    assert refused["node"].tolist() == restarted  # within the session: refused, then retried
    broker = next(b for b in world.brokers if b.name == restarted[0])
    at = [t for t, path in registered if path == broker_path(broker.broker_id)]
    assert len(at) == 1  # the process started with the run adopted its session
    after_restart = [t for t, name, starts in handled if name == broker.name and starts == 2]
    assert after_restart and min(after_restart) >= at[0]


def _acked_records_after(r, start_s: float) -> int:
    """Records acknowledged without error at or after ``start_s``."""
    acked = r.acked[(r.acked["done_s"] >= start_s) & (r.acked["error"] == "")]
    return int(r.produced.set_index("batch_id")["count"].reindex(acked["batch_id"]).sum())


@pytest.mark.parametrize(
    "refresh",
    # without the refresh the producer never recovers, which a run to its bounds reports
    [True, pytest.param(False, marks=pytest.mark.liveness_violation_expected)],
)
def test_leaderless_partitions_back_only_through_the_refresh(monkeypatch, refresh: bool) -> None:
    """Brokers 0 and 1 crash (ISRs shrink to broker 2), then broker 2; 0 and 1 come back first,
    so every partition is without a leader (unclean election off) until broker 2 is back: the
    producer's metadata answers name no leader, and it sends nothing, so no error asks for new
    metadata. Only Sender.sendProducerData's refresh for unknownLeaderTopics brings the leaders
    back, at most retry.backoff.max.ms after it asks; from a bound derived from the settings
    (broker 2's registration, REGISTER_RETRY_S; a follower back in the ISR for
    min.insync.replicas, replica.lag.time.max.ms; the refresh) the records acknowledged are at
    least those offered, as in the test above. With the TEST-ONLY switch
    ``Sender.refresh_on_unknown_leader`` off, none is acknowledged after the bound."""
    monkeypatch.setattr(Sender, "refresh_on_unknown_leader", refresh)
    crash_s, back_s, last_crash_s, last_back_s = 2.0, 14.0, 11.0, 21.0
    faults = [
        {"kind": "crash_broker", "at_s": crash_s, "broker": b, "restart_after_s": back_s - crash_s}
        for b in (0, 1)
    ]
    faults.append(
        {
            "kind": "crash_broker",
            "at_s": last_crash_s,
            "broker": 2,
            "restart_after_s": last_back_s - last_crash_s,
        }
    )
    values = {
        "seed": 1,
        "cluster.config.zookeeper.session.timeout.ms": 6000,
        "cluster.config.replica.lag.time.max.ms": 10000,
        "faults": faults,
    }
    scenario = Scenario.from_dict(with_values(load_scenario(DEFAULT), values))
    broker = kafka_config.broker_config(scenario.cluster.config)
    producer, _ = kafka_config.producer_config(scenario.producers[0].config)
    session_s = broker.s(SESSION)
    # 0 and 1 are out of the ISRs before 2 crashes, 2's session has expired before 0 and 1
    # are back, and before 2 is back: every partition is without a leader meanwhile
    assert crash_s + session_s + min(3.0, session_s / 3) < last_crash_s
    assert last_crash_s + session_s + min(3.0, session_s / 3) < last_back_s
    bound_s = (
        last_back_s
        + REGISTER_RETRY_S
        + broker.s("replica.lag.time.max.ms")
        + producer.s("retry.backoff.max.ms")
    )
    scenario = Scenario.from_dict(with_values(scenario, {"duration_s": bound_s + TAIL_S}))
    world = World(scenario)
    world.run()
    acked_records = _acked_records_after(world.results(), bound_s)
    if not refresh:
        assert acked_records == 0
        return
    spec = scenario.producers[0]
    offered = spec.rate_msgs_s * TAIL_S
    linger_s = producer.s("linger.ms")
    assert acked_records >= offered - 5 * math.sqrt(offered) - spec.rate_msgs_s * linger_s
