"""The idempotent producer's epoch bump (KIP-360), as Kafka 3.9's Sender and TransactionManager
do it: a batch that fails for good (or a real hole in the sequences) makes the sender bump the
producer epoch before its next drain and restart that partition's sequences at 0, rewriting
the sequences of its batches not yet done. Cases ported from Kafka's SenderTest and
TransactionManagerTest (clients/src/test/java/org/apache/kafka/clients/producer/internals/;
inputs and expected outputs, the test named on each), driven through a Sender with a scripted
network; then a whole run."""

from __future__ import annotations

import numpy as np
import pandas as pd
import simpy

import sim
from sim.audit import audit
from sim.clients.producer.record_accumulator import RecordAccumulator
from sim.clients.producer.sender import DELIVERY_TIMEOUT, Sender
from sim.kafka_config import effective
from sim.metrics import Metrics
from sim.net import RequestTimedOut
from sim.protocol import Errors, PartitionProduceResult, ProduceResponse
from sim.scenario import Scenario

TP = ("t", 0)
PID = 343434


class _Net:
    """Answers nothing by itself: each request's event waits in :attr:`pending` for the test."""

    def __init__(self, env: simpy.Environment) -> None:
        self.env = env
        self.pending: list[tuple[simpy.Event, object]] = []

    def request(self, _src, _dst, request, _timeout):
        event = self.env.event()
        self.pending.append((event, request))
        return event


class _Producer:
    """A Sender on one partition led by broker 0, with records appended by :meth:`append`."""

    def __init__(self, **config) -> None:
        self.env = simpy.Environment()
        self.net = _Net(self.env)
        cfg = effective("producer", {"linger.ms": 0, **config})
        self.acc = RecordAccumulator(cfg["batch.size"], 0.0, "none", cfg["buffer.memory"])
        self.metrics = Metrics()
        self.sender = Sender(
            self.env,
            "app-0",
            self.net,
            self.acc,
            cfg,
            self.metrics,
            np.random.default_rng(0),
            PID,
            lambda: None,
            lambda: None,
        )
        self.sender.set_leaders({TP: 0})

    def append(self, count: int = 1) -> None:
        """``count`` records of 100 bytes arriving now (one batch when drained together)."""
        now = self.env.now
        self.acc.append(TP, [now] * count, None, [100] * count)

    def run_once(self) -> None:
        self.sender.run_once(self.env.now)

    def answer(self, error: Errors, base_offset: int = -1, which: int = 0) -> list:
        """Answer the ``which``-th pending request (its one batch); returns the wire sent."""
        event, request = self.net.pending.pop(which)
        event.succeed(ProduceResponse({TP: PartitionProduceResult(error, base_offset)}))
        self.env.run()
        return list(request.batches.values())

    def sleep(self, seconds: float) -> None:
        self.env.run(until=self.env.now + seconds)

    def sent(self, which: int = -1):
        """The batch of the ``which``-th pending request."""
        return next(iter(self.net.pending[which][1].batches.values()))

    def errors(self) -> list[str]:
        return self.metrics.acked.frame()["error"].tolist()

    def bump_events(self) -> pd.DataFrame:
        events = self.metrics.events.frame()
        return events[events["kind"] == "producer_epoch_bump"]


def test_epoch_bump_on_out_of_order_sequence_for_next_batch() -> None:
    # SenderTest.testEpochBumpOnOutOfOrderSequenceForNextBatch
    p = _Producer()
    p.append(2)
    p.run_once()
    assert p.sender.next_sequence[TP] == 2
    p.answer(Errors.NONE, 0)
    p.append()
    p.run_once()
    assert p.sender.next_sequence[TP] == 3
    assert p.sender.last_acked[TP] == 1
    # an OUT_OF_ORDER_SEQUENCE_NUMBER for the batch right after the last acknowledged one
    p.answer(Errors.OUT_OF_ORDER_SEQUENCE_NUMBER)
    p.run_once()
    p.run_once()
    assert p.sender.epoch == 1
    assert p.sender.next_sequence[TP] == 1
    assert min(p.sender.unacked[TP]) == 0  # firstInFlightSequence
    assert len(p.bump_events()) == 1


def test_expiry_of_all_sent_batches_causes_unresolved_sequences_then_a_bump() -> None:
    # SenderTest.testExpiryOfAllSentBatchesShouldCauseUnresolvedSequences
    p = _Producer(**{"delivery.timeout.ms": 1500, "request.timeout.ms": 1000})
    p.append()
    p.run_once()
    p.answer(Errors.NOT_LEADER_OR_FOLLOWER)  # retried
    assert p.sender.next_sequence[TP] == 1
    p.sleep(1.0)
    p.run_once()  # the retry is sent
    p.sleep(0.6)
    p.answer(Errors.REQUEST_TIMED_OUT)  # past the delivery timeout: expired
    assert p.errors()[-1] == DELIVERY_TIMEOUT
    assert p.sender.unresolved == {TP: 1}
    assert p.sender.epoch == 0
    p.run_once()  # resolves: sequence 0 never acknowledged, so bump
    assert p.sender.epoch == 1
    assert not p.sender.unresolved
    assert p.sender.next_sequence[TP] == 0


def test_expiry_of_first_batch_causes_epoch_bump_if_future_batches_fail() -> None:
    # SenderTest.testExpiryOfFirstBatchShouldCauseEpochBumpIfFutureBatchesFail
    p = _Producer(**{"delivery.timeout.ms": 1500, "request.timeout.ms": 1000})
    p.append()
    p.run_once()  # sequence 0
    p.sleep(1.0)
    p.append()
    p.run_once()  # sequence 1
    assert len(p.net.pending) == 2
    p.answer(Errors.NOT_LEADER_OR_FOLLOWER)  # the first: retried
    p.sleep(0.6)
    p.run_once()  # its retry goes
    # the connection fails: the retry expires (unresolved), the second is retried
    p.net.pending[-1][0].succeed(RequestTimedOut("broker-0"))
    p.env.run()
    p.net.pending.clear()  # both requests are done
    assert p.errors() == [DELIVERY_TIMEOUT]
    assert p.sender.unresolved == {TP: 1}
    p.append()
    p.sleep(0.5)
    p.run_once()  # the second's retry goes; the third waits: the partition is unresolved
    assert len(p.net.pending) == 1
    p.answer(Errors.OUT_OF_ORDER_SEQUENCE_NUMBER)  # the next after the unresolved sequence
    assert len(p.acc.queues[TP].retries) == 1  # requeued
    p.run_once()
    assert p.sender.epoch == 1
    assert not p.sender.unresolved
    # the requeued batch is rewritten to sequence 0 of epoch 1; the third goes after it
    retry = p.acc.queues[TP].retries[0]
    assert (retry.sequence, retry.wire.producer_epoch) == (0, 1)
    assert p.sender.next_sequence[TP] == 1


def test_a_batch_failed_for_good_bumps_and_restarts_sequences() -> None:
    # TransactionManagerTest.testBumpEpochAndResetSequenceNumbersAfterUnrecoverableError:
    # a batch failed by a non-retriable error (adjustSequenceNumbers) leaves a hole: epoch + 1
    # and the sequences of the partition restart at 0, the in-flight batch rewritten
    p = _Producer()
    p.append()
    p.run_once()  # sequence 0
    p.append()
    p.run_once()  # sequence 1, in flight
    p.answer(Errors.MESSAGE_TOO_LARGE, which=0)
    assert p.errors() == ["MESSAGE_TOO_LARGE"]
    p.append()
    p.run_once()
    assert p.sender.epoch == 1
    assert p.sender.unacked[TP][0].wire.producer_epoch == 1  # the in-flight batch rewritten
    assert p.sender.unacked[TP][0].reopened
    # the partition's epoch is the new one now, so the new batch is drained (sequence 1 of
    # epoch 1) while the old attempt of the rewritten one is still in flight
    stale, new = p.sent(0), p.sent(1)
    assert (stale.producer_epoch, stale.base_sequence) == (0, 1)
    assert (new.producer_epoch, new.base_sequence) == (1, 1)
    # both are refused (a hole at 0 in epoch 0; epoch 1 must start at 0): both retried, the
    # rewritten one as reset, the new one as not the next after the last acknowledged
    p.answer(Errors.OUT_OF_ORDER_SEQUENCE_NUMBER)
    p.answer(Errors.OUT_OF_ORDER_SEQUENCE_NUMBER)
    assert p.errors() == ["MESSAGE_TOO_LARGE"]
    p.sleep(1.0)
    p.run_once()
    resent = p.sent(0)
    assert (resent.batch_id, resent.producer_epoch, resent.base_sequence) == (
        stale.batch_id,
        1,
        0,
    )
    assert len(p.net.pending) == 1  # sequence 1 waits while 0 is in flight
    p.answer(Errors.NONE, 0)
    p.run_once()
    assert (p.sent(0).batch_id, p.sent(0).base_sequence) == (new.batch_id, 1)
    assert p.sender.epoch == 1


def test_no_bump_when_retries_run_out() -> None:
    # Sender.completeBatch: failBatch(..., adjustSequenceNumbers = attempts < retries): a batch
    # that used up its retries may have been appended, so its sequence is not given up
    p = _Producer(retries=0)
    p.append()
    p.run_once()
    p.answer(Errors.NOT_ENOUGH_REPLICAS)
    assert p.errors() == ["NOT_ENOUGH_REPLICAS"]
    p.run_once()
    assert p.sender.epoch == 0


def test_a_batch_in_flight_at_its_delivery_timeout_fails_then_and_its_late_answer_counts_once():
    # Sender.getExpiredInflightBatches, SenderTest.testInflightBatchesExpireOnDeliveryTimeout
    # and testWhenFirstBatchExpireNoSendSecondBatchIfGuaranteeOrder: the batch fails at its
    # delivery timeout though its request is in flight, and its memory is freed; the partition
    # stays muted (max.in.flight 1) until the answer, which changes no outcome, but a success
    # still moves the last acknowledged sequence (TransactionManager.handleCompletedBatch)
    config = {"delivery.timeout.ms": 1000, "request.timeout.ms": 900}
    p = _Producer(**config, **{"max.in.flight.requests.per.connection": 1})
    p.append()
    p.run_once()
    p.sleep(0.5)
    p.append()
    p.sleep(0.499)
    p.run_once()
    assert p.errors() == []
    p.sleep(0.001)
    p.run_once()
    assert p.errors() == [DELIVERY_TIMEOUT]
    assert p.sender.in_flight_records() == 0 and len(p.net.pending) == 1
    assert p.sender.muted == {TP}  # the second batch is not drained
    p.answer(Errors.NONE, 0)
    assert p.errors() == [DELIVERY_TIMEOUT]
    assert p.sender.last_acked[TP] == 0
    assert not p.sender.muted
    p.run_once()
    assert p.sent().base_sequence == 1  # the second batch goes now


def test_out_of_order_not_after_the_last_acked_is_retried_without_bump() -> None:
    # TransactionManager.canRetry: OUT_OF_ORDER_SEQUENCE_NUMBER for a batch that is not the
    # next after the last acknowledged one is retried (an earlier batch may fill the hole)
    p = _Producer()
    p.append()
    p.run_once()
    p.append()
    p.run_once()
    p.answer(Errors.OUT_OF_ORDER_SEQUENCE_NUMBER, which=1)
    assert p.errors() == []
    p.run_once()
    assert p.sender.epoch == 0
    assert not p.sender.bump_for


# ---------------------------------------------------------------- a whole run


def test_a_partition_whose_batches_expired_goes_on_after_the_fault_heals() -> None:
    """One producer (idempotent, acks=all) to 2 partitions of 2 brokers, RF 1, the leader of
    partition 0 cut off from the producer for 4 s, longer than delivery.timeout.ms (2 s, with
    request.timeout.ms 1 s and linger.ms 5: Kafka requires delivery >= linger + request). The
    batches of partition 0 expire; once the link heals the producer has bumped its epoch and
    its later batches to partition 0 are acknowledged: no OUT_OF_ORDER_SEQUENCE_NUMBER cascade,
    no duplicate, nothing acknowledged lost, no reordering within an epoch."""
    cut = {"kind": "network_partition", "links": [["app-0", "leader:t-0"]]}
    producer = {"name": "app", "topic": "t", "rate_msgs_s": 800, "message_bytes": 250}
    producer["keys"] = {"kind": "uniform", "cardinality": 40}
    producer["config"] = {"linger.ms": 5, "request.timeout.ms": 1000, "delivery.timeout.ms": 2000}
    spec = {
        "name": "epoch-bump",
        "seed": 3,
        "duration_s": 10.0,
        "cluster": {"brokers": 2},
        "faults": [{**cut, "at_s": 2.0, "heal_after_s": 4.0}],
        "topics": [{"name": "t", "partitions": 2, "replication_factor": 1}],
        "producers": [producer],
    }
    results = sim.run(Scenario.from_dict(spec))
    batches = results.produced.merge(results.acked, on="batch_id", how="left")
    p0 = batches[batches["partition"] == 0]
    errors = set(p0["error"].dropna())
    assert DELIVERY_TIMEOUT in errors
    assert errors <= {"", DELIVERY_TIMEOUT}  # no OUT_OF_ORDER_SEQUENCE_NUMBER cascade
    healed_s = 2.0 + 4.0
    later = p0[p0["first_arrival_s"] > healed_s + 1.0]
    assert len(later) > 100
    assert (later["error"] == "").all()
    events = results.events
    bumps = events[events["kind"] == "producer_epoch_bump"]
    assert len(bumps) >= 1
    assert (bumps["partition"] == 0).all()
    assert batches.loc[batches["partition"] == 1, "error"].eq("").all()
    report = audit(results.tables)
    assert report.duplicate_messages == 0
    assert report.lost_acked_messages == 0
    # stored in send order: each epoch's sequences in order, epoch 1 after epoch 0
    assert report.producer_reorderings == 0
    stored = results.tables["log"]
    assert set(stored.loc[stored["partition"] == 0, "producer_epoch"]) == {0, 1}
