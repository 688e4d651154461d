"""One unreachable leader stops a producer for every partition once buffer.memory is full.

3 brokers; topic ``orders`` with 6 partitions, RF 3; one keyed producer at 10,000 msg/s of 1 KiB
with acks=1, linger.ms=5, Kafka's default ``buffer.memory`` (32 MiB) and ``max.block.ms`` cut
to 5 s; a consumer group of 3. At 10 s the leader of orders-0 is cut off from the clients for
30 s (it stays in the cluster, so no election moves its partitions).

What to look for (``kafkasim run scenarios/producer_memory.py``): the records for the cut
leader's two partitions (about 3.4 MB/s) pile up in the producer, and about 10 s later its
32 MiB are full. From then send() blocks, so the other four partitions get nothing either: the
throughput plot drops to zero although four of six leaders are fine. Every 5 s
(``max.block.ms``) the record send() waits on fails with ``BUFFER_EXHAUSTED`` (rows of
``acked``). After the cut heals, the requests time out and are retried, memory comes back and
the backlog goes out; the records that waited show it in their produce and end-to-end latency.
"""

SCENARIO = {
    "name": "producer_memory",
    "seed": 1,
    "duration_s": 60.0,
    "cluster": {"brokers": 3, "config": {"group.initial.rebalance.delay.ms": 0}},
    "topics": [{"name": "orders", "partitions": 6, "replication_factor": 3}],
    "producers": [
        {
            "name": "app",
            "topic": "orders",
            "rate_msgs_s": 10_000,
            "message_bytes": 1024,
            "keys": {"kind": "uniform", "cardinality": 1000},
            "config": {"acks": "1", "linger.ms": 5, "max.block.ms": 5000},
        }
    ],
    "consumer_groups": [
        {
            "group_id": "billing",
            "members": 3,
            "topics": ["orders"],
            "config": {"auto.offset.reset": "earliest"},
        }
    ],
    "faults": [
        {
            "kind": "network_partition",
            "at_s": 10,
            "isolate": "leader:orders-0",
            "from": ["clients"],
            "heal_after_s": 30,
        }
    ],
}
