"""Disk: page-cache writes, throttling at the dirty limit, writeback lag, fsync, reads, faults."""

from __future__ import annotations

import pytest
import simpy

from sim.disk import Disk

MB = 1_000_000
WRITE = 100 * MB  # bytes/s
READ = 200 * MB  # bytes/s
CACHE = 1000 * MB  # bytes: background threshold 100 MB, dirty limit 200 MB
EXPIRE = 30.0  # s
INTERVAL = 5.0  # s


def make(**overrides) -> tuple[simpy.Environment, Disk]:
    env = simpy.Environment()
    params = dict(write_bytes_s=WRITE, read_bytes_s=READ, page_cache_bytes=CACHE)
    disk = Disk(env, **(params | overrides))
    disk.start()
    return env, disk


def test_writes_below_the_dirty_limit_are_not_throttled():
    env, disk = make()
    delays = [disk.write("p0", i + 1, MB) for i in range(199)]
    assert delays == [0.0] * 199
    assert disk.dirty_bytes == 199 * MB
    assert disk.write("p0", 200, 2 * MB) == pytest.approx(MB / WRITE)  # 1 MB over the limit


def test_sustained_writes_above_the_disk_rate_settle_at_the_disk_rate():
    env, disk = make()
    chunk, offered_gap_s = MB, MB / (2 * WRITE)  # offered at twice the disk's rate
    written_at: list[tuple[float, int]] = []

    def writer():
        total = 0
        while True:
            total += chunk
            delay = disk.write("p0", total // chunk, chunk)
            yield env.timeout(offered_gap_s + delay)
            written_at.append((env.now, total))

    env.process(writer())
    env.run(until=25.0)
    (t0, b0), (t1, b1) = next(w for w in written_at if w[0] >= 5.0), written_at[-1]
    assert (b1 - b0) / (t1 - t0) == pytest.approx(WRITE, rel=0.02)
    assert disk.dirty_bytes == pytest.approx(0.2 * CACHE, abs=2 * chunk)


def test_under_light_load_data_becomes_durable_about_dirty_expire_s_later():
    env, disk = make()
    period_s = 0.1
    offsets: list[tuple[float, int]] = []

    def writer():
        offset = 0
        while True:
            offset += 1
            disk.write("p0", offset, 1000)
            offsets.append((env.now, offset))
            yield env.timeout(period_s)

    env.process(writer())
    for check_s in (41.0, 52.3, 67.9, 80.0):
        env.run(until=check_s)
        durable = disk.durable_offset("p0")
        old = max(o for t, o in offsets if t <= check_s - EXPIRE - INTERVAL - 0.01)
        young = min(o for t, o in offsets if t > check_s - EXPIRE)
        assert old <= durable < young


def test_power_loss_keeps_exactly_the_durable_offsets():
    env, disk = make()

    def writer():
        for i in range(1, 601):
            disk.write("p0", i, 1000)
            disk.write("p1", 10 * i, 500)
            yield env.timeout(0.1)

    env.process(writer())
    env.run(until=55.0)
    expected = {"p0": disk.durable_offset("p0"), "p1": disk.durable_offset("p1")}
    assert 0 < expected["p0"] < 550  # the last ~30 s are still dirty
    assert disk.power_loss() == expected
    assert disk.dirty_bytes == 0
    assert disk.durable_offset("p0") == expected["p0"]


def test_power_loss_discards_a_write_still_on_the_disk():
    env, disk = make()
    disk.write("p0", 7, 10 * MB)
    delay = disk.flush("p0")
    env.run(until=delay / 2)
    assert disk.power_loss() == {"p0": 0}


def test_flush_makes_a_log_durable_after_its_queued_time():
    env, disk = make()
    disk.write("a", 5, 30 * MB)
    disk.write("b", 9, 10 * MB)
    disk.write("b", 12, 10 * MB)
    delay_a = disk.flush("a")
    delay_b = disk.flush("b")
    assert delay_a == pytest.approx(30 * MB / WRITE)
    assert delay_b == pytest.approx(50 * MB / WRITE)  # queued behind a's write
    env.run(until=delay_b * 0.99)
    assert (disk.durable_offset("a"), disk.durable_offset("b")) == (5, 0)
    env.run(until=delay_b)
    assert disk.durable_offset("b") == 12
    assert disk.flush("b") == 0.0  # nothing dirty any more
    assert disk.dirty_bytes == 0


def test_reads_of_recent_data_come_from_the_cache_and_old_data_from_the_disk():
    env, disk = make()
    disk.write("p0", 1, MB)
    assert disk.read(0, MB) == 0.0
    for i in range(CACHE // (100 * MB)):
        disk.flush("p0")
        disk.write("p0", i + 2, 100 * MB)  # push the first MB out of the cache
    assert disk.read(0, MB) == pytest.approx(MB / READ)
    assert disk.read(0, MB) == pytest.approx(2 * MB / READ)  # queued behind the first read
    assert disk.read(disk.position() - MB, MB) == 0.0


def test_after_power_loss_nothing_is_cached():
    env, disk = make()
    disk.write("p0", 1, MB)
    disk.power_loss()
    assert disk.read(0, MB) == pytest.approx(MB / READ)


def test_set_slow_divides_write_and_read_throughput():
    env, disk = make(page_cache_bytes=10 * MB)
    disk.set_slow(4.0)
    disk.write("p0", 1, MB)
    assert disk.flush("p0") == pytest.approx(4 * MB / WRITE)
    # 20 MB dirty + 1 MB under writeback: 19 MB over the 2 MB dirty limit, at a quarter rate
    assert disk.write("p0", 2, 20 * MB) == pytest.approx(19 * MB / (WRITE / 4))
    env.run(until=10.0)
    assert disk.read(0, MB) == pytest.approx(4 * MB / READ)
    disk.set_slow(1.0)
    assert disk.read(0, MB) == pytest.approx(5 * MB / READ)
