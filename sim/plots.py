"""The standard figures of a run, drawn from its tables after the run (the model never plots).

Each figure function takes :class:`~sim.results.Results` and returns a matplotlib Figure titled
with the scenario's name, with time in simulated seconds on the x axis from 0 to the run's
duration: :func:`throughput`, :func:`latency`, :func:`latency_cdf`, :func:`consumer_lag`,
:func:`isr`, :func:`rebalance_timeline`, :func:`lost_acked`, :func:`mirror_lag` (several
clusters), and :func:`dashboard` (their time
panels stacked, also ``Results.plot()``). The derived series come from :mod:`sim.timelines`.

Time panels mark what happened (:func:`mark_events`), from the ``events`` columns only: fault
rows as vertical lines, one colour per fault kind (the ``fault`` column) and one line style per
step of its lifecycle (injected solid, broker stopped dash-dot, ended dashed, a rolling
restart's step done dotted); leader elections grey dotted (unclean ones black); rebalances as
shaded spans. Legends sit outside the axes, on the right. Figures use matplotlib's
object-oriented API (no pyplot state, nothing to close) and are written as PNG by the Agg
renderer. A panel without data shows a note instead. Sweeps have their own figure,
:func:`sweep_metric`
(a summary field against a grid path, with confidence bands), written by :func:`save_sweep_plots`.
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.patches import Patch
from matplotlib.ticker import StrMethodFormatter

from sim.availability import rebalance_spans
from sim.disk import DIRTY_RATIO
from sim.events import ELECTIONS, FAULT_ROWS, EventKind
from sim.results import Results, weighted_quantile
from sim.sweep import CONFIDENCE, grid_columns
from sim.timelines import (
    isr_segments,
    latency_bands,
    lost_acked_over_time,
    ownership,
    partition_lag,
)

FIGSIZE_IN = (11.0, 4.0)
PANEL_HEIGHT_IN = 2.6
EMPTY_NOTE = "nothing recorded"
THOUSANDS = StrMethodFormatter("{x:,.0f}")
#: Colour of each fault kind's lines (the events ``fault`` column).
FAULT_COLORS = {
    "crash_broker": "tab:red",
    "power_loss": "darkred",
    "controlled_shutdown": "tab:orange",
    "rolling_restart": "darkorange",
    "pause": "tab:purple",
    "zookeeper_expire": "tab:brown",
    "network_partition": "magenta",
    "slow_disk": "olive",
    "slow_network": "olive",
    "drop_messages": "tab:pink",
    "crash_consumer": "tab:cyan",
    "add_consumer": "teal",
    "remove_consumer": "teal",
    "add_producer": "tab:blue",
    "wan_partition": "darkmagenta",
    "slow_wan": "goldenrod",
    "crash_mirror_worker": "tab:green",
}
#: Line style and width of each lifecycle row of a fault.
FAULT_STEPS = {
    EventKind.FAULT: ("-", 1.6),
    EventKind.BROKER_STOPPED: ("-.", 1.2),
    EventKind.FAULT_END: ("--", 1.2),
    EventKind.ROLLING_STEP: (":", 1.4),
    EventKind.FAULT_SKIPPED: (":", 0.8),
}
#: What a fault's end is, by fault kind, in legends ("end" for the others).
END_WORDS = {
    "crash_broker": "restart",
    "power_loss": "restart",
    "controlled_shutdown": "restart",
    "rolling_restart": "restart",
    "crash_consumer": "restart",
    "pause": "resume",
    "network_partition": "heal",
    "wan_partition": "heal",
    "crash_mirror_worker": "restart",
}
REBALANCE_COLOR = "tab:cyan"
PRODUCE_COLOR, E2E_COLOR = "tab:orange", "tab:purple"
#: Colour of a partition's ISR row by how many replicas are out of it (0, 1, 2 or more).
ISR_COLORS = ("#8fd18f", "gold", "tab:red")
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
#: Longest grid value a sweep figure writes as it is on a tick or in its legend (characters);
#: when a path has a longer one, its values are numbered and spelt out under the axis.
MAX_VALUE_CHARS = 16
#: Longest text of a numbered value spelt out under the axis (characters).
MAX_KEY_CHARS = 140
#: Height a line of that key adds to the figure (inches).
KEY_LINE_IN = 0.2


# ------------------------------------------------------------------ figures


def throughput(results: Results) -> Figure:
    """Records/s produced, acknowledged and consumed per interval, with the run's events."""
    return _one_panel(results, "throughput", _draw_throughput)


def latency(results: Results) -> Figure:
    """p50 and p99 produce and end-to-end latency per interval, ms on a log axis."""
    return _one_panel(results, "latency per interval", _draw_latency)


def consumer_lag(results: Results) -> Figure:
    """Each group's lag per partition (records), one panel per group."""
    groups = [g.group_id for g in results.scenario.consumer_groups] or [""]
    figure, axes = _panels(results, "consumer lag per partition", len(groups))
    lag = partition_lag(results)
    for ax, group in zip(axes, groups, strict=True):
        _draw_lag(ax, results, lag[lag["group"] == group] if group else lag)
        ax.set_title(f"group {group}" if group else "no consumer group", fontsize="medium")
    return figure


def isr(results: Results) -> Figure:
    """Under-replicated partitions over time (from the time series) above each partition's ISR
    size (rebuilt from the isr_shrink / isr_expand rows) and its windows without a leader."""
    figure, (top, rows) = _panels(results, "ISR and under-replicated partitions", 2, (1, 2))
    _draw_urp(top, results)
    _draw_isr(rows, results)
    return figure


def rebalance_timeline(results: Results) -> Figure:
    """One row per group member: the partitions it owned over time, one colour per partition."""
    return _one_panel(results, "partition ownership per member", _draw_ownership)


def lost_acked(results: Results) -> Figure:
    """Records acknowledged and then lost (not in the final log), cumulative by ack time."""
    return _one_panel(results, "acknowledged records lost", _draw_lost)


def resources(results: Results) -> Figure:
    """Each broker's NIC, out and in, as a fraction of its line rate, its disk appends (MB/s),
    its page cache's data not yet on disk (MB, with a line at Linux's ``dirty_ratio`` limit,
    above which its log appends wait for the disk) and its CPU use (cores busy, with a line at
    the brokers' cores when set) per interval (the ``nodes`` table): which resource a saturated
    run runs out of."""
    figure, axes = _panels(results, "broker NICs, disks and CPUs", 5)
    nodes = results.tables["nodes"]
    brokers = nodes[nodes["node"].str.contains(r"(?:^|/)broker-\d+$", regex=True)]
    panels = {
        "NIC out (of line rate)": "nic_out_utilisation",
        "NIC in (of line rate)": "nic_in_utilisation",
        "disk appends (MB/s)": "disk_append_mb_s",
        "page cache not yet on disk (MB; dotted: dirty_ratio limit)": "dirty_mb",
        "CPU (cores busy)": "cpu_busy",
    }
    # by cluster, then by broker number (broker-2 before broker-10)
    names = sorted(brokers["node"].unique(), key=lambda n: (n.rpartition("/")[0], len(n), n))
    colors = dict(zip(names, _partition_colors(len(names)), strict=True))
    limits = {"cpu_busy": _cores(brokers)}  # dotted lines: what each panel cannot pass
    if not brokers.empty:
        limits.update(
            nic_out_utilisation=[1.0], nic_in_utilisation=[1.0], dirty_mb=_dirty_limits_mb(results)
        )
    for i, (ax, (title, column)) in enumerate(zip(axes, panels.items(), strict=True)):
        ax.set_title(title, fontsize="medium")
        if brokers.empty:
            _note(ax, EMPTY_NOTE)
        for name in names:
            rows = brokers[brokers["node"] == name]
            ax.plot(rows["time_s"], rows[column], label=name, color=colors[name], linewidth=1.0)
        for limit in limits.get(column, []):
            ax.axhline(limit, color="0.5", linewidth=0.8, linestyle=":", zorder=0)
        ax.set_ylim(bottom=0)
        drawn = mark_events(ax, results)
        _legend(ax, skip=() if i == 0 else drawn)
    return figure


def _dirty_limits_mb(results: Results) -> list[float]:
    """The distinct dirty data limits of the brokers' page caches (MB): Linux's
    ``dirty_ratio`` × ``page_cache_mb`` of each cluster's hardware and its per-broker
    overrides (:class:`sim.disk.Disk`)."""
    pages = set()
    for cluster in results.scenario.all_clusters:
        hardware = cluster.hardware
        pages.add(hardware.page_cache_mb)
        pages.update(o.page_cache_mb for o in hardware.per_broker.values() if o.page_cache_mb)
    return sorted(DIRTY_RATIO * mb for mb in pages)


def _cores(nodes: pd.DataFrame) -> list[float]:
    """The distinct core counts of ``nodes`` (rows of the ``nodes`` table), from the intervals
    that used their CPU: cpu_busy over cpu_utilisation (NaN when cores are not set)."""
    used = nodes[nodes["cpu_utilisation"] > 0]
    return sorted((used["cpu_busy"] / used["cpu_utilisation"]).round().unique())


def mirror_lag(results: Results) -> Figure:
    """Each mirror's replication lag (the ``mirrors`` table) per interval: the records its
    source partitions hold that its remote topics do not yet (summed over partitions) above
    the age of the oldest of them (the largest over partitions, s)."""
    figure, (records, seconds) = _panels(results, "replication lag per mirror", 2)
    lag = results.tables["mirrors"]
    per_mirror = lag.groupby(["mirror", "time_s"], sort=True).agg(
        lag_records=("lag_records", "sum"), lag_s=("lag_s", "max")
    )
    records.set_ylabel("lag (records)")
    records.yaxis.set_major_formatter(THOUSANDS)
    seconds.set_ylabel("oldest not mirrored (s)")
    for ax in (records, seconds):
        if lag.empty:
            _note(ax, "no mirror")
    for mirror, rows in per_mirror.groupby(level="mirror"):
        times = rows.index.get_level_values("time_s")
        records.plot(times, rows["lag_records"], linewidth=1.0, label=mirror)
        seconds.plot(times, rows["lag_s"], linewidth=1.0, label=mirror)
    for i, ax in enumerate((records, seconds)):
        ax.set_ylim(bottom=0)
        drawn = mark_events(ax, results, names=i == 0)
        _legend(ax, skip=() if i == 0 else drawn)
    return figure


def latency_cdf(results: Results) -> Figure:
    """The distributions of produce and end-to-end latency over records (ms, log axis): those
    of the summary's percentiles (:meth:`~sim.results.Results.latency_samples`, the records
    sent from ``warmup_s`` on), p50 and p99 in the legend."""
    figure = Figure(figsize=FIGSIZE_IN, layout="constrained")
    ax = figure.add_subplot()
    warmup = f", sent from {results.scenario.warmup_s:g} s on" if results.scenario.warmup_s else ""
    ax.set_title(f"{results.scenario.name}: latency CDF (weighted by records{warmup})")
    samples = results.latency_samples()
    for label, key, color in (
        ("produce", "produce", PRODUCE_COLOR),
        ("end-to-end", "e2e", E2E_COLOR),
    ):
        seconds, weights = samples[key]
        _draw_cdf(ax, 1e3 * seconds, weights, label, color)
    ax.set_xlabel("latency (ms, log scale)")
    ax.set_ylabel("fraction of records")
    ax.set_ylim(0, 1.02)
    if ax.lines:
        ax.set_xscale("log")
        for q in (0.5, 0.99):
            ax.axhline(q, color="lightgray", linewidth=0.8, linestyle=":", zorder=0)
        _legend(ax)
    else:
        _note(ax, EMPTY_NOTE)
    return figure


def dashboard(results: Results) -> Figure:
    """The time panels stacked on one time axis: throughput, latency, lag (all groups), ISR,
    ownership (when there were consumers) and lost records (when any)."""
    draws: list[tuple[str, Callable[..., None]]] = [
        ("throughput", _draw_throughput),
        ("latency per interval", _draw_latency),
        (
            "consumer lag per partition",
            lambda ax, r, marks: _draw_lag(ax, r, partition_lag(r), marks),
        ),
        ("ISR size per partition", _draw_isr),
    ]
    if not results.tables["assignments"].empty:
        draws.append(("partition ownership per member", _draw_ownership))
    if not lost_acked_over_time(results).empty:
        draws.append(("acknowledged records lost", _draw_lost))
    figure, axes = _panels(results, "dashboard", len(draws))
    for i, (ax, (title, draw)) in enumerate(zip(axes, draws, strict=True)):
        draw(ax, results, marks=i == 0)  # the events' legend once, on top
        ax.set_title(title, fontsize="medium")
    return figure


#: The figures :func:`save_standard_plots` writes for every run, by file name.
FIGURES: dict[str, Callable[[Results], Figure]] = {
    "dashboard.png": dashboard,
    "throughput.png": throughput,
    "latency.png": latency,
    "latency_cdf.png": latency_cdf,
    "consumer_lag.png": consumer_lag,
    "isr.png": isr,
    "resources.png": resources,
}
#: The figures it writes only when the run has what they show: (figure, the run has it).
OPTIONAL_FIGURES: dict[str, tuple[Callable[[Results], Figure], Callable[[Results], bool]]] = {
    "rebalances.png": (rebalance_timeline, lambda r: not r.tables["assignments"].empty),
    "lost_acked.png": (lost_acked, lambda r: not lost_acked_over_time(r).empty),
    "mirrors.png": (mirror_lag, lambda r: bool(r.scenario.mirrors)),
}
#: File name of a sweep's figure of one summary field (:func:`save_sweep_plots`).
SWEEP_FIGURE = "sweep_{metric}.png"


def save_standard_plots(results: Results, directory: str | Path) -> list[Path]:
    """Write each of :data:`FIGURES` and those of :data:`OPTIONAL_FIGURES` the run has
    (rebalances.png when it had consumers, lost_acked.png when it lost acknowledged records,
    mirrors.png when it had mirrors); their paths."""
    out = Path(directory)
    out.mkdir(parents=True, exist_ok=True)
    figures = dict(FIGURES)
    figures.update({name: draw for name, (draw, has) in OPTIONAL_FIGURES.items() if has(results)})
    for name, draw in figures.items():
        draw(results).savefig(out / name)
    return [out / name for name in figures]


# ------------------------------------------------------------------ panels


def sweep_metric(stats: pd.DataFrame, metric: str, x: str | None = None, name: str = "") -> Figure:
    """One summary field against a grid path: the mean over seeds, one line per combination of
    the other paths (the legend names them), and the confidence band from lo to hi (its level
    in the title, from the statistics' ``attrs``). The y axis starts at 0 at the lowest: every
    summary field is a count, a duration, a latency or a rate, so a band's part below 0 (a
    few lost records over few seeds) is cut.

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
    level = stats.attrs.get(CONFIDENCE)
    band = f"{100 * level:g} % confidence interval of the mean" if level else "lo to hi"
    title = f"{metric}: mean over {n} seeds, band: {band}"
    ax.set_title(f"{name}: {title}" if name else title)
    ax.set_ylabel(metric)
    if not paths:
        ax.errorbar([0], rows["mean"], yerr=_half_widths(rows), fmt="o", capsize=4)
        ax.set_xticks([0], ["all runs"])
        _from_zero(ax)
        return figure
    x = x or paths[0]
    others = [p for p in paths if p != x]
    names = {p: _value_names(rows[p]) for p in paths}
    positions, labels = _positions(rows[x], names[x])
    if labels:
        ax.set_xticks(range(len(labels)), labels)
    key = [line for p in paths for line in _key(p, names[p])]
    ax.set_xlabel("\n".join([x, *key]), loc="left" if key else "center")
    figure.set_size_inches(FIGSIZE_IN[0], FIGSIZE_IN[1] + KEY_LINE_IN * len(key))  # plot kept
    series = rows.groupby(others, sort=False, dropna=False) if others else [((), rows)]
    for group_key, group in series:
        where = positions.loc[group.index]
        order = np.argsort(where.to_numpy(), kind="stable")
        at, part = where.to_numpy()[order], group.iloc[order]
        values = group_key if isinstance(group_key, tuple) else (group_key,)
        label = ", ".join(
            f"{p}={names[p].get(str(v), v)}" for p, v in zip(others, values, strict=True)
        )
        (line,) = ax.plot(at, part["mean"], marker="o", label=label or metric)
        ax.fill_between(at, part["lo"], part["hi"], color=line.get_color(), alpha=CI_ALPHA)
    if others:
        ax.legend(fontsize="small", frameon=False)
    _from_zero(ax)
    return figure


def _from_zero(ax: Axes) -> None:
    """Cut a sweep figure's y axis at 0 when its autoscaling went below (a band's lower end):
    every summary field is a count, a duration, a latency or a rate, none negative."""
    if ax.get_ylim()[0] < 0:
        ax.set_ylim(bottom=0.0)


def save_sweep_plots(stats: pd.DataFrame, directory: str | Path, name: str = "") -> list[Path]:
    """Write :data:`SWEEP_FIGURE` (``sweep_<metric>.png``) for each of :data:`SWEEP_METRICS`
    the sweep measured (a finite mean somewhere); their paths."""
    out = Path(directory)
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for metric in SWEEP_METRICS:
        means = stats.loc[stats["metric"] == metric, "mean"]
        if np.isfinite(means.to_numpy(dtype=float)).any():
            written.append(out / SWEEP_FIGURE.format(metric=metric))
            sweep_metric(stats, metric, name=name).savefig(written[-1])
    return written


def _positions(values: pd.Series, names: dict[str, str]) -> tuple[pd.Series, list[str]]:
    """x positions of a grid path's values and the tick labels: the values themselves when
    numeric (no labels), else 0, 1, ... in order of first appearance, labelled by ``names``
    (:func:`_value_names`)."""
    if _numeric(values):
        return values.astype(float), []
    text = values.astype(str)
    order = {v: float(i) for i, v in enumerate(names)}
    return text.map(order), list(names.values())


def _numeric(values: pd.Series) -> bool:
    return pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values)


def _value_names(values: pd.Series) -> dict[str, str]:
    """What a sweep figure writes for each of a grid path's values (by its text, in order of
    first appearance): the text itself, or ``#0``, ``#1``, ... for every value when one is
    longer than :data:`MAX_VALUE_CHARS` (a list of faults, say), spelt out by :func:`_key`.
    Numbers are written as they are."""
    texts = list(dict.fromkeys(values.astype(str)))
    if _numeric(values) or max(map(len, texts), default=0) <= MAX_VALUE_CHARS:
        return {t: t for t in texts}
    return {t: f"#{i}" for i, t in enumerate(texts)}


def _key(path: str, names: dict[str, str]) -> list[str]:
    """One line per numbered value of ``path``: ``path #i: <its text>``, the text cut to
    :data:`MAX_KEY_CHARS` (the sweep table holds it whole)."""
    lines = []
    for text, name in names.items():
        if name != text:
            cut = text if len(text) <= MAX_KEY_CHARS else text[: MAX_KEY_CHARS - 1] + "…"
            lines.append(f"{path} {name}: {cut}")
    return lines


def _half_widths(rows: pd.DataFrame) -> np.ndarray:
    """Distances from the mean down to lo and up to hi, as errorbar's yerr (2 × n)."""
    mean = rows["mean"].to_numpy(dtype=float)
    return np.vstack(
        [mean - rows["lo"].to_numpy(dtype=float), rows["hi"].to_numpy(dtype=float) - mean]
    )


def _draw_throughput(ax: Axes, results: Results, marks: bool = True) -> None:
    series = results.tables["timeseries"]
    ax.set_ylabel("records/s")
    ax.yaxis.set_major_formatter(THOUSANDS)
    if series.empty:
        _note(ax, EMPTY_NOTE)
    lines = {
        "produced": ("produced_msgs_s", {"color": "tab:gray", "linewidth": 0.9}),
        "acked": ("acked_msgs_s", {"color": "tab:blue", "linewidth": 1.5}),
        "consumed": ("consumed_msgs_s", {"color": "tab:green", "linestyle": "--"}),
    }
    for label, (column, style) in lines.items():
        if not series.empty:
            ax.plot(series["time_s"], series[column], label=label, **style)
    ax.set_ylim(bottom=0)
    drawn = mark_events(ax, results, names=True)
    _legend(ax, skip=() if marks else drawn)


def _draw_latency(ax: Axes, results: Results, marks: bool = True) -> None:
    bands = latency_bands(results)
    ax.set_ylabel("latency (ms, log)")
    drawn = False
    for name, label, color in (("produce", "produce", PRODUCE_COLOR), ("e2e", "e2e", E2E_COLOR)):
        p50, p99 = bands[f"{name}_p50_ms"], bands[f"{name}_p99_ms"]
        if p50.notna().any():
            drawn = True
            ax.plot(bands["time_s"], p50, color=color, linewidth=1.2, label=f"{label} p50")
            ax.plot(
                bands["time_s"],
                p99,
                color=color,
                linewidth=0.9,
                linestyle="--",
                label=f"{label} p99",
            )
            ax.fill_between(bands["time_s"], p50, p99, color=color, alpha=0.15, linewidth=0)
    if drawn:
        ax.set_yscale("log")
    else:
        _note(ax, EMPTY_NOTE)
    drawn = mark_events(ax, results)
    _legend(ax, skip=() if marks else drawn)


def _draw_lag(ax: Axes, results: Results, lag: pd.DataFrame, marks: bool = True) -> None:
    ax.set_ylabel("lag (records)")
    ax.yaxis.set_major_formatter(THOUSANDS)
    several = lag["group"].nunique() > 1
    for (group, topic, partition), rows in lag.groupby(["group", "topic", "partition"]):
        name = f"{group} {topic}-{partition}" if several else f"{topic}-{partition}"
        ax.plot(rows["time_s"], rows["lag"], linewidth=1.0, label=name)
    if lag.empty:
        _note(ax, "no consumer group")
    ax.set_ylim(bottom=0)
    drawn = mark_events(ax, results)
    _legend(ax, skip=() if marks else drawn)


def _draw_urp(ax: Axes, results: Results, marks: bool = True) -> None:
    series = results.tables["timeseries"]
    ax.set_ylabel("partitions (all topics)")
    if series.empty:
        _note(ax, EMPTY_NOTE)
    else:
        column = series["under_replicated_partitions"]
        ax.step(series["time_s"], column, where="post", color="black", label="under-replicated")
        ax.set_ylim(-0.05 * max(column.max(), 1), max(column.max(), 1) * 1.15)
    drawn = mark_events(ax, results)
    _legend(ax, skip=() if marks else drawn)


def _draw_isr(ax: Axes, results: Results, marks: bool = True) -> None:
    """A row per partition, coloured by replicas out of the ISR; hatched: no usable leader."""
    segments = isr_segments(results)
    factors = {t.name: int(t.replication_factor or 0) for t in results.scenario.topics}
    name = segments["topic"] + "-" + segments["partition"].astype(str)
    row = {n: i for i, n in enumerate(dict.fromkeys(name))}
    out = (segments["topic"].map(factors) - segments["isr_size"]).clip(0, len(ISR_COLORS) - 1)
    for (partition, missing), spans in segments.groupby([name, out]):
        bars = list(zip(spans.start_s, spans.end_s - spans.start_s, strict=True))
        ax.broken_barh(bars, (row[partition] - 0.4, 0.8), color=ISR_COLORS[missing])
    events = results.tables["events"]
    gone = events[events["kind"] == EventKind.PARTITION_UNAVAILABLE]
    where = (gone["topic"] + "-" + gone["partition"].astype(str)).map(row)
    for i, start, length in zip(where, gone.time_s, gone.duration_s, strict=True):
        if pd.notna(i):  # a partition drawn here (not __consumer_offsets)
            ax.broken_barh([(start, length)], (i - 0.4, 0.8), facecolor="none", hatch="///")
    ax.set_yticks(range(len(row)), list(row), fontsize="small")
    ax.set_ylim(max(len(row), 1) - 0.5, -0.5)
    ax.set_ylabel("partition")
    if segments.empty:
        _note(ax, "no partitions")
    drawn = mark_events(ax, results)
    keys = [
        Patch(color=c, label=f"{n}{'+' * (n == 2)} out of ISR") for n, c in enumerate(ISR_COLORS)
    ]
    keys.append(Patch(facecolor="none", hatch="///", label="no leader"))
    _legend(ax, keys, skip=() if marks else drawn)


def _draw_ownership(ax: Axes, results: Results, marks: bool = True) -> None:
    """A row per member split in one stripe per partition, drawn while the member owned it."""
    spans = ownership(results)
    members = sorted(set(zip(spans["group"], spans["member"], strict=True)))
    partitions = sorted(set(zip(spans["topic"], spans["partition"], strict=True)))
    stripe = 0.8 / max(len(partitions), 1)
    colors = _partition_colors(len(partitions))
    for k, (topic, partition) in enumerate(partitions):
        mine = spans[(spans["topic"] == topic) & (spans["partition"] == partition)]
        for i, (group, member) in enumerate(members):
            rows = mine[(mine["group"] == group) & (mine["member"] == member)]
            if not rows.empty:
                ax.broken_barh(
                    list(zip(rows.start_s, rows.end_s - rows.start_s, strict=True)),
                    (i - 0.4 + k * stripe, stripe),
                    color=colors[k],
                )
    several = len({g for g, _ in members}) > 1
    ax.set_yticks(range(len(members)), [f"{g}/{m}" if several else m for g, m in members])
    ax.set_ylim(max(len(members), 1) - 0.5, -0.5)
    ax.set_ylabel("member")
    if spans.empty:
        _note(ax, "no partition was assigned")
    drawn = mark_events(ax, results)
    keys = [Patch(color=colors[k], label=f"{t}-{p}") for k, (t, p) in enumerate(partitions)]
    _legend(ax, keys, skip=() if marks else drawn)


def _draw_lost(ax: Axes, results: Results, marks: bool = True) -> None:
    lost = lost_acked_over_time(results)
    ax.set_ylabel("records (cumulative)")
    ax.yaxis.set_major_formatter(THOUSANDS)
    if lost.empty:
        _note(ax, "no acknowledged record was lost")
    else:
        ax.step(
            np.concatenate(([0.0], lost["time_s"], [results.scenario.duration_s])),
            np.concatenate(([0], lost["lost_records"], lost["lost_records"].iloc[[-1]])),
            where="post",
            color="black",
            label="acknowledged, then lost (by ack time)",
        )
    ax.set_ylim(bottom=0)
    drawn = mark_events(ax, results)
    _legend(ax, skip=() if marks else drawn)


def _draw_cdf(ax: Axes, values_ms: np.ndarray, weights: np.ndarray, label: str, color: str) -> None:
    """The weighted CDF of ``values_ms`` as a step line, p50 and p99 in the label."""
    keep = (weights > 0) & np.isfinite(values_ms)
    if not keep.any():
        return
    values_ms, weights = values_ms[keep], weights[keep]
    order = np.argsort(values_ms, kind="stable")
    fraction = np.cumsum(weights[order]) / weights.sum()
    p50, p99 = (weighted_quantile(values_ms, weights, q) for q in (0.5, 0.99))
    ax.step(
        values_ms[order],
        fraction,
        where="post",
        color=color,
        label=f"{label} (p50 {p50:,.3g} ms, p99 {p99:,.3g} ms)",
    )


# ------------------------------------------------------------------ event marks


def mark_events(ax: Axes, results: Results, names: bool = False) -> list[str]:
    """Draw the run's faults, elections and rebalances on a time axes (see the module
    docstring); ``names``: write the node each fault hit at the top of its line. Returns the
    labels of what it drew."""
    events = results.tables["events"]
    labels = _mark_faults(ax, events, names)
    kinds = events["kind"]
    for kind, label, color in (
        (ELECTIONS[0], "leader election", "tab:gray"),
        (ELECTIONS[1], "unclean leader election", "black"),
    ):
        times = events.loc[kinds == kind, "time_s"].unique()
        if times.size:
            ax.vlines(
                times,
                0,
                1,
                transform=ax.get_xaxis_transform(),
                color=color,
                linestyle=":",
                linewidth=0.8,
                label=label,
            )
            labels.append(label)
    for group, start, end, formation in rebalance_spans(events, results.scenario.duration_s):
        label = f"group {group} forming" if formation else f"rebalance ({group})"
        ax.axvspan(
            start,
            max(end, start + 1e-3),
            color=REBALANCE_COLOR,
            linewidth=0,
            alpha=0.12 if formation else 0.3,
            label=label,
        )
        labels.append(label)
    return labels


def _mark_faults(ax: Axes, events: pd.DataFrame, names: bool) -> list[str]:
    """Fault rows as vertical lines (see the module docstring); their labels."""
    labels = []
    rows = events[events["kind"].isin([*FAULT_ROWS, EventKind.ROLLING_STEP])]
    for (fault, kind, outcome), steps in rows.groupby(["fault", "kind", "outcome"], sort=False):
        style, width = FAULT_STEPS[EventKind(kind)]
        color = FAULT_COLORS.get(fault, "tab:red") if kind != EventKind.FAULT_SKIPPED else "gray"
        labels.append(_fault_label(fault, kind, outcome))
        ax.vlines(
            steps["time_s"].unique(),
            0,
            1,
            transform=ax.get_xaxis_transform(),
            color=color,
            linestyle=style,
            linewidth=width,
            label=labels[-1],
        )
        if names and kind == EventKind.FAULT:
            for time_s, node in zip(steps["time_s"], steps["node"], strict=True):
                ax.text(
                    time_s,
                    0.98,
                    f" {node}",
                    transform=ax.get_xaxis_transform(),
                    rotation=90,
                    va="top",
                    ha="right",
                    fontsize="x-small",
                    color=color,
                )
    return labels


def _fault_label(fault: str, kind: str, outcome: str) -> str:
    """The legend label of one step of a fault kind."""
    if kind == EventKind.FAULT:
        return fault
    if kind == EventKind.FAULT_END:
        return f"{fault} {END_WORDS.get(fault, 'end')}"
    if kind == EventKind.ROLLING_STEP:
        return f"{fault} step: {outcome}"
    return f"{fault} {kind.removeprefix('fault_').replace('broker_', '')}"


# ------------------------------------------------------------------ layout


def _one_panel(results: Results, what: str, draw: Callable[[Axes, Results], None]) -> Figure:
    figure, (ax,) = _panels(results, what, 1)
    draw(ax, results)
    return figure


def _panels(
    results: Results, what: str, count: int, heights: tuple[int, ...] | None = None
) -> tuple[Figure, list[Axes]]:
    """A figure of ``count`` time panels stacked on a shared time axis, titled."""
    height = FIGSIZE_IN[1] if count == 1 else PANEL_HEIGHT_IN * count
    figure = Figure(figsize=(FIGSIZE_IN[0], height), layout="constrained")
    axes = figure.subplots(count, 1, sharex=True, squeeze=False, height_ratios=heights)[:, 0]
    figure.suptitle(f"{results.scenario.name}: {what}")
    for ax in axes:
        ax.set_xlim(0, results.scenario.duration_s)
        ax.grid(axis="y", color="0.92")
    axes[-1].set_xlabel("simulated time (s)")
    return figure, list(axes)


def _partition_colors(count: int) -> list:
    """``count`` distinct colours (tab10, tab20, then a continuous map)."""
    from matplotlib import colormaps

    if count <= 10:
        return [colormaps["tab10"](i) for i in range(count)]
    if count <= 20:
        return [colormaps["tab20"](i) for i in range(count)]
    return [colormaps["viridis"](i / (count - 1)) for i in range(count)]


def _note(ax: Axes, text: str) -> None:
    ax.text(0.5, 0.5, text, transform=ax.transAxes, ha="center", va="center", color="0.4")


def _legend(ax: Axes, extra: list | None = None, skip: Collection[str] = ()) -> None:
    """One legend outside the axes on the right: its labelled artists (one per label) but those
    labelled in ``skip``, then ``extra`` handles."""
    handles, labels = ax.get_legend_handles_labels()
    unique = {k: h for k, h in zip(labels, handles, strict=True) if k not in skip}
    handles = [*unique.values(), *(extra or [])]
    if handles:
        ax.legend(
            handles=handles,
            loc="upper left",
            bbox_to_anchor=(1.005, 1.0),
            fontsize="x-small",
            frameon=False,
        )
