"""A broker's disk behind the OS page cache: appends, writeback, fsync, reads, power loss.

Writes (``write``) land in the page cache as dirty data, kept as a FIFO of appends
``(time dirtied, log, end offset, bytes)``, one entry per append, never per message. The disk
writes one thing after another at ``write_bytes_s``, as a "busy until" time; a write
becomes durable when its disk time ends. Nothing needs a SimPy event except the flusher's wake-ups:
completions are retired lazily, whenever the disk is asked something.

Writeback, a simplified Linux flusher (``vm.dirty_*``):
- every ``writeback_interval_s`` (``dirty_writeback_centisecs``) the flusher writes back, in FIFO
  order, the data dirty for at least ``dirty_expire_s`` (``dirty_expire_centisecs``);
- whenever dirty data not yet under writeback exceeds ``dirty_background_ratio`` × page cache,
  writeback starts at once (as ``balance_dirty_pages`` wakes the flusher) and writes the FIFO's
  oldest data until it is back under that threshold;
- while dirty plus under-writeback data exceed ``dirty_ratio`` × page cache, a writer is
  throttled: ``write`` returns the time the disk needs, at ``write_bytes_s``, to bring it back
  under the limit (``balance_dirty_pages``, as a fluid rate, without its gradual ramp). Sustained
  writes faster than the disk therefore settle at the disk's rate.
- ``flush`` is ``fsync`` of one log: its dirty data is written now, queued behind writeback
  already on the disk. Kafka's per-log flush policy (``log.flush.interval.*``) is the caller's.

Reads: data written less than ``page_cache_bytes`` ago (by bytes written since, ``position``) is
in the page cache and costs nothing; older data is read sequentially at ``read_bytes_s``, one read
after another (a separate "busy until" from writes). After a power loss the cache is empty.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Generator, Hashable

import simpy

#: ``expired_before_s`` that no append meets: write back only over the background threshold.
_NEVER = float("-inf")
#: Linux's ``vm.dirty_ratio`` default: the share of the page cache dirty data may take before
#: writers wait for the disk
DIRTY_RATIO = 0.20


class _LogState:
    """What the disk knows of one log: dirty bytes, offsets, flush and durability marks."""

    __slots__ = (
        "index",
        "dirty_bytes",
        "end_offset",
        "flushed_seq",
        "durable_offset",
        "durable_at_s",
    )

    def __init__(self, index: int) -> None:
        self.index = index  # position in Disk._states: the dirty FIFO names logs by it
        self.dirty_bytes = 0  # appended, not yet given to the disk
        self.end_offset = 0  # end offset of the last append
        self.flushed_seq = 0  # FIFO entries up to this sequence number were written by flush()
        self.durable_offset = 0  # end offset of the last completed write
        self.durable_at_s = 0.0  # when the last write given to the disk completes, seconds


class Disk:
    """One disk with its page cache (see the module docstring). Sizes in bytes, times in s."""

    def __init__(
        self,
        env: simpy.Environment,
        *,
        write_bytes_s: float,
        read_bytes_s: float,
        page_cache_bytes: float,
        dirty_expire_s: float = 30.0,
        writeback_interval_s: float = 5.0,
        dirty_background_ratio: float = 0.10,
        dirty_ratio: float = DIRTY_RATIO,
    ) -> None:
        """write_bytes_s / read_bytes_s: sequential throughput, bytes/s. page_cache_bytes: memory
        for cached file data, bytes. dirty_*: the Linux ``vm.dirty_*`` settings."""
        if min(write_bytes_s, read_bytes_s, page_cache_bytes, writeback_interval_s) <= 0:
            raise ValueError("disk rates, page cache and writeback interval must be > 0")
        if not 0 <= dirty_background_ratio <= dirty_ratio <= 1:
            raise ValueError("need 0 <= dirty_background_ratio <= dirty_ratio <= 1")
        self.env = env
        self.write_bytes_s = write_bytes_s
        self.read_bytes_s = read_bytes_s
        self.page_cache_bytes = page_cache_bytes
        self.dirty_expire_s = dirty_expire_s
        self.writeback_interval_s = writeback_interval_s
        self._background_bytes = dirty_background_ratio * page_cache_bytes
        self._limit_bytes = dirty_ratio * page_cache_bytes
        self._slow_factor = 1.0
        self._position = 0  # bytes written so far
        self._cache_floor = 0  # data written before this position is not cached (power loss)
        self._seq = 0  # appends so far
        # dirty appends not yet given to the disk: (seq, time dirtied, log index, end offset,
        # bytes). The log is an index into _states, not the _LogState: a tuple of numbers only is
        # not tracked by the cyclic GC, and this FIFO holds up to dirty_expire_s of appends.
        self._dirty: deque[tuple[int, float, int, int, int]] = deque()
        self._dirty_bytes = 0  # bytes in _dirty not yet written by flush()
        # writes given to the disk, in completion order: (end time, log, end offset, bytes)
        self._writeback: deque[tuple[float, _LogState, int, int]] = deque()
        self._writeback_bytes = 0
        self._write_busy_s = 0.0
        self._read_busy_s = 0.0
        self._logs: dict[Hashable, _LogState] = {}
        self._states: list[_LogState] = []  # the same, by _LogState.index

    def start(self) -> None:
        """Start the OS flusher process (wakes every ``writeback_interval_s``)."""
        self.env.process(self._flusher_loop())

    # ------------------------------------------------------------------ writes

    def write(self, log_id: Hashable, end_offset: int, nbytes: int) -> float:
        """Append ``nbytes`` to log ``log_id``, whose end offset becomes ``end_offset``.

        Returns how long the writer is throttled before the append completes, seconds: 0 while
        dirty data stays under ``dirty_ratio`` × page cache.
        """
        now = self.env.now
        writeback = self._writeback
        if writeback and writeback[0][0] <= now:  # _retire's test first: it runs per append
            self._retire(now)
        log = self._logs.get(log_id)
        if log is None:
            log = self._logs[log_id] = _LogState(len(self._states))
            self._states.append(log)
        seq = self._seq = self._seq + 1
        self._dirty.append((seq, now, log.index, end_offset, nbytes))
        log.dirty_bytes += nbytes
        log.end_offset = end_offset
        self._dirty_bytes += nbytes
        self._position += nbytes
        if self._dirty_bytes > self._background_bytes:
            self._write_back(now, expired_before_s=_NEVER)
        excess = self._dirty_bytes + self._writeback_bytes - self._limit_bytes
        return excess / self._write_rate() if excess > 0 else 0.0

    def flush(self, log_id: Hashable) -> float:
        """fsync of one log: its dirty data goes to the disk now, behind queued writeback.

        Returns the delay until everything appended to the log so far is durable, seconds.
        """
        now = self.env.now
        self._retire(now)
        log = self._logs.get(log_id)
        if log is None:
            return 0.0
        if log.dirty_bytes:
            self._dirty_bytes -= log.dirty_bytes
            self._disk_write(now, log, log.end_offset, log.dirty_bytes)
            log.dirty_bytes = 0
            log.flushed_seq = self._seq  # the flusher skips these appends when it meets them
        return max(0.0, log.durable_at_s - now)

    def durable_offset(self, log_id: Hashable) -> int:
        """End offset of the last completed write of ``log_id`` (0 if none)."""
        self._retire(self.env.now)
        log = self._logs.get(log_id)
        return log.durable_offset if log is not None else 0

    def position(self) -> int:
        """Bytes written so far: the page cache's clock for :meth:`read`."""
        return self._position

    @property
    def dirty_bytes(self) -> int:
        """Bytes not yet durable: dirty in the page cache or under writeback."""
        self._retire(self.env.now)
        return self._dirty_bytes + self._writeback_bytes

    # ------------------------------------------------------------------ reads

    def read(self, written_at: int, nbytes: int) -> float:
        """Delay to read ``nbytes`` written when :meth:`position` was ``written_at``, seconds:
        0 from the page cache, else a sequential read queued behind other reads."""
        if written_at >= self._cache_floor and self._position - written_at < self.page_cache_bytes:
            return 0.0
        now = self.env.now
        start = max(now, self._read_busy_s)
        self._read_busy_s = start + nbytes * self._slow_factor / self.read_bytes_s
        return self._read_busy_s - now

    # ------------------------------------------------------------------ faults

    def power_loss(self) -> dict[Hashable, int]:
        """The machine loses power: dirty and in-progress writes are gone, the cache is empty.

        Returns ``{log_id: durable end offset}`` for every log written so far (what survives).
        """
        now = self.env.now
        self._retire(now)
        self._dirty.clear()
        self._writeback.clear()
        self._dirty_bytes = self._writeback_bytes = 0
        self._write_busy_s = self._read_busy_s = now
        self._cache_floor = self._position
        for log in self._logs.values():
            log.dirty_bytes = 0
            log.flushed_seq = self._seq
            log.durable_at_s = now
        return {log_id: log.durable_offset for log_id, log in self._logs.items()}

    def set_slow(self, factor: float) -> None:
        """Divide write and read throughput by ``factor`` (1 = normal) from now on."""
        if factor <= 0:
            raise ValueError(f"slow disk factor: must be > 0, got {factor}")
        self._slow_factor = factor

    # ------------------------------------------------------------------ internals

    def _write_rate(self) -> float:
        return self.write_bytes_s / self._slow_factor

    def _flusher_loop(self) -> Generator[simpy.Event, None, None]:
        """The OS flusher thread: periodic writeback of expired and excess dirty data."""
        while True:
            yield self.env.timeout(self.writeback_interval_s)
            now = self.env.now
            self._retire(now)
            self._write_back(now, expired_before_s=now - self.dirty_expire_s)

    def _write_back(self, now: float, expired_before_s: float) -> None:
        """Give the FIFO's oldest appends to the disk: those dirtied at or before
        ``expired_before_s``, then more while dirty data exceeds the background threshold."""
        dirty = self._dirty
        states = self._states
        while dirty and (
            dirty[0][1] <= expired_before_s or self._dirty_bytes > self._background_bytes
        ):
            seq, _, index, end_offset, nbytes = dirty.popleft()
            log = states[index]
            if seq <= log.flushed_seq:
                continue  # already written by flush()
            log.dirty_bytes -= nbytes
            self._dirty_bytes -= nbytes
            self._disk_write(now, log, end_offset, nbytes)

    def _disk_write(self, now: float, log: _LogState, end_offset: int, nbytes: int) -> None:
        """Queue one write on the disk; it makes ``end_offset`` durable when it completes."""
        start = max(now, self._write_busy_s)
        self._write_busy_s = start + nbytes / self._write_rate()
        self._writeback.append((self._write_busy_s, log, end_offset, nbytes))
        self._writeback_bytes += nbytes
        log.durable_at_s = self._write_busy_s

    def _retire(self, now: float) -> None:
        """Account the writes the disk has completed by ``now``."""
        writeback = self._writeback
        while writeback and writeback[0][0] <= now:
            _, log, end_offset, nbytes = writeback.popleft()
            self._writeback_bytes -= nbytes
            log.durable_offset = end_offset
