"""Faults: the scenario's schedule, and the same injections callable from a script mid-run.

Each fault kind (docs/scenario.md) is a method of :class:`FaultInjector` (``crash_broker``,
``power_loss``, ``controlled_shutdown``, ``rolling_restart``, ``pause``, ``zookeeper_expire``,
``network_partition``,
``slow_disk``, ``slow_network``, ``drop_messages``, ``add_producer``, ``crash_consumer``,
``add_consumer``, ``remove_consumer``, ``evolve_schema``, ``set_compatibility``);
``schedule`` turns the scenario's list into SimPy processes that call them at ``at_s``. Targets
are resolved when the fault fires: ``"leader:orders-0"`` is that partition's leader then,
``"controller"`` the active controller then; when it names no broker then (no active controller
during a failover, a partition without leader) the scheduled fault is skipped, and recorded so.
Every injection is an ``events`` row of kind ``fault`` and its end one of kind ``fault_end``, with
the fault kind, the broker it hit and what it did for clients (``outcome``) in columns.
"""

from __future__ import annotations

from collections.abc import Generator
from typing import TYPE_CHECKING, Any

import simpy

from sim.events import ClientReach, EventKind, RollingOutcome
from sim.scenario import (
    FAULT_KINDS,
    MULTI_CLUSTER_FAULTS,
    PEER_CLASSES,
    ROLLING_DOWN_S,
    ROLLING_MAX_WAIT_S,
    SCHEMA_REGISTRY_NODE,
)
from sim.workload import encoded_value_bytes

if TYPE_CHECKING:
    from sim.broker.broker import Broker
    from sim.world import World

#: How often a rolling restart looks whether the restarted broker is back and no partition is
#: under-replicated, s: ducktape's ``wait_until`` polls every 0.1 s (its default
#: ``backoff_sec``), as kafkatest's ``await_no_under_replicated_partitions`` uses it.
ROLLING_POLL_S = 0.1

#: The fault kind of a rolling restart's rows.
ROLLING = "rolling_restart"

#: Fault kinds this engine simulates.
SIMULATED_FAULTS = frozenset(FAULT_KINDS) - frozenset(MULTI_CLUSTER_FAULTS)


class NoTargetError(LookupError):
    """``controller`` or ``leader:<topic>-<p>`` names no broker now (no active controller, or
    the partition has no leader); a scheduled fault then records that it was skipped."""

    def __init__(self, target: str) -> None:
        self.target = target
        super().__init__(f"{target!r} names no broker now")


class FaultInjector:
    """Injects faults into ``world`` (through the network, brokers' processes and disks)."""

    def __init__(self, world: World) -> None:
        self.world = world
        self.env: simpy.Environment = world.env

    # ---------------------------------------------------------------- the schedule

    def schedule(self, faults: list[Any]) -> None:
        """Start a process per fault of the scenario, firing at its ``at_s``."""
        for fault in faults:
            self.env.process(self._at(fault))

    def _at(self, fault: Any) -> Generator[simpy.Event, Any, None]:
        yield self.env.timeout(max(fault.at_s - self.env.now, 0.0))
        try:
            self._inject(fault)
        except NoTargetError as missing:
            # "controller" during a failover, "leader:t-p" while t-p is offline: nothing to hit
            self._record(
                EventKind.FAULT_SKIPPED, fault.kind, missing.target,
                f"skipped {fault.kind}: no {missing.target} now",
            )  # fmt: skip

    def _inject(self, fault: Any) -> None:
        kind = fault.kind
        if kind in ("crash_broker", "power_loss", "controlled_shutdown"):
            getattr(self, kind)(fault.broker, fault.restart_after_s)
        elif kind == "rolling_restart":
            self.rolling_restart(fault.mode, fault.order, fault.down_s, fault.max_wait_s)
        elif kind == "pause":
            self.pause(fault.node, fault.duration_s)
        elif kind == "zookeeper_expire":
            self.zookeeper_expire(fault.node)
        elif kind == "network_partition":
            self.network_partition(
                fault.isolate, fault.from_, fault.links, fault.one_way, fault.heal_after_s
            )
        elif kind == "slow_disk":
            self.slow_disk(fault.broker, fault.factor, fault.duration_s)
        elif kind == "slow_network":
            a, b = fault.between
            self.slow_network(
                a, b, fault.extra_delay_ms / 1000, fault.bandwidth_factor, fault.duration_s
            )
        elif kind == "drop_messages":
            a, b = fault.between
            self.drop_messages(a, b, fault.probability, fault.direction, fault.duration_s)
        elif kind == "add_producer":
            self.add_producer(fault.producer)
        elif kind == "cluster_outage":
            self.cluster_outage(fault.power_loss, fault.restart_after_s)
        elif kind == "crash_consumer":
            self.crash_consumer(fault.group, fault.member, fault.restart_after_s)
        elif kind == "add_consumer":
            self.add_consumer(fault.group, fault.count)
        elif kind == "remove_consumer":
            self.remove_consumer(fault.group, fault.member)
        elif kind == "evolve_schema":
            self.evolve_schema(fault.producer, fault.schema_, fault.sample)
        elif kind == "set_compatibility":
            self.set_compatibility(fault.subject, fault.mode)
        else:
            raise ValueError(f"fault kind {kind!r} is not simulated")

    # ---------------------------------------------------------------- targets

    def node(self, target: int | str) -> str:
        """The node a target names now: a broker id, a node name, ``controller`` or
        ``leader:<topic>-<p>``."""
        if isinstance(target, int):
            return f"broker-{target}"
        if target == "controller":
            broker = self.world.controller_id()
        elif target.startswith("leader:"):
            topic, _, partition = target[len("leader:") :].rpartition("-")
            broker = self.world.leader_of((topic, int(partition)))
        else:
            return target
        if broker < 0:
            raise NoTargetError(target)
        return f"broker-{broker}"

    def broker(self, target: int | str) -> Broker:
        """The broker a target names now."""
        name = self.node(target)
        return self.world.brokers[int(name.removeprefix("broker-"))]

    def _record(self, kind: EventKind, fault: str, node: str, detail: str, reach: str = "") -> None:
        """An events row about ``fault`` at ``node`` (its broker id in ``broker`` when it is a
        broker); ``reach``: a :class:`ClientReach` when the step changes whether clients can
        use the node."""
        broker = int(node.removeprefix("broker-")) if node in self._broker_names else -1
        self.world.metrics.event(
            self.env.now, kind, node, detail=detail, broker=broker, fault=fault, outcome=reach
        )

    @property
    def _broker_names(self) -> frozenset[str]:
        return frozenset(b.name for b in self.world.brokers)

    def _later(
        self, delay_s: float | None, action, fault: str, node: str, detail: str, reach: str = ""
    ) -> None:
        """Run ``action`` after ``delay_s`` (never when None), recorded as the end of ``fault``."""
        if delay_s is None:
            return

        def run():
            yield self.env.timeout(delay_s)
            action()
            self._record(EventKind.FAULT_END, fault, node, detail, reach)

        self.env.process(run())

    # ---------------------------------------------------------------- broker faults

    def crash_broker(self, target: int | str, restart_after_s: float | None = None) -> None:
        """Kill the broker process: its log survives; peers see connections reset at once."""
        self._crash(target, restart_after_s, power_loss=False)

    def power_loss(self, target: int | str, restart_after_s: float | None = None) -> None:
        """Like a crash, and what the OS had not written back is gone from its logs."""
        self._crash(target, restart_after_s, power_loss=True)

    def _crash(self, target: int | str, restart_after_s: float | None, power_loss: bool) -> None:
        broker = self.broker(target)
        if not broker.running:
            return
        broker.crash(power_loss=power_loss)
        fault = "power_loss" if power_loss else "crash_broker"
        detail = "power loss" if power_loss else "crash"
        self._record(EventKind.FAULT, fault, broker.name, detail, ClientReach.UNREACHABLE)
        if restart_after_s is not None:
            self.env.process(self._restart_after(broker, fault, restart_after_s))

    def cluster_outage(
        self, power_loss: bool = False, restart_after_s: float | None = None
    ) -> None:
        """Every node of the cluster down at once: each running broker crashes (as
        ``crash_broker``, or ``power_loss`` with it), ZooKeeper becomes unreachable. One fault
        row, and a ``broker_stopped`` row per broker (its partitions unavailable); after
        ``restart_after_s`` ZooKeeper and then every broker start again (one fault_end row)."""
        detail = "cluster outage" + (" (power loss)" if power_loss else "")
        self._record(EventKind.FAULT, "cluster_outage", "cluster", detail, ClientReach.UNREACHABLE)
        for broker in self.world.brokers:
            if broker.running:
                broker.crash(power_loss=power_loss)
                # its partitions are unavailable from now (sim.availability reads this row)
                stopped = EventKind.BROKER_STOPPED
                reach = ClientReach.UNREACHABLE
                self._record(stopped, "cluster_outage", broker.name, "down with its cluster", reach)
        self.world.net.crash(self.world.zookeeper.name)
        self._later(restart_after_s, self._cluster_back, "cluster_outage", "cluster", "restart")

    def _cluster_back(self) -> None:
        """ZooKeeper reachable again, then every broker restarted (with its recovered log)."""
        self.world.net.restart(self.world.zookeeper.name)
        for broker in self.world.brokers:
            broker.restart()

    def controlled_shutdown(self, target: int | str, restart_after_s: float | None = None) -> None:
        """SIGTERM: the broker asks the controller to move its leaderships, then stops."""
        broker = self.broker(target)
        if not broker.running:
            return
        fault = "controlled_shutdown"
        self._record(EventKind.FAULT, fault, broker.name, "controlled shutdown")

        def shut_down():
            yield from self._shut_down(broker, fault)
            if restart_after_s is not None:
                yield from self._restart_after(broker, fault, restart_after_s)

        self.env.process(shut_down())

    def _shut_down(self, broker: Broker, fault: str) -> Generator[simpy.Event, Any, None]:
        """The controlled shutdown itself, recorded ``broker_stopped`` when the process is gone."""
        yield from broker.controlled_shutdown()
        self._record(
            EventKind.BROKER_STOPPED, fault, broker.name, "stopped", ClientReach.UNREACHABLE
        )

    def _restart_after(
        self, broker: Broker, fault: str, delay_s: float
    ) -> Generator[simpy.Event, Any, None]:
        yield self.env.timeout(delay_s)
        self._restart(broker, fault)

    def _restart(self, broker: Broker, fault: str) -> None:
        """Start ``broker`` again; one another fault has started already stays as it is."""
        started = broker.restart()
        detail = "restart" if started else "restart: running already"
        self._record(EventKind.FAULT_END, fault, broker.name, detail)

    def rolling_restart(
        self,
        mode: str = "controlled",
        order: list[int] | None = None,
        down_s: float = ROLLING_DOWN_S,
        max_wait_s: float = ROLLING_MAX_WAIT_S,
    ) -> None:
        """Restart the brokers one at a time, as Kafka's system tests do (kafkatest
        ``KafkaService.restart_cluster``), waiting after each until no partition is
        under-replicated (``transactions_test.bounce_brokers``:
        ``await_no_under_replicated_partitions``).

        Each broker of ``order`` is stopped (``mode`` ``controlled``: a controlled shutdown;
        ``hard``: a crash, as kafkatest's ``stop_node(clean_shutdown=False)`` sends SIGKILL),
        started again ``down_s`` after its process is gone, and the next one waits until it is
        back (see :meth:`_back`) or until ``max_wait_s`` have passed since its start. The
        default order is ascending ids with the active controller (when the fault fires) last,
        as operators roll a cluster so that the controller moves once (``restart_cluster``
        takes its nodes in id order).

        Rows (fault ``rolling_restart``): the whole is a ``fault`` row at its start and a
        ``fault_end`` row at its end (node ``""``); each broker's stop is a ``fault`` row
        (a crash) or a ``fault`` and a ``broker_stopped`` row (a controlled shutdown), its start
        a ``fault_end`` row, and the wait after it a ``rolling_step`` row whose outcome is
        ``isr_full`` or ``wait_capped``; a broker already down at its turn gets a
        ``rolling_step`` row with outcome ``skipped`` and is left down.
        """
        brokers = list(order) if order is not None else self._rolling_order()
        detail = f"{mode}, brokers {', '.join(map(str, brokers))}"
        self._record(EventKind.FAULT, ROLLING, "", detail)
        self.env.process(self._roll(brokers, mode, down_s, max_wait_s))

    def _rolling_order(self) -> list[int]:
        """Ascending broker ids, the active controller last: it moves once, not once a broker."""
        controller = self.world.controller_id()
        return sorted(range(len(self.world.brokers)), key=lambda b: (b == controller, b))

    def _roll(
        self, brokers: list[int], mode: str, down_s: float, max_wait_s: float
    ) -> Generator[simpy.Event, Any, None]:
        for broker_id in brokers:
            broker = self.world.brokers[broker_id]
            if not broker.running:
                self._step(broker, RollingOutcome.SKIPPED, "not running at its turn")
                continue
            if mode == "controlled":
                self._record(EventKind.FAULT, ROLLING, broker.name, "controlled shutdown")
                yield from self._shut_down(broker, ROLLING)
            else:
                broker.crash(power_loss=False)
                self._record(
                    EventKind.FAULT, ROLLING, broker.name, "crash", ClientReach.UNREACHABLE
                )
            yield self.env.timeout(down_s)
            self._restart(broker, ROLLING)
            yield from self._await_back(broker, max_wait_s)
        self._record(EventKind.FAULT_END, ROLLING, "", f"{len(brokers)} brokers")

    def _await_back(self, broker: Broker, max_wait_s: float) -> Generator[simpy.Event, Any, None]:
        """Poll every ROLLING_POLL_S until ``broker`` is back, for ``max_wait_s`` at most."""
        deadline = self.env.now + max_wait_s
        while not self._back(broker):
            if self.env.now >= deadline:
                detail = f"{self._not_back(broker)} after {max_wait_s:g} s; moving on"
                self._step(broker, RollingOutcome.WAIT_CAPPED, detail)
                return
            yield self.env.timeout(min(ROLLING_POLL_S, deadline - self.env.now))
        self._step(broker, RollingOutcome.ISR_FULL, "no partition under-replicated")

    def _back(self, broker: Broker) -> bool:
        """The restarted broker is known to the cluster — the controller has handled its
        registration and told it the live brokers, itself among them (UpdateMetadata; kafkatest's
        ``start_node`` waits for the broker's registration too) — and no partition is
        under-replicated (every running broker's UnderReplicatedPartitions is 0). Before the
        controller has handled a broker's return, the leaders may still count it in their
        ISRs."""
        return self._known(broker) and self.world.under_replicated_partitions() == 0

    @staticmethod
    def _known(broker: Broker) -> bool:
        return broker.running and broker.broker_id in broker.live_brokers

    def _not_back(self, broker: Broker) -> str:
        """Why ``broker`` is not back, for people."""
        if not self._known(broker):
            return "not back in the cluster"
        return f"{self.world.under_replicated_partitions()} partitions under-replicated"

    def _step(self, broker: Broker, outcome: str, detail: str) -> None:
        """A ``rolling_step`` row: how the rolling restart's wait for ``broker`` ended."""
        self.world.metrics.event(
            self.env.now, EventKind.ROLLING_STEP, broker.name, detail=detail,
            broker=broker.broker_id, fault=ROLLING, outcome=outcome,
        )  # fmt: skip

    def pause(self, target: int | str, duration_s: float) -> None:
        """Stop the process for ``duration_s`` (long GC, SIGSTOP): silence, no reset."""
        name = self.node(target)
        if name.startswith("broker-"):
            broker = self.broker(name)
            broker.pause()
            resume = broker.resume
        else:
            self.world.net.pause(name)

            def resume() -> None:
                self.world.net.resume(name)

        self._later(duration_s, resume, "pause", name, "resume", ClientReach.REACHABLE)
        self._record(
            EventKind.FAULT, "pause", name, f"pause for {duration_s:g} s", ClientReach.UNREACHABLE
        )

    def zookeeper_expire(self, target: int | str) -> None:
        """The node's ZooKeeper session expires now (its ephemeral znodes vanish)."""
        name = self.node(target)
        self.world.zookeeper.expire_node(name)
        self._record(EventKind.FAULT, "zookeeper_expire", name, "zookeeper session expired")

    def slow_disk(self, target: int | str, factor: float, duration_s: float | None = None) -> None:
        """The broker's disk runs ``factor`` times slower."""
        broker = self.broker(target)
        broker.disk.set_slow(factor)
        self._record(EventKind.FAULT, "slow_disk", broker.name, f"disk {factor:g}x slower")
        self._later(
            duration_s, lambda: broker.disk.set_slow(1.0), "slow_disk", broker.name, "disk normal"
        )

    # ---------------------------------------------------------------- network faults

    def network_partition(
        self,
        isolate: int | str | None = None,
        from_: list[str] | None = None,
        links: list[tuple[Any, Any]] | None = None,
        one_way: bool = False,
        heal_after_s: float | None = None,
    ) -> None:
        """Cut ``isolate`` off from the node classes ``from_`` (all when None), or cut ``links``."""
        net = self.world.net
        if isolate is not None:
            node = self.node(isolate)
            classes = [c for c in PEER_CLASSES if c in (from_ or PEER_CLASSES)]
            pairs = [(node, peer) for peer in self._peers(node, classes)]
            detail = f"isolated from {', '.join(classes)}" + (" one way" if one_way else "")
        else:
            pairs = [(self.node(a), self.node(b)) for a, b in links or ()]
            node = ",".join(f"{a}-{b}" for a, b in pairs)
            detail = "links cut" + (" one way" if one_way else "")
        for a, b in pairs:
            net.cut(a, b, one_way=one_way)
        cut_from_clients = isolate is not None and "clients" in classes
        fault = "network_partition"
        reach = ClientReach.UNREACHABLE if cut_from_clients else ""
        self._record(EventKind.FAULT, fault, node, detail, reach)

        def heal() -> None:
            for a, b in pairs:
                net.heal(a, b, one_way=one_way)

        back = ClientReach.REACHABLE if cut_from_clients else ""
        self._later(heal_after_s, heal, fault, node, "healed", back)

    def _peers(self, node: str, classes: list[str]) -> list[str]:
        world = self.world
        peers: list[str] = []
        if "brokers" in classes:
            peers += [b.name for b in world.brokers]
        if "zookeeper" in classes:
            peers.append(world.zookeeper.name)
        if "clients" in classes:
            peers += [p.name for p in world.producers] + [c.name for c, _ in world.consumers]
        return [p for p in peers if p != node]

    def slow_network(
        self,
        a: Any,
        b: Any,
        extra_delay_s: float,
        bandwidth_factor: float,
        duration_s: float | None,
    ) -> None:
        """The link between two nodes gains delay each way and/or loses bandwidth."""
        na, nb = self.node(a), self.node(b)
        self.world.net.set_link(
            na, nb, extra_delay_s=extra_delay_s, bandwidth_factor=bandwidth_factor
        )
        detail = f"+{extra_delay_s * 1000:g} ms, bandwidth x{bandwidth_factor:g}"
        self._record(EventKind.FAULT, "slow_network", f"{na}-{nb}", detail)
        self._later(
            duration_s, lambda: self.world.net.set_link(na, nb), "slow_network", f"{na}-{nb}",
            "link normal",
        )  # fmt: skip

    def drop_messages(
        self, a: Any, b: Any, probability: float, direction: str, duration_s: float | None
    ) -> None:
        """Messages between two nodes are dropped with ``probability`` (requests, responses or
        both)."""
        na, nb = self.node(a), self.node(b)
        requests = probability if direction in ("requests", "both") else 0.0
        responses = probability if direction in ("responses", "both") else 0.0
        self.world.net.set_link(na, nb, drop_requests=requests, drop_responses=responses)
        detail = f"drop {direction} with p={probability:g}"
        self._record(EventKind.FAULT, "drop_messages", f"{na}-{nb}", detail)
        self._later(
            duration_s, lambda: self.world.net.set_link(na, nb), "drop_messages", f"{na}-{nb}",
            "link normal",
        )  # fmt: skip

    # ---------------------------------------------------------------- clients

    def add_producer(self, spec: Any) -> None:
        """A new producer (a full producer spec) starts now: its records arrive from now (or
        from its own later ``start_s``), none before the fault."""
        if spec.start_s < self.env.now:
            spec = spec.model_copy(update={"start_s": self.env.now})
        for producer in self.world.add_producer(spec):
            producer.start()
            self._record(EventKind.FAULT, "add_producer", producer.name, "producer added")

    def evolve_schema(self, producer: str, schema: Any, sample: Any = None) -> None:
        """Every client of producer spec ``producer`` writes ``schema`` from now (``sample``, or
        its own sample, gives the value size)."""
        spec = next(p for p in self.world.scenario.producers if p.name == producer)
        fmt = spec.format.model_copy(
            update={"schema_": schema, "sample": sample or spec.format.sample}
        )
        value_bytes = encoded_value_bytes(spec.model_copy(update={"format": fmt}), True)
        for client in self.world.producers:
            if client.spec.name == producer:
                client.evolve_schema(schema, value_bytes)
                self._record(EventKind.FAULT, "evolve_schema", client.name, "new schema")

    def set_compatibility(self, subject: str, mode: str) -> None:
        """The registry's compatibility mode of ``subject`` becomes ``mode`` (an operator's
        ``PUT /config/{subject}``)."""
        self.world.registry.set_compatibility(subject, mode)
        self._record(
            EventKind.FAULT, "set_compatibility", SCHEMA_REGISTRY_NODE, f"{subject}: {mode}"
        )

    def _member(self, group: str, member: int | None):
        """The running consumer ``<group>-<member>`` (the highest-numbered one when None)."""
        world = self.world
        mine = [c for c, _ in world.consumers if c.group_id == group and not c.stopped]
        if member is None:
            if not mine:
                raise NoTargetError(f"{group} member")
            return max(mine, key=lambda c: int(c.name.rsplit("-", 1)[1]))
        name = f"{group}-{member}"
        found = next((c for c, _ in world.consumers if c.name == name), None)
        if found is None or found.stopped:
            raise NoTargetError(name)
        return found

    def crash_consumer(
        self, group: str, member: int = 0, restart_after_s: float | None = None
    ) -> None:
        """The member's process dies: no commit, no LeaveGroup, its connections reset; the
        coordinator notices after its session timeout. Restarts (same name and, for a static
        member, the same group.instance.id) after ``restart_after_s`` if given."""
        consumer = self._member(group, member)
        consumer.crash()
        self.world.net.crash(consumer.name)
        fault = "crash_consumer"
        self._record(EventKind.FAULT, fault, consumer.name, "crash", ClientReach.UNREACHABLE)
        name = consumer.name
        self._later(
            restart_after_s, lambda: self.world.restart_consumer(name), fault, name, "restart"
        )

    def add_consumer(self, group: str, count: int = 1) -> None:
        """``count`` new members join ``group`` now, named with the group's next indices."""
        spec = next(g for g in self.world.scenario.consumer_groups if g.group_id == group)
        for consumer in self.world.add_consumers(spec, count, self.env.now):
            self._record(EventKind.FAULT, "add_consumer", consumer.name, "consumer added")

    def remove_consumer(self, group: str, member: int | None = None) -> None:
        """The member closes cleanly: commits, then LeaveGroup if dynamic (a static member just
        stops; its session timeout removes it). Default: the highest-numbered running member."""
        consumer = self._member(group, member)
        consumer.close()
        self._record(EventKind.FAULT, "remove_consumer", consumer.name, "consumer removed")
