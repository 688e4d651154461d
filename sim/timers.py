"""Timeouts without an event per timeout.

Most timeouts never fire: the request is answered, the parked fetch completes. Timeouts of the
same length expire in the order they were set, so one FIFO per length and a single SimPy timer
armed at its oldest open deadline serve them all; settled items are dropped when they reach the
front. This keeps the event count proportional to the timeouts that do fire.

:func:`call_later` schedules a callback without a Timeout, for the hottest paths (network
deliveries, the producer's wake timer), and :class:`Signal` is a lighter one-shot event for the
clients' waits. :class:`Environment` is SimPy's with a cheaper clock read and a run loop that
counts events and can stop a runaway run.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Callable
from heapq import heappop, heappush
from operator import attrgetter
from typing import Any

import simpy
from simpy.core import EmptySchedule, StopSimulation
from simpy.events import NORMAL, URGENT


class EventLimitExceeded(RuntimeError):
    """A run processed more events than its environment's ``event_limit`` (a livelock)."""


class Environment(simpy.Environment):
    """SimPy's environment whose ``now`` costs no Python function call and whose run loop
    counts the events it processes (``processed``) and stops past ``event_limit``.

    ``simpy.Environment.now`` is a property written in Python, so every read of the clock runs
    a function; the model reads it about a dozen times per request. Here the property's getter
    is ``operator.attrgetter("_now")``, a C function returning the same attribute SimPy's own
    property returns: the same value for about two thirds of the cost (Python 3.11).

    :meth:`run` does what ``simpy.Environment.run`` does, with the body of ``step`` in its own
    loop, which counts and limits the events at no measurable cost (a run's instruction count
    is unchanged); counting by wrapping ``step`` cost a Python call per event.
    """

    now = property(attrgetter("_now"), doc="The current simulated time, seconds.")

    def __init__(self, initial_time: float = 0) -> None:
        super().__init__(initial_time)
        #: events processed so far (by :meth:`run` and :meth:`step`)
        self.processed = 0
        #: processing more events than this raises :class:`EventLimitExceeded` (a test's or a
        #: sweep's guard against a model that livelocks: a retry loop without delay)
        self.event_limit: float = math.inf

    def step(self) -> None:
        """Process the next event (``simpy.Environment.step``), counted in ``processed``."""
        if self.processed >= self.event_limit:
            self._over_limit()
        if self._queue:  # else it raises EmptySchedule, having processed none
            self.processed += 1
        super().step()

    def run(self, until: float | simpy.Event | None = None) -> Any:
        """Process events until ``until`` (a time, s, or an event; None: until none are left),
        as ``simpy.Environment.run``: returns the until event's value."""
        if until is not None:
            if not isinstance(until, simpy.Event):
                at = until if isinstance(until, int) else float(until)
                if at <= self._now:
                    raise ValueError(f"until ({at}) must be later than the current time")
                until = simpy.Event(self)
                until._ok = True
                until._value = None
                self.schedule(until, URGENT, at - self._now)
            elif until.callbacks is None:
                return until.value  # it has been processed already
            until.callbacks.append(StopSimulation.callback)
        try:
            self._process_events()
        except StopSimulation as stop:
            return stop.args[0]
        except EmptySchedule:
            if until is not None:
                message = f"no events left but the until event has not happened: {until}"
                raise RuntimeError(message) from None
        return None

    def _process_events(self) -> None:
        """``step`` in a loop until an exception (StopSimulation, EmptySchedule, a failure)."""
        queue = self._queue
        budget = self.event_limit - self.processed
        count = 0
        try:
            while True:
                if count >= budget:
                    self._over_limit()
                try:
                    self._now, _, _, event = heappop(queue)
                except IndexError:
                    raise EmptySchedule from None
                count += 1
                callbacks, event.callbacks = event.callbacks, None
                try:
                    for callback in callbacks:
                        callback(event)
                except StopSimulation:
                    # the rest of the callbacks run first when the simulation resumes
                    event.callbacks = callbacks[callbacks.index(callback) + 1 :]
                    self.schedule(event, URGENT - 1)
                    raise
                if not event._ok and not hasattr(event, "_defused"):
                    # a failed event nobody handled: crash the run with a copy of its exception
                    failure = event._value
                    exc = type(failure)(*failure.args)
                    exc.__cause__ = failure
                    raise exc
        finally:
            self.processed += count

    def _over_limit(self) -> None:
        raise EventLimitExceeded(
            f"more than {self.event_limit:,} events by t={self._now:.3f} s: the run is stopped"
        )


#: Float slack when a deadline timer fires (now + timeout - now may round below the deadline), s.
DEADLINE_SLACK_S = 1e-9


class Deadlines:
    """Deadlines for the keys of a dict of open items; ``expire(key)`` is called for each key
    still in ``open_items`` when its deadline passes. A key that left ``open_items`` (answered,
    completed) is settled: it needs no timeout any more, and is dropped at the front.
    """

    def __init__(
        self, env: simpy.Environment, expire: Callable[[Any], None], open_items: dict[Any, Any]
    ) -> None:
        self.env = env
        self.expire = expire
        # the owner's dict itself, tested with ``in`` rather than through a predicate: no
        # Python call per deadline (about 1 % of the default scenario)
        self.open_items = open_items
        # per timeout length, the deadlines (s) and their keys as two parallel FIFOs rather
        # than one of (deadline, key) pairs: about one entry per request stays for the whole
        # timeout, and a float or an int is no object for the cyclic GC to visit, where each
        # pair would be one until its next pass
        self._queues: dict[float, tuple[deque[float], deque[Any]]] = {}

    def add(self, timeout_s: float, key: Any) -> None:
        """``key`` expires ``timeout_s`` seconds from now unless settled before."""
        queue = self._queues.get(timeout_s)
        if queue is None:
            queue = self._queues[timeout_s] = (deque(), deque())
        deadlines, keys = queue
        deadlines.append(self.env.now + timeout_s)
        keys.append(key)
        if len(keys) == 1:
            self._arm(timeout_s, timeout_s)

    def _arm(self, delay_s: float, timeout_s: float) -> None:
        self.env.timeout(delay_s, timeout_s).callbacks.append(self._on_timer)

    def _on_timer(self, event: simpy.Event) -> None:
        timeout_s: float = event._value
        deadlines, keys = self._queues[timeout_s]
        due = self.env.now + DEADLINE_SLACK_S
        open_items = self.open_items
        while keys:
            key = keys[0]
            if key not in open_items:  # once per key: most were settled long before
                keys.popleft()
                deadlines.popleft()
            elif deadlines[0] <= due:
                keys.popleft()
                deadlines.popleft()
                self.expire(key)
            else:
                break
        if keys:
            self._arm(deadlines[0] - self.env.now, timeout_s)


def call_later(
    env: simpy.Environment,
    delay_s: float,
    item: Any,
    callbacks: tuple[Callable[[Any], None], ...],
) -> None:
    """Call each of ``callbacks`` with ``item`` ``delay_s`` seconds from now, at the place in
    the event order that ``env.timeout(delay_s)`` created now would take.

    ``item`` stands in for the Timeout on SimPy's queue: an object with a writable
    ``callbacks`` attribute and ``_ok = True``, which is all ``Environment.step`` reads of an
    event it processes. This saves a Timeout, its callback list and a bound method per
    delivery (about 1 µs). It builds the queue entry as ``Environment.schedule`` does in
    SimPy 4: (time, priority, event id, event), with the same id counter.
    """
    if delay_s < 0:
        raise ValueError(f"negative delay {delay_s}")
    item.callbacks = callbacks
    heappush(env._queue, (env._now + delay_s, NORMAL, next(env._eid), item))


class Signal:
    """A one-shot event lighter than SimPy's ``Event``, for the clients' hottest waits (the
    producer's next round, the consumer's poll and processing).

    It has what ``Environment.step`` and a waiting ``Process`` read of an event: ``callbacks``
    (a process may yield it, a callback may be appended; a tuple where nothing is appended),
    ``_ok`` and ``_value``. :meth:`succeed` schedules it as ``Event.succeed`` does, and
    ``call_later(env, delay_s, signal, signal.callbacks)`` as a timeout would: at the same
    place in the event order. It saves the Event's property reads and, per wait, a Timeout.
    """

    __slots__ = ("callbacks", "env", "triggered")
    _ok = True  # once on SimPy's queue, it has succeeded
    _value = None

    def __init__(self, env: simpy.Environment, callbacks: Any = None) -> None:
        self.env = env
        self.callbacks = [] if callbacks is None else callbacks
        self.triggered = False

    def succeed(self) -> None:
        """Process it now, after what is already queued for now (``Event.succeed``)."""
        self.triggered = True
        call_later(self.env, 0.0, self, self.callbacks)
