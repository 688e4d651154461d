"""The liveness checker: does the cluster, and do its clients, recover once the faults heal?

Beside the safety audit (:mod:`sim.audit`: nothing acknowledged is lost), as TigerBeetle's VOPR
runs a liveness mode beside its safety checks and Jepsen reports what it never saw again. After
the last fault has healed (at ``heal_s``: a crashed broker restarted, a partition healed, a pause
ended; the start of the run when there was no fault), each item must recover within a bound the
checker derives from the scenario's own settings:

- ``leaders``: every partition has a leader clients can use (no ``partition_unavailable``
  window still open);
- ``isr``: every replica is back in its ISR (no under-replicated partition from then on);
- ``producer <node>``: every record offered before the heal is answered (acknowledged or
  failed), and from then on every batch is acknowledged: none failed, none still waiting at
  the end of the run once it has waited longer than the steady-state bound;
- ``group <id>``: the group is Stable (its last rebalance ended, none open);
- ``lag <id>``: the group has read everything acknowledged by the time the producers recovered;
- ``mirror <source>-><target>`` (several clusters, :func:`check_mirrors`): the mirror has copied
  every record its source acknowledged by the heal (or by its source's producers' recovery),
  the heal being the last of every cluster's faults and the WAN's.

Each item's ``recovered_s`` is when it recovered (NaN for never) and ``bound_s`` the bound
measured from the heal; a ``violation`` says what went wrong. A fault that never heals within the
run (a crash without restart, a cut never healed) leaves nothing to check: the table is empty
and the summary's fields are NaN, with a warning. See docs/results.md for each bound's terms.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

from sim import kafka_config
from sim.broker.broker import REGISTER_RETRY_S
from sim.broker.controller import (
    ELECTION_S_PER_PARTITION,
    LOAD_S_PER_PARTITION,
    SEND_RETRY_BACKOFF_S,
)
from sim.events import FAULT_ROWS, EventKind
from sim.scenario import Scenario

#: Fault kinds that are over when injected (nothing to heal).
INSTANT_FAULTS = frozenset(
    {"zookeeper_expire", "add_producer", "add_consumer", "remove_consumer", "failover"}
)

COLUMNS = ["item", "recovered_s", "bound_s", "violation"]

#: Errors a batch fails with for what its records are, not for the cluster's state: a record
#: over ``max.request.size`` or ``buffer.memory`` (RecordTooLargeException, at send()), a batch
#: over the topic's ``max.message.bytes`` (MESSAGE_TOO_LARGE, RECORD_LIST_TOO_LARGE). No
#: recovery lets them through, so they are no sign of a producer that failed to recover.
RECORD_ERRORS = ("RECORD_TOO_LARGE", "MESSAGE_TOO_LARGE", "RECORD_LIST_TOO_LARGE")


@dataclass(frozen=True)
class Bounds:
    """How long each item may take to recover after the heal, s (see :func:`bounds`)."""

    leaders_s: float
    isr_s: float
    producer_s: float
    steady_latency_s: float
    group_s: float
    lag_s: float


def heal_time(events: pd.DataFrame) -> tuple[float, list[str]]:
    """When the last fault healed (0.0 without faults), and the faults that never did, as
    ``"<fault> at <node>"``. A fault's end is its ``fault_end`` row; instant kinds end when
    injected."""
    rows = events[events["kind"].isin(FAULT_ROWS)]
    open_faults: dict[tuple[str, str], int] = {}
    last = 0.0
    for time_s, kind, fault, node in zip(
        rows["time_s"], rows["kind"], rows["fault"], rows["node"], strict=True
    ):
        last = max(last, float(time_s))
        if kind == EventKind.FAULT and fault not in INSTANT_FAULTS:
            open_faults[(fault, node)] = open_faults.get((fault, node), 0) + 1
        elif kind == EventKind.FAULT_END:
            open_faults[(fault, node)] = open_faults.get((fault, node), 0) - 1
    unhealed = [f"{fault} at {node}" for (fault, node), n in sorted(open_faults.items()) if n > 0]
    return last, unhealed


def first_fault_time(events: pd.DataFrame, heal_s: float) -> float:
    """When the first fault was injected, s (``heal_s`` when there was none)."""
    faults = events.loc[events["kind"] == EventKind.FAULT, "time_s"]
    return float(faults.min()) if len(faults) else heal_s


def bounds(scenario: Scenario, partitions: int, heal_s: float, first_fault_s: float) -> Bounds:
    """Each item's recovery bound, s, from the scenario's settings and hardware.

    partitions: partitions the controller handles (the topics' and the materialised
    ``__consumer_offsets`` ones). Terms (Kafka properties in seconds):

    - detection: ``zookeeper.session.timeout.ms`` and a ZooKeeper tick (a dead broker's session
      expires on a tick; a broker back within its session registers only after it expires, and
      retries every ``REGISTER_RETRY_S``);
    - the controller's own work: loading every partition when it takes office, and up to three
      passes of elections, ISR changes and LeaderAndIsr over every partition;
    - a request held in a cut link (TCP's retransmission timeout doubles while it is cut, so
      its next try may come long after the heal) is given up after its timeout
      (``request.timeout.ms``, ``replica.socket.timeout.ms``, ``controller.socket.timeout.ms``),
      and sent again after a
      backoff (``retry.backoff.max.ms``, ``replica.fetch.backoff.ms``, the controller's 100 ms);
    - catching up: the bytes offered from the first fault to the leaders' recovery, at half a
      NIC; a producer's full ``buffer.memory`` at a NIC;
    - groups: ``session.timeout.ms`` (a member lost is noticed), and per rebalance
      ``group.initial.rebalance.delay.ms`` and two rounds of ``heartbeat.interval.ms``, two
      rebalances (cooperative).
    """
    broker = kafka_config.broker_config(scenario.cluster.config)
    session_s = broker.s("zookeeper.session.timeout.ms")
    tick_s = min(3.0, session_s / 3)
    nic_bytes_s = scenario.cluster.hardware.network_gbps * 1e9 / 8
    controller_s = partitions * (LOAD_S_PER_PARTITION + 3 * ELECTION_S_PER_PARTITION)
    leaders_s = session_s + tick_s + REGISTER_RETRY_S + controller_s
    offered_bytes_s = sum(
        p.rate_msgs_s * p.count * p.message_bytes for p in scenario.producers if p.rate_msgs_s
    )
    behind_bytes = offered_bytes_s * (heal_s - first_fault_s + leaders_s)
    # a follower's fetch, and the controller's LeaderAndIsr to a broker behind a cut link, are
    # sent again after their timeouts (ReplicaFetcherThread, ControllerChannelManager)
    replica_s = broker.s("replica.socket.timeout.ms") + broker.s("replica.fetch.backoff.ms")
    replica_s += broker.s("controller.socket.timeout.ms") + SEND_RETRY_BACKOFF_S
    isr_s = leaders_s + replica_s + behind_bytes / (nic_bytes_s / 2)
    producer_s, steady_s = 0.0, 0.0
    for spec in scenario.producers:
        config, _ = kafka_config.producer_config(spec.config)
        request_s = config.s("request.timeout.ms") + config.s("retry.backoff.max.ms")
        steady_s = max(steady_s, config.s("linger.ms") + request_s)
        drain_s = config["buffer.memory"] / nic_bytes_s
        producer_s = max(producer_s, leaders_s + request_s + config.s("linger.ms") + drain_s)
    group_s = 0.0
    for group in scenario.consumer_groups:
        config, _ = kafka_config.consumer_config(group.kafka_config())
        rebalance_s = broker.s("group.initial.rebalance.delay.ms") + 2 * config.s(
            "heartbeat.interval.ms"
        )
        group_s = max(
            group_s,
            leaders_s + config.s("session.timeout.ms") + config.s("request.timeout.ms")
            + 2 * rebalance_s,
        )  # fmt: skip
    lag_s = max(producer_s, group_s) + isr_s - leaders_s
    return Bounds(leaders_s, isr_s, producer_s, steady_s, group_s, lag_s)


def check(
    scenario: Scenario,
    tables: dict[str, pd.DataFrame],
    partitions: int,
    coordinators: dict[str, str | None],
) -> tuple[pd.DataFrame, list[str]]:
    """The liveness table (``item``, ``recovered_s``, ``bound_s``, ``violation``) of a run's
    tables, and warnings (faults that never healed: then the table is empty).

    coordinators: each group's coordinator node at the end of the run when it holds the group
    Stable, else None (a coordinator cut off from the cluster may still write rows about a
    group it no longer coordinates: only the final coordinator's rows count)."""
    events = tables["events"]
    heal_s, unhealed = heal_time(events)
    if unhealed:
        note = f"liveness not checked: {', '.join(unhealed)} never healed within the run"
        return pd.DataFrame({c: [] for c in COLUMNS}), [note]
    first_fault_s = first_fault_time(events, heal_s)
    limits = bounds(scenario, partitions, heal_s, first_fault_s)
    end_s = scenario.duration_s
    leaders_at = _leaders_recovered(events, heal_s, end_s)
    isr_at = max(_isr_recovered(tables["timeseries"], heal_s), leaders_at)  # NaN stays NaN
    rows = [
        ("leaders", leaders_at, limits.leaders_s, ""),
        ("isr", isr_at, limits.isr_s, ""),
    ]
    producers_at = heal_s
    for name, produced in tables["produced"].groupby("producer", sort=True):
        at, problem = _producer_recovered(produced, tables["acked"], heal_s, end_s, limits)
        rows.append((f"producer {name}", at, limits.producer_s, problem))
        producers_at = max(producers_at, at) if not math.isnan(at) else producers_at
    for group in scenario.consumer_groups:
        gid = group.group_id
        if not _members_at_end(scenario, group):
            continue  # the scenario stops every member: nothing is left to recover
        stable_at = _group_stable(events, gid, coordinators.get(gid), heal_s)
        rows.append((f"group {gid}", stable_at, limits.group_s, ""))
        lag_at = _lag_recovered(tables, gid, list(group.topics), producers_at)
        rows.append((f"lag {gid}", lag_at, limits.lag_s, ""))
    table = pd.DataFrame(rows, columns=COLUMNS)
    table["violation"] = [
        _violation(at, bound, problem, heal_s, end_s)
        for at, bound, problem in zip(
            table["recovered_s"], table["bound_s"], table["violation"], strict=True
        )
    ]
    return table, _undecided(table, heal_s, end_s)


def _members_at_end(scenario: Scenario, group) -> int:
    """How many members of ``group`` the scenario leaves running: its own, plus those
    add_consumer adds, less those remove_consumer removes and crash_consumer stops for good."""
    count = group.members
    for fault in scenario.faults:
        if getattr(fault, "group", None) != group.group_id:
            continue
        if fault.kind == "add_consumer":
            count += fault.count
        elif fault.kind == "remove_consumer" or (
            fault.kind == "crash_consumer" and fault.restart_after_s is None
        ):
            count -= 1
    return count


def _undecided(table: pd.DataFrame, heal_s: float, end_s: float) -> list[str]:
    """A warning naming the items not recovered yet whose bounds had not passed when the run
    ended (none: an empty list)."""
    undecided = table.loc[table["recovered_s"].isna() & (table["violation"] == ""), "item"]
    if not len(undecided):
        return []
    return [
        f"liveness: {', '.join(undecided)} not recovered when the run ended "
        f"{end_s - heal_s:.3f} s after the last heal, within their bounds: run longer to tell"
    ]


def summary(table: pd.DataFrame, heal_s: float, faults: bool) -> dict[str, float]:
    """``recovery_s`` (last heal to the last item recovered; NaN without faults or when an
    item never recovered) and ``liveness_violations`` (NaN when not checked)."""
    if table.empty:
        return {"recovery_s": math.nan, "liveness_violations": math.nan}
    at = table["recovered_s"].to_numpy(float)
    recovery = float(at.max() - heal_s) if faults and not np.isnan(at).any() else math.nan
    return {"recovery_s": recovery, "liveness_violations": float((table["violation"] != "").sum())}


def _violation(at: float, bound_s: float, problem: str, heal_s: float, end_s: float) -> str:
    """What went wrong with one item: its own problem, no recovery although the run outlasted
    its bound, or a recovery later than the bound ('' for none, also when the run ended before
    the bound passed)."""
    if problem:
        return problem
    if math.isnan(at):
        return "never recovered" if end_s - heal_s > bound_s else ""
    if at - heal_s > bound_s:
        return f"recovered {at - heal_s:.3f} s after the heal, bound {bound_s:.3f} s"
    return ""


def _leaders_recovered(events: pd.DataFrame, heal_s: float, end_s: float) -> float:
    """The end of the last window without a usable leader that was open at or after the
    heal (the heal itself when none was); NaN when one is still open at the end."""
    windows = events[events["kind"] == EventKind.PARTITION_UNAVAILABLE]
    ends = (windows["time_s"] + windows["duration_s"]).to_numpy(float)
    if ends.size and ends.max() >= end_s:
        return math.nan
    later = ends[ends >= heal_s]
    return float(later.max()) if later.size else heal_s


def _isr_recovered(timeseries: pd.DataFrame, heal_s: float) -> float:
    """The first sample at or after the heal from which no partition is under-replicated;
    NaN when the last sample still has some."""
    times = timeseries["time_s"].to_numpy(float)
    urp = timeseries["under_replicated_partitions"].to_numpy()
    if not times.size or urp[-1] > 0:
        return math.nan
    bad = np.flatnonzero((urp > 0) & (times >= heal_s))
    if not bad.size:
        after = times[times >= heal_s]
        return float(after[0]) if after.size else heal_s
    return float(times[bad[-1] + 1])


def _producer_recovered(
    produced: pd.DataFrame, acked: pd.DataFrame, heal_s: float, end_s: float, limits: Bounds
) -> tuple[float, str]:
    """When the producer had answered every record offered before the heal (the heal itself
    when all were answered by then), and what went wrong after: batches failed (but for
    :data:`RECORD_ERRORS`), or still waiting at the end longer than the steady-state bound."""
    final = acked.drop_duplicates("batch_id", keep="last").set_index("batch_id")
    done = final["done_s"].reindex(produced["batch_id"]).to_numpy(float)
    error = final["error"].reindex(produced["batch_id"]).fillna("").to_numpy(object)
    offered = produced["first_arrival_s"].to_numpy(float)
    before = offered < heal_s
    if np.isnan(done[before]).any():
        late = end_s - heal_s > limits.producer_s
        return math.nan, "records offered before the heal never answered" if late else ""
    at = max(heal_s, float(done[before].max())) if before.any() else heal_s
    after = offered >= at
    failed = after & ~np.isnan(done) & ~np.isin(error, ("", "SPLIT", *RECORD_ERRORS))
    if failed.any():
        return at, f"{int(failed.sum())} batches offered after recovering failed"
    waiting = after & np.isnan(done) & (end_s - offered > limits.steady_latency_s)
    if waiting.any():
        return at, f"{int(waiting.sum())} batches offered after recovering never answered"
    return at, ""


def _group_stable(
    events: pd.DataFrame, group: str, coordinator: str | None, heal_s: float
) -> float:
    """When the group became Stable at its final ``coordinator`` (which holds it Stable at the
    end): the end of that coordinator's last rebalance of it, or the heal when it had none
    after (it loaded the group Stable); NaN without such a coordinator."""
    if coordinator is None:
        return math.nan
    rows = events[
        (events["kind"] == EventKind.REBALANCE_END)
        & (events["group"] == group)
        & (events["node"] == coordinator)
    ]
    last = float(rows["time_s"].max()) if len(rows) else heal_s
    return max(heal_s, last)


def _lag_recovered(
    tables: dict[str, pd.DataFrame], group: str, topics: list[str], target_s: float
) -> float:
    """The first time the group had read, on every partition of its ``topics``, every record
    acknowledged by ``target_s`` (the heal, or the producers' recovery when later); NaN when it
    never did."""
    produced, acked = tables["produced"], tables["acked"]
    produced = produced[produced["topic"].isin(topics)]
    ok = acked[(acked["error"] == "") & (acked["base_offset"] >= 0) & (acked["done_s"] <= target_s)]
    meta = produced.set_index("batch_id")[["topic", "partition", "count"]]
    ends = ok.join(meta, on="batch_id", how="inner")
    ends = (ends["base_offset"] + ends["count"]).groupby([ends["topic"], ends["partition"]]).max()
    reads = tables["consumed"]
    reads = reads[reads["group"] == group]
    at = target_s
    for (topic, partition), end in ends.items():
        mine = reads[(reads["topic"] == topic) & (reads["partition"] == partition)]
        reached = mine["polled_s"][(mine["base_offset"] + mine["count"]) >= end]
        if reached.empty:
            return math.nan
        at = max(at, float(reached.min()))
    return at


# ------------------------------------------------------------------------------ mirrors


@dataclass(frozen=True)
class MirrorPath:
    """What a mirror's recovery bound is derived from (see :func:`mirror_bound`).

    ends: the liveness bounds of its source and target clusters (their elections); config: the
    mirror's effective configs; wan_rtt_s and wan_bytes_s: the WAN's round trip, s, and the
    bandwidth of each direction, bytes/s; load_bytes_s: the bytes per second offered to every
    topic mirrored over the same direction of the WAN (each record at its largest size on the
    wire, :func:`sim.protocol.record_size_upper_bound`); rewind_s: how far back a restarted
    task may resume (``offset.flush.interval.ms`` after a Connect worker crash, else 0);
    topics: the source topics it copies, as the tables name them (``east/orders``)."""

    topics: tuple[str, ...]
    ends: tuple[Bounds, Bounds]
    config: kafka_config.MirrorConfig
    wan_rtt_s: float
    wan_bytes_s: float
    load_bytes_s: float
    rewind_s: float = 0.0


def mirror_bound(path: MirrorPath, heal_s: float, first_fault_s: float) -> float:
    """How long after the heal a mirror may take to have copied every source record
    acknowledged by then, s (``math.inf`` when the WAN cannot carry what the sources offer).

    Terms: the elections of either cluster (their ``leaders_s``); the task's consumer noticing
    a fetch lost in a cut (``request.timeout.ms``), backing off (``retry.backoff.max.ms``)
    and fetching again (``fetch.max.wait.ms`` and a WAN round
    trip); its producer retrying a produce request (``request.timeout.ms``,
    ``retry.backoff.max.ms``, ``linger.ms``); then the drain of the backlog: what the sources
    offered from the first fault (less ``rewind_s``) until all that is done, carried by the
    WAN's bandwidth less what keeps arriving."""
    source, target = path.ends
    consumer, producer = path.config.consumer, path.config.producer
    elections_s = max(source.leaders_s, target.leaders_s)
    fetch_s = consumer.s("request.timeout.ms") + consumer.s("retry.backoff.max.ms")
    fetch_s += consumer.s("fetch.max.wait.ms") + path.wan_rtt_s
    produce_s = producer.s("request.timeout.ms") + producer.s("retry.backoff.max.ms")
    produce_s += producer.s("linger.ms")
    notice_s = elections_s + fetch_s + produce_s
    spare_bytes_s = path.wan_bytes_s - path.load_bytes_s
    if spare_bytes_s <= 0:
        return math.inf
    behind_s = heal_s - first_fault_s + path.rewind_s + notice_s
    return notice_s + path.load_bytes_s * behind_s / spare_bytes_s


def mirror_recovered(
    lag: pd.DataFrame, tables: dict[str, pd.DataFrame], topics: list[str], target_s: float
) -> float:
    """The first ``mirrors`` sample (``lag``: one mirror's rows) at which the mirror had copied,
    on every source partition of ``topics``, every record acknowledged in the source by
    ``target_s`` (the heal, or the source's producers' recovery when later); NaN when it never
    did."""
    produced, acked = tables["produced"], tables["acked"]
    produced = produced[produced["topic"].isin(topics)]
    ok = acked[(acked["error"] == "") & (acked["base_offset"] >= 0) & (acked["done_s"] <= target_s)]
    meta = produced.set_index("batch_id")[["topic", "partition", "count"]]
    ends = ok.join(meta, on="batch_id", how="inner")
    ends = (ends["base_offset"] + ends["count"]).groupby([ends["topic"], ends["partition"]]).max()
    at = target_s
    for (topic, partition), end in ends.items():
        rows = lag[(lag["source_topic"] == topic) & (lag["partition"] == partition)]
        reached = rows["time_s"][rows["mirrored_records"] >= end]
        if reached.empty:
            return math.nan
        at = max(at, float(reached.min()))
    return at


def check_mirrors(
    tables: dict[str, pd.DataFrame], paths: dict[str, MirrorPath], end_s: float
) -> tuple[pd.DataFrame, list[str]]:
    """The liveness rows of the mirrors (item ``mirror <source>-><target>``), from a run's
    tables with every cluster's (names prefixed), and warnings as :func:`check` gives them.

    Each mirror recovers once it has copied what its source acknowledged by the heal or by
    its source's producers' recovery (their ``producer`` items, when later), within
    :func:`mirror_bound` (plus a ``mirrors`` sampling interval)."""
    events = tables["events"]
    heal_s, unhealed = heal_time(events)
    if unhealed:
        note = f"mirrors' liveness not checked: {', '.join(unhealed)} never healed within the run"
        return pd.DataFrame({c: [] for c in COLUMNS}), [note]
    first_fault_s = first_fault_time(events, heal_s)
    lag = tables["mirrors"]
    times = np.unique(lag["time_s"].to_numpy(float))
    interval_s = float(times[0]) if times.size else 0.0
    rows = []
    for name, path in paths.items():
        mine = lag[lag["mirror"] == name]
        source = name.split("->")[0] + "/"
        items = tables["liveness"]
        producers = items[items["item"].str.startswith(f"producer {source}")]
        target_s = max([heal_s, *producers["recovered_s"].dropna()])
        at = mirror_recovered(mine, tables, list(path.topics), target_s)
        bound = mirror_bound(path, heal_s, first_fault_s) + interval_s
        rows.append((f"mirror {name}", at, bound, _violation(at, bound, "", heal_s, end_s)))
    table = pd.DataFrame(rows, columns=COLUMNS)
    return table, _undecided(table, heal_s, end_s)
