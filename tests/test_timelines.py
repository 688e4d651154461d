"""Series derived for the figures: per-interval quantiles, lag, ISR, ownership, lost records."""

from __future__ import annotations

import numpy as np
import pandas as pd

from sim.results import Results, weighted_quantile
from sim.timelines import (
    interval_quantiles,
    isr_segments,
    latency_bands,
    lost_acked_over_time,
    ownership,
    partition_lag,
)


def test_interval_quantiles_match_weighted_quantile_per_interval():
    rng = np.random.default_rng(5)
    times, values = rng.uniform(-0.5, 10.5, 500), rng.lognormal(0, 2, 500)
    weights = rng.integers(0, 5, 500).astype(float)
    edges = np.array([0.0, 1.0, 2.5, 2.6, 7.0, 10.0])
    which = np.digitize(times, edges[1:-1])
    for q in (0.0, 0.5, 0.99, 1.0):
        got = interval_quantiles(times, values, weights, edges, q)
        want = [weighted_quantile(values[which == i], weights[which == i], q) for i in range(5)]
        np.testing.assert_array_equal(got, want)
    one = interval_quantiles([0.5, 0.7], [2.0, 1.0], [1.0, 0.0], np.arange(4.0), 0.5)
    np.testing.assert_array_equal(one, [2.0, np.nan, np.nan])  # zero weight: no record


def test_latency_bands_are_per_interval_percentiles_in_ms(story):
    bands = latency_bands(story)
    assert bands["time_s"].tolist() == story.timeseries["time_s"].tolist()
    # batch 3 (15 s) acked in the first interval with batch 0 (5 ms)
    assert bands.loc[0, "produce_p50_ms"] == 5.0 and bands.loc[0, "produce_p99_ms"] == 15_000
    assert bands.loc[0, "e2e_p50_ms"] == 600.0 and bands["e2e_p99_ms"].iloc[1:].isna().all()


def test_partition_lag_is_acked_end_minus_the_groups_read_end(story):
    lag = partition_lag(story)
    p0 = lag[lag["partition"] == 0]
    assert p0["lag"].tolist() == [0] + [10] * 9  # 20 acked by 1.2 s, 10 read at 0.7 s
    assert lag.loc[lag["partition"] == 1, "lag"].tolist() == [0] * 10  # lost: nothing to read
    assert set(lag["group"]) == {"g"}


def test_isr_segments_follow_shrinks_and_expands_of_scenario_partitions(story):
    segments = isr_segments(story)
    rows = list(segments.itertuples(index=False, name=None))
    assert rows == [
        ("t", 0, 0.0, 2.0, 3),
        ("t", 0, 2.0, 3.5, 2),  # the repeated shrink at 2.5 s changes nothing
        ("t", 0, 3.5, 10.0, 3),
        ("t", 1, 0.0, 10.0, 3),
    ]


def test_ownership_from_assigned_to_revoked_crash_or_end(story):
    rows = list(ownership(story).itertuples(index=False, name=None))
    assert rows == [
        ("g", "g-0", "t", 0, 1.0, 8.0),  # kept at 5 s, crashed at 8 s
        ("g", "g-0", "t", 1, 1.0, 5.0),
        ("g", "g-1", "t", 1, 5.0, 10.0),
    ]


def test_lost_acked_over_time_reuses_the_audit(story):
    lost = lost_acked_over_time(story)
    assert lost["time_s"].tolist() == [0.9, 3.0]
    assert lost["lost_records"].tolist() == [10, 15]


def test_an_empty_run_gives_empty_series(story):
    empty = Results(story.scenario)
    for derive in (latency_bands, lost_acked_over_time, partition_lag, ownership):
        assert derive(empty).empty
    assert isr_segments(empty)["isr_size"].tolist() == [3, 3]
    assert isinstance(isr_segments(empty), pd.DataFrame)


def test_isr_segments_see_the_broker_a_controlled_shutdown_takes_out():
    """A controlled shutdown moves leaderships (an election writes the ISR without the broker)
    and takes the broker out of the other ISRs: right after it, every ISR holding it shrinks
    by one, in the rows."""
    from sim.scenario import Scenario
    from sim.world import World

    scenario = Scenario.from_dict(
        {
            "name": "shutdown",
            "duration_s": 4.0,
            "cluster": {"brokers": 3},
            "topics": [{"name": "t", "partitions": 3, "replication_factor": 3}],
            "producers": [{"name": "app", "topic": "t", "rate_msgs_s": 200}],
            "faults": [{"kind": "controlled_shutdown", "at_s": 2.0, "broker": 0}],
        }
    )
    world = World(scenario)
    world.run()
    segments = isr_segments(world.results())
    last = segments.groupby("partition")["isr_size"].last()
    assert last.tolist() == [2, 2, 2]  # broker 0 is in every ISR of RF 3 on 3 brokers
