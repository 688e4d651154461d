"""A ZooKeeper-like ensemble as one simulated node, and the client a broker embeds.

Kafka 3.9 in ZooKeeper mode keeps broker liveness and the controller in ZooKeeper (3.8.x):
brokers register the ephemeral ``/brokers/ids/<id>``, the controller is whoever creates the
ephemeral ``/controller`` first, and ``/controller_epoch`` (a conditional multi) fences a zombie.

Server (:class:`ZooKeeper`), ZooKeeper's documented semantics:
- znodes in a tree: data (any Python value, treated as immutable), a data version (0 at create,
  +1 per set), a child version, create/modify zxids, and an ephemeral owner session (``None``
  for persistent nodes). Ephemeral nodes cannot have children. Reads see the latest write.
- sessions: the requested timeout is clamped to [min, max] (default 2 and 20 ticks,
  ZooKeeperServer); any request or ping touches the session. A session expires at the first tick
  boundary strictly after ``last heard + timeout`` (ExpiryQueue.roundToNextInterval), so within
  one tick after its timeout; expiry deletes its ephemerals (firing watches), drops its watches,
  and later requests with its id get SESSION_EXPIRED. The expiry check runs on the tick boundaries
  while any session exists (one event per tick, no timer per request).
- watches are one-shot and per session: GetData/Exists set a data watch (Exists also on a missing
  node), GetChildren a child watch. Create fires "created" (data watches) and "children" on the
  parent; Delete fires "deleted" (data and child watches, once per session) and "children" on the
  parent; SetData fires "changed" (DataTree.createNode/deleteNode/setData). A notification is a
  one-way :class:`WatchEvent` to the session's node through the network, so a cut node misses it.
- Multi is atomic: all ops or none, one zxid; on failure its error is the first failing op's and
  the per-op results are OK before it, its error, then RUNTIME_INCONSISTENCY (PrepRequestProcessor).
- Availability: the ensemble is one node and is treated as always available; only the network
  isolates it. ``net.crash("zookeeper")`` makes it unreachable but its sessions keep ticking on the
  server side (a real ensemble that lost quorum would restart session timers when it recovers).
  Writes answer after ``write_latency_s`` (fsync and quorum commit), reads at once.
- Not modelled: sequential nodes, ACLs, multiple servers (reconnect to another server, quorum).

Client (:class:`ZooKeeperClient`, ≈ kafka.zookeeper.ZooKeeperClient over ZooKeeper's ClientCnxn):
connects, then pings when nothing was sent for a third of the negotiated timeout (ping at
readTimeout / 2 with readTimeout = 2/3 × session timeout, ClientCnxn). A request gets
CONNECTION_LOSS if unanswered within 2/3 of the session timeout (approximates ClientCnxn dropping
the connection after readTimeout of silence). At most ``zookeeper.max.in.flight.requests``
requests are in flight. After a read timeout of silence the client gives the connection up and,
after a backoff, reconnects to the same session (ConnectRequest with its session id; requests
wait meanwhile); the server reopens a session it still holds (touching it), and the client then
sends SetWatches with the last zxid it saw, so watch events lost with the old connection fire
again (DataTree.setWatches). A session the server has expired answers the reconnect with timeout
0; that, or SESSION_EXPIRED on a request, makes the client call ``on_session_expired()`` and open
a new session at once (Kafka's ZooKeeperClient reinitializes with delay 0; its handlers then
re-register ephemeral znodes). The client never decides by itself that its session expired.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Generator, Sequence
from dataclasses import dataclass, field, replace
from enum import Enum, IntEnum, auto
from typing import Any, Literal

import simpy

from sim.net import Network, NetworkFailure, Respond
from sim.timers import DEADLINE_SLACK_S

# --------------------------------------------------------------------------- Kafka's znode paths

#: Paths Kafka 3.9 uses (core/src/main/scala/kafka/zk/ZkData.scala).
BROKERS_PATH = "/brokers"
BROKER_IDS_PATH = "/brokers/ids"
BROKER_TOPICS_PATH = "/brokers/topics"
CONTROLLER_PATH = "/controller"
CONTROLLER_EPOCH_PATH = "/controller_epoch"
#: Not written by 3.x brokers (ISR changes go through AlterPartition); kept for completeness.
ISR_CHANGE_NOTIFICATION_PATH = "/isr_change_notification"


def broker_path(broker_id: int) -> str:
    """``/brokers/ids/<id>``: a broker's ephemeral registration (BrokerIdZNode)."""
    return f"{BROKER_IDS_PATH}/{broker_id}"


def topic_path(topic: str) -> str:
    """``/brokers/topics/<topic>``: the topic's replica assignment (TopicZNode)."""
    return f"{BROKER_TOPICS_PATH}/{topic}"


def partition_state_path(topic: str, partition: int) -> str:
    """``/brokers/topics/<topic>/partitions/<p>/state``: leader, ISR and epochs
    (TopicPartitionStateZNode)."""
    return f"{topic_path(topic)}/partitions/{partition}/state"


def parent_path(path: str) -> str:
    """The parent of a znode path (``/`` for a top-level node)."""
    return path.rsplit("/", 1)[0] or "/"


def check_path(path: str) -> None:
    """Raise ValueError unless ``path`` is absolute, without empty components or a trailing
    slash (the ZooKeeper client rejects such paths before sending: PathUtils.validatePath)."""
    if path == "/":
        return
    if not path.startswith("/") or path.endswith("/") or "//" in path:
        raise ValueError(f"invalid znode path {path!r}")


# --------------------------------------------------------------------------- protocol

#: Wire sizes, bytes: length prefix + xid + op type; + zxid + error; a Stat (ZooKeeper's jute).
REQUEST_HEADER_BYTES = 12
REPLY_HEADER_BYTES = 20
STAT_BYTES = 68
CONNECT_REQUEST_BYTES = 48
CONNECT_RESPONSE_BYTES = 40
#: Assumed size of znode data that is neither bytes nor str (Kafka's JSON payloads), bytes.
ZNODE_DATA_BYTES = 128

WatchKind = Literal["created", "deleted", "changed", "children"]


class ZkCode(IntEnum):
    """ZooKeeper's result codes (KeeperException.Code), the subset the model returns."""

    OK = 0  # OK
    RUNTIME_INCONSISTENCY = -2  # RUNTIMEINCONSISTENCY: a multi op after the failing one
    CONNECTION_LOSS = -4  # CONNECTIONLOSS: no answer in time; the outcome is unknown
    NO_NODE = -101  # NONODE
    BAD_VERSION = -103  # BADVERSION
    NO_CHILDREN_FOR_EPHEMERALS = -108  # NOCHILDRENFOREPHEMERALS
    NODE_EXISTS = -110  # NODEEXISTS
    NOT_EMPTY = -111  # NOTEMPTY
    SESSION_EXPIRED = -112  # SESSIONEXPIRED


def _path_bytes(path: str) -> int:
    return 4 + len(path)


def _data_bytes(data: Any) -> int:
    if data is None:
        return 4
    if isinstance(data, bytes | str):
        return 4 + len(data)
    return 4 + ZNODE_DATA_BYTES


@dataclass(frozen=True, slots=True)
class Stat:
    """A znode's metadata as returned to clients (org.apache.zookeeper.data.Stat).

    czxid: zxid of its creation (Kafka uses the broker znode's czxid as the broker epoch).
    ephemeral_owner: the owning session id, ``None`` for a persistent node.
    """

    czxid: int
    mzxid: int
    version: int
    cversion: int
    ephemeral_owner: int | None
    num_children: int


@dataclass(frozen=True, slots=True)
class Connect:
    """Open a session, or reconnect to ``session_id`` (0: a new one); timeout_s: the requested
    session timeout, seconds (ConnectRequest)."""

    timeout_s: float
    session_id: int = 0

    @property
    def size_bytes(self) -> int:
        return CONNECT_REQUEST_BYTES


@dataclass(frozen=True, slots=True)
class ConnectResponse:
    """The session (new or resumed): its id and the negotiated timeout, seconds; a timeout of
    0 means the session to resume has expired (ClientCnxn.onConnected)."""

    session_id: int
    timeout_s: float

    @property
    def size_bytes(self) -> int:
        return CONNECT_RESPONSE_BYTES


@dataclass(frozen=True, slots=True)
class Ping:
    """Keep the session alive."""

    @property
    def size_bytes(self) -> int:
        return 0


@dataclass(frozen=True, slots=True)
class CloseSession:
    """End the session now: its ephemerals are deleted at once (ZooKeeper.close())."""

    @property
    def size_bytes(self) -> int:
        return 0


@dataclass(frozen=True, slots=True)
class Create:
    """Create a znode; its parent must exist and be persistent."""

    path: str
    data: Any = None
    ephemeral: bool = False

    def __post_init__(self) -> None:
        check_path(self.path)

    @property
    def size_bytes(self) -> int:
        return _path_bytes(self.path) + _data_bytes(self.data) + 8


@dataclass(frozen=True, slots=True)
class Delete:
    """Delete a childless znode if its version matches (-1: any version)."""

    path: str
    version: int = -1

    def __post_init__(self) -> None:
        check_path(self.path)

    @property
    def size_bytes(self) -> int:
        return _path_bytes(self.path) + 4


@dataclass(frozen=True, slots=True)
class SetData:
    """Replace a znode's data if its version matches (-1: any version); version + 1."""

    path: str
    data: Any
    version: int = -1

    def __post_init__(self) -> None:
        check_path(self.path)

    @property
    def size_bytes(self) -> int:
        return _path_bytes(self.path) + _data_bytes(self.data) + 4


@dataclass(frozen=True, slots=True)
class Check:
    """In a Multi: the znode exists and its version matches (-1: any version)."""

    path: str
    version: int = -1

    def __post_init__(self) -> None:
        check_path(self.path)

    @property
    def size_bytes(self) -> int:
        return _path_bytes(self.path) + 4


@dataclass(frozen=True, slots=True)
class GetData:
    """Read a znode's data and stat; watch: leave a data watch (only if the node exists)."""

    path: str
    watch: bool = False

    def __post_init__(self) -> None:
        check_path(self.path)

    @property
    def size_bytes(self) -> int:
        return _path_bytes(self.path) + 1


@dataclass(frozen=True, slots=True)
class Exists:
    """Read a znode's stat; watch: leave a data watch, also on a missing node ("created")."""

    path: str
    watch: bool = False

    def __post_init__(self) -> None:
        check_path(self.path)

    @property
    def size_bytes(self) -> int:
        return _path_bytes(self.path) + 1


@dataclass(frozen=True, slots=True)
class GetChildren:
    """List a znode's children, sorted; watch: leave a child watch (only if the node exists)."""

    path: str
    watch: bool = False

    def __post_init__(self) -> None:
        check_path(self.path)

    @property
    def size_bytes(self) -> int:
        return _path_bytes(self.path) + 1


@dataclass(frozen=True, slots=True)
class SetWatches:
    """Sent first on a resumed session: the client's watches not yet fired, with the last zxid
    it saw; the server fires those whose node changed since and keeps the others
    (DataTree.setWatches). data: GetData/Exists watches on existing nodes; exist: Exists watches
    on missing nodes; child: GetChildren watches."""

    relative_zxid: int
    data: tuple[str, ...]
    exist: tuple[str, ...]
    child: tuple[str, ...]

    @property
    def size_bytes(self) -> int:
        paths = (*self.data, *self.exist, *self.child)
        return 8 + 12 + sum(_path_bytes(p) for p in paths)


TxnOp = Create | Delete | SetData | Check


@dataclass(frozen=True, slots=True)
class Multi:
    """Apply ``ops`` atomically, in order, as one transaction (ZooKeeper.multi)."""

    ops: Sequence[TxnOp]

    @property
    def size_bytes(self) -> int:
        return sum(8 + op.size_bytes for op in self.ops)


Op = (
    Ping
    | CloseSession
    | Create
    | Delete
    | SetData
    | Check
    | GetData
    | Exists
    | GetChildren
    | Multi
    | SetWatches
)
_WRITES = (CloseSession, Create, Delete, SetData, Check, Multi)


@dataclass(frozen=True, slots=True)
class ZkRequest:
    """An operation sent on behalf of a session."""

    session_id: int
    op: Op

    @property
    def size_bytes(self) -> int:
        return REQUEST_HEADER_BYTES + self.op.size_bytes


@dataclass(frozen=True, slots=True)
class ZkResponse:
    """The server's answer: error, and what the op returns.

    stat: Create, SetData, GetData, Exists, GetChildren (``None`` when the node is missing).
    data: GetData. children: GetChildren, sorted. results: Multi, one response per op.
    zxid: the server's last committed zxid when it answered (the reply header's zxid).
    """

    error: ZkCode
    stat: Stat | None = None
    data: Any = None
    children: tuple[str, ...] = ()
    results: tuple[ZkResponse, ...] = ()
    zxid: int = -1

    @property
    def ok(self) -> bool:
        """True when the op succeeded."""
        return self.error is ZkCode.OK

    @property
    def version(self) -> int | None:
        """The node's data version after the op (``None`` without a stat)."""
        return None if self.stat is None else self.stat.version

    @property
    def size_bytes(self) -> int:
        size = REPLY_HEADER_BYTES + (STAT_BYTES if self.stat is not None else 0)
        if self.data is not None:
            size += _data_bytes(self.data)
        size += sum(_path_bytes(child) for child in self.children)
        return size + sum(r.size_bytes for r in self.results)


@dataclass(frozen=True, slots=True)
class WatchEvent:
    """A one-shot watch fired: ``path`` was created, deleted, changed or its children changed.

    session_id: the session that set the watch (a client drops events of an older session).
    """

    path: str
    kind: WatchKind
    session_id: int

    @property
    def size_bytes(self) -> int:
        return REPLY_HEADER_BYTES + 8 + _path_bytes(self.path)


_OK = ZkResponse(ZkCode.OK)

# --------------------------------------------------------------------------- server


@dataclass(slots=True, eq=False)
class Znode:
    """One node of the tree (server side)."""

    data: Any
    czxid: int
    mzxid: int
    version: int = 0
    cversion: int = 0
    ephemeral_owner: int | None = None
    children: set[str] = field(default_factory=set)
    #: zxid of the last change to its children (its creation's at first)
    pzxid: int = -1

    def __post_init__(self) -> None:
        if self.pzxid < 0:
            self.pzxid = self.czxid

    def stat(self) -> Stat:
        """A snapshot of the metadata."""
        return Stat(
            self.czxid,
            self.mzxid,
            self.version,
            self.cversion,
            self.ephemeral_owner,
            len(self.children),
        )

    def copy(self) -> Znode:
        """A copy that can be changed without touching this node."""
        return Znode(
            self.data,
            self.czxid,
            self.mzxid,
            self.version,
            self.cversion,
            self.ephemeral_owner,
            set(self.children),
            self.pzxid,
        )


@dataclass(slots=True, eq=False)
class Session:
    """A client session (server side). timeout_s: negotiated, seconds. expires_tick: index of
    the tick boundary at which it expires unless heard from before. ephemerals: paths it owns,
    in creation order."""

    session_id: int
    owner: str
    timeout_s: float
    last_heard_s: float
    expires_tick: int = 0
    ephemerals: dict[str, None] = field(default_factory=dict)


class _Txn:
    """The changes of one write request, applied to the tree only if every op succeeds.

    Ops read through ``changed`` (path -> new node, or ``None`` when deleted in this txn), so a
    later op of a Multi sees the earlier ones; ``events`` are the watches to fire on commit.
    """

    def __init__(
        self, tree: dict[str, Znode], zxid: int, session_id: int, copy_on_write: bool = True
    ) -> None:
        """copy_on_write False: ops edit the tree's nodes in place (a single op that is
        committed whenever it succeeds, and changes nothing when it fails)."""
        self.tree = tree
        self.zxid = zxid
        self.session_id = session_id
        self.copy_on_write = copy_on_write
        self.changed: dict[str, Znode | None] = {}
        self.events: list[tuple[str, WatchKind]] = []

    def get(self, path: str) -> Znode | None:
        """The node as this txn sees it."""
        if path in self.changed:
            return self.changed[path]
        return self.tree.get(path)

    def _edit(self, path: str) -> Znode:
        """The node at ``path`` (it exists), copied on first change."""
        node = self.changed.get(path)
        if node is None:
            node = self.tree[path]
            if self.copy_on_write:
                node = node.copy()
            self.changed[path] = node
        return node

    def apply(self, op: TxnOp) -> ZkResponse:
        """Apply one op; nothing of it is recorded unless it succeeds."""
        if isinstance(op, Create):
            return self.create(op)
        if isinstance(op, Delete):
            return self.delete(op)
        if isinstance(op, SetData):
            return self.set_data(op)
        return self.check(op)

    def apply_multi(self, ops: Sequence[TxnOp]) -> ZkResponse:
        """Apply ``ops`` in order, stopping at the first failure (the caller then drops it)."""
        results: list[ZkResponse] = []
        for op in ops:
            result = self.apply(op)
            results.append(result)
            if not result.ok:
                rest = [ZkResponse(ZkCode.RUNTIME_INCONSISTENCY)] * (len(ops) - len(results))
                done = [_OK] * (len(results) - 1)
                return ZkResponse(result.error, results=(*done, result, *rest))
        return ZkResponse(ZkCode.OK, results=tuple(results))

    def create(self, op: Create) -> ZkResponse:
        if op.path == "/" or self.get(op.path) is not None:
            return ZkResponse(ZkCode.NODE_EXISTS)
        parent_name = parent_path(op.path)
        parent = self.get(parent_name)
        if parent is None:
            return ZkResponse(ZkCode.NO_NODE)
        if parent.ephemeral_owner is not None:
            return ZkResponse(ZkCode.NO_CHILDREN_FOR_EPHEMERALS)
        owner = self.session_id if op.ephemeral else None
        node = Znode(op.data, self.zxid, self.zxid, ephemeral_owner=owner)
        self.changed[op.path] = node
        parent = self._edit(parent_name)
        parent.children.add(op.path.rsplit("/", 1)[1])
        parent.cversion += 1
        parent.pzxid = self.zxid
        self.events += [(op.path, "created"), (parent_name, "children")]
        return ZkResponse(ZkCode.OK, stat=node.stat())

    def delete(self, op: Delete) -> ZkResponse:
        node = self.get(op.path)
        if node is None:
            return ZkResponse(ZkCode.NO_NODE)
        if op.version != -1 and op.version != node.version:
            return ZkResponse(ZkCode.BAD_VERSION)
        if node.children:
            return ZkResponse(ZkCode.NOT_EMPTY)
        self.changed[op.path] = None
        parent_name = parent_path(op.path)
        parent = self._edit(parent_name)
        parent.children.discard(op.path.rsplit("/", 1)[1])
        parent.cversion += 1
        parent.pzxid = self.zxid
        self.events += [(op.path, "deleted"), (parent_name, "children")]
        return _OK

    def set_data(self, op: SetData) -> ZkResponse:
        node = self.get(op.path)
        if node is None:
            return ZkResponse(ZkCode.NO_NODE)
        if op.version != -1 and op.version != node.version:
            return ZkResponse(ZkCode.BAD_VERSION)
        node = self._edit(op.path)
        node.data = op.data
        node.version += 1
        node.mzxid = self.zxid
        self.events.append((op.path, "changed"))
        return ZkResponse(ZkCode.OK, stat=node.stat())

    def check(self, op: Check) -> ZkResponse:
        node = self.get(op.path)
        if node is None:
            return ZkResponse(ZkCode.NO_NODE)
        if op.version != -1 and op.version != node.version:
            return ZkResponse(ZkCode.BAD_VERSION)
        return _OK


class ZooKeeper:
    """The ensemble as one network node (see the module docstring).

    tick_s: ZooKeeper's ``tickTime``, seconds (default 3 s: ZooKeeperServer.DEFAULT_TICK_TIME;
    Kafka's config/zookeeper.properties does not set it). min_session_timeout_s /
    max_session_timeout_s: bounds of the negotiated timeout, seconds (default 2 and 20 ticks).
    write_latency_s: added before a write's response leaves (fsync + quorum commit), seconds.
    ``znodes`` and ``sessions`` are public for tests and metrics; change them only via requests.
    """

    def __init__(
        self,
        env: simpy.Environment,
        net: Network,
        name: str = "zookeeper",
        tick_s: float = 3.0,
        min_session_timeout_s: float | None = None,
        max_session_timeout_s: float | None = None,
        write_latency_s: float = 0.0,
    ) -> None:
        if tick_s <= 0:
            raise ValueError(f"tick_s: must be > 0, got {tick_s}")
        self.env = env
        self.net = net
        self.name = name
        self.tick_s = tick_s
        self.min_session_timeout_s = min_session_timeout_s or 2 * tick_s
        self.max_session_timeout_s = max_session_timeout_s or 20 * tick_s
        self.write_latency_s = write_latency_s
        self.zxid = 0
        self.znodes: dict[str, Znode] = {"/": Znode(None, 0, 0)}
        self.sessions: dict[int, Session] = {}
        self._next_session_id = 1
        self._data_watches: dict[str, dict[int, None]] = {}
        self._child_watches: dict[str, dict[int, None]] = {}
        self._ticking = False

    # ------------------------------------------------------------------ network node

    def on_request(self, request: Any, source: str, respond: Respond | None) -> None:
        """Serve a Connect or a ZkRequest from ``source``."""
        if respond is None:
            raise TypeError(f"{self.name}: unexpected one-way message {request!r}")
        if isinstance(request, Connect):
            if request.session_id:
                respond(self._reopen_session(request.session_id))
            else:
                respond(self._open_session(request, source))
            return
        session = self.sessions.get(request.session_id)
        if session is None:
            respond(ZkResponse(ZkCode.SESSION_EXPIRED, zxid=self.zxid))
            return
        self._touch(session)
        op = request.op
        response = replace(self._process(session, op), zxid=self.zxid)
        respond(response, self.write_latency_s if isinstance(op, _WRITES) else 0.0)

    # ------------------------------------------------------------------ fault hooks

    def expire_session(self, session_id: int) -> bool:
        """Expire a session now (the ``zookeeper_expire`` fault); False if it is not open."""
        session = self.sessions.get(session_id)
        if session is None:
            return False
        self._close_session(session)
        return True

    def expire_node(self, node_name: str) -> list[int]:
        """Expire every open session of ``node_name`` now; returns their ids."""
        ids = [sid for sid, s in self.sessions.items() if s.owner == node_name]
        for sid in ids:
            self._close_session(self.sessions[sid])
        return ids

    # ------------------------------------------------------------------ warm start

    def restore_session(self, owner: str, timeout_s: float) -> int:
        """A session of ``owner`` as if it had been open for a while (a run that starts with the
        cluster already running); returns its id for ``ZooKeeperClient.start(session=...)``."""
        return self._open_session(Connect(timeout_s), owner).session_id

    def restore_znode(self, path: str, data: Any, session_id: int | None = None) -> None:
        """Create ``path`` (and missing parents, persistent) with ``data``, owned by
        ``session_id`` when ephemeral: the state a running cluster would have written."""
        parts = path.strip("/").split("/")
        for i in range(1, len(parts)):
            parent = "/" + "/".join(parts[:i])
            if parent not in self.znodes:
                self._restore(parent, None, None)
        self._restore(path, data, session_id)

    def _restore(self, path: str, data: Any, session_id: int | None) -> None:
        # in place: copying the parent for each child would make a topic's partitions cost
        # the square of their number
        owner = session_id if session_id is not None else 0
        txn = _Txn(self.znodes, self.zxid + 1, owner, copy_on_write=False)
        result = txn.create(Create(path, data, ephemeral=session_id is not None))
        if not result.ok:
            raise ValueError(f"restore_znode {path}: {result.error.name}")
        self._commit(txn)

    # ------------------------------------------------------------------ sessions

    def _open_session(self, request: Connect, source: str) -> ConnectResponse:
        timeout_s = min(
            max(request.timeout_s, self.min_session_timeout_s), self.max_session_timeout_s
        )
        session = Session(self._next_session_id, source, timeout_s, self.env.now)
        self._next_session_id += 1
        self.sessions[session.session_id] = session
        self._touch(session)
        self._schedule_tick()
        return ConnectResponse(session.session_id, timeout_s)

    def _reopen_session(self, session_id: int) -> ConnectResponse:
        """A client reconnects to its session (ZooKeeperServer.reopenSession): still open, it
        is touched and goes on; expired, the answer's timeout is 0."""
        session = self.sessions.get(session_id)
        if session is None:
            return ConnectResponse(session_id, 0.0)
        self._touch(session)
        return ConnectResponse(session_id, session.timeout_s)

    def _touch(self, session: Session) -> None:
        """Heard from the session: it expires at the tick after now + timeout."""
        session.last_heard_s = self.env.now
        session.expires_tick = math.floor((self.env.now + session.timeout_s) / self.tick_s) + 1

    def _schedule_tick(self) -> None:
        """Arm the next expiry check at a tick boundary, while any session is open."""
        if self._ticking or not self.sessions:
            return
        self._ticking = True
        now = self.env.now
        tick = math.floor(now / self.tick_s + DEADLINE_SLACK_S) + 1
        timer = self.env.timeout(max(0.0, tick * self.tick_s - now), tick)
        timer.callbacks.append(self._on_tick)

    def _on_tick(self, event: simpy.Event) -> None:
        """SessionTracker: expire the sessions due at this tick (in order of creation)."""
        tick: int = event.value
        self._ticking = False
        for session in [s for s in self.sessions.values() if s.expires_tick <= tick]:
            self._close_session(session)
        self._schedule_tick()

    def _close_session(self, session: Session) -> None:
        """Expire or close: drop its watches, delete its ephemerals (firing others' watches)."""
        sid = session.session_id
        for table in (self._data_watches, self._child_watches):
            for path in [p for p, watchers in table.items() if sid in watchers]:
                del table[path][sid]
                if not table[path]:
                    del table[path]
        txn = _Txn(self.znodes, self.zxid + 1, sid)
        for path in list(session.ephemerals):
            result = txn.delete(Delete(path))
            assert result.ok, (path, result.error)
        self._commit(txn)
        del self.sessions[sid]

    # ------------------------------------------------------------------ operations

    def _process(self, session: Session, op: Op) -> ZkResponse:
        if isinstance(op, Ping):
            return _OK
        if isinstance(op, CloseSession):
            self._close_session(session)
            return _OK
        if isinstance(op, GetData | Exists | GetChildren):
            return self._read(session.session_id, op)
        if isinstance(op, SetWatches):
            self._set_watches(session.session_id, op)
            return _OK
        txn = _Txn(self.znodes, self.zxid + 1, session.session_id)
        response = txn.apply_multi(op.ops) if isinstance(op, Multi) else txn.apply(op)
        if response.ok:
            self._commit(txn)
        return response

    def _read(self, sid: int, op: GetData | Exists | GetChildren) -> ZkResponse:
        """Serve a read; leave its watch: a data watch from Exists even on a missing node, from
        GetData and GetChildren (child watch) only on an existing one."""
        node = self.znodes.get(op.path)
        if op.watch and (node is not None or isinstance(op, Exists)):
            table = self._child_watches if isinstance(op, GetChildren) else self._data_watches
            table.setdefault(op.path, {})[sid] = None
        if node is None:
            return ZkResponse(ZkCode.NO_NODE)
        if isinstance(op, GetData):
            return ZkResponse(ZkCode.OK, node.stat(), data=node.data)
        if isinstance(op, GetChildren):
            return ZkResponse(ZkCode.OK, node.stat(), children=tuple(sorted(node.children)))
        return ZkResponse(ZkCode.OK, node.stat())

    def _set_watches(self, sid: int, op: SetWatches) -> None:
        """DataTree.setWatches: fire at once the watches whose node changed after the client's
        last zxid (deleted, changed, created, children changed), keep the others."""
        fired: list[tuple[str, WatchKind]] = []
        for path in op.data:
            node = self.znodes.get(path)
            if node is None:
                fired.append((path, "deleted"))
            elif node.mzxid > op.relative_zxid:
                fired.append((path, "changed"))
            else:
                self._data_watches.setdefault(path, {})[sid] = None
        for path in op.exist:
            if path in self.znodes:
                fired.append((path, "created"))
            else:
                self._data_watches.setdefault(path, {})[sid] = None
        for path in op.child:
            node = self.znodes.get(path)
            if node is None:
                fired.append((path, "deleted"))
            elif node.pzxid > op.relative_zxid:
                fired.append((path, "children"))
            else:
                self._child_watches.setdefault(path, {})[sid] = None
        owner = self.sessions[sid].owner
        for path, kind in fired:
            self.net.send(self.name, owner, WatchEvent(path, kind, sid))

    def _commit(self, txn: _Txn) -> None:
        """Apply a successful txn to the tree and the ephemeral index, then fire its watches."""
        if not txn.changed:
            return
        self.zxid = txn.zxid
        for path, node in txn.changed.items():
            old = self.znodes.pop(path, None)
            if old is not None and old.ephemeral_owner is not None:
                del self.sessions[old.ephemeral_owner].ephemerals[path]
            if node is not None:
                self.znodes[path] = node
                if node.ephemeral_owner is not None:
                    self.sessions[node.ephemeral_owner].ephemerals[path] = None
        for path, kind in txn.events:
            self._trigger(path, kind)

    def _trigger(self, path: str, kind: WatchKind) -> None:
        """Fire and clear the watches ``kind`` concerns on ``path``, once per session."""
        if kind == "children":
            watchers = self._child_watches.pop(path, {})
        else:
            watchers = self._data_watches.pop(path, {})
            if kind == "deleted":
                watchers.update(self._child_watches.pop(path, {}))
        for sid in watchers:
            event = WatchEvent(path, kind, sid)
            self.net.send(self.name, self.sessions[sid].owner, event)


# --------------------------------------------------------------------------- client


class ClientState(Enum):
    """The client's connection state (ZooKeeper.States)."""

    NOT_CONNECTED = auto()  # before start()
    CONNECTING = auto()  # connecting: to a new session, or back to the current one
    CONNECTED = auto()  # session open, pinging
    CLOSED = auto()  # stop() or close(): no more pings


ZkCall = Generator[simpy.Event, Any, ZkResponse]


class _ClientWatches:
    """The watches a client has set and not yet seen fire, by kind (ZKWatchManager), in the
    order they were set: what SetWatches sends on a resumed session."""

    def __init__(self) -> None:
        self.data: dict[str, None] = {}
        self.exist: dict[str, None] = {}
        self.child: dict[str, None] = {}

    def register(self, op: Op, error: ZkCode) -> None:
        """A read with a watch was answered (WatchRegistration.register): GetData on an
        existing node, Exists (a data watch if the node exists, else an exist watch),
        GetChildren on an existing node."""
        if not getattr(op, "watch", False):
            return
        if isinstance(op, Exists):
            (self.data if error is ZkCode.OK else self.exist)[op.path] = None
        elif error is ZkCode.OK:
            (self.child if isinstance(op, GetChildren) else self.data)[op.path] = None

    def fired(self, event: WatchEvent) -> None:
        """A watch event arrived: the watches it ends (ZKWatchManager.materialize)."""
        path = event.path
        if event.kind == "children":
            self.child.pop(path, None)
            return
        self.data.pop(path, None)
        self.exist.pop(path, None)
        if event.kind == "deleted":
            self.child.pop(path, None)

    def pending(self) -> tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...]]:
        """(data, exist, child) paths."""
        return tuple(self.data), tuple(self.exist), tuple(self.child)


class ZooKeeperClient:
    """What a broker embeds to talk to ZooKeeper (≈ kafka.zookeeper.ZooKeeperClient).

    session_timeout_s: requested session timeout, seconds (``zookeeper.session.timeout.ms``);
    ``session_timeout_s`` holds the negotiated one once connected. on_watch(event): called for
    each WatchEvent of the current session; the owner's ``on_request`` must hand WatchEvent
    messages to :meth:`deliver`. on_session_expired(): called when the session is lost; the
    client is already opening a new one, and calls made from the handler wait for it.
    max_in_flight_requests: ``zookeeper.max.in.flight.requests`` (10). servers: how many
    servers ``zookeeper.connect`` lists (the one ZooKeeper node stands for them): each connect
    attempt waits session timeout / servers for an answer (ClientCnxn.connectTimeout).
    reconnect_delay_s: wait before each attempt after the first, seconds (ClientCnxn.startConnect
    sleeps up to 1 s at random; its mean, fixed); spin_delay_s: added once every ``servers``
    attempts, when all servers have been tried (StaticHostProvider.next, 1 s). A new session
    after an expiry is a new ZooKeeper client in Kafka, whose first attempt goes at once.
    """

    def __init__(
        self,
        env: simpy.Environment,
        net: Network,
        owner_name: str,
        session_timeout_s: float,
        on_watch: Callable[[WatchEvent], None],
        on_session_expired: Callable[[], None],
        server: str = "zookeeper",
        max_in_flight_requests: int = 10,
        servers: int = 3,
        reconnect_delay_s: float = 0.5,
        spin_delay_s: float = 1.0,
    ) -> None:
        self.env = env
        self.net = net
        self.owner_name = owner_name
        self.requested_timeout_s = session_timeout_s
        self.session_timeout_s = session_timeout_s
        self.on_watch = on_watch
        self.on_session_expired = on_session_expired
        self.server = server
        self.servers = servers
        self.reconnect_delay_s = reconnect_delay_s
        self.spin_delay_s = spin_delay_s
        self.state = ClientState.NOT_CONNECTED
        self.session_id: int | None = None
        self.process: simpy.Process | None = None
        self.last_sent_s = 0.0
        self.last_heard_s = 0.0
        self.last_zxid = 0  # the newest zxid in an answer (ClientCnxn.lastZxid)
        self._closing = False  # close() began: the owner's handlers are cleared
        self._watches = _ClientWatches()
        self._connected = env.event()  # succeeds when the next session is open
        self._wake = env.event()  # the keep-alive loop's sleep, cut short on expiry
        self._in_flight = simpy.Resource(env, max_in_flight_requests)

    @property
    def request_timeout_s(self) -> float:
        """How long a request waits for its answer: 2/3 of the session timeout, seconds."""
        return self.session_timeout_s * 2 / 3

    @property
    def read_timeout_s(self) -> float:
        """Silence after which the connection is given up and made again: 2/3 of the session
        timeout, seconds (ClientCnxn.readTimeout)."""
        return self.session_timeout_s * 2 / 3

    @property
    def ping_interval_s(self) -> float:
        """Idle time after which a ping is sent: 1/3 of the session timeout, seconds."""
        return self.session_timeout_s / 3

    # ------------------------------------------------------------------ lifecycle

    def start(self, session: tuple[int, float] | None = None) -> None:
        """Connect and keep the session alive (again after :meth:`stop`: a new session).

        session: (id, negotiated timeout s) of a session already open at the server
        (``ZooKeeper.restore_session``), adopted instead of connecting."""
        self.state = ClientState.CONNECTING
        self.session_id = None
        self._closing = False
        self._watches = _ClientWatches()
        self._in_flight = simpy.Resource(self.env, self._in_flight.capacity)  # none survive
        if session is not None:
            self.session_id, self.session_timeout_s = session
            self.last_sent_s = self.last_heard_s = self.env.now
            self.state = ClientState.CONNECTED
        self.process = self.env.process(self.run())

    def stop(self) -> None:
        """The owner crashed: no more pings, the session expires at the server later."""
        self.state = ClientState.CLOSED
        self.session_id = None
        process = self.process
        if process is not None and process.is_alive and self.env.active_process is not process:
            process.interrupt("stop")

    def close(self) -> Generator[simpy.Event, Any, None]:
        """Close the session (clean shutdown: ephemerals go at once), then :meth:`stop`. As
        Kafka's ZooKeeperClient.close clears its handlers first, the owner hears of nothing
        from here on: neither watches nor an expiry (a CloseSession may be answered
        SESSION_EXPIRED)."""
        self._closing = True
        if self.session_id is not None:
            yield from self.handle_requests([CloseSession()])
        self.stop()

    def deliver(self, event: WatchEvent) -> None:
        """A WatchEvent reached the owner: hand it to ``on_watch`` unless it came on a
        connection that is gone (an older session, or one given up since: a resumed session
        gets what it missed through SetWatches)."""
        gone = event.session_id != self.session_id or self.state is not ClientState.CONNECTED
        if gone or self._closing:
            return
        self.last_heard_s = self.env.now
        self._watches.fired(event)
        self.on_watch(event)

    def run(self) -> Generator[simpy.Event, Any, None]:
        """ZooKeeper's SendThread: connect, keep the connection alive, reconnect after a read
        timeout of silence, open a new session when the old one has expired."""
        try:
            while self.state is not ClientState.CLOSED:
                if self.state is ClientState.CONNECTING:
                    yield from self._connect()
                else:
                    yield from self._keep_alive()
        except simpy.Interrupt:
            return  # stop()

    def _connect(self) -> Generator[simpy.Event, Any, None]:
        """Send Connect (to the current session, if any) until answered, each attempt waiting
        the connect timeout. An expired session is reported and replaced."""
        resuming = self.session_id
        timeout_s = (self.session_timeout_s if resuming else self.requested_timeout_s) / max(
            self.servers, 1
        )
        attempt = 1 if resuming else 0  # a reconnect is not the client's first attempt
        while True:
            if attempt:
                yield self.env.timeout(self.delay_before_attempt_s(attempt))
            attempt += 1
            connect = Connect(self.requested_timeout_s, resuming or 0)
            response = yield self.net.request(self.owner_name, self.server, connect, timeout_s)
            if isinstance(response, ConnectResponse):
                break
        if response.timeout_s <= 0:
            self._expire()  # the next round of run() opens a new session
            return
        self.session_id = response.session_id
        self.session_timeout_s = response.timeout_s
        self.last_sent_s = self.last_heard_s = self.env.now
        self.state = ClientState.CONNECTED
        if resuming:
            self._send_set_watches()
        connected, self._connected = self._connected, self.env.event()
        connected.succeed(response.session_id)

    def _keep_alive(self) -> Generator[simpy.Event, Any, None]:
        """Give the connection up after a read timeout of silence, ping when idle, then sleep
        until the next of these is due (or the connection is lost)."""
        now = self.env.now
        if now - self.last_heard_s >= self.read_timeout_s - DEADLINE_SLACK_S:
            self.state = ClientState.CONNECTING  # SessionTimeoutException: reconnect
            return
        if now - self.last_sent_s >= self.ping_interval_s - DEADLINE_SLACK_S:
            self._send_ping()
        wake_at = min(
            self.last_sent_s + self.ping_interval_s, self.last_heard_s + self.read_timeout_s
        )
        self._wake = wake = self.env.event()
        self.env.timeout(wake_at - now).callbacks.append(lambda _: self._poke(wake))
        yield wake

    def delay_before_attempt_s(self, attempt: int) -> float:
        """Wait before connect attempt ``attempt`` (1: the first after the client's first),
        seconds: the random sleep's mean, plus the spin delay once all servers were tried."""
        spin = self.spin_delay_s if attempt % max(self.servers, 1) == 0 else 0.0
        return self.reconnect_delay_s + spin

    @staticmethod
    def _poke(wake: simpy.Event) -> None:
        if not wake.triggered:
            wake.succeed()

    def _send_ping(self) -> None:
        self._send_now(Ping())

    def _send_set_watches(self) -> None:
        """The first request on a resumed session: the watches not yet fired."""
        data, exist, child = self._watches.pending()
        if data or exist or child:
            self._send_now(SetWatches(self.last_zxid, data, exist, child))

    def _send_now(self, op: Ping | SetWatches) -> None:
        """Send ``op`` at once, outside the in-flight limit (as ClientCnxn does for these)."""
        session = self.session_id
        self.last_sent_s = self.env.now
        request = ZkRequest(session, op)
        event = self.net.request(self.owner_name, self.server, request, self.request_timeout_s)
        event.callbacks.append(lambda ev: self._received(session, ev.value))

    def _received(
        self, session: int, response: ZkResponse | NetworkFailure, op: Op | None = None
    ) -> ZkResponse:
        """Account for an answer to ``op`` of ``session`` (register its watch); a network
        failure becomes CONNECTION_LOSS."""
        if isinstance(response, NetworkFailure):
            return ZkResponse(ZkCode.CONNECTION_LOSS)
        if session == self.session_id and self.state is ClientState.CONNECTED:
            self.last_heard_s = self.env.now
            self.last_zxid = max(self.last_zxid, response.zxid)
            if response.error is ZkCode.SESSION_EXPIRED:
                self._expire()
            elif op is not None:
                self._watches.register(op, response.error)
        return response

    def _expire(self) -> None:
        """The session is lost: forget it and its watches, wake the loop to open a new one,
        tell the owner."""
        self.session_id = None
        self._watches = _ClientWatches()
        self.state = ClientState.CONNECTING
        self._poke(self._wake)
        if not self._closing:
            self.on_session_expired()

    def _session(self) -> Generator[simpy.Event, Any, int]:
        """The current session id, waiting while the client is not connected."""
        while self.state is not ClientState.CONNECTED:
            if self.state in (ClientState.NOT_CONNECTED, ClientState.CLOSED):
                raise RuntimeError(f"{self.owner_name}: ZooKeeper client not started")
            yield self._connected
        return self.session_id

    # ------------------------------------------------------------------ requests

    def handle_requests(self, ops: Sequence[Op]) -> Generator[simpy.Event, Any, list[ZkResponse]]:
        """Send ``ops`` pipelined (at most max_in_flight_requests at once), wait for all, and
        return their responses in order (ZooKeeperClient.handleRequests)."""
        responses: list[ZkResponse] = [_OK] * len(ops)
        events: list[simpy.Event] = []
        for i, op in enumerate(ops):
            slot = self._in_flight.request()
            yield slot
            session = yield from self._session()
            self.last_sent_s = self.env.now
            request = ZkRequest(session, op)
            event = self.net.request(self.owner_name, self.server, request, self.request_timeout_s)
            event.callbacks.append(self._on_answer(i, op, session, slot, responses))
            events.append(event)
        yield self.env.all_of(events)
        return responses

    def _on_answer(
        self, i: int, op: Op, session: int, slot: simpy.Event, responses: list[ZkResponse]
    ) -> Callable[[simpy.Event], None]:
        def answered(event: simpy.Event) -> None:
            slot.resource.release(slot)
            responses[i] = self._received(session, event.value, op)

        return answered

    def retry_requests_until_connected(
        self, ops: Sequence[Op]
    ) -> Generator[simpy.Event, Any, list[ZkResponse]]:
        """:meth:`handle_requests`, resending those that got CONNECTION_LOSS until answered
        (KafkaZkClient.retryRequestsUntilConnected). A resent write may find its own earlier
        effect (NODE_EXISTS, BAD_VERSION), as in Kafka."""
        responses = yield from self.handle_requests(ops)
        lost = [i for i, r in enumerate(responses) if r.error is ZkCode.CONNECTION_LOSS]
        while lost:
            retried = yield from self.handle_requests([ops[i] for i in lost])
            for i, response in zip(lost, retried, strict=True):
                responses[i] = response
            lost = [i for i in lost if responses[i].error is ZkCode.CONNECTION_LOSS]
        return responses

    def _call(self, op: Op) -> ZkCall:
        return (yield from self.handle_requests([op]))[0]

    def create(self, path: str, data: Any = None, ephemeral: bool = False) -> ZkCall:
        """Create a znode: OK (with stat), NODE_EXISTS, NO_NODE (no parent), ..."""
        return (yield from self._call(Create(path, data, ephemeral)))

    def delete(self, path: str, version: int = -1) -> ZkCall:
        """Delete a znode: OK, NO_NODE, BAD_VERSION, NOT_EMPTY."""
        return (yield from self._call(Delete(path, version)))

    def set_data(self, path: str, data: Any, version: int = -1) -> ZkCall:
        """Set a znode's data: OK (stat.version is the new version), NO_NODE, BAD_VERSION."""
        return (yield from self._call(SetData(path, data, version)))

    def get_data(self, path: str, watch: bool = False) -> ZkCall:
        """Read data and stat: OK or NO_NODE."""
        return (yield from self._call(GetData(path, watch)))

    def exists(self, path: str, watch: bool = False) -> ZkCall:
        """Read the stat: OK, or NO_NODE with ``stat`` None; the watch is set either way."""
        return (yield from self._call(Exists(path, watch)))

    def get_children(self, path: str, watch: bool = False) -> ZkCall:
        """List children (sorted): OK or NO_NODE."""
        return (yield from self._call(GetChildren(path, watch)))

    def multi(self, ops: Sequence[TxnOp]) -> ZkCall:
        """Apply Create/Delete/SetData/Check ops atomically."""
        return (yield from self._call(Multi(tuple(ops))))

    def make_sure_persistent_path_exists(self, path: str) -> ZkCall:
        """Create ``path`` and its missing ancestors as persistent nodes (no data); OK or
        NODE_EXISTS when done (KafkaZkClient.createRecursive)."""
        response = yield from self._call(Create(path))
        if response.error is ZkCode.NO_NODE:
            yield from self.make_sure_persistent_path_exists(parent_path(path))
            response = yield from self._call(Create(path))
        return response
