"""Time series derived from a run's tables for the figures (:mod:`sim.plots`), vectorised.

Each function reads :data:`sim.results.TABLES` columns (never ``detail``) and returns a small
DataFrame; times are simulated seconds, offsets and lags are records:

- :func:`latency_bands`: produce and end-to-end latency percentiles per time-series interval;
- :func:`lost_acked_over_time`: acknowledged records later lost, cumulative by time acknowledged;
- :func:`partition_lag`: each group's lag on each partition it subscribes to;
- :func:`isr_segments`: each partition's ISR size over time;
- :func:`ownership`: which member of a group owned which partition when.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from sim.audit import lost_acked_batches
from sim.events import EventKind
from sim.results import Results

_PARTITION = ["topic", "partition"]
#: Latency percentiles drawn per interval, and the columns of :func:`latency_bands`.
BAND_QUANTILES = {"p50": 0.50, "p99": 0.99}


def interval_edges(results: Results) -> np.ndarray:
    """The edges of the time series' intervals, s: 0 then each interval's end (empty when the
    run has no time series)."""
    ends = results.tables["timeseries"]["time_s"].to_numpy(float)
    return np.concatenate(([0.0], ends)) if ends.size else ends


def interval_quantiles(
    times: np.ndarray, values: np.ndarray, weights: np.ndarray, edges: np.ndarray, q: float
) -> np.ndarray:
    """Per interval of ``edges``, the q-quantile of the values whose time falls in it, each
    standing for ``weights`` records (:func:`sim.results.weighted_quantile`, for all intervals
    at once); NaN for an interval without weight. Times before the first edge count in the
    first interval, after the last in the last."""
    bins = edges.size - 1
    out = np.full(max(bins, 0), np.nan)
    times, values, weights = (np.asarray(a, dtype=float) for a in (times, values, weights))
    keep = weights > 0
    if bins <= 0 or not keep.any():
        return out
    which = np.digitize(times[keep], edges[1:-1])
    order = np.lexsort((values[keep], which))
    which, values = which[order], values[keep][order]
    cumulative = np.cumsum(weights[keep][order])
    first = np.searchsorted(which, np.arange(bins), side="left")
    last = np.searchsorted(which, np.arange(bins), side="right")
    has = last > first
    before = np.where(first > 0, cumulative[np.maximum(first - 1, 0)], 0.0)
    total = cumulative[np.maximum(last - 1, 0)] - before
    index = np.searchsorted(cumulative, before + q * total, side="left")
    index = np.clip(index, first, last - 1)
    out[has] = values[index[has]]
    return out


def latency_bands(results: Results) -> pd.DataFrame:
    """Per interval (``time_s``: its end): produce latency percentiles of the batches acked in it
    without error (``produce_p50_ms``, ``produce_p99_ms``) and end-to-end ones of the records
    polled in it (``e2e_p50_ms``, ``e2e_p99_ms``), in ms, weighted by records."""
    edges = interval_edges(results)
    ok = _acked_ok(results)
    consumed = results.tables["consumed"]
    sources = {
        "produce": (ok["done_s"], ok["latency_s"], ok["count"]),
        "e2e": (consumed["polled_s"], consumed["e2e_latency_s"], consumed["count"]),
    }
    columns = {"time_s": edges[1:]}
    for name, (times, values, weights) in sources.items():
        for label, q in BAND_QUANTILES.items():
            columns[f"{name}_{label}_ms"] = 1e3 * interval_quantiles(
                times.to_numpy(float), values.to_numpy(float), weights.to_numpy(float), edges, q
            )
    return pd.DataFrame(columns)


def lost_acked_over_time(results: Results) -> pd.DataFrame:
    """Records acknowledged without error and missing from the final log (the audit's
    :func:`~sim.audit.lost_acked_batches`), cumulative: ``time_s`` each lost batch's
    acknowledgement, ``lost_records`` the records of it and of those acknowledged before."""
    tables = results.tables
    lost = lost_acked_batches(
        tables["produced"], tables["acked"], tables["log"], tables["log_offsets"]
    )
    ok = tables["acked"].loc[tables["acked"]["error"] == "", ["batch_id", "done_s"]]
    when = ok.drop_duplicates("batch_id").set_index("batch_id")["done_s"].reindex(lost.index)
    frame = pd.DataFrame({"time_s": when.to_numpy(float), "count": lost.to_numpy(np.int64)})
    frame = frame.sort_values("time_s", kind="stable")
    return pd.DataFrame(
        {"time_s": frame["time_s"].to_numpy(), "lost_records": frame["count"].cumsum().to_numpy()}
    )


def partition_lag(results: Results) -> pd.DataFrame:
    """Per interval end (``time_s``), group and partition of a topic it subscribes to: ``lag``,
    the records acknowledged (the highest end offset of a batch acknowledged without error by
    then and in the final log) beyond the furthest offset any member of the group had polled
    by then, at least 0. Records of acks=0 batches (no offset) and acknowledged records that
    were lost (:func:`~sim.audit.lost_acked_batches`: a leader truncated them, so no consumer
    could read them) are not counted."""
    tables = results.tables
    times = tables["timeseries"]["time_s"].to_numpy(float)
    keys = _subscribed(results)
    columns = ["time_s", "group", *_PARTITION, "lag"]
    if not times.size or keys.empty:
        return pd.DataFrame({c: [] for c in columns})
    grid = keys.merge(pd.DataFrame({"time_s": times}), how="cross").sort_values("time_s")
    grid = grid.astype({"group": "string", "topic": "string", "partition": "int32"})
    ok = _acked_ok(results)
    lost = lost_acked_batches(
        tables["produced"], tables["acked"], tables["log"], tables["log_offsets"]
    )
    ok = ok[(ok["base_offset"] >= 0) & ~ok["batch_id"].isin(lost.index)]
    acks = _running_end(ok, "done_s", _PARTITION).rename(columns={"end": "acked_end"})
    consumed = tables["consumed"]
    reads = _running_end(consumed, "polled_s", ["group", *_PARTITION])
    grid = pd.merge_asof(grid, acks, on="time_s", by=_PARTITION)
    grid = pd.merge_asof(grid, reads, on="time_s", by=["group", *_PARTITION])
    lag = (grid["acked_end"].fillna(0) - grid["end"].fillna(0)).clip(lower=0)
    grid["lag"] = lag.astype(np.int64)
    return grid[columns].sort_values(["group", *_PARTITION, "time_s"]).reset_index(drop=True)


def isr_segments(results: Results) -> pd.DataFrame:
    """Each partition's ISR size (``isr_size``) from ``start_s`` to ``end_s``: the replication
    factor at the start, then one fewer per ``isr_shrink`` row and one more per ``isr_expand``
    row of a broker (its ``broker`` column; a repeated row for a broker already out, or in,
    changes nothing), until the run's end."""
    events = results.tables["events"]
    rows = events[events["kind"].isin([EventKind.ISR_SHRINK, EventKind.ISR_EXPAND])]
    factors = _replication_factors(results)
    rows = rows[["time_s", *_PARTITION, "broker", "kind"]].merge(factors[_PARTITION])
    rows = rows.sort_values("time_s", kind="stable")
    inside = rows["kind"] == EventKind.ISR_EXPAND
    before = inside.groupby([rows["topic"], rows["partition"], rows["broker"]]).shift(
        fill_value=True
    )
    delta = inside.astype(int) - before.astype(int)
    starts = factors.assign(time_s=0.0, delta=factors["factor"])[["time_s", *_PARTITION, "delta"]]
    changes = pd.concat([starts, rows.assign(delta=delta)[starts.columns]], ignore_index=True)
    changes = changes.sort_values([*_PARTITION, "time_s"], kind="stable")
    changes["isr_size"] = changes.groupby(_PARTITION)["delta"].cumsum()
    changes = changes.drop_duplicates([*_PARTITION, "time_s"], keep="last")
    same = changes.groupby(_PARTITION)["isr_size"].shift() == changes["isr_size"]
    changes = changes[~same]
    following = changes.groupby(_PARTITION)["time_s"].shift(-1)
    changes["end_s"] = following.fillna(results.scenario.duration_s)
    out = changes.rename(columns={"time_s": "start_s"})
    return out[[*_PARTITION, "start_s", "end_s", "isr_size"]].reset_index(drop=True)


def ownership(results: Results) -> pd.DataFrame:
    """When each member owned each partition (group, member, topic, partition, start_s,
    end_s): from an ``assignments`` row ``assigned`` to its next ``revoked`` or ``lost`` row,
    the member's crash (a ``fault`` row of fault ``crash_consumer`` at its node), or the run's
    end."""
    rows = results.tables["assignments"]
    key = ["group", "member", *_PARTITION]
    columns = [*key, "start_s", "end_s"]
    if rows.empty:
        return pd.DataFrame({c: [] for c in columns})
    events = results.tables["events"]
    crashes = events.loc[
        (events["kind"] == EventKind.FAULT) & (events["fault"] == "crash_consumer"),
        ["time_s", "node"],
    ].rename(columns={"node": "member"})
    ends = rows[key].drop_duplicates().merge(crashes, on="member").assign(action="crashed")
    steps = pd.concat([rows[["time_s", *key, "action"]], ends], ignore_index=True)
    steps = steps.sort_values("time_s", kind="stable")
    owned = steps["action"] == "assigned"
    before = owned.groupby([steps[k] for k in key]).shift(fill_value=False)
    turns = steps[owned != before].assign(owned=owned[owned != before])
    turns["n"] = turns.groupby([*key, "owned"]).cumcount()
    starts = turns[turns["owned"]].rename(columns={"time_s": "start_s"})
    stops = turns[~turns["owned"]].rename(columns={"time_s": "end_s"})
    spans = starts.merge(stops[[*key, "n", "end_s"]], on=[*key, "n"], how="left")
    spans["end_s"] = spans["end_s"].fillna(results.scenario.duration_s)
    return spans[columns].sort_values(columns).reset_index(drop=True)


def _acked_ok(results: Results) -> pd.DataFrame:
    """The rows of ``acked`` without error, with their batch's topic, partition and count."""
    acked, produced = results.tables["acked"], results.tables["produced"]
    ok = acked[acked["error"] == ""]
    meta = produced.drop_duplicates("batch_id").set_index("batch_id")[[*_PARTITION, "count"]]
    return ok.join(meta, on="batch_id", how="inner")


def _running_end(rows: pd.DataFrame, time: str, by: list[str]) -> pd.DataFrame:
    """Per ``by`` and time: the highest end offset (base_offset + count) of the rows so far,
    as ``time_s`` and ``end``, sorted by time (for merge_asof)."""
    frame = rows[[*by, time]].assign(end=rows["base_offset"] + rows["count"])
    frame = frame.sort_values(time, kind="stable").rename(columns={time: "time_s"})
    frame["end"] = frame.groupby(by)["end"].cummax()
    return frame


def _subscribed(results: Results) -> pd.DataFrame:
    """(group, topic, partition) of every partition a scenario group subscribes to."""
    counts = {t.name: int(t.partitions or 0) for t in results.scenario.topics}
    rows = [
        (group.group_id, topic, p)
        for group in results.scenario.consumer_groups
        for topic in group.topics
        for p in range(counts.get(topic, 0))
    ]
    return pd.DataFrame(rows, columns=["group", *_PARTITION])


def _replication_factors(results: Results) -> pd.DataFrame:
    """(topic, partition, factor) of every partition of the scenario's topics."""
    rows = [
        (t.name, p, int(t.replication_factor or 0))
        for t in results.scenario.topics
        for p in range(int(t.partitions or 0))
    ]
    frame = pd.DataFrame(rows, columns=[*_PARTITION, "factor"])
    return frame.astype({"topic": "string", "partition": "int32"})
