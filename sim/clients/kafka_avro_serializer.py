"""A producer's Avro serializer with its registry client (Confluent's KafkaAvroSerializer over a
CachedSchemaRegistryClient).

AbstractKafkaAvroSerializer.serializeImpl, with ``auto.register.schemas`` true (its default):
the subject is TopicNameStrategy's ``<topic>-value``; ``schemaRegistry.register(subject,
schema)`` answers from the client's cache (CachedSchemaRegistryClient's schema -> id map per
subject) and asks the registry only for a schema it has no id for, so there is one registry call
per schema, not per record. The call runs inside send(), on the application's thread: records
that arrive while it is out wait for it (:meth:`KafkaProducer._round` draws no record until the
id is known) and keep their arrival time. A refusal (INCOMPATIBLE_SCHEMA, HTTP 409) or no answer
within the client's ``http.read.timeout.ms`` makes serialize() throw a SerializationException:
send() fails those records with :data:`SERIALIZATION_ERROR`. Nothing is cached for a failure, so
the next send() asks again (the model asks at most once per arrival window of the producer,
50 ms: the records of the windows a failing call covers fail with it, where Kafka would fail
them one call each). A new schema takes effect from the producer's next arrival window. Each
record carries the wire format's 5-byte header (magic byte 0, 4-byte id): bytes in its size.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Callable
from typing import Any

import simpy

from sim.events import EventKind
from sim.metrics import Metrics
from sim.net import NetworkFailure
from sim.schemas import RegisterSchemaRequest, RegisterSchemaResponse, RegistryError, _canonical

#: send()'s error for a record its serializer could not serialize (SerializationException).
SERIALIZATION_ERROR = "SERIALIZATION_ERROR"
#: The failure when the registry gave no answer within the client's timeout.
REGISTRY_TIMEOUT = "REGISTRY_TIMEOUT"


class KafkaAvroSerializer:
    """The value serializer of producer ``client``: registers ``schema`` under ``subject`` on
    node ``registry`` (the registry call's timeout ``timeout_s``, s: ``http.read.timeout.ms``);
    ``on_done()`` runs when a call ends (answered, refused or timed out; set by the producer)."""

    def __init__(
        self,
        env: simpy.Environment,
        net,
        client: str,
        registry: str,
        subject: str,
        schema: Any,
        timeout_s: float,
        metrics: Metrics,
    ) -> None:
        self.env = env
        self.net = net
        self.client = client
        self.registry = registry
        self.subject = subject
        self.schema = schema
        self.timeout_s = timeout_s
        self.metrics = metrics
        self.on_done: Callable[[], None] = lambda: None
        self._ids: dict[str, int] = {}  # CachedSchemaRegistryClient: canonical schema -> id
        #: the current schema's id once known (None: send() must ask the registry)
        self.schema_id: int | None = None
        #: (first arrival s, schema id) of each run of records written with one id, in order
        self._written: list[tuple[float, int]] = []
        self._failures: dict[str, str] = {}  # schema -> the error of its last events row
        #: registry calls made (each a RegisterSchemaRequest)
        self.calls = 0
        #: a call is out: send() waits for it
        self.waiting = False
        #: the last call failed (an error name): records waiting for it fail
        self.error: str | None = None

    def evolve(self, schema: Any) -> None:
        """The application now writes ``schema`` (the next send() serializes with it)."""
        self.schema = schema
        self.schema_id = self._ids.get(_canonical(schema))
        self.error = None

    def write_from(self, arrival_s: float) -> None:
        """The records arriving from ``arrival_s``, s, on carry the current schema's id."""
        if not self._written or self._written[-1][1] != self.schema_id:
            self._written.append((arrival_s, self.schema_id))

    def id_at(self, arrival_s: float) -> int:
        """The schema id in the header of a record that arrived at ``arrival_s``, s."""
        i = bisect_right(self._written, arrival_s, key=lambda run: run[0])
        return self._written[max(i - 1, 0)][1]

    def register(self) -> None:
        """Ask the registry for the current schema's id (send() waits until it answers)."""
        assert not self.waiting, self.client
        self.waiting = True
        self.error = None
        self.calls += 1
        request = RegisterSchemaRequest(self.subject, self.schema)
        event = self.net.request(self.client, self.registry, request, self.timeout_s)
        event.callbacks.append(self._on_answer)

    def _on_answer(self, event: simpy.Event) -> None:
        self.waiting = False
        answer = event.value
        key = _canonical(self.schema)
        if isinstance(answer, RegisterSchemaResponse) and answer.error is RegistryError.NONE:
            self._ids[key] = self.schema_id = answer.schema_id
            self.metrics.event(
                self.env.now, EventKind.SCHEMA_REGISTERED, self.client,
                detail=f"{self.subject} version {answer.version} id {answer.schema_id}",
                outcome=self.subject,
            )  # fmt: skip
        else:
            failed = isinstance(answer, NetworkFailure) or answer is None
            self.error = REGISTRY_TIMEOUT if failed else answer.error.name
            if self._failures.get(key) != self.error:  # a row per new error, not per retry
                self._failures[key] = self.error
                self.metrics.event(
                    self.env.now, EventKind.SERIALIZATION_FAILED, self.client,
                    detail=f"{self.subject}: {self.error}", outcome=self.error,
                )  # fmt: skip
        self.on_done()
