"""Avro schema compatibility (sim.schemas) against the Avro spec, Confluent's levels and fastavro.

The table: each case is a registered history (oldest first) and a new schema, with the expected
answer for the 7 levels in the order of ``MODES`` ("Y" compatible, "N" not). Each row's comment
gives the reason by the Avro specification's "Schema Resolution" rules: B = can the new schema
read the old data (reader new, writer old), F = can the old schema read the new data; by
Confluent's "Schema Evolution and Compatibility": BACKWARD = B against the latest version,
FORWARD = F against the latest, FULL = both, ``_TRANSITIVE`` = against every version, NONE = Y.
Confluent's summary table: BACKWARD allows deleting fields and adding optional fields, FORWARD
adding fields and deleting optional fields, FULL adding and deleting optional fields.

The oracle: fastavro writes sample records with the writer's schema and reads them with the
reader's (``schemaless_reader(..., writer_schema, reader_schema)``); it raises
SchemaResolutionError when it cannot resolve. fastavro checks only what a record exercises, so
the samples cover every enum symbol, every union branch and one item of each array and map
(:func:`samples`); then "every sample reads" decides compatible and a raise decides
incompatible. Every case and level where fastavro decides asserts that it agrees.
"""

from __future__ import annotations

import io
from functools import cache

import fastavro
import pytest
from fastavro.read import SchemaResolutionError
from hypothesis import given, settings
from hypothesis import strategies as st

from sim.errors import ScenarioError
from sim.schemas import (
    CompatibilityLevel,
    Direction,
    IncompatibilityKind,
    check_compatibility,
    check_reader_writer_compatibility,
    is_compatible,
)

MODES = [
    "NONE",
    "BACKWARD",
    "BACKWARD_TRANSITIVE",
    "FORWARD",
    "FORWARD_TRANSITIVE",
    "FULL",
    "FULL_TRANSITIVE",
]


def rec(*fields, name="Order", **attrs) -> dict:
    """A record schema named ``name`` with ``fields`` (dicts from :func:`f`)."""
    return {"type": "record", "name": name, **attrs, "fields": list(fields)}


def f(name: str, type_, **attrs) -> dict:
    """A record field."""
    return {"name": name, "type": type_, **attrs}


ID = f("id", "long")


def enum(*symbols, **attrs) -> dict:
    return {"type": "enum", "name": "Status", "symbols": list(symbols), **attrs}


def address(*extra) -> dict:
    return rec(f("street", "string"), *extra, name="Address")


def linked(value_type: str, *extra) -> dict:
    """The spec's recursive LongList example, with a value type and extra fields."""
    return rec(f("value", value_type), f("next", ["null", "LongList"]), *extra, name="LongList")


# (id, history oldest first, new schema, expected over MODES)
CASES = [
    # Add a field with a default. B: "if the reader's record schema has a field that contains a
    # default value, and writer's schema does not have a field with the same name, then the
    # reader should use the default value"; F: "if the writer's record contains a field with a
    # name not present in the reader's record, the writer's value for that field is ignored".
    # Confluent: adding an optional field is allowed by every level.
    ("add-field-default", [rec(ID)], rec(ID, f("note", "string", default="")), "YYYYYYY"),
    # Add a field without a default. B: "if the reader's record schema has a field with no
    # default value, and writer's schema does not have a field with the same name, an error is
    # signalled"; F: the writer's extra field is ignored. Confluent: FORWARD allows adding fields.
    ("add-field-no-default", [rec(ID)], rec(ID, f("note", "string")), "YNNYYNN"),
    # Add an optional field (union with null, default null): as add-field-default.
    (
        "add-optional-union-field",
        [rec(ID)],
        rec(ID, f("note", ["null", "string"], default=None)),
        "YYYYYYY",
    ),
    # Remove a field that had a default. B: the writer's value is ignored; F: the old reader
    # uses its default. Confluent: deleting an optional field is allowed by every level.
    ("remove-field-default", [rec(ID, f("note", "string", default=""))], rec(ID), "YYYYYYY"),
    # Remove a field without a default. B: ignored; F: the old reader's field has no default and
    # is not written: error. Confluent: BACKWARD allows deleting fields, FORWARD does not.
    ("remove-field-no-default", [rec(ID, f("note", "string"))], rec(ID), "YYYNNNN"),
    # int -> long. B: "int is promotable to long, float, or double"; F: long is promotable
    # only to float or double, so long data cannot be read as int.
    ("int-to-long", [rec(f("price", "int"))], rec(f("price", "long")), "YYYNNNN"),
    # long -> int: the reverse of int-to-long.
    ("long-to-int", [rec(f("price", "long"))], rec(f("price", "int")), "YNNYYNN"),
    # int -> double. B: int is promotable to double; F: double is promotable to nothing.
    ("int-to-double", [rec(f("price", "int"))], rec(f("price", "double")), "YYYNNNN"),
    # float -> double. B: "float is promotable to double"; F: double promotes to nothing.
    ("float-to-double", [rec(f("price", "float"))], rec(f("price", "double")), "YYYNNNN"),
    # string -> bytes. B: "string is promotable to bytes"; F: "bytes is promotable to string".
    ("string-to-bytes", [rec(f("blob", "string"))], rec(f("blob", "bytes")), "YYYYYYY"),
    # bytes -> string: the same two promotions the other way round.
    ("bytes-to-string", [rec(f("blob", "bytes"))], rec(f("blob", "string")), "YYYYYYY"),
    # int -> string: no promotion between them ("both schemas have same primitive type" fails).
    ("int-to-string", [rec(f("price", "int"))], rec(f("price", "string")), "YNNNNNN"),
    # Enum symbol added, no enum default. B: every old symbol is in the new enum; F: "if the
    # writer's symbol is not present in the reader's enum and the reader has a default value,
    # then that value is used, otherwise an error is signalled" (no default: error).
    (
        "enum-symbol-added",
        [rec(f("status", enum("NEW", "PAID")))],
        rec(f("status", enum("NEW", "PAID", "SHIPPED"))),
        "YYYNNNN",
    ),
    # Enum symbol added, both enums with a default (Avro 1.9+): F reads SHIPPED as UNKNOWN.
    (
        "enum-symbol-added-with-default",
        [rec(f("status", enum("UNKNOWN", "NEW", "PAID", default="UNKNOWN")))],
        rec(f("status", enum("UNKNOWN", "NEW", "PAID", "SHIPPED", default="UNKNOWN"))),
        "YYYYYYY",
    ),
    # Enum symbol removed, no default. B: the old PAID is not in the new reader's enum: error;
    # F: every new symbol is in the old enum.
    (
        "enum-symbol-removed",
        [rec(f("status", enum("NEW", "PAID")))],
        rec(f("status", enum("NEW"))),
        "YNNYYNN",
    ),
    # Enum symbol removed, the new enum with a default: B reads PAID as its default.
    (
        "enum-symbol-removed-with-default",
        [rec(f("status", enum("NEW", "PAID")))],
        rec(f("status", enum("NEW", default="NEW"))),
        "YYYYYYY",
    ),
    # Union branch added. B: each old branch is found in the new union ("the first schema in
    # the reader's union that matches the selected writer's union schema"); F: an int written
    # by the new union matches no branch of the old one: "if none match, an error is signalled".
    (
        "union-branch-added",
        [rec(f("ref", ["null", "string"]))],
        rec(f("ref", ["null", "string", "int"])),
        "YYYNNNN",
    ),
    # Union branch removed: the reverse of union-branch-added.
    (
        "union-branch-removed",
        [rec(f("ref", ["null", "string", "int"]))],
        rec(f("ref", ["null", "string"])),
        "YNNYYNN",
    ),
    # Field type to a union with null. B: "if reader's is a union, but writer's is not: the
    # first schema in the reader's union that matches the writer's schema" (string) is used;
    # F: "if writer's is a union, but reader's is not", a written null does not match string.
    (
        "type-to-union-with-null",
        [rec(f("note", "string"))],
        rec(f("note", ["null", "string"], default=None)),
        "YYYNNNN",
    ),
    # Union with null to the plain type: the reverse of type-to-union-with-null.
    (
        "union-with-null-to-type",
        [rec(f("note", ["null", "string"], default=None))],
        rec(f("note", "string")),
        "YNNYYNN",
    ),
    # Field renamed, the new field with the old name as alias. B: spec "Aliases": "if data was
    # written as a record with a field named x and is read as a record with a field named y
    # with alias x, then the implementation would act as though x were named y"; F: the old
    # reader's price (no default) is not written (aliases are the reader's only): error.
    (
        "rename-field-with-alias",
        [rec(f("price", "int"))],
        rec(f("total", "int", aliases=["price"])),
        "YYYNNNN",
    ),
    # Field renamed without alias: each side's field is missing from the other, no default.
    ("rename-field-no-alias", [rec(f("price", "int"))], rec(f("total", "int")), "YNNNNNN"),
    # Nested record gains a field without default: B errors inside the nested record ("schemas
    # for fields with the same name in both records are resolved recursively"); F ignores it.
    (
        "nested-field-added",
        [rec(ID, f("address", address()))],
        rec(ID, f("address", address(f("zip", "string")))),
        "YNNYYNN",
    ),
    # Nested record gains a field with a default: resolved recursively, the default is used.
    (
        "nested-field-added-default",
        [rec(ID, f("address", address()))],
        rec(ID, f("address", address(f("zip", "string", default="")))),
        "YYYYYYY",
    ),
    # Array item int -> long. "if both are arrays: this resolution algorithm is applied
    # recursively to the reader's and writer's array item schemas": as int-to-long.
    (
        "array-item-promotion",
        [rec(f("qty", {"type": "array", "items": "int"}))],
        rec(f("qty", {"type": "array", "items": "long"})),
        "YYYNNNN",
    ),
    # Map value string -> int. "if both are maps: ... applied recursively to the reader's and
    # writer's value schemas": string and int do not match either way.
    (
        "map-value-change",
        [rec(f("tags", {"type": "map", "values": "string"}))],
        rec(f("tags", {"type": "map", "values": "int"})),
        "YNNNNNN",
    ),
    # Fixed size 16 -> 32: "both schemas are fixed whose sizes and (unqualified) names match".
    (
        "fixed-size-change",
        [rec(f("hash", {"type": "fixed", "name": "Hash", "size": 16}))],
        rec(f("hash", {"type": "fixed", "name": "Hash", "size": 32})),
        "YNNNNNN",
    ),
    # Record renamed: "both schemas are records with the same (unqualified) name" fails.
    ("record-name-change", [rec(ID)], rec(ID, name="Purchase"), "YNNNNNN"),
    # Record renamed, the new one with the old name as alias. B: spec "Aliases": "if the
    # writer's schema was named Foo and the reader's schema is named Bar and has an alias of
    # Foo, then the implementation would act as though Foo were named Bar"; F: the old reader
    # has no alias for Purchase.
    ("record-name-change-alias", [rec(ID)], rec(ID, name="Purchase", aliases=["Order"]), "YYYNNNN"),
    # Namespace changed only: names match unqualified ("(unqualified) name").
    (
        "namespace-change",
        [rec(ID, namespace="shop.v1")],
        rec(ID, namespace="shop.v2"),
        "YYYYYYY",
    ),
    # Documentation only: doc is not part of any matching rule.
    ("doc-only", [rec(ID)], rec(f("id", "long", doc="order id"), doc="An order"), "YYYYYYY"),
    # Fields reordered: "the ordering of fields may be different: fields are matched by name".
    (
        "fields-reordered",
        [rec(ID, f("price", "int"))],
        rec(f("price", "int"), ID),
        "YYYYYYY",
    ),
    # Recursive record (the spec's LongList) gains a field with a default, at every depth.
    (
        "recursive-field-added-default",
        [linked("long")],
        linked("long", f("label", "string", default="")),
        "YYYYYYY",
    ),
    # Recursive record's value long -> int: long does not promote to int (B), int to long does
    # (F); resolution of LongList in LongList terminates.
    ("recursive-value-narrowed", [linked("long")], linked("int"), "YNNYYNN"),
    # Transitive, backward conflict with the oldest only. v1 {id}, v2 {id, email=""}, new {id,
    # email} (no default): new reads v2 (email written); new reads v1: email missing, no
    # default: error. Old readers ignore nothing they need (v1 ignores email, v2 reads it).
    (
        "transitive-backward-oldest",
        [rec(ID), rec(ID, f("email", "string", default=""))],
        rec(ID, f("email", "string")),
        "YYNYYYN",
    ),
    # Transitive, forward conflict with the oldest only. v1 {id, note} (no default), v2 {id,
    # note=""}, new {id}: v2 reads new with its default; v1 reads new: note missing, no default.
    # The new schema reads both (writer-only fields are ignored).
    (
        "transitive-forward-oldest",
        [rec(ID, f("note", "string")), rec(ID, f("note", "string", default=""))],
        rec(ID),
        "YYYYNYN",
    ),
    # Transitive, both ways with the oldest only. v1 {id, price: string}, v2 {id}, new {id,
    # price: int = 0}: against v2 an optional field added (Y both ways); against v1 string and
    # int do not match in either direction.
    (
        "transitive-both-oldest",
        [rec(ID, f("price", "string")), rec(ID)],
        rec(ID, f("price", "int", default=0)),
        "YYNYNYN",
    ),
]


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize(("case", "history", "new", "expected"), CASES, ids=[c[0] for c in CASES])
def test_compatibility_table(case, history, new, expected, mode):
    want = expected[MODES.index(mode)] == "Y"
    assert is_compatible(history, new, mode) is want, check_compatibility(history, new, mode)
    decided = fastavro_decides(history, new, mode)
    if decided is not None:
        assert decided is want, f"fastavro resolves {case} under {mode}: {decided}"


def test_table_size_and_every_case_decided_by_fastavro():
    """At least 24 changes × 7 levels, and fastavro decides every case's non-NONE levels."""
    assert len(CASES) >= 24
    assert len({c[0] for c in CASES}) == len(CASES)
    undecided = [
        (c[0], m) for c in CASES for m in MODES[1:] if fastavro_decides(c[1], c[2], m) is None
    ]
    assert undecided == []


# ------------------------------------------------------------------ the fastavro oracle


def fastavro_decides(history: list, new: dict, mode: str) -> bool | None:
    """fastavro's answer by Confluent's definition of ``mode``; None where it cannot decide
    (NONE needs no resolution)."""
    level = CompatibilityLevel(mode)
    if level is CompatibilityLevel.NONE:
        return None
    versions = history if level.transitive else history[-1:]
    pairs = []
    for old in versions:
        if level.backward:
            pairs.append((new, old))  # the new schema reads the old data
        if level.forward:
            pairs.append((old, new))
    return all(fastavro_reads(_key(r), _key(w)) for r, w in pairs)


def _key(schema) -> str:
    import json

    return json.dumps(schema, sort_keys=True)


@cache
def fastavro_reads(reader_json: str, writer_json: str) -> bool:
    """Every sample written with the writer's schema reads with the reader's (fastavro)."""
    import json

    writer = fastavro.parse_schema(json.loads(writer_json))
    reader = fastavro.parse_schema(json.loads(reader_json))
    for value in samples(writer, writer["__named_schemas"]):
        out = io.BytesIO()
        fastavro.schemaless_writer(out, writer, value)
        out.seek(0)
        try:
            fastavro.schemaless_reader(out, writer, reader)
        except SchemaResolutionError:
            return False
    return True


PRIMITIVE_SAMPLES = {
    "null": [None],
    "boolean": [True, False],
    "int": [7],
    "long": [7],
    "float": [1.5],
    "double": [1.5],
    "bytes": [b"ab"],
    "string": ["ab"],
}


def samples(schema, names: dict, depth: int = 0) -> list:
    """Values that together exercise every enum symbol, union branch and field of ``schema``
    (a record's i-th sample takes each field's i-th value, cycling); a recursive schema stops
    at 6 nested records (its union with null ends the chain)."""
    if isinstance(schema, str):
        if schema in PRIMITIVE_SAMPLES:
            return PRIMITIVE_SAMPLES[schema]
        return samples(names[schema], names, depth)
    if isinstance(schema, list):
        return [v for branch in schema for v in samples(branch, names, depth)]
    kind = schema["type"]
    if kind == "record":
        if depth > 6:
            return []
        per_field = [samples(x["type"], names, depth + 1) for x in schema["fields"]]
        count = max((len(v) for v in per_field), default=1)
        fields = [x["name"] for x in schema["fields"]]
        return [
            {n: v[i % len(v)] for n, v in zip(fields, per_field, strict=True)} for i in range(count)
        ]
    if kind == "enum":
        return list(schema["symbols"])
    if kind == "fixed":
        return [bytes(schema["size"])]
    if kind == "array":
        return [[v] for v in samples(schema["items"], names, depth)] or [[]]
    if kind == "map":
        return [{"k": v} for v in samples(schema["values"], names, depth)] or [{}]
    return samples(kind, names, depth)  # a primitive with attributes


def test_samples_cover_every_symbol_and_branch():
    schema = fastavro.parse_schema(
        rec(f("status", enum("A", "B", "C")), f("ref", ["null", "string", "int"]))
    )
    got = samples(schema, schema["__named_schemas"])
    assert {v["status"] for v in got} == {"A", "B", "C"}
    assert {type(v["ref"]) for v in got} == {type(None), str, int}


# ------------------------------------------------------------------ paths and kinds


def test_promotion_failure_names_the_field_path():
    (problem,) = check_reader_writer_compatibility(rec(f("price", "int")), rec(f("price", "long")))
    assert problem.kind is IncompatibilityKind.TYPE_MISMATCH
    assert problem.path == "/fields/price/type"


def test_missing_default_is_at_the_readers_field():
    (problem,) = check_reader_writer_compatibility(rec(ID, f("note", "string")), rec(ID))
    assert problem.kind is IncompatibilityKind.READER_FIELD_MISSING_DEFAULT_VALUE
    assert problem.path == "/fields/note"


def test_nested_array_map_paths():
    def schema(value):
        inner = rec(f("tags", {"type": "map", "values": value}), name="Line")
        return rec(f("lines", {"type": "array", "items": inner}))

    (problem,) = check_reader_writer_compatibility(schema("int"), schema("string"))
    assert problem.path == "/fields/lines/type/items/fields/tags/type/values"


def test_enum_fixed_and_name_problems():
    (sym,) = check_reader_writer_compatibility(enum("A"), enum("A", "B"))
    assert (sym.kind, sym.path) == (IncompatibilityKind.MISSING_ENUM_SYMBOLS, "/symbols")
    fixed = {"type": "fixed", "name": "H", "size": 4}
    (size,) = check_reader_writer_compatibility(fixed, {**fixed, "size": 8})
    assert (size.kind, size.path) == (IncompatibilityKind.FIXED_SIZE_MISMATCH, "/size")
    (name,) = check_reader_writer_compatibility(rec(ID), rec(ID, name="Other"))
    assert (name.kind, name.path) == (IncompatibilityKind.NAME_MISMATCH, "/name")


def test_reader_union_without_the_writers_branch():
    (problem,) = check_reader_writer_compatibility(["null", "string"], "int")
    assert problem.kind is IncompatibilityKind.MISSING_UNION_BRANCH


def test_reader_union_takes_the_first_matching_branch():
    """Spec: "the first schema in the reader's union that matches" is resolved: a fixed of the
    wrong size does not match, so the later one of the right size is taken."""
    small = {"type": "fixed", "name": "H", "size": 4}
    reader = [{"type": "fixed", "name": "H", "namespace": "a", "size": 8}, small]
    assert check_reader_writer_compatibility(reader, small) == []


def test_named_reference_resolves_to_its_definition():
    """A field typed by a name defined earlier resolves as the definition."""
    old = rec(f("a", address()), f("b", "Address"))
    new = rec(f("a", address()), f("b", "Address"), f("c", "Address"))
    (problem,) = check_reader_writer_compatibility(new, old)
    assert problem.path == "/fields/c"


def test_each_problem_names_version_and_direction():
    history = [rec(ID, f("price", "string")), rec(ID)]
    problems = check_compatibility(
        history, rec(ID, f("price", "int", default=0)), "FULL_TRANSITIVE"
    )
    assert {(p.version, p.direction) for p in problems} == {
        (0, Direction.BACKWARD),
        (0, Direction.FORWARD),
    }
    assert all(p.path == "/fields/price/type" for p in problems)


def test_transitive_checks_newest_first():
    """Confluent checks "in reverse chronological order" (CompatibilityChecker)."""
    history = [rec(f("price", "string")), rec(f("price", "bytes"))]
    problems = check_compatibility(history, rec(f("price", "int")), "BACKWARD_TRANSITIVE")
    assert [p.version for p in problems] == [1, 0]


def test_no_history_and_none_accept_anything():
    assert is_compatible([], rec(ID), "FULL_TRANSITIVE")
    assert is_compatible([rec(ID)], rec(f("id", "string"), name="Other"), "NONE")


def test_bad_mode_and_bad_schema_are_one_line_errors():
    with pytest.raises(ScenarioError, match=r"^mode: unknown compatibility 'SIDEWAYS'; use one of"):
        is_compatible([rec(ID)], rec(ID), "SIDEWAYS")
    with pytest.raises(ScenarioError, match=r"^existing\.0: not a valid Avro schema"):
        is_compatible([{"type": "nope"}], rec(ID), "BACKWARD")
    with pytest.raises(ScenarioError, match=r"^new: not a valid Avro schema"):
        is_compatible([rec(ID)], {"type": "record"}, "BACKWARD")


def test_mode_is_case_insensitive():
    assert not is_compatible([rec(ID)], rec(ID, f("x", "int")), "backward")


# ------------------------------------------------------------------ generated schema pairs

PRIMITIVE_DEFAULTS = {
    "boolean": False,
    "int": 0,
    "long": 0,
    "float": 0.0,
    "double": 0.0,
    "bytes": "",
    "string": "",
}

leaf_types = st.one_of(
    st.sampled_from(sorted(PRIMITIVE_DEFAULTS)),
    st.builds(
        lambda symbols, default: enum(*symbols, **({"default": symbols[0]} if default else {})),
        st.lists(st.sampled_from(["A", "B", "C"]), min_size=1, max_size=3, unique=True),
        st.booleans(),
    ),
    st.builds(
        lambda size: {"type": "fixed", "name": "Hash", "size": size}, st.sampled_from([2, 4])
    ),
    st.lists(
        st.sampled_from(["null", "int", "long", "double", "bytes", "string"]),
        min_size=1,
        max_size=3,
        unique=True,
    ),
)


def _field(name: str, type_, with_default: bool) -> dict:
    """A field, with the default of its type when it has an obvious one."""
    if with_default and isinstance(type_, str):
        return f(name, type_, default=PRIMITIVE_DEFAULTS[type_])
    if with_default and isinstance(type_, list) and type_[0] == "null":
        return f(name, type_, default=None)
    return f(name, type_)


field_lists = st.lists(
    st.tuples(st.sampled_from(["a", "b", "c"]), st.deferred(lambda: types), st.booleans()),
    min_size=1,
    max_size=3,
    unique_by=lambda t: t[0],
).map(lambda fs: [_field(*t) for t in fs])

types = st.recursive(
    leaf_types,
    lambda inner: st.one_of(
        st.builds(lambda t: {"type": "array", "items": t}, inner),
        st.builds(lambda t: {"type": "map", "values": t}, inner),
        st.builds(lambda fs: rec(*fs, name="Inner"), field_lists),
    ),
    max_leaves=4,
)


def unique_names(schema, seen: set[str]):
    """The schema with each named type's name made unique (Avro: one definition per name)."""
    if isinstance(schema, list):
        return [unique_names(s, seen) for s in schema]
    if not isinstance(schema, dict):
        return schema
    out = dict(schema)
    if out["type"] in ("record", "enum", "fixed"):
        out["name"] = next(
            f"{out['name']}{i}" for i in range(99) if f"{out['name']}{i}" not in seen
        )
        seen.add(out["name"])
    if out["type"] == "record":
        out["fields"] = [{**x, "type": unique_names(x["type"], seen)} for x in out["fields"]]
    for key in ("items", "values"):
        if key in out:
            out[key] = unique_names(out[key], seen)
    return out


@settings(deadline=None, max_examples=200)
@given(reader_fields=field_lists, writer_fields=field_lists, related=st.booleans())
def test_generated_pairs_agree_with_fastavro(reader_fields, writer_fields, related):
    """For generated reader/writer records (the writer often the reader with its fields
    re-drawn by name), the checker finds no incompatibility exactly when fastavro reads every
    sample (every enum symbol and union branch) without a SchemaResolutionError."""
    reader = unique_names(rec(*reader_fields), set())
    if related:  # keep the reader's fields the writer does not redraw
        drawn = {x["name"] for x in writer_fields}
        writer_fields = [x for x in reader_fields if x["name"] not in drawn] + writer_fields
    writer = unique_names(rec(*writer_fields), set())
    ours = check_reader_writer_compatibility(reader, writer)
    assert (not ours) is fastavro_reads(_key(reader), _key(writer)), ours
