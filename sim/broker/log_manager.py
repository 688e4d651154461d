"""A broker's log tasks (≈ Kafka 3.9's LogManager): ``kafka-log-retention`` and
``kafka-log-flusher``.

LogManager.startupWithConfigOverrides schedules ``kafka-log-retention`` after
``log.initial.task.delay.ms`` and then every ``log.retention.check.interval.ms``; each run
(LogManager.cleanupLogs) calls UnifiedLog.deleteOldSegments on every log whose topic's
``cleanup.policy`` does not include compact (:meth:`PartitionLog.delete_old_segments`). A
compacted log (``compact`` or ``compact,delete``, among them ``__consumer_offsets``) belongs to
the log cleaner, which compacts it and, with delete, applies retention to it too
(LogCleaner.cleanFilthiestLog); the cleaner is not modelled, so nothing of such a topic is
deleted.

Each log that loses segments gives a ``log_retention`` event (its new log start offset).

``kafka-log-flusher`` runs after the same initial delay and then every
``log.flush.scheduler.interval.ms`` (LogManager.flushDirtyLogs): each log not flushed for the
topic's ``flush.ms`` is flushed. With Kafka's default interval (Long.MAX_VALUE ms) it runs once,
at the initial delay. (Kafka also flushes a rolled segment in the background: not modelled.)
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import simpy

from sim.kafka_config import EffectiveConfig
from sim.metrics import Metrics

if TYPE_CHECKING:
    from sim.broker.replica_manager import ReplicaManager


class LogManager:
    """The log tasks of broker node ``name`` over the logs of ``replicas`` (its ReplicaManager,
    whose partitions are read at each run).

    config: the broker's ``log.retention.check.interval.ms``, ``log.flush.scheduler.interval.ms``
    (periods) and ``log.initial.task.delay.ms`` (first runs). topic_configs: each topic's
    ``cleanup.policy`` and ``flush.ms``.
    """

    def __init__(
        self,
        env: simpy.Environment,
        name: str,
        replicas: ReplicaManager,
        config: EffectiveConfig,
        topic_configs: dict[str, EffectiveConfig],
        metrics: Metrics,
    ) -> None:
        self.env = env
        self.name = name
        self.replicas = replicas
        self.retention_check_s = config.s("log.retention.check.interval.ms")
        self.flush_check_s = config.s("log.flush.scheduler.interval.ms")
        self.initial_delay_s = config.s("log.initial.task.delay.ms")
        self.deletable_topics = {
            topic for topic, cfg in topic_configs.items() if "compact" not in cfg["cleanup.policy"]
        }
        self.flush_s = {topic: cfg.s("flush.ms") for topic, cfg in topic_configs.items()}
        self.metrics = metrics
        self.paused = False  # a paused process runs no timers
        self._tasks: list[simpy.Process] = []

    def start(self) -> None:
        """Schedule the ``kafka-log-retention`` and ``kafka-log-flusher`` tasks (the broker
        process started)."""
        self._tasks = [
            self.env.process(self._schedule(self.cleanup_logs, self.retention_check_s)),
            self.env.process(self._schedule(self.flush_dirty_logs, self.flush_check_s)),
        ]

    def stop(self) -> None:
        """The broker process stopped: the tasks end."""
        for task in self._tasks:
            if task.is_alive:
                task.interrupt("stop")
        self._tasks = []

    def _schedule(self, task: Callable[[], object], period_s: float):
        """KafkaScheduler.schedule: ``task`` after the initial delay, then every ``period_s``."""
        try:
            yield self.env.timeout(self.initial_delay_s)
            while True:
                if not self.paused:
                    task()
                yield self.env.timeout(period_s)
        except simpy.Interrupt:
            return

    def cleanup_logs(self) -> int:
        """LogManager.cleanupLogs: deleteOldSegments on each log of a topic without compact.
        Returns the number of segments deleted."""
        now = self.env.now
        total = 0
        for tp, partition in self.replicas.partitions.items():
            if tp[0] not in self.deletable_topics:
                continue
            log = partition.log
            deleted = log.delete_old_segments(now)
            if deleted:
                total += deleted
                detail = f"{deleted} segments deleted; log start offset {log.log_start_offset}"
                self.metrics.event(now, "log_retention", self.name, tp[0], tp[1], detail)
        return total

    def flush_dirty_logs(self) -> None:
        """LogManager.flushDirtyLogs: flush each log not flushed for its topic's ``flush.ms``
        (the flusher thread waits for the disk; no request does)."""
        now = self.env.now
        replicas = self.replicas
        for tp, partition in replicas.partitions.items():
            if now - partition.log.last_flush_s >= self.flush_s[tp[0]]:
                replicas.flush(partition)
