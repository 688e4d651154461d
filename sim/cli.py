"""The ``kafkasim`` command.

``kafkasim validate FILE``: check a scenario (a .py script exposing SCENARIO or build(), or a .json
file) and print it normalised as JSON, or print the one-line error and exit 2.
``kafkasim defaults SCOPE``: print Kafka 3.9's defaults of the properties the model honours.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence

from sim import kafka_config
from sim.errors import ScenarioError
from sim.scenario import load_scenario

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


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="kafkasim", description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
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
