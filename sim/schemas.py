"""Avro schema compatibility as Confluent Schema Registry checks it.

Three parts:

- :func:`check_reader_writer_compatibility` (reader schema, writer schema): can data written
  with the writer's schema be read with the reader's? It follows the Avro specification's
  "Schema Resolution" section rule by rule (each rule is quoted where it is applied) and
  returns every incompatibility found, each with a path in the reader's schema such as
  ``/fields/price/type``. The kinds are those of Avro Java's
  ``SchemaCompatibility.SchemaIncompatibilityType``, which Confluent's registry reports.
- :func:`check_compatibility` / :func:`is_compatible` (registered schemas, new schema, mode):
  Confluent's compatibility levels (``CompatibilityLevel``). BACKWARD: the new schema reads
  data written with the latest registered one; FORWARD: the latest reads data written with the
  new one; FULL: both; the ``_TRANSITIVE`` forms check every registered version instead of the
  latest; NONE accepts anything.

- :class:`SchemaRegistry`: the registry as a node on the network (subjects, versions, global
  ids, per-subject levels; register, lookup by id, compatibility check), with its requests.

Schemas are Avro schemas as parsed JSON (dicts, lists and strings). Each is first parsed by
fastavro (``fastavro.parse_schema``), which validates it and qualifies every name with its
namespace; named types referenced by name are looked up in the names that parse collected.
Named types match by unqualified name or by a reader alias (qualified or not); ``doc``,
``order`` and ``logicalType`` attributes take no part (types resolve by their underlying type).
A recursive schema is resolved once per (reader, writer) record pair: a pair met again while
it is being resolved is assumed to resolve (the rest of the walk decides).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, replace
from enum import IntEnum, StrEnum
from typing import Any

from sim.errors import ScenarioError
from sim.net import Respond

#: Avro's primitive type names (spec "Primitive Types").
PRIMITIVES = frozenset({"null", "boolean", "int", "long", "float", "double", "bytes", "string"})

#: Writer type -> reader types it may be promoted to (spec "Schema Resolution": "int is
#: promotable to long, float, or double; long is promotable to float or double; float is
#: promotable to double; string is promotable to bytes; bytes is promotable to string").
PROMOTIONS = {
    "int": frozenset({"long", "float", "double"}),
    "long": frozenset({"float", "double"}),
    "float": frozenset({"double"}),
    "string": frozenset({"bytes"}),
    "bytes": frozenset({"string"}),
}

NAMED = frozenset({"record", "enum", "fixed"})
#: Type names whose schema is a JSON object with attributes of its own.
COMPLEX = ("record", "enum", "fixed", "array", "map")


class CompatibilityLevel(StrEnum):
    """Confluent Schema Registry's compatibility levels (``CompatibilityLevel``)."""

    NONE = "NONE"  # no check
    BACKWARD = "BACKWARD"  # the new schema reads data of the latest version
    BACKWARD_TRANSITIVE = "BACKWARD_TRANSITIVE"  # ... of every version
    FORWARD = "FORWARD"  # the latest version reads data of the new schema
    FORWARD_TRANSITIVE = "FORWARD_TRANSITIVE"  # every version reads data of the new schema
    FULL = "FULL"  # BACKWARD and FORWARD
    FULL_TRANSITIVE = "FULL_TRANSITIVE"  # BACKWARD_TRANSITIVE and FORWARD_TRANSITIVE

    @property
    def backward(self) -> bool:
        """The new schema must read data written with registered versions."""
        return self.name.startswith(("BACKWARD", "FULL"))

    @property
    def forward(self) -> bool:
        """Registered versions must read data written with the new schema."""
        return self.name.startswith(("FORWARD", "FULL"))

    @property
    def transitive(self) -> bool:
        """Checked against every registered version, not only the latest."""
        return self.name.endswith("_TRANSITIVE")


class IncompatibilityKind(StrEnum):
    """Why a reader cannot read a writer's data (Avro's ``SchemaIncompatibilityType``)."""

    NAME_MISMATCH = "NAME_MISMATCH"  # named types of different names (and no alias)
    FIXED_SIZE_MISMATCH = "FIXED_SIZE_MISMATCH"  # fixed types of different sizes
    MISSING_ENUM_SYMBOLS = "MISSING_ENUM_SYMBOLS"  # writer symbols the reader lacks, no default
    READER_FIELD_MISSING_DEFAULT_VALUE = (
        "READER_FIELD_MISSING_DEFAULT_VALUE"  # new field, no default
    )
    TYPE_MISMATCH = "TYPE_MISMATCH"  # types that neither match nor promote
    MISSING_UNION_BRANCH = "MISSING_UNION_BRANCH"  # no reader union branch takes a writer type


class Direction(StrEnum):
    """Which way a registered version was checked against the new schema."""

    BACKWARD = "BACKWARD"  # the new schema reads the version's data
    FORWARD = "FORWARD"  # the version reads the new schema's data


@dataclass(frozen=True, slots=True)
class Incompatibility:
    """One reason a reader cannot read a writer's data.

    path: where, in the reader's schema (``/fields/price/type``, ``/items``, ``/symbols``).
    detail: the names, types, symbols or sizes concerned, for people.
    version: index in ``existing`` of the registered schema involved (set by
    :func:`check_compatibility`); direction: which of the two was the reader there.
    """

    kind: IncompatibilityKind
    path: str
    detail: str
    version: int | None = None
    direction: Direction | None = None

    def __str__(self) -> str:
        against = "" if self.version is None else f" ({self.direction}, existing[{self.version}])"
        return f"{self.kind} at {self.path or '/'}: {self.detail}{against}"


def parse_level(mode: str) -> CompatibilityLevel:
    """The compatibility level named ``mode``; ScenarioError naming the choices otherwise."""
    try:
        return CompatibilityLevel(str(mode).upper())
    except ValueError:
        choices = ", ".join(CompatibilityLevel)
        raise ScenarioError(
            "mode", f"unknown compatibility {mode!r}; use one of {choices}"
        ) from None


def is_compatible(existing: list[Any], new: Any, mode: str) -> bool:
    """True when ``new`` may be registered after ``existing`` (oldest first) under ``mode``."""
    return not check_compatibility(existing, new, mode)


def check_compatibility(existing: list[Any], new: Any, mode: str) -> list[Incompatibility]:
    """Every incompatibility of ``new`` with the registered ``existing`` (oldest first).

    As Confluent's registry: with no registered version, or mode NONE, anything goes; a
    non-transitive mode checks the latest version only; versions are checked newest first
    (CompatibilityChecker.isCompatibleWithHolders). Each result carries the version's index in
    ``existing`` and the direction. Raises ScenarioError for an unknown mode or a schema
    fastavro cannot parse (path ``new`` or ``existing.<i>``).
    """
    level = parse_level(mode)
    new_schema = ParsedSchema.parse(new, "new")
    if level is CompatibilityLevel.NONE or not existing:
        return []
    latest = len(existing) - 1
    indices = range(latest, -1, -1) if level.transitive else [latest]
    found: list[Incompatibility] = []
    for i in indices:
        old = ParsedSchema.parse(existing[i], f"existing.{i}")
        if level.backward:
            found += _tagged(_check(new_schema, old), i, Direction.BACKWARD)
        if level.forward:
            found += _tagged(_check(old, new_schema), i, Direction.FORWARD)
    return found


def check_reader_writer_compatibility(reader: Any, writer: Any) -> list[Incompatibility]:
    """Every reason data written with ``writer`` cannot be read with ``reader`` (Avro spec)."""
    return _check(ParsedSchema.parse(reader, "reader"), ParsedSchema.parse(writer, "writer"))


def _tagged(found: Iterable[Incompatibility], version: int, direction: Direction):
    return [replace(p, version=version, direction=direction) for p in found]


def _check(reader: ParsedSchema, writer: ParsedSchema) -> list[Incompatibility]:
    return list(_Resolution(reader, writer).resolve(reader.root, writer.root, ""))


@dataclass(frozen=True, slots=True)
class ParsedSchema:
    """A schema parsed by fastavro (names qualified) and the named types it defines."""

    root: Any
    names: dict[str, Any]

    @classmethod
    def parse(cls, schema: Any, path: str) -> ParsedSchema:
        """Parse with fastavro; ScenarioError at ``path`` for a schema it rejects."""
        import fastavro

        names: dict[str, Any] = {}
        try:
            root = fastavro.parse_schema(schema, named_schemas=names)
        except Exception as exc:  # fastavro raises several types for a bad schema
            raise ScenarioError(path, f"not a valid Avro schema: {exc}") from None
        return cls(root, names)

    def deref(self, node: Any) -> Any:
        """A schema node with a named reference replaced by the named type's definition and a
        primitive with attributes (``{"type": "long", "logicalType": ...}``) by its name."""
        while True:
            if isinstance(node, dict) and node["type"] not in COMPLEX:
                node = node["type"]
            elif isinstance(node, str) and node not in PRIMITIVES:
                node = self.names[node]
            else:
                return node


def _kind(node: Any) -> str:
    """The type of a dereferenced node: a primitive name, a complex type name, or "union"."""
    if isinstance(node, list):
        return "union"
    return node if isinstance(node, str) else node["type"]


def _short(name: str) -> str:
    """The unqualified part of a (full)name."""
    return name.rsplit(".", 1)[-1]


def _describe(node: Any) -> str:
    kind = _kind(node)
    return f"{kind} {node['name']}" if kind in NAMED else kind


class _Resolution:
    """One reader/writer resolution: the spec's rules applied recursively."""

    def __init__(self, reader: ParsedSchema, writer: ParsedSchema) -> None:
        self.reader = reader
        self.writer = writer
        #: (reader record, writer record) fullname pairs being or already resolved
        self.seen: set[tuple[str, str]] = set()

    def resolve(self, r: Any, w: Any, path: str) -> Iterator[Incompatibility]:
        """Incompatibilities of reader node ``r`` with writer node ``w`` at ``path``."""
        r, w = self.reader.deref(r), self.writer.deref(w)
        if isinstance(w, list):
            # Spec: "if both are unions: the first schema in the reader's union that matches
            # the selected writer's union schema is recursively resolved against it" and "if
            # writer's is a union, but reader's is not: if the reader's schema matches the
            # selected writer's schema, it is recursively resolved against it". Any branch may
            # be selected, so every writer branch must resolve.
            for branch in w:
                yield from self.resolve(r, branch, path)
            return
        if isinstance(r, list):
            # Spec: "if reader's is a union, but writer's is not: the first schema in the
            # reader's union that matches the writer's schema is recursively resolved against
            # it. If none match, an error is signalled."
            for branch in r:
                if self.matches(self.reader.deref(branch), w):
                    yield from self.resolve(branch, w, path)
                    return
            detail = f"reader union has no branch for writer {_describe(w)}"
            yield Incompatibility(IncompatibilityKind.MISSING_UNION_BRANCH, path, detail)
            return
        if not self.matches(r, w):
            # Spec: "It is an error if the two schemas do not match."
            yield self.mismatch(r, w, path)
            return
        kind = _kind(r)
        if kind == "record":
            yield from self.resolve_record(r, w, path)
        elif kind == "enum":
            yield from self.resolve_enum(r, w, path)
        elif kind == "array":
            # Spec: "if both are arrays: this resolution algorithm is applied recursively to
            # the reader's and writer's array item schemas."
            yield from self.resolve(r["items"], w["items"], f"{path}/items")
        elif kind == "map":
            # Spec: "if both are maps: this resolution algorithm is applied recursively to the
            # reader's and writer's value schemas."
            yield from self.resolve(r["values"], w["values"], f"{path}/values")

    def matches(self, r: Any, w: Any) -> bool:
        """The spec's "match" of two dereferenced non-union nodes (checked before resolving)."""
        rk, wk = _kind(r), _kind(w)
        if rk == "union" or wk == "union":
            return True  # Spec: "either schema is a union"
        if rk != wk:
            # Spec: "the writer's schema may be promoted to the reader's as follows ..."
            return rk in PROMOTIONS.get(wk, ())
        if rk in NAMED:
            # Spec: "both schemas are records with the same (unqualified) name", "enums whose
            # (unqualified) names match", "fixed whose sizes and (unqualified) names match";
            # spec "Aliases": the writer's name may be one of the reader's aliases.
            same_size = rk != "fixed" or r["size"] == w["size"]
            return same_size and self.names_match(r, w)
        return True  # Spec: "both schemas have same primitive type"; arrays, maps: same kind

    @staticmethod
    def names_match(r: dict, w: dict) -> bool:
        """Unqualified names equal, or the writer's is a reader alias (spec "Aliases")."""
        aliases = {_short(a) for a in r.get("aliases", ())}
        return _short(w["name"]) in aliases | {_short(r["name"])}

    def mismatch(self, r: Any, w: Any, path: str) -> Incompatibility:
        """The incompatibility for two nodes that do not match."""
        rk, wk = _kind(r), _kind(w)
        if rk == wk == "fixed" and r["size"] != w["size"]:
            detail = f"reader {r['name']} has {r['size']} bytes, writer {w['name']} {w['size']}"
            return Incompatibility(IncompatibilityKind.FIXED_SIZE_MISMATCH, f"{path}/size", detail)
        if rk == wk:  # named types of different names
            detail = f"reader {rk} {r['name']}, writer {wk} {w['name']}"
            return Incompatibility(IncompatibilityKind.NAME_MISMATCH, f"{path}/name", detail)
        detail = f"reader {_describe(r)}, writer {_describe(w)}"
        return Incompatibility(IncompatibilityKind.TYPE_MISMATCH, path, detail)

    def resolve_record(self, r: dict, w: dict, path: str) -> Iterator[Incompatibility]:
        """Spec "if both are records" (fields matched by name, or by a reader field's alias)."""
        pair = (r["name"], w["name"])
        if pair in self.seen:
            return  # a recursive schema: this pair is resolved by the walk already under way
        self.seen.add(pair)
        writer_fields = {f["name"]: f for f in w["fields"]}
        for field in r["fields"]:
            field_path = f"{path}/fields/{field['name']}"
            wf = self.writer_field(field, writer_fields)
            if wf is not None:
                # Spec: "schemas for fields with the same name in both records are resolved
                # recursively" (spec "Aliases": a reader field alias names the writer's field).
                yield from self.resolve(field["type"], wf["type"], f"{field_path}/type")
            elif "default" not in field:
                # Spec: "if the reader's record schema has a field with no default value, and
                # writer's schema does not have a field with the same name, an error is
                # signalled." (One with a default takes it; writer-only fields are ignored.)
                detail = f"field {field['name']} is not written and has no default"
                yield Incompatibility(
                    IncompatibilityKind.READER_FIELD_MISSING_DEFAULT_VALUE, field_path, detail
                )

    @staticmethod
    def writer_field(field: dict, writer_fields: dict[str, dict]) -> dict | None:
        """The writer's field the reader's ``field`` reads: same name, else one of its aliases."""
        for name in (field["name"], *field.get("aliases", ())):
            if name in writer_fields:
                return writer_fields[name]
        return None

    @staticmethod
    def resolve_enum(r: dict, w: dict, path: str) -> Iterator[Incompatibility]:
        """Spec "if both are enums: if the writer's symbol is not present in the reader's enum
        and the reader has a default value, then that value is used, otherwise an error is
        signalled" (the enum default is Avro 1.9+). Any writer symbol may be written."""
        missing = [s for s in w["symbols"] if s not in r["symbols"]]
        if missing and r.get("default") is None:
            detail = f"reader enum {r['name']} lacks writer symbols {missing} and has no default"
            yield Incompatibility(
                IncompatibilityKind.MISSING_ENUM_SYMBOLS, f"{path}/symbols", detail
            )


# --------------------------------------------------------------------------- the registry

#: Assumed size of an HTTP/1.1 request or status line with its headers, bytes (the registry
#: speaks REST over HTTP; the JSON body is added to it).
HTTP_OVERHEAD_BYTES = 200


class RegistryError(IntEnum):
    """Confluent Schema Registry's error codes (``rest.exceptions.Errors``), those modelled."""

    NONE = 0  # success
    VERSION_NOT_FOUND = 40402  # VERSION_NOT_FOUND_ERROR_CODE
    SCHEMA_NOT_FOUND = 40403  # SCHEMA_NOT_FOUND_ERROR_CODE: no schema with that id
    INCOMPATIBLE_SCHEMA = 40901  # INCOMPATIBLE_SCHEMA_ERROR_CODE (HTTP 409)
    INVALID_SCHEMA = 42201  # INVALID_SCHEMA_ERROR_CODE: not a valid Avro schema


def topic_name_strategy(topic: str, is_key: bool = False) -> str:
    """The subject of a topic's values (or keys): TopicNameStrategy.subjectName."""
    return f"{topic}-key" if is_key else f"{topic}-value"


def _body_bytes(value: Any) -> int:
    """Bytes of a JSON body plus the HTTP overhead."""
    return HTTP_OVERHEAD_BYTES + len(_canonical(value))


def _messages(response: Any) -> dict[str, Any]:
    """The error code and the incompatibility messages of a response body."""
    return {"error_code": response.error, "messages": [str(p) for p in response.incompatibilities]}


def _canonical(schema: Any) -> str:
    """The schema as compact JSON with sorted keys: equal for the same schema however written
    (the registry's lookup compares canonical strings; field order still counts)."""
    return json.dumps(schema, sort_keys=True, separators=(",", ":"))


@dataclass(frozen=True, slots=True)
class RegisterSchemaRequest:
    """``POST /subjects/{subject}/versions`` with the schema."""

    subject: str
    schema: Any

    @property
    def size_bytes(self) -> int:
        return _body_bytes({"schema": self.schema}) + len(self.subject)


@dataclass(frozen=True, slots=True)
class RegisterSchemaResponse:
    """The schema's global id and its version in the subject, or an error (with the
    incompatibilities for INCOMPATIBLE_SCHEMA)."""

    error: RegistryError = RegistryError.NONE
    schema_id: int = -1
    version: int = -1
    incompatibilities: tuple[Incompatibility, ...] = ()

    @property
    def size_bytes(self) -> int:
        return _body_bytes({"id": self.schema_id, "version": self.version, **_messages(self)})


@dataclass(frozen=True, slots=True)
class GetSchemaByIdRequest:
    """``GET /schemas/ids/{id}`` (what a consumer's deserializer asks for a record's id)."""

    schema_id: int

    @property
    def size_bytes(self) -> int:
        return HTTP_OVERHEAD_BYTES


@dataclass(frozen=True, slots=True)
class SchemaResponse:
    """The schema with the requested id, or SCHEMA_NOT_FOUND."""

    error: RegistryError = RegistryError.NONE
    schema: Any = None

    @property
    def size_bytes(self) -> int:
        return _body_bytes({"schema": self.schema})


@dataclass(frozen=True, slots=True)
class CheckCompatibilityRequest:
    """``POST /compatibility/subjects/{subject}/versions/{version}``; version None: latest."""

    subject: str
    schema: Any
    version: int | None = None

    @property
    def size_bytes(self) -> int:
        return _body_bytes({"schema": self.schema}) + len(self.subject)


@dataclass(frozen=True, slots=True)
class CompatibilityResponse:
    """Whether the schema may follow the version, with the reasons when it may not."""

    error: RegistryError = RegistryError.NONE
    incompatibilities: tuple[Incompatibility, ...] = ()

    @property
    def is_compatible(self) -> bool:
        return self.error is RegistryError.NONE and not self.incompatibilities

    @property
    def size_bytes(self) -> int:
        return _body_bytes({"is_compatible": self.is_compatible, **_messages(self)})


@dataclass(frozen=True, slots=True)
class ConfigUpdateRequest:
    """``PUT /config/{subject}``: the subject's compatibility level."""

    subject: str
    compatibility: CompatibilityLevel

    @property
    def size_bytes(self) -> int:
        return _body_bytes({"compatibility": self.compatibility}) + len(self.subject)


@dataclass(frozen=True, slots=True)
class ConfigResponse:
    """The level now in force for the subject."""

    compatibility: CompatibilityLevel

    @property
    def size_bytes(self) -> int:
        return _body_bytes({"compatibility": self.compatibility})


@dataclass(frozen=True, slots=True)
class RegisteredSchema:
    """One version of a subject: its number (from 1), the schema's global id, the schema."""

    subject: str
    version: int
    schema_id: int
    schema: Any


class SchemaRegistry:
    """A Confluent-like schema registry as one node on the network.

    Follows KafkaSchemaRegistry.register: a schema already registered under the subject gets its
    version and id back (no check, no write); otherwise it is checked against the subject's
    versions under the subject's level (``set_compatibility``, else the registry's default:
    getConfigInScope), and refused with INCOMPATIBLE_SCHEMA and the reasons, or stored as the
    next version (from 1) with the id the same schema already has in another subject, or a new
    global id (IncrementalIdGenerator: 1, 2, ...). Subjects follow TopicNameStrategy
    (:func:`topic_name_strategy`). ``check`` is the compatibility endpoint: the schema against
    one version (the latest by default, compatible when the subject has none), by the subject's
    level. Not modelled: deletion, modes (IMPORT, READONLY), references, leader election among
    several registry instances.

    Timing: reads and refusals answer at once; a write (a new version, a level) answers after
    ``write_latency_s``, seconds (KafkaStore.put produces to the ``_schemas`` topic and waits
    until the registry has read it back).
    """

    def __init__(
        self,
        name: str = "schema-registry",
        compatibility: str = CompatibilityLevel.BACKWARD,
        write_latency_s: float = 0.0,
    ) -> None:
        """compatibility: the default level (``schema.compatibility.level``, BACKWARD)."""
        self.name = name
        self.default_compatibility = parse_level(compatibility)
        self.write_latency_s = write_latency_s
        self.subjects: dict[str, list[RegisteredSchema]] = {}
        self.schemas_by_id: dict[int, Any] = {}
        self.subject_compatibility: dict[str, CompatibilityLevel] = {}
        self._ids_by_schema: dict[str, int] = {}

    def compatibility_of(self, subject: str) -> CompatibilityLevel:
        """The level in force for ``subject``: its own, else the default (getConfigInScope)."""
        return self.subject_compatibility.get(subject, self.default_compatibility)

    def set_compatibility(self, subject: str, level: str) -> ConfigResponse:
        """Set ``subject``'s level (``PUT /config/{subject}``)."""
        self.subject_compatibility[subject] = parse_level(level)
        return ConfigResponse(self.subject_compatibility[subject])

    def register(self, subject: str, schema: Any) -> RegisterSchemaResponse:
        """Register ``schema`` under ``subject`` (KafkaSchemaRegistry.register)."""
        try:
            ParsedSchema.parse(schema, "schema")
        except ScenarioError:
            return RegisterSchemaResponse(RegistryError.INVALID_SCHEMA)
        key = _canonical(schema)
        versions = self.subjects.get(subject, [])
        for v in versions:
            if _canonical(v.schema) == key:
                return RegisterSchemaResponse(schema_id=v.schema_id, version=v.version)
        level = self.compatibility_of(subject)
        problems = check_compatibility([v.schema for v in versions], schema, level)
        if problems:
            return RegisterSchemaResponse(
                RegistryError.INCOMPATIBLE_SCHEMA, incompatibilities=tuple(problems)
            )
        schema_id = self._ids_by_schema.get(key)
        if schema_id is None:
            schema_id = self._ids_by_schema[key] = max(self.schemas_by_id, default=0) + 1
            self.schemas_by_id[schema_id] = schema
        version = len(versions) + 1
        self.subjects[subject] = [*versions, RegisteredSchema(subject, version, schema_id, schema)]
        return RegisterSchemaResponse(schema_id=schema_id, version=version)

    def schema_by_id(self, schema_id: int) -> SchemaResponse:
        """The schema with global id ``schema_id`` (``GET /schemas/ids/{id}``)."""
        if schema_id not in self.schemas_by_id:
            return SchemaResponse(RegistryError.SCHEMA_NOT_FOUND)
        return SchemaResponse(schema=self.schemas_by_id[schema_id])

    def check(self, subject: str, schema: Any, version: int | None = None) -> CompatibilityResponse:
        """May ``schema`` follow ``version`` (None: the latest) of ``subject`` under the
        subject's level? (CompatibilityResource.testCompatibilityBySubjectName.)"""
        versions = self.subjects.get(subject, [])
        if version is None:
            against = versions[-1:]
        elif 1 <= version <= len(versions):
            against = [versions[version - 1]]
        else:
            return CompatibilityResponse(RegistryError.VERSION_NOT_FOUND)
        try:
            level = self.compatibility_of(subject)
            problems = check_compatibility([v.schema for v in against], schema, level)
        except ScenarioError:
            return CompatibilityResponse(RegistryError.INVALID_SCHEMA)
        return CompatibilityResponse(incompatibilities=tuple(problems))

    def on_request(self, request: Any, source: str, respond: Respond | None) -> None:
        """Serve a request from ``source``; a stored write answers after ``write_latency_s``."""
        if respond is None:
            raise TypeError(f"{self.name}: unexpected one-way message {request!r}")
        if isinstance(request, RegisterSchemaRequest):
            latest = len(self.subjects.get(request.subject, ()))
            response = self.register(request.subject, request.schema)
            stored = response.version > latest  # a new version, not one found or refused
            respond(response, self.write_latency_s if stored else 0.0)
        elif isinstance(request, GetSchemaByIdRequest):
            respond(self.schema_by_id(request.schema_id))
        elif isinstance(request, CheckCompatibilityRequest):
            respond(self.check(request.subject, request.schema, request.version))
        elif isinstance(request, ConfigUpdateRequest):
            respond(
                self.set_compatibility(request.subject, request.compatibility),
                self.write_latency_s,
            )
        else:
            raise TypeError(f"{self.name}: unexpected request {request!r}")
