"""A mirror's MirrorCheckpointConnector and its task (≈ Kafka 3.9 ``MirrorCheckpointTask``,
``CheckpointStore``, ``DefaultGroupFilter``), one task per mirror for all its groups.

- **Offset syncs in** (``OffsetSyncStore``): the mirror's source tasks write their offset syncs
  (:mod:`sim.mirror.offset_sync_writer`) to ``mm2-offset-syncs.<target>.internal`` in the
  cluster ``offset-syncs.topic.location`` names (the source by default); this task reads them.
  The topic is modelled as data with its timing, not as a topic of the model: the tasks run at
  the target's site, so a sync written to the source reaches its leader half a WAN round trip
  after the write and this task's fetch half a round trip later; the write is acknowledged (its
  permit back) one round trip after it. A sync written while that cluster has no running broker
  or the WAN between the sites is cut is lost (the permit comes back at once).
- **Checkpoints out**: every ``emit.checkpoints.interval.seconds`` (``poll``), for each source
  group the filter keeps (``groups`` minus ``groups.exclude``, whole names), the group's
  committed offsets are read from the source's coordinator (an OffsetFetch over the network,
  as ``Admin.listConsumerGroupOffsets``), each on a mirrored topic translated
  (``OffsetSyncStore.translateDownstream``) and kept when translatable (>= 0) and more recent
  than the last checkpoint (``checkpointIsMoreRecent``): written to
  ``<source>.checkpoints.internal`` in the target (a local write, taken as instant) and as rows
  of the ``checkpoints`` table.
- **sync.group.offsets.enabled**: every ``sync.group.offsets.interval.seconds`` the groups Empty
  in the target are listed with their offsets (``refreshIdleConsumerGroupOffset``, read at
  once: a LAN admin call), then each group's checkpointed offsets are committed in the target
  (``syncGroupOffset``: an OffsetCommit of generation -1, as ``alterConsumerGroupOffsets``):
  all of them for a group not Empty there (the coordinator refuses it while members are
  active: UNKNOWN_MEMBER_ID), only those ahead of the target's for an Empty one.

Not modelled: the checkpoint of offsets on topics that came from the target (``renameTopic
Partition``'s failback case: only the mirror's own topics are checkpointed), the periodic
refresh of groups (``refresh.groups.interval.seconds``: the scenario's groups are known from the
start) and the stores' initial read of existing topics (the run starts with them empty).
"""

from __future__ import annotations

from typing import NamedTuple

import simpy

from sim.broker.group_metadata import GroupState
from sim.broker.group_metadata_manager import partition_for
from sim.metrics import Table
from sim.mirror.offset_sync_store import OffsetSync, OffsetSyncStore
from sim.mirror.topic_filter import compile_pattern_list
from sim.protocol import (
    GROUP_METADATA_TOPIC,
    NO_EPOCH,
    ConnectionClosed,
    Errors,
    OffsetAndMetadata,
    OffsetCommitRequest,
    OffsetFetchRequest,
    OffsetFetchResponse,
    TopicPartition,
)

#: MirrorConnectorConfig ADMIN_TASK_TIMEOUT_MILLIS_DEFAULT (admin.timeout.ms): how long an
#: admin call of the task may take, s.
ADMIN_TIMEOUT_S = 60.0


class Checkpoint(NamedTuple):
    """Checkpoint: ``group`` at ``upstream`` of a source partition is at ``downstream`` of
    remote partition ``topic_partition``."""

    group: str
    topic_partition: TopicPartition
    upstream: int
    downstream: int


class DefaultGroupFilter:
    """DefaultGroupFilter.shouldReplicateGroup: included and not excluded (whole names)."""

    def __init__(self, include: list[str], exclude: list[str]) -> None:
        self.include = compile_pattern_list(include)
        self.exclude = compile_pattern_list(exclude)

    def should_replicate_group(self, group: str) -> bool:
        included = self.include is not None and self.include.fullmatch(group) is not None
        excluded = self.exclude is not None and self.exclude.fullmatch(group) is not None
        return included and not excluded


class AdminNode:
    """The task's admin client on one cluster's network: it sends requests, serves none."""

    def __init__(self, name: str) -> None:
        self.name = name

    def on_request(self, request, source: str, respond) -> None:
        if not isinstance(request, ConnectionClosed):
            raise TypeError(f"{self.name} got a {type(request).__name__}: it serves nothing")


class MirrorCheckpointTask:
    """The checkpoint task of mirror ``mirror`` (``<source>-><target>``).

    source, target: the clusters' Worlds; remote: source topic -> its remote topic;
    source_prefix: what names the source's topics in offset syncs (``east/``); groups: the
    source's consumer group ids; config: the mirror's properties; table: ``checkpoints``.
    """

    def __init__(
        self, env: simpy.Environment, mirror: str, source, target, remote: dict[str, str],
        source_prefix: str, groups: list[str], config, table: Table,
    ) -> None:  # fmt: skip
        self.env = env
        self.mirror = mirror
        self.source = source
        self.target = target
        self.remote = remote
        self.source_prefix = source_prefix
        group_filter = DefaultGroupFilter(config["groups"], config["groups.exclude"])
        self.groups = [g for g in groups if group_filter.should_replicate_group(g)]
        self.config = config
        self.table = table
        self.store = OffsetSyncStore()
        self.checkpoints: dict[str, dict[TopicPartition, Checkpoint]] = {}  # CheckpointStore
        name = f"mirror-checkpoint-{mirror.replace('->', '-')}"
        self.source_admin = AdminNode(name)
        self.target_admin = AdminNode(name)

    def start(self) -> None:
        """start: the stores are read (empty), then the poll and sync loops run."""
        self.store.start(True)
        if self.config["emit.checkpoints.enabled"]:
            self.env.process(self._poll_loop())
        if self.config["sync.group.offsets.enabled"]:
            self.env.process(self._sync_loop())

    def handle_record(self, sync: OffsetSync) -> None:
        """An offset sync read from the offset-syncs topic."""
        self.store.handle_record(sync)

    # ---------------------------------------------------------------- checkpoints

    def _poll_loop(self):
        """poll(): sleep the interval, then checkpoint every group in turn."""
        interval_s = float(self.config["emit.checkpoints.interval.seconds"])
        while True:
            yield self.env.timeout(interval_s)
            for group in self.groups:
                offsets = yield from self._list_group_offsets(group)
                if offsets is not None:
                    self._checkpoint_group(group, offsets)

    def _list_group_offsets(self, group: str):
        """Admin.listConsumerGroupOffsets on the source: the committed offsets of the
        mirrored partitions, or None when the call fails (after its timeout at the latest)."""
        coordinator = _coordinator(self.source, group)
        if coordinator is None:
            yield self.env.timeout(ADMIN_TIMEOUT_S)  # the admin retries until its timeout
            return None
        partitions = [
            (topic, p)
            for topic in sorted(self.remote)
            for p in range(self.source.scenario.topic(topic).partitions)
        ]
        request = OffsetFetchRequest(group, partitions, require_stable=False)
        net = self.source.net
        answer = yield net.request(self.source_admin.name, coordinator, request, ADMIN_TIMEOUT_S)
        if not isinstance(answer, OffsetFetchResponse) or answer.error != Errors.NONE:
            return None
        return {
            tp: om.offset
            for tp, (om, error) in answer.offsets.items()
            if error == Errors.NONE and om.offset >= 0
        }

    def _checkpoint_group(self, group: str, offsets: dict[TopicPartition, int]) -> None:
        """sourceRecordsForGroup: translate, keep the more recent, store and emit."""
        last = self.checkpoints.setdefault(group, {})
        for (topic, partition), upstream in sorted(offsets.items()):
            key = (self.source_prefix + topic, partition)
            downstream = self.store.translate_downstream(key, upstream)
            if downstream is None or downstream < 0:
                continue
            remote_tp = (self.remote[topic], partition)
            checkpoint = Checkpoint(group, remote_tp, upstream, downstream)
            if not _more_recent(checkpoint, last.get(remote_tp)):
                continue
            last[remote_tp] = checkpoint
            self.table.append_row(
                (self.env.now, self.mirror, group, f"{self._target_name()}/{remote_tp[0]}",
                 partition, f"{self.source_prefix}{topic}", upstream, downstream)
            )  # fmt: skip

    def _target_name(self) -> str:
        return self.target.scenario.cluster.name

    def remote_consumer_offsets(self, group: str) -> dict[TopicPartition, int]:
        """MirrorClient.remoteConsumerOffsets: the group's last checkpoint per remote
        partition, as read from the checkpoints topic (its downstream offset)."""
        return {tp: c.downstream for tp, c in self.checkpoints.get(group, {}).items()}

    def target_offsets(self, group: str) -> dict[TopicPartition, int]:
        """The group's committed offsets in the target now (none without a coordinator)."""
        state = _group(self.target, group)
        return {} if state is None else {tp: om.offset for tp, om in state.offsets.items()}

    # ---------------------------------------------------------------- sync.group.offsets

    def _sync_loop(self):
        """refreshIdleConsumerGroupOffset then syncGroupOffset, every interval."""
        interval_s = float(self.config["sync.group.offsets.interval.seconds"])
        while True:
            yield self.env.timeout(interval_s)
            idle = self._idle_group_offsets()
            for group, converted in self.checkpoints.items():
                offsets = _offsets_to_sync(
                    {tp: c.downstream for tp, c in converted.items()}, idle.get(group)
                )
                if offsets:
                    self.commit_offsets(group, offsets)

    def _idle_group_offsets(self) -> dict[str, dict[TopicPartition, int]]:
        """refreshIdleConsumerGroupOffset: the target's Empty groups and their offsets."""
        idle = {}
        for group in self.groups:
            state = _group(self.target, group)
            if state is not None and state.is_state(GroupState.EMPTY):
                idle[group] = {tp: om.offset for tp, om in state.offsets.items()}
        return idle

    def commit_offsets(self, group: str, offsets: dict[TopicPartition, int]):
        """Admin.alterConsumerGroupOffsets in the target: an OffsetCommit of generation -1 to
        the group's coordinator, or nothing without one; the process's value is whether it was
        accepted."""
        return self.env.process(self._commit(group, offsets))

    def _commit(self, group: str, offsets: dict[TopicPartition, int]):
        coordinator = _coordinator(self.target, group)
        if coordinator is None:
            return False
        request = OffsetCommitRequest(
            group, -1, "", None, {tp: OffsetAndMetadata(o, NO_EPOCH) for tp, o in offsets.items()}
        )
        net = self.target.net
        answer = yield net.request(self.target_admin.name, coordinator, request, ADMIN_TIMEOUT_S)
        errors = getattr(answer, "errors", None)
        return errors is not None and all(e == Errors.NONE for e in errors.values())


def _more_recent(checkpoint: Checkpoint, last: Checkpoint | None) -> bool:
    """checkpointIsMoreRecent: the first, an upstream rewind, or a downstream advance."""
    if last is None:
        return True
    if checkpoint.upstream < last.upstream:
        return True
    return checkpoint.downstream > last.downstream


def _offsets_to_sync(
    converted: dict[TopicPartition, int], target: dict[TopicPartition, int] | None
) -> dict[TopicPartition, int]:
    """syncGroupOffset's choice for one group: every converted offset for a group not idle in
    the target; for an idle one, those of partitions it lacks or holds behind them."""
    if target is None:
        return dict(converted)
    return {tp: o for tp, o in converted.items() if tp not in target or target[tp] < o}


def _coordinator(world, group: str) -> str | None:
    """The node leading ``group``'s __consumer_offsets partition, running, or None."""
    count = world.broker_config["offsets.topic.num.partitions"]
    try:
        leader = world.leader_of((GROUP_METADATA_TOPIC, partition_for(group, count)))
    except KeyError:  # no such partition: no group of the cluster's scenario hashes to it
        return None
    if leader < 0 or not world.brokers[leader].running:
        return None
    return world.brokers[leader].name


def _group(world, group: str):
    """The group's metadata at its coordinator, or None."""
    name = _coordinator(world, group)
    if name is None:
        return None
    manager = world.brokers[int(name.removeprefix("broker-"))].group_coordinator.manager
    return manager.groups.get(group) if manager.is_local(group) else None
