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
consumers: 3 × 150 / B MB/s each way, 150 MB/s for B = 3, 112 for B = 4, 75 for B = 6. A 1 Gbit/s
NIC carries 125 MB/s on the wire, 117.7 MB/s of it Kafka's bytes (each 1,448-byte TCP packet adds
90 bytes of headers and framing): 3 brokers are too few, 4 just enough. Disks write the same
3 × 150 / B MB/s, well under 500.

What to look for (seed 1). 3 brokers: acknowledged throughput levels off at 11,137 msg/s
(111 MB/s) instead of 15,000, and produce latency grows for as long as the run lasts
(``latency.png``: p50 4.1 s, p99 7.7 s). The producers' ``buffer.memory`` fills and send()
blocks: 338,721 records produced of the 450,000 offered. Nothing is lost and no partition is
under-replicated: a saturated cluster is slow, not broken. The consumers keep up with what is
acknowledged (``max_consumer_lag`` 78). 4 brokers take 14,717 msg/s, but at 95 % of their NICs'
capacity batches queue: p50 0.55 s. 6 brokers take the whole load with room: 14,991 msg/s, p50
18 ms, p99 70 ms; so do 3 brokers with 10 Gbit/s NICs (``--set cluster.hardware.network_gbps=10``:
p50 4.4 ms).

What holds 3 brokers: their NICs, each at 0.96 of its line rate both ways (``resources.png``;
the ``nodes`` table's ``nic_out_utilisation`` counts the wire, ``nic_out_mb_s`` Kafka's bytes,
about 112.6 MB/s), their send queues 16 to 20 ms long. The produce pipeline keeps them that busy:
every producer keeps its 5 requests in flight to every broker (a broker handles one request at
a time per connection, and with acks=all each answer waits for the followers' next fetch), and a
follower's fetch request or a produce answer, one TCP packet, goes ahead of the batches queued on
a NIC, as Linux's fq_codel lets a new flow's first packet ahead. More producers do not help
(``--set producers.0.count=6``: 11,013 msg/s); more brokers or a faster network do.
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
