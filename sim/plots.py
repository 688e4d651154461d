"""The standard figures of a run, drawn from its tables after the run (the model never plots).

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
