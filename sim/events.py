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
    """The kinds of ``events`` rows (each one's meaning: :data:`MEANING`)."""

    # faults (sim.faults): `fault` names the fault kind, `broker` the broker when it is one, and
    # `outcome` what it did to the node's service to clients (:class:`ClientReach`)
    FAULT = "fault"
    FAULT_END = "fault_end"
    FAULT_SKIPPED = "fault_skipped"
    BROKER_STOPPED = "broker_stopped"
    ROLLING_STEP = "rolling_step"
    # control plane
    CONTROLLER_CHANGE = "controller_change"
    LEADER_ELECTION = "leader_election"
    UNCLEAN_LEADER_ELECTION = "unclean_leader_election"
    LEADER_RESUMED = "leader_resumed"
    PARTITION_UNAVAILABLE = "partition_unavailable"
    REGISTRATION_FAILED = "registration_failed"
    ISR_SHRINK = "isr_shrink"
    ISR_EXPAND = "isr_expand"
    TRUNCATE = "truncate"
    POWER_LOSS_TRUNCATE = "power_loss_truncate"
    # consumer groups
    REBALANCE_START = "rebalance_start"
    REBALANCE_END = "rebalance_end"
    PARTITIONS_ASSIGNED = "partitions_assigned"
    PARTITIONS_REVOKED = "partitions_revoked"
    # clients
    CONSUMER_FAILED = "consumer_failed"
    OFFSET_RESET = "offset_reset"
    OFFSET_RESET_ERROR = "offset_reset_error"
    LOG_TRUNCATION = "log_truncation"
    LOG_TRUNCATION_ERROR = "log_truncation_error"
    PRODUCER_EPOCH_BUMP = "producer_epoch_bump"
    SCHEMA_REGISTERED = "schema_registered"
    SERIALIZATION_FAILED = "serialization_failed"


#: What each kind of row means, with the columns it fills (docs/results.md lists them).
MEANING: dict[EventKind, str] = {
    EventKind.FAULT: "a fault was injected (fault, broker when it hit one, outcome: unreachable "
    "when clients can no longer use the node); also each broker's stop in a rolling restart",
    EventKind.FAULT_END: "a fault healed: restart, resume, heal, disk or link back to normal "
    "(fault, broker, outcome: reachable when clients can use the node again)",
    EventKind.FAULT_SKIPPED: "a scheduled fault named no node when it fired (fault)",
    EventKind.BROKER_STOPPED: "a controlled shutdown finished and the process exited (fault, "
    "broker, outcome unreachable)",
    EventKind.ROLLING_STEP: "a rolling restart's wait for a broker ended (broker; outcome "
    "isr_full, wait_capped or skipped)",
    EventKind.CONTROLLER_CHANGE: "a broker became the active controller (broker, epoch: the "
    "controller epoch)",
    EventKind.LEADER_ELECTION: "a leader elected from the ISR (topic, partition, broker: the "
    "leader, epoch: its leader epoch, outcome: offline, preferred, controlled_shutdown, ...)",
    EventKind.UNCLEAN_LEADER_ELECTION: "a leader elected from outside the ISR (as leader_election)",
    EventKind.LEADER_RESUMED: "a restarted broker leads a partition again without an election "
    "(topic, partition, broker, epoch)",
    EventKind.PARTITION_UNAVAILABLE: "a window without a leader clients could use, at its start "
    "(topic, partition, broker: the leader that went away, duration_s)",
    EventKind.REGISTRATION_FAILED: "a restarted broker found /brokers/ids/<id> still held by its "
    "old ZooKeeper session and retries (broker)",
    EventKind.ISR_SHRINK: "a broker left a partition's ISR (topic, partition, broker)",
    EventKind.ISR_EXPAND: "a broker joined a partition's ISR (topic, partition, broker)",
    EventKind.TRUNCATE: "a replica removed records from its log end (topic, partition)",
    EventKind.POWER_LOSS_TRUNCATE: "a replica lost the pages not yet written back at a power "
    "loss (topic, partition)",
    EventKind.REBALANCE_START: "a group coordinator began a rebalance (group, generation: the "
    "one it leaves, 0 for a group forming)",
    EventKind.REBALANCE_END: "the rebalance ended (group, generation: the new one, outcome: "
    "stable, empty or coordinator_moved, duration_s)",
    EventKind.PARTITIONS_ASSIGNED: "a member got its assignment (group, member, generation)",
    EventKind.PARTITIONS_REVOKED: "a member gave partitions up (group, member, generation)",
    EventKind.CONSUMER_FAILED: "a consumer stopped on an error it cannot handle (group, member)",
    EventKind.OFFSET_RESET: "a position was reset by auto.offset.reset (topic, partition, "
    "group, member)",
    EventKind.OFFSET_RESET_ERROR: "a position had no valid offset and auto.offset.reset=none "
    "(topic, partition, group, member)",
    EventKind.LOG_TRUNCATION: "a position moved back to the divergence point of a truncated "
    "log, KIP-320 (topic, partition, group, member)",
    EventKind.LOG_TRUNCATION_ERROR: "a truncated log under a position with "
    "auto.offset.reset=none (topic, partition, group, member)",
    EventKind.PRODUCER_EPOCH_BUMP: "an idempotent producer bumped its epoch after a batch failed "
    "for good, KIP-360 (topic, partition, epoch)",
    EventKind.SCHEMA_REGISTERED: "a producer's serializer got the id of its schema from the "
    "registry, once per schema (node: the producer, outcome: the subject)",
    EventKind.SERIALIZATION_FAILED: "a producer's serializer could not get its schema's id "
    "(a row per schema and error, not per retry): its records fail with SERIALIZATION_ERROR "
    "until one call succeeds "
    "(node: the producer, outcome: INCOMPATIBLE_SCHEMA, REGISTRY_TIMEOUT, ...)",
}


#: Elections of a new leader (clean or not).
ELECTIONS = (EventKind.LEADER_ELECTION, EventKind.UNCLEAN_LEADER_ELECTION)


class RollingOutcome(StrEnum):
    """How a rolling restart's wait for one broker ended (a ``rolling_step`` row's outcome)."""

    ISR_FULL = "isr_full"  # back in the cluster and no partition under-replicated
    WAIT_CAPPED = "wait_capped"  # max_wait_s passed first; the restart moved on
    SKIPPED = "skipped"  # the broker was down at its turn and was left down


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
