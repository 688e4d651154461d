"""The mirror's producer accumulator: each batch knows which source records it holds."""

from __future__ import annotations

from sim import kafka_config
from sim.metrics import Table
from sim.mirror.worker_source_task import MirrorAccumulator

TP = ("east.orders", 0)


def accumulator(batch_size: int = 1000) -> MirrorAccumulator:
    config, _ = kafka_config.producer_config({"batch.size": batch_size})
    return MirrorAccumulator(config, "east->west", Table("mirrored_batches"), {})


def drain_all(acc: MirrorAccumulator, now: float, first_id: int = 0) -> list:
    """Cut and wire every ready batch of TP; their ids count from ``first_id``."""
    batches = []
    while (batch := acc.drain(acc.queue(TP), now)) is not None:
        acc.wire(batch, first_id + len(batches), -1)
        batches.append(batch)
    return batches


def rows(acc: MirrorAccumulator) -> list[tuple]:
    frame = acc.table.frame()
    return list(frame[["batch_id", "index", "source_offset", "count"]].itertuples(index=False))


def test_contiguous_polls_make_one_run_and_batches_split_them():
    acc = accumulator(batch_size=1000)  # 10 records of 100 bytes a batch
    acc.append_run(TP, ("east/orders", 0, 0, 6), 100, None, 0.0)
    acc.append_run(TP, ("east/orders", 0, 6, 9), 100, None, 0.0)  # continues: one run
    batches = drain_all(acc, 1.0)
    assert [b.count for b in batches] == [10, 5]
    assert [tuple(r) for r in rows(acc)] == [(0, 0, 0, 10), (1, 0, 10, 5)]
    assert acc.ends == {0: 10, 1: 15}


def test_a_gap_in_source_offsets_starts_a_new_run_in_the_batch():
    acc = accumulator()
    acc.append_run(TP, ("east/orders", 0, 0, 3), 100, None, 0.0)
    acc.append_run(TP, ("east/orders", 0, 7, 2), 100, None, 0.0)  # offsets 3..6 skipped
    drain_all(acc, 1.0)
    assert [tuple(r) for r in rows(acc)] == [(0, 0, 0, 3), (0, 3, 7, 2)]


def test_a_split_batch_keeps_its_records_and_a_wired_batch_is_recorded_once():
    acc = accumulator()
    acc.append_run(TP, ("east/orders", 0, 40, 4), 100, None, 0.0)
    [big] = drain_all(acc, 1.0)
    acc.wire(big, 0, -1)  # an epoch bump wires it again: no second row
    acc.deallocate(big)  # Sender._split: the big batch completes (SPLIT), then is split
    piece = acc.split_and_reenqueue(big, 2.0)
    acc.wire(piece, 1, -1)
    assert [tuple(r) for r in rows(acc)] == [(0, 0, 40, 4), (1, 0, 40, 4)]
