"""Message formats: a record's value size comes from really encoding it (sim.workload)."""

from __future__ import annotations

import io
import json

import fastavro
import numpy as np
import pytest

from sim.scenario import ProducerSpec
from sim.workload import SCHEMA_REGISTRY_HEADER_BYTES, Workload, encoded_value_bytes

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


def test_bursts_move_on_at_a_window_edge_rounding_puts_early(monkeypatch) -> None:
    """A window from 1.2 s with bursts of 0.2 s every 1 s: 1.2 % 1.0 is 0.19999999999999996,
    inside the burst, whose end then computed as 1.2 again; the draw must still move on (it
    looped for ever, drawing empty windows, found by tests/test_config_property.py)."""
    spec = ProducerSpec(
        topic="t",
        rate_msgs_s=100.0,
        arrival={"kind": "bursts", "burst_factor": 3.0, "burst_s": 0.2, "period_s": 1.0},
    )
    workload = Workload(spec, np.random.default_rng(1), 100)
    draws = []
    poisson = workload._poisson

    def counted(t0: float, t1: float, rate: float) -> np.ndarray:
        draws.append((t0, t1, rate))
        assert len(draws) < 100, "the window never ends"
        return poisson(t0, t1, rate)

    monkeypatch.setattr(workload, "_poisson", counted)
    times = workload.arrivals(1.2, 3.0).times
    assert ((times >= 1.2) & (times < 3.0)).all()
    # low rate (100 x (1 - 0.6) / 0.8 = 50/s) to 2.0, then a burst (300/s) to 2.2, low to 3.0
    assert [(round(a, 9), round(b, 9), round(r, 9)) for a, b, r in draws if b > a] == [
        (1.2, 2.0, 50.0), (2.0, 2.2, 300.0), (2.2, 3.0, 50.0)
    ]  # fmt: skip
