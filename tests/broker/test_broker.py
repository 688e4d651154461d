"""The broker's request handling threads (RequestHandlerPool: num.network.threads processors,
then num.io.threads request handlers)."""

from __future__ import annotations

import pytest

from sim.broker.broker import IO_REQUEST_S, NETWORK_REQUEST_S, RequestHandlerPool

N, IO = NETWORK_REQUEST_S, IO_REQUEST_S  # a request's time on each thread, s (IO > N)


@pytest.mark.parametrize(
    ("network_threads", "io_threads", "expected"),
    [
        (1, 1, [N + IO, N + 2 * IO, N + 3 * IO]),  # handled one by one (IO > N)
        (3, 1, [N + IO, N + 2 * IO, N + 3 * IO]),
        (1, 3, [N + IO, 2 * N + IO, 3 * N + IO]),  # read one by one, handled at once
        (3, 3, [N + IO] * 3),
    ],
)
def test_requests_queue_for_a_free_network_thread_then_a_free_io_thread(
    network_threads: int, io_threads: int, expected: list[float]
) -> None:
    """SocketServer's processors read a request, KafkaRequestHandler threads handle it: three
    requests of no bytes arriving together are done when the threads allow."""
    pool = RequestHandlerPool(network_threads, io_threads)
    done = [pool.done_at(0.0, 0) for _ in range(3)]
    assert done == pytest.approx(sorted(expected))
