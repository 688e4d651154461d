"""Kreps 2014, producer rows: "Benchmarking Apache Kafka: 2 Million Writes Per Second (On Three
Cheap Machines)", Jay Kreps, LinkedIn engineering blog, 27 April 2014.

Built from the published hardware and settings only. Six machines: three brokers, the others
running ZooKeeper and the producers; each an Intel Xeon 2.5 GHz with six cores, six 7200 RPM
SATA drives, 32 GB of RAM and 1 Gb Ethernet. The producer is kafka-producer-perf-test
(ProducerPerformance) with ``--throughput -1`` sending 50 million 100-byte records without key
to a topic of 6 partitions, with ``batch.size=8196 buffer.memory=67108864 acks=1``; the
synchronous row sets ``acks=-1 batch.size=64000``. "Three producers" runs that command on three
machines at once against a topic with replication factor 3. These settings are the post's
companion list of commands (a gist, not reachable from here), as copied into public repositories
(for one: ``--record-size 100 ... acks=-1 buffer.memory=67108864 batch.size=8196`` and 6
partitions, 50,000,000 records).

Hardware: ``network_gbps`` 1 (1 GbE); ``disk_write_mb_s`` 600, Kafka's documentation for six
7200 rpm SATA drives ("the performance of linear writes on a JBOD configuration with six 7200rpm
SATA RAID-5 array is about 600MB/sec", design, "Don't fear the filesystem!");
``page_cache_mb`` 32 GB less 4 GB for the JVM heap and the OS; ``cpu_cores`` 6, the post's six
cores, on the brokers and the producers' machines alike. The runs are shorter than the
50 million records (``duration_s``): each is a steady state after its first second.

End-to-end latency (``LATENCY``): the post's TestEndToEndLatency sends one record at a time
and waits for a consumer to receive it, through the replicated topic; published median 2 ms,
99th percentile 3 ms. The tool as Kreps ran it (Kafka commit 02311c0, 22 April 2014,
"KAFKA-1468 Misc. improvements from benchmarking", five days before the post): the 21-byte
value "hello there beautiful", the producer's default acks (1) and ``linger.ms`` 0, a consumer
with ``fetch.wait.max.ms`` 1 (3.9's ``fetch.max.wait.ms``); each latency kept in whole ms,
truncated. Here one record every 10 ms (far apart: none waits for another), one consumer.

Consumer rows (``CONSUMER_ROWS``): the post's kafka-consumer-perf-test reads 50 million
records of the same 6-partition, RF 3 topic on a machine of its own, from the start of the log.
Here a closed-loop producer first fills the log with ``FILL_RECORDS`` records (``num_records``),
then the consumers start at ``CONSUMER_START_S`` with ``auto.offset.reset`` earliest; only their
rate counts. "Three consumers" runs the tool on three machines at once, each in a group of its
own (the tool's group id is random per run: ConsumerPerformance, Kafka 0.8.1), so each reads
every record. "Producer and consumer" runs one of each at once from an empty log. The brokers
set ``group.initial.rebalance.delay.ms`` 0: the 2014 consumer joined through ZooKeeper with no
such delay (the setting came with Kafka 0.11, KIP-134), and 3 s of it would leave a short run
empty.

``ROWS`` holds each producer row's scenario, ``PUBLISHED`` its published records/s,
``CONSUMER_ROWS`` and ``PUBLISHED_CONSUMER`` the same for the consumer rows (records/s polled,
all consumers together); ``benchmarks/calibrate.py`` runs them. ``build()`` gives the first row.
"""

from __future__ import annotations

import copy

#: records/s published for each row
PUBLISHED = {
    "1 producer, RF 1": 821_557,
    "1 producer, RF 3 async (acks=1)": 786_980,
    "1 producer, RF 3 sync (acks=all)": 421_823,
    "3 producers, RF 3 async (acks=1)": 2_024_032,
}

_PRODUCER_CONFIG = {"acks": "1", "batch.size": 8196, "buffer.memory": 67_108_864}

_BASE = {
    "name": "kreps2014",
    "seed": 1,
    "duration_s": 4.0,
    "cluster": {
        "brokers": 3,
        "coordination": "zookeeper",
        "hardware": {
            "network_gbps": 1.0,
            "disk_write_mb_s": 600.0,
            "page_cache_mb": 28_672.0,
            "cpu_cores": 6,
        },
    },
    "topics": [{"name": "test", "partitions": 6, "replication_factor": 1}],
    "producers": [
        {
            "name": "perf",
            "count": 1,
            "topic": "test",
            "message_bytes": 100,
            "arrival": {"kind": "closed_loop"},
            "config": _PRODUCER_CONFIG,
        }
    ],
}


def _row(replication_factor: int, producers: int = 1, **config) -> dict:
    scenario = copy.deepcopy(_BASE)
    scenario["topics"][0]["replication_factor"] = replication_factor
    producer = scenario["producers"][0]
    producer["count"] = producers
    producer["config"] = {**_PRODUCER_CONFIG, **config}
    return scenario


ROWS = {
    "1 producer, RF 1": _row(1),
    "1 producer, RF 3 async (acks=1)": _row(3),
    "1 producer, RF 3 sync (acks=all)": _row(3, **{"acks": "all", "batch.size": 64_000}),
    "3 producers, RF 3 async (acks=1)": _row(3, producers=3),
}


#: records/s published for each consumer row, all consumers together
PUBLISHED_CONSUMER = {
    "1 consumer": 940_521,
    "3 consumers (one group each)": 2_615_968,
    "1 producer and 1 consumer at once": 795_064,
}

#: records the producer writes before the consumers of a read row start
FILL_RECORDS = 2_000_000
#: when those consumers start (the fill takes about 2.3 s at the producer's 877,000 records/s)
CONSUMER_START_S = 3.0


def _consumer_row(consumers: int, fill: bool = True) -> dict:
    scenario = _row(3)
    scenario["cluster"]["config"] = {"group.initial.rebalance.delay.ms": 0}
    start_s = CONSUMER_START_S if fill else 0.0
    if fill:
        scenario["producers"][0]["arrival"]["num_records"] = FILL_RECORDS
    scenario["duration_s"] = start_s + 2.5
    scenario["consumer_groups"] = [
        {
            "group_id": f"perf-consumer-{i}",
            "topics": ["test"],
            "start_s": start_s,
            "config": {"auto.offset.reset": "earliest"},
        }
        for i in range(consumers)
    ]
    return scenario


CONSUMER_ROWS = {
    "1 consumer": _consumer_row(1),
    "3 consumers (one group each)": _consumer_row(3),
    "1 producer and 1 consumer at once": _consumer_row(1, fill=False),
}


#: published end-to-end latency, ms (the tool's whole ms, truncated)
PUBLISHED_LATENCY_MS = {"e2e p50": 2.0, "e2e p99": 3.0}


def _latency() -> dict:
    scenario = _row(3)
    scenario["duration_s"] = 12.0
    producer = scenario["producers"][0]
    producer["arrival"] = {"kind": "constant"}
    producer["rate_msgs_s"] = 100
    producer["message_bytes"] = len(b"hello there beautiful")
    producer["config"] = {"acks": "1", "linger.ms": 0}
    scenario["consumer_groups"] = [
        {
            "group_id": "e2e",
            "members": 1,
            "topics": ["test"],
            "config": {"auto.offset.reset": "latest", "fetch.max.wait.ms": 1},
        }
    ]
    return scenario


LATENCY = _latency()


def build() -> dict:
    """The first row: one producer, no replication."""
    return ROWS["1 producer, RF 1"]
