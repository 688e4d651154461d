"""A Kafka consumer (≈ Kafka 3.9 ``ClassicKafkaConsumer``), subscribed through its group or
with a manual assignment.

The application thread (``_poll_cycle``) repeats: ``poll()`` returns up to ``max.poll.records``
buffered records, or long-polls until a fetch completes; each poll records one ``consumed`` row
per stored batch it returns from, then processing takes ``count × processing_s`` before the next
poll. As in Kafka, fetches are sent from ``poll()`` only: for partitions without buffered data,
before blocking and again just before returning records, so the next fetch runs while the
application processes. With a ``group.id``, ``poll()`` first advances group membership without
blocking (:class:`ConsumerCoordinator`: join, sync, auto-commit to the group coordinator every
``auto.commit.interval.ms``), and gives partitions without a position one: the committed offset
(OffsetFetch), else ``auto.offset.reset`` through ListOffsets. A SimPy process keeps the
partition leaders fresh (:mod:`sim.clients.metadata`); another sends heartbeats once in a group.

``close()`` (``ClassicKafkaConsumer.close()``: a timer of min(30 s, ``request.timeout.ms``))
commits the positions synchronously, retrying retriable failures until the timer ends, revokes
the partitions, leaves the group (dynamic members) and stops; ``crash()`` stops at once with
nothing sent (the world resets its connections).

After a leader change a position that follows a consumed record is validated before it is fetched
again (KIP-320, :mod:`.offset_fetcher`), and so is a committed offset, which carries the epoch of
the last record consumed (the committedLeaderEpoch of OffsetCommit and OffsetFetch): when the
new leader's log ends below it for the record's epoch (an unclean election or a power loss
truncated it), the position moves to that end offset, the divergence point, with a
``log_truncation`` event (``auto.offset.reset=none``: the partition fails,
``log_truncation_error``), rather than meeting OFFSET_OUT_OF_RANGE and resetting by
``auto.offset.reset``.

A fetch error that names the partition's current leader (KIP-951) updates the metadata at once.

Not modelled: fetch sessions, preferred read replicas, jitter of the backoffs, the poll timeout
the application passes.
Times are simulated seconds.
"""

from __future__ import annotations

from collections.abc import Generator
from typing import Any

import simpy

from sim.clients.consumer.consumer_coordinator import ConsumerCoordinator
from sim.clients.consumer.consumer_network_client import ClusterConnectionStates, Wakeup
from sim.clients.consumer.fetcher import Chunk, Fetcher
from sim.clients.consumer.offset_fetcher import OffsetFetcher
from sim.clients.consumer.subscription_state import LogTruncation, SubscriptionState
from sim.clients.kafka_avro_deserializer import KafkaAvroDeserializer
from sim.clients.metadata import Metadata
from sim.events import EventKind
from sim.kafka_config import EffectiveConfig
from sim.metrics import Metrics
from sim.protocol import FetchPartitionData, TopicPartition
from sim.timers import Signal, call_later

#: ConsumerUtils.DEFAULT_CLOSE_TIMEOUT_MS (close() without a timeout), seconds.
DEFAULT_CLOSE_TIMEOUT_S = 30.0


class KafkaConsumer:
    """Consumer node ``name`` (e.g. ``billing-0``) of group ``group_id``.

    config: effective consumer properties. processing_s: application time per record, s.
    bootstrap: broker node names asked for metadata, in order.
    """

    def __init__(
        self,
        env: simpy.Environment,
        name: str,
        group_id: str,
        net,
        config: EffectiveConfig,
        processing_s: float,
        metrics: Metrics,
        bootstrap: list[str],
    ) -> None:
        if processing_s < 0:
            raise ValueError(f"{name}: processing_s must be >= 0, got {processing_s}")
        self.env = env
        self.name = name
        self.group_id = group_id
        self.config = config
        self.processing_s = processing_s
        self.metrics = metrics
        self.subscriptions = SubscriptionState()
        self._wakeup = Wakeup(env)
        connections = ClusterConnectionStates()
        self.metadata = Metadata(env, net, name, bootstrap, config, self._wakeup.notify)
        self.offset_fetcher = OffsetFetcher(
            env,
            net,
            name,
            config,
            self.subscriptions,
            self.metadata,
            connections,
            self._wakeup.notify,
            self._on_log_truncation,
        )
        self.fetcher = Fetcher(
            env,
            net,
            name,
            config,
            self.subscriptions,
            self.metadata,
            connections,
            self._on_offset_out_of_range,
            self.offset_fetcher.validate_positions_on_metadata_change,
            self._wakeup.notify,
        )
        self.coordinator: ConsumerCoordinator | None = None
        if config["group.id"] is not None:
            self.coordinator = ConsumerCoordinator(
                env, net, name, group_id, config, bootstrap, self.subscriptions, self.metadata,
                metrics, self._wakeup.notify,
            )  # fmt: skip
        self._reset_policy: str = config["auto.offset.reset"]
        self._retry_backoff_s = config.s("retry.backoff.ms")
        # ClassicKafkaConsumer.createTimerForRequest: min(close timeout, request.timeout.ms)
        self._close_timeout_s = min(DEFAULT_CLOSE_TIMEOUT_S, config.s("request.timeout.ms"))
        self.started = False
        self.stopped = False
        self.closing = False
        #: stands in for the Timeout of each processing time (see sim.timers.call_later)
        self._processing = Signal(env)
        self._after_processing = (self._poll_cycle,)
        self._close_steps: Generator[Signal, Any, None] | None = None
        #: the value deserializer's registry client when values carry schema ids, else None
        self.deserializer: KafkaAvroDeserializer | None = None

    # ------------------------------------------------------------------ public API

    @property
    def positions(self) -> dict[TopicPartition, int]:
        """Offset of the next record poll() returns, per partition that has a position."""
        return {tp: position.offset for tp, position in self.subscriptions.all_consumed().items()}

    @property
    def committed(self) -> dict[TopicPartition, int]:
        """Offsets the group coordinator acknowledged from this consumer, per partition."""
        if self.coordinator is None:
            return {}
        return {tp: committed.offset for tp, committed in self.coordinator.committed.items()}

    def subscribe(self, topics: list[str]) -> None:
        """Let the group assign partitions of ``topics`` (``KafkaConsumer.subscribe``)."""
        if self.coordinator is None:
            raise ValueError(f"{self.name}: subscribe() needs a group.id")
        self.subscriptions.subscribe(topics)
        self.metadata.topics = sorted(set(topics))
        self.metadata.request_update()
        self._wakeup.notify()

    def seek(self, tp: TopicPartition, offset: int) -> None:
        """Fetch ``tp`` from ``offset`` next (``KafkaConsumer.seek``); ``tp`` must be assigned."""
        self.subscriptions.seek(tp, offset, self.metadata.leader_epoch(tp))
        self._wakeup.notify()

    def assign(self, partitions: list[tuple[str, int]]) -> None:
        """Set the partitions to consume (``KafkaConsumer.assign``); an empty list is allowed."""
        self.subscriptions.assign_from_user(partitions)
        self.metadata.topics = sorted({topic for topic, _ in partitions})
        self.metadata.request_update()
        self._wakeup.notify()

    def start(self, at_s: float = 0.0) -> None:
        """Start polling (and the metadata updater) at simulated time ``at_s``, s."""
        if self.started:
            raise RuntimeError(f"{self.name}: already started")
        self.started = True
        self.env.process(self._start(max(at_s - self.env.now, 0.0)))

    def stop(self) -> None:
        """Stop polling, fetching and heartbeating; answers still in flight are ignored."""
        self.stopped = True
        self.fetcher.stopped = True
        self.offset_fetcher.stopped = True
        self._wakeup.notify()
        self.metadata.stop()
        if self.coordinator is not None:
            self.coordinator.close_heartbeat_thread()

    def crash(self) -> None:
        """The process dies: nothing more is sent (no commit, no LeaveGroup)."""
        self.stop()

    def close(self) -> None:
        """``KafkaConsumer.close()``: after the current poll and processing, commit the positions
        (for up to min(30 s, ``request.timeout.ms``)), revoke, leave the group if dynamic, stop."""
        if not self.started or self.stopped:
            self.stop()
            return
        self.closing = True
        self._wakeup.notify()

    def lag(self) -> int:
        """Max over assigned partitions of (last known high watermark - position), records."""
        lags = [
            s.high_watermark - s.position
            for s in self.subscriptions.states.values()
            if s.high_watermark >= 0 and s.position >= 0
        ]
        return max(max(lags, default=0), 0)

    def on_request(self, request: Any, source: str, respond: Any) -> None:
        """Consumers serve no requests."""
        raise TypeError(
            f"{self.name}: a consumer receives no requests, got {type(request).__name__}"
        )

    # ------------------------------------------------------------------ the application thread
    #
    # A process starts it; from its first poll on it runs in the callbacks of the events it waits
    # for (a wakeup, the end of processing) rather than as a process resumed by them, which
    # costs a SimPy process switch twice per poll cycle. Each callback runs where the process
    # would have resumed: the same events in the same order.

    def _start(self, delay_s: float) -> Generator[simpy.Event, Any, None]:
        """The process that starts the application thread ``delay_s`` seconds from now, s."""
        if delay_s > 0:
            yield self.env.timeout(delay_s)
        if self.stopped:
            return
        if self.coordinator is not None:
            self.coordinator.next_auto_commit_s = (
                self.env.now + self.coordinator.auto_commit_interval_s
            )
        self.env.process(self.metadata.run())
        self._poll_cycle()

    def _poll_cycle(self, _: object = None) -> None:
        """``poll()`` (``ClassicKafkaConsumer.poll`` with no timeout) until it blocks, when
        ``_on_woken`` carries on, or returns records to process; once closing, ``close()``."""
        while not self.stopped and not self.closing:
            self._update_assignment_metadata()
            chunks = self.fetcher.collect_fetch()
            if not chunks:
                self.fetcher.send_fetches()
                self._wakeup.wait_until(self._poll_deadline_s()).callbacks.append(self._on_woken)
                return
            if self._process(chunks):
                return
        if self.closing and not self.stopped:
            self._close_steps = self._close()
            self._continue_close()

    def _on_woken(self, _: object) -> None:
        """``poll()`` after its wait: it returns the records that came, else polls again."""
        if not self.stopped:
            chunks = self.fetcher.collect_fetch()
            if chunks and self._process(chunks):
                return
        self._poll_cycle()

    def _process(self, chunks: list[Chunk]) -> bool:
        """``poll()`` returns ``chunks``: fetch while they are processed (pipelining), record
        them, and process them for count × processing_s; True while that lasts (then
        ``_poll_cycle`` runs again)."""
        self.fetcher.send_fetches()
        deserializer = self.deserializer
        if deserializer is None:
            processing_s = self._record(chunks) * self.processing_s
        else:
            missing = deserializer.missing({entry.batch.schema_id for _, entry, _, _ in chunks})
            if missing:  # poll() waits in the deserializer for the writer schemas
                deserializer.look_up(missing, lambda: self._after_lookup(chunks))
                return True
            processing_s = self._deserialize(chunks)
        if processing_s <= 0:
            return False
        call_later(self.env, processing_s, self._processing, self._after_processing)
        return True

    def _after_lookup(self, chunks: list[Chunk]) -> None:
        """The writer schemas ``chunks`` waited for came (or not): process them, then poll."""
        if self.stopped:
            return
        processing_s = self._deserialize(chunks)
        if processing_s <= 0:
            self._poll_cycle()
        else:
            call_later(self.env, processing_s, self._processing, self._after_processing)

    def _deserialize(self, chunks: list[Chunk]) -> float:
        """Record ``chunks``, and a ``deserialization_errors`` row per chunk whose values throw
        (the application skips them); the application's time for them, s (decoding each record,
        then processing the readable ones)."""
        deserializer = self.deserializer
        total = self._record(chunks)
        unreadable = 0
        for tp, entry, first_offset, count in chunks:
            error = deserializer.error_of(entry.batch.schema_id)
            if error is not None:
                unreadable += count
                self.metrics.deserialization_errors.append_row(
                    (self.env.now, self.group_id, self.name, tp[0], tp[1], first_offset, count,
                     entry.batch.schema_id, error)
                )  # fmt: skip
        return total * deserializer.decode_s + (total - unreadable) * self.processing_s

    def _close(self) -> Generator[Signal, Any, None]:
        """ClassicKafkaConsumer.close(timeout): the coordinator's close under the close timer
        (commit synchronously, revoke, leave), then stop."""
        if self.coordinator is not None:
            deadline = self.env.now + self._close_timeout_s
            yield from self.coordinator.close(deadline, self._wakeup.wait_until)
        self.stop()

    def _continue_close(self, _: object = None) -> None:
        """Run ``_close`` to its next wait, whose event calls this again when it fires."""
        event = next(self._close_steps, None)
        if event is not None:
            event.callbacks.append(self._continue_close)

    # ------------------------------------------------------------------ steps of poll()

    def _update_assignment_metadata(self) -> None:
        """``updateAssignmentMetadataIfNeeded``: the group (join, auto-commit), then positions
        (``updateFetchPositions``): validation of those whose leader changed, and for new
        partitions committed offsets, else the reset policy."""
        coordinator = self.coordinator
        if coordinator is not None and not coordinator.poll():
            self._check_fatal()
            return
        self.offset_fetcher.validate_positions_if_needed()
        if self.subscriptions.has_all_fetch_positions():
            return
        if coordinator is not None and not coordinator.refresh_committed_offsets():
            return
        if self.subscriptions.has_initializing():
            for tp in self.subscriptions.initializing_partitions():
                if self._reset_policy == "none":
                    self.subscriptions.fail(tp)
                    self._event(
                        EventKind.OFFSET_RESET_ERROR,
                        tp,
                        "no committed offset and auto.offset.reset=none",
                    )
                else:
                    self.subscriptions.request_offset_reset(tp)
        self.offset_fetcher.reset_positions_if_needed()

    def _check_fatal(self) -> None:
        """An error Kafka throws from poll() (fenced static member, ...): the consumer stops."""
        error = self.coordinator.fatal
        if error is not None:
            self.metrics.event(
                self.env.now, EventKind.CONSUMER_FAILED, self.name, detail=error.name,
                group=self.group_id, member=self.name,
            )  # fmt: skip
            self.stop()

    def _poll_deadline_s(self) -> float:
        """Until when poll() may block before it must act by itself (inf: until woken), s.

        Like ``pollTimeout`` (auto-commit timer, group retries), with the retries' exact times.
        """
        now = self.env.now
        # comparisons rather than min() and max(), here and on the other hot paths of the
        # clients: a builtin min() or max() of two costs ~1,100 instructions more (Python 3.11)
        deadline = self.fetcher.retry_at_s
        reset_s = self.subscriptions.next_reset_retry_s(now)
        if reset_s < deadline:
            deadline = reset_s
        if self.subscriptions.awaiting_validation():
            # pollForFetches: without all positions valid, poll() waits at most retry.backoff.ms
            # (a committed offset sought this poll is validated by the next)
            retry_s = now + self._retry_backoff_s
            if retry_s < deadline:
                deadline = retry_s
        if self.coordinator is not None:
            group_s = self.coordinator.next_poll_deadline_s()
            if group_s < now:
                group_s = now
            if group_s < deadline:
                deadline = group_s
        return deadline

    def _record(self, chunks: list[Chunk]) -> int:
        """One ``consumed`` row per chunk; returns the number of records."""
        now = self.env.now
        append_row = self.metrics.consumed.append_row
        total = 0
        for tp, entry, first_offset, count in chunks:
            batch = entry.batch
            latency_s = now - batch.mean_arrival_s
            append_row(
                (
                    self.group_id,
                    self.name,
                    tp[0],
                    tp[1],
                    first_offset,
                    count,
                    batch.batch_id,
                    now,
                    latency_s,
                )
            )
            total += count
        return total

    def _on_offset_out_of_range(self, tp: TopicPartition, data: FetchPartitionData) -> None:
        """A fetch at the position was out of range: reset by ``auto.offset.reset``."""
        position = self.subscriptions.states[tp].position
        where = f"offset {position} out of range [{data.log_start_offset}, {data.log_end_offset}]"
        if self._reset_policy == "none":
            self.subscriptions.fail(tp)
            self._event(EventKind.OFFSET_RESET_ERROR, tp, f"{where} and auto.offset.reset=none")
        else:
            self.subscriptions.request_offset_reset(tp)
            self._event(EventKind.OFFSET_RESET, tp, f"{where}: reset to {self._reset_policy}")

    def _on_log_truncation(self, truncation: LogTruncation) -> None:
        """Validation found the partition's log truncated below the position (Kafka logs it at
        INFO when it resets, else poll() throws LogTruncationException): a ``log_truncation``
        event; without a reset policy the partition fails (``log_truncation_error``)."""
        tp, position = truncation.tp, truncation.position
        where = f"Truncation detected for partition {tp[0]}-{tp[1]} at offset {position}"
        if truncation.end_offset < 0:
            diverge = "the leader has no end offset for its epoch"
            moved = f"reset to {self._reset_policy}"
        else:
            diverge = f"end offset {truncation.end_offset} of epoch {truncation.end_epoch}"
            moved = f"resetting offset to the first offset known to diverge {truncation.end_offset}"
        if truncation.reset:
            self._event(EventKind.LOG_TRUNCATION, tp, f"{where}: {moved} ({diverge})")
        else:
            self.subscriptions.fail(tp)
            self._event(
                EventKind.LOG_TRUNCATION_ERROR,
                tp,
                f"{where} ({diverge}) and auto.offset.reset=none",
            )

    def _event(self, kind: EventKind, tp: TopicPartition, detail: str) -> None:
        self.metrics.event(
            self.env.now, kind, self.name, tp[0], tp[1], detail, group=self.group_id,
            member=self.name,
        )  # fmt: skip
