"""Checks that must always hold, asserted while a simulation runs (a debug flag; on in tests).

:class:`InvariantChecker` looks at every replica every ``interval_s`` of simulated time and
raises :class:`InvariantViolation` naming the partition, broker and time when:

- a replica's high watermark exceeds its log end offset (HW ≤ LEO);
- a leader's high watermark goes back within its leader epoch;
- two brokers lead the same partition at the same leader epoch (one leader per epoch);
- a log's offsets are not dense (each batch starts where the previous one ended);
- committed data is lost: a record below the highest high watermark any leader reached is
  missing, or different, in the log of the partition's leader — except after an unclean leader
  election, under legacy (pre-KIP-101) truncation, or after a power loss, where Kafka itself can
  lose committed data (the baseline then restarts from what the new leader has).

Enable it with ``sim.run(scenario, check_invariants=True)`` or the environment variable
``KAFKASIM_CHECK_INVARIANTS=1`` (the test suite sets it).
"""

from __future__ import annotations

import os
from collections.abc import Generator
from typing import TYPE_CHECKING, Any

import simpy

from sim.protocol import TopicPartition

if TYPE_CHECKING:
    from sim.world import World

ENV_FLAG = "KAFKASIM_CHECK_INVARIANTS"
#: Event kinds after which Kafka may lose committed data (the checker re-baselines).
LOSSY_EVENTS = ("unclean_leader_election", "power_loss_truncate")


def enabled_by_environment() -> bool:
    """Whether ``KAFKASIM_CHECK_INVARIANTS`` asks for the checks."""
    return os.environ.get(ENV_FLAG, "").lower() not in ("", "0", "false", "no")


class InvariantViolation(AssertionError):
    """An invariant of the model did not hold: a simulator bug, never a user error."""


class InvariantChecker:
    """Checks ``world`` every ``interval_s`` simulated seconds (see the module docstring)."""

    def __init__(self, world: World, interval_s: float = 0.01) -> None:
        self.world = world
        self.env: simpy.Environment = world.env
        self.interval_s = interval_s
        self._leader_hw: dict[tuple[TopicPartition, int, int, int], int] = {}
        self._committed: dict[TopicPartition, tuple[int, int]] = {}  # tp -> (offset, batch id)
        self._dense_upto: dict[tuple[int, TopicPartition], int] = {}
        self._events_seen = 0
        self.checks = 0

    def start(self) -> None:
        """Check from now on, every interval."""
        self.env.process(self._run())

    def _run(self) -> Generator[simpy.Event, Any, None]:
        while True:
            yield self.env.timeout(self.interval_s)
            self.check()

    def check(self) -> None:
        """Run every check once, now."""
        self.checks += 1
        if self._lossy_event_since_last_check():
            self._committed.clear()
            self._leader_hw.clear()  # a power-lost leader may come back lower at the same epoch
        elif self.world.scenario.cluster.legacy_hw_truncation:
            self._committed.clear()
        leaders: dict[tuple[TopicPartition, int], int] = {}
        newest: dict[TopicPartition, tuple[int, int, Any]] = {}  # tp -> (epoch, broker, partition)
        for broker in self.world.brokers:
            for tp, partition in broker.partitions.items():
                self._check_replica(broker.broker_id, tp, partition)
                if broker.running and partition.is_leader:
                    epoch = partition.leader_epoch
                    self._check_single_leader(leaders, tp, epoch, broker.broker_id)
                    self._check_leader_hw(broker, tp, partition)
                    if tp not in newest or epoch > newest[tp][0]:
                        newest[tp] = (epoch, broker.broker_id, partition)
        for tp, (_, broker_id, partition) in newest.items():
            self._check_committed(broker_id, tp, partition)  # a zombie at an older epoch may lag

    def _fail(self, what: str, tp: TopicPartition, broker: int) -> None:
        raise InvariantViolation(
            f"t={self.env.now:.6f}s {tp[0]}-{tp[1]} on broker-{broker}: {what}"
        )

    def _lossy_event_since_last_check(self) -> bool:
        events = self.world.metrics.events
        kinds = events.column("kind")
        new = kinds[self._events_seen :]
        self._events_seen = len(kinds)
        return any(kind in LOSSY_EVENTS for kind in new)

    def _check_replica(self, broker: int, tp: TopicPartition, partition) -> None:
        log = partition.log
        if log.high_watermark > log.log_end_offset:
            self._fail(f"HW {log.high_watermark} > LEO {log.log_end_offset}", tp, broker)
        entries = log.entries
        key = (broker, tp)
        start = min(self._dense_upto.get(key, 0), len(entries))
        start = max(start, 1, log.first_index)
        for i in range(start, len(entries)):
            if entries[i].base_offset != entries[i - 1].next_offset:
                self._fail(
                    f"offsets not dense: batch at {entries[i].base_offset} after one ending at "
                    f"{entries[i - 1].next_offset}",
                    tp,
                    broker,
                )
        self._dense_upto[key] = len(entries)

    def _check_single_leader(
        self, leaders: dict, tp: TopicPartition, epoch: int, broker: int
    ) -> None:
        other = leaders.setdefault((tp, epoch), broker)
        if other != broker:
            self._fail(f"broker-{other} also leads at epoch {epoch}", tp, broker)

    def _check_leader_hw(self, broker, tp: TopicPartition, partition) -> None:
        """Within one leader's term (epoch) and one run of its process: a broker restarted
        before its session expired may lead again at the same epoch, its HW back from the
        checkpoint file (Kafka does the same; the followers' fetches raise it again)."""
        log = partition.log
        key = (tp, partition.leader_epoch, broker.broker_id, broker.starts)
        before = self._leader_hw.get(key, 0)
        if log.high_watermark < before:
            self._fail(
                f"leader HW went back from {before} to {log.high_watermark}", tp, broker.broker_id
            )
        self._leader_hw[key] = log.high_watermark

    def _check_committed(self, broker: int, tp: TopicPartition, partition) -> None:
        """The newest leader holds the highest committed record seen so far; its HW then
        becomes the new baseline."""
        log = partition.log
        committed = self._committed.get(tp)
        if committed is not None and committed[0] >= log.log_start_offset:
            offset, batch_id = committed
            entry = log.entry_at(offset)
            if entry is None or entry.batch.batch_id != batch_id:
                found = "missing" if entry is None else f"batch {entry.batch.batch_id}"
                self._fail(
                    f"committed offset {offset} (batch {batch_id}) lost: {found} in the leader's "
                    f"log at epoch {partition.leader_epoch}",
                    tp,
                    broker,
                )
        if log.high_watermark > 0 and (committed is None or log.high_watermark - 1 > committed[0]):
            last = log.entry_at(log.high_watermark - 1)
            if last is not None:
                self._committed[tp] = (log.high_watermark - 1, last.batch.batch_id)
