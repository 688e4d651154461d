"""How MirrorMaker 2 names remote topics (≈ Kafka 3.9 ``DefaultReplicationPolicy`` and the
defaults of the ``ReplicationPolicy`` interface, connect/mirror-client).

A topic ``orders`` of cluster ``east`` is ``east.orders`` in the clusters it is mirrored to; the
alias before the first separator is where a remote topic came from, so ``west.east.orders`` went
east → west → here. Only the separator is configurable (``replication.policy.separator``).
"""

from __future__ import annotations

import re

#: ReplicationPolicy.heartbeatsTopic()
HEARTBEATS_TOPIC = "heartbeats"


class DefaultReplicationPolicy:
    """``<source alias><separator><topic>`` (DefaultReplicationPolicy, separator ``.`` unless
    configured)."""

    def __init__(self, separator: str = ".") -> None:
        self.separator = separator

    def format_remote_topic(self, source_alias: str, topic: str) -> str:
        """formatRemoteTopic: the name of ``topic`` of cluster ``source_alias`` once mirrored."""
        return source_alias + self.separator + topic

    def topic_source(self, topic: str) -> str | None:
        """topicSource: the alias before the first separator, or None for a topic that is not a
        remote one. Java's ``Pattern.split`` drops trailing empty parts: ``"a."`` has none."""
        parts = re.split(re.escape(self.separator), topic)
        while parts and not parts[-1]:
            parts.pop()
        return parts[0] if len(parts) >= 2 else None

    def upstream_topic(self, topic: str) -> str | None:
        """upstreamTopic: the topic's name in the cluster it came from (None if not remote)."""
        source = self.topic_source(topic)
        if source is None:
            return None
        return topic[len(source) + len(self.separator) :]

    def original_topic(self, topic: str) -> str:
        """originalTopic: the name in the cluster where the topic was first written."""
        upstream = self.upstream_topic(topic)
        if upstream is None or upstream == topic:
            return topic
        return self.original_topic(upstream)

    def is_heartbeats_topic(self, topic: str) -> bool:
        """isHeartbeatsTopic: ``heartbeats`` or a remote copy of it."""
        return self.original_topic(topic) == HEARTBEATS_TOPIC

    def is_internal_topic(self, topic: str) -> bool:
        """isInternalTopic: Kafka's (``__``, ``.``), Connect's (``-internal``, ``.internal``)
        and MirrorMaker's own (``<separator>internal``)."""
        kafka_internal = topic.startswith(("__", "."))
        connect_internal = topic.endswith(("-internal", ".internal"))
        mm2_internal = topic.endswith(self.separator + "internal")
        return mm2_internal or kafka_internal or connect_internal
