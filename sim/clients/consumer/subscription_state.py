"""Per-partition consumer state (≈ Kafka 3.9 ``SubscriptionState``): fetch state and position.

A partition is assigned in ``INITIALIZING``; the consumer then seeks it to its committed offset or
asks for an offset reset (``AWAITING_RESET``, answered by ListOffsets); once it has a position it
is ``FETCHING``; a committed offset with its leader epoch is validated first. A position
(``FetchPosition``) is an offset with the epoch of the last record
consumed and the leader epoch it is fetched at; when the metadata shows another leader epoch, a
position with a record epoch is ``AWAITING_VALIDATION`` (not fetched) until OffsetsForLeaderEpoch
says whether the new leader's log still holds it (KIP-320). Offsets are record offsets; times
are simulated seconds.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import Enum, auto

from sim.protocol import OffsetAndMetadata, TopicPartition


class FetchState(Enum):
    """Kafka's ``SubscriptionState.FetchStates`` used by the model, plus ``FAILED``."""

    INITIALIZING = auto()  # assigned, no position yet
    AWAITING_RESET = auto()  # position to come from ListOffsets (auto.offset.reset)
    FETCHING = auto()  # valid position: fetched and returned by poll()
    AWAITING_VALIDATION = auto()  # position to be checked against a new leader's log (KIP-320)
    FAILED = auto()  # no position and auto.offset.reset=none: poll() would throw; not consumed

    #: members are singletons, so identity hashing is Enum's equality; Enum's own __hash__ is
    #: a Python function, run for each count poll() reads (14 M instructions of 3,160 M)
    __hash__ = object.__hash__


@dataclass(slots=True, eq=False)
class TopicPartitionState:
    """One assigned partition (``SubscriptionState.TopicPartitionState``).

    position: offset of the next record poll() returns (-1 without one). offset_epoch: leader
    epoch of the batch of the last record consumed (-1: none, the position is not validated).
    leader_epoch: the leader epoch the position is fetched at (FetchPosition.currentLeader; -1:
    unknown, not checked). high_watermark / log_start_offset: last values a fetch response
    reported (-1 before any). next_retry_s: an offset reset or validation is not sent again
    before this time, s.
    """

    fetch_state: FetchState = FetchState.INITIALIZING
    position: int = -1
    offset_epoch: int = -1
    leader_epoch: int = -1
    high_watermark: int = -1
    log_start_offset: int = -1
    next_retry_s: float = 0.0
    pending_revocation: bool = False  # eager revocation under way: not fetched or returned


_INITIALIZING = FetchState.INITIALIZING
_AWAITING_RESET = FetchState.AWAITING_RESET
_FETCHING = FetchState.FETCHING
_FAILED = FetchState.FAILED
_AWAITING_VALIDATION = FetchState.AWAITING_VALIDATION


@dataclass(frozen=True, slots=True)
class LogTruncation:
    """What validation found (SubscriptionState.LogTruncation, and the truncation Kafka logs
    when it resets): the position asked about, and the new leader's end offset for its epoch
    with that epoch (-1, -1 when the leader knows none). ``reset``: the position moved (to the
    end offset, or to an offset reset when there is none), else no reset policy applies."""

    tp: TopicPartition
    position: int
    end_offset: int
    end_epoch: int
    reset: bool


class SubscriptionState:
    """The assigned partitions, in sorted order (so every iteration is deterministic), and the
    subscribed topics when the group assigns them (``subscribe``).

    How many partitions are in each fetch state is kept up to date, so poll() finds out that
    no partition is initializing or awaiting a reset without scanning them, and ``version``
    counts the changes of which partitions are fetchable, so the fetcher rebuilds what it derives
    from them only then. A partition's ``fetch_state`` and ``pending_revocation`` must therefore
    change only through the methods here.
    """

    def __init__(self) -> None:
        self.states: dict[TopicPartition, TopicPartitionState] = {}
        self.subscription: tuple[str, ...] = ()
        self._counts: dict[FetchState, int] = dict.fromkeys(FetchState, 0)
        #: bumped by every change that may change :meth:`fetchable_partitions` (an assignment,
        #: a fetch state, a pending revocation)
        self.version = 0

    def _set_state(self, state: TopicPartitionState, fetch_state: FetchState) -> None:
        counts = self._counts
        counts[state.fetch_state] -= 1
        counts[fetch_state] += 1
        state.fetch_state = fetch_state
        self.version += 1

    def has_all_fetch_positions(self) -> bool:
        """``hasAllFetchPositions``: no partition is initializing or awaiting a reset (a FAILED
        one is not consumed at all)."""
        counts = self._counts
        return not counts[_INITIALIZING] and not counts[_AWAITING_RESET]

    def has_initializing(self) -> bool:
        """Whether a partition has neither a position nor a pending reset."""
        return self._counts[_INITIALIZING] > 0

    def subscribe(self, topics: list[str]) -> None:
        """Topics whose partitions the group assigns (AUTO_TOPICS)."""
        self.subscription = tuple(sorted(set(topics)))

    def has_auto_assigned_partitions(self) -> bool:
        """Whether the group assigns the partitions (subscribe) rather than the user."""
        return bool(self.subscription)

    def assign_from_user(self, partitions: list[TopicPartition]) -> None:
        """Replace the assignment; partitions kept from the old one keep their state."""
        old = self.states
        self.states = {tp: old.get(tp) or TopicPartitionState() for tp in sorted(set(partitions))}
        counts = self._counts = dict.fromkeys(FetchState, 0)
        for state in self.states.values():
            counts[state.fetch_state] += 1
        self.version += 1

    def assign_from_subscribed(self, partitions: list[TopicPartition]) -> None:
        """The group's assignment (``assignFromSubscribed``): kept partitions keep their state."""
        self.assign_from_user(partitions)

    def assigned_partitions(self) -> list[TopicPartition]:
        """The assigned partitions, sorted."""
        return list(self.states)

    def mark_pending_revocation(self, partitions: list[TopicPartition]) -> None:
        """Stop fetching and returning ``partitions`` until they are revoked."""
        for tp in partitions:
            self.states[tp].pending_revocation = True
        self.version += 1

    def fetchable_partitions(self) -> list[TopicPartition]:
        """The partitions :func:`is_fetchable` accepts, sorted."""
        return [tp for tp, s in self.states.items() if is_fetchable(s)]

    def initializing_partitions(self) -> list[TopicPartition]:
        """Partitions that have neither a position nor a pending reset, sorted."""
        if not self._counts[_INITIALIZING]:
            return []
        return [tp for tp, s in self.states.items() if s.fetch_state is _INITIALIZING]

    def partitions_needing_reset(self, now_s: float) -> list[TopicPartition]:
        """Partitions awaiting an offset reset whose retry time has come, sorted."""
        return self._due(_AWAITING_RESET, now_s)

    def next_reset_retry_s(self, now_s: float) -> float:
        """Earliest time after ``now_s`` a pending offset reset or validation may be sent again
        (inf if none).

        Those already due but not sent wait for their leader: a metadata update wakes them.
        """
        counts = self._counts
        if not counts[_AWAITING_RESET] and not counts[_AWAITING_VALIDATION]:
            return math.inf
        waiting = [
            s.next_retry_s
            for s in self.states.values()
            if s.fetch_state in (_AWAITING_RESET, _AWAITING_VALIDATION) and s.next_retry_s > now_s
        ]
        return min(waiting, default=math.inf)

    def seek(
        self, tp: TopicPartition, offset: int, leader_epoch: int = -1, offset_epoch: int = -1
    ) -> None:
        """Give ``tp`` a valid position (``seekValidated``): ``offset``, fetched at
        ``leader_epoch``, after a record of ``offset_epoch`` (-1: unknown)."""
        state = self.states[tp]
        state.position = offset
        state.leader_epoch = leader_epoch
        state.offset_epoch = offset_epoch
        state.next_retry_s = 0.0
        self._set_state(state, _FETCHING)

    def seek_unvalidated(
        self, tp: TopicPartition, offset: int, offset_epoch: int, leader_epoch: int
    ) -> None:
        """``seekUnvalidated``: the position ``offset`` after a record of ``offset_epoch``, at
        the metadata's ``leader_epoch``, awaits validation when both epochs are known
        (``validatePosition``), else is fetched at once (-1: unknown)."""
        self.seek(tp, offset, leader_epoch, offset_epoch)
        if offset_epoch >= 0 and leader_epoch >= 0:
            self._set_state(self.states[tp], _AWAITING_VALIDATION)

    def request_offset_reset(self, tp: TopicPartition) -> None:
        """Drop ``tp``'s position until ListOffsets answers (``requestOffsetReset``)."""
        state = self.states[tp]
        self._set_state(state, _AWAITING_RESET)
        state.next_retry_s = 0.0

    def fail(self, tp: TopicPartition) -> None:
        """``tp`` has no position and no reset policy: it is no longer consumed."""
        self._set_state(self.states[tp], _FAILED)

    def set_next_allowed_retry(self, partitions: list[TopicPartition], at_s: float) -> None:
        """No offset reset for ``partitions`` before ``at_s`` (``setNextAllowedRetry``), s."""
        for tp in partitions:
            state = self.states.get(tp)
            if state is not None:
                state.next_retry_s = at_s

    def maybe_seek_unvalidated(self, tp: TopicPartition, offset: int, leader_epoch: int) -> None:
        """Apply a ListOffsets answer if ``tp`` still awaits it (``maybeSeekUnvalidated``): a
        position without a record epoch, so not validated, at the current ``leader_epoch``."""
        state = self.states.get(tp)
        if state is not None and state.fetch_state is _AWAITING_RESET:
            self.seek(tp, offset, leader_epoch)

    # ------------------------------------------------------------------ validation (KIP-320)

    def maybe_validate_position(self, tp: TopicPartition, leader_epoch: int | None) -> None:
        """``maybeValidatePositionForCurrentLeader``: the metadata shows ``tp`` led at
        ``leader_epoch`` (None: no leader). A position fetched at another epoch takes the new one
        and awaits validation if it has a record epoch (``validatePosition``), else stays
        fetchable. Nothing changes without a leader, a position, or while a reset is pending."""
        state = self.states.get(tp)
        if (
            state is None
            or leader_epoch is None
            or state.leader_epoch == leader_epoch
            or state.fetch_state not in (_FETCHING, _AWAITING_VALIDATION)
        ):
            return
        state.leader_epoch = leader_epoch
        state.next_retry_s = 0.0
        if state.offset_epoch >= 0 and leader_epoch >= 0:
            if state.fetch_state is not _AWAITING_VALIDATION:
                self._set_state(state, _AWAITING_VALIDATION)
        elif state.fetch_state is not _FETCHING:
            self._set_state(state, _FETCHING)

    def awaiting_validation(self) -> bool:
        """Whether some partition awaits validation."""
        return self._counts[_AWAITING_VALIDATION] > 0

    def partitions_needing_validation(self, now_s: float) -> list[TopicPartition]:
        """Partitions awaiting validation whose retry time has come, sorted."""
        return self._due(_AWAITING_VALIDATION, now_s)

    def _due(self, fetch_state: FetchState, now_s: float) -> list[TopicPartition]:
        """Partitions in ``fetch_state`` whose retry time has come by ``now_s``, sorted."""
        if not self._counts[fetch_state]:
            return []
        return [
            tp
            for tp, s in self.states.items()
            if s.fetch_state is fetch_state and s.next_retry_s <= now_s
        ]

    def maybe_complete_validation(
        self,
        tp: TopicPartition,
        asked: tuple[int, int, int],
        end_epoch: int,
        end_offset: int,
        has_reset_policy: bool,
    ) -> LogTruncation | None:
        """``maybeCompleteValidation`` with the leader's answer for the position ``asked``
        (offset, offset epoch, leader epoch), if ``tp`` still awaits it at that position. The
        leader knows no such epoch: reset by the policy. Its end offset for the epoch is below
        the position: the log was truncated; with a reset policy the position moves to that
        end offset, the first offset known to diverge. Otherwise the position is valid.
        Returns the truncation found, if any."""
        state = self.states.get(tp)
        if state is None or state.fetch_state is not _AWAITING_VALIDATION:
            return None
        if (state.position, state.offset_epoch, state.leader_epoch) != asked:
            return None  # the position moved since the request
        position = state.position
        if end_offset < 0 or end_epoch < 0:
            if has_reset_policy:
                self.request_offset_reset(tp)
            return LogTruncation(tp, position, -1, -1, has_reset_policy)
        if end_offset < position:
            if has_reset_policy:
                self.seek(tp, end_offset, state.leader_epoch, end_epoch)
            return LogTruncation(tp, position, end_offset, end_epoch, has_reset_policy)
        self._set_state(state, _FETCHING)
        return None

    def all_consumed(self) -> dict[TopicPartition, OffsetAndMetadata]:
        """Positions of the partitions that have one, with the epoch of the last record consumed
        (``allConsumed``): what a commit stores."""
        return {
            tp: OffsetAndMetadata(s.position, s.offset_epoch)
            for tp, s in self.states.items()
            if s.fetch_state is _FETCHING
        }


def is_fetchable(s: TopicPartitionState | None) -> bool:
    """Whether the partition of state ``s`` (None: unassigned) is fetchable: assigned, with a
    valid position, not pending revocation."""
    return s is not None and s.fetch_state is _FETCHING and not s.pending_revocation
