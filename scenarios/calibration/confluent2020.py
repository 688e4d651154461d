"""Confluent 2020: "Benchmarking Apache Kafka, Apache Pulsar, and RabbitMQ: Which is the
Fastest?", Alok Nikhil and Vinoth Chandar, Confluent blog, August 2020: Kafka 2.6 under the
OpenMessaging Benchmark.

Built from the published hardware and settings only; the settings and raw results are in the
repository github.com/confluentinc/openmessaging-benchmark (commit 08e2fee, "Fixes for
Benchmarking Kafka/RabbitMQ/Pulsar", 20 August 2020): ``driver-kafka/deploy/`` (machines,
broker properties), ``driver-kafka/kafka-group-all.yaml`` (clients), ``blog/workloads/`` and
``blog/results/kafka/``.

Machines (``driver-kafka/deploy/terraform.tfvars``): three brokers on i3en.2xlarge (8 vCPU,
64 GiB, two 2,500 GB NVMe SSDs, network up to 25 Gb/s), four clients on c5n.2xlarge (up to
25 Gb/s). Brokers (``templates/server.properties``): ``num.network.threads`` 8,
``num.replica.fetchers`` 8, the two NVMe disks as two log directories (JBOD, xfs), a 6 GiB heap
(``templates/kafka.service``): ``page_cache_mb`` 64 GiB less the heap. The model has one disk
per broker: ``disk_write_mb_s`` is the model's default (the post does not give the disks'
throughput). ``cpu_cores`` 8: the brokers' 8 vCPUs, each counted as a core; the model gives the
producers' machines the same figure (the sources quoted here do not give the c5n.2xlarge's).

Workload (``blog/workloads/1-topic-100-partitions-1kb-4-producers-*-rate.yaml``): one topic of
100 partitions, RF 3, ``min.insync.replicas`` 2, 1,024-byte records, four producers and one
subscription of four consumers. Throughput (``1000k-rate``, rate above what the cluster
takes): ``acks=all``, ``linger.ms`` 10, ``batch.size`` 1 MiB (``kafka-group-all.yaml``); the
blog's peak 605 MB/s is ``blog/results/kafka/throughput/default-sync.json``: 618,991 records/s
of 1,024 bytes (mean of its 60 samples), 633.8 MB/s or 604.5 MiB/s. Here the producers run
closed loop (OMB's rate is above what the brokers take, so its producers are held by the
cluster as a closed loop is). Latency (``200k-rate``): 200,000 records/s (50,000 per
producer), ``linger.ms`` 1 and ``batch.size`` 128 KiB (``kafka-sync-group-all-1ms.yaml``'s
client settings); the blog's p99 of 5 ms is the end-to-end p99 of
``blog/results/kafka/latency/default-sync-200k.json`` (5.43 ms; publish p99 4.35 ms, p50 2.15).
"Default" is Kafka's own durability (the page cache, no ``flush.messages``): the other runs of
the repository (``sync*.json``) fsync every record.

``ROWS``/``PUBLISHED`` (records/s) and ``LATENCY``/``PUBLISHED_LATENCY_MS`` (publish and
end-to-end); ``benchmarks/calibrate.py`` runs them.
"""

from __future__ import annotations

import copy

#: records/s published for each row (default-sync.json, the mean of its publishRate samples)
PUBLISHED = {"peak, 4 producers, acks=all": 618_991}

#: published latency at 200,000 records/s, ms (default-sync-200k.json, aggregated): publish
#: (send() to its callback) and end-to-end
PUBLISHED_LATENCY_MS = {
    "produce p50": 2.146,
    "produce p99": 4.349,
    "e2e p50": 3.004,
    "e2e p99": 5.434,
}

_GIB_MB = 1024.0

_BASE = {
    "name": "confluent2020",
    "seed": 1,
    "duration_s": 2.0,
    "cluster": {
        "brokers": 3,
        "coordination": "zookeeper",
        "config": {
            "num.network.threads": 8,
            "num.replica.fetchers": 8,
            "group.initial.rebalance.delay.ms": 0,
        },
        "hardware": {"network_gbps": 25.0, "page_cache_mb": (64 - 6) * _GIB_MB, "cpu_cores": 8},
    },
    "topics": [
        {
            "name": "test",
            "partitions": 100,
            "replication_factor": 3,
            "config": {"min.insync.replicas": 2},
        }
    ],
    "producers": [
        {
            "name": "omb",
            "count": 4,
            "topic": "test",
            "message_bytes": 1024,
            "arrival": {"kind": "closed_loop"},
            "config": {"acks": "all", "linger.ms": 10, "batch.size": 1_048_576},
        }
    ],
    "consumer_groups": [
        {
            "group_id": "bench-group",
            "members": 4,
            "topics": ["test"],
            "config": {
                "auto.offset.reset": "earliest",
                "enable.auto.commit": False,
                "max.partition.fetch.bytes": 1_048_576,
            },
        }
    ],
}

ROWS = {"peak, 4 producers, acks=all": copy.deepcopy(_BASE)}


def _latency() -> dict:
    scenario = copy.deepcopy(_BASE)
    producer = scenario["producers"][0]
    producer["arrival"] = {"kind": "constant"}
    producer["rate_msgs_s"] = 50_000
    producer["config"] = {"acks": "all", "linger.ms": 1, "batch.size": 131_072}
    scenario["consumer_groups"][0]["config"]["max.partition.fetch.bytes"] = 131_072
    return scenario


LATENCY = _latency()


def build() -> dict:
    """The peak throughput row."""
    return ROWS["peak, 4 producers, acks=all"]
