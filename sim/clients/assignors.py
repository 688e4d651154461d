"""Kafka's classic-protocol consumer partition assignors, as in Kafka 3.9 (rack-unaware).

Mirrors ``org.apache.kafka.clients.consumer``: ``RangeAssignor``, ``RoundRobinAssignor``,
``StickyAssignor``, ``CooperativeStickyAssignor`` and ``internals.AbstractStickyAssignor`` /
``internals.AbstractPartitionAssignor``. The entry point is :func:`assign`, which plays the group
leader's ``ConsumerPartitionAssignor.assign(Cluster, GroupSubscription)`` for one rebalance.

Kafka compares strings with ``String.compareTo`` (UTF-16 code units); so do we. Where Kafka's
sticky assignors walk a ``HashMap`` of members or a ``HashSet`` of partitions, we walk them in
Java's iteration order, computed from ``String.hashCode`` / ``TopicPartition.hashCode`` and the
table size (:func:`hash_map_order`); only keys sharing a bucket, which Java keeps in insertion
order (the JoinGroup order, not an input here), fall back to id order. Deterministic everywhere.
Kafka's ``AbstractStickyAssignor.maxGeneration`` outlives a call; here each call starts afresh.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from enum import IntEnum

from sim.errors import ScenarioError

TopicPartition = tuple[str, int]
Assignment = dict[str, list[TopicPartition]]

DEFAULT_GENERATION = -1  # AbstractStickyAssignor.DEFAULT_GENERATION: a member with no generation


class RebalanceProtocol(IntEnum):
    """ConsumerPartitionAssignor.RebalanceProtocol; the value is Kafka's protocol id."""

    EAGER = 0  # revoke everything before rejoining
    COOPERATIVE = 1  # revoke only what moves; a follow-up rebalance hands it over


ASSIGNOR_CLASS_NAMES: dict[str, str] = {
    "range": "org.apache.kafka.clients.consumer.RangeAssignor",
    "roundrobin": "org.apache.kafka.clients.consumer.RoundRobinAssignor",
    "sticky": "org.apache.kafka.clients.consumer.StickyAssignor",
    "cooperative-sticky": "org.apache.kafka.clients.consumer.CooperativeStickyAssignor",
}
"""Short name (``ConsumerPartitionAssignor.name()``) -> Kafka class name."""

ASSIGNOR_SHORT_NAMES: dict[str, str] = {cls: short for short, cls in ASSIGNOR_CLASS_NAMES.items()}
"""Kafka class name -> short name."""

_SUPPORTED_PROTOCOLS: dict[str, tuple[RebalanceProtocol, ...]] = {
    "range": (RebalanceProtocol.EAGER,),
    "roundrobin": (RebalanceProtocol.EAGER,),
    "sticky": (RebalanceProtocol.EAGER,),
    "cooperative-sticky": (RebalanceProtocol.COOPERATIVE, RebalanceProtocol.EAGER),
}


class AssignorInputError(ScenarioError):
    """Bad input to :func:`assign`; ``path`` names the argument."""


def canonical_strategy(strategy: str) -> str:
    """Short assignor name for a short name or a Kafka class name (``...RangeAssignor``)."""
    if strategy in ASSIGNOR_CLASS_NAMES:
        return strategy
    if strategy in ASSIGNOR_SHORT_NAMES:
        return ASSIGNOR_SHORT_NAMES[strategy]
    known = ", ".join(ASSIGNOR_CLASS_NAMES)
    raise AssignorInputError(
        "strategy", f"unknown assignor {strategy!r}; use one of {known} or its Kafka class name"
    )


def supported_protocols(strategy: str) -> list[RebalanceProtocol]:
    """Rebalance protocols an assignor supports, in Kafka's order.

    Mirrors ``ConsumerPartitionAssignor.supportedProtocols()``: ``[EAGER]`` by default,
    ``[COOPERATIVE, EAGER]`` for ``CooperativeStickyAssignor``.
    """
    return list(_SUPPORTED_PROTOCOLS[canonical_strategy(strategy)])


def partitions_transferring(
    owned: Mapping[str, Iterable[TopicPartition]],
    assignment: Mapping[str, Iterable[TopicPartition]],
) -> dict[str, list[TopicPartition]]:
    """What each member must revoke: its owned partitions missing from its new assignment.

    Mirrors the revocation in ``ConsumerCoordinator.onJoinComplete`` (cooperative protocol):
    ``owned - assigned``; a non-empty result makes the member rejoin. A member absent from
    ``assignment`` revokes all it owns. Keys: members with something to revoke; lists sorted.
    """
    revoked = {}
    for member, tps in owned.items():
        gone = set(tps) - set(assignment.get(member, ()))
        if gone:
            revoked[member] = sorted(gone)
    return revoked


@dataclass(frozen=True)
class Subscription:
    """A member's JoinGroup metadata as the leader sees it (ConsumerPartitionAssignor.Subscription).

    ``owned_partitions`` and ``generation_id`` stand for both the v2+ subscription fields and the
    sticky assignors' user data (``AbstractStickyAssignor.MemberData``): they agree in a live group.
    """

    topics: tuple[str, ...]
    owned_partitions: tuple[TopicPartition, ...] = ()
    generation_id: int = DEFAULT_GENERATION
    group_instance_id: str | None = None


def java_string_key(text: str) -> bytes:
    """Sort key ordering strings as Java's ``String.compareTo`` (by UTF-16 code unit)."""
    return text.encode("utf-16-be", "surrogatepass")


def _tp_key(tp: TopicPartition) -> tuple[bytes, int]:
    """Utils.TopicPartitionComparator: topic, then partition number."""
    return java_string_key(tp[0]), tp[1]


def java_string_hash(text: str) -> int:
    """``String.hashCode`` as an unsigned 32-bit value (over UTF-16 code units)."""
    h = 0
    units = text.encode("utf-16-be", "surrogatepass")
    for i in range(0, len(units), 2):
        h = (31 * h + (units[i] << 8 | units[i + 1])) & 0xFFFFFFFF
    return h


def _topic_partition_hash(tp: TopicPartition) -> int:
    """``TopicPartition.hashCode`` as an unsigned 32-bit value."""
    return (31 * (31 + tp[1]) + java_string_hash(tp[0])) & 0xFFFFFFFF


def _hash_table_capacity(peak_size: int) -> int:
    """Table length of a ``new HashMap<>()`` that has held ``peak_size`` entries (load 0.75)."""
    capacity = 16
    while peak_size > capacity * 3 // 4:
        capacity *= 2
    return capacity


def _bucket(hash_code: int, capacity: int) -> int:
    """``HashMap.hash`` spread, masked to the table: the bucket a key iterates in."""
    return (hash_code ^ (hash_code >> 16)) & (capacity - 1)


def hash_map_order(member_ids: Iterable[str]) -> list[str]:
    """Member ids in the iteration order of a fresh Java ``HashMap`` holding them.

    Kafka's sticky assignors walk ``HashMap<String, ...>``s of members; that order decides, e.g.,
    which members keep ``maxQuota`` partitions. Buckets come from ``String.hashCode``; within a
    bucket Java keeps insertion order (the JoinGroup order, unknown here): we take id order.
    """
    ids = list(member_ids)
    capacity = _hash_table_capacity(len(ids))
    return sorted(ids, key=lambda m: (_bucket(java_string_hash(m), capacity), java_string_key(m)))


def member_info_key(member_id: str, group_instance_id: str | None) -> tuple[int, bytes]:
    """AbstractPartitionAssignor.MemberInfo.compareTo: static by instance id, then dynamic."""
    if group_instance_id is not None:
        return 0, java_string_key(group_instance_id)
    return 1, java_string_key(member_id)


def _sorted_members(subscriptions: Mapping[str, Subscription]) -> list[str]:
    """Members in MemberInfo order (Utils.sorted over MemberInfo)."""
    return sorted(
        subscriptions, key=lambda m: member_info_key(m, subscriptions[m].group_instance_id)
    )


def range_assign(
    partitions_per_topic: Mapping[str, int], subscriptions: Mapping[str, Subscription]
) -> Assignment:
    """RangeAssignor.assignPartitions without racks: per topic, contiguous ranges in member order.

    Each of a topic's M subscribers gets ``P // M`` partitions; the first ``P % M`` get one more.
    """
    assignment: Assignment = {member: [] for member in subscriptions}
    for topic, count in partitions_per_topic.items():
        members = [m for m in _sorted_members(subscriptions) if topic in subscriptions[m].topics]
        if not members:
            continue
        quota, extra = divmod(count, len(members))
        start = 0
        for index, member in enumerate(members):
            size = quota + (1 if index < extra else 0)
            assignment[member].extend((topic, p) for p in range(start, start + size))
            start += size
    return assignment


def round_robin_assign(
    partitions_per_topic: Mapping[str, int], subscriptions: Mapping[str, Subscription]
) -> Assignment:
    """RoundRobinAssignor.assign: all partitions in topic order, dealt round the sorted members.

    A circular iterator over the members skips those not subscribed to the partition's topic.
    """
    assignment: Assignment = {member: [] for member in subscriptions}
    members = _sorted_members(subscriptions)
    topics = sorted({t for s in subscriptions.values() for t in s.topics}, key=java_string_key)
    cursor = 0
    for topic in topics:
        for partition in range(partitions_per_topic.get(topic, 0)):
            while topic not in subscriptions[members[cursor]].topics:
                cursor = (cursor + 1) % len(members)
            assignment[members[cursor]].append((topic, partition))
            cursor = (cursor + 1) % len(members)
    return assignment


@dataclass
class _OwnedPartitions:
    """Output of AbstractStickyAssignor.allSubscriptionsEqual."""

    all_equal: bool
    consumer_to_owned: dict[str, list[TopicPartition]]
    multiple_previous_owners: set[TopicPartition]
    max_generation: int


def _all_subscriptions_equal(
    all_topics: Iterable[str], subscriptions: Mapping[str, Subscription]
) -> _OwnedPartitions:
    """AbstractStickyAssignor.allSubscriptionsEqual: subscriptions equal? and the valid owned.

    A partition claimed by two members of the same generation is dropped from both claims and
    recorded; between generations the higher one keeps it. Owned partitions of topics outside
    ``all_topics`` are dropped. As in Kafka, a first member with an empty subscription does not
    set the reference subscription.
    """
    topics_present = set(all_topics)
    reference: set[str] = set()
    result = _OwnedPartitions(True, {}, set(), DEFAULT_GENERATION)
    previous_owner: dict[TopicPartition, str] = {}
    for consumer in hash_map_order(subscriptions):
        subscription = subscriptions[consumer]
        if not reference:
            reference = set(subscription.topics)
        elif result.all_equal and set(subscription.topics) != reference:
            result.all_equal = False
        generation = subscription.generation_id
        result.max_generation = max(result.max_generation, generation)
        owned: list[TopicPartition] = []
        result.consumer_to_owned[consumer] = owned
        for tp in subscription.owned_partitions:
            if tp[0] in topics_present:
                _claim(tp, consumer, subscriptions, previous_owner, result)
    return result


def _claim(
    tp: TopicPartition,
    consumer: str,
    subscriptions: Mapping[str, Subscription],
    previous_owner: dict[TopicPartition, str],
    result: _OwnedPartitions,
) -> None:
    """One owned-partition claim inside allSubscriptionsEqual."""
    owned = result.consumer_to_owned[consumer]
    other = previous_owner.get(tp)
    if other is None:
        owned.append(tp)
        previous_owner[tp] = consumer
        return
    generation = subscriptions[consumer].generation_id
    other_generation = subscriptions[other].generation_id
    if generation == other_generation:
        result.multiple_previous_owners.add(tp)
        _remove_first(result.consumer_to_owned[other], tp)
        previous_owner[tp] = consumer
    elif generation > other_generation:
        owned.append(tp)
        _remove_first(result.consumer_to_owned[other], tp)
        previous_owner[tp] = consumer


def _remove_first(items: list[TopicPartition], tp: TopicPartition) -> None:
    """Java List.remove(Object): drop the first occurrence, if any."""
    if tp in items:
        items.remove(tp)


def _sorted_all_partitions(
    partitions_per_topic: Mapping[str, int], topics: Iterable[str]
) -> list[TopicPartition]:
    """AbstractAssignmentBuilder.getAllTopicPartitions: topics in the order given, partitions up."""
    return [(t, p) for t in topics for p in range(partitions_per_topic[t])]


class ConstrainedAssignmentBuilder:
    """AbstractStickyAssignor.ConstrainedAssignmentBuilder: all members subscribe alike.

    Members keep owned partitions up to their quota (``minQuota`` or ``maxQuota``), then the rest
    are dealt round-robin to the members under quota. ``transferring`` maps each partition given
    to a new owner while another member still owns it (``partitionsTransferringOwnership``).
    """

    def __init__(self, partitions_per_topic: Mapping[str, int], owned: _OwnedPartitions) -> None:
        self.partitions_per_topic = partitions_per_topic
        self.current_assignment = owned.consumer_to_owned
        self.multiple_previous_owners = owned.multiple_previous_owners
        total = sum(partitions_per_topic.values())
        members = len(self.current_assignment)
        self.min_quota = total // members
        self.max_quota = -(-total // members)
        self.expected_over_min = total % members
        self.current_over_min = 0
        self.assignment: Assignment = {c: [] for c in self.current_assignment}
        self.assigned: set[TopicPartition] = set()
        self.maybe_revoked: dict[TopicPartition, str] = {}
        self.unfilled_under_min: list[str] = []
        self.unfilled_exactly_min: list[str] = []
        self.transferring: dict[TopicPartition, str] = {}

    def build(self) -> Assignment:
        """ConstrainedAssignmentBuilder.build."""
        self._assign_owned_partitions()
        topics = sorted(self.partitions_per_topic, key=java_string_key)
        unassigned = [
            tp
            for tp in _sorted_all_partitions(self.partitions_per_topic, topics)
            if tp not in self.assigned
        ]
        self.unfilled_under_min.sort(key=java_string_key)
        self.unfilled_exactly_min.sort(key=java_string_key)
        self._assign_round_robin(unassigned)
        self._verify_unfilled_members()
        return self.assignment

    def _assign_owned_partitions(self) -> None:
        """ConstrainedAssignmentBuilder.assignOwnedPartitions: keep owned partitions up to quota."""
        for consumer in hash_map_order(self.current_assignment):
            owned = sorted(
                self.current_assignment[consumer], key=lambda tp: (tp[1], java_string_key(tp[0]))
            )
            owned = [tp for tp in owned if tp not in self.multiple_previous_owners]
            if len(owned) < self.min_quota:
                self._keep(consumer, owned, len(owned))
                self.unfilled_under_min.append(consumer)
            elif len(owned) >= self.max_quota and self.current_over_min < self.expected_over_min:
                self.current_over_min += 1
                if self.current_over_min == self.expected_over_min:
                    self.unfilled_exactly_min.clear()
                self._keep(consumer, owned, self.max_quota)
            else:
                self._keep(consumer, owned, self.min_quota)
                if self.current_over_min < self.expected_over_min:
                    self.unfilled_exactly_min.append(consumer)

    def _keep(self, consumer: str, owned: list[TopicPartition], count: int) -> None:
        """Keep the first ``count`` owned partitions; the rest may be revoked."""
        self.assignment[consumer].extend(owned[:count])
        self.assigned.update(owned[:count])
        for tp in owned[count:]:
            self.maybe_revoked[tp] = consumer

    def _assign_round_robin(self, unassigned: list[TopicPartition]) -> None:
        """ConstrainedAssignmentBuilder.assignRoundRobin; Java's list iterator made explicit."""
        cursor = 0  # index of the iterator's next element in unfilled_under_min
        for tp in unassigned:
            if cursor < len(self.unfilled_under_min):
                consumer = self.unfilled_under_min[cursor]
                cursor += 1
            elif self.unfilled_under_min:
                consumer = self.unfilled_under_min[0]
                cursor = 1
            else:
                assert self.unfilled_exactly_min, "No more unfilled consumers to be assigned."
                consumer = self.unfilled_exactly_min.pop(0)
            count = self._assign_new_partition(tp, consumer)
            if count == self.min_quota:
                assert self.unfilled_under_min[cursor - 1] == consumer
                cursor -= 1
                self.unfilled_under_min.pop(cursor)
                self.unfilled_exactly_min.append(consumer)
            elif count == self.max_quota:
                self.current_over_min += 1

    def _assign_new_partition(self, tp: TopicPartition, consumer: str) -> int:
        """ConstrainedAssignmentBuilder.assignNewPartition; returns the member's new size."""
        self.assignment[consumer].append(tp)
        revoked_from = self.maybe_revoked.get(tp)
        if (revoked_from is not None and revoked_from != consumer) or (
            tp in self.multiple_previous_owners
        ):
            self.transferring[tp] = consumer
        return len(self.assignment[consumer])

    def _verify_unfilled_members(self) -> None:
        """ConstrainedAssignmentBuilder.verifyUnfilledMembers (Kafka: IllegalStateException)."""
        if not self.unfilled_under_min:
            return
        assert self.current_over_min == self.expected_over_min, "members left under minQuota"
        for member in self.unfilled_under_min:
            assert len(self.assignment[member]) == self.min_quota, member


class _TopicPartitionHashSet:
    """A ``HashSet<TopicPartition>`` that knows which element Java's iterator yields first."""

    def __init__(self) -> None:
        self.items: list[TopicPartition] = []  # insertion order, as within a Java bucket
        self.peak_size = 0  # the table only grows

    def add(self, tp: TopicPartition) -> None:
        if tp not in self.items:
            self.items.append(tp)
            self.peak_size = max(self.peak_size, len(self.items))

    def first(self) -> TopicPartition:
        """``iterator().next()``: lowest bucket, then earliest inserted."""
        capacity = _hash_table_capacity(self.peak_size)
        return min(self.items, key=lambda tp: _bucket(_topic_partition_hash(tp), capacity))


class PartitionMovements:
    """AbstractStickyAssignor.PartitionMovements: partitions moved during one general assignment.

    Kept so that a partition moving back along a pair of members cancels an earlier move
    instead of moving a second partition (``getTheActualPartitionToBeMoved``).
    """

    def __init__(self) -> None:
        self.by_topic: dict[str, dict[tuple[str, str], _TopicPartitionHashSet]] = {}
        self.movements: dict[TopicPartition, tuple[str, str]] = {}

    def _remove_record(self, tp: TopicPartition) -> tuple[str, str]:
        pair = self.movements.pop(tp)
        pairs = self.by_topic[tp[0]]
        pairs[pair].items.remove(tp)
        if not pairs[pair].items:
            del pairs[pair]
        if not pairs:
            del self.by_topic[tp[0]]
        return pair

    def _add_record(self, tp: TopicPartition, pair: tuple[str, str]) -> None:
        self.movements[tp] = pair
        self.by_topic.setdefault(tp[0], {}).setdefault(pair, _TopicPartitionHashSet()).add(tp)

    def move_partition(self, tp: TopicPartition, old: str, new: str) -> None:
        """PartitionMovements.movePartition."""
        if tp in self.movements:
            source = self._remove_record(tp)[0]
            if source != new:
                self._add_record(tp, (source, new))
        else:
            self._add_record(tp, (old, new))

    def partition_to_move(self, tp: TopicPartition, old: str, new: str) -> TopicPartition:
        """PartitionMovements.getTheActualPartitionToBeMoved."""
        pairs = self.by_topic.get(tp[0])
        if pairs is None:
            return tp
        if tp in self.movements:
            old = self.movements[tp][0]
        reverse = pairs.get((new, old))
        return reverse.first() if reverse else tp


class GeneralAssignmentBuilder:
    """AbstractStickyAssignor.GeneralAssignmentBuilder: members with different subscriptions.

    Keeps every still-valid owned partition, hands out the rest to the least-loaded subscriber,
    then moves partitions towards balance (preferring a partition's owner of an older
    generation), and reverts the moves if they did not lower the balance score.
    """

    def __init__(
        self,
        partitions_per_topic: Mapping[str, int],
        owned: _OwnedPartitions,
        subscriptions: Mapping[str, Subscription],
    ) -> None:
        self.partitions_per_topic = partitions_per_topic
        self.subscriptions = subscriptions
        self.max_generation = owned.max_generation
        self.current: Assignment = owned.consumer_to_owned
        self.topic_consumers: dict[str, list[str]] = {t: [] for t in partitions_per_topic}
        self.consumer_topics: dict[str, list[str]] = {}
        for consumer in hash_map_order(subscriptions):
            topics = [t for t in subscriptions[consumer].topics if t in partitions_per_topic]
            self.consumer_topics[consumer] = topics
            for topic in topics:
                self.topic_consumers[topic].append(consumer)
            self.current.setdefault(consumer, [])
        self.partition_consumer = {tp: c for c, tps in self.current.items() for tp in tps}
        topic_order = sorted(
            self.topic_consumers,
            key=lambda t: (len(self.topic_consumers[t]), java_string_key(t)),
        )
        self.sorted_all_partitions = _sorted_all_partitions(partitions_per_topic, topic_order)
        self.revocation_required = False
        self.movements = PartitionMovements()

    def build(self) -> Assignment:
        """GeneralAssignmentBuilder.build."""
        prev_assignment = self._prepopulate_current_assignments()
        assigned = set(self._assign_owned_partitions())
        unassigned = [tp for tp in self.sorted_all_partitions if tp not in assigned]
        self._balance(prev_assignment, unassigned)
        return self.current

    def _prepopulate_current_assignments(self) -> dict[TopicPartition, tuple[str, int]]:
        """prepopulateCurrentAssignments: per partition, its newest owner of an older generation."""
        prev: dict[TopicPartition, tuple[str, int]] = {}
        for consumer in hash_map_order(self.subscriptions):
            subscription = self.subscriptions[consumer]
            generation = subscription.generation_id
            if generation >= self.max_generation:
                continue
            for tp in subscription.owned_partitions:
                if tp not in prev or generation > prev[tp][1]:
                    prev[tp] = (consumer, generation)
        return prev

    def _assign_owned_partitions(self) -> list[TopicPartition]:
        """GeneralAssignmentBuilder.assignOwnedPartitions: keep owned, still-subscribed ones."""
        kept_all: list[TopicPartition] = []
        for consumer in hash_map_order(self.current):
            kept: list[TopicPartition] = []
            for tp in self.current[consumer]:
                if tp[0] not in self.topic_consumers:
                    self.partition_consumer.pop(tp, None)
                elif tp[0] not in self.subscriptions[consumer].topics:
                    self.revocation_required = True
                else:
                    kept.append(tp)
            self.current[consumer] = kept
            kept_all.extend(kept)
        return kept_all

    def _order_key(self, consumer: str) -> tuple[int, bytes]:
        """SubscriptionComparator: by assigned partition count, then member id."""
        return len(self.current[consumer]), java_string_key(consumer)

    def _least_loaded_subscriber(self, topic: str) -> str | None:
        """First member of sortedCurrentSubscriptions subscribed to ``topic``."""
        candidates = [c for c in self.current if topic in self.consumer_topics[c]]
        return min(candidates, key=self._order_key) if candidates else None

    def _max_assignment_size(self, consumer: str) -> int:
        """getMaxAssignmentSize: all partitions of the member's existing subscribed topics."""
        return sum(self.partitions_per_topic[t] for t in self.consumer_topics[consumer])

    def _is_balanced(self) -> bool:
        """GeneralAssignmentBuilder.isBalanced."""
        sizes = [len(tps) for tps in self.current.values()]
        if min(sizes) >= max(sizes) - 1:
            return True
        owner = {tp: c for c, tps in self.current.items() for tp in tps}
        for consumer, tps in self.current.items():
            count = len(tps)
            if count == self._max_assignment_size(consumer):
                continue
            mine = set(tps)
            for topic in self.consumer_topics[consumer]:
                for p in range(self.partitions_per_topic[topic]):
                    tp = (topic, p)
                    if tp not in mine and count + 1 < len(self.current[owner[tp]]):
                        return False
        return True

    def _can_consumer_participate(self, consumer: str) -> bool:
        """canConsumerParticipateInReassignment."""
        tps = self.current[consumer]
        if len(tps) < self._max_assignment_size(consumer):
            return True
        return any(len(self.topic_consumers[tp[0]]) >= 2 for tp in tps)

    def _balance(
        self, prev: dict[TopicPartition, tuple[str, int]], unassigned: list[TopicPartition]
    ) -> None:
        """GeneralAssignmentBuilder.balance."""
        initializing = max(len(tps) for tps in self.current.values()) == 0
        for tp in unassigned:
            consumer = self._least_loaded_subscriber(tp[0])
            if consumer is not None:
                self.current[consumer].append(tp)
                self.partition_consumer[tp] = consumer
        fixed_topics = {t for t, cs in self.topic_consumers.items() if len(cs) < 2}
        reassignable = [tp for tp in self.sorted_all_partitions if tp[0] not in fixed_topics]
        unassigned = [tp for tp in unassigned if tp[0] not in fixed_topics]
        fixed = {
            c: self.current.pop(c)
            for c in self.consumer_topics
            if not self._can_consumer_participate(c)
        }
        before = {c: list(tps) for c, tps in self.current.items()}
        before_owners = dict(self.partition_consumer)
        if self.current and not self.revocation_required:
            self._perform_reassignments(unassigned, prev)
        performed = bool(self.current) and self._perform_reassignments(reassignable, prev)
        if (
            not initializing
            and performed
            and _balance_score(self.current) >= _balance_score(before)
        ):
            self.current = before
            self.partition_consumer = before_owners
        self.current.update(fixed)

    def _perform_reassignments(
        self, partitions: list[TopicPartition], prev: dict[TopicPartition, tuple[str, int]]
    ) -> bool:
        """performReassignments: move partitions until balanced or no move helps."""
        performed = False
        modified = True
        while modified:
            modified = False
            for tp in partitions:
                if self._is_balanced():
                    break
                if self._reassign_one(tp, prev):
                    performed = modified = True
        return performed

    def _reassign_one(
        self, tp: TopicPartition, prev: dict[TopicPartition, tuple[str, int]]
    ) -> bool:
        """One step of performReassignments for partition ``tp``; True if something moved."""
        size = len(self.current[self.partition_consumer[tp]])
        previous_owner = prev[tp][0] if tp in prev else None
        # Kafka dereferences the previous owner unchecked; a member held fixed is skipped here.
        if previous_owner in self.current and size > len(self.current[previous_owner]) + 1:
            self._reassign_partition(tp, previous_owner)
            return True
        if any(size > len(self.current[c]) + 1 for c in self.topic_consumers[tp[0]]):
            new_consumer = self._least_loaded_subscriber(tp[0])
            assert new_consumer is not None
            self._reassign_partition(tp, new_consumer)
            return True
        return False

    def _reassign_partition(self, tp: TopicPartition, new_consumer: str) -> None:
        """reassignPartition + processPartitionMovement."""
        old_consumer = self.partition_consumer[tp]
        tp = self.movements.partition_to_move(tp, old_consumer, new_consumer)
        old_consumer = self.partition_consumer[tp]
        self.movements.move_partition(tp, old_consumer, new_consumer)
        self.current[old_consumer].remove(tp)
        self.current[new_consumer].append(tp)
        self.partition_consumer[tp] = new_consumer


def _balance_score(assignment: Mapping[str, list[TopicPartition]]) -> int:
    """getBalanceScore: sum over member pairs of the difference in partition counts."""
    sizes = sorted(len(tps) for tps in assignment.values())
    return sum(size * (2 * i - len(sizes) + 1) for i, size in enumerate(sizes))


def sticky_assign(
    partitions_per_topic: Mapping[str, int],
    subscriptions: Mapping[str, Subscription],
    cooperative: bool,
) -> Assignment:
    """AbstractStickyAssignor.assignPartitions, then for cooperative CooperativeStickyAssignor's
    adjustAssignment: partitions that change owner are left out of this round."""
    owned = _all_subscriptions_equal(partitions_per_topic, subscriptions)
    transferring: dict[TopicPartition, str] | None = None
    if owned.all_equal:
        builder = ConstrainedAssignmentBuilder(partitions_per_topic, owned)
        assignment = builder.build()
        transferring = builder.transferring
    else:
        assignment = GeneralAssignmentBuilder(partitions_per_topic, owned, subscriptions).build()
    if cooperative:
        if transferring is None:
            transferring = _compute_transferring(subscriptions, assignment)
        for tp, consumer in transferring.items():
            assignment[consumer].remove(tp)
    return assignment


def _compute_transferring(
    subscriptions: Mapping[str, Subscription], assignment: Assignment
) -> dict[TopicPartition, str]:
    """CooperativeStickyAssignor.computePartitionsTransferringOwnership: added and revoked."""
    added: dict[TopicPartition, str] = {}
    revoked: set[TopicPartition] = set()
    for consumer, assigned in assignment.items():
        owned = set(subscriptions[consumer].owned_partitions)
        added.update((tp, consumer) for tp in assigned if tp not in owned)
        revoked.update(owned - set(assigned))
    return {tp: c for tp, c in added.items() if tp in revoked}


def assign(
    strategy: str,
    subscriptions: Mapping[str, Sequence[str]],
    partitions_per_topic: Mapping[str, int],
    owned: Mapping[str, Sequence[TopicPartition]] | None = None,
    static_ids: Mapping[str, str] | None = None,
    generations: Mapping[str, int] | None = None,
) -> dict[str, list[TopicPartition]]:
    """Assign partitions to a group's members as Kafka 3.9's group leader does.

    Mirrors ``AbstractPartitionAssignor.assign(Cluster, GroupSubscription)``: only subscribed
    topics with at least one partition take part.
    strategy: ``range`` | ``roundrobin`` | ``sticky`` | ``cooperative-sticky``, or a class name.
    subscriptions: member id -> subscribed topics. partitions_per_topic: topic -> partition count.
    owned: member id -> partitions it owned in the previous generation (sticky kinds only).
    static_ids: member id -> ``group.instance.id`` (orders members for range and roundrobin).
    generations: member id -> generation of its owned partitions (default -1, no generation).
    Entries of owned / static_ids / generations for non-members are ignored.
    Returns member id -> sorted (topic, partition) list, one key per member. For
    cooperative-sticky this is the first round: partitions that change owner are left out.
    """
    name = canonical_strategy(strategy)
    subs = _build_subscriptions(
        subscriptions, partitions_per_topic, owned or {}, static_ids or {}, generations or {}
    )
    if not subs:
        return {}
    subscribed = {t for s in subs.values() for t in s.topics}
    present = {t: n for t, n in partitions_per_topic.items() if t in subscribed and n > 0}
    if name == "range":
        result = range_assign(present, subs)
    elif name == "roundrobin":
        result = round_robin_assign(present, subs)
    else:
        result = sticky_assign(present, subs, cooperative=name == "cooperative-sticky")
    return {member: sorted(result[member]) for member in subscriptions}


def _build_subscriptions(
    subscriptions: Mapping[str, Sequence[str]],
    partitions_per_topic: Mapping[str, int],
    owned: Mapping[str, Sequence[TopicPartition]],
    static_ids: Mapping[str, str],
    generations: Mapping[str, int],
) -> dict[str, Subscription]:
    """Validate :func:`assign`'s arguments and build one Subscription per member."""
    _check_partition_counts(partitions_per_topic)
    instance_ids = [static_ids[m] for m in subscriptions if m in static_ids]
    if len(set(instance_ids)) != len(instance_ids):
        raise AssignorInputError(
            "static_ids", "two members share a group.instance.id; make them unique"
        )
    subs = {}
    for member, topics in subscriptions.items():
        if isinstance(topics, str) or len(set(topics)) != len(topics):
            raise AssignorInputError(
                f"subscriptions.{member}", "must be a list of distinct topic names"
            )
        generation = generations.get(member, DEFAULT_GENERATION)
        if isinstance(generation, bool) or not isinstance(generation, int):
            raise AssignorInputError(f"generations.{member}", "must be an int; use -1 for none")
        subs[member] = Subscription(
            topics=tuple(topics),
            owned_partitions=_check_owned(member, owned.get(member, ()), partitions_per_topic),
            generation_id=generation,
            group_instance_id=static_ids.get(member),
        )
    return subs


def _check_partition_counts(partitions_per_topic: Mapping[str, int]) -> None:
    for topic, count in partitions_per_topic.items():
        if isinstance(count, bool) or not isinstance(count, int) or count < 0:
            raise AssignorInputError(
                f"partitions_per_topic.{topic}", f"got {count!r}; give a partition count >= 0"
            )


def _check_owned(
    member: str, tps: Sequence[TopicPartition], partitions_per_topic: Mapping[str, int]
) -> tuple[TopicPartition, ...]:
    """Owned partitions as (topic, partition) tuples: distinct, within the topic if it exists."""
    result = tuple((str(t), int(p)) for t, p in tps)
    if len(set(result)) != len(result):
        raise AssignorInputError(f"owned.{member}", "lists a partition twice; list each once")
    for topic, partition in result:
        count = partitions_per_topic.get(topic, 0)
        if partition < 0 or 0 < count <= partition:
            raise AssignorInputError(
                f"owned.{member}", f"{topic}-{partition} does not exist; drop it"
            )
    return result
