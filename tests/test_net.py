"""Network: NIC timing, request/response, timeouts and the fault hooks, with tiny fake nodes."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import pytest
import simpy
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.stats import binomtest

from sim.net import (
    MSS_BYTES,
    Disconnected,
    Network,
    NetworkFailure,
    RequestTimedOut,
    wire_bytes,
)
from sim.scenario import Scenario
from sim.world import World

RTT = 0.002  # s
BW = 1e6  # bytes/s
N = 10_000  # bytes: 0.01 s on a BW NIC
RESP_BYTES = 500
TIMEOUT = 1.0  # s
WN = wire_bytes(N)  # a message of N bytes on the wire
WR = wire_bytes(RESP_BYTES)


@dataclass
class Msg:
    size_bytes: int
    tag: object = None
    connection: object = None  # which of its sender's connections it travels on


class Node:
    """Records what arrives (time, source, tag); answers requests at once unless told not to."""

    def __init__(self, env: simpy.Environment, name: str, answer: bool = True) -> None:
        self.env, self.name, self.answer = env, name, answer
        self.received: list[tuple[float, str, object]] = []
        self.owed: list = []

    def on_request(self, request: Msg, source: str, respond) -> None:
        self.received.append((self.env.now, source, request.tag))
        if respond is None:
            return
        if self.answer:
            respond(Msg(RESP_BYTES, ("re", request.tag)))
        else:
            self.owed.append(respond)


def make(names=("a", "b", "c"), bw=None, rng_seed=0, **answers):
    env = simpy.Environment()
    net = Network(env, np.random.default_rng(rng_seed), RTT)
    nodes = {}
    for name in names:
        nodes[name] = Node(env, name, answers.get(name, True))
        net.add_node(nodes[name], (bw or {}).get(name, BW))
    return env, net, nodes


def outcome_log(env: simpy.Environment, event: simpy.Event) -> list:
    """A list that receives (time, value) each time ``event`` triggers."""
    seen: list = []
    event.callbacks.append(lambda ev: seen.append((env.now, ev.value)))
    return seen


def test_idle_latency_is_propagation_plus_transfer_on_the_slower_nic():
    env, net, nodes = make(bw={"a": BW, "b": BW / 4})
    net.send("a", "b", Msg(N, 1))
    env.run()
    assert nodes["b"].received == [(pytest.approx(RTT / 2 + WN / (BW / 4)), "a", 1)]
    assert net.bytes_out["a"] == N
    assert net.bytes_in["b"] == N
    assert net.messages_delivered == 1


def test_a_burst_saturates_the_nic_and_arrives_n_over_bw_apart():
    env, net, nodes = make()
    k = 20
    for i in range(k):
        net.send("a", "b", Msg(N, i))
    env.run()
    times = [t for t, _, _ in nodes["b"].received]
    assert [tag for _, _, tag in nodes["b"].received] == list(range(k))
    assert times == pytest.approx([RTT / 2 + (i + 1) * WN / BW for i in range(k)])


def test_send_returns_when_its_last_byte_leaves_the_senders_nic():
    """A one-way message's send returns the delay until it has left the sender's NIC (the
    acks=0 producer completes its request then): n / bw behind what is queued, none for a
    message not put on the wire."""
    env, net, _ = make()
    assert [net.send("a", "b", Msg(N)) for _ in range(3)] == pytest.approx(
        [(i + 1) * WN / BW for i in range(3)]
    )
    assert net.send("a", "a", Msg(N)) == 0.0
    net.crash("c")
    assert net.send("a", "c", Msg(N)) is None


def test_two_senders_share_the_receivers_in_nic():
    env, net, nodes = make()
    net.send("a", "c", Msg(N, "a"))
    net.send("b", "c", Msg(N, "b"))
    env.run()
    times = [t for t, _, _ in nodes["c"].received]
    assert times == pytest.approx([RTT / 2 + WN / BW, RTT / 2 + 2 * WN / BW])


def test_a_one_packet_message_goes_ahead_of_a_big_one_on_the_nic():
    """A one-packet message of a connection with nothing queued (a fetch request, an answer)
    goes ahead of the receiving NIC's backlog after the packet on the wire, as fq_codel serves
    a new flow first: c's small message to b, sent while a's big one is still arriving at b,
    does not wait for all of it. The big one keeps its end; the small one's time is added to
    the backlog (a's next message waits for its own big one, then for it); and a message of
    more than one packet waits for the backlog, first come, first served."""
    env, net, nodes = make()
    big, small, two_packets = 50 * N, RESP_BYTES, 2 * MSS_BYTES
    net.send("a", "b", Msg(big, "big"))
    env.run(until=0.1)
    net.send("c", "b", Msg(small, "small"))
    env.run(until=0.2)
    net.send("a", "b", Msg(small, "after"))
    net.send("c", "b", Msg(two_packets, "two packets"))
    env.run()
    at = {tag: t for t, _, tag in nodes["b"].received}
    big_s, small_s = wire_bytes(big) / BW, wire_bytes(small) / BW
    packet_s = wire_bytes(MSS_BYTES) / BW
    assert at["big"] == pytest.approx(RTT / 2 + big_s)
    assert at["small"] == pytest.approx(0.1 + RTT / 2 + packet_s + small_s)
    assert at["after"] == pytest.approx(RTT / 2 + big_s + small_s + small_s)
    assert at["two packets"] == pytest.approx(at["after"] + wire_bytes(two_packets) / BW)


@settings(deadline=None, max_examples=100, derandomize=True)
@given(
    st.lists(
        st.tuples(
            st.floats(0.0, 0.02),
            st.sampled_from([("a", "b"), ("c", "b"), ("a", "c"), ("b", "a")]),
            st.integers(1, 40 * N),
        ),
        max_size=30,
    )
)
def test_the_nics_keep_each_connections_order_and_their_capacity(sends):
    """Whatever is sent when: each pair's messages arrive in the order sent, none before it
    could cross an idle path, and a sending NIC is busy exactly as long as first come, first
    served would keep it (the work booked on it, whatever the order: letting one-packet
    messages ahead moves no capacity), every message arriving by the time both its NICs are
    done."""
    env, net, nodes = make()
    sent_by = {name: [] for name in "abc"}  # (when, wire bytes) each node sent

    def sender():
        for tag, (gap, (src, dst), nbytes) in enumerate(sends):
            yield env.timeout(gap)
            net.send(src, dst, Msg(nbytes, (src, tag, env.now, nbytes)))
            sent_by[src].append((env.now, wire_bytes(nbytes)))

    env.process(sender())
    env.run()
    received = [(t, dst, tag) for dst, node in nodes.items() for t, _, tag in node.received]
    assert len(received) == len(sends)
    counters = {c[0]: c for c in net.nic_counters()}  # name, ..., out free, in free, bandwidth
    for t, dst, (src, _tag, sent, nbytes) in received:
        assert t >= sent + RTT / 2 + wire_bytes(nbytes) / BW - 1e-12
        assert t <= max(counters[src][5] + RTT / 2, counters[dst][6]) + 1e-12
    for node in nodes.values():
        for src in "abc":
            tags = [tag[1] for _, _, tag in node.received if tag[0] == src]
            assert tags == sorted(tags)
    for name, items in sent_by.items():
        done = 0.0
        for when, wire in items:
            done = max(done, when) + wire / BW
        assert counters[name][5] == pytest.approx(done)


def test_round_trip_returns_the_response():
    env, net, _ = make()
    seen = outcome_log(env, net.request("a", "b", Msg(N, "q"), TIMEOUT))
    env.run()
    expected = RTT / 2 + WN / BW + RTT / 2 + WR / BW
    assert seen == [(pytest.approx(expected), Msg(RESP_BYTES, ("re", "q")))]
    assert net.bytes_out == {"a": N, "b": RESP_BYTES, "c": 0}


def test_loopback_uses_no_nic_and_takes_no_time():
    env, net, nodes = make()
    seen = outcome_log(env, net.request("a", "a", Msg(N, "self"), TIMEOUT))
    env.run()
    assert seen == [(0.0, Msg(RESP_BYTES, ("re", "self")))]
    assert nodes["a"].received == [(0.0, "a", "self")]


def test_a_process_can_wait_on_a_request():
    env, net, _ = make()
    got = []

    def client():
        got.append((yield net.request("a", "b", Msg(N, 1), TIMEOUT)))
        got.append((yield net.request("a", "c", Msg(N, 2), TIMEOUT)))

    env.process(client())
    env.run()
    assert [r.tag for r in got] == [("re", 1), ("re", 2)]


@pytest.mark.parametrize("fault", ["cut", "pause", "no_answer"])
def test_timeout_fires_exactly_at_timeout_s(fault):
    env, net, _ = make(b=fault != "no_answer")
    if fault == "cut":
        net.cut("a", "b")
    elif fault == "pause":
        net.pause("b")
    env.run(until=0.5)
    seen = outcome_log(env, net.request("a", "b", Msg(N), TIMEOUT))
    env.run()
    assert seen == [(0.5 + TIMEOUT, RequestTimedOut("b"))]


def test_crash_disconnects_pending_requesters_at_the_crash_time():
    env, net, nodes = make(b=False)
    to_b = outcome_log(env, net.request("a", "b", Msg(N), TIMEOUT))
    in_flight = outcome_log(env, net.request("c", "b", Msg(N), TIMEOUT))
    env.run(until=RTT / 2 + 1.5 * WN / BW)  # a's request arrived, c's is still on the wire
    assert len(nodes["b"].received) == 1
    net.crash("b")
    env.run()
    assert to_b == [(RTT / 2 + 1.5 * WN / BW, Disconnected("b"))]
    assert in_flight == to_b
    assert len(nodes["b"].received) == 1  # c's request was lost with the connection
    nodes["b"].owed[0](Msg(RESP_BYTES))  # a response owed by the crashed node is never sent
    env.run()
    assert net.bytes_out["b"] == 0


def test_requests_of_a_crashed_node_are_forgotten():
    env, net, nodes = make()
    seen = outcome_log(env, net.request("a", "b", Msg(N), TIMEOUT))
    net.crash("a")
    env.run()
    assert seen == []
    assert nodes["b"].received == []


def test_a_down_node_behind_a_cut_link_is_silence_not_a_refusal():
    env, net, _ = make()
    net.crash("b")
    net.cut("a", "b")
    seen = outcome_log(env, net.request("a", "b", Msg(N), TIMEOUT))
    env.run()
    assert seen == [(TIMEOUT, RequestTimedOut("b"))]


def test_request_to_a_down_node_is_refused_after_one_rtt():
    env, net, nodes = make()
    net.crash("b")
    env.run(until=0.25)
    seen = outcome_log(env, net.request("a", "b", Msg(N), TIMEOUT))
    net.send("a", "b", Msg(N))
    env.run()
    assert seen == [(pytest.approx(0.25 + RTT), Disconnected("b"))]
    assert nodes["b"].received == []
    assert net.bytes_out["a"] == 0


def test_a_node_not_listening_refuses_requests_but_its_own_traffic_flows():
    """A restarted broker before its registration: requests to it are refused after one round
    trip, as to a down node; its own request is answered, and a one-way message to it (a
    ZooKeeper watch on its session) arrives. Once it listens, requests reach it."""
    env, net, nodes = make()
    net.listen("b", False)
    refused = outcome_log(env, net.request("a", "b", Msg(N, "refused"), TIMEOUT))
    own = outcome_log(env, net.request("b", "a", Msg(N, "own"), TIMEOUT))
    net.send("a", "b", Msg(N, "watch"))
    env.run()
    assert refused == [(pytest.approx(RTT), Disconnected("b"))]
    assert own == [(pytest.approx(RTT + (WN + WR) / BW), Msg(RESP_BYTES, ("re", "own")))]
    assert [tag for _, _, tag in nodes["b"].received] == ["watch"]
    net.listen("b", True)
    answered = outcome_log(env, net.request("a", "b", Msg(N, "later"), TIMEOUT))
    env.run()
    assert answered[0][1] == Msg(RESP_BYTES, ("re", "later"))


def test_restart_brings_the_node_back_with_fresh_connections():
    env, net, nodes = make()
    net.send("a", "b", Msg(N, "lost"))  # in flight when b crashes
    net.crash("b")
    net.restart("b")
    assert net.is_up("b")
    seen = outcome_log(env, net.request("a", "b", Msg(N, "new"), TIMEOUT))
    env.run()
    assert [tag for _, _, tag in nodes["b"].received] == ["new"]
    assert seen[0][1] == Msg(RESP_BYTES, ("re", "new"))


def test_pause_holds_requests_and_resume_delivers_them_in_order():
    env, net, nodes = make()
    net.pause("b")
    outcomes = [outcome_log(env, net.request("a", "b", Msg(N, i), TIMEOUT)) for i in range(3)]
    env.run(until=0.5)
    assert nodes["b"].received == []
    net.resume("b")
    env.run()
    assert nodes["b"].received == [(0.5, "a", 0), (0.5, "a", 1), (0.5, "a", 2)]
    first_back = 0.5 + RTT / 2 + WR / BW
    for i, seen in enumerate(outcomes):
        assert seen == [(pytest.approx(first_back + i * WR / BW), Msg(RESP_BYTES, ("re", i)))]


def test_a_paused_node_sends_nothing_until_resumed():
    env, net, nodes = make(b=False)
    seen = outcome_log(env, net.request("a", "b", Msg(N, "q"), TIMEOUT))
    env.run(until=0.1)
    net.pause("b")
    nodes["b"].owed[0](Msg(RESP_BYTES))  # its response is held by the pause
    net.send("b", "c", Msg(N, "note"))
    env.run(until=0.8)
    assert seen == [] and nodes["c"].received == []
    net.resume("b")
    env.run()
    assert seen == [(pytest.approx(0.8 + RTT / 2 + WR / BW), Msg(RESP_BYTES))]
    note_at = 0.8 + (WR + WN) / BW + RTT / 2  # queued behind the response on b's NIC
    assert nodes["c"].received == [(pytest.approx(note_at), "b", "note")]


def test_a_request_held_past_its_timeout_is_still_processed_but_its_answer_is_dropped():
    env, net, nodes = make()
    net.pause("b")
    seen = outcome_log(env, net.request("a", "b", Msg(N, "late"), TIMEOUT))
    env.run(until=2 * TIMEOUT)
    net.resume("b")
    env.run()
    assert seen == [(TIMEOUT, RequestTimedOut("b"))]
    assert [tag for _, _, tag in nodes["b"].received] == ["late"]


def test_a_timeout_closes_its_connection_and_times_out_its_other_requests_only():
    """NetworkClient.handleTimedOutRequests closes the timed-out request's connection and
    processTimeoutDisconnection times out every request still in flight on it, at once; a
    request on another connection to the same node (a consumer's coordinator connection) stays,
    as does one sent on the next connection; a late answer on the closed one is dropped."""
    env, net, nodes = make(b=False)
    first = outcome_log(env, net.request("a", "b", Msg(N, "1", "client"), TIMEOUT))
    env.run(until=TIMEOUT / 2)
    second = outcome_log(env, net.request("a", "b", Msg(N, "2", "client"), 10 * TIMEOUT))
    other = outcome_log(env, net.request("a", "b", Msg(N, "3", "coordinator"), 10 * TIMEOUT))
    env.run(until=1.5 * TIMEOUT)
    after = outcome_log(env, net.request("a", "b", Msg(N, "4", "client"), 10 * TIMEOUT))
    env.run(until=2 * TIMEOUT)
    for respond in nodes["b"].owed:
        respond(Msg(RESP_BYTES, "late"))
    env.run()
    assert first == second == [(TIMEOUT, RequestTimedOut("b"))]
    assert [value for _, value in other + after] == [Msg(RESP_BYTES, "late")] * 2
    assert net.bytes_in["a"] == 2 * RESP_BYTES  # the two on the closed connection: dropped


def test_a_request_naming_no_connection_times_out_alone():
    """Traffic that is not a Kafka client's (ZooKeeper's client reconnects by itself) names no
    connection: a timeout ends only its own request."""
    env, net, nodes = make(b=False)
    first = outcome_log(env, net.request("a", "b", Msg(N, "1"), TIMEOUT))
    second = outcome_log(env, net.request("a", "b", Msg(N, "2"), 10 * TIMEOUT))
    env.run(until=2 * TIMEOUT)
    nodes["b"].owed[1](Msg(RESP_BYTES, "re"))
    env.run()
    assert first == [(TIMEOUT, RequestTimedOut("b"))]
    assert [value for _, value in second] == [Msg(RESP_BYTES, "re")]


def test_a_crash_ends_the_connections_of_the_crashed_node_too():
    """A request of a node that crashed is done at the network: its target sees the
    connection gone (sim.broker's connections drop what it queued), and its answer goes
    nowhere."""
    env, net, nodes = make(b=False)
    seen = outcome_log(env, net.request("a", "b", Msg(N, "q"), TIMEOUT))
    env.run(until=TIMEOUT / 2)
    (respond,) = nodes["b"].owed
    assert not respond.done
    net.crash("a")
    assert respond.done
    respond(Msg(RESP_BYTES, "late"))
    env.run()
    assert seen == [] and net.bytes_out["b"] == 0


def test_one_way_cut_blocks_only_one_direction():
    env, net, nodes = make()
    net.cut("a", "b", one_way=True)
    net.send("a", "b", Msg(N, "ab"))
    net.send("b", "a", Msg(N, "ba"))
    a_to_b = outcome_log(env, net.request("a", "b", Msg(N), TIMEOUT))
    env.run()
    assert nodes["b"].received == []
    assert [tag for _, _, tag in nodes["a"].received] == ["ba"]
    assert a_to_b == [(TIMEOUT, RequestTimedOut("b"))]


def test_a_response_blocked_by_a_one_way_cut_times_out():
    env, net, nodes = make()
    net.cut("b", "a", one_way=True)
    seen = outcome_log(env, net.request("a", "b", Msg(N), TIMEOUT))
    env.run()
    assert len(nodes["b"].received) == 1
    assert seen == [(TIMEOUT, RequestTimedOut("b"))]


#: TCP's first retransmission timeout on the LAN: the round trip plus TCP_RTO_MIN, s
RTO_S = RTT + 0.2


def test_a_request_held_by_a_cut_is_answered_after_tcps_next_retransmission():
    """Cut from 0 to 2 s: the request waits in TCP, sent again at 0.202, 0.606, 1.414 and
    3.030 s (timeouts doubling from RTT + 200 ms); the last, after the heal, gets through and
    is answered, within the caller's 10 s."""
    env, net, nodes = make()
    net.cut("a", "b")
    seen = outcome_log(env, net.request("a", "b", Msg(N, "q"), 10.0))
    env.run(until=2.0)
    net.heal("a", "b")
    env.run()
    resent_s = RTO_S * (1 + 2 + 4 + 8)
    arrived_s = resent_s + RTT / 2 + WN / BW
    assert nodes["b"].received == [(pytest.approx(arrived_s), "a", "q")]
    answered_s = arrived_s + RTT / 2 + WR / BW
    assert seen == [(pytest.approx(answered_s), Msg(RESP_BYTES, ("re", "q")))]


def test_a_response_in_flight_when_cut_waits_and_keeps_the_connections_order():
    """b answers a's request; the response is on the wire when the link is cut: held, sent
    again once healed; the answer to a request a sends after the heal, on the same
    connection, arrives after it."""
    env, net, nodes = make(b=False)
    first = outcome_log(env, net.request("a", "b", Msg(N, "q"), 10.0))
    env.run(until=0.1)
    nodes["b"].owed.pop()(Msg(N, "re"))
    env.run(until=0.101)
    net.cut("a", "b")
    env.run(until=1.0)
    net.heal("a", "b")
    second = outcome_log(env, net.request("a", "b", Msg(RESP_BYTES, "q2"), 10.0))
    env.run(until=1.1)
    nodes["b"].owed.pop()(Msg(RESP_BYTES, "re2"))
    env.run()
    assert first and first[0][0] > 0.101 + RTO_S * (1 + 2 + 4)  # resent at 0.101 + 1.414
    assert first[0][1] == Msg(N, "re")
    assert second[0][0] > first[0][0]


def test_a_crash_or_tcps_give_up_loses_what_a_cut_held():
    """What a cut held is not sent again to a node restarted since (the connection was
    reset), nor after TCP gave up (tcp_retries2: 924.6 s)."""
    env, net, nodes = make()
    net.cut("a", "b")
    net.cut("a", "c")
    net.send("a", "b", Msg(N, "to b"))
    net.send("a", "c", Msg(N, "to c"))
    env.run(until=1.0)
    net.crash("b")
    net.restart("b")
    net.heal("a", "b")
    env.run(until=925.0)
    net.heal("a", "c")
    net.send("a", "c", Msg(N, "after"))
    env.run()
    assert nodes["b"].received == []
    assert [tag for _, _, tag in nodes["c"].received] == ["after"]


def test_heal_restores_the_link():
    env, net, nodes = make()
    net.cut("a", "b")
    net.heal("a", "b")
    net.send("b", "a", Msg(N, "x"))
    env.run()
    assert [tag for _, _, tag in nodes["a"].received] == ["x"]


def test_set_link_adds_delay_and_scales_bandwidth_both_ways_and_resets():
    env, net, nodes = make()
    net.set_link("a", "b", extra_delay_s=0.1, bandwidth_factor=0.5)
    seen = outcome_log(env, net.request("a", "b", Msg(N), TIMEOUT))
    env.run()
    expected = 2 * (RTT / 2 + 0.1) + (WN + WR) / (BW * 0.5)
    assert seen[0][0] == pytest.approx(expected)
    net.set_link("a", "b")
    start = env.now
    net.send("b", "a", Msg(N, "x"))
    env.run()
    assert nodes["a"].received[-1][0] == pytest.approx(start + RTT / 2 + WN / BW)


@pytest.mark.parametrize("direction", ["drop_requests", "drop_responses"])
def test_drop_probability_one_drops_everything(direction):
    env, net, nodes = make()
    net.set_link("b", "a", **{direction: 1.0})
    outcomes = [outcome_log(env, net.request("a", "b", Msg(N), TIMEOUT)) for _ in range(20)]
    env.run()
    assert all(seen == [(TIMEOUT, RequestTimedOut("b"))] for seen in outcomes)
    assert len(nodes["b"].received) == (20 if direction == "drop_responses" else 0)


def test_drop_probability_is_honoured_statistically():
    env, net, nodes = make(rng_seed=1234)
    net.set_link("a", "b", drop_requests=0.3)
    n = 2000
    for i in range(n):
        net.send("a", "b", Msg(100, i))
    env.run()
    dropped = n - len(nodes["b"].received)
    assert binomtest(dropped, n, 0.3).pvalue > 0.001


def test_the_same_seed_drops_the_same_messages():
    def delivered(seed):
        env, net, nodes = make(rng_seed=seed)
        net.set_link("a", "b", drop_requests=0.5)
        for i in range(50):
            net.send("a", "b", Msg(100, i))
        env.run()
        return [tag for _, _, tag in nodes["b"].received]

    assert delivered(7) == delivered(7)
    assert delivered(7) != delivered(8)


def test_faults_on_unknown_nodes_are_errors():
    _, net, _ = make()
    with pytest.raises(KeyError):
        net.cut("a", "nope")
    with pytest.raises(ValueError):
        net.add_node(Node(simpy.Environment(), "a"), BW)


# --------------------------------------------------------------------------- exactly one outcome

NAMES = ("a", "b", "c")
ACTIONS = st.one_of(
    st.tuples(
        st.just("request"), st.sampled_from(NAMES), st.sampled_from(NAMES), st.floats(0.001, 0.05)
    ),
    st.tuples(st.sampled_from(["crash", "restart", "pause", "resume"]), st.sampled_from(NAMES)),
    st.tuples(
        st.sampled_from(["cut", "heal"]),
        st.sampled_from(NAMES),
        st.sampled_from(NAMES),
        st.booleans(),
    ),
    st.tuples(
        st.just("drop"),
        st.sampled_from(NAMES),
        st.sampled_from(NAMES),
        st.sampled_from([0.0, 0.5, 1.0]),
    ),
    st.tuples(st.just("answer"), st.integers(0, 20)),
)


@settings(deadline=None, max_examples=150, derandomize=True)
@given(st.lists(st.tuples(st.floats(0.0, 0.01), ACTIONS), max_size=40), st.integers(0, 3))
def test_every_request_has_exactly_one_outcome(schedule, seed):
    env, net, nodes = make(rng_seed=seed, b=False, c=False)  # a answers at once
    requests = []  # (event, timeout_s, sent_at, outcomes, source crashed while pending)

    def on_outcome(ev, rec):
        rec[3].append(env.now)

    def injector():
        for gap, action in schedule:
            yield env.timeout(gap)
            kind, *args = action
            if kind == "request":
                src, dst, timeout_s = args
                forgotten = not net.is_up(src)  # sent by a down node: nobody waits for it
                rec = [net.request(src, dst, Msg(N), timeout_s), timeout_s, env.now, [], forgotten]
                rec[0].callbacks.append(lambda ev, rec=rec: on_outcome(ev, rec))
                requests.append((src, rec))
            elif kind == "crash":
                for src, rec in requests:
                    rec[4] |= src == args[0] and not rec[3]
                net.crash(args[0])
            elif kind in ("restart", "pause", "resume"):
                getattr(net, kind)(args[0])
            elif kind in ("cut", "heal"):
                getattr(net, kind)(*args)
            elif kind == "drop" and args[0] != args[1]:
                net.set_link(args[0], args[1], drop_requests=args[2], drop_responses=args[2])
            elif kind == "answer":
                owed = [node.owed for node in nodes.values() if node.owed]
                if owed:
                    owed[args[0] % len(owed)].pop(0)(Msg(RESP_BYTES))

    env.process(injector())
    env.run()
    for _, (event, timeout_s, sent_at, outcomes, forgotten) in requests:
        if forgotten:
            assert len(outcomes) <= 1  # triggered before its source crashed, or never
            continue
        assert len(outcomes) == 1
        assert outcomes[0] <= sent_at + timeout_s + 1e-12
        assert isinstance(event.value, (Msg, NetworkFailure))


def test_replace_node_hands_later_arrivals_to_the_new_node():
    """A restarted process is a new node object under the same name: messages sent after the
    replacement reach it, not the old one."""
    env, net, nodes = make()
    new_b = Node(env, "b")
    net.replace_node(new_b)
    net.send("a", "b", Msg(RESP_BYTES, "after"))
    env.run()
    assert [tag for _, _, tag in new_b.received] == ["after"] and nodes["b"].received == []
    with pytest.raises(KeyError):
        net.replace_node(Node(env, "nobody"))


@pytest.mark.parametrize("fault", ["cut", "link"])
def test_a_fault_on_an_unused_link_changes_nothing_in_a_whole_run(fault):
    """The network's hot paths are written out for the usual case (no node paused, no link cut
    or degraded anywhere) beside the general paths that handle faults. A fault on a link that
    carries nothing (a producer and a consumer never talk) sends every message down the
    general paths; the run must not change at all."""

    def tables(with_fault: bool) -> dict[str, pd.DataFrame]:
        spec = {
            "name": "net-paths",
            "seed": 5,
            "duration_s": 6.0,
            "cluster": {"brokers": 3, "config": {"group.initial.rebalance.delay.ms": 0}},
            "topics": [{"name": "t", "partitions": 4, "replication_factor": 3}],
            "producers": [
                {
                    "name": "app",
                    "topic": "t",
                    "rate_msgs_s": 2000,
                    "keys": {"kind": "uniform", "cardinality": 50},
                    "config": {"linger.ms": 2},
                }
            ],
            "consumer_groups": [{"group_id": "g", "members": 2, "topics": ["t"]}],
            "faults": [{"kind": "crash_broker", "at_s": 2.0, "broker": 1, "restart_after_s": 1.0}],
        }
        world = World(Scenario.from_dict(spec))
        if with_fault:
            if fault == "cut":
                world.net.cut("app-0", "g-0")
            else:
                world.net.set_link("app-0", "g-1", extra_delay_s=0.5, drop_requests=0.5)
        world.run()
        return world.results().tables

    plain, general = tables(False), tables(True)
    assert len(plain["acked"]) > 1000 and len(plain["consumed"]) > 1000
    for name in plain:
        pd.testing.assert_frame_equal(plain[name], general[name], obj=name)


# ---------------------------------------------------------------- sites and the WAN

WAN_RTT = 0.060  # s
WAN_BW = BW / 10  # bytes/s: slower than the NICs


def make_sites():
    """Two networks (clusters east and west) sharing one WAN: east's nodes a, b; west's c, and
    ``x``, a client on east's network at west's site."""
    from sim.net import Wan

    env = simpy.Environment()
    wan = Wan(WAN_RTT, WAN_BW)
    east = Network(env, np.random.default_rng(0), RTT, site="east", wan=wan)
    west = Network(env, np.random.default_rng(1), RTT, site="west", wan=wan)
    nodes = {name: Node(env, name) for name in ("a", "b", "c", "x")}
    east.add_node(nodes["a"], BW)
    east.add_node(nodes["b"], BW)
    west.add_node(nodes["c"], BW)
    east.add_node(nodes["x"], BW, site="west")
    return env, east, west, wan, nodes


def test_a_message_between_sites_takes_the_wan_propagation_and_bandwidth():
    env, east, _, wan, nodes = make_sites()
    east.send("x", "a", Msg(N, 1))
    east.send("a", "b", Msg(N, 2))  # same site: the LAN
    env.run()
    assert nodes["a"].received == [(pytest.approx(WAN_RTT / 2 + WN / WAN_BW), "x", 1)]
    assert nodes["b"].received == [(pytest.approx(RTT / 2 + WN / BW), "a", 2)]
    assert wan.pipe("west", "east").bytes_carried == WN
    assert wan.pipe("east", "west").bytes_carried == 0


def test_the_wan_pipe_is_shared_by_every_node_and_network_of_its_sites():
    """Two senders with idle NICs still queue behind each other on the one pipe: the WAN
    saturates at its bandwidth whatever the NICs."""
    env, east, west, wan, nodes = make_sites()
    east.send("x", "a", Msg(N, "x"))  # west site -> east site, on east's network
    west.send("c", "c", Msg(N, "loop"))  # loopback: no WAN
    env.run()
    k = 5
    for i in range(k):
        east.send("x", "b", Msg(N, i))
    start = env.now
    env.run()
    times = [t - start for t, _, tag in nodes["b"].received]
    assert times == pytest.approx([WAN_RTT / 2 + (i + 1) * WN / WAN_BW for i in range(k)])


def test_a_refused_connection_between_sites_takes_the_wan_round_trip():
    env, east, _, _, _ = make_sites()
    east.crash("a")
    seen = outcome_log(env, east.request("x", "a", Msg(N, "q"), TIMEOUT))
    env.run()
    assert seen == [(pytest.approx(WAN_RTT), Disconnected("a"))]


def test_a_node_elsewhere_needs_a_wan():
    env = simpy.Environment()
    net = Network(env, np.random.default_rng(0), RTT, site="east")
    with pytest.raises(ValueError, match="no WAN"):
        net.add_node(Node(env, "x"), BW, site="west")


def test_a_cut_wan_holds_what_crosses_it_until_tcp_sends_it_again():
    """A WAN cut holds the message in flight across it and the requests sent into it; one
    request's caller times out, so its client closes the connection: what that connection
    held is not sent again. After the heal what the other connection held goes at TCP's next
    retransmission, before what is sent on it after the heal; the LAN is unaffected."""
    env, east, _, _, nodes = make_sites()
    east.send("a", "x", Msg(N, "in flight"))
    env.run(until=0.001)
    east.cut_sites("east", "west")
    seen = outcome_log(env, east.request("x", "a", Msg(N, "q"), TIMEOUT))
    east.send("a", "x", Msg(N, "held"))
    east.send("a", "b", Msg(N, "lan"))  # within a site: unaffected
    env.run()
    assert seen == [(pytest.approx(0.001 + TIMEOUT), RequestTimedOut("a"))]
    assert nodes["a"].received == [] and nodes["x"].received == []
    assert [tag for _, _, tag in nodes["b"].received] == ["lan"]
    east.heal_sites("west", "east")
    east.send("a", "x", Msg(N, "after"))
    east.send("x", "a", Msg(N, "new connection"))
    env.run()
    assert [tag for _, _, tag in nodes["x"].received] == ["held", "in flight", "after"]
    assert [tag for _, _, tag in nodes["a"].received] == ["new connection"]
    # held from 0.001: timeouts WAN_RTT + 200 ms, doubling: 0.26, 0.52, 1.04
    assert nodes["x"].received[0][0] > 0.001 + (WAN_RTT + 0.2) * (1 + 2 + 4)
    assert nodes["a"].received[0][0] < nodes["x"].received[0][0]


def test_a_request_sent_after_the_heal_waits_behind_what_the_cut_held():
    """After the heal, until TCP sends the held message again, a request on the same
    connection queues behind it (the usual fast path must not overtake it)."""
    env, net, nodes = make()
    net.cut("a", "b")
    net.send("a", "b", Msg(N, "held"))
    env.run(until=0.5)
    net.heal("a", "b")
    net.request("a", "b", Msg(N, "next"), 10.0)
    env.run()
    assert [tag for _, _, tag in nodes["b"].received] == ["held", "next"]
    assert nodes["b"].received[0][0] > RTO_S * (1 + 2)  # resent at 0.606 s
