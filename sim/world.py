"""Builds one simulation from a Scenario and runs it: ``sim.run(scenario) -> Results``.

The world creates the SimPy environment, the named random streams, the network, each broker with
its disk, the topics (Kafka's replica placement; the first replica leads, at epoch 0), the
producer clients and the consumer groups, and a sampler of the time-series gauges.

Consumer groups use the group coordinator: every member subscribes to its group's topics and
the coordinator of the group (the leader of its ``__consumer_offsets`` partition) runs the
rebalances. ``__consumer_offsets`` exists from the start, placed as Kafka places any topic with
``offsets.topic.num.partitions`` partitions and ``offsets.topic.replication.factor`` replicas
(``cleanup.policy=compact``); only the partitions some group maps to are materialised, since the
others would hold nothing and only cost replication work. With fewer brokers than that
replication factor Kafka would refuse to create the topic (no group could ever find its
coordinator); the model uses as many replicas as there are brokers and says so in the warnings.
"""

from __future__ import annotations

import gc
import math
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import simpy

from sim import kafka_config, liveness
from sim.audit import audit
from sim.availability import (
    partition_pauses,
    produce_stalls,
    rebalance_metrics,
    unavailability_windows,
)
from sim.broker.broker import Broker
from sim.broker.controller import PartitionState
from sim.broker.group_metadata import GroupState
from sim.broker.group_metadata_manager import partition_for
from sim.broker.placement import assign_replicas
from sim.clients.consumer import KafkaConsumer
from sim.clients.kafka_avro_deserializer import KafkaAvroDeserializer
from sim.clients.kafka_avro_serializer import KafkaAvroSerializer
from sim.clients.producer.kafka_producer import KafkaProducer
from sim.clients.producer.record_accumulator import largest_batch_bytes
from sim.coordination.zookeeper import (
    BROKER_IDS_PATH,
    CONTROLLER_EPOCH_PATH,
    CONTROLLER_PATH,
    ZooKeeper,
    broker_path,
    partition_state_path,
)
from sim.cpu import Cpu
from sim.disk import Disk
from sim.events import EventKind
from sim.faults import SIMULATED_FAULTS, FaultInjector
from sim.invariants import InvariantChecker, enabled_by_environment
from sim.metrics import Metrics, events_frame
from sim.net import Network, Wan
from sim.protocol import (
    GROUP_METADATA_TOPIC,
    NO_LEADER,
    RECORD_OVERHEAD_BYTES,
    TopicPartition,
)
from sim.results import Results
from sim.rng import RandomStreams
from sim.scenario import (
    MULTI_CLUSTER_FAULTS,
    SCHEMA_REGISTRY_NODE,
    Capabilities,
    ClusterSpec,
    HardwareSpec,
    Scenario,
    require_simulated,
)
from sim.schemas import SchemaRegistry, topic_name_strategy
from sim.timers import Environment
from sim.workload import Workload, default_key_bytes, encoded_value_bytes

#: What this engine simulates (the rest of a scenario is refused before running).
CAPABILITIES = Capabilities(
    fault_kinds=SIMULATED_FAULTS | frozenset(MULTI_CLUSTER_FAULTS),
    schema_registry=True,
    multi_cluster=True,
)
#: Summary fields this engine measures (the others are NaN in Results.summary()).
MEASURED = (
    "offered_messages",
    "produced_messages",
    "acked_messages",
    "failed_messages",
    "pending_messages",
    "consumed_messages",
    "undeserializable_messages",
    "unconsumed_messages",
    "lost_acked_messages",
    "duplicate_deliveries",
    "out_of_order",
    "produce_latency_p50_ms",
    "produce_latency_p99_ms",
    "e2e_latency_p99_ms",
    "throughput_msgs_s",
    "max_consumer_lag",
    "leader_elections",
    "unclean_elections",
    "unavailable_partition_s",
    "rebalances",
    "rebalance_time_s",
    "max_partition_pause_s",
    "max_produce_stall_s",
    "e2e_latency_p50_ms",
    "recovery_s",
    "liveness_violations",
)
#: The controller epoch of the cluster as the run starts (broker 0 is the controller).
INITIAL_CONTROLLER_EPOCH = 1
PRODUCER_ID_BASE = 1000


def run(
    scenario: Scenario, *, progress: bool = False, check_invariants: bool | None = None
) -> Results:
    """Simulate ``scenario`` and return its Results (raises NotSimulatedError up front for any
    part of the scenario this engine does not model yet). check_invariants: assert the model's
    invariants while running (default: the KAFKASIM_CHECK_INVARIANTS environment variable)."""
    require_simulated(scenario, CAPABILITIES)
    if scenario.clusters is not None:
        from sim.multi_cluster import MultiClusterWorld

        world = MultiClusterWorld(scenario, check_invariants=check_invariants)
    else:
        world = World(scenario, check_invariants=check_invariants)
    world.run(progress=progress)
    return world.results()


def _hardware(spec: HardwareSpec, broker: int) -> HardwareSpec:
    """The cluster's hardware with broker ``broker``'s overrides applied."""
    override = spec.per_broker.get(str(broker))
    if override is None:
        return spec
    changes = {k: v for k, v in override.model_dump().items() if v is not None}
    return spec.model_copy(update=changes)


#: The counters of a node added during the interval (a consumer joining): all from zero.
_NEW_NODE = (0, 0, 0, 0, 0.0, 0.0, 0.0, 0, 0.0, None)
#: The CPU counters of a node whose CPU is not modelled: CPU seconds, cores.
_NO_CPU = (math.nan, None)


class World:
    """One simulation: every node, wired through one network.

    The run starts with the cluster already up: ZooKeeper holds each broker's session and
    registration, broker 0 is the controller (epoch 1), and every partition is led by its
    preferred replica at leader epoch 0 with all replicas in sync.
    """

    def __init__(
        self,
        scenario: Scenario,
        check_invariants: bool | None = None,
        *,
        env: Environment | None = None,
        streams: RandomStreams | None = None,
        wan: Wan | None = None,
        new_batch_id: Callable[[], int] | None = None,
    ) -> None:
        """One cluster's simulation; alone by default. As one cluster of several
        (:mod:`sim.multi_cluster`): their shared ``env``, its own ``streams``, the ``wan``
        between their sites (this one is ``cluster.name``) and their run-unique batch ids."""
        self.scenario = scenario
        self._started = False
        self.env = Environment() if env is None else env
        self.streams = RandomStreams(scenario.seed) if streams is None else streams
        cluster: ClusterSpec = scenario.cluster
        self.hardware = cluster.hardware
        self.net = Network(
            self.env, self.streams.stream("network"), cluster.hardware.rtt_ms / 1000.0,
            site=None if wan is None else cluster.name, wan=wan,
        )  # fmt: skip
        self.metrics = Metrics(interval_s=max(scenario.duration_s / 240.0, 0.25))
        if new_batch_id is not None:
            self.metrics.new_batch_id = new_batch_id
        self.broker_config = kafka_config.broker_config(cluster.config)
        self.warnings: list[str] = list(scenario.warnings())
        self.zookeeper = self._make_zookeeper()
        self.brokers = [self._make_broker(b) for b in range(cluster.brokers)]
        self.registry = self._make_registry()
        self.assignments: dict[TopicPartition, list[int]] = {}
        for topic in scenario.topics:
            self._create_topic(topic.name, topic.partitions, topic.replication_factor)
        self._create_offsets_topic()
        self.producers: list[KafkaProducer] = []
        #: producers another component drives (MirrorMaker's tasks), whose recovery this
        #: world's scenario gives no bound for: left out of the liveness table
        self.unbounded_producers: set[str] = set()
        #: consumer groups moved to another cluster (a failover): nothing left here to recover
        self.departed_groups: set[str] = set()
        for spec in scenario.producers:
            self.add_producer(spec)
        self.consumers: list[tuple[KafkaConsumer, float]] = []
        self._group_sizes: dict[str, int] = {}
        for group in scenario.consumer_groups:
            self.add_consumers(group, group.members, group.start_s)
        self.faults = FaultInjector(self)
        if check_invariants is None:
            check_invariants = enabled_by_environment()
        self.checker = InvariantChecker(self) if check_invariants else None
        self._warn_unused()

    # ---------------------------------------------------------------- building

    def _nic_bytes_s(self, hw: HardwareSpec) -> float:
        return hw.network_gbps * 1e9 / 8

    def _make_registry(self) -> SchemaRegistry | None:
        """The scenario's schema registry as a node on the network (the brokers' hardware), or
        None."""
        spec = self.scenario.schema_registry
        if spec is None:
            return None
        registry = SchemaRegistry(SCHEMA_REGISTRY_NODE, spec.compatibility)
        self.net.add_node(registry, self._nic_bytes_s(self.hardware))
        return registry

    def _serializer(self, spec, name: str) -> KafkaAvroSerializer | None:
        """Producer client ``name``'s Avro serializer when a registry is in use, else None."""
        registry = self.scenario.schema_registry
        if registry is None or spec.format.kind != "avro":
            return None
        return KafkaAvroSerializer(
            self.env, self.net, name, SCHEMA_REGISTRY_NODE, topic_name_strategy(spec.topic),
            spec.format.schema_, registry.client_timeout_ms / 1000.0, self.metrics,
        )  # fmt: skip

    def _make_zookeeper(self) -> ZooKeeper:
        """The ensemble, ticking often enough for the brokers' session timeout (ZooKeeper's
        default tickTime is 3 s; sessions range over 2 to 20 ticks)."""
        timeout_s = self.broker_config.s("zookeeper.session.timeout.ms")
        zk = ZooKeeper(self.env, self.net, tick_s=min(3.0, timeout_s / 3))
        self.net.add_node(zk, self._nic_bytes_s(self.hardware))
        zk.restore_znode(BROKER_IDS_PATH, None)
        zk.restore_znode(CONTROLLER_EPOCH_PATH, INITIAL_CONTROLLER_EPOCH)
        return zk

    def _make_broker(self, broker_id: int) -> Broker:
        hw = _hardware(self.hardware, broker_id)
        disk = Disk(
            self.env,
            write_bytes_s=hw.disk_write_mb_s * 1e6,
            read_bytes_s=hw.disk_read_mb_s * 1e6,
            page_cache_bytes=hw.page_cache_mb * 1e6,
            dirty_expire_s=hw.dirty_expire_s,
            writeback_interval_s=hw.dirty_writeback_interval_s,
        )
        topic_configs = {
            t.name: kafka_config.topic_config(t.config, self.broker_config)
            for t in self.scenario.topics
        }
        topic_configs[GROUP_METADATA_TOPIC] = kafka_config.topic_config(
            {"cleanup.policy": ["compact"]}, self.broker_config
        )  # GroupMetadataManager.offsetsTopicConfigs
        broker = Broker(
            self.env, broker_id, self.net, disk, self.broker_config, topic_configs, self.metrics,
            legacy_hw_truncation=self.scenario.cluster.legacy_hw_truncation, hardware=hw,
        )  # fmt: skip
        broker.live_brokers.update(range(self.scenario.cluster.brokers))
        broker.controller_id = 0
        broker.controller_epoch = INITIAL_CONTROLLER_EPOCH
        for topic in self.scenario.topics:
            cfg = topic_configs[topic.name]
            broker.controller.unclean_allowed[topic.name] = bool(
                cfg["unclean.leader.election.enable"]
            )
        self.net.add_node(broker, self._nic_bytes_s(hw))
        return broker

    def _create_topic(
        self, name: str, partitions: int, rf: int, only: set[int] | None = None
    ) -> None:
        """Kafka's replica placement (random start index, as the admin path); replica 0 leads.
        only: the partitions to materialise (all when None)."""
        racks = self.scenario.cluster.racks
        rack_map = dict(enumerate(racks)) if racks else None
        placement = assign_replicas(
            list(range(len(self.brokers))),
            partitions,
            rf,
            start_index=None,
            racks=rack_map,
            rng=self.streams.stream("placement", name),
        )
        for p, replicas in sorted(placement.items()):
            if only is not None and p not in only:
                continue
            tp = (name, p)
            self.assignments[tp] = replicas
            state = PartitionState(list(replicas), replicas[0], 0, sorted(replicas), 0)
            self.zookeeper.restore_znode(partition_state_path(name, p), state.as_znode())
            metadata = state.as_metadata()  # one object for all: a cache replaces, never edits
            for broker in self.brokers:
                broker.metadata[tp] = metadata
            request = state.as_request()
            for b in replicas:
                self.brokers[b].replicas.create_replica(tp, replicas)
                self.brokers[b].replicas.become_leader_or_follower(tp, request)

    def _create_offsets_topic(self) -> None:
        """``__consumer_offsets`` (see the module docstring); each partition's leader loads it."""
        if not self.scenario.consumer_groups:
            return
        count = self.broker_config["offsets.topic.num.partitions"]
        rf = self.broker_config["offsets.topic.replication.factor"]
        if rf > len(self.brokers):
            self.warnings.append(
                f"offsets.topic.replication.factor {rf} > {len(self.brokers)} brokers: Kafka "
                f"would not create {GROUP_METADATA_TOPIC}; the model uses {len(self.brokers)}"
            )
            rf = len(self.brokers)
        used = {partition_for(g.group_id, count) for g in self.scenario.consumer_groups}
        self._create_topic(GROUP_METADATA_TOPIC, count, rf, only=used)
        for p in sorted(used):
            leader = self.assignments[(GROUP_METADATA_TOPIC, p)][0]
            self.brokers[leader].group_coordinator.on_election(p)

    def controller_id(self) -> int:
        """The broker whose controller is active now (-1 if none)."""
        for broker in self.brokers:
            if broker.controller.active:
                return broker.broker_id
        return -1

    def leader_of(self, tp: TopicPartition) -> int:
        """The partition's leader now, as the active controller (or ZooKeeper) knows it."""
        controller = self.controller_id()
        if controller >= 0:
            return self.brokers[controller].controller.states[tp].leader
        return self.zookeeper.znodes[partition_state_path(*tp)].data["leader"]

    def add_producer(self, spec) -> list[KafkaProducer]:
        """Build ``spec``'s producer clients (started by ``run`` or by the add_producer fault)."""
        config, _ = kafka_config.producer_config(spec.config)
        self._warn_batches_over_limit(spec.name, spec.topic, config)
        value_bytes = encoded_value_bytes(spec, self.scenario.schema_registry is not None)
        partitions = self.scenario.topic(spec.topic).partitions
        bootstrap = [b.name for b in self.brokers]
        made = []
        for i in range(spec.count):
            name = f"{spec.name}-{i}"
            workload = Workload(
                spec,
                self.streams.stream("workload", name),
                value_bytes,
                self._send_s(spec, config, value_bytes),
            )
            producer = KafkaProducer(
                self.env, name, spec, self.net, config, self.metrics,
                self.streams.stream("producer", name), workload,
                PRODUCER_ID_BASE + len(self.producers), partitions, bootstrap,
            )  # fmt: skip
            self._sender_cpu(producer)
            serializer = self._serializer(spec, name)
            if serializer is not None:
                producer.use_serializer(serializer)
            self.net.add_node(producer, self._nic_bytes_s(self.hardware))
            self.producers.append(producer)
            made.append(producer)
        return made

    def _send_s(self, spec, config, value_bytes: int) -> float:
        """CPU time of a producer's application thread per send() of a record of
        ``value_bytes``, s: the hardware's per-record time, and the compression of the record's
        bytes (value, key and record overhead) with its ``compression.type``."""
        hardware = self.hardware
        send_s = hardware.producer_send_us * 1e-6
        codec = config["compression.type"]
        if codec != "none":
            key_bytes = spec.key_bytes if spec.key_bytes is not None else default_key_bytes(spec)
            record_bytes = value_bytes + key_bytes + RECORD_OVERHEAD_BYTES
            send_s += record_bytes / (getattr(hardware.producer_compress_mb_s, codec) * 1e6)
        return send_s

    def _sender_cpu(self, producer: KafkaProducer) -> None:
        """The producer's sender thread pays the hardware's per-request and checksum times."""
        hardware = self.hardware
        producer.sender.request_cpu_s = hardware.producer_request_us * 1e-6
        producer.sender.byte_cpu_s = 1.0 / (hardware.producer_checksum_mb_s * 1e6)
        producer.sender.cpu = Cpu(hardware.cpu_cores)

    def _warn_batches_over_limit(self, name: str, topic: str, config) -> None:
        """Producer ``name``'s batches can be larger than ``topic``'s max.message.bytes: the
        broker refuses them and Kafka 3.9 splits them at batch.size, which leaves them as large,
        until delivery.timeout.ms (KAFKA-8350; see RecordAccumulator.split_and_reenqueue)."""
        topic_config = kafka_config.topic_config(
            self.scenario.topic(topic).config, self.broker_config
        )
        limit = topic_config["max.message.bytes"]
        largest = largest_batch_bytes(config["batch.size"], config["compression.type"])
        if largest > limit:
            self.warnings.append(
                f"producer {name}: batches of several records reach {largest} bytes on the wire "
                f"(batch.size of records, compressed, and the header), over topic {topic}'s "
                f"max.message.bytes {limit}: the broker refuses them (MESSAGE_TOO_LARGE) and "
                "Kafka 3.9's producer splits them at batch.size, which leaves them as large, "
                "until delivery.timeout.ms (KAFKA-8350); lower batch.size"
            )

    def add_consumers(self, group, count: int, start_s: float) -> list[KafkaConsumer]:
        """``count`` new members of ``group`` (a ConsumerGroupSpec), named ``<group_id>-<i>``
        with the next indices, subscribed to its topics, starting at ``start_s`` (s); started
        now if the run has started. Static groups give each ``group.instance.id`` = its name."""
        first = self._group_sizes.get(group.group_id, 0)
        self._group_sizes[group.group_id] = first + count
        made = []
        for i in range(first, first + count):
            name = f"{group.group_id}-{i}"
            consumer = self._new_consumer(group, name)
            self.net.add_node(consumer, self._nic_bytes_s(self.hardware))
            self.consumers.append((consumer, start_s))
            if self._started:
                consumer.start(start_s)
            made.append(consumer)
        return made

    def _new_consumer(self, group, name: str) -> KafkaConsumer:
        """A consumer process for member ``name`` of ``group``, subscribed, not started."""
        properties = group.kafka_config()
        if group.static:
            properties["group.instance.id"] = name
        config, _ = kafka_config.consumer_config(properties)
        bootstrap = [b.name for b in self.brokers]
        consumer = KafkaConsumer(
            self.env, name, group.group_id, self.net, config, group.processing_ms / 1000.0,
            self.metrics, bootstrap,
        )  # fmt: skip
        registry = self.scenario.schema_registry
        if registry is not None:
            consumer.deserializer = KafkaAvroDeserializer(
                self.env, self.net, name, SCHEMA_REGISTRY_NODE, group.reader_schema,
                registry.client_timeout_ms / 1000.0, group.deserialize_us / 1e6,
            )  # fmt: skip
        consumer.subscribe(list(group.topics))
        return consumer

    def restart_consumer(self, name: str) -> KafkaConsumer:
        """A crashed member's process starts again now: same name (and group.instance.id),
        fresh state, fresh connections."""
        index = next(i for i, (c, _) in enumerate(self.consumers) if c.name == name)
        group_id = self.consumers[index][0].group_id
        group = next(g for g in self.scenario.consumer_groups if g.group_id == group_id)
        consumer = self._new_consumer(group, name)
        self.net.replace_node(consumer)
        self.net.restart(name)
        self.consumers[index] = (consumer, self.env.now)
        consumer.start(self.env.now)
        return consumer

    def _warn_unused(self) -> None:
        """Real Kafka properties given that the model does not use: reported once per run."""
        scopes: list[tuple[str, dict]] = [("broker", self.scenario.cluster.config)]
        scopes += [("topic", t.config) for t in self.scenario.topics]
        scopes += [("producer", p.config) for p in self.scenario.producers]
        scopes += [("consumer", g.config) for g in self.scenario.consumer_groups]
        unused = sorted(
            {name for scope, cfg in scopes for name in kafka_config.unused_given(cfg, scope)}
        )
        if unused:
            self.warnings.append(f"accepted with no effect in the model: {', '.join(unused)}")

    # ---------------------------------------------------------------- running

    def run(self, progress: bool = False) -> None:
        """Start (if not started) and run to the scenario's end."""
        self.start()
        self._run_until(self.scenario.duration_s, progress)
        if self.checker is not None:
            self.checker.check()

    def start(self) -> None:
        """Start every node, the fault schedule, the sampler (and the invariant checker).

        For a script that injects faults mid-run: ``world.start(); world.advance(30);
        world.faults.crash_broker("controller"); world.run(); world.results()``.
        """
        if self._started:
            return
        self._started = True
        self._start_cluster()
        for producer in self.producers:
            producer.start()
        for consumer, start_s in self.consumers:
            consumer.start(start_s)
        self.faults.schedule(self.scenario.faults)
        self.env.process(self._sample())
        if self.checker is not None:
            self.checker.start()

    def advance(self, until_s: float) -> None:
        """Run the started simulation up to ``until_s`` simulated seconds."""
        self.start()
        with fewer_gc_passes():
            self.env.run(until=min(until_s, self.scenario.duration_s))

    def _start_cluster(self) -> None:
        """Sessions as if open already, registrations, the controller and its watches."""
        zk = self.zookeeper
        timeout_s = self.broker_config.s("zookeeper.session.timeout.ms")
        controller = self.brokers[0]
        for broker in self.brokers:
            session = zk.restore_session(broker.name, timeout_s)
            zk.restore_znode(broker_path(broker.broker_id), {"host": broker.name}, session)
            if broker is controller:
                zk.restore_znode(CONTROLLER_PATH, {"brokerid": 0}, session)
            broker.disk.start()
            broker.start(session=(session, zk.sessions[session].timeout_s))
        states = {
            tp: PartitionState(list(r), r[0], 0, sorted(r), 0) for tp, r in self.assignments.items()
        }
        # each broker's epoch: the czxid of its registration (KafkaZkClient.registerBroker)
        live = {b.broker_id: zk.znodes[broker_path(b.broker_id)].czxid for b in self.brokers}
        controller.controller.adopt(INITIAL_CONTROLLER_EPOCH, 0, live, states)
        for broker in self.brokers:
            self.env.process(broker.watch_at_start())

    def _run_until(self, end_s: float, progress: bool) -> None:
        run_until(self.env, self.scenario.name, end_s, progress)

    def _sample(self):
        """Every interval: the largest consumer lag, the under-replicated partitions, and each
        node's NIC and disk (TABLES["nodes"])."""
        interval = self.metrics.interval_s
        disks = {b.name: b.disk for b in self.brokers}
        before = self._node_counters(disks)
        while True:
            yield self.env.timeout(interval)
            lag = self._max_consumer_lag()
            self.metrics.sample(self.env.now, lag, self.under_replicated_partitions())
            before = self._sample_nodes(before, disks, interval)

    def _node_counters(self, disks: dict[str, Disk]) -> dict[str, tuple]:
        """Each node's NIC counters (Network.nic_counters); for a broker (``disks``: each
        broker's by name), bytes appended to its disk so far (Disk.position), else -1; CPU
        seconds used so far and cores (:meth:`_cpus`), NaN and None for nodes without."""
        cpus = self._cpus()
        return {
            c[0]: (
                *c[1:],
                disks[c[0]].position() if c[0] in disks else -1,
                *cpus.get(c[0], _NO_CPU),
            )
            for c in self.net.nic_counters()
        }

    def _cpus(self) -> dict[str, tuple[float, int | None]]:
        """The nodes whose CPU is modelled, brokers and producer clients (not a mirror's
        tasks, which pay no CPU time): CPU seconds used so far, and cores (None: no
        contention)."""
        now = self.env.now
        cpus = {b.name: (b.cpu.busy_s, b.cpu.cores) for b in self.brokers}
        for p in self.producers:
            if isinstance(p, KafkaProducer):
                cpus[p.name] = (p.cpu_busy_s(now), p.sender.cpu.cores)
        return cpus

    def _sample_nodes(
        self, before: dict[str, tuple], disks: dict[str, Disk], interval_s: float
    ) -> dict[str, tuple]:
        """Append one row per node for the interval ending now; returns the counters now."""
        now = self.env.now
        after = self._node_counters(disks)
        for name, counters in after.items():
            out, into, wire_out, wire_in, out_free, in_free, nic, appended, cpu_s, cores = counters
            out0, in0, wire_out0, wire_in0, _, _, _, appended0, cpu0_s, _ = before.get(
                name, _NEW_NODE
            )  # a node added later
            out_b, in_b = (out - out0) / interval_s, (into - in0) / interval_s
            wire_out_b = (wire_out - wire_out0) / interval_s
            wire_in_b = (wire_in - wire_in0) / interval_s
            disk = disks.get(name)
            append_mb = (appended - appended0) / interval_s / 1e6 if disk else math.nan
            dirty_mb = disk.dirty_bytes / 1e6 if disk else math.nan
            cpu_busy = (cpu_s - cpu0_s) / interval_s  # NaN without a modelled CPU
            self.metrics.nodes.append_row(
                (now, name, out_b / 1e6, in_b / 1e6, wire_out_b / nic, wire_in_b / nic,
                 max(0.0, out_free - now) * 1e3, max(0.0, in_free - now) * 1e3,
                 append_mb, dirty_mb, cpu_busy, cpu_busy / cores if cores else math.nan)
            )  # fmt: skip
        return after

    def under_replicated_partitions(self) -> int:
        """The partitions whose leader's ISR is smaller than their replica set: the sum of every
        running broker's UnderReplicatedPartitions metric (ReplicaManager)."""
        return sum(b.under_replicated() for b in self.brokers)

    def _max_consumer_lag(self) -> int:
        """The largest lag of any consumer on any partition: the leader's high watermark now
        minus the consumer's position (records not yet returned by poll())."""
        worst = 0
        for consumer, _ in self.consumers:
            for tp, position in consumer.positions.items():
                leader = self.leader_of(tp)
                if leader >= 0 and self.brokers[leader].running:
                    hw = self.brokers[leader].partitions[tp].log.high_watermark
                    worst = max(worst, hw - position)
        return worst

    # ---------------------------------------------------------------- results

    def _final_replicas(self) -> list[tuple[TopicPartition, int]]:
        """The replica whose log is the final log of each partition of the scenario's topics
        (not the internal ``__consumer_offsets``, whose batches no producer sent): its leader,
        or when it has none, the replica the controller waits for (the last in the ISR)."""
        out = []
        for tp in sorted(self.assignments):
            if tp[0] == GROUP_METADATA_TOPIC:
                continue
            state = self.brokers[self._any_controller()].controller.states[tp]
            out.append((tp, state.leader if state.leader != NO_LEADER else state.isr[-1]))
        return out

    def final_log_offsets(self) -> list[tuple]:
        """Rows of TABLES["log_offsets"]: each final log's broker, log start offset (what
        retention deleted lies below it), high watermark and log end offset."""
        rows = []
        for tp, holder in self._final_replicas():
            log = self.brokers[holder].partitions[tp].log
            rows.append(
                (tp[0], tp[1], holder, log.log_start_offset, log.high_watermark,
                 log.log_end_offset)
            )  # fmt: skip
        return rows

    def final_log(self) -> list[tuple]:
        """Rows of the final log of every partition (see :meth:`_final_replicas`), from its log
        start offset."""
        rows = []
        for tp, holder in self._final_replicas():
            log = self.brokers[holder].partitions[tp].log
            for entry in log.retained_entries():
                batch = entry.batch
                rows.append(
                    (
                        tp[0],
                        tp[1],
                        entry.base_offset,
                        batch.count,
                        batch.batch_id,
                        entry.leader_epoch,
                        batch.producer_epoch,
                        batch.base_sequence,
                    )
                )
        return rows

    def _any_controller(self) -> int:
        """The active controller, else the broker with the newest controller state."""
        active = self.controller_id()
        if active >= 0:
            return active
        return max(self.brokers, key=lambda b: b.controller.epoch).broker_id

    def results(self) -> Results:
        """The run's tables, audit and summary."""
        import pandas as pd

        from sim.results import TABLES, producers_table

        metrics = self.metrics
        tables = {
            "produced": metrics.produced.frame(),
            "acked": metrics.acked.frame(),
            "consumed": metrics.consumed.frame(),
            "deserialization_errors": metrics.deserialization_errors.frame(),
            "events": metrics.events.frame(),
            "assignments": metrics.assignments.frame(),
            "nodes": metrics.nodes.frame(),
            "log": pd.DataFrame(self.final_log(), columns=[c.name for c in TABLES["log"]]),
            "log_offsets": pd.DataFrame(
                self.final_log_offsets(), columns=[c.name for c in TABLES["log_offsets"]]
            ),
        }
        tables["timeseries"] = metrics.timeseries(
            self.scenario.duration_s, tables["produced"], tables["acked"], tables["consumed"]
        )
        tables["events"] = self._with_unavailability(tables["events"])
        tables["pauses"] = partition_pauses(
            tables["produced"], tables["acked"], tables["consumed"], self.scenario.duration_s
        )
        tables["produce_stalls"] = produce_stalls(
            tables["produced"], tables["acked"], self.scenario.duration_s
        )
        accounts = [(p.name, *p.account(self.env.now)) for p in self.producers]
        tables["producers"], tables["failures"] = producers_table(
            accounts, tables["produced"], tables["acked"]
        )
        partitions = len(self.assignments)
        tables["liveness"], notes = liveness.check(
            self.scenario, tables, partitions, self.coordinators_at_end()
        )
        elsewhere = {f"producer {name}" for name in self.unbounded_producers}
        elsewhere |= {f"{item} {g}" for g in self.departed_groups for item in ("group", "lag")}
        if elsewhere:
            items = tables["liveness"]["item"]
            tables["liveness"] = tables["liveness"][~items.isin(elsewhere)].reset_index(drop=True)
        results = Results(self.scenario, tables, {}, MEASURED, self.warnings + notes)
        subscriptions = {g.group_id: g.topics for g in self.scenario.consumer_groups}
        results.metrics.update(audit(results.tables, subscriptions).as_metrics())
        heal_s, _ = liveness.heal_time(results.tables["events"])
        faults = bool(self.scenario.faults) or heal_s > 0
        results.metrics.update(liveness.summary(results.tables["liveness"], heal_s, faults))
        results.metrics.update(self._control_plane_metrics(results.tables["events"]))
        results.metrics.update(
            rebalance_metrics(results.tables["events"], self.scenario.duration_s)
        )
        return results

    def coordinators_at_end(self) -> dict[str, str | None]:
        """Each consumer group's coordinator when the run ends (the node leading its
        ``__consumer_offsets`` partition, running and holding the group Stable), else None."""
        count = self.broker_config["offsets.topic.num.partitions"]
        found: dict[str, str | None] = {}
        for group in self.scenario.consumer_groups:
            leader = self.leader_of((GROUP_METADATA_TOPIC, partition_for(group.group_id, count)))
            broker = self.brokers[leader] if leader >= 0 else None
            state = None
            if broker is not None and broker.running:
                manager = broker.group_coordinator.manager
                if manager.is_local(group.group_id):
                    state = manager.groups.get(group.group_id)
            stable = state is not None and state.is_state(GroupState.STABLE)
            found[group.group_id] = broker.name if stable else None
        return found

    def initial_leaders(self) -> dict[TopicPartition, int]:
        """Each partition's leader as the run starts: its preferred (first) replica."""
        return {tp: replicas[0] for tp, replicas in self.assignments.items()}

    def _control_plane_metrics(self, events) -> dict[str, float]:
        """Elections, unclean elections, and partition-seconds without a usable leader."""
        kinds = events["kind"]
        unavailable = events.loc[kinds == EventKind.PARTITION_UNAVAILABLE, "duration_s"]
        return {
            "leader_elections": float((kinds == EventKind.LEADER_ELECTION).sum()),
            "unclean_elections": float((kinds == EventKind.UNCLEAN_LEADER_ELECTION).sum()),
            "unavailable_partition_s": float(unavailable.sum()),
        }

    def _with_unavailability(self, events):
        """The events with one ``partition_unavailable`` row per window without a usable
        leader (at its start, with its length in ``duration_s`` and the leader that went away
        in ``broker``), in time order."""
        import pandas as pd

        windows = unavailability_windows(events, self.initial_leaders(), self.scenario.duration_s)
        if not windows:
            return events
        extra = events_frame(
            {
                "time_s": start,
                "kind": EventKind.PARTITION_UNAVAILABLE,
                "topic": tp[0],
                "partition": tp[1],
                "broker": broker,
                "duration_s": end - start,
                "detail": f"{end - start:.3f} s without a usable leader, until {end:.3f} s",
            }
            for tp, start, end, broker in windows
        )
        merged = pd.concat([events, extra], ignore_index=True)
        return merged.sort_values("time_s", kind="stable").reset_index(drop=True)


def run_until(env: Environment, name: str, end_s: float, progress: bool) -> None:
    """Run ``env`` to ``end_s`` simulated seconds with fewer GC passes; progress: a progress
    bar named ``name``."""
    with fewer_gc_passes():
        if not progress:
            env.run(until=end_s)
            return
        from tqdm import tqdm

        steps = 100
        total = round(end_s, 3)
        with tqdm(total=total, desc=name, unit="sim s", leave=False) as bar:
            for i in range(1, steps + 1):
                env.run(until=end_s * i / steps)
                bar.update(round(end_s * i / steps, 3) - bar.n)


#: Allocations between two passes of the cyclic GC over its youngest generation while a
#: simulation runs (Python's default is 700).
YOUNG_GC_THRESHOLD = 50_000


@contextmanager
def fewer_gc_passes() -> Iterator[None]:
    """Run the block with the cyclic garbage collector's youngest generation collected every
    :data:`YOUNG_GC_THRESHOLD` allocations, then restore the process's thresholds.

    A run allocates millions of short-lived objects (requests, responses, batches) that reference
    counting frees, and keeps a growing set of long-lived ones (log entries, result rows) that
    each older-generation pass walks again: at Python's default the passes took about 10 % of the
    default scenario (16.7 CPU s with this, 18.5 s without) and found almost nothing to collect
    (about a thousand objects in the whole run), so cyclic garbage waits a little longer, nothing
    more.
    """
    thresholds = gc.get_threshold()
    if thresholds[0]:  # 0: the user turned automatic collection off; keep it off
        gc.set_threshold(max(thresholds[0], YOUNG_GC_THRESHOLD), *thresholds[1:])
    try:
        yield
    finally:
        gc.set_threshold(*thresholds)


def events_per_second_bare_simpy(n: int = 200_000) -> float:
    """Events per wall second of a bare SimPy timeout loop (the benchmark's yardstick)."""
    import time

    env = simpy.Environment()

    def loop():
        for _ in range(n):
            yield env.timeout(0.001)

    env.process(loop())
    start = time.perf_counter()
    env.run()
    return n / (time.perf_counter() - start)
