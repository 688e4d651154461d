"""Offset resets through ListOffsets (≈ Kafka 3.9 ``OffsetFetcher.resetPositionsIfNeeded`` and
``OffsetFetcherUtils``).

Partitions awaiting a reset are grouped by leader; one ListOffsetsRequest per leader asks for
the earliest (log start offset) or latest (high watermark) offset, per ``auto.offset.reset``.
While a request is out its partitions are not asked again before ``request.timeout.ms``; a failed
partition is retried after ``retry.backoff.ms`` with a metadata update. Times are seconds.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

import simpy

from sim.clients.consumer.consumer_metadata import ConsumerMetadata
from sim.clients.consumer.consumer_network_client import ClusterConnectionStates
from sim.clients.consumer.subscription_state import SubscriptionState
from sim.kafka_config import EffectiveConfig
from sim.net import NetworkFailure
from sim.protocol import (
    EARLIEST_TIMESTAMP,
    LATEST_TIMESTAMP,
    Errors,
    ListOffsetsRequest,
    TopicPartition,
)

#: ``auto.offset.reset`` -> the ListOffsets timestamp it asks for.
RESET_TIMESTAMPS = {"earliest": EARLIEST_TIMESTAMP, "latest": LATEST_TIMESTAMP}


class OffsetFetcher:
    """Sends the ListOffsets requests of pending offset resets.

    wake: called when an answer or failure arrives (wakes the application thread).
    """

    def __init__(
        self,
        env: simpy.Environment,
        net,
        name: str,
        config: EffectiveConfig,
        subscriptions: SubscriptionState,
        metadata: ConsumerMetadata,
        connections: ClusterConnectionStates,
        wake: Callable[[], None],
    ) -> None:
        self.env = env
        self.net = net
        self.name = name
        self.subscriptions = subscriptions
        self.metadata = metadata
        self.connections = connections
        self.wake = wake
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
        if self.stopped:
            return
        now = self.env.now
        response = event.value
        if isinstance(response, NetworkFailure):
            self.connections.failed(node, now)
            retry = list(partitions)
        else:
            self.connections.succeeded(node)
            retry = []
            for tp in partitions:
                error, offset = response.offsets.get(tp, (Errors.UNKNOWN_TOPIC_OR_PARTITION, -1))
                if error is Errors.NONE:
                    self.subscriptions.maybe_seek_unvalidated(tp, offset)
                else:
                    retry.append(tp)
        if retry:
            self.subscriptions.set_next_allowed_retry(retry, now + self._retry_backoff_s)
            self.metadata.request_update()
        self.wake()
