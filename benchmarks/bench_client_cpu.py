"""Benchmark: the producer's CPU costs on this machine, for the defaults of
``cluster.hardware``'s ``producer_compress_mb_s``, ``producer_batch_us`` and
``producer_request_us``.

Run ``python benchmarks/bench_client_cpu.py [batches]`` (default 2,000).

Compression (the application's thread, in send()). Each codec compresses
batches of ``batch.size`` (16,384) bytes of records, one call per batch as Kafka's producer
compresses a batch (MemoryRecordsBuilder's compressing stream), with Kafka 3.9's default level:
gzip 6 (``Deflater.DEFAULT_COMPRESSION``, zlib), lz4's fast compressor (Lz4BlockOutputStream at
the default level), zstd 3, snappy (no level). The Python bindings call the same C libraries
Kafka's Java codecs call (zlib; lz4, zstd and snappy through JNI), so the time per byte is the
library's. Records are JSON log lines (fixed seed), the text-like data ``COMPRESSION_RATIO``
assumes, and random uppercase letters, kafka-producer-perf-test's payload. Prints, per codec
and payload, input MB/s (10^6 bytes) and the compressed size over the input, the best of 5 runs.

The sender thread. Per batch: closing it computes the CRC32C of its bytes
(DefaultRecordBatch.writeHeader); measured as zlib's CRC-32 of a 16,384-byte batch (the stdlib
has no CRC32C; both are table- or carry-less-multiply-driven loops over the bytes). Per
request: its socket write, one ``send()`` system call of a 16,384-byte request on a loopback
TCP connection (Selector.write), read off at the other end by a thread. Each in µs per call,
the best of 5 runs.
"""

from __future__ import annotations

import json
import random
import socket
import sys
import threading
import time
import zlib

import lz4.block
import snappy
import zstandard

BATCH_BYTES = 16_384  # batch.size's default
REPEATS = 5


def _json_batch(rng: random.Random) -> bytes:
    """Records like an application's JSON log lines, up to BATCH_BYTES."""
    out = bytearray()
    while len(out) < BATCH_BYTES:
        line = {
            "ts": 1_700_000_000_000 + rng.randrange(10**6),
            "level": rng.choice(["INFO", "WARN", "DEBUG"]),
            "service": rng.choice(["orders", "billing", "search"]),
            "user": f"user-{rng.randrange(10_000)}",
            "latency_ms": round(rng.expovariate(0.1), 2),
            "path": rng.choice(["/api/v1/orders", "/api/v1/cart", "/health"]),
        }
        out += json.dumps(line, separators=(",", ":")).encode() + b"\n"
    return bytes(out[:BATCH_BYTES])


def _letters_batch(rng: random.Random) -> bytes:
    """ProducerPerformance.generateRandomPayload: random letters 'A' to 'Z'."""
    return bytes(65 + rng.randrange(26) for _ in range(BATCH_BYTES))


CODECS = {
    "gzip": lambda b: zlib.compress(b, 6),
    "snappy": snappy.compress,
    "lz4": lz4.block.compress,
    "zstd": zstandard.ZstdCompressor(level=3).compress,
}


def measure(batches: list[bytes]) -> dict[str, tuple[float, float]]:
    """Per codec: (input MB/s, compressed bytes / input bytes), best of REPEATS."""
    total = sum(len(b) for b in batches)
    out = {}
    for name, compress in CODECS.items():
        best = float("inf")
        for _ in range(REPEATS):
            start = time.perf_counter()
            size = sum(len(compress(b)) for b in batches)
            best = min(best, time.perf_counter() - start)
        out[name] = (total / best / 1e6, size / total)
    return out


def _best_us(calls: int, fn) -> float:
    """The fastest of REPEATS runs of ``calls`` calls of ``fn``, µs per call."""
    best = float("inf")
    for _ in range(REPEATS):
        start = time.perf_counter()
        for _ in range(calls):
            fn()
        best = min(best, time.perf_counter() - start)
    return best / calls * 1e6


def crc_us(batch: bytes) -> float:
    """µs to checksum one batch."""
    return _best_us(20_000, lambda: zlib.crc32(batch))


def socket_send_us(request: bytes, calls: int = 20_000) -> float:
    """µs per send() system call of ``request`` on a loopback TCP connection drained by a
    reader thread."""
    server = socket.create_server(("127.0.0.1", 0))
    client = socket.create_connection(server.getsockname())
    peer, _ = server.accept()
    done = threading.Event()

    def drain() -> None:
        while not done.is_set() and peer.recv(1 << 20):
            pass

    reader = threading.Thread(target=drain, daemon=True)
    reader.start()
    try:
        return _best_us(calls, lambda: client.sendall(request))
    finally:
        done.set()
        client.close()
        peer.close()
        server.close()


def main() -> None:
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 2000
    rng = random.Random(1)
    json_batches = [_json_batch(rng) for _ in range(count)]
    letter_batches = [_letters_batch(rng) for _ in range(count // 10)]
    results = {"json": measure(json_batches), "letters": measure(letter_batches)}
    print("| codec | JSON MB/s | JSON ratio | letters MB/s | letters ratio |")
    print("|---|---|---|---|---|")
    for name in CODECS:
        (jm, jr), (lm, lr) = results["json"][name], results["letters"][name]
        print(f"| {name} | {jm:,.0f} | {jr:.2f} | {lm:,.0f} | {lr:.2f} |")
    print(f"\nper batch (CRC of {BATCH_BYTES:,} bytes): {crc_us(json_batches[0]):.2f} µs")
    send_us = socket_send_us(json_batches[0])
    print(f"per request (socket send of {BATCH_BYTES:,} bytes): {send_us:.2f} µs")
    small, large = 1024, 65_536
    small_us = socket_send_us(bytes(small))
    large_us = socket_send_us(bytes(large), calls=5_000)
    per_byte_us = (large_us - small_us) / (large - small)
    print(
        f"socket send: {small_us:.2f} µs for {small:,} bytes, {large_us:.2f} µs for {large:,}: "
        f"{small_us - small * per_byte_us:.2f} µs + {1 / per_byte_us:,.0f} MB/s"
    )


if __name__ == "__main__":
    main()
