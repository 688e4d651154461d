"""A client's request timeout closes its connection at the broker too (SocketServer.scala,
Processor: the peer's close removes the channel, Processor.close). A consumer's fetch is
parked for ``WAIT`` (fetch.max.wait) on an empty partition, so its connection is muted; the
client's request timeout ``T`` is shorter. Then:

- what the client sends after the timeout comes on a new connection: handled at once, not
  behind the parked fetch;
- what it queued behind the fetch before the timeout is never read, so never handled;
- the parked fetch still completes at ``WAIT`` (its effects happen), but its answer goes nowhere
  (Processor.sendResponse: "Attempting to send response via channel for which there is no open
  connection").
"""

from __future__ import annotations

from typing import Any

import pytest

from sim.net import RequestTimedOut
from sim.protocol import FetchPartition, FetchRequest, MetadataRequest, MetadataResponse
from sim.scenario import Scenario
from sim.world import World

T = 1.0  # the client's request timeout, s
WAIT = 5.0  # the parked fetch's max wait, s (> T)
START_S = 1.0  # the cluster is up and broker 0 leads t-0
CLIENT = "client"


class Client:
    """A node that only sends requests (the test sends them through the network)."""

    name = CLIENT

    def on_request(self, request: Any, source: str, respond: Any) -> None:
        raise AssertionError(f"unexpected {request!r} from {source}")


def _world(seed: int) -> tuple[World, list[tuple[float, Any, Any]]]:
    """One broker leading the empty topic t; the client on the network; started to START_S.
    Returns the world and the broker's log of (time, request, respond) it handles."""
    scenario = {
        "name": "connection_close",
        "seed": seed,
        "duration_s": START_S + WAIT + 2 * T,
        "cluster": {"brokers": 1},
        "topics": [{"name": "t", "partitions": 1, "replication_factor": 1}],
    }
    world = World(Scenario.from_dict(scenario))
    world.net.add_node(Client(), 1e9)
    broker = world.brokers[0]
    handled: list[tuple[float, Any, Any]] = []
    handle = broker._handle

    def spy(conn, request, respond) -> None:
        if respond is not None and respond.src.name == CLIENT:
            handled.append((world.env.now, request, respond))
        handle(conn, request, respond)

    broker._handle = spy
    world.start()
    world.advance(START_S)
    return world, handled


def _parked_fetch() -> FetchRequest:
    """A consumer's fetch of t-0 from offset 0 that waits WAIT for bytes that never come."""
    return FetchRequest(-1, WAIT, 1 << 30, 1 << 20, 1 << 20, {("t", 0): FetchPartition(0)})


def _answers(world: World, event) -> list[tuple[float, Any]]:
    seen: list[tuple[float, Any]] = []
    event.callbacks.append(lambda ev: seen.append((world.env.now, ev.value)))
    return seen


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_a_timed_out_clients_next_request_is_handled_at_once_and_the_old_queue_never(
    seed: int,
) -> None:
    world, handled = _world(seed)
    net = world.net
    fetch = _answers(world, net.request(CLIENT, "broker-0", _parked_fetch(), T))
    world.advance(START_S + T / 2)
    queued = _answers(world, net.request(CLIENT, "broker-0", MetadataRequest(), 10 * T))
    world.advance(START_S + 1.5 * T)
    sent_s = world.env.now
    after = _answers(world, net.request(CLIENT, "broker-0", MetadataRequest(), 10 * T))
    world.advance(START_S + WAIT + 2 * T)

    # the fetch and the request queued behind it time out together (one connection)
    assert fetch == queued == [(START_S + T, RequestTimedOut("broker-0"))]
    # the request on the new connection is answered before the parked fetch's max wait
    ((answered_s, answer),) = after
    assert isinstance(answer, MetadataResponse)
    assert sent_s < answered_s < START_S + WAIT
    # the broker handled the fetch and the new request, never the queued one
    assert [type(request) for _, request, _ in handled] == [FetchRequest, MetadataRequest]
    assert handled[1][0] < START_S + WAIT
    # no answer of the closed connection reached the client: the metadata answer's bytes only
    assert net.bytes_in[CLIENT] == answer.size_bytes


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_a_closed_connections_late_answer_is_dropped_and_its_queue_never_handled(
    seed: int,
) -> None:
    """Nothing comes after the timeout: the parked fetch is answered at its max wait into the
    closed connection (the network drops it), and the channel then unmuted reads nothing of
    what was queued."""
    world, handled = _world(seed)
    net = world.net
    net.request(CLIENT, "broker-0", _parked_fetch(), T)
    world.advance(START_S + T / 2)
    net.request(CLIENT, "broker-0", MetadataRequest(), 10 * T)
    world.advance(START_S + WAIT + 2 * T)

    ((_, request, respond),) = handled
    assert isinstance(request, FetchRequest)
    assert respond.responded  # answered at its max wait ...
    assert net.bytes_in[CLIENT] == 0  # ... into a closed connection
