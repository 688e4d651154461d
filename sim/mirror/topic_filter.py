"""Which source topics a mirror replicates (≈ Kafka 3.9 ``DefaultTopicFilter``): those whose
whole name matches ``topics`` and matches none of ``topics.exclude``."""

from __future__ import annotations

import re


def compile_pattern_list(patterns: list[str]) -> re.Pattern[str] | None:
    """MirrorUtils.compilePatternList: the patterns joined with ``|``; None (matches nothing)
    for an empty list."""
    return re.compile("|".join(patterns)) if patterns else None


class DefaultTopicFilter:
    """include: the ``topics`` regular expressions; exclude: ``topics.exclude``."""

    def __init__(self, include: list[str], exclude: list[str]) -> None:
        self.include = compile_pattern_list(include)
        self.exclude = compile_pattern_list(exclude)

    def should_replicate_topic(self, topic: str) -> bool:
        """shouldReplicateTopic: included and not excluded (``Matcher.matches``: the whole name)."""
        included = self.include is not None and self.include.fullmatch(topic) is not None
        excluded = self.exclude is not None and self.exclude.fullmatch(topic) is not None
        return included and not excluded
