"""SchemaRegistry (sim.schemas): subjects, versions, global ids and levels as Confluent's
KafkaSchemaRegistry.register gives them, alone and as a node on the network."""

from __future__ import annotations

import numpy as np
import pytest
import simpy

from sim.errors import ScenarioError
from sim.net import Network, wire_bytes
from sim.schemas import (
    CheckCompatibilityRequest,
    CompatibilityLevel,
    ConfigUpdateRequest,
    GetSchemaByIdRequest,
    IncompatibilityKind,
    RegisterSchemaRequest,
    RegistryError,
    SchemaRegistry,
    topic_name_strategy,
)

SUBJECT = topic_name_strategy("orders")


def order(*extra: dict) -> dict:
    return {"type": "record", "name": "Order", "fields": [{"name": "id", "type": "long"}, *extra]}


V1 = order()
V2 = order({"name": "note", "type": "string", "default": ""})  # optional field added
NO_DEFAULT = order({"name": "note", "type": "string"})  # BACKWARD refuses it


def test_topic_name_strategy():
    assert topic_name_strategy("orders") == "orders-value"
    assert topic_name_strategy("orders", is_key=True) == "orders-key"


def test_versions_and_ids_count_from_one_and_a_known_schema_gets_its_own_back():
    reg = SchemaRegistry()
    first = reg.register(SUBJECT, V1)
    assert (first.error, first.schema_id, first.version) == (RegistryError.NONE, 1, 1)
    assert reg.register(SUBJECT, dict(reversed(list(V1.items())))) == first  # same JSON
    second = reg.register(SUBJECT, V2)
    assert (second.schema_id, second.version) == (2, 2)
    assert [v.version for v in reg.subjects[SUBJECT]] == [1, 2]


def test_an_incompatible_schema_is_refused_with_reasons_and_takes_no_id():
    reg = SchemaRegistry(compatibility="BACKWARD")
    reg.register(SUBJECT, V1)
    refused = reg.register(SUBJECT, NO_DEFAULT)
    assert refused.error is RegistryError.INCOMPATIBLE_SCHEMA
    (problem,) = refused.incompatibilities
    assert problem.kind is IncompatibilityKind.READER_FIELD_MISSING_DEFAULT_VALUE
    assert problem.path == "/fields/note"
    assert len(reg.subjects[SUBJECT]) == 1
    assert reg.register(SUBJECT, V2).schema_id == 2


def test_the_same_schema_in_another_subject_keeps_its_global_id():
    reg = SchemaRegistry()
    reg.register(SUBJECT, V1)
    reg.register(SUBJECT, V2)
    other = reg.register(topic_name_strategy("audit"), V2)
    assert (other.schema_id, other.version) == (2, 1)
    assert sorted(reg.schemas_by_id) == [1, 2]


def test_the_level_is_per_subject_with_the_registry_default_elsewhere():
    reg = SchemaRegistry(compatibility="BACKWARD")
    loose = topic_name_strategy("loose")
    for subject in (SUBJECT, loose):
        reg.register(subject, V1)
    assert reg.set_compatibility(loose, "none").compatibility is CompatibilityLevel.NONE
    assert reg.register(loose, NO_DEFAULT).error is RegistryError.NONE
    assert reg.register(SUBJECT, NO_DEFAULT).error is RegistryError.INCOMPATIBLE_SCHEMA
    assert reg.compatibility_of(SUBJECT) is CompatibilityLevel.BACKWARD


def test_a_transitive_level_checks_every_version():
    """v1 {id}, v2 {id, email=""}, then {id, email}: the latest (v2) writes email, v1 does not."""
    email = {"name": "email", "type": "string"}
    new = order(email)
    results = {}
    for level in ("BACKWARD", "BACKWARD_TRANSITIVE"):
        reg = SchemaRegistry(compatibility=level)
        reg.register(SUBJECT, V1)
        reg.register(SUBJECT, order({**email, "default": ""}))
        results[level] = reg.register(SUBJECT, new)
    assert results["BACKWARD"].version == 3
    refused = results["BACKWARD_TRANSITIVE"]
    assert refused.error is RegistryError.INCOMPATIBLE_SCHEMA
    assert [p.version for p in refused.incompatibilities] == [0]  # existing[0]: version 1


def test_lookup_by_id():
    reg = SchemaRegistry()
    schema_id = reg.register(SUBJECT, V1).schema_id
    assert reg.schema_by_id(schema_id).schema == V1
    assert reg.schema_by_id(schema_id + 1).error is RegistryError.SCHEMA_NOT_FOUND


def test_check_against_the_latest_or_a_version_registers_nothing():
    """The check is against one version even under a transitive level (CompatibilityResource)."""
    reg = SchemaRegistry(compatibility="FORWARD_TRANSITIVE")
    reg.register(SUBJECT, order({"name": "note", "type": "string"}))
    reg.register(SUBJECT, order({"name": "note", "type": "string", "default": ""}))
    assert reg.check(SUBJECT, V1).is_compatible  # v2 reads {id} with its default
    (problem,) = reg.check(SUBJECT, V1, version=1).incompatibilities  # v1 has no default
    assert problem.path == "/fields/note"
    assert len(reg.subjects[SUBJECT]) == 2
    assert reg.check(SUBJECT, V1, version=3).error is RegistryError.VERSION_NOT_FOUND
    assert reg.check("unknown-value", V1).is_compatible
    assert reg.check(SUBJECT, {"type": "nope"}).error is RegistryError.INVALID_SCHEMA


def test_invalid_schema_and_level():
    reg = SchemaRegistry()
    assert reg.register(SUBJECT, {"type": "record"}).error is RegistryError.INVALID_SCHEMA
    assert SUBJECT not in reg.subjects
    with pytest.raises(ScenarioError, match=r"^mode: unknown compatibility 'LOOSE'"):
        SchemaRegistry(compatibility="LOOSE")


# ------------------------------------------------------------------ on the network

RTT_S = 0.002
NIC_BYTES_S = 1e6
WRITE_LATENCY_S = 0.05


class Client:
    name = "app"

    def on_request(self, request, source, respond) -> None:
        raise AssertionError("the client serves nothing")


def call(env, net, request):
    """Send ``request`` to the registry; returns (response, seconds it took)."""
    start = env.now
    event = net.request("app", "schema-registry", request, timeout_s=10.0)
    env.run(event)
    return event.value, env.now - start


def idle_round_trip_s(request, response, server_s: float = 0.0) -> float:
    """An idle path's request/response time (sim.net): propagation plus each transfer (its
    bytes on the wire)."""
    wire = wire_bytes(request.size_bytes) + wire_bytes(response.size_bytes)
    return RTT_S + wire / NIC_BYTES_S + server_s


def test_registry_answers_over_the_network_after_its_store_write():
    env = simpy.Environment()
    net = Network(env, np.random.default_rng(0), RTT_S)
    reg = SchemaRegistry(write_latency_s=WRITE_LATENCY_S)
    net.add_node(reg, NIC_BYTES_S)
    net.add_node(Client(), NIC_BYTES_S)
    request = RegisterSchemaRequest(SUBJECT, V1)
    response, took = call(env, net, request)
    assert (response.schema_id, response.version) == (1, 1)
    assert took == pytest.approx(idle_round_trip_s(request, response, WRITE_LATENCY_S))
    again, took = call(env, net, request)  # found, not written
    assert again == response
    assert took == pytest.approx(idle_round_trip_s(request, again))
    fetch = GetSchemaByIdRequest(1)
    found, took = call(env, net, fetch)
    assert found.schema == V1
    assert took == pytest.approx(idle_round_trip_s(fetch, found))
    level, _ = call(env, net, ConfigUpdateRequest(SUBJECT, CompatibilityLevel.FULL))
    assert reg.compatibility_of(SUBJECT) is level.compatibility is CompatibilityLevel.FULL
    verdict, _ = call(env, net, CheckCompatibilityRequest(SUBJECT, NO_DEFAULT))
    assert not verdict.is_compatible
