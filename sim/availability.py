"""Availability and rebalance metrics, computed from the columns of a run's tables.

- :func:`unavailability_windows`: when each partition had no leader clients could use;
- :func:`rebalance_metrics`: how many rebalances the groups went through after they formed, and
  how long they took;
- :func:`partition_pauses`: per group and partition, the longest time records waited unconsumed
  (what eager and cooperative rebalancing change);
- :func:`produce_stalls`: per partition, the longest time records sent to it waited while
  nothing of it was acknowledged (writes blocked, whatever the cause).

Every fact comes from a column (``kind``, ``broker``, ``group``, ``generation``, ``outcome``,
...; see :data:`sim.results.TABLES`), never from the ``detail`` prose.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

from sim.events import ELECTIONS, FAULT_ROWS, ClientReach, EventKind
from sim.protocol import TopicPartition

#: Rows after which a partition has a usable leader again (the leader is the row's broker).
_LEADER_ROWS = (*ELECTIONS, EventKind.LEADER_RESUMED)


def unavailability_windows(
    events: pd.DataFrame, initial_leaders: Mapping[TopicPartition, int], end_s: float
) -> list[tuple[TopicPartition, float, float, int]]:
    """(partition, start, end, broker) for each time a partition had no leader clients could
    use: from the moment its leader ``broker`` became unreachable to clients (a fault row with
    outcome ``unreachable``: crash, power loss, stopped after a controlled shutdown, pause, cut
    off from clients) until a leader was elected, the restarted broker led it again
    (leader_resumed), the broker was reachable again (resumed, healed), or ``end_s``.

    initial_leaders: each partition's leader as the run starts (broker id).
    """
    leader = dict(initial_leaders)
    down_since: dict[TopicPartition, tuple[float, int]] = {}
    windows: list[tuple[TopicPartition, float, float, int]] = []
    columns = ("time_s", "kind", "topic", "partition", "broker", "outcome")
    rows = events[events["kind"].isin([*_LEADER_ROWS, *FAULT_ROWS])]
    for time_s, kind, topic, partition, broker, outcome in zip(
        *(rows[c] for c in columns), strict=True
    ):
        if kind in _LEADER_ROWS:
            tp = (topic, int(partition))
            if tp in down_since:
                since, was = down_since.pop(tp)
                windows.append((tp, since, time_s, was))
            leader[tp] = int(broker)
        elif broker >= 0 and outcome == ClientReach.UNREACHABLE:
            for tp, current in leader.items():
                if current == broker:
                    down_since.setdefault(tp, (time_s, int(broker)))
        elif broker >= 0 and outcome == ClientReach.REACHABLE:
            for tp, current in leader.items():
                if current == broker and tp in down_since:
                    since, was = down_since.pop(tp)
                    windows.append((tp, since, time_s, was))
    windows += [(tp, since, end_s, was) for tp, (since, was) in down_since.items()]
    return sorted(windows, key=lambda w: (w[1], w[0]))


def rebalance_metrics(events: pd.DataFrame, duration_s: float) -> dict[str, float]:
    """``rebalances`` and ``rebalance_time_s`` (s): the rebalances groups went through after they
    formed (:func:`rebalance_spans` without the formations), and their summed time."""
    counted = [
        (start, end)
        for (_, start, end, formation) in rebalance_spans(events, duration_s)
        if not formation
    ]
    return {
        "rebalances": float(len(counted)),
        "rebalance_time_s": float(sum(end - start for start, end in counted)),
    }


def rebalance_spans(
    events: pd.DataFrame, duration_s: float
) -> list[tuple[str, float, float, bool]]:
    """(group, start, end, formation) of each rebalance: a ``rebalance_start`` to the group's
    next ``rebalance_end`` (or the run's end, ``duration_s``).

    A group's formation (a rebalance that starts at generation 0: the first members joining an
    empty group, with its group.initial.rebalance.delay.ms) is not counted: it is no disruption.
    A rebalance cut short by a coordinator move (outcome ``coordinator_moved``: the old
    coordinator unloaded the group) goes on at the new coordinator when the members rejoin there:
    that next ``rebalance_start`` of the group is the same rebalance, counted once, and its time
    runs from the first start to the final end. A group whose members do not rejoin after the
    move ended its rebalance at the move.
    """
    rows = events[events["kind"].isin([EventKind.REBALANCE_START, EventKind.REBALANCE_END])]
    open_at: dict[str, set[str]] = {}  # group -> coordinators with the rebalance open
    since: dict[str, tuple[float, bool]] = {}  # group -> (start, formation) of its rebalance
    moved: dict[str, float] = {}  # group -> when a coordinator move cut its rebalance short
    spans: list[tuple[str, float, float, bool]] = []  # (group, start, end, formation)
    columns = ("time_s", "kind", "node", "group", "generation", "outcome")
    for time_s, kind, node, group, generation, outcome in zip(
        *(rows[c] for c in columns), strict=True
    ):
        nodes = open_at.setdefault(group, set())
        if kind == EventKind.REBALANCE_START:
            if not nodes and moved.pop(group, None) is None:
                since[group] = (time_s, generation == 0)  # a new rebalance
            nodes.add(node)
        elif node in nodes:
            nodes.discard(node)
            if nodes:
                continue  # another coordinator already carries it on
            if outcome == "coordinator_moved":
                moved[group] = time_s
            else:
                start, formation = since.pop(group)
                spans.append((group, start, time_s, formation))
    for group, nodes in open_at.items():
        if nodes:
            start, formation = since[group]
            spans.append((group, start, duration_s, formation))
        elif group in moved:
            start, formation = since[group]
            spans.append((group, start, moved[group], formation))
    return spans


def partition_pauses(
    produced: pd.DataFrame, acked: pd.DataFrame, consumed: pd.DataFrame, duration_s: float
) -> pd.DataFrame:
    """Per consumer group and partition it read: the longest pause (TABLES["pauses"]).

    A pause is a time records of the partition waited, acknowledged and not yet consumed by the
    group, while no member of the group polled any from it: between two successive polls of the
    partition by the group (any member), from the later of the earlier poll and the first
    acknowledgement of a record beyond the offsets the group had read by then, to the later
    poll; after the group's last poll of the partition, to the run's end. Counting starts at the
    group's first poll of any partition, so the group's formation is not a pause. Records are
    told apart by offset, so records of acks=0 batches (no offset) are not counted. In steady
    state pauses are a few fetch round trips; a rebalance that revokes a partition pauses it
    until its new owner polls it; a leader without a usable replica set holds back the high
    watermark, so nothing is acknowledged and nothing waits.
    """
    columns = ["group", "topic", "partition", "max_pause_s", "from_s"]
    ok = acked[acked["error"] == ""]
    if ok.empty or consumed.empty:
        return pd.DataFrame({c: [] for c in columns})
    meta = produced.set_index("batch_id")[["topic", "partition", "count"]]
    acks = ok[["batch_id", "done_s", "base_offset"]].join(meta, on="batch_id")
    acks["end"] = np.where(acks["base_offset"] >= 0, acks["base_offset"] + acks["count"], -1)
    by_partition = {tp: frame for tp, frame in acks.groupby(["topic", "partition"], sort=True)}
    rows = []
    for group, reads in consumed.groupby("group", sort=True):
        first_s = float(reads["polled_s"].min())
        polls = {tp: frame for tp, frame in reads.groupby(["topic", "partition"], sort=True)}
        for tp, acked_here in by_partition.items():
            pause, start = _longest_pause(acked_here, polls.get(tp), first_s, duration_s)
            rows.append((group, tp[0], int(tp[1]), pause, start))
    return pd.DataFrame(rows, columns=columns)


def _longest_pause(
    acks: pd.DataFrame, reads: pd.DataFrame | None, first_s: float, end_s: float
) -> tuple[float, float]:
    """(length, start) of the longest pause of one partition for one group (see
    :func:`partition_pauses`); (0, NaN) when records never waited."""
    ack_s = acks["done_s"].to_numpy(float)
    order = np.argsort(ack_s, kind="stable")
    ack_s = ack_s[order]
    ack_end = np.maximum.accumulate(acks["end"].to_numpy(np.int64)[order])
    if reads is None:
        poll_s, read_end = np.zeros(0), np.zeros(0, dtype=np.int64)
    else:
        polls = reads.assign(end=reads["base_offset"] + reads["count"]).groupby("polled_s")
        ends = polls["end"].max()
        poll_s = ends.index.to_numpy(float)
        read_end = np.maximum.accumulate(ends.to_numpy(np.int64))
    starts = np.concatenate(([first_s], poll_s))
    stops = np.concatenate((poll_s, [end_s]))
    seen = np.concatenate(([-1], read_end))
    # the first acknowledgement of a record the group had not read by each start
    j = np.searchsorted(ack_end, seen, side="right")
    waits = j < ack_s.size
    first = ack_s[np.minimum(j, ack_s.size - 1)]
    begin = np.maximum(starts, first)
    length = np.where(waits & (first < stops) & (stops > begin), stops - begin, 0.0)
    if not length.size or length.max() <= 0:
        return 0.0, float("nan")
    k = int(np.argmax(length))
    return float(length[k]), float(begin[k])


def produce_stalls(produced: pd.DataFrame, acked: pd.DataFrame, duration_s: float) -> pd.DataFrame:
    """Per partition producers wrote to: the longest stall (TABLES["produce_stalls"]).

    A stall is a time records sent to the partition waited for an answer while no batch of the
    partition was acknowledged without error (acked ``error`` ''). For each gap between two
    successive successful acknowledgements of the partition (any producer; before the first,
    from the partition's first ``first_arrival_s``; after the last, to the run's end,
    ``duration_s``), s: from the later of the gap's start and the earliest ``first_arrival_s``
    of a batch not answered by then (answered: any final answer, an error or SPLIT too; a batch
    never answered waits to the run's end), to the gap's end. A batch failed with an error is
    answered but ends no stall. In steady state a stall is about one produce latency; a write
    outage (no leader, acks=all waiting for a dead ISR member until the controller removes it,
    min.insync.replicas not met) is one long stall, whatever kept the leader from answering.

    acks=0: no broker answers; the producer completes such a batch without error when its
    request has left the NIC (base_offset -1; at once when the request could not be sent, to a
    crashed broker say), and counts it acknowledged (TABLES["producers"] ``acked``). So does
    this function: for acks=0 a stall is the time records waited to be sent (no leader known,
    send() blocked for buffer.memory), not whether a broker stored them. Batches refused before
    the partitioner chose a partition (partition -1) belong to no partition and are left out.
    """
    columns = ["topic", "partition", "max_stall_s", "from_s"]
    sent = produced[produced["partition"] >= 0]
    if sent.empty:
        return pd.DataFrame({c: [] for c in columns})
    # each batch's final answer (one acked row per batch); index -1, past the end: none
    final = pd.Index(acked["batch_id"]).get_indexer(sent["batch_id"])
    answer_s = np.append(acked["done_s"].to_numpy(float), np.inf)[final]
    ok = np.append((acked["error"] == "").to_numpy(bool), False)[final]
    arrival_s = sent["first_arrival_s"].to_numpy(float)
    topic, topics = pd.factorize(sent["topic"], sort=True)
    partition = sent["partition"].to_numpy(np.int64)
    key = topic * (int(partition.max()) + 1) + partition
    order = np.lexsort((answer_s, key))  # by partition, then by answer
    cuts = np.flatnonzero(np.diff(key[order])) + 1
    rows = []
    for at in np.split(order, cuts):
        stall, start = _longest_stall(arrival_s[at], answer_s[at], ok[at], duration_s)
        rows.append((topics[topic[at[0]]], int(partition[at[0]]), stall, start))
    return pd.DataFrame(rows, columns=columns)


def _longest_stall(
    arrival_s: np.ndarray, answer_s: np.ndarray, ok: np.ndarray, end_s: float
) -> tuple[float, float]:
    """(length, start) of the longest stall of one partition (see :func:`produce_stalls`), s,
    from its batches sorted by answer: each batch's first arrival, final answer (inf: none) and
    whether that answer acknowledged it; (0, NaN) when nothing ever waited."""
    acks_s = answer_s[ok]
    starts = np.concatenate(([arrival_s.min()], acks_s))
    stops = np.concatenate((acks_s, [end_s]))
    # the earliest arrival among the batches answered at or after each position, inf past them
    earliest = np.append(np.minimum.accumulate(arrival_s[::-1])[::-1], np.inf)
    waiting_s = earliest[np.searchsorted(answer_s, starts, side="right")]
    begin = np.maximum(starts, waiting_s)
    length = np.where(stops > begin, stops - begin, 0.0)
    k = int(np.argmax(length))
    if length[k] <= 0:
        return 0.0, float("nan")
    return float(length[k]), float(begin[k])
