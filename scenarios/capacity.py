"""How many brokers for 150 MB/s? With RF 3 every byte crosses each broker's NIC several times.

Brokers with 1 Gbit/s NICs (125 MB/s each way) and 500 MB/s disks; topic ``clicks`` with 12
partitions, RF 3, min.insync.replicas 2; three producers at 5,000 msg/s each of 10 kB records
(150 MB/s in all) with acks=all, linger.ms 5 and batch.size 256 KiB; a consumer group of 3
reading everything; 30 s, no faults.

Question: how many brokers does this load need? Compare::

    kafkasim run scenarios/capacity.py                        # 3 brokers
    kafkasim run scenarios/capacity.py --set cluster.brokers=4
    kafkasim run scenarios/capacity.py --set cluster.brokers=6

Arithmetic first: with B brokers each leads 1/B of the partitions, so its NIC takes in 1/B of the
producers' bytes plus 2/B as a follower, and sends 2/B to its followers plus 1/B to the
consumers: 3 × 150 / B MB/s each way, 150 MB/s for B = 3 (more than the NIC's 125), 112 for B = 4,
75 for B = 6. Disks write the same 3 × 150 / B MB/s, well under 500.

What to look for (seed 1). 3 brokers: acknowledged throughput levels off at 9,882 msg/s (99 MB/s;
the NICs each carry about 97 MB/s out, queued to the end of the run) instead of 15,000, and
produce latency grows for as long as the run lasts (``throughput_latency.png``: p99 from 0 to
10 s in 30 s; p50 1.5 s for the records sent in the first 5 s, 9.0 s in 15-20 s, and the
records sent after 20 s are not acknowledged by the end). The producers' ``buffer.memory`` fills
and send() blocks: 301,038 records produced of the 450,000 offered. Nothing is lost and no
partition is under-replicated: a saturated cluster is slow, not broken. The consumers keep up
with what is acknowledged (``max_consumer_lag`` 130). 4 brokers are not enough either: 13,089
msg/s, p50 2.2 s and growing. 6 brokers take the whole load: 14,970 msg/s, p50 57 ms, p99 143
ms. So the NICs saturate at about 100 MB/s each way, near 80 % of the line rate, and the answer
is 6 brokers (or faster NICs: ``--set cluster.hardware.network_gbps=10`` serves it with 3 brokers
at p50 4.1 ms).
"""

SCENARIO = {
    "name": "capacity",
    "seed": 1,
    "duration_s": 30.0,
    "cluster": {
        "brokers": 3,
        "config": {"group.initial.rebalance.delay.ms": 0},
        "hardware": {"network_gbps": 1, "disk_write_mb_s": 500},
    },
    "topics": [
        {
            "name": "clicks",
            "partitions": 12,
            "replication_factor": 3,
            "config": {"min.insync.replicas": 2},
        }
    ],
    "producers": [
        {
            "name": "app",
            "count": 3,
            "topic": "clicks",
            "rate_msgs_s": 5_000,
            "message_bytes": 10_000,
            "config": {"acks": "all", "linger.ms": 5, "batch.size": 262_144},
        }
    ],
    "consumer_groups": [
        {
            "group_id": "analytics",
            "members": 3,
            "topics": ["clicks"],
            "config": {"auto.offset.reset": "earliest"},
        }
    ],
}
