"""A Connect worker crash under a mirror (``crash_mirror_worker``): the tasks restart from the
source offsets Connect last flushed (``offset.flush.interval.ms``), so what they had mirrored
since is mirrored again (at-least-once), nothing is missed and order holds within the re-sent
records; the mirror recovers within its liveness bound (the autouse fixture).

Claims hold for any seed and crash time (hypothesis draws them); each run is capped in events."""

from __future__ import annotations

import copy
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sim.errors import ScenarioError
from sim.multi_cluster import MultiClusterWorld
from sim.results import Results
from sim.scenario import Scenario

EVENT_CAP = 3_000_000
RATE = 800  # records/s, evenly spaced (constant arrivals: a window's count is known)
FLUSH_S = 2.0
STOP_S = 10.0

REGIONS = {
    "name": "mirror_worker",
    "duration_s": 16.0,
    "clusters": [{"name": "east", "brokers": 3}, {"name": "west", "brokers": 3}],
    "wan": {"rtt_ms": 40, "bandwidth_gbps": 0.02},
    "topics": [{"name": "orders", "cluster": "east", "partitions": 3, "replication_factor": 3}],
    "producers": [{"name": "app", "topic": "orders", "cluster": "east", "rate_msgs_s": RATE,
                   "message_bytes": 1000, "stop_s": STOP_S, "arrival": {"kind": "constant"}}],
    "mirrors": [{"source": "east", "target": "west",
                 "config": {"tasks.max": 2, "offset.flush.interval.ms": int(FLUSH_S * 1000)}}],
}  # fmt: skip


def _run(crash_s: float, seed: int, **fault) -> Results:
    data = copy.deepcopy(REGIONS)
    data["faults"] = [{"kind": "crash_mirror_worker", "mirror": "east->west", "at_s": crash_s,
                       "restart_after_s": 1.0, **fault}]  # fmt: skip
    world = MultiClusterWorld(Scenario.from_dict({**data, "seed": seed}))
    world.env.event_limit = EVENT_CAP
    world.run()
    return world.results()


def _remote_runs(r: Results) -> dict[int, tuple[np.ndarray, np.ndarray]]:
    """Per partition of west/east.orders, its final log's source offsets as runs [start, end)
    in stored order."""
    log = r.log[r.log["topic"] == "west/east.orders"]
    stored = log.merge(r.mirrored_batches, on="batch_id", suffixes=("", "_run"))
    stored = stored.sort_values(["partition", "base_offset", "index"], kind="stable")
    out = {}
    for partition, rows in stored.groupby("partition"):
        start = rows["source_offset"].to_numpy(np.int64)
        out[partition] = (start, start + rows["count_run"].to_numpy(np.int64))
    return out


def _flushed_ends(r: Results, flush_s: float) -> dict[int, int]:
    """Per source partition, the offset after the last record the mirror's producers had
    acknowledged by ``flush_s`` (acknowledgements of a partition come in order: one request
    in flight): where a task restarted after that flush resumes."""
    acked = r.acked[(r.acked["error"] == "") & (r.acked["done_s"] <= flush_s)]
    runs = r.mirrored_batches[r.mirrored_batches["batch_id"].isin(acked["batch_id"])]
    ends = (runs["source_offset"] + runs["count"]).groupby(runs["source_partition"]).max()
    return {p: int(ends.get(p, 0)) for p in range(3)}


@settings(max_examples=4, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), crash_s=st.floats(1.0, 8.0))
def test_a_worker_crash_re_sends_from_the_last_flush_and_misses_nothing(seed, crash_s):
    """Each remote partition goes back once, to the offset after the last one flushed before
    the crash, and goes on in order; the duplicates are what was mirrored after that flush,
    at most the records east took in since (the flush, less the mirror's lag then) and the
    crash; every source record is mirrored, none missing, none out of order."""
    r = _run(crash_s, seed)
    flush_s = math.floor(crash_s / FLUSH_S) * FLUSH_S  # flushes every FLUSH_S from the start
    resumed = _flushed_ends(r, flush_s)
    duplicates = 0
    for partition, (start, end) in _remote_runs(r).items():
        back = np.flatnonzero(start[1:] < end[:-1])
        assert len(back) <= 1
        if len(back):
            assert start[back[0] + 1] == resumed[partition]
            duplicates += int(end[back[0]] - resumed[partition])
    summary = r.summary()
    assert summary["mirror_duplicate_messages"] == duplicates
    lag = r.mirrors[r.mirrors["time_s"] <= crash_s]
    lag_s = float(lag["lag_s"].max()) + float(lag["time_s"].min())  # and a sampling interval
    assert duplicates <= RATE * (crash_s - flush_s + lag_s) + 3  # 3: a record per partition
    if crash_s - flush_s > lag_s:
        assert duplicates > 0
    source = r.log.loc[r.log["topic"] == "east/orders", "count"].sum()
    assert summary["mirrored_messages"] == source
    assert summary["mirror_missing_messages"] == 0
    assert summary["mirror_out_of_order"] == 0
    row = r.liveness.set_index("item").loc["mirror east->west"]
    assert row["violation"] == "" and not math.isnan(row["recovered_s"])


def test_one_task_crashes_alone_and_the_events_name_it():
    """``task: 1`` crashes task 1's worker only: a fault row at the crash and a fault_end at
    the restart, both naming its node in the target cluster; task 0 never goes back."""
    r = _run(5.5, 3, task=1)
    rows = r.events[r.events["fault"] == "crash_mirror_worker"]
    assert list(zip(rows["kind"], rows["time_s"], rows["node"], strict=True)) == [
        ("fault", 5.5, "west/mirror-east-west-1"),
        ("fault_end", 6.5, "west/mirror-east-west-1"),
    ]
    runs = _remote_runs(r)
    for partition in (0, 2):  # task 0's partitions (dealt round robin)
        start, end = runs[partition]
        assert (start[1:] == end[:-1]).all()
    assert r.summary()["mirror_duplicate_messages"] > 0


@pytest.mark.parametrize(
    ("fault", "path"),
    [
        ({"mirror": "west->east"}, "faults.0.mirror"),
        ({"mirror": "east->west", "task": 2}, "faults.0.task"),
    ],
)
def test_a_worker_crash_names_a_mirror_and_one_of_its_tasks(fault, path):
    data = copy.deepcopy(REGIONS)
    data["faults"] = [{"kind": "crash_mirror_worker", "at_s": 1.0, **fault}]
    with pytest.raises(ScenarioError) as error:
        Scenario.from_dict(data)
    assert error.value.path == path
