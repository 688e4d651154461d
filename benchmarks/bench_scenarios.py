"""Benchmark: named scenarios, timed and measured for memory, in one process.

Run ``python benchmarks/bench_scenarios.py [--only NAME] [--duration S] [--repeat N]``. For each
scenario (the default one first) it measures, in this process, the best of ``--repeat`` runs
(default 3; as ``timeit`` does: another process on the machine only ever adds time, so the
fastest run is the model's own speed):

- simulated seconds per wall second of the run itself in steady state: each scenario's warm-up
  runs untimed first (``WARMUP_S`` for those with a consumer group, which forms only after
  ``group.initial.rebalance.delay.ms``, extended while members join, so the default group starts
  consuming at about 6 s; see :data:`SCENARIOS`), then the scenario's duration is timed
  (building the world and collecting the results are timed separately, in ``build s`` and
  ``results s``);
- model events per wall second: SimPy events processed (``sim.timers.Environment.processed``,
  counted by the environment's own run loop, so counting costs nothing measurable) over the
  run's wall time;
- the bare SimPy timeout loop's events per second (``sim.world.events_per_second_bare_simpy``),
  measured just before, and the ratio of the two (target: at least 25 %);
- model events per simulated second, and from it the simulated seconds per wall second at which
  the scenario would make the 25 % ratio: the ratio is events per simulated second times
  simulated seconds per wall second over the bare loop's rate, so a model that handles a whole
  request per event reaches it only by running that much faster (or by adding cheap events);
- peak Python memory of building, running and collecting a second, identical run under
  ``tracemalloc`` (it slows Python down, so it is not the timed run), that peak per produced
  batch, and the process's maximum resident set size so far (``ru_maxrss``; it only grows, so
  only the first scenario's figure is its own).

``--build`` instead times building a large cluster: 50 brokers and a topic of 10,000 partitions
with RF 3 (target: under 10 s), its memory, and its first simulated second.

``--memory`` instead runs the default scenario for T and 10×T simulated seconds (T =
``--duration``, default 5) under tracemalloc and reports the peak per batch and per message:
memory should grow with batches, not with messages, so bytes per message stays flat.

Figures are measured, never asserted: they change as the model changes.
"""

from __future__ import annotations

import argparse
import gc
import resource
import sys
import time
import tracemalloc
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sim.scenario import Scenario, load_scenario
from sim.world import World, events_per_second_bare_simpy

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_SCENARIO = ROOT / "scenarios" / "default.py"
MEMORY_T_S = 5.0
#: Simulated seconds run before the timed window (the consumer group forms in about 6 s).
WARMUP_S = 10.0
MEMORY_FACTOR = 10
#: Target: model events per wall second at least this fraction of the bare SimPy loop's.
TARGET_RATIO = 0.25
#: Bytes per message may differ by this fraction between T and 10×T and still count as flat.
FLAT_TOLERANCE = 0.25


def _default() -> dict[str, Any]:
    """scenarios/default.py without its fault (it fires at 60 s, past the benchmark's shorter
    duration): the data path's speed."""
    data = load_scenario(DEFAULT_SCENARIO).to_dict()
    data["faults"] = []
    return data


def _default_linger0() -> dict[str, Any]:
    """The default scenario with Kafka 3.9's default linger.ms = 0: more, smaller batches."""
    data = _default()
    data["name"] = "default-linger0"
    data["producers"][0]["config"]["linger.ms"] = 0
    return data


def _keyless() -> dict[str, Any]:
    """The default scenario with null keys: the sticky partitioner fills one batch at a time."""
    data = _default()
    data["name"] = "keyless"
    data["producers"][0]["keys"] = {"kind": "none"}
    return data


def _kreps_2014() -> dict[str, Any]:
    """Jay Kreps' 2014 benchmark ("2 million writes per second on three cheap machines"):
    3 brokers, one topic of 6 partitions with RF 3, 3 producers of 100-byte records at
    2,000,000 msg/s in all with acks=1, batch.size=8196 and buffer.memory=64 MiB, no consumers.

    The post's machines had 1 GbE, but with RF 3 each broker takes in its third of the produce
    traffic plus two thirds as a follower, about 200 MB/s at 2 M msg/s: more than 1 GbE carries
    (the model then tops out near 1.2 M msg/s). 10 GbE here, so the offered load is carried.
    """
    return {
        "name": "kreps-2014",
        "seed": 1,
        "cluster": {
            "brokers": 3,
            "hardware": {"network_gbps": 10, "rtt_ms": 0.2, "disk_write_mb_s": 600},
        },
        "topics": [{"name": "test6", "partitions": 6, "replication_factor": 3}],
        "producers": [
            {
                "name": "perf",
                "count": 3,
                "topic": "test6",
                "rate_msgs_s": 2_000_000 / 3,
                "message_bytes": 100,
                "keys": {"kind": "none"},
                "config": {"acks": "1", "batch.size": 8196, "buffer.memory": 67_108_864},
            }
        ],
    }


#: Name -> (scenario data, timed simulated seconds, untimed warm-up seconds before them). The
#: default scenario comes first; those with a consumer group warm up until it consumes, the
#: Kreps cluster (no group) for 0.1 s, past its producers' start (metadata, first batches).
SCENARIOS: dict[str, tuple[Callable[[], dict[str, Any]], float, float]] = {
    "default": (_default, 10.0, WARMUP_S),
    "default-linger0": (_default_linger0, 10.0, WARMUP_S),
    "keyless": (_keyless, 10.0, WARMUP_S),
    "kreps-2014": (_kreps_2014, 0.5, 0.1),
}


def build(name: str, duration_s: float | None = None, warmup_s: float = 0.0) -> Scenario:
    """The named benchmark scenario, run for ``warmup_s`` + ``duration_s`` (or its benchmark
    default)."""
    make, default_s, _ = SCENARIOS[name]
    data = make()
    data["duration_s"] = warmup_s + float(duration_s or default_s)
    return Scenario.from_dict(data)


@dataclass
class Timed:
    """One timed run: wall seconds of each phase, events processed, batches and messages."""

    build_s: float
    run_s: float
    results_s: float
    events: int
    batches: int
    messages: int


def timed_run(scenario: Scenario, warmup_s: float = 0.0) -> Timed:
    """Build ``scenario``, run its first ``warmup_s`` simulated seconds untimed, then run the
    rest and collect the results, counting SimPy events processed in the timed part."""
    gc.collect()
    start = time.perf_counter()
    world = World(scenario)
    built = time.perf_counter()
    if warmup_s > 0:
        world.advance(warmup_s)  # untimed: neither building nor the measured run
        gc.collect()
    processed_before = world.env.processed
    run_start = time.perf_counter()
    world.run(progress=False)
    ran = time.perf_counter()
    results = world.results()
    done = time.perf_counter()
    produced = results.tables["produced"]
    return Timed(
        build_s=built - start,
        run_s=ran - run_start,
        results_s=done - ran,
        events=world.env.processed - processed_before,
        batches=len(produced),
        messages=int(produced["count"].sum()),
    )


def traced_peak(scenario: Scenario) -> tuple[int, int, int]:
    """tracemalloc's peak bytes while building, running and collecting ``scenario``, with the
    produced batches and messages."""
    gc.collect()
    tracemalloc.start()
    try:
        world = World(scenario)
        world.run(progress=False)
        results = world.results()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    produced = results.tables["produced"]
    return peak, len(produced), int(produced["count"].sum())


def max_rss_bytes() -> int:
    """The process's maximum resident set size so far (Linux reports KiB, macOS bytes)."""
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return rss if sys.platform == "darwin" else rss * 1024


def _mb(n: float) -> str:
    return f"{n / 1e6:,.1f}"


def _table(header: list[str], rows: list[list[str]]) -> str:
    """An aligned text table: first column left, the others right."""
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]

    def line(cells: list[str]) -> str:
        first = cells[0].ljust(widths[0])
        return "  ".join([first, *(c.rjust(w) for c, w in zip(cells[1:], widths[1:], strict=True))])

    return "\n".join([line(header), line(["-" * w for w in widths]), *map(line, rows)])


def bench(names: list[str], duration_s: float | None, repeat: int = 3) -> None:
    """Time and measure each named scenario, the best of ``repeat`` runs (and of as many bare
    SimPy loops, each just before a run); print one aligned table."""
    header = [
        "scenario",
        "warm-up + timed s",
        "sim s/wall s",
        "build s",
        "results s",
        "batches",
        "model ev/s",
        "ev/sim s",
        "bare ev/s",
        "ratio",
        "25% at",
        "peak MB",
        "B/batch",
        "maxrss MB",
    ]
    rows = []
    for name in names:
        warmup_s = SCENARIOS[name][2]
        scenario = build(name, duration_s, warmup_s)
        timed_s = scenario.duration_s - warmup_s
        print(f"running {name} ({warmup_s:g} + {timed_s:g} s simulated) ...", file=sys.stderr)
        bare, timed = 0.0, None
        for _ in range(repeat):
            bare = max(bare, events_per_second_bare_simpy())
            run = timed_run(scenario, warmup_s)
            if timed is None or run.run_s < timed.run_s:
                timed = run
        peak, batches, _ = traced_peak(scenario)
        model = timed.events / timed.run_s
        density = timed.events / timed_s  # model events per simulated second
        rows.append(
            [
                name,
                f"{warmup_s:g} + {timed_s:g}",
                f"{timed_s / timed.run_s:.2f}",
                f"{timed.build_s:.2f}",
                f"{timed.results_s:.2f}",
                f"{timed.batches:,}",
                f"{model:,.0f}",
                f"{density:,.0f}",
                f"{bare:,.0f}",
                f"{model / bare:.0%}",
                f"{TARGET_RATIO * bare / density:.1f}",
                _mb(peak),
                f"{peak / max(batches, 1):,.0f}",
                _mb(max_rss_bytes()),
            ]
        )
    print(_table(header, rows))
    print(
        f"sim s/wall s: simulated seconds per wall second of the timed run alone, after an "
        f"untimed warm-up, the fastest of {repeat} (target for default >= 10, kreps-2014 >= 1); "
        "ratio: model events/s over the bare SimPy timeout loop's (the fastest of as many, "
        "same process; target >= 25%); ev/sim s: model events per simulated second; 25% at: "
        "the sim s/wall s at which this scenario's events would make that ratio "
        "(ratio = ev/sim s x sim s/wall s / bare ev/s); peak MB: tracemalloc "
        "peak of an identical second run; B/batch: that peak per produced batch; maxrss MB: "
        "process maximum so far."
    )


def memory_check(t_s: float) -> bool:
    """Run the default scenario for T and 10×T under tracemalloc; print the peak per batch and
    per message, and the marginal cost of the extra batches; return whether bytes per message
    stayed flat (grew by at most FLAT_TOLERANCE)."""
    rows, runs = [], []
    for duration in (t_s, MEMORY_FACTOR * t_s):
        scenario = build("default", duration)
        print(f"tracing default for {duration:g} s simulated ...", file=sys.stderr)
        peak, batches, messages = traced_peak(scenario)
        runs.append((peak, batches, messages))
        rows.append(
            [
                "default",
                f"{duration:g}",
                f"{batches:,}",
                f"{messages:,}",
                _mb(peak),
                f"{peak / max(batches, 1):,.0f}",
                f"{peak / max(messages, 1):,.1f}",
            ]
        )
    header = ["scenario", "sim s", "batches", "messages", "peak MB", "B/batch", "B/message"]
    print(_table(header, rows))
    (peak1, batches1, messages1), (peak2, batches2, messages2) = runs
    per_message = [peak1 / max(messages1, 1), peak2 / max(messages2, 1)]
    change = per_message[1] / per_message[0] - 1
    flat = change <= FLAT_TOLERANCE
    print(
        f"marginal cost of the extra {batches2 - batches1:,} batches: "
        f"{(peak2 - peak1) / max(batches2 - batches1, 1):,.0f} B/batch, "
        f"{(peak2 - peak1) / max(messages2 - messages1, 1):,.1f} B/message"
    )
    print(
        f"bytes per message at {MEMORY_FACTOR}x the duration: {change:+.0%} -> "
        f"{'flat' if flat else 'NOT flat'} (flat: it grows by at most {FLAT_TOLERANCE:.0%}; "
        f"memory then grows with batches, not faster; a fall is the fixed cost spread thinner)"
    )
    return flat


#: The large cluster of ``--build``: brokers, partitions of its one topic, replication factor.
LARGE_CLUSTER = (50, 10_000, 3)


def build_check() -> None:
    """Build the large cluster (:data:`LARGE_CLUSTER`, one producer at 1,000 msg/s), then run
    its first simulated second; print the wall seconds of each and the build's peak memory."""
    brokers, partitions, rf = LARGE_CLUSTER
    scenario = Scenario.from_dict(
        {
            "name": "large-cluster",
            "seed": 1,
            "duration_s": 1.0,
            "cluster": {"brokers": brokers},
            "topics": [{"name": "t", "partitions": partitions, "replication_factor": rf}],
            "producers": [{"name": "app", "topic": "t", "rate_msgs_s": 1000}],
        }
    )
    print(f"building {brokers} brokers x {partitions:,} partitions ...", file=sys.stderr)
    gc.collect()
    start = time.perf_counter()
    world = World(scenario)
    built = time.perf_counter()
    world.run(progress=False)
    ran = time.perf_counter()
    gc.collect()
    tracemalloc.start()
    try:
        World(scenario)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    header = ["cluster", "replicas", "build s", "first sim s, wall s", "build peak MB"]
    row = [
        f"{brokers} brokers x {partitions:,} partitions",
        f"{partitions * rf:,}",
        f"{built - start:.2f}",
        f"{ran - built:.2f}",
        _mb(peak),
    ]
    print(_table(header, [row]))
    print("build s: wall seconds of World(scenario) (target < 10).")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", choices=list(SCENARIOS), help="run only this scenario")
    parser.add_argument(
        "--duration", type=float, help="simulated seconds (default: each scenario's own)"
    )
    parser.add_argument(
        "--repeat", type=int, default=3, help="runs per scenario, the fastest reported (default 3)"
    )
    parser.add_argument(
        "--memory",
        action="store_true",
        help=f"memory check: default scenario for T and {MEMORY_FACTOR}xT s (T = --duration, "
        f"default {MEMORY_T_S:g})",
    )
    parser.add_argument(
        "--build",
        action="store_true",
        help="time building 50 brokers with a topic of 10,000 partitions (RF 3)",
    )
    args = parser.parse_args(argv)
    if args.duration is not None and args.duration <= 0:
        parser.error("--duration must be positive")
    if args.repeat < 1:
        parser.error("--repeat must be at least 1")
    if args.build:
        build_check()
        return 0
    if args.memory:
        memory_check(args.duration or MEMORY_T_S)
        return 0
    bench([args.only] if args.only else list(SCENARIOS), args.duration, args.repeat)
    return 0


if __name__ == "__main__":
    sys.exit(main())
