"""Named random streams: one seed per run, one independent generator per component.

Every component draws from a generator derived from the run's seed and a stable name
(``"producer/app-0/keys"``), never from a shared global stream, so adding a component or an
extra draw in one component shifts no other component's numbers. The name is hashed with
SHA-256 (not Python's ``hash()``, which is salted per process by PYTHONHASHSEED), so the same
seed gives the same numbers in any process.
"""

from __future__ import annotations

import hashlib

import numpy as np


def _name_words(name: str) -> list[int]:
    """The stream name as four 32-bit words of its SHA-256 digest (stable across processes)."""
    digest = hashlib.sha256(name.encode("utf-8")).digest()[:16]
    return [int.from_bytes(digest[i : i + 4], "little") for i in range(0, 16, 4)]


class RandomStreams:
    """Independent ``numpy.random.Generator`` streams keyed by name, all derived from one seed.

    >>> streams = RandomStreams(seed=7)
    >>> a = streams.stream("producer/app-0/keys")
    >>> a is streams.stream("producer/app-0/keys")
    True
    """

    def __init__(self, seed: int, prefix: str = "") -> None:
        """prefix: put before every stream name (``"east/"``: each cluster of a scenario draws
        its own numbers, as if its components had the cluster in their names)."""
        if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
            raise ValueError(f"seed: must be a non-negative integer, got {seed!r}")
        self.seed = seed
        self.prefix = prefix
        self._streams: dict[str, np.random.Generator] = {}

    def stream(self, *name: object) -> np.random.Generator:
        """The generator for ``prefix + "/".join(name)``; created on first use, then the same
        object."""
        key = "/".join(str(part) for part in name)
        if not key:
            raise ValueError("stream name: must not be empty")
        key = self.prefix + key
        gen = self._streams.get(key)
        if gen is None:
            sequence = np.random.SeedSequence(entropy=self.seed, spawn_key=_name_words(key))
            gen = np.random.Generator(np.random.PCG64(sequence))
            self._streams[key] = gen
        return gen

    def names(self) -> list[str]:
        """Names of the streams created so far, in creation order."""
        return list(self._streams)
