"""One broker's disk becomes 100 times slower: a slow follower that still keeps up is never
dropped from the ISR, so it slows every acks=all write down to its own disk's speed.

3 brokers with 500 MB/s disks and 512 MB of page cache each; topic ``orders`` with 6 partitions,
RF 3, min.insync.replicas 2; one keyed producer at 1,250 msg/s of 8 KiB (10 MB/s, which every
broker writes: RF 3 on 3 brokers) with acks=all; a consumer group of 2; 80 s. From 10 s to 50 s
broker 2's disk writes at 5 MB/s (``slow_disk`` factor 100), as a failing or saturated disk would.

Question: does Kafka route around a slow (not dead) broker, and what does the producer see?
(``kafkasim run scenarios/slow_disk.py``)

What to look for (seed 1). For 9 s nothing shows: broker 2's appends go to its page cache.
At 19 s its dirty pages pass Linux's ``dirty_ratio`` (20 % of the page cache, ``Disk``), and
from then on its log appends, as leader and as follower, wait for the disk (``resources.png``:
its data not yet on disk climbs to the dotted limit, 102 MB, while the other brokers' stays at
51 MB; the disk appends, which every replica makes alike, do not tell them apart). Acknowledged
throughput halves at once, to 605 records/s, about 5 MB/s: the slow disk's rate, for the whole
cluster (``throughput.png``). There is no ``isr_shrink`` row in ``events``:
``replica.lag.time.max.ms`` drops a follower that has not caught up to the leader's end offset
for 30 s, and broker 2 catches up on every fetch, because the producer cannot write faster than
it replicates (acks=all waits for it, and the producer's buffer then fills with the records of
the partitions broker 2 leads; acks=1 would stall the same way on those). Produce latency grows
by about a second per second while the backlog builds: p50 5.7 s for the records sent in
20-30 s, 15.9 s (p99 21.9 s) in 30-40 s. The disk recovers at 50 s, but the writeback already
queued on it at the slow rate takes 10 s more to drain; at 60 s the backlog goes out (about
10,000 records/s for 3 s) and latency is back to 3 ms by 64 s. ``lost_acked_messages`` 0,
``leader_elections`` 0: nothing failed, and for 40 s the cluster ran at one disk's speed;
``recovery_s`` 11.7 after the disk recovered (``liveness_violations`` 0).
"""

SCENARIO = {
    "name": "slow_disk",
    "seed": 1,
    "duration_s": 80.0,
    "cluster": {
        "brokers": 3,
        "config": {"group.initial.rebalance.delay.ms": 0},
        "hardware": {"disk_write_mb_s": 500, "page_cache_mb": 512},
    },
    "topics": [
        {
            "name": "orders",
            "partitions": 6,
            "replication_factor": 3,
            "config": {"min.insync.replicas": 2},
        }
    ],
    "producers": [
        {
            "name": "app",
            "topic": "orders",
            "rate_msgs_s": 1_250,
            "message_bytes": 8192,
            "keys": {"kind": "uniform", "cardinality": 1000},
            "config": {"acks": "all", "linger.ms": 5},
        }
    ],
    "consumer_groups": [
        {
            "group_id": "billing",
            "members": 2,
            "topics": ["orders"],
            "config": {"auto.offset.reset": "earliest"},
        }
    ],
    "faults": [{"kind": "slow_disk", "at_s": 10, "broker": 2, "factor": 100, "duration_s": 40}],
}
