"""ZooKeeper ensemble and client on the real network, with small fake owner nodes."""

from __future__ import annotations

from collections.abc import Generator
from typing import Any

import numpy as np
import pytest
import simpy

from sim.coordination.zookeeper import (
    BROKER_IDS_PATH,
    CONTROLLER_EPOCH_PATH,
    CONTROLLER_PATH,
    Check,
    ClientState,
    Create,
    SetData,
    WatchEvent,
    ZkCode,
    ZooKeeper,
    ZooKeeperClient,
    broker_path,
    partition_state_path,
)
from sim.net import Network

RTT = 0.002  # s
BW = 1e8  # bytes/s
TICK = 0.05  # s
TIMEOUT = 0.6  # s: session timeout (12 ticks)


class Owner:
    """A fake broker: embeds a client, forwards WatchEvents to it, logs what it is told, and
    re-creates ``ephemeral`` (if set) in its session-expired handler, as Kafka does."""

    def __init__(self, env: simpy.Environment, net: Network, name: str, **client_args) -> None:
        self.env, self.name = env, name
        self.events: list[tuple[float, str, str]] = []  # (time, path, kind)
        self.expired_at: list[float] = []
        self.ephemeral: str | None = None
        args = {"session_timeout_s": TIMEOUT} | client_args
        self.client = ZooKeeperClient(
            env, net, name, **args, on_watch=self._on_watch, on_session_expired=self._on_expired
        )
        net.add_node(self, BW)

    def on_request(self, request: Any, source: str, respond) -> None:
        assert isinstance(request, WatchEvent) and respond is None
        self.client.deliver(request)

    def _on_watch(self, event: WatchEvent) -> None:
        self.events.append((self.env.now, event.path, event.kind))

    def _on_expired(self) -> None:
        self.expired_at.append(self.env.now)
        if self.ephemeral is not None:
            self.env.process(self.client.create(self.ephemeral, self.name, ephemeral=True))


#: reconnect delays scaled like the timeouts (Kafka's 0.5 s and 1 s against T = 0.6 s would
#: expire every session the client tries to resume); one server: connect timeout = T
BACKOFF = 0.05  # s


def make(*names: str, **zk_args) -> tuple[simpy.Environment, Network, ZooKeeper, list[Owner]]:
    env = simpy.Environment()
    net = Network(env, np.random.default_rng(0), RTT)
    zk = ZooKeeper(env, net, tick_s=TICK, **zk_args)
    net.add_node(zk, BW)
    client = {"servers": 1, "reconnect_delay_s": BACKOFF, "spin_delay_s": 0.0}
    owners = [Owner(env, net, name, **client) for name in names]
    for owner in owners:
        owner.client.start()
    return env, net, zk, owners


def call(env: simpy.Environment, gen: Generator[simpy.Event, Any, Any]) -> Any:
    """Run a client generator to completion and return its result."""
    process = env.process(gen)
    env.run(until=process)
    return process.value


def register(env: simpy.Environment, owner: Owner, path: str) -> None:
    """Create ``path`` ephemerally for ``owner`` (its parent persistently), and keep it across
    session expiries."""
    call(env, owner.client.make_sure_persistent_path_exists(path.rsplit("/", 1)[0]))
    assert call(env, owner.client.create(path, owner.name, ephemeral=True)).ok
    owner.ephemeral = path


def test_paths_follow_kafka_zkdata() -> None:
    assert broker_path(3) == "/brokers/ids/3"
    assert partition_state_path("orders", 2) == "/brokers/topics/orders/partitions/2/state"
    with pytest.raises(ValueError):
        Create("no/leading/slash")


def test_create_get_set_delete_and_versions() -> None:
    env, _, zk, (a,) = make("a")
    c = a.client
    created = call(env, c.create("/n", {"x": 1}))
    assert created.ok and created.version == 0
    assert call(env, c.create("/n", None)).error is ZkCode.NODE_EXISTS
    assert call(env, c.create("/missing/child")).error is ZkCode.NO_NODE
    got = call(env, c.get_data("/n"))
    assert (got.data, got.version, got.stat.ephemeral_owner) == ({"x": 1}, 0, None)
    assert call(env, c.set_data("/n", "v1", version=0)).version == 1
    assert call(env, c.set_data("/n", "stale", version=0)).error is ZkCode.BAD_VERSION
    assert call(env, c.set_data("/n", "v2")).version == 2
    assert call(env, c.get_data("/n")).data == "v2"
    assert call(env, c.create("/n/b")).ok
    assert call(env, c.create("/n/a")).ok
    assert call(env, c.get_children("/n")).children == ("a", "b")
    assert call(env, c.delete("/n")).error is ZkCode.NOT_EMPTY
    assert call(env, c.delete("/n/a")).ok and call(env, c.delete("/n/b")).ok
    assert call(env, c.delete("/n", version=1)).error is ZkCode.BAD_VERSION
    assert call(env, c.delete("/n", version=2)).ok
    assert call(env, c.get_data("/n")).error is ZkCode.NO_NODE
    missing = call(env, c.exists("/n"))
    assert missing.error is ZkCode.NO_NODE and missing.stat is None
    assert call(env, c.delete("/n")).error is ZkCode.NO_NODE
    assert call(env, c.create("/e", ephemeral=True)).stat.ephemeral_owner == c.session_id
    assert call(env, c.create("/e/x")).error is ZkCode.NO_CHILDREN_FOR_EPHEMERALS
    assert call(env, c.make_sure_persistent_path_exists("/p/q/r")).ok
    assert "/p/q" in zk.znodes and call(env, c.exists("/p/q/r")).ok


def test_timeout_is_negotiated_within_tick_bounds() -> None:
    env, _, _, (a,) = make("a")
    b = Owner(env, a.client.net, "b", session_timeout_s=100.0)
    b.client.start()
    env.run(until=0.1)
    assert b.client.session_timeout_s == 20 * TICK  # maxSessionTimeout = 20 ticks
    assert a.client.session_timeout_s == TIMEOUT


def test_ephemeral_expires_one_timeout_after_the_owner_stops_pinging() -> None:
    env, _, zk, (a, b) = make("broker-1", "controller")
    path = broker_path(1)
    register(env, a, path)
    assert call(env, b.client.exists(path, watch=True)).ok
    env.run(until=1.0)
    last_heard = zk.sessions[a.client.session_id].last_heard_s
    a.client.stop()
    env.run(until=1.0 + 3 * TIMEOUT)
    assert path not in zk.znodes
    [(seen_at, seen_path, kind)] = b.events
    assert (seen_path, kind) == (path, "deleted")
    deleted_at = seen_at - RTT / 2  # the event travelled one way
    assert last_heard + TIMEOUT - 1e-9 <= deleted_at <= last_heard + TIMEOUT + TICK + 1e-9
    assert a.expired_at == []  # a stopped client is told nothing


def test_pinging_keeps_the_session_for_many_timeouts() -> None:
    env, _, zk, (a,) = make("broker-1")
    register(env, a, broker_path(1))
    sid = a.client.session_id
    env.run(until=10 * TIMEOUT)
    assert broker_path(1) in zk.znodes
    assert a.client.session_id == sid and a.expired_at == []
    assert env.now - zk.sessions[sid].last_heard_s <= TIMEOUT / 3 + RTT
    assert a.client.state is ClientState.CONNECTED


def test_watches_fire_once_for_the_right_kinds() -> None:
    env, _, _, (a, b) = make("writer", "watcher")
    w, c = a.client, b.client
    call(env, w.create("/d", 0))
    call(env, w.create("/p"))
    assert call(env, c.get_data("/d", watch=True)).ok
    assert call(env, c.exists("/later", watch=True)).error is ZkCode.NO_NODE
    assert call(env, c.get_children("/p", watch=True)).ok
    assert call(env, c.get_data("/nothing", watch=True)).error is ZkCode.NO_NODE  # no watch
    for step in (
        w.set_data("/d", 1),
        w.set_data("/d", 2),  # not re-armed: silent
        w.create("/later"),
        w.create("/p/c1"),
        w.create("/p/c2"),  # not re-armed: silent
        w.create("/nothing"),
    ):
        call(env, step)
    env.run(until=env.now + 0.1)
    assert [(path, kind) for _, path, kind in b.events] == [
        ("/d", "changed"),
        ("/later", "created"),
        ("/p", "children"),
    ]
    b.events.clear()
    call(env, c.get_data("/p/c1", watch=True))
    call(env, c.get_children("/p/c1", watch=True))  # two watches, one session: one event
    call(env, c.get_children("/p", watch=True))
    call(env, w.delete("/p/c1"))
    env.run(until=env.now + 0.1)
    assert [(path, kind) for _, path, kind in b.events] == [
        ("/p/c1", "deleted"),
        ("/p", "children"),
    ]
    call(env, w.create("/p/c1"))
    call(env, w.create("/p/c1/x"))  # the child watch on /p/c1 went with its delete
    env.run(until=env.now + 0.1)
    assert len(b.events) == 2 and a.events == []


def test_cut_node_loses_its_session_and_others_watch_it_go() -> None:
    """Cut both ways: the client gives the connection up after a read timeout (2T/3) and
    cannot reconnect; the server expires the session one timeout after it last heard from it.
    The client learns of the expiry only when it reconnects after the heal (ClientCnxn:
    timeout 0 in the ConnectResponse), then opens a new session and registers again."""
    env, net, zk, (a, b) = make("broker-1", "controller")
    path = broker_path(1)
    register(env, a, path)
    old_sid = a.client.session_id
    call(env, b.client.get_children(BROKER_IDS_PATH, watch=True))
    call(env, b.client.exists(path, watch=True))
    call(env, a.client.exists("/x", watch=True))
    env.run(until=1.0)
    net.cut("broker-1", "zookeeper")
    last_heard = zk.sessions[old_sid].last_heard_s
    call(env, b.client.create("/x"))  # a is cut off: misses its watch
    env.run(until=1.0 + 2 * TIMEOUT)
    assert old_sid not in zk.sessions and path not in zk.znodes
    assert {(p, k) for _, p, k in b.events} == {(BROKER_IDS_PATH, "children"), (path, "deleted")}
    for seen_at, _, _ in b.events:
        assert last_heard + TIMEOUT < seen_at <= last_heard + TIMEOUT + TICK + RTT
    assert a.events == [] and a.expired_at == []  # not told yet: it is still reconnecting
    assert a.client.state is ClientState.CONNECTING and a.client.session_id == old_sid
    healed_at = env.now
    net.heal("broker-1", "zookeeper")
    env.run(until=env.now + 2.0)
    # the attempt in flight at the heal was lost: the next one comes after the connect timeout
    # (the session timeout) and the reconnect backoff
    [expired_at] = a.expired_at
    assert healed_at < expired_at <= healed_at + TIMEOUT + 2 * BACKOFF + RTT
    assert a.client.state is ClientState.CONNECTED and a.client.session_id != old_sid
    assert zk.znodes[path].ephemeral_owner == a.client.session_id  # re-registered
    assert a.events == []  # the new session has no watches of the old one


def test_a_pause_shorter_than_the_session_resumes_it_and_set_watches_catches_up() -> None:
    """A pause (timers run, traffic held) past the read timeout but ending before the server
    would expire the session: the held pings and the reconnect reach the server in time and the
    same session goes on: nothing re-registered, no expiry reported. A watch event sent during
    the pause arrives on the connection the client gave up and is dropped; SetWatches, sent
    first on the resumed session, fires it again (its node changed after the client's last
    zxid) and keeps the watch whose node did not change, which fires on a later change."""
    env, net, zk, (a, b) = make("broker-1", "writer")
    path = broker_path(1)
    register(env, a, path)
    sid = a.client.session_id
    call(env, b.client.create("/quiet"))
    call(env, a.client.exists("/x", watch=True))  # an exist watch: /x is missing
    call(env, a.client.get_data("/quiet", watch=True))  # a data watch
    env.run(until=1.0)
    start, last_heard = env.now, zk.sessions[sid].last_heard_s
    pause_s = last_heard + TIMEOUT - 2 * RTT - start  # ends before the server's expiry
    assert start + pause_s > last_heard + a.client.read_timeout_s  # the client gives up first
    net.pause("broker-1")
    call(env, b.client.create("/x"))
    env.run(until=start + pause_s)
    assert a.client.state is ClientState.CONNECTING and a.events == []
    net.resume("broker-1")
    resumed_at = env.now
    env.run(until=env.now + 3 * TIMEOUT)
    assert a.client.state is ClientState.CONNECTED and a.client.session_id == sid
    assert a.expired_at == [] and zk.znodes[path].ephemeral_owner == sid
    assert [(p, k) for _, p, k in a.events] == [("/x", "created")]
    assert resumed_at < a.events[0][0] <= resumed_at + 2 * RTT + 0.01
    call(env, b.client.set_data("/quiet", 1))  # the kept data watch still fires
    env.run(until=env.now + 0.1)
    assert [(p, k) for _, p, k in a.events] == [("/x", "created"), ("/quiet", "changed")]


def test_a_pause_longer_than_the_session_ends_it() -> None:
    """Past the session timeout the server has expired the session: the held reconnect gets
    timeout 0, the owner is told once, and it registers again in a new session."""
    env, net, zk, (a,) = make("broker-1")
    path = broker_path(1)
    register(env, a, path)
    sid = a.client.session_id
    env.run(until=1.0)
    net.pause("broker-1")
    env.run(until=1.0 + 2 * TIMEOUT)
    assert sid not in zk.sessions and path not in zk.znodes
    net.resume("broker-1")
    resumed_at = env.now
    env.run(until=env.now + 3 * TIMEOUT)
    [expired_at] = a.expired_at
    assert resumed_at <= expired_at <= resumed_at + RTT + TICK
    assert a.client.session_id != sid and zk.znodes[path].ephemeral_owner == a.client.session_id


def test_first_to_create_controller_wins() -> None:
    env, _, zk, (b1, b2) = make("broker-1", "broker-2")
    env.run(until=0.1)
    first = env.process(b1.client.create(CONTROLLER_PATH, 1, ephemeral=True))
    second = env.process(b2.client.create(CONTROLLER_PATH, 2, ephemeral=True))
    env.run(until=first & second)
    assert first.value.ok and second.value.error is ZkCode.NODE_EXISTS
    assert call(env, b2.client.get_data(CONTROLLER_PATH, watch=True)).data == 1
    b1.client.stop()  # the controller crashes; broker-2 takes over when /controller goes
    env.run(until=env.now + 2 * TIMEOUT)
    assert b2.events and b2.events[0][1:] == (CONTROLLER_PATH, "deleted")
    assert call(env, b2.client.create(CONTROLLER_PATH, 2, ephemeral=True)).ok
    assert zk.znodes[CONTROLLER_PATH].data == 2


def test_multi_with_stale_version_applies_nothing() -> None:
    env, _, zk, (a, b) = make("broker-1", "broker-2")
    c = a.client
    call(env, c.create(CONTROLLER_EPOCH_PATH, 0))
    bump = [Create(CONTROLLER_PATH, 1, ephemeral=True), SetData(CONTROLLER_EPOCH_PATH, 1, 0)]
    done = call(env, c.multi(bump))
    assert done.ok and done.results[1].version == 1 and zk.znodes[CONTROLLER_PATH].data == 1
    call(env, b.client.exists("/other", watch=True))
    zxid = zk.zxid
    stale = [Create("/other", 2), SetData(CONTROLLER_EPOCH_PATH, 2, 0), Check("/other")]
    failed = call(env, b.client.multi(stale))
    assert failed.error is ZkCode.BAD_VERSION
    errors = [r.error for r in failed.results]  # OK before the failure, then inconsistent
    assert errors == [ZkCode.OK, ZkCode.BAD_VERSION, ZkCode.RUNTIME_INCONSISTENCY]
    assert "/other" not in zk.znodes
    assert zk.znodes["/"].children == {"controller_epoch", "controller"}
    assert zk.znodes[CONTROLLER_EPOCH_PATH].data == 1 and zk.zxid == zxid
    env.run(until=env.now + 0.1)
    assert b.events == []  # a failed multi fires no watch
    checked = call(env, b.client.multi([Create("/e", ephemeral=True), SetData("/e", "id", 0)]))
    assert checked.ok and checked.results[1].version == 1  # Kafka's CheckedEphemeral


def test_session_expired_reply_makes_the_client_start_a_new_session() -> None:
    env, _, zk, (a, b) = make("broker-1", "controller")
    path = broker_path(1)
    register(env, a, path)
    call(env, b.client.exists(path, watch=True))
    call(env, a.client.exists("/w", watch=True))  # dropped with the session
    old_sid = a.client.session_id
    env.run(until=0.5)
    assert zk.expire_node("broker-1") == [old_sid]
    assert path not in zk.znodes and not zk.expire_session(old_sid)
    env.run(until=0.5 + TIMEOUT / 3 + 0.1)
    [expired_at] = a.expired_at  # told by the SESSION_EXPIRED answer to its next ping
    assert expired_at <= 0.5 + TIMEOUT / 3 + RTT
    assert a.client.session_id not in (None, old_sid)
    assert zk.znodes[path].ephemeral_owner == a.client.session_id
    assert [(p, k) for _, p, k in b.events] == [(path, "deleted")]
    call(env, b.client.create("/w"))
    env.run(until=env.now + 0.1)
    assert a.events == []


def test_close_deletes_ephemerals_at_once() -> None:
    env, _, zk, (a,) = make("broker-1")
    register(env, a, broker_path(1))
    call(env, a.client.close())
    assert broker_path(1) not in zk.znodes and zk.sessions == {}
    assert a.client.state is ClientState.CLOSED
    with pytest.raises(RuntimeError):
        call(env, a.client.exists("/"))


def test_close_of_an_expired_session_tells_the_owner_nothing() -> None:
    """The server expired the session and the client has not heard yet: its CloseSession is
    answered SESSION_EXPIRED, and since close() clears the owner's handlers first (as Kafka's
    ZooKeeperClient.close does) the owner is not told to re-register, nor given watch events."""
    env, _, zk, (a, b) = make("broker-1", "writer")
    register(env, a, broker_path(1))
    call(env, a.client.exists("/x", watch=True))
    zk.expire_session(a.client.session_id)
    call(env, b.client.create("/x"))  # its event would be for the expired session anyway
    call(env, a.client.close())
    env.run(until=env.now + 2 * TIMEOUT)
    assert a.expired_at == [] and a.events == []
    assert a.client.state is ClientState.CLOSED and broker_path(1) not in zk.znodes


def test_a_short_cut_delays_requests_and_a_longer_one_loses_them_to_be_retried() -> None:
    """A cut shorter than the read timeout (2/3 of the 0.6 s session): the request waits in
    TCP, sent again after the heal, and is answered on the same connection and session. A cut
    past the read timeout: the client gives the connection up, the request gets
    CONNECTION_LOSS (its outcome unknown: it never reached the server), and a retry once
    connected again succeeds."""
    env, net, zk, (a,) = make("broker-1")
    env.run(until=0.2)
    sid = a.client.session_id
    net.cut("broker-1", "zookeeper")
    env.process(heal_after(env, net, 0.2))
    [held] = call(env, a.client.handle_requests([Create("/a")]))
    assert held.ok and a.client.session_id == sid and "/a" in zk.znodes
    env.run(until=env.now + TIMEOUT)  # connected again, if a ping was lost in the cut
    net.cut("broker-1", "zookeeper")
    env.process(heal_after(env, net, 0.45))
    [lost] = call(env, a.client.handle_requests([Create("/b")]))
    assert lost.error is ZkCode.CONNECTION_LOSS and "/b" not in zk.znodes
    [done] = call(env, a.client.retry_requests_until_connected([Create("/b")]))
    assert done.ok and "/b" in zk.znodes


def heal_after(env: simpy.Environment, net: Network, delay_s: float):
    yield env.timeout(delay_s)
    net.heal("broker-1", "zookeeper")


def test_requests_are_pipelined_up_to_the_in_flight_limit() -> None:
    env, _, zk, (a,) = make("broker-1", write_latency_s=0.01)
    env.run(until=0.1)
    start = env.now
    ops = [Create(f"/n{i}") for i in range(25)]
    responses = call(env, a.client.handle_requests(ops))
    assert all(r.ok for r in responses) and len(zk.znodes) == 26
    assert 3 * 0.01 <= env.now - start < 4 * (0.01 + RTT)  # 10 at a time


def test_same_run_same_events() -> None:
    def run() -> list:
        env, net, _, (a, b) = make("broker-1", "controller")
        register(env, a, broker_path(1))
        call(env, b.client.get_children(BROKER_IDS_PATH, watch=True))
        net.cut("broker-1", "zookeeper")
        env.run(until=3.0)
        return b.events + [(t, "expired", "") for t in a.expired_at]

    assert run() == run()
