"""Producer partitioning, as Kafka 3.9's client does it.

Keyed records: ``murmur2`` / ``to_positive`` mirror ``org.apache.kafka.common.utils.Utils``, and
``partition_for_key`` mirrors ``BuiltInPartitioner.partitionForKey``. ``murmur2_many`` and
``partitions_for_keys`` compute the same values for a whole batch of keys with numpy.

Null-key (and ``partitioner.ignore.keys``) strategies are objects, one per (producer, topic), as
Kafka keeps one ``BuiltInPartitioner`` per topic (the legacy ``Partitioner`` classes keep per-topic
maps, which is the same thing). All share one interface, ``TopicPartitioner``, that the producer
drives for every record, as ``KafkaProducer.doSend`` and ``RecordAccumulator.append`` do::

    while True:
        p = part.partition(key, meta)                   # KafkaProducer.partition / peek sticky
        if part.partition_changed(key, all_full(p), meta):
            continue                                    # a deferred sticky switch completed
        if needs_new_batch(p) and part.abort_on_new_batch:
            part.on_new_batch(p, meta)                  # legacy Partitioner.onNewBatch
            p = part.partition(key, meta)               # ... and ask again (abortOnNewBatch)
        appended_bytes = append(p, record)
        part.on_append(key, appended_bytes, all_full(p), meta)
        break

``all_full(p)`` is ``RecordAccumulator.allBatchesFull``: the partition's queue is empty or its
last batch is full. The sender calls ``part.on_ready(...)`` at each ``RecordAccumulator.ready``
with the queue sizes, which drives adaptive partitioning. ``meta`` is a ``TopicMetadata``.
Kafka's random draws (``ThreadLocalRandom``) come from an injected ``numpy.random.Generator``.
"""

from __future__ import annotations

import struct
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from itertools import accumulate
from typing import Any, NamedTuple, Protocol

import numpy as np

_SEED = 0x9747B28C
_M = 0x5BD1E995
_R = 24
_MASK32 = 0xFFFFFFFF

DEFAULT_PARTITIONER = "org.apache.kafka.clients.producer.internals.DefaultPartitioner"
UNIFORM_STICKY_PARTITIONER = "org.apache.kafka.clients.producer.UniformStickyPartitioner"
ROUND_ROBIN_PARTITIONER = "org.apache.kafka.clients.producer.RoundRobinPartitioner"


class InvalidKeyError(ValueError):
    """A record key that is not ``bytes`` (keys are serialized bytes in Kafka)."""


class PartitionerConfigError(ValueError):
    """A bad partitioner setting (``partitioner.class``, ``batch.size``, ...)."""


def _check_key(key: object) -> None:
    if not isinstance(key, bytes | bytearray | memoryview):
        raise InvalidKeyError(
            f"key must be bytes, got {type(key).__name__}; serialize it first, e.g. key.encode()"
        )


def murmur2(data: bytes) -> int:
    """32-bit MurmurHash2 of ``data`` as a signed Java int (``Utils.murmur2``, Kafka 3.9)."""
    _check_key(data)
    length = len(data)
    n4 = length >> 2
    h = (_SEED ^ length) & _MASK32
    for (k,) in struct.iter_unpack("<I", data[: n4 * 4]):
        k = (k * _M) & _MASK32
        k ^= k >> _R
        h = ((h * _M) & _MASK32) ^ ((k * _M) & _MASK32)
    tail = length & 3
    if tail:
        base = n4 * 4
        if tail == 3:
            h ^= data[base + 2] << 16
        if tail >= 2:
            h ^= data[base + 1] << 8
        h = ((h ^ data[base]) * _M) & _MASK32
    h ^= h >> 13
    h = (h * _M) & _MASK32
    h ^= h >> 15
    return h - (1 << 32) if h & 0x80000000 else h


def to_positive(number: int) -> int:
    """Clear the sign bit of a 32-bit int (``Utils.toPositive``: ``number & 0x7fffffff``)."""
    return number & 0x7FFFFFFF


def _check_num_partitions(num_partitions: int) -> None:
    if num_partitions < 1:
        raise PartitionerConfigError(
            f"num_partitions must be >= 1, got {num_partitions}; give the topic's partition count"
        )


def partition_for_key(key_bytes: bytes, num_partitions: int) -> int:
    """Partition of a keyed record (``BuiltInPartitioner.partitionForKey``).

    ``toPositive(murmur2(key)) % num_partitions``, over all partitions, available or not.
    """
    _check_num_partitions(num_partitions)
    return to_positive(murmur2(key_bytes)) % num_partitions


def _murmur2_padded(words: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """murmur2 of keys held as rows of little-endian uint32 words, zero-padded past each key's
    ``lengths`` (bytes); returns uint32. The tail bytes of a key are then exactly its word at
    index ``length // 4``, so the tail step is one gather."""
    n, width = words.shape
    m, r = np.uint32(_M), np.uint32(_R)
    h = lengths.astype(np.uint32) ^ np.uint32(_SEED)
    n4 = lengths >> 2
    n4_min = int(n4.min()) if n else 0
    for i in range(int(n4.max()) if n else 0):
        k = words[:, i] * m
        k ^= k >> r
        k *= m
        mixed = (h * m) ^ k
        h = mixed if i < n4_min else np.where(n4 > i, mixed, h)
    tail = (lengths & 3) != 0
    if tail.any():
        tail_word = words[np.arange(n), np.minimum(n4, width - 1)]
        h = np.where(tail, (h ^ tail_word) * m, h)
    h ^= h >> np.uint32(13)
    h *= m
    h ^= h >> np.uint32(15)
    return h


def _word_matrix(keys: Sequence[bytes] | np.ndarray, max_length: int) -> np.ndarray:
    """Keys as an (n, words) uint32 matrix, zero-padded (numpy's ``S`` dtype pads with NULs)."""
    width = max(1, -(-max_length // 4))
    padded = np.asarray(keys, dtype=f"S{width * 4}")
    return padded.view("<u4").reshape(len(keys), width).astype(np.uint32, copy=False)


def _normalise_keys(keys: Sequence[bytes] | np.ndarray) -> Sequence[bytes] | np.ndarray:
    """``keys`` as a list of ``bytes`` or an ``S`` array; InvalidKeyError for anything else."""
    if isinstance(keys, np.ndarray):
        if keys.dtype.kind != "S":
            raise InvalidKeyError(
                f"keys array must have a bytes ('S') dtype, got {keys.dtype}; encode the keys"
            )
        return keys
    if set(map(type, keys)) <= {bytes}:  # one C-level pass over the keys
        return keys
    for key in keys:
        _check_key(key)
    return [bytes(key) for key in keys]


def _key_lengths(keys: Sequence[bytes] | np.ndarray) -> np.ndarray:
    """Length in bytes of each key (int64)."""
    if isinstance(keys, np.ndarray):
        return np.char.str_len(keys).astype(np.int64)
    return np.fromiter(map(len, keys), dtype=np.int64, count=len(keys))


def murmur2_many(keys: Sequence[bytes] | np.ndarray) -> np.ndarray:
    """``murmur2`` of every key, as an int32 array in input order.

    ``keys``: a sequence of ``bytes``, or a numpy ``S`` array (numpy strips trailing NUL
    bytes from its elements, so such keys must come as a list). Keys are laid out as one
    zero-padded uint32 matrix and hashed with wrapping uint32 numpy arithmetic, a few vector
    operations per 4-byte word instead of a Python loop per key. When padding would more
    than double the memory (a few long keys among short ones), keys are hashed in groups of
    similar length.
    """
    keys = _normalise_keys(keys)
    lengths = _key_lengths(keys)
    n = lengths.size
    out = np.empty(n, dtype=np.uint32)
    if n == 0:
        return out.view(np.int32)
    max_length = int(lengths.max())
    if n * (max_length + 3) <= 2 * int(lengths.sum()) + 16 * n:
        out[:] = _murmur2_padded(_word_matrix(keys, max_length), lengths)
        return out.view(np.int32)
    groups = np.frexp(np.maximum(lengths, 1).astype(np.float64))[1]  # one group per power of 2
    for group in np.unique(groups).tolist():
        rows = np.flatnonzero(groups == group)
        sub_keys = keys[rows] if isinstance(keys, np.ndarray) else [keys[i] for i in rows.tolist()]
        sub_lengths = lengths[rows]
        words = _word_matrix(sub_keys, int(sub_lengths.max()))
        out[rows] = _murmur2_padded(words, sub_lengths)
    return out.view(np.int32)


def partitions_for_keys(keys: Sequence[bytes] | np.ndarray, num_partitions: int) -> np.ndarray:
    """``partition_for_key`` of every key, as an int64 array in input order."""
    _check_num_partitions(num_partitions)
    positive = murmur2_many(keys).view(np.uint32) & np.uint32(0x7FFFFFFF)
    return (positive % np.uint32(num_partitions)).astype(np.int64)


class TopicMetadata(NamedTuple):
    """What a partitioner sees of one topic in the producer's metadata (Kafka's ``Cluster``)."""

    num_partitions: int
    """``cluster.partitionsForTopic(topic).size()``: all partitions."""
    available: tuple[int, ...]
    """``cluster.availablePartitionsForTopic(topic)``: partitions with a leader, in metadata
    order (the producer should give them in ascending order)."""


class TopicPartitioner(Protocol):
    """The interface the producer drives for one topic; see the module docstring for the loop."""

    abort_on_new_batch: bool
    """True for ``partitioner.class`` plug-ins: ``KafkaProducer`` sets ``abortOnNewBatch`` and
    calls ``on_new_batch`` then ``partition`` again when a record needs a new batch."""

    def partition(self, key: bytes | None, meta: TopicMetadata) -> int:
        """Partition for a record with this serialized key (None = null key)."""
        ...

    def partition_changed(
        self, key: bytes | None, all_batches_full: bool, meta: TopicMetadata
    ) -> bool:
        """Before appending: complete a deferred sticky switch; True = call ``partition`` again."""
        ...

    def on_append(
        self, key: bytes | None, appended_bytes: int, all_batches_full: bool, meta: TopicMetadata
    ) -> None:
        """After appending ``appended_bytes`` bytes of a record to its partition's queue."""
        ...

    def on_new_batch(self, prev_partition: int, meta: TopicMetadata) -> None:
        """A record for ``prev_partition`` needs a new batch (``Partitioner.onNewBatch``)."""
        ...

    def on_ready(
        self,
        deque_sizes: Mapping[int, int],
        leaders: Mapping[int, int | None],
        num_partitions: int,
        node_stall_s: Mapping[int, float] | None = None,
    ) -> None:
        """Queue-size statistics from ``RecordAccumulator.ready`` (see ``BuiltInPartitioner``)."""
        ...


@dataclass(slots=True)
class StickyPartitionInfo:
    """The current sticky partition and the bytes produced to it
    (``BuiltInPartitioner.StickyPartitionInfo``)."""

    partition: int
    produced_bytes: int = 0


@dataclass(frozen=True)
class PartitionLoadStats:
    """Cumulative frequency table over the partitions eligible for the adaptive choice
    (``BuiltInPartitioner.PartitionLoadStats``)."""

    cumulative_frequency_table: tuple[int, ...]
    partition_ids: tuple[int, ...]


class _RandomSource:
    """Kafka's ``Utils.toPositive(ThreadLocalRandom.current().nextInt())`` from a numpy stream."""

    def __init__(self, rng: np.random.Generator) -> None:
        self.rng = rng
        interface = rng.bit_generator.ctypes  # numpy's C interface to the generator
        self._next_uint32 = interface.next_uint32
        self._state = interface.state

    def random_partition(self) -> int:
        """A uniform int in [0, 2**31), like ``toPositive(nextInt())``; tests override it.

        The generator's next 32 bits without the lowest: the draw ``int(rng.integers(0,
        2**31))`` makes (numpy's Lemire method scales them by 2**31 and, for a power of two,
        never rejects), at a quarter of the cost (13,000 instructions a call).
        """
        return self._next_uint32(self._state) >> 1


class BuiltInPartitioner(_RandomSource):
    """Kafka >= 3.3 default partitioner (KIP-794), with the parts of ``RecordAccumulator`` that
    drive it (``partitionChanged``, ``allBatchesFull``, ``partitionReady``).

    ``sticky_batch_size``: bytes to produce to a sticky partition before switching
    (``max(1, batch.size)``). ``ignore_keys``: ``partitioner.ignore.keys``.
    ``adaptive``: ``partitioner.adaptive.partitioning.enable``. ``availability_timeout_s``:
    ``partitioner.availability.timeout.ms`` / 1000; 0 disables it (only used when adaptive).
    """

    abort_on_new_batch = False

    def __init__(
        self,
        sticky_batch_size: int,
        rng: np.random.Generator,
        *,
        ignore_keys: bool = False,
        adaptive: bool = True,
        availability_timeout_s: float = 0.0,
    ) -> None:
        if sticky_batch_size < 1:
            raise PartitionerConfigError(
                f"sticky_batch_size must be >= 1, got {sticky_batch_size}; use max(1, batch.size)"
            )
        super().__init__(rng)
        self.sticky_batch_size = sticky_batch_size
        self.ignore_keys = ignore_keys
        self.adaptive = adaptive
        self.availability_timeout_s = availability_timeout_s
        self.sticky: StickyPartitionInfo | None = None
        self.load_stats: PartitionLoadStats | None = None

    def _uses_sticky(self, key: bytes | None) -> bool:
        return key is None or self.ignore_keys

    def partition(self, key: bytes | None, meta: TopicMetadata) -> int:
        """Keyed: ``partition_for_key``; otherwise the current sticky partition
        (``KafkaProducer.partition`` then ``peekCurrentPartitionInfo``)."""
        if not self._uses_sticky(key):
            return partition_for_key(key, meta.num_partitions)
        return self.peek_current_partition_info(meta).partition

    def peek_current_partition_info(self, meta: TopicMetadata) -> StickyPartitionInfo:
        """The sticky partition, chosen by ``next_partition`` on first use."""
        if self.sticky is None:
            self.sticky = StickyPartitionInfo(self.next_partition(meta))
        return self.sticky

    def next_partition(self, meta: TopicMetadata) -> int:
        """Choose the next sticky partition (``BuiltInPartitioner.nextPartition``).

        Without load stats: uniform over available partitions (all if none is available).
        With them: the partition whose CFT entry is the first strictly greater than
        ``random % cft[-1]``.
        """
        random = self.random_partition()
        stats = self.load_stats
        if stats is None:
            if meta.available:
                return meta.available[random % len(meta.available)]
            return random % meta.num_partitions
        cft = stats.cumulative_frequency_table
        index = int(np.searchsorted(cft, random % cft[-1], side="right"))
        return stats.partition_ids[index]

    def update_partition_info(
        self, appended_bytes: int, meta: TopicMetadata, enable_switch: bool = True
    ) -> None:
        """Count ``appended_bytes`` for the sticky partition and maybe switch
        (``updatePartitionInfo``): switch at ``sticky_batch_size`` bytes if ``enable_switch``,
        and regardless at twice that."""
        info = self.sticky or self.peek_current_partition_info(meta)
        info.produced_bytes += appended_bytes
        if self.switch_due(0, enable_switch):
            self.sticky = StickyPartitionInfo(self.next_partition(meta))

    def switch_due(self, appended_bytes: int, enable_switch: bool) -> bool:
        """Whether ``appended_bytes`` more bytes to the (chosen) sticky partition make
        ``update_partition_info`` switch: at ``sticky_batch_size`` bytes produced if
        ``enable_switch``, regardless at twice that."""
        produced = self.sticky.produced_bytes + appended_bytes
        size = self.sticky_batch_size
        return (produced >= size and enable_switch) or produced >= 2 * size

    def partition_changed(
        self, key: bytes | None, all_batches_full: bool, meta: TopicMetadata
    ) -> bool:
        """``RecordAccumulator.partitionChanged``: if the sticky partition's queue is all full,
        complete a switch that ``enable_switch=False`` deferred. Keyed records: False."""
        if not all_batches_full or not self._uses_sticky(key):
            return False
        before = self.sticky
        self.update_partition_info(0, meta, enable_switch=True)
        return self.sticky is not before

    def on_append(
        self, key: bytes | None, appended_bytes: int, all_batches_full: bool, meta: TopicMetadata
    ) -> None:
        """After an append: ``updatePartitionInfo(info, appendedBytes, allBatchesFull(dq))``."""
        if self._uses_sticky(key):
            self.update_partition_info(appended_bytes, meta, enable_switch=all_batches_full)

    def on_new_batch(self, prev_partition: int, meta: TopicMetadata) -> None:
        """Not used: the built-in partitioner never aborts on a new batch."""

    def update_partition_load_stats(
        self, queue_sizes: Sequence[int] | None, partition_ids: Sequence[int], length: int
    ) -> None:
        """Build the cumulative frequency table (``updatePartitionLoadStats``).

        ``queue_sizes[i]``: batches queued for ``partition_ids[i]``; only the first ``length``
        entries are eligible. No stats (uniform choice) when ``queue_sizes`` is None,
        ``length < 1``, fewer than 2 partitions, or all sizes equal with none excluded.
        Sizes are inverted (``max + 1 - size``) and summed: ``0 3 1`` -> ``4 1 3`` -> ``4 5 8``.
        """
        if queue_sizes is None or length < 1 or len(queue_sizes) < 2:
            self.load_stats = None
            return
        eligible = list(queue_sizes[:length])
        if length == len(queue_sizes) and len(set(eligible)) == 1:
            self.load_stats = None
            return
        max_plus_1 = max(eligible) + 1
        cft = accumulate([max_plus_1 - size for size in eligible])
        self.load_stats = PartitionLoadStats(tuple(cft), tuple(map(int, partition_ids[:length])))

    def load_stats_range_end(self) -> int:
        """End of the random range with load stats: the CFT's last entry."""
        if self.load_stats is None:
            raise RuntimeError("no partition load stats")
        return self.load_stats.cumulative_frequency_table[-1]

    def on_ready(
        self,
        deque_sizes: Mapping[int, int],
        leaders: Mapping[int, int | None],
        num_partitions: int,
        node_stall_s: Mapping[int, float] | None = None,
    ) -> None:
        """The load-stats part of ``RecordAccumulator.partitionReady``.

        ``deque_sizes``: batches queued per partition that has a queue in the accumulator
        (an entry, even empty, once a batch was ever made for it), in the accumulator's order.
        ``leaders``: partition -> leader broker id, None when leaderless.
        ``node_stall_s``: broker -> ``readyTimeMs - drainTimeMs`` in seconds
        (``NodeLatencyStats``); a partition whose leader stalled longer than
        ``availability_timeout_s`` is left out of the choice. Adaptive stats start only
        once every partition of the topic has a queue. Reproduces Kafka's in-place indexing,
        including its reuse of a left-out slot.
        """
        if not self.adaptive or len(deque_sizes) < num_partitions:
            self.update_partition_load_stats(None, (), 0)
            return
        sizes = [0] * len(deque_sizes)
        ids = [0] * len(deque_sizes)
        index = -1
        stalls = node_stall_s or {}
        timeout = self.availability_timeout_s
        for partition, size in deque_sizes.items():
            leader = leaders.get(partition)
            if leader is None:
                continue
            index += 1
            ids[index] = partition
            if size == 0:
                continue
            sizes[index] = size
            if timeout > 0:
                stall = stalls.get(leader)
                if stall is not None and stall > timeout:
                    index -= 1
        self.update_partition_load_stats(sizes, ids, index + 1)


class StickyPartitionCache(_RandomSource):
    """KIP-480 sticky partition for one topic (``StickyPartitionCache``, Kafka 2.4-3.2)."""

    def __init__(self, rng: np.random.Generator) -> None:
        super().__init__(rng)
        self.current: int | None = None

    def partition(self, meta: TopicMetadata) -> int:
        """The sticky partition, chosen on first use."""
        if self.current is None:
            return self.next_partition(meta, -1)
        return self.current

    def next_partition(self, meta: TopicMetadata, prev_partition: int) -> int:
        """Switch if ``prev_partition`` is the sticky one (or none is set): uniform over the
        available partitions other than the current one (all partitions if none available)."""
        old = self.current
        if old is not None and old != prev_partition:
            return old
        available = meta.available
        if not available:
            new = self.random_partition() % meta.num_partitions
        elif len(available) == 1:
            new = available[0]
        else:
            new = old
            while new is None or new == old:
                new = available[self.random_partition() % len(available)]
        self.current = new
        return new


class _LegacyPartitioner:
    """Shared no-op hooks of ``partitioner.class`` plug-ins (``abortOnNewBatch`` = true)."""

    abort_on_new_batch = True

    def partition_changed(
        self, key: bytes | None, all_batches_full: bool, meta: TopicMetadata
    ) -> bool:
        """Always False: plug-ins have no sticky info in the accumulator."""
        return False

    def on_append(
        self, key: bytes | None, appended_bytes: int, all_batches_full: bool, meta: TopicMetadata
    ) -> None:
        """No-op for plug-ins."""

    def on_ready(
        self,
        deque_sizes: Mapping[int, int],
        leaders: Mapping[int, int | None],
        num_partitions: int,
        node_stall_s: Mapping[int, float] | None = None,
    ) -> None:
        """No-op: adaptive partitioning is off with a custom partitioner."""


class DefaultPartitioner(_LegacyPartitioner):
    """Kafka 2.4-3.2 default (``internals.DefaultPartitioner``): keyed records by
    ``partition_for_key``, null keys sticky (KIP-480)."""

    def __init__(self, rng: np.random.Generator) -> None:
        self.cache = StickyPartitionCache(rng)

    def partition(self, key: bytes | None, meta: TopicMetadata) -> int:
        """Hash the key, or the sticky partition for a null key."""
        if key is None:
            return self.cache.partition(meta)
        return partition_for_key(key, meta.num_partitions)

    def on_new_batch(self, prev_partition: int, meta: TopicMetadata) -> None:
        """Change the sticky partition if ``prev_partition`` is it (``onNewBatch``)."""
        self.cache.next_partition(meta, prev_partition)


class UniformStickyPartitioner(DefaultPartitioner):
    """``UniformStickyPartitioner``: sticky for every record, keys ignored."""

    def partition(self, key: bytes | None, meta: TopicMetadata) -> int:
        """The sticky partition, whatever the key."""
        return self.cache.partition(meta)


class RoundRobinPartitioner(_LegacyPartitioner):
    """``RoundRobinPartitioner`` (3.9): a per-topic counter from 0, keys ignored.

    3.9 does not override ``onNewBatch``, and the producer calls ``partition`` again after
    aborting for a new batch, so a record that opens a batch advances the counter twice and
    skips a partition (KAFKA-9965; the fix is not in 3.9).
    """

    def __init__(self) -> None:
        self.counter = 0

    def partition(self, key: bytes | None, meta: TopicMetadata) -> int:
        """``toPositive(counter++) % len(available)``-th available partition (any if none)."""
        value = to_positive(self.counter)
        self.counter = (self.counter + 1) & _MASK32
        if meta.available:
            return meta.available[value % len(meta.available)]
        return value % meta.num_partitions

    def on_new_batch(self, prev_partition: int, meta: TopicMetadata) -> None:
        """No-op (the ``Partitioner`` interface default, not overridden in 3.9)."""


_PARTITIONER_CLASSES = (DEFAULT_PARTITIONER, UNIFORM_STICKY_PARTITIONER, ROUND_ROBIN_PARTITIONER)


def _config_bool(config: Mapping[str, Any], name: str, default: bool) -> bool:
    value = config.get(name, default)
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in ("true", "false"):
        return value.strip().lower() == "true"
    raise PartitionerConfigError(f"{name} must be true or false, got {value!r}")


def _config_int(config: Mapping[str, Any], name: str, default: int) -> int:
    value = config.get(name, default)
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise PartitionerConfigError(f"{name} must be an integer >= 0, got {value!r}")
    try:
        number = int(value)
    except ValueError:
        raise PartitionerConfigError(f"{name} must be an integer >= 0, got {value!r}") from None
    if number < 0:
        raise PartitionerConfigError(f"{name} must be an integer >= 0, got {value!r}")
    return number


def partitioner_for(config: Mapping[str, Any], rng: np.random.Generator) -> TopicPartitioner:
    """The partitioner for one topic of a producer with these Kafka producer properties.

    ``partitioner.class`` absent or None: ``BuiltInPartitioner`` configured by ``batch.size``
    (16384), ``partitioner.ignore.keys`` (false), ``partitioner.adaptive.partitioning.enable``
    (true) and ``partitioner.availability.timeout.ms`` (0). Otherwise one of Kafka's three
    ``Partitioner`` classes by its full name; those settings then have no effect, as in Kafka.
    """
    cls = config.get("partitioner.class")
    if cls is None:
        return BuiltInPartitioner(
            max(1, _config_int(config, "batch.size", 16384)),
            rng,
            ignore_keys=_config_bool(config, "partitioner.ignore.keys", False),
            adaptive=_config_bool(config, "partitioner.adaptive.partitioning.enable", True),
            availability_timeout_s=_config_int(config, "partitioner.availability.timeout.ms", 0)
            / 1000.0,
        )
    if cls == DEFAULT_PARTITIONER:
        return DefaultPartitioner(rng)
    if cls == UNIFORM_STICKY_PARTITIONER:
        return UniformStickyPartitioner(rng)
    if cls == ROUND_ROBIN_PARTITIONER:
        return RoundRobinPartitioner()
    raise PartitionerConfigError(
        f"partitioner.class {cls!r} is not supported; use one of {', '.join(_PARTITIONER_CLASSES)}"
        " or leave it unset for the built-in partitioner"
    )
