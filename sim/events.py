"""Event kinds: what a row of the ``events`` table can be.

Every row has one kind from :class:`EventKind` (a string enumeration: the table's ``kind``
column holds its value, so ``events[events.kind == "leader_election"]`` and
``events[events.kind == EventKind.LEADER_ELECTION]`` select the same rows) and its facts in
columns (:data:`sim.results.TABLES` ``events``: broker, fault, group, generation, member, epoch,
outcome, duration_s). The ``detail`` column is prose for people; no metric reads it.
"""

from __future__ import annotations

from enum import StrEnum


class EventKind(StrEnum):
    """The kinds of ``events`` rows, one comment each."""

    # faults (sim.faults): `fault` names the fault kind, `broker` the broker when it is one, and
    # `outcome` what it did to the node's service to clients (:class:`ClientReach`)
    FAULT = "fault"  # a fault was injected
    FAULT_END = "fault_end"  # a fault healed: restart, resume, heal, disk or link back to normal
    FAULT_SKIPPED = "fault_skipped"  # a scheduled fault named no node when it fired
    BROKER_STOPPED = "broker_stopped"  # a controlled shutdown finished: the process exits
    # control plane
    CONTROLLER_CHANGE = "controller_change"  # a broker became the active controller (epoch)
    LEADER_ELECTION = "leader_election"  # a leader from the ISR (broker, epoch, outcome=kind)
    UNCLEAN_LEADER_ELECTION = "unclean_leader_election"  # a leader from outside the ISR
    LEADER_RESUMED = "leader_resumed"  # a restarted broker leads again without an election
    PARTITION_UNAVAILABLE = "partition_unavailable"  # a window without a usable leader
    REGISTRATION_FAILED = "registration_failed"  # /brokers/ids/<id> still held by the old session
    ISR_SHRINK = "isr_shrink"  # `broker` left the partition's ISR
    ISR_EXPAND = "isr_expand"  # `broker` joined the partition's ISR
    TRUNCATE = "truncate"  # a replica removed records from its log end
    POWER_LOSS_TRUNCATE = "power_loss_truncate"  # a replica lost unwritten pages at power loss
    # consumer groups
    REBALANCE_START = "rebalance_start"  # the coordinator began a rebalance (group, generation)
    REBALANCE_END = "rebalance_end"  # it ended (outcome, duration_s, the new generation)
    PARTITIONS_ASSIGNED = "partitions_assigned"  # a member got its assignment (member, generation)
    PARTITIONS_REVOKED = "partitions_revoked"  # a member gave partitions up
    # clients
    CONSUMER_FAILED = "consumer_failed"  # a consumer stopped on an error it cannot handle
    OFFSET_RESET = "offset_reset"  # position reset by auto.offset.reset
    OFFSET_RESET_ERROR = "offset_reset_error"  # out of range with auto.offset.reset=none
    LOG_TRUNCATION = "log_truncation"  # position moved back to the divergence point (KIP-320)
    LOG_TRUNCATION_ERROR = "log_truncation_error"  # truncation with auto.offset.reset=none
    PRODUCER_EPOCH_BUMP = "producer_epoch_bump"  # idempotent producer bumped its epoch (KIP-360)


#: Elections of a new leader (clean or not).
ELECTIONS = (EventKind.LEADER_ELECTION, EventKind.UNCLEAN_LEADER_ELECTION)


class ClientReach(StrEnum):
    """What a fault row did to its node's service to clients (the row's ``outcome``)."""

    UNREACHABLE = "unreachable"  # clients can no longer use it: crashed, stopped, paused, cut off
    REACHABLE = "reachable"  # they can again: resumed, or the cut healed
    # a row with outcome "" changes nothing for clients (a slow disk or link, a restart: a
    # restarted broker leads nothing until the controller says so)


#: The rows of a fault's lifecycle, in the order they can come: injected, stopped (a controlled
#: shutdown's end), ended, or skipped.
FAULT_ROWS = (
    EventKind.FAULT,
    EventKind.BROKER_STOPPED,
    EventKind.FAULT_END,
    EventKind.FAULT_SKIPPED,
)
