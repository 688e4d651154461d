"""The source records a Connect source task handed to its producer, and which of them Connect
may commit (≈ Kafka 3.9 ``SubmittedRecords``, connect/runtime).

A record's source offset is committable once it and every record of its source partition
submitted before it are acknowledged by the target (``committableOffsets``: the acknowledged
records at the head of each partition's deque). MirrorSourceTask's source offset is the
record's own offset (``MirrorUtils.wrapOffset(record.offset())``), so the committable offset
of a partition is its last such record's offset. Records are held as runs of offsets, not one
by one: a run's records are submitted together and acknowledged in pieces (the batches they
went into).
"""

from __future__ import annotations

#: A source partition as the ``mirrored_batches`` table names it: (``east/orders``, 0).
SourcePartition = tuple[str, int]


class SubmittedRecords:
    """Per source partition: the first offset not yet known committable, and the acknowledged
    runs beyond it (first offset -> end offset)."""

    def __init__(self) -> None:
        self._head: dict[SourcePartition, int] = {}
        self._acked: dict[SourcePartition, dict[int, int]] = {}
        self._first: dict[SourcePartition, int] = {}

    def submit(self, partition: SourcePartition, first: int) -> None:
        """``submit``: records from offset ``first`` go to the producer (the task's first
        submission of ``partition`` sets where its deque starts)."""
        if partition not in self._head:
            self._head[partition] = self._first[partition] = first
            self._acked[partition] = {}

    def ack(self, partition: SourcePartition, first: int, count: int) -> None:
        """``SubmittedRecord.ack`` of the ``count`` records from ``first``: the head moves past
        every run acknowledged in a row."""
        acked = self._acked[partition]
        acked[first] = first + count
        head = self._head[partition]
        while head in acked:
            head = acked.pop(head)
        self._head[partition] = head

    def committable_offsets(self) -> dict[SourcePartition, int]:
        """``committableOffsets``: per source partition with any, the offset of the last record
        acknowledged with all those before it (what Connect would store). Kafka returns only
        what changed since its last call, which the task merges into what it holds
        (``CommittableOffsets.updatedWith``): the same offsets once stored."""
        return {p: head - 1 for p, head in self._head.items() if head > self._first[p]}
