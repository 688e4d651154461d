"""Benchmark: a sweep's speed-up on local cores over running it serially (target: ≥ 1.8×
on 2 cores).

Run ``python benchmarks/bench_sweep.py [--duration S] [--seeds N] [--workers W]``. In one
process it times the same sweep three times, one after the other: serial (this process), then
``executor="processes"`` and ``executor="dask"`` (a LocalCluster) with ``--workers`` worker
processes (default 2). The sweep is the default scenario without its fault, shortened to
``--duration`` simulated seconds, over ``producers.0.config.linger.ms`` = 5, 20 with ``--seeds``
seeds: 2 × N runs of about the same length. Each parallel timing includes starting its workers
(a spawned Python that imports kafka-sim), as a user's sweep does. It prints the wall seconds and
the speed-up over serial of each, checks that the three tables are equal (wall time aside), and
prints the load average before and after: on a machine busy with other work the speed-up says
little, as a parallel run competes for the cores it is meant to have to itself.

Figures are measured, never asserted.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import pandas as pd

import sim
from sim.scenario import with_values

ROOT = Path(__file__).resolve().parent.parent
GRID = {"producers.0.config.linger.ms": [5, 20]}
TARGET_SPEEDUP = 1.8


def scenario(duration_s: float) -> sim.Scenario:
    """The default scenario without its fault, ``duration_s`` long."""
    base = sim.load_scenario(ROOT / "scenarios" / "default.py")
    return sim.Scenario.from_dict(with_values(base, {"duration_s": duration_s, "faults": []}))


def timed(run: sim.Scenario, seeds: int, executor: str, workers: int) -> tuple[float, pd.DataFrame]:
    """Wall seconds of one sweep and its table."""
    start = time.perf_counter()
    table = sim.sweep(run, GRID, seeds, executor=executor, workers=workers, progress=False)
    return time.perf_counter() - start, table


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=float, default=30.0, help="simulated s per run")
    parser.add_argument("--seeds", type=int, default=4, help="seeds per grid point")
    parser.add_argument("--workers", type=int, default=2, help="worker processes")
    args = parser.parse_args(argv)
    run = scenario(args.duration)
    runs = len(GRID["producers.0.config.linger.ms"]) * args.seeds
    load_before = os.getloadavg()
    print(f"{runs} runs of {args.duration:g} s simulated, {args.workers} workers", file=sys.stderr)
    results = {}
    for executor in ("serial", "processes", "dask"):
        print(f"  {executor} ...", file=sys.stderr)
        results[executor] = timed(run, args.seeds, executor, args.workers)
    load_after = os.getloadavg()
    serial_s, serial_table = results["serial"]
    print(f"{'executor':<10} {'wall s':>8} {'speed-up':>9} {'same table':>11}")
    for executor, (wall_s, table) in results.items():
        same = table.drop(columns="wall_s").equals(serial_table.drop(columns="wall_s"))
        print(f"{executor:<10} {wall_s:>8.1f} {serial_s / wall_s:>8.2f}x {str(same):>11}")
    print(
        f"target: >= {TARGET_SPEEDUP}x on 2 cores; cores here: {os.cpu_count()}; load average "
        f"(1 min) {load_before[0]:.1f} before, {load_after[0]:.1f} after"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
