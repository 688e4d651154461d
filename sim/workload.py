"""What a producer's application sends: arrival times, keys and sizes, drawn as arrays per window.

A workload never makes an object per record: :meth:`Workload.arrivals` returns the records that
arrive in a time window as numpy arrays (times in seconds, key ids, value sizes in bytes). Message
formats set the value size by really encoding the scenario's sample record: JSON
with ``json``, Avro with fastavro's binary encoding (plus the 5-byte schema-registry header when a
registry is in use).
"""

from __future__ import annotations

import io
import json
import math
from dataclasses import dataclass

import numpy as np

from sim.scenario import ProducerSpec

#: Confluent wire format header: magic byte + 4-byte schema id.
SCHEMA_REGISTRY_HEADER_BYTES = 5


def encoded_value_bytes(spec: ProducerSpec, schema_registry: bool = False) -> int:
    """Size in bytes of one record value in the producer's format."""
    fmt = spec.format
    if fmt.kind == "bytes":
        return spec.message_bytes
    if fmt.kind == "json":
        return len(json.dumps(fmt.sample, separators=(",", ":")).encode("utf-8"))
    import fastavro

    out = io.BytesIO()
    fastavro.schemaless_writer(out, fastavro.parse_schema(fmt.schema_), fmt.sample)
    header = SCHEMA_REGISTRY_HEADER_BYTES if schema_registry else 0
    return len(out.getvalue()) + header


@dataclass(slots=True)
class Arrivals:
    """Records arriving in a window: times (s, sorted), key ids (or None), value sizes (bytes)."""

    times: np.ndarray
    keys: np.ndarray | None
    sizes: np.ndarray

    def __len__(self) -> int:
        return len(self.times)


class Workload:
    """The record stream of one producer client.

    rng: the client's own random stream. value_bytes: mean value size (from the format).
    send_s: CPU time of the application's thread per send() call, s: a closed loop
    (``arrival.kind`` "closed_loop") calls send() once per this, except while one blocks
    (:meth:`hold`, :meth:`resume`).
    """

    def __init__(
        self,
        spec: ProducerSpec,
        rng: np.random.Generator,
        value_bytes: int,
        send_s: float = 0.0,
    ) -> None:
        self.spec = spec
        self.rng = rng
        self.rate = spec.rate_msgs_s
        self.value_bytes = value_bytes
        self.send_s = send_s
        self.closed_loop = spec.arrival.kind == "closed_loop"
        if self.closed_loop and not send_s > 0:
            raise ValueError("a closed loop needs a positive send() time (send_s)")
        #: a closed loop's application waits in a blocked send(): it calls no other
        self.held = False
        self._next_constant = spec.start_s
        self._zipf_cdf = (
            _zipf_cdf(spec.keys.cardinality, spec.keys.zipf_s) if spec.keys.kind == "zipf" else None
        )
        self.key_bytes = spec.key_bytes if spec.key_bytes is not None else default_key_bytes(spec)
        #: records drawn so far (every window's, refused ones included)
        self.drawn = 0
        #: the last window drawn, [from, until) s, and its arrival times (nothing arrives
        #: before ``start_s``: before any draw, the records up to there are known, none)
        self._last_window = (-np.inf, spec.start_s)
        self._last_times = np.empty(0)

    def arrivals(self, t0: float, t1: float) -> Arrivals:
        """The records arriving in [t0, t1), clipped to the producer's start_s/stop_s. Windows
        are drawn in order, each starting where the last ended (as the producer draws them)."""
        start = max(t0, self.spec.start_s)
        stop = t1 if self.spec.stop_s is None else min(t1, self.spec.stop_s)
        times = self._times(start, stop) if stop > start else np.empty(0)
        self.drawn += len(times)
        self._last_window = (t0, t1)
        self._last_times = times
        return Arrivals(times, self._keys(len(times)), self._sizes(len(times)))

    def offered_before(self, end_s: float) -> int:
        """Records arriving before ``end_s``, s: the application's send() calls by then. Raises
        RuntimeError unless ``end_s`` falls in the last window drawn or at its end (or anywhere
        after it once ``stop_s`` is drawn): the records before ``end_s`` must all be drawn, and
        only the last window's may arrive later."""
        first_s, until_s = self._last_window
        stop_s = self.spec.stop_s
        drawn_until = np.inf if stop_s is not None and stop_s <= until_s else until_s
        if not first_s <= end_s <= drawn_until:
            raise RuntimeError(
                f"records are drawn in [{first_s}, {until_s}) last: cannot count those before "
                f"{end_s} s"
            )
        later = len(self._last_times) - int(np.searchsorted(self._last_times, end_s, "left"))
        return self.drawn - later

    def send_cpu_s(self, end_s: float) -> float:
        """CPU seconds the application's thread spent in send() before ``end_s``, s: ``send_s``
        per record drawn that arrived before then (the records not drawn yet count once the
        producer draws them). The send() times are set in advance (``send_s`` apart in a closed
        loop; the arrival times otherwise), so no other thread holds the thread up: this counts
        its CPU time, it does not contend for a core."""
        return self.send_s * self.offered_before(min(end_s, self._last_window[1]))

    def hold(self, count: int) -> None:
        """A closed loop's send() blocks (no memory): the last ``count`` records drawn, those
        after it, were never called, and none is until :meth:`resume`."""
        self.drawn -= count
        self._last_times = self._last_times[: max(len(self._last_times) - count, 0)]
        self.held = True

    def resume(self, now: float) -> None:
        """The blocked send() returned at ``now``, s: the next call starts then."""
        self.held = False
        self._next_constant = now

    def _times(self, t0: float, t1: float) -> np.ndarray:
        kind = self.spec.arrival.kind
        if kind == "constant":
            return self._constant(t0, t1, 1.0 / self.rate)
        if kind == "closed_loop":
            return self._closed_loop(t0, t1)
        if kind == "poisson":
            return self._poisson(t0, t1, self.rate)
        return self._bursts(t0, t1)

    def _constant(self, t0: float, t1: float, gap_s: float) -> np.ndarray:
        """Evenly spaced times in [t0, t1), ``gap_s`` apart, continuing the last window's."""
        first = max(self._next_constant, t0)
        times = np.arange(first, t1, gap_s)
        self._next_constant = times[-1] + gap_s if len(times) else first
        return times

    def _closed_loop(self, t0: float, t1: float) -> np.ndarray:
        """ProducerPerformance with ``--throughput -1``: a send() call every ``send_s`` (none
        while one is held), up to ``num_records`` in all."""
        if self.held:
            return np.empty(0)
        times = self._constant(t0, t1, self.send_s)
        limit = self.spec.arrival.num_records
        if limit is not None and len(times) > limit - self.drawn:
            times = times[: max(limit - self.drawn, 0)]
        return times

    def _poisson(self, t0: float, t1: float, rate: float) -> np.ndarray:
        """A Poisson process on [t0, t1): a Poisson count, then sorted uniform times."""
        if rate <= 0 or t1 <= t0:
            return np.empty(0)
        n = self.rng.poisson(rate * (t1 - t0))
        return np.sort(self.rng.uniform(t0, t1, n))

    def _bursts(self, t0: float, t1: float) -> np.ndarray:
        """Poisson at rate × burst_factor for burst_s of every period_s, lower between bursts.

        Periods are counted from start_s by their index, so a window edge that rounding puts
        a hair before the true one (1.0 + 0.19999999999999996 == 1.2) still moves on."""
        arrival = self.spec.arrival
        high = self.rate * arrival.burst_factor
        low = (
            self.rate
            * (arrival.period_s - arrival.burst_factor * arrival.burst_s)
            / (arrival.period_s - arrival.burst_s)
        )
        start, period = self.spec.start_s, arrival.period_s
        k = math.floor((t0 - start) / period)
        while k > 0 and start + k * period > t0:
            k -= 1
        pieces = []
        t = t0
        while t < t1:
            begin = start + k * period
            burst_end = min(begin + arrival.burst_s, begin + period)
            for lo, hi, rate in ((begin, burst_end, high), (burst_end, begin + period, low)):
                a, b = max(lo, t), min(hi, t1)
                if b > a:
                    pieces.append(self._poisson(a, b, rate))
            t = max(t, min(begin + period, t1))
            k += 1
        return np.concatenate(pieces) if pieces else np.empty(0)

    def _keys(self, n: int) -> np.ndarray | None:
        keys = self.spec.keys
        if keys.kind == "none":
            return None
        if keys.kind == "uniform":
            return self.rng.integers(0, keys.cardinality, n)
        return np.searchsorted(self._zipf_cdf, self.rng.random(n), side="right").astype(np.int64)

    def _sizes(self, n: int) -> np.ndarray:
        mean = self.value_bytes
        spread = self.spec.message_bytes_spread
        dist = self.spec.message_bytes_dist
        if dist == "fixed" or spread == 0 or self.spec.format.kind != "bytes":
            return np.full(n, mean, dtype=np.int64)
        if dist == "uniform":
            return self.rng.integers(int(mean * (1 - spread)), int(mean * (1 + spread)) + 1, n)
        sigma = spread
        mu = np.log(max(mean, 1)) - sigma**2 / 2  # keeps the mean at `mean`
        return np.maximum(np.rint(self.rng.lognormal(mu, sigma, n)), 0).astype(np.int64)


def _zipf_cdf(cardinality: int, s: float) -> np.ndarray:
    """Cumulative probabilities of key ranks 1..cardinality, P(k) ∝ 1/k^s."""
    weights = 1.0 / np.arange(1, cardinality + 1) ** s
    cdf = np.cumsum(weights)
    return cdf / cdf[-1]


def default_key_bytes(spec: ProducerSpec) -> int:
    """Bytes of a serialized key "key-<id>" (StringSerializer), for the largest id."""
    if spec.keys.kind == "none":
        return 0
    return len(f"key-{spec.keys.cardinality - 1}")


def key_bytes_of(ids: np.ndarray | list[int]) -> list[bytes]:
    """The serialized keys of key ids: "key-<id>" in UTF-8 (StringSerializer)."""
    return [f"key-{i}".encode() for i in ids]
