"""Several clusters in one simulation and one clock, joined by MirrorMaker 2 mirrors.

Each cluster is a :class:`~sim.world.World` of its own — ZooKeeper, controller, brokers,
topics, clients, network — built from its part of the scenario (:meth:`Scenario.for_cluster`),
at its own site; all share one SimPy environment, run-unique batch ids, and the
:class:`~sim.net.Wan` between the sites (``scenario.wan``). Random streams are per cluster
(``east/`` + the name). With one cluster in ``clusters`` the run is that of the same scenario
written with ``cluster``: no prefixes, the same numbers.

Each mirror is a MirrorSourceConnector (:mod:`sim.mirror.mirror_source_connector`): its remote
topics exist in the target from the start (the connector creates them when it starts, before
any record flows), and its ``tasks.max`` tasks run in a Connect worker at the target's site, as
MirrorMaker 2's documentation advises (consume remotely, produce locally): each task's consumer
is a node of the source's network at the target's site (its fetches cross the WAN) and its
producer a node of the target's network, named ``mirror-<source>-<target>-<i>`` in both.

Each mirror also has its MirrorCheckpointConnector's task
(:mod:`sim.mirror.mirror_checkpoint_task`): the source tasks' offset syncs reach it, it
checkpoints the source's groups into the ``checkpoints`` table and, with
``sync.group.offsets.enabled``, commits their offsets in the target. A ``failover`` moves a
group to another cluster at a time, resuming from those offsets (``failovers`` table); the
``failover_audit`` table and summary count what it read twice and what it never read.

Results: the clusters' tables put together, every topic and node name prefixed with its
cluster (``east/orders``, ``east/broker-0``, ``west/dr-0``); the time series summed per interval
(rates, under-replicated partitions) or their maximum (latency p99, lag); each cluster's audit
summed; the ``mirrors`` table (sampled every time-series interval) and the audit across
clusters (:func:`sim.audit.audit_mirrors`).
"""

from __future__ import annotations

import math
from itertools import combinations, count

import pandas as pd

from sim import kafka_config, liveness
from sim.audit import audit_failovers, audit_mirrors, failover_metrics
from sim.events import EventKind
from sim.metrics import Table, events_frame
from sim.mirror.mirror_checkpoint_task import MirrorCheckpointTask
from sim.mirror.mirror_source_connector import MirrorSourceConnector
from sim.mirror.mirror_source_task import MirrorSourceTask
from sim.mirror.offset_sync_store import OffsetSync
from sim.mirror.offset_sync_writer import OffsetSyncWriter
from sim.mirror.worker_source_task import WorkerSourceTask
from sim.net import Wan
from sim.protocol import TopicPartition, record_size_upper_bound
from sim.results import TABLES, Results
from sim.rng import RandomStreams
from sim.scenario import Scenario
from sim.timers import Environment
from sim.workload import default_key_bytes, encoded_value_bytes
from sim.world import MEASURED, PRODUCER_ID_BASE, World, run_until

#: Summary fields of the mirrors' audit: NaN without mirrors (and not printed then).
MIRROR_FIELDS = (
    "mirrored_messages",
    "mirror_missing_messages",
    "mirror_duplicate_messages",
    "mirror_out_of_order",
    "failover_reread_messages",
    "failover_unread_messages",
    "failover_unread_mirrored_messages",
    "failover_rpo_s",
)
#: Tables only a run of several clusters fills (a cluster's own World leaves them empty).
MULTI_CLUSTER_TABLES = (
    "mirrors",
    "mirrored_batches",
    "checkpoints",
    "failovers",
    "failover_audit",
)
#: Summary fields measured with several clusters: one cluster's and the audit of the mirrors.
MEASURED_MULTI = (*MEASURED, *MIRROR_FIELDS)
#: Columns holding a topic or node name, prefixed with the cluster in the results.
NAME_COLUMNS = ("topic", "producer", "member", "node", "item")
#: How each time series adds up over clusters.
TIMESERIES_SUM = (
    "produced_msgs_s",
    "acked_msgs_s",
    "consumed_msgs_s",
    "under_replicated_partitions",
)
TIMESERIES_MAX = ("produce_latency_p99_ms", "max_consumer_lag")
#: Summary fields of a cluster's own that are maxima over clusters (the others add up).
METRICS_MAX = ("recovery_s",)


class Mirror:
    """One source → target flow: its connector and tasks, Connect's offset store for them, and
    its lag samples."""

    def __init__(self, owner: MultiClusterWorld, index: int, connector: MirrorSourceConnector):
        spec = owner.scenario.mirrors[index]
        self.owner = owner
        self.spec = spec
        self.config = kafka_config.mirror_config(spec.config, f"mirrors.{index}.config")
        self.name = f"{spec.source}->{spec.target}"
        self.source = owner.worlds[spec.source]
        self.target = owner.worlds[spec.target]
        self.remote = {
            t.source_topic: t.name for t in owner.scenario.remote_topics() if t.mirror == index
        }
        partitions = [
            (topic, p)
            for topic in self.remote
            for p in range(self.source.scenario.topic(topic).partitions)
        ]
        #: batch id -> the source offset after its last record, for every producer of the mirror
        self.batch_ends: dict[int, int] = {}
        #: Connect's offset store (OffsetBackingStore): per source partition (``east/orders``,
        #: 0), the offset of the last record flushed as committed
        self.offsets: dict[tuple[str, int], int] = {}
        self.offset_syncs_in_source = self.config.mirror["offset-syncs.topic.location"] == "source"
        self.checkpoint_task = self._checkpoint_task(owner, spec, self.config)
        #: each task's OffsetSyncWriter (emit.offset-syncs.enabled), by task index
        self.writers: dict[int, OffsetSyncWriter] = {}
        self.tasks: list[tuple[MirrorSourceTask, list[TopicPartition]]] = []
        shares = connector.task_partitions(partitions, self.config.mirror["tasks.max"])
        for i, share in enumerate(shares):
            self.tasks.append((self._task(i), share))
        self.frontier = {tp: 0 for tp in partitions}  # source offset mirrored (committed) to

    def _task(self, i: int, previous: MirrorSourceTask | None = None) -> MirrorSourceTask:
        """Task ``i``: its producer on the target's network, its consumer on the source's at
        the target's site; ``previous``: the task a worker crash ended, whose nodes these
        take the place of."""
        spec, config, owner = self.spec, self.config, self.owner
        name = f"mirror-{spec.source}-{spec.target}-{i}"
        target, source = self.target, self.source
        old = None if previous is None else previous.producer
        producer_id = PRODUCER_ID_BASE + len(target.producers)
        if old is not None:
            producer_id = old.sender.producer_id
        commit_record = None
        if config.mirror["emit.offset-syncs.enabled"]:
            writer = OffsetSyncWriter(config.mirror["offset.lag.max"], self._send_offset_sync)
            self.writers[i] = writer  # a restarted task starts a new one (MirrorSourceTask.start)
            commit_record = writer.commit_runs
        producer = WorkerSourceTask(
            owner.env, name, self.name, target.net, config.producer, target.metrics,
            target.streams.stream("producer", name), producer_id,
            [b.name for b in target.brokers], list(self.remote.values()), owner.mirrored,
            self.batch_ends, old, commit_record,
        )  # fmt: skip
        consumer = MirrorSourceTask(
            owner.env, name, "", source.net, config.consumer, 0.0, source.metrics,
            [b.name for b in source.brokers], remote=self.remote, producer=producer,
            source_prefix=f"{spec.source}/",
        )  # fmt: skip
        nic_bytes_s = target._nic_bytes_s(target.hardware)
        if old is None:
            target.net.add_node(producer, nic_bytes_s)
            target.producers.append(producer)  # started with the target's producers; accounted
            target.unbounded_producers.add(name)  # its liveness is the mirror's (path)
            source.net.add_node(consumer, nic_bytes_s, site=spec.target)
            return consumer
        target.producers[target.producers.index(old)] = producer
        for net, node in ((target.net, producer), (source.net, consumer)):
            net.replace_node(node)
            net.restart(name)
        producer.start()
        return consumer

    def start(self) -> None:
        for i in range(len(self.tasks)):
            self._start_task(i)
        self.checkpoint_task.start()

    def _start_task(self, i: int) -> None:
        """``MirrorSourceTask.start``: assign the task's partitions and seek each to the offset
        after the one Connect stored (``loadOffsets``, ``initializeConsumer``; none stored: the
        reset policy), before its first poll; and schedule its offset flushes."""
        task, share = self.tasks[i]
        task.start_task(share)
        prefix = task.source_prefix
        for tp in share:
            offset = self.offsets.get((prefix + tp[0], tp[1]))
            if offset is not None:
                task.seek(tp, offset + 1)
        self.owner.env.process(self._flush(task, self.writers.get(i)))

    def _flush(self, task: MirrorSourceTask, writer: OffsetSyncWriter | None):
        """``SourceTaskOffsetCommitter``: every ``offset.flush.interval.ms`` from the task's
        start, ``WorkerSourceTask.commitOffsets`` stores what is committable now (the model
        takes it at the flush rather than at the task's last ``beginSendIteration``, at most a
        poll earlier; the offsets topic is written at once: ``offset.flush.timeout.ms`` is not
        modelled), and the task's ``commit()`` sends its delayed offset syncs
        (``OffsetSyncWriter.firePendingOffsetSyncs``). Ends with the task's worker."""
        interval_s = self.config.mirror.s("offset.flush.interval.ms")
        producer = task.producer
        while True:
            yield self.owner.env.timeout(interval_s)
            if producer.crashed:
                return
            self.offsets.update(producer.submitted.committable_offsets())
            if writer is not None:
                writer.commit()

    def crash_task(self, i: int) -> str:
        """The Connect worker running task ``i`` dies: its consumer and producer stop at once,
        nothing flushed; the task's node name."""
        task, _ = self.tasks[i]
        task.crash()
        task.producer.crash()
        self.source.net.crash(task.name)
        self.target.net.crash(task.name)
        return task.name

    def restart_task(self, i: int) -> str:
        """Task ``i`` starts again on a new worker (a new consumer and producer of the same
        name) from the offsets Connect flushed; the task's node name."""
        old, share = self.tasks[i]
        if old.producer.crashed:
            self.tasks[i] = (self._task(i, old), share)
            self._start_task(i)
        return old.name

    def path(self, heal_s: float, first_fault_s: float) -> liveness.MirrorPath:
        """What the mirror's liveness bound is derived from (:func:`sim.liveness.mirror_bound`):
        the WAN's nominal figures, shared with every mirror over the same direction."""
        owner, wan = self.owner, self.owner.scenario.wan
        ends = tuple(
            liveness.bounds(w.scenario, len(w.assignments), heal_s, first_fault_s)
            for w in (self.source, self.target)
        )
        load = sum(m.offered_bytes_s() for m in owner.mirrors if m.clusters == self.clusters)
        source = self.source.scenario.cluster.name
        crashes = [
            f for f in owner.scenario.faults
            if f.kind == "crash_mirror_worker" and f.mirror == self.name
        ]  # fmt: skip
        rewind_s = self.config.mirror.s("offset.flush.interval.ms") if crashes else 0.0
        return liveness.MirrorPath(
            tuple(f"{source}/{topic}" for topic in self.remote), ends, self.config,
            wan.rtt_ms / 1000.0, wan.bandwidth_gbps * 1e9 / 8, load, rewind_s,
        )  # fmt: skip

    @property
    def clusters(self) -> tuple[str, str]:
        """(source, target) cluster names."""
        return self.source.scenario.cluster.name, self.target.scenario.cluster.name

    def offered_bytes_s(self) -> float:
        """Bytes per second offered to the topics the mirror copies (:func:`_offered_bytes_s`)."""
        return sum(_offered_bytes_s(self.owner, self.clusters[0], topic) for topic in self.remote)

    # ---------------------------------------------------------------- offset syncs, checkpoints

    def _checkpoint_task(self, owner, spec, config) -> MirrorCheckpointTask:
        """The mirror's MirrorCheckpointTask, its admin clients at the target's site."""
        groups = [g.group_id for g in self.source.scenario.consumer_groups]
        task = MirrorCheckpointTask(
            owner.env, self.name, self.source, self.target, self.remote, f"{spec.source}/",
            groups, config.mirror, owner.checkpoints,
        )  # fmt: skip
        nic = self.target._nic_bytes_s(self.target.hardware)
        self.source.net.add_node(task.source_admin, nic, site=spec.target)
        self.target.net.add_node(task.target_admin, nic)
        return task

    def _send_offset_sync(self, sync: OffsetSync, done) -> None:
        """The offset producer's write of ``sync`` to mm2-offset-syncs.<target>.internal in
        the cluster offset-syncs.topic.location names (see sim.mirror.mirror_checkpoint_task
        for the timing): the checkpoint task reads it and ``done`` runs one round trip later,
        or ``done`` runs now when that cluster cannot take it."""
        location = self.spec.source if self.offset_syncs_in_source else self.spec.target
        world = self.owner.worlds[location]
        reachable = location == self.spec.target or not self.owner.wan_cut(
            self.spec.source, self.spec.target
        )
        if not reachable or not any(b.running for b in world.brokers):
            done()
            return
        if location == self.spec.target:
            rtt_s = world.scenario.cluster.hardware.rtt_ms / 1000.0
        else:
            rtt_s = self.owner.wan.pipe(self.spec.target, location).half_rtt_s * 2
        self.owner.env.process(self._deliver(sync, done, rtt_s))

    def _deliver(self, sync: OffsetSync, done, after_s: float):
        yield self.owner.env.timeout(after_s)
        self.checkpoint_task.handle_record(sync)
        done()

    def sample(self, now: float) -> list[tuple]:
        """One ``mirrors`` row per source partition (none while a leader is unknown)."""
        rows = []
        for tp, frontier in self.frontier.items():
            source_log = _leader_log(self.source, tp)
            target_log = _leader_log(self.target, (self.remote[tp[0]], tp[1]))
            if source_log is None or target_log is None:
                continue
            hw = target_log.high_watermark
            if hw > 0:
                entry = target_log.entry_at(hw - 1)
                batch_id = entry.batch.batch_id
                frontier = max(frontier, self.batch_ends.get(batch_id, frontier))
                self.frontier[tp] = frontier
            source_hw = source_log.high_watermark
            lag_s = 0.0
            if frontier < source_hw:
                oldest = source_log.entry_at(frontier)
                lag_s = now - oldest.append_s if oldest is not None else math.nan
            rows.append(
                (now, self.name, f"{self.source.scenario.cluster.name}/{tp[0]}", tp[1],
                 f"{self.target.scenario.cluster.name}/{self.remote[tp[0]]}", frontier,
                 max(source_hw - frontier, 0), lag_s)
            )  # fmt: skip
        return rows


def _offered_bytes_s(owner: MultiClusterWorld, cluster: str, topic: str) -> float:
    """Bytes per second offered to ``topic`` of ``cluster``, each record at its largest size on
    the wire (a batch of its own): by its producers (``add_producer`` ones too; a closed loop's
    rate is unknown: inf), or for a remote topic by those of the topic it copies."""
    scenario = owner.worlds[cluster].scenario
    registry = owner.scenario.schema_registry is not None
    added = [f.producer for f in scenario.faults if f.kind == "add_producer"]
    specs = [*scenario.producers, *added]
    total = 0.0
    for spec in specs:
        if spec.topic != topic:
            continue
        if spec.arrival.kind == "closed_loop":
            return math.inf
        key = spec.key_bytes if spec.key_bytes is not None else default_key_bytes(spec)
        size = record_size_upper_bound(encoded_value_bytes(spec, registry), key or None)
        total += spec.rate_msgs_s * spec.count * float(size)
    for remote in owner.scenario.remote_topics():
        if (remote.cluster, remote.name) == (cluster, topic):
            total += _offered_bytes_s(owner, remote.source, remote.source_topic)
    return total


def _leader_log(world: World, tp: TopicPartition):
    """The partition's log at its leader now, or None without a running leader."""
    leader = world.leader_of(tp)
    if leader < 0 or not world.brokers[leader].running:
        return None
    return world.brokers[leader].partitions[tp].log


class MultiClusterWorld:
    """A scenario of several clusters (``scenario.clusters``) and its mirrors."""

    def __init__(self, scenario: Scenario, check_invariants: bool | None = None) -> None:
        self.scenario = scenario
        self.env = Environment()
        wan = scenario.wan
        self.wan = Wan(wan.rtt_ms / 1000.0, wan.bandwidth_gbps * 1e9 / 8)
        batch_ids = count().__next__
        self.worlds: dict[str, World] = {}
        several = len(scenario.all_clusters) > 1
        for cluster in scenario.all_clusters:
            prefix = f"{cluster.name}/" if several else ""
            self.worlds[cluster.name] = World(
                scenario.for_cluster(cluster.name), check_invariants, env=self.env,
                streams=RandomStreams(scenario.seed, prefix), wan=self.wan,
                new_batch_id=batch_ids,
            )  # fmt: skip
        self.mirrored = Table("mirrored_batches")
        self.lag = Table("mirrors")
        self.checkpoints = Table("checkpoints")
        self.failovers = Table("failovers")
        self._wan_cut: set[frozenset[str]] = set()
        self.mirrors = [
            Mirror(self, flow.index, flow.connector) for flow in scenario.mirror_flows()
        ]
        self.interval_s = next(iter(self.worlds.values())).metrics.interval_s
        self.fault_rows: list[dict] = []  # events rows of the faults about several clusters

    def run(self, progress: bool = False) -> None:
        """Start every cluster and mirror, and run to the scenario's end."""
        for world in self.worlds.values():
            world.start()
        for mirror in self.mirrors:
            mirror.start()
        self.env.process(self._sample())
        for fault in self.scenario.faults:  # the others are the clusters' own (for_cluster)
            if fault.kind == "wan_partition":
                self.env.process(self._wan_partition(fault))
            elif fault.kind == "slow_wan":
                self.env.process(self._slow_wan(fault))
            elif fault.kind == "crash_mirror_worker":
                self.env.process(self._crash_mirror_worker(fault))
            elif fault.kind == "failover":
                self.env.process(self._failover(fault))
        run_until(self.env, self.scenario.name, self.scenario.duration_s, progress)
        for world in self.worlds.values():
            if world.checker is not None:
                world.checker.check()

    def _wan_partition(self, fault):
        """A ``wan_partition``: cut the sites apart in every network at ``at_s``, heal them
        ``heal_after_s`` later (the process of a fault row and, when it heals, a fault_end)."""
        yield self.env.timeout(fault.at_s)
        pairs = self._pairs(fault)
        self._set_wan(pairs, cut=True)
        if fault.heal_after_s is not None:
            yield self.env.timeout(fault.heal_after_s)
            self._set_wan(pairs, cut=False)

    def _pairs(self, fault) -> list[tuple[str, str]]:
        """The pairs of sites a WAN fault is about."""
        return [fault.between] if fault.between else list(combinations(self.worlds, 2))

    def _slow_wan(self, fault):
        """A ``slow_wan``: both pipes of each pair lose bandwidth and gain delay at ``at_s``,
        and get them back ``duration_s`` later; transfers already booked on a pipe keep the
        times they were given."""
        yield self.env.timeout(fault.at_s)
        pairs = self._pairs(fault)
        pipes = [self.wan.pipe(*ends) for a, b in pairs for ends in ((a, b), (b, a))]
        normal = [(pipe.bytes_s, pipe.half_rtt_s) for pipe in pipes]
        for pipe in pipes:
            pipe.bytes_s *= fault.bandwidth_factor
            pipe.half_rtt_s += fault.extra_delay_ms / 1000.0
        self._wan_rows(pairs, EventKind.FAULT, "slow_wan", "", "slowed")
        if fault.duration_s is not None:
            yield self.env.timeout(fault.duration_s)
            for pipe, (bytes_s, half_rtt_s) in zip(pipes, normal, strict=True):
                pipe.bytes_s, pipe.half_rtt_s = bytes_s, half_rtt_s
            self._wan_rows(pairs, EventKind.FAULT_END, "slow_wan", "", "back to normal")

    def _crash_mirror_worker(self, fault):
        """A ``crash_mirror_worker``: the Connect worker running the mirror's task ``task``
        (all its tasks when omitted) dies at ``at_s`` and, ``restart_after_s`` later, the tasks
        start again from the source offsets Connect flushed (a fault row per task at the crash,
        a fault_end row at the restart; nodes ``<target>/mirror-<source>-<target>-<i>``)."""
        yield self.env.timeout(fault.at_s)
        mirror = next(m for m in self.mirrors if m.name == fault.mirror)
        tasks = range(len(mirror.tasks)) if fault.task is None else [fault.task]
        target = mirror.target.scenario.cluster.name
        for i in tasks:
            node = f"{target}/{mirror.crash_task(i)}"
            self._fault_row(EventKind.FAULT, fault.kind, node, "unreachable", "worker crash")
        if fault.restart_after_s is not None:
            yield self.env.timeout(fault.restart_after_s)
            for i in tasks:
                node = f"{target}/{mirror.restart_task(i)}"
                self._fault_row(EventKind.FAULT_END, fault.kind, node, "", "restart")

    def _fault_row(self, kind: EventKind, fault: str, node: str, outcome: str, detail: str):
        self.fault_rows.append(
            {"time_s": self.env.now, "kind": kind, "fault": fault, "node": node,
             "outcome": outcome, "detail": detail}
        )  # fmt: skip

    def _wan_rows(self, pairs, kind: EventKind, fault: str, outcome: str, what: str) -> None:
        for a, b in pairs:
            self._fault_row(kind, fault, "", outcome, f"WAN between {a} and {b} {what}")

    def wan_cut(self, a: str, b: str) -> bool:
        """Whether the WAN between clusters ``a`` and ``b`` is cut now."""
        return frozenset((a, b)) in self._wan_cut

    def _set_wan(self, pairs, cut: bool) -> None:
        for a, b in pairs:
            if cut:
                self._wan_cut.add(frozenset((a, b)))
            else:
                self._wan_cut.discard(frozenset((a, b)))
            for world in self.worlds.values():
                if cut:
                    world.net.cut_sites(a, b)
                else:
                    world.net.heal_sites(a, b)
        if cut:
            self._wan_rows(pairs, EventKind.FAULT, "wan_partition", "unreachable", "cut")
        else:
            self._wan_rows(pairs, EventKind.FAULT_END, "wan_partition", "reachable", "healed")

    # ---------------------------------------------------------------- failover

    def _failover(self, fault):
        """A ``failover``: at ``at_s`` the group's members leave its cluster (die when no
        broker of it runs); its offsets in ``to`` are, in this order, those already committed
        there (sync.group.offsets.enabled), the last checkpoints (MirrorClient.
        remoteConsumerOffsets, committed now as RemoteClusterUtils.translateOffsets users do),
        or none (auto.offset.reset); its members in ``to`` start now (Scenario.for_cluster)."""
        yield self.env.timeout(fault.at_s)
        group = next(g for g in self.scenario.consumer_groups if g.group_id == fault.group)
        source, target = self.worlds[group.cluster], self.worlds[fault.to]
        self._stop_group(source, fault.group)
        source.departed_groups.add(fault.group)  # its liveness is the target's
        task = next(
            m.checkpoint_task for m in self.mirrors
            if m.spec.source == group.cluster and m.spec.target == fault.to
        )  # fmt: skip
        remote = self.scenario.failover_topics(fault)
        committed = task.target_offsets(fault.group)
        checkpointed = task.remote_consumer_offsets(fault.group)
        if checkpointed and not committed:
            task.commit_offsets(fault.group, checkpointed)
        for topic in group.topics:
            name = remote[topic]
            for p in range(target.scenario.topic(name).partitions):
                tp = (name, p)
                if committed:
                    offset, origin = committed.get(tp, -1), "committed"
                else:
                    offset, origin = checkpointed.get(tp, -1), "checkpoint"
                if offset < 0:
                    origin = "auto.offset.reset"
                self.failovers.append_row(
                    (self.env.now, fault.group, group.cluster, fault.to,
                     f"{fault.to}/{name}", p, offset, origin)
                )  # fmt: skip
        self.fault_rows.append(
            {"time_s": self.env.now, "kind": EventKind.FAULT, "fault": "failover", "outcome": "",
             "detail": f"group {fault.group} fails over from {group.cluster} to {fault.to}"}
        )  # fmt: skip

    @staticmethod
    def _stop_group(world: World, group_id: str) -> None:
        """The group's running members close (or die, their cluster down)."""
        up = any(b.running for b in world.brokers)
        for consumer, _ in list(world.consumers):
            if consumer.group_id == group_id and not consumer.stopped:
                member = int(consumer.name.rsplit("-", 1)[1])
                if up:
                    world.faults.remove_consumer(group_id, member)
                else:
                    world.faults.crash_consumer(group_id, member)

    def _sample(self):
        while True:
            yield self.env.timeout(self.interval_s)
            for mirror in self.mirrors:
                for row in mirror.sample(self.env.now):
                    self.lag.append_row(row)

    def results(self) -> Results:
        """The clusters' tables together, names prefixed; the summary; the mirrors' audit."""
        parts = {name: world.results() for name, world in self.worlds.items()}
        tables = {}
        for table in TABLES:
            if table in MULTI_CLUSTER_TABLES:
                continue
            frames = [self._prefixed(r.tables[table], name) for name, r in parts.items()]
            tables[table] = pd.concat(frames, ignore_index=True)
        events = pd.concat([tables["events"], events_frame(self.fault_rows)], ignore_index=True)
        tables["events"] = events.sort_values("time_s", kind="stable").reset_index(drop=True)
        tables["timeseries"] = _timeseries([r.tables["timeseries"] for r in parts.values()])
        tables["mirrors"] = self.lag.frame()
        tables["mirrored_batches"] = self.mirrored.frame()
        tables["checkpoints"] = self.checkpoints.frame()
        tables["failovers"] = self.failovers.frame()
        tables["liveness"] = pd.concat(
            [self._prefixed(r.tables["liveness"], n) for n, r in parts.items()], ignore_index=True
        )
        mirrors, notes = self._mirror_liveness(tables)
        tables["liveness"] = pd.concat([tables["liveness"], mirrors], ignore_index=True)
        metrics = _combined([r.metrics for r in parts.values()])
        metrics.update(audit_mirrors(tables).as_metrics())
        tables["failover_audit"] = audit_failovers(tables)
        metrics.update(failover_metrics(tables["failover_audit"]))
        metrics.update(_with_mirrors(metrics, mirrors, liveness.heal_time(tables["events"])[0]))
        warnings = list(self.scenario.warnings())
        for name, world in self.worlds.items():
            own = len(world.scenario.warnings())
            warnings += [f"{name}: {w}" for w in parts[name].warnings[own:]]
        warnings += notes
        return Results(self.scenario, tables, metrics, MEASURED_MULTI, warnings)

    def _mirror_liveness(self, tables: dict[str, pd.DataFrame]) -> tuple[pd.DataFrame, list[str]]:
        """Each mirror's liveness row (:func:`sim.liveness.check_mirrors`) and warnings."""
        events = tables["events"]
        heal_s, _ = liveness.heal_time(events)
        first_fault_s = liveness.first_fault_time(events, heal_s)
        paths = {m.name: m.path(heal_s, first_fault_s) for m in self.mirrors}
        return liveness.check_mirrors(tables, paths, self.scenario.duration_s)

    def _prefixed(self, frame: pd.DataFrame, cluster: str) -> pd.DataFrame:
        """``frame`` with each non-empty topic or node name as ``<cluster>/<name>`` when there
        are several clusters."""
        if len(self.worlds) == 1:
            return frame
        return _prefixed(frame, cluster)


def _prefixed(frame: pd.DataFrame, cluster: str) -> pd.DataFrame:
    """``frame`` with each non-empty topic or node name as ``<cluster>/<name>``."""
    frame = frame.copy()
    for column in NAME_COLUMNS:
        if column in frame:
            values = frame[column]
            frame[column] = values.where(values == "", cluster + "/" + values)
    return frame


def _timeseries(frames: list[pd.DataFrame]) -> pd.DataFrame:
    """The clusters' time series as one: sums of rates and counts, maxima of the others."""
    first = frames[0].copy()
    for frame in frames[1:]:
        for column in TIMESERIES_SUM:
            first[column] = first[column] + frame[column].to_numpy()
        for column in TIMESERIES_MAX:
            first[column] = first[column].combine(frame[column], max)
    return first


def _with_mirrors(metrics: dict[str, float], mirrors: pd.DataFrame, heal_s: float) -> dict:
    """``liveness_violations`` and ``recovery_s`` with the mirrors' liveness rows counted (the
    clusters' values stand when the mirrors were not checked)."""
    if mirrors.empty:
        return {}
    own = liveness.summary(mirrors, heal_s, faults=heal_s > 0)
    recovery = own["recovery_s"]
    if not math.isnan(recovery) and not math.isnan(metrics["recovery_s"]):
        recovery = max(recovery, metrics["recovery_s"])
    violations = metrics["liveness_violations"]
    violations = own["liveness_violations"] + (0.0 if math.isnan(violations) else violations)
    return {"recovery_s": recovery, "liveness_violations": violations}


def _combined(parts: list[dict[str, float]]) -> dict[str, float]:
    """The clusters' summary fields: sums (maxima for :data:`METRICS_MAX`) of those measured."""
    out: dict[str, float] = {}
    for name in parts[0]:
        values = [p[name] for p in parts if not math.isnan(p[name])]
        if values:
            out[name] = max(values) if name in METRICS_MAX else sum(values)
        else:
            out[name] = math.nan
    return out
