"""sim.timers: call_later takes exactly the place in SimPy's event order that env.timeout would
(it builds SimPy 4's queue entries itself, so a SimPy change that breaks this fails here)."""

from __future__ import annotations

import pytest
import simpy
from hypothesis import given, settings
from hypothesis import strategies as st

from sim.timers import Signal, call_later


class _Item:
    """What call_later schedules: anything with a writable ``callbacks`` and ``_ok``."""

    __slots__ = ("callbacks", "label", "_ok")

    def __init__(self, label: int) -> None:
        self.label = label
        self._ok = True


def _fire_order(delays: list[float], use_call_later: list[bool]) -> list[tuple[float, int]]:
    """Schedule one callback per delay (at t = 0, then more from inside the first callbacks,
    so ties between the two kinds also arise mid-run); return (time, label) as they fire."""
    env = simpy.Environment()
    fired: list[tuple[float, int]] = []

    def schedule(label: int, delay: float) -> None:
        def record(_event) -> None:
            fired.append((env.now, label))
            if label < len(delays) // 2:  # the first half each schedule one more, at +delay
                schedule(label + len(delays), delay)

        if use_call_later[label % len(use_call_later)]:
            call_later(env, delay, _Item(label), (record,))
        else:
            env.timeout(delay).callbacks.append(record)

    for label, delay in enumerate(delays):
        schedule(label, delay)
    env.run()
    return fired


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.sampled_from([0.0, 0.5, 1.0, 1.5, 2.0]), min_size=1, max_size=12),
    st.lists(st.booleans(), min_size=1, max_size=12),
)
def test_call_later_fires_where_a_timeout_would(delays: list[float], kinds: list[bool]) -> None:
    """Mixed call_later and env.timeout, with ties at equal times: the same order as all
    timeouts (ties by scheduling order, as SimPy's event ids break them)."""
    assert _fire_order(delays, kinds) == _fire_order(delays, [False])


def test_call_later_refuses_a_negative_delay() -> None:
    with pytest.raises(ValueError, match="negative delay"):
        call_later(simpy.Environment(), -1.0, _Item(0), ())


def _succeed_order(use_signal: list[bool], n: int) -> list[tuple[str, float]]:
    """Processes waiting on ``n`` one-shot events that timeouts trigger at t = 0, 1, 1, 2 ...;
    each event a Signal or a SimPy Event, as ``use_signal`` says; the order the waiters wake."""
    env = simpy.Environment()
    woke: list[tuple[str, float]] = []
    events = [
        Signal(env) if use_signal[i % len(use_signal)] else simpy.Event(env) for i in range(n)
    ]

    def waiter(i: int):
        yield events[i]
        woke.append((f"w{i}", env.now))

    def trigger(i: int):
        yield env.timeout((i + 1) // 2)
        woke.append((f"t{i}", env.now))
        events[i].succeed()

    for i in range(n):
        env.process(waiter(i))
        env.process(trigger(i))
    env.run()
    return woke


@settings(max_examples=100, deadline=None)
@given(st.lists(st.booleans(), min_size=1, max_size=8), st.integers(1, 8))
def test_a_signal_wakes_its_waiter_where_an_event_would(use_signal: list[bool], n: int) -> None:
    """Signal.succeed takes the place Event.succeed would in SimPy's order, for a waiting
    process, with ties between the two kinds at equal times."""
    assert _succeed_order(use_signal, n) == _succeed_order([False], n)
