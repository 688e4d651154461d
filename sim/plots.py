"""The standard figures of a run, drawn from its tables after the run (the model never plots),
and of a sweep, drawn from its statistics (:func:`sweep_metric`).

Each figure reads only ``results.tables["timeseries"]`` and ``results.tables["events"]``
(:data:`sim.results.TABLES`), is titled with the scenario's name, has time in simulated seconds on
the x axis, and marks faults (red dashed) and leader elections (grey dotted) with vertical lines
(one collection per kind in ``ax.collections``; the data lines are ``ax.lines``). Figures use
matplotlib's object-oriented API (no pyplot state, nothing to close) and are written as PNG by
the Agg renderer. With an empty time series a figure shows a note instead of lines.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator, StrMethodFormatter

from sim.events import ELECTIONS, FAULT_ROWS
from sim.results import Results
from sim.sweep import grid_columns

FIGSIZE_IN = (10.0, 4.0)
#: Event kinds drawn as vertical lines, their legend label and line style.
EVENT_MARKS = {
    "fault": ("fault", {"color": "tab:red", "linestyle": "--", "linewidth": 1.0}),
    "election": ("leader election", {"color": "tab:gray", "linestyle": ":", "linewidth": 0.8}),
}
EMPTY_NOTE = "no time series recorded"
ZERO_NOTE = "0 throughout the run"
LATENCY_COLOR = "tab:orange"
THOUSANDS = StrMethodFormatter("{x:,.0f}")
#: Summary fields drawn by :func:`save_sweep_plots` (those a sweep measured).
SWEEP_METRICS = (
    "throughput_msgs_s",
    "produce_latency_p50_ms",
    "produce_latency_p99_ms",
    "e2e_latency_p99_ms",
    "lost_acked_messages",
    "unavailable_partition_s",
)
CI_ALPHA = 0.2


def throughput_and_latency(results: Results) -> Figure:
    """Acked and consumed records/s (left axis) and p99 produce latency in ms (right axis).

    Both axes start at 0 (so noise is not blown up into swings); the throughput lines sit in
    the upper part of the plot and the latency line, in its axis' colour, in the lower half.
    """
    figure, ax = _figure(results, "throughput and p99 produce latency")
    series = results.tables["timeseries"]
    ax.set_ylabel("throughput (records/s)")
    ax.yaxis.set_major_formatter(THOUSANDS)
    latency = ax.twinx()
    latency.set_ylabel("p99 produce latency (ms)", color=LATENCY_COLOR)
    latency.tick_params(axis="y", colors=LATENCY_COLOR)
    if not _note_if_empty(ax, series):
        time = series["time_s"]
        ax.plot(time, series["acked_msgs_s"], color="tab:blue", linewidth=1.6, label="acked")
        ax.plot(
            time,
            series["consumed_msgs_s"],
            color="tab:green",
            linewidth=1.0,
            linestyle="--",
            label="consumed",
        )
        latency.plot(
            time,
            series["produce_latency_p99_ms"],
            color=LATENCY_COLOR,
            linewidth=1.0,
            label="p99 produce latency",
        )
        _from_zero(ax, series[["acked_msgs_s", "consumed_msgs_s"]], headroom=1.3)
        _from_zero(latency, series[["produce_latency_p99_ms"]], headroom=2.2)
    _mark_events(ax, results.tables["events"])
    _legend(ax, latency)
    return figure


def consumer_lag(results: Results) -> Figure:
    """The largest lag of any group on any partition, in records, over time."""
    return _single(results, "max_consumer_lag", "max consumer lag", "max consumer lag (records)")


def under_replicated(results: Results) -> Figure:
    """The number of partitions whose ISR is smaller than the replication factor, over time."""
    return _single(
        results,
        "under_replicated_partitions",
        "under-replicated partitions",
        "under-replicated partitions (count)",
    )


def save_standard_plots(results: Results, directory: str | Path) -> list[Path]:
    """Write throughput_latency.png, consumer_lag.png and under_replicated.png; their paths."""
    out = Path(directory)
    out.mkdir(parents=True, exist_ok=True)
    figures = {
        "throughput_latency.png": throughput_and_latency(results),
        "consumer_lag.png": consumer_lag(results),
        "under_replicated.png": under_replicated(results),
    }
    for name, figure in figures.items():
        figure.savefig(out / name)
    return [out / name for name in figures]


def sweep_metric(stats: pd.DataFrame, metric: str, x: str | None = None, name: str = "") -> Figure:
    """One summary field against a grid path: the mean over seeds, one line per combination of
    the other paths (the legend names them), and the confidence band from lo to hi.

    stats: :func:`sim.sweep.sweep_stats` of a sweep table; x: the path on the x axis (default
    the grid's first). Numeric values are placed by value, others evenly in grid order. A
    sweep without a grid is one point with its interval as an error bar.
    """
    paths = grid_columns(stats)
    rows = stats[stats["metric"] == metric]
    if rows.empty:
        raise ValueError(f"no metric {metric!r} in these statistics")
    figure = Figure(figsize=FIGSIZE_IN, layout="constrained")
    ax = figure.add_subplot()
    n = rows["n"].max()
    title = f"{metric}: mean over {n} seeds, band: confidence interval"
    ax.set_title(f"{name}: {title}" if name else title)
    ax.set_ylabel(metric)
    if not paths:
        ax.errorbar([0], rows["mean"], yerr=_half_widths(rows), fmt="o", capsize=4)
        ax.set_xticks([0], ["all runs"])
        return figure
    x = x or paths[0]
    others = [p for p in paths if p != x]
    positions, labels = _positions(rows[x])
    if labels:
        ax.set_xticks(range(len(labels)), labels)
    ax.set_xlabel(x)
    series = rows.groupby(others, sort=False, dropna=False) if others else [((), rows)]
    for key, group in series:
        where = positions.loc[group.index]
        order = np.argsort(where.to_numpy(), kind="stable")
        at, part = where.to_numpy()[order], group.iloc[order]
        values = key if isinstance(key, tuple) else (key,)
        label = ", ".join(f"{p}={v}" for p, v in zip(others, values, strict=True))
        (line,) = ax.plot(at, part["mean"], marker="o", label=label or metric)
        ax.fill_between(at, part["lo"], part["hi"], color=line.get_color(), alpha=CI_ALPHA)
    if others:
        ax.legend(fontsize="small", frameon=False)
    return figure


def save_sweep_plots(stats: pd.DataFrame, directory: str | Path, name: str = "") -> list[Path]:
    """Write ``sweep_<metric>.png`` for each of :data:`SWEEP_METRICS` the sweep measured (a
    finite mean somewhere); their paths."""
    out = Path(directory)
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for metric in SWEEP_METRICS:
        means = stats.loc[stats["metric"] == metric, "mean"]
        if np.isfinite(means.to_numpy(dtype=float)).any():
            sweep_metric(stats, metric, name=name).savefig(out / f"sweep_{metric}.png")
            written.append(out / f"sweep_{metric}.png")
    return written


def _positions(values: pd.Series) -> tuple[pd.Series, list[str]]:
    """x positions of a grid path's values and the tick labels: the values themselves when
    numeric (no labels), else 0, 1, ... in order of first appearance, labelled by value."""
    if pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values):
        return values.astype(float), []
    text = values.astype(str)
    labels = list(dict.fromkeys(text))
    return text.map({v: float(i) for i, v in enumerate(labels)}), labels


def _half_widths(rows: pd.DataFrame) -> np.ndarray:
    """Distances from the mean down to lo and up to hi, as errorbar's yerr (2 × n)."""
    mean = rows["mean"].to_numpy(dtype=float)
    return np.vstack(
        [mean - rows["lo"].to_numpy(dtype=float), rows["hi"].to_numpy(dtype=float) - mean]
    )


def _figure(results: Results, what: str) -> tuple[Figure, Axes]:
    figure = Figure(figsize=FIGSIZE_IN, layout="constrained")
    ax = figure.add_subplot()
    ax.set_title(f"{results.scenario.name}: {what}")
    ax.set_xlabel("simulated time (s)")
    ax.set_xlim(0, results.scenario.duration_s)
    return figure, ax


def _single(results: Results, column: str, what: str, ylabel: str) -> Figure:
    """One timeseries column (a count) against time, from 0 with integer ticks, event marks."""
    figure, ax = _figure(results, what)
    series = results.tables["timeseries"]
    ax.set_ylabel(ylabel)
    ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    ax.yaxis.set_major_formatter(THOUSANDS)
    if not _note_if_empty(ax, series):
        values = series[column]
        ax.plot(series["time_s"], values, color="tab:purple", label=what)
        _from_zero(ax, series[[column]], headroom=1.3, at_least=1.0)
        bottom, top = ax.get_ylim()
        ax.set_ylim(bottom - 0.03 * top, top)  # a line at 0 stays visible above the x axis
        if not values.fillna(0).any():
            ax.text(0.5, 0.5, ZERO_NOTE, transform=ax.transAxes, ha="center", va="center")
    _mark_events(ax, results.tables["events"])
    _legend(ax)
    return figure


def _from_zero(ax: Axes, columns: pd.DataFrame, headroom: float, at_least: float = 0.0) -> None:
    """Y axis from 0 to ``headroom`` × the largest value (NaN ignored), leaving room on top for
    the legend; ``at_least`` keeps an all-zero series from getting a meaningless range."""
    top = float(np.nanmax(columns.to_numpy(dtype=float), initial=0.0))
    top = max(top * headroom, at_least)
    if top > 0:
        ax.set_ylim(0, top)


def _note_if_empty(ax: Axes, series: pd.DataFrame) -> bool:
    """Write a note on an axes without data; True when the series is empty."""
    if series.empty:
        ax.text(0.5, 0.5, EMPTY_NOTE, transform=ax.transAxes, ha="center", va="center")
    return series.empty


def _mark_events(ax: Axes, events: pd.DataFrame) -> None:
    """Vertical lines (one collection per kind) at the times of faults and of elections.

    Faults are the rows of their lifecycle (injected, stopped, ended, skipped); elections are
    clean and unclean ones.
    """
    kinds = events["kind"].astype(str)
    chosen = {"fault": kinds.isin(FAULT_ROWS), "election": kinds.isin(ELECTIONS)}
    for mark, rows in chosen.items():
        times = events.loc[rows, "time_s"].unique()
        if times.size:
            label, style = EVENT_MARKS[mark]
            ax.vlines(times, 0, 1, transform=ax.get_xaxis_transform(), label=label, **style)


def _legend(ax: Axes, *others: Axes) -> None:
    """One legend for the lines of ``ax`` and of its twins, on the topmost (last) of them."""
    handles, labels = [], []
    for axes in (ax, *others):
        h, lab = axes.get_legend_handles_labels()
        handles, labels = handles + h, labels + lab
    if handles:
        (ax, *others)[-1].legend(
            handles, labels, loc="upper left", ncols=len(handles), fontsize="small", frameon=False
        )
