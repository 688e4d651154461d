"""Benchmark: vectorised murmur2 (``murmur2_many``) vs a per-key Python loop (``murmur2``).

Run ``python benchmarks/bench_murmur2.py [n_keys]`` (default 1,000,000 keys ``b"key-<i>"``).
Both paths run in the same process on the same keys; the script checks they agree and prints
wall times, keys per second and the speed ratio (target: >= 20x).
"""

from __future__ import annotations

import sys
import time

import numpy as np

from sim.clients.partitioner import murmur2, murmur2_many


def _best_of(repeats: int, fn, *args):
    """The fastest of ``repeats`` runs: (seconds, result)."""
    best, result = float("inf"), None
    for _ in range(repeats):
        start = time.perf_counter()
        result = fn(*args)
        best = min(best, time.perf_counter() - start)
    return best, result


def _loop(keys: list[bytes]) -> list[int]:
    return [murmur2(key) for key in keys]


def main(n_keys: int = 1_000_000) -> float:
    """Time both paths over ``n_keys`` keys, print the figures, return the speed ratio."""
    keys = [b"key-%d" % i for i in range(n_keys)]
    key_array = np.array(keys)
    loop_s, expected = _best_of(2, _loop, keys)
    vector_s, hashes = _best_of(5, murmur2_many, keys)
    array_s, array_hashes = _best_of(5, murmur2_many, key_array)
    for got in (hashes, array_hashes):
        if not np.array_equal(got, np.asarray(expected, dtype=np.int32)):
            raise SystemExit("vectorised and scalar murmur2 disagree")
    ratio = loop_s / vector_s
    print(f"keys:                       {n_keys:,} (b'key-<i>'), best of several runs")
    print(f"per-key loop, list:         {loop_s:8.3f} s  {n_keys / loop_s:14,.0f} keys/s")
    print(f"murmur2_many, list:         {vector_s:8.3f} s  {n_keys / vector_s:14,.0f} keys/s")
    print(f"murmur2_many, numpy S array:{array_s:8.3f} s  {n_keys / array_s:14,.0f} keys/s")
    print(f"speed ratio, list input:    {ratio:8.1f}x  (target >= 20x)")
    print(f"speed ratio, array input:   {loop_s / array_s:8.1f}x")
    return ratio


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000)
