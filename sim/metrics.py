"""Columnar recorders: one list per column, one append per batch or event, a DataFrame at the end.

Components record through :class:`Metrics` (never objects per message): ``produced`` when a batch
is closed, ``acked`` when its final answer arrives, ``consumed`` per poll and partition, ``events``
for cluster happenings. The time series are derived at the end from these rows and from samples
taken every ``interval_s`` (consumer lag, under-replicated partitions).
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from itertools import count
from operator import itemgetter

import numpy as np
import pandas as pd

from sim.events import EventKind
from sim.results import TABLES, unsplit
from sim.timelines import interval_quantiles

#: The value of each events column a row does not set (see :meth:`Metrics.event`).
EVENT_DEFAULTS: dict[str, object] = {
    "node": "",
    "topic": "",
    "partition": -1,
    "broker": -1,
    "fault": "",
    "group": "",
    "generation": -1,
    "member": "",
    "epoch": -1,
    "outcome": "",
    "duration_s": math.nan,
    "detail": "",
}


def events_frame(rows: Iterable[dict]) -> pd.DataFrame:
    """An ``events`` table from rows given as dicts of the columns they set (time_s and kind at
    least); the other columns take :data:`EVENT_DEFAULTS`. For tests and hand-made timelines."""
    spec = TABLES["events"]
    full = [{**EVENT_DEFAULTS, **row} for row in rows]
    data = {c.name: pd.Series([r[c.name] for r in full], dtype=c.dtype) for c in spec}
    return pd.DataFrame(data)


class Table:
    """Rows of one table of :data:`sim.results.TABLES`.

    Rows are kept as tuples (:attr:`append_row`) and turned into columns once, at the end:
    appending a tuple costs a fifth of appending each value to its column list, and the row
    tables take one row per batch or poll.
    """

    def __init__(self, name: str) -> None:
        self.name = name
        self.columns = [c.name for c in TABLES[name]]
        self._rows: list[tuple] = []
        #: append_row(row): append one row, a tuple of values in the documented column order
        #: (checked by :meth:`frame`); the list's own append, so no Python call (the clients
        #: add one row per batch: 8 M instructions of the default scenario's 3,240 M)
        self.append_row = self._rows.append

    def __len__(self) -> int:
        return len(self._rows)

    def column(self, name: str) -> list:
        """The values recorded so far in column ``name`` (a new list)."""
        i = self.columns.index(name)
        return [row[i] for row in self._rows]

    def frame(self) -> pd.DataFrame:
        """The rows as a DataFrame with the documented columns, each built straight into its
        documented dtype (numbers by ``np.fromiter``: no list of Python objects per column for
        pandas to infer a type from, which cost seconds on long runs)."""
        rows = self._rows
        spec = TABLES[self.name]
        widths = set(map(len, rows))
        if widths - {len(spec)}:
            raise ValueError(
                f"table {self.name}: rows of {sorted(widths)} values, columns {self.columns}"
            )
        data = {}
        for i, column in enumerate(spec):
            values = map(itemgetter(i), rows)
            if column.dtype == "string":
                data[column.name] = pd.array(list(values), dtype="string")
            else:
                data[column.name] = np.fromiter(values, dtype=column.dtype, count=len(rows))
        return pd.DataFrame(data)


class Metrics:
    """All recorders of one run, plus periodic samples for the time series.

    interval_s: width of a time-series interval, seconds.
    """

    def __init__(self, interval_s: float = 1.0) -> None:
        self.interval_s = interval_s
        self.produced = Table("produced")
        self.acked = Table("acked")
        self.consumed = Table("consumed")
        self.events = Table("events")
        self.deserialization_errors = Table("deserialization_errors")
        self.assignments = Table("assignments")
        self.nodes = Table("nodes")
        self.samples: list[tuple[float, int, int]] = []  # (time, max lag, under-replicated)
        #: new_batch_id(): a run-unique batch id, 0, 1, 2, ... (a C call: one per batch)
        self.new_batch_id = count().__next__

    def event(
        self,
        time_s: float,
        kind: EventKind,
        node: str = "",
        topic: str = "",
        partition: int = -1,
        detail: str = "",
        *,
        broker: int = -1,
        fault: str = "",
        group: str = "",
        generation: int = -1,
        member: str = "",
        epoch: int = -1,
        outcome: str = "",
        duration_s: float = math.nan,
    ) -> None:
        """Record a cluster event (fault, election, ISR change, ...): its kind, its facts in
        columns (TABLES["events"]), and ``detail`` for people."""
        self.events.append_row(
            (time_s, str(kind), node, topic, partition, broker, fault, group, generation, member,
             epoch, str(outcome), duration_s, detail)
        )  # fmt: skip

    def sample(self, time_s: float, max_lag: int, under_replicated: int) -> None:
        """Record the gauges at the end of an interval."""
        self.samples.append((time_s, max_lag, under_replicated))

    def timeseries(
        self,
        duration_s: float,
        produced: pd.DataFrame,
        acked: pd.DataFrame,
        consumed: pd.DataFrame,
    ) -> pd.DataFrame:
        """Rates per interval from the run's tables (the :meth:`Table.frame` of ``produced``,
        ``acked`` and ``consumed``), gauges from the samples (TABLES['timeseries'])."""
        edges = np.arange(0.0, duration_s + self.interval_s / 2, self.interval_s)
        if edges[-1] < duration_s:
            edges = np.append(edges, duration_s)
        ends = edges[1:]
        widths = np.diff(edges)
        counts = (
            produced.set_index("batch_id")["count"] if len(produced) else pd.Series(dtype=float)
        )
        ok = acked[acked["error"] == ""] if len(acked) else acked
        ok_counts = counts.reindex(ok["batch_id"]).to_numpy(dtype=float) if len(ok) else np.zeros(0)
        handed = unsplit(produced, acked)
        rates = {
            "produced_msgs_s": _rate(
                handed.get("first_arrival_s", []), handed.get("count", []), edges, widths
            ),
            "acked_msgs_s": _rate(ok.get("done_s", []), ok_counts, edges, widths),
            "consumed_msgs_s": _rate(
                consumed.get("polled_s", []), consumed.get("count", []), edges, widths
            ),
        }
        p99 = interval_quantiles(
            ok.get("done_s", []), ok.get("latency_s", []), ok_counts, edges, 0.99
        )
        lag, urp = _gauges(self.samples, ends)
        return pd.DataFrame(
            {
                "time_s": ends,
                **rates,
                "produce_latency_p99_ms": p99 * 1e3,
                "max_consumer_lag": lag,
                "under_replicated_partitions": urp,
            }
        )


def _rate(times: Iterable, weights: Iterable, edges: np.ndarray, widths: np.ndarray) -> np.ndarray:
    times = np.asarray(times, dtype=float)
    if times.size == 0:
        return np.zeros(len(widths))
    sums, _ = np.histogram(times, bins=edges, weights=np.asarray(weights, dtype=float))
    return sums / widths


def _gauges(
    samples: list[tuple[float, int, int]], ends: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """The last sample at or before each interval end (0 before the first sample)."""
    lag = np.zeros(len(ends), dtype=np.int64)
    urp = np.zeros(len(ends), dtype=np.int32)
    if not samples:
        return lag, urp
    times = np.array([s[0] for s in samples])
    idx = np.searchsorted(times, ends + 1e-9, side="right") - 1
    have = idx >= 0
    lag[have] = np.array([s[1] for s in samples])[idx[have]]
    urp[have] = np.array([s[2] for s in samples])[idx[have]]
    return lag, urp
