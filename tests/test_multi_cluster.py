"""Several clusters in one simulation, joined by MirrorMaker 2 (sim.multi_cluster, sim.mirror).

Claims hold for any seed (hypothesis draws it); each run is capped in events."""

from __future__ import annotations

import copy

import numpy as np
import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

import sim
from sim.multi_cluster import MultiClusterWorld
from sim.results import Results
from sim.scenario import Scenario
from sim.world import World

EVENT_CAP = 3_000_000  # simulation events per run before it counts as a runaway
SEEDS = st.integers(0, 2**32 - 1)
EARLIEST = {"auto.offset.reset": "earliest"}
STOP_S = 5.0  # the producers stop here; the rest of the run lets the mirrors drain

TWO_REGIONS = {
    "name": "two_regions",
    "duration_s": 10.0,
    "clusters": [{"name": "east", "brokers": 3}, {"name": "west", "brokers": 2}],
    "topics": [{"name": "orders", "cluster": "east", "partitions": 3, "replication_factor": 3}],
    "producers": [
        {"name": "app", "topic": "orders", "cluster": "east", "rate_msgs_s": 300,
         "stop_s": STOP_S, "keys": {"kind": "uniform", "cardinality": 50}},
    ],
    "consumer_groups": [
        {"group_id": "billing", "topics": ["orders"], "cluster": "east", "config": EARLIEST},
        {"group_id": "dr", "topics": ["east.orders"], "cluster": "west", "config": EARLIEST},
    ],
    "mirrors": [{"source": "east", "target": "west", "config": {"tasks.max": 2}}],
}  # fmt: skip


def _run(data: dict, seed: int) -> Results:
    world = MultiClusterWorld(Scenario.from_dict({**copy.deepcopy(data), "seed": seed}))
    world.env.event_limit = EVENT_CAP
    world.run()
    return world.results()


def _source_offsets(r: Results, remote: str) -> dict[tuple[int, int], int]:
    """(partition, offset) of each record of ``remote``'s final log -> its source offset."""
    log = r.log[r.log["topic"] == remote]
    runs = r.mirrored_batches
    out = {}
    for row in log.merge(runs, on="batch_id").itertuples():
        for i in range(row.count_y):
            out[(row.partition, row.base_offset + row.index + i)] = row.source_offset + i
    return out


def _records(r: Results, topic: str) -> dict[int, int]:
    """Records of each partition of ``topic``'s final log."""
    log = r.log[r.log["topic"] == topic]
    return log.groupby("partition")["count"].sum().to_dict()


@settings(max_examples=4, deadline=None)
@given(seed=SEEDS)
def test_a_record_produced_in_east_is_consumed_from_east_orders_in_west_in_order(seed):
    """Must show: every record of east's orders, in west's east.orders, read by west's group in
    the source's per-partition order, each once."""
    r = _run(TWO_REGIONS, seed)
    source = _records(r, "east/orders")
    assert sum(source.values()) > 0
    mapping = _source_offsets(r, "west/east.orders")
    consumed = r.consumed[r.consumed["group"] == "dr"].sort_values("polled_s", kind="stable")
    read: dict[int, list[int]] = {}
    for row in consumed.itertuples():
        for i in range(row.count):
            read.setdefault(row.partition, []).append(mapping[(row.partition, row.base_offset + i)])
    assert {p: offsets for p, offsets in read.items()} == {
        p: list(range(n)) for p, n in source.items()
    }
    summary = r.summary()
    assert summary["mirrored_messages"] == sum(source.values())
    assert summary["mirror_missing_messages"] == 0
    assert summary["mirror_duplicate_messages"] == 0
    assert summary["mirror_out_of_order"] == 0


ACTIVE_ACTIVE = {
    **TWO_REGIONS,
    "topics": [
        {"name": "orders", "cluster": "east", "partitions": 2, "replication_factor": 2},
        {"name": "orders", "cluster": "west", "partitions": 3, "replication_factor": 2},
    ],
    "producers": [
        {"name": "east-app", "topic": "orders", "cluster": "east", "rate_msgs_s": 200,
         "stop_s": STOP_S},
        {"name": "west-app", "topic": "orders", "cluster": "west", "rate_msgs_s": 200,
         "stop_s": STOP_S},
    ],
    "consumer_groups": [
        {"group_id": "east-all", "topics": ["orders", "west.orders"], "cluster": "east",
         "config": EARLIEST},
        {"group_id": "west-all", "topics": ["orders", "east.orders"], "cluster": "west",
         "config": EARLIEST},
    ],
    "mirrors": [{"source": "east", "target": "west"}, {"source": "west", "target": "east"}],
}  # fmt: skip


@settings(max_examples=3, deadline=None)
@given(seed=SEEDS)
def test_active_active_does_not_loop_records(seed):
    """Must show: two mirrors in opposite directions copy each record once into the other's
    remote topic and never back (no west.east.orders: MirrorSourceConnector.isCycle)."""
    r = _run(ACTIVE_ACTIVE, seed)
    assert sorted(r.log["topic"].unique()) == [
        "east/orders", "east/west.orders", "west/east.orders", "west/orders",
    ]  # fmt: skip
    pairs = (("east/orders", "west/east.orders"), ("west/orders", "east/west.orders"))
    for source, remote in pairs:
        copied: dict[int, list[int]] = {}
        for (partition, _), offset in sorted(_source_offsets(r, remote).items()):
            copied.setdefault(partition, []).append(offset)
        assert copied == {p: list(range(n)) for p, n in _records(r, source).items()}
    summary = r.summary()
    total = sum(_records(r, "east/orders").values()) + sum(_records(r, "west/orders").values())
    assert summary["mirrored_messages"] == total
    assert summary["mirror_duplicate_messages"] == 0
    assert summary["unconsumed_messages"] == 0
    assert summary["duplicate_deliveries"] == 0


def test_lag_grows_with_the_source_and_drains_once_it_stops():
    """The mirrors table: per source partition, mirrored_records never goes back, lag_records
    is the source's high watermark less it, and once the producers stop it drains to 0."""
    r = _run(TWO_REGIONS, 7)
    lag = r.mirrors
    assert set(lag["partition"]) == {0, 1, 2}
    for _, rows in lag.groupby("partition"):
        assert (np.diff(rows["mirrored_records"].to_numpy()) >= 0).all()
        assert (rows["lag_records"] >= 0).all()
        assert (rows["lag_s"] >= 0).all()
        assert rows["lag_records"].iloc[-1] == 0 and rows["lag_s"].iloc[-1] == 0
    assert (lag["lag_records"] > 0).any()  # records wait for the mirror while they are produced
    final = lag[lag["time_s"] == lag["time_s"].max()].set_index("partition")["mirrored_records"]
    assert final.to_dict() == _records(r, "east/orders")


def test_names_carry_the_cluster_only_with_several_clusters():
    r = _run(TWO_REGIONS, 1)
    assert set(r.producers["producer"]) == {"east/app-0", "west/mirror-east-west-0",
                                            "west/mirror-east-west-1"}  # fmt: skip
    assert set(r.consumed["member"]) == {"east/billing-0", "west/dr-0"}
    assert {n.split("/")[0] for n in r.events["node"] if n} == {"east", "west"}
    one = copy.deepcopy(TWO_REGIONS)
    one.update(clusters=None, cluster={"brokers": 3}, mirrors=[], consumer_groups=[])
    one["topics"][0]["cluster"] = one["producers"][0]["cluster"] = None
    world = World(Scenario.from_dict({**one, "duration_s": 6.0}))
    world.run()
    assert set(world.results().producers["producer"]) == {"app-0"}


def test_the_mirror_consumer_fetches_across_the_wan():
    """The tasks' consumers sit at the target's site: each source batch they mirrored crossed
    the WAN from east to west in a fetch response (its bytes at least), their requests the
    other way; west's own traffic never does."""
    data = {**TWO_REGIONS, "consumer_groups": []}
    world = MultiClusterWorld(Scenario.from_dict({**data, "seed": 3}))
    world.env.event_limit = EVENT_CAP
    world.run()
    r = world.results()
    stored = r.log.loc[r.log["topic"] == "east/orders", "batch_id"]
    fetched = r.produced.loc[r.produced["batch_id"].isin(stored), "bytes"].sum()
    assert world.wan.pipe("east", "west").bytes_carried >= fetched > 0
    assert world.wan.pipe("west", "east").bytes_carried > 0


CUT_S, HEAL_S = 3.0, 8.0
WAN_BYTES_S = 0.02e9 / 8  # the WAN below: 2.5 MB/s
MESSAGE_BYTES = 1000
WAN_CUT = {
    **TWO_REGIONS,
    "duration_s": 25.0,
    "wan": {"rtt_ms": 40, "bandwidth_gbps": 0.02},
    "producers": [
        {"name": "app", "topic": "orders", "cluster": "east", "rate_msgs_s": 1000,
         "message_bytes": MESSAGE_BYTES, "stop_s": 12.0},
    ],
    "consumer_groups": [],
    "mirrors": [{"source": "east", "target": "west",
                 "config": {"consumer.request.timeout.ms": 2000}}],
    "faults": [{"kind": "wan_partition", "at_s": CUT_S, "heal_after_s": HEAL_S - CUT_S}],
}  # fmt: skip


@settings(max_examples=3, deadline=None)
@given(seed=SEEDS)
def test_lag_grows_while_the_wan_is_cut_and_drains_no_faster_than_its_bandwidth(seed):
    """Must show: while the WAN is cut nothing is mirrored (every record acknowledged in the
    source since the cut is lag); after the heal the mirrored records grow by at most the WAN
    bandwidth over their value bytes, and the lag drains to 0."""
    r = _run(WAN_CUT, seed)
    lag = r.mirrors
    acked = r.acked.merge(r.produced, on="batch_id")
    acked = acked[(acked["error"] == "") & (acked["topic"] == "east/orders")]
    for partition, rows in lag.groupby("partition"):
        ok = acked[acked["partition"] == partition]
        for row in rows[(rows["time_s"] > CUT_S) & (rows["time_s"] <= HEAL_S)].itertuples():
            since_cut = ok.loc[(ok["done_s"] > CUT_S) & (ok["done_s"] <= row.time_s), "count"]
            assert row.lag_records >= since_cut.sum()
        assert rows["lag_records"].iloc[-1] == 0
    total = lag.groupby("time_s")["mirrored_records"].sum()
    at_heal = total[total.index <= HEAL_S].iloc[-1]
    after = total[total.index > HEAL_S]
    drained = (after - at_heal) * MESSAGE_BYTES
    assert (drained <= WAN_BYTES_S * (after.index - HEAL_S)).all()
    assert r.summary()["mirror_missing_messages"] == 0
    assert r.summary()["mirror_duplicate_messages"] == 0
    faults = r.events[r.events["fault"] == "wan_partition"]
    assert list(faults["time_s"]) == [CUT_S, HEAL_S]


def test_one_cluster_in_clusters_runs_as_cluster_does():
    """``clusters`` with one item: the same tables as the scenario written with ``cluster``."""
    base = {
        "duration_s": 5.0,
        "topics": [{"name": "t", "partitions": 2}],
        "producers": [{"topic": "t", "rate_msgs_s": 200}],
        "consumer_groups": [{"group_id": "g", "topics": ["t"]}],
    }
    listed = copy.deepcopy(base)
    listed["clusters"] = [{"name": "east"}]
    for item in [*listed["topics"], *listed["producers"], *listed["consumer_groups"]]:
        item["cluster"] = "east"
    one = sim.run(Scenario.from_dict({**base, "cluster": {"name": "east"}}))
    many = sim.run(Scenario.from_dict(listed))
    for name in ("produced", "acked", "consumed", "log", "producers"):
        pd.testing.assert_frame_equal(one.tables[name], many.tables[name])


SLOW_UNTIL_S = 6.0
SLOW_BYTES_S = 0.08e9 / 8 * 0.1  # the WAN below at a tenth of its bandwidth: 1 MB/s
SLOW_WAN = {
    **WAN_CUT,
    "duration_s": 16.0,
    "wan": {"rtt_ms": 40, "bandwidth_gbps": 0.08},
    "producers": [
        {"name": "app", "topic": "orders", "cluster": "east", "rate_msgs_s": 1500,
         "message_bytes": MESSAGE_BYTES, "stop_s": SLOW_UNTIL_S},
    ],
    "faults": [{"kind": "slow_wan", "at_s": 0.0, "bandwidth_factor": 0.1,
                "duration_s": SLOW_UNTIL_S}],
}  # fmt: skip


@settings(max_examples=2, deadline=None)
@given(seed=SEEDS)
def test_a_slow_wan_bounds_the_mirror_to_its_bandwidth_and_the_lag_grows(seed):
    """While the WAN keeps a tenth of its bandwidth the records mirrored by any time carry
    no more value bytes than crossed it since the start, so the lag grows by at least what
    east acknowledges beyond that; once it is back the lag drains to 0."""
    r = _run(SLOW_WAN, seed)
    total = r.mirrors.groupby("time_s")[["mirrored_records", "lag_records"]].sum()
    slow = total[total.index <= SLOW_UNTIL_S]
    assert (slow["mirrored_records"] * MESSAGE_BYTES <= SLOW_BYTES_S * slow.index).all()
    acked = r.acked.merge(r.produced, on="batch_id")
    acked = acked[(acked["error"] == "") & (acked["topic"] == "east/orders")]
    last = slow.index[-1]
    acked_by_last = acked.loc[acked["done_s"] <= last, "count"].sum()
    assert slow["lag_records"].iloc[-1] >= acked_by_last - SLOW_BYTES_S * last / MESSAGE_BYTES > 0
    assert total["lag_records"].iloc[-1] == 0
    faults = r.events[r.events["fault"] == "slow_wan"]
    assert list(zip(faults["kind"], faults["time_s"], strict=True)) == [
        ("fault", 0.0), ("fault_end", SLOW_UNTIL_S),
    ]  # fmt: skip


@settings(max_examples=2, deadline=None)
@given(seed=SEEDS)
def test_a_target_broker_crash_stops_the_mirror_only_until_the_election(seed):
    """A fault names its cluster (``leader:west/east.orders-0``) and runs in that cluster only:
    the leader of a remote partition crashes while records flow; Connect's producer retries
    (acks=all, infinite delivery timeout) and every source record ends up mirrored, none
    missing (duplicates are allowed: no idempotence, as Connect sets it)."""
    data = {
        **TWO_REGIONS,
        "duration_s": 25.0,
        "faults": [{"kind": "crash_broker", "at_s": 2.0, "broker": "leader:west/east.orders-0",
                    "restart_after_s": 4.0}],
    }  # fmt: skip
    r = _run(data, seed)
    crashes = r.events[(r.events["fault"] == "crash_broker") & (r.events["kind"] == "fault")]
    assert [n.split("/")[0] for n in crashes["node"]] == ["west"]
    assert (r.events.loc[r.events["kind"] == "leader_election", "node"].str[:5] == "west/").all()
    summary = r.summary()
    assert summary["mirrored_messages"] == sum(_records(r, "east/orders").values())
    assert summary["mirror_missing_messages"] == 0
    assert summary["mirror_out_of_order"] == 0
