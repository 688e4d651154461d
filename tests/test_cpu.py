"""A node's CPU (sim.cpu.Cpu): cores shared by threads, as busy-until times."""

from __future__ import annotations

import pytest

from sim.cpu import Cpu


def test_more_threads_than_cores_wait_for_a_core():
    """Two cores, three threads each ready at 0 with 1 s of work: two run at once, the third
    starts when the first core is free; a fourth, ready at 5 s, finds a core free."""
    cpu = Cpu(2)
    assert [cpu.run(0.0, 1.0) for _ in range(3)] == [1.0, 1.0, 2.0]
    assert cpu.run(5.0, 0.5) == 5.5


def test_one_core_runs_work_one_piece_after_another_in_the_order_it_is_handed():
    """One core: work handed first runs first, even if ready later (no preemption, no
    reordering): 1 s ready at 3 s, then 1 s ready at 0 s, ends at 4 s then 5 s."""
    cpu = Cpu(1)
    assert cpu.run(3.0, 1.0) == 4.0
    assert cpu.run(0.0, 1.0) == 5.0


def test_work_ready_later_leaves_the_sooner_free_core_to_work_ready_sooner():
    """Two cores, free at 1 s and 0 s: work ready at 5 s takes the one free at 1 s, so work
    handed after it but ready at 0 s runs at once on the other (the first free core would have
    left it waiting until 1 s)."""
    cpu = Cpu(2)
    assert cpu.run(0.0, 1.0) == 1.0
    assert cpu.run(5.0, 1.0) == 6.0
    assert cpu.run(0.0, 1.0) == 1.0


def test_without_cores_no_work_waits():
    """cores None: every piece runs from when its thread is ready, however many at once."""
    cpu = Cpu()
    assert [cpu.run(0.0, 1.0) for _ in range(100)] == [1.0] * 100
    assert cpu.cores is None


@pytest.mark.parametrize("cores", [None, 1, 3])
def test_busy_adds_up_the_work_handed_out_whether_or_not_it_waits(cores):
    cpu = Cpu(cores)
    for cost in (0.25, 0.5, 2.0):
        cpu.run(1.0, cost)
    assert cpu.busy_s == 2.75


def test_zero_cores_is_refused():
    with pytest.raises(ValueError, match="cores"):
        Cpu(0)
