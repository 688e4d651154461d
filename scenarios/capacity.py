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

What to look for (seed 1). 3 brokers: acknowledged throughput levels off at 9,882 msg/s (99 MB/s)
instead of 15,000, and produce latency grows for as long as the run lasts
(``latency.png``: p50 5.4 s, p99 10.2 s). The producers' ``buffer.memory`` fills and
send() blocks: 301,038 records produced of the 450,000 offered. Nothing is lost and no partition
is under-replicated: a saturated cluster is slow, not broken. The consumers keep up with what is
acknowledged (``max_consumer_lag`` 130). 4 brokers are not enough either: 13,089 msg/s, p50 2.2
s and growing. 6 brokers take the whole load: 14,970 msg/s, p50 57 ms, p99 143 ms; so do 3
brokers with 10 Gbit/s NICs (``--set cluster.hardware.network_gbps=10``: p50 4.1 ms).

Why not at the line rate: with 3 brokers each NIC carries about 100 MB/s each way, 80 % of its
125, its send queue 17 ms long on average and empty a fifth of the time (``resources.png``; the
``nodes`` table's ``nic_out_utilisation`` and ``nic_out_backlog_ms``). What holds the load back
is the produce pipeline: a broker handles one request at a time per connection (Kafka mutes a
connection until it has answered its request), a request carries at most one batch per partition
(four 256 KiB batches here), and with acks=all each answer waits for the followers' next fetch,
whose responses queue behind the same NICs. Every producer keeps its 5 requests in flight to every
broker for the whole run and a batch waits 0.46 s from its close to its acknowledgement, so each
connection moves 5 requests of about 1 MB per 0.46 s: 11 MB/s, 33 MB/s a producer. More
connections fill the NICs further (``--set producers.0.count=6``: 11,354 msg/s, 113 MB/s), and so
do more brokers; a faster network shortens the round trip itself.
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
