"""Every script in scenarios/ loads and runs clean, shortened to a few simulated seconds.

New scenarios are covered as they are added (a glob, not a list). Each run keeps the scenario's
shape: every time in it (``duration_s``, and each ``at_s``, ``start_s``, ``stop_s``,
``restart_after_s``, ``heal_after_s`` and fault ``duration_s``) is scaled by the same factor, so
the faults still happen, in the same order, within the short run. Invariants are checked while
it runs (tests/conftest.py sets KAFKASIM_CHECK_INVARIANTS). A scenario whose settings guarantee
that nothing acknowledged is lost (see :func:`loses_nothing_acked`) must lose nothing.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

import sim
from sim import kafka_config
from sim.scenario import Scenario, load_scenario

ROOT = Path(__file__).resolve().parents[1]
SCENARIOS = sorted((ROOT / "scenarios").glob("*.py"))
#: Simulated seconds of each shortened run: long enough for a consumer group to form (Kafka's
#: group.initial.rebalance.delay.ms of 3 s, extended as members join) and read.
SHORT_S = 8.0
#: The fields that are times of the run, scaled together.
TIMES = frozenset({"duration_s", "at_s", "start_s", "stop_s", "restart_after_s", "heal_after_s"})


def shortened(scenario: Scenario, duration_s: float) -> Scenario:
    """``scenario`` with every time of the run scaled so that it lasts ``duration_s``."""
    factor = duration_s / scenario.duration_s
    return Scenario.from_dict(_scaled(scenario.to_dict(), factor))


def _scaled(data: Any, factor: float) -> Any:
    if isinstance(data, list):
        return [_scaled(item, factor) for item in data]
    if not isinstance(data, dict):
        return data
    out = {}
    for key, value in data.items():
        if key in ("config", "hardware"):  # Kafka properties and machines are not run times
            out[key] = value
        elif key in TIMES and isinstance(value, int | float):
            out[key] = value * factor
        else:
            out[key] = _scaled(value, factor)
    return out


def loses_nothing_acked(s: Scenario) -> bool:
    """Kafka's guarantee holds: every producer uses acks=all, every topic has an effective
    minimum ISR of at least 2 and no unclean election, followers truncate by leader epoch
    (KIP-101), and no fault drops what a broker had not yet written to disk (power_loss, a
    cluster_outage with power_loss)."""
    producers = list(s.producers) + [f.producer for f in s.faults if f.kind == "add_producer"]
    if any(kafka_config.producer_config(p.config)[0]["acks"] != "all" for p in producers):
        return False
    for topic in s.topics:
        cluster = s.cluster_named(topic.cluster)
        eff = kafka_config.topic_config(topic.config, cluster.config)
        if min(eff["min.insync.replicas"], topic.replication_factor) < 2:
            return False
        if eff["unclean.leader.election.enable"] or cluster.legacy_hw_truncation:
            return False
    return not any(
        f.kind == "power_loss" or (f.kind == "cluster_outage" and f.power_loss) for f in s.faults
    )


def test_the_library_is_found():
    names = {path.stem for path in SCENARIOS}
    assert {"default", "acks_durability", "capacity", "network_partition"} <= names


@pytest.mark.parametrize("path", SCENARIOS, ids=[p.stem for p in SCENARIOS])
def test_scenario_runs_clean(path: Path):
    full = load_scenario(path)
    short = shortened(full, SHORT_S)
    assert [f.kind for f in short.faults] == [f.kind for f in full.faults]
    results = sim.run(short)
    summary = results.summary()
    assert summary["acked_messages"] <= summary["produced_messages"]
    if loses_nothing_acked(short):
        assert summary["lost_acked_messages"] == 0


def test_shortening_scales_every_time_of_the_run():
    s = Scenario.from_dict(
        {
            "duration_s": 60,
            "topics": [{"name": "t"}],
            "producers": [{"topic": "t", "start_s": 6, "stop_s": 30, "config": {"linger.ms": 5}}],
            "faults": [
                {"kind": "crash_broker", "at_s": 30, "broker": 0, "restart_after_s": 12},
                {"kind": "slow_disk", "at_s": 0, "broker": 1, "factor": 2, "duration_s": 6},
            ],
        }
    )
    short = shortened(s, 3.0)
    assert short.duration_s == 3.0
    assert (short.producers[0].start_s, short.producers[0].stop_s) == pytest.approx((0.3, 1.5))
    assert short.producers[0].config["linger.ms"] == 5
    assert (short.faults[0].at_s, short.faults[0].restart_after_s) == pytest.approx((1.5, 0.6))
    assert short.faults[1].duration_s == pytest.approx(0.3)


def test_loses_nothing_acked_needs_every_guarantee(default_dict):
    assert loses_nothing_acked(Scenario.from_dict(default_dict))
    acks_1 = {
        **default_dict,
        "producers": [{**default_dict["producers"][0], "config": {"acks": 1}}],
    }
    assert not loses_nothing_acked(Scenario.from_dict(acks_1))
    one_isr = {**default_dict, "topics": [{**default_dict["topics"][0], "config": {}}]}
    assert not loses_nothing_acked(Scenario.from_dict(one_isr))
    power = {**default_dict, "faults": [{"kind": "power_loss", "at_s": 60, "broker": 0}]}
    assert not loses_nothing_acked(Scenario.from_dict(power))


#: A figure's file name in prose: not a path (docs/images/x.png) nor a quoted example name.
FIGURE_NAME = re.compile(r"(?<![\w/\"<>.-])[\w<>]+\.png")


def _written_figures() -> set[str]:
    """The file names sim.plots writes: a run's figures and a sweep's (its name template with
    the ``<metric>`` the docs write, and each metric's)."""
    from sim import plots

    sweep = {plots.SWEEP_FIGURE.format(metric=m) for m in (*plots.SWEEP_METRICS, "<metric>")}
    return {*plots.FIGURES, *plots.OPTIONAL_FIGURES, *sweep}


def test_the_figures_the_docs_name_are_written():
    texts = {p: p.read_text() for p in [*SCENARIOS, ROOT / "README.md"]}
    texts.update({p: p.read_text() for p in (ROOT / "docs").glob("*.md")})
    written = _written_figures()
    named = {
        (p.relative_to(ROOT).as_posix(), n)
        for p, t in texts.items()
        for n in FIGURE_NAME.findall(t)
    }
    assert {n for _, n in named} >= {"latency_cdf.png", "sweep_<metric>.png"}  # the search works
    assert sorted((p, n) for p, n in named if n not in written) == []
