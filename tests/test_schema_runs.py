"""The schema registry in runs: serializers register once per schema, evolution as scenario
events, consumers read with their reader schema, and Avro's size against JSON's."""

from __future__ import annotations

import pytest

from sim.clients.kafka_avro_serializer import SERIALIZATION_ERROR
from sim.events import EventKind
from sim.scenario import Scenario
from sim.workload import encoded_value_bytes
from sim.world import World

V1 = {
    "type": "record",
    "name": "Order",
    "fields": [{"name": "id", "type": "long"}, {"name": "item", "type": "string"}],
}
#: V1 plus a field with a default: BACKWARD, FORWARD and FULL compatible with V1.
V2 = {**V1, "fields": [*V1["fields"], {"name": "qty", "type": "int", "default": 1}]}
#: id changes type: compatible in no direction.
BROKEN = {**V1, "fields": [{"name": "id", "type": "string"}, {"name": "item", "type": "string"}]}
#: V1 without item: V1 (item has no default) cannot read it; only NONE lets it in.
NO_ITEM = {**V1, "fields": [{"name": "id", "type": "long"}]}


def scenario(faults=(), reader=V1, duration_s=6.0, rate=2_000, **registry) -> Scenario:
    return Scenario.model_validate(
        {
            "duration_s": duration_s,
            "seed": 3,
            "topics": [{"name": "orders", "partitions": 3, "replication_factor": 3}],
            "producers": [
                {
                    "name": "app",
                    "topic": "orders",
                    "rate_msgs_s": rate,
                    "config": {"linger.ms": 5},
                    "format": {"kind": "avro", "schema": V1, "sample": {"id": 1, "item": "x"}},
                }
            ],
            "consumer_groups": [
                {
                    "group_id": "g",
                    "topics": ["orders"],
                    "reader_schema": reader,
                    "config": {"auto.offset.reset": "earliest"},
                }
            ],
            "schema_registry": registry,
            "faults": list(faults),
        }
    )


def run(s: Scenario) -> tuple[World, object]:
    world = World(s)
    world.run()
    return world, world.results()


def test_one_registry_call_per_schema_not_per_record():
    world, results = run(scenario(duration_s=10.0, rate=10_000))
    summary = results.summary()
    assert summary["acked_messages"] >= 90_000  # ~100,000 offered
    (producer,) = world.producers
    assert producer.serializer.calls == 1
    assert all(c.deserializer.calls == 1 for c, _ in world.consumers)
    events = results.events
    assert (events.kind == EventKind.SCHEMA_REGISTERED).sum() == 1
    assert summary["undeserializable_messages"] == 0


@pytest.mark.parametrize("seed", [1, 2])
def test_an_incompatible_evolution_fails_sends_with_a_serialization_error(seed):
    evolve = {"kind": "evolve_schema", "at_s": 3.0, "producer": "app", "schema": BROKEN}
    evolve["sample"] = {"id": "a", "item": "x"}
    s = scenario([evolve]).model_copy(update={"seed": seed})
    world, results = run(s)
    acked, produced = results.acked, results.produced
    failed = acked[acked.error == SERIALIZATION_ERROR].merge(produced, on="batch_id")
    assert len(failed) > 0
    assert (failed.first_arrival_s >= 3.0).all()  # records written with V1 before went through
    ok = acked[acked.error == ""].merge(produced, on="batch_id")
    assert ok.first_arrival_s.max() < 3.0 + 0.05  # at most the window drawn before it
    rows = results.events[results.events.kind == EventKind.SERIALIZATION_FAILED]
    assert list(rows.outcome) == ["INCOMPATIBLE_SCHEMA"]
    (producer,) = world.producers
    assert producer.serializer.calls > 2  # nothing is cached for a refusal: it asks again
    summary = results.summary()
    assert summary["failed_messages"] == failed["count"].sum()


def test_a_compatible_evolution_is_read_by_an_old_consumer():
    evolve = {"kind": "evolve_schema", "at_s": 2.0, "producer": "app", "schema": V2}
    world, results = run(scenario([evolve]))
    summary = results.summary()
    assert summary["failed_messages"] == 0
    assert (results.events.kind == EventKind.SCHEMA_REGISTERED).sum() == 2
    assert summary["consumed_messages"] > 0
    assert summary["undeserializable_messages"] == 0
    assert all(c.deserializer.calls == 2 for c, _ in world.consumers)  # it read V2 records


def test_an_old_reader_counts_what_it_cannot_read():
    faults = [
        {"kind": "set_compatibility", "at_s": 1.0, "subject": "orders-value", "mode": "NONE"},
        {"kind": "evolve_schema", "at_s": 2.0, "producer": "app", "schema": NO_ITEM},
    ]
    world, results = run(scenario(faults))
    errors = results.deserialization_errors
    assert len(errors) > 0
    assert set(errors.error) == {"SCHEMA_MISMATCH"}
    assert set(errors.schema_id) == {2}
    summary = results.summary()
    assert summary["failed_messages"] == 0
    assert summary["undeserializable_messages"] == errors["count"].sum() > 0


def test_a_paused_registry_holds_new_schemas_and_not_cached_ones():
    faults = [
        {"kind": "pause", "at_s": 1.0, "node": "schema-registry", "duration_s": 4.0},
        {"kind": "evolve_schema", "at_s": 2.0, "producer": "app", "schema": V2},
    ]
    world, results = run(scenario(faults, duration_s=8.0, client_timeout_ms=1000))
    acked = results.acked.merge(results.produced, on="batch_id")
    ok = acked[acked.error == ""]
    assert ok[ok.first_arrival_s.between(1.0, 2.0)]["count"].sum() > 0  # cached id: sends go on
    failed = acked[acked.error == SERIALIZATION_ERROR]
    assert failed.first_arrival_s.min() >= 2.0
    assert failed.first_arrival_s.max() < 5.0 + 1.0 + 0.05  # paused until 5, timeout 1 s
    rows = results.events[results.events.kind == EventKind.SERIALIZATION_FAILED]
    assert list(rows.outcome) == ["REGISTRY_TIMEOUT"]
    assert ok.first_arrival_s.max() > 6.0  # V2 registered once the registry is back


def test_avro_beats_json_when_the_nic_is_the_bottleneck():
    """1 Gbit NICs; a value of 1,250 ints near 10^6: ~10 KB as JSON, a third as Avro. The
    producer offers 1.5x what its NIC can carry of the JSON values alone: JSON can ack no more
    than the NIC carries, Avro acks more than that. Batches of up to 64 KiB: under acks=all a
    broker answers a connection's requests one at a time, each after its followers' next
    fetch, so with 16 KiB batches (4 Avro records) that round trip, not the NIC, would hold
    Avro below the JSON bound."""
    sample = {"xs": [1_000_000 + i for i in range(1_250)]}
    schema = {
        "type": "record",
        "name": "Xs",
        "fields": [{"name": "xs", "type": {"type": "array", "items": "int"}}],
    }
    base = scenario(duration_s=4.0).to_dict()
    base["cluster"] = {"hardware": {"network_gbps": 1}}
    base["consumer_groups"] = []
    producer = {**base["producers"][0], "config": {"linger.ms": 5, "batch.size": 65_536}}
    json_spec = Scenario.model_validate(
        {**base, "producers": [{**producer, "format": {"kind": "json", "sample": sample}}]}
    )
    json_bytes = encoded_value_bytes(json_spec.producers[0])
    nic_bytes_s = 1e9 / 8
    json_capacity = nic_bytes_s / json_bytes  # records/s, values alone
    rate = 1.5 * json_capacity
    avro = {"kind": "avro", "schema": schema, "sample": sample}
    runs = {}
    for name, fmt in [("json", {"kind": "json", "sample": sample}), ("avro", avro)]:
        s = Scenario.model_validate(
            {**base, "producers": [{**producer, "rate_msgs_s": rate, "format": fmt}]}
        )
        runs[name] = run(s)[1].summary()
        duration = s.duration_s
    avro_bytes = encoded_value_bytes(Scenario.model_validate(
        {**base, "producers": [{**producer, "format": avro}]}
    ).producers[0], schema_registry=True)  # fmt: skip
    assert rate * avro_bytes < nic_bytes_s  # Avro's load fits
    assert runs["json"]["acked_messages"] <= json_capacity * duration
    assert runs["avro"]["acked_messages"] > json_capacity * duration
