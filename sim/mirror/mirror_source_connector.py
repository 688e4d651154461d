"""What a MirrorMaker 2 flow replicates (≈ Kafka 3.9 ``MirrorSourceConnector``): which source
topics, the remote topics it creates in the target, and how its partitions go to tasks.

``remote_topics`` runs the connector's topic creation (``computeAndCreateTopicPartitions``,
``createNewTopics``) for every mirror of a scenario before the run starts, as the connectors do
when they start: a remote topic gets its source topic's partition count and the mirror's
``replication.factor``. Mirrors may chain (east → west → north gives ``west.east.orders`` in
north), so it repeats until no mirror finds a new topic; the cycle rule ends it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from sim.mirror.replication_policy import DefaultReplicationPolicy
from sim.mirror.topic_filter import DefaultTopicFilter

TopicPartition = tuple[str, int]


class MirrorSourceConnector:
    """One source → target flow: ``source`` and ``target`` are the clusters' aliases."""

    def __init__(
        self,
        source: str,
        target: str,
        policy: DefaultReplicationPolicy,
        topic_filter: DefaultTopicFilter,
    ) -> None:
        self.source = source
        self.target = target
        self.policy = policy
        self.topic_filter = topic_filter

    def should_replicate_topic(self, topic: str) -> bool:
        """shouldReplicateTopic: the filter's (or a heartbeats topic), not internal, no cycle."""
        policy = self.policy
        wanted = self.topic_filter.should_replicate_topic(topic) or policy.is_heartbeats_topic(
            topic
        )
        return wanted and not policy.is_internal_topic(topic) and not self.is_cycle(topic)

    def is_cycle(self, topic: str) -> bool:
        """isCycle: the topic came from the target, at any hop upstream."""
        source = self.policy.topic_source(topic)
        if source is None:
            return False
        if source == self.target:
            return True
        upstream = self.policy.upstream_topic(topic)
        if upstream is None or upstream == topic:
            return False
        return self.is_cycle(upstream)

    def format_remote_topic(self, topic: str) -> str:
        """The remote topic's name in the target."""
        return self.policy.format_remote_topic(self.source, topic)

    @staticmethod
    def task_partitions(
        partitions: Sequence[TopicPartition], max_tasks: int
    ) -> list[list[TopicPartition]]:
        """taskConfigs: the source partitions dealt round robin to min(max_tasks, partitions)
        tasks. Kafka lists them in the order the admin client describes the topics; the model
        sorts them (topic, then partition)."""
        count = min(max_tasks, len(partitions))
        tasks: list[list[TopicPartition]] = [[] for _ in range(count)]
        for i, tp in enumerate(sorted(partitions)):
            tasks[i % count].append(tp)
        return tasks


@dataclass(frozen=True)
class MirrorFlow:
    """A mirror as :func:`remote_topics` needs it: its index in the scenario's mirrors, the
    clusters' names, its topic filter and replication policy, and the replicas of its remote
    topics (the target's default already applied for -1)."""

    index: int
    connector: MirrorSourceConnector
    replication_factor: int


@dataclass(frozen=True)
class RemoteTopic:
    """A topic a mirror creates in its target: ``name`` in cluster ``cluster``, the copy of
    ``source_topic`` of ``source``, by mirror number ``mirror``."""

    mirror: int
    cluster: str
    name: str
    source: str
    source_topic: str
    partitions: int
    replication_factor: int


def remote_topics(
    flows: Sequence[MirrorFlow], topics: Mapping[str, Mapping[str, int]]
) -> list[RemoteTopic]:
    """The remote topics every mirror creates, in order of creation; ``topics``: each
    cluster's own topics and their partition counts."""
    known = {cluster: dict(names) for cluster, names in topics.items()}
    created: list[RemoteTopic] = []
    found = True
    while found:
        found = False
        for flow in flows:
            connector = flow.connector
            source = known[connector.source]
            for topic in sorted(source):
                remote = connector.format_remote_topic(topic)
                if remote in known[connector.target] or not connector.should_replicate_topic(topic):
                    continue
                known[connector.target][remote] = source[topic]
                created.append(
                    RemoteTopic(
                        flow.index,
                        connector.target,
                        remote,
                        connector.source,
                        topic,
                        source[topic],
                        flow.replication_factor,
                    )  # fmt: skip
                )
                found = True
    return created
