"""sim.mirror.offset_sync_store and offset_sync_writer against Kafka 3.9's own cases: each test
is a port of the test of the same name in connect/mirror/src/test/java/org/apache/kafka/connect/
mirror/OffsetSyncStoreTest.java or OffsetSyncWriterTest.java (tag 3.9.0-rc3), but the last."""

from __future__ import annotations

import random

from sim.mirror.offset_sync_store import SYNCS_PER_PARTITION, OffsetSync, OffsetSyncStore
from sim.mirror.offset_sync_writer import OffsetSyncWriter

TP = ("topic1", 2)
LONG_MAX = 2**63 - 1


def _sync(store: OffsetSyncStore, upstream: int, downstream: int) -> None:
    store.handle_record(OffsetSync(TP, upstream, downstream))


def test_offset_translation():
    store = OffsetSyncStore()
    store.start(True)
    _sync(store, 100, 200)  # emit synced downstream offset without dead-reckoning
    assert store.translate_downstream(TP, 150) == 201
    _sync(store, 150, 251)  # translate exact offsets
    assert store.translate_downstream(TP, 150) == 251
    assert store.translate_downstream(TP, 5) == -1  # an old offset before any sync
    _sync(store, 200, 10)  # downstream offsets reset
    assert store.translate_downstream(TP, 200) == 10
    _sync(store, 20, 20)  # upstream offsets reset
    assert store.translate_downstream(TP, 20) == 20


def test_no_translation_if_store_not_started():
    store = OffsetSyncStore()
    for offset in (0, 100, 200):
        assert store.translate_downstream(TP, offset) is None
    _sync(store, 100, 200)  # read during startup
    for offset in (0, 100, 200):
        assert store.translate_downstream(TP, offset) is None
    store.start(True)
    assert store.translate_downstream(TP, 0) == -1
    assert store.translate_downstream(TP, 100) == 200
    assert store.translate_downstream(TP, 200) == 201


def test_no_translation_if_no_offset_sync():
    store = OffsetSyncStore()
    store.start(True)
    assert store.translate_downstream(TP, 0) is None


def _assert_sparse_sync(store: OffsetSyncStore, sync_offset: int, previous_offset: int) -> None:
    expected = previous_offset if previous_offset == -1 else previous_offset + 1
    assert store.translate_downstream(TP, sync_offset - 1) == expected
    assert store.translate_downstream(TP, sync_offset) == sync_offset
    assert store.translate_downstream(TP, sync_offset + 1) == sync_offset + 1
    assert store.translate_downstream(TP, sync_offset + 2) == sync_offset + 1


def _assert_sparse_sync_invariant(store: OffsetSyncStore) -> None:
    for j in range(SYNCS_PER_PARTITION):
        for i in range(j):
            j_up = store.sync_for(TP, j).upstream
            i_up = store.sync_for(TP, i).upstream
            if j_up == i_up:
                continue
            lower = j_up + (1 << max(i - 2, 0))
            if lower > LONG_MAX:
                continue
            assert i_up >= lower, f"invariant C({i},{j})"
            upper = j_up + (1 << j) - (1 << i)
            if upper > LONG_MAX:
                continue
            assert i_up <= upper, f"invariant B({i},{j})"


def _startup_syncs(max_offset_lag: int) -> list[OffsetSync]:
    return [OffsetSync(TP, o, o) for o in range(0, 1001, max_offset_lag)]


def test_past_offset_translation():
    max_offset_lag = 10
    store = OffsetSyncStore()
    store.start(True, _startup_syncs(max_offset_lag))
    _assert_sparse_sync_invariant(store)
    _assert_sparse_sync(store, 1000, -1)  # only the latest startup offset translates
    for offset in range(1000 + max_offset_lag, 10001, max_offset_lag):
        _sync(store, offset, offset)
        _assert_sparse_sync_invariant(store)
    _assert_sparse_sync(store, 1000, -1)  # invariant D: the last startup sync is kept
    pairs = [
        (4840, 1000), (6760, 4840), (8680, 6760), (9160, 8680), (9640, 9160), (9880, 9640),
        (9940, 9880), (9970, 9940), (9990, 9970), (10000, 9990),
    ]  # fmt: skip
    for sync_offset, previous in pairs:
        _assert_sparse_sync(store, sync_offset, previous)
    _sync(store, 1500, 11000)  # rewinding upstream clears the history
    _assert_sparse_sync_invariant(store)
    assert store.translate_downstream(TP, 1499) == -1
    assert store.translate_downstream(TP, 1500) == 11000
    assert store.translate_downstream(TP, 2000) == 11001


def test_past_offset_translation_without_initialization_read_to_end():
    max_offset_lag = 10
    store = OffsetSyncStore()
    store.start(False, _startup_syncs(max_offset_lag))
    _assert_sparse_sync_invariant(store)
    _assert_sparse_sync(store, 480, 0)
    _assert_sparse_sync(store, 720, 480)
    _assert_sparse_sync(store, 1000, 990)
    for offset in range(1000, 10001, max_offset_lag):
        _sync(store, offset, offset)
        _assert_sparse_sync_invariant(store)
    pairs = [
        (3840, 0), (7680, 3840), (8640, 7680), (9120, 8640), (9600, 9120), (9840, 9600),
        (9900, 9840), (9960, 9900), (9990, 9960), (10000, 9990),
    ]  # fmt: skip
    for sync_offset, previous in pairs:
        _assert_sparse_sync(store, sync_offset, previous)
    _sync(store, 1500, 11000)
    _assert_sparse_sync_invariant(store)
    assert store.translate_downstream(TP, 1499) == -1
    assert store.translate_downstream(TP, 1500) == 11000
    assert store.translate_downstream(TP, 2000) == 11001


def _distinct(store: OffsetSyncStore) -> int:
    count = 1
    for i in range(1, SYNCS_PER_PARTITION):
        if store.sync_for(TP, i - 1) is not store.sync_for(TP, i):
            count += 1
    return count


def _assert_bounded_expirations(first_offset: int, steps, maximum_expirations: int) -> None:
    """assertSyncSpacingHasBoundedExpirations."""
    store = OffsetSyncStore()
    store.start(True)
    _sync(store, first_offset, first_offset)
    offset, last_count = first_offset, 1
    for step in steps:
        offset += step
        assert 0 <= offset <= LONG_MAX, "test is invalid, offset overflowed"
        _sync(store, offset, offset)
        assert store.sync_for(TP, 0).upstream == offset  # invariant A
        assert store.sync_for(TP, 63).upstream == first_offset  # invariant D
        count = _distinct(store)
        assert last_count - count + 1 <= maximum_expirations
        last_count = count


def test_consistently_spaced_syncs():
    iterations = 100
    max_step = LONG_MAX // iterations
    step = 1
    while step < max_step:
        for first_offset in range(0, 30, 7):  # Kafka: every first offset 0..29
            _assert_bounded_expirations(first_offset, [step] * iterations, 1)
        step = step * 2 + 1


def test_randomly_spaced_syncs():
    rng = random.Random(0)  # Kafka: java.util.Random(0); any stream of the same bounds holds
    iteration_bits = 10
    iterations = 1 << iteration_bits
    for n in range(1, 64 - iteration_bits, 6):  # Kafka: every n of 1..53
        maximum_difference = 1 << n
        maximum_expirations = n + 2
        steps = [rng.randrange(maximum_difference) for _ in range(iterations)]
        _assert_bounded_expirations(0, steps, maximum_expirations)
        offset_lag_max = 1 << 16
        steps = [offset_lag_max + rng.randrange(maximum_difference) for _ in range(iterations)]
        _assert_bounded_expirations(0, steps, maximum_expirations)


def test_dropped_syncs_spacing():
    rng = random.Random(0)
    offset_lag_max = 100
    steps = [(2 if rng.random() < 0.5 else 1) * offset_lag_max for _ in range(2000)]
    _assert_bounded_expirations(0, steps, 2)  # Kafka: 10,000 steps


# ---------------------------------------------------------------- OffsetSyncWriterTest


def _writer(max_offset_lag: int, permits: int) -> tuple[OffsetSyncWriter, list[OffsetSync]]:
    sent: list[OffsetSync] = []
    writer = OffsetSyncWriter(max_offset_lag, lambda sync, done: sent.append(sync))
    writer.permits = permits
    return writer, sent


WTP = ("topic", 0)


def test_maybe_queue_offset_syncs():
    writer, _ = _writer(2, 1)
    writer.maybe_queue_offset_syncs(WTP, 0, 1)
    assert WTP not in writer.delayed_offset_syncs
    assert WTP in writer.pending_offset_syncs
    assert writer.partition_states[WTP].last_sync_downstream_offset == 1
    writer.maybe_queue_offset_syncs(WTP, 1, 2)
    assert WTP in writer.delayed_offset_syncs
    assert writer.partition_states[WTP].last_sync_downstream_offset == 1


def test_fire_pending_offset_syncs():
    writer, sent = _writer(1, 1)
    writer.maybe_queue_offset_syncs(WTP, 0, 100)
    assert writer.partition_states[WTP].last_sync_downstream_offset == 100
    writer.fire_pending_offset_syncs()
    assert sent == [OffsetSync(WTP, 0, 100)]  # dispatched to the producer
    writer.maybe_queue_offset_syncs(WTP, 2, 102)
    assert writer.partition_states[WTP].last_sync_downstream_offset == 102
    writer.fire_pending_offset_syncs()
    assert len(sent) == 1  # one in flight: the next waits for its permit


def test_promote_delayed_offset_syncs():
    writer, _ = _writer(50, 1)
    writer.maybe_queue_offset_syncs(WTP, 0, 100)
    writer.maybe_queue_offset_syncs(WTP, 1, 101)
    writer.promote_delayed_offset_syncs()
    assert not writer.delayed_offset_syncs
    assert writer.pending_offset_syncs == {WTP: OffsetSync(WTP, 1, 101)}


def test_commit_runs_syncs_every_offset_lag_max_records():
    """commitRecord per record of a batch: with offset.lag.max 100, a batch of 250 contiguous
    records sends a sync at its first record and at each record 101 past the last sync + 1 ...
    (PartitionState.update's translatedOffsetTooStale), the rest delayed until commit()."""
    writer, sent = _writer(100, 10)
    writer.commit_runs([("orders", 0, 0, 250)], 1000)
    assert [(s.upstream, s.downstream) for s in sent] == [(0, 1000), (101, 1101), (202, 1202)]
    assert writer.delayed_offset_syncs == {("orders", 0): OffsetSync(("orders", 0), 249, 1249)}
    writer.commit()
    assert sent[-1] == OffsetSync(("orders", 0), 249, 1249)
