"""docs/scenario.md and docs/results.md, written from the code: the scenario models
(sim/scenario.py) and their field docstrings; the results' tables and summary fields
(sim/results.py) and event kinds (sim/events.py).

``python -m sim.docs`` rewrites docs/scenario.md; ``python -m sim.docs --check`` exits 1 when
the file differs from what the models give (tests/test_docs.py runs the check). Every field a
scenario can hold has a row: its dotted path (the form errors and ``--set`` use), type and
limits, default, unit and meaning. The meaning is the field's docstring, so the models are the
one source: :func:`undocumented` lists the fields without one.
"""

from __future__ import annotations

import json
import sys
import types
import typing
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, Union

import annotated_types
from pydantic import BaseModel
from pydantic.fields import FieldInfo
from pydantic_core import PydanticUndefined

from sim.scenario import (
    ClusterSpec,
    ConsumerGroupSpec,
    ProducerSpec,
    Scenario,
    TopicSpec,
    resolve_target,
)

DOC = Path(__file__).resolve().parents[1] / "docs" / "scenario.md"
RESULTS_DOC = DOC.with_name("results.md")

#: Units by field-name suffix, longest first (sim/scenario.py: units are in the field names).
UNITS = (
    ("_msgs_s", "records/s"),
    ("_mb_s", "MB/s (10^6 bytes/s)"),
    ("_gbps", "Gbit/s"),
    ("_bytes", "bytes"),
    ("_mb", "MB (10^6 bytes)"),
    ("_ms", "ms"),
    ("_us", "µs"),
    ("_s", "s"),
)
#: Fields whose suffix is not a unit: the Zipf exponent is called s.
NOT_UNITS = frozenset({"zipf_s"})
#: The section of docs/configuration.md for each model's ``config``.
CONFIG_SCOPES = {
    ClusterSpec: "broker",
    TopicSpec: "topic",
    ProducerSpec: "producer",
    ConsumerGroupSpec: "consumer",
}

INTRO = """\
# Scenario schema

<!-- Written by `python -m sim.docs` from the models in sim/scenario.py; edit their field
docstrings, not this file. tests/test_docs.py fails when the two differ. -->

A scenario is plain data: what cluster, which topics, which clients, which faults, for how long.
Write it as a Python script that defines `SCENARIO` (a dict or a `sim.Scenario`) or `build()`
returning one (see `scenarios/`), or as a JSON file holding the dict; run it with
`kafkasim run FILE` or `sim.run(sim.load_scenario(FILE))`.

**Paths.** Every field below is named by its dotted path: list items by their index from 0
(`producers.0.rate_msgs_s`), mappings by their key
(`cluster.hardware.per_broker.2.disk_write_mb_s`). Under a `config` the rest of the path is one
Kafka property, dots and all (`producers.0.config.linger.ms`). Errors name the field this way
(`producers.0.config.acks: ...`), and `kafkasim run FILE --set PATH=VALUE` changes one field
before the run (`--set producers.0.config.acks=all`; VALUE is read as JSON when it parses, else
as text). `N` in the paths below stands for an index.

**Kafka properties.** The `config` mappings hold Kafka 3.9 properties by their own names; the
ones the model honours, their defaults, validation and cross-property rules are in
[configuration.md](configuration.md).

**Units** are in the field names: `_s` seconds, `_ms` milliseconds, `_bytes` bytes, `_mb`
10^6 bytes, `_mb_s` 10^6 bytes per second, `_gbps` gigabits per second, `_msgs_s` records per
second. Times of the run (`at_s`, `start_s`, `stop_s`) are simulated seconds from its start.

**Not simulated yet**: `coordination: "kraft"` is part of the schema, but a run refuses a
scenario that uses it, naming the field. Several clusters (`clusters`, `mirrors`) and the
schema registry (`schema_registry`) are simulated.

**Fault targets** (a fault's `broker`, `node`, `isolate`, `links` or `between`): {targets}
"""


@dataclass(frozen=True)
class Section:
    """One model's table: the model, the path prefixes it appears under, its heading."""

    model: type[BaseModel]
    prefixes: tuple[str, ...]
    heading: str


def sections(root: type[BaseModel] = Scenario) -> list[Section]:
    """Every model reachable from ``root``, depth first in field order, with each of its
    prefixes (the first one met names its rows)."""
    found: dict[type[BaseModel], list[str]] = {}

    def visit(model: type[BaseModel], prefix: str) -> None:
        if model in found:
            found[model].append(prefix)
            return
        found[model] = [prefix]
        for name, field in model.model_fields.items():
            for sub, suffix in _nested(field.annotation):
                visit(sub, _join(prefix, field.alias or name) + suffix)

    visit(root, "")
    return [Section(m, tuple(p), _heading(m)) for m, p in found.items()]


def _nested(annotation: Any, suffix: str = "") -> Iterator[tuple[type[BaseModel], str]]:
    """The models inside a field's type, each with the path suffix that reaches it."""
    origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        yield annotation, suffix
    elif origin is typing.Annotated:
        yield from _nested(args[0], suffix)
    elif origin in (Union, types.UnionType):
        for arg in args:
            yield from _nested(arg, suffix)
    elif origin is list:
        yield from _nested(args[0], suffix + ".N")
    elif origin is dict:
        yield from _nested(args[1], suffix + ".<id>")


def _join(prefix: str, name: str) -> str:
    return f"{prefix}.{name}" if prefix else name


def _heading(model: type[BaseModel]) -> str:
    kind = model.model_fields.get("kind")
    if kind is not None and _single_literal(kind):
        return f"Fault `{typing.get_args(kind.annotation)[0]}`"
    return model.__name__


def _single_literal(field: FieldInfo) -> bool:
    """A fault's ``kind``: one literal value, documented by its section."""
    args = typing.get_args(field.annotation)
    return typing.get_origin(field.annotation) is Literal and len(args) == 1


def undocumented(root: type[BaseModel] = Scenario) -> list[str]:
    """Dotted paths of the fields reachable from ``root`` that have no docstring."""
    missing = []
    for section in sections(root):
        for name, field in section.model.model_fields.items():
            if not field.description and not _single_literal(field):
                missing.append(_join(section.prefixes[0], field.alias or name))
    return missing


# --------------------------------------------------------------------------- rendering


def render(root: type[BaseModel] = Scenario) -> str:
    """The whole of docs/scenario.md."""
    targets = _md(_paragraph(resolve_target.__doc__.split("\n\n", 1)[1]))
    targets = targets.removeprefix("Targets: ")
    parts = [INTRO.format(targets=targets)]
    for section in sections(root):
        parts.append(_section(section))
    return "\n".join(parts)


def _section(section: Section) -> str:
    model = section.model
    where = ", ".join(f"`{p}`" if p else "the top level" for p in section.prefixes)
    lines = [
        f"## {section.heading}",
        "",
        _md(_paragraph(model.__doc__ or "")),
        "",
        f"At {where}.",
        "",
        "| path | type | default | unit | meaning |",
        "|---|---|---|---|---|",
    ]
    prefix = section.prefixes[0]
    for name, field in model.model_fields.items():
        key = field.alias or name
        lines.append(
            "| "
            + " | ".join(
                [
                    f"`{_join(prefix, key)}`",
                    _cell(_type(field)),
                    _cell(_default(field)),
                    _unit(name),
                    _cell(_meaning(model, name, field)),
                ]
            )
            + " |"
        )
    lines.append("")
    return "\n".join(lines)


def _meaning(model: type[BaseModel], name: str, field: FieldInfo) -> str:
    if _single_literal(field):
        return "the fault kind"
    text = _md(_paragraph(field.description or ""))
    scope = CONFIG_SCOPES.get(model)
    if name == "config" and scope:
        text += f" See [configuration.md](configuration.md#{scope})."
    return text


def _paragraph(text: str) -> str:
    """A docstring's first paragraph on one line."""
    first = text.strip().split("\n\n")[0]
    return " ".join(line.strip() for line in first.splitlines())


def _md(text: str) -> str:
    """reStructuredText's ``code`` as Markdown's `code`."""
    return text.replace("``", "`")


def _cell(text: str) -> str:
    return text.replace("|", "\\|")


def _unit(name: str) -> str:
    if name in NOT_UNITS:
        return ""
    return next((unit for suffix, unit in UNITS if name.endswith(suffix)), "")


def _default(field: FieldInfo) -> str:
    if field.is_required():
        return "required"
    value = field.default_factory() if field.default_factory else field.default
    if value is PydanticUndefined:
        return "required"
    if isinstance(value, BaseModel):
        return "all defaults"
    return f"`{json.dumps(value)}`"


def _type(field: FieldInfo) -> str:
    text = _type_name(field.annotation)
    limits = _limits(field.metadata)
    return f"{text} ({limits})" if limits else text


def _type_name(annotation: Any) -> str:
    origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    if origin is typing.Annotated:
        if any(isinstance(a, FieldInfo) and a.discriminator for a in args[1:]):
            return f"a fault: one of the `{args[1].discriminator}` sections below"
        limits = _limits(args[1:])
        inner = _type_name(args[0])
        return f"{inner} ({limits})" if limits else inner
    if origin in (Union, types.UnionType):
        names = [_type_name(a) for a in args if a is not type(None)]
        text = " or ".join(names)
        return f"{text} or null" if type(None) in args else text
    if origin is Literal:
        return " | ".join(f'`"{a}"`' for a in args)
    if origin is list:
        return f"list of {_type_name(args[0])}"
    if origin is tuple:
        return "[" + ", ".join(_type_name(a) for a in args) + "]"
    if origin is dict:
        if args[1] is Any:
            return "mapping"
        return f"mapping of id to {_type_name(args[1])}"
    if _is_model(annotation):
        return f"[{annotation.__name__}](#{annotation.__name__.lower()})"
    return {int: "integer", float: "number", str: "string", bool: "boolean"}.get(
        annotation, str(annotation)
    )


def _is_model(annotation: Any) -> bool:
    return isinstance(annotation, type) and issubclass(annotation, BaseModel)


def _limits(metadata: Any) -> str:
    """Pydantic's constraints as text: ``> 0``, ``≥ 1``, ``at least 1 item``."""
    out = []
    for item in metadata:
        if isinstance(item, FieldInfo):
            out.append(_limits(item.metadata))
        elif isinstance(item, annotated_types.Gt):
            out.append(f"> {item.gt:g}")
        elif isinstance(item, annotated_types.Ge):
            out.append(f"≥ {item.ge:g}")
        elif isinstance(item, annotated_types.Lt):
            out.append(f"< {_number(item.lt)}")
        elif isinstance(item, annotated_types.Le):
            out.append(f"≤ {_number(item.le)}")
        elif isinstance(item, annotated_types.MinLen):
            out.append(f"at least {item.min_length} item")
    return ", ".join(o for o in out if o)


def _number(value: float) -> str:
    """``10,000``; a power of two past 2^32 as ``2^63``."""
    if isinstance(value, int) and value > 2**32 and value & (value - 1) == 0:
        return f"2^{value.bit_length() - 1}"
    return f"{value:,}"


RESULTS_INTRO = """\
# Results

<!-- Written by `python -m sim.docs` from sim/results.py (TABLES, SUMMARY_FIELDS), sim/events.py
(MEANING) and sim/liveness.py; edit those, not this file. tests/test_docs.py fails when the two
differ. -->

`sim.run(scenario)` and `kafkasim run FILE` give a `sim.Results`: the tables below as pandas
DataFrames (`results.events`, `results.tables["events"]`), one row per batch, poll, event or
client, never per message; `results.summary()`, the fields below; and `results.warnings`.
`results.save(DIR)` writes each table as parquet with `scenario.json` and `summary.json`;
`sim.Results.load(DIR)` reads them back. Times are simulated seconds from the start of the run.
A summary field the run does not measure is NaN (`n/a` in the CLI), never a made-up 0.

Three checks run on every run's tables:

- **the audit** (safety, `sim/audit.py`): acknowledged records missing from the final logs,
  duplicates, reorderings, what consumers saw wrong;
- **the accounting** (`sim/audit.py`, [accounting.md](accounting.md)): for each producer,
  offered = acked + failed + pending, exactly, or the run raises `AccountingError`;
- **the liveness checker** (`sim/liveness.py`): after the last fault heals, leaders, ISRs, each
  producer, each group and its lag must recover within a bound derived from the scenario's own
  settings (the `liveness` table gives each item's `recovered_s` and `bound_s`). The bounds add up
  the terms Kafka pays: ZooKeeper session expiry and a tick; the controller's work per
  partition; request timeouts and retry backoffs for requests held in a cut link; catching up at
  half a NIC; for groups, `session.timeout.ms` and two rebalances of
  `group.initial.rebalance.delay.ms` and two heartbeats. A fault that never heals leaves
  liveness unchecked (NaN, and a warning).
"""


def render_results() -> str:
    """docs/results.md: every table and column, every summary field, every event kind."""
    from sim.events import MEANING
    from sim.results import SUMMARY_FIELDS, TABLES

    parts = [RESULTS_INTRO, "## Summary fields\n", "| field | meaning |", "|---|---|"]
    parts += [f"| `{name}` | {_cell(_md(text))} |" for name, text in SUMMARY_FIELDS.items()]
    parts += ["", "## Tables\n"]
    for name, columns in TABLES.items():
        parts += [f"### `{name}`\n", "| column | type | meaning |", "|---|---|---|"]
        parts += [f"| `{c.name}` | {c.dtype} | {_cell(_md(c.doc))} |" for c in columns]
        parts.append("")
    parts += [
        "## Event kinds\n",
        "The `kind` column of `events`; the columns each fills in brackets.\n",
    ]
    parts += ["| kind | meaning |", "|---|---|"]
    parts += [f"| `{kind}` | {_cell(_md(text))} |" for kind, text in MEANING.items()]
    return "\n".join(parts) + "\n"


def main(argv: list[str] | None = None) -> int:
    """Write docs/scenario.md and docs/results.md, or with ``--check`` exit 1 when either is
    out of date."""
    args = sys.argv[1:] if argv is None else argv
    docs = {DOC: render(), RESULTS_DOC: render_results()}
    if "--check" in args:
        stale = [
            path for path, text in docs.items() if not path.is_file() or path.read_text() != text
        ]
        for path in stale:
            print(f"{path} is out of date: run python -m sim.docs", file=sys.stderr)
        return 1 if stale else 0
    for path, text in docs.items():
        path.write_text(text)
        print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
