"""Parameter sweeps: one scenario over a grid of field values and several seeds, one row per run.

``sweep(scenario, grid={"producers.0.config.linger.ms": [0, 5, 20]}, seeds=5)`` runs each grid
point (the product of the grid's lists, the first path varying slowest) with each seed, and
returns a DataFrame with one row per run, sorted by (grid point, seed index) whatever order the
runs finished in. Columns: one per grid path (the value as given; a path whose values mix types
or are lists/mappings holds their text), ``seed``, every field of ``Results.summary()`` (NaN for
a run that failed), ``wall_s`` (wall-clock seconds of the run in its worker) and ``error`` (''
or ``"<ExceptionType>: <message>"``). The grid's columns are those before ``seed``.

Paths are the dotted paths errors name, set by :func:`sim.scenario.with_values` (as
``kafkasim run --set`` does). Every grid point is built and validated before any run starts, so
a bad path or value is one :class:`ScenarioError` naming its path.

Seeds: ``seeds=N`` draws N run seeds from ``numpy.random.SeedSequence(scenario.seed)`` (run
seed i depends on i only, so 5 seeds are the first 5 of 10), or ``seeds=[...]`` gives them; every
grid point runs with the same seeds (common random numbers), so differences between points are
not seed noise. A run's result depends on its scenario and seed only, never on the executor,
the worker count, the completion order or PYTHONHASHSEED.

``store=DIR`` keeps each finished run as ``DIR/<run key>.parquet`` (one row; the run's whole
scenario in the file's metadata), written atomically, so a sweep stopped midway and started
again with the same store computes only the runs it has not finished. The run key is a hash of
the scenario, the grid point and the seed. A run that raised is stored with its error (the
simulation is deterministic: it would raise again); a run lost to its executor (a worker that
died) is a row with the error but is not stored, so the next start retries it.
"""

from __future__ import annotations

import contextlib
import hashlib
import itertools
import json
import logging
import math
import multiprocessing
import os
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import Future, ProcessPoolExecutor, as_completed
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
from tqdm import tqdm

from sim import world
from sim.errors import ScenarioError
from sim.scenario import Scenario, require_simulated, with_values

EXECUTORS = ("processes", "dask", "serial")
SEED = "seed"
WALL = "wall_s"
ERROR = "error"
#: Key of a stored run file's metadata that holds the run's whole scenario as JSON.
STORED_SCENARIO = b"kafkasim.scenario"
#: Largest run seed + 1 (Scenario.seed is below 2**63).
SEED_LIMIT = 2**63
#: Key of :func:`sweep_stats`' ``attrs`` that holds its intervals' confidence level.
CONFIDENCE = "confidence"
#: Columns of :func:`sweep_stats` after the grid's.
STATS_COLUMNS = ("metric", "mean", "lo", "hi", "n")


@dataclass(frozen=True)
class Run:
    """One run of a sweep.

    columns: the grid values as the table shows them, by path.
    scenario: the run's whole scenario (``Scenario.to_dict()``), grid values and seed applied.
    key: the stable run key (hex SHA-256 of the sweep's scenario, grid point and seed).
    """

    seed: int
    columns: dict[str, Any]
    scenario: dict[str, Any]
    key: str


def sweep(
    scenario: Scenario | Mapping[str, Any],
    grid: Mapping[str, Sequence[Any]],
    seeds: int | Sequence[int] = 5,
    *,
    executor: str = "processes",
    address: str | None = None,
    store: str | Path | None = None,
    progress: bool = True,
    workers: int | None = None,
    on_run: Callable[[dict[str, Any]], None] | None = None,
) -> pd.DataFrame:
    """Run ``scenario`` at every point of ``grid`` with every seed; one row per run.

    grid: {dotted path: [values]}; ``{}`` runs the scenario itself with each seed.
    seeds: how many seeds to draw from the scenario's seed, or the run seeds themselves.
    executor: "processes" (a local process pool, spawned), "dask" (dask.distributed: the
    scheduler at ``address``, e.g. "tcp://host:8786", whose workers must have kafka-sim
    installed, or else a LocalCluster of worker processes) or "serial" (this process).
    workers: local worker processes (pool or LocalCluster), default the machine's cores.
    store: directory of finished runs, read first and appended to (see the module docstring).
    progress: show a progress bar (runs done, ETA).
    on_run: called in this process with each row computed now (not those read from the
    store), in completion order, after it is stored.
    """
    if executor not in EXECUTORS:
        raise ScenarioError("executor", f"{executor!r} is not one of {', '.join(EXECUTORS)}")
    if workers is not None and workers < 1:
        raise ScenarioError("workers", f"must be at least 1, got {workers}")
    base = scenario if isinstance(scenario, Scenario) else Scenario.from_dict(scenario)
    runs = plan(base, grid, seeds)
    rows = _read_store(Path(store), runs) if store is not None else {}
    todo = [run for run in runs if run.key not in rows]
    bar = tqdm(total=len(runs), initial=len(rows), unit="run", desc=base.name, disable=not progress)
    with bar, contextlib.closing(_execute(todo, executor, address, workers)) as outcomes:
        for run, outcome, keep in outcomes:
            row = {**run.columns, SEED: run.seed, **outcome}
            if store is not None and keep:
                _write_run(Path(store), run, row)
            rows[run.key] = row
            bar.update()
            if on_run is not None:
                on_run(row)
    return _table(runs, rows, list(grid))


def plan(
    scenario: Scenario, grid: Mapping[str, Sequence[Any]], seeds: int | Sequence[int]
) -> list[Run]:
    """The runs of a sweep in their fixed order (grid point, then seed index), every grid point
    built and checked (valid, and simulated by the engine) before any run starts."""
    values = _grid_lists(grid)
    run_seeds = seed_list(scenario.seed, seeds)
    shown = {path: _shown(path_values) for path, path_values in values.items()}
    base = scenario.to_dict()
    runs: list[Run] = []
    indices = itertools.product(*(range(len(v)) for v in values.values()))
    for combo in indices:
        assigned = {path: values[path][i] for path, i in zip(values, combo, strict=True)}
        columns = {path: shown[path][i] for path, i in zip(values, combo, strict=True)}
        checked = _checked(scenario, assigned)
        for seed in run_seeds:
            key = _run_key(base, assigned, seed)
            runs.append(Run(seed, columns, {**checked, SEED: seed}, key))
    return runs


def seed_list(scenario_seed: int, seeds: int | Sequence[int]) -> list[int]:
    """The run seeds: ``seeds`` itself, or N children of ``SeedSequence(scenario_seed)``."""
    if isinstance(seeds, bool) or not isinstance(seeds, int | Sequence):
        raise ScenarioError("seeds", f"give a number of seeds or a list of seeds, got {seeds!r}")
    if isinstance(seeds, int):
        if seeds < 1:
            raise ScenarioError("seeds", f"must be at least 1, got {seeds}")
        children = np.random.SeedSequence(scenario_seed).spawn(seeds)
        return [int(child.generate_state(1, np.uint64)[0]) % SEED_LIMIT for child in children]
    out = list(seeds)
    for i, seed in enumerate(out):
        if isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed < SEED_LIMIT:
            raise ScenarioError(f"seeds.{i}", f"a seed is an integer in [0, 2**63), got {seed!r}")
    if not out or len(set(out)) != len(out):
        raise ScenarioError("seeds", "give at least one seed, each once")
    return out


def sweep_stats(table: pd.DataFrame, confidence: float = 0.95) -> pd.DataFrame:
    """Mean and Student-t confidence interval of each summary field per grid point, across
    seeds, in long form: the grid's columns, then ``metric``, ``mean``, ``lo``, ``hi``, ``n``.

    n counts the runs without error whose value is not NaN; lo/hi are NaN when n < 2. The
    level is in the frame's ``attrs["confidence"]`` (the sweep figures' titles say it).
    Rows go field by field in the summary's order, each through the grid points in the
    table's order.
    """
    from scipy import stats  # a second to import: only when asked for statistics

    paths = grid_columns(table)
    metrics = [c for c in table.columns if c not in (*paths, SEED, WALL, ERROR)]
    ok = table[table[ERROR] == ""]
    long = ok.melt(id_vars=paths, value_vars=metrics, var_name="metric", value_name="value")
    long["value"] = pd.to_numeric(long["value"], errors="coerce")
    grouped = long.groupby([*paths, "metric"], sort=False, dropna=False)["value"]
    out = grouped.agg(mean="mean", sd="std", n="count").reset_index()
    n = out["n"].to_numpy()
    with np.errstate(invalid="ignore", divide="ignore"):
        t = stats.t.ppf((1 + confidence) / 2, np.where(n > 1, n - 1, np.nan))
        half = t * out["sd"].to_numpy() / np.sqrt(n)
    out["lo"] = out["mean"] - half
    out["hi"] = out["mean"] + half
    out = out[[*paths, *STATS_COLUMNS]]
    out.attrs[CONFIDENCE] = confidence
    return out


def grid_columns(frame: pd.DataFrame) -> list[str]:
    """The grid's columns of a sweep table (those before ``seed``) or of its stats (before
    ``metric``)."""
    columns = list(frame.columns)
    marker = SEED if SEED in columns else STATS_COLUMNS[0]
    if marker not in columns:
        raise ScenarioError("", f"not a sweep table: it has no {SEED!r} column")
    return columns[: columns.index(marker)]


# --------------------------------------------------------------------------- planning


def _grid_lists(grid: Mapping[str, Sequence[Any]]) -> dict[str, list[Any]]:
    """The grid as {path: list of values}, each list non-empty, without repeats."""
    if not isinstance(grid, Mapping):
        raise ScenarioError("grid", "give a mapping {dotted.path: [values]}")
    out: dict[str, list[Any]] = {}
    for path, values in grid.items():
        where = f"grid.{path}"
        if path == SEED:
            raise ScenarioError(where, "the sweep sets each run's seed; give seeds= instead")
        if isinstance(values, str | bytes | Mapping) or not isinstance(values, Sequence):
            raise ScenarioError(where, f"give a list of values, got {values!r}")
        texts = [_json(value, where) for value in values]
        if not texts or len(set(texts)) != len(texts):
            raise ScenarioError(where, "give at least one value, each once")
        out[path] = list(values)
    return out


def _checked(scenario: Scenario, assigned: dict[str, Any]) -> dict[str, Any]:
    """The scenario with ``assigned`` set, validated and simulated; its data (to_dict)."""
    try:
        run_scenario = Scenario.from_dict(with_values(scenario, assigned))
        require_simulated(run_scenario, world.CAPABILITIES)
    except ScenarioError as exc:
        point = ", ".join(f"{path}={value!r}" for path, value in assigned.items())
        raise type(exc)(exc.path, f"{exc.problem} (grid point {point})") from None
    return run_scenario.to_dict()


def _shown(values: list[Any]) -> list[Any]:
    """A path's values as its table column holds them: as given when all are numbers, all
    strings or all booleans, else the strings as given and the rest as JSON text."""
    kinds = {_kind(value) for value in values}
    if len(kinds) == 1 and kinds <= {bool, float, str}:
        return list(values)
    return [v if isinstance(v, str) else json.dumps(v) for v in values]


def _kind(value: Any) -> type:
    """bool for booleans, float for any other number, else the value's type."""
    if isinstance(value, bool):
        return bool
    return float if isinstance(value, int | float) else type(value)


def _json(value: Any, where: str) -> str:
    try:
        return json.dumps(value, sort_keys=True)
    except (TypeError, ValueError):
        raise ScenarioError(where, f"values must be JSON data, got {value!r}") from None


def _run_key(base: dict[str, Any], assigned: dict[str, Any], seed: int) -> str:
    """hex SHA-256 of the sweep's scenario, grid point and seed, as canonical JSON."""
    text = json.dumps(
        {"scenario": base, "grid": assigned, SEED: seed}, sort_keys=True, separators=(",", ":")
    )
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


# --------------------------------------------------------------------------- running


def _simulate(scenario: dict[str, Any]) -> dict[str, Any]:
    """One run in a worker: its summary (floats), wall time (s) and error ('' when none)."""
    start = time.perf_counter()
    try:
        results = world.run(Scenario.from_dict(scenario))
        summary = {k: float(v) for k, v in results.summary().items()}
        error = ""
    except Exception as exc:  # a run that raises is a row with its error, the sweep goes on
        summary, error = {}, f"{type(exc).__name__}: {exc}"
    return {**summary, WALL: time.perf_counter() - start, ERROR: error}


Outcome = tuple[Run, dict[str, Any], bool]


def _execute(
    runs: list[Run], executor: str, address: str | None, workers: int | None
) -> Iterator[Outcome]:
    """(run, outcome, keep) in completion order; keep is False when the executor, not the run,
    failed (the outcome then has only the error)."""
    if not runs:
        return
    if executor == "serial":
        for run in runs:
            yield run, _simulate(run.scenario), True
    elif executor == "processes":
        yield from _processes(runs, min(workers or os.cpu_count() or 1, len(runs)))
    else:
        yield from _dask(runs, address, workers or os.cpu_count() or 1)


def _processes(runs: list[Run], workers: int) -> Iterator[Outcome]:
    """A spawned process pool (no state inherited from this process); submitted in run order."""
    context = multiprocessing.get_context("spawn")
    pool = ProcessPoolExecutor(max_workers=workers, mp_context=context)
    try:
        futures = {pool.submit(_simulate, run.scenario): run for run in runs}
        for future in as_completed(futures):
            yield _collected(futures[future], future)
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


def _dask(runs: list[Run], address: str | None, workers: int) -> Iterator[Outcome]:
    """dask.distributed: the scheduler at ``address``, or a LocalCluster of ``workers``
    single-threaded worker processes; submitted in run order."""
    from distributed import Client, LocalCluster
    from distributed import as_completed as dask_completed

    with contextlib.ExitStack() as stack:
        target: Any = address
        if address is None:
            target = stack.enter_context(
                LocalCluster(
                    n_workers=min(workers, len(runs)),
                    threads_per_worker=1,
                    processes=True,
                    dashboard_address=None,
                    silence_logs=logging.ERROR,
                )
            )
        client = stack.enter_context(Client(target))
        futures = {
            client.submit(_simulate, run.scenario, key=f"kafkasim-run-{run.key}", pure=False): run
            for run in runs
        }
        try:
            for future in dask_completed(list(futures)):
                yield _collected(futures[future], future)
        finally:
            client.cancel(list(futures))


def _collected(run: Run, future: Future | Any) -> Outcome:
    """The outcome of a finished future; an executor's failure is a row not to be stored."""
    try:
        return run, future.result(), True
    except Exception as exc:  # the worker died or the scheduler lost the task
        return run, {WALL: math.nan, ERROR: f"{type(exc).__name__}: {exc}"}, False


# --------------------------------------------------------------------------- store and table


def _write_run(store: Path, run: Run, row: dict[str, Any]) -> None:
    """``store/<key>.parquet``: the row, with the run's scenario in the file's metadata; written
    to a hidden file first and renamed, so a killed sweep never leaves half a file."""
    store.mkdir(parents=True, exist_ok=True)
    table = pa.Table.from_pylist([row])
    table = table.replace_schema_metadata({STORED_SCENARIO: json.dumps(run.scenario)})
    partial = store / f".{run.key}.parquet.partial"
    pq.write_table(table, partial)
    os.replace(partial, store / f"{run.key}.parquet")


def _read_store(store: Path, runs: list[Run]) -> dict[str, dict[str, Any]]:
    """The stored rows of ``runs``, by run key; a stored file whose scenario differs from the
    run's is refused (the store belongs to another version of the scenario or of kafka-sim)."""
    rows: dict[str, dict[str, Any]] = {}
    for run in runs:
        file = store / f"{run.key}.parquet"
        if not file.is_file():
            continue
        table = pq.read_table(file)
        stored = json.loads((table.schema.metadata or {}).get(STORED_SCENARIO, b"null"))
        if stored != run.scenario:
            raise ScenarioError(
                "store",
                f"{file} holds another scenario under this run's key; give a new store directory",
            )
        rows[run.key] = table.to_pylist()[0]
    return rows


def _table(runs: list[Run], rows: dict[str, dict[str, Any]], paths: list[str]) -> pd.DataFrame:
    """The rows in run order; grid columns, seed, summary fields, wall time, error."""
    frame = pd.DataFrame.from_records([rows[run.key] for run in runs])
    middle = [c for c in frame.columns if c not in (*paths, SEED, WALL, ERROR)]
    return frame[[*paths, SEED, *middle, WALL, ERROR]]
