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

import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from sim.results import Results

FIGSIZE_IN = (10.0, 4.0)
#: Event kinds drawn as vertical lines, their legend label and line style.
EVENT_MARKS = {
    "fault": ("fault", {"color": "tab:red", "linestyle": "--", "linewidth": 1.0}),
    "election": ("leader election", {"color": "tab:gray", "linestyle": ":", "linewidth": 0.8}),
}
EMPTY_NOTE = "no time series recorded"


def throughput_and_latency(results: Results) -> Figure:
    """Acked and consumed records/s (left axis) and p99 produce latency in ms (right axis)."""
    figure, ax = _figure(results, "throughput and p99 produce latency")
    series = results.tables["timeseries"]
    ax.set_ylabel("throughput (records/s)")
    latency = ax.twinx()
    latency.set_ylabel("p99 produce latency (ms)")
    if not _note_if_empty(ax, series):
        time = series["time_s"]
        ax.plot(time, series["acked_msgs_s"], color="tab:blue", label="acked")
        ax.plot(time, series["consumed_msgs_s"], color="tab:green", label="consumed")
        latency.plot(
            time, series["produce_latency_p99_ms"], color="tab:orange", label="p99 produce latency"
        )
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
    return figure, ax


def _single(results: Results, column: str, what: str, ylabel: str) -> Figure:
    """One timeseries column against time, with the event marks."""
    figure, ax = _figure(results, what)
    series = results.tables["timeseries"]
    ax.set_ylabel(ylabel)
    if not _note_if_empty(ax, series):
        ax.plot(series["time_s"], series[column], color="tab:purple", label=what)
    _mark_events(ax, results.tables["events"])
    _legend(ax)
    return figure


def _note_if_empty(ax: Axes, series: pd.DataFrame) -> bool:
    """Write a note on an axes without data; True when the series is empty."""
    if series.empty:
        ax.text(0.5, 0.5, EMPTY_NOTE, transform=ax.transAxes, ha="center", va="center")
    return series.empty


def _mark_events(ax: Axes, events: pd.DataFrame) -> None:
    """Vertical lines (one collection per kind) at the times of faults and of elections.

    An election is any event whose kind ends in "election" (leader_election, ...).
    """
    kinds = events["kind"].astype(str)
    chosen = {"fault": kinds == "fault", "election": kinds.str.endswith("election")}
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
        (ax, *others)[-1].legend(handles, labels, loc="upper left", fontsize="small")
