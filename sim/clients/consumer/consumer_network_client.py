"""The consumer's side of the network (≈ ``ConsumerNetworkClient`` + ``ClusterConnectionStates``).

``Wakeup`` is how the application thread blocks in ``poll()``: like ``client.poll(timeout)`` it
returns at the first network outcome (fetch, ListOffsets or metadata response, failure) or at its
timeout. ``ClusterConnectionStates`` keeps the reconnect backoff of each broker after a failure.
Times are simulated seconds.
"""

from __future__ import annotations

import math

import simpy

from sim.timers import Signal

#: Kafka 3.9 consumer defaults of ``reconnect.backoff.ms`` / ``reconnect.backoff.max.ms``
#: (ConsumerConfig), seconds. Not yet consumer properties of sim.kafka_config.
RECONNECT_BACKOFF_S = 0.05
RECONNECT_BACKOFF_MAX_S = 1.0


def exponential_backoff_s(attempts: int, base_s: float, max_s: float) -> float:
    """``ExponentialBackoff.backoff(attempts)`` with multiplier 2, without its 20 % jitter, s."""
    if base_s <= 0:
        return 0.0
    if max_s <= base_s:
        return max_s
    exp_max = math.log(max_s / base_s, 2)
    return min(base_s * 2.0 ** min(attempts, exp_max), max_s)


class Wakeup:
    """A re-armable signal: ``wait_until`` gives an event that fires at the first ``notify`` or at
    the deadline, whichever comes first (a spurious early wake is possible: waiters re-check).

    A ``notify`` while nobody waits is dropped: the waiter re-checks its state before waiting.
    An armed timer is reused by later waits with a later deadline, so waiting again and again
    on the same deadline (auto-commit, metadata expiry) schedules one timer, not one per wait.
    Likewise the event of a wait is reused once SimPy has processed it (its waiter has run).
    """

    def __init__(self, env: simpy.Environment) -> None:
        self.env = env
        self._event: Signal | None = None  # the waiter's, until notified
        self._last: Signal | None = None  # the last one given
        self._timer_at_s = math.inf

    def wait_until(self, deadline_s: float = math.inf) -> Signal:
        """An event that succeeds at the next ``notify`` or by ``deadline_s`` (simulated s)."""
        event = self._last
        if event is not None and event.callbacks is None:
            # processed (SimPy sets its callbacks to None): new again rather than a new Signal
            # per poll, 9 M instructions of the default scenario's 3,133 M
            event.callbacks = []
            event.triggered = False
        else:
            event = self._last = Signal(self.env)
        self._event = event
        now = self.env.now
        if deadline_s < math.inf and not now < self._timer_at_s <= deadline_s:
            self._timer_at_s = deadline_s
            timer = self.env.timeout(max(deadline_s - now, 0.0))
            timer.callbacks.append(self._on_timer)
        return event

    def notify(self) -> None:
        """Wake the waiter, if any."""
        event, self._event = self._event, None
        if event is not None:
            event.succeed()

    def _on_timer(self, _: simpy.Event) -> None:
        if self._timer_at_s <= self.env.now:
            self._timer_at_s = math.inf
        self.notify()


class ClusterConnectionStates:
    """Reconnect backoff per broker node: after a failure the node is blacked out for
    ``reconnect.backoff.ms`` doubling per consecutive failure up to ``reconnect.backoff.max.ms``."""

    def __init__(self, base_s: float = RECONNECT_BACKOFF_S, max_s: float = RECONNECT_BACKOFF_MAX_S):
        self.base_s = base_s
        self.max_s = max_s
        #: consecutive failed requests per node, for the nodes whose last request failed (a node
        #: not in it is in no backoff)
        self.failures: dict[str, int] = {}
        self._blocked_until_s: dict[str, float] = {}

    def blocked_until_s(self, node: str) -> float:
        """Until when ``node`` is in reconnect backoff (0 if it is not), s."""
        return self._blocked_until_s.get(node, 0.0)

    def failed(self, node: str, now_s: float) -> None:
        """A request to ``node`` ended in a disconnection or timeout (``disconnected``)."""
        failures = self.failures.get(node, 0)
        self.failures[node] = failures + 1
        backoff_s = exponential_backoff_s(failures, self.base_s, self.max_s)
        self._blocked_until_s[node] = now_s + backoff_s

    def succeeded(self, node: str) -> None:
        """``node`` answered: its backoff starts over."""
        if node in self.failures:
            del self.failures[node]
            del self._blocked_until_s[node]
