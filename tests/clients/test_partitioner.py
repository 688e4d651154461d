"""Tests for sim.clients.partitioner against Kafka 3.9's own unit tests and vectors."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.stats import chisquare

from sim.clients.partitioner import (
    DEFAULT_PARTITIONER,
    ROUND_ROBIN_PARTITIONER,
    UNIFORM_STICKY_PARTITIONER,
    BuiltInPartitioner,
    DefaultPartitioner,
    InvalidKeyError,
    PartitionerConfigError,
    RoundRobinPartitioner,
    StickyPartitionCache,
    TopicMetadata,
    UniformStickyPartitioner,
    murmur2,
    murmur2_many,
    partition_for_key,
    partitioner_for,
    partitions_for_keys,
    to_positive,
)

# UtilsTest.testMurmur2 (3.9 clients/src/test/java/org/apache/kafka/common/utils/UtilsTest.java)
KAFKA_MURMUR2 = {
    b"21": -973932308,
    b"foobar": -790332482,
    b"a-little-bit-long-string": -985981536,
    b"a-little-bit-longer-string": -1486304829,
    b"lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8": -58897971,
    b"abc": 479470107,
}

# librdkafka src/rdmurmur2.c unittest_murmur2 (confluentinc/librdkafka), "Java murmur2 results"
_UNALIGNED = b"PreAmbleWillBeRemoved,ThePrePartThatIs"
LIBRDKAFKA_MURMUR2 = {
    b"kafka": 0xD067CF64,
    b"giberish123456789": 0x8F552B0C,
    b"1234": 0x9FC97B14,
    b"234": 0xE7C009CA,
    b"34": 0x873930DA,
    b"4": 0x5A4B5CA1,
    _UNALIGNED: 0x78424F1C,
    _UNALIGNED[1:]: 0x4A62B377,
    _UNALIGNED[2:]: 0xE0E4E09E,
    _UNALIGNED[3:]: 0x62B8B43F,
    b"": 0x106E08D9,
}


def _signed(u32: int) -> int:
    return u32 - (1 << 32) if u32 & 0x80000000 else u32


@pytest.mark.parametrize(("key", "expected"), KAFKA_MURMUR2.items())
def test_murmur2_kafka_vectors(key: bytes, expected: int) -> None:
    assert murmur2(key) == expected


@pytest.mark.parametrize(("key", "expected"), LIBRDKAFKA_MURMUR2.items())
def test_murmur2_librdkafka_vectors(key: bytes, expected: int) -> None:
    assert murmur2(key) == _signed(expected)


def test_murmur2_many_matches_all_vectors_in_one_call() -> None:
    table = {**KAFKA_MURMUR2, **{k: _signed(v) for k, v in LIBRDKAFKA_MURMUR2.items()}}
    keys = list(table)
    got = murmur2_many(keys)
    assert got.dtype == np.int32
    assert got.tolist() == [table[k] for k in keys]


def test_empty_key_is_hashed_not_null() -> None:
    # Utils.murmur2 of the empty key is 275646681: an empty key is hashed, unlike a null one.
    assert murmur2(b"") == 275646681
    assert partition_for_key(b"", 7) == 275646681 % 7


def test_to_positive_clears_sign_bit_not_abs() -> None:
    assert to_positive(-1) == 0x7FFFFFFF
    assert to_positive(-(1 << 31)) == 0
    assert to_positive(-5) == 0x7FFFFFFB


def test_partition_for_key_formula_on_kafka_vector() -> None:
    # murmur2("21") = -973932308 -> toPositive = 1173551340 -> % 12 = 0
    assert partition_for_key(b"21", 12) == (-973932308 & 0x7FFFFFFF) % 12


@given(st.lists(st.binary(max_size=40), max_size=30))
@settings(deadline=None, max_examples=200)
def test_murmur2_many_equals_scalar(keys: list[bytes]) -> None:
    assert murmur2_many(keys).tolist() == [murmur2(k) for k in keys]


def test_murmur2_many_accepts_bytes_like_and_rejects_str() -> None:
    assert murmur2_many([bytearray(b"abc"), memoryview(b"21")]).tolist() == [479470107, -973932308]
    assert murmur2_many([]).shape == (0,)
    with pytest.raises(InvalidKeyError, match="key must be bytes"):
        murmur2_many([b"ok", "text"])
    with pytest.raises(InvalidKeyError, match="key must be bytes"):
        murmur2("text")
    with pytest.raises(InvalidKeyError, match="dtype"):
        murmur2_many(np.array(["text"]))


def test_murmur2_many_on_numpy_bytes_array() -> None:
    keys = np.array(list(KAFKA_MURMUR2))
    assert keys.dtype.kind == "S"
    assert murmur2_many(keys).tolist() == list(KAFKA_MURMUR2.values())


def test_murmur2_many_with_trailing_nul_bytes_and_skewed_lengths() -> None:
    # Serialized longs end in NUL bytes; one long key among short ones takes the grouped path.
    keys = [(256 * i).to_bytes(8, "big") for i in range(50)] + [b"x" * 1000, b"", b"\x00"]
    assert murmur2_many(keys).tolist() == [murmur2(k) for k in keys]


def test_num_partitions_must_be_positive() -> None:
    with pytest.raises(PartitionerConfigError, match="num_partitions"):
        partition_for_key(b"k", 0)
    with pytest.raises(PartitionerConfigError, match="num_partitions"):
        partitions_for_keys([b"k"], 0)


@pytest.fixture(scope="module")
def random_keys() -> list[bytes]:
    rng = np.random.default_rng(20240917)
    lengths = rng.integers(4, 33, size=100_000)  # 4+ bytes: distinct keys (short ones repeat)
    blob = rng.integers(0, 256, size=int(lengths.sum()), dtype=np.uint8).tobytes()
    ends = np.cumsum(lengths)
    return [blob[e - n : e] for e, n in zip(ends.tolist(), lengths.tolist(), strict=True)]


def test_partitions_for_keys_vectorised_equals_scalar(random_keys: list[bytes]) -> None:
    vectorised = partitions_for_keys(random_keys, 12)
    assert vectorised.dtype == np.int64
    assert vectorised.tolist() == [partition_for_key(k, 12) for k in random_keys]


def test_partition_for_key_is_uniform_chi_square(random_keys: list[bytes]) -> None:
    counts = np.bincount(partitions_for_keys(random_keys, 12), minlength=12)
    assert counts.sum() == 100_000
    assert chisquare(counts).pvalue > 0.001


# --- Built-in partitioner (KIP-794) -------------------------------------------------------------


def test_random_partition_is_numpys_draw_of_an_int_below_2_pow_31() -> None:
    part = BuiltInPartitioner(16384, np.random.default_rng(7))
    reference = np.random.default_rng(7)
    draws = [part.random_partition() for _ in range(1001)]  # odd: the 32-bit buffer is left full
    assert draws == [int(reference.integers(0, 1 << 31)) for _ in range(1001)]
    assert part.rng.random() == reference.random()  # the stream goes on the same


class SequentialPartitioner(BuiltInPartitioner):
    """BuiltInPartitionerTest.SequentialPartitioner: random numbers 0, 1, 2, ..."""

    def __init__(self, sticky_batch_size: int) -> None:
        super().__init__(sticky_batch_size, np.random.default_rng(0))
        self.mock_random = 0

    def random_partition(self) -> int:
        value = self.mock_random
        self.mock_random += 1
        return value


def _sticky_send(part: BuiltInPartitioner, meta: TopicMetadata, nbytes: int = 1) -> int:
    """peekCurrentPartitionInfo + updatePartitionInfo(info, nbytes), as the Kafka test does."""
    partition = part.partition(None, meta)
    part.update_partition_info(nbytes, meta)
    return partition


def test_sticky_partitioning() -> None:
    # BuiltInPartitionerTest.testStickyPartitioning
    topic_a = TopicMetadata(3, (0, 1, 2))
    part_a = SequentialPartitioner(3)
    first = _sticky_send(part_a, topic_a)
    assert _sticky_send(part_a, topic_a) == first
    assert _sticky_send(part_a, topic_a) == first
    assert part_a.partition(None, topic_a) != first
    topic_b = TopicMetadata(1, (0,))
    part_b = SequentialPartitioner(1)
    assert [_sticky_send(part_b, topic_b) for _ in range(10)] == [0] * 10


def test_unavailable_partitions() -> None:
    # BuiltInPartitionerTest.unavailablePartitionsTest
    part_a = BuiltInPartitioner(1, np.random.default_rng(1))
    topic_a = TopicMetadata(3, (0, 2))
    seen = [_sticky_send(part_a, topic_a) for _ in range(101)]
    assert 1 not in seen
    assert len(set(seen)) > 1
    part_b = BuiltInPartitioner(1, np.random.default_rng(2))
    assert [_sticky_send(part_b, TopicMetadata(2, (1,))) for _ in range(101)] == [1] * 101
    part_c = BuiltInPartitioner(1, np.random.default_rng(3))
    topic_c = TopicMetadata(1, ())
    assert _sticky_send(part_c, topic_c) == 0
    assert part_c.partition(None, topic_c) == 0


def test_adaptive_partitions() -> None:
    # BuiltInPartitionerTest.adaptivePartitionsTest
    part = SequentialPartitioner(1)
    queue_sizes = [5, 0, 3, 0, 1]
    part.update_partition_load_stats(queue_sizes, list(range(5)), 5)
    meta = TopicMetadata(5, tuple(range(5)))
    cycles = 2
    frequencies = [0] * 5
    for _ in range(part.load_stats_range_end() * cycles):
        frequencies[_sticky_send(part, meta)] += 1
    assert frequencies == [(6 - q) * cycles for q in queue_sizes]


def test_sticky_batch_size_more_than_zero() -> None:
    # BuiltInPartitionerTest.testStickyBatchSizeMoreThatZero
    with pytest.raises(PartitionerConfigError, match="sticky_batch_size"):
        BuiltInPartitioner(0, np.random.default_rng(0))
    BuiltInPartitioner(1, np.random.default_rng(0))


def test_cumulative_frequency_table_worked_example() -> None:
    # BuiltInPartitioner.updatePartitionLoadStats comment: sizes 0 3 1 -> CFT 4 5 8;
    # random 0-3 -> partition[0], 4 -> partition[1], 5-7 -> partition[2].
    part = SequentialPartitioner(1)
    part.update_partition_load_stats([0, 3, 1], [10, 11, 12], 3)
    assert part.load_stats is not None
    assert part.load_stats.cumulative_frequency_table == (4, 5, 8)
    meta = TopicMetadata(13, (10, 11, 12))
    chosen = [part.next_partition(meta) for _ in range(16)]
    assert chosen == [10, 10, 10, 10, 11, 12, 12, 12] * 2


def test_load_stats_skipped_when_equal_or_too_few() -> None:
    part = SequentialPartitioner(1)
    part.update_partition_load_stats([2, 2, 2], [0, 1, 2], 3)
    assert part.load_stats is None
    part.update_partition_load_stats([4], [0], 1)
    assert part.load_stats is None
    part.update_partition_load_stats([2, 2, 2], [0, 1, 2], 0)
    assert part.load_stats is None
    # Equal sizes but one partition excluded (length < all): stats are used.
    part.update_partition_load_stats([2, 2, 2], [0, 2, 1], 2)
    assert part.load_stats is not None
    assert part.load_stats.cumulative_frequency_table == (1, 2)
    assert part.load_stats.partition_ids == (0, 2)


class FakeAccumulator:
    """Per-partition queues of [bytes, full] batches, appending as RecordAccumulator.append
    does (tryAppend, abortOnNewBatch, partitionChanged, allBatchesFull) with fixed-size
    records: a batch is full once it holds batch_size bytes or refused a record."""

    def __init__(self, part: object, meta: TopicMetadata, batch_size: int) -> None:
        self.part, self.meta, self.batch_size = part, meta, batch_size
        self.queues: dict[int, list[list]] = {}

    def all_full(self, p: int) -> bool:
        queue = self.queues.get(p, [])
        return not queue or queue[-1][1]

    def _try_append(self, p: int, size: int) -> bool:
        queue = self.queues.setdefault(p, [])
        if not queue or queue[-1][1]:
            return False
        if queue[-1][0] + size > self.batch_size:
            queue[-1][1] = True
            return False
        queue[-1][0] += size
        queue[-1][1] = queue[-1][0] >= self.batch_size
        return True

    def send(self, key: bytes | None, size: int) -> int:
        abort = self.part.abort_on_new_batch
        while True:
            p = self.part.partition(key, self.meta)
            if self.part.partition_changed(key, self.all_full(p), self.meta):
                continue
            if not self._try_append(p, size):
                if abort:
                    self.part.on_new_batch(p, self.meta)
                    abort = False
                    continue
                self.queues[p].append([size, size >= self.batch_size])
            self.part.on_append(key, size, self.all_full(p), self.meta)
            return p

    def drain(self) -> None:
        self.queues = {p: [] for p in self.queues}


def test_switch_deferred_until_batch_full_then_forced_at_twice_batch_size() -> None:
    # RecordAccumulator.append: enableSwitch = allBatchesFull(dq); updatePartitionInfo
    # switches at stickyBatchSize bytes if enabled, and always at 2 x stickyBatchSize.
    meta = TopicMetadata(3, (0, 1, 2))
    part = SequentialPartitioner(100)
    acc = FakeAccumulator(part, meta, batch_size=100)
    sent = [acc.send(None, 30) for _ in range(8)]
    # 120 bytes after record 4 but its new batch is not full: no switch until 210 >= 200.
    assert sent == [0] * 7 + [1]


def test_deferred_switch_completes_when_queue_drains() -> None:
    # RecordAccumulator.partitionChanged: once allBatchesFull(dq), complete the switch.
    meta = TopicMetadata(3, (0, 1, 2))
    part = SequentialPartitioner(100)
    acc = FakeAccumulator(part, meta, batch_size=100)
    assert [acc.send(None, 30) for _ in range(4)] == [0] * 4
    acc.drain()
    assert acc.send(None, 30) == 1


def test_switch_at_batch_size_when_batches_fill_exactly() -> None:
    meta = TopicMetadata(3, (0, 1, 2))
    part = SequentialPartitioner(100)
    acc = FakeAccumulator(part, meta, batch_size=100)
    assert [acc.send(None, 50) for _ in range(6)] == [0, 0, 1, 1, 2, 2]


def test_keyed_records_do_not_count_towards_sticky_switch() -> None:
    meta = TopicMetadata(3, (0, 1, 2))
    part = SequentialPartitioner(100)
    acc = FakeAccumulator(part, meta, batch_size=100)
    assert acc.send(None, 50) == 0
    for _ in range(10):
        assert acc.send(b"21", 50) == partition_for_key(b"21", 3)
    assert part.sticky is not None
    assert part.sticky.produced_bytes == 50


def test_ignore_keys_makes_keyed_records_sticky() -> None:
    part = partitioner_for({"partitioner.ignore.keys": "true"}, np.random.default_rng(5))
    meta = TopicMetadata(50, tuple(range(50)))
    sticky = part.partition(None, meta)
    assert {part.partition(key, meta) for key in (b"a", b"b", b"c", b"d")} == {sticky}


def test_on_ready_builds_stats_only_when_every_partition_has_a_queue() -> None:
    # RecordAccumulator.partitionReady: adaptive stats need batches.size() >= partitions.
    part = SequentialPartitioner(1)
    leaders = {0: 1, 1: 2, 2: 3}
    part.on_ready({0: 3, 1: 0}, leaders, 3)
    assert part.load_stats is None
    part.on_ready({0: 3, 1: 0, 2: 1}, leaders, 3)
    assert part.load_stats is not None
    assert part.load_stats.cumulative_frequency_table == (1, 5, 8)


def test_on_ready_leaves_out_leaderless_and_stalled_partitions() -> None:
    part = BuiltInPartitioner(1, np.random.default_rng(0), availability_timeout_s=0.5)
    leaders = {0: 1, 1: None, 2: 2, 3: 3}
    part.on_ready({0: 1, 1: 4, 2: 2, 3: 2}, leaders, 4, node_stall_s={2: 0.6, 3: 0.4})
    assert part.load_stats is not None
    # partition 1 has no leader; partition 2's leader stalled 0.6 s > 0.5 s.
    assert part.load_stats.partition_ids == (0, 3)
    assert part.load_stats.cumulative_frequency_table == (2, 3)


def test_on_ready_ignored_without_adaptive_partitioning() -> None:
    part = partitioner_for(
        {"partitioner.adaptive.partitioning.enable": False}, np.random.default_rng(0)
    )
    part.on_ready({0: 5, 1: 0}, {0: 1, 1: 2}, 2)
    assert part.load_stats is None


# --- Legacy partitioners -------------------------------------------------------------------------


def test_sticky_partition_cache() -> None:
    # StickyPartitionCacheTest.testStickyPartitionCache
    cache_a = StickyPartitionCache(np.random.default_rng(7))
    topic_a = TopicMetadata(3, (0, 1, 2))
    part_a = cache_a.partition(topic_a)
    assert cache_a.partition(topic_a) == part_a
    changed = cache_a.next_partition(topic_a, part_a)
    assert cache_a.partition(topic_a) == changed
    assert changed != part_a
    assert cache_a.next_partition(topic_a, part_a) == changed
    cache_b = StickyPartitionCache(np.random.default_rng(8))
    topic_b = TopicMetadata(1, (0,))
    part_b = cache_b.partition(topic_b)
    assert cache_b.next_partition(topic_b, part_b) == cache_b.partition(topic_b)


def test_sticky_partition_cache_unavailable_partitions() -> None:
    # StickyPartitionCacheTest.unavailablePartitionsTest
    cache_a = StickyPartitionCache(np.random.default_rng(9))
    topic_a = TopicMetadata(3, (0, 2))
    part_a = cache_a.partition(topic_a)
    assert part_a != 1
    for _ in range(100):
        part_a = cache_a.next_partition(topic_a, part_a)
        assert cache_a.partition(topic_a) != 1
    cache_b = StickyPartitionCache(np.random.default_rng(10))
    topic_b = TopicMetadata(2, (1,))
    part_b = cache_b.partition(topic_b)
    assert part_b == 1
    for _ in range(100):
        part_b = cache_b.next_partition(topic_b, part_b)
        assert cache_b.partition(topic_b) == 1
    cache_c = StickyPartitionCache(np.random.default_rng(11))
    topic_c = TopicMetadata(1, ())
    assert cache_c.partition(topic_c) == 0
    assert cache_c.next_partition(topic_c, 0) == 0


def test_default_partitioner_key_partition_is_stable() -> None:
    # DefaultPartitionerTest.testKeyPartitionIsStable
    part = DefaultPartitioner(np.random.default_rng(0))
    meta = TopicMetadata(3, (2, 0))
    assert part.partition(b"key", meta) == part.partition(b"key", meta)
    assert part.partition(b"key", meta) == partition_for_key(b"key", 3)


def test_uniform_sticky_with_unavailable_partitions() -> None:
    # UniformStickyPartitionerTest.testRoundRobinWithUnavailablePartitions
    part = UniformStickyPartitioner(np.random.default_rng(12))
    meta = TopicMetadata(3, (2, 0))
    first = [part.partition(None, meta) for _ in range(50)]
    part.on_new_batch(first[-1], meta)
    second = [part.partition(None, meta) for _ in range(50)]
    assert set(first + second) <= {0, 2}
    assert (first + second).count(0) == (first + second).count(2) == 50


@pytest.mark.parametrize("key", [b"key", None])
def test_uniform_sticky_switches_only_on_matching_new_batch(key: bytes | None) -> None:
    # UniformStickyPartitionerTest.testRoundRobinWithKeyBytes / testRoundRobinWithNullKeyBytes
    part = UniformStickyPartitioner(np.random.default_rng(13))
    meta = TopicMetadata(3, (0, 1, 2))
    counts: dict[int, int] = {}

    def send_30() -> int:
        for _ in range(30):
            p = part.partition(key, meta)
            counts[p] = counts.get(p, 0) + 1
        return p

    old = send_30()
    part.on_new_batch(old, meta)
    new = send_30()
    part.on_new_batch(old, meta)  # wrong previous partition: no switch
    send_30()
    assert counts == {old: 30, new: 60}


def test_round_robin_with_unavailable_partitions() -> None:
    # RoundRobinPartitionerTest.testRoundRobinWithUnavailablePartitions
    part = RoundRobinPartitioner()
    meta = TopicMetadata(3, (2, 0))
    chosen = [part.partition(None, meta) for _ in range(100)]
    assert set(chosen) == {0, 2}
    assert chosen.count(0) == chosen.count(2)


@pytest.mark.parametrize("key", [b"key", None])
def test_round_robin_per_topic_counter(key: bytes | None) -> None:
    # RoundRobinPartitionerTest.testRoundRobinWithKeyBytes / testRoundRobinWithNullKeyBytes:
    # one object per topic, so topic B's calls do not disturb topic A's counter.
    part_a, part_b = RoundRobinPartitioner(), RoundRobinPartitioner()
    meta_a, meta_b = TopicMetadata(3, (0, 1, 2)), TopicMetadata(1, (0,))
    counts = [0, 0, 0]
    for i in range(30):
        counts[part_a.partition(key, meta_a)] += 1
        if i % 5 == 0:
            part_b.partition(key, meta_b)
    assert counts == [10, 10, 10]


def test_round_robin_skips_partitions_when_new_batches_abort() -> None:
    # 3.9 RoundRobinPartitioner has no onNewBatch; KafkaProducer.doSend calls partition()
    # again after abortForNewBatch, so a record opening a batch advances the counter twice.
    meta = TopicMetadata(3, (0, 1, 2))
    acc = FakeAccumulator(RoundRobinPartitioner(), meta, batch_size=2)
    assert [acc.send(None, 1) for _ in range(4)] == [1, 0, 1, 0]


def test_default_partitioner_sticky_moves_on_new_batch() -> None:
    # KIP-480 through KafkaProducer.doSend: each record that needs a new batch calls
    # onNewBatch, which moves the sticky partition to a different available one.
    meta = TopicMetadata(3, (0, 1, 2))
    acc = FakeAccumulator(DefaultPartitioner(np.random.default_rng(14)), meta, batch_size=2)
    sent = [acc.send(None, 1) for _ in range(6)]
    assert sent[0::2] == sent[1::2]  # two records per batch
    assert sent[1] != sent[2]
    assert sent[3] != sent[4]


# --- partitioner_for -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("cls", "expected"),
    [
        (None, BuiltInPartitioner),
        (DEFAULT_PARTITIONER, DefaultPartitioner),
        (UNIFORM_STICKY_PARTITIONER, UniformStickyPartitioner),
        (ROUND_ROBIN_PARTITIONER, RoundRobinPartitioner),
    ],
)
def test_partitioner_for_chooses_by_class(cls: str | None, expected: type) -> None:
    part = partitioner_for({"partitioner.class": cls}, np.random.default_rng(0))
    assert type(part) is expected
    assert part.abort_on_new_batch is (cls is not None)


def test_partitioner_for_builtin_settings() -> None:
    part = partitioner_for(
        {
            "batch.size": 0,
            "partitioner.adaptive.partitioning.enable": "false",
            "partitioner.availability.timeout.ms": 250,
        },
        np.random.default_rng(0),
    )
    assert isinstance(part, BuiltInPartitioner)
    assert part.sticky_batch_size == 1  # batch.size=0 means 1 (KafkaProducer: max(1, ...))
    assert part.adaptive is False
    assert part.availability_timeout_s == 0.25
    assert partitioner_for({}, np.random.default_rng(0)).sticky_batch_size == 16384


def test_partitioner_for_rejects_unknown_class_and_bad_values() -> None:
    with pytest.raises(PartitionerConfigError, match=r"partitioner\.class .*RoundRobinPartitioner"):
        partitioner_for({"partitioner.class": "com.example.Mine"}, np.random.default_rng(0))
    with pytest.raises(PartitionerConfigError, match=r"partitioner\.ignore\.keys"):
        partitioner_for({"partitioner.ignore.keys": "yes"}, np.random.default_rng(0))
    with pytest.raises(PartitionerConfigError, match=r"partitioner\.availability\.timeout\.ms"):
        partitioner_for({"partitioner.availability.timeout.ms": -1}, np.random.default_rng(0))
