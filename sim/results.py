"""Results of one run: named DataFrames with documented columns, a summary, warnings; save/load.

Tables (one row per batch or event, and one per producer client accounting for its records at
the end of the run; times in simulated seconds) and their columns are declared once in
:data:`TABLES`; a run must hand over exactly these columns, so this file is the reference for what
each column means. ``summary()`` gives the fields of SUMMARY_FIELDS: counts and latencies
are computed from the tables; the fields that need the audit or the control plane come from the
run's ``metrics``. A field the run did not measure is NaN, never a made-up 0: ``measured`` lists
the fields the run's model measures.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from sim.errors import ScenarioError
from sim.scenario import Scenario


@dataclass(frozen=True)
class Column:
    """One documented column: its name, pandas dtype and meaning (with unit)."""

    name: str
    dtype: str
    doc: str


def _cols(*spec: tuple[str, str, str]) -> tuple[Column, ...]:
    return tuple(Column(*s) for s in spec)


#: The tables of a run and their columns. Strings are pandas' "string" dtype.
TABLES: dict[str, tuple[Column, ...]] = {
    "produced": _cols(
        ("batch_id", "int64", "unique id of the batch in this run"),
        ("producer", "string", "producer node name, e.g. app-0"),
        ("topic", "string", "topic"),
        (
            "partition",
            "int32",
            "partition number; -1 for a record send() refused before the partitioner chose one",
        ),
        ("producer_id", "int64", "idempotent producer id, -1 without idempotence"),
        ("base_sequence", "int64", "sequence number of the first record, -1 without idempotence"),
        ("count", "int32", "records in the batch"),
        ("bytes", "int64", "batch size on the wire after compression, bytes"),
        (
            "first_arrival_s",
            "float64",
            "when the batch's first record came to send(), s (also while send() was blocked)",
        ),
        ("closed_s", "float64", "when the batch was closed for sending, s"),
    ),
    "acked": _cols(
        ("batch_id", "int64", "the batch (see produced)"),
        ("attempt", "int32", "send attempt that got this answer, from 1 (0: never sent)"),
        ("base_offset", "int64", "offset of the first record in the log; -1 for acks=0 or errors"),
        ("done_s", "float64", "when the producer got the final answer, s"),
        ("latency_s", "float64", "mean record latency, send() to answer, s (blocked time too)"),
        (
            "error",
            "string",
            "Kafka error name of the final answer, '' on success; the client's own failures "
            "are DELIVERY_TIMEOUT (delivery.timeout.ms), BUFFER_EXHAUSTED (max.block.ms) and "
            "RECORD_TOO_LARGE (a record over max.request.size or buffer.memory); SPLIT is no "
            "failure: the broker refused the batch as too large (MESSAGE_TOO_LARGE) and the "
            "producer split it, its records going on in new batches with rows of their own",
        ),
    ),
    "consumed": _cols(
        ("group", "string", "consumer group id"),
        ("member", "string", "consumer node name, e.g. billing-1"),
        ("topic", "string", "topic"),
        ("partition", "int32", "partition number"),
        ("base_offset", "int64", "offset of the first record delivered"),
        ("count", "int32", "records of one stored batch returned by one poll"),
        ("batch_id", "int64", "the produced batch these records came from"),
        ("polled_s", "float64", "when poll() returned the records, s"),
        ("e2e_latency_s", "float64", "mean record latency, send() to poll(), s"),
    ),
    "events": _cols(
        ("time_s", "float64", "when it happened, s"),
        ("kind", "string", "what happened: a value of sim.events.EventKind (docs/results.md)"),
        ("node", "string", "node where it happened, '' for the cluster"),
        ("topic", "string", "topic, '' when not about a partition"),
        ("partition", "int32", "partition, -1 when not about a partition"),
        (
            "broker",
            "int32",
            "the broker the row is about, -1 for none: a fault's broker, an election's new "
            "leader, the broker that left or joined an ISR",
        ),
        ("fault", "string", "fault kind on fault rows (crash_broker, pause, ...), '' otherwise"),
        ("group", "string", "consumer group id on group rows, '' otherwise"),
        (
            "generation",
            "int32",
            "group generation: on rebalance_start the one the rebalance leaves, on "
            "rebalance_end and partitions_assigned the new one; -1 when none",
        ),
        ("member", "string", "consumer node name on member rows, '' otherwise"),
        (
            "epoch",
            "int32",
            "leader epoch on election and leader_resumed rows, controller epoch on "
            "controller_change rows, producer epoch on producer_epoch_bump rows; -1 otherwise",
        ),
        (
            "outcome",
            "string",
            "fault rows: what it did for clients (unreachable, reachable, ''); elections: the "
            "election kind (offline, preferred, controlled_shutdown, ...); rebalance_end: "
            "how it ended (stable, empty, coordinator_moved, ...); else ''",
        ),
        ("duration_s", "float64", "rebalance_end: time since its rebalance_start, s; else NaN"),
        ("detail", "string", "what happened, for people (no metric reads it)"),
    ),
    "timeseries": _cols(
        ("time_s", "float64", "end of the interval, s"),
        (
            "produced_msgs_s",
            "float64",
            "records of the batches producers closed (as produced_messages) per second, each "
            "batch counted at its first record's arrival",
        ),
        ("acked_msgs_s", "float64", "records acknowledged per second"),
        ("consumed_msgs_s", "float64", "records polled by consumers per second (all groups)"),
        ("produce_latency_p99_ms", "float64", "p99 produce latency of batches acked, ms"),
        ("max_consumer_lag", "int64", "largest lag of any group on any partition, records"),
        ("under_replicated_partitions", "int32", "partitions whose ISR is smaller than RF"),
    ),
    "nodes": _cols(
        ("time_s", "float64", "end of the interval, s (the timeseries' intervals)"),
        ("node", "string", "network node: broker-0, a client (app-0, billing-1), zookeeper"),
        (
            "nic_out_mb_s",
            "float64",
            "bytes of messages the node sent in the interval (requests, responses), MB/s (10^6 "
            "bytes), counted when sent; TCP/IP headers and Ethernet framing not counted",
        ),
        ("nic_in_mb_s", "float64", "bytes of messages delivered to the node in the interval, MB/s"),
        (
            "nic_out_utilisation",
            "float64",
            "the wire time of what the node sent in the interval (the messages and their "
            "packets' headers and framing, 90 bytes per 1,448) over the interval: 1 is the line "
            "rate, about 0.94 of it in nic_out_mb_s; above 1 the send queue grew in the interval",
        ),
        (
            "nic_in_utilisation",
            "float64",
            "the same for what was sent to the node in the interval (counted when sent)",
        ),
        (
            "nic_out_backlog_ms",
            "float64",
            "the sending NIC's queue at the end of the interval: time until it is free, ms",
        ),
        ("nic_in_backlog_ms", "float64", "the receiving NIC's queue likewise, ms"),
        (
            "disk_append_mb_s",
            "float64",
            "brokers: bytes appended to the logs (page cache) in the interval, MB/s; NaN for "
            "nodes without a disk",
        ),
        (
            "dirty_mb",
            "float64",
            "brokers: bytes not yet durable (dirty or under writeback) at the end, MB; else NaN",
        ),
        (
            "cpu_busy",
            "float64",
            "brokers and producers: CPU seconds per second used by the node's modelled threads in "
            "the interval (cores' worth; a broker's network threads, request handlers and replica "
            "fetchers, a producer's application and sender threads), counted when the work is "
            "handed to a thread; NaN for nodes without a modelled CPU",
        ),
        (
            "cpu_utilisation",
            "float64",
            "cpu_busy over the node's cores (cluster.hardware.cpu_cores): 1 is every core busy; "
            "NaN when cpu_cores is null (no contention) or the node has no modelled CPU",
        ),
    ),
    "pauses": _cols(
        ("group", "string", "consumer group id"),
        ("topic", "string", "topic"),
        ("partition", "int32", "partition number"),
        (
            "max_pause_s",
            "float64",
            "longest time records of the partition waited, acknowledged and unconsumed, with no "
            "member of the group polling any (sim.availability.partition_pauses), s",
        ),
        ("from_s", "float64", "when that longest pause began, s (NaN when records never waited)"),
    ),
    "produce_stalls": _cols(
        ("topic", "string", "topic"),
        ("partition", "int32", "partition number (one row per partition producers wrote to)"),
        (
            "max_stall_s",
            "float64",
            "longest time records sent to the partition waited for an answer while no batch of "
            "it was acknowledged without error: a write outage, whatever its cause "
            "(sim.availability.produce_stalls), s",
        ),
        ("from_s", "float64", "when that longest stall began, s (NaN when nothing waited)"),
    ),
    "liveness": _cols(
        (
            "item",
            "string",
            "what must recover after the last fault heals: leaders, isr, producer <node>, "
            "group <id> (Stable), lag <id> (caught up), mirror <source>-><target> (copied what "
            "its source acknowledged; several clusters' items carry their cluster) (sim.liveness)",
        ),
        ("recovered_s", "float64", "when it recovered, s; NaN for never"),
        ("bound_s", "float64", "how long after the heal it may take, from the settings, s"),
        ("violation", "string", "what went wrong, '' when it recovered within its bound"),
    ),
    "log": _cols(
        ("topic", "string", "topic"),
        ("partition", "int32", "partition number"),
        ("base_offset", "int64", "offset of the batch's first record in the final log"),
        ("count", "int32", "records in the stored batch"),
        ("batch_id", "int64", "the produced batch stored here (see produced)"),
        ("leader_epoch", "int32", "leader epoch that appended the batch"),
        (
            "producer_epoch",
            "int16",
            "producer epoch the batch was stored with (an idempotent producer bumps it after a "
            "batch fails for good, KIP-360)",
        ),
        (
            "base_sequence",
            "int32",
            "first sequence number the batch was stored with, -1 without idempotence (after an "
            "epoch bump a batch may be stored with another than its first send's, see produced)",
        ),
    ),
    "producers": _cols(
        ("producer", "string", "producer client name, e.g. app-0 (one row per client)"),
        (
            "offered",
            "int64",
            "records the application passed to send(): the workload's arrivals before the end "
            "of the run (while send() blocks for memory, the records arriving behind it too); "
            "always acked + failed + pending (checked by the audit)",
        ),
        (
            "acked",
            "int64",
            "records of its batches acknowledged without error (acked error ''; with acks=0 "
            "every batch sent, base_offset -1)",
        ),
        (
            "failed",
            "int64",
            "records of its batches that failed for good (acked error neither '' nor SPLIT; "
            "per error in table failures)",
        ),
        (
            "pending",
            "int64",
            "records with no final outcome at the end of the run: pending_blocked + "
            "pending_queued + pending_in_flight",
        ),
        (
            "pending_blocked",
            "int64",
            "records send() waits on for buffer.memory (the first) and those arrived behind it",
        ),
        (
            "pending_queued",
            "int64",
            "records in the producer, neither blocked nor in flight: in the accumulator (in a "
            "batch being filled or lingering, or waiting to be retried or sent after a split), "
            "or arrived since the producer's last round (the model appends them, or fails those "
            "send() refuses as too large, at its next round)",
        ),
        (
            "pending_in_flight",
            "int64",
            "records in produce requests not answered for good yet (acks=0: not yet off the "
            "producer's NIC)",
        ),
    ),
    "assignments": _cols(
        ("time_s", "float64", "when the member's coordinator took or gave up the partition, s"),
        ("group", "string", "consumer group id"),
        ("member", "string", "consumer node name, e.g. billing-1"),
        (
            "generation",
            "int32",
            "assigned: the generation of the assignment; revoked, lost: the member's last "
            "generation (-1 before its first)",
        ),
        ("topic", "string", "topic"),
        ("partition", "int32", "partition number"),
        (
            "action",
            "string",
            "assigned: the partition is in the member's new assignment (one row per partition "
            "of it, kept ones too: ConsumerCoordinator.onJoinComplete); revoked: the member gave "
            "it up (eager before rejoining, cooperative when it moved, on close); lost: dropped "
            "without a valid generation (onPartitionsLost)",
        ),
    ),
    "failures": _cols(
        ("producer", "string", "producer client name"),
        ("error", "string", "the final error, as in acked (never '' or SPLIT)"),
        ("batches", "int64", "batches of the producer that failed for good with this error"),
        ("records", "int64", "records in them"),
    ),
    "deserialization_errors": _cols(
        ("time_s", "float64", "when poll() returned the records, s"),
        ("group", "string", "consumer group"),
        ("member", "string", "consumer node name"),
        ("topic", "string", "topic"),
        ("partition", "int32", "partition number"),
        ("first_offset", "int64", "offset of the first record of the run"),
        ("count", "int32", "records in the run: their values throw in the deserializer"),
        ("schema_id", "int64", "schema-registry id in their value headers"),
        (
            "error",
            "string",
            "SCHEMA_MISMATCH: the group's reader_schema cannot resolve the writer schema (Avro "
            "schema resolution); SCHEMA_UNAVAILABLE: the registry gave no writer schema in time",
        ),
    ),
    "log_offsets": _cols(
        ("topic", "string", "topic"),
        ("partition", "int32", "partition number"),
        ("broker", "int32", "broker whose replica is the final log (see log)"),
        (
            "log_start_offset",
            "int64",
            "first offset of the final log: retention deleted the records below it",
        ),
        ("high_watermark", "int64", "high watermark of the final log"),
        ("log_end_offset", "int64", "offset after the final log's last record"),
    ),
    "mirrors": _cols(
        ("time_s", "float64", "when the sample was taken, s (every time-series interval)"),
        ("mirror", "string", "the mirror, <source>-><target> (e.g. east->west)"),
        ("source_topic", "string", "the source topic, <cluster>/<topic> (e.g. east/orders)"),
        ("partition", "int32", "partition number, the same in source and remote topic"),
        ("topic", "string", "the remote topic, <cluster>/<topic> (e.g. west/east.orders)"),
        (
            "mirrored_records",
            "int64",
            "source offset up to which the records are in the remote topic, committed (below "
            "its high watermark): the end of the source records of its last committed mirrored "
            "batch; the records mirrored when mirroring started at offset 0",
        ),
        (
            "lag_records",
            "int64",
            "replication lag: the source partition's high watermark less mirrored_records",
        ),
        (
            "lag_s",
            "float64",
            "replication lag in time: how long ago the source leader appended the oldest "
            "record not yet committed in the remote topic, s (0 when none)",
        ),
    ),
    "mirrored_batches": _cols(
        ("mirror", "string", "the mirror, <source>-><target>"),
        ("batch_id", "int64", "a batch the mirror's producer sent to the remote topic (produced)"),
        ("index", "int32", "position in the batch of the run's first record"),
        ("source_topic", "string", "where the run's records came from, <cluster>/<topic>"),
        ("source_partition", "int32", "their source partition"),
        ("source_offset", "int64", "the source offset of the run's first record"),
        ("count", "int32", "records in the run: consecutive source offsets"),
    ),
    "checkpoints": _cols(
        ("time_s", "float64", "when the mirror's checkpoint task emitted it, s"),
        ("mirror", "string", "the mirror, <source>-><target>"),
        ("group", "string", "the source's consumer group"),
        ("topic", "string", "the remote topic, <target>/<source>.<topic>"),
        ("partition", "int32", "partition number (the same in source and remote topic)"),
        ("source_topic", "string", "the source topic, <source>/<topic>"),
        ("upstream_offset", "int64", "the group's committed offset in the source partition"),
        (
            "downstream_offset",
            "int64",
            "where it resumes in the remote partition: translated by the offset syncs "
            "(OffsetSyncStore.translateDownstream)",
        ),
    ),
    "failovers": _cols(
        ("time_s", "float64", "when the group failed over, s"),
        ("group", "string", "the consumer group"),
        ("source", "string", "the cluster it left"),
        ("target", "string", "the cluster it moved to"),
        ("topic", "string", "a remote topic it reads there, <target>/<source>.<topic>"),
        ("partition", "int32", "partition number"),
        ("offset", "int64", "where it resumes in the remote partition; -1: auto.offset.reset"),
        (
            "origin",
            "string",
            "where that offset came from: committed (in the target already: "
            "sync.group.offsets.enabled), checkpoint (the last checkpoint, committed at the "
            "failover) or auto.offset.reset",
        ),
    ),
    "failover_audit": _cols(
        ("group", "string", "a consumer group that failed over"),
        ("source_topic", "string", "a topic it read before, <source>/<topic>"),
        ("partition", "int32", "partition number (the same in the remote topic)"),
        ("remote_topic", "string", "the topic it reads after, <target>/<source>.<topic>"),
        (
            "records",
            "int64",
            "source records: those of the source's final log and those mirrored, from the first "
            "the group read in the source on",
        ),
        ("read_in_source", "int64", "of them, read by the group in the source"),
        ("read_in_target", "int64", "of them, read by the group in the remote topic"),
        ("reread", "int64", "of them, read in both: duplicates the failover caused"),
        ("unread", "int64", "of them, read in neither: the RPO in records"),
        ("unread_mirrored", "int64", "of the unread, those the remote topic holds"),
        (
            "rpo_s",
            "float64",
            "from when the oldest unread record's batch was closed for sending to the "
            "failover, s (0 when none is unread)",
        ),
    ),
}

#: Summary fields and what each means.
SUMMARY_FIELDS: dict[str, str] = {
    "offered_messages": "records the application passed to send(), all producers: the "
    "workload's arrivals before the end of the run; always acked_messages + failed_messages + "
    "pending_messages, which the audit checks per producer (from producers)",
    "produced_messages": "records in the batches producers closed, sent or failed unsent (from "
    "produced; a SPLIT batch's records count in the batches split from it): offered_messages "
    "less the records not yet in a closed batch (still in the accumulator's open batches or "
    "blocked in send())",
    "acked_messages": "records acknowledged without error, acks=0 included (from acked)",
    "failed_messages": "records whose send failed for good: DELIVERY_TIMEOUT, BUFFER_EXHAUSTED, "
    "RECORD_TOO_LARGE or an error not retried (from acked; per producer and error in failures)",
    "pending_messages": "records offered with no final outcome when the run ended: blocked in "
    "send(), in the producer's accumulator, or in flight (from producers)",
    "consumed_messages": "records polled by consumers, all groups (from consumed)",
    "undeserializable_messages": "records polled whose values the consumer's deserializer could "
    "not read, skipped by the application, all groups (from deserialization_errors)",
    "unconsumed_messages": "per consumer group, records acknowledged without error and stored "
    "in the final log of a partition of a topic the group subscribes to that no member of the "
    "group received, summed over groups (audit). Lost records (lost_acked_messages) are not "
    "in it, nor are records acknowledged with an error; records the group had not reached "
    "when the run ended are, so it means most after a drain (the producers stopped early)",
    "lost_acked_messages": "acknowledged records missing from the final logs, except those "
    "retention deleted (audit)",
    "duplicate_deliveries": "records a consumer group received more than once, all groups (audit)",
    "out_of_order": "per-partition order violations seen by consumers (audit)",
    "produce_latency_p50_ms": "median record latency, send() to ack, ms, of the batches sent "
    "from warmup_s on (from acked)",
    "produce_latency_p99_ms": "99th percentile record latency, send() to ack, ms, of the "
    "batches sent from warmup_s on (from acked); records never answered (pending_messages, "
    "failed_messages) are not in the latencies: read them beside these",
    "e2e_latency_p50_ms": "median record latency, send() to poll(), ms, of the records sent "
    "from warmup_s on (from consumed)",
    "e2e_latency_p99_ms": "99th percentile record latency, send() to poll(), ms, of the "
    "records sent from warmup_s on (from consumed)",
    "throughput_msgs_s": "records acknowledged from warmup_s to the end of the run, per "
    "simulated second",
    "leader_elections": "partition leader elections, __consumer_offsets included (events)",
    "unclean_elections": "elections of a leader outside the ISR (events)",
    "unavailable_partition_s": "partition-seconds without a leader clients could use: the "
    "duration_s of the partition_unavailable rows, summed, __consumer_offsets included (events). "
    "Leaderless partitions only: a partition whose leader is up but cannot acknowledge (acks=all "
    "waiting for a dead ISR member until the controller removes it) is not in it; "
    "max_produce_stall_s shows writes blocked for any reason",
    "rebalances": "consumer group rebalances after each group formed, all groups: "
    "rebalance_start rows, not counting a group's formation (a rebalance starting at generation "
    "0) and counting a rebalance carried on at a new coordinator once (events)",
    "rebalance_time_s": "time groups spent in those rebalances, each rebalance_start to the "
    "group's next rebalance_end (or the run's end), summed, s (events)",
    "max_partition_pause_s": "longest time any partition's acknowledged records waited "
    "unconsumed by a group that reads it while no member polled it, from each group's first "
    "poll on; the largest max_pause_s of the pauses table, s",
    "max_produce_stall_s": "longest time any partition's records waited for an answer while "
    "no batch of that partition was acknowledged without error: writes blocked for any reason "
    "(no leader; acks=all waiting for a dead ISR member until the controller removes it at its "
    "ZooKeeper session's expiry; min.insync.replicas not met); about one produce latency in "
    "steady state; the largest max_stall_s of the produce_stalls table, s (0 without any)",
    "max_consumer_lag": "largest lag of any group on any partition, records (timeseries)",
    "mirrored_messages": "distinct source records stored in the final logs of the remote topics "
    "mirrors write, all mirrors (audit across clusters)",
    "mirror_missing_messages": "records of a source partition's final log below the last one "
    "mirrored that its remote topic does not hold, all mirrors (audit across clusters)",
    "mirror_duplicate_messages": "extra copies of source records in the remote topics' final "
    "logs, all mirrors (audit across clusters)",
    "mirror_out_of_order": "runs of mirrored records stored in a remote partition that go back "
    "below the first one stored, or skip records while re-sending stored ones (source order "
    "broken; going back to re-send stored records, as a restarted task does, is not), all "
    "mirrors (audit across clusters)",
    "failover_reread_messages": "records a group that failed over read both in its source "
    "cluster and, mirrored, in the target, all failovers (failover_audit)",
    "failover_unread_messages": "source records such a group read in neither cluster: the RPO "
    "in records, all failovers (failover_audit)",
    "failover_unread_mirrored_messages": "of those, the records the remote topics held (a "
    "failover that skipped mirrored records), all failovers (failover_audit)",
    "failover_rpo_s": "the largest rpo_s of failover_audit: how old the oldest record a group "
    "never read was at its failover, s",
    "recovery_s": "time from the last fault's heal until every liveness item recovered, s; NaN "
    "without faults, when an item never recovered, or when a fault never healed (liveness)",
    "liveness_violations": "liveness items that did not recover within their bound (or whose "
    "producer failed records, but for records too large, or stalled after recovering); NaN when "
    "a fault never healed (liveness)",
}
#: Fields computed from the tables; the others come from the run's ``metrics``.
FROM_TABLES = frozenset(
    {
        "offered_messages",
        "pending_messages",
        "produced_messages",
        "acked_messages",
        "failed_messages",
        "consumed_messages",
        "undeserializable_messages",
        "produce_latency_p50_ms",
        "produce_latency_p99_ms",
        "e2e_latency_p50_ms",
        "e2e_latency_p99_ms",
        "throughput_msgs_s",
        "max_consumer_lag",
        "max_partition_pause_s",
        "max_produce_stall_s",
    }
)


#: The acked ``error`` of a batch the broker refused as too large and the producer split
#: (Sender.completeBatch on MESSAGE_TOO_LARGE): see TABLES["acked"].
SPLIT = "SPLIT"


def unsplit(produced: pd.DataFrame, acked: pd.DataFrame) -> pd.DataFrame:
    """The rows of ``produced`` that count its records once: all but the SPLIT batches (their
    records are in the batches split from them). ``produced`` itself when none was split."""
    if not len(acked):
        return produced
    split = acked.loc[acked["error"] == SPLIT, "batch_id"]
    if split.empty:
        return produced
    return produced[~produced["batch_id"].isin(split)]


def outcomes(produced: pd.DataFrame, acked: pd.DataFrame) -> pd.DataFrame:
    """Final outcomes per producer and error ('' for acknowledged): columns producer, error,
    batches, records, sorted. SPLIT is no outcome (its records go on in another batch); an
    acked row whose batch is not in ``produced`` is left out (the audit's accounting then
    finds its records missing)."""
    done = acked.loc[acked["error"] != SPLIT, ["batch_id", "error"]]
    rows = done.merge(produced[["batch_id", "producer", "count"]], on="batch_id")
    grouped = rows.groupby(["producer", "error"], sort=True)["count"]
    table = pd.DataFrame({"batches": grouped.size(), "records": grouped.sum()}).reset_index()
    return table.astype({"batches": "int64", "records": "int64"})


def producers_table(
    accounts: Sequence[tuple[str, int, int, int, int]],
    produced: pd.DataFrame,
    acked: pd.DataFrame,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Tables ``producers`` and ``failures`` at the end of a run, from each producer client's
    account (name, offered, pending_blocked, pending_queued, pending_in_flight) and the
    outcomes in ``produced`` and ``acked``."""
    found = outcomes(produced, acked)
    ok = found["error"] == ""
    acked_records = found[ok].groupby("producer")["records"].sum()
    failed_records = found[~ok].groupby("producer")["records"].sum()
    rows = [
        (
            name,
            offered,
            int(acked_records.get(name, 0)),
            int(failed_records.get(name, 0)),
            blocked + queued + in_flight,
            blocked,
            queued,
            in_flight,
        )
        for name, offered, blocked, queued, in_flight in accounts
    ]
    producers = pd.DataFrame(rows, columns=[c.name for c in TABLES["producers"]])
    return producers, found[~ok].reset_index(drop=True)


def empty_table(name: str) -> pd.DataFrame:
    """An empty table with the documented columns and dtypes."""
    return pd.DataFrame({c.name: pd.Series([], dtype=c.dtype) for c in TABLES[name]})


def _conform(name: str, frame: pd.DataFrame) -> pd.DataFrame:
    """Check a run's table against TABLES and cast to the documented dtypes."""
    expected = [c.name for c in TABLES[name]]
    if list(frame.columns) != expected:
        raise ValueError(f"table {name!r}: columns {list(frame.columns)} != documented {expected}")
    return frame.astype({c.name: c.dtype for c in TABLES[name]}).reset_index(drop=True)


def weighted_quantile(values: np.ndarray, weights: np.ndarray, q: float) -> float:
    """The q-quantile of ``values`` where each value stands for ``weights`` records.

    Per-batch latencies stand for every record of the batch; this avoids one array element per
    record. NaN when there is no weight.
    """
    keep = weights > 0
    values, weights = np.asarray(values)[keep], np.asarray(weights)[keep]
    if values.size == 0:
        return math.nan
    order = np.argsort(values, kind="stable")
    cumulative = np.cumsum(weights[order])
    rank = q * cumulative[-1]
    index = int(np.searchsorted(cumulative, rank, side="left"))
    return float(values[order][min(index, values.size - 1)])


def _ms(latencies_s: np.ndarray, counts: np.ndarray, q: float) -> float:
    """The q-quantile of per-batch latencies (s) weighted by their records, in ms."""
    return 1e3 * weighted_quantile(latencies_s, counts, q)


class Results:
    """What one run produced.

    tables: the DataFrames of :data:`TABLES`, by name (also attributes: ``results.acked``).
    metrics: summary fields measured by the run itself (audit, control plane).
    measured: names of the summary fields the run's model measures; the rest are NaN.
    warnings: one line each, things the user should know about the run (adjusted settings, ...).
    """

    def __init__(
        self,
        scenario: Scenario,
        tables: Mapping[str, pd.DataFrame] | None = None,
        metrics: Mapping[str, float] | None = None,
        measured: Sequence[str] = (),
        warnings: Sequence[str] = (),
    ) -> None:
        tables = dict(tables or {})
        unknown = set(tables) - set(TABLES)
        if unknown:
            raise ValueError(f"unknown tables {sorted(unknown)}; tables are {list(TABLES)}")
        bad = (set(measured) | set(metrics or {})) - set(SUMMARY_FIELDS)
        if bad:
            raise ValueError(f"unknown summary fields {sorted(bad)}")
        self.scenario = scenario
        self.tables = {n: _conform(n, tables[n]) if n in tables else empty_table(n) for n in TABLES}
        self.metrics = {k: float(v) for k, v in (metrics or {}).items()}
        self.measured = tuple(sorted(set(measured)))
        self.warnings = list(warnings)

    def __getattr__(self, name: str) -> pd.DataFrame:
        tables = self.__dict__.get("tables", {})
        if name in tables:
            return tables[name]
        raise AttributeError(name)

    def summary(self) -> dict[str, float]:
        """The fields of :data:`SUMMARY_FIELDS`; NaN for those the run did not measure."""
        computed = self._from_tables()
        out: dict[str, float] = {}
        for name in SUMMARY_FIELDS:
            if name not in self.measured:
                out[name] = math.nan
            elif name in FROM_TABLES:
                out[name] = computed[name]
            else:
                out[name] = self.metrics.get(name, math.nan)
        return out

    def latency_samples(self) -> dict[str, tuple[np.ndarray, np.ndarray]]:
        """The latencies the summary's percentiles are over, each with the records it stands
        for, of the records sent from ``warmup_s`` on: ``produce``, send() to ack (s) per batch
        acknowledged without error (from acked); ``e2e``, send() to poll() (s) per consumed row
        (from consumed). Also drawn by :func:`sim.plots.latency_cdf`."""
        acked = self.tables["acked"]
        ok = acked[acked["error"] == ""]
        counts = self.tables["produced"].set_index("batch_id")["count"]
        ok_counts = counts.reindex(ok["batch_id"]).to_numpy(dtype=float)
        consumed = self.tables["consumed"]
        warmup_s = self.scenario.warmup_s
        lat = ok["latency_s"].to_numpy(dtype=float)
        measured = ok["done_s"].to_numpy(dtype=float) - lat >= warmup_s
        e2e = consumed["e2e_latency_s"].to_numpy(dtype=float)
        e2e_measured = consumed["polled_s"].to_numpy(dtype=float) - e2e >= warmup_s
        e2e_counts = consumed["count"].to_numpy(dtype=float)
        return {
            "produce": (lat[measured], ok_counts[measured]),
            "e2e": (e2e[e2e_measured], e2e_counts[e2e_measured]),
        }

    def _from_tables(self) -> dict[str, float]:
        acked = self.tables["acked"]
        ok = acked[acked["error"] == ""]
        produced = self.tables["produced"]
        counts = produced.set_index("batch_id")["count"]
        ok_counts = counts.reindex(ok["batch_id"]).to_numpy(dtype=float)
        consumed = self.tables["consumed"]
        warmup_s = self.scenario.warmup_s
        samples = self.latency_samples()
        acked_after = float(np.nansum(ok_counts[ok["done_s"].to_numpy(dtype=float) >= warmup_s]))
        lag = self.tables["timeseries"]["max_consumer_lag"]
        pauses = self.tables["pauses"]["max_pause_s"]
        stalls = self.tables["produce_stalls"]["max_stall_s"]
        acked_messages = float(np.nansum(ok_counts))
        failed = acked[(acked["error"] != "") & (acked["error"] != SPLIT)]
        failed_messages = float(np.nansum(counts.reindex(failed["batch_id"]).to_numpy(float)))
        producers = self.tables["producers"]
        return {
            "offered_messages": float(producers["offered"].sum()),
            "pending_messages": float(producers["pending"].sum()),
            "produced_messages": float(unsplit(produced, acked)["count"].sum()),
            "acked_messages": acked_messages,
            "failed_messages": failed_messages,
            "consumed_messages": float(consumed["count"].sum()),
            "undeserializable_messages": float(
                self.tables["deserialization_errors"]["count"].sum()
            ),
            "produce_latency_p50_ms": _ms(*samples["produce"], 0.50),
            "produce_latency_p99_ms": _ms(*samples["produce"], 0.99),
            "e2e_latency_p50_ms": _ms(*samples["e2e"], 0.50),
            "e2e_latency_p99_ms": _ms(*samples["e2e"], 0.99),
            "throughput_msgs_s": acked_after / (self.scenario.duration_s - warmup_s),
            "max_consumer_lag": float(lag.max()) if len(lag) else math.nan,
            "max_partition_pause_s": float(pauses.max()) if len(pauses) else 0.0,
            "max_produce_stall_s": float(stalls.max()) if len(stalls) else 0.0,
        }

    def plot(self):
        """The run's dashboard: a matplotlib Figure of its time panels
        (:func:`sim.plots.dashboard`; ``figure.savefig("run.png")`` writes it)."""
        from sim.plots import dashboard

        return dashboard(self)

    # ---------------------------------------------------------------- persistence

    def save(self, directory: str | Path) -> Path:
        """Write ``<table>.parquet`` for each table, ``scenario.json`` and ``summary.json``."""
        out = Path(directory)
        out.mkdir(parents=True, exist_ok=True)
        for name, frame in self.tables.items():
            frame.to_parquet(out / f"{name}.parquet", index=False)
        (out / "scenario.json").write_text(json.dumps(self.scenario.to_dict(), indent=2) + "\n")
        report = {
            "summary": _json_floats(self.summary()),
            "metrics": _json_floats(self.metrics),
            "measured": list(self.measured),
            "warnings": self.warnings,
        }
        (out / "summary.json").write_text(json.dumps(report, indent=2) + "\n")
        return out

    @classmethod
    def load(cls, directory: str | Path) -> Results:
        """Read back what :meth:`save` wrote; the tables compare equal to the saved ones."""
        src = Path(directory)
        if not (src / "summary.json").is_file():
            raise ScenarioError("", f"{directory}: no saved results here (summary.json is missing)")
        report = json.loads((src / "summary.json").read_text())
        scenario = Scenario.from_dict(json.loads((src / "scenario.json").read_text()))
        tables = {name: pd.read_parquet(src / f"{name}.parquet") for name in TABLES}
        metrics = {k: math.nan if v is None else v for k, v in report["metrics"].items()}
        return cls(scenario, tables, metrics, report["measured"], report["warnings"])


def _json_floats(values: Mapping[str, float]) -> dict[str, float | None]:
    """NaN is not JSON: write it as null."""
    return {k: None if isinstance(v, float) and math.isnan(v) else v for k, v in values.items()}
