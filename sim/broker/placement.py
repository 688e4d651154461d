"""Replica placement for new topics, as Kafka 3.9's ZooKeeper-mode admin path does it.

Mirrors ``org.apache.kafka.admin.AdminUtils`` (3.9 ``server-common/src/main/java/org/apache/
kafka/admin/AdminUtils.java``): ``assignReplicasToBrokers``, its rack-unaware and rack-aware
variants, ``getRackAlternatedBrokerList`` and ``replicaIndex``. The first replica of each
partition is its preferred leader. (KRaft's ``StripedReplicaPlacer`` is not modelled.)
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np


class InvalidPartitionsError(ValueError):
    """Kafka's ``InvalidPartitionsException``: the partition count is not positive."""


class InvalidReplicationFactorError(ValueError):
    """Kafka's ``InvalidReplicationFactorException``: RF <= 0 or RF > number of brokers."""


class AdminOperationError(ValueError):
    """Kafka's ``AdminOperationException``: rack-aware placement with a broker missing a rack."""


class PlacementArgumentError(ValueError):
    """A placement argument Kafka cannot receive (negative index, random choice without rng)."""


def replica_index(first_replica_index: int, second_replica_shift: int, replica: int, n: int) -> int:
    """Index in the broker list of follower ``replica`` (``AdminUtils.replicaIndex``)."""
    shift = 1 + (second_replica_shift + replica) % (n - 1)
    return (first_replica_index + shift) % n


def get_rack_alternated_broker_list(broker_racks: Mapping[int, str]) -> list[int]:
    """Brokers taken one per rack in turn, racks in sorted order, each rack's brokers in id
    order (``AdminUtils.getRackAlternatedBrokerList``): {0:r1,1:r1,2:r2} -> [0, 2, 1]."""
    by_rack: dict[str, list[int]] = {}
    for broker in sorted(broker_racks):
        by_rack.setdefault(broker_racks[broker], []).append(broker)
    queues = [iter(by_rack[rack]) for rack in sorted(by_rack)]
    result: list[int] = []
    rack_index = 0
    while len(result) < len(broker_racks):
        broker = next(queues[rack_index], None)
        if broker is not None:
            result.append(broker)
        rack_index = (rack_index + 1) % len(queues)
    return result


def _validate(brokers: Sequence[int], partitions: int, replication_factor: int) -> None:
    if partitions <= 0:
        raise InvalidPartitionsError(
            f"partitions must be larger than 0, got {partitions}; give a positive count"
        )
    if replication_factor <= 0:
        raise InvalidReplicationFactorError(
            f"replication_factor must be larger than 0, got {replication_factor}"
        )
    if replication_factor > len(brokers):
        raise InvalidReplicationFactorError(
            f"replication_factor {replication_factor} larger than available brokers: "
            f"{len(brokers)}; lower it or add brokers"
        )


def _resolve(value: int | None, n: int, rng: np.random.Generator | None, name: str) -> int:
    """A fixed index, or ``RAND.nextInt(n)`` drawn from ``rng`` when ``value`` is None."""
    if value is not None:
        if value < 0:
            raise PlacementArgumentError(f"{name} must be >= 0 or None (random), got {value}")
        return value
    if rng is None:
        raise PlacementArgumentError(f"{name}=None draws at random: pass rng=np.random.Generator")
    return int(rng.integers(0, n))


def _rack_unaware(
    brokers: Sequence[int], partitions: int, rf: int, start: int, shift: int, first_id: int
) -> dict[int, list[int]]:
    n = len(brokers)
    result: dict[int, list[int]] = {}
    for partition in range(first_id, first_id + partitions):
        if partition > 0 and partition % n == 0:
            shift += 1
        first = (partition + start) % n
        followers = [brokers[replica_index(first, shift, j, n)] for j in range(rf - 1)]
        result[partition] = [brokers[first], *followers]
    return result


def _rack_aware(
    racks: Mapping[int, str], partitions: int, rf: int, start: int, shift: int, first_id: int
) -> dict[int, list[int]]:
    arranged = get_rack_alternated_broker_list(racks)
    n, num_racks = len(arranged), len(set(racks.values()))
    result: dict[int, list[int]] = {}
    for partition in range(first_id, first_id + partitions):
        if partition > 0 and partition % n == 0:
            shift += 1
        first = (partition + start) % n
        replicas = [arranged[first]]
        racks_used, k = {racks[arranged[first]]}, 0
        while len(replicas) < rf:
            broker = arranged[replica_index(first, shift * num_racks, k, n)]
            rack = racks[broker]
            # Skip a broker whose rack already has a replica while some rack has none, and a
            # broker that already has one while some broker has none.
            if (rack not in racks_used or len(racks_used) == num_racks) and (
                broker not in replicas or len(replicas) == n
            ):
                replicas.append(broker)
                racks_used.add(rack)
            k += 1
        result[partition] = replicas
    return result


def assign_replicas(
    brokers: Sequence[int],
    partitions: int,
    replication_factor: int,
    start_index: int | None = 0,
    racks: Mapping[int, str | None] | None = None,
    replica_shift: int | None = None,
    rng: np.random.Generator | None = None,
    start_partition_id: int = 0,
) -> dict[int, list[int]]:
    """Replicas of each partition, preferred leader first (``AdminUtils.assignReplicasToBrokers``).

    ``brokers``: broker ids in list order (Kafka's admin client passes them sorted by id).
    ``start_index``: index in the broker list of partition 0's leader; None draws it from
    ``rng`` as Kafka does when it is not fixed (``RAND.nextInt(brokers)``).
    ``replica_shift``: the initial follower shift; None means ``start_index`` (Kafka's fixed
    start index fixes both to the same value), or a draw from ``rng`` when ``start_index`` is
    None too. ``racks``: broker -> rack; when any broker has a rack, placement is rack-aware
    and every broker must have one. ``start_partition_id``: first partition id (Kafka's
    ``startPartitionId``, used when partitions are added). Raises ``InvalidPartitionsError``,
    ``InvalidReplicationFactorError`` or ``AdminOperationError`` as Kafka would.
    """
    _validate(brokers, partitions, replication_factor)
    racks = {b: r for b in brokers if (r := (racks or {}).get(b)) is not None}
    if racks and len(racks) < len(brokers):
        missing = sorted(set(brokers) - set(racks))
        raise AdminOperationError(
            f"racks: not all brokers have rack information (missing {missing}); "
            "give every broker a rack or none"
        )
    start = _resolve(start_index, len(brokers), rng, "start_index")
    shift_value = start_index if replica_shift is None else replica_shift
    shift = _resolve(shift_value, len(brokers), rng, "replica_shift")
    first_id = max(0, start_partition_id)
    if racks:
        return _rack_aware(racks, partitions, replication_factor, start, shift, first_id)
    return _rack_unaware(list(brokers), partitions, replication_factor, start, shift, first_id)
