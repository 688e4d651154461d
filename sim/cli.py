"""The ``kafkasim`` command.

``kafkasim run FILE``: simulate a scenario, print its summary, save results (and plots);
``--set PATH=VALUE`` (repeatable) changes one field first, by the dotted path errors name
(``--set producers.0.config.acks=all``; VALUE is read as JSON when it parses, else as text).
``kafkasim validate FILE``: check a scenario (a .py script exposing SCENARIO or build(), or a .json
file) and print it normalised as JSON, or print the one-line error and exit 2.
``kafkasim defaults SCOPE``: print Kafka 3.9's defaults of the properties the model honours.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from collections.abc import Sequence
from pathlib import Path

from sim import kafka_config
from sim.errors import ScenarioError
from sim.scenario import Scenario, load_scenario, with_values

EXIT_USAGE = 2


def _validate(args: argparse.Namespace) -> int:
    scenario = load_scenario(args.file)
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


def _assignments(items: list[str]) -> dict[str, object]:
    """``PATH=VALUE`` strings -> {path: value}; a VALUE that parses as JSON is that value
    (``5``, ``true``, ``[1, 2]``), any other is the text itself (``all``)."""
    values: dict[str, object] = {}
    for item in items:
        path, sep, text = item.partition("=")
        if not sep or not path:
            raise ScenarioError(
                "--set", f"{item!r} is not PATH=VALUE; e.g. producers.0.config.acks=all"
            )
        try:
            values[path] = json.loads(text)
        except json.JSONDecodeError:
            values[path] = text
    return values


def _default_out(name: str, assignments: list[str] | None) -> str:
    """results/<scenario name>, with each ``--set`` in the folder name so that a changed run
    does not overwrite the scenario's own results."""
    if not assignments:
        return f"results/{name}"
    return "results/" + "+".join([name, *(a.replace("/", "_") for a in assignments)])


def summary_table(summary: dict[str, float], scenario: Scenario) -> str:
    """The summary as an aligned two-column table; n/a for fields the model did not measure."""
    lines = [f"{scenario.name}: {scenario.duration_s:g} s simulated, seed {scenario.seed}"]
    width = max(len(k) for k in summary)
    for name, value in summary.items():
        shown = (
            "n/a"
            if math.isnan(value)
            else (f"{value:,.0f}" if abs(value) >= 100 else f"{value:.3g}")
        )
        lines.append(f"  {name:<{width}}  {shown:>14}")
    return "\n".join(lines)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="kafkasim", description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    run = commands.add_parser("run", help="simulate a scenario and save its results")
    run.add_argument("file", help="scenario script (.py with SCENARIO or build()) or .json")
    run.add_argument("--out", help="results folder (default results/<scenario name>)")
    run.add_argument("--no-faults", action="store_true", help="drop the scenario's faults")
    run.add_argument("--no-plots", action="store_true", help="skip the PNG plots")
    run.add_argument("--quiet", action="store_true", help="no progress bar")
    run.add_argument(
        "--set",
        action="append",
        metavar="PATH=VALUE",
        help="change a field first, e.g. --set producers.0.config.acks=all (repeatable)",
    )
    run.set_defaults(handler=_run)
    validate = commands.add_parser("validate", help="check a scenario and print it normalised")
    validate.add_argument("file", help="scenario script (.py with SCENARIO or build()) or .json")
    validate.set_defaults(handler=_validate)
    defaults = commands.add_parser("defaults", help="print Kafka 3.9 defaults of one scope")
    defaults.add_argument("scope", choices=kafka_config.SCOPES)
    defaults.set_defaults(handler=_defaults)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point; returns the exit status (0 ok, 2 a user error, printed as one line)."""
    args = _parser().parse_args(argv)
    try:
        return args.handler(args)
    except ScenarioError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USAGE


if __name__ == "__main__":
    sys.exit(main())
