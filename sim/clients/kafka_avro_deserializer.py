"""A consumer's Avro deserializer with its registry client (Confluent's KafkaAvroDeserializer
over a CachedSchemaRegistryClient).

AbstractKafkaAvroDeserializer.deserialize reads the 5-byte header of each value, gets the writer
schema by its id (``getSchemaBySubjectAndId``: the client caches schemas per id, so one registry
call per id, not per record) and decodes the value with the reader schema. It runs inside
poll(), on the application's thread: a batch whose id is not cached waits for the lookup. A
value whose writer schema the reader schema cannot resolve (Avro schema resolution:
:func:`sim.schemas.check_reader_writer_compatibility`), or whose schema the registry did not
give within the client's timeout, throws a SerializationException; the model's application
skips such records (as an error-handling deserializer would) and counts them in the
``deserialization_errors`` table. Decoding costs ``decode_s`` of the application's time per
record, added to its processing.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import simpy

from sim.schemas import GetSchemaByIdRequest, RegistryError, SchemaResponse
from sim.schemas import check_reader_writer_compatibility as incompatibilities

#: The error of a record whose writer schema the reader schema cannot resolve.
SCHEMA_MISMATCH = "SCHEMA_MISMATCH"
#: The error of a record whose writer schema the registry did not give.
SCHEMA_UNAVAILABLE = "SCHEMA_UNAVAILABLE"


class KafkaAvroDeserializer:
    """The value deserializer of consumer ``client``: reads with ``reader_schema`` (None: each
    record with its writer schema, which always resolves), asks node ``registry`` for writer
    schemas (``timeout_s``, s: ``http.read.timeout.ms``); ``decode_s``: s per record."""

    def __init__(
        self,
        env: simpy.Environment,
        net,
        client: str,
        registry: str,
        reader_schema: Any,
        timeout_s: float,
        decode_s: float,
    ) -> None:
        self.env = env
        self.net = net
        self.client = client
        self.registry = registry
        self.reader_schema = reader_schema
        self.timeout_s = timeout_s
        self.decode_s = decode_s
        #: schema id -> None when its records resolve, else their error (the cache: an id in
        #: it is never asked for again; an unavailable one is not cached)
        self.errors: dict[int, str | None] = {}
        #: registry calls made (each a GetSchemaByIdRequest)
        self.calls = 0
        self._unavailable: set[int] = set()  # ids asked for in vain, for the batches waiting

    def missing(self, ids: set[int]) -> set[int]:
        """The ids among ``ids`` (-1: a value without header) not in the cache."""
        return {i for i in ids if i >= 0 and i not in self.errors}

    def look_up(self, ids: set[int], done: Callable[[], None]) -> None:
        """Ask the registry for each schema in ``ids``; ``done()`` once all are answered."""
        self._unavailable.clear()
        waiting = set(ids)
        for schema_id in sorted(ids):
            self.calls += 1
            event = self.net.request(
                self.client, self.registry, GetSchemaByIdRequest(schema_id), self.timeout_s
            )

            def answered(event: simpy.Event, schema_id: int = schema_id) -> None:
                self._on_schema(schema_id, event.value)
                waiting.discard(schema_id)
                if not waiting:
                    done()

            event.callbacks.append(answered)

    def _on_schema(self, schema_id: int, answer: Any) -> None:
        if not isinstance(answer, SchemaResponse) or answer.error is not RegistryError.NONE:
            self._unavailable.add(schema_id)
            return
        if self.reader_schema is None:
            self.errors[schema_id] = None
        else:
            found = incompatibilities(self.reader_schema, answer.schema)
            self.errors[schema_id] = SCHEMA_MISMATCH if found else None

    def error_of(self, schema_id: int) -> str | None:
        """The error a record written with ``schema_id`` throws, or None."""
        if schema_id < 0:
            return None
        if schema_id in self._unavailable:
            return SCHEMA_UNAVAILABLE
        return self.errors.get(schema_id)
