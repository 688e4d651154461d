"""Every record the application offers is accounted for: acknowledged, failed or pending at the
end of the run (table ``producers``), in runs that take records down each path: a crash that
blocks send() on buffer.memory, BUFFER_EXHAUSTED, acks=0, MESSAGE_TOO_LARGE splits, an epoch
bump, RECORD_TOO_LARGE, a producer added mid-run; and consumers' unconsumed records.

Each run's audit (in ``sim.run``) already raises AccountingError when the records do not add up;
the tests check the identity again from the tables, and ``offered`` against an independent draw
of the workload.
"""

from __future__ import annotations

import copy

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sim.audit import AccountingError, audit
from sim.clients.producer.kafka_producer import ARRIVAL_WINDOW_S
from sim.clients.producer.sender import (
    BUFFER_EXHAUSTED,
    DELIVERY_TIMEOUT,
    RECORD_TOO_LARGE,
    Sender,
)
from sim.results import SPLIT, Results
from sim.rng import RandomStreams
from sim.scenario import Scenario
from sim.workload import Workload, encoded_value_bytes
from sim.world import World

EVENT_CAP = 5_000_000  # simulation events per run before a run counts as runaway


def _run(data: dict) -> Results:
    world = World(Scenario.from_dict(data))
    world.env.event_limit = EVENT_CAP
    world.run()
    return world.results()


def _drawn_before(data: dict, name: str, start_s: float) -> int:
    """Records producer client ``name`` offers before the end of the run, drawn afresh: its
    spec's workload on its own random stream, in the producer's windows from ``start_s``."""
    scenario = Scenario.from_dict(data)
    added = [f.producer for f in scenario.faults if f.kind == "add_producer"]
    spec = next(p for p in [*scenario.producers, *added] if name.startswith(f"{p.name}-"))
    spec = spec.model_copy(update={"start_s": start_s})
    stream = RandomStreams(scenario.seed).stream("workload", name)
    workload = Workload(spec, stream, encoded_value_bytes(spec))
    count, horizon = 0, start_s
    while horizon < scenario.duration_s:
        start, horizon = horizon, horizon + ARRIVAL_WINDOW_S
        count += int((workload.arrivals(start, horizon).times < scenario.duration_s).sum())
    return count


def _accounted(data: dict, results: Results, starts: dict[str, float] | None = None):
    """The producers table, checked: offered = acked + failed + pending for each client,
    acked and failed as the acked table says (SPLIT rows are neither), offered as a fresh draw
    of its workload."""
    producers = results.producers.set_index("producer")
    batches = results.acked.merge(results.produced, on="batch_id")
    batches = batches[batches["error"] != SPLIT]
    ok = batches["error"] == ""
    for name, row in producers.iterrows():
        mine = batches["producer"] == name
        assert row["acked"] == batches.loc[mine & ok, "count"].sum()
        assert row["failed"] == batches.loc[mine & ~ok, "count"].sum()
        assert row["offered"] == row["acked"] + row["failed"] + row["pending"]
        parts = row[["pending_blocked", "pending_queued", "pending_in_flight"]].sum()
        assert row["pending"] == parts
        start_s = (starts or {}).get(name, 0.0)
        assert row["offered"] == _drawn_before(data, name, start_s)
    summary = results.summary()
    assert summary["offered_messages"] == producers["offered"].sum()
    assert summary["offered_messages"] == (
        summary["acked_messages"] + summary["failed_messages"] + summary["pending_messages"]
    )
    return producers


def _failed(results: Results, error: str) -> int:
    """Records that failed with ``error``, from table failures."""
    failures = results.failures
    return int(failures.loc[failures["error"] == error, "records"].sum())


def _default_crash(default_dict: dict) -> dict:
    """The default scenario (acks=all, min.insync.replicas 2, 10,000 msg/s) with its crash at
    3 s, ended at 8 s: no partition takes a write until ZooKeeper expires the dead broker's
    session (zookeeper.session.timeout.ms, 18 s), so the 32 MiB of buffer.memory, filled at
    about 11 MB/s, are full from about 6 s and send() is blocked at the end; requests wait for
    the dead follower (request.timeout.ms, 30 s) in flight."""
    data = copy.deepcopy(default_dict)
    data["duration_s"] = 8.0
    data["faults"][0]["at_s"] = 3.0
    return data


def test_a_crash_ends_with_send_blocked_and_requests_in_flight(default_dict):
    data = _default_crash(default_dict)
    producers = _accounted(data, _run(data))
    row = producers.loc["app-0"]
    assert row["pending_blocked"] > 0
    assert row["pending_in_flight"] > 0
    assert row["pending_queued"] > 0
    assert row["failed"] == 0


def test_records_lost_from_the_count_make_the_run_fail(default_dict, monkeypatch):
    """A model that forgot the records in flight (here: not counted) fails its run loudly."""
    monkeypatch.setattr(Sender, "in_flight_records", lambda self: 0)
    with pytest.raises(AccountingError, match=r"app-0: offered \d+ != .* records unaccounted"):
        _run(_default_crash(default_dict))


def test_a_count_edited_after_the_run_fails_the_audit(default_dict):
    data = _default_crash(default_dict)
    data["duration_s"] = 4.0
    results = _run(data)
    tables = dict(results.tables)
    audit(tables)
    tables["producers"] = tables["producers"].assign(acked=tables["producers"]["acked"] - 1)
    with pytest.raises(AccountingError, match=r"\(-1 records|\(\+1 records"):
        audit(tables)


def _stalled(**config) -> dict:
    """Keyed records at 2 MB/s to 3 partitions (RF 1, one per broker); the leader of t-0
    crashes at 1 s and never returns: its records fill buffer.memory (1 MiB) and send()
    blocks, for every partition."""
    return {
        "seed": 3,
        "duration_s": 3.0,
        "cluster": {"brokers": 3},
        "topics": [{"name": "t", "partitions": 3, "replication_factor": 1}],
        "producers": [
            {
                "name": "app",
                "topic": "t",
                "rate_msgs_s": 2000,
                "message_bytes": 1000,
                "keys": {"kind": "uniform", "cardinality": 300},
                "config": {"acks": "1", "linger.ms": 5, "buffer.memory": 1 << 20} | config,
            }
        ],
        "faults": [{"kind": "crash_broker", "at_s": 1.0, "broker": "leader:t-0"}],
    }


def test_buffer_exhausted_records_fail_and_the_one_waited_on_is_pending():
    """max.block.ms 300: a record send() waits on fails every 300 ms, the next one waits at
    once (the dead leader's batches hold the memory for good)."""
    data = _stalled(**{"max.block.ms": 300})
    results = _run(data)
    row = _accounted(data, results).loc["app-0"]
    failures = results.failures.set_index("error")
    assert failures.loc[BUFFER_EXHAUSTED, "records"] == failures.loc[BUFFER_EXHAUSTED, "batches"]
    assert row["failed"] == _failed(results, BUFFER_EXHAUSTED) > 0
    assert row["pending_blocked"] > 0


def test_acks_0_records_are_acknowledged_without_offset_and_wait_for_no_answer():
    """acks=0: a request is done once its bytes have left the producer's NIC (at once when its
    broker is down: counted sent, lost), no answer awaited; at the end of the run none is left
    in flight (a 16 kB request leaves a 10 Gbps NIC in 13 us)."""
    data = _stalled(acks="0")
    data["faults"] = [{"kind": "crash_broker", "at_s": 1.0, "broker": "leader:t-0"}]
    results = _run(data)
    row = _accounted(data, results).loc["app-0"]
    assert row["acked"] > 0
    assert (results.acked["base_offset"] == -1).all()
    assert row["pending_in_flight"] == 0


@pytest.mark.liveness_violation_expected
def test_split_records_count_once_in_the_batch_they_end_in():
    """batch.size 16384 over max.message.bytes 2000: batches of 7 or more 300-byte records are
    refused (MESSAGE_TOO_LARGE), split into the same records (KAFKA-8350) and sent again until
    delivery.timeout.ms fails them; the SPLIT rows count neither as acked nor as failed."""
    data = {
        "name": "split",
        "seed": 5,
        "duration_s": 2.0,
        "cluster": {"brokers": 1},
        "topics": [
            {
                "name": "t",
                "partitions": 2,
                "replication_factor": 1,
                "config": {"max.message.bytes": 2000},
            }
        ],
        "producers": [
            {
                "name": "app",
                "topic": "t",
                "rate_msgs_s": 2000,
                "message_bytes": 300,
                "keys": {"kind": "uniform", "cardinality": 100},
                "config": {
                    "linger.ms": 5,
                    "enable.idempotence": False,
                    "request.timeout.ms": 300,
                    "delivery.timeout.ms": 1000,
                },
            }
        ],
    }
    results = _run(data)
    row = _accounted(data, results).loc["app-0"]
    assert (results.acked["error"] == SPLIT).sum() > 10
    assert row["failed"] == _failed(results, DELIVERY_TIMEOUT) > 0
    assert row["acked"] > 0


def test_an_epoch_bump_rewrites_batches_without_changing_the_count():
    """The leader of t-0 cut off from the producer for 4 s, longer than delivery.timeout.ms
    (2 s): its batches expire, the producer bumps its epoch (KIP-360) and rewrites the
    sequences of the batches not done; the run ends while it goes on (7.3 s)."""
    producer = {"name": "app", "topic": "t", "rate_msgs_s": 800, "message_bytes": 250}
    producer["keys"] = {"kind": "uniform", "cardinality": 40}
    producer["config"] = {"linger.ms": 5, "request.timeout.ms": 1000, "delivery.timeout.ms": 2000}
    cut = {"kind": "network_partition", "links": [["app-0", "leader:t-0"]]}
    data = {
        "name": "epoch-bump",
        "seed": 3,
        "duration_s": 7.3,
        "cluster": {"brokers": 2},
        "faults": [{**cut, "at_s": 2.0, "heal_after_s": 4.0}],
        "topics": [{"name": "t", "partitions": 2, "replication_factor": 1}],
        "producers": [producer],
    }
    results = _run(data)
    row = _accounted(data, results).loc["app-0"]
    assert (results.events["kind"] == "producer_epoch_bump").any()
    assert row["failed"] == _failed(results, DELIVERY_TIMEOUT) > 0


def test_records_send_refuses_as_too_large_are_failed():
    """max.request.size 2000 and values around 1,900 bytes: about half are refused at send()
    (RecordTooLargeException)."""
    data = _stalled(**{"max.request.size": 2000})
    data["producers"][0] |= {"message_bytes": 1900, "message_bytes_dist": "lognormal"}
    data["producers"][0]["message_bytes_spread"] = 0.1
    data["faults"] = []
    results = _run(data)
    row = _accounted(data, results).loc["app-0"]
    assert row["failed"] == _failed(results, RECORD_TOO_LARGE) > 0


def test_a_producer_added_mid_run_offers_from_then():
    data = _stalled()
    late = data["producers"][0] | {"name": "late"}
    data["faults"] = [{"kind": "add_producer", "at_s": 1.2, "producer": late}]
    producers = _accounted(data, _run(data), {"late-0": 1.2})
    assert list(producers.index) == ["app-0", "late-0"]
    assert producers.loc["late-0", "offered"] > 0


# ---------------------------------------------------------------- random runs


@st.composite
def _small_runs(draw) -> dict:
    """A keyed or keyless producer at 2,000 msg/s to 3 partitions of 3 brokers (RF 3), random
    acks, linger.ms, idempotence, buffer.memory (four batches or 32 MiB) and max.block.ms, no
    fault or a crash or a cut from the clients, ended at a random instant."""
    acks = draw(st.sampled_from(["0", "1", "all"]))
    config = {
        "acks": acks,
        "linger.ms": draw(st.sampled_from([0, 5])),
        "enable.idempotence": acks == "all" and draw(st.booleans()),
        "buffer.memory": draw(st.sampled_from([4 * 16384, 32 << 20])),
        "max.block.ms": draw(st.sampled_from([0, 300, 60000])),
        "request.timeout.ms": 500,
        "delivery.timeout.ms": 1000,
    }
    keys = draw(st.sampled_from([{"kind": "none"}, {"kind": "uniform", "cardinality": 50}]))
    fault = draw(
        st.sampled_from(
            [
                [],
                [{"kind": "crash_broker", "at_s": 0.5, "broker": "leader:t-0"}],
                [
                    {
                        "kind": "network_partition",
                        "at_s": 0.5,
                        "isolate": "leader:t-1",
                        "from": ["clients"],
                        "heal_after_s": 1.0,
                    }
                ],
            ]
        )
    )
    producer = {"name": "app", "topic": "t", "rate_msgs_s": 2000, "message_bytes": 500}
    return {
        "name": "accounting",
        "seed": draw(st.integers(0, 2**16)),
        "duration_s": draw(st.floats(1.0, 2.5)).__round__(4),
        "cluster": {"brokers": 3},
        "topics": [{"name": "t", "partitions": 3, "replication_factor": 3}],
        "producers": [producer | {"keys": keys, "config": config}],
        "faults": fault,
    }


@pytest.mark.liveness_violation_expected
@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_small_runs())
def test_every_offered_record_is_accounted_for_in_random_runs(data: dict):
    _accounted(data, _run(data))


# ---------------------------------------------------------------- consumers


def test_unconsumed_is_zero_after_a_drain_and_what_a_lagging_group_missed():
    """Producers stop at 2 s of a 4 s run. Group fast keeps up: after the drain it has every
    acknowledged record. Group slow (10 ms a record) cannot: its unconsumed records are the
    acknowledged ones it did not poll (no record lost, none delivered twice)."""
    data = _stalled()
    data["faults"] = []
    data["duration_s"] = 4.0
    data["producers"][0] |= {"stop_s": 2.0, "rate_msgs_s": 500}
    group = {"topics": ["t"], "config": {"auto.offset.reset": "earliest"}}
    data["cluster"]["config"] = {"group.initial.rebalance.delay.ms": 0}
    data["consumer_groups"] = [
        {**group, "group_id": "fast", "members": 2},
        {**group, "group_id": "slow", "members": 1, "processing_ms": 10.0},
    ]
    results = _run(data)
    report = audit(results.tables, {"fast": ["t"], "slow": ["t"]})
    assert report.lost_acked_messages == report.duplicate_deliveries == 0
    consumed = results.consumed.groupby("group")["count"].sum()
    acked = results.summary()["acked_messages"]
    assert consumed["fast"] == acked
    assert consumed["slow"] < acked
    assert results.summary()["unconsumed_messages"] == acked - consumed["slow"]
    assert report.unconsumed_messages == acked - consumed["slow"]
    assert results.summary()["pending_messages"] == 0
