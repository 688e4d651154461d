"""Partition leadership as a client knows it, and its refresh (≈ Kafka 3.9 ``Metadata`` with
``NetworkClient.DefaultMetadataUpdater``; the consumer's ``ConsumerMetadata`` and the producer's
``ProducerMetadata`` are it with the client's topics).

A MetadataRequest for the client's topics goes to a bootstrap broker (the next one after a
failure) when an update was requested or ``metadata.max.age.ms`` passed since the last success,
but never sooner than the backoff after the previous attempt: ``retry.backoff.ms`` doubling per
failed attempt or per answer that brought no news, up to ``retry.backoff.max.ms``
(``Metadata.timeToAllowUpdate``). A leader with an older epoch than the one known is ignored
(``Metadata.updateLatestMetadata``). Times are simulated seconds.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Generator

import simpy

from sim.clients.consumer.consumer_network_client import Wakeup, exponential_backoff_s
from sim.kafka_config import EffectiveConfig
from sim.net import NetworkFailure
from sim.protocol import MetadataRequest, MetadataResponse, PartitionMetadata, TopicPartition
from sim.timers import DEADLINE_SLACK_S


class Metadata:
    """Leaders of the partitions of ``topics`` and the process that keeps them fresh.

    on_update: called after each successful update (wakes the client).
    """

    def __init__(
        self,
        env: simpy.Environment,
        net,
        name: str,
        bootstrap: list[str],
        config: EffectiveConfig,
        on_update: Callable[[], None],
    ) -> None:
        if not bootstrap:
            raise ValueError(f"{name}: bootstrap needs at least one broker node name")
        self.env = env
        self.net = net
        self.name = name
        self.bootstrap = list(bootstrap)
        self.on_update = on_update
        self.topics: list[str] = []
        self.partitions: dict[TopicPartition, PartitionMetadata] = {}
        #: bumped whenever ``partitions`` changes (an answer applied), so users of the leaders
        #: rebuild what they derive from them only then
        self.version = 0
        self._max_age_s = config.s("metadata.max.age.ms")
        self._request_timeout_s = config.s("request.timeout.ms")
        self._backoff_s = config.s("retry.backoff.ms")
        self._backoff_max_s = config.s("retry.backoff.max.ms")
        self._wakeup = Wakeup(env)
        self._node_index = 0
        self._update_requested = True
        self._request_version = 0
        self._last_refresh_s = -math.inf
        self._last_success_s = -math.inf
        self._failed_attempts = 0
        self._equivalent_responses = 0
        self.stopped = False

    def leader(self, tp: TopicPartition) -> str | None:
        """Node name of ``tp``'s leader, None while unknown."""
        meta = self.partitions.get(tp)
        if meta is None or meta.leader < 0:
            return None
        return f"broker-{meta.leader}"

    def leader_epoch(self, tp: TopicPartition) -> int:
        """The leader epoch of ``tp`` in the metadata (``currentLeader(tp).epoch``), -1 while
        unknown."""
        meta = self.partitions.get(tp)
        return -1 if meta is None else meta.leader_epoch

    def update_partition_leadership(self, leaders: dict[TopicPartition, tuple[int, int]]) -> None:
        """``Metadata.updatePartitionLeadership`` (KIP-951): take the (leader id, leader epoch) a
        fetch response named for a partition known here, when its epoch is newer."""
        for tp, (leader, epoch) in leaders.items():
            known = self.partitions.get(tp)
            if known is None or leader < 0 or epoch <= known.leader_epoch:
                continue
            self.partitions[tp] = PartitionMetadata(leader, epoch, known.replicas, known.isr)
            self.version += 1

    def request_update(self) -> None:
        """Ask for a refresh as soon as the backoff allows (``Metadata.requestUpdate(false)``)."""
        self._update_requested = True
        self._request_version += 1
        self._wakeup.notify()

    def stop(self) -> None:
        """End the updater; an answer still in flight is ignored."""
        self.stopped = True
        self._wakeup.notify()

    def time_to_next_update_s(self, now_s: float) -> float:
        """``Metadata.timeToNextUpdate``: the later of expiry (0 if requested) and backoff, s.

        As ``Metadata.timeToAllowUpdate`` does, an expired metadata (``metadata.max.age.ms``
        since the last success, within float slack) resets the count of answers without news,
        so a periodic update never waits for the backoff of those."""
        age_left_s = self._last_success_s + self._max_age_s - now_s
        if age_left_s <= DEADLINE_SLACK_S:
            age_left_s = 0.0
            self._equivalent_responses = 0
        expire_s = 0.0 if self._update_requested else age_left_s
        attempts_s = exponential_backoff_s(
            max(self._failed_attempts - 1, 0), self._backoff_s, self._backoff_max_s
        )
        equivalent_s = 0.0
        if self._equivalent_responses > 0:
            equivalent_s = exponential_backoff_s(
                self._equivalent_responses - 1, self._backoff_s, self._backoff_max_s
            )
        allow_s = self._last_refresh_s + max(attempts_s, equivalent_s) - now_s
        return max(expire_s, allow_s, 0.0)

    def run(self) -> Generator[simpy.Event, object, None]:
        """The metadata updater: sends MetadataRequests when due, one at a time, until stopped."""
        while not self.stopped:
            wait_s = self.time_to_next_update_s(self.env.now)
            if wait_s > 0:
                yield self._wakeup.wait_until(self.env.now + wait_s)
                continue
            yield from self._update()

    def _update(self) -> Generator[simpy.Event, object, None]:
        node = self.bootstrap[self._node_index]
        version = self._request_version
        request = MetadataRequest(topics=list(self.topics))
        response = yield self.net.request(self.name, node, request, self._request_timeout_s)
        self._last_refresh_s = self.env.now
        if self.stopped:
            return
        if isinstance(response, NetworkFailure):
            self._failed_attempts += 1
            self._node_index = (self._node_index + 1) % len(self.bootstrap)
            return
        self._failed_attempts = 0
        self._last_success_s = self.env.now
        if version == self._request_version:
            self._update_requested = False
        if self._apply(response):
            self._equivalent_responses = 0
        else:
            self._equivalent_responses += 1
        self.on_update()

    def _apply(self, response: MetadataResponse) -> bool:
        """Take the newer leaders of our topics; True if any partition's leadership is new."""
        changed = False
        for tp in sorted(response.partitions):
            if tp[0] not in self.topics:
                continue
            meta = response.partitions[tp]
            known = self.partitions.get(tp)
            if known is not None and meta.leader_epoch < known.leader_epoch:
                continue  # a stale cache answered
            changed = changed or known is None or meta.leader_epoch > known.leader_epoch
            self.partitions[tp] = meta
            self.version += 1
        return changed
