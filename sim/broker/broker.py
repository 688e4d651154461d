"""A Kafka broker (≈ KafkaServer with KafkaApis, Kafka 3.9 in ZooKeeper mode).

It answers the requests that arrive through the network — Produce, Fetch, ListOffsets,
OffsetsForLeaderEpoch and Metadata from clients and followers, LeaderAndIsr and UpdateMetadata
from the controller, AlterPartition and ControlledShutdown for the controller it may host,
FindCoordinator and the consumer-group requests for its :class:`GroupCoordinator` — and owns the
broker's :class:`ReplicaManager`, its ZooKeeper session, its :class:`Controller` and its group
coordinator (which loads the groups of the ``__consumer_offsets`` partitions the broker leads).

Request handling costs time on ``num.network.threads`` network threads and ``num.io.threads``
request handler threads, each a "busy until" time. As Kafka's socket server does, a connection
carries one request at a time in order: the next waits until the previous one's answer is sent,
so in-flight requests pipeline the network, not the broker. Clients, each replica fetcher, the
controller's channel and the channel to the controller are separate connections.

Life cycle: registered in ZooKeeper (ephemeral ``/brokers/ids/<id>``), it competes for
``/controller``; a crash stops its processes and resets its connections at once (peers see a
disconnect) while its ZooKeeper session lives on until it expires; a restart opens a new session
and re-registers; a controlled shutdown asks the controller to move its leaderships first.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Generator
from dataclasses import dataclass, field
from heapq import heapreplace
from typing import Any, ClassVar

import simpy

from sim.broker.controller import LOAD_S_PER_PARTITION, Controller, PartitionState
from sim.broker.group_coordinator import GroupCoordinator, Reply
from sim.broker.log_manager import LogManager
from sim.broker.partition import Partition
from sim.broker.replica_manager import ReplicaManager
from sim.coordination.zookeeper import (
    BROKER_IDS_PATH,
    BROKER_TOPICS_PATH,
    CONTROLLER_EPOCH_PATH,
    CONTROLLER_PATH,
    Check,
    Create,
    GetChildren,
    GetData,
    SetData,
    WatchEvent,
    ZkCode,
    ZooKeeperClient,
    broker_path,
    partition_state_path,
    topic_path,
)
from sim.cpu import Cpu
from sim.disk import Disk
from sim.events import EventKind
from sim.kafka_config import EffectiveConfig
from sim.metrics import Metrics
from sim.net import Network, NetworkFailure
from sim.protocol import (
    GROUP_METADATA_TOPIC,
    NO_LEADER,
    AlterPartitionRequest,
    AlterPartitionResponse,
    ConnectionClosed,
    ControlledShutdownRequest,
    ControlledShutdownResponse,
    ControllerResponse,
    Errors,
    FetchRequest,
    FindCoordinatorRequest,
    FindCoordinatorResponse,
    HeartbeatRequest,
    JoinGroupRequest,
    LeaderAndIsrPartition,
    LeaderAndIsrRequest,
    LeaveGroupRequest,
    ListOffsetsRequest,
    MetadataRequest,
    MetadataResponse,
    OffsetCommitRequest,
    OffsetFetchRequest,
    OffsetsForLeaderEpochRequest,
    PartitionMetadata,
    ProduceRequest,
    SyncGroupRequest,
    TopicPartition,
    UpdateMetadataRequest,
)
from sim.scenario import HardwareSpec
from sim.timers import call_later

#: Wait before a broker whose registration failed tries again (a supervisor's restart), s.
REGISTER_RETRY_S = 1.0
_HARDWARE = HardwareSpec()
#: CPU cost of a request on a network thread by default: fixed seconds + bytes / rate (bytes/s)
#: (``cluster.hardware.broker_network_request_us`` and ``broker_network_mb_s``).
NETWORK_REQUEST_S = _HARDWARE.broker_network_request_us * 1e-6
NETWORK_BYTES_S = _HARDWARE.broker_network_mb_s * 1e6
#: CPU cost on a request handler (io) thread by default: fixed seconds + bytes / rate
#: (validation, copy; ``broker_io_request_us`` and ``broker_io_mb_s``).
IO_REQUEST_S = _HARDWARE.broker_io_request_us * 1e-6
IO_BYTES_S = _HARDWARE.broker_io_mb_s * 1e6


class RequestHandlerPool:
    """``num.network.threads`` then ``num.io.threads`` servers, each a busy-until time (s), at
    ``hardware``'s CPU costs per request and per byte, their work run on the broker's ``cpu``
    (default: one of its own, without contention)."""

    def __init__(
        self,
        network_threads: int,
        io_threads: int,
        hardware: HardwareSpec = _HARDWARE,
        cpu: Cpu | None = None,
    ) -> None:
        self._network = [0.0] * network_threads
        self._io = [0.0] * io_threads
        self._cpu = cpu if cpu is not None else Cpu()
        self._network_request_s = hardware.broker_network_request_us * 1e-6
        self._network_bytes_s = hardware.broker_network_mb_s * 1e6
        self._io_request_s = hardware.broker_io_request_us * 1e-6
        self._io_bytes_s = hardware.broker_io_mb_s * 1e6

    def done_at(self, now: float, nbytes: int) -> float:
        """When a request of ``nbytes`` arriving ``now`` has been read and handled, s.

        In each pool the first free server (the heap's smallest busy-until time) takes it, as
        soon as it is free, and runs its work on the CPU (Cpu.run: later if no core is free):
        one heapreplace, not heappop + heappush (the heap holds the same busy-until times
        afterwards, so every later answer is the same). Both pools written out, max() inlined:
        this runs once per request."""
        run = self._cpu.run
        network = self._network
        free = network[0]
        read = run(
            now if now > free else free, self._network_request_s + nbytes / self._network_bytes_s
        )
        heapreplace(network, read)
        io = self._io
        free = io[0]
        done = run(read if read > free else free, self._io_request_s + nbytes / self._io_bytes_s)
        heapreplace(io, done)
        return done


@dataclass(slots=True, eq=False)
class _Connection:
    """One connection from ``peer`` to ``broker``. ``held``: a request awaits its answer (acks=all,
    parked fetch), so later requests wait in ``queue`` (the muted channel). ``free_at_s``: when
    the handler of the last answered request is done. ``respond`` and ``done_at_s``: the held
    request's way back and when its handlers are done with it (s). ``closed``: the connection
    is gone (the broker crashed, or the peer closed it and opened a new one); a late answer
    goes nowhere.

    The peer closes it when a request on it times out or the peer crashes (SocketServer's
    Processor sees the close and removes the channel, Processor.close): the requests not yet
    read from the muted channel are never handled, the held one still runs (its effects
    happen) but its answer is dropped (Processor.sendResponse: "Attempting to send response via
    channel for which there is no open connection"), and the peer's next request comes on a
    new connection, handled at once. The broker sees the close through the network's calls: a
    request not yet answered whose call is done (:attr:`sim.net._Call.done`).

    Its :meth:`reply` is the held request's reply, one bound method rather than a closure per
    request: a closure over the request's state cost about 1,000 more instructions to build."""

    broker: Broker
    peer: str
    held: bool = False
    free_at_s: float = 0.0
    queue: deque = field(default_factory=deque)
    respond: Callable | None = None
    done_at_s: float = 0.0
    closed: bool = False
    callbacks: tuple | None = None  # as an item on SimPy's queue (call_later): its unmuting
    _ok: ClassVar[bool] = True  # as an event on SimPy's queue: it succeeded

    def reply(self, response: Any, extra_s: float = 0.0) -> None:
        """Answer the held request with ``response`` (None: no answer, as for acks=0), leaving
        when the handlers are done with it or ``extra_s`` from now, whichever is later; then
        handle the requests queued behind it."""
        if self.closed:
            return  # the broker crashed since: the connection is gone
        broker = self.broker
        t = broker.env.now
        ready = t + extra_s
        done_at = self.done_at_s
        send_at = done_at if done_at > ready else ready  # max() written out: once per request
        respond, self.respond = self.respond, None
        if respond is not None and response is not None:
            respond(response, send_at - t)
        elif isinstance(response, ConnectionClosed):
            broker.net.send(broker.name, self.peer, response)  # the client sees the close
        self.free_at_s = send_at
        if self.queue:
            # The next request is handled in an event of its own at this time, not inside the
            # caller of this answer, which may be mid-way through a state change (the group
            # coordinator's store callback answers the SyncGroups, then moves the group to
            # Stable): Kafka hands it to a request handler only after this answer has left.
            # The channel stays muted until then.
            call_later(broker.env, 0.0, self, _UNMUTE)
        else:
            self.held = False

    def handle_queued(self) -> None:
        """Unmute the channel: handle the requests queued behind the answered one, until one
        must wait for its answer; those of a connection the peer closed are dropped unread."""
        if self.closed:
            return
        self.held = False
        queue = self.queue
        broker = self.broker
        while queue and not self.held:
            queued, queued_respond = queue.popleft()
            if queued_respond is None or not queued_respond.done:
                broker._handle(self, queued, queued_respond)

    def closed_by_peer(self) -> bool:
        """Whether the peer closed this held connection: its newest request not yet answered is
        done at the network (a close ends every request of the connection at once)."""
        for _, respond in reversed(self.queue):
            if respond is not None:
                return respond.done
        respond = self.respond
        return respond is not None and respond.done

    def close(self) -> None:
        """The connection is gone: drop what it queued; a late answer goes nowhere."""
        self.closed = True
        self.queue.clear()


#: the connection's unmuting, with the connection itself as the item on SimPy's queue
_UNMUTE = (_Connection.handle_queued,)


class Broker:
    """Broker ``broker_id`` (node ``broker-<id>``).

    config: effective broker properties. topic_configs: effective topic properties by topic.
    legacy_hw_truncation: pre-KIP-101 follower truncation (``cluster.legacy_hw_truncation``).
    """

    def __init__(
        self,
        env: simpy.Environment,
        broker_id: int,
        net: Network,
        disk: Disk,
        config: EffectiveConfig,
        topic_configs: dict[str, EffectiveConfig],
        metrics: Metrics,
        legacy_hw_truncation: bool = False,
        hardware: HardwareSpec = _HARDWARE,
    ) -> None:
        self.env = env
        self.broker_id = broker_id
        self.name = f"broker-{broker_id}"
        self.net = net
        self.disk = disk
        self.config = config
        self.metrics = metrics
        #: the metadata cache's alive brokers (set by UpdateMetadata; its partitions read it)
        self.live_brokers: set[int] = set()
        #: the machine's cores, shared by its request handlers and replica fetchers
        self.cpu = Cpu(hardware.cpu_cores)
        self.replicas = ReplicaManager(
            env, broker_id, net, disk, config, topic_configs, metrics,
            self._send_alter_partition, self.live_brokers, legacy_hw_truncation,
            self.cpu, hardware,
        )  # fmt: skip
        self.log_manager = LogManager(env, self.name, self.replicas, config, topic_configs, metrics)
        self.handlers = RequestHandlerPool(
            config["num.network.threads"], config["num.io.threads"], hardware, self.cpu
        )
        self.metadata: dict[TopicPartition, PartitionMetadata] = {}
        self.controller_id = -1
        self.controller_epoch = 0
        self.controller = Controller(self)
        self.group_coordinator = GroupCoordinator(env, self.name, self.replicas, config, metrics)
        self.zk = ZooKeeperClient(
            env, net, self.name, config.s("zookeeper.session.timeout.ms"),
            self._on_watch, self._on_session_expired,
        )  # fmt: skip
        self.running = False
        self.starts = 0  # how many times the process has started (each restart is a new one)
        #: succeeds when the process stops, while a controlled shutdown is under way (else None)
        self._stopping: simpy.Event | None = None
        self._told_since_start: set[TopicPartition] = set()  # partitions LeaderAndIsr set
        self._connections: dict[tuple[str, str], _Connection] = {}
        self._handlers = self._request_handlers()

    @property
    def partitions(self) -> dict[TopicPartition, Partition]:
        """This broker's replicas, by partition."""
        return self.replicas.partitions

    # ---------------------------------------------------------------- life cycle

    def start(self, session: tuple[int, float] | None = None) -> None:
        """Run: timers, fetchers, the ZooKeeper session (``session`` adopts one already open,
        for a run that starts with the cluster up; otherwise register anew, and accept
        connections only once registered: KafkaServer.startup calls registerBroker before
        SocketServer.enableRequestProcessing, and the acceptors open the server socket only
        when they start, "so that systems which assume that the socket being open indicates
        readiness are not confused")."""
        if session is None:
            self.net.listen(self.name, False)
        self.running = True
        self.starts += 1
        self._told_since_start.clear()
        self.replicas.start()
        self.log_manager.start()
        self.group_coordinator.startup()
        self.zk.start(session)
        if session is None:
            self.env.process(self._register())

    def crash(self, power_loss: bool = False) -> None:
        """The process dies (and with ``power_loss`` the machine: unwritten pages are lost).
        Connections reset at once; the ZooKeeper session expires later at the server."""
        self.running = False
        stopping, self._stopping = self._stopping, None
        if stopping is not None:
            stopping.succeed()
        self.net.crash(self.name)
        self.controller.resign()
        self.zk.stop()
        self.group_coordinator.shutdown()
        self.replicas.stop()
        self.log_manager.stop()
        for conn in self._connections.values():
            conn.close()
        self._connections = {}
        # the process's memory: a restarted broker knows no partition, live broker or
        # controller epoch until the controller tells it (MetadataCache, ReplicaManager start
        # empty)
        self.metadata = {}
        self.live_brokers.clear()
        self.controller_id = -1
        self.controller_epoch = 0
        if power_loss:
            self.replicas.power_loss()

    def restart(self) -> bool:
        """Start again after a crash: logs recovered, a new ZooKeeper session, registration;
        the controller then tells it its replicas (onBrokerStartup). Returns whether it
        started: a broker running already is left as it is, since a second process finds the
        log directories locked by the first and exits (LogManager.lockLogDirs: "Failed to
        acquire lock on file .lock")."""
        if self.running:
            return False
        self.net.restart(self.name)
        self.replicas.recover()
        self.start()
        return True

    def pause(self) -> None:
        """Stop the world (long GC, SIGSTOP): nothing is received, sent or run."""
        self.net.pause(self.name)
        self.replicas.paused = True
        self.log_manager.paused = True
        self.group_coordinator.pause()

    def resume(self) -> None:
        """Continue after a pause: the group coordinator's timers that fell due meanwhile act
        now, then the traffic held during the pause moves (``Network.resume``)."""
        self.replicas.paused = False
        self.log_manager.paused = False
        self.group_coordinator.resume()
        self.net.resume(self.name)

    def controlled_shutdown(self) -> Generator[simpy.Event, Any, None]:
        """KafkaServer.controlledShutdown: ask the controller to move this broker's leaderships
        (up to controlled.shutdown.max.retries times, controlled.shutdown.retry.backoff.ms
        apart), then close the ZooKeeper session and stop.

        A second shutdown while one is under way does nothing but wait for the process to stop
        (KafkaServer.shutdown runs once: ``isShuttingDown.compareAndSet(false, true)``; the one
        who sent the signal waits for the process to exit, as kafkatest's stop_node does); a
        crash meanwhile ends the shutdown with the process."""
        if self._stopping is not None:
            yield self._stopping
            return
        stopping = self._stopping = self.env.event()
        if self.config["controlled.shutdown.enable"]:
            yield from self._move_leaderships(stopping)
        if not stopping.triggered:
            yield from self.zk.close()
        if not stopping.triggered:
            self.crash()

    def _move_leaderships(self, stopping: simpy.Event) -> Generator[simpy.Event, Any, None]:
        """KafkaServer.doControlledShutdown's attempts: ControlledShutdown to the controller until
        it answers with no partition left, or controlled.shutdown.max.retries have failed
        (controlled.shutdown.retry.backoff.ms apart, none after the last), or the process
        crashed (``stopping``). Each attempt goes to the controller the metadata cache names if
        it is alive there, else to the one the last attempt used; with neither (no controller
        known yet) the attempt sends nothing and only waits its backoff."""
        retries = self.config["controlled.shutdown.max.retries"]
        target: int | None = None
        for attempt in range(retries):
            if stopping.triggered:
                return
            if self.controller_id >= 0 and self.controller_id in self.live_brokers:
                target = self.controller_id
            if target is not None:
                request = self.net.request(
                    self.name, f"broker-{target}", ControlledShutdownRequest(self.broker_id),
                    self.config.s("controller.socket.timeout.ms"),
                )  # fmt: skip
                yield request | stopping  # a crash meanwhile: no answer will come
                if stopping.triggered:
                    return
                answer = request.value
                done = isinstance(answer, ControlledShutdownResponse) and not answer.remaining
                if done and answer.error is Errors.NONE:
                    return
            if attempt < retries - 1:
                yield self.env.timeout(self.config.s("controlled.shutdown.retry.backoff.ms"))

    # ---------------------------------------------------------------- requests

    def on_request(self, request: Any, source: str, respond: Callable | None) -> None:
        """A request arrived from ``source``: handle it, or queue it behind one on the same
        connection that awaits its answer. If the peer closed that connection since (see
        :class:`_Connection`), the request came on a new one and is handled at once, unless it
        was sent on the closed one (never read). A ZooKeeper watch event goes to the ZooKeeper
        client.

        Its effects happen on arrival; its answer leaves when the network and request handler
        threads are done with it (RequestHandlerPool), or later when it must wait (acks=all, a
        parked fetch). Handling time is so one event serves a request, not two.
        """
        if isinstance(request, WatchEvent):
            self.zk.deliver(request)
            return
        key = (source, request.connection)  # which of the peer's connections it travels on
        conn = self._connections.get(key)
        if conn is None:
            conn = self._connections[key] = _Connection(self, source)
        elif conn.held:
            if respond is not None and respond.done:
                return  # sent before its client closed this muted connection: never read
            if not conn.closed_by_peer():
                conn.queue.append((request, respond))
                return
            conn.close()  # the client closed it: this request came on a new connection
            conn = self._connections[key] = _Connection(self, source)
        self._handle(conn, request, respond)

    def _handle(self, conn: _Connection, request: Any, respond: Callable | None) -> None:
        """KafkaApis.handle: hand the request to its handler, with ``conn.reply`` to answer."""
        now = self.env.now
        free_at = conn.free_at_s
        # max() written out: this runs once per request
        conn.done_at_s = self.handlers.done_at(
            now if now > free_at else free_at, request.size_bytes
        )
        conn.held = True
        conn.respond = respond
        handler = self._handlers.get(type(request))
        if handler is None:
            raise TypeError(f"{self.name}: no handler for {type(request).__name__}")
        handler(request, conn.reply)

    def _request_handlers(self) -> dict[type, Callable[[Any, Reply], None]]:
        """The handler of each request type, called with the request and its reply: one dict
        lookup per request rather than a chain of isinstance tests."""
        replicas, coordinator = self.replicas, self.group_coordinator

        def answer_with(handle: Callable[[Any], Any]) -> Callable[[Any, Reply], None]:
            return lambda request, reply: reply(handle(request))

        return {
            ProduceRequest: replicas.handle_produce,
            FetchRequest: replicas.handle_fetch,
            ListOffsetsRequest: answer_with(replicas.handle_list_offsets),
            OffsetsForLeaderEpochRequest: answer_with(replicas.handle_offsets_for_leader_epoch),
            MetadataRequest: answer_with(self._handle_metadata),
            LeaderAndIsrRequest: answer_with(self._handle_leader_and_isr),
            UpdateMetadataRequest: answer_with(self._handle_update_metadata),
            AlterPartitionRequest: self._handle_alter_partition,
            ControlledShutdownRequest: self._handle_controlled_shutdown,
            FindCoordinatorRequest: answer_with(self._handle_find_coordinator),
            JoinGroupRequest: coordinator.handle_join_group,
            SyncGroupRequest: coordinator.handle_sync_group,
            HeartbeatRequest: coordinator.handle_heartbeat,
            LeaveGroupRequest: coordinator.handle_leave_group,
            OffsetCommitRequest: coordinator.handle_offset_commit,
            OffsetFetchRequest: coordinator.handle_offset_fetch,
        }

    def _handle_alter_partition(self, request: AlterPartitionRequest, reply: Reply) -> None:
        """For the controller this broker may host."""
        if self.controller.active:
            self.controller.submit("alter_partition", (request, reply))
        else:
            reply(AlterPartitionResponse(Errors.NOT_CONTROLLER))

    def _handle_controlled_shutdown(self, request: ControlledShutdownRequest, reply: Reply) -> None:
        """For the controller this broker may host."""
        if self.controller.active:
            self.controller.submit("controlled_shutdown", (request.broker_id, reply))
        else:
            reply(ControlledShutdownResponse(Errors.NOT_CONTROLLER))

    def _handle_metadata(self, request: MetadataRequest) -> MetadataResponse:
        wanted = None if request.topics is None else set(request.topics)
        parts = {tp: m for tp, m in self.metadata.items() if wanted is None or tp[0] in wanted}
        return MetadataResponse(sorted(self.live_brokers), parts)

    def _handle_find_coordinator(self, request: FindCoordinatorRequest) -> FindCoordinatorResponse:
        """KafkaApis.getCoordinator: the live leader of the group's __consumer_offsets
        partition in this broker's metadata cache, else COORDINATOR_NOT_AVAILABLE."""
        partition = self.group_coordinator.manager.partition_for(request.key)
        meta = self.metadata.get((GROUP_METADATA_TOPIC, partition))
        if meta is None or meta.leader < 0 or meta.leader not in self.live_brokers:
            return FindCoordinatorResponse(Errors.COORDINATOR_NOT_AVAILABLE)
        return FindCoordinatorResponse(Errors.NONE, meta.leader)

    def _fenced(self, controller_id: int, epoch: int) -> bool:
        """A request from a controller older than the newest one seen is stale (zombie)."""
        if epoch < self.controller_epoch:
            return True
        self.controller_epoch = epoch
        self.controller_id = controller_id
        return False

    def _handle_leader_and_isr(self, request: LeaderAndIsrRequest) -> ControllerResponse:
        """KafkaApis.handleLeaderAndIsrRequest: lead or follow each partition (one without a
        leader: neither, and no leadership change for onLeadershipChange)."""
        if self._fenced(request.controller_id, request.controller_epoch):
            return ControllerResponse(Errors.STALE_CONTROLLER_EPOCH)
        errors = {}
        for tp, state in sorted(request.partitions.items()):
            applied = self.replicas.become_leader_or_follower(tp, state)
            errors[tp] = Errors.NONE if applied else Errors.FENCED_LEADER_EPOCH
            first = applied and tp not in self._told_since_start
            if first and self.starts > 1 and state.leader == self.broker_id:
                self._record_leading_after_restart(tp, state, request.controller_id)
            if applied:
                self._told_since_start.add(tp)
                self.metadata[tp] = PartitionMetadata(
                    state.leader, state.leader_epoch, list(state.replicas), list(state.isr)
                )
                if tp[0] == GROUP_METADATA_TOPIC and state.leader != NO_LEADER:
                    self.on_offsets_leadership(tp, state)
        self.replicas.shutdown_idle_fetchers()
        return ControllerResponse(Errors.NONE, errors)

    def _record_leading_after_restart(
        self, tp: TopicPartition, state: LeaderAndIsrPartition, controller_id: int
    ) -> None:
        """A restarted broker's first word about ``tp`` makes it the leader: clients can use the
        partition again. With an election the controller's leader_election row says so; without
        one (the partition kept this leader while it was down, e.g. across a controller
        failover) only this row does."""
        self.metrics.event(
            self.env.now,
            EventKind.LEADER_RESUMED,
            self.name,
            tp[0],
            tp[1],
            f"restarted, leads at epoch {state.leader_epoch} (LeaderAndIsr from broker-"
            f"{controller_id})",
            broker=self.broker_id,
            epoch=state.leader_epoch,
        )

    def on_offsets_leadership(self, tp: TopicPartition, state: LeaderAndIsrPartition) -> None:
        """KafkaApis.onLeadershipChange: lead an offsets partition -> load its groups (onElection);
        follow it -> unload them (onResignation)."""
        if state.leader == self.broker_id:
            self.group_coordinator.on_election(tp[1])
        else:
            self.group_coordinator.on_resignation(tp[1])

    def _handle_update_metadata(self, request: UpdateMetadataRequest) -> ControllerResponse:
        """KafkaApis.handleUpdateMetadataRequest: the metadata cache clients read."""
        if self._fenced(request.controller_id, request.controller_epoch):
            return ControllerResponse(Errors.STALE_CONTROLLER_EPOCH)
        self.metadata.update(request.partitions)
        self.live_brokers.clear()
        self.live_brokers.update(request.live_brokers)
        return ControllerResponse(Errors.NONE)

    # ---------------------------------------------------------------- to the controller

    def _send_alter_partition(self, partition: Partition, isr: list[int], done: Callable) -> None:
        """AlterPartitionManager: one partition's proposal to the controller; ``done`` gets the
        answer, or None when none came (the proposal may be retried)."""
        request = AlterPartitionRequest(
            self.broker_id,
            {partition.tp: (partition.leader_epoch, list(isr), partition.partition_epoch)},
        )
        event = self.net.request(
            self.name, f"broker-{self.controller_id}", request,
            self.config.s("controller.socket.timeout.ms"),
        )  # fmt: skip

        def answered(ev: simpy.Event) -> None:
            answer = ev.value
            ok = isinstance(answer, AlterPartitionResponse) and answer.error is Errors.NONE
            done(answer if ok else None)

        event.callbacks.append(answered)

    # ---------------------------------------------------------------- ZooKeeper

    def _register(self) -> Generator[simpy.Event, Any, None]:
        """KafkaZkClient.registerBroker, then compete for the controller.

        While the previous session's ``/brokers/ids/<id>`` lives on (a restart within the
        session timeout), Kafka's startup fails with NodeExists; the model retries every
        ``REGISTER_RETRY_S`` as a supervisor restarting the broker would, refusing connections
        meanwhile (:meth:`start`). Once registered it accepts them."""
        path = broker_path(self.broker_id)
        reported = False
        while self.running:
            result = yield from self.zk.create(path, {"host": self.name}, ephemeral=True)
            if result.ok:
                self.net.listen(self.name, True)
                yield from self._elect_controller()
                return
            if result.error is ZkCode.NODE_EXISTS and not reported:
                reported = True
                detail = f"{path} still held by the previous session; retrying"
                self.metrics.event(
                    self.env.now, EventKind.REGISTRATION_FAILED, self.name, detail=detail,
                    broker=self.broker_id,
                )  # fmt: skip
            yield self.env.timeout(REGISTER_RETRY_S)

    def watch_at_start(self) -> Generator[simpy.Event, Any, None]:
        """Arm the watches a running broker has: the controller on /brokers/ids, the others
        on /controller."""
        if self.controller.active:
            yield from self.zk.get_children(BROKER_IDS_PATH, watch=True)  # arms the watch
        else:
            exists = yield from self.zk.exists(CONTROLLER_PATH, watch=True)
            if exists.error is ZkCode.NO_NODE:
                yield from self._elect_controller()

    def _on_session_expired(self) -> None:
        """The session is gone (its ephemerals too): resign, register again (KafkaServer's
        session expiry handler)."""
        self.controller.resign()
        if self.running:
            self.env.process(self._register())

    def _on_watch(self, event: WatchEvent) -> None:
        if not self.running:
            return
        if event.path == CONTROLLER_PATH and event.kind == "deleted":
            self.env.process(self._elect_controller())
        elif event.path == BROKER_IDS_PATH:
            self.controller.submit("broker_change")  # BrokerChangeHandler: read when handled

    def _elect_controller(self) -> Generator[simpy.Event, Any, None]:
        """KafkaZkClient.registerControllerAndIncrementControllerEpoch: create /controller and
        bump /controller_epoch in one multi; whoever fails watches /controller instead."""
        epoch_node = yield from self.zk.get_data(CONTROLLER_EPOCH_PATH)
        if not epoch_node.ok:
            return
        epoch = epoch_node.data + 1
        result = yield from self.zk.multi(
            [
                Create(CONTROLLER_PATH, {"brokerid": self.broker_id}, ephemeral=True),
                SetData(CONTROLLER_EPOCH_PATH, epoch, epoch_node.version),
            ]
        )
        if not result.ok:
            exists = yield from self.zk.exists(CONTROLLER_PATH, watch=True)
            if exists.error is ZkCode.NO_NODE:
                self.env.process(self._elect_controller())  # it vanished meanwhile: try again
            return
        version = result.results[1].stat.version
        yield from self._controller_failover(epoch, version)

    def _controller_failover(self, epoch: int, version: int) -> Generator[simpy.Event, Any, None]:
        """KafkaController.onControllerFailover: read brokers and partition states (a cost per
        partition), then take over, unless the controller resigned meanwhile (crash, session
        expiry)."""
        self.controller.elected()
        live = (yield from self.read_brokers()) or {}
        tps = yield from self._read_partitions()
        answers = yield from self.zk.handle_requests(
            [GetData(partition_state_path(*tp), False) for tp in tps]
        )
        yield self.env.timeout(LOAD_S_PER_PARTITION * len(tps))
        states = {}
        for tp, answer in zip(tps, answers, strict=True):
            if answer.ok:
                data = answer.data
                states[tp] = PartitionState(
                    list(data["replicas"]), data["leader"], data["leader_epoch"],
                    list(data["isr"]), answer.version,
                )  # fmt: skip
        if self.controller.electing:
            self.controller.take_over(epoch, version, live, states)

    def _read_partitions(self) -> Generator[simpy.Event, Any, list[TopicPartition]]:
        """Every partition of the cluster, from ZooKeeper (initializeControllerContext: the
        topics under /brokers/topics, then each one's partitions, read pipelined)."""
        topics = yield from self.zk.get_children(BROKER_TOPICS_PATH)
        if not topics.ok:
            return []
        answers = yield from self.zk.handle_requests(
            [GetChildren(f"{topic_path(topic)}/partitions") for topic in topics.children]
        )
        return sorted(
            (topic, int(p))
            for topic, answer in zip(topics.children, answers, strict=True)
            if answer.ok
            for p in answer.children
        )

    def read_brokers(self) -> Generator[simpy.Event, Any, dict[int, int] | None]:
        """KafkaZkClient.getAllBrokerAndEpochsInCluster: the registered brokers, each with its
        epoch (the czxid of its /brokers/ids znode, read pipelined after the children), with a
        watch on /brokers/ids; None when the children cannot be read."""
        children = yield from self.zk.get_children(BROKER_IDS_PATH, watch=True)
        if not children.ok:
            return None
        ids = [int(c) for c in children.children]
        answers = yield from self.zk.handle_requests([GetData(broker_path(b)) for b in ids])
        return {b: answer.stat.czxid for b, answer in zip(ids, answers, strict=True) if answer.ok}

    def zk_write_partition_states(
        self, controller: Controller, changed: dict[TopicPartition, PartitionState]
    ) -> Generator[simpy.Event, Any, bool]:
        """Write partition states fenced by the controller epoch's znode version (a zombie
        controller's write fails). Returns whether it was written."""
        ops = [Check(CONTROLLER_EPOCH_PATH, controller.epoch_version)]
        ops += [SetData(partition_state_path(*tp), s.as_znode()) for tp, s in changed.items()]
        result = yield from self.zk.multi(ops)
        if isinstance(result, NetworkFailure):
            return False
        return result.error is ZkCode.OK

    def under_replicated(self) -> int:
        """Partitions this broker leads whose ISR is smaller than their replica set."""
        return self.replicas.under_replicated() if self.running else 0
