"""Offset resets through ListOffsets and position validation through OffsetsForLeaderEpoch
(≈ Kafka 3.9 ``OffsetFetcher.resetPositionsIfNeeded`` / ``validatePositionsIfNeeded``,
``OffsetFetcherUtils`` and ``OffsetsForLeaderEpochUtils``).

Partitions awaiting a reset are grouped by leader; one ListOffsetsRequest per leader asks for
the earliest (log start offset) or latest (high watermark) offset, per ``auto.offset.reset``.
When the metadata changes, each position fetched at another leader epoch than the metadata's
takes the new epoch and, if it has the epoch of a consumed record, awaits validation
(KIP-320): one OffsetsForLeaderEpochRequest per leader asks where that epoch ends in the
leader's log; an end below the position is a truncation (unclean election, power loss) and the
position moves there (``auto.offset.reset=none``: the partition fails, LogTruncationException).
While a request is out its partitions are not asked again before ``request.timeout.ms``; a failed
partition is retried after ``retry.backoff.ms`` with a metadata update. Times are seconds.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Any

import simpy

from sim.clients.consumer.consumer_network_client import ClusterConnectionStates
from sim.clients.consumer.subscription_state import LogTruncation, SubscriptionState
from sim.clients.metadata import Metadata
from sim.kafka_config import EffectiveConfig
from sim.net import NetworkFailure
from sim.protocol import (
    EARLIEST_TIMESTAMP,
    LATEST_TIMESTAMP,
    Errors,
    ListOffsetsRequest,
    OffsetsForLeaderEpochRequest,
    TopicPartition,
)

#: ``auto.offset.reset`` -> the ListOffsets timestamp it asks for.
RESET_TIMESTAMPS = {"earliest": EARLIEST_TIMESTAMP, "latest": LATEST_TIMESTAMP}


class OffsetFetcher:
    """Sends the ListOffsets requests of pending offset resets and the OffsetsForLeaderEpoch
    requests of pending validations.

    wake: called when an answer or failure arrives (wakes the application thread).
    on_truncation: called with each truncation a validation finds.
    """

    def __init__(
        self,
        env: simpy.Environment,
        net,
        name: str,
        config: EffectiveConfig,
        subscriptions: SubscriptionState,
        metadata: Metadata,
        connections: ClusterConnectionStates,
        wake: Callable[[], None],
        on_truncation: Callable[[LogTruncation], None],
    ) -> None:
        self.env = env
        self.net = net
        self.name = name
        self.subscriptions = subscriptions
        self.metadata = metadata
        self.connections = connections
        self.wake = wake
        self.on_truncation = on_truncation
        self._validated_version = -1  # the metadata version positions were last checked against
        self.timestamp = RESET_TIMESTAMPS.get(config["auto.offset.reset"])
        self._request_timeout_s = config.s("request.timeout.ms")
        self._retry_backoff_s = config.s("retry.backoff.ms")
        self.stopped = False

    def reset_positions_if_needed(self) -> None:
        """Send ListOffsets for the partitions whose reset is due, one request per leader."""
        now = self.env.now
        by_node: dict[str, dict[TopicPartition, int]] = {}
        for tp in self.subscriptions.partitions_needing_reset(now):
            node = self.metadata.leader(tp)
            if node is None:
                self.metadata.request_update()
            else:
                by_node.setdefault(node, {})[tp] = self.timestamp
        for node, partitions in by_node.items():
            self.subscriptions.set_next_allowed_retry(
                list(partitions), now + self._request_timeout_s
            )
            request = ListOffsetsRequest(partitions)
            event = self.net.request(self.name, node, request, self._request_timeout_s)
            event.callbacks.append(partial(self._on_response, node, partitions))

    def _on_response(
        self, node: str, partitions: dict[TopicPartition, int], event: simpy.Event
    ) -> None:
        """``onSuccessfulResponseForResettingPositions`` / ``onFailedResponse...``."""
        self._on_answer(node, list(partitions), event, self._apply_offset)

    def _apply_offset(self, tp: TopicPartition, response: Any) -> bool:
        """Seek ``tp`` to the offset ListOffsets found; False on an error (retried)."""
        error, offset = response.offsets.get(tp, (Errors.UNKNOWN_TOPIC_OR_PARTITION, -1))
        if error is not Errors.NONE:
            return False
        self.subscriptions.maybe_seek_unvalidated(tp, offset, self.metadata.leader_epoch(tp))
        return True

    def _on_answer(
        self,
        node: str,
        partitions: list[TopicPartition],
        event: simpy.Event,
        apply: Callable[[TopicPartition, Any], bool],
    ) -> None:
        """An answer (or failure) of a request for ``partitions``: ``apply`` each partition's
        answer; those it refuses, or all on a failure, are retried after ``retry.backoff.ms``
        with a metadata update."""
        if self.stopped:
            return
        now = self.env.now
        response = event.value
        if isinstance(response, NetworkFailure):
            self.connections.failed(node, now)
            retry = partitions
        else:
            self.connections.succeeded(node)
            retry = [tp for tp in partitions if not apply(tp, response)]
        if retry:
            self.subscriptions.set_next_allowed_retry(retry, now + self._retry_backoff_s)
            self.metadata.request_update()
        self.wake()

    # ------------------------------------------------------------------ validation (KIP-320)

    def validate_positions_on_metadata_change(self) -> None:
        """``validatePositionsOnMetadataChange``: after a metadata update, check every position
        against its partition's leader epoch (``maybeValidatePositionForCurrentLeader``)."""
        version = self.metadata.version
        if version == self._validated_version:
            return
        self._validated_version = version
        metadata = self.metadata
        for tp in self.subscriptions.assigned_partitions():
            has_leader = metadata.leader(tp) is not None
            self.subscriptions.maybe_validate_position(
                tp, metadata.leader_epoch(tp) if has_leader else None
            )

    def validate_positions_if_needed(self) -> None:
        """``validatePositionsIfNeeded``: send OffsetsForLeaderEpoch, one request per leader, for
        the positions awaiting validation whose retry time has come (the usual poll: nothing
        changed, two comparisons)."""
        if self.metadata.version != self._validated_version:
            self.validate_positions_on_metadata_change()
        if not self.subscriptions.awaiting_validation():
            return
        now = self.env.now
        by_node: dict[str, dict[TopicPartition, tuple[int, int, int]]] = {}
        states = self.subscriptions.states
        for tp in self.subscriptions.partitions_needing_validation(now):
            node = self.metadata.leader(tp)
            if node is None:
                self.metadata.request_update()
            elif self.connections.blocked_until_s(node) <= now:  # else: after the reconnect
                state = states[tp]
                asked = (state.position, state.offset_epoch, state.leader_epoch)
                by_node.setdefault(node, {})[tp] = asked
        for node, positions in by_node.items():
            self.subscriptions.set_next_allowed_retry(
                list(positions), now + self._request_timeout_s
            )
            request = OffsetsForLeaderEpochRequest(
                {tp: (offset_epoch, leader_epoch) for tp, (_, offset_epoch, leader_epoch) in
                 positions.items()}
            )  # fmt: skip
            event = self.net.request(self.name, node, request, self._request_timeout_s)
            event.callbacks.append(partial(self._on_validation_response, node, positions))

    def _on_validation_response(
        self, node: str, positions: dict[TopicPartition, tuple[int, int, int]], event: simpy.Event
    ) -> None:
        """``onSuccessfulResponseForValidatingPositions`` (``OffsetsForLeaderEpochUtils
        .handleResponse``: an error retries the partition) / ``onFailedResponse...``."""

        def apply(tp: TopicPartition, response: Any) -> bool:
            error, end_epoch, end_offset = response.partitions.get(
                tp, (Errors.UNKNOWN_TOPIC_OR_PARTITION, -1, -1)
            )
            if error is not Errors.NONE:
                return False
            truncation = self.subscriptions.maybe_complete_validation(
                tp, positions[tp], end_epoch, end_offset, self.timestamp is not None
            )
            if truncation is not None:
                self.on_truncation(truncation)
            return True

        self._on_answer(node, list(positions), event, apply)
