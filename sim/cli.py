"""The ``kafkasim`` command.

``kafkasim run FILE``: simulate a scenario, print its summary, save results (and plots);
``--set PATH=VALUE`` (repeatable) changes one field first, by the dotted path errors name
(``--set producers.0.config.acks=all``; VALUE is read as JSON when it parses, else as text).
``kafkasim validate FILE``: check a scenario (a .py script exposing SCENARIO or build(), or a .json
file; ``--set`` too) as ``run`` would, and print it normalised as JSON, or print the one-line error
and exit 2.
``kafkasim sweep FILE --grid PATH=V1,V2,... --seeds N``: run the scenario at every grid point with
N seeds (:func:`sim.sweep.sweep`; ``--seeds 7,8`` runs seeds 7 and 8 themselves), print the
means and 95 % intervals, save the table (parquet and csv), its statistics and plots; VALUEs are
read as ``--set`` reads them. Each finished run is kept in the store (default ``<out>/runs``), so
the same command after an interruption resumes.
``kafkasim plot DIR``: draw again the plots of a saved run or sweep folder.
``kafkasim defaults SCOPE``: print Kafka 3.9's defaults of the properties the model honours.
"""

from __future__ import annotations

import argparse
import importlib.metadata
import json
import math
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from sim import kafka_config
from sim.errors import ScenarioError
from sim.scenario import Scenario, load_scenario, require_simulated, with_values

if TYPE_CHECKING:
    import pandas as pd

EXIT_USAGE = 2
#: Exit status when the reader of stdout went away (``kafkasim defaults producer | head``).
EXIT_BROKEN_PIPE = 1
#: Exit status after Ctrl-C (128 + SIGINT, as a shell reports it).
EXIT_INTERRUPTED = 130
DEFAULT_SEEDS = 5


def _scenario(args: argparse.Namespace) -> Scenario:
    """The FILE of a command with its ``--set`` assignments applied."""
    scenario = load_scenario(args.file)
    if args.set:
        scenario = Scenario.from_dict(with_values(scenario, _assignments(args.set)))
    return scenario


def _validate(args: argparse.Namespace) -> int:
    from sim.world import CAPABILITIES

    scenario = _scenario(args)
    require_simulated(scenario, CAPABILITIES)  # what `run` would refuse
    for warning in scenario.warnings():
        print(f"warning: {warning}", file=sys.stderr)
    print(json.dumps(scenario.to_dict(), indent=2))
    return 0


def _defaults(args: argparse.Namespace) -> int:
    print(json.dumps(kafka_config.defaults(args.scope), indent=2))
    return 0


def _run(args: argparse.Namespace) -> int:
    from sim.world import run

    scenario = load_scenario(args.file)
    # faults dropped first: a shorter duration_s set next need not outlast them
    if args.no_faults and scenario.faults:
        kinds = ", ".join(f.kind for f in scenario.faults)
        print(f"note: running without the scenario's faults ({kinds})", file=sys.stderr)
        scenario = Scenario.from_dict({**scenario.to_dict(), "faults": []})
    if args.set:
        scenario = Scenario.from_dict(with_values(scenario, _assignments(args.set)))
    results = run(scenario, progress=not args.quiet)
    print(summary_table(results.summary(), scenario))
    for warning in results.warnings:
        print(f"warning: {warning}", file=sys.stderr)
    out = Path(args.out or _default_out(scenario.name, args.set))
    results.save(out)
    written = [out / "summary.json"]
    if not args.no_plots:
        from sim.plots import save_standard_plots

        written += save_standard_plots(results, out)
    print(f"results written to {out}/ ({', '.join(p.name for p in written)}, tables as parquet)")
    return 0


def _sweep(args: argparse.Namespace) -> int:
    from sim.plots import save_sweep_plots
    from sim.sweep import sweep, sweep_stats

    scenario = _scenario(args)
    executor = args.executor or ("dask" if args.dask else "processes")
    if args.dask and executor != "dask":
        raise ScenarioError("--dask", f"needs --executor dask, not {executor}")
    out = Path(args.out or _default_out(f"{scenario.name}-sweep", args.set))
    store = Path(args.store) if args.store else out / "runs"
    try:
        table = sweep(
            scenario,
            _grid(args.grid or []),
            _seeds(args.seeds),
            executor=executor,
            address=args.dask,
            store=store,
            progress=not args.quiet,
            workers=args.workers,
        )
    except KeyboardInterrupt:
        print(
            f"interrupted: finished runs are kept in {store}/; the same command resumes",
            file=sys.stderr,
        )
        return EXIT_INTERRUPTED
    stats = sweep_stats(table)
    print(stats_table(stats))
    failed = table[table["error"] != ""]
    if len(failed):
        first = failed["error"].iloc[0]
        print(f"warning: {len(failed)} runs failed (column error), first: {first}", file=sys.stderr)
    written = _save_sweep(table, stats, scenario, out)
    if not args.no_plots:
        written += save_sweep_plots(stats, out, scenario.name)
    print(f"sweep written to {out}/ ({', '.join(p.name for p in written)})")
    return 0


def _save_sweep(
    table: pd.DataFrame, stats: pd.DataFrame, scenario: Scenario, out: Path
) -> list[Path]:
    """sweep.parquet and sweep.csv (the table), stats.csv, scenario.json; their paths."""
    out.mkdir(parents=True, exist_ok=True)
    table.to_parquet(out / "sweep.parquet", index=False)
    table.to_csv(out / "sweep.csv", index=False)
    stats.to_csv(out / "stats.csv", index=False)
    (out / "scenario.json").write_text(json.dumps(scenario.to_dict(), indent=2) + "\n")
    return [out / name for name in ("sweep.parquet", "sweep.csv", "stats.csv", "scenario.json")]


def _plot(args: argparse.Namespace) -> int:
    from sim.plots import save_standard_plots, save_sweep_plots

    folder = Path(args.dir)
    if (folder / "sweep.parquet").is_file():
        import pandas as pd

        from sim.sweep import sweep_stats

        name = json.loads((folder / "scenario.json").read_text())["name"]
        stats = sweep_stats(pd.read_parquet(folder / "sweep.parquet"))
        written = save_sweep_plots(stats, folder, name)
    elif (folder / "summary.json").is_file():
        from sim.results import Results

        written = save_standard_plots(Results.load(folder), folder)
    else:
        raise ScenarioError(
            "", f"{folder}: neither a saved run (summary.json) nor a sweep (sweep.parquet)"
        )
    print(f"plots written to {folder}/ ({', '.join(p.name for p in written)})")
    return 0


def _assignments(items: list[str]) -> dict[str, object]:
    """``PATH=VALUE`` strings -> {path: value}, VALUE read by :func:`_value`."""
    values: dict[str, object] = {}
    for item in items:
        path, sep, text = item.partition("=")
        if not sep or not path:
            raise ScenarioError(
                "--set", f"{item!r} is not PATH=VALUE; e.g. producers.0.config.acks=all"
            )
        values[path] = _value(text)
    return values


def _seeds(text: str) -> int | list[int]:
    """``--seeds``: ``N`` (a count, drawn from the scenario's seed) or ``S1,S2,...`` (the run
    seeds themselves; ``7,`` is the one seed 7)."""
    parts = text.split(",")
    if len(parts) > 1 and not parts[-1].strip():
        parts.pop()  # "7,": a list of one seed
    try:
        numbers = [int(part) for part in parts]
    except ValueError:
        raise ScenarioError(
            "--seeds",
            f"give a count (--seeds 5) or seeds separated by commas (--seeds 7,8), got {text!r}",
        ) from None
    return numbers if "," in text else numbers[0]


def _grid(items: list[str]) -> dict[str, list[object]]:
    """``PATH=V1,V2,...`` strings -> {path: [values]}: the values as one JSON list when they
    parse as one (``0,5,20``; ``[1,2],[3]``), else split at commas, each read by :func:`_value`
    (``1,all``)."""
    grid: dict[str, list[object]] = {}
    for item in items:
        path, sep, text = item.partition("=")
        if not sep or not path or not text:
            raise ScenarioError(
                "--grid", f"{item!r} is not PATH=V1,V2,...; e.g. producers.0.config.linger.ms=0,5"
            )
        if path in grid:
            raise ScenarioError(f"grid.{path}", "given twice; list all its values in one --grid")
        try:
            grid[path] = json.loads(f"[{text}]")
        except json.JSONDecodeError:
            grid[path] = [_value(part) for part in text.split(",")]
    return grid


def _value(text: str) -> object:
    """A command-line VALUE: the JSON value when it parses as JSON (``5``, ``true``,
    ``[1, 2]``), else the text itself (``all``)."""
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text


def _default_out(name: str, assignments: list[str] | None) -> str:
    """results/<name>, with each ``--set`` in the folder name so that a changed run
    does not overwrite the scenario's own results."""
    if not assignments:
        return f"results/{name}"
    return "results/" + "+".join([name, *(a.replace("/", "_") for a in assignments)])


def summary_table(summary: dict[str, float], scenario: Scenario) -> str:
    """The summary as an aligned two-column table; n/a for fields the model did not measure.
    The mirrors' fields only when the scenario has mirrors (summary.json and a sweep's table
    keep every field, NaN there, so that their columns are the same for every run)."""
    from sim.multi_cluster import MIRROR_FIELDS

    hidden = () if scenario.mirrors else MIRROR_FIELDS
    summary = {name: value for name, value in summary.items() if name not in hidden}
    lines = [f"{scenario.name}: {scenario.duration_s:g} s simulated, seed {scenario.seed}"]
    width = max(len(k) for k in summary)
    for name, value in summary.items():
        lines.append(f"  {name:<{width}}  {_number(value):>14}")
    return "\n".join(lines)


def stats_table(stats: pd.DataFrame) -> str:
    """Per grid point, the mean and 95 % interval of the plotted summary fields it measured."""
    from sim.plots import SWEEP_METRICS
    from sim.sweep import grid_columns

    paths = grid_columns(stats)
    shown = stats[stats["metric"].isin(SWEEP_METRICS) & stats["mean"].notna()]
    points = shown.groupby(paths, sort=False, dropna=False) if paths else [((), shown)]
    width = max(map(len, SWEEP_METRICS))
    lines = []
    for key, rows in points:
        values = key if isinstance(key, tuple) else (key,)
        lines.append(", ".join(f"{p}={v}" for p, v in zip(paths, values, strict=True)) or "all")
        for row in rows.itertuples():
            interval = f"[{_number(row.lo)}, {_number(row.hi)}]"
            lines.append(f"  {row.metric:<{width}}  {_number(row.mean):>14}  {interval}  n={row.n}")
    return "\n".join(lines)


def _number(value: float) -> str:
    """A figure as the tables print it: n/a for NaN, thousands grouped from 100 up."""
    if math.isnan(value):
        return "n/a"
    return f"{value:,.0f}" if abs(value) >= 100 else f"{value:.3g}"


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="kafkasim", description=__doc__.split("\n\n")[0])
    parser.add_argument("--version", action="version", version=f"%(prog)s {_version()}")
    commands = parser.add_subparsers(dest="command", required=True)
    run = commands.add_parser("run", help="simulate a scenario and save its results")
    run.add_argument("file", help="scenario script (.py with SCENARIO or build()) or .json")
    run.add_argument("--out", help="results folder (default results/<scenario name>)")
    run.add_argument("--no-faults", action="store_true", help="drop the scenario's faults")
    run.add_argument("--no-plots", action="store_true", help="skip the PNG plots")
    run.add_argument("--quiet", action="store_true", help="no progress bar")
    _add_set(run)
    run.set_defaults(handler=_run)
    validate = commands.add_parser("validate", help="check a scenario and print it normalised")
    validate.add_argument("file", help="scenario script (.py with SCENARIO or build()) or .json")
    _add_set(validate)
    validate.set_defaults(handler=_validate)
    _add_sweep(commands)
    plot = commands.add_parser("plot", help="draw again the plots of a saved run or sweep")
    plot.add_argument("dir", help="a folder written by kafkasim run or kafkasim sweep")
    plot.set_defaults(handler=_plot)
    defaults = commands.add_parser("defaults", help="print Kafka 3.9 defaults of one scope")
    defaults.add_argument("scope", choices=kafka_config.SCOPES)
    defaults.set_defaults(handler=_defaults)
    return parser


def _add_set(command: argparse.ArgumentParser) -> None:
    command.add_argument(
        "--set",
        action="append",
        metavar="PATH=VALUE",
        help="change a field first, e.g. --set producers.0.config.acks=all (repeatable)",
    )


def _add_sweep(commands: argparse._SubParsersAction) -> None:
    sweep = commands.add_parser("sweep", help="run a scenario over a grid of values and seeds")
    sweep.add_argument("file", help="scenario script (.py with SCENARIO or build()) or .json")
    sweep.add_argument(
        "--grid",
        action="append",
        metavar="PATH=V1,V2",
        help="values of one field, e.g. --grid producers.0.config.linger.ms=0,5,20 (repeatable)",
    )
    sweep.add_argument(
        "--seeds",
        default=str(DEFAULT_SEEDS),
        metavar="N|S1,S2",
        help="N: N seeds drawn from the scenario's seed; S1,S2,...: these seeds ('7,' is seed 7"
        " alone). The table's seed column is each run's seed: kafkasim run FILE --set seed=SEED"
        " (and the row's grid values as --set) reproduces that row",
    )
    sweep.add_argument("--executor", choices=("processes", "dask", "serial"))
    sweep.add_argument("--dask", metavar="ADDRESS", help="Dask scheduler, e.g. tcp://host:8786")
    sweep.add_argument("--workers", type=int, help="local worker processes (default: cores)")
    sweep.add_argument("--store", help="finished runs, kept to resume (default <out>/runs)")
    sweep.add_argument(
        "--out", help="output folder (default results/<scenario name>-sweep, with any --set)"
    )
    sweep.add_argument("--no-plots", action="store_true", help="skip the PNG plots")
    sweep.add_argument("--quiet", action="store_true", help="no progress bar")
    _add_set(sweep)
    sweep.set_defaults(handler=_sweep)


def _version() -> str:
    try:
        return importlib.metadata.version("kafka-sim")
    except importlib.metadata.PackageNotFoundError:
        return "(not installed)"


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point; returns the exit status (0 ok, 2 a user error, printed as one line)."""
    args = _parser().parse_args(argv)
    try:
        status = args.handler(args)
        sys.stdout.flush()  # a closed pipe shows here, not at exit
        return status
    except ScenarioError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        # The reader went away (`kafkasim defaults producer | head`): stop quietly; stdout goes
        # to /dev/null so that Python's flush at exit does not fail again.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_BROKEN_PIPE


if __name__ == "__main__":
    sys.exit(main())
