"""A broker's log retention task (≈ Kafka 3.9's LogManager, its ``kafka-log-retention`` task).

LogManager.startupWithConfigOverrides schedules ``kafka-log-retention`` after
``log.initial.task.delay.ms`` and then every ``log.retention.check.interval.ms``; each run
(LogManager.cleanupLogs) calls UnifiedLog.deleteOldSegments on every log whose topic's
``cleanup.policy`` does not include compact (:meth:`PartitionLog.delete_old_segments`). A
compacted log (``compact`` or ``compact,delete``, among them ``__consumer_offsets``) belongs to
the log cleaner, which compacts it and, with delete, applies retention to it too
(LogCleaner.cleanFilthiestLog); the cleaner is not modelled, so nothing of such a topic is
deleted.

Each log that loses segments gives a ``log_retention`` event (its new log start offset).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import simpy

from sim.kafka_config import EffectiveConfig
from sim.metrics import Metrics
from sim.protocol import TopicPartition

if TYPE_CHECKING:
    from sim.broker.partition import Partition


class LogManager:
    """The retention task of broker node ``name`` over its replicas' logs, ``partitions`` (the
    ReplicaManager's dict, read at each run).

    config: the broker's ``log.retention.check.interval.ms`` (period) and
    ``log.initial.task.delay.ms`` (first run). topic_configs: each topic's ``cleanup.policy``.
    """

    def __init__(
        self,
        env: simpy.Environment,
        name: str,
        partitions: dict[TopicPartition, Partition],
        config: EffectiveConfig,
        topic_configs: dict[str, EffectiveConfig],
        metrics: Metrics,
    ) -> None:
        self.env = env
        self.name = name
        self.partitions = partitions
        self.period_s = config.s("log.retention.check.interval.ms")
        self.initial_delay_s = config.s("log.initial.task.delay.ms")
        self.deletable_topics = {
            topic for topic, cfg in topic_configs.items() if "compact" not in cfg["cleanup.policy"]
        }
        self.metrics = metrics
        self.paused = False  # a paused process runs no timers
        self.process: simpy.Process | None = None

    def start(self) -> None:
        """Schedule the ``kafka-log-retention`` task (the broker process started)."""
        self.process = self.env.process(self._log_retention())

    def stop(self) -> None:
        """The broker process stopped: the task ends."""
        if self.process is not None and self.process.is_alive:
            self.process.interrupt("stop")
        self.process = None

    def _log_retention(self):
        """The ``kafka-log-retention`` task: cleanup_logs after the initial delay, then every
        period."""
        try:
            yield self.env.timeout(self.initial_delay_s)
            while True:
                if not self.paused:
                    self.cleanup_logs()
                yield self.env.timeout(self.period_s)
        except simpy.Interrupt:
            return

    def cleanup_logs(self) -> int:
        """LogManager.cleanupLogs: deleteOldSegments on each log of a topic without compact.
        Returns the number of segments deleted."""
        now = self.env.now
        total = 0
        for tp, partition in self.partitions.items():
            if tp[0] not in self.deletable_topics:
                continue
            log = partition.log
            deleted = log.delete_old_segments(now)
            if deleted:
                total += deleted
                detail = f"{deleted} segments deleted; log start offset {log.log_start_offset}"
                self.metrics.event(now, "log_retention", self.name, tp[0], tp[1], detail)
        return total
