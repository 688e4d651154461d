"""A rolling restart (fault kind ``rolling_restart``) of the default scenario's cluster under its
load: scenarios/default.py's 3 brokers, topic ``orders`` (6 partitions, RF 3,
min.insync.replicas 2), one keyed producer at 10,000 msg/s of 1 KiB with acks=all and
linger.ms 5, a consumer group of 3. Each broker in turn (1, 2, then 0, the controller) stops at
``AT_S`` on, is down ``DOWN_S``, starts, and the next waits until no partition is
under-replicated. Claims, for any seed: no acknowledged record lost, no record failed; each
broker restarted once, in that order, the next stopped only once every ISR was full again; the
per-broker timeline in ``events``; and acknowledgements never pause longer than a bound
derived from the settings:

- ``CHAIN_S``, after a partition's leader moves or its ISR changes: the controller's work
  (ELECTION_S_PER_PARTITION per partition of the cluster, a ZooKeeper write and the requests'
  trips, a few RTT); a follower's fetch parked at the leader under the old leader epoch,
  answered at ``replica.fetch.wait.max.ms``, then a fetch refused with an epoch error while the
  leader had not heard of the new epoch, retried after ``replica.fetch.backoff.ms``; the
  producer's retry of a batch refused (NOT_LEADER_OR_FOLLOWER) or cut off, after at most
  ``retry.backoff.max.ms`` + 20 % jitter, once more when the first retry still found the old
  leader, its metadata request, ``linger.ms`` and the produce and fetch round trips.
- controlled mode, for every partition: ``CHAIN_S``; a controlled shutdown moves leaders and
  takes the broker out of the ISRs before it stops.
- hard mode, for the producer as a whole: the crashed broker stays in every ISR (RF 3 on 3
  brokers: every partition waits for it) until its ZooKeeper session expires, at most ``T`` +
  one tick after the crash, and the controller takes it out (when it was the controller,
  another takes office first: its reads and ``LOAD_S_PER_PARTITION`` per partition); the
  leaders then complete the acknowledgements they held, before the restarted broker can be
  back in the ISRs and the next broker stop. Bound: that, plus ``CHAIN_S``. One partition may
  stay stopped longer: its new leader can be the next broker to crash (15-23 s measured).
  ``T`` = zookeeper.session.timeout.ms is shortened to 6 s so runs stay short; ``DOWN_S`` = 5 s
  < ``T``, so each broker starts again within its old session and registers once it expires.

Either bound is well under ``max.block.ms`` and ``delivery.timeout.ms``: no record fails.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from sim.broker.broker import REGISTER_RETRY_S
from sim.broker.controller import ELECTION_S_PER_PARTITION, LOAD_S_PER_PARTITION
from sim.clients.producer.sender import RETRY_JITTER
from sim.events import ClientReach, EventKind, RollingOutcome
from sim.faults import ROLLING
from sim.kafka_config import defaults
from sim.results import Results
from sim.scenario import ROLLING_DOWN_S, Scenario, load_scenario
from sim.world import World

DEFAULT = load_scenario(Path(__file__).parents[1] / "scenarios" / "default.py")
AT_S = 2.0
DOWN_S = ROLLING_DOWN_S
ORDER = ["broker-1", "broker-2", "broker-0"]  # ascending, broker 0 (the controller) last
T = 6.0  # zookeeper.session.timeout.ms in the hard mode, s
TICK = min(3.0, T / 3)  # the ZooKeeper tick the world sets, s
RTT = DEFAULT.cluster.hardware.rtt_ms / 1000
BROKER, PRODUCER = defaults("broker"), defaults("producer")
LINGER_S = DEFAULT.producers[0].config["linger.ms"] / 1000
EVENT_CAP = 20_000_000  # simulation events per run before a run counts as runaway
SEEDS = st.integers(0, 2**31 - 1)
SETTINGS = settings(
    max_examples=3,
    deadline=None,
    phases=(Phase.explicit, Phase.reuse, Phase.generate),  # a seed does not shrink
    suppress_health_check=[HealthCheck.too_slow],
)


def _chain_s(partitions: int) -> float:
    """A partition's longest pause after its leader moved or its ISR changed (see above)."""
    controller = ELECTION_S_PER_PARTITION * partitions + 4 * RTT
    fetch = (BROKER["replica.fetch.wait.max.ms"] + BROKER["replica.fetch.backoff.ms"]) / 1000
    retry = 2 * (1 + RETRY_JITTER) * PRODUCER["retry.backoff.max.ms"] / 1000
    return controller + fetch + retry + LINGER_S + 4 * RTT


def _hard_s(partitions: int) -> float:
    """The crashed broker's session gone, a new controller in office, then ``_chain_s``."""
    failover = 4 * RTT + LOAD_S_PER_PARTITION * partitions
    return T + TICK + failover + _chain_s(partitions)


def _scenario(seed: int, mode: str) -> dict:
    """The default scenario with the rolling restart as its only fault, its wait capped at
    ``back_s`` and the run long enough for three restarts with their waits. A restarted broker
    catches up on ``DOWN_S`` of the load (51 MB: tens of ms at 10 Gbps) and is seen back at
    the next 0.1 s poll: 2 s leave room. In the hard mode it registers only once its old
    session expired, at most ``T`` + one tick after the crash (``DOWN_S`` before its start),
    retrying every ``REGISTER_RETRY_S``."""
    d = DEFAULT.to_dict()
    back_s = 2.0 if mode == "controlled" else T + TICK - DOWN_S + REGISTER_RETRY_S + 2.0
    d["seed"] = seed
    d["duration_s"] = AT_S + 3 * (DOWN_S + back_s) + 1.0
    d["faults"] = [{"kind": "rolling_restart", "at_s": AT_S, "mode": mode, "max_wait_s": back_s}]
    if mode == "hard":
        d["cluster"]["config"]["zookeeper.session.timeout.ms"] = int(T * 1000)
    return d


def _run(d: dict) -> tuple[World, Results, list[tuple[float, str, bool]]]:
    """Run; and at each ``rolling_step`` row with outcome ``isr_full``, whether the controller's
    ISRs were all full then (a spy on the event table: it only observes)."""
    world = World(Scenario.from_dict(d))
    world.env.event_limit = EVENT_CAP
    seen: list[tuple[float, str, bool]] = []
    event = world.metrics.event

    def spy(time_s: float, kind: str, node: str = "", *args, **kwargs) -> None:
        if kind == EventKind.ROLLING_STEP and kwargs.get("outcome") == RollingOutcome.ISR_FULL:
            states = world.brokers[world.controller_id()].controller.states.values()
            seen.append((time_s, node, all(len(s.isr) == len(s.replicas) for s in states)))
        event(time_s, kind, node, *args, **kwargs)

    world.metrics.event = spy
    world.run()
    return world, world.results(), seen


def _step_names(r: Results) -> pd.DataFrame:
    """The rolling restart's rows, each named by its step: begin and end (the whole), stop (a
    crash, or the end of a controlled shutdown), start, and how each wait ended (isr_full,
    wait_capped, skipped)."""
    ev = r.events
    mine = ev[ev["fault"] == ROLLING]
    whole = mine["node"] == ""
    names = np.select(
        [
            whole & (mine["kind"] == EventKind.FAULT),
            whole & (mine["kind"] == EventKind.FAULT_END),
            mine["kind"] == EventKind.BROKER_STOPPED,
            (mine["kind"] == EventKind.FAULT) & (mine["outcome"] == ClientReach.UNREACHABLE),
            mine["kind"] == EventKind.FAULT_END,
            mine["kind"] == EventKind.ROLLING_STEP,
        ],
        ["begin", "end", "stop", "stop", "start", mine["outcome"].astype(str)],
        default="",
    )
    named = mine.assign(step=names)
    return named[named["step"] != ""]


def _steps(r: Results) -> dict[str, pd.DataFrame]:
    """The rolling restart's rows by step (see _step_names)."""
    return dict(iter(_step_names(r).groupby("step")))


def _longest_pause_s(r: Results, by_partition: bool) -> float:
    """The longest time between successive acknowledgements (of one partition), s."""
    acked = r.acked[r.acked["error"] == ""].merge(r.produced[["batch_id", "partition"]])
    groups = [rows for _, rows in acked.groupby("partition")] if by_partition else [acked]
    return max(float(np.diff(np.sort(rows["done_s"].to_numpy())).max()) for rows in groups)


def _check(world: World, r: Results, seen: list, bound_s: float, by_partition: bool) -> None:
    summary = r.summary()
    assert summary["lost_acked_messages"] == 0
    assert summary["failed_messages"] == 0
    steps = _steps(r)
    assert set(steps) == {"begin", "stop", "start", "isr_full", "end"}  # none capped or skipped
    stops, starts, backs = (steps[k] for k in ("stop", "start", "isr_full"))
    for rows in (stops, starts, backs):
        assert list(rows["node"]) == ORDER
    assert np.allclose(starts["time_s"].to_numpy() - stops["time_s"].to_numpy(), DOWN_S)
    # each broker back before the next stops
    stop_t, start_t, back_t = (rows["time_s"].to_numpy() for rows in (stops, starts, backs))
    assert (start_t < back_t).all() and (back_t[:-1] <= stop_t[1:]).all()
    assert steps["end"]["time_s"].iloc[0] == back_t[-1]
    assert [(t, node) for t, node, _ in seen] == list(zip(back_t, ORDER, strict=True))
    assert all(full for _, _, full in seen)  # URP 0 meant every ISR full, at the controller
    assert _longest_pause_s(r, by_partition) <= bound_s


@SETTINGS
@given(SEEDS)
def test_controlled_rolling_restart_loses_nothing_and_never_stalls_the_producer(seed: int) -> None:
    world, r, seen = _run(_scenario(seed, "controlled"))
    _check(world, r, seen, _chain_s(len(world.assignments)), by_partition=True)


@SETTINGS
@given(SEEDS)
def test_hard_rolling_restart_loses_nothing_and_stalls_the_producer_until_expiry(
    seed: int,
) -> None:
    world, r, seen = _run(_scenario(seed, "hard"))
    _check(world, r, seen, _hard_s(len(world.assignments)), by_partition=False)


def test_the_wait_is_capped_and_a_broker_already_down_is_skipped() -> None:
    """Broker 2 shuts down for good before the rolling restart over [1, 2]: broker 1 restarts,
    but with broker 2 out of the ISRs every partition stays under-replicated, so its wait ends
    at the cap (``max_wait_s`` after its start, recorded); broker 2, down at its turn, is
    skipped."""
    max_wait_s, down_s = 0.5, 0.2
    d = {
        "name": "capped",
        "duration_s": 4.0,
        "cluster": {"brokers": 3},
        "topics": [{"name": "t", "partitions": 3, "replication_factor": 3}],
        "faults": [
            {"kind": "controlled_shutdown", "at_s": 0.5, "broker": 2},
            {
                "kind": "rolling_restart",
                "at_s": 1.0,
                "order": [1, 2],
                "down_s": down_s,
                "max_wait_s": max_wait_s,
            },
        ],
    }
    _, r, _ = _run(d)
    steps = _step_names(r)
    kinds = list(steps["step"])
    assert kinds == ["begin", "stop", "start", "wait_capped", "skipped", "end"]
    assert list(steps["node"]) == ["", "broker-1", "broker-1", "broker-1", "broker-2", ""]
    start, capped = steps["time_s"].iloc[2], steps["time_s"].iloc[3]
    assert capped == pytest.approx(start + max_wait_s)
