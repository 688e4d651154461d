"""Audit of one run: what was lost, duplicated, reordered, and what consumers saw wrong.

Exact, at batch level. Every count is in records (offsets), computed from the half-open offset
ranges ``[base_offset, base_offset + count)`` of the run's tables (:data:`sim.results.TABLES`)
with interval arithmetic (sort, running maximum, diff); batches are never expanded to records.
The ``log`` table (each partition's final log, the leader's replica at the end of the run) decides
what survived, as the final read does in Jepsen's Kafka tests; records below the final log start
offset (``log_offsets``) were deleted by retention, not lost.

A consumed row may hold part of a batch (a poll that started or ended inside it): its records are
``base_offset .. base_offset + count - 1`` of the partition, wherever they fall in the batch.

The audit also checks the producers' accounting (:func:`check_accounting`): every record the
application offered is acknowledged, failed or pending, exactly; a run where that does not hold
raises :class:`AccountingError`.
"""

from __future__ import annotations

import math
from collections.abc import Collection, Mapping
from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd

from sim.results import empty_table, outcomes

_PARTITION = ["topic", "partition"]


class AccountingError(ValueError):
    """A producer's records do not add up (offered != acked + failed + pending, or the
    ``producers`` and ``failures`` tables disagree with ``produced`` and ``acked``): the model
    lost or double-counted records, or the tables were edited."""


@dataclass(frozen=True)
class AuditReport:
    """What the audit found; every count is in records unless it says batches.

    lost_acked_messages: records of acknowledged batches (error '' in acked, including acks=0
        batches, whose base_offset is -1) whose batch_id is not in the final log, except a
        batch acknowledged at offsets below its partition's final log start offset (deleted
        by retention). An acks=0 batch has no known offset: one that retention deleted counts
        as lost.
    lost_acked_batches: those batches.
    duplicate_messages: extra copies in the final logs: records of a batch stored more than once
        in its partition's log (a retried batch appended twice), not counting the first copy.
    duplicate_deliveries: per group, records delivered more than once, summed over groups. A
        record is (batch_id, position in the batch): a replay of the same offsets after a rebalance
        or restart counts, and so does reading both copies of a batch stored twice. The position
        comes from the copy of the batch that holds the consumed offset, in the final log or where
        the producer was told it was written (acked base_offset); when neither copy holds it (it
        was truncated away and never acked there), the record is (batch_id, offset).
    out_of_order: consumer rewinds: deliveries to a member of a partition that start below the end
        of that member's previous delivery from the partition (in polled_s order), one per rewind.
    producer_reorderings: pairs of consecutive stored batches (final log, offset order) of one
        producer (same producer_id) to one partition whose order is the reverse of their sequence
        order (base_sequence, then batch_id for producers without idempotence, whose batch ids
        must then follow creation order). A second copy of a batch stored after later batches
        counts as one.
    skipped_offsets: per group and partition, offsets of the final log between the first and the
        last offset the group read that the group never read (Jepsen's "skipped").
    inconsistent_offsets: offsets read by consumers that held different batches in different
        reads, or a different batch than in the final log (truncation, unclean election).
    unconsumed_messages: per group, records of batches acknowledged without error that are in
        the final log of a partition the group subscribes to (one copy of a batch stored twice)
        and that no member of the group received, summed over groups. A record is (batch_id,
        position in the batch), found as for duplicate_deliveries: reading either copy of a
        batch stored twice delivers it. Acknowledged records missing from the final log are
        lost (lost_acked_messages), not unconsumed; records the group had not reached by the
        end of the run are unconsumed.
    """

    lost_acked_messages: int
    lost_acked_batches: int
    duplicate_messages: int
    duplicate_deliveries: int
    out_of_order: int
    producer_reorderings: int
    skipped_offsets: int
    inconsistent_offsets: int
    unconsumed_messages: int

    def as_metrics(self) -> dict[str, float]:
        """The summary fields (sim.results.SUMMARY_FIELDS) the audit measures."""
        fields = (
            "lost_acked_messages",
            "duplicate_deliveries",
            "out_of_order",
            "unconsumed_messages",
        )
        values = asdict(self)
        return {name: float(values[name]) for name in fields}


def audit(
    tables: Mapping[str, pd.DataFrame],
    subscriptions: Mapping[str, Collection[str]] | None = None,
) -> AuditReport:
    """Audit a run's tables ("produced", "acked", "consumed", "log", "log_offsets"; missing ones
    count as empty) and, when they include "producers", check the producers' accounting.

    subscriptions: consumer group -> the topics it subscribes to (for unconsumed_messages);
    None: each group in "consumed" and the topics it read from.

    Raises ValueError when an acknowledged batch is not in "produced" (its size is unknown),
    AccountingError when the producers' records do not add up (:func:`check_accounting`).
    """
    produced, acked = _table(tables, "produced"), _table(tables, "acked")
    consumed, log = _table(tables, "consumed"), _table(tables, "log")
    if "producers" in tables:
        check_accounting(produced, acked, tables["producers"], _table(tables, "failures"))
    consumed = consumed[consumed["count"] > 0]
    lost_messages, lost_batches = _lost_acked(produced, acked, log, _table(tables, "log_offsets"))
    deliveries = _Deliveries(consumed, _copies(produced, acked, log))
    if subscriptions is None:
        subscriptions = consumed.groupby("group")["topic"].unique().to_dict()
    return AuditReport(
        lost_acked_messages=lost_messages,
        lost_acked_batches=lost_batches,
        duplicate_messages=int(log.loc[log.duplicated([*_PARTITION, "batch_id"]), "count"].sum()),
        duplicate_deliveries=_duplicate_deliveries(deliveries),
        out_of_order=_rewinds(consumed),
        producer_reorderings=_producer_reorderings(produced, log),
        skipped_offsets=_skipped(consumed, log),
        inconsistent_offsets=_inconsistent(consumed, log),
        unconsumed_messages=_unconsumed(acked, log, deliveries, subscriptions),
    )


def check_accounting(
    produced: pd.DataFrame,
    acked: pd.DataFrame,
    producers: pd.DataFrame,
    failures: pd.DataFrame,
) -> None:
    """Raise AccountingError unless every producer client's records add up exactly:
    offered = acked + failed + pending, pending = pending_blocked + pending_queued +
    pending_in_flight, its acked and failed records (and in ``failures`` its batches and
    records per error) are those of its batches in ``produced`` and ``acked``, and every
    producer of ``produced`` has a row."""
    found = outcomes(produced, acked)
    ok = found["error"] == ""
    acked_records = found[ok].groupby("producer")["records"].sum()
    failed_records = found[~ok].groupby("producer")["records"].sum()
    problems = []
    for row in producers.itertuples(index=False):
        name = row.producer
        outcome = row.acked + row.failed + row.pending
        if row.offered != outcome:
            problems.append(
                f"{name}: offered {row.offered} != acked {row.acked} + failed {row.failed} + "
                f"pending {row.pending} ({row.offered - outcome:+d} records unaccounted for)"
            )
        parts = row.pending_blocked + row.pending_queued + row.pending_in_flight
        if row.pending != parts:
            problems.append(f"{name}: pending {row.pending} != the sum of its parts {parts}")
        told = (int(acked_records.get(name, 0)), int(failed_records.get(name, 0)))
        if (row.acked, row.failed) != told:
            problems.append(
                f"{name}: (acked, failed) ({row.acked}, {row.failed}) != {told} in table acked"
            )
    missing = sorted(set(produced["producer"].unique()) - set(producers["producer"]))
    if missing:
        problems.append(f"producers of table produced without a row in producers: {missing}")
    columns = ["producer", "error", "batches", "records"]
    want = set(found.loc[~ok, columns].itertuples(index=False, name=None))
    have = set(failures[columns].itertuples(index=False, name=None))
    if want != have:
        problems.append(f"table failures: {sorted(have - want)} instead of {sorted(want - have)}")
    if problems:
        raise AccountingError("records do not add up: " + "; ".join(problems[:5]))


# ------------------------------------------------------------------ interval arithmetic


def _table(tables: Mapping[str, pd.DataFrame], name: str) -> pd.DataFrame:
    return tables[name] if name in tables else empty_table(name)


def _codes(frame: pd.DataFrame, columns: list[str]) -> np.ndarray:
    """One int64 code per row, equal for rows with equal values in ``columns``."""
    if frame.empty:
        return np.zeros(0, dtype=np.int64)
    return frame.groupby(columns, sort=False, dropna=False).ngroup().to_numpy(np.int64)


def _first_rows(key: np.ndarray) -> np.ndarray:
    """For codes 0..n-1 from :func:`_codes`: the first row holding each code, indexed by code."""
    return np.unique(key, return_index=True)[1]


def _ranges(frame: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """The offset range [start, end) of each row of a table with base_offset and count."""
    start = frame["base_offset"].to_numpy(np.int64)
    return start, start + frame["count"].to_numpy(np.int64)


def _union(
    key: np.ndarray, start: np.ndarray, end: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Merge the ranges [start, end) that overlap or touch, per key.

    Returns the merged ranges as (key, start, end), sorted by key then start.
    """
    order = np.lexsort((start, key))
    key, start, end = key[order], start[order], end[order]
    if key.size == 0:
        return key, start, end
    reach = pd.Series(end).groupby(key).cummax().to_numpy()
    first = np.ones(key.size, dtype=bool)
    first[1:] = (key[1:] != key[:-1]) | (start[1:] > reach[:-1])
    heads = np.flatnonzero(first)
    return key[heads], start[heads], np.maximum.reduceat(end, heads)


def _covered(key: np.ndarray, start: np.ndarray, end: np.ndarray) -> int:
    """Offsets covered at least once by the ranges, counted per key and summed."""
    _, merged_start, merged_end = _union(key, start, end)
    return int((merged_end - merged_start).sum())


def _multiply_covered(key: np.ndarray, start: np.ndarray, end: np.ndarray) -> int:
    """Offsets covered by at least two of the ranges, counted per key and summed (a sweep)."""
    position = np.concatenate([start, end])
    delta = np.concatenate([np.ones(start.size, np.int64), -np.ones(end.size, np.int64)])
    keys = np.concatenate([key, key])
    order = np.lexsort((position, keys))
    position, delta, keys = position[order], delta[order], keys[order]
    depth = np.cumsum(delta)[:-1]  # coverage from each event to the next; 0 between keys
    return int(np.diff(position)[depth >= 2].sum())


def _counts_before(log: pd.DataFrame, where: pd.DataFrame) -> np.ndarray:
    """Records of the final log below offset ``where.x`` in partition ``where`` (topic, partition).

    The final log's batches of a partition do not overlap.
    """
    batches = log[[*_PARTITION, "base_offset", "count"]].sort_values([*_PARTITION, "base_offset"])
    counts = batches["count"].astype(np.int64)
    batches = batches.assign(before=counts.groupby([batches.topic, batches.partition]).cumsum())
    batches["before"] -= counts
    query = where.assign(row=np.arange(len(where))).sort_values("x")
    found = pd.merge_asof(
        query,
        batches.sort_values("base_offset"),
        left_on="x",
        right_on="base_offset",
        by=_PARTITION,
    ).sort_values("row")
    inside = (found["x"] - found["base_offset"]).clip(lower=0, upper=found["count"])
    return (found["before"] + inside).fillna(0).to_numpy(np.int64)


# ------------------------------------------------------------------ the anomalies


def _lost_acked(
    produced: pd.DataFrame, acked: pd.DataFrame, log: pd.DataFrame, offsets: pd.DataFrame
) -> tuple[int, int]:
    """(records, batches) acknowledged without error whose batch is not in the final log nor
    acknowledged below its partition's final log start offset (``offsets``)."""
    counts = lost_acked_batches(produced, acked, log, offsets)
    return int(counts.sum()), int(counts.size)


def lost_acked_batches(
    produced: pd.DataFrame, acked: pd.DataFrame, log: pd.DataFrame, offsets: pd.DataFrame
) -> pd.Series:
    """The records (``count``, indexed by batch_id, ascending) of each batch acknowledged
    without error whose batch is not in the final log nor deleted by retention (below its
    partition's final log start offset in ``offsets``, the log_offsets table; see
    AuditReport.lost_acked_messages).

    Raises ValueError when such a batch is not in ``produced``."""
    acknowledged = np.unique(acked.loc[acked["error"] == "", "batch_id"].to_numpy(np.int64))
    lost = acknowledged[~np.isin(acknowledged, log["batch_id"].to_numpy(np.int64))]
    lost = lost[~np.isin(lost, _deleted_by_retention(produced, acked, offsets))]
    counts = produced.drop_duplicates("batch_id").set_index("batch_id")["count"].reindex(lost)
    if counts.isna().any():
        missing = counts.index[counts.isna()].tolist()[:5]
        raise ValueError(f"acknowledged batches missing from table 'produced': {missing}")
    return counts.astype(np.int64)


def _deleted_by_retention(
    produced: pd.DataFrame, acked: pd.DataFrame, offsets: pd.DataFrame
) -> np.ndarray:
    """Ids of the batches acknowledged at offsets wholly below their partition's final log
    start offset."""
    ok = acked.loc[
        (acked["error"] == "") & (acked["base_offset"] >= 0), ["batch_id", "base_offset"]
    ]
    sent = produced[[*_PARTITION, "batch_id", "count"]].drop_duplicates("batch_id")
    starts = offsets[[*_PARTITION, "log_start_offset"]]
    rows = ok.merge(sent, on="batch_id").merge(starts, on=_PARTITION)
    below = rows["base_offset"] + rows["count"] <= rows["log_start_offset"]
    return rows.loc[below, "batch_id"].to_numpy(np.int64)


def _copies(produced: pd.DataFrame, acked: pd.DataFrame, log: pd.DataFrame) -> pd.DataFrame:
    """Known copies of each batch: the final log's (rank 0) and where acks said it was (rank 1)."""
    stored = log[[*_PARTITION, "batch_id", "base_offset", "count"]].assign(rank=0)
    ok = acked.loc[
        (acked["error"] == "") & (acked["base_offset"] >= 0), ["batch_id", "base_offset"]
    ]
    told = ok.merge(produced[[*_PARTITION, "batch_id", "count"]], on="batch_id").assign(rank=1)
    copies = pd.concat([stored, told[stored.columns]], ignore_index=True)
    return copies.rename(columns={"base_offset": "copy_base", "count": "copy_count"})


class _Deliveries:
    """The consumed rows as records of batches: for each row its group, batch and offset range
    [start, end), and where a copy of its batch holds its first offset (the final log's before
    the acked one), the base offset of that copy (``shift``; 0 when none does) and True in
    ``by_position``: offset - shift is then the record's position in the batch."""

    def __init__(self, consumed: pd.DataFrame, copies: pd.DataFrame) -> None:
        rows = consumed[["group", *_PARTITION, "batch_id", "base_offset", "count"]].reset_index(
            drop=True
        )
        found = rows.assign(row=np.arange(len(rows))).merge(copies, on=[*_PARTITION, "batch_id"])
        held = (found["base_offset"] >= found["copy_base"]) & (
            found["base_offset"] < found["copy_base"] + found["copy_count"]
        )
        found = found[held].sort_values(["row", "rank"], kind="stable").drop_duplicates("row")
        index = found["row"].to_numpy()
        self.rows = rows
        self.start, self.end = _ranges(rows)
        self.shift = np.zeros(len(rows), dtype=np.int64)
        self.shift[index] = found["copy_base"].to_numpy(np.int64)
        self.by_position = np.zeros(len(rows), dtype=bool)
        self.by_position[index] = True


def _duplicate_deliveries(deliveries: _Deliveries) -> int:
    """Records delivered to a group more than once, summed over groups (see AuditReport)."""
    start, end, shift = deliveries.start, deliveries.end, deliveries.shift
    key = _codes(
        deliveries.rows.assign(by_position=deliveries.by_position),
        ["group", *_PARTITION, "batch_id", "by_position"],
    )
    return int((end - start).sum()) - _covered(key, start - shift, end - shift)


def _unconsumed(
    acked: pd.DataFrame,
    log: pd.DataFrame,
    deliveries: _Deliveries,
    subscriptions: Mapping[str, Collection[str]],
) -> int:
    """Acknowledged records in the final log that a subscribed group never received, summed
    over groups (see AuditReport)."""
    ok = acked.loc[acked["error"] == "", "batch_id"]
    stored = log[log["batch_id"].isin(ok)].drop_duplicates("batch_id").sort_values("batch_id")
    batches, sizes = stored["batch_id"].to_numpy(np.int64), stored["count"].to_numpy(np.int64)
    topics = stored["topic"].to_numpy(object)
    rows = deliveries.rows
    group_of, groups = pd.factorize(rows["group"])
    positions = deliveries.by_position
    read = rows["batch_id"].to_numpy(np.int64)
    start = deliveries.start - deliveries.shift
    end = deliveries.end - deliveries.shift
    total = 0
    for group, subscribed in subscriptions.items():
        owed = np.isin(topics, list(subscribed))
        total += int(sizes[owed].sum())
        code = groups.get_loc(group) if group in groups else -1
        mine = (group_of == code) & positions & np.isin(read, batches[owed])
        size = sizes[np.searchsorted(batches, read[mine])]  # the batch's records
        total -= _covered(read[mine], start[mine], np.minimum(end[mine], size))
    return total


def _rewinds(consumed: pd.DataFrame) -> int:
    """Deliveries that start below the end of the member's previous delivery of the partition."""
    columns = ["group", "member", *_PARTITION, "polled_s", "row"]
    rows = consumed.assign(row=np.arange(len(consumed))).sort_values(columns)
    key = _codes(rows, ["group", "member", *_PARTITION])
    start, end = _ranges(rows)
    return int(((key[1:] == key[:-1]) & (start[1:] < end[:-1])).sum())


def _producer_reorderings(produced: pd.DataFrame, log: pd.DataFrame) -> int:
    """Consecutive stored batches of one producer to one partition against send order: a
    lower producer epoch after a higher one, or within one epoch a lower sequence (as stored:
    an epoch bump restarts a partition's sequences at 0), or with equal sequences (no
    idempotence) a lower batch id."""
    writers = produced[["batch_id", "producer", "producer_id"]]
    columns = [*_PARTITION, "base_offset", "batch_id", "producer_epoch", "base_sequence"]
    stored = log[columns].merge(writers, on="batch_id")
    writer = ["producer", "producer_id", *_PARTITION]
    stored = stored.sort_values([*writer, "base_offset"])
    key = _codes(stored, writer)
    epoch = stored["producer_epoch"].to_numpy(np.int64)
    sequence = stored["base_sequence"].to_numpy(np.int64)
    batch = stored["batch_id"].to_numpy(np.int64)
    same_epoch = epoch[1:] == epoch[:-1]
    earlier = (epoch[1:] < epoch[:-1]) | (
        same_epoch
        & (
            (sequence[1:] < sequence[:-1])
            | ((sequence[1:] == sequence[:-1]) & (batch[1:] < batch[:-1]))
        )
    )
    return int(((key[1:] == key[:-1]) & earlier).sum())


def _skipped(consumed: pd.DataFrame, log: pd.DataFrame) -> int:
    """Final-log offsets inside a group's read span of a partition that the group never read."""
    key = _codes(consumed, ["group", *_PARTITION])
    merged_key, merged_start, merged_end = _union(key, *_ranges(consumed))
    inner = merged_key[1:] == merged_key[:-1]
    gap_rows = _first_rows(key)[merged_key[1:][inner]]
    gaps = consumed[_PARTITION].iloc[gap_rows].reset_index(drop=True)
    low = _counts_before(log, gaps.assign(x=merged_end[:-1][inner]))
    high = _counts_before(log, gaps.assign(x=merged_start[1:][inner]))
    return int((high - low).sum())


def _inconsistent(consumed: pd.DataFrame, log: pd.DataFrame) -> int:
    """Offsets that held different batches in different reads (the final log being one read)."""
    columns = [*_PARTITION, "batch_id", "base_offset", "count"]
    reads = pd.concat([consumed[columns], log[columns]], ignore_index=True)
    batch = _codes(reads, [*_PARTITION, "batch_id"])
    merged_batch, start, end = _union(batch, *_ranges(reads))
    partition = _codes(reads, _PARTITION)[_first_rows(batch)[merged_batch]]
    return _multiply_covered(partition, start, end)


# ------------------------------------------------------------------ mirrors (several clusters)


@dataclass(frozen=True)
class MirrorAuditReport:
    """What the audit of the mirrors found, in records (docs: results.md, the summary fields).

    mirrored_messages: distinct source records in the remote topics' final logs.
    mirror_missing_messages: records of a source partition's final log below the end of the last
        record mirrored from it that the remote partition does not hold.
    mirror_duplicate_messages: copies beyond the first of source records in the remote logs.
    mirror_out_of_order: runs stored in a remote partition starting below the end of a run of
        the same source partition stored before them (the source order broken).
    """

    mirrored_messages: int
    mirror_missing_messages: int
    mirror_duplicate_messages: int
    mirror_out_of_order: int

    def as_metrics(self) -> dict[str, float]:
        """The summary fields."""
        return {k: float(v) for k, v in asdict(self).items()}


def audit_mirrors(tables: Mapping[str, pd.DataFrame]) -> MirrorAuditReport:
    """Map each remote partition's final log back to its source records (``mirrored_batches``)
    and check them against the source partition's final log: every record up to the last one
    mirrored is there once, in source order. Topics are ``<cluster>/<topic>`` in every table."""
    log = _table(tables, "log")
    runs = _table(tables, "mirrored_batches")
    stored = log[["topic", "partition", "base_offset", "batch_id"]].merge(runs, on="batch_id")
    stored = stored.sort_values(["topic", "partition", "base_offset", "index"], kind="stable")
    totals = [0, 0, 0, 0]
    groups = stored.groupby(["topic", "partition", "source_topic", "source_partition"], sort=True)
    for (_, _, source_topic, source_partition), group in groups:
        start = group["source_offset"].to_numpy(dtype=np.int64)
        end = start + group["count"].to_numpy(dtype=np.int64)
        source = log[(log["topic"] == source_topic) & (log["partition"] == source_partition)]
        source_start = source["base_offset"].to_numpy(dtype=np.int64)
        source_end = source_start + source["count"].to_numpy(dtype=np.int64)
        for i, value in enumerate(_mirror_counts(start, end, source_start, source_end)):
            totals[i] += value
    return MirrorAuditReport(*totals)


def _mirror_counts(
    start: np.ndarray, end: np.ndarray, source_start: np.ndarray, source_end: np.ndarray
) -> tuple[int, int, int, int]:
    """(distinct, missing, duplicates, out of order) of runs ``[start, end)`` in stored order
    against the source log's batches ``[source_start, source_end)``.

    A run in order continues the one stored before it, or goes back to re-send records from
    one already stored (at-least-once: a task resumed from the offsets Connect flushed, a
    batch retried without idempotence) and goes on from there. Out of order: a run that goes
    back below the first one stored, or skips records while re-sending (it starts ahead of the
    run before it, which ended below the furthest record stored; a gap at that frontier is
    records missing, not an order break)."""
    reach = np.maximum.accumulate(end)
    skipped = (start[1:] > end[:-1]) & (end[:-1] < reach[:-1])
    out_of_order = int((skipped | (start[1:] < start[0])).sum())
    merged_start, merged_end = _merge(start, end)
    distinct = int((merged_end - merged_start).sum())
    frontier = int(end.max())
    clipped_end = np.minimum(source_end, frontier)
    keep = clipped_end > source_start
    expected = int((clipped_end[keep] - source_start[keep]).sum())
    held = _overlap(merged_start, merged_end, source_start[keep], clipped_end[keep])
    return distinct, expected - held, int((end - start).sum()) - distinct, out_of_order


def _merge(start: np.ndarray, end: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The union of the ranges ``[start, end)`` as sorted disjoint ranges."""
    order = np.argsort(start, kind="stable")
    start, end = start[order], end[order]
    reach = np.maximum.accumulate(end)
    new = np.ones(len(start), dtype=bool)
    new[1:] = start[1:] > reach[:-1]
    firsts = np.flatnonzero(new)
    lasts = np.append(firsts[1:], len(start)) - 1
    return start[firsts], reach[lasts]


def _overlap(a_start, a_end, b_start, b_end) -> int:
    """Records in both unions of ranges (each given as sorted disjoint ranges)."""
    total, i, j = 0, 0, 0
    b_start, b_end = (
        _merge(np.asarray(b_start), np.asarray(b_end)) if len(b_start) else (b_start, b_end)
    )
    while i < len(a_start) and j < len(b_start):
        low, high = max(a_start[i], b_start[j]), min(a_end[i], b_end[j])
        total += max(high - low, 0)
        if a_end[i] < b_end[j]:
            i += 1
        else:
            j += 1
    return int(total)


# --------------------------------------------------------------------------- failovers


#: Columns of a failover_audit row (see sim.results.TABLES).
FAILOVER_AUDIT_COLUMNS = (
    "group", "source_topic", "partition", "remote_topic", "records", "read_in_source",
    "read_in_target", "reread", "unread", "unread_mirrored", "rpo_s",
)  # fmt: skip


def audit_failovers(tables: Mapping[str, pd.DataFrame]) -> pd.DataFrame:
    """Per group that failed over and source partition it read: the source records (the
    source's final log and those mirrored, from the first it read there on) it read in the
    source, read in the target (remote
    records mapped back to their source offsets by ``mirrored_batches``), read in both
    (``reread``), and read in neither (``unread``; ``unread_mirrored`` of them were in the
    remote topic); ``rpo_s``: from when the oldest unread record's batch was closed for
    sending to the failover, s (0 when none is unread)."""
    failovers = _table(tables, "failovers")
    log = _table(tables, "log")
    consumed = _table(tables, "consumed")
    produced = _table(tables, "produced")[["batch_id", "closed_s"]]
    stored = log[["topic", "partition", "base_offset", "batch_id"]].merge(
        _table(tables, "mirrored_batches"), on="batch_id"
    )
    rows = []
    for (group, remote, partition), first in failovers.groupby(
        ["group", "topic", "partition"], sort=True
    ):
        runs = stored[(stored["topic"] == remote) & (stored["partition"] == partition)]
        if runs.empty:
            continue
        source_topic = runs["source_topic"].iloc[0]
        source_partition = int(runs["source_partition"].iloc[0])
        source_log = log[(log["topic"] == source_topic) & (log["partition"] == source_partition)]
        mirrored = _source_ranges(runs)
        size = int(max(_ends(source_log).max(initial=0), mirrored[1].max(initial=0)))
        present = _mask(size, (_starts(source_log), _ends(source_log)))
        in_remote = _mask(size, mirrored)
        present |= in_remote
        mine = consumed[consumed["group"] == group]
        here = mine[(mine["topic"] == source_topic) & (mine["partition"] == source_partition)]
        if not here.empty:  # records before where it started (auto.offset.reset) are not its
            present[: int(here["base_offset"].min())] = False
        in_source = _mask(size, (_starts(here), _ends(here))) & present
        there = mine[(mine["topic"] == remote) & (mine["partition"] == partition)]
        in_target = _read_remote(size, runs, there)
        unread = present & ~in_source & ~in_target
        rpo_s = _rpo_s(unread, source_log, produced, float(first["time_s"].iloc[0]))
        rows.append(
            (group, source_topic, source_partition, remote, int(present.sum()),
             int(in_source.sum()), int(in_target.sum()), int((in_source & in_target).sum()),
             int(unread.sum()), int((unread & in_remote).sum()), rpo_s)
        )  # fmt: skip
    return pd.DataFrame(rows, columns=list(FAILOVER_AUDIT_COLUMNS))


def failover_metrics(audit: pd.DataFrame) -> dict[str, float]:
    """The summary fields of the failovers' audit (NaN without a failover)."""
    if audit.empty:
        return {}
    return {
        "failover_reread_messages": float(audit["reread"].sum()),
        "failover_unread_messages": float(audit["unread"].sum()),
        "failover_unread_mirrored_messages": float(audit["unread_mirrored"].sum()),
        "failover_rpo_s": float(audit["rpo_s"].max()),
    }


def _starts(frame: pd.DataFrame) -> np.ndarray:
    return frame["base_offset"].to_numpy(dtype=np.int64)


def _ends(frame: pd.DataFrame) -> np.ndarray:
    return _starts(frame) + frame["count"].to_numpy(dtype=np.int64)


def _mask(size: int, ranges: tuple[np.ndarray, np.ndarray]) -> np.ndarray:
    """A boolean per offset below ``size``: inside one of the ranges ``[start, end)``."""
    delta = np.zeros(size + 1, dtype=np.int64)
    start, end = np.clip(ranges[0], 0, size), np.clip(ranges[1], 0, size)
    np.add.at(delta, start, 1)
    np.add.at(delta, end, -1)
    return np.cumsum(delta[:size]) > 0


def _source_ranges(runs: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """The source offset ranges of a remote partition's mirrored runs."""
    start = runs["source_offset"].to_numpy(dtype=np.int64)
    return start, start + runs["count"].to_numpy(dtype=np.int64)


def _read_remote(size: int, runs: pd.DataFrame, read: pd.DataFrame) -> np.ndarray:
    """The source offsets (below ``size``) of the remote records in ``read`` (consumed rows of
    the remote partition whose final log's runs are ``runs``)."""
    remote_start = (runs["base_offset"] + runs["index"]).to_numpy(dtype=np.int64)
    count = runs["count"].to_numpy(dtype=np.int64)
    remote_end = int((remote_start + count).max(initial=0))
    source_of = np.full(remote_end, -1, dtype=np.int64)
    for r0, n, s0 in zip(remote_start, count, runs["source_offset"].to_numpy(), strict=True):
        source_of[r0 : r0 + n] = s0 + np.arange(n)
    got = _mask(remote_end, (_starts(read), _ends(read)))
    offsets = source_of[got]
    mask = np.zeros(size, dtype=bool)
    mask[offsets[(offsets >= 0) & (offsets < size)]] = True
    return mask


def _rpo_s(unread: np.ndarray, source_log: pd.DataFrame, produced: pd.DataFrame, at_s: float):
    """From when the oldest unread record's batch was closed to ``at_s``, s (0: none unread,
    or it was closed after ``at_s``); NaN when its batch is not in the source's log."""
    if not unread.any():
        return 0.0
    oldest = int(np.argmax(unread))
    batches = source_log[(_starts(source_log) <= oldest) & (_ends(source_log) > oldest)]
    if batches.empty:
        return math.nan
    closed = produced[produced["batch_id"] == int(batches["batch_id"].iloc[0])]["closed_s"]
    return max(at_s - float(closed.min()), 0.0) if not closed.empty else math.nan
