"""A node's CPU: its cores, shared by the node's modelled threads.

A thread (a broker's network and request-handler threads, a replica fetcher, a producer's sender)
hands the CPU a piece of work of ``cost_s`` seconds of CPU when it is free to start it, at
``ready_s``. With ``cores`` null the node has as many cores as threads: the work runs at once,
from ``ready_s`` to ``ready_s + cost_s``. With ``cores`` set, each core is a "busy until" time
(s), like a NIC (:mod:`sim.net`) or a disk (:mod:`sim.disk`), not a SimPy resource. The core
free the latest by ``ready_s`` takes the work (the cores free sooner stay for work ready
sooner); when none is free by then, the first free one::

    start = ready_s if a core is free by then, else the earliest busy-until time
    that core busy until start + cost_s

Approximations: a piece of work holds its core from start to end (no preemption, no time
slices), and cores are handed out in the order the work is handed to the CPU, not in the order
it is ready (a core's time before the start of the work it holds is not given to work handed
after it). A broker hands a request's request-handler work, and the requests queued behind it on
its connection, to the CPU when the request arrives, ahead of their start: with fewer cores
than busy threads some cores' time is lost so. Measured (tests/test_calibration_knobs.py): three
connections held by their request handlers on 2 cores carry 6 % less than twice what one core
carries.

``busy_s`` adds up the CPU seconds handed out, counted when the work is handed over (as a NIC's
bytes are counted when sent): per interval, the node's CPU use in cores' worth.
"""

from __future__ import annotations

from bisect import bisect_right, insort


class Cpu:
    """The cores of one node (see the module docstring). Times in s."""

    __slots__ = ("cores", "busy_s", "_free")

    def __init__(self, cores: int | None = None) -> None:
        """cores: the node's cores; None: as many as its threads (no contention)."""
        if cores is not None and cores < 1:
            raise ValueError(f"cores must be >= 1 or None, not {cores}")
        self.cores = cores
        #: CPU seconds handed out so far
        self.busy_s = 0.0
        # each core's busy-until time, sorted (None: no contention)
        self._free: list[float] | None = None if cores is None else [0.0] * cores

    def run(self, ready_s: float, cost_s: float) -> float:
        """Run ``cost_s`` of work on a thread free at ``ready_s``; returns when it ends, s.

        The core free the latest by ``ready_s`` takes it (the others stay for work ready
        sooner), or if none is, the first free (a sorted list: bisect, pop and insort);
        max() written out (this runs once per request)."""
        self.busy_s += cost_s
        free = self._free
        if free is None:
            return ready_s + cost_s
        i = bisect_right(free, ready_s) - 1
        if i < 0:
            end = free.pop(0) + cost_s
        else:
            del free[i]
            end = ready_s + cost_s
        insort(free, end)
        return end
