"""Message formats: a record's value size comes from really encoding it (sim.workload)."""

from __future__ import annotations

import io
import json

import fastavro
import pytest

from sim.scenario import ProducerSpec
from sim.workload import SCHEMA_REGISTRY_HEADER_BYTES, encoded_value_bytes

ORDER = {
    "type": "record",
    "name": "Order",
    "fields": [
        {"name": "order_id", "type": "long"},
        {"name": "customer", "type": "string"},
        {"name": "status", "type": {"type": "enum", "name": "S", "symbols": ["NEW", "PAID"]}},
        {"name": "price", "type": "double"},
        {"name": "items", "type": {"type": "array", "items": "int"}},
        {"name": "coupon", "type": ["null", "string"], "default": None},
    ],
}

SAMPLES = [
    {"order_id": 1, "customer": "c", "status": "NEW", "price": 0.0, "items": [], "coupon": None},
    {
        "order_id": 9_007_199_254_740_993,
        "customer": "customer-42",
        "status": "PAID",
        "price": 1234.5,
        "items": [1, 2, 300_000],
        "coupon": "SPRING",
    },
]


def producer(kind: str, sample: dict) -> ProducerSpec:
    fmt = {"kind": kind, "sample": sample, **({"schema": ORDER} if kind == "avro" else {})}
    return ProducerSpec.model_validate({"topic": "orders", "format": fmt})


@pytest.mark.parametrize("sample", SAMPLES)
def test_avro_value_is_smaller_than_json_of_the_same_record(sample):
    """Avro's binary encoding writes no field names and varint numbers, so the same record is
    smaller than its JSON text, even with the registry's 5-byte header; sizes measured."""
    out = io.BytesIO()
    fastavro.schemaless_writer(out, fastavro.parse_schema(ORDER), sample)
    avro_bytes = len(out.getvalue())
    json_bytes = len(json.dumps(sample, separators=(",", ":")).encode("utf-8"))
    assert avro_bytes + SCHEMA_REGISTRY_HEADER_BYTES < json_bytes
    assert encoded_value_bytes(producer("avro", sample)) == avro_bytes
    assert encoded_value_bytes(producer("avro", sample), schema_registry=True) == (
        avro_bytes + SCHEMA_REGISTRY_HEADER_BYTES
    )
    assert encoded_value_bytes(producer("json", sample)) == json_bytes
