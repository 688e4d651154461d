"""Schema evolution in a running pipeline: a compatible change, the registry paused, an
incompatible change refused, then let in by an operator.

3 brokers; topic ``orders`` with 6 partitions, RF 3, min.insync.replicas 2; one keyed producer
at 5,000 msg/s with acks=all and linger.ms=5, values in Avro (schema ``Order`` v1: id, item)
through a schema registry (default compatibility BACKWARD, clients' registry timeout 5 s); a
consumer group of 2 that reads with the v1 schema (an application not redeployed); 60 s.
At 15 s the producer's application starts writing v2 (v1 plus ``qty`` with a default: every
compatibility level accepts it). From 25 s to 35 s the registry is paused. At 30 s the
application starts writing v3 (``item`` replaced by ``sku``, no default: BACKWARD refuses it).
At 45 s an operator sets the subject ``orders-value`` to NONE.

Question: what does each schema change cost the producer and the old consumer, and what does a
registry outage cost? (``kafkasim run scenarios/schema_evolution.py``)

What to look for (tables ``events``, ``acked``, ``deserialization_errors``; seed 1):
the producer's serializer registers v1 at 0.5 ms (one call; ``schema_registered``) and v2 at
15.0005 s; the consumers look each id up once (3 calls each in the run) and read v2 with v1
without error (Avro ignores the writer's extra field). While the registry is paused the producer
goes on: 24,636 records acked from 25 to 30 s with the cached id, p50 latency 3.8 ms as before.
At 30 s the application writes v3: send() waits for the registry call (paused), which times out
at 35 s (``serialization_failed``, outcome REGISTRY_TIMEOUT); once the registry is back it
refuses v3 (INCOMPATIBLE_SCHEMA at 35.0005 s) and every send fails, retried (204 registry calls
by the producer in all): 74,936 records fail with SERIALIZATION_ERROR from 30 to 45 s, none is
acked. At 45 s NONE lets v3 in (version 3, id 3) and sends succeed again, but the old consumers
cannot read v3 (``item`` has no default): all 74,427 records acked from 45 s are in
``deserialization_errors`` (SCHEMA_MISMATCH), ``undeserializable_messages`` 74,427.
``lost_acked_messages`` 0; ``failed_messages`` 74,936 of 298,934 offered.
"""

_V1_FIELDS = [{"name": "id", "type": "long"}, {"name": "item", "type": "string"}]
V1 = {"type": "record", "name": "Order", "fields": _V1_FIELDS}
V2 = {**V1, "fields": [*_V1_FIELDS, {"name": "qty", "type": "int", "default": 1}]}
V3 = {**V1, "fields": [{"name": "id", "type": "long"}, {"name": "sku", "type": "string"}]}

SCENARIO = {
    "name": "schema_evolution",
    "seed": 1,
    "duration_s": 60.0,
    "cluster": {
        "brokers": 3,
        "hardware": {"network_gbps": 10, "rtt_ms": 0.5, "disk_write_mb_s": 500},
    },
    "topics": [
        {
            "name": "orders",
            "partitions": 6,
            "replication_factor": 3,
            "config": {"min.insync.replicas": 2},
        }
    ],
    "producers": [
        {
            "name": "app",
            "topic": "orders",
            "rate_msgs_s": 5_000,
            "keys": {"kind": "uniform", "cardinality": 1000},
            "config": {"acks": "all", "linger.ms": 5},
            "format": {"kind": "avro", "schema": V1, "sample": {"id": 42, "item": "widget-7"}},
        }
    ],
    "consumer_groups": [
        {
            "group_id": "billing",
            "members": 2,
            "topics": ["orders"],
            "reader_schema": V1,
            "config": {"auto.offset.reset": "earliest"},
        }
    ],
    "schema_registry": {"compatibility": "BACKWARD", "client_timeout_ms": 5000},
    "faults": [
        {"kind": "evolve_schema", "at_s": 15, "producer": "app", "schema": V2},
        {"kind": "pause", "at_s": 25, "node": "schema-registry", "duration_s": 10},
        {
            "kind": "evolve_schema",
            "at_s": 30,
            "producer": "app",
            "schema": V3,
            "sample": {"id": 42, "sku": "W-7"},
        },
        {"kind": "set_compatibility", "at_s": 45, "subject": "orders-value", "mode": "NONE"},
    ],
}
