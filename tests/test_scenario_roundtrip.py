"""``Scenario.from_dict(s.to_dict()) == s`` over generated scenarios (hypothesis)."""

from __future__ import annotations

import json

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sim.scenario import Scenario

PRODUCER_CONFIGS = st.fixed_dictionaries(
    {},
    optional={
        "acks": st.sampled_from(["all", "-1", -1]),
        "linger.ms": st.integers(0, 100),
        "batch.size": st.integers(0, 1 << 20),
        "compression.type": st.sampled_from(["none", "gzip", "snappy", "lz4", "zstd"]),
        "max.in.flight.requests.per.connection": st.integers(1, 5),
    },
)
CONSUMER_CONFIGS = st.fixed_dictionaries(
    {},
    optional={
        "auto.offset.reset": st.sampled_from(["earliest", "latest", "none"]),
        "max.poll.records": st.integers(1, 10_000),
        "partition.assignment.strategy": st.sampled_from(
            ["range", "roundrobin", "sticky", "cooperative-sticky", ["range", "cooperative-sticky"]]
        ),
    },
)


@st.composite
def scenarios(draw: st.DrawFn) -> dict:
    brokers = draw(st.integers(1, 6))
    duration = draw(st.floats(1.0, 1000.0, allow_nan=False))
    topics = [
        {
            "name": f"t{i}",
            "partitions": draw(st.integers(1, 64)),
            "replication_factor": draw(st.integers(1, brokers)),
            "config": draw(
                st.fixed_dictionaries({}, optional={"min.insync.replicas": st.integers(1, 3)})
            ),
        }
        for i in range(draw(st.integers(1, 3)))
    ]
    names = [t["name"] for t in topics]
    producers = [
        {
            "name": f"p{i}",
            "count": draw(st.integers(1, 4)),
            "topic": draw(st.sampled_from(names)),
            "rate_msgs_s": draw(st.floats(0.1, 1e6, allow_nan=False)),
            "message_bytes": draw(st.integers(0, 1 << 20)),
            "keys": draw(
                st.sampled_from(
                    [
                        {"kind": "none"},
                        {"kind": "uniform", "cardinality": 10},
                        {"kind": "zipf", "zipf_s": 1.2},
                    ]
                )
            ),
            "arrival": {"kind": draw(st.sampled_from(["constant", "poisson"]))},
            "config": draw(PRODUCER_CONFIGS),
        }
        for i in range(draw(st.integers(0, 3)))
    ]
    groups = [
        {
            "group_id": f"g{i}",
            "members": draw(st.integers(1, 5)),
            "topics": draw(st.lists(st.sampled_from(names), min_size=1, max_size=2, unique=True)),
            "processing_ms": draw(st.floats(0, 10, allow_nan=False)),
            "static": draw(st.booleans()),
            "config": draw(CONSUMER_CONFIGS),
        }
        for i in range(draw(st.integers(0, 2)))
    ]
    at = st.floats(0, duration, exclude_max=True, allow_nan=False)
    broker = st.one_of(
        st.integers(0, brokers - 1), st.builds(lambda b: f"broker-{b}", st.integers(0, brokers - 1))
    )
    fault_choices = [
        st.builds(lambda t, b: {"kind": "crash_broker", "at_s": t, "broker": b}, at, broker),
        st.builds(
            lambda t, b, r: {"kind": "power_loss", "at_s": t, "broker": b, "restart_after_s": r},
            at,
            broker,
            st.floats(0.1, 100),
        ),
        st.builds(lambda t: {"kind": "controlled_shutdown", "at_s": t, "broker": "controller"}, at),
        st.builds(
            lambda t, m, o: {"kind": "rolling_restart", "at_s": t, "mode": m, "order": o},
            at,
            st.sampled_from(["controlled", "hard"]),
            st.none() | st.permutations(list(range(brokers))),
        ),
        st.builds(
            lambda t, d: {"kind": "pause", "at_s": t, "node": "zookeeper", "duration_s": d},
            at,
            st.floats(0.1, 10),
        ),
        st.builds(
            lambda t, f: {
                "kind": "network_partition",
                "at_s": t,
                "isolate": "leader:t0-0",
                "from": f,
            },
            at,
            st.lists(st.sampled_from(["brokers", "zookeeper", "clients"]), min_size=1, unique=True),
        ),
        st.builds(
            lambda t, p: {
                "kind": "drop_messages",
                "at_s": t,
                "between": [0, "zookeeper"],
                "probability": p,
            },
            at,
            st.floats(0.01, 1),
        ),
    ]
    faults = draw(st.lists(st.one_of(fault_choices), max_size=4))
    return {
        "name": draw(st.text("abcdef-_", min_size=1, max_size=8)),
        "seed": draw(st.integers(0, 2**32)),
        "duration_s": duration,
        "cluster": {
            "brokers": brokers,
            "hardware": {"rtt_ms": draw(st.floats(0, 5, allow_nan=False))},
        },
        "topics": topics,
        "producers": producers,
        "consumer_groups": groups,
        "faults": faults,
    }


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(scenarios())
def test_to_dict_round_trips_exactly(data):
    scenario = Scenario.from_dict(data)
    as_dict = scenario.to_dict()
    assert Scenario.from_dict(as_dict) == scenario
    assert Scenario.from_dict(json.loads(json.dumps(as_dict))) == scenario  # JSON-ready, too
    assert Scenario.from_dict(as_dict).to_dict() == as_dict
