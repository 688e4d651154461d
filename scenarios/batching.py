"""batch.size caps a producer's throughput when every request waits for replication; linger.ms
only trades latency for fuller batches.

3 brokers 5 ms apart (``rtt_ms``: a cluster stretched over distant zones); topic ``events`` with
3 partitions, RF 3, min.insync.replicas 2; one producer of null-keyed 1 KiB records (the sticky
partitioner fills one partition's batch at a time) at 12,000 msg/s with acks=all, linger.ms 5
and Kafka's default batch.size of 16 KiB; 20 s, no faults.

Question: which producer settings reach the target rate, at what latency? Compare::

    kafkasim run scenarios/batching.py
    kafkasim run scenarios/batching.py --set producers.0.config.batch.size=65536
    kafkasim run scenarios/batching.py --set producers.0.config.linger.ms=0
    kafkasim run scenarios/batching.py --set producers.0.config.linger.ms=50

What to look for (seed 1). A produce request carries at most one batch per partition, and a
broker reads a connection's next request only after answering the previous one, which with
acks=all takes a follower's fetch round trip (about one RTT, 5 ms). So each broker takes at most
one 16 KiB batch per 5 ms from this producer: about 9 MB/s for the three. The run shows it:
``throughput_msgs_s`` 8,925 of the 12,000 offered, every batch full (15 records), and produce
latency climbing without end as the backlog grows (``latency.png``: p99 from 0 to
5 s in 20 s; p50 2.6 s over the run); once ``buffer.memory`` (32 MiB) is full, send() blocks and
fewer records are even produced (178,720 instead of 240,000). linger.ms=0 and linger.ms=50 change
nothing here: the batches are full before any linger ends. With batch.size=65536 the ceiling
is four times higher: all 12,018 msg/s are acknowledged, p50 12.8 ms, p99 15.4 ms, about 52
records per batch. Adding linger.ms=50 to that only raises the p99 to 59 ms (batches of 60).
"""

SCENARIO = {
    "name": "batching",
    "seed": 1,
    "duration_s": 20.0,
    "cluster": {"brokers": 3, "hardware": {"rtt_ms": 5}},
    "topics": [
        {
            "name": "events",
            "partitions": 3,
            "replication_factor": 3,
            "config": {"min.insync.replicas": 2},
        }
    ],
    "producers": [
        {
            "name": "app",
            "topic": "events",
            "rate_msgs_s": 12_000,
            "message_bytes": 1024,
            "config": {"acks": "all", "linger.ms": 5, "batch.size": 16384},
        }
    ],
}
