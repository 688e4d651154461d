"""The liveness checker (sim.liveness): when each item recovered after the last heal, within a
bound derived from the settings; and that it sees a run that does not recover."""

from __future__ import annotations

import math

import pytest

import sim
from sim import liveness
from sim.metrics import events_frame


def test_heal_time_is_the_last_end_and_names_what_never_healed():
    """A fault with an end heals at its fault_end row, an instant one when injected; a fault
    without an end never heals."""
    events = events_frame(
        [
            {"time_s": 1.0, "kind": "fault", "fault": "crash_broker", "node": "broker-1"},
            {"time_s": 2.0, "kind": "fault", "fault": "zookeeper_expire", "node": "broker-0"},
            {"time_s": 4.0, "kind": "fault_end", "fault": "crash_broker", "node": "broker-1"},
        ]
    )
    assert liveness.heal_time(events) == (4.0, [])
    cut = events_frame(
        [{"time_s": 3.0, "kind": "fault", "fault": "network_partition", "node": "broker-2"}]
    )
    assert liveness.heal_time(cut) == (3.0, ["network_partition at broker-2"])


def _default(**changes) -> dict:
    d = sim.load_scenario("scenarios/default.py").to_dict()
    d.update(changes)
    return d


def test_the_default_crash_recovers_within_every_bound():
    """The default scenario's leader crash at 60 s, restarted at 90 s: every item recovers,
    none past its bound, and recovery_s is the last item's time after the heal."""
    r = sim.run(sim.Scenario.from_dict(_default(duration_s=110.0)))
    table = r.liveness
    assert set(table["item"]) == {
        "leaders",
        "isr",
        "producer app-0",
        "group billing",
        "lag billing",
    }
    assert (table["violation"] == "").all(), table
    late = (table["recovered_s"] - 90.0).max()
    assert r.summary()["recovery_s"] == pytest.approx(late)
    assert r.summary()["liveness_violations"] == 0


def test_a_broker_that_never_comes_back_leaves_liveness_unchecked():
    """A crash without restart: nothing to measure recovery from; NaN, and a warning says so."""
    d = _default(duration_s=20.0)
    d["faults"] = [{"kind": "crash_broker", "at_s": 5.0, "broker": 1}]
    r = sim.run(sim.Scenario.from_dict(d))
    assert r.liveness.empty
    assert math.isnan(r.summary()["liveness_violations"])
    assert any("never healed" in w for w in r.warnings)


def test_a_run_that_ends_inside_the_bounds_tells_nothing_yet():
    """A bounce 2 s before the end: the old session has not expired, the partitions it led have
    no leader when the run ends; that is no violation (the bound had not passed), and a
    warning says the run was too short to tell."""
    d = _default(duration_s=8.0)
    d["faults"] = [{"kind": "crash_broker", "at_s": 5.0, "broker": 1, "restart_after_s": 1.0}]
    r = sim.run(sim.Scenario.from_dict(d))
    leaders = r.liveness.set_index("item").loc["leaders"]
    assert math.isnan(leaders["recovered_s"]) and leaders["violation"] == ""
    assert r.summary()["liveness_violations"] == 0
    assert math.isnan(r.summary()["recovery_s"])
    assert any("run longer to tell" in w for w in r.warnings)


@pytest.mark.parametrize(
    ("error", "violation"),
    [
        ("RECORD_TOO_LARGE", ""),  # the record's own fault: send() refuses it at any time
        ("MESSAGE_TOO_LARGE", ""),
        ("DELIVERY_TIMEOUT", "1 batches offered after recovering failed"),
        ("NOT_ENOUGH_REPLICAS", "1 batches offered after recovering failed"),
    ],
)
def test_a_producer_failing_records_after_the_heal_did_not_recover_unless_they_were_too_large(
    error, violation
):
    import pandas as pd

    produced = pd.DataFrame({"batch_id": [0, 1, 2], "first_arrival_s": [1.0, 6.0, 7.0]})
    acked = pd.DataFrame(
        {"batch_id": [0, 1, 2], "done_s": [5.5, 6.1, 7.2], "error": ["", error, ""]}
    )
    limits = liveness.Bounds(10.0, 10.0, 10.0, 1.0, 10.0, 10.0)
    at, problem = liveness._producer_recovered(produced, acked, 5.0, 20.0, limits)
    assert at == 5.5  # batch 0, offered before the heal at 5 s, answered at 5.5 s
    assert problem == violation


@pytest.mark.parametrize(("members", "checked"), [(1, False), (2, True)])
def test_a_group_the_scenario_empties_has_nothing_to_recover(members, checked):
    """remove_consumer of the only member leaves the group Empty for good, by the scenario's
    design: no group or lag item (it used to read 'never recovered' once the run outlasted the
    bounds). With a member left, both items are checked and recover."""
    d = _default(duration_s=60.0)
    d["consumer_groups"][0]["members"] = members
    d["faults"] = [{"kind": "remove_consumer", "at_s": 5.0, "group": "billing"}]
    table = sim.run(sim.Scenario.from_dict(d)).liveness
    items = set(table["item"])
    assert ({"group billing", "lag billing"} <= items) is checked
    assert (table["violation"] == "").all(), table
