"""Partition leader election, as Kafka 3.9's ZooKeeper-mode controller does it.

Mirrors ``object PartitionLeaderElectionAlgorithms`` in
``core/src/main/scala/kafka/controller/PartitionStateMachine.scala`` (the choice of leader) and
``object Election`` in ``core/src/main/scala/kafka/controller/Election.scala`` (the ISR written
with it). Every algorithm scans the replica assignment in order; broker ids are ints.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence

ELECTION_KINDS = ("offline", "reassign", "preferred", "controlled_shutdown")


class UnknownElectionKindError(ValueError):
    """``elect_leader`` was given a kind that is not one of ``ELECTION_KINDS``."""


def _check_kind(kind: str) -> None:
    if kind not in ELECTION_KINDS:
        raise UnknownElectionKindError(
            f"kind must be one of {', '.join(ELECTION_KINDS)}; got {kind!r}"
        )


def elect_leader(
    kind: str,
    assignment: Sequence[int],
    isr: Collection[int],
    live: Collection[int],
    unclean: bool = False,
    shutting_down: Collection[int] = (),
) -> int | None:
    """The new leader of a partition, or None when the election finds none.

    ``assignment``: the replicas in assignment order (for "reassign", the target replicas).
    ``isr``: the current in-sync replicas. ``live``: brokers that are online (for
    "controlled_shutdown" Kafka passes live *or* shutting-down brokers). ``unclean``:
    ``unclean.leader.election.enable`` (only "offline" uses it). ``shutting_down``: brokers in
    controlled shutdown (only "controlled_shutdown" uses it).

    - offline (``offlinePartitionLeaderElection``): first live ISR member; if none and
      ``unclean``, first live replica (an unclean election).
    - reassign (``reassignPartitionLeaderElection``): first live ISR member.
    - preferred (``preferredReplicaPartitionLeaderElection``): the head of the assignment,
      only if it is live and in the ISR.
    - controlled_shutdown (``controlledShutdownPartitionLeaderElection``): first live ISR member
      that is not shutting down.
    """
    _check_kind(kind)
    live_set, isr_set = set(live), set(isr)
    if kind == "preferred":
        head = assignment[0] if assignment else None
        return head if head in live_set and head in isr_set else None
    excluded = set(shutting_down) if kind == "controlled_shutdown" else set()
    for replica in assignment:
        if replica in live_set and replica in isr_set and replica not in excluded:
            return replica
    if kind == "offline" and unclean:
        return next((replica for replica in assignment if replica in live_set), None)
    return None


def is_unclean(leader: int | None, isr: Collection[int]) -> bool:
    """True when ``leader`` was elected from outside ``isr``: an unclean election
    (Kafka marks ``UncleanLeaderElectionsPerSec`` for it). No leader is not unclean."""
    return leader is not None and leader not in isr


def isr_after_election(
    kind: str,
    leader: int,
    isr: Sequence[int],
    live: Collection[int],
    shutting_down: Collection[int] = (),
) -> list[int]:
    """The ISR the controller writes with a new ``leader`` (``Election.leaderFor*``).

    offline: the live members of the old ISR, or ``[leader]`` after an unclean election;
    controlled_shutdown: the old ISR without the shutting-down brokers; reassign and
    preferred: the old ISR unchanged.
    """
    _check_kind(kind)
    if kind == "offline":
        if leader not in isr:
            return [leader]
        live_set = set(live)
        return [replica for replica in isr if replica in live_set]
    if kind == "controlled_shutdown":
        down = set(shutting_down)
        return [replica for replica in isr if replica not in down]
    return list(isr)
