"""Audit: lost, duplicated, reordered, skipped and inconsistent records, from hand-made tables."""

from __future__ import annotations

import dataclasses

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sim.audit import AccountingError, AuditReport, audit
from sim.results import SUMMARY_FIELDS, TABLES, producers_table

DEFAULTS = {
    "producer": "app-0",
    "topic": "t",
    "producer_id": -1,
    "base_sequence": -1,
    "bytes": 100,
    "first_arrival_s": 0.0,
    "closed_s": 0.0,
    "attempt": 1,
    "done_s": 0.0,
    "latency_s": 0.001,
    "error": "",
    "member": "g-0",
    "e2e_latency_s": 0.001,
    "leader_epoch": 0,
    "producer_epoch": 0,
}


def _frame(name: str, rows: list[dict]) -> pd.DataFrame:
    """A table of TABLES[name] from rows holding the interesting columns; defaults for the rest."""
    columns = [c.name for c in TABLES[name]]
    full = [{**DEFAULTS, "polled_s": float(i), **row} for i, row in enumerate(rows)]
    frame = pd.DataFrame(full, columns=columns)
    return frame.astype({c.name: c.dtype for c in TABLES[name]})


def _run(
    batches: dict[int, tuple[int, int]],
    log: list[tuple[int, int, int]],
    reads: list[tuple],
    acked: dict[int, tuple[int, str]] | None = None,
    subscriptions: dict[str, list[str]] | None = None,
    log_start: dict[int, int] | None = None,
) -> AuditReport:
    """Audit a run on topic "t" (subscriptions: as audit takes them).

    batches: batch_id -> (partition, count), all produced and, unless ``acked`` says otherwise,
        acknowledged at their first offset in ``log`` (-1 when not stored).
    log: (partition, base_offset, batch_id) of the final log; count from ``batches``.
    reads: (group, member, partition, base_offset, count, batch_id), in poll order.
    log_start: partition -> final log start offset (log_offsets; none when not given).
    """
    first = {}
    for _, base, batch in log:
        first.setdefault(batch, base)
    acked = acked or {b: (first.get(b, -1), "") for b in batches}
    tables = {
        "produced": _frame(
            "produced",
            [{"batch_id": b, "partition": p, "count": n} for b, (p, n) in batches.items()],
        ),
        "acked": _frame(
            "acked", [{"batch_id": b, "base_offset": o, "error": e} for b, (o, e) in acked.items()]
        ),
        "log": _frame(
            "log",
            [
                {"partition": p, "base_offset": o, "count": batches[b][1], "batch_id": b}
                for p, o, b in log
            ],
        ),
        "consumed": _frame(
            "consumed",
            [
                dict(
                    zip(
                        ["group", "member", "partition", "base_offset", "count", "batch_id"],
                        r,
                        strict=True,
                    )
                )
                for r in reads
            ],
        ),
        "log_offsets": _frame(
            "log_offsets",
            [
                {
                    "partition": p,
                    "broker": 0,
                    "log_start_offset": o,
                    "high_watermark": o,
                    "log_end_offset": o,
                }
                for p, o in (log_start or {}).items()
            ],  # fmt: skip
        ),
    }
    return audit(tables, subscriptions)


# partition 0: b0 at 0..4, b1 at 5..7, b2 at 8..11; partition 1: b3 at 0..1
BATCHES = {0: (0, 5), 1: (0, 3), 2: (0, 4), 3: (1, 2)}
LOG = [(0, 0, 0), (0, 5, 1), (0, 8, 2), (1, 0, 3)]
FULL_READ = [
    ("g", "g-0", 0, 0, 5, 0),
    ("g", "g-0", 1, 0, 2, 3),
    ("g", "g-0", 0, 5, 3, 1),
    ("g", "g-0", 0, 8, 4, 2),
]
ZERO = AuditReport(0, 0, 0, 0, 0, 0, 0, 0, 0)


def test_a_clean_run_has_no_anomalies():
    partial = [  # another group reads b0 in two polls that split it, then the rest
        ("h", "h-0", 0, 0, 2, 0),
        ("h", "h-0", 0, 2, 3, 0),
        ("h", "h-1", 1, 0, 2, 3),
        ("h", "h-0", 0, 5, 3, 1),
        ("h", "h-0", 0, 8, 4, 2),
    ]
    report = _run(BATCHES, LOG, FULL_READ + partial)
    assert report == ZERO
    metrics = report.as_metrics()
    assert metrics == {
        "lost_acked_messages": 0,
        "duplicate_deliveries": 0,
        "out_of_order": 0,
        "unconsumed_messages": 0,
    }
    assert set(metrics) <= set(SUMMARY_FIELDS)


def test_empty_tables_give_zeros():
    assert audit({}) == ZERO


def test_an_acknowledged_batch_missing_from_the_final_log_is_lost():
    batches = {**BATCHES, 4: (0, 6), 5: (0, 7), 6: (1, 9)}
    log = [(0, 0, 0), (0, 5, 2), (1, 0, 3)]  # b1 truncated away, b2 re-stored at 5
    acked = {0: (0, ""), 1: (5, ""), 2: (5, ""), 3: (0, "")}
    acked |= {4: (-1, ""), 5: (-1, "NOT_ENOUGH_REPLICAS"), 6: (-1, "REQUEST_TIMED_OUT")}
    report = _run(batches, log, [], acked)
    assert report.lost_acked_messages == 3 + 6  # b1 (acks>=1) and b4 (acks=0, error '')
    assert report.lost_acked_batches == 2
    assert report.as_metrics()["lost_acked_messages"] == 9.0


def test_a_batch_retention_deleted_is_not_lost():
    # partition 0's log starts at 8: b0 (0..4) and b1 (5..7) deleted; b2 at 8..11 kept
    log = [(0, 8, 2), (1, 0, 3)]
    acked = {0: (0, ""), 1: (5, ""), 2: (8, ""), 3: (0, ""), 4: (6, "")}
    batches = {**BATCHES, 4: (0, 3)}  # b4 acked at 6..8: not wholly below the start, lost
    report = _run(batches, log, [], acked, log_start={0: 8, 1: 0})
    assert (report.lost_acked_messages, report.lost_acked_batches) == (3, 1)
    # without the log start offsets every deleted batch would count
    assert _run(batches, log, [], acked).lost_acked_messages == 5 + 3 + 3


def test_an_acknowledged_batch_unknown_to_produced_is_an_error():
    with pytest.raises(ValueError, match="missing from table 'produced'"):
        _run({0: (0, 5)}, [], [], {0: (0, ""), 9: (-1, "")})


def test_unconsumed_counts_stored_acknowledged_records_a_subscribed_group_never_got():
    """g read b0 whole and b1's records 1-2 (from the second copy of b1, stored twice); h
    subscribes to t and read nothing; k subscribes to another topic. b2 failed (stored anyway:
    not owed), b3 (acks=0: acknowledged without offset) is stored, b4 acknowledged and lost."""
    batches = {**BATCHES, 4: (1, 6)}
    log = [(0, 0, 0), (0, 5, 1), (0, 8, 2), (0, 12, 1), (1, 0, 3)]
    acked = {0: (0, ""), 1: (5, ""), 2: (8, "NOT_ENOUGH_REPLICAS"), 3: (-1, ""), 4: (2, "")}
    reads = [("g", "g-0", 0, 0, 5, 0), ("g", "g-0", 0, 13, 2, 1)]
    subscriptions = {"g": ["t"], "h": ["t"], "k": ["other"]}
    report = _run(batches, log, reads, acked, subscriptions)
    owed = 5 + 3 + 2  # b0, b1 (once), b3
    assert report.unconsumed_messages == (owed - 5 - 2) + owed
    assert report.lost_acked_messages == 6  # b4: lost, not unconsumed
    assert _run(batches, log, reads, acked).unconsumed_messages == owed - 5 - 2  # g alone


def _accounted(offered: int = 19) -> dict[str, pd.DataFrame]:
    """app-0's batches: b0 (5 records) acknowledged, b1 (3) split into b2, acknowledged, b3 (4)
    expired, b4 (1) refused for memory; 1 record blocked in send(), 2 queued, 3 in flight.
    app-1 offered 2 records, still queued."""
    outcomes = {0: (5, ""), 1: (3, "SPLIT"), 2: (3, ""), 3: (4, "DELIVERY_TIMEOUT")}
    outcomes[4] = (1, "BUFFER_EXHAUSTED")
    produced = _frame(
        "produced", [{"batch_id": b, "partition": 0, "count": n} for b, (n, _) in outcomes.items()]
    )
    acked = _frame(
        "acked", [{"batch_id": b, "base_offset": -1, "error": e} for b, (_, e) in outcomes.items()]
    )
    accounts = [("app-0", offered, 1, 2, 3), ("app-1", 2, 0, 2, 0)]
    producers, failures = producers_table(accounts, produced, acked)
    tables = {"produced": produced, "acked": acked, "producers": producers}
    return tables | {"failures": failures}


def test_producers_table_accounts_for_every_record_and_the_audit_checks_it():
    tables = _accounted()
    rows = tables["producers"].set_index("producer")
    assert rows.loc["app-0"].tolist() == [19, 5 + 3, 4 + 1, 6, 1, 2, 3]
    assert rows.loc["app-1"].tolist() == [2, 0, 0, 2, 0, 2, 0]
    assert tables["failures"].values.tolist() == [
        ["app-0", "BUFFER_EXHAUSTED", 1, 1],
        ["app-0", "DELIVERY_TIMEOUT", 1, 4],
    ]
    assert audit(tables).lost_acked_messages == 5 + 3  # (no final log here)


def test_records_that_do_not_add_up_fail_the_audit():
    with pytest.raises(AccountingError, match=r"app-0: offered 20 != .* \(\+1 records"):
        audit(_accounted(offered=20))
    tables = _accounted()
    tables["acked"] = tables["acked"][tables["acked"]["batch_id"] != 2]  # an answer lost
    with pytest.raises(AccountingError, match=r"\(acked, failed\) \(8, 5\) != \(5, 5\)"):
        audit(tables)
    tables = _accounted()
    tables["producers"].loc[0, "pending_queued"] += 1
    with pytest.raises(AccountingError, match="pending 6 != the sum of its parts 7"):
        audit(tables)
    tables = _accounted()
    tables["failures"].loc[0, "records"] = 2
    with pytest.raises(AccountingError, match="table failures"):
        audit(tables)
    tables = _accounted()
    tables["producers"] = tables["producers"].iloc[1:]
    with pytest.raises(AccountingError, match=r"without a row in producers: \['app-0'\]"):
        audit(tables)


def test_a_retry_stored_twice_is_a_duplicate_in_the_log_and_for_readers():
    log = [(0, 0, 0), (0, 5, 1), (0, 8, 1), (0, 11, 2), (1, 0, 3)]  # b1 stored again (retry)
    reads = [
        ("g", "g-0", 0, 0, 5, 0),
        ("g", "g-0", 0, 5, 3, 1),
        ("g", "g-0", 0, 8, 3, 1),
        ("g", "g-0", 0, 11, 4, 2),
        ("h", "h-0", 0, 6, 2, 1),  # records 1 and 2 of the first copy
        ("h", "h-0", 0, 8, 2, 1),  # records 0 and 1 of the second copy: record 1 again
    ]
    report = _run(BATCHES, log, reads)
    assert report.duplicate_messages == 3
    assert report.duplicate_deliveries == 3 + 1
    assert report.lost_acked_messages == 0
    assert report.out_of_order == 0
    assert report.producer_reorderings == 0  # b0, b1, b1, b2: the copy follows its original
    assert report.skipped_offsets == 0
    assert report.inconsistent_offsets == 0


def test_a_consumer_rewind_is_out_of_order_and_a_replay_duplicates():
    reads = [
        *FULL_READ,
        ("g", "g-0", 0, 3, 2, 0),  # rewind into b0: one violation
        ("g", "g-0", 0, 5, 3, 1),  # continues in order after the rewind: no new violation
        ("g", "g-1", 0, 5, 3, 1),  # another member replays after a rebalance: duplicate only
    ]
    report = _run(BATCHES, LOG, reads)
    assert report.out_of_order == 1
    assert report.duplicate_deliveries == 2 + 3 + 3
    assert report.as_metrics()["out_of_order"] == 1.0
    assert report.skipped_offsets == 0


def test_offsets_a_group_never_read_inside_its_span_are_skipped():
    reads = [
        ("g", "g-0", 0, 0, 2, 0),
        ("g", "g-0", 0, 3, 2, 0),  # offset 2 skipped
        ("g", "g-0", 0, 8, 4, 2),  # b1 (5..7) skipped
        ("g", "g-0", 1, 1, 1, 3),  # starting inside b3 is not a skip
        ("h", "h-0", 0, 0, 5, 0),
        ("h", "h-1", 0, 5, 3, 1),  # group h reads everything, with two members
        ("h", "h-1", 0, 8, 4, 2),
    ]
    assert _run(BATCHES, LOG, reads).skipped_offsets == 1 + 3


def test_an_offset_range_missing_from_the_final_log_is_not_skipped():
    log = [(0, 0, 0), (0, 8, 2)]  # nothing at 5..7 in the final log
    reads = [("g", "g-0", 0, 0, 5, 0), ("g", "g-0", 0, 8, 4, 2)]
    report = _run({0: (0, 5), 2: (0, 4)}, log, reads)
    assert report.skipped_offsets == 0


def test_offsets_read_with_different_batches_are_inconsistent():
    batches = {**BATCHES, 4: (0, 3)}
    log = [(0, 0, 0), (0, 5, 4), (0, 8, 2), (1, 0, 3)]  # b1 truncated, b4 took its offsets
    acked = {b: (o, "") for b, o in [(0, 0), (1, 5), (2, 8), (3, 0), (4, 5)]}
    reads = [
        ("g", "g-0", 0, 5, 3, 1),  # read b1 at 5..7 before the unclean election
        ("h", "h-0", 0, 5, 2, 4),  # read b4 at 5..6 after it
    ]
    report = _run(batches, log, reads, acked)
    assert report.inconsistent_offsets == 3  # 5, 6 differ between g and h; 7 between g and log
    assert report.lost_acked_messages == 3
    assert report.duplicate_deliveries == 0


def test_batches_stored_against_their_sequence_order_are_reorderings():
    batches = {0: (0, 2), 1: (0, 2), 2: (0, 2), 3: (0, 2), 4: (0, 2)}
    # b1 failed and was retried after b2; b3 and b4 belong to another producer
    log = [(0, 0, 0), (0, 2, 2), (0, 4, 3), (0, 6, 1), (0, 8, 4)]
    tables = _tables_with_producers(batches, log, {3: "other-0", 4: "other-0"})
    assert audit(tables).producer_reorderings == 1


def test_idempotent_reorderings_follow_sequence_numbers_per_producer_id():
    batches = {10: (0, 2), 11: (0, 2), 12: (0, 2)}
    log = [(0, 0, 11), (0, 2, 10), (0, 4, 12)]  # batch ids against sequences: 11 has seq 0
    tables = _tables_with_producers(batches, log, {}, sequences={10: 2, 11: 0, 12: 4})
    assert audit(tables).producer_reorderings == 0
    tables = _tables_with_producers(batches, log, {}, sequences={10: 0, 11: 2, 12: 4})
    assert audit(tables).producer_reorderings == 1


def test_an_epoch_bump_restarts_sequences_without_reordering():
    """KIP-360: after an idempotent producer bumps its epoch a partition's sequences start at 0
    again. Stored in order (epoch 0: 0, 2; epoch 1: 0, 2) is no reordering; a batch of the old
    epoch stored after one of the new is, and so is a lower sequence within one epoch."""
    batches = {20: (0, 2), 21: (0, 2), 22: (0, 2), 23: (0, 2)}
    log = [(0, 0, 20), (0, 2, 21), (0, 4, 22), (0, 6, 23)]
    sequences = {20: 0, 21: 2, 22: 0, 23: 2}
    tables = _tables_with_producers(batches, log, {}, sequences, {22: 1, 23: 1})
    assert audit(tables).producer_reorderings == 0
    tables = _tables_with_producers(batches, log, {}, sequences, {20: 1, 21: 1})
    assert audit(tables).producer_reorderings == 1  # epoch 1 then epoch 0 (22 after 21)
    tables = _tables_with_producers(batches, log, {}, {20: 0, 21: 2, 22: 2, 23: 0}, {22: 1, 23: 1})
    assert audit(tables).producer_reorderings == 1  # within epoch 1: 2 then 0


def _tables_with_producers(
    batches: dict[int, tuple[int, int]],
    log: list[tuple[int, int, int]],
    producers: dict[int, str],
    sequences: dict[int, int] | None = None,
    epochs: dict[int, int] | None = None,
) -> dict[str, pd.DataFrame]:
    rows = [
        {
            "batch_id": b,
            "partition": p,
            "count": n,
            "producer": producers.get(b, "app-0"),
            "producer_id": 7 if sequences else -1,
            "base_sequence": (sequences or {}).get(b, -1),
        }
        for b, (p, n) in batches.items()
    ]
    stored = [
        {
            "partition": p,
            "base_offset": o,
            "count": batches[b][1],
            "batch_id": b,
            "producer_epoch": (epochs or {}).get(b, 0),
            "base_sequence": (sequences or {}).get(b, -1),
        }
        for p, o, b in log
    ]
    return {"produced": _frame("produced", rows), "log": _frame("log", stored)}


# ------------------------------------------------------------------ properties


@st.composite
def clean_runs(draw):
    """A random final log (dense per partition) and groups reading it all, in order, in polls."""
    batches, log, reads = {}, [], []
    for partition in range(draw(st.integers(1, 3))):
        offset = draw(st.integers(0, 1000))  # log start offset after retention
        for _ in range(draw(st.integers(1, 8))):
            batch = len(batches)
            batches[batch] = (partition, draw(st.integers(1, 50)))
            log.append((partition, offset, batch))
            offset += batches[batch][1]
    for group in ("g", "h")[: draw(st.integers(1, 2))]:
        for partition, base, batch in log:
            count, position = batches[batch][1], 0
            while position < count:  # polls may split a batch
                size = draw(st.integers(1, count - position))
                reads.append(
                    (group, f"{group}-{partition}", partition, base + position, size, batch)
                )
                position += size
    return batches, log, reads


@settings(deadline=None, max_examples=60)
@given(clean_runs(), st.data())
def test_clean_logs_read_in_order_have_no_anomalies_and_drops_are_lost(run, data):
    batches, log, reads = run
    assert _run(batches, log, reads) == ZERO
    dropped = data.draw(st.sampled_from(log))
    acked = {b: (next(o for p, o, c in log if c == b), "") for b in batches}
    report = _run(batches, [row for row in log if row != dropped], reads, acked)
    assert report.lost_acked_messages == batches[dropped[2]][1]
    assert report.lost_acked_batches == 1


@st.composite
def messy_runs(draw):
    """A final log with some batches stored twice and random reads, some of other batches."""
    sizes = draw(st.lists(st.integers(1, 6), min_size=1, max_size=6))
    batches = {b: (0, n) for b, n in enumerate(sizes)}
    order = draw(st.lists(st.sampled_from(list(batches)), min_size=1, max_size=8))
    log, offset = [], 0
    for batch in order:
        log.append((0, offset, batch))
        offset += batches[batch][1]
    reads = []
    for _ in range(draw(st.integers(0, 12))):
        _, base, batch = draw(st.sampled_from(log))
        start = base + draw(st.integers(0, batches[batch][1] - 1))
        count = draw(st.integers(1, base + batches[batch][1] - start))
        if draw(st.integers(0, 4)) == 0:
            batch = len(batches) + 1  # something this offset held once, now gone
        group = draw(st.sampled_from(["g", "h"]))
        reads.append((group, f"{group}-{draw(st.integers(0, 1))}", 0, start, count, batch))
    return batches, log, reads


def _expected(batches, log, reads) -> dict[str, int]:
    """The audit's consumer-side counts, record by record."""
    holder = {o: (b, o - base) for _, base, b in log for o in range(base, base + batches[b][1])}
    seen, spans, contents, rewinds, last_end = {}, {}, {}, 0, {}
    for group, member, _, base, count, batch in reads:
        if last_end.get((group, member), -1) > base:
            rewinds += 1
        last_end[(group, member)] = base + count
        for o in range(base, base + count):
            copies = [o - b0 for _, b0, b in log if b == batch and b0 <= o < b0 + batches[b][1]]
            record = (batch, copies[0]) if copies else (batch, "offset", o)
            seen[(group, record)] = seen.get((group, record), 0) + 1
            spans.setdefault(group, set()).add(o)
            contents.setdefault(o, set()).add(batch)
    skipped = sum(
        1
        for read in spans.values()
        for o in range(min(read), max(read) + 1)
        if o not in read and o in holder
    )
    for o, (batch, _) in holder.items():
        contents.get(o, set()).add(batch)
    owed = {(b, position) for _, _, b in log for position in range(batches[b][1])}
    groups = {group for group, *_ in reads}
    return {
        "unconsumed_messages": sum(
            len(owed - {record for g, record in seen if g == group}) for group in groups
        ),
        "duplicate_deliveries": sum(n - 1 for n in seen.values()),
        "out_of_order": rewinds,
        "skipped_offsets": skipped,
        "inconsistent_offsets": sum(1 for c in contents.values() if len(c) > 1),
    }


@settings(deadline=None, max_examples=150)
@given(messy_runs())
def test_interval_counts_match_a_record_by_record_count(run):
    batches, log, reads = run
    gone = {len(batches) + 1: (0, 3)}  # the vanished batch: produced, never acknowledged
    first = {}
    for _, base, batch in log:
        first.setdefault(batch, base)
    acked = {b: (first.get(b, -1), "" if b in first else "REQUEST_TIMED_OUT") for b in batches}
    report = _run({**batches, **gone}, log, reads, acked | {len(batches) + 1: (-1, "x")})
    got = dataclasses.asdict(report)
    assert {k: got[k] for k in _expected(batches, log, reads)} == _expected(batches, log, reads)
    stored = [b for _, _, b in log]
    assert report.duplicate_messages == sum(
        batches[b][1] for i, b in enumerate(stored) if b in stored[:i]
    )


# ---------------------------------------------------------------- mirrors


def _mirror_tables(remote: list[tuple[int, int]], runs: list[tuple[int, int, int, int]]):
    """Source east/t partition 0 holds offsets 0..9 (two batches); the remote log
    west/east.t-0 holds ``remote`` batches (batch id, count) in order, made of ``runs``
    (batch id, index, source offset, count)."""
    log = [
        {"topic": "east/t", "partition": 0, "base_offset": o, "count": 5, "batch_id": b}
        for b, o in ((1, 0), (2, 5))
    ]
    offset = 0
    for batch_id, count in remote:
        log.append({"topic": "west/east.t", "partition": 0, "base_offset": offset,
                    "count": count, "batch_id": batch_id})  # fmt: skip
        offset += count
    mirrored = [
        {"mirror": "east->west", "batch_id": b, "index": i, "source_topic": "east/t",
         "source_partition": 0, "source_offset": o, "count": c}
        for b, i, o, c in runs
    ]  # fmt: skip
    return {"log": _frame("log", log), "mirrored_batches": _frame("mirrored_batches", mirrored)}


@pytest.mark.parametrize(
    ("remote", "runs", "expected"),
    [
        # everything, in order, once: (distinct, missing, duplicates, out of order)
        ([(10, 4), (11, 6)], [(10, 0, 0, 4), (11, 0, 4, 2), (11, 2, 6, 4)], (10, 0, 0, 0)),
        # offsets 4, 5 never arrived though 6.. did
        ([(10, 4), (11, 4)], [(10, 0, 0, 4), (11, 0, 6, 4)], (8, 2, 0, 0)),
        # a batch stored twice (a retry): 4 duplicates, a rewind that is no order break
        ([(10, 4), (10, 4), (11, 2)], [(10, 0, 0, 4), (11, 0, 4, 2)], (6, 0, 4, 0)),
        # a task resumed from offset 2 (the last flush): 2..5 again, then on in order
        ([(10, 4), (11, 4), (12, 2)], [(10, 0, 0, 4), (11, 0, 2, 4), (12, 0, 6, 2)], (8, 0, 2, 0)),
        # resumed from 1, but 3 and 4 skipped in the re-sent records
        ([(10, 5), (11, 2), (12, 3)], [(10, 0, 0, 5), (11, 0, 1, 2), (12, 0, 5, 3)], (8, 0, 2, 1)),
        # stored out of source order
        ([(11, 2), (10, 4)], [(10, 0, 0, 4), (11, 0, 4, 2)], (6, 0, 0, 1)),
        # only the first 3 mirrored so far: the rest is lag, not missing
        ([(10, 3)], [(10, 0, 0, 3)], (3, 0, 0, 0)),
    ],
)
def test_mirror_audit_maps_remote_logs_back_to_the_source(remote, runs, expected):
    from sim.audit import audit_mirrors

    report = audit_mirrors(_mirror_tables(remote, runs))
    assert dataclasses.astuple(report) == expected
