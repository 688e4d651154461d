"""sim.timers: call_later takes exactly the place in SimPy's event order that env.timeout would
(it builds SimPy 4's queue entries itself, so a SimPy change that breaks this fails here), and
the Environment's own run loop processes events exactly as SimPy's does."""

from __future__ import annotations

import pytest
import simpy
from hypothesis import given, settings
from hypothesis import strategies as st

from sim.timers import Environment, EventLimitExceeded, Signal, call_later


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


def _trace(env: simpy.Environment, delays: list[int], stops: list[float]) -> list[tuple]:
    """Processes that sleep ``delays``, wake each other and interrupt one another, run in
    chunks up to each of ``stops`` (then to the end); the (time, what) of everything seen,
    with each run's return value."""
    seen: list[tuple] = []
    wakeups = [env.event() for _ in delays]

    def sleeper(i: int, delay: int):
        try:
            yield env.timeout(delay, value=i)
            seen.append((env.now, "slept", i))
            if i + 1 < len(wakeups) and not wakeups[i + 1].triggered:
                wakeups[i + 1].succeed(i)
            value = yield wakeups[i] | env.timeout(delay + 1)
            seen.append((env.now, "woke", i, sorted(v for v in value.values() if v is not None)))
        except simpy.Interrupt as interrupt:
            seen.append((env.now, "interrupted", i, interrupt.cause))

    processes = [env.process(sleeper(i, d)) for i, d in enumerate(delays)]

    def interrupter():
        yield env.timeout(1.5)
        if processes[-1].is_alive:
            processes[-1].interrupt("stop")

    env.process(interrupter())
    for stop in stops:
        if stop > env.now:
            seen.append((env.now, "run", env.run(until=stop)))
    seen.append((env.now, "end", env.run()))
    return seen


@settings(max_examples=100, deadline=None)
@given(
    st.lists(st.integers(0, 3), min_size=1, max_size=8),
    st.lists(st.sampled_from([0.5, 1.0, 2.0, 2.5, 4.0]), max_size=3),
)
def test_the_run_loop_processes_events_as_simpys_does(delays: list[int], stops: list[float]):
    """Same trace, same return values, and ``processed`` equals the events SimPy steps."""
    ours = Environment()
    assert _trace(ours, delays, sorted(stops)) == _trace(simpy.Environment(), delays, sorted(stops))
    stepped = simpy.Environment()
    steps = 0
    original = stepped.step

    def counting_step() -> None:
        nonlocal steps
        steps += bool(stepped._queue)  # a step on an empty queue ends the run, processes none
        original()

    stepped.step = counting_step
    _trace(stepped, delays, sorted(stops))
    assert ours.processed == steps


def test_the_run_loop_returns_the_until_events_value_and_raises_a_failure() -> None:
    env = Environment()
    done = env.timeout(2, value="done")
    assert env.run(until=done) == "done"
    assert env.run(until=done) == "done"  # processed already: its value at once
    with pytest.raises(RuntimeError, match="no events left"):
        env.run(until=env.event())
    failing = env.event()
    failing.fail(KeyError("lost"))
    with pytest.raises(KeyError, match="lost"):
        env.run()
    with pytest.raises(ValueError, match="later than the current time"):
        env.run(until=env.now)


def test_the_event_limit_stops_a_run_after_exactly_that_many_events() -> None:
    env = Environment()

    def forever():
        while True:
            yield env.timeout(0)  # a retry loop without delay: simulated time never moves

    env.process(forever())
    env.event_limit = 500
    with pytest.raises(EventLimitExceeded, match="more than 500 events"):
        env.run(until=1)
    assert env.processed == 500
    with pytest.raises(EventLimitExceeded):
        env.step()
    assert env.processed == 500


def test_stepping_counts_the_events_processed_and_not_an_empty_queue() -> None:
    env = Environment()
    env.timeout(1)
    env.step()
    assert (env.processed, env.now) == (1, 1)
    with pytest.raises(simpy.core.EmptySchedule):
        env.step()
    assert env.processed == 1
