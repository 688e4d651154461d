"""Figures of a run: what each draws from the tables, event marks by kind, empty runs, files."""

from __future__ import annotations

import numpy as np
import pytest
from matplotlib.figure import Figure

from sim.plots import (
    EMPTY_NOTE,
    FAULT_COLORS,
    consumer_lag,
    dashboard,
    isr,
    latency,
    latency_cdf,
    lost_acked,
    mirror_lag,
    rebalance_timeline,
    resources,
    save_standard_plots,
    throughput,
)
from sim.results import Results
from sim.timelines import latency_bands, partition_lag

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
MARKS = ["crash_broker", "crash_broker restart", "leader election", "rebalance (g)"]


def _lines(ax) -> dict[str, tuple[list[float], list[float]]]:
    return {line.get_label(): (list(line.get_xdata()), list(line.get_ydata())) for line in ax.lines}


def _legend(ax) -> list[str]:
    legend = ax.get_legend()
    return [t.get_text() for t in legend.get_texts()] if legend else []


def _vlines(ax) -> dict[str, list[float]]:
    """Vertical event lines by label: their x positions."""
    return {
        c.get_label(): sorted(float(seg[0][0]) for seg in c.get_segments())
        for c in ax.collections
        if hasattr(c, "get_segments")
    }


def _bars(ax) -> list[tuple[float, float, float, tuple]]:
    """broken_barh rectangles as (x0, x1, y-centre, facecolor), sorted."""
    out = []
    for collection in ax.collections:
        if hasattr(collection, "get_segments"):
            continue
        color = (
            tuple(np.round(collection.get_facecolor()[0], 3)) if len(collection.get_paths()) else ()
        )
        for path in collection.get_paths():
            xs, ys = path.vertices[:, 0], path.vertices[:, 1]
            middle = round(float(ys.min() + ys.max()) / 2, 3)
            out.append((float(xs.min()), float(xs.max()), middle, color))
    return sorted(out)


def test_throughput_draws_rates_and_marks_faults_by_kind_and_step(story):
    (ax,) = throughput(story).axes
    series = story.timeseries
    time = series["time_s"].tolist()
    lines = _lines(ax)
    assert lines["acked"] == (time, series["acked_msgs_s"].tolist())
    assert lines["produced"][1] == series["produced_msgs_s"].tolist()
    assert lines["consumed"][1] == series["consumed_msgs_s"].tolist()
    marks = _vlines(ax)
    assert marks["crash_broker"] == [2.0]
    assert marks["crash_broker restart"] == [3.0]
    assert marks["crash_consumer"] == [8.0]
    assert marks["leader election"] == [2.2]
    styles = {
        c.get_label(): c.get_linestyle()[0][1] for c in ax.collections if c.get_label() in marks
    }
    assert (
        styles["crash_broker"] is None and styles["crash_broker restart"] is not None
    )  # solid, dashed
    assert [p.get_label() for p in ax.patches] == ["rebalance (g)"]  # no rebalance at formation
    assert "broker-1" in [t.get_text().strip() for t in ax.texts]  # the node hit, by its line
    assert _legend(ax)[:3] == ["produced", "acked", "consumed"]
    assert set(MARKS) <= set(_legend(ax))
    assert ax.get_legend().get_bbox_to_anchor().x0 > ax.get_window_extent().x1 - 1  # outside
    assert ax.figure.get_suptitle() == "story: throughput"
    assert "(s)" in ax.get_xlabel() and "records/s" in ax.get_ylabel()
    assert ax.get_xlim() == (0.0, 10.0)


def test_fault_kinds_have_their_own_colours(story):
    (ax,) = throughput(story).axes
    colors = {c.get_label(): tuple(c.get_color()[0]) for c in ax.collections}
    assert colors["crash_broker"] != colors["crash_consumer"]
    assert FAULT_COLORS["crash_broker"] != FAULT_COLORS["crash_consumer"]


def test_latency_draws_the_percentile_bands_on_a_log_axis(story):
    (ax,) = latency(story).axes
    bands = latency_bands(story)
    lines = _lines(ax)
    assert set(lines) == {"produce p50", "produce p99", "e2e p50", "e2e p99"}
    np.testing.assert_array_equal(lines["produce p99"][1], bands["produce_p99_ms"])
    np.testing.assert_array_equal(lines["e2e p50"][1], bands["e2e_p50_ms"])
    assert ax.get_yscale() == "log" and "(ms" in ax.get_ylabel()


def test_consumer_lag_one_panel_per_group_one_line_per_partition(story):
    (ax,) = consumer_lag(story).axes
    lag = partition_lag(story)
    lines = _lines(ax)
    assert set(lines) == {"t-0", "t-1"}
    assert lines["t-0"][1] == lag.loc[lag["partition"] == 0, "lag"].tolist()
    assert ax.get_title() == "group g" and "(records)" in ax.get_ylabel()


def test_isr_draws_under_replicated_count_and_each_partitions_isr(story):
    top, rows = isr(story).axes
    assert (
        _lines(top)["under-replicated"][1]
        == story.timeseries["under_replicated_partitions"].tolist()
    )
    assert [t.get_text() for t in rows.get_yticklabels()] == ["t-0", "t-1"]
    bars = [(x0, x1, y) for x0, x1, y, _ in _bars(rows)]
    assert (2.0, 3.5, 0.0) in bars  # t-0 one replica short from 2 to 3.5 s
    assert (0.0, 10.0, 1.0) in bars  # t-1 full throughout
    assert "1 out of ISR" in _legend(rows) and "no leader" in _legend(rows)


def test_resources_draws_each_brokers_nics_disk_and_cpu_not_the_clients(story):
    out, into, disk, dirty, cpu = resources(story).axes
    for ax, value in ((out, 0.1), (into, 0.2), (disk, 1.0), (cpu, 0.5)):
        lines = _lines(ax)
        assert sorted(k for k in lines if k.startswith("broker")) == [
            "broker-0",
            "broker-1",
            "broker-2",
        ]
        assert "app-0" not in lines
        times, values = lines["broker-1"]
        assert times == [float(t) for t in range(1, 11)]
        assert values == [value, value, 0.0] + [value] * 7  # silent while it was down
    assert "crash_broker" in _legend(out) and "crash_broker" not in _legend(disk)
    assert [line.get_ydata()[0] for line in cpu.lines if line.get_linestyle() == ":"] == [2.0]
    assert _lines(dirty)["broker-1"][1] == [5.0] * 10  # dirty pages outlive a crash's interval


def test_resources_shows_each_brokers_dirty_data_and_its_limit(story):
    """The slow disk's broker stands out (its dirty data reaches its limit); a dotted line at
    Linux's dirty_ratio of each page cache size, the cluster's and a broker's override."""
    from sim.scenario import Scenario

    data = story.scenario.to_dict()
    data["cluster"]["hardware"] = {
        "page_cache_mb": 512,
        "per_broker": {"2": {"page_cache_mb": 256}},
    }
    nodes = story.nodes.copy()
    nodes.loc[nodes["node"] == "broker-2", "dirty_mb"] = 51.2
    results = Results(Scenario.from_dict(data), {**story.tables, "nodes": nodes})
    dirty = resources(results).axes[3]
    assert "page cache" in dirty.get_title()
    assert _lines(dirty)["broker-2"][1] == [51.2] * 10
    assert _lines(dirty)["broker-0"][1] == [5.0] * 10
    limits = [line.get_ydata()[0] for line in dirty.lines if line.get_linestyle() == ":"]
    assert limits == pytest.approx([0.2 * 256, 0.2 * 512])  # sim.disk.DIRTY_RATIO


def test_rebalance_timeline_one_row_per_member(story):
    (ax,) = rebalance_timeline(story).axes
    assert [t.get_text() for t in ax.get_yticklabels()] == ["g-0", "g-1"]
    spans = [(x0, x1) for x0, x1, _, _ in _bars(ax)]
    assert sorted(spans) == [(1.0, 5.0), (1.0, 8.0), (5.0, 10.0)]
    assert {"t-0", "t-1"} <= set(_legend(ax))


def test_lost_acked_is_cumulative_by_ack_time(story):
    (ax,) = lost_acked(story).axes
    ((x, y),) = _lines(ax).values()
    assert y[-1] == 15 and x[-1] == 10.0 and max(y) == 15


def test_latency_cdf_reaches_one_for_each_latency(story):
    (ax,) = latency_cdf(story).axes
    lines = {k: v for k, v in _lines(ax).items() if not k.startswith("_")}  # not p50/p99 rules
    assert len(lines) == 2 and all(y[-1] == pytest.approx(1.0) for _, y in lines.values())
    assert ax.get_xscale() == "log" and "(ms" in ax.get_xlabel()
    # batch 3 (latency 15 s, acknowledged at 0.9 s) was sent before 0 s: not in the summary
    assert any(label.startswith("produce (p50 10 ms, p99 2.5e+03 ms)") for label in lines)


def test_dashboard_stacks_the_panels_and_shows_the_event_legend_once(story):
    figure = story.plot()
    assert isinstance(figure, Figure)
    titles = [ax.get_title() for ax in figure.axes]
    assert titles == [
        "throughput",
        "latency per interval",
        "consumer lag per partition",
        "ISR size per partition",
        "partition ownership per member",
        "acknowledged records lost",
    ]
    assert set(MARKS) <= set(_legend(figure.axes[0]))
    assert not set(MARKS) & set(_legend(figure.axes[1]))


def test_save_standard_plots_writes_the_dashboard_and_each_figure(tmp_path, story):
    paths = save_standard_plots(story, tmp_path / "figures")
    names = ["dashboard", "throughput", "latency", "latency_cdf", "consumer_lag", "isr",
             "resources", "rebalances", "lost_acked"]  # fmt: skip
    assert paths == [tmp_path / "figures" / f"{n}.png" for n in names]
    for path in paths:
        data = path.read_bytes()
        assert data.startswith(PNG_MAGIC) and len(data) > 1000


def test_an_empty_run_gives_every_figure_with_notes(tmp_path, story):
    empty = Results(story.scenario.model_copy(update={"consumer_groups": []}))
    for draw in (
        throughput,
        latency,
        consumer_lag,
        isr,
        rebalance_timeline,
        lost_acked,
        latency_cdf,
        resources,
    ):
        figure = draw(empty)
        assert isinstance(figure, Figure)
        assert not any(_lines(ax) for ax in figure.axes if ax.get_yscale() != "log")
    assert [t.get_text() for t in throughput(empty).axes[0].texts] == [EMPTY_NOTE]
    assert len(dashboard(empty).axes) == 4
    names = [p.name for p in save_standard_plots(empty, tmp_path)]
    assert "rebalances.png" not in names and "lost_acked.png" not in names


def test_every_figure_draws_a_crash_that_takes_the_group_coordinator(tmp_path):
    """A simulated run whose crash leaves a ``__consumer_offsets`` partition without a leader
    (the default scenario's crashed broker coordinates the group): every figure is written,
    though the ISR panel draws only the scenario's own topics."""
    import sim
    from sim.plots import save_standard_plots
    from sim.scenario import with_values

    values = {"duration_s": 12.0, "faults.0.at_s": 7.0, "faults.0.restart_after_s": 3.0}
    default = sim.load_scenario("scenarios/default.py")
    scenario = sim.Scenario.from_dict(with_values(default, values))
    results = sim.run(scenario)
    gone = results.events[results.events["kind"] == "partition_unavailable"]
    assert (gone["topic"] == "__consumer_offsets").any()
    written = save_standard_plots(results, tmp_path)
    assert {p.name for p in written} >= {"dashboard.png", "isr.png", "throughput.png"}


def test_resources_orders_brokers_by_number_within_each_cluster(story):
    import pandas as pd

    names = ["broker-10", "west/broker-1", "broker-2", "east/broker-0"]
    nodes = pd.DataFrame(
        {"time_s": 1.0, "node": names, "nic_out_mb_s": 1.0, "nic_in_mb_s": 1.0,
         "nic_out_utilisation": 0.1, "nic_in_utilisation": 0.1, "nic_out_backlog_ms": 0.0,
         "nic_in_backlog_ms": 0.0, "disk_append_mb_s": 1.0, "dirty_mb": 1.0, "cpu_busy": 1.0,
         "cpu_utilisation": float("nan")}
    )  # fmt: skip
    results = Results(story.scenario, {**story.tables, "nodes": nodes})
    legend = _legend(resources(results).axes[0])
    labels = [k for k in legend if k.rpartition("/")[2].startswith("broker-")]
    assert labels == ["broker-2", "broker-10", "east/broker-0", "west/broker-1"]


def _regions() -> Results:
    """Two regions mirrored both ways, 4 intervals of 1 s: east->west has two source partitions
    (lag 10 + 5 records at 2 s, their oldest 1.5 s and 0.5 s old), west->east one; the WAN cut
    at 1 s and healed at 3 s."""
    import pandas as pd

    from sim.metrics import events_frame
    from sim.scenario import Scenario

    scenario = Scenario.from_dict(
        {"name": "regions", "duration_s": 4.0,
         "clusters": [{"name": "east"}, {"name": "west"}],
         "topics": [{"name": "t", "cluster": "east", "partitions": 2},
                    {"name": "u", "cluster": "west"}],
         "mirrors": [{"source": "east", "target": "west"}, {"source": "west", "target": "east"}]}
    )  # fmt: skip
    rows = []
    lags_at = [(0, 0, 0), (10, 5, 3), (4, 0, 0), (0, 0, 0)]
    for t, lags in zip([1.0, 2.0, 3.0, 4.0], lags_at, strict=True):
        ages = {10: 1.5, 5: 0.5, 4: 0.7, 3: 0.2}
        for (mirror, source, partition, topic), lag in zip(
            [("east->west", "east/t", 0, "west/east.t"), ("east->west", "east/t", 1, "west/east.t"),
             ("west->east", "west/u", 0, "east/west.u")], lags, strict=True
        ):  # fmt: skip
            rows.append((t, mirror, source, partition, topic, 100, lag, ages.get(lag, 0.0)))
    columns = ["time_s", "mirror", "source_topic", "partition", "topic", "mirrored_records",
               "lag_records", "lag_s"]  # fmt: skip
    events = events_frame(
        [{"time_s": 1.0, "kind": "fault", "fault": "wan_partition", "outcome": "unreachable"},
         {"time_s": 3.0, "kind": "fault_end", "fault": "wan_partition", "outcome": "reachable"}]
    )  # fmt: skip
    return Results(scenario, {"mirrors": pd.DataFrame(rows, columns=columns), "events": events})


def test_mirror_lag_draws_each_mirrors_records_and_age_and_marks_the_wan_cut():
    records, seconds = mirror_lag(_regions()).axes
    assert _lines(records) == {
        "east->west": ([1.0, 2.0, 3.0, 4.0], [0, 15, 4, 0]),
        "west->east": ([1.0, 2.0, 3.0, 4.0], [0, 3, 0, 0]),
    }
    assert _lines(seconds) == {
        "east->west": ([1.0, 2.0, 3.0, 4.0], [0.0, 1.5, 0.7, 0.0]),
        "west->east": ([1.0, 2.0, 3.0, 4.0], [0.0, 0.2, 0.0, 0.0]),
    }
    assert _vlines(records) == {"wan_partition": [1.0], "wan_partition heal": [3.0]}
    assert records.figure.get_suptitle() == "regions: replication lag per mirror"


def test_save_standard_plots_adds_mirrors_png_when_the_run_has_mirrors(tmp_path, story):
    assert "mirrors.png" not in {p.name for p in save_standard_plots(story, tmp_path / "one")}
    paths = save_standard_plots(_regions(), tmp_path / "two")
    assert paths[-1] == tmp_path / "two" / "mirrors.png"
    assert paths[-1].read_bytes().startswith(PNG_MAGIC)


@pytest.mark.parametrize("seed", [1, 2])
def test_latency_cdf_draws_the_records_of_the_summary_percentiles(seed):
    """A run with a warm-up: the group forms in its first seconds, so the records sent then
    wait for it; the CDF leaves them out as the summary does (its p50 and p99 are the summary's,
    in the legend and where the line crosses 0.5)."""
    import sim
    from sim.scenario import with_values

    values = {"duration_s": 8.0, "warmup_s": 5.0, "faults": [], "seed": seed}
    default = sim.load_scenario("scenarios/default.py")
    results = sim.run(sim.Scenario.from_dict(with_values(default, values)))
    summary = results.summary()
    (ax,) = latency_cdf(results).axes
    lines = {k.partition(" (")[0]: line for k, line in zip(_legend(ax), ax.lines, strict=False)}
    for label, key in (("produce", "produce"), ("end-to-end", "e2e")):
        p50, p99 = summary[f"{key}_latency_p50_ms"], summary[f"{key}_latency_p99_ms"]
        assert f"{label} (p50 {p50:,.3g} ms, p99 {p99:,.3g} ms)" in _legend(ax)
        xs, fraction = lines[label].get_xdata(), lines[label].get_ydata()
        assert xs[np.searchsorted(fraction, 0.5)] == pytest.approx(p50, rel=1e-12)
