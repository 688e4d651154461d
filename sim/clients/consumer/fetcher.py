"""The consumer's fetcher (≈ Kafka 3.9 ``Fetcher``/``AbstractFetch``, ``FetchBuffer``,
``FetchCollector`` and ``CompletedFetch``).

``send_fetches`` sends one FetchRequest per leader that has no fetch in flight, for the
partitions it leads that have a position and no buffered data, each with the leader epoch its
position is fetched at (KIP-320); after a metadata change, positions are first checked against
the new leader epochs (``ClassicKafkaConsumer.sendFetches``), and a leader a fetch error names
(KIP-951) updates the metadata. Each partition of a response becomes a ``CompletedFetch`` in the
buffer, in arrival order; errors are acted on when ``poll()`` reaches them, as Kafka does.
``collect_fetch`` returns up to ``max.poll.records`` records as chunks of stored batches:
records before the position are skipped, a batch may be split across polls, and the position
advances past what is returned. Work is per batch, never per record.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Callable
from collections.abc import Set as AbstractSet
from dataclasses import dataclass
from functools import partial

import simpy

from sim.clients.consumer.consumer_network_client import ClusterConnectionStates
from sim.clients.consumer.subscription_state import (
    SubscriptionState,
    TopicPartitionState,
    is_fetchable,
)
from sim.clients.metadata import Metadata
from sim.kafka_config import EffectiveConfig
from sim.net import NetworkFailure
from sim.protocol import (
    Errors,
    FetchPartition,
    FetchPartitionData,
    FetchRequest,
    LogEntry,
    TopicPartition,
)

# Errors members bound once: an IntEnum attribute lookup goes through the metaclass (slow).
_NO_ERROR = Errors.NONE
_OUT_OF_RANGE = Errors.OFFSET_OUT_OF_RANGE

#: Fetch errors that make Kafka ask for a metadata update (FetchCollector.handleInitializeErrors).
_METADATA_ERRORS = frozenset(
    {
        Errors.NOT_LEADER_OR_FOLLOWER,
        Errors.KAFKA_STORAGE_ERROR,
        Errors.FENCED_LEADER_EPOCH,
        Errors.UNKNOWN_TOPIC_OR_PARTITION,
    }
)
#: What buffered_partitions returns while nothing is buffered.
_NONE_BUFFERED: frozenset[TopicPartition] = frozenset()
#: Fetch errors Kafka only logs.
_IGNORED_ERRORS = frozenset({Errors.UNKNOWN_LEADER_EPOCH, Errors.UNKNOWN_SERVER_ERROR})


#: Records one poll returns from one stored batch: (partition, the batch's log entry,
#: first_offset, count) for offsets first_offset .. + count - 1. A plain tuple: one is made per
#: batch returned, and a NamedTuple's constructor is a Python function.
Chunk = tuple[TopicPartition, LogEntry, int, int]


@dataclass(slots=True, eq=False)
class CompletedFetch:
    """One partition of a fetch response, waiting in the buffer or being drained by polls.

    fetch_offset: the offset the request asked for. next_fetch_offset: offset of the next record
    to return. entry_index: first entry not yet fully returned.
    """

    tp: TopicPartition
    fetch_offset: int
    data: FetchPartitionData
    next_fetch_offset: int
    entry_index: int = 0
    consumed: bool = False


class Fetcher:
    """Fetches for one consumer and buffers the answers until ``poll()`` takes them.

    on_out_of_range(tp, data): called when a fetch at the current position is out of range.
    on_metadata_change(): checks positions against new leader epochs before fetching.
    wake: called when a response or failure arrives (wakes the application thread).
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
        on_out_of_range: Callable[[TopicPartition, FetchPartitionData], None],
        on_metadata_change: Callable[[], None],
        wake: Callable[[], None],
    ) -> None:
        self.env = env
        self.net = net
        self.name = name
        self.subscriptions = subscriptions
        self.metadata = metadata
        self.connections = connections
        self.on_out_of_range = on_out_of_range
        self.on_metadata_change = on_metadata_change
        self.wake = wake
        self.max_poll_records: int = config["max.poll.records"]
        self._max_wait_s = config.s("fetch.max.wait.ms")
        self._min_bytes: int = config["fetch.min.bytes"]
        self._max_bytes: int = config["fetch.max.bytes"]
        self._partition_max_bytes: int = config["max.partition.fetch.bytes"]
        self._request_timeout_s = config.s("request.timeout.ms")
        self.nodes_with_pending_fetch: set[str] = set()
        #: what send_fetches iterates: (partition, its state, its leader or None) per fetchable
        #: partition, sorted, and the versions it was built for (see _update_targets)
        self._targets: list[tuple[TopicPartition, TopicPartitionState, str | None]] = []
        self._targets_key: tuple[int, int] | None = None
        #: the targets' leaders (None while a target's leader is unknown)
        self._target_leaders: frozenset[str] | None = frozenset()
        self.buffer: deque[CompletedFetch] = deque()
        self.next_in_line: CompletedFetch | None = None
        #: earliest time a node skipped for reconnect backoff may be fetched from (inf if none), s
        self.retry_at_s = math.inf
        self.stopped = False

    # ------------------------------------------------------------------ sending

    def buffered_partitions(self) -> AbstractSet[TopicPartition]:
        """Partitions with fetched data not yet drained (``FetchBuffer.bufferedPartitions``)."""
        current = self.next_in_line
        live = current is not None and not current.consumed
        if not self.buffer and not live:
            return _NONE_BUFFERED
        buffered = {cf.tp for cf in self.buffer}
        if live:
            buffered.add(current.tp)
        return buffered

    def send_fetches(self) -> int:
        """``AbstractFetch.prepareFetchRequests`` + send: returns the number of requests sent."""
        if (self.subscriptions.version, self.metadata.version) != self._targets_key:
            self.on_metadata_change()
            self._update_targets()
        targets = self._targets
        self.retry_at_s = math.inf
        pending = self.nodes_with_pending_fetch
        failures = self.connections.failures  # empty: no node is in reconnect backoff
        leaders = self._target_leaders
        if not failures and leaders is not None and leaders <= pending:
            # every leader has a fetch in flight: the loop below would skip every partition
            # (half the calls: poll() sends again before it blocks)
            return 0
        now = self.env.now
        buffered = self.buffered_partitions()
        requests: dict[str, dict[TopicPartition, FetchPartition]] = {}
        blocked_until = self.connections.blocked_until_s
        for tp, state, node in targets:
            if tp in buffered:
                continue
            if node is None:
                self.metadata.request_update()
                continue
            if failures:
                blocked_until_s = blocked_until(node)
                if blocked_until_s > now:
                    self.retry_at_s = min(self.retry_at_s, blocked_until_s)
                    continue
            if node not in pending:
                requests.setdefault(node, {})[tp] = FetchPartition(
                    state.position, -1, state.leader_epoch
                )
        for node, partitions in requests.items():
            self._send(node, partitions)
        return len(requests)

    def _update_targets(self) -> None:
        """Rebuild ``_targets`` and ``_target_leaders`` for the current fetchable partitions
        (``SubscriptionState.version``) and leaders (``Metadata.version``)."""
        states, leader = self.subscriptions.states, self.metadata.leader
        targets = [(tp, states[tp], leader(tp)) for tp in self.subscriptions.fetchable_partitions()]
        leaders = frozenset(node for _, _, node in targets)
        self._targets = targets
        self._target_leaders = None if None in leaders else leaders
        self._targets_key = (self.subscriptions.version, self.metadata.version)

    def _send(self, node: str, partitions: dict[TopicPartition, FetchPartition]) -> None:
        # positional arguments: keywords to a class cost each request a dict for its __init__
        # (17 M instructions of the default scenario's 3,180 M)
        request = FetchRequest(
            -1,  # replica_id: a consumer
            self._max_wait_s,
            self._min_bytes,
            self._max_bytes,
            self._partition_max_bytes,
            partitions,
        )
        self.nodes_with_pending_fetch.add(node)
        event = self.net.request(self.name, node, request, self._request_timeout_s)
        event.callbacks.append(partial(self._on_fetch_response, node, partitions))

    def _on_fetch_response(
        self, node: str, partitions: dict[TopicPartition, FetchPartition], event: simpy.Event
    ) -> None:
        """``handleFetchSuccess`` / ``handleFetchFailure``: buffer each partition's answer."""
        self.nodes_with_pending_fetch.discard(node)
        if self.stopped:
            return
        response = event._value  # the event has fired: Event.value's check would cost a call
        if isinstance(response, NetworkFailure):
            self.connections.failed(node, self.env.now)
            self.metadata.request_update()  # NetworkClient: a disconnect may mean stale metadata
        else:
            self.connections.succeeded(node)
            leaders = None
            for tp, asked in partitions.items():
                data = response.partitions.get(tp)
                if data is not None:
                    if data.current_leader is not None:
                        leaders = leaders or {}
                        leaders[tp] = data.current_leader
                    self.buffer.append(
                        CompletedFetch(tp, asked.fetch_offset, data, asked.fetch_offset)
                    )
            if leaders:
                # the positions are validated for the new leaders before the next fetch
                self.metadata.update_partition_leadership(leaders)
        self.wake()

    # ------------------------------------------------------------------ collecting

    def collect_fetch(self) -> list[Chunk]:
        """``FetchCollector.collectFetch``: up to ``max.poll.records`` records, positions moved."""
        chunks: list[Chunk] = []
        remaining = self.max_poll_records
        while remaining > 0:
            current = self.next_in_line
            if current is None or current.consumed:
                if not self.buffer:
                    break
                self.next_in_line = self._initialize(self.buffer.popleft())
            else:
                remaining -= self._fetch_records(current, remaining, chunks)
        return chunks

    def _initialize(self, fetch: CompletedFetch) -> CompletedFetch | None:
        """``FetchCollector.initialize``: the fetch if its data is next in line, else None."""
        state = self.subscriptions.states.get(fetch.tp)
        if not is_fetchable(state):
            return None  # unassigned, being reset or revoked while the fetch was in flight
        data = fetch.data
        if data.error is _NO_ERROR:
            if state.position != fetch.fetch_offset:
                return None  # stale: the position moved since the request
            if data.high_watermark >= 0:
                state.high_watermark = data.high_watermark
            if data.log_start_offset >= 0:
                state.log_start_offset = data.log_start_offset
            return fetch
        self._handle_error(fetch, state.position)
        return None

    def _handle_error(self, fetch: CompletedFetch, position: int) -> None:
        """``FetchCollector.handleInitializeErrors``."""
        error = fetch.data.error
        if error in _METADATA_ERRORS:
            self.metadata.request_update()
        elif error is _OUT_OF_RANGE:
            if fetch.fetch_offset == position:
                self.on_out_of_range(fetch.tp, fetch.data)
        elif error not in _IGNORED_ERRORS:
            raise RuntimeError(f"{self.name}: unexpected fetch error {error.name} for {fetch.tp}")

    def _fetch_records(self, fetch: CompletedFetch, max_records: int, chunks: list[Chunk]) -> int:
        """``FetchCollector.fetchRecords`` + ``CompletedFetch.fetchRecords``: records taken."""
        state = self.subscriptions.states.get(fetch.tp)
        if not is_fetchable(state) or fetch.next_fetch_offset != state.position:
            fetch.consumed = True  # not assigned, reset, being revoked, or an obsolete request
            return 0
        entries = fetch.data.entries
        index, offset, taken = fetch.entry_index, fetch.next_fetch_offset, 0
        while taken < max_records:
            if index >= len(entries):
                fetch.consumed = True  # found empty only when looking for the next record
                break
            entry = entries[index]
            base = entry.base_offset
            end = base + entry.batch.count  # entry.next_offset: a property is a Python call
            if end > offset:
                first = base if base > offset else offset  # not max(): see _poll_deadline_s
                count = end - first
                if max_records - taken < count:
                    count = max_records - taken
                chunks.append((fetch.tp, entry, first, count))
                taken += count
                offset = first + count
            if offset >= end:
                index += 1
        fetch.entry_index, fetch.next_fetch_offset = index, offset
        if offset > state.position:
            state.position = offset
            state.offset_epoch = chunks[-1][1].leader_epoch  # CompletedFetch.lastEpoch
        return taken
