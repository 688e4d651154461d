"""What a MirrorMaker 2 flow replicates (≈ Kafka 3.9 ``MirrorSourceConnector``): which source
topics, the remote topics it creates in the target, and how its partitions go to tasks.

``remote_topics`` runs the connector's topic creation (``computeAndCreateTopicPartitions``,
``createNewTopics``) for every mirror of a scenario before the run starts, as the connectors do
when they start: a remote topic gets its source topic's partition count and the mirror's
``replication.factor``; one that exists already (declared in the target) is mirrored into as it
is. Mirrors may chain (east → west → north gives ``west.east.orders`` in
north), so it repeats until no mirror finds a new topic; the cycle rule ends it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from sim.mirror.replication_policy import DefaultReplicationPolicy
from sim.mirror.topic_filter import DefaultTopicFilter, compile_pattern_list

TopicPartition = tuple[str, int]
#: DefaultConfigPropertyFilter.CONFIG_PROPERTIES_EXCLUDE_DEFAULT: topic properties a remote
#: topic never copies from its source topic.
CONFIG_PROPERTIES_EXCLUDE_DEFAULT = [
    "follower\\.replication\\.throttled\\.replicas",
    "leader\\.replication\\.throttled\\.replicas",
    "message\\.timestamp\\.difference\\.max\\.ms",
    "message\\.timestamp\\.type",
    "unclean\\.leader\\.election\\.enable",
    "min\\.insync\\.replicas",
]
_EXCLUDED_PROPERTIES = compile_pattern_list(CONFIG_PROPERTIES_EXCLUDE_DEFAULT)


def target_config(source_config: Mapping[str, object]) -> dict[str, object]:
    """The properties a new remote topic gets (createNewTopics' targetConfig with
    DefaultConfigPropertyFilter): the source topic's explicitly set ones, but the excluded;
    its defaults are the target's (``use.defaults.from`` target)."""
    return {
        name: value
        for name, value in source_config.items()
        if _EXCLUDED_PROPERTIES.fullmatch(name) is None
    }


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
    """A topic a mirror writes in its target: ``name`` in cluster ``cluster``, the copy of
    ``source_topic`` of ``source``, by mirror number ``mirror``; ``created``: by the mirror
    (else it was declared in the target, and ``partitions`` and ``replication_factor`` are
    not the mirror's to set: -1)."""

    mirror: int
    cluster: str
    name: str
    source: str
    source_topic: str
    partitions: int
    replication_factor: int
    created: bool = True


def remote_topics(
    flows: Sequence[MirrorFlow], topics: Mapping[str, Mapping[str, int]]
) -> list[RemoteTopic]:
    """The remote topics every mirror writes, in the order the mirrors find them; ``topics``:
    each cluster's declared topics and their partition counts."""
    known = {cluster: dict(names) for cluster, names in topics.items()}
    found: list[RemoteTopic] = []
    done: set[tuple[int, str]] = set()
    more = True
    while more:
        more = False
        for flow in flows:
            connector = flow.connector
            source = known[connector.source]
            for topic in sorted(source):
                if (flow.index, topic) in done or not connector.should_replicate_topic(topic):
                    continue
                done.add((flow.index, topic))
                more = True
                remote = connector.format_remote_topic(topic)
                target = known[connector.target]
                declared = remote in target
                if not declared:
                    target[remote] = source[topic]
                rf = -1 if declared else flow.replication_factor
                found.append(
                    RemoteTopic(
                        flow.index,
                        connector.target,
                        remote,
                        connector.source,
                        topic,
                        target[remote],
                        rf,
                        not declared,
                    )  # fmt: skip
                )
    return found
