"""The network between nodes: NICs, links, request/response with timeouts, and fault hooks.

Timing. Each node has one NIC of ``nic_bytes_s`` bytes/s in each direction, modelled as two
"busy until" times, not as SimPy resources. A message of m bytes occupies n = wire_bytes(m) on
the wire: its TCP packets of up to MSS_BYTES (1,448) each add FRAME_OVERHEAD_BYTES (90) of
headers and Ethernet framing, so a NIC carries at most 94 % of its line rate in messages (TCP's
acknowledgements, some 3 % of the other direction, are not modelled).

Each direction of a NIC carries messages first come, first served,
except a one-packet message (a fetch request, an answer, a heartbeat) of a flow with nothing
queued on it (a flow: the messages between one pair of nodes in one direction, kept in order as
TCP keeps a connection's bytes): it goes ahead of the backlog after the packet on the wire, as
fq_codel (RFC 8290; the default queueing discipline systemd sets, net.core.default_qdisc) gives
new flows priority over flows with a queue, rather than waiting behind whole batches of other
connections. On the receiving side the same rule stands in for the switch port ahead of the NIC,
whose queue TCP keeps short, so that there too a small message does not wait for every batch
sent to the node before it. A message of n bytes on the wire from A to B (:func:`_book_nic`)::

    start    = max(now, when A's flow to B last ended)
    A.out_busy = max(A.out_busy, start) + n / bw_A
    out_end  = A.out_busy, or for a one-packet message of an idle flow
               start + min(one packet, the backlog) + n / bw_A
    in_end   = the same on B's in-NIC from start + prop
    delivered at max(out_end + prop, in_end)

with ``prop = rtt_s / 2 + extra delay of the link`` and both bandwidths scaled by the link's
``bandwidth_factor``. An idle path takes ``prop + n / min(bw_A, bw_B)``; a NIC asked to carry
more than its bandwidth queues, so throughput saturates at the NIC. Approximations: a
one-packet message that goes ahead adds its time to the backlog (what is booked after it waits
for it) but what was booked before keeps its end; B's in-NIC is booked when A sends, from
when the message may start, so B serves transfers in the order they were sent, not by arrival
time (booking it from when A's NIC gets to the message instead left B's NIC idle ahead of it,
blocking what was booked after: a producer and a consumer at once through 1 GbE fell from
875,913 to 264,261 records/s polled). A node sending to itself
uses the loopback: no NIC, no delay.

Sites. Each node is at a site (its cluster's data centre; one site when there is one cluster).
Between two sites a message also crosses the :class:`Wan`: one pipe per direction and pair of
sites, shared by all their traffic, of ``bytes_s`` bytes/s and ``rtt_s / 2`` propagation, which
replaces the LAN's; a message between sites takes the NICs and the pipe whole, first come,
first served::

    wan_start = max(start, pipe.busy);          pipe.busy = wan_start + n / pipe.bytes_s
    in_start  = max(wan_start + prop, B.in_busy)
    delivered at max(A.out_busy, pipe.busy) + prop, or B.in_busy if later

so the WAN saturates at its bandwidth whatever the NICs. When a request times out, what of it
or its answer was still to cross the WAN is not sent (its client closed the connection; the
socket's unsent bytes are dropped), so the pipe is free that much sooner. Several networks
(one per cluster) may share one :class:`Wan`: a client of one cluster placed at another's site
crosses it.

Events. A delivery is one entry on SimPy's event queue: the request's call (or the one-way
message) itself stands in for the event (:func:`sim.timers.call_later`); a request adds one timer
event for its timeout; no process per message. The outcome event of a request is triggered inside
the delivery or timer callback (the waiting callbacks run at once, as ``Environment.step`` would
run them); outcomes caused by a fault hook (``crash``) are scheduled with ``succeed``.

Outcomes. ``request`` returns an event that succeeds exactly once with the response or with a
:class:`NetworkFailure` value; it never fails. The one exception: if the *source* crashes, its
pending requests are forgotten and their events never trigger (nobody waits on them any more).
A request that reaches its target after its caller timed out is still handed to the target (the
bytes arrived; Kafka's server likewise processes a request whose client gave up), and its
response is discarded.

Connections. A Kafka request travels on the connection its ``connection`` names (sim.protocol:
the client's, a consumer's coordinator connection, a replica fetcher thread's, the controller's
channel). Its timeout closes that connection, always, and only it
(NetworkClient.handleTimedOutRequests: ``selector.close(nodeId)``, then
processTimeoutDisconnection times out every request in flight to that node): every request
still open on it completes with :class:`RequestTimedOut` at once, in send order, and the next
request opens a new connection. Other traffic (ZooKeeper's client, which gives its connection up
and reconnects by itself; the schema registry's) names no connection: a timeout ends only its
own request. The target sees the close through
the calls it holds (``respond``): one not yet answered whose ``done`` is set belongs to a
connection that is gone, closed by its caller or reset by a crash of either end (the broker then
drops what that connection queued; sim.broker.broker's ``_Connection``); its answer goes nowhere.

Faults.
- crash: the node is down. Requests others sent to it complete at once with
  :class:`Disconnected` (peers see the reset); responses it owes are never sent; messages in
  flight to or from it are lost (the connections are reset). Requests to a down node complete
  with :class:`Disconnected` after one round trip of the link (connection refused; a cut link
  stays silence); one-way messages to it are dropped.
- not listening (:meth:`Network.listen`): the node is up but has no server socket open (a
  restarted broker until it has registered: Kafka's KafkaServer.startup registers in ZooKeeper
  before SocketServer.enableRequestProcessing starts the acceptors, which open the socket only
  then). Requests to it are refused as to a down node; its own requests, their responses and
  one-way messages to it (a ZooKeeper watch on its own session) flow as usual.
- pause (SIGSTOP, long GC): what reaches the node is held, and what it sends (requests,
  responses, messages) is held; at ``resume`` it first sends what it held, then receives what was
  held, in order. Its peers see silence: their timeouts fire. Its own timers still run.
- cut: what crosses a cut link is held, as TCP holds an unacknowledged segment and sends it
  again (:class:`_Retransmission`): the message is never sent while the link is cut (it uses
  no NIC time), and a message in flight when the link is cut is taken back. Once the link heals,
  everything held on it is sent again, in order, at TCP's next retransmission of the oldest:
  its first send plus the retransmission timeouts since, from ``rtt_s`` + 200 ms (Linux's
  TCP_RTO_MIN), doubling up to 120 s (TCP_RTO_MAX). A link cut longer than TCP tries
  (``tcp_retries2`` 15: 924.6 s, Linux ip-sysctl) loses what it held. Meanwhile the callers'
  own timeouts run as before: once a request times out its client closes the connection (see
  Connections), so nothing the cut held of it is sent again; nor is anything of a connection a
  crash reset. The model keeps one retransmission queue per pair of nodes and direction: a
  request on the new connection still waits behind what the pair's other connections held.
- set_link drops: silence. A dropped message is never sent and never sent again (a message
  lost above TCP: the caller's timeout notices).
- Connection identity: a response belongs to its request's connection. A crash of either end
  ends the connection (the crashed node's own requests are done, forgotten), so late responses
  of it are discarded.

Determinism: the only randomness is the injected ``rng``, drawn only when a drop probability is
set; no set or string-keyed dict decides an order (dicts keep insertion order).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np
import simpy
from simpy.events import Event

from sim.timers import Deadlines, call_later


@dataclass(frozen=True, slots=True)
class NetworkFailure:
    """Why a request got no response (a value, never raised). node: the target's name."""

    node: str


class Disconnected(NetworkFailure):
    """The connection was reset or refused: the target is down or crashed."""

    __slots__ = ()


class RequestTimedOut(NetworkFailure):
    """No answer within the caller's timeout (``request.timeout.ms``)."""

    __slots__ = ()


Respond = Callable[[Any], None]


class Node(Protocol):
    """What the network needs of a node: a unique name and a handler for what arrives."""

    name: str

    def on_request(self, request: Any, source: str, respond: Respond | None) -> None:
        """Handle a request (``respond`` sends the answer) or a one-way message (``None``)."""


@dataclass(frozen=True, slots=True)
class _Link:
    """Settings of one direction between two nodes (see :meth:`Network.set_link`)."""

    extra_delay_s: float = 0.0
    bandwidth_factor: float = 1.0
    drop_requests: float = 0.0
    drop_responses: float = 0.0


_NORMAL = _Link()
#: TCP's payload per packet on Ethernet, bytes: the MTU, 1,500, less the IP (20) and TCP (20)
#: headers and the timestamps option (12; Linux's net.ipv4.tcp_timestamps is on by default,
#: RFC 7323).
MSS_BYTES = 1448
#: What each packet adds on the wire besides its payload, bytes: those 52 bytes of headers, the
#: Ethernet header (14) and frame check sequence (4), and the preamble with its start-of-frame
#: delimiter (8) and the inter-frame gap (12) that hold the line (IEEE 802.3). A 1 Gbit/s NIC so
#: carries at most 1448 / 1538 of 125 MB/s of payload: 117.7 MB/s.
FRAME_OVERHEAD_BYTES = 90
#: A full packet on the wire, bytes.
_PACKET_BYTES = MSS_BYTES + FRAME_OVERHEAD_BYTES


def wire_bytes(nbytes: int) -> int:
    """What ``nbytes`` of a message occupy on the wire, bytes: its packets' headers and framing
    added (one packet at least)."""
    return nbytes + max(1, -(-nbytes // MSS_BYTES)) * FRAME_OVERHEAD_BYTES


#: First item of a cut WAN's entries in a network's cut links (node pairs have two items).
SITES = "sites"


@dataclass(slots=True)
class WanPipe:
    """One direction of the WAN between two sites: its propagation delay (half its round trip),
    s, bandwidth, bytes/s, until when it is busy, s, and the bytes it has carried (on the wire:
    with their packets' framing, :func:`wire_bytes`)."""

    half_rtt_s: float
    bytes_s: float
    busy_s: float = 0.0
    bytes_carried: int = 0


class Wan:
    """The links between sites: a :class:`WanPipe` per direction and pair of sites, all of
    ``rtt_s`` round trip and ``bytes_s`` bytes/s (a pipe's own settings may be changed)."""

    def __init__(self, rtt_s: float, bytes_s: float) -> None:
        if bytes_s <= 0:
            raise ValueError(f"WAN bytes_s: must be > 0, got {bytes_s}")
        self.rtt_s = rtt_s
        self.bytes_s = bytes_s
        self.pipes: dict[tuple[str, str], WanPipe] = {}

    def pipe(self, source: str, target: str) -> WanPipe:
        """The pipe from site ``source`` to site ``target``, created on first use."""
        pipe = self.pipes.get((source, target))
        if pipe is None:
            pipe = self.pipes[(source, target)] = WanPipe(self.rtt_s / 2, self.bytes_s)
        return pipe


class _Host:
    """A node as the network sees it: NIC busy-until times (s), state, held traffic, counters,
    and its site."""

    __slots__ = (
        "node",
        "name",
        "site",
        "nic_bytes_s",
        "out_busy_s",
        "in_busy_s",
        "out_flows",
        "in_flows",
        "up",
        "listening",
        "paused",
        "incarnation",
        "held_in",
        "held_out",
        "bytes_in",
        "bytes_out",
        "wire_in",
        "wire_out",
    )

    def __init__(self, node: Node, nic_bytes_s: float, site: str | None) -> None:
        self.node = node
        self.name: str = node.name
        self.site = site
        self.nic_bytes_s = nic_bytes_s
        self.out_busy_s = 0.0
        self.in_busy_s = 0.0
        #: when each peer's last message ends on the NIC, s, by peer: sending, receiving
        self.out_flows: dict[_Host, float] = {}
        self.in_flows: dict[_Host, float] = {}
        self.up = True
        self.listening = True  # accepts connections (Network.listen)
        self.paused = False
        self.incarnation = 0  # +1 at each crash: ends all connections of the node
        self.held_in: list[tuple[Callable[[Any], None], Any]] = []  # arrivals while paused
        self.held_out: list[tuple[Callable[[Any], None], Any]] = []  # sends while paused
        self.bytes_in = 0
        self.bytes_out = 0
        self.wire_in = 0  # bytes booked on its NIC, each way, framing included (wire_bytes)
        self.wire_out = 0


#: Linux TCP's retransmission timeouts (include/net/tcp.h TCP_RTO_MIN, TCP_RTO_MAX), s, and how
#: long it retransmits before it gives up with tcp_retries2 = 15 (Documentation/networking/
#: ip-sysctl: "a hypothetical timeout of 924.6 seconds"), s.
TCP_RTO_MIN_S = 0.2
TCP_RTO_MAX_S = 120.0
TCP_GIVE_UP_S = 924.6


class _Retransmission:
    """What a cut link holds from ``src`` to ``dst`` on the connection ``client`` opened:
    (resend, item, src incarnation, dst incarnation) in send order, the oldest first sent at
    ``first_s``. Messages sent on that connection after the heal, until these are sent again,
    join them (TCP keeps a connection's order)."""

    __slots__ = ("first_s", "src", "dst", "client", "items", "resend_at_s")

    def __init__(self, first_s: float, src: _Host, dst: _Host, client: _Host) -> None:
        self.first_s = first_s
        self.src = src
        self.dst = dst
        self.client = client
        #: when they are sent again, once the link healed (None while it is cut)
        self.resend_at_s: float | None = None
        self.items: list[tuple[Callable[[Any], Any], Any, int, int]] = []

    def next_retransmission_s(self, now: float, half_rtt_s: float) -> float | None:
        """When TCP sends the oldest held segment again, at ``now`` or after, s; None when it
        gave up before (the connection is lost). The first timeout is the round trip plus
        TCP_RTO_MIN (RFC 6298's SRTT + 4 RTTVAR with Linux's floor on the variance term),
        each next one twice the last, up to TCP_RTO_MAX."""
        rto = 2 * half_rtt_s + TCP_RTO_MIN_S
        at = self.first_s + rto
        while at < now:
            rto = min(2 * rto, TCP_RTO_MAX_S)
            at += rto
        return at if at - self.first_s <= TCP_GIVE_UP_S else None


class _Call:
    """One request on its way; also the ``respond`` callable handed to the target, and the event
    of its deliveries on SimPy's queue (see :func:`sim.timers.call_later`)."""

    __slots__ = (
        "callbacks",
        "net",
        "cid",
        "src",
        "dst",
        "request",
        "event",
        "src_incarnation",
        "dst_incarnation",
        "response",
        "responded",
        "done",
        "wan",
    )
    _ok = True  # as a delivery event on SimPy's queue: it succeeded

    def __init__(
        self, net: Network, cid: int, src: _Host, dst: _Host, request: Any, event: simpy.Event
    ):
        self.net = net
        self.cid = cid  # the request's id in the network's open requests
        self.src = src
        self.dst = dst
        self.request = request
        self.event = event
        self.src_incarnation = src.incarnation
        self.dst_incarnation = dst.incarnation
        self.response: Any = None
        self.responded = False
        #: outcome decided (or forgotten): nothing more happens. For the target, a call not yet
        #: answered that is done is one whose connection is gone: its caller timed out (and so
        #: closed it) or either end crashed
        self.done = False
        #: its request's or response's time on the WAN pipe (pipe, start, end in s) while it
        #: crosses between sites, else None
        self.wan: tuple[WanPipe, float, float] | None = None

    def __call__(self, response: Any, after_s: float = 0.0) -> None:
        """``respond(response)``: send the response back on the request's connection, its first
        byte leaving ``after_s`` seconds from now (the server's remaining handling time)."""
        if self.responded:
            raise RuntimeError(f"respond() called twice on a connection from {self.src.name}")
        self.responded = True
        self.response = response
        net, src, dst = self.net, self.src, self.dst
        if self.done or dst.paused or net._cut or net._links or net._held:
            net._dispatch_response(self, after_s)
        else:  # _dispatch_response's usual case written out: it runs once per request
            delay = net._transmit(dst, src, response.size_bytes, _NORMAL, after_s, self)
            call_later(net.env, delay, self, net._response_arrival)


class _Message:
    """A one-way message on its way, and the event of its delivery on SimPy's queue."""

    __slots__ = ("callbacks", "src", "dst", "message", "src_incarnation", "dst_incarnation")
    _ok = True  # as a delivery event on SimPy's queue: it succeeded

    def __init__(self, src: _Host, dst: _Host, message: Any) -> None:
        self.src = src
        self.dst = dst
        self.message = message
        self.src_incarnation = src.incarnation
        self.dst_incarnation = dst.incarnation


def _book_nic(
    flows: dict[_Host, float],
    peer: _Host,
    ready_s: float,
    busy_s: float,
    wire: int,
    bytes_s: float,
    sparse: bool,
) -> tuple[float, float, float]:
    """Book one direction of a NIC of ``bytes_s`` for a message from or to ``peer`` of
    ``wire`` bytes on the wire, ready at ``ready_s``; returns (when it may start: ``ready_s``
    or its flow's last end, when it ends, the NIC's new busy-until time), s.

    ``flows`` holds when each peer's last message ends on this NIC, ``busy_s`` when the NIC
    has carried everything booked on it. A message waits for its own flow's last one (a
    connection's bytes stay in order), then for the NIC's backlog, first come, first served;
    except a one-packet message (``sparse``: not over MSS_BYTES) of a flow with nothing
    queued, which goes ahead of the backlog after the full packet on the wire, as
    fq_codel serves a new flow's first quantum (the device's MTU, 1,514 bytes on Ethernet)
    before the flows with a queue (RFC 8290, section 4.1). Its time is added to
    the backlog: what was booked before keeps its end, what is booked after waits for it."""
    own_s = wire / bytes_s
    own_end = flows.get(peer, 0.0)
    start = ready_s if ready_s > own_end else own_end
    if busy_s > start:
        if sparse and own_end <= ready_s:
            packet_s = _PACKET_BYTES / bytes_s
            backlog = busy_s - start
            end = start + (packet_s if packet_s < backlog else backlog) + own_s
        else:
            end = busy_s + own_s
        busy_s += own_s
    else:
        end = busy_s = start + own_s
    flows[peer] = end
    return start, end, busy_s


def _connection_of(request: Any) -> Any:
    """Which of its sender's connections to the target ``request`` travels on: its
    ``connection`` (sim.protocol); None for traffic of one connection per pair of nodes."""
    return getattr(request, "connection", None)


def _closed(item: _Call | _Message, connection: Any) -> bool:
    """Whether a held ``item`` is gone with the closing of ``connection``: a call settled, or a
    one-way message on that connection (None: a message names none, so it stays)."""
    if isinstance(item, _Call):
        return item.done
    return connection is not None and _connection_of(item.message) == connection


def _fire(event: simpy.Event, value: Any) -> None:
    """Succeed ``event`` with ``value`` and run its callbacks now, as ``Environment.step`` does.

    Only from a callback of another event being processed (no active process), where it saves
    one scheduled event per request compared with ``event.succeed(value)``.
    """
    event._ok = True
    event._value = value
    callbacks, event.callbacks = event.callbacks, None
    for callback in callbacks:
        callback(event)


class Network:
    """All nodes of one simulation and the links between them (see the module docstring)."""

    def __init__(
        self,
        env: simpy.Environment,
        rng: np.random.Generator,
        rtt_s: float,
        site: str | None = None,
        wan: Wan | None = None,
    ) -> None:
        """rtt_s: round-trip propagation time between any two nodes of a site, seconds. site:
        where nodes are unless added elsewhere. wan: the links to the other sites."""
        self.env = env
        self.rtt_s = rtt_s
        self.site = site
        self.wan = wan
        self.messages_delivered = 0
        self._rng = rng
        self._half_rtt_s = rtt_s / 2
        self._hosts: dict[str, _Host] = {}
        self._links: dict[tuple[str, str], _Link] = {}
        #: cut links: (a, b) node names, and (SITES, a, b) for a cut WAN between sites
        self._cut: set[tuple[str, ...]] = set()
        #: what the cuts hold, by connection and direction: (source, destination, the client
        #: that opened the connection) node names, in send order
        self._held: dict[tuple[str, str, str], _Retransmission] = {}
        # open requests by id, in send order; the deadline queue holds ids only, so an answered
        # request is freed at once instead of living on (for the GC) until its timeout
        self._open: dict[int, _Call] = {}
        self._next_call_id = 0
        self._deadlines = Deadlines(env, lambda cid: self._on_deadline(self._open[cid]), self._open)
        # the callbacks of each kind of delivery, made once (see sim.timers.call_later)
        self._request_arrival = (self._on_request_arrival,)
        self._refusal = (self._on_refused,)
        self._response_arrival = (self._on_response_arrival,)
        self._message_arrival = (self._on_message_arrival,)
        #: when the last message booked left its sender's NIC, s (what send() returns)
        self._left_nic_s = 0.0

    # ------------------------------------------------------------------ nodes and counters

    def add_node(self, node: Node, nic_bytes_s: float, site: str | None = None) -> None:
        """Attach ``node``; nic_bytes_s: its NIC bandwidth, bytes/s, in and out separately.
        site: where it is, when not at the network's site (its traffic crosses the WAN)."""
        if node.name in self._hosts:
            raise ValueError(f"node {node.name!r}: already on the network")
        if nic_bytes_s <= 0:
            raise ValueError(f"node {node.name!r}: nic_bytes_s must be > 0, got {nic_bytes_s}")
        if site is not None and site != self.site and self.wan is None:
            raise ValueError(f"node {node.name!r}: at site {site!r} but the network has no WAN")
        self._hosts[node.name] = _Host(node, nic_bytes_s, self.site if site is None else site)

    def replace_node(self, node: Node) -> None:
        """``node`` takes the place of the node of the same name (its process started anew):
        what arrives for that name from now on goes to it. NIC state and counters stay."""
        self._check_names(node.name)
        self._hosts[node.name].node = node

    @property
    def bytes_out(self) -> dict[str, int]:
        """Bytes each node has put on the wire (requests, responses, messages)."""
        return {name: host.bytes_out for name, host in self._hosts.items()}

    @property
    def bytes_in(self) -> dict[str, int]:
        """Bytes delivered to each node."""
        return {name: host.bytes_in for name, host in self._hosts.items()}

    def nic_counters(self) -> list[tuple[str, int, int, int, int, float, float, float]]:
        """Per node: (name, bytes put on the wire so far, bytes delivered to it so far, the
        same two on the wire with their packets' framing (wire_bytes, booked when sent), when
        its sending NIC is next free, when its receiving NIC is next free (s), its NIC
        bandwidth in bytes/s). Bytes count when sent, loopback ones too (not on the wire)."""
        return [
            (
                h.name,
                h.bytes_out,
                h.bytes_in,
                h.wire_out,
                h.wire_in,
                h.out_busy_s,
                h.in_busy_s,
                h.nic_bytes_s,
            )
            for h in self._hosts.values()
        ]

    def is_up(self, name: str) -> bool:
        """False between ``crash(name)`` and ``restart(name)`` (a paused node is up)."""
        return self._hosts[name].up

    # ------------------------------------------------------------------ traffic

    def request(
        self, source: str, target: str, request: Any, timeout_s: float, after_s: float = 0.0
    ) -> simpy.Event:
        """Send ``request`` (it has ``size_bytes``); the event succeeds with the response or a
        :class:`NetworkFailure` (:class:`RequestTimedOut` at ``now + after_s + timeout_s`` at
        the latest). after_s: the request leaves that long from now (its sender's thread is
        busy until then), s."""
        hosts = self._hosts
        src, dst = hosts[source], hosts[target]
        self._next_call_id = cid = self._next_call_id + 1
        event = Event(self.env)
        call = _Call(self, cid, src, dst, request, event)
        self._open[cid] = call
        self._deadlines.add(after_s + timeout_s, cid)
        if (
            src.up
            and dst.up
            and dst.listening
            and not src.paused
            and not (self._cut or self._links or self._held)
        ):
            # _dispatch_request's usual case written out (both ends up, no link cut, degraded
            # or holding anything): it runs once per request
            delay = self._transmit(src, dst, request.size_bytes, _NORMAL, after_s, call)
            call_later(self.env, delay, call, self._request_arrival)
        else:
            self._dispatch_request(call, after_s)
        return event

    def send(self, source: str, target: str, message: Any) -> float | None:
        """Send a one-way ``message`` (it has ``size_bytes``): ``on_request(message, source,
        None)`` at the target, or silently lost (no outcome to report).

        Returns the delay until its last byte has left the source's NIC, seconds (0 on the
        loopback), or None when it was not put on the wire now (dropped, the target down, the
        source paused: held until it resumes)."""
        return self._dispatch_message(_Message(self._hosts[source], self._hosts[target], message))

    # ------------------------------------------------------------------ fault hooks

    def crash(self, name: str) -> None:
        """The node goes down: its connections reset (see the module docstring)."""
        host = self._hosts[name]
        if not host.up:
            return
        host.up = False
        host.paused = False
        host.incarnation += 1
        host.held_in.clear()
        host.held_out.clear()
        host.out_busy_s = host.in_busy_s = self.env.now
        host.out_flows.clear()
        host.in_flows.clear()
        for call in [call for call in self._open.values() if call.dst is host or call.src is host]:
            if self._settle(call):  # false for its own requests: forgotten
                call.event.succeed(Disconnected(name))

    def restart(self, name: str) -> None:
        """The node is up again, with fresh connections."""
        self._hosts[name].up = True

    def listen(self, name: str, listening: bool) -> None:
        """Open (True) or close (False) the node's server socket: requests to a node that is
        not listening are refused (the module docstring's faults)."""
        self._hosts[name].listening = listening

    def pause(self, name: str) -> None:
        """Freeze the node (SIGSTOP): its traffic is held until :meth:`resume`."""
        host = self._hosts[name]
        if host.up:
            host.paused = True

    def resume(self, name: str) -> None:
        """Unfreeze the node: held sends leave, then held arrivals are handed over, in order
        (in a zero-delay event, so at the same simulated time)."""
        host = self._hosts[name]
        if host.paused:
            release = self.env.timeout(0.0, (host, host.incarnation))
            release.callbacks.append(self._on_release)

    def cut(self, a: str, b: str, one_way: bool = False) -> None:
        """Drop everything a->b (and b->a unless ``one_way``), silently."""
        self._check_names(a, b)
        self._cut.add((a, b))
        if not one_way:
            self._cut.add((b, a))

    def heal(self, a: str, b: str, one_way: bool = False) -> None:
        """Undo :meth:`cut` for a->b (and b->a unless ``one_way``)."""
        self._check_names(a, b)
        self._cut.discard((a, b))
        if not one_way:
            self._cut.discard((b, a))
        self._resend_healed()

    def cut_sites(self, a: str, b: str) -> None:
        """Drop everything between sites a and b, both ways, silently (a WAN cut): what is in
        flight across it is lost too. Each network whose nodes cross that WAN is told."""
        self._cut.add((SITES, a, b))
        self._cut.add((SITES, b, a))

    def heal_sites(self, a: str, b: str) -> None:
        """Undo :meth:`cut_sites`."""
        self._cut.discard((SITES, a, b))
        self._cut.discard((SITES, b, a))
        self._resend_healed()

    def set_link(
        self,
        a: str,
        b: str,
        *,
        extra_delay_s: float = 0.0,
        bandwidth_factor: float = 1.0,
        drop_requests: float = 0.0,
        drop_responses: float = 0.0,
    ) -> None:
        """Degrade both directions between a and b; the defaults restore a normal link.

        extra_delay_s: added one-way propagation delay, seconds. bandwidth_factor: multiplies
        the bytes/s of both NICs for transfers on this link. drop_requests / drop_responses:
        probability that a request or one-way message (either direction) / a response is lost.
        """
        self._check_names(a, b)
        if bandwidth_factor <= 0:
            raise ValueError(f"bandwidth_factor: must be > 0, got {bandwidth_factor}")
        for p in (drop_requests, drop_responses):
            if not 0.0 <= p <= 1.0:
                raise ValueError(f"drop probability: must be in [0, 1], got {p}")
        link = _Link(extra_delay_s, bandwidth_factor, drop_requests, drop_responses)
        for key in ((a, b), (b, a)):
            if link == _NORMAL:
                self._links.pop(key, None)
            else:
                self._links[key] = link

    # ------------------------------------------------------------------ internals

    def _check_names(self, *names: str) -> None:
        for name in names:
            if name not in self._hosts:
                raise KeyError(f"node {name!r}: not on the network")

    def _link(self, src: _Host, dst: _Host) -> _Link:
        return self._links.get((src.name, dst.name), _NORMAL) if self._links else _NORMAL

    def _is_cut(self, src: _Host, dst: _Host) -> bool:
        cut = self._cut
        if not cut:
            return False
        if (src.name, dst.name) in cut:
            return True
        return src.site != dst.site and (SITES, src.site, dst.site) in cut

    def _dropped(self, drop_probability: float) -> bool:
        """Whether a link that drops with ``drop_probability`` drops this message."""
        return bool(drop_probability) and self._rng.random() < drop_probability

    def _hold(
        self, src: _Host, dst: _Host, client: _Host, resend: Callable[[Any], Any], item: Any
    ) -> None:
        """Keep ``item`` (a call or a message) that a cut kept from ``dst`` on the connection
        ``client`` opened, to ``resend`` it once the cut heals (the module docstring's cut)."""
        key = (src.name, dst.name, client.name)
        held = self._held.get(key)
        if held is None:
            held = self._held[key] = _Retransmission(self.env.now, src, dst, client)
        held.items.append((resend, item, src.incarnation, dst.incarnation))

    def _holds(self, src: _Host, dst: _Host, client: _Host) -> bool:
        """Whether a message src->dst on the connection ``client`` opened waits: its link is
        cut, or the connection holds messages not yet sent again (TCP delivers a connection's
        bytes in order). The hot paths call it only when some link is cut or holds messages."""
        return self._is_cut(src, dst) or (src.name, dst.name, client.name) in self._held

    def _close_connection(self, timed_out: _Call) -> None:
        """The caller of ``timed_out`` closes the connection it travels on, and only that one
        (NetworkClient.handleTimedOutRequests: ``selector.close(nodeId)``, then
        processTimeoutDisconnection -> cancelInFlightRequests with timedOut): every request
        still open on it times out now, in send order, and what a cut held of it is not sent
        again. The target sees the close through these calls (:attr:`_Call.done`); the next
        request opens a new connection. A request that names no connection is not a Kafka
        client's (ZooKeeper's client gives its connection up and reconnects by itself): it
        times out alone."""
        src, dst = timed_out.src, timed_out.dst
        connection = _connection_of(timed_out.request)
        if connection is None:
            closed = [timed_out]
        else:
            closed = [
                call
                for call in self._open.values()
                if call.src is src
                and call.dst is dst
                and _connection_of(call.request) == connection
            ]
        waiting = [call for call in closed if self._settle(call)]
        for call in closed:
            if call.wan is not None:
                self._release_wan(call)
        if self._held:
            self._drop_held(src, dst, connection)
        for call in waiting:
            _fire(call.event, RequestTimedOut(dst.name))
            call.event = None

    def _drop_held(self, client: _Host, server: _Host, connection: Any) -> None:
        """Forget what the cuts held of a connection ``client`` closed, both ways: its calls
        (settled already) and its one-way messages. The model keeps one retransmission queue
        per node pair and direction, so a request on the next connection still waits behind
        what the pair's other connections hold (it leaves with them at TCP's retransmission)."""
        c, s = client.name, server.name
        for key in ((c, s, c), (s, c, c)):
            held = self._held.get(key)
            if held is None:
                continue
            held.items = [entry for entry in held.items if not _closed(entry[1], connection)]
            if not held.items:
                del self._held[key]

    def _resend_healed(self) -> None:
        """Schedule what the cuts held on each link that is no longer cut."""
        for key, held in list(self._held.items()):
            if held.resend_at_s is None and not self._is_cut(held.src, held.dst):
                at = held.next_retransmission_s(self.env.now, self._half_rtt(held.src, held.dst))
                if at is None:
                    del self._held[key]  # TCP gave up: the connection is lost
                    continue
                held.resend_at_s = at
                timer = self.env.timeout(at - self.env.now, held)
                timer.callbacks.append(self._resend)

    def _resend(self, timer: simpy.Event) -> None:
        """Send again what a healed cut held, unless a crash reset its connection since."""
        held: _Retransmission = timer.value
        key = (held.src.name, held.dst.name, held.client.name)
        if self._held.get(key) is not held:
            return  # its connection was closed since
        del self._held[key]
        for resend, item, src_incarnation, dst_incarnation in held.items:
            if held.src.incarnation == src_incarnation and held.dst.incarnation == dst_incarnation:
                resend(item)

    def _half_rtt(self, src: _Host, dst: _Host) -> float:
        """One-way propagation delay from ``src`` to ``dst``, s (the WAN's between sites)."""
        if src.site != dst.site:
            return self.wan.pipe(src.site, dst.site).half_rtt_s
        return self._half_rtt_s

    def _transmit(
        self,
        src: _Host,
        dst: _Host,
        nbytes: int,
        link: _Link,
        after_s: float = 0.0,
        call: _Call | None = None,
    ) -> float:
        """Book both NICs for ``nbytes``, ready to leave ``after_s`` from now, and return the
        delay until delivery, seconds. ``call``: the request it belongs to, if any (it keeps
        its time on the WAN pipe between sites, see :meth:`_release_wan`).

        A link's extra delay (slow_network) is added after the receiving NIC: it lengthens the
        path without holding the NIC, so traffic from other links is not queued behind it."""
        src.bytes_out += nbytes
        now = self.env.now
        if src is dst:
            return after_s
        # wire_bytes() written out: this runs once per message
        packets = -(-nbytes // MSS_BYTES)
        wire = nbytes + (packets if packets > 1 else 1) * FRAME_OVERHEAD_BYTES
        src.wire_out += wire
        dst.wire_in += wire
        if src.site != dst.site:
            return self._transmit_wan(src, dst, wire, link, now + after_s, call)
        factor = link.bandwidth_factor
        prop = self._half_rtt_s
        sparse = packets <= 1
        start, out_end, src.out_busy_s = _book_nic(
            src.out_flows, dst, now + after_s, src.out_busy_s, wire,
            src.nic_bytes_s * factor, sparse,
        )  # fmt: skip
        self._left_nic_s = out_end
        _, in_end, dst.in_busy_s = _book_nic(
            dst.in_flows, src, start + prop, dst.in_busy_s, wire,
            dst.nic_bytes_s * factor, sparse,
        )  # fmt: skip
        done = out_end + prop
        return (done if done > in_end else in_end) + link.extra_delay_s - now

    def _transmit_wan(
        self, src: _Host, dst: _Host, nbytes: int, link: _Link, ready: float, call: _Call | None
    ) -> float:
        """:meth:`_transmit` between sites: the WAN pipe between the NICs (module docstring);
        ``nbytes`` on the wire."""
        now = self.env.now
        factor = link.bandwidth_factor
        pipe = self.wan.pipe(src.site, dst.site)
        start = max(ready, src.out_busy_s)
        src.out_busy_s = out_end = start + nbytes / (src.nic_bytes_s * factor)
        self._left_nic_s = out_end
        wan_start = max(start, pipe.busy_s)
        pipe.busy_s = wan_end = wan_start + nbytes / pipe.bytes_s
        pipe.bytes_carried += nbytes
        if call is not None:
            call.wan = (pipe, wan_start, wan_end)
        prop = pipe.half_rtt_s
        in_start = max(wan_start + prop, dst.in_busy_s)
        dst.in_busy_s = in_end = in_start + nbytes / (dst.nic_bytes_s * factor)
        done = max(out_end, wan_end) + prop
        return max(done, in_end) + link.extra_delay_s - now

    def _settle(self, call: _Call) -> bool:
        """Decide the call (nothing more happens to it); True if its source still waits."""
        if call.done:
            return False
        call.done = True
        del self._open[call.cid]
        return call.src_incarnation == call.src.incarnation

    # requests: src -> dst

    def _dispatch_request(self, call: _Call, after_s: float = 0.0) -> None:
        """Send the call's request, ready to leave ``after_s`` from now (Network.request)."""
        src, dst = call.src, call.dst
        if call.done:
            return
        if not src.up:
            self._settle(call)  # sent by a down node: nobody waits for it
        elif src.paused:
            src.held_out.append((self._dispatch_request, call))
        else:
            if (self._cut or self._held) and self._holds(src, dst, src):
                self._hold(src, dst, src, self._dispatch_request, call)
                return
            link = self._link(src, dst)
            if link.drop_requests and self._dropped(link.drop_requests):
                return  # silence: the caller times out
            if dst.up and dst.listening:
                delay = self._transmit(src, dst, call.request.size_bytes, link, after_s, call)
                call_later(self.env, delay, call, self._request_arrival)
            else:  # connection refused
                delay = after_s + 2 * (self._half_rtt(src, dst) + link.extra_delay_s)
                call_later(self.env, delay, call, self._refusal)

    def _on_request_arrival(self, call: _Call) -> None:
        src, dst = call.src, call.dst
        if self._cut and self._is_cut(src, dst):
            self._hold(src, dst, src, self._dispatch_request, call)
            return
        if dst.paused:
            dst.held_in.append((self._deliver_request, call))
        elif call.src_incarnation == src.incarnation and call.dst_incarnation == dst.incarnation:
            # _deliver_request's usual case written out (no crash since it was sent): it runs
            # once per request
            request = call.request
            dst.bytes_in += request.size_bytes
            self.messages_delivered += 1
            dst.node.on_request(request, src.name, call)
        else:
            self._deliver_request(call)

    def _deliver_request(self, call: _Call) -> None:
        """Hand the request over, even if its caller timed out (the bytes arrived; the response
        will be discarded), unless a crash of either end reset the connection."""
        if call.src_incarnation != call.src.incarnation:
            self._settle(call)  # its source crashed: nobody waits, the request is lost
            return
        if call.dst_incarnation != call.dst.incarnation:
            return  # in flight to a node that crashed: lost (the caller saw Disconnected)
        request = call.request
        if call.done:
            call.request = None  # nothing needs it on the call any more
        call.dst.bytes_in += request.size_bytes
        self.messages_delivered += 1
        call.dst.node.on_request(request, call.src.name, call)

    def _on_deadline(self, call: _Call) -> None:
        self._close_connection(call)

    def _release_wan(self, call: _Call) -> None:
        """The call's client closed its connection (:meth:`_close_connection`): what of its
        request or response was still to cross the WAN is not sent (the closed socket's unsent
        bytes are dropped), so the pipe is free that much sooner. Messages booked after it keep
        their times; only later ones gain."""
        pipe, start, end = call.wan
        call.wan = None
        now = self.env.now
        left = end - (start if start > now else now)
        if left > 0:
            pipe.busy_s = max(now, pipe.busy_s - left)

    def _on_refused(self, call: _Call) -> None:
        if self._settle(call):
            _fire(call.event, Disconnected(call.dst.name))
            call.event = None

    # responses: dst -> src

    def _dispatch_response(self, call: _Call, after_s: float = 0.0) -> None:
        src, dst = call.src, call.dst
        if call.done:
            return
        if dst.paused:
            dst.held_out.append((self._dispatch_response, call))
            return
        if (self._cut or self._held) and self._holds(dst, src, src):
            self._hold(dst, src, src, self._dispatch_response, call)
            return
        link = self._link(dst, src)
        if link.drop_responses and self._dropped(link.drop_responses):
            return
        delay = self._transmit(dst, src, call.response.size_bytes, link, after_s, call)
        call_later(self.env, delay, call, self._response_arrival)

    def _on_response_arrival(self, call: _Call) -> None:
        if call.done:
            return
        if self._cut and self._is_cut(call.dst, call.src):
            self._hold(call.dst, call.src, call.src, self._dispatch_response, call)
            return
        if call.src.paused:
            call.src.held_in.append((self._deliver_response, call))
        else:
            self._deliver_response(call)

    def _deliver_response(self, call: _Call) -> None:
        # _settle and _fire written out: this runs once per response
        if not call.done:
            call.done = True
            del self._open[call.cid]
            src = call.src
            if call.src_incarnation == src.incarnation:
                response = call.response
                src.bytes_in += response.size_bytes
                self.messages_delivered += 1
                event = call.event
                event._ok = True
                event._value = response
                callbacks, event.callbacks = event.callbacks, None
                for callback in callbacks:
                    callback(event)
        # delivered: the call keeps nothing heavy
        call.event = None
        call.request = None
        call.response = None

    # one-way messages

    def _dispatch_message(self, msg: _Message) -> float | None:
        """Put ``msg`` on the wire; the delay until it has left the source's NIC, s, or None."""
        src, dst = msg.src, msg.dst
        if not (src.up and dst.up and dst.incarnation == msg.dst_incarnation):
            return None
        if src.paused:
            src.held_out.append((self._dispatch_message, msg))
            return None
        if self._holds(src, dst, src):
            self._hold(src, dst, src, self._dispatch_message, msg)
            return None
        link = self._link(src, dst)
        if self._dropped(link.drop_requests):
            return None
        delay = self._transmit(src, dst, msg.message.size_bytes, link)
        call_later(self.env, delay, msg, self._message_arrival)
        return 0.0 if src is dst else self._left_nic_s - self.env.now

    def _on_message_arrival(self, msg: _Message) -> None:
        src, dst = msg.src, msg.dst
        if self._is_cut(src, dst):
            self._hold(src, dst, src, self._dispatch_message, msg)
            return
        if dst.paused:
            dst.held_in.append((self._deliver_message, msg))
        else:
            self._deliver_message(msg)

    def _deliver_message(self, msg: _Message) -> None:
        src, dst, message = msg.src, msg.dst, msg.message
        if src.incarnation != msg.src_incarnation or dst.incarnation != msg.dst_incarnation:
            return  # a connection reset since it was sent: lost
        dst.bytes_in += message.size_bytes
        self.messages_delivered += 1
        dst.node.on_request(message, src.name, None)

    # pause

    def _on_release(self, event: simpy.Event) -> None:
        host, incarnation = event._value
        if not host.paused or host.incarnation != incarnation:
            return  # resumed twice, or crashed since resume()
        host.paused = False
        held_out, host.held_out = host.held_out, []
        held_in, host.held_in = host.held_in, []
        for deliver, item in held_out + held_in:
            deliver(item)
