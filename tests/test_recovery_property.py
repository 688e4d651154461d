"""Random fault schedules: safe (nothing acknowledged lost) and live (everything recovers).

Each example draws 1-3 faults — fast bounces (a crash and restart inside the ZooKeeper session,
as in any rolling restart), slow bounces, rolling restarts, controlled shutdowns, pauses,
session expiries, network partitions of each class (of a broker, a client or ZooKeeper), slow
disks, and slow or lossy links between a broker and another node — at Kafka 3.9's default
timeouts or at shortened ones, on 3 brokers with RF 3, min.insync.replicas 2, acks=all and a
consumer group. The run lasts until every fault has healed plus the liveness bound derived from
the settings (:func:`sim.liveness.bounds`), so each item has room to recover. The property: the
audit finds nothing acknowledged lost, no offset read with two contents, no batch stored twice;
the liveness checker finds no violation; every offered record is accounted for (the audit raises
AccountingError otherwise).

100 examples run in ``make test`` (the same ones every time: the ``repeatable`` profile); the
``slow`` test runs 200 more, and ``make explore`` runs both on fresh examples. A failing example
is written as a scenario file under ``results/property_failures/`` that ``kafkasim run`` replays.
"""

from __future__ import annotations

from collections import Counter

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from sim import liveness
from sim.audit import audit
from sim.clients.producer.sender import Sender
from sim.scenario import ROLLING_DOWN_S, Scenario
from sim.world import World
from tests.scenario_failures import replayable

EVENT_CAP = 5_000_000  # events per run before it counts as a runaway

#: Timeouts of the two profiles: Kafka 3.9's defaults, and shortened ones (s).
PROFILES = {
    "kafka_defaults": {"session_s": 18.0, "broker": {}, "client": {}, "group": {}},
    "short": {
        "session_s": 6.0,
        "broker": {
            "zookeeper.session.timeout.ms": 6000,
            "replica.lag.time.max.ms": 5000,
            "replica.socket.timeout.ms": 5000,
            "controller.socket.timeout.ms": 5000,
            "controlled.shutdown.retry.backoff.ms": 1000,
        },
        "client": {"request.timeout.ms": 5000, "delivery.timeout.ms": 30000},
        "group": {
            "request.timeout.ms": 5000,
            "session.timeout.ms": 6000,
            "heartbeat.interval.ms": 2000,
        },
    },
}
BROKERS = [0, 1, 2, "leader:t-0", "controller"]
#: Other nodes a link fault or a cut may hit: the producer, a consumer, ZooKeeper.
PEERS = ["app-0", "g-0", "zookeeper"]


def _round(x: float) -> float:
    return round(x, 3)


@st.composite
def _fault(draw, session_s: float, at: st.SearchStrategy[float]) -> dict:
    """One fault; fast bounces and rolling restarts make 5 of the 13 kinds drawn."""
    kind = draw(
        st.sampled_from(
            ["fast_bounce", "fast_bounce", "rolling_restart", "fast_bounce", "rolling_restart",
             "slow_bounce", "controlled_shutdown", "pause", "zookeeper_expire",
             "network_partition", "slow_disk", "slow_network", "drop_messages"]
        )
    )  # fmt: skip
    start = draw(at)
    broker = draw(st.sampled_from(BROKERS))
    length = draw(st.floats(0.1, 2.0 * session_s).map(_round))
    if kind in ("slow_network", "drop_messages"):
        return _link_fault(draw, kind, start, broker, length)
    if kind == "slow_disk":
        factor = draw(st.floats(2.0, 100.0).map(_round))
        return {
            "kind": "slow_disk", "at_s": start, "broker": broker, "factor": factor,
            "duration_s": length,
        }  # fmt: skip
    if kind == "fast_bounce":
        restart = draw(st.floats(0.1, 0.9 * session_s).map(_round))
        return {"kind": "crash_broker", "at_s": start, "broker": broker, "restart_after_s": restart}
    if kind == "slow_bounce":
        restart = draw(st.floats(1.1 * session_s, 2.0 * session_s).map(_round))
        return {"kind": "crash_broker", "at_s": start, "broker": broker, "restart_after_s": restart}
    if kind == "rolling_restart":
        mode = draw(st.sampled_from(["controlled", "hard"]))
        # each broker's wait capped at 3 sessions: a hard stop's return takes one (its old
        # session expires first), catching up and rejoining the ISRs much less
        wait = 3 * session_s
        return {"kind": "rolling_restart", "at_s": start, "mode": mode, "max_wait_s": wait}
    if kind == "controlled_shutdown":
        restart = draw(st.floats(0.1, 2.0 * session_s).map(_round))
        return {
            "kind": "controlled_shutdown", "at_s": start, "broker": broker,
            "restart_after_s": restart,
        }  # fmt: skip
    if kind == "pause":
        return {"kind": "pause", "at_s": start, "node": broker, "duration_s": length}
    if kind == "zookeeper_expire":
        return {"kind": "zookeeper_expire", "at_s": start, "node": broker}
    classes = draw(
        st.lists(
            st.sampled_from(["brokers", "zookeeper", "clients"]), min_size=1, max_size=3,
            unique=True,
        )
    )  # fmt: skip
    isolate = draw(st.sampled_from([broker, *PEERS]))
    return {
        "kind": "network_partition", "at_s": start, "isolate": isolate, "from": classes,
        "heal_after_s": length,
    }  # fmt: skip


def _link_fault(draw, kind: str, start: float, broker: int | str, length: float) -> dict:
    """A slow or lossy link between a broker and another node (a client, ZooKeeper or a
    broker), for ``length`` s."""
    peer = draw(st.sampled_from([p for p in [*PEERS, 0, 1, 2] if p != broker]))
    link = {"at_s": start, "between": [broker, peer], "duration_s": length}
    if kind == "slow_network":
        delay = draw(st.floats(1.0, 2000.0).map(_round))
        share = draw(st.sampled_from([1.0, 0.5, 0.1, 0.01]))
        return {"kind": kind, **link, "extra_delay_ms": delay, "bandwidth_factor": share}
    probability = draw(st.sampled_from([0.01, 0.1, 0.3, 0.9, 1.0]))
    direction = draw(st.sampled_from(["requests", "responses", "both"]))
    return {"kind": kind, **link, "probability": probability, "direction": direction}


def _scenario(profile: str, faults: list[dict], seed: int, duration_s: float) -> dict:
    times = PROFILES[profile]
    return {
        "name": f"recovery_{profile}",
        "seed": seed,
        "duration_s": duration_s,
        "cluster": {"brokers": 3, "config": dict(times["broker"])},
        "topics": [
            {
                "name": "t",
                "partitions": 3,
                "replication_factor": 3,
                "config": {"min.insync.replicas": 2},
            }
        ],
        "producers": [
            {
                "name": "app",
                "topic": "t",
                "rate_msgs_s": 50.0,
                "message_bytes": 200,
                "keys": {"kind": "uniform", "cardinality": 100},
                "config": {"acks": "all", "linger.ms": 5, **times["client"]},
            }
        ],
        "consumer_groups": [
            {"group_id": "g", "members": 2, "topics": ["t"], "config": dict(times["group"])}
        ],
        "faults": faults,
    }


def _last_end_s(fault: dict) -> float:
    """When the fault is over at the latest, s (a rolling restart: every broker down and
    waited for to its cap)."""
    if fault["kind"] == "rolling_restart":
        return fault["at_s"] + 3 * (fault.get("down_s", ROLLING_DOWN_S) + fault["max_wait_s"])
    length = fault.get("restart_after_s") or fault.get("duration_s") or fault.get("heal_after_s")
    return fault["at_s"] + (length or 0.0)


@st.composite
def schedules(draw) -> dict:
    """A scenario with 1-3 random faults, long enough for every item to recover."""
    profile = draw(st.sampled_from(list(PROFILES)))
    session_s = PROFILES[profile]["session_s"]
    at = st.floats(8.0, 8.0 + 2 * session_s).map(_round)  # after the group formed
    faults = draw(st.lists(_fault(session_s, at), min_size=1, max_size=3))
    return _lasting(profile, faults, draw(st.integers(0, 2**16)))


def _lasting(profile: str, faults: list[dict], seed: int) -> dict:
    """A scenario with ``faults`` lasting until every item may have recovered."""
    probe = Scenario.from_dict(_scenario(profile, faults, seed, 1e6))
    heal_s = max(_last_end_s(f) for f in faults)
    first_s = min(f["at_s"] for f in faults)
    bound = liveness.bounds(probe, partitions=4, heal_s=heal_s, first_fault_s=first_s)
    return _scenario(profile, faults, seed, _round(heal_s + max(bound.lag_s, bound.isr_s) + 2.0))


#: Every partition without a leader for a while: brokers 0 and 1 crash and leave the ISRs
#: (their sessions expire), then broker 2, the last in every ISR, crashes; 0 and 1 come back
#: first, and with unclean election off no partition has a leader until 2 is back (6 s later).
#: The producer's metadata names no leader; only its refresh for partitions without a known
#: leader (Sender.sendProducerData) brings the leaders back to it.
ALL_LEADERLESS = _lasting(
    "short",
    [
        {"kind": "crash_broker", "at_s": 8.0, "broker": 0, "restart_after_s": 18.0},
        {"kind": "crash_broker", "at_s": 8.0, "broker": 1, "restart_after_s": 18.0},
        {"kind": "crash_broker", "at_s": 17.0, "broker": 2, "restart_after_s": 16.0},
    ],
    seed=1,
)


def check_recovers(d: dict) -> None:
    """Run ``d`` and assert the property; on failure, save it where ``kafkasim run`` finds it."""
    with replayable(d):
        world = World(Scenario.from_dict(d))
        world.env.event_limit = EVENT_CAP
        world.run()
        r = world.results()
        report = audit(r.tables)
        assert report.lost_acked_messages == 0, report
        assert report.inconsistent_offsets == 0, report
        assert not r.log.duplicated(["topic", "partition", "batch_id"]).any(), report
        violations = r.liveness[r.liveness["violation"] != ""]
        assert violations.empty, violations.to_string()
        assert r.summary()["liveness_violations"] == 0


_PROPERTY = settings(
    deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large]
)


def _is_bounce(fault: dict, session_s: float) -> bool:
    """A fast bounce (a crash restarted within the session) or a rolling restart."""
    if fault["kind"] == "rolling_restart":
        return True
    return fault["kind"] == "crash_broker" and fault["restart_after_s"] < session_s


@pytest.fixture(scope="module")
def mix():
    """Counts the examples run, and those with a fast bounce or a rolling restart; at the end
    of the module, at least a third of them must have one (the common operational events)."""
    counts: Counter[str] = Counter()
    yield counts
    if counts["examples"]:
        assert 3 * counts["bounces"] >= counts["examples"], counts


def _count(mix: Counter, d: dict) -> None:
    session_s = PROFILES[d["name"].removeprefix("recovery_")]["session_s"]
    mix["examples"] += 1
    mix["bounces"] += any(_is_bounce(f, session_s) for f in d["faults"])


@settings(_PROPERTY, max_examples=100)
@given(d=schedules())
@example(d=ALL_LEADERLESS)
def test_random_fault_schedules_recover(mix: Counter, d: dict) -> None:
    """Safe and live over 100 random fault schedules (see the module docstring)."""
    _count(mix, d)
    check_recovers(d)


@pytest.mark.slow
@settings(_PROPERTY, max_examples=200)
@given(d=schedules())
def test_random_fault_schedules_recover_more(mix: Counter, d: dict) -> None:
    """The same property over 200 more examples."""
    _count(mix, d)
    check_recovers(d)


def test_the_property_fails_without_the_metadata_refresh(monkeypatch) -> None:
    """With the producer's metadata refresh on an unknown leader broken (the test-only switch),
    the property's own example ALL_LEADERLESS fails: the producer keeps the answers that named
    no leader and never asks again, so what it was offered meanwhile is never answered."""
    monkeypatch.setattr(Sender, "refresh_on_unknown_leader", False)
    with pytest.raises(AssertionError, match="producer app-0"):
        check_recovers(ALL_LEADERLESS)


def test_regression_a_stale_coordinator_does_not_decide_the_group() -> None:
    """Found by the property: broker 0, cut off from everything from 17.5 s, still holds group
    g it no longer coordinates and, its members silent, empties it (rebalance rows from
    broker-0, outcome empty); the real coordinator holds g Stable throughout. Only the final
    coordinator's rows say whether the group recovered."""
    faults = [
        {"kind": "rolling_restart", "at_s": 8.04, "mode": "controlled", "max_wait_s": 18.0},
        {"kind": "crash_broker", "at_s": 8.04, "broker": 0, "restart_after_s": 1.5},
        {"kind": "network_partition", "at_s": 17.539, "isolate": 0, "heal_after_s": 8.695},
    ]
    check_recovers(_lasting("short", faults, seed=33))


def test_regression_controlled_shutdown_while_no_controller_is_known() -> None:
    """Found by the property: the controller (broker 0) is bounced at 9 s within its session;
    a controlled rolling restart begins at 13.9 s, while the brokers know no controller yet.
    The first broker's ControlledShutdown went to broker -1 (a KeyError ended the run); as
    KafkaServer.doControlledShutdown does, an attempt with no live controller known sends
    nothing and waits controlled.shutdown.retry.backoff.ms before the next."""
    faults = [
        {"kind": "crash_broker", "at_s": 9.0, "broker": 0, "restart_after_s": 4.591},
        {"kind": "rolling_restart", "at_s": 13.941, "mode": "controlled", "max_wait_s": 54.0},
    ]
    check_recovers(_lasting("kafka_defaults", faults, seed=7010))


def test_regression_a_crash_during_a_controlled_shutdown_ends_it() -> None:
    """Found by the property: broker 1 begins a controlled shutdown and, at the same instant, a
    hard rolling restart crashes it. Its ControlledShutdown request died with the process and
    no answer ever came: the shutdown waited for ever, its restart never ran, the fault never
    ended (liveness unchecked). A crash now ends the shutdown's wait (KafkaServer.shutdown
    runs in the process the crash ends); its restart finds the broker running again."""
    faults = [
        {"kind": "controlled_shutdown", "at_s": 8.698, "broker": 1, "restart_after_s": 12.0},
        {"kind": "rolling_restart", "at_s": 8.698, "mode": "hard", "max_wait_s": 18.0},
    ]
    check_recovers(_lasting("short", faults, seed=11864))


def test_regression_the_controller_resends_what_a_cut_lost() -> None:
    """Found by the property: broker 0, bounced twice and cut off from the other brokers (not
    from ZooKeeper) from 11.5 s to 21.4 s, registers during the cut; the new controller's
    LeaderAndIsr and UpdateMetadata to it were lost in the cut, sent once and forgotten, so it
    never learnt its replicas and 3 partitions stayed under-replicated for good. Kafka's
    RequestSendThread sends each request again 100 ms after a failure until it is answered
    (ControllerChannelManager), in order, while the broker is live."""
    faults = [
        {"kind": "crash_broker", "at_s": 8.639, "broker": 0, "restart_after_s": 0.944},
        {"kind": "network_partition", "at_s": 11.519, "isolate": 0,
         "from": ["brokers", "clients"], "heal_after_s": 9.893},
        {"kind": "crash_broker", "at_s": 13.505, "broker": 0, "restart_after_s": 0.99},
    ]  # fmt: skip
    check_recovers(_lasting("short", faults, seed=40))


def test_regression_a_follower_truncates_where_it_diverged():
    """Found by the property: a controlled shutdown elected crashed broker 2 (its session not
    yet expired) leader of t-2; restarted, it resumed at that epoch and appended a batch before
    its old session expired and two elections moved the leadership on. Its follower
    truncation took the leader's end of epoch 1 (223) instead of its own (222), removed
    nothing, and fetched at 223 for ever: t-2 under-replicated to the end. It now truncates as
    AbstractFetcherThread.getOffsetTruncationState does."""
    faults = [
        {"kind": "crash_broker", "at_s": 12.781, "broker": 2, "restart_after_s": 6.721},
        {"kind": "rolling_restart", "at_s": 10.0, "mode": "controlled", "max_wait_s": 18.0},
    ]
    check_recovers(_lasting("short", faults, seed=373))
