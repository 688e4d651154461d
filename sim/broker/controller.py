"""The cluster controller, ZooKeeper mode (≈ Kafka 3.9's KafkaController with its partition and
replica state machines and ControllerChannelManager).

Every broker runs a :class:`Controller`; the one whose broker created the ephemeral ``/controller``
znode is active. Becoming active, it bumps ``/controller_epoch`` (so a zombie controller's writes
fail and brokers ignore its requests), loads the cluster state from ZooKeeper (a per-partition
cost) and watches ``/brokers/ids``. Its work is a queue of events handled one at a time:

- a broker's znode vanished (its session expired): elect new leaders for the partitions it led
  (offline election; unclean only when the topic allows it) and take it out of ISRs, never
  emptying an ISR (the last member stays, ReplicaStateMachine), each change bumping the leader
  epoch; write the states to ZooKeeper; send LeaderAndIsr to the replicas and UpdateMetadata to
  all live brokers;
- a broker appeared: UpdateMetadata to all (the new broker learns every partition), then
  LeaderAndIsr with its replicas' current states (leaderless ones too), then offline
  elections for partitions without a leader (onBrokerStartup's order);
- ControlledShutdown: move the broker's leaderships (controlled-shutdown election) and take it
  out of ISRs, then answer;
- AlterPartition: a leader's ISR change, accepted only from the current leader at the current
  leader and partition epochs, and only with live members none of which is shutting down;
- with ``auto.leader.rebalance.enable``, 5 s after taking office and then
  ``leader.imbalance.check.interval.seconds`` after each check is done: move leadership back to
  preferred replicas on brokers over ``leader.imbalance.per.broker.percentage``.

Times: ``ELECTION_S_PER_PARTITION`` per partition changed and ``LOAD_S_PER_PARTITION`` per
partition loaded at failover, from Jun Rao's measurements of Kafka 1.1 (controlled shutdown of
10,000 partitions in 3 s; failover of 100,000 partitions loaded in 14 s).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Generator, Iterable, KeysView
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import simpy

from sim.broker.election import elect_leader, is_unclean, isr_after_election
from sim.events import EventKind
from sim.net import NetworkFailure
from sim.protocol import (
    NO_LEADER,
    AlterPartitionResponse,
    ControlledShutdownResponse,
    Errors,
    LeaderAndIsrPartition,
    LeaderAndIsrRequest,
    PartitionMetadata,
    TopicPartition,
    UpdateMetadataRequest,
)

if TYPE_CHECKING:
    from sim.broker.broker import Broker

#: ControllerChannelManager's RequestSendThread waits this long before sending a request
#: again after a failure (``backoff()``: 100 ms), s
SEND_RETRY_BACKOFF_S = 0.1
ELECTION_S_PER_PARTITION = 3.0 / 10_000
LOAD_S_PER_PARTITION = 14.0 / 100_000
#: Delay of a new controller's first preferred-leader check, s (KafkaController
#: .onControllerFailover: scheduleAutoLeaderRebalanceTask(delay = 5, SECONDS)).
FIRST_IMBALANCE_CHECK_S = 5.0
CONTROLLER_PATH = "/controller"
CONTROLLER_EPOCH_PATH = "/controller_epoch"
BROKER_IDS_PATH = "/brokers/ids"


def partition_state_path(tp: TopicPartition) -> str:
    """Znode of a partition's leader and ISR (ZkData TopicPartitionStateZNode)."""
    return f"/brokers/topics/{tp[0]}/partitions/{tp[1]}/state"


@dataclass(slots=True)
class PartitionState:
    """The controller's record of one partition (LeaderIsrAndControllerEpoch + assignment)."""

    replicas: list[int]
    leader: int
    leader_epoch: int
    isr: list[int]
    partition_epoch: int

    def as_request(self) -> LeaderAndIsrPartition:
        """What a LeaderAndIsr request says of it."""
        return LeaderAndIsrPartition(
            self.leader,
            self.leader_epoch,
            list(self.isr),
            list(self.replicas),
            self.partition_epoch,
        )

    def as_metadata(self) -> PartitionMetadata:
        """What an UpdateMetadata request says of it."""
        return PartitionMetadata(
            self.leader, self.leader_epoch, list(self.replicas), list(self.isr)
        )

    def as_znode(self) -> dict[str, Any]:
        """The state znode's data (with the assignment, which Kafka keeps in the topic znode)."""
        return {
            "leader": self.leader,
            "leader_epoch": self.leader_epoch,
            "isr": list(self.isr),
            "replicas": list(self.replicas),
        }


class Controller:
    """The controller logic of one broker; active only while its broker holds ``/controller``."""

    def __init__(self, broker: Broker) -> None:
        self.broker = broker
        self.env: simpy.Environment = broker.env
        self.broker_id = broker.broker_id
        self.active = False
        self.epoch = 0
        self.epoch_version = -1  # ZooKeeper version of /controller_epoch when we wrote it
        #: each live broker's epoch: the czxid of its /brokers/ids znode (KIP-380), which a
        #: broker that registered again (a new session) has larger
        self.broker_epochs: dict[int, int] = {}
        #: (broker, broker epoch) -> the requests queued for it (see _send)
        self._channels: dict[tuple[int, int], deque] = {}
        self.shutting_down: set[int] = set()
        self.states: dict[TopicPartition, PartitionState] = {}
        self.unclean_allowed: dict[str, bool] = {}
        self._events: simpy.Store | None = None
        self._process: simpy.Process | None = None
        #: events that arrived between winning the election and taking over (None: not electing)
        self._early: list[tuple[str, Any]] | None = None
        cfg = broker.config
        self.auto_rebalance = bool(cfg["auto.leader.rebalance.enable"])
        self.imbalance_check_s = cfg.s("leader.imbalance.check.interval.seconds")
        self.imbalance_ratio = cfg["leader.imbalance.per.broker.percentage"] / 100.0
        self.request_timeout_s = cfg.s("controller.socket.timeout.ms")

    # ---------------------------------------------------------------- becoming active

    def adopt(self, epoch: int, epoch_version: int, live: dict[int, int], states) -> None:
        """Start as the active controller with state already known (the run's initial cluster);
        ``live``: broker id -> broker epoch."""
        self.epoch, self.epoch_version = epoch, epoch_version
        self.broker_epochs = dict(live)
        self.states = states
        self._activate()

    def elected(self) -> None:
        """Won the election; the state is loaded next. Kafka's controller is active from here
        (KafkaController.elect sets activeControllerId before onControllerFailover), and it
        registers its /brokers/ids handler before reading the brokers: a registration seen
        while it loads is a BrokerChange queued behind the failover on the one event queue
        (ControllerEventManager), handled once the failover is done. The model keeps such
        events until :meth:`take_over`."""
        self._early = []

    @property
    def electing(self) -> bool:
        """Won the election and loading the state (no resignation since)."""
        return self._early is not None

    def take_over(self, epoch: int, epoch_version: int, live: dict[int, int], states) -> None:
        """Won the election and loaded the state: elect leaders where they are gone, tell
        every broker (KafkaController.onControllerFailover), then handle the events that came
        while loading, in their order."""
        early, self._early = self._early or [], None
        self.adopt(epoch, epoch_version, live, states)
        self.submit("failover")
        for kind, payload in early:
            self.submit(kind, payload)

    @property
    def live(self) -> KeysView[int]:
        """The brokers this controller knows live (ControllerContext.liveOrShuttingDownBrokerIds):
        those it holds an epoch of."""
        return self.broker_epochs.keys()

    def _activate(self) -> None:
        self.active = True
        self._events = simpy.Store(self.env)
        self._process = self.env.process(self._event_loop())
        if self.auto_rebalance:
            self._schedule_imbalance_check(FIRST_IMBALANCE_CHECK_S)
        self.broker.metrics.event(
            self.env.now, EventKind.CONTROLLER_CHANGE, self.broker.name,
            detail=f"epoch {self.epoch}", broker=self.broker.broker_id, epoch=self.epoch,
        )  # fmt: skip

    def resign(self) -> None:
        """Stop acting as controller (session lost, broker stopping, or another one won).

        The brokers known to be shutting down are forgotten (KafkaController
        .onControllerResignation: controllerContext.resetContext clears shuttingDownBrokerIds):
        a broker that shut down while its own controller was active, came back and later took
        office again would otherwise count itself as shutting down for its whole next term, and
        refuse every ISR that holds it (INELIGIBLE_REPLICA). The partition states and broker
        epochs stay readable (the world reads the last controller's when none is active) and
        are replaced when it takes office again (:meth:`adopt`)."""
        self._early = None
        self.shutting_down.clear()
        self._channels = {}  # ControllerChannelManager.shutdown: the queued requests go
        if not self.active:
            return
        self.active = False
        process, self._process = self._process, None
        if process is not None and process.is_alive and self.env.active_process is not process:
            process.interrupt("resign")

    def submit(self, kind: str, payload: Any = None) -> None:
        """Queue an event for the controller: kept for after the failover while it loads the
        state (:meth:`elected`), ignored when not active (``if (!isActive) return``)."""
        if self.active and self._events is not None:
            self._events.put((kind, payload))
        elif self._early is not None:
            self._early.append((kind, payload))

    # ---------------------------------------------------------------- the event loop

    def _event_loop(self) -> Generator[simpy.Event, Any, None]:
        try:
            while self.active:
                kind, payload = yield self._events.get()
                handler = getattr(self, f"_on_{kind}")
                yield from handler(payload)
        except simpy.Interrupt:
            return

    def _schedule_imbalance_check(self, delay_s: float) -> None:
        """KafkaController.scheduleAutoLeaderRebalanceTask: queue the preferred-leader check
        ``delay_s`` seconds from now, unless this controller's term has ended by then."""
        term = self._process

        def check(_: simpy.Event) -> None:
            if self._process is term:
                self.submit("auto_preferred_election")

        self.env.timeout(delay_s).callbacks.append(check)

    # ---------------------------------------------------------------- broker changes

    def _on_failover(self, _: Any) -> Generator[simpy.Event, Any, None]:
        """KafkaController.onControllerFailover once the context is loaded, in its order:

        1. UpdateMetadata with the live brokers and no partition to every live broker;
        2. ReplicaStateMachine.startup: the replicas on live brokers go OnlineReplica
           (:meth:`_replicas_online`), then those on dead brokers OfflineReplica
           (:meth:`_replicas_offline`);
        3. PartitionStateMachine.startup: partitions without a leader get one if they can
           (:meth:`_elect_offline`).

        The first preferred-leader check follows 5 s later (:meth:`_activate`)."""
        live = sorted(self.live)
        self._send_update_metadata((), live)
        self._replicas_online(live)
        hosts = {b for state in self.states.values() for b in state.replicas}
        yield from self._replicas_offline(sorted(hosts - self.live))
        yield from self._elect_offline()

    def _on_broker_change(self, _: Any) -> Generator[simpy.Event, Any, None]:
        """KafkaController.processBrokerChange: read the registered brokers and their epochs
        now (re-arming the watch), against the brokers known live. In Kafka's order: the new
        brokers start (the dead ones still count as live meanwhile); the bounced ones —
        registered again with a new session (a larger epoch) since this controller last read —
        fail, then start; the dead ones fail."""
        registered = yield from self.broker.read_brokers()
        if registered is None or not self.active:
            return
        new = sorted(registered.keys() - self.live)
        dead = sorted(self.live - registered.keys())
        bounced = sorted(
            b for b in registered.keys() & self.live if registered[b] > self.broker_epochs[b]
        )
        if new:
            self._add_live({b: registered[b] for b in new})
            yield from self._on_brokers_started(new)
        if bounced:
            self._remove_live(bounced)
            yield from self._on_brokers_failed(bounced)
            self._add_live({b: registered[b] for b in bounced})
            yield from self._on_brokers_started(bounced)
        if dead:
            self._remove_live(dead)
            yield from self._on_brokers_failed(dead)

    def _add_live(self, epochs: dict[int, int]) -> None:
        """ControllerContext.addLiveBrokers: ``epochs`` (broker id -> broker epoch) are live."""
        self.broker_epochs.update(epochs)

    def _remove_live(self, brokers: list[int]) -> None:
        """ControllerContext.removeLiveBrokers: ``brokers`` are no longer live, and their
        channels go with their queued requests (ControllerChannelManager.removeBroker)."""
        for broker in brokers:
            self._channels.pop((broker, self.broker_epochs.pop(broker)), None)

    def _on_brokers_failed(self, dead: list[int]) -> Generator[simpy.Event, Any, None]:
        """KafkaController.onBrokerFailure: no longer shutting down; offline elections, then
        replicas out of ISRs.

        Every live broker then learns that the dead ones are gone, even where no state changed
        (a broker already out of every ISR after its controlled shutdown): onReplicasBecomeOffline
        takes each of their replicas OfflineReplica, and removeReplicasFromIsr returns the
        partitions it did not change too, whose UpdateMetadata goes to every live broker (and
        LeaderAndIsr to their replicas, which changes nothing at the same leader epoch: not
        sent here); without replicas, an UpdateMetadata of the live brokers alone."""
        gone = set(dead)
        self.shutting_down -= gone
        changed: dict[TopicPartition, PartitionState] = {}
        for tp, state in sorted(self.states.items()):
            if state.leader in gone:
                self._elect(tp, state, "offline", changed)
        self._remove_from_isrs(dead, changed)
        yield from self._commit(changed)
        states = self.states
        unchanged = [tp for tp in sorted(states) if gone & set(states[tp].replicas)]
        unchanged = [tp for tp in unchanged if tp not in changed]
        if self.active and (unchanged or not changed):
            self._send_update_metadata(unchanged)

    def _replicas_offline(self, brokers: list[int]) -> Generator[simpy.Event, Any, None]:
        """ZkReplicaStateMachine.handleStateChanges(replicas on ``brokers``, OfflineReplica):
        each leaves the ISRs it is in (:meth:`_remove_from_isr`); the changes are written, then
        LeaderAndIsr goes to the partitions' live replicas and UpdateMetadata to every live
        broker (:meth:`_commit`)."""
        changed: dict[TopicPartition, PartitionState] = {}
        self._remove_from_isrs(brokers, changed)
        yield from self._commit(changed)

    def _remove_from_isrs(self, brokers: list[int], changed: dict) -> None:
        """Each of ``brokers`` out of every ISR it is in, partition by partition."""
        for tp, state in sorted(self.states.items()):
            for broker in brokers:
                if broker in state.isr:
                    self._remove_from_isr(tp, state, broker, changed)

    def _on_brokers_started(self, new: list[int]) -> Generator[simpy.Event, Any, None]:
        """KafkaController.onBrokerStartup (3.9 core/src/main/scala/kafka/controller/
        KafkaController.scala), in its order:

        1. UpdateMetadata: to the brokers already live, the live brokers and no partition; to
           the new brokers, every partition (``partitionsWithLeaders``: leaderless ones too);
        2. the new brokers' replicas go OnlineReplica (:meth:`_replicas_online`);
        3. partitions without a leader get one if they can (:meth:`_elect_offline`).

        What Kafka does next (resuming reassignments and topic deletions, watching the new
        brokers' znodes for modifications) has no counterpart in the model."""
        self._send_update_metadata((), sorted(self.live - set(new)))
        self._send_update_metadata(brokers=new)
        self._replicas_online(new)
        yield from self._elect_offline()

    def _replicas_online(self, brokers: list[int]) -> None:
        """ZkReplicaStateMachine.handleStateChanges(replicas on ``brokers``, OnlineReplica):
        each broker gets a LeaderAndIsr with the current state of each partition it hosts, with
        or without a leader (ControllerBrokerRequestBatch.addLeaderAndIsrRequestForBrokers), and
        every live broker an UpdateMetadata with those partitions; nothing is written."""
        theirs = {tp: s for tp, s in self.states.items() if any(b in s.replicas for b in brokers)}
        if not theirs:
            return
        for broker in brokers:
            parts = {tp: s for tp, s in theirs.items() if broker in s.replicas}
            if parts:
                self._send_leader_and_isr(broker, parts)
        self._send_update_metadata(theirs)

    def _elect_offline(self) -> Generator[simpy.Event, Any, None]:
        """PartitionStateMachine.triggerOnlinePartitionStateChange: every partition without a
        leader (OfflinePartition) tries an offline election; those that get a leader are
        written to ZooKeeper, then LeaderAndIsr goes to their live replicas and UpdateMetadata
        to every live broker (:meth:`_commit`)."""
        changed: dict[TopicPartition, PartitionState] = {}
        for tp, state in sorted(self.states.items()):
            if state.leader == NO_LEADER:
                self._elect(tp, state, "offline", changed)
        yield from self._commit(changed)

    # ---------------------------------------------------------------- elections and ISR

    def _elect(self, tp, state: PartitionState, kind: str, changed: dict) -> None:
        """Run ``kind`` election for ``tp``; on success bump the epoch and set the ISR."""
        live = [b for b in state.replicas if b in self.live]
        unclean = kind == "offline" and self.unclean_allowed.get(tp[0], False)
        leader = elect_leader(
            kind, state.replicas, state.isr, live, unclean=unclean, shutting_down=self.shutting_down
        )
        if leader is None:
            return  # stays offline; taking the dead leader out (_remove_from_isr) records it
        if leader == state.leader:
            return
        unclean_election = is_unclean(leader, state.isr)
        before = state.isr
        state.isr = sorted(isr_after_election(kind, leader, state.isr, live, self.shutting_down))
        state.leader = leader
        state.leader_epoch += 1
        changed[tp] = state
        self.broker.metrics.event(
            self.env.now,
            EventKind.UNCLEAN_LEADER_ELECTION if unclean_election else EventKind.LEADER_ELECTION,
            f"broker-{leader}",
            tp[0],
            tp[1],
            f"{kind}: broker-{leader} leads at epoch {state.leader_epoch}",
            broker=leader,
            epoch=state.leader_epoch,
            outcome=kind,
        )
        self._record_isr_change(tp, before, state.isr, kind)

    def _record_isr_change(self, tp, before: list[int], after: list[int], why: str) -> None:
        """An ``isr_shrink`` row per broker an election took out of the ISR, an ``isr_expand``
        row per broker it put in (an unclean election's leader), so that the rows rebuild
        every ISR."""
        for kind, brokers, verb in (
            (EventKind.ISR_SHRINK, [b for b in before if b not in after], "left"),
            (EventKind.ISR_EXPAND, [b for b in after if b not in before], "joined"),
        ):
            for b in brokers:
                self.broker.metrics.event(
                    self.env.now, kind, self.broker.name, tp[0], tp[1],
                    f"broker-{b} {verb} the ISR ({why} election)", broker=b,
                )  # fmt: skip

    def _remove_from_isr(self, tp, state: PartitionState, broker: int, changed: dict) -> None:
        """ReplicaStateMachine OfflineReplica: out of the ISR unless it is the last member."""
        if len(state.isr) > 1:
            state.isr = [b for b in state.isr if b != broker]
            self.broker.metrics.event(
                self.env.now, EventKind.ISR_SHRINK, self.broker.name, tp[0], tp[1],
                f"broker-{broker} left the ISR (offline)", broker=broker,
            )  # fmt: skip
        if state.leader == broker:
            state.leader = NO_LEADER
        state.leader_epoch += 1
        changed[tp] = state

    def _commit(
        self, changed: dict[TopicPartition, PartitionState]
    ) -> Generator[simpy.Event, Any, None]:
        """Write the changed states to ZooKeeper (fenced by the controller epoch), then tell the
        replicas (LeaderAndIsr) and every live broker (UpdateMetadata)."""
        if not changed:
            return
        yield self.env.timeout(ELECTION_S_PER_PARTITION * len(changed))
        written = yield from self.broker.zk_write_partition_states(self, changed)
        if not written:
            self.resign()  # a newer controller exists: our epoch is fenced
            return
        for state in changed.values():
            state.partition_epoch += 1
        for broker in sorted(self.live):
            parts = {tp: s for tp, s in changed.items() if broker in s.replicas}
            if parts:
                self._send_leader_and_isr(broker, parts)
        self._send_update_metadata(changed)

    # ---------------------------------------------------------------- requests from brokers

    def _on_controlled_shutdown(self, request) -> Generator[simpy.Event, Any, None]:
        """KafkaController.doControlledShutdown: move leaderships off, out of ISRs, answer. A
        broker neither live nor shutting down (its session expired first: onBrokerFailure took
        it out of both) is refused with BROKER_NOT_AVAILABLE ("Broker id does not exist"), not
        marked shutting down: it would stay so after it registers again, and the controller
        would refuse it in every ISR (INELIGIBLE_REPLICA) for ever."""
        broker, respond = request
        if broker not in self.live and broker not in self.shutting_down:
            respond(ControlledShutdownResponse(Errors.BROKER_NOT_AVAILABLE, []))
            return
        self.shutting_down.add(broker)
        changed: dict[TopicPartition, PartitionState] = {}
        for tp, state in sorted(self.states.items()):
            if state.leader == broker and len(state.replicas) > 1:
                self._elect(tp, state, "controlled_shutdown", changed)
        for tp, state in sorted(self.states.items()):
            if state.leader != broker and broker in state.isr and len(state.isr) > 1:
                # ReplicaStateMachine OfflineReplica for the followers (removeReplicasFromIsr)
                state.isr = [b for b in state.isr if b != broker]
                state.leader_epoch += 1
                changed[tp] = state
                self.broker.metrics.event(
                    self.env.now, EventKind.ISR_SHRINK, self.broker.name, tp[0], tp[1],
                    f"broker-{broker} left the ISR (controlled shutdown)", broker=broker,
                )  # fmt: skip
        yield from self._commit(changed)
        remaining = [tp for tp, s in sorted(self.states.items()) if s.leader == broker]
        respond(ControlledShutdownResponse(Errors.NONE, remaining))

    def _on_alter_partition(self, request) -> Generator[simpy.Event, Any, None]:
        """Accept a leader's ISR change at the current leader and partition epochs (KIP-497)
        whose members are all live and none shutting down (KIP-841; KafkaController
        .processAlterPartition: ``isr -- controllerContext.liveBrokerIds``, INELIGIBLE_REPLICA)."""
        alter, respond = request
        results: dict[TopicPartition, tuple[Errors, int, list[int], int]] = {}
        changed: dict[TopicPartition, PartitionState] = {}
        for tp, (leader_epoch, isr, partition_epoch) in alter.partitions.items():
            state = self.states.get(tp)
            if (
                state is None
                or state.leader != alter.broker_id
                or leader_epoch != state.leader_epoch
            ):
                error = Errors.FENCED_LEADER_EPOCH
            elif partition_epoch != state.partition_epoch:
                error = Errors.INVALID_UPDATE_VERSION
            elif set(isr) - (self.live - self.shutting_down):
                error = Errors.INELIGIBLE_REPLICA  # KIP-841: a dead or shutting-down member
            else:
                state.isr = sorted(isr)
                changed[tp] = state
                error = Errors.NONE
            if state is not None and error is not Errors.NONE:
                results[tp] = (error, state.leader_epoch, list(state.isr), state.partition_epoch)
        if changed:
            yield self.env.timeout(ELECTION_S_PER_PARTITION * len(changed))
            written = yield from self.broker.zk_write_partition_states(self, changed)
            if not written:
                self.resign()
                respond(AlterPartitionResponse(Errors.NOT_CONTROLLER))
                return
            for tp, state in changed.items():
                state.partition_epoch += 1
                results[tp] = (
                    Errors.NONE,
                    state.leader_epoch,
                    list(state.isr),
                    state.partition_epoch,
                )
            self._send_update_metadata(changed)
        respond(AlterPartitionResponse(Errors.NONE, results))

    def _on_auto_preferred_election(self, _: Any) -> Generator[simpy.Event, Any, None]:
        """KafkaController.checkAndTriggerAutoLeaderRebalance: brokers whose share of partitions
        led by others exceeds the imbalance ratio get their preferred leaderships back; the next
        check is ``leader.imbalance.check.interval.seconds`` after this one is done."""
        changed: dict[TopicPartition, PartitionState] = {}
        for broker in sorted(self.live - self.shutting_down):
            preferred = [tp for tp, s in self.states.items() if s.replicas[0] == broker]
            if not preferred:
                continue
            not_led = [tp for tp in preferred if self.states[tp].leader != broker]
            if len(not_led) / len(preferred) > self.imbalance_ratio:
                for tp in sorted(not_led):
                    self._elect(tp, self.states[tp], "preferred", changed)
        yield from self._commit(changed)
        if self.active:  # processAutoPreferredReplicaLeaderElection's finally: the next check
            self._schedule_imbalance_check(self.imbalance_check_s)

    # ---------------------------------------------------------------- requests to brokers

    def _send_leader_and_isr(
        self, broker: int, parts: dict[TopicPartition, PartitionState]
    ) -> None:
        request = LeaderAndIsrRequest(
            self.broker_id, self.epoch, {tp: s.as_request() for tp, s in parts.items()}
        )
        self._send(broker, request)

    def _send_update_metadata(
        self, tps: Iterable[TopicPartition] | None = None, brokers: Iterable[int] | None = None
    ) -> None:
        """UpdateMetadata with the live brokers and the states of ``tps`` (all partitions when
        None) to ``brokers`` (every live broker when None). As Kafka's ControllerBrokerRequestBatch
        does, an action sends the partitions it changed, not the whole cluster's: with 10,000
        partitions an ISR change is one entry, not 10,000 per broker."""
        live = sorted(self.live)
        states = self.states
        parts = {tp: states[tp].as_metadata() for tp in (states if tps is None else tps)}
        for broker in live if brokers is None else brokers:
            self._send(broker, UpdateMetadataRequest(self.broker_id, self.epoch, live, parts))

    def _send(self, broker: int, request: Any) -> None:
        """ControllerChannelManager: each live broker (each registration: its broker epoch) has
        a queue of requests and a RequestSendThread that sends them in order, one at a time,
        sending one again SEND_RETRY_BACKOFF_S after each failure (no answer within
        controller.socket.timeout.ms, a reset connection) until it is answered. The queue goes
        with the broker when it leaves the live set (removeBroker: it is told everything again
        when it comes back, onBrokerStartup) and with the controller's term (resign)."""
        epoch = self.broker_epochs.get(broker)
        if epoch is None:
            return  # not live: no channel to it
        key = (broker, epoch)
        queue = self._channels.get(key)
        if queue is not None:
            queue.append(request)
            return
        queue = self._channels[key] = deque([request])
        self.env.process(self._request_send_thread(key, queue))

    def _request_send_thread(
        self, key: tuple[int, int], queue: deque
    ) -> Generator[simpy.Event, Any, None]:
        """RequestSendThread.doWork for one broker until its queue is empty or gone."""
        target = f"broker-{key[0]}"
        net = self.broker.net
        while queue and self._channels.get(key) is queue:
            answer = yield net.request(self.broker.name, target, queue[0], self.request_timeout_s)
            if isinstance(answer, NetworkFailure):
                yield self.env.timeout(SEND_RETRY_BACKOFF_S)  # backoff(), then send it again
            else:
                queue.popleft()
        if self._channels.get(key) is queue:
            del self._channels[key]
