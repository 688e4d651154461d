"""Named random streams: stable by name, independent of other streams and of PYTHONHASHSEED."""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest

from sim.rng import RandomStreams

DRAW = (
    "from sim.rng import RandomStreams; s = RandomStreams(42); "
    "print(s.stream('producer/app-0/keys').integers(0, 2**62, 4).tolist(), "
    "s.stream('broker', 1, 'disk').random())"
)


def test_a_new_stream_shifts_no_other_stream():
    before = RandomStreams(7)
    a1, b1 = before.stream("a").random(5), before.stream("b").random(5)
    after = RandomStreams(7)
    after.stream("zzz-new").random(1000)  # a third component, drawn from first
    b2 = after.stream("b").random(5)
    a2 = after.stream("a").random(5)
    np.testing.assert_array_equal(a1, a2)
    np.testing.assert_array_equal(b1, b2)


def test_streams_differ_by_name_and_by_seed():
    s = RandomStreams(7)
    assert not np.array_equal(s.stream("a").random(5), s.stream("b").random(5))
    assert not np.array_equal(
        RandomStreams(7).stream("a").random(5), RandomStreams(8).stream("a").random(5)
    )


def test_same_name_is_the_same_generator():
    s = RandomStreams(1)
    assert s.stream("x", 1) is s.stream("x/1")
    assert s.names() == ["x/1"]


def test_equal_across_processes_with_different_hash_seeds():
    outputs = set()
    for hash_seed in ("0", "1", "12345"):
        env = dict(os.environ, PYTHONHASHSEED=hash_seed)
        done = subprocess.run(
            [sys.executable, "-c", DRAW], env=env, capture_output=True, text=True, check=True
        )
        outputs.add(done.stdout)
    assert len(outputs) == 1


@pytest.mark.parametrize("seed", [-1, 1.5, "1", True])
def test_bad_seed_is_a_clear_error(seed):
    with pytest.raises(ValueError, match="^seed: must be a non-negative integer"):
        RandomStreams(seed)


def test_a_prefix_gives_other_numbers_and_names_them():
    """Each cluster of a scenario draws from streams of its own: ``east/`` + the name."""
    plain, east = RandomStreams(3), RandomStreams(3, prefix="east/")
    assert east.stream("network").random() == RandomStreams(3).stream("east/network").random()
    assert plain.stream("network").random() != RandomStreams(3, "east/").stream("network").random()
    assert east.names() == ["east/network"]
