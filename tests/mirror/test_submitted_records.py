"""Connect's committable source offsets (sim.mirror.submitted_records), cases ported from
Kafka 3.9's SubmittedRecordsTest (connect/runtime)."""

from __future__ import annotations

from sim.mirror.submitted_records import SubmittedRecords

P1, P2 = ("east/orders", 0), ("east/orders", 1)


def test_no_records_no_offsets():
    """testNoRecords."""
    assert SubmittedRecords().committable_offsets() == {}


def test_a_record_is_committable_once_acknowledged():
    """testSingleAck: submitted, nothing to commit; acknowledged, its offset."""
    records = SubmittedRecords()
    records.submit(P1, 7)
    assert records.committable_offsets() == {}
    records.ack(P1, 7, 1)
    assert records.committable_offsets() == {P1: 7}


def test_a_later_ack_waits_for_the_records_before_it_of_its_partition():
    """testMultipleAcksAcrossMultiplePartitions: partition 1's second record acknowledged
    first commits nothing; partition 2's first commits it alone; then both partitions move
    to their second record."""
    records = SubmittedRecords()
    records.submit(P1, 0)  # records 0 and 1 of each partition, submitted as runs of one
    records.submit(P2, 0)
    records.ack(P1, 1, 1)
    assert records.committable_offsets() == {}
    records.ack(P2, 0, 1)
    assert records.committable_offsets() == {P2: 0}
    records.ack(P1, 0, 1)
    records.ack(P2, 1, 1)
    assert records.committable_offsets() == {P1: 1, P2: 1}


def test_runs_acknowledged_in_pieces_commit_up_to_the_first_gap():
    """A run of 10 records from offset 20 cut into batches: the pieces acknowledged in a row
    from its start are committable, not those after a piece still in flight."""
    records = SubmittedRecords()
    records.submit(P1, 20)
    records.ack(P1, 20, 4)
    records.ack(P1, 27, 3)
    assert records.committable_offsets() == {P1: 23}
    records.ack(P1, 24, 3)
    assert records.committable_offsets() == {P1: 29}
